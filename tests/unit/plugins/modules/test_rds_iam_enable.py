# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests of the rds_iam_enable module: the whole module (argument spec,
AnsibleAWSModule, its retry decorator, exit/fail JSON) against botocore's Stubber.

Only AnsibleAWSModule.client is replaced: it hands out stubbed clients wrapped
with the retry decorator the module asked for, so the module's own retry
configuration is what gets tested.
"""

from __future__ import annotations

import copy
import json

import boto3
import pytest
from botocore.stub import Stubber

from ansible.module_utils.testing import patch_module_args
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import RetryingBotoClientWrapper
from ansible_collections.dbauth.rds_iam.plugins.modules import rds_iam_enable

# The module must not pick up a region, keys or a role from the machine running the tests.
pytestmark = pytest.mark.usefixtures("clean_env")

REGION = "us-west-2"
ACCOUNT = "444455556666"
SECRET = "unit-test-secret-key-must-never-appear"

INSTANCE = {
    "DBInstanceIdentifier": "app-db",
    "DBInstanceClass": "db.t3.micro",
    "Engine": "mysql",
    "EngineVersion": "8.0.39",
    "DBInstanceStatus": "available",
    "DbiResourceId": "db-ZYXWVUTSRQPONMLKJIHGFEDCB1",
    "DBInstanceArn": "arn:aws:rds:%s:%s:db:app-db" % (REGION, ACCOUNT),
    "Endpoint": {"Address": "app-db.abcdefghijkl.%s.rds.amazonaws.com" % REGION, "Port": 3306},
    "IAMDatabaseAuthenticationEnabled": False,
}


def instance(**over):
    record = copy.deepcopy(INSTANCE)
    record.update(over)
    return record


class Aws:
    """Stubbed boto3 clients by service, with a log of every request made."""

    def __init__(self):
        self.clients = {}
        self.stubbers = {}
        self.requests = []
        self.retry_decorators = []

    def stubber(self, service):
        if service not in self.stubbers:
            client = boto3.client(
                service, region_name=REGION, aws_access_key_id="AKIDUNITTEST", aws_secret_access_key="not-used"
            )
            client.meta.events.register("after-call", self._after)
            self.clients[service] = client
            self.stubbers[service] = Stubber(client)
            self.stubbers[service].activate()
        return self.stubbers[service]

    def _after(self, model, **kwargs):
        self.requests.append(model.name)

    def client(self, module, service, retry_decorator=None, **kwargs):
        self.stubber(service)
        self.retry_decorators.append(retry_decorator)
        client = self.clients[service]
        return client if retry_decorator is None else RetryingBotoClientWrapper(client, retry_decorator)


@pytest.fixture(name="aws")
def aws_fixture(monkeypatch):
    aws = Aws()

    def client(module, service, retry_decorator=None, **kwargs):
        return aws.client(module, service, retry_decorator, **kwargs)

    monkeypatch.setattr(AnsibleAWSModule, "client", client)
    aws.slept = []
    monkeypatch.setattr(
        "ansible_collections.amazon.aws.plugins.module_utils.cloud.time.sleep", aws.slept.append
    )
    monkeypatch.setattr(
        "ansible_collections.dbauth.rds_iam.plugins.module_utils.iam_auth_setting.time.sleep", aws.slept.append
    )
    yield aws
    for stubber in aws.stubbers.values():
        stubber.assert_no_pending_responses()


def run(args, capsys, check_mode=False):
    args = dict(args)
    args.setdefault("region", REGION)
    args.setdefault("access_key", "AKIDUNITTEST")
    args.setdefault("secret_key", SECRET)
    if check_mode:
        args["_ansible_check_mode"] = True
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            rds_iam_enable.main()
    out = capsys.readouterr().out
    assert SECRET not in out
    return json.loads(out)


def test_noop_makes_exactly_one_describe_call(aws, capsys):
    aws.stubber("rds").add_response(
        "describe_db_instances",
        {"DBInstances": [instance(IAMDatabaseAuthenticationEnabled=True)]},
        {"DBInstanceIdentifier": "app-db"},
    )
    result = run({"db_instance_identifier": "app-db"}, capsys)
    assert aws.requests == ["DescribeDBInstances"]
    assert result["changed"] is False
    assert result["resource_id"] == "db-ZYXWVUTSRQPONMLKJIHGFEDCB1"
    assert result["resource_arn_prefix"] == "arn:aws:rds-db:us-west-2:444455556666:dbuser:db-ZYXWVUTSRQPONMLKJIHGFEDCB1"
    assert result["endpoint"] == {"address": INSTANCE["Endpoint"]["Address"], "port": 3306}
    assert result["iam_database_authentication_enabled"] is True
    assert result["pending"] is False
    assert result["engine"] == "mysql"
    assert result["engine_version"] == "8.0.39"


def test_change_then_idempotent(aws, capsys):
    rds = aws.stubber("rds")
    rds.add_response("describe_db_instances", {"DBInstances": [instance()]}, {"DBInstanceIdentifier": "app-db"})
    rds.add_response(
        "modify_db_instance",
        {"DBInstance": instance(DBInstanceStatus="modifying")},
        {"DBInstanceIdentifier": "app-db", "EnableIAMDatabaseAuthentication": True, "ApplyImmediately": True},
    )
    rds.add_response(
        "describe_db_instances",
        {"DBInstances": [instance(IAMDatabaseAuthenticationEnabled=True)]},
        {"DBInstanceIdentifier": "app-db"},
    )
    result = run({"db_instance_identifier": "app-db", "_ansible_diff": True}, capsys)
    assert result["changed"] is True
    assert result["diff"] == {
        "before": {"iam_database_authentication_enabled": False},
        "after": {"iam_database_authentication_enabled": True},
    }
    assert aws.requests == ["DescribeDBInstances", "ModifyDBInstance", "DescribeDBInstances"]


def test_check_mode_makes_no_modify_call(aws, capsys):
    aws.stubber("rds").add_response("describe_db_instances", {"DBInstances": [instance()]}, None)
    result = run({"db_instance_identifier": "app-db"}, capsys, check_mode=True)
    assert result["changed"] is True
    assert result["iam_database_authentication_enabled"] is True
    assert aws.requests == ["DescribeDBInstances"]


def test_throttling_is_retried_by_the_module_retry_decorator(aws, capsys):
    rds = aws.stubber("rds")
    for dummy in range(3):
        rds.add_client_error("describe_db_instances", "Throttling", "Rate exceeded", 400)
    rds.add_response(
        "describe_db_instances", {"DBInstances": [instance(IAMDatabaseAuthenticationEnabled=True)]}, None
    )
    result = run({"db_instance_identifier": "app-db"}, capsys)
    assert result["changed"] is False
    assert aws.requests == ["DescribeDBInstances"] * 4
    assert len(aws.slept) == 3
    assert all(s >= 0 for s in aws.slept)


def test_api_error_is_surfaced_with_the_aws_message(aws, capsys):
    rds = aws.stubber("rds")
    rds.add_response("describe_db_instances", {"DBInstances": [instance()]}, None)
    rds.add_client_error(
        "modify_db_instance",
        "InvalidParameterCombination",
        "IAM database authentication is not supported for this engine version.",
        400,
    )
    result = run({"db_instance_identifier": "app-db"}, capsys)
    assert result["failed"] is True
    assert result["msg"] == (
        "Failed to enable IAM database authentication on DB instance 'app-db': An error occurred "
        "(InvalidParameterCombination) when calling the ModifyDBInstance operation: "
        "IAM database authentication is not supported for this engine version."
    )
    assert result["error"]["code"] == "InvalidParameterCombination"
    assert result["changed"] is False


def test_not_found_asks_sts_for_the_account_only_then(aws, capsys):
    aws.stubber("rds").add_client_error(
        "describe_db_instances", "DBInstanceNotFound", "DBInstance app-db not found.", 404
    )
    aws.stubber("sts").add_response(
        "get_caller_identity",
        {"Account": ACCOUNT, "Arn": "arn:aws:iam::%s:user/ops" % ACCOUNT, "UserId": "AIDAEXAMPLE"},
        {},
    )
    result = run({"db_instance_identifier": "app-db"}, capsys)
    assert result["failed"] is True
    assert result["msg"] == "DB instance 'app-db' not found in region us-west-2 of account 444455556666"
    assert aws.requests == ["DescribeDBInstances", "GetCallerIdentity"]


def test_wait_timeout_failure_reports_changed_and_last_status(aws, capsys):
    rds = aws.stubber("rds")
    rds.add_response("describe_db_instances", {"DBInstances": [instance()]}, None)
    rds.add_response("modify_db_instance", {"DBInstance": instance(DBInstanceStatus="modifying")}, None)
    rds.add_response("describe_db_instances", {"DBInstances": [instance(DBInstanceStatus="modifying")]}, None)
    result = run({"db_instance_identifier": "app-db", "wait_timeout": 0}, capsys)
    assert result["failed"] is True
    assert result["changed"] is True
    assert "last status: modifying" in result["msg"]
    assert result["status"] == "modifying"
    assert result["resource_id"] == INSTANCE["DbiResourceId"]


@pytest.mark.parametrize(
    "args, text",
    [
        ({}, "one of the following is required: db_instance_identifier, db_cluster_identifier"),
        (
            {"db_instance_identifier": "a", "db_cluster_identifier": "b"},
            "parameters are mutually exclusive: db_instance_identifier|db_cluster_identifier",
        ),
        ({"db_instance_identifier": "a", "wait_timeout": -1}, "wait_timeout must not be negative"),
    ],
)
def test_argument_errors_make_no_call(aws, capsys, args, text):
    result = run(args, capsys)
    assert result["failed"] is True
    assert text in result["msg"]
    assert aws.requests == []


def test_module_uses_a_retrying_client(aws, capsys):
    aws.stubber("rds").add_response(
        "describe_db_instances", {"DBInstances": [instance(IAMDatabaseAuthenticationEnabled=True)]}, None
    )
    run({"db_instance_identifier": "app-db"}, capsys)
    assert aws.retry_decorators and all(d is not None for d in aws.retry_decorators)
