#!/usr/bin/env python
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Time and AWS calls of rds_iam_access_report on the lab: N databases x 20 users x 50 principals.

Usage (from the repository root):

    make view && .venv/bin/python bench/access_report.py [--scales 3,30,100] [--users 20] [--principals 50]

Starts the lab when it is down (and leaves it up; LAB_STATE_DIR selects another lab).

Scale N adds N logical databases to the lab (`labctl add-databases`: bench-report-000, ... round robin over the
lab's three servers, as bench/site.py does), each an RDS identity of its own (resource id, endpoint). The data
model names 20 users per database (b<i>_u<j>), granted round robin to 50 IAM roles (bench-report-role-K, each
with one inline policy naming its users' rds-db ARNs, created with boto3 and deleted afterwards).

The logical databases of one server share its catalog (a server's users are every logical database's users),
so the scales run without admin logins: the matrix lists the data model's users, and the report reads RDS, IAM and
evaluates every principal for every user. The row "3 + catalogs" reads the three servers' catalogs too (admin
logins, 20 bench users created on each server with SQL). The table shows the wall time of the module (one
ansible-playbook task, process start included) and the AWS calls it counted (RV(aws_calls)), with the
GetAccountAuthorizationDetails pages: the IAM calls follow the pages, not the principals.
"""

from __future__ import annotations

import os
import sys

# bench/ holds scripts whose names shadow the standard library (token.py): keep it off the import path.
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != os.path.dirname(os.path.abspath(__file__))]

import argparse  # noqa: E402
import json  # noqa: E402
import ssl  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import boto3  # noqa: E402
import psycopg2  # noqa: E402
import psycopg2.sql  # noqa: E402
import pymysql  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
VIEW = ROOT / ".build" / "view"
SERVERS = [("lab-mysql", "instance", "db_instance_identifier", "mysql"),
           ("lab-postgres", "instance", "db_instance_identifier", "postgres"),
           ("lab-aurora", "cluster", "db_cluster_identifier", "postgres")]
PLAYBOOK = """
- hosts: localhost
  gather_facts: false
  tasks:
    - dbauth.rds_iam.rds_iam_access_report:
        databases: "{{ bench_databases }}"
        principals: "{{ bench_principals }}"
        ca_cert: "{{ bench_ca_cert }}"
        endpoint_url: "{{ bench_aws.endpoint_url }}"
        region: "{{ bench_aws.region }}"
        access_key: "{{ bench_aws.access_key }}"
        secret_key: "{{ bench_aws.secret_key }}"
      register: report
    - ansible.builtin.copy:
        content: "{{ {'summary': report.summary, 'aws_calls': report.aws_calls, 'findings': report.findings | length} | to_json }}"
        dest: "{{ bench_out }}"
        mode: "0600"
"""


def labctl(*args: str) -> str:
    proc = subprocess.run([sys.executable, "-m", "rds_iam_lab", *args], cwd=str(ROOT), capture_output=True, text=True,
                          check=False)
    if proc.returncode != 0:
        raise SystemExit(f"bench: labctl {args[0]} failed: {proc.stderr[-2000:]}")
    return proc.stdout


def database_id(run: str, i: int) -> str:
    """Each run has its own identifiers: moto names a new cluster's snapshot after its identifier and the minute."""
    return f"bench-report-{run}-{i:03d}"


def user_name(i: int, j: int) -> str:
    return f"b{i:03d}_u{j:02d}"


def iam_client(lab: dict):
    return boto3.client("iam", endpoint_url=lab["endpoint_url"], region_name=lab["region"],
                        aws_access_key_id=lab["access_key"], aws_secret_access_key=lab["secret_key"])


def create_roles(lab: dict, prefixes: dict, run: str, n_databases: int, n_users: int, n_principals: int) -> list:
    """One role per principal, its inline policy naming the users granted to it (round robin)."""
    iam = iam_client(lab)
    grants = {k: [] for k in range(n_principals)}
    for index, (i, j) in enumerate((i, j) for i in range(n_databases) for j in range(n_users)):
        grants[index % n_principals].append(prefixes[database_id(run, i)] + "/" + user_name(i, j))
    trust = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                        "Principal": {"AWS": f"arn:aws:iam::{lab['account_id']}:root"}}]})
    names = []
    for k, resources in grants.items():
        name = f"bench-report-role-{k + 1:02d}"
        iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust)
        iam.put_role_policy(RoleName=name, PolicyName="connect", PolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "rds-db:connect", "Resource": resources}]}))
        names.append(name)
    return names


