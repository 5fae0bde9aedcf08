#!/usr/bin/env python
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Out-of-band state of the lab, as JSON: what the site flow may change, read without Ansible.

* AWS (boto3 with the lab's admin keys): IAM authentication flag of every database, every customer managed
  policy (path, default version's document, attachments), every role (tags, attached policies), every
  instance profile.
* Catalogs (admin logins over verified TLS): MySQL/MariaDB accounts (user, host, plugin, TLS requirement)
  with their grants, PostgreSQL roles that can log in with their direct memberships.

Never includes a password hash, a key or a token. Usage: python tests/e2e/snapshot.py (LAB_STATE_DIR honoured).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from urllib.parse import unquote

import boto3
import psycopg2
import pymysql

ROOT = Path(__file__).resolve().parents[2]


def lab_status() -> dict:
    proc = subprocess.run([sys.executable, "-m", "rds_iam_lab", "status", "--json"], cwd=str(ROOT), capture_output=True,
                          text=True, check=False)
    status = json.loads(proc.stdout or "{}")
    if not status.get("running"):
        raise SystemExit("snapshot: the lab is not running")
    return status


def aws_state(status: dict) -> dict:
    kw = dict(endpoint_url=status["endpoint_url"], region_name=status["region"],
              aws_access_key_id=status["access_key"], aws_secret_access_key=status["secret_key"])
    rds = boto3.client("rds", **kw)
    iam = boto3.client("iam", **kw)
    flags = {}
    for db in rds.describe_db_instances()["DBInstances"]:
        if not db.get("DBClusterIdentifier"):
            flags["instance:" + db["DBInstanceIdentifier"]] = bool(db.get("IAMDatabaseAuthenticationEnabled"))
    for cluster in rds.describe_db_clusters()["DBClusters"]:
        flags["cluster:" + cluster["DBClusterIdentifier"]] = bool(cluster.get("IAMDatabaseAuthenticationEnabled"))
    policies = {}
    for page in iam.get_paginator("list_policies").paginate(Scope="Local"):
        for pol in page["Policies"]:
            version = iam.get_policy_version(PolicyArn=pol["Arn"], VersionId=pol["DefaultVersionId"])
            document = version["PolicyVersion"]["Document"]
            if isinstance(document, str):
                document = json.loads(unquote(document))
            policies[pol["Arn"]] = {"document": document, "attachments": pol.get("AttachmentCount", 0)}
    roles = {}
    for page in iam.get_paginator("list_roles").paginate():
        for role in page["Roles"]:
            name = role["RoleName"]
            attached = iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]
            tags = iam.list_role_tags(RoleName=name)["Tags"]
            roles[name] = {"arn": role["Arn"], "policies": sorted(p["PolicyArn"] for p in attached),
                           "inline": sorted(iam.list_role_policies(RoleName=name)["PolicyNames"]),
                           "tags": {t["Key"]: t["Value"] for t in tags}}
    profiles = sorted(p["InstanceProfileName"] for p in iam.list_instance_profiles()["InstanceProfiles"])
    return {"iam_auth": flags, "policies": policies, "roles": roles, "instance_profiles": profiles}


def mysql_state(db: dict, ca_cert: str) -> dict:
    conn = pymysql.connect(host=db["host"], port=int(db["port"]), user=db["admin_user"],
                           password=db["admin_password"], ssl_ca=ca_cert, ssl_verify_cert=True,
                           ssl_verify_identity=True, connect_timeout=10)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT User, Host, plugin, ssl_type FROM mysql.user ORDER BY User, Host")
            accounts = {}
            for user, host, plugin, ssl_type in cur.fetchall():
                cur.execute("SHOW GRANTS FOR %s@%s", (user, host))
                grants = sorted(row[0] for row in cur.fetchall())
                # A password hash may appear in SHOW GRANTS: keep only statements without one.
                grants = [g if "PASSWORD" not in g.upper() else "<grant with a password hash>" for g in grants]
                accounts[f"{user}@{host}"] = {"plugin": plugin, "ssl_type": ssl_type, "grants": grants}
    finally:
        conn.close()
    return accounts


def postgres_state(db: dict, ca_cert: str) -> dict:
    conn = psycopg2.connect(host=db["host"], port=int(db["port"]), user=db["admin_user"],
                            password=db["admin_password"], dbname="postgres", sslmode="verify-full",
                            sslrootcert=ca_cert, connect_timeout=10)
    try:
        with conn.cursor() as cur:
            cur.execute("""
                SELECT r.rolname, r.rolcanlogin,
                       COALESCE(array_agg(g.rolname ORDER BY g.rolname) FILTER (WHERE g.rolname IS NOT NULL), '{}')
                FROM pg_catalog.pg_roles r
                LEFT JOIN pg_catalog.pg_auth_members m ON m.member = r.oid
                LEFT JOIN pg_catalog.pg_roles g ON g.oid = m.roleid
                WHERE r.rolname !~ '^pg_'
                GROUP BY r.rolname, r.rolcanlogin ORDER BY r.rolname""")
            return {name: {"login": login, "member_of": list(groups)} for name, login, groups in cur.fetchall()}
    finally:
        conn.close()


def snapshot(status: dict | None = None) -> dict:
    status = status or lab_status()
    catalogs = {}
    for db in status["databases"]:
        if db["engine"] in ("mysql", "mariadb", "aurora-mysql"):
            catalogs[db["id"]] = mysql_state(db, status["ca_cert"])
        else:
            catalogs[db["id"]] = postgres_state(db, status["ca_cert"])
    return {"aws": aws_state(status), "catalogs": catalogs}


if __name__ == "__main__":
    json.dump(snapshot(), sys.stdout, indent=2, sort_keys=True)
    sys.stdout.write("\n")
