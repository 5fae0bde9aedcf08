#!/usr/bin/env python
"""Write the lab's connection facts as Ansible variables for an inventory (default: inventories/lab).

Reads ``python -m lab.labctl status-json`` (the lab must be up; ``LAB_STATE_DIR`` is honoured) and writes
two files into ``INVENTORY/group_vars/all/``:

* ``lab_generated.yml``: endpoint, region, account, CA, AWS config files, the databases (no secrets);
* ``lab_secrets.yml`` (mode 0600): the controller's access key pair and the admin passwords.

Both are git-ignored (``inventories/lab/.gitignore``) and never printed.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HEADER = "# Written by scripts/lab_inventory.py from `labctl status-json`. Do not commit (git-ignored).\n"


def lab_status() -> dict:
    proc = subprocess.run([sys.executable, "-m", "lab.labctl", "status-json"], cwd=str(ROOT),
                          capture_output=True, text=True, check=False)
    try:
        status = json.loads(proc.stdout)
    except ValueError:
        status = {}
    if proc.returncode != 0 or not status.get("running"):
        raise SystemExit("lab-inventory: the lab is not running; start it with `make lab-up`")
    return status


def write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.chmod(path, 0o600)


def render(status: dict) -> tuple[dict, dict]:
    public = {
        "lab_state_dir": status["state_dir"],
        "lab_endpoint_url": status["endpoint_url"],
        "lab_region": status["region"],
        "lab_account_id": status["account_id"],
        "lab_ca_cert": status["ca_cert"],
        "lab_aws_config_file": status["aws_config_file"],
        "lab_aws_shared_credentials_file": status["aws_shared_credentials_file"],
        "lab_verifier_log": status["verifier_log"],
        "lab_databases": {
            db["id"]: {
                "kind": db["kind"], "engine": db["engine"], "address": db["host"], "port": db["port"],
                "admin_user": db["admin_user"], "db_name": db.get("db_name"), "resource_id": db.get("resource_id"),
                # a logical database (labctl add-databases): its own RDS identity on one of the servers
                "logical": bool(db.get("logical")), "served_by": db.get("served_by"),
            } for db in status["databases"]
        },
        "lab_principals": [p["name"] for p in status["principals"]],
        # the target hosts: connection (ssh to the host's account, or local), metadata endpoint, folders
        "lab_hosts": {
            h["name"]: {key: h.get(key) for key in (
                "connection", "user", "ssh_port", "ssh_private_key", "known_hosts", "python", "home", "files_dir",
                "imds_endpoint", "instance_id", "principal")}
            for h in status.get("hosts", [])
        },
    }
    secret = {
        "lab_access_key": status["access_key"],
        "lab_secret_key": status["secret_key"],
        "lab_admin_passwords": {db["id"]: db["admin_password"] for db in status["databases"]},
    }
    return public, secret


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("inventory", nargs="?", default=str(ROOT / "inventories" / "lab"),
                        help="inventory directory (default: inventories/lab)")
    args = parser.parse_args(argv)
    public, secret = render(lab_status())
    target = Path(args.inventory) / "group_vars" / "all"
    target.mkdir(parents=True, exist_ok=True)
    # JSON is YAML: no dependency on PyYAML's dumper, values quoted safely.
    write_private(target / "lab_secrets.yml", HEADER + json.dumps(secret, indent=2, sort_keys=True) + "\n")
    public_path = target / "lab_generated.yml"
    public_path.write_text(HEADER + json.dumps(public, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    print(f"lab inventory variables written to {target} (secrets in lab_secrets.yml, mode 0600)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
