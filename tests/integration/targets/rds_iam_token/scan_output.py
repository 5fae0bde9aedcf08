#!/usr/bin/env python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, dbauth.rds_iam developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Scan ansible-playbook output for secrets and RDS IAM tokens; print only counts, never matches."""

import argparse
import re
import sys

import yaml

SESSION_TOKEN_MARKER = "IntegrationSessionToken0123456789/+="  # given to failing tasks in no_leak.yml

parser = argparse.ArgumentParser()
parser.add_argument("--config", required=True)
parser.add_argument("--log", required=True)
mode = parser.add_mutually_exclusive_group(required=True)
mode.add_argument("--expect-clean", action="store_true")
mode.add_argument("--expect-token-only", action="store_true")
args = parser.parse_args()

with open(args.config) as f:
    config = yaml.safe_load(f)
with open(args.log) as f:
    log = f.read()

checks = {
    "secret key": log.count(config["aws_secret_key"]),
    "session token": log.count(SESSION_TOKEN_MARKER),
    "token signature": len(re.findall(r"X-Amz-Signature=[0-9a-f]{64}", log)),
    "token security token": log.count("X-Amz-Security-Token="),
    "token query": log.count("Action=connect&DBUser="),
}
censored = log.count("the output has been hidden due to the fact that 'no_log: true' was specified")
print("scan of %s (%d bytes): %s; no_log-censored results: %d" % (
    args.log, len(log), ", ".join("%s: %d" % kv for kv in sorted(checks.items())), censored))

failed = False
if checks["secret key"] or checks["session token"]:
    print("FAIL: a secret key or session token is in the output")
    failed = True
if args.expect_clean:
    if checks["token signature"] or checks["token security token"] or checks["token query"]:
        print("FAIL: a token is in the output although every task that handles one has no_log")
        failed = True
    if censored < 4:
        print("FAIL: expected the no_log tasks to run (censored results: %d)" % censored)
        failed = True
    if "not a URL" not in log or "Could not assume role" not in log:
        print("FAIL: the failing tasks did not run")
        failed = True
if args.expect_token_only and not checks["token signature"]:
    print("FAIL: the positive control did not show the token; the scanner would miss leaks")
    failed = True
sys.exit(1 if failed else 0)
