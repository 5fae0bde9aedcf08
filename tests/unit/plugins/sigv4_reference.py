# -*- coding: utf-8 -*-

# Copyright: (c) 2026, dbauth.rds_iam developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""An independent checker of RDS IAM tokens for the unit tests.

It parses a token the way a server would and recomputes its SigV4 signature with hashlib/hmac
only (no botocore, no code of the collection), from a table of known access keys.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import hashlib
import hmac
from urllib.parse import parse_qsl, quote


class InvalidToken(Exception):
    pass


def _sign(key, text):
    return hmac.new(key, text.encode("utf-8"), hashlib.sha256).digest()


def check_token(token, known_keys, now=None, expect_region=None):
    """Return the token's parts if its signature holds for a key in known_keys
    ({access key id: secret}); raise InvalidToken otherwise."""
    if "://" in token:
        raise InvalidToken("token has a scheme")
    hostport, sep, rest = token.partition("/")
    if not sep or not rest.startswith("?"):
        raise InvalidToken("no '/?' after host:port")
    host, dummy_sep, port = hostport.rpartition(":")
    if not host or not port.isdigit():
        raise InvalidToken("no host:port")
    pairs = parse_qsl(rest[1:], keep_blank_values=True, strict_parsing=True)
    names = [pair[0] for pair in pairs]
    if len(set(names)) != len(names):
        raise InvalidToken("repeated parameter")
    q = dict(pairs)
    for required in ("Action", "DBUser", "X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date",
                     "X-Amz-Expires", "X-Amz-SignedHeaders", "X-Amz-Signature"):
        if required not in q:
            raise InvalidToken("missing %s" % required)
    if q["Action"] != "connect":
        raise InvalidToken("Action is not connect")
    if q["X-Amz-Algorithm"] != "AWS4-HMAC-SHA256":
        raise InvalidToken("bad algorithm")
    if q["X-Amz-SignedHeaders"] != "host":
        raise InvalidToken("signed headers must be host only")
    access_key, date, region, service, terminator = q["X-Amz-Credential"].split("/")
    if service != "rds-db" or terminator != "aws4_request":
        raise InvalidToken("credential scope is not rds-db")
    if expect_region and region != expect_region:
        raise InvalidToken("signed for region %s" % region)
    signed_at = datetime.datetime.strptime(q["X-Amz-Date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=datetime.timezone.utc)
    if signed_at.strftime("%Y%m%d") != date:
        raise InvalidToken("date of scope and X-Amz-Date differ")
    expires = int(q["X-Amz-Expires"])
    if now is not None and not (signed_at - datetime.timedelta(minutes=5) <= now <= signed_at + datetime.timedelta(seconds=expires)):
        raise InvalidToken("expired or from the future")
    if access_key not in known_keys:
        raise InvalidToken("unknown access key")

    host_header = host.lower() if port == "443" else "%s:%s" % (host.lower(), port)
    expected = _signature(pairs, {"host": host_header}, known_keys[access_key], q["X-Amz-Date"], region, "rds-db")
    if not hmac.compare_digest(expected, q["X-Amz-Signature"]):
        raise InvalidToken("signature mismatch")
    return {
        "host": host, "port": int(port), "user": q["DBUser"], "region": region, "access_key": access_key,
        "signed_at": signed_at, "expires": expires, "session_token": q.get("X-Amz-Security-Token"),
        "params": names,
    }


def _signature(pairs, headers, secret, amz_date, region, service):
    """The SigV4 query signature of GET / with these query ``pairs`` and signed ``headers`` (lower-case names)."""
    date = amz_date[:8]
    canonical_query = "&".join(sorted(
        "%s=%s" % (quote(k, safe="-_.~"), quote(v, safe="-_.~")) for k, v in pairs if k != "X-Amz-Signature"))
    names = sorted(headers)
    canonical = "GET\n/\n%s\n%s\n%s\n%s" % (
        canonical_query, "".join("%s:%s\n" % (n, headers[n].strip()) for n in names), ";".join(names),
        hashlib.sha256(b"").hexdigest())
    to_sign = "AWS4-HMAC-SHA256\n%s\n%s/%s/%s/aws4_request\n%s" % (
        amz_date, date, region, service, hashlib.sha256(canonical.encode("utf-8")).hexdigest())
    k = _sign(("AWS4" + secret).encode("utf-8"), date)
    for part in (region, service, "aws4_request"):
        k = _sign(k, part)
    return hmac.new(k, to_sign.encode("utf-8"), hashlib.sha256).hexdigest()


def check_sts_token(token, known_keys, server_id):
    """A kind=sts token's parts if it is a presigned GetCallerIdentity whose signature holds for a key in
    known_keys with the header X-DbAuth-Server-Id: server_id signed; raise InvalidToken otherwise."""
    host, sep, rest = token.partition("/")
    if "://" in token or not sep or not rest.startswith("?"):
        raise InvalidToken("not HOST/?QUERY")
    pairs = parse_qsl(rest[1:], keep_blank_values=True, strict_parsing=True)
    q = dict(pairs)
    if (q.get("Action"), q.get("Version")) != ("GetCallerIdentity", "2011-06-15"):
        raise InvalidToken("not GetCallerIdentity 2011-06-15")
    if q.get("X-Amz-SignedHeaders") != "host;x-dbauth-server-id":
        raise InvalidToken("signed headers are %r" % q.get("X-Amz-SignedHeaders"))
    access_key, dummy_date, region, service, dummy_terminator = q["X-Amz-Credential"].split("/")
    if service != "sts" or access_key not in known_keys:
        raise InvalidToken("not an sts scope of a known key")
    expected = _signature(pairs, {"host": host.lower(), "x-dbauth-server-id": server_id}, known_keys[access_key],
                          q["X-Amz-Date"], region, "sts")
    if not hmac.compare_digest(expected, q["X-Amz-Signature"]):
        raise InvalidToken("signature mismatch")
    return {"host": host, "region": region, "access_key": access_key, "expires": int(q["X-Amz-Expires"]),
            "session_token": q.get("X-Amz-Security-Token"), "date": q["X-Amz-Date"]}
