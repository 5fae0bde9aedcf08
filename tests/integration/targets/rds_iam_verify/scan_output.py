#!/usr/bin/env python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, dbauth.rds_iam developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fail when an ansible-playbook log holds an RDS IAM token or a lab secret; print counts, never matches."""

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


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--config")
    parser.add_argument("--log")
    parser.add_argument("--self-test", action="store_true")
    args = parser.parse_args()
    if args.self_test:
        self_test()
        return 0
    with open(args.config) as f:
        config = yaml.safe_load(f)
    with open(args.log) as f:
        log = f.read()
    secrets = {"aws secret key": config.get("aws_secret_key")}
    for db in config.get("lab_databases") or []:
        secrets["admin password of %s" % db["id"]] = db.get("admin_password")
    counts = scan(log, secrets)
    print("scan of %s (%d bytes): %s" % (args.log, len(log), ", ".join("%s: %d" % kv for kv in sorted(counts.items()))))
    if any(counts.values()):
        print("FAIL: a token or a secret is in the output")
        return 1
    if "rds_iam_verify" not in log:
        print("FAIL: the log does not show rds_iam_verify runs")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