def enable_iam(lab: dict, logical: list) -> None:
    """IAM authentication on for the bench databases (so that allowed pairs are logins that work)."""
    rds = boto3.client("rds", endpoint_url=lab["endpoint_url"], region_name=lab["region"],
                       aws_access_key_id=lab["access_key"], aws_secret_access_key=lab["secret_key"])
    for db in logical:
        if db["kind"] == "cluster":
            rds.modify_db_cluster(DBClusterIdentifier=db["id"], EnableIAMDatabaseAuthentication=True, ApplyImmediately=True)
        else:
            rds.modify_db_instance(DBInstanceIdentifier=db["id"], EnableIAMDatabaseAuthentication=True, ApplyImmediately=True)
    time.sleep(3)  # the lab's "modifying" status lasts up to 2 s


def delete_roles(lab: dict, names: list) -> None:
    iam = iam_client(lab)
    for name in names:
        iam.delete_role_policy(RoleName=name, PolicyName="connect")
        iam.delete_role(RoleName=name)


def server_users(lab: dict, n_users: int, create: bool) -> None:
    """Create (or drop) the bench users of database i on its server, with admin SQL (scale 3 with catalogs)."""
    for i, (server, _kind, _key, engine) in enumerate(SERVERS):
        db = next(d for d in lab["databases"] if d["id"] == server)
        names = [user_name(i, j) for j in range(n_users)]
        if engine == "mysql":
            conn = pymysql.connect(host=db["host"], port=db["port"], user=db["admin_user"], password=db["admin_password"],
                                   ssl=ssl.create_default_context(cafile=lab["ca_cert"]), autocommit=True)
            with conn.cursor() as cur:
                for name in names:
                    if create:
                        cur.execute("CREATE USER IF NOT EXISTS %s@'%%' IDENTIFIED WITH AWSAuthenticationPlugin AS 'RDS' "
                                    "REQUIRE SSL", (name,))
                    else:
                        cur.execute("DROP USER IF EXISTS %s@'%%'", (name,))
        else:
            conn = psycopg2.connect(host=db["host"], port=db["port"], user=db["admin_user"], password=db["admin_password"],
                                    dbname="postgres", sslmode="verify-full", sslrootcert=lab["ca_cert"])
            conn.autocommit = True
            with conn.cursor() as cur:
                for name in names:
                    ident = psycopg2.sql.Identifier(name)
                    cur.execute(psycopg2.sql.SQL("DROP ROLE IF EXISTS {}").format(ident))
                    if create:
                        cur.execute(psycopg2.sql.SQL("CREATE ROLE {} LOGIN IN ROLE rds_iam").format(ident))
        conn.close()


def run_report(lab: dict, directory: Path, databases: list, principals: list) -> tuple[float, dict]:
    variables = directory / "vars.json"
    out = directory / "out.json"
    variables.write_text(json.dumps({
        "bench_databases": databases, "bench_principals": principals, "bench_ca_cert": lab["ca_cert"], "bench_out": str(out),
        "bench_aws": {"endpoint_url": lab["endpoint_url"], "region": lab["region"], "access_key": lab["access_key"],
                      "secret_key": lab["secret_key"]}}))
    (directory / "report.yml").write_text(PLAYBOOK)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(PATH=f"{Path(sys.executable).parent}:{env.get('PATH', '')}", ANSIBLE_COLLECTIONS_PATH=str(VIEW),
               ANSIBLE_NOCOLOR="1")
    start = time.monotonic()
    proc = subprocess.run(["ansible-playbook", "-i", "localhost,", "-c", "local", "-e", f"@{variables}",
                           "-e", f"ansible_python_interpreter={sys.executable}", str(directory / "report.yml")],
                          env=env, capture_output=True, text=True, check=False)
    elapsed = time.monotonic() - start
    if proc.returncode != 0:
        raise RuntimeError("the report failed: " + "\n".join(line for line in proc.stdout.splitlines() if "fatal" in line)[-3000:])
    return elapsed, json.loads(out.read_text())


