#!/usr/bin/env python
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Try every pair of the report's matrix through the lab, which decides: the principal's credentials (a session of
the role assumed with the lab's admin keys; for an IAM user, the admin keys when it is the caller, else a fresh
access key deleted afterwards), a token signed by botocore, a TLS login to the database as the user. Exit 1 when a
pair's ``allowed`` differs from what the lab decided. Nothing of the collection is used.

Usage: try_logins.py --config integration_config.yml --report report.json
"""

from __future__ import annotations

import argparse
import json
import ssl
import sys
from pathlib import Path

import boto3
import psycopg2
import pymysql
import yaml


def session(config, **credentials):
    return boto3.session.Session(region_name=config["aws_region"], **credentials)


def credentials_for(config, admin, principal_arn, cleanup):
    iam = admin.client("iam", endpoint_url=config["aws_endpoint_url"])
    sts = admin.client("sts", endpoint_url=config["aws_endpoint_url"])
    if ":role/" in principal_arn:
        creds = sts.assume_role(RoleArn=principal_arn, RoleSessionName="rpt-try")["Credentials"]
        return dict(aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
                    aws_session_token=creds["SessionToken"])
    if sts.get_caller_identity()["Arn"] == principal_arn:
        return dict(aws_access_key_id=config["aws_access_key"], aws_secret_access_key=config["aws_secret_key"])
    user = principal_arn.rsplit("/", 1)[-1]
    key = iam.create_access_key(UserName=user)["AccessKey"]
    cleanup.append(lambda: iam.delete_access_key(UserName=user, AccessKeyId=key["AccessKeyId"]))
    return dict(aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"])


def login(config, db, user, token):
    """True when the server accepted the token for ``user``; the refusal otherwise (never the token)."""
    try:
        if db["engine"] == "mysql":
            conn = pymysql.connect(host=db["host"], port=db["port"], user=user, password=token, connect_timeout=10,
                                   ssl=ssl.create_default_context(cafile=config["lab_ca_cert"]))
        else:
            conn = psycopg2.connect(host=db["host"], port=db["port"], user=user, password=token, dbname="postgres",
                                    sslmode="verify-full", sslrootcert=config["lab_ca_cert"], connect_timeout=10)
        conn.close()
        return True, ""
    except (pymysql.MySQLError, psycopg2.Error) as e:
        return False, str(e).replace(token, "<token>").strip().splitlines()[0]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", required=True)
    parser.add_argument("--report", required=True)
    args = parser.parse_args()
    config = yaml.safe_load(Path(args.config).read_text())
    report = json.loads(Path(args.report).read_text())
    databases = dict((d["id"], d) for d in config["lab_databases"])
    admin = session(config, aws_access_key_id=config["aws_access_key"], aws_secret_access_key=config["aws_secret_key"])
    cleanup = []
    mismatches = []
    tried = 0
    try:
        by_principal = {}
        for row in report["matrix"]:
            by_principal.setdefault(row["principal_arn"], []).append(row)
        for principal_arn, rows in sorted(by_principal.items()):
            creds = credentials_for(config, admin, principal_arn, cleanup)
            rds = session(config, **creds).client("rds", endpoint_url=config["aws_endpoint_url"])
            for row in rows:
                db = databases[row["database"]]
                token = rds.generate_db_auth_token(DBHostname=db["host"], Port=db["port"], DBUsername=row["db_user"])
                connected, refusal = login(config, db, row["db_user"], token)
                tried += 1
                if connected != row["allowed"]:
                    mismatches.append("%s -> %s as %s: the report says %s (%s), the lab %s" % (
                        principal_arn, row["database"], row["db_user"], "allowed" if row["allowed"] else "denied",
                        row["reason"], "accepted the login" if connected else "refused it: " + refusal))
    finally:
        for undo in cleanup:
            undo()
    print("%d pairs tried through the lab, %d allowed, %d differ from the report" % (
        tried, sum(1 for r in report["matrix"] if r["allowed"]), len(mismatches)))
    for line in mismatches:
        print(line)
    sys.exit(1 if mismatches or not tried else 0)


if __name__ == "__main__":
    main()
