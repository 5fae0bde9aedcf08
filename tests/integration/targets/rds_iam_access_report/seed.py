#!/usr/bin/env python
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Seed the lab with drift of every finding code of rds_iam_access_report, out of band: boto3 against the lab's
AWS and admin SQL with the drivers (identifiers quoted by psycopg2.sql / passed as PyMySQL parameters), never the
collection. ``up`` seeds (and records what it changed in STATE), ``down`` puts everything back; both are idempotent.

Usage: seed.py up|down --config integration_config.yml --state FILE
"""

from __future__ import annotations

import argparse
import json
import secrets
import ssl
import sys
import time
from pathlib import Path

import boto3
import botocore.exceptions
import psycopg2
import psycopg2.sql
import pymysql
import yaml

ROLES = ("dbauth-rpt-app", "dbauth-rpt-stale", "dbauth-rpt-wide", "dbauth-rpt-gone", "dbauth-rpt-handmade")
# What pruning is tried on: the policy path the prune play gives iam_access, the iam_access tags (the marker of what
# the collection created), and a principal the data model no longer names with (gone) and without (handmade) them.
PRUNE_PATH = "/dbauth-rpt/"
PRUNE_TAGS = [{"Key": "managed-by", "Value": "dbauth.rds_iam.iam_access"}]
PRUNE_PRINCIPALS = {"dbauth-rpt-gone": PRUNE_TAGS, "dbauth-rpt-handmade": []}
# The users the collection created (the marker of rds_iam_db_user) that the data model no longer names.
MARKER = "dbauth.rds_iam"
ADMIN_DENY = "dbauth-rpt-deny-orphan"
STALE_ID = "db-RPTSTALE0000000000000000"
PG_IAM_USERS = ("rpt_app", "rpt_orphan", "rpt_both", "rpt_gone")
MYSQL_IAM_USERS = ("rpt_app", "rpt_other", "rpt_gone")
# What IAM authentication each database must have for the seeded findings (lab-aurora: off, iam_auth_off).
IAM_WANTED = {"lab-mysql": True, "lab-postgres": True, "lab-aurora": False}


def clients(config):
    kwargs = dict(endpoint_url=config["aws_endpoint_url"], region_name=config["aws_region"],
                  aws_access_key_id=config["aws_access_key"], aws_secret_access_key=config["aws_secret_key"])
    return boto3.client("iam", **kwargs), boto3.client("rds", **kwargs), boto3.client("sts", **kwargs)


def lab_db(config, ident):
    return next(d for d in config["lab_databases"] if d["id"] == ident)


def pg_connect(config, ident):
    db = lab_db(config, ident)
    conn = psycopg2.connect(host=db["host"], port=db["port"], user=db["admin_user"], password=db["admin_password"],
                            dbname="postgres", sslmode="verify-full", sslrootcert=config["lab_ca_cert"])
    conn.autocommit = True
    return conn


def mysql_connect(config):
    db = lab_db(config, "lab-mysql")
    return pymysql.connect(host=db["host"], port=db["port"], user=db["admin_user"], password=db["admin_password"],
                           ssl=ssl.create_default_context(cafile=config["lab_ca_cert"]), autocommit=True)


def policy(statements):
    return json.dumps({"Version": "2012-10-17", "Statement": statements})


def allow(resources, sid="Connect"):
    return {"Sid": sid, "Effect": "Allow", "Action": "rds-db:connect", "Resource": resources}


def iam_flag(rds, ident, kind):
    if kind == "cluster":
        return rds.describe_db_clusters(DBClusterIdentifier=ident)["DBClusters"][0]["IAMDatabaseAuthenticationEnabled"]
    return rds.describe_db_instances(DBInstanceIdentifier=ident)["DBInstances"][0]["IAMDatabaseAuthenticationEnabled"]


def set_iam(rds, ident, kind, enabled):
    if iam_flag(rds, ident, kind) == enabled:
        return
    if kind == "cluster":
        rds.modify_db_cluster(DBClusterIdentifier=ident, EnableIAMDatabaseAuthentication=enabled, ApplyImmediately=True)
    else:
        rds.modify_db_instance(DBInstanceIdentifier=ident, EnableIAMDatabaseAuthentication=enabled, ApplyImmediately=True)
    deadline = time.monotonic() + 60
    while iam_flag(rds, ident, kind) != enabled:
        if time.monotonic() > deadline:
            sys.exit("seed: IAM authentication of %s did not become %s" % (ident, enabled))
        time.sleep(0.5)


def up(config, state_path):
    iam, rds, sts = clients(config)
    account = config["lab_account_id"]
    prefix = dict((d["id"], d["resource_arn_prefix"]) for d in config["lab_databases"])
    state = {"iam_before": {}, "created_rds_ad": False}
    if state_path.exists():
        state = json.loads(state_path.read_text())
    for ident, enabled in IAM_WANTED.items():
        kind = lab_db(config, ident)["kind"]
        state["iam_before"].setdefault(ident, iam_flag(rds, ident, kind))
        set_iam(rds, ident, kind, enabled)
    state_path.write_text(json.dumps(state))

    trust = policy([{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::%s:root" % account}, "Action": "sts:AssumeRole"}])
    documents = {
        "dbauth-rpt-app": [allow([prefix["lab-postgres"] + "/rpt_app", prefix["lab-postgres"] + "/rpt_missing",
                                  prefix["lab-mysql"] + "/rpt_app", prefix["lab-mysql"] + "/rpt_other",
                                  prefix["lab-aurora"] + "/rpt_off"])],
        "dbauth-rpt-stale": [allow([prefix["lab-mysql"].rsplit(":", 1)[0] + ":" + STALE_ID + "/rpt_app"])],
        "dbauth-rpt-wide": [allow([prefix["lab-mysql"] + "/*"])],
    }
    for role, statements in documents.items():
        try:
            iam.create_role(RoleName=role, AssumeRolePolicyDocument=trust)
        except iam.exceptions.EntityAlreadyExistsException:
            pass
        iam.put_role_policy(RoleName=role, PolicyName="connect", PolicyDocument=policy(statements))
    # Pruning fixtures; their documents do not matter to pruning (it goes by name and tags), so they name no
    # rds-db:connect and the report's findings stay those of expected_findings.txt.
    for role, tags in PRUNE_PRINCIPALS.items():
        try:
            iam.create_role(RoleName=role, AssumeRolePolicyDocument=trust, Tags=tags)
        except iam.exceptions.EntityAlreadyExistsException:
            pass
        name = "rds-iam-connect-" + role
        arn = "arn:aws:iam::%s:policy%s%s" % (account, PRUNE_PATH, name)
        try:
            iam.create_policy(PolicyName=name, Path=PRUNE_PATH, Tags=tags, PolicyDocument=policy([
                {"Effect": "Allow", "Action": "rds:DescribeDBInstances", "Resource": "*"}]))
        except iam.exceptions.EntityAlreadyExistsException:
            pass
        iam.attach_role_policy(RoleName=role, PolicyArn=arn)
    # The caller (the lab's admin user, allowed everything) may not use rpt_orphan: an IAM user nobody can use.
    caller = sts.get_caller_identity()["Arn"].rsplit("/", 1)[-1]
    iam.put_user_policy(UserName=caller, PolicyName=ADMIN_DENY, PolicyDocument=policy([
        {"Effect": "Deny", "Action": "rds-db:connect", "Resource": prefix["lab-postgres"] + "/rpt_orphan"}]))

    conn = pg_connect(config, "lab-postgres")
    with conn.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_roles WHERE rolname = 'rds_ad'")
        if cur.fetchone() is None:
            cur.execute("CREATE ROLE rds_ad NOLOGIN")
            state["created_rds_ad"] = True
            state_path.write_text(json.dumps(state))
        for name in PG_IAM_USERS + ("rpt_pw",):
            cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (name,))
            if cur.fetchone() is None:
                cur.execute(psycopg2.sql.SQL("CREATE ROLE {} LOGIN PASSWORD %s").format(psycopg2.sql.Identifier(name)),
                            (secrets.token_urlsafe(16),))
        for name in PG_IAM_USERS:
            cur.execute(psycopg2.sql.SQL("GRANT rds_iam TO {}").format(psycopg2.sql.Identifier(name)))
        cur.execute("GRANT rds_ad TO rpt_both")
        # rpt_gone carries the marker of the users the collection created: pruning may drop it, not the others.
        cur.execute(psycopg2.sql.SQL("COMMENT ON ROLE rpt_gone IS {}").format(psycopg2.sql.Literal(MARKER)))
    conn.close()
    conn = pg_connect(config, "lab-aurora")
    with conn.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_roles WHERE rolname = 'rpt_off'")
        if cur.fetchone() is None:
            cur.execute("CREATE ROLE rpt_off LOGIN")
        cur.execute("GRANT rds_iam TO rpt_off")
    conn.close()
    conn = mysql_connect(config)
    with conn.cursor() as cur:
        for name in MYSQL_IAM_USERS:
            cur.execute("CREATE USER IF NOT EXISTS %s@'%%' IDENTIFIED WITH AWSAuthenticationPlugin AS 'RDS' REQUIRE SSL", (name,))
        # MariaDB has no account comment: the marker is a key of the account's JSON in mysql.global_priv.
        cur.execute("UPDATE mysql.global_priv SET Priv = JSON_SET(Priv, '$.dbauth_rds_iam', %s) "
                    "WHERE User = 'rpt_gone' AND Host = '%%'", (MARKER,))
        cur.execute("FLUSH PRIVILEGES")
    conn.close()


def down(config, state_path):
    iam, rds, sts = clients(config)
    state = json.loads(state_path.read_text()) if state_path.exists() else {"iam_before": {}, "created_rds_ad": False}
    for listed in iam.get_paginator("list_policies").paginate(Scope="Local", PathPrefix=PRUNE_PATH).build_full_result()["Policies"]:
        for attached in iam.list_entities_for_policy(PolicyArn=listed["Arn"])["PolicyRoles"]:
            iam.detach_role_policy(RoleName=attached["RoleName"], PolicyArn=listed["Arn"])
        iam.delete_policy(PolicyArn=listed["Arn"])
    for role in ROLES:
        try:
            for name in iam.list_role_policies(RoleName=role)["PolicyNames"]:
                iam.delete_role_policy(RoleName=role, PolicyName=name)
            for attached in iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]:
                iam.detach_role_policy(RoleName=role, PolicyArn=attached["PolicyArn"])
            iam.delete_role(RoleName=role)
        except iam.exceptions.NoSuchEntityException:
            pass
    caller = sts.get_caller_identity()["Arn"].rsplit("/", 1)[-1]
    try:
        iam.delete_user_policy(UserName=caller, PolicyName=ADMIN_DENY)
    except iam.exceptions.NoSuchEntityException:
        pass
    conn = pg_connect(config, "lab-postgres")
    with conn.cursor() as cur:
        for name in PG_IAM_USERS + ("rpt_pw", "rpt_missing"):
            cur.execute(psycopg2.sql.SQL("DROP ROLE IF EXISTS {}").format(psycopg2.sql.Identifier(name)))
        if state.get("created_rds_ad"):
            cur.execute("DROP ROLE IF EXISTS rds_ad")
    conn.close()
    conn = pg_connect(config, "lab-aurora")
    with conn.cursor() as cur:
        cur.execute("DROP ROLE IF EXISTS rpt_off")
    conn.close()
    conn = mysql_connect(config)
    with conn.cursor() as cur:
        for name in MYSQL_IAM_USERS:
            cur.execute("DROP USER IF EXISTS %s@'%%'", (name,))
    conn.close()
    for ident, enabled in state.get("iam_before", {}).items():
        set_iam(rds, ident, lab_db(config, ident)["kind"], enabled)
    state_path.unlink(missing_ok=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("command", choices=["up", "down"])
    parser.add_argument("--config", required=True)
    parser.add_argument("--state", required=True)
    args = parser.parse_args()
    config = yaml.safe_load(Path(args.config).read_text())
    try:
        (up if args.command == "up" else down)(config, Path(args.state))
    except (botocore.exceptions.ClientError, psycopg2.Error, pymysql.MySQLError) as e:
        sys.exit("seed %s: %s" % (args.command, e))


if __name__ == "__main__":
    main()
