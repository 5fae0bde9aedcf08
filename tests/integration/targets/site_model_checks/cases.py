#!/usr/bin/env python
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Bad data models against the lab: site.yml must fail before any change, naming the entry and the key.

The lab is first provisioned with the good model (so that a step that wrongly removed grants would show),
then each case runs site.yml with one mistake; the out-of-band snapshot of AWS and the catalogs must not
move. The empty list with rds_iam_allow_empty: true must pass and remove nothing. At the end the grants are
revoked and IAM authentication is turned off again, as the lab was.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

# The collection root: this file's tree when run in place, else the collection ansible-test put on the path.
ROOT = next((p for p in Path(__file__).resolve().parents if (p / "galaxy.yml").is_file()), None) or Path(
    os.environ.get("ANSIBLE_COLLECTIONS_PATH", "").split(os.pathsep)[0], "ansible_collections", "dbauth", "rds_iam")
RECAP_CHANGED = re.compile(r"^\S+\s+: ok=\d+\s+changed=(\d+)", re.M)

CASES = [
    # (name, change to the data model, texts the failure must contain)
    ("empty list", lambda m: m.update(rds_iam_databases=[]),
     ["rds_iam_databases is empty", "rds_iam_allow_empty: true"]),
    ("misspelt variable", lambda m: m.update(rds_iam_databse=m.pop("rds_iam_databases")),
     ["variable 'rds_iam_databse' is not one of the collection's (did you mean 'rds_iam_databases'?)"]),
    ("typos in a user", lambda m: m["rds_iam_databases"][0]["users"][0].update(
        principal=m["rds_iam_databases"][0]["users"][0].pop("principals"),
        privilges=m["rds_iam_databases"][0]["users"][0].pop("privileges")),
     ["rds_iam_databases[0] (lab-mysql): users[0] (app_user): unknown key 'principal' (did you mean 'principals'?)",
      "rds_iam_databases[0] (lab-mysql): users[0] (app_user): unknown key 'privilges' (did you mean 'privileges'?)"]),
    ("database listed twice", lambda m: m["rds_iam_databases"].append(
        dict(copy.deepcopy(m["rds_iam_databases"][0]), users=[{"name": "app_user", "privileges": {"labdb.*": "SELECT"}}])),
     ["rds_iam_databases[3] (lab-mysql): the same database as rds_iam_databases[0]"]),
    ("undefined principal", lambda m: m["rds_iam_databases"][2]["users"][0]["principals"].append("lab-reporting-role"),
     ["rds_iam_databases[2] (lab-aurora): users[0] (report_user): principals names 'lab-reporting-role', which "
      "rds_iam_principals does not define (did you mean 'lab-report-role'?)"]),
    ("database without admin", lambda m: m["rds_iam_databases"][1].pop("admin"),
     ["rds_iam_databases[1] (lab-postgres): admin is required"]),
    ("misspelt identifier key", lambda m: m["rds_iam_databases"][1].update(
        db_instance_identifer=m["rds_iam_databases"][1].pop("db_instance_identifier")),
     ["rds_iam_databases[1]: unknown key 'db_instance_identifer' (did you mean 'db_instance_identifier'?)"]),
    ("host principal not defined", lambda m: m.update(rds_iam_principals=m["rds_iam_principals"][:2]),
     ["host noaccess-1: rds_iam_principal is 'lab-noaccess-role', which rds_iam_principals does not define"]),
]


def run(cmd, env, log):
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    log.write_text(proc.stdout + proc.stderr)
    return proc


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", required=True)
    parser.add_argument("--work", required=True)
    args = parser.parse_args()
    config = yaml.safe_load(Path(args.config).read_text())
    work = Path(args.work)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True, mode=0o700)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(LAB_STATE_DIR=config["lab_state_dir"], ANSIBLE_NOCOLOR="1", ANSIBLE_RETRY_FILES_ENABLED="0")

    def inventory(name, change=None, change_hosts=None):
        inv = work / name
        (inv / "group_vars" / "all").mkdir(parents=True)
        source = ROOT / "inventories" / "lab"
        hosts = yaml.safe_load((source / "hosts.yml").read_text())
        if change_hosts:
            change_hosts(hosts)
        (inv / "hosts.yml").write_text(yaml.safe_dump(hosts, sort_keys=False))
        model = yaml.safe_load((source / "group_vars" / "all" / "data_model.yml").read_text())
        if change:
            change(model)
        (inv / "group_vars" / "all" / "data_model.yml").write_text(yaml.safe_dump(model, sort_keys=False))
        proc = subprocess.run([sys.executable, "-m", "rds_iam_lab", "inventory", "--no-hosts", str(inv)], env=env,
                              capture_output=True, text=True, check=False)
        assert proc.returncode == 0, proc.stderr
        return inv

    def playbook(inv, name, *extra):
        log = work / ("%s-%s.log" % (inv.name, name.replace("/", "_")))
        return run(["ansible-playbook", "-i", str(inv), str(ROOT / "playbooks" / name), *extra], env, log)

    def snapshot():
        proc = subprocess.run([sys.executable, str(ROOT / "tests" / "e2e" / "snapshot.py")], env=env, capture_output=True,
                              text=True, check=True)
        return json.loads(proc.stdout)

    good = inventory("good")
    failures = []
    try:
        proc = playbook(good, "site.yml")
        assert proc.returncode == 0, "provisioning failed: see %s" % (work / "good-site.yml.log")
        before = snapshot()
        assert before["aws"]["policies"], "the provisioned lab has policies"
        for index, (name, change, texts) in enumerate(CASES):
            inv = inventory("case%d" % index, change)
            proc = playbook(inv, "site.yml")
            output = proc.stdout + proc.stderr
            missing = [t for t in texts if t not in output]
            if proc.returncode == 0 or missing:
                failures.append("%s: rc=%d, missing %s (log %s)" % (name, proc.returncode, missing, inv.name))
            if any(int(n) for n in RECAP_CHANGED.findall(output)):
                failures.append("%s: a task reported a change" % name)
            if snapshot() != before:
                failures.append("%s: the lab's state changed" % name)
            print("%-36s %s" % (name, "FAILED" if failures and failures[-1].startswith(name) else "refused, nothing changed"))
        allowed = inventory("allowed", lambda m: m.update(rds_iam_databases=[], rds_iam_allow_empty=True),
                            lambda h: h["all"]["children"]["rds_iam_targets"]["hosts"]["noaccess-1"].pop("rds_iam_host_logins"))
        proc = playbook(allowed, "site.yml")
        if proc.returncode != 0:
            failures.append("allow_empty: site.yml failed (log allowed-site.yml.log)")
        if snapshot() != before:
            failures.append("allow_empty: the empty list removed something")
        print("%-36s %s" % ("empty list, rds_iam_allow_empty", "passed, nothing removed"))
    finally:
        playbook(good, "revoke.yml")
        playbook(good, "enable.yml", "-e", "enable_state=disabled")
    for failure in failures:
        print("FAILED: " + failure)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