def iam_pages(lab: dict) -> int:
    """GetAccountAuthorizationDetails pages of the account as it is (read here, not by the module)."""
    paginator = iam_client(lab).get_paginator("get_account_authorization_details")
    return sum(1 for _page in paginator.paginate())


def run_scale(lab: dict, n: int, users: int, n_principals: int, catalogs: bool) -> dict:
    run = "%d%s" % (n, "c" if catalogs else "")
    logical = [{"id": database_id(run, i), "kind": SERVERS[i % 3][1], "server": SERVERS[i % 3][0]} for i in range(n)]
    with tempfile.TemporaryDirectory(prefix="bench-report-") as tmp:
        directory = Path(tmp)
        listing = directory / "databases.json"
        listing.write_text(json.dumps(logical))
        roles = []
        try:
            labctl("add-databases", str(listing))
            enable_iam(lab, logical)
            status = json.loads(labctl("status-json"))
            prefixes = {d["id"]: d["resource_arn_prefix"] for d in status["databases"]}
            byid = {d["id"]: d for d in status["databases"]}
            roles = create_roles(lab, prefixes, run, n, users, n_principals)
            model = []
            for i in range(n):
                _server, _kind, key, engine = SERVERS[i % 3]
                entry = {key: database_id(run, i), "engine": engine,
                         "users": [{"name": user_name(i, j), "principals": [roles[(i * users + j) % n_principals]]}
                                   for j in range(users)]}
                if catalogs:
                    db = byid[database_id(run, i)]
                    entry["admin"] = {"user": db["admin_user"], "password": db["admin_password"]}
                model.append(entry)
            if catalogs:
                server_users(lab, users, create=True)
            elapsed, result = run_report(lab, directory, model, roles)
            return {"databases": n, "catalogs": catalogs, "users": users, "principals": n_principals, "seconds": elapsed,
                    "pages": iam_pages(lab), **result}
        finally:
            if catalogs:
                server_users(lab, users, create=False)
            delete_roles(lab, roles)
            subprocess.run([sys.executable, "-m", "rds_iam_lab", "remove-databases", str(listing)], cwd=str(ROOT),
                           capture_output=True, check=False)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("--scales", default="3,30,100", help="numbers of databases, comma-separated (default 3,30,100)")
    parser.add_argument("--users", type=int, default=20, help="users per database (default 20)")
    parser.add_argument("--principals", type=int, default=50, help="IAM roles the users are granted to (default 50)")
    parser.add_argument("--no-catalogs", action="store_true", help="leave out the row that reads the three catalogs")
    args = parser.parse_args()
    scales = [int(x) for x in args.scales.split(",") if x.strip()]
    if not scales or min(scales) < 1 or max(scales) > 1000 or args.users < 1 or args.principals < 1:
        parser.error("--scales: numbers from 1 to 1000; --users and --principals at least 1")
    if not (VIEW / "ansible_collections" / "dbauth" / "rds_iam" / "plugins" / "modules" / "rds_iam_access_report.py").is_file():
        raise SystemExit("bench: run `make view` first")
    labctl("up")
    lab = json.loads(labctl("status-json"))
    rows = [] if args.no_catalogs else [run_scale(lab, 3, args.users, args.principals, catalogs=True)]
    for n in scales:
        rows.append(run_scale(lab, n, args.users, args.principals, catalogs=False))
        print(f"  {n} database(s): {rows[-1]['seconds']:.1f} s", file=sys.stderr, flush=True)
    header = ("databases", "catalogs read", "users", "principals", "pairs", "allowed", "findings", "seconds",
              "IAM calls", "IAM pages (account)", "RDS calls")
    print("rds_iam_access_report on the lab: logical databases (own RDS identity) on the lab's 3 servers")
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for row in rows:
        summary, calls = row["summary"], row["aws_calls"]
        print(f"| {row['databases']} | {'yes' if row['catalogs'] else 'no'} | {row['databases'] * row['users']} | "
              f"{row['principals']} | {summary['pairs']} | {summary['allowed']} | {row['findings']} | "
              f"{row['seconds']:.1f} | {calls.get('iam', 0)} | {row['pages']} | {calls.get('rds', 0)} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
