#!/usr/bin/env python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, dbauth.rds_iam developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Broken tokens and plain-TCP attempts for the role_self_managed target; reads a JSON request on stdin and
prints a JSON answer (tokens travel on stdin/stdout only, never on a command line).

* ``variants``: {token, endpoint_url, region, access_key, secret_key, server_id} -> {tampered, non_sts, expired}:
  the token with its signature changed; the same query sent to a host that is not STS; a token signed the
  ordinary way (botocore's SigV4 query signing) but 20 minutes ago, past its 15.
* ``plain``: {token, pg: {host, port, user}, mariadb: {host, port, user}} -> for each server how a login without
  TLS ended (``refused: ERROR CLASS``, or ``connected``).
"""

import json
import sys
from datetime import datetime, timedelta, timezone
from unittest import mock

SERVER_ID_HEADER = "X-DbAuth-Server-Id"


def _tampered(token):
    head, signature = token.rsplit("X-Amz-Signature=", 1)
    flipped = ("0" if signature[0] != "0" else "1") + signature[1:]
    return head + "X-Amz-Signature=" + flipped


def _non_sts(token):
    return "metadata.attacker.example" + token[token.index("/?"):]


def _expired(request):
    import botocore.auth
    import botocore.awsrequest
    import botocore.credentials

    creds = botocore.credentials.Credentials(request["access_key"], request["secret_key"])
    url = request["endpoint_url"].rstrip("/") + "/?Action=GetCallerIdentity&Version=2011-06-15"
    aws_request = botocore.awsrequest.AWSRequest(method="GET", url=url, headers={SERVER_ID_HEADER: request["server_id"]})
    signed_at = datetime.now(timezone.utc).replace(tzinfo=None) - timedelta(minutes=20)
    with mock.patch.object(botocore.auth, "get_current_datetime", return_value=signed_at):
        botocore.auth.SigV4QueryAuth(creds, "sts", request["region"], expires=900).add_auth(aws_request)
    prepared = aws_request.prepare()
    return prepared.url.split("://", 1)[1]


def _plain(request):
    import psycopg2
    import pymysql

    result = {}
    try:
        psycopg2.connect(host=request["pg"]["host"], port=request["pg"]["port"], user=request["pg"]["user"],
                         password=request["token"], dbname="labdb", sslmode="disable", connect_timeout=5).close()
        result["postgres"] = "connected"
    except psycopg2.Error as e:
        result["postgres"] = "refused: %s" % type(e).__name__
    try:
        pymysql.connect(host=request["mariadb"]["host"], port=request["mariadb"]["port"], user=request["mariadb"]["user"],
                        password=request["token"], connect_timeout=5, ssl_disabled=True).close()
        result["mariadb"] = "connected"
    except pymysql.MySQLError as e:
        result["mariadb"] = "refused: %s %s" % (type(e).__name__, e.args[0] if e.args else "")
    return result


def main():
    request = json.load(sys.stdin)
    if sys.argv[1] == "variants":
        answer = {"tampered": _tampered(request["token"]), "non_sts": _non_sts(request["token"]),
                  "expired": _expired(request)}
    else:
        answer = _plain(request)
    json.dump(answer, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
