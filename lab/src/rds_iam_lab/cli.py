"""The ``rds-iam-lab`` command (also ``python -m rds_iam_lab``): parse the command line, run a command of
:mod:`rds_iam_lab.labctl`. Works from any folder: the state folder is ``--state-dir`` (or ``$LAB_STATE_DIR``),
else the default that :func:`rds_iam_lab.labctl.state_dir` describes, never the current folder unless asked."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from rds_iam_lab import __version__, inventory, labctl, seed, shell_env

COMMANDS = {
    "up": "start the lab (idempotent); --seed FILE: also the databases and principals of a data model",
    "down": "stop the lab's processes (--purge: also its host accounts and SSH keys)",
    "purge": "down --purge, then delete the state folder",
    "status": "human summary and the verifier's last refusals (--json: one JSON object, with secrets)",
    "env": "shell exports for AWS tools: eval \"$(rds-iam-lab env)\"",
    "inventory": "write an Ansible inventory for the collection's data model into DIR",
    "maintenance": "apply pending RDS modifications (ApplyImmediately=false)",
    "add-databases": "add logical databases: FILE (YAML/JSON list of {id, kind, server}, - = stdin)",
    "remove-databases": "remove logical databases: FILE or --all-logical",
    "api-refusals": "the AWS API's last refusals (no secrets)",
    "expire-session": "end an assumed-role session now: ACCESS_KEY_ID",
    "restart-server": "restart one of the plain servers (sm-postgres, sm-mariadb), as systemctl restart would: ID",
}


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="rds-iam-lab", description=(
        "A local stand-in for AWS IAM database authentication: moto as the AWS control plane and real "
        "PostgreSQL and MariaDB servers that accept only valid IAM tokens."))
    top.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    top.add_argument("--state-dir", help="the lab's state folder (default: $LAB_STATE_DIR, else per user)")
    sub = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands = {name: sub.add_parser(name, help=text, description=text) for name, text in COMMANDS.items()}
    commands["up"].add_argument("--seed", metavar="FILE", help="a data model (YAML/JSON file or group_vars folder)")
    commands["down"].add_argument("--purge", action="store_true", help="also the lab's host accounts and SSH keys")
    commands["status"].add_argument("--json", action="store_true", help="one JSON object (names secrets)")
    commands["inventory"].add_argument("directory", metavar="DIR", help="inventory folder (created if missing)")
    scope = commands["inventory"].add_mutually_exclusive_group()
    scope.add_argument("--no-hosts", action="store_true",
                       help="all but hosts.yml, for an inventory that names the lab's hosts itself")
    scope.add_argument("--vars-only", action="store_true",
                       help="only the lab's facts and secrets (group_vars/all/lab_generated.yml, lab_secrets.yml), "
                            "for an inventory with hosts and connection settings of its own")
    commands["add-databases"].add_argument("file", metavar="FILE")
    removing = commands["remove-databases"]
    removing.add_argument("file", metavar="FILE", nargs="?")
    removing.add_argument("--all-logical", action="store_true", help="every logical database")
    commands["expire-session"].add_argument("access_key_id", metavar="ACCESS_KEY_ID")
    commands["restart-server"].add_argument("server_id", metavar="ID")
    return top


def _running_state() -> Path:
    """The state folder of the running lab (LabError when it does not run)."""
    state = labctl.state_dir()
    if not labctl.daemon_alive(state):
        raise labctl.LabError(f"the lab is not running in {state} (rds-iam-lab up)")
    return state


def _running_status() -> dict:
    return labctl.control(_running_state(), {"cmd": "status"})


def seed_lab(model_plan: dict) -> dict:
    """Create what a data model names in the running lab (see :mod:`rds_iam_lab.seed`)."""
    import boto3

    state = labctl.state_dir()
    result = {"databases": [], "principals": []}
    if model_plan["databases"]:
        result["databases"] = labctl.control(state, {"cmd": "add_databases", "databases": model_plan["databases"]},
                                             timeout=300)["databases"]
    status = labctl.control(state, {"cmd": "status"})
    if model_plan["roles"] or model_plan["users"]:
        iam = boto3.client("iam", endpoint_url=status["endpoint_url"], region_name=status["region"],
                           aws_access_key_id=status["access_key"], aws_secret_access_key=status["secret_key"])
        result["principals"] = seed.create_principals(iam, status["account_id"], model_plan["roles"],
                                                      model_plan["users"])
    if model_plan.get("proxies"):
        admin = dict(endpoint_url=status["endpoint_url"], region_name=status["region"],
                     aws_access_key_id=status["access_key"], aws_secret_access_key=status["secret_key"])
        result["proxies"] = seed.create_proxies(boto3.client("rds", **admin), boto3.client("ec2", **admin),
                                                status["account_id"], model_plan["proxies"])
    labctl.write_integration_config(status)
    return result


def run(args: argparse.Namespace) -> int:
    command = args.command
    if command == "up":
        model_plan = seed.plan(seed.read_model(args.seed)) if args.seed else None  # bad input: nothing started
        labctl.up()
        if model_plan is not None:
            for line in _seed_report(seed_lab(model_plan)):
                labctl.say(line)
        print(labctl.status_text()[0])
        return 0
    if command == "down":
        return 0 if labctl.down(purge=args.purge) else 1
    if command == "purge":
        return 0 if labctl.purge() else 1
    if command == "status":
        if args.json:
            status, ok = labctl.status_json()
            print(json.dumps(status, indent=2, sort_keys=True))
        else:
            text, ok = labctl.status_text()
            print(text)
        return 0 if ok else 1
    if command == "env":
        sys.stdout.write(shell_env.exports(_running_status(), str(labctl.state_dir())))
        return 0
    if command == "inventory":
        written = inventory.write(_running_status(), Path(args.directory),
                                  hosts=not (args.no_hosts or args.vars_only), connection=not args.vars_only)
        labctl.say(f"lab inventory written to {args.directory}: " + ", ".join(p.name for p in written)
                   + " (secrets in lab_secrets.yml, mode 0600)")
        return 0
    if command in ("add-databases", "remove-databases"):
        result = labctl.change_databases(command, args.file, getattr(args, "all_logical", False))
        print(json.dumps(result, indent=2))
        return 0
    if command == "restart-server":
        labctl.restart_server(args.server_id)
        return 0
    state = _running_state()
    if command == "maintenance":
        result = labctl.control(state, {"cmd": "maintenance"})
    elif command == "api-refusals":
        result = labctl.control(state, {"cmd": "api_refusals", "limit": 50})
    else:  # expire-session
        result = labctl.control(state, {"cmd": "expire_session", "access_key_id": args.access_key_id})
    print(json.dumps(result, indent=2))
    return 0


def _seed_report(result: dict) -> list[str]:
    lines = [f"seed: database {d['id']} {d['action']}" for d in result["databases"]]
    lines += [f"seed: {'role' if 'role' in p else 'IAM user'} {p.get('role') or p.get('user')} {p['action']}"
              for p in result["principals"]]
    lines += [f"seed: proxy {p['proxy']} {p['action']}" for p in result.get("proxies", [])]
    return lines


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    if args.state_dir:
        # the daemon and every helper read it from the environment
        os.environ["LAB_STATE_DIR"] = str(Path(args.state_dir).expanduser().resolve())
    try:
        return run(args)
    except (labctl.LabError, seed.SeedError, TimeoutError, subprocess.CalledProcessError, OSError, ValueError) as exc:
        labctl.say(f"rds-iam-lab {args.command}: {exc}")
        return 1
