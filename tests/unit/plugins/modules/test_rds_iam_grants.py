# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The rds_iam_grants module end to end against botocore's Stubber: its argument spec, its retry decorator,
the failure that names every failed principal while still returning all of them, and option checks."""

from __future__ import annotations

import pytest

from ansible_collections.dbauth.rds_iam.plugins.modules import rds_iam_grants
from ansible_collections.dbauth.rds_iam.tests.unit.plugins.modules.aws_stubs import ACCOUNT
from ansible_collections.dbauth.rds_iam.tests.unit.plugins.modules.aws_stubs import run_module

pytestmark = pytest.mark.usefixtures("clean_env")

DOC = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "rds-db:connect",
                                               "Resource": "arn:aws:rds-db:us-west-2:%s:dbuser:db-X/app" % ACCOUNT}]}


def principal(name):
    return {"name": name, "trust": None,
            "policies": [{"name": "rds-iam-connect-" + name, "document": DOC,
                          "arn": "arn:aws:iam::%s:policy/dbauth-rds-iam/rds-iam-connect-%s" % (ACCOUNT, name)}]}


def test_the_module_fails_naming_each_failed_principal_and_returns_all(aws, capsys):
    iam = aws.stubber("iam")
    iam.add_response("list_policies", {"Policies": [], "IsTruncated": False}, {"Scope": "Local", "PathPrefix": "/dbauth-rds-iam/"})
    for name in ("a-role", "b-role"):
        iam.add_client_error("get_role", service_error_code="AccessDenied", service_message="not allowed",
                             http_status_code=403, expected_params={"RoleName": name})
    result = run_module(rds_iam_grants.main, {"principals": [principal("a-role"), principal("b-role")], "concurrency": 1},
                        capsys, check_mode=True)
    assert result["failed"] is True
    assert result["msg"].startswith("2 of 2 principals failed: a-role: ")
    assert "b-role: Failed to read the IAM role and policies of b-role: AccessDenied: not allowed" in result["msg"]
    assert [p["name"] for p in result["principals"]] == ["a-role", "b-role"]


def test_empty_tags_are_refused_before_any_call(aws, capsys):
    result = run_module(rds_iam_grants.main, {"principals": [principal("a-role")], "tags": {}}, capsys)
    assert result["failed"] and "tags must hold at least one tag" in result["msg"]
    assert aws.requests == []
