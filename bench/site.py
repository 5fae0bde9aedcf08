#!/usr/bin/env python
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Wall time of playbooks/site.yml on the lab: first run and re-run, for N databases x 20 users x 10 target hosts.

Usage (from the repository root):

    make view && .venv/bin/python bench/site.py [--scales 1,10,100] [--users 20] [--hosts 10]

Starts the lab when it is down (and leaves it up; LAB_STATE_DIR selects another lab).

Scale N runs N databases with distinct identifiers: the bench adds N logical databases to the lab
(`labctl add-databases`: bench-db-000, bench-db-001, ... round robin over the lab's three servers, a DB
instance on lab-mysql and on lab-postgres, an Aurora cluster on lab-aurora). Each is an RDS identity of its
own (its own resource id, IAM auth off at first, its own endpoint: a relay of the lab to the server), so
each costs what a database costs in every step: enabling IAM auth, its grants in the policies, its users
(b<i>_u<j>, distinct on the shared servers), its logins.

Each target host has its own IAM role (bench-role-K, created by the iam_access role; its trust names the lab's
lab-app-source user, whose keys the host assumes it with: a trust policy that names the caller needs no identity
policy of the caller's, one that names the account would). Users are granted round
robin to those roles and each host logs in as every user its role may use: databases x users logins.

Each scale starts clean (revoke.yml), runs site.yml twice (the re-run must report changed=0), then
revokes (which deletes the bench roles) and removes its logical databases, also when a run fails.

The bench uses only the data model of docs/data_model.md (rds_iam_databases with
db_instance_identifier/db_cluster_identifier, engine, db_name, admin, users with privileges/roles and
principals; rds_iam_principals with trust) and the host variables rds_iam_principal,
rds_iam_host_environment and rds_iam_ca_cert; the lab's addresses and secrets come from
`rds-iam-lab inventory --vars-only` (lab_databases, lab_admin_passwords, ...), never from this script's output.
"""

from __future__ import annotations

import os
import sys

# bench/ holds scripts whose names shadow the standard library (token.py): keep it off the import path.
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != os.path.dirname(os.path.abspath(__file__))]

import argparse  # noqa: E402
import json  # noqa: E402
import re  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
VIEW = ROOT / ".build" / "view"
# server -> (kind of the logical databases it serves, data model key, engine in the data model)
SERVERS = [("lab-mysql", "instance", "db_instance_identifier", "mysql"),
           ("lab-postgres", "instance", "db_instance_identifier", "postgres"),
           ("lab-aurora", "cluster", "db_cluster_identifier", "postgres")]
RECAP = re.compile(r"^(\S+)\s+: ok=\d+\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)
LOGINS_OK = re.compile(r"(\d+) of (\d+) logins ok")


def database_id(i: int) -> str:
    return f"bench-db-{i:03d}"


def logical_databases(n_databases: int) -> list:
    """The `labctl add-databases` list of a scale."""
    result = []
    for i in range(n_databases):
        server, kind, _key, _engine = SERVERS[i % len(SERVERS)]
        result.append({"id": database_id(i), "kind": kind, "server": server})
    return result


def principals(n_hosts: int) -> list:
    return [f"bench-role-{k + 1}" for k in range(n_hosts)]


def data_model(n_databases: int, n_users: int, roles: list) -> list:
    databases = []
    grant = 0
    for i in range(n_databases):
        db_id = database_id(i)
        _server, _kind, key, engine = SERVERS[i % len(SERVERS)]
        users = []
        for j in range(n_users):
            user = {"name": f"b{i:03d}_u{j:02d}", "principals": [roles[grant % len(roles)]]}
            grant += 1
            if engine == "mysql":
                user["privileges"] = {"labdb.*": "SELECT"}
            else:
                user["roles"] = ["pg_read_all_data"]
            users.append(user)
        databases.append({key: db_id, "engine": engine, "db_name": "labdb", "users": users,
                          "admin": {"user": "{{ lab_databases['%s'].admin_user }}" % db_id,
                                    "password": "{{ lab_admin_passwords['%s'] }}" % db_id}})
    return databases


def lab_status() -> dict:
    return json.loads(labctl("status", "--json").stdout)


def source_user_arn(lab: dict) -> str:
    """The IAM user whose keys the lab-app-role-source profile holds (the hosts assume the bench roles with them)."""
    return next(p["source_user_arn"] for p in lab["principals"] if p["source_profile"] == "lab-app-role-source")


def aws_config(directory: Path, lab: dict, roles: list) -> Path:
    """A config file with one profile per bench role (role_arn + the lab's lab-app-role-source keys)."""
    common = [f"region = {lab['region']}", f"endpoint_url = {lab['endpoint_url']}"]
    lines = ["[profile lab-app-role-source]", *common, ""]
    for role in roles:
        lines += [f"[profile {role}]", f"role_arn = arn:aws:iam::{lab['account_id']}:role/{role}",
                  "source_profile = lab-app-role-source", *common, ""]
    path = directory / "aws_config"
    path.write_text("\n".join(lines))
    return path


def inventory(directory: Path, lab: dict, n_databases: int, n_users: int, n_hosts: int) -> int:
    """Write a bench inventory (the logical databases must exist); returns the number of logins verify makes."""
    roles = principals(n_hosts)
    model = data_model(n_databases, n_users, roles)
    config = aws_config(directory, lab, roles)
    hosts = {f"bench-{k + 1}": {"rds_iam_principal": role} for k, role in enumerate(roles)}
    doc = {"all": {
        "hosts": {"localhost": {"ansible_connection": "local",
                                "ansible_python_interpreter": "{{ ansible_playbook_python }}"}},
        "children": {"rds_iam_targets": {"hosts": hosts, "vars": {
            "ansible_connection": "local", "ansible_python_interpreter": "{{ ansible_playbook_python }}",
            "rds_iam_host_environment": {"AWS_CONFIG_FILE": str(config),
                                         "AWS_SHARED_CREDENTIALS_FILE": "{{ lab_aws_shared_credentials_file }}",
                                         "AWS_PROFILE": "{{ rds_iam_principal }}",
                                         "AWS_EC2_METADATA_DISABLED": "true",
                                         "AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "",
                                         "AWS_SESSION_TOKEN": ""},
            "rds_iam_ca_cert": "{{ inventory_dir }}/.hosts/{{ inventory_hostname }}/rds-ca-bundle.pem",
        }}}}}
    group_vars = directory / "group_vars" / "all"
    group_vars.mkdir(parents=True, exist_ok=True)
    (directory / "hosts.yml").write_text(json.dumps(doc, indent=1))
    (group_vars / "data_model.yml").write_text(json.dumps({
        "rds_iam_ca_bundle_src": "{{ lab_ca_cert }}",
        "rds_iam_databases": model,
        # Created by the iam_access role (trust: the source user), deleted again by revoke.yml.
        "rds_iam_principals": [{"name": role, "trust": [source_user_arn(lab)]} for role in roles],
        "rds_iam_aws": {"endpoint_url": "{{ lab_endpoint_url }}", "region": "{{ lab_region }}",
                        "access_key": "{{ lab_access_key }}", "secret_key": "{{ lab_secret_key }}"},
    }, indent=1))
    # lab_databases / lab_admin_passwords (the logical databases included) from the lab's status
    subprocess.run([sys.executable, "-m", "rds_iam_lab", "inventory", "--vars-only", str(directory)], check=True,
                   capture_output=True, cwd=str(ROOT))
    return n_databases * n_users


def labctl(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "rds_iam_lab", *args], cwd=str(ROOT), capture_output=True, text=True,
                          check=False)
    if check and proc.returncode != 0:
        raise SystemExit(f"bench: labctl {args[0]} failed: {proc.stderr[-2000:]}")
    return proc


def playbook(directory: Path, name: str, label: str, forks: int = 10) -> tuple[float, int, str]:
    """Run a playbook on the bench inventory -> (seconds, changed tasks summed over hosts, 'ok/total' logins).

    One fork per target host, as an operator would set it; the logs carry each task's time (profile_tasks)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(PATH=f"{Path(sys.executable).parent}:{env.get('PATH', '')}", ANSIBLE_COLLECTIONS_PATH=str(VIEW),
               ANSIBLE_NOCOLOR="1", ANSIBLE_FORKS=str(forks), ANSIBLE_CALLBACKS_ENABLED="ansible.posix.profile_tasks")
    start = time.monotonic()
    proc = subprocess.run(["ansible-playbook", "-i", str(directory / "hosts.yml"), str(ROOT / "playbooks" / name)], cwd=str(ROOT),
                          env=env, capture_output=True, text=True, check=False)
    elapsed = time.monotonic() - start
    (directory / f"{label}.log").write_text(proc.stdout + proc.stderr)
    if proc.returncode != 0:
        tail = [line for line in (proc.stdout + proc.stderr).splitlines() if "fatal:" in line or "FAILED" in line]
        sys.stderr.write("\n".join(tail[-20:]) + "\n")
        raise RuntimeError(f"{name} failed (rc {proc.returncode})")
    logins = LOGINS_OK.findall(proc.stdout)
    return elapsed, sum(int(m.group(2)) for m in RECAP.finditer(proc.stdout)), \
        (f"{logins[-1][0]}/{logins[-1][1]}" if logins else "-")


def run_scale(n: int, users: int, hosts: int, keep: str | None) -> dict:
    databases = logical_databases(n)
    with tempfile.TemporaryDirectory(prefix="bench-site-") as tmp:
        directory = Path(tmp)
        listing = directory / "databases.json"
        listing.write_text(json.dumps(databases))
        labctl("add-databases", str(listing))
        try:
            logins = inventory(directory, lab_status(), n, users, hosts)
            playbook(directory, "revoke.yml", "1-revoke-before", hosts)
            first, first_changed, first_logins = playbook(directory, "site.yml", "2-site-first-run", hosts)
            again, again_changed, again_logins = playbook(directory, "site.yml", "3-site-re-run", hosts)
            return {"databases": n, "users": users, "hosts": hosts, "logins": logins, "first": first,
                    "first_changed": first_changed, "first_logins": first_logins, "again": again,
                    "again_changed": again_changed, "again_logins": again_logins}
        finally:
            try:
                playbook(directory, "revoke.yml", "4-revoke-after", hosts)
            except RuntimeError as exc:
                print(f"bench: cleanup: {exc}", file=sys.stderr)
            if keep:  # the playbook logs only: the inventory holds the lab's secrets
                target = Path(keep) / f"scale-{n}"
                target.mkdir(parents=True, exist_ok=True)
                for log in directory.glob("*.log"):
                    shutil.copy(log, target / log.name)
            labctl("remove-databases", str(listing), check=False)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("--scales", default="1,10", help="numbers of databases, comma-separated (default 1,10)")
    parser.add_argument("--users", type=int, default=20, help="users per database (default 20)")
    parser.add_argument("--hosts", type=int, default=10, help="target hosts, one IAM role each (default 10)")
    parser.add_argument("--keep-logs", metavar="DIR", help="copy each scale's playbook logs into DIR/scale-N")
    args = parser.parse_args()
    scales = [int(x) for x in args.scales.split(",") if x.strip()]
    if not scales or min(scales) < 1 or max(scales) > 1000 or args.users < 1 or args.hosts < 1:
        parser.error("--scales: numbers from 1 to 1000; --users and --hosts at least 1")
    if not (VIEW / "ansible_collections" / "dbauth" / "rds_iam" / "roles" / "enable").is_dir():
        raise SystemExit("bench: run `make view` first")
    labctl("up")
    rows = []
    for n in scales:
        row = run_scale(n, args.users, args.hosts, args.keep_logs)
        rows.append(row)
        print(f"  {n} database(s): first run {row['first']:.1f} s, re-run {row['again']:.1f} s "
              f"(changed={row['again_changed']}, logins ok {row['again_logins']})", file=sys.stderr, flush=True)
    header = ("databases", "users", "hosts", "logins", "first run s", "re-run s", "re-run s per added database",
              "re-run changed", "logins ok (re-run)")
    print("site.yml on the lab: logical databases (own RDS identity and endpoint) on the lab's 3 servers")
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    previous = None
    for row in sorted(rows, key=lambda r: r["databases"]):
        if previous is None or previous["databases"] == row["databases"]:
            per_db = "-"
        else:
            per_db = "%.2f" % ((row["again"] - previous["again"]) / (row["databases"] - previous["databases"]))
        print(f"| {row['databases']} | {row['databases'] * row['users']} | {row['hosts']} | {row['logins']} | "
              f"{row['first']:.1f} | {row['again']:.1f} | {per_db} | {row['again_changed']} | {row['again_logins']} |")
        previous = row
    return 0 if all(r["again_changed"] == 0 for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
