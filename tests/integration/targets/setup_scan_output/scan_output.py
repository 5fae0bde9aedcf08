#!/usr/bin/env python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, dbauth.rds_iam developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fail when an ansible-playbook log holds an RDS IAM token or a lab secret; print counts, never matches.

Shared by the runme.sh of the integration targets that handle tokens (needs/target/setup_scan_output).
``--expect token`` is the positive control: the log must show a token (and still no secret).
"""

import argparse
import re
import sys

import yaml

PATTERNS = {
    "token signature": re.compile(r"X-Amz-Signature=[0-9a-f]{64}"),
    "token security token": re.compile(r"X-Amz-Security-Token="),
    "token query": re.compile(r"Action=connect(&|\\u0026)DBUser="),
    "token credential": re.compile(r"X-Amz-Credential=[A-Z0-9]{16,}"),
}
CENSORED = "the output has been hidden due to the fact that 'no_log: true' was specified"


def scan(text, secrets):
    counts = dict((name, len(p.findall(text))) for name, p in PATTERNS.items())
    for label, secret in secrets.items():
        counts[label] = text.count(secret) if secret else 0
    return counts


def self_test():
    fake = ("db.example:5432/?Action=connect&DBUser=u&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential="
            "ASIAEXAMPLEEXAMPLE12%2F20260101%2Fus-east-1%2Frds-db%2Faws4_request&X-Amz-Security-Token=abc"
            "&X-Amz-Signature=" + "a" * 64)
    counts = scan("ok\n" + fake + "\n", {"secret": "s3cr3t-value"})
    assert all(counts[name] == 1 for name in PATTERNS), counts
    assert scan("nothing here s3cr3t", {"secret": "s3cr3t-value"})["secret"] == 0
    print("scanner self-test: each pattern found once in a fake token")


def secrets_of(config, markers):
    secrets = {"aws secret key": config.get("aws_secret_key")}
    for db in config.get("lab_databases") or []:
        secrets["admin password of %s" % db["id"]] = db.get("admin_password")
    for index, marker in enumerate(markers):
        secrets["secret marker %d" % index] = marker
    return secrets


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--self-test", action="store_true")
    parser.add_argument("--config")
    parser.add_argument("--log")
    parser.add_argument("--expect", choices=["clean", "token"], default="clean",
                        help="clean: no token and no secret; token: a token (the positive control), no secret")
    parser.add_argument("--secret", action="append", default=[], help="another secret the log must not hold")
    parser.add_argument("--require", action="append", default=[], help="text the log must hold (the tasks ran)")
    parser.add_argument("--min-censored", type=int, default=0, help="no_log-censored results the log must hold")
    args = parser.parse_args()
    if args.self_test:
        self_test()
        return 0
    with open(args.config) as f:
        config = yaml.safe_load(f)
    with open(args.log) as f:
        log = f.read()
    secrets = secrets_of(config, args.secret)
    counts = scan(log, secrets)
    censored = log.count(CENSORED)
    print("scan of %s (%d bytes): %s; no_log-censored results: %d" % (
        args.log, len(log), ", ".join("%s: %d" % kv for kv in sorted(counts.items())), censored))
    failures = []
    if any(counts[label] for label in secrets):
        failures.append("a secret is in the output")
    tokens = sum(counts[name] for name in PATTERNS)
    if args.expect == "clean" and tokens:
        failures.append("a token is in the output although every task that handles one has no_log")
    if args.expect == "token" and not counts["token signature"]:
        failures.append("the positive control did not show the token; the scanner would miss leaks")
    if censored < args.min_censored:
        failures.append("expected at least %d no_log-censored results, got %d" % (args.min_censored, censored))
    failures.extend("the log does not hold %r: the tasks did not run" % text for text in args.require if text not in log)
    for failure in failures:
        print("FAIL: %s" % failure)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
