#!/usr/bin/env python
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""AWS API calls and wall time of enabling IAM database authentication on N databases:
rds_iam_enable's batch mode (O(databases), one task) against its single mode in a loop (one task,
N iterations), on the lab's control plane.

    .venv/bin/python bench/enable_batch.py [--sizes 3,30] [--concurrency 10]

Like bench/enable.py (whose call log and collection tree it reuses) it starts its own lab control
plane in this process (moto with the lab's RDS patches: an instance is `modifying` for a short
while after an immediate change), so the shared lab is not touched. Per size it creates N MySQL
instances with IAM auth off, then runs each scenario as one `ansible-playbook` process: enable
(off -> on, apply immediately, wait) and no-op (on -> on); the instances are turned off again,
unmeasured, before the next enable. Calls are counted server side (every request moto
dispatches while the scenario's process runs); wall time is that of the whole process.
"""

from __future__ import annotations

import os
import sys

# bench/ holds scripts whose names shadow the standard library (token.py): keep it off the path.
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != os.path.dirname(os.path.abspath(__file__))]

import argparse
import collections
import importlib.util
import json
import pathlib
import shutil
import subprocess
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rds_iam_lab.control_plane import start_control_plane  # noqa: E402  (needs ROOT on sys.path)


def _bench_enable():
    spec = importlib.util.spec_from_file_location("bench_enable", str(ROOT / "bench" / "enable.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_play(tmp, tasks, env, module_defaults=None):
    """One ansible-playbook process running the tasks on localhost; (seconds, its output). Fails on an error."""
    play = [{"hosts": "localhost", "gather_facts": False, "connection": "local",
             "vars": {"ansible_python_interpreter": sys.executable}, "tasks": tasks}]
    if module_defaults:
        play[0]["module_defaults"] = module_defaults
    path = tmp / "play.yml"
    path.write_text(json.dumps(play))
    argv = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", "localhost,", str(path)]
    started = time.monotonic()
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    elapsed = time.monotonic() - started
    if proc.returncode != 0:
        raise SystemExit("playbook failed (rc=%s):\n%s\n%s" % (proc.returncode, proc.stdout[-3000:], proc.stderr[-2000:]))
    return elapsed, proc.stdout


def run_playbook(tmp, task, env):
    """One ansible-playbook process running one task on localhost; its wall time in seconds."""
    return run_play(tmp, [task], env)[0]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("--sizes", default="3,30", help="numbers of databases, default 3,30")
    parser.add_argument("--concurrency", type=int, default=10, help="batch mode concurrency, default 10")
    options = parser.parse_args()
    sizes = [int(s) for s in options.sizes.split(",")]

    bench = _bench_enable()
    log = bench.ServerCallLog()
    log.install()
    cp = start_control_plane([])
    tmp = bench.collections_dir()
    rows = []
    try:
        rds = cp.client("rds")
        env = bench.module_env(cp, tmp)
        for size in sizes:
            names = ["bench-batch-%d-%02d" % (size, i) for i in range(size)]
            for name in names:
                rds.create_db_instance(
                    DBInstanceIdentifier=name, DBInstanceClass="db.t3.micro", Engine="mysql",
                    EngineVersion="8.0.40", MasterUsername="admin", MasterUserPassword="bench-not-a-secret-1",
                    AllocatedStorage=20,
                )
            common = {"endpoint_url": cp.endpoint_url}
            batch = {"dbauth.rds_iam.rds_iam_enable": dict(
                common, databases=[{"db_instance_identifier": n} for n in names], concurrency=options.concurrency)}
            loop = {"dbauth.rds_iam.rds_iam_enable": dict(common, db_instance_identifier="{{ item }}"), "loop": names}
            off = {"dbauth.rds_iam.rds_iam_enable": dict(batch["dbauth.rds_iam.rds_iam_enable"], state="disabled")}
            for mode, task in (("batch", batch), ("loop", loop)):
                for scenario in ("enable", "no-op"):
                    if scenario == "enable":
                        run_playbook(tmp, off, env)  # start from IAM auth off, unmeasured
                    log.start()
                    elapsed = run_playbook(tmp, task, env)
                    calls = log.stop()
                    rows.append((size, mode, scenario, len(calls), elapsed, calls))
    finally:
        cp.stop()
        shutil.rmtree(tmp, ignore_errors=True)

    print()
    print("rds_iam_enable on N MySQL instances, lab control plane, apply immediately + wait; batch concurrency %d"
          % options.concurrency)
    print("%4s %-6s %-8s %6s %10s  %s" % ("N", "mode", "scenario", "calls", "wall [s]", "API calls (server side)"))
    print("-" * 100)
    for size, mode, scenario, count, wall, calls in rows:
        summary = ", ".join("%s x%d" % (k.split(":")[1], v) for k, v in collections.Counter(calls).items())
        print("%4d %-6s %-8s %6d %10.2f  %s" % (size, mode, scenario, count, wall, summary))


if __name__ == "__main__":
    main()
