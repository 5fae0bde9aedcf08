#!/usr/bin/env python
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""AWS API calls and wall time of applying the iam_access role's grants: one dbauth.rds_iam.rds_iam_grants
task against the loops of amazon.aws modules the role used before (iam_role_info for principals without
trust, iam_managed_policy per policy, iam_role per principal, iam_instance_profile per EC2 principal), on
the lab's control plane.

    .venv/bin/python bench/iam_grants.py [--principals 10] [--policies 3]

Like bench/enable_batch.py it starts its own lab control plane in this process (bench/enable.py's call
log and collection tree), so the shared lab is not touched. The principals: two with EC2 trust (and an
instance profile), one without trust (its role is created by the bench, unmeasured), the others trusting
the account; each gets --policies managed policies of 20 rds-db:connect resources. Each scenario is one
`ansible-playbook` process: first run (nothing exists; everything is removed, unmeasured, before) and
no-op (everything is as asked). Calls are counted server side; wall time is that of the whole process.
"""

from __future__ import annotations

import os
import sys

# bench/ holds scripts whose names shadow the standard library (token.py): keep it off the path.
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != os.path.dirname(os.path.abspath(__file__))]

import argparse
import collections
import functools
import importlib.util
import json
import pathlib
import re
import shutil

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rds_iam_lab.control_plane import start_control_plane  # noqa: E402  (needs ROOT on sys.path)

PATH = "/dbauth-bench/"
PREFIX = "bench-connect-"
TAGS = {"managed-by": "dbauth.rds_iam.bench"}


@functools.lru_cache(maxsize=None)
def _bench(name):
    """Another bench script of this folder, as a module (bench/enable.py: call log, collection tree)."""
    spec = importlib.util.spec_from_file_location("bench_" + name, str(ROOT / "bench" / (name + ".py")))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def principals(count, parts, account, region):
    """Entries as the filter rds_iam_principal_policies returns them."""
    result = []
    for i in range(count):
        name = "bench-principal-%02d" % i
        trust = "ec2" if i < 2 else (None if i == 2 else [account])
        if trust == "ec2":
            principal = {"Service": "ec2.amazonaws.com"}
        else:
            principal = {"AWS": ["arn:aws:iam::%s:root" % account]}
        policies = []
        for part in range(1, parts + 1):
            pname = PREFIX + name + ("" if part == 1 else "-part%d" % part)
            resources = ["arn:aws:rds-db:%s:%s:dbuser:db-BENCH%02d/user_%02d" % (region, account, d, u)
                         for d in range(part * 5, part * 5 + 5) for u in range(4)]
            policies.append({"name": pname, "arn": "arn:aws:iam::%s:policy%s%s" % (account, PATH, pname),
                             "document": {"Version": "2012-10-17", "Statement": [
                                 {"Sid": "RdsIamConnect", "Effect": "Allow", "Action": "rds-db:connect",
                                  "Resource": sorted(resources)}]}})
        result.append({
            "name": name, "trust": trust, "path": None, "description": None, "max_session_duration": None,
            "trust_document": {"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"}]},
            "instance_profile": trust == "ec2", "policies": policies,
        })
    # Without trust the role exists; its trust document is what the old role read with iam_role_info.
    for entry in result:
        if entry["trust"] is None:
            entry["existing_trust"] = entry.pop("trust_document")
            entry["trust_document"] = None
    return result


def grants_tasks(entries, state="present"):
    clean = [dict((k, v) for k, v in e.items() if k != "existing_trust") for e in entries]
    return [{"name": "rds_iam_grants", "dbauth.rds_iam.rds_iam_grants": {
        "principals": clean, "policy_path": PATH, "policy_prefix": PREFIX, "tags": TAGS, "state": state}}]


def loop_tasks(entries):
    """The tasks the iam_access role ran before rds_iam_grants (present path)."""
    trustless = [e for e in entries if e["trust"] is None]
    subelements = [[e, p] for e in entries for p in e["policies"]]
    return [
        {"name": "Read the roles", "amazon.aws.iam_role_info": {"name": "{{ item.name }}"}, "loop": trustless,
         "register": "existing"},
        {"name": "Policies", "amazon.aws.iam_managed_policy": {
            "name": "{{ item.1.name }}", "path": PATH, "description": "rds-db:connect for {{ item.0.name }}",
            "policy": "{{ item.1.document | to_json }}", "only_version": True, "tags": TAGS, "purge_tags": False,
            "state": "present"}, "loop": subelements},
        {"name": "Roles", "amazon.aws.iam_role": {
            "name": "{{ item.name }}",
            "assume_role_policy_document": "{{ (item.trust_document or item.existing_trust) | to_json }}",
            "managed_policies": "{{ item.policies | map(attribute='arn') | list }}", "purge_policies": False,
            "create_instance_profile": False, "tags": "{{ %s if item.trust is not none else omit }}" % json.dumps(TAGS),
            "purge_tags": False, "state": "present"}, "loop": entries},
        {"name": "Instance profiles", "amazon.aws.iam_instance_profile": {
            "name": "{{ item.name }}", "role": "{{ item.name }}", "tags": TAGS, "purge_tags": False, "state": "present"},
         "loop": [e for e in entries if e["instance_profile"]]},
    ]


def run_playbook(tmp, tasks, env, endpoint):
    """(seconds, changed tasks) of one ansible-playbook process with the control plane's endpoint as module_defaults."""
    defaults = {"endpoint_url": endpoint}
    elapsed, out = _bench("enable_batch").run_play(
        tmp, tasks, env, {"group/dbauth.rds_iam.rds_iam": defaults})
    return elapsed, int(re.search(r"changed=(\d+)", out).group(1))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("--principals", type=int, default=10, help="number of principals, default 10")
    parser.add_argument("--policies", type=int, default=3, help="managed policies per principal, default 3")
    options = parser.parse_args()

    bench = _bench("enable")
    log = bench.ServerCallLog()
    log.install()
    cp = start_control_plane([])
    tmp = bench.collections_dir()
    rows = []
    try:
        account = cp.client("sts").get_caller_identity()["Account"]
        entries = principals(options.principals, options.policies, account, cp.region)
        iam = cp.client("iam")
        for entry in entries:
            if entry["trust"] is None:
                iam.create_role(RoleName=entry["name"], AssumeRolePolicyDocument=json.dumps(entry["existing_trust"]))
        env = bench.module_env(cp, tmp)
        for mode, tasks in (("rds_iam_grants", grants_tasks(entries)), ("amazon.aws loops", loop_tasks(entries))):
            run_playbook(tmp, grants_tasks(entries, "absent"), env, cp.endpoint_url)  # start from nothing, unmeasured
            for scenario in ("first run", "no-op"):
                log.start()
                elapsed, changed = run_playbook(tmp, tasks, env, cp.endpoint_url)
                calls = log.stop()
                rows.append((mode, scenario, changed, len(calls), elapsed, calls))
    finally:
        cp.stop()
        shutil.rmtree(tmp, ignore_errors=True)

    print()
    print("iam_access grants: %d principals x %d managed policies (2 EC2 with instance profile, 1 without trust), lab control plane"
          % (options.principals, options.policies))
    print("%-17s %-9s %7s %6s %9s  %s" % ("mode", "scenario", "changed", "calls", "wall [s]", "API calls (server side)"))
    print("-" * 110)
    for mode, scenario, changed, count, wall, calls in rows:
        summary = ", ".join("%s x%d" % (k.split(":")[1], v) for k, v in sorted(collections.Counter(calls).items()))
        print("%-17s %-9s %7d %6d %9.2f  %s" % (mode, scenario, changed, count, wall, summary))


if __name__ == "__main__":
    main()
