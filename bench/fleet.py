#!/usr/bin/env python
# -*- coding: utf-8 -*-

# Copyright: (c) 2026, dbauth.rds_iam developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Benchmark the fleet modes against the lab: one call for N databases / N logins vs. a loop of single calls.

Usage (lab running, from the repository root):
    make lab-up && make view
    .venv/bin/python bench/fleet.py [--sizes 3,30] [--users-per-db 5] [--concurrency 8]

rds_iam_db_user: N ``databases`` entries (the lab's three servers reused in turn, each entry with its
own user names) in one task, against a loop of N single-mode tasks with the same users; create, then
no-op. rds_iam_verify: N ``logins`` (IAM users on the lab's MariaDB and PostgreSQL, signed as the
lab's app role) in one task, against a loop of N single-mode tasks. Times are ansible-playbook wall
time minus an empty playbook (bench/db_user.py's method); no-op runs and the baseline take the
fastest of a few runs, since the machine may be busy with other work.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import argparse
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from db_user import lab_status  # noqa: E402 pylint: disable=wrong-import-position
from db_user import run_playbook  # noqa: E402 pylint: disable=wrong-import-position

SERVERS = ("lab-mysql", "lab-postgres", "lab-aurora")
VERIFY_SERVERS = ("lab-mysql", "lab-postgres")  # IAM authentication on (the lab's cluster flag stays off)


def admin_login(db, ca):
    engine = "postgres" if db["engine"] in ("postgres", "aurora-postgresql") else "mysql"
    var = "pw_" + db["id"].replace("-", "_")
    return {"engine": engine, "login_host": db["host"], "login_port": db["port"], "login_user": db["admin_user"],
            "login_password": "{{ %s }}" % var, "ca_cert": ca}


def fleet_entries(dbs, ca, size, users_per_db, prefix, state=None):
    entries = []
    for i in range(size):
        db = dbs[SERVERS[i % len(SERVERS)]]
        users = [{"name": "%s%02d_%d" % (prefix, i, j)} for j in range(users_per_db)]
        if state:
            for user in users:
                user["state"] = state
        entries.append(dict(admin_login(db, ca), name="%s-%02d" % (db["id"], i), users=users))
    return entries


def bench_db_user(dbs, ca, size, users_per_db, concurrency, timed):
    multi = fleet_entries(dbs, ca, size, users_per_db, "fm")
    looped = fleet_entries(dbs, ca, size, users_per_db, "fl")
    drop = {"databases": fleet_entries(dbs, ca, size, users_per_db, "fm", "absent")
            + fleet_entries(dbs, ca, size, users_per_db, "fl", "absent")}
    for entry in drop["databases"][size:]:
        entry["name"] += "-loop"
    drop_task = [{"dbauth.rds_iam.rds_iam_db_user": drop}]
    multi_task = [{"dbauth.rds_iam.rds_iam_db_user": {"databases": multi, "concurrency": concurrency}}]
    loop_task = [{"dbauth.rds_iam.rds_iam_db_user": {
        "engine": "{{ item.engine }}", "login_host": "{{ item.login_host }}", "login_port": "{{ item.login_port }}",
        "login_user": "{{ item.login_user }}", "login_password": "{{ item.login_password }}",
        "ca_cert": "{{ item.ca_cert }}", "users": "{{ item.users }}"}, "loop": looped, "no_log": True}]
    timed(drop_task)  # clean start
    multi_create = timed(multi_task)
    multi_noop = timed(multi_task, repeat=2)
    row = (multi_create, multi_noop, timed(loop_task), timed(loop_task, repeat=2))
    timed(drop_task)
    return row


def bench_verify(dbs, ca, size, concurrency, timed, setup):
    logins = []
    for i in range(size):
        db = dbs[VERIFY_SERVERS[i % len(VERIFY_SERVERS)]]
        login = {"engine": "mysql" if db["engine"] == "mysql" else "postgres", "db_host": db["host"],
                 "db_port": db["port"], "db_user": "fv%02d" % i, "label": "%s-%02d" % (db["id"], i)}
        if login["engine"] == "postgres":
            login["db_name"] = "postgres"
        logins.append(login)
    setup(logins)
    multi_task = [{"dbauth.rds_iam.rds_iam_verify": {"logins": logins, "ca_cert": ca, "concurrency": concurrency},
                   "environment": "{{ app_env }}", "register": "out"},
                  {"ansible.builtin.assert": {"that": "out.logins | rejectattr('connected') | list == []"}}]
    loop_task = [{"dbauth.rds_iam.rds_iam_verify": {
        "engine": "{{ item.engine }}", "db_host": "{{ item.db_host }}", "db_port": "{{ item.db_port }}",
        "db_user": "{{ item.db_user }}", "db_name": "{{ item.db_name | default(omit) }}", "ca_cert": ca},
        "loop": logins, "environment": "{{ app_env }}"}]
    return timed(multi_task, repeat=2), timed(loop_task, repeat=2)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("--sizes", default="3,30")
    parser.add_argument("--users-per-db", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    status = lab_status()
    dbs = dict((d["id"], d) for d in status["databases"])
    ca = status["ca_cert"]
    app = [p for p in status["principals"] if p["name"] == "lab-app-role"][0]
    extra = dict(("pw_" + d["id"].replace("-", "_"), d["admin_password"]) for d in status["databases"])
    extra["app_env"] = dict(app["env"], AWS_EC2_METADATA_DISABLED="true")
    aws = {"endpoint_url": status["endpoint_url"], "region": status["region"], "access_key": status["access_key"],
           "secret_key": "{{ admin_secret_key }}"}
    extra["admin_secret_key"] = status["secret_key"]
    db_rows = []
    verify_rows = []
    with tempfile.TemporaryDirectory() as workdir:
        # The machine is shared: the fastest of a few runs is the cost, the rest is other work.
        baseline = min(run_playbook([{"ansible.builtin.debug": {"msg": "baseline"}}], {}, workdir)[0]
                       for dummy in range(3))

        def timed(tasks, repeat=1):
            return min(run_playbook(tasks, extra, workdir)[0] for dummy in range(repeat)) - baseline

        def verify_setup(logins):
            tasks = [{"dbauth.rds_iam.rds_iam_enable": dict(aws, db_instance_identifier=db_id)}
                     for db_id in VERIFY_SERVERS]
            resources = ["%s/fv*" % dbs[db_id]["resource_arn_prefix"] for db_id in VERIFY_SERVERS]
            policy = {"Version": "2012-10-17",
                      "Statement": [{"Effect": "Allow", "Action": "rds-db:connect", "Resource": resources}]}
            tasks.append({"amazon.aws.iam_policy": dict(aws, iam_type="role", iam_name="lab-app-role",
                                                        policy_name="bench-fleet-connect", policy_json=policy)})
            entries = []
            for db_id in VERIFY_SERVERS:
                users = [{"name": entry["db_user"]} for entry in logins if entry["label"].startswith(db_id)]
                entries.append(dict(admin_login(dbs[db_id], ca), name=db_id, users=users))
            tasks.append({"dbauth.rds_iam.rds_iam_db_user": {"databases": entries}})
            run_playbook(tasks, extra, workdir)

        for size in sizes:
            db_rows.append((size,) + bench_db_user(dbs, ca, size, args.users_per_db, args.concurrency, timed))
        for size in sizes:
            verify_rows.append((size,) + bench_verify(dbs, ca, size, args.concurrency, timed, verify_setup))
        run_playbook([  # clean up: the fv users and the policy
            {"dbauth.rds_iam.rds_iam_db_user": {"state": "absent", "databases": [
                dict(admin_login(dbs[db_id], ca), name=db_id, users=[{"name": "fv%02d" % i} for i in range(max(sizes))])
                for db_id in VERIFY_SERVERS]}},
            {"amazon.aws.iam_policy": dict(aws, iam_type="role", iam_name="lab-app-role",
                                           policy_name="bench-fleet-connect", state="absent")}], extra, workdir)

    print("")
    print("Fleet benchmark (times are ansible-playbook wall time minus an empty playbook, %.2f s; concurrency %d)"
          % (baseline, args.concurrency))
    print("")
    print("rds_iam_db_user, %d users per database, the lab's 3 servers reused in turn:" % args.users_per_db)
    header = ("databases", "one call create", "one call no-op", "loop create", "loop no-op", "speed-up create",
              "speed-up no-op")
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---" for h in header) + "|")
    for size, create, noop, loop_create, loop_noop in db_rows:
        print("| %d | %.2f s | %.2f s | %.2f s | %.2f s | %.1fx | %.1fx |" % (
            size, create, noop, loop_create, loop_noop, loop_create / max(create, 0.001),
            loop_noop / max(noop, 0.001)))
    print("")
    print("rds_iam_verify, logins on the lab's MariaDB and PostgreSQL, signed as lab-app-role:")
    header = ("logins", "one call", "loop", "speed-up")
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---" for h in header) + "|")
    for size, multi, loop in verify_rows:
        print("| %d | %.2f s | %.2f s | %.1fx |" % (size, multi, loop, loop / max(multi, 0.001)))


if __name__ == "__main__":
    main()
