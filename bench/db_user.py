#!/usr/bin/env python
# -*- coding: utf-8 -*-

# Copyright: (c) 2026, dbauth.rds_iam developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Benchmark rds_iam_db_user against the lab: one batch call vs. a loop of community modules.

Usage (lab running, from the repository root):
    make lab-up && make view
    .venv/bin/python bench/db_user.py [--users 500] [--loop-users 50]

Each scenario is one ansible-playbook run; the time of an empty playbook (interpreter start,
inventory, fact-less play) is measured first and subtracted, so the numbers are what the task(s)
cost. The loop baseline runs on --loop-users users and is extrapolated linearly to --users
(marked "extrapolated" in the table).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VIEW = os.path.join(ROOT, ".build", "view")


def lab_status():
    out = subprocess.run([sys.executable, "-m", "rds_iam_lab", "status", "--json"], cwd=ROOT, check=True,
                         stdout=subprocess.PIPE).stdout
    return json.loads(out)


def run_playbook(tasks, extra_vars, workdir):
    play = [{"hosts": "localhost", "gather_facts": False, "connection": "local",
             "vars": {"ansible_python_interpreter": sys.executable}, "tasks": tasks}]
    path = os.path.join(workdir, "play.yml")
    with open(path, "w") as f:
        json.dump(play, f)
    vars_path = os.path.join(workdir, "vars.json")
    with open(vars_path, "w") as f:
        json.dump(extra_vars, f)
    os.chmod(vars_path, 0o600)
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=VIEW, ANSIBLE_LOCALHOST_WARNING="false",
               ANSIBLE_INVENTORY_UNPARSED_WARNING="false")
    start = time.monotonic()
    proc = subprocess.run([os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", "localhost,",
                           path, "-e", "@" + vars_path], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, check=False)
    elapsed = time.monotonic() - start
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-4000:])
        raise SystemExit("playbook failed")
    return elapsed, proc.stdout


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("--users", type=int, default=500)
    parser.add_argument("--loop-users", type=int, default=50)
    args = parser.parse_args()
    status = lab_status()
    dbs = dict((d["id"], d) for d in status["databases"])
    ca = status["ca_cert"]
    names = ["bench_u%03d" % i for i in range(args.users)]
    loop_names = ["bench_l%03d" % i for i in range(args.loop_users)]
    rows = []
    with tempfile.TemporaryDirectory() as workdir:
        baseline = run_playbook([{"ansible.builtin.debug": {"msg": "baseline"}}], {}, workdir)[0]

        def timed(tasks, extra):
            return run_playbook(tasks, extra, workdir)[0] - baseline

        for engine, db_id in (("mysql", "lab-mysql"), ("postgres", "lab-postgres")):
            db = dbs[db_id]
            login = {"engine": engine, "login_host": db["host"], "login_port": db["port"], "login_user": db["admin_user"],
                     "login_password": "{{ admin_password }}", "ca_cert": ca}
            extra = {"admin_password": db["admin_password"]}
            if engine == "mysql":
                users = [{"name": n, "privileges": {"labdb.*": "SELECT"}} for n in names]
            else:
                users = [{"name": n} for n in names]
            batch = dict(login, users=users)
            drop = dict(login, users=[{"name": n} for n in names + loop_names], state="absent")
            timed([{"dbauth.rds_iam.rds_iam_db_user": drop}], extra)  # clean start
            create = timed([{"dbauth.rds_iam.rds_iam_db_user": batch}], extra)
            noop = timed([{"dbauth.rds_iam.rds_iam_db_user": batch}], extra)
            if engine == "mysql":
                oob = {"login_host": db["host"], "login_port": db["port"], "login_user": db["admin_user"],
                       "login_password": "{{ admin_password }}", "ca_cert": ca, "check_hostname": True}
                loop_tasks = [{"community.mysql.mysql_user": dict(
                    oob, name="{{ item }}", host="%", plugin="AWSAuthenticationPlugin", plugin_hash_string="RDS",
                    priv="labdb.*:SELECT", tls_requires={"SSL": None}), "loop": loop_names}]
                loop_label = "community.mysql.mysql_user loop"
            else:
                oob = {"login_host": db["host"], "login_port": db["port"], "login_user": db["admin_user"],
                       "login_password": "{{ admin_password }}", "ca_cert": ca, "ssl_mode": "verify-full",
                       "login_db": "postgres"}
                loop_tasks = [{"community.postgresql.postgresql_user": dict(oob, name="{{ item }}"), "loop": loop_names},
                              {"community.postgresql.postgresql_membership": dict(
                                  oob, groups=["rds_iam"], target_roles=["{{ item }}"]), "loop": loop_names}]
                loop_label = "postgresql_user + postgresql_membership loop"
            loop_create = timed(loop_tasks, extra)
            loop_noop = timed(loop_tasks, extra)
            timed([{"dbauth.rds_iam.rds_iam_db_user": drop}], extra)  # clean up
            factor = float(args.users) / args.loop_users
            rows.append((engine, db_id, create, noop, loop_create, loop_noop, loop_create * factor, loop_noop * factor,
                         loop_label))

    print("")
    print("rds_iam_db_user benchmark: %d users per engine; loop measured on %d users and extrapolated x%.0f"
          % (args.users, args.loop_users, float(args.users) / args.loop_users))
    print("(times are ansible-playbook wall time minus an empty playbook, %.2f s)" % baseline)
    print("")
    header = ("engine", "batch create", "batch no-op", "loop create (%d)" % args.loop_users,
              "loop no-op (%d)" % args.loop_users, "loop create (%d, extrap.)" % args.users,
              "loop no-op (%d, extrap.)" % args.users, "speed-up create", "speed-up no-op")
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---" for h in header) + "|")
    for engine, db_id, create, noop, lc, ln, lce, lne, label in rows:
        print("| %s (%s) | %.2f s | %.2f s | %.2f s | %.2f s | %.1f s | %.1f s | %.0fx | %.0fx |" % (
            engine, db_id, create, noop, lc, ln, lce, lne, lce / max(create, 0.001), lne / max(noop, 0.001)))
    print("")
    for row in rows:
        print("loop baseline for %s: %s" % (row[0], row[8]))
    ok = all(r[2] < 5 and r[3] < 1.5 and r[6] / max(r[2], 0.001) >= 50 for r in rows)
    print("goals (create < 5 s, no-op < 1.5 s, >= 50x faster than the loop): %s" % ("met" if ok else "NOT met"))


if __name__ == "__main__":
    main()
