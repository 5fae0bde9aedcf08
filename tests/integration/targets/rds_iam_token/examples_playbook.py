#!/usr/bin/env python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, dbauth.rds_iam developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Write a playbook that runs the EXAMPLES of the rds_iam_token lookup (read with ansible-doc)."""

import json
import subprocess
import sys

import yaml

doc = json.loads(subprocess.run(
    ["ansible-doc", "-t", "lookup", "--json", "dbauth.rds_iam.rds_iam_token"],
    check=True, stdout=subprocess.PIPE, universal_newlines=True).stdout)
tasks = yaml.safe_load(doc["dbauth.rds_iam.rds_iam_token"]["examples"])
play = [{
    "name": "EXAMPLES of the rds_iam_token lookup",
    "hosts": "localhost",
    "connection": "local",
    "gather_facts": False,
    "vars": {"ansible_python_interpreter": "{{ ansible_playbook_python }}"},
    "tasks": tasks + [{
        "name": "The examples produced tokens",
        "ansible.builtin.assert": {"that": [
            "app_db_password is match('mydb.abcdefghijkl.eu-west-1.rds.amazonaws.com:5432/[?]Action=connect&DBUser=app_user&')",
            "db_tokens.alice is search('&X-Amz-Security-Token=')",
            "db_tokens.bob is search('DBUser=bob&')",
        ], "quiet": True},
        "no_log": True,
    }],
}]
with open(sys.argv[1], "w") as f:
    yaml.safe_dump(play, f, sort_keys=False)
print("%d example tasks" % len(tasks))
