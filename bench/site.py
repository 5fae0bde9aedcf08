#!/usr/bin/env python
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Wall time of playbooks/site.yml on the lab: first run and re-run, for 1 and 10 databases x 20 users
x 5 target hosts.

Usage (from the repository root): make view && .venv/bin/python bench/site.py [--scales 1,10] [--users 20]
[--hosts 5]. Starts the lab when it is down (and leaves it up).

The lab has three real database servers (lab-mysql, lab-postgres, the Aurora cluster lab-aurora) and its daemon
cannot add more, so N logical databases are mapped round robin onto them: logical database i is an entry of
rds_iam_databases for server i % 3 with its own users (b<i>_u<j>). Every entry costs what a database costs
in each step (one rds_iam_enable call, its grants in the policies, one rds_iam_db_user call with all its
users, its logins). Each target host has its own IAM role (bench-role-K, created by the iam_access role with
this account as trust; the host assumes it with the keys of the lab's lab-app-role-source user), users are
granted round robin to those roles (so that no policy passes IAM's 6144-character limit), and each host logs
in as every user its role may use: databases x users logins in all. Each scale starts from nothing
(revoke.yml first) and is revoked again at the end (which deletes the bench roles). The re-run must report
changed=0.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VIEW = ROOT / ".build" / "view"
SERVERS = [("lab-mysql", "db_instance_identifier", "mysql"), ("lab-postgres", "db_instance_identifier", "postgres"),
           ("lab-aurora", "db_cluster_identifier", "postgres")]
RECAP = re.compile(r"^(\S+)\s+: ok=\d+\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)


def principals(n_hosts: int) -> list:
    return [f"bench-role-{k + 1}" for k in range(n_hosts)]


def data_model(n_databases: int, n_users: int, roles: list) -> list:
    databases = []
    for i in range(n_databases):
        server, key, engine = SERVERS[i % len(SERVERS)]
        users = []
        for j in range(n_users):
            user = {"name": f"b{i:02d}_u{j:02d}", "principals": [roles[j % len(roles)]]}
            if engine == "mysql":
                user["privileges"] = {"labdb.*": "SELECT"}
            else:
                user["roles"] = ["pg_read_all_data"]
            users.append(user)
        databases.append({key: server, "engine": engine, "db_name": "labdb", "users": users,
                          "admin": {"user": "{{ lab_databases['%s'].admin_user }}" % server,
                                    "password": "{{ lab_admin_passwords['%s'] }}" % server}})
    return databases


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
    """Write a bench inventory; returns the number of logins the verify step makes."""
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
                                         "AWS_EC2_METADATA_DISABLED": "true"},
            "rds_iam_ca_cert": "{{ inventory_dir }}/.hosts/{{ inventory_hostname }}/rds-ca-bundle.pem",
        }}}}}
    group_vars = directory / "group_vars" / "all"
    group_vars.mkdir(parents=True, exist_ok=True)
    (directory / "hosts.yml").write_text(json.dumps(doc, indent=1))
    (group_vars / "data_model.yml").write_text(json.dumps({
        "rds_iam_ca_bundle_src": "{{ lab_ca_cert }}",
        "rds_iam_databases": model,
        # Created by the iam_access role (trust: this account), deleted again by revoke.yml.
        "rds_iam_principals": [{"name": role, "trust": ["{{ lab_account_id }}"]} for role in roles],
        "rds_iam_aws": {"endpoint_url": "{{ lab_endpoint_url }}", "region": "{{ lab_region }}",
                        "access_key": "{{ lab_access_key }}", "secret_key": "{{ lab_secret_key }}"},
    }, indent=1))
    subprocess.run([sys.executable, str(ROOT / "scripts" / "lab_inventory.py"), str(directory)], check=True,
                   capture_output=True)
    # Every user is granted to one host's role, and each host logs in as every user its role may use.
    return n_databases * n_users


def playbook(directory: Path, name: str) -> tuple[float, int]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(PATH=f"{Path(sys.executable).parent}:{env.get('PATH', '')}", ANSIBLE_COLLECTIONS_PATH=str(VIEW),
               ANSIBLE_NOCOLOR="1")
    start = time.monotonic()
    proc = subprocess.run(["ansible-playbook", "-i", str(directory), str(ROOT / "playbooks" / name)], cwd=str(ROOT),
                          env=env, capture_output=True, text=True, check=False)
    elapsed = time.monotonic() - start
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-5000:] + proc.stderr[-2000:])
        raise SystemExit(f"bench: {name} failed")
    return elapsed, sum(int(m.group(2)) for m in RECAP.finditer(proc.stdout))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("--scales", default="1,10", help="numbers of databases (default 1,10)")
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--hosts", type=int, default=5)
    args = parser.parse_args()
    if not (VIEW / "ansible_collections" / "dbauth" / "rds_iam" / "roles" / "enable").is_dir():
        raise SystemExit("bench: run `make view` first")
    subprocess.run([sys.executable, "-m", "lab.labctl", "up"], cwd=str(ROOT), check=True, capture_output=True)
    lab = json.loads(subprocess.run([sys.executable, "-m", "lab.labctl", "status-json"], cwd=str(ROOT), check=True,
                                    capture_output=True, text=True).stdout)
    rows = []
    for n in [int(x) for x in args.scales.split(",")]:
        with tempfile.TemporaryDirectory(prefix="bench-site-") as tmp:
            directory = Path(tmp)
            logins = inventory(directory, lab, n, args.users, args.hosts)
            playbook(directory, "revoke.yml")
            first, first_changed = playbook(directory, "site.yml")
            again, again_changed = playbook(directory, "site.yml")
            playbook(directory, "revoke.yml")
            rows.append((n, args.users, args.hosts, logins, first, first_changed, again, again_changed))
            print(f"  {n} database(s): first run {first:.1f} s, re-run {again:.1f} s (changed={again_changed})",
                  file=sys.stderr, flush=True)
    header = ("databases", "users/db", "hosts", "logins", "first run s", "changed", "re-run s", "changed")
    print("site.yml on the lab (%s)" % "logical databases mapped onto the lab's 3 servers")
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for row in rows:
        n, users, hosts, logins, first, first_changed, again, again_changed = row
        print(f"| {n} | {users} | {hosts} | {logins} | {first:.1f} | {first_changed} | {again:.1f} | {again_changed} |")
    return 0 if all(r[7] == 0 for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
