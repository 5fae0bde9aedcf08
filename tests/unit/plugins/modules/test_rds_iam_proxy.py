# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests of the rds_iam_proxy module against botocore's Stubber: create, no-op, the migration from
secrets to end-to-end IAM, check mode, and options refused before any AWS call."""

from __future__ import annotations

import copy

import pytest

from ansible_collections.dbauth.rds_iam.plugins.modules import rds_iam_proxy
from ansible_collections.dbauth.rds_iam.tests.unit.plugins.modules.aws_stubs import ACCOUNT
from ansible_collections.dbauth.rds_iam.tests.unit.plugins.modules.aws_stubs import REGION
from ansible_collections.dbauth.rds_iam.tests.unit.plugins.modules.aws_stubs import run_module

pytestmark = pytest.mark.usefixtures("clean_env")

ROLE = "arn:aws:iam::%s:role/orders-proxy-role" % ACCOUNT
SECRET_ARN = "arn:aws:secretsmanager:%s:%s:secret:orders/app-AbCdEf" % (REGION, ACCOUNT)
PROXY = {
    "DBProxyName": "orders-proxy",
    "DBProxyArn": "arn:aws:rds:%s:%s:db-proxy:prx-0123456789abcdef0" % (REGION, ACCOUNT),
    "Status": "available",
    "EngineFamily": "POSTGRESQL",
    "DefaultAuthScheme": "IAM_AUTH",
    "Auth": [],
    "RoleArn": ROLE,
    "Endpoint": "orders-proxy.proxy-abcdefghijkl.%s.rds.amazonaws.com" % REGION,
    "RequireTLS": True,
}
TARGETS = {"Targets": [{"RdsResourceId": "orders-db", "Type": "RDS_INSTANCE", "Port": 5432}]}
SECRET_AUTH = {"AuthScheme": "SECRETS", "SecretArn": SECRET_ARN, "IAMAuth": "REQUIRED",
               "ClientPasswordAuthType": "POSTGRES_SCRAM_SHA_256"}


def proxy(**over):
    record = copy.deepcopy(PROXY)
    record.update(over)
    return record


def run(args, capsys, check_mode=False):
    args = dict({"name": "orders-proxy"}, **args)
    return run_module(rds_iam_proxy.main, args, capsys, check_mode)


def describe(aws, record, targets=None):
    stub = aws.stubber("rds")
    stub.add_response("describe_db_proxies", {"DBProxies": [record]}, {"DBProxyName": "orders-proxy"})
    stub.add_response("describe_db_proxy_targets", targets or TARGETS, {"DBProxyName": "orders-proxy"})


def test_noop_is_two_reads_and_returns_the_prx_id(aws, capsys):
    describe(aws, proxy())
    result = run({"default_auth_scheme": "IAM_AUTH", "db_instance_identifier": "orders-db", "require_tls": True}, capsys)
    assert aws.requests == ["DescribeDBProxies", "DescribeDBProxyTargets"]
    assert result["changed"] is False
    assert result["resource_id"] == "prx-0123456789abcdef0"
    assert result["resource_arn_prefix"] == "arn:aws:rds-db:%s:%s:dbuser:prx-0123456789abcdef0" % (REGION, ACCOUNT)
    assert result["endpoint"] == PROXY["Endpoint"] and result["targets"] == ["orders-db"]


def test_migration_to_end_to_end_iam_modifies_the_scheme_only(aws, capsys):
    before = proxy(DefaultAuthScheme="NONE", Auth=[SECRET_AUTH])
    describe(aws, before)
    stub = aws.stubber("rds")
    stub.add_response("modify_db_proxy", {"DBProxy": proxy(Auth=[SECRET_AUTH])},
                      {"DBProxyName": "orders-proxy", "DefaultAuthScheme": "IAM_AUTH"})
    describe(aws, proxy(Auth=[SECRET_AUTH]))
    result = run({"default_auth_scheme": "IAM_AUTH", "auth": [{"secret_arn": SECRET_ARN}]}, capsys)
    assert result["changed"] is True
    assert result["default_auth_scheme"] == "IAM_AUTH"
    assert result["diff"]["before"]["default_auth_scheme"] == "NONE"
    assert result["diff"]["after"]["auth"] == [{"secret_arn": SECRET_ARN, "iam_auth": "REQUIRED",
                                                "client_password_auth_type": "POSTGRES_SCRAM_SHA_256"}]


def test_check_mode_reads_only_and_shows_the_change(aws, capsys):
    describe(aws, proxy(DefaultAuthScheme="NONE", Auth=[SECRET_AUTH]))
    result = run({"default_auth_scheme": "IAM_AUTH"}, capsys, check_mode=True)
    assert aws.requests == ["DescribeDBProxies", "DescribeDBProxyTargets"]
    assert result["changed"] is True and result["default_auth_scheme"] == "IAM_AUTH"


def test_create_with_a_target_then_waits(aws, capsys):
    stub = aws.stubber("rds")
    stub.add_client_error("describe_db_proxies", "DBProxyNotFoundFault", "not found", 404,
                          expected_params={"DBProxyName": "orders-proxy"})
    stub.add_response("create_db_proxy", {"DBProxy": proxy(Status="creating")}, {
        "DBProxyName": "orders-proxy", "EngineFamily": "POSTGRESQL", "DefaultAuthScheme": "IAM_AUTH",
        "RoleArn": ROLE, "VpcSubnetIds": ["subnet-1", "subnet-2"], "RequireTLS": True})
    stub.add_response("register_db_proxy_targets", {}, {"DBProxyName": "orders-proxy",
                                                        "DBInstanceIdentifiers": ["orders-db"]})
    stub.add_response("describe_db_proxies", {"DBProxies": [proxy(Status="creating")]}, {"DBProxyName": "orders-proxy"})
    stub.add_response("describe_db_proxies", {"DBProxies": [proxy()]}, {"DBProxyName": "orders-proxy"})
    stub.add_response("describe_db_proxy_targets", TARGETS, {"DBProxyName": "orders-proxy"})
    result = run({"engine_family": "POSTGRESQL", "role_arn": ROLE, "vpc_subnet_ids": ["subnet-1", "subnet-2"],
                  "db_instance_identifier": "orders-db"}, capsys)
    assert result["changed"] is True and result["status"] == "available"
    assert result["resource_id"].startswith("prx-")


def test_adding_a_target_keeps_the_registered_one(aws, capsys):
    describe(aws, proxy())
    stub = aws.stubber("rds")
    stub.add_response("register_db_proxy_targets", {}, {"DBProxyName": "orders-proxy",
                                                        "DBClusterIdentifiers": ["orders-aurora"]})
    describe(aws, proxy(), {"Targets": TARGETS["Targets"] + [{"RdsResourceId": "orders-aurora", "Type": "TRACKED_CLUSTER"}]})
    result = run({"db_cluster_identifier": "orders-aurora"}, capsys)
    assert result["changed"] is True and result["targets"] == ["orders-aurora", "orders-db"]


@pytest.mark.parametrize("args, message", [
    ({"default_auth_scheme": "NONE", "auth": []}, "auth: default_auth_scheme NONE needs at least one secret"),
    ({"auth": [{"secret_arn": "orders-secret"}]}, "auth[0].secret_arn 'orders-secret'"),
    ({"auth": [{"secret_arn": SECRET_ARN}, {"secret_arn": SECRET_ARN}]}, "listed twice"),
    ({"db_instance_identifier": "a", "db_cluster_identifier": "b"}, "not both"),
])
def test_bad_options_fail_before_any_call(aws, capsys, args, message):
    result = run(args, capsys)
    assert result["failed"] is True and message in result["msg"] and "nothing was changed" in result["msg"]
    assert aws.requests == []


def test_create_needs_the_creation_options(aws, capsys):
    aws.stubber("rds").add_client_error("describe_db_proxies", "DBProxyNotFoundFault", "not found", 404)
    result = run({"default_auth_scheme": "IAM_AUTH"}, capsys)
    assert result["failed"] is True
    assert "engine_family, role_arn, vpc_subnet_ids" in result["msg"]


def test_scheme_none_on_a_proxy_without_secrets_is_refused(aws, capsys):
    describe(aws, proxy())
    result = run({"default_auth_scheme": "NONE"}, capsys)
    assert result["failed"] is True and "needs at least one secret" in result["msg"]
    assert "ModifyDBProxy" not in aws.requests
