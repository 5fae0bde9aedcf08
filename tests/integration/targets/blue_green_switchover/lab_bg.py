#!/usr/bin/env python
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Out of band, never the collection: the lab's logical databases and Blue/Green deployments of this target (boto3
against the lab's AWS, ``rds-iam-lab add-databases``), logins as the target's principal (a session of the role, a
token signed by botocore, a TLS login with the drivers) and what AWS holds (deployments, resource ids by name,
the principal's rds-db:connect policies) for check-mode comparisons.

Usage: lab_bg.py --config integration_config.yml COMMAND [...]
  down                         delete the deployments, the logical databases, the principal and its grants, and USER on
                               the servers (the other targets share them); idempotent
  up                           the logical databases (IAM off: site.yml turns it on)
  deploy                       a Blue/Green deployment of each database (the green copies the blue's IAM setting)
  switch DB                    switch the deployment of DB over, as someone might outside the playbook
  observe FILE                 write what AWS holds to FILE (JSON)
  same FILE1 FILE2             exit 1 when the two observations differ
  login DB ok|refused          log in as USER through DB's endpoint; exit 1 when the result differs
  hammer DB STOPFILE OUTFILE   log in through DB's endpoint again and again until STOPFILE exists; counts to OUTFILE
  hammered OUTFILE             exit 1 unless every one of those logins was accepted, before and after the switchover
  switched BEFORE AFTER DB     exit 1 unless DB switched over between the two observations as AWS documents it (the
                               name holds the green's resource id, DB-old1 the blue's) and the grants name the new
                               resource id and not the old one
"""

from __future__ import annotations

import argparse
import json
import os
import ssl
import subprocess
import sys
import time
from pathlib import Path

import boto3
import botocore.exceptions
import psycopg2
import psycopg2.sql
import pymysql
import yaml

DATABASES = {"bgt-pg": ("lab-postgres", "postgres"), "bgt-my": ("lab-mysql", "mysql")}
PRINCIPAL = "bgt-app-role"
USER = "bgt_app"
POLICY_PATH = "/dbauth-rds-iam/"


def clients(config):
    kwargs = dict(endpoint_url=config["aws_endpoint_url"], region_name=config["aws_region"],
                  aws_access_key_id=config["aws_access_key"], aws_secret_access_key=config["aws_secret_key"])
    return boto3.client("rds", **kwargs), boto3.client("iam", **kwargs), boto3.client("sts", **kwargs)


def labctl(config, *args):
    env = dict(os.environ, LAB_STATE_DIR=config["lab_state_dir"], LAB_INTEGRATION_CONFIG="")
    subprocess.run([sys.executable, "-m", "rds_iam_lab", *args], env=env, check=True, stdout=subprocess.DEVNULL)


def instances(rds):
    return {d["DBInstanceIdentifier"]: d for page in rds.get_paginator("describe_db_instances").paginate()
            for d in page["DBInstances"]}


def deployments(rds):
    return [d for d in rds.describe_blue_green_deployments()["BlueGreenDeployments"]
            if d["BlueGreenDeploymentName"].startswith("bgt-")]


def ours(ident):
    return any(ident == db or ident.startswith(db + "-") for db in DATABASES)


def down(config):
    rds, iam, _sts = clients(config)
    for found in deployments(rds):
        rds.delete_blue_green_deployment(BlueGreenDeploymentIdentifier=found["BlueGreenDeploymentIdentifier"],
                                         DeleteTarget=found["Status"] != "SWITCHOVER_COMPLETED")
    logical = sorted(i for i in instances(rds) if ours(i))
    if logical:
        path = Path(os.environ.get("TMPDIR", "/tmp")) / ("lab_bg_%d.json" % os.getpid())
        path.write_text(json.dumps(logical))
        try:
            labctl(config, "remove-databases", str(path))
        finally:
            path.unlink()
    try:
        attached = iam.list_attached_role_policies(RoleName=PRINCIPAL)["AttachedPolicies"]
    except iam.exceptions.NoSuchEntityException:
        return
    for policy in attached:
        iam.detach_role_policy(RoleName=PRINCIPAL, PolicyArn=policy["PolicyArn"])
        if ":policy" + POLICY_PATH in policy["PolicyArn"]:
            iam.delete_policy(PolicyArn=policy["PolicyArn"])
    for profile in iam.list_instance_profiles_for_role(RoleName=PRINCIPAL)["InstanceProfiles"]:
        iam.remove_role_from_instance_profile(InstanceProfileName=profile["InstanceProfileName"], RoleName=PRINCIPAL)
        iam.delete_instance_profile(InstanceProfileName=profile["InstanceProfileName"])
    iam.delete_role(RoleName=PRINCIPAL)


def drop_user(config):
    """USER off the servers that serve the logical databases (admin SQL, the identifier quoted by the drivers)."""
    for server, engine in DATABASES.values():
        db = next(d for d in config["lab_databases"] if d["id"] == server)
        if engine == "mysql":
            conn = pymysql.connect(host=db["host"], port=db["port"], user=db["admin_user"], password=db["admin_password"],
                                   ssl=ssl.create_default_context(cafile=config["lab_ca_cert"]))
            with conn.cursor() as cur:
                cur.execute("DROP USER IF EXISTS %s@'%%'", (USER,))
        else:
            conn = psycopg2.connect(host=db["host"], port=db["port"], user=db["admin_user"], password=db["admin_password"],
                                    dbname="postgres", sslmode="verify-full", sslrootcert=config["lab_ca_cert"])
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute(psycopg2.sql.SQL("DROP ROLE IF EXISTS {}").format(psycopg2.sql.Identifier(USER)))
        conn.close()


def up(config):
    path = Path(os.environ.get("TMPDIR", "/tmp")) / ("lab_bg_%d.yml" % os.getpid())
    path.write_text(yaml.safe_dump([{"id": db, "kind": "instance", "server": server, "engine": engine}
                                    for db, (server, engine) in DATABASES.items()]))
    try:
        labctl(config, "add-databases", str(path))
    finally:
        path.unlink()


def deploy(config):
    rds, _iam, _sts = clients(config)
    have = {d["BlueGreenDeploymentName"] for d in deployments(rds)}
    for db in DATABASES:
        if db + "-upgrade" not in have:
            arn = instances(rds)[db]["DBInstanceArn"]
            rds.create_blue_green_deployment(BlueGreenDeploymentName=db + "-upgrade", Source=arn)


def switch(config, db):
    rds, _iam, _sts = clients(config)
    arn = instances(rds)[db]["DBInstanceArn"]
    found = next(d for d in deployments(rds) if d["Source"] == arn)
    rds.switchover_blue_green_deployment(BlueGreenDeploymentIdentifier=found["BlueGreenDeploymentIdentifier"])


def observe(config):
    rds, iam, _sts = clients(config)
    grants = {}
    try:
        for policy in iam.list_attached_role_policies(RoleName=PRINCIPAL)["AttachedPolicies"]:
            meta = iam.get_policy(PolicyArn=policy["PolicyArn"])["Policy"]
            document = iam.get_policy_version(PolicyArn=policy["PolicyArn"],
                                              VersionId=meta["DefaultVersionId"])["PolicyVersion"]["Document"]
            grants[policy["PolicyName"]] = sorted(r for s in document["Statement"] for r in
                                                  ([s["Resource"]] if isinstance(s["Resource"], str) else s["Resource"]))
    except iam.exceptions.NoSuchEntityException:
        grants = None
    return {
        "deployments": sorted((d["BlueGreenDeploymentName"], d["Status"], d["Source"], d["Target"])
                              for d in deployments(rds)),
        "resource_ids": {i: d["DbiResourceId"] for i, d in sorted(instances(rds).items()) if ours(i)},
        "iam_enabled": {i: d["IAMDatabaseAuthenticationEnabled"] for i, d in sorted(instances(rds).items()) if ours(i)},
        "grants": grants,
    }


def login(config, db, seen=None):
    """(True, "") when the lab accepted the token of PRINCIPAL for USER through db's endpoint; (False, why).
    ``seen``: a set that gets the resource id RDS named behind db just before the login."""
    rds, iam, sts = clients(config)
    described = instances(rds)[db]
    if seen is not None:
        seen.add(described["DbiResourceId"])
    role_arn = iam.get_role(RoleName=PRINCIPAL)["Role"]["Arn"]
    creds = sts.assume_role(RoleArn=role_arn, RoleSessionName="bgt-login")["Credentials"]
    session = boto3.session.Session(aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
                                    aws_session_token=creds["SessionToken"], region_name=config["aws_region"])
    host, port = described["Endpoint"]["Address"], described["Endpoint"]["Port"]
    token = session.client("rds").generate_db_auth_token(DBHostname=host, Port=port, DBUsername=USER)
    try:
        if DATABASES.get(db.split("-old1")[0], ("", "mysql"))[1] == "mysql":
            conn = pymysql.connect(host=host, port=port, user=USER, password=token, connect_timeout=10,
                                   ssl=ssl.create_default_context(cafile=config["lab_ca_cert"]))
        else:
            conn = psycopg2.connect(host=host, port=port, user=USER, password=token, dbname="postgres",
                                    sslmode="verify-full", sslrootcert=config["lab_ca_cert"], connect_timeout=10)
        conn.close()
        return True, ""
    except (pymysql.MySQLError, psycopg2.Error) as e:
        return False, str(e).replace(token, "<token>").strip().splitlines()[0]


def hammer(config, db, stop, out):
    counts = {"ok": 0, "refused": [], "errors": [], "resource_ids": []}
    while not Path(stop).exists():
        seen = set()
        try:
            ok, why = login(config, db, seen)
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError, KeyError) as e:
            counts["errors"].append(type(e).__name__)  # a describe between the renames: not a login
            ok, why = None, ""
        if ok:
            counts["ok"] += 1
            counts["resource_ids"] = sorted(set(counts["resource_ids"]) | seen)
        elif ok is False:
            counts["refused"].append(why)
        time.sleep(0.1)
    Path(out).write_text(json.dumps(counts))


def hammered(path):
    """Every login was accepted, and they were accepted with the blue's and with the green's resource id behind the
    name: they went on across the switchover."""
    counts = json.loads(Path(path).read_text())
    print("logins during the run: %d accepted (resource ids behind the name: %s), %d refused %s" % (
        counts["ok"], ", ".join(counts["resource_ids"]), len(counts["refused"]), counts["refused"][:3]))
    return 0 if len(counts["resource_ids"]) == 2 and not counts["refused"] else 1


def switched(before, after, db):
    green = next(t.rsplit(":", 1)[-1] for name, _status, _s, t in before["deployments"] if name == db + "-upgrade")
    old, new = before["resource_ids"][db], before["resource_ids"][green]
    granted = [r for resources in (after["grants"] or {}).values() for r in resources]
    problems = []
    if after["resource_ids"].get(db) != new or after["resource_ids"].get(db + "-old1") != old:
        problems.append("resource ids by name: %s (blue %s, green %s)" % (after["resource_ids"], old, new))
    if not any(":dbuser:%s/" % new in r for r in granted):
        problems.append("no grant names the new resource id %s: %s" % (new, granted))
    if any(":dbuser:%s/" % old in r for r in granted):
        problems.append("a grant still names the old resource id %s: %s" % (old, granted))
    print("; ".join(problems) or "%s: name now on %s (was %s), grants follow" % (db, new, old))
    return 1 if problems else 0


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", required=True)
    parser.add_argument("command")
    parser.add_argument("args", nargs="*")
    ns = parser.parse_args()
    config = yaml.safe_load(Path(ns.config).read_text())
    if ns.command == "down":
        down(config)
        drop_user(config)
    elif ns.command == "up":
        up(config)
    elif ns.command == "deploy":
        deploy(config)
    elif ns.command == "switch":
        switch(config, ns.args[0])
    elif ns.command == "observe":
        Path(ns.args[0]).write_text(json.dumps(observe(config), indent=1, sort_keys=True))
    elif ns.command == "same":
        first, second = (json.loads(Path(p).read_text()) for p in ns.args)
        if first != second:
            print("AWS changed:\n%s\n%s" % (json.dumps(first, sort_keys=True), json.dumps(second, sort_keys=True)))
            return 1
    elif ns.command == "login":
        ok, why = login(config, ns.args[0])
        print("%s through %s: %s %s" % (USER, ns.args[0], "accepted" if ok else "refused", why))
        if ok != (ns.args[1] == "ok"):
            return 1
    elif ns.command == "hammer":
        hammer(config, *ns.args)
    elif ns.command == "hammered":
        return hammered(ns.args[0])
    elif ns.command == "switched":
        before, after = (json.loads(Path(p).read_text()) for p in ns.args[:2])
        return switched(before, after, ns.args[2])
    else:
        parser.error("unknown command %s" % ns.command)
    return 0


if __name__ == "__main__":
    sys.exit(main())
