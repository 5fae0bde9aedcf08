# -*- coding: utf-8 -*-

# Copyright: (c) 2026, dbauth.rds_iam developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""dbauth-iam-bridge: IAM logins for self-managed databases, decided by AWS STS.

A client logs in with a token as its password: a presigned (query-string SigV4) request
``GET /?Action=GetCallerIdentity&Version=2011-06-15`` to a regional STS endpoint, written
without its scheme (``host[:port]/?...``), whose signed headers include
``X-DbAuth-Server-Id: <server id>``. The bridge checks the token's form, sends the request
to STS with its own server id in that header (a token signed for another server then fails
STS's signature check), reads the caller's ARN from STS's answer, and allows the login when
its mapping lets that principal log in as the database user.

AWS references:

* STS API Reference, "GetCallerIdentity" (the action, its ``GetCallerIdentityResult/Arn``);
* IAM User Guide, "Authenticating Requests: Using Query Parameters (AWS Signature
  Version 4)" (``X-Amz-Date``, ``X-Amz-Expires``, ``X-Amz-SignedHeaders``);
* AWS General Reference, "AWS STS endpoints" (``sts.REGION.amazonaws.com`` and the
  partitions' DNS suffixes).

It never fetches a host a token names unless it is the official STS endpoint of a configured
region (or a configured override), and it never writes a token anywhere: logs hold a short
SHA-256 digest of it.

Subcommands (stdlib only, Python 3.9+):

* ``serve --config FILE``: the service (an LDAP simple-bind listener for PostgreSQL's
  ``ldap`` method and/or a unix socket for the PAM module ``dbauth_iam_pam.py``), one JSON line
  per decision on stderr. There is no ``pam_exec`` client: pam_exec cuts the password at 511
  bytes (PAM_MAX_RESP_SIZE, measured in docs/self_managed.md), shorter than any token.
"""

import argparse
import datetime
import hashlib
import http.client
import json
import os
import re
import signal
import socketserver
import ssl
import stat
import sys
import threading
import time
import urllib.parse
from xml.etree import ElementTree

STS_VERSION = "2011-06-15"
MAX_TOKEN_LIFETIME = 900  # seconds: the longest a token is accepted (what the token signer writes)
CLOCK_SKEW = 60           # seconds a token's X-Amz-Date may be ahead of the bridge's clock
MAX_TOKEN_LENGTH = 8192   # a session token makes a token 2-3 KB; anything much longer is not a token
MAX_STS_ANSWER = 65536
SERVER_ID_HEADER = "X-DbAuth-Server-Id"

# AWS General Reference, "AWS STS endpoints" / "Service endpoints": DNS suffix per partition.
PARTITION_DNS_SUFFIX = {
    "aws": "amazonaws.com",
    "aws-cn": "amazonaws.com.cn",
    "aws-us-gov": "amazonaws.com",
    "aws-iso": "c2s.ic.gov",
    "aws-iso-b": "sc2s.sgov.gov",
}

REASONS = ("ok", "malformed_token", "not_sts_url", "wrong_action", "server_id_not_signed", "expired",
           "sts_refused", "sts_unreachable", "unmapped_principal", "user_not_allowed", "malformed_request")

_REGION_RE = re.compile(r"^[a-z]{2}(-[a-z]+)+-[0-9]+$")
_AMZ_DATE_FORMAT = "%Y%m%dT%H%M%SZ"
# The query parameters of a presigned GetCallerIdentity: the action and the SigV4 ones.
_QUERY_KEYS = {"Action", "Version", "X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires",
               "X-Amz-SignedHeaders", "X-Amz-Signature", "X-Amz-Security-Token"}
_REQUIRED_QUERY_KEYS = _QUERY_KEYS - {"X-Amz-Security-Token"}
_ASSUMED_ROLE_RE = re.compile(r"^arn:(?P<partition>[a-z-]+):sts::(?P<account>[0-9]{12}):assumed-role/(?P<role>[^/]+)/.+$")
_ROLE_RE = re.compile(r"^arn:(?P<partition>[a-z-]+):iam::(?P<account>[0-9]{12}):role/(?:.*/)?(?P<role>[^/]+)$")

DEFAULTS = {
    "partition": "aws",
    "sts_endpoints": {},
    "ca_file": None,
    "ldap": None,
    "socket": None,
    "socket_mode": "0660",
    "stale_seconds": 300,
    "cache_seconds": MAX_TOKEN_LIFETIME,  # how long an STS answer is used before STS is asked again
    "sts_timeout": 5,
    "client_timeout": 10,
    "max_connections": 64,
    "max_message_bytes": 16384,
}


class ConfigError(Exception):
    """A wrong configuration; the message names the key and what to fix."""


class Refusal(Exception):
    """A token refused before STS answered with an identity; ``reason`` is one of REASONS."""

    def __init__(self, reason, detail=""):
        super().__init__(reason)
        self.reason = reason
        self.detail = detail


# ------------------------------------------------------------------------------------ configuration
def _check_int(config, key, low, high):
    value = config[key]
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConfigError("config key %r must be an integer from %d to %d, got %r." % (key, low, high, value))


def _endpoint_netloc(region, url):
    parsed = urllib.parse.urlsplit(url) if isinstance(url, str) else None
    if parsed is None or parsed.scheme not in ("http", "https") or not parsed.hostname \
            or parsed.path not in ("", "/") or parsed.query or parsed.fragment or parsed.username:
        raise ConfigError("config key 'sts_endpoints' entry %r must be a URL like https://sts.%s.amazonaws.com "
                          "(scheme, host and optional port, nothing else), got %r." % (region, region, url))
    return parsed.netloc.lower()


def load_config(data):
    """The checked configuration (a dict) of the JSON object ``data``; ConfigError names what is wrong."""
    if not isinstance(data, dict):
        raise ConfigError("the configuration must be a JSON object.")
    unknown = sorted(set(data) - set(DEFAULTS) - {"server_id", "regions", "mapping"})
    if unknown:
        raise ConfigError("unknown config key(s) %s; see the bridge's documentation for the keys." % ", ".join(unknown))
    config = dict(DEFAULTS)
    config.update(data)
    server_id = config.get("server_id")
    if not isinstance(server_id, str) or not re.match(r"^[A-Za-z0-9._:@/+=-]{1,128}$", server_id):
        raise ConfigError("config key 'server_id' must be 1-128 characters of letters, digits and ._:@/+=-, got %r."
                          % (server_id,))
    if config["partition"] not in PARTITION_DNS_SUFFIX:
        raise ConfigError("config key 'partition' must be one of %s, got %r."
                          % (", ".join(sorted(PARTITION_DNS_SUFFIX)), config["partition"]))
    regions = config.get("regions")
    if not isinstance(regions, list) or not regions or not all(isinstance(r, str) and _REGION_RE.match(r)
                                                               for r in regions):
        raise ConfigError("config key 'regions' must be a non-empty list of region names such as eu-west-1, got %r."
                          % (regions,))
    endpoints = config["sts_endpoints"] or {}
    if not isinstance(endpoints, dict):
        raise ConfigError("config key 'sts_endpoints' must be an object {region: URL}.")
    for region in endpoints:
        if region not in regions:
            raise ConfigError("config key 'sts_endpoints' names region %r, which is not in 'regions' %s: add it "
                              "there or remove the override." % (region, regions))
    suffix = PARTITION_DNS_SUFFIX[config["partition"]]
    # token host (lower case, with a port if not the default) -> (region, URL the bridge sends the request to)
    hosts = {}
    for region in regions:
        url = endpoints.get(region) or "https://sts.%s.%s" % (region, suffix)
        hosts[_endpoint_netloc(region, url)] = (region, url.rstrip("/"))
    config["sts_hosts"] = hosts
    if config["ca_file"] is not None and not isinstance(config["ca_file"], str):
        raise ConfigError("config key 'ca_file' must be a path to a CA bundle or null.")
    ldap = config["ldap"]
    if ldap is not None:
        if not isinstance(ldap, dict) or set(ldap) - {"host", "port", "base_dn"} \
                or not isinstance(ldap.get("host"), str) or not isinstance(ldap.get("base_dn"), str) \
                or not ldap.get("base_dn") or isinstance(ldap.get("port"), bool) \
                or not isinstance(ldap.get("port"), int) or not 0 <= ldap["port"] <= 65535:
            raise ConfigError("config key 'ldap' must be null or {\"host\": \"127.0.0.1\", \"port\": 3890, "
                              "\"base_dn\": \"dc=dbauth-iam-bridge\"}, got %r." % (ldap,))
    sock = config["socket"]
    if sock is not None and (not isinstance(sock, str) or not os.path.isabs(sock)):
        raise ConfigError("config key 'socket' must be null or an absolute path, got %r." % (sock,))
    if ldap is None and sock is None:
        raise ConfigError("config keys 'ldap' and 'socket' are both null: configure at least one listener.")
    if not isinstance(config["socket_mode"], str) or not re.match(r"^0?[0-7]{3}$", config["socket_mode"]):
        raise ConfigError("config key 'socket_mode' must be an octal mode string such as \"0660\".")
    mapping = config.get("mapping")
    if not isinstance(mapping, dict) or not all(
            isinstance(k, str) and k.startswith("arn:") and isinstance(v, list) and all(isinstance(u, str) and u for u in v)
            for k, v in mapping.items()):
        raise ConfigError("config key 'mapping' must be an object {principal ARN: [database user, ...]}.")
    principals = {}
    for arn, users in mapping.items():
        principals.setdefault(normalise_arn(arn), set()).update(users)
    config["principals"] = principals
    _check_int(config, "stale_seconds", 0, MAX_TOKEN_LIFETIME)
    _check_int(config, "cache_seconds", 0, MAX_TOKEN_LIFETIME)
    _check_int(config, "sts_timeout", 1, 60)
    _check_int(config, "client_timeout", 1, 300)
    _check_int(config, "max_connections", 1, 10000)
    _check_int(config, "max_message_bytes", 1024, 1048576)
    return config


def normalise_arn(arn):
    """An assumed-role session ARN (and a role ARN with a path) -> ``arn:P:iam::ACCOUNT:role/ROLE``.

    GetCallerIdentity names a role session ``arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION``,
    without the role's path (IAM User Guide, "IAM identifiers"); the mapping names roles.
    """
    match = _ASSUMED_ROLE_RE.match(arn) or _ROLE_RE.match(arn)
    if match:
        return "arn:%s:iam::%s:role/%s" % (match.group("partition"), match.group("account"), match.group("role"))
    return arn


# ------------------------------------------------------------------------------------ decisions
def token_digest(token):
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


class StsAnswer:
    """What STS said about one token: the caller's ARN, or a refusal (its error code)."""

    def __init__(self, arn, error_code, checked_at, expires_at):
        self.arn = arn
        self.error_code = error_code
        self.checked_at = checked_at
        self.expires_at = expires_at


class Bridge:
    """Decides logins. ``clock`` gives seconds since the epoch; ``log`` takes one dict per decision."""

    def __init__(self, config, clock=time.time, log=None):
        self.config = config
        self.clock = clock
        self.log = log or (lambda entry: None)
        self._cache = {}
        self._lock = threading.Lock()
        self._ssl = ssl.create_default_context(cafile=config["ca_file"])
        self.stats = {"sts_calls": 0, "cache_hits": 0}

    # the public entry -----------------------------------------------------------------------------
    def decide(self, user, token, front):
        """(allow, reason) for a login of ``user`` with ``token``; logs the decision without the token."""
        entry = {"time": datetime.datetime.fromtimestamp(self.clock(), datetime.timezone.utc).strftime(
            "%Y-%m-%dT%H:%M:%SZ"), "front": front, "user": user if isinstance(user, str) else None}
        if isinstance(token, str):
            entry["token_sha256"] = token_digest(token)[:16]
        try:
            reason, principal, source = self._decide(user, token, entry)
        except Refusal as refusal:
            reason, principal, source = refusal.reason, None, None
            if refusal.detail:
                entry["detail"] = refusal.detail
        entry.update({"allow": reason == "ok", "reason": reason})
        if principal:
            entry["principal"] = principal
        if source:
            entry["sts"] = source
        self.log(entry)
        return reason == "ok", reason

    def _decide(self, user, token, entry):
        if not isinstance(user, str) or not user or any(ord(c) < 32 for c in user):
            raise Refusal("malformed_request", "no database user")
        now = self.clock()
        parts = parse_token(token, self.config, now)
        key = token_digest(token)
        answer, source = self._sts_answer(key, parts, now)
        if answer.error_code:
            raise Refusal("sts_refused", "STS answered %s" % answer.error_code)
        principal = normalise_arn(answer.arn)
        entry["caller_arn"] = answer.arn
        users = self.config["principals"].get(principal)
        if users is None:
            return "unmapped_principal", principal, source
        if user not in users:
            return "user_not_allowed", principal, source
        return "ok", principal, source

    # STS and the cache ----------------------------------------------------------------------------
    def _sts_answer(self, key, parts, now):
        with self._lock:
            cached = self._cache.get(key)
            if cached is not None and now >= cached.expires_at:
                del self._cache[key]
                cached = None
            if len(self._cache) > 10000:
                self._cache = dict((k, v) for k, v in self._cache.items() if v.expires_at > now)
        if cached is not None and now - cached.checked_at < self.config["cache_seconds"]:
            self.stats["cache_hits"] += 1
            return cached, "cached"
        try:
            answer = self._ask_sts(parts, now)
        except Refusal as refusal:
            if refusal.reason == "sts_unreachable" and cached is not None and cached.arn and now - cached.checked_at <= self.config["stale_seconds"]:
                self.stats["cache_hits"] += 1
                return cached, "stale"
            raise
        with self._lock:
            self._cache[key] = answer
        return answer, "asked"

    def _ask_sts(self, parts, now):
        region, url = parts["endpoint"]
        endpoint = urllib.parse.urlsplit(url)
        connection_class = http.client.HTTPSConnection if endpoint.scheme == "https" else http.client.HTTPConnection
        kwargs = {"timeout": self.config["sts_timeout"]}
        if endpoint.scheme == "https":
            kwargs["context"] = self._ssl
        self.stats["sts_calls"] += 1
        connection = connection_class(endpoint.hostname, endpoint.port, **kwargs)
        try:
            # The exact query the client signed, the Host it signed, and this server's id.
            connection.putrequest("GET", "/?" + parts["query"], skip_host=True, skip_accept_encoding=True)
            connection.putheader("Host", parts["host"])
            connection.putheader(SERVER_ID_HEADER, self.config["server_id"])
            connection.endheaders()
            response = connection.getresponse()
            body = response.read(MAX_STS_ANSWER + 1)
            status = response.status
        except (OSError, http.client.HTTPException) as e:
            raise Refusal("sts_unreachable", "%s (region %s): %s" % (url, region, type(e).__name__))
        finally:
            connection.close()
        if len(body) > MAX_STS_ANSWER:
            raise Refusal("sts_unreachable", "STS answer larger than %d bytes" % MAX_STS_ANSWER)
        if 400 <= status < 500:
            return StsAnswer(None, _xml_text(body, "Code") or "HTTP %d" % status, now, parts["expires_at"])
        if status != 200:
            raise Refusal("sts_unreachable", "STS answered HTTP %d" % status)
        arn = _xml_text(body, "Arn")
        if not arn or not arn.startswith("arn:"):
            raise Refusal("sts_unreachable", "STS answer without GetCallerIdentityResult/Arn")
        if arn.split(":")[1] != self.config["partition"]:
            raise Refusal("sts_refused", "caller in partition %s" % arn.split(":")[1])
        return StsAnswer(arn, None, now, parts["expires_at"])


def _xml_text(body, tag):
    """The text of the first element named ``tag`` (any namespace) of an STS XML answer, or None."""
    if b"<!DOCTYPE" in body or b"<!ENTITY" in body:
        return None  # STS never sends these; refuse to expand them
    try:
        root = ElementTree.fromstring(body)
    except ElementTree.ParseError:
        return None
    for element in root.iter():
        if element.tag == tag or element.tag.endswith("}" + tag):
            return (element.text or "").strip()
    return None


def parse_token(token, config, now=None):
    """Check a token's form (no network); return host, query, endpoint and expiry, or raise Refusal."""
    if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_LENGTH:
        raise Refusal("malformed_token", "empty or longer than %d characters" % MAX_TOKEN_LENGTH)
    if any(ord(c) <= 32 or ord(c) >= 127 for c in token):
        raise Refusal("malformed_token", "whitespace or a non-ASCII character")
    if token.lower().startswith("https://"):
        token = token[len("https://"):]
    host, sep, rest = token.partition("/")
    if not sep or not rest.startswith("?") or not host:
        raise Refusal("malformed_token", "not HOST/?QUERY")
    host = host.lower()
    endpoint = config["sts_hosts"].get(host) or config["sts_hosts"].get(host[:-4] if host.endswith(":443") else None)
    if endpoint is None:
        raise Refusal("not_sts_url", "host %s is not a configured STS endpoint" % host[:100])
    query = rest[1:]
    try:
        pairs = urllib.parse.parse_qsl(query, keep_blank_values=True, strict_parsing=True)
    except ValueError:
        raise Refusal("malformed_token", "query does not parse")
    params = dict(pairs)
    if len(params) != len(pairs):
        raise Refusal("malformed_token", "a query parameter is repeated")
    if params.get("Action") != "GetCallerIdentity" or params.get("Version") != STS_VERSION:
        raise Refusal("wrong_action", "Action must be GetCallerIdentity, Version %s" % STS_VERSION)
    unknown = set(params) - _QUERY_KEYS
    missing = _REQUIRED_QUERY_KEYS - set(params)
    if unknown or missing:
        raise Refusal("malformed_token", "unexpected parameters %s, missing %s" % (
            ",".join(sorted(unknown))[:200], ",".join(sorted(missing))))
    if params["X-Amz-Algorithm"] != "AWS4-HMAC-SHA256":
        raise Refusal("malformed_token", "X-Amz-Algorithm is not AWS4-HMAC-SHA256")
    scope = params["X-Amz-Credential"].split("/")
    if len(scope) != 5 or scope[3] != "sts" or scope[4] != "aws4_request":
        raise Refusal("not_sts_url", "credential scope is not for the sts service")
    if scope[2] != endpoint[0]:
        raise Refusal("not_sts_url", "signed for region %s, sent to the endpoint of %s" % (scope[2][:30], endpoint[0]))
    signed = params["X-Amz-SignedHeaders"].split(";")
    if SERVER_ID_HEADER.lower() not in signed:
        raise Refusal("server_id_not_signed", "X-Amz-SignedHeaders is %s" % params["X-Amz-SignedHeaders"][:100])
    if set(signed) != {"host", SERVER_ID_HEADER.lower()}:
        raise Refusal("malformed_token", "signed headers other than host and %s" % SERVER_ID_HEADER.lower())
    try:
        signed_at = datetime.datetime.strptime(params["X-Amz-Date"], _AMZ_DATE_FORMAT).replace(
            tzinfo=datetime.timezone.utc).timestamp()
        lifetime = int(params["X-Amz-Expires"])
    except ValueError:
        raise Refusal("malformed_token", "X-Amz-Date or X-Amz-Expires malformed")
    if lifetime <= 0:
        raise Refusal("malformed_token", "X-Amz-Expires is not positive")
    expires_at = signed_at + min(lifetime, MAX_TOKEN_LIFETIME)
    now = time.time() if now is None else now
    if now >= expires_at:
        raise Refusal("expired", "expired %d s ago" % int(now - expires_at))
    if signed_at > now + CLOCK_SKEW:
        raise Refusal("expired", "signed %d s in the future" % int(signed_at - now))
    return {"host": host, "query": query, "endpoint": endpoint, "expires_at": expires_at}


# ------------------------------------------------------------------------------------ LDAP (BER)
# RFC 4511 (LDAPv3): LDAPMessage ::= SEQUENCE { messageID INTEGER, protocolOp CHOICE {...}, controls [0] OPTIONAL }
# BindRequest ::= [APPLICATION 0] SEQUENCE { version INTEGER, name LDAPDN, authentication CHOICE { simple [0] ... } }
# UnbindRequest ::= [APPLICATION 2] NULL; BindResponse ::= [APPLICATION 1] SEQUENCE { resultCode ENUMERATED, ... }
LDAP_SUCCESS = 0
LDAP_PROTOCOL_ERROR = 2
LDAP_AUTH_METHOD_NOT_SUPPORTED = 7
LDAP_INVALID_CREDENTIALS = 49
_TAG_SEQUENCE = 0x30
_TAG_INTEGER = 0x02
_TAG_OCTET_STRING = 0x04
_TAG_BIND_REQUEST = 0x60
_TAG_UNBIND_REQUEST = 0x42
_TAG_BIND_RESPONSE = 0x61
_TAG_ENUMERATED = 0x0A
_TAG_SIMPLE_AUTH = 0x80


class BerError(Exception):
    """Bytes that are not the LDAP this bridge speaks."""


def ber_length(data, offset):
    """(length, offset after the length octets) of the BER length at ``offset`` (X.690 8.1.3).

    Definite lengths only (short form, or long form of 1-4 octets); IndexError when more bytes are needed.
    """
    first = data[offset]
    if first < 0x80:
        return first, offset + 1
    count = first & 0x7F
    if count == 0 or count > 4:
        raise BerError("indefinite or over-long BER length")
    if offset + 1 + count > len(data):
        raise IndexError("length octets incomplete")
    return int.from_bytes(data[offset + 1:offset + 1 + count], "big"), offset + 1 + count


def ber_element(data, offset, end=None):
    """(tag, value bytes, offset after it) of the element at ``offset``; it must end by ``end``."""
    end = len(data) if end is None else end
    if offset + 2 > end:
        raise BerError("truncated element")
    tag = data[offset]
    if tag & 0x1F == 0x1F:
        raise BerError("multi-octet tags are not used by LDAP")
    try:
        length, start = ber_length(data, offset + 1)
    except IndexError:
        raise BerError("truncated length")
    if start + length > end:
        raise BerError("element longer than its container")
    return tag, data[start:start + length], start + length


def ber_encode(tag, value):
    length = len(value)
    if length < 0x80:
        head = bytes([length])
    else:
        octets = length.to_bytes((length.bit_length() + 7) // 8, "big")
        head = bytes([0x80 | len(octets)]) + octets
    return bytes([tag]) + head + value


def _ber_integer(value):
    if len(value) == 0 or len(value) > 4:
        raise BerError("INTEGER of %d octets" % len(value))
    return int.from_bytes(value, "big", signed=True)


def read_ldap_message(stream, max_bytes):
    """The bytes of one LDAPMessage from a binary ``stream`` (file-like), or None at end of stream."""
    head = stream.read(2)
    if not head:
        return None
    if len(head) < 2 or head[0] != _TAG_SEQUENCE:
        raise BerError("not an LDAPMessage")
    if head[1] & 0x80:
        count = head[1] & 0x7F
        if count == 0 or count > 4:
            raise BerError("indefinite or over-long BER length")
        more = stream.read(count)
        if len(more) < count:
            raise BerError("truncated length")
        head += more
    length, start = ber_length(head, 1)
    if length > max_bytes:
        raise BerError("LDAP message of %d bytes exceeds the limit of %d" % (length, max_bytes))
    body = stream.read(length)
    if len(body) < length:
        raise BerError("truncated LDAP message")
    return head + body


def parse_ldap_message(message):
    """(message id, operation, fields) of an LDAPMessage. Operations: "bind" (fields version, name,
    password or None for another authentication choice), "unbind", or "other" (fields tag)."""
    tag, content, end = ber_element(message, 0)
    if tag != _TAG_SEQUENCE or end != len(message):
        raise BerError("not an LDAPMessage")
    tag, value, offset = ber_element(content, 0)
    if tag != _TAG_INTEGER:
        raise BerError("messageID missing")
    message_id = _ber_integer(value)
    op_tag, op, dummy = ber_element(content, offset)
    if op_tag == _TAG_UNBIND_REQUEST:
        return message_id, "unbind", {}
    if op_tag != _TAG_BIND_REQUEST:
        return message_id, "other", {"tag": op_tag}
    tag, value, offset = ber_element(op, 0)
    if tag != _TAG_INTEGER:
        raise BerError("BindRequest version missing")
    version = _ber_integer(value)
    tag, name, offset = ber_element(op, offset)
    if tag != _TAG_OCTET_STRING:
        raise BerError("BindRequest name missing")
    tag, value, offset = ber_element(op, offset)
    password = value if tag == _TAG_SIMPLE_AUTH else None
    try:
        name = name.decode("utf-8")
        password = password.decode("utf-8") if password is not None else None
    except UnicodeDecodeError:
        raise BerError("name or password is not UTF-8")
    return message_id, "bind", {"version": version, "name": name, "password": password}


def bind_response(message_id, result_code, diagnostic=""):
    """An LDAPMessage holding a BindResponse."""
    op = (ber_encode(_TAG_ENUMERATED, bytes([result_code])) + ber_encode(_TAG_OCTET_STRING, b"")
          + ber_encode(_TAG_OCTET_STRING, diagnostic.encode("utf-8")))
    message_id_bytes = message_id.to_bytes(max(1, (message_id.bit_length() + 8) // 8), "big", signed=True)
    return ber_encode(_TAG_SEQUENCE, ber_encode(_TAG_INTEGER, message_id_bytes) + ber_encode(_TAG_BIND_RESPONSE, op))


def user_from_dn(dn, base_dn):
    """The user of ``uid=<user>,<base_dn>`` (what PostgreSQL's ldapprefix/ldapsuffix make), or None."""
    suffix = "," + base_dn
    if len(dn) <= len(suffix) + 4 or not dn[:4].lower() == "uid=" or not dn.lower().endswith(suffix.lower()):
        return None
    return dn[4:len(dn) - len(suffix)]


# ------------------------------------------------------------------------------------ listeners
class _LimitedServer:
    """A threading server mixin: at most ``max_connections`` at once, each with a timeout."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128  # the listen backlog: logins arrive in bursts (a pool of connections opening)

    def setup_limits(self, bridge):
        self.bridge = bridge
        self.slots = threading.BoundedSemaphore(bridge.config["max_connections"])

    def process_request(self, request, client_address):
        if not self.slots.acquire(blocking=False):
            self.bridge.log({"event": "connection_refused", "why": "max_connections reached"})
            self.shutdown_request(request)
            return
        try:
            socketserver.ThreadingMixIn.process_request(self, request, client_address)
        except Exception:
            self.slots.release()
            raise

    def process_request_thread(self, request, client_address):
        try:
            socketserver.ThreadingMixIn.process_request_thread(self, request, client_address)
        finally:
            self.slots.release()


class LdapServer(_LimitedServer, socketserver.ThreadingMixIn, socketserver.TCPServer):
    pass


class UnixServer(_LimitedServer, socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    pass


class LdapHandler(socketserver.StreamRequestHandler):
    def handle(self):
        bridge = self.server.bridge
        config = bridge.config
        self.connection.settimeout(config["client_timeout"])
        while True:
            try:
                message = read_ldap_message(self.rfile, config["max_message_bytes"])
                if message is None:
                    return
                message_id, operation, fields = parse_ldap_message(message)
            except (BerError, OSError) as e:
                bridge.log({"event": "ldap_protocol_error", "why": str(e)[:200]})
                return
            if operation == "unbind":
                return
            if operation == "other":
                bridge.log({"event": "ldap_protocol_error", "why": "operation tag 0x%02x not served" % fields["tag"]})
                return
            code = self._bind_result(bridge, fields)
            self.wfile.write(bind_response(message_id, code))
            self.wfile.flush()

    @staticmethod
    def _bind_result(bridge, fields):
        user = user_from_dn(fields["name"], bridge.config["ldap"]["base_dn"])
        if fields["version"] != 3 or fields["password"] is None or user is None or not fields["password"]:
            # Not a simple bind of uid=USER,BASE with a password: refused without asking STS.
            why = "bind DN %r not under the base DN" % fields["name"][:100] if user is None else \
                "not an LDAPv3 simple bind with a password"
            bridge.log({"front": "ldap", "allow": False, "reason": "malformed_request", "detail": why, "user": user})
            return LDAP_INVALID_CREDENTIALS
        allow, dummy = bridge.decide(user, fields["password"], "ldap")
        return LDAP_SUCCESS if allow else LDAP_INVALID_CREDENTIALS


class SocketHandler(socketserver.StreamRequestHandler):
    """One JSON line {"user", "token"} in, one JSON line {"allow", "reason"} out."""

    def handle(self):
        bridge = self.server.bridge
        self.connection.settimeout(bridge.config["client_timeout"])
        try:
            line = self.rfile.readline(bridge.config["max_message_bytes"] + 1)
            if len(line) > bridge.config["max_message_bytes"] or not line.endswith(b"\n"):
                raise ValueError("request line too long or not terminated")
            request = json.loads(line.decode("utf-8"))
            if not isinstance(request, dict):
                raise ValueError("request is not a JSON object")
        except (OSError, ValueError) as e:
            bridge.log({"front": "socket", "allow": False, "reason": "malformed_request", "detail": str(e)[:100]})
            self._answer(False, "malformed_request")
            return
        allow, reason = bridge.decide(request.get("user"), request.get("token"), "socket")
        self._answer(allow, reason)

    def _answer(self, allow, reason):
        try:
            self.wfile.write(json.dumps({"allow": allow, "reason": reason}).encode("utf-8") + b"\n")
        except OSError:
            pass


def start_listeners(bridge):
    """Start the configured listeners in threads; return the servers (``server_address`` is bound)."""
    config = bridge.config
    servers = []
    if config["ldap"] is not None:
        server = LdapServer((config["ldap"]["host"], config["ldap"]["port"]), LdapHandler, bind_and_activate=True)
        server.setup_limits(bridge)
        servers.append(server)
    if config["socket"] is not None:
        path = config["socket"]
        if os.path.lexists(path):
            if not stat.S_ISSOCK(os.lstat(path).st_mode):
                raise ConfigError("config key 'socket': %s exists and is not a socket; remove it." % path)
            os.unlink(path)
        old_umask = os.umask(0o177)
        try:
            server = UnixServer(path, SocketHandler)
        finally:
            os.umask(old_umask)
        os.chmod(path, int(config["socket_mode"], 8))
        server.setup_limits(bridge)
        servers.append(server)
    for server in servers:
        threading.Thread(target=server.serve_forever, name="listener", daemon=True).start()
    return servers


def stop_listeners(servers):
    for server in servers:
        server.shutdown()
        server.server_close()
        if isinstance(server, UnixServer):
            try:
                os.unlink(server.server_address)
            except OSError:
                pass


# ------------------------------------------------------------------------------------ commands
def json_log(stream):
    lock = threading.Lock()

    def log(entry):
        entry.setdefault("time", datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"))
        with lock:
            stream.write(json.dumps(entry, sort_keys=True) + "\n")
            stream.flush()
    return log


def serve(args):
    try:
        with open(args.config, encoding="utf-8") as handle:
            config = load_config(json.load(handle))
        bridge = Bridge(config, log=json_log(sys.stderr))
        servers = start_listeners(bridge)
    except (OSError, ValueError, ConfigError) as e:
        sys.stderr.write("dbauth-iam-bridge: %s: %s\n" % (args.config, e))
        return 2
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *dummy: stop.set())
    bridge.log({"event": "started", "server_id": config["server_id"], "regions": config["regions"],
                "listeners": [str(s.server_address) for s in servers]})
    while not stop.wait(3600):
        pass
    stop_listeners(servers)
    bridge.log({"event": "stopped"})
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(prog="dbauth_iam_bridge.py", description=__doc__.split("\n\n", maxsplit=1)[0])
    commands = parser.add_subparsers(dest="command", required=True)
    serve_parser = commands.add_parser("serve", help="run the bridge (LDAP and/or unix socket listeners)")
    serve_parser.add_argument("--config", required=True, help="the JSON configuration file")
    args = parser.parse_args(argv)
    return serve(args)


if __name__ == "__main__":
    sys.exit(main())
