#!/usr/bin/env python
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Compare the report's findings about what seed.py put in the lab (objects naming rpt_ users or dbauth-rpt- roles)
with the expected ones, exactly: each finding as CODE|DATABASE|DB_USER|PRINCIPAL (principal: the name of
principal_arn, or principal). Also the catalog columns: the password user and the admin login are seen as such.

Usage: check_findings.py --report report.json --expected expected_findings.txt
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

MARKS = ("rpt_", "dbauth-rpt-")


def key(finding):
    objects = finding["objects"]
    principal = (objects.get("principal_arn") or "").rsplit("/", 1)[-1] or objects.get("principal") or ""
    return "|".join([finding["code"], objects.get("database", ""), objects.get("db_user", ""), principal])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--report", required=True)
    parser.add_argument("--expected", required=True)
    args = parser.parse_args()
    report = json.loads(Path(args.report).read_text())
    expected = sorted(line.strip() for line in Path(args.expected).read_text().splitlines()
                      if line.strip() and not line.startswith("#"))
    seeded = [f for f in report["findings"] if any(m in json.dumps(f["objects"]) for m in MARKS)]
    got = sorted(key(f) for f in seeded)
    problems = []
    for line in sorted(set(expected) - set(got)):
        problems.append("missing finding: " + line)
    for line in sorted(set(got) - set(expected)):
        problems.append("unexpected finding: " + line)
    if len(got) != len(set(got)):
        problems.append("a finding is reported twice: %s" % sorted(k for k in got if got.count(k) > 1))
    for finding in seeded:
        if not finding["message"] or finding["severity"] not in ("high", "medium", "low", "info"):
            problems.append("finding without message or severity: %s" % finding)
    databases = dict((d["id"], d) for d in report["databases"])
    postgres = databases["lab-postgres"]
    if "rpt_pw" not in postgres["password_users"] or "rpt_pw" in postgres["iam_users"]:
        problems.append("lab-postgres: rpt_pw should be a password user: %s" % postgres)
    if "rpt_both" not in postgres["rds_ad_conflicts"]:
        problems.append("lab-postgres: rpt_both should be listed in rds_ad_conflicts")
    for ident, db in sorted(databases.items()):
        if not db["protected_users"]:
            problems.append("%s: the admin login should be among the protected users" % ident)
    print("%d findings about the seeded objects, %d expected" % (len(got), len(expected)))
    for line in problems:
        print(line)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
