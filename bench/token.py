#!/usr/bin/env python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, dbauth.rds_iam developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark RDS IAM token generation: lookup vs module vs `aws rds generate-db-auth-token`.

Signing is local, so static fake keys are enough (no AWS endpoint is contacted).

    .venv/bin/python bench/token.py [--lookup-tokens 1000] [--module-runs 20] [--cli-runs 10] [--json]

Rows:
  lookup (1000 users, 1 task)   1000 lookups with distinct users in one template of one set_fact
                                task of one ansible-playbook run; every token is freshly signed,
                                credentials are resolved once. Timed inside the template, and as
                                the whole task.
  lookup (cache hits)           the same user 1000 times: the cached token is handed out.
  module (loop)                 a loop of N module runs in one task, per token.
  aws cli                       N runs of `aws rds generate-db-auth-token`, per token.
  in-process                    the collection's TokenSigner (one amazon.aws RDS client, botocore signing)
                                and a plain botocore client's generate_db_auth_token, for reference.
"""

import os
import sys

# This file is named token.py, like a standard library module that logging/tokenize import: take
# its own directory off the import path before anything else is imported.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE]

import argparse  # noqa: E402  pylint: disable=wrong-import-position
import json  # noqa: E402  pylint: disable=wrong-import-position
import shutil  # noqa: E402  pylint: disable=wrong-import-position
import subprocess  # noqa: E402  pylint: disable=wrong-import-position
import tempfile  # noqa: E402  pylint: disable=wrong-import-position
import time  # noqa: E402  pylint: disable=wrong-import-position

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.dirname(sys.executable)
ACCESS_KEY = "AKIAIOSFODNN7EXAMPLE"
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
HOST = "bench.abcdefghijkl.eu-west-1.rds.amazonaws.com"

LOOKUP = "lookup('dbauth.rds_iam.rds_iam_token', db_host='%s', db_port=5432, db_user=%s)"
FRESH_TEMPLATE = (
    "{%% set t0 = now(utc=true).timestamp() %%}{%% set ns = namespace(total=0) %%}"
    "{%% for i in range(n | int) %%}{%% set tok = " + LOOKUP % (HOST, "'user' ~ i") + " %%}"
    "{%% set ns.total = ns.total + (tok | length) %%}{%% endfor %%}"
    "{{ {'seconds': now(utc=true).timestamp() - t0, 'chars': ns.total} | to_json }}"
).replace("%%", "%")
CACHED_TEMPLATE = (
    "{%% set t0 = now(utc=true).timestamp() %%}{%% set ns = namespace(distinct={}) %%}"
    "{%% for i in range(n | int) %%}{%% set tok = " + LOOKUP % (HOST, "'same'") + " %%}"
    "{%% set dummy = ns.distinct.update({tok: 1}) %%}{%% endfor %%}"
    "{{ {'seconds': now(utc=true).timestamp() - t0, 'distinct': ns.distinct | length} | to_json }}"
).replace("%%", "%")
REPORT = ("BENCH {{ {'fresh': (fresh | from_json) if fresh is string else fresh,"
          " 'cached': (cached | from_json) if cached is string else cached,"
          " 'fresh_task_s': (t_after | float) - (t_before | float),"
          " 'module_task_s': (m_after | float) - (m_before | float)} | to_json }} BENCH")


def playbook(n, m):
    """The benchmark playbook as data (written out as JSON, which is YAML)."""
    now = "{{ now(utc=true).timestamp() }}"
    return [{
        "hosts": "localhost", "connection": "local", "gather_facts": False,
        "vars": {"ansible_python_interpreter": "{{ ansible_playbook_python }}", "n": n, "m": m},
        "tasks": [
            {"name": "warm up (plugin loading, credential resolution)",
             "ansible.builtin.set_fact": {"warm": "{{ %s | length }}" % (LOOKUP % (HOST, "'warm'"))}},
            {"ansible.builtin.set_fact": {"t_before": now}},
            {"name": "n lookups, distinct users, one task", "ansible.builtin.set_fact": {"fresh": FRESH_TEMPLATE}},
            {"ansible.builtin.set_fact": {"t_after": now}},
            {"name": "n lookups, same user, one task", "ansible.builtin.set_fact": {"cached": CACHED_TEMPLATE}},
            {"ansible.builtin.set_fact": {"m_before": now}},
            {"name": "m module runs in a loop", "no_log": True, "loop": "{{ range(m | int) | list }}",
             "dbauth.rds_iam.rds_iam_token": {"db_host": HOST, "db_port": 5432, "db_user": "user{{ item }}"}},
            {"ansible.builtin.set_fact": {"m_after": now}},
            {"ansible.builtin.debug": {"msg": REPORT}},
        ],
    }]


def env_with_keys(extra=None):
    env = dict(os.environ)
    for name in list(env):
        if name.startswith("AWS_") and name not in ("AWS_CA_BUNDLE",):
            del env[name]
    env.update(AWS_ACCESS_KEY_ID=ACCESS_KEY, AWS_SECRET_ACCESS_KEY=SECRET_KEY, AWS_EC2_METADATA_DISABLED="true",
               AWS_CONFIG_FILE=os.devnull, AWS_SHARED_CREDENTIALS_FILE=os.devnull,
               PATH=BIN + os.pathsep + env.get("PATH", ""))
    env.update(extra or {})
    return env


def run_playbook(n, m, workdir):
    coll = os.path.join(workdir, "collections", "ansible_collections", "dbauth")
    os.makedirs(coll)
    os.symlink(ROOT, os.path.join(coll, "rds_iam"))
    path = os.path.join(workdir, "bench.yml")
    with open(path, "w") as f:
        json.dump(playbook(n, m), f, indent=1)
    env = env_with_keys({"ANSIBLE_COLLECTIONS_PATH": os.path.join(workdir, "collections"),
                         "ANSIBLE_NOCOLOR": "1", "ANSIBLE_STDOUT_CALLBACK": "default"})
    start = time.perf_counter()
    proc = subprocess.run([os.path.join(BIN, "ansible-playbook"), "-i", "localhost,", path], env=env, check=False,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, cwd=workdir)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit("ansible-playbook failed:\n" + proc.stdout[-4000:])
    out = proc.stdout
    data = json.loads(out[out.index("BENCH ") + 6:out.rindex(" BENCH")].replace('\\"', '"'))
    for key in ("fresh", "cached"):
        if isinstance(data[key], str):
            data[key] = json.loads(data[key])
    data["playbook_s"] = wall
    return data


def run_cli(runs):
    aws = shutil.which("aws", path=BIN) or shutil.which("aws")
    if not aws:
        return None
    env = env_with_keys()
    cmd = [aws, "rds", "generate-db-auth-token", "--hostname", HOST, "--port", "5432", "--username", "u",
           "--region", "eu-west-1"]
    start = time.perf_counter()
    for dummy in range(runs):
        out = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, check=True, universal_newlines=True).stdout
        assert "X-Amz-Signature=" in out
    return time.perf_counter() - start


def in_process(n):
    tmp = tempfile.mkdtemp()
    coll = os.path.join(tmp, "ansible_collections", "dbauth")
    os.makedirs(coll)
    os.symlink(ROOT, os.path.join(coll, "rds_iam"))
    sys.path.insert(0, tmp)
    # pylint: disable=import-error
    from ansible_collections.dbauth.rds_iam.tests.unit.plugins.aws_doubles import signer_for
    import botocore.session

    signer = signer_for(access_key=ACCESS_KEY, secret_key=SECRET_KEY)
    start = time.perf_counter()
    for i in range(n):
        signer.generate({"db_host": HOST, "db_port": 5432, "db_user": "user%d" % i})
    ours = time.perf_counter() - start
    client = botocore.session.Session().create_client(
        "rds", region_name="eu-west-1", aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY)
    start = time.perf_counter()
    for i in range(n):
        client.generate_db_auth_token(HOST, 5432, "user%d" % i)
    boto = time.perf_counter() - start
    shutil.rmtree(tmp)
    return ours, boto


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("--lookup-tokens", type=int, default=1000)
    parser.add_argument("--module-runs", type=int, default=20)
    parser.add_argument("--cli-runs", type=int, default=10)
    parser.add_argument("--json", action="store_true", help="print the raw numbers as JSON too")
    args = parser.parse_args()

    workdir = tempfile.mkdtemp(prefix="rds-iam-bench-")
    try:
        pb = run_playbook(args.lookup_tokens, args.module_runs, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    cli = run_cli(args.cli_runs)
    ours, boto = in_process(args.lookup_tokens)

    n, m = args.lookup_tokens, args.module_runs
    rows = [
        ("lookup, %d distinct users, in-template" % n, n, pb["fresh"]["seconds"]),
        ("lookup, %d distinct users, whole task" % n, n, pb["fresh_task_s"]),
        ("lookup, same user %d x (cache hits)" % n, n, pb["cached"]["seconds"]),
        ("module, loop of %d in one task" % m, m, pb["module_task_s"]),
    ]
    if cli is not None:
        rows.append(("aws rds generate-db-auth-token x %d" % args.cli_runs, args.cli_runs, cli))
    rows += [
        ("in-process TokenSigner.generate() x %d" % n, n, ours),
        ("in-process botocore generate_db_auth_token x %d" % n, n, boto),
    ]
    cli_ms = (cli / args.cli_runs * 1000.0) if cli is not None else None
    print("%-50s %8s %10s %12s %12s %14s" % ("method", "tokens", "total s", "ms/token", "tokens/s", "x vs aws cli"))
    for name, count, seconds in rows:
        ms = seconds / count * 1000.0
        speedup = ("%.0f" % (cli_ms / ms)) if cli_ms else "-"
        print("%-50s %8d %10.3f %12.4f %12.0f %14s" % (name, count, seconds, ms, count / seconds, speedup))
    print("whole ansible-playbook run: %.2f s; distinct tokens among the %d cached lookups: %d"
          % (pb["playbook_s"], n, pb["cached"]["distinct"]))
    if args.json:
        print(json.dumps({"playbook": pb, "cli_s": cli, "in_process_s": ours, "botocore_s": boto}))


if __name__ == "__main__":
    main()
