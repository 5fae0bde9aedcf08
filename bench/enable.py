#!/usr/bin/env python
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""AWS API calls and wall time of flipping IAM database authentication:
dbauth.rds_iam.rds_iam_enable against amazon.aws.rds_instance, on the lab's control plane.

    .venv/bin/python bench/enable.py [--repeat N]

What it does
  * Starts its own lab control plane in this process (lab.control_plane: moto with the lab's
    RDS patches, including the short `modifying` status after an immediate change), so the
    shared lab (make lab-up) is not touched and nothing else talks to this server.
  * Creates a VPC, two subnets and a DB subnet group (amazon.aws.rds_instance reads the
    instance's DBSubnetGroup), and one MySQL instance per module, IAM auth off.
  * Runs each scenario as one real `ansible localhost -m MODULE` process: enable (off -> on),
    no-op (on -> on), disable (on -> off); both modules apply immediately and wait.

How calls are counted
  Server side: every request the moto server dispatches (BaseResponse.call_action) is
  recorded as service:Action while the scenario's process runs. Retries, STS calls and
  waiter polls all count; the bench's own setup calls are not in any window. Nothing else
  uses this server, so a window holds exactly the calls of that one module run.

Wall time is that of the whole `ansible` process (interpreter start, module transfer,
module run), the same overhead for both modules; the median of --repeat runs is shown.
amazon.aws.rds_instance waits with botocore waiters that sleep 60 s between polls: when its
first poll sees `modifying`, a minute is spent there; that is its real behaviour.
"""

from __future__ import annotations

import os
import sys

# bench/ holds other scripts whose names shadow the standard library (token.py): keep it off
# the import path before anything else is imported.
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != os.path.dirname(os.path.abspath(__file__))]

import argparse
import collections
import json
import pathlib
import shutil
import statistics
import subprocess
import tempfile
import threading
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rds_iam_lab.control_plane import start_control_plane  # noqa: E402  (needs ROOT on sys.path)


class ServerCallLog:
    """service:Action of every request the in-process moto server dispatches."""

    def __init__(self):
        self._lock = threading.Lock()
        self._calls = []
        self._recording = False

    def install(self):
        from moto.core.responses import BaseResponse

        original = BaseResponse.call_action
        log = self

        def call_action(response_self):
            with log._lock:
                if log._recording:
                    log._calls.append("%s:%s" % (response_self.service_name, response_self._get_action()))
            return original(response_self)

        BaseResponse.call_action = call_action

    def start(self):
        with self._lock:
            self._calls = []
            self._recording = True

    def stop(self):
        with self._lock:
            self._recording = False
            return list(self._calls)


def collections_dir():
    """A temporary ansible_collections tree holding this checkout as dbauth.rds_iam."""
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="bench-enable-"))
    (tmp / "ansible_collections" / "dbauth").mkdir(parents=True)
    (tmp / "ansible_collections" / "dbauth" / "rds_iam").symlink_to(ROOT)
    return tmp


def module_env(cp, tmp):
    """The environment of the ansible processes: the collection tree of collections_dir() and the
    control plane's admin keys, nothing from the machine's AWS configuration."""
    env = dict(os.environ)
    env.update(
        ANSIBLE_COLLECTIONS_PATH=str(tmp),
        ANSIBLE_LOCALHOST_WARNING="false",
        ANSIBLE_INVENTORY_UNPARSED_WARNING="false",
        AWS_ACCESS_KEY_ID=cp.admin_access_key,
        AWS_SECRET_ACCESS_KEY=cp.admin_secret_key,
        AWS_REGION=cp.region,
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
    )
    return env


def run_module(module, args, env):
    argv = [
        os.path.join(os.path.dirname(sys.executable), "ansible"),
        "localhost",
        "-c",
        "local",
        "-e",
        "ansible_python_interpreter=%s" % sys.executable,
        "-m",
        module,
        "-a",
        json.dumps(args),
        "-o",
    ]
    started = time.monotonic()
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    elapsed = time.monotonic() - started
    out = proc.stdout.strip()
    if proc.returncode != 0:
        raise SystemExit("%s failed (rc=%s):\n%s\n%s" % (module, proc.returncode, out[-2000:], proc.stderr[-2000:]))
    changed = '"changed": true' in out
    return elapsed, changed


def setup_aws(cp):
    ec2 = cp.client("ec2")
    rds = cp.client("rds")
    vpc = ec2.create_vpc(CidrBlock="10.77.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock="10.77.%d.0/24" % i, AvailabilityZone=cp.region + az)["Subnet"]["SubnetId"]
        for i, az in enumerate(("a", "b"))
    ]
    rds.create_db_subnet_group(
        DBSubnetGroupName="bench-enable", DBSubnetGroupDescription="bench", SubnetIds=subnets
    )
    for name in ("bench-rds-iam-enable", "bench-rds-instance"):
        rds.create_db_instance(
            DBInstanceIdentifier=name,
            DBInstanceClass="db.t3.micro",
            Engine="mysql",
            EngineVersion="8.0.40",
            MasterUsername="admin",
            MasterUserPassword="bench-not-a-secret-1",
            AllocatedStorage=20,
            DBSubnetGroupName="bench-enable",
        )


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("--repeat", type=int, default=1, help="runs per scenario (median wall time), default 1")
    options = parser.parse_args()

    log = ServerCallLog()
    log.install()
    cp = start_control_plane([])
    tmp = collections_dir()
    try:
        setup_aws(cp)
        env = module_env(cp, tmp)
        modules = {
            "dbauth.rds_iam.rds_iam_enable": lambda on: {
                "db_instance_identifier": "bench-rds-iam-enable",
                "state": "enabled" if on else "disabled",
                "endpoint_url": cp.endpoint_url,
            },
            "amazon.aws.rds_instance": lambda on: {
                "db_instance_identifier": "bench-rds-instance",
                "enable_iam_database_authentication": on,
                "apply_immediately": True,
                "endpoint_url": cp.endpoint_url,
            },
        }
        scenarios = (("enable", True, True), ("no-op", True, False), ("disable", False, True))
        rows = []
        for module, make_args in modules.items():
            for name, on, expect_change in scenarios:
                times, calls = [], None
                for dummy in range(options.repeat):
                    if name != "no-op":  # put the instance back in the starting state, unmeasured
                        run_module(module, make_args(not on), env)
                    log.start()
                    elapsed, changed = run_module(module, make_args(on), env)
                    made = log.stop()
                    if changed != expect_change:
                        raise SystemExit("%s %s: changed=%s, expected %s" % (module, name, changed, expect_change))
                    times.append(elapsed)
                    calls = made
                rows.append((module, name, len(calls), statistics.median(times), calls))
    finally:
        cp.stop()
        shutil.rmtree(tmp, ignore_errors=True)

    print()
    print("IAM DB auth flip on the lab control plane (moto + lab patches), apply immediately + wait")
    print("%-32s %-8s %6s %10s  %s" % ("module", "scenario", "calls", "wall [s]", "API calls (server side)"))
    print("-" * 110)
    for module, name, count, wall, calls in rows:
        summary = ", ".join("%s x%d" % (k.split(":")[1], v) for k, v in collections.Counter(calls).items())
        print("%-32s %-8s %6d %10.2f  %s" % (module, name, count, wall, summary))
    print()
    ours = {name: count for module, name, count, wall, calls in rows if module.startswith("dbauth")}
    theirs = {name: count for module, name, count, wall, calls in rows if module.startswith("amazon")}
    for name in ours:
        print("%-8s calls: rds_iam_enable %d vs rds_instance %d (%.0f%%)" % (
            name, ours[name], theirs[name], 100.0 * ours[name] / max(theirs[name], 1)))


if __name__ == "__main__":
    main()
