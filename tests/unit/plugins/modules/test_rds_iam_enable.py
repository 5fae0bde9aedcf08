# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests of the rds_iam_enable module: the whole module (argument spec,
AnsibleAWSModule, its retry decorator, exit/fail JSON) against botocore's Stubber.

Only AnsibleAWSModule.client is replaced: it hands out stubbed clients wrapped
with the retry decorator the module asked for, so the module's own retry
configuration is what gets tested.
"""

from __future__ import annotations

import copy
import itertools
import types

import pytest

from ansible_collections.dbauth.rds_iam.plugins.module_utils import _iam_auth_setting
from ansible_collections.dbauth.rds_iam.plugins.modules import rds_iam_enable
from ansible_collections.dbauth.rds_iam.tests.unit.plugins.modules.aws_stubs import ACCOUNT
from ansible_collections.dbauth.rds_iam.tests.unit.plugins.modules.aws_stubs import REGION
from ansible_collections.dbauth.rds_iam.tests.unit.plugins.modules.aws_stubs import cluster_record
from ansible_collections.dbauth.rds_iam.tests.unit.plugins.modules.aws_stubs import run_module

# The module must not pick up a region, keys or a role from the machine running the tests.
pytestmark = pytest.mark.usefixtures("clean_env")

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


def run(args, capsys, check_mode=False):
    return run_module(rds_iam_enable.main, args, capsys, check_mode)


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


@pytest.fixture
def fast_clock(monkeypatch):
    """A monotonic clock of the wait that moves 0.6 s a reading: wait_timeout 1 ends after one describe."""
    readings = itertools.count(0, 0.6)
    monkeypatch.setattr(_iam_auth_setting, "time", types.SimpleNamespace(
        monotonic=lambda: next(readings), sleep=_iam_auth_setting.time.sleep))


def test_wait_timeout_failure_reports_changed_and_last_status(aws, capsys, fast_clock):
    rds = aws.stubber("rds")
    rds.add_response("describe_db_instances", {"DBInstances": [instance()]}, None)
    rds.add_response("modify_db_instance", {"DBInstance": instance(DBInstanceStatus="modifying")}, None)
    rds.add_response("describe_db_instances", {"DBInstances": [instance(DBInstanceStatus="modifying")]}, None)
    result = run({"db_instance_identifier": "app-db", "wait_timeout": 1}, capsys)
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
        ({"db_instance_identifier": "a", "wait_timeout": -1}, "wait_timeout -1 must be at least 1"),
        # Found by a new user: an empty identifier reached AWS (and turned IAM on for another instance).
        ({"db_instance_identifier": ""}, "db_instance_identifier '' is empty"),
        ({"db_instance_identifier": "  "}, "db_instance_identifier '  ' is empty"),
        ({"db_cluster_identifier": ""}, "db_cluster_identifier '' is empty"),
        # wait_timeout 0 made the change, then failed at once.
        ({"db_instance_identifier": "a", "wait_timeout": 0}, "wait_timeout 0 must be at least 1 second"),
        ({"databases": [{"db_instance_identifier": "a"}], "wait_timeout": 0}, "wait_timeout 0 must be at least 1"),
        ({"databases": [{"db_cluster_identifier": " "}]}, "databases[0]: db_cluster_identifier ' ' is empty"),
    ],
)
def test_argument_errors_make_no_call(aws, capsys, args, text):
    result = run(args, capsys)
    assert result["failed"] is True
    assert text in result["msg"]
    assert aws.requests == []


def test_wait_timeout_0_is_fine_without_wait(aws, capsys):
    aws.stubber("rds").add_response(
        "describe_db_instances", {"DBInstances": [instance(IAMDatabaseAuthenticationEnabled=True)]},
        {"DBInstanceIdentifier": "app-db"})
    result = run({"db_instance_identifier": "app-db", "wait": False, "wait_timeout": 0}, capsys)
    assert result["changed"] is False and "failed" not in result


def test_a_describe_answer_for_another_instance_changes_nothing(aws, capsys):
    # An endpoint that answers a describe with another database (as moto does for an empty filter)
    # must never have that database modified.
    aws.stubber("rds").add_response(
        "describe_db_instances", {"DBInstances": [instance(DBInstanceIdentifier="other-db")]},
        {"DBInstanceIdentifier": "app-db"})
    result = run({"db_instance_identifier": "app-db"}, capsys)
    assert result["failed"] is True and result["changed"] is False
    assert "asked for DB instance 'app-db'" in result["msg"] and "'other-db'" in result["msg"]
    assert aws.requests == ["DescribeDBInstances"]


def test_module_uses_a_retrying_client(aws, capsys):
    aws.stubber("rds").add_response(
        "describe_db_instances", {"DBInstances": [instance(IAMDatabaseAuthenticationEnabled=True)]}, None
    )
    run({"db_instance_identifier": "app-db"}, capsys)
    assert aws.retry_decorators and all(d is not None for d in aws.retry_decorators)


# Batch mode (databases). concurrency: 1 where several databases change, so that the Stubber's
# queue of responses meets the calls in a known order.

def named(name, **over):
    return instance(
        DBInstanceIdentifier=name,
        DbiResourceId="db-%s" % name.upper().replace("-", "").ljust(26, "Q"),
        DBInstanceArn="arn:aws:rds:%s:%s:db:%s" % (REGION, ACCOUNT, name),
        **over
    )


def instance_filter(*names):
    return {"Filters": [{"Name": "db-instance-id", "Values": sorted(names)}]}


def test_batch_mixed_results_one_failure_hides_nothing(aws, capsys):
    rds = aws.stubber("rds")
    rds.add_response(
        "describe_db_instances",
        {"DBInstances": [
            named("db-on", IAMDatabaseAuthenticationEnabled=True),
            named("db-off"),
            named("db-broken"),
            named("member-1", DBClusterIdentifier="aurora-1"),
        ]},
        instance_filter("db-on", "db-off", "db-broken", "member-1", "db-missing"),
    )
    rds.add_response(
        "describe_db_clusters",
        {"DBClusters": [cluster_record("aurora-1")]},
        {"Filters": [{"Name": "db-cluster-id", "Values": ["aurora-1"]}]},
    )
    rds.add_response(
        "modify_db_instance",
        {"DBInstance": named("db-off", DBInstanceStatus="modifying")},
        {"DBInstanceIdentifier": "db-off", "EnableIAMDatabaseAuthentication": True, "ApplyImmediately": True},
    )
    rds.add_response(
        "describe_db_instances",
        {"DBInstances": [named("db-off", IAMDatabaseAuthenticationEnabled=True)]},
        {"DBInstanceIdentifier": "db-off"},
    )
    rds.add_client_error(
        "modify_db_instance", "InvalidDBInstanceState", "Instance db-broken is not in available state.", 400,
        expected_params={"DBInstanceIdentifier": "db-broken", "EnableIAMDatabaseAuthentication": True,
                         "ApplyImmediately": True},
    )
    aws.stubber("sts").add_response(
        "get_caller_identity",
        {"Account": ACCOUNT, "Arn": "arn:aws:iam::%s:user/ops" % ACCOUNT, "UserId": "AIDAEXAMPLE"},
        {},
    )
    result = run(
        {
            "databases": [
                {"db_instance_identifier": "db-on"},
                {"db_instance_identifier": "db-off"},
                {"db_instance_identifier": "db-missing"},
                {"db_instance_identifier": "db-broken"},
                {"db_instance_identifier": "member-1"},
                {"db_cluster_identifier": "aurora-1"},
            ],
            "concurrency": 1,
        },
        capsys,
    )
    assert result["failed"] is True
    assert result["changed"] is True
    entries = result["databases"]
    assert [e.get("db_instance_identifier") or e.get("db_cluster_identifier") for e in entries] == [
        "db-on", "db-off", "db-missing", "db-broken", "member-1", "aurora-1"
    ]
    on, off, missing, broken, member, aurora = entries
    assert on["changed"] is False and "failed" not in on
    assert on["resource_arn_prefix"] == "arn:aws:rds-db:us-west-2:444455556666:dbuser:" + on["resource_id"]
    assert off["changed"] is True and off["iam_database_authentication_enabled"] is True
    assert off["pending"] is False and off["status"] == "available"
    assert off["endpoint"] == {"address": INSTANCE["Endpoint"]["Address"], "port": 3306}
    assert missing == {
        "db_instance_identifier": "db-missing",
        "changed": False,
        "failed": True,
        "msg": "DB instance 'db-missing' not found in region us-west-2 of account 444455556666",
    }
    assert broken["failed"] is True and broken["changed"] is False
    assert broken["msg"] == (
        "Failed to enable IAM database authentication on DB instance 'db-broken': An error occurred "
        "(InvalidDBInstanceState) when calling the ModifyDBInstance operation: Instance db-broken is not in "
        "available state."
    )
    assert member["failed"] is True
    assert "use db_cluster_identifier: aurora-1 instead of db_instance_identifier" in member["msg"]
    assert aurora["changed"] is False and aurora["resource_id"] == "cluster-AURORA1YYYYYYYYYYYYYYYYYYY"
    assert result["msg"].startswith("3 of 6 databases failed: databases[2]: DB instance 'db-missing' not found")
    assert "; databases[3]: Failed to enable IAM database authentication on DB instance 'db-broken'" in result["msg"]
    assert "; databases[4]: DB instance 'member-1' is a member of" in result["msg"]
    # One describe per kind for all of them, the account asked once; calls per database only for changes.
    assert aws.requests == [
        "DescribeDBInstances", "DescribeDBClusters",
        "ModifyDBInstance", "DescribeDBInstances", "GetCallerIdentity", "ModifyDBInstance",
    ]


def test_batch_noop_is_one_describe_per_kind_whatever_the_concurrency(aws, capsys):
    names = ["db-%02d" % i for i in range(30)]
    aws.stubber("rds").add_response(
        "describe_db_instances",
        {"DBInstances": [named(n, IAMDatabaseAuthenticationEnabled=True) for n in names]},
        instance_filter(*names),
    )
    result = run({"databases": [{"db_instance_identifier": n} for n in names], "concurrency": 8}, capsys)
    assert result["changed"] is False
    assert "failed" not in result
    assert [e["db_instance_identifier"] for e in result["databases"]] == names
    assert aws.requests == ["DescribeDBInstances"]


def test_batch_check_mode_diff_per_database_and_no_modify(aws, capsys):
    rds = aws.stubber("rds")
    rds.add_response(
        "describe_db_instances",
        {"DBInstances": [named("db-a"), named("db-b", IAMDatabaseAuthenticationEnabled=True)]},
        instance_filter("db-a", "db-b"),
    )
    result = run(
        {"databases": [{"db_instance_identifier": "db-b"}, {"db_instance_identifier": "db-a"}], "_ansible_diff": True},
        capsys,
        check_mode=True,
    )
    assert result["changed"] is True
    assert [e["changed"] for e in result["databases"]] == [False, True]
    assert result["databases"][1]["iam_database_authentication_enabled"] is True
    assert result["diff"] == {
        "before": {"databases": [
            {"db_instance_identifier": "db-b", "iam_database_authentication_enabled": True},
            {"db_instance_identifier": "db-a", "iam_database_authentication_enabled": False},
        ]},
        "after": {"databases": [
            {"db_instance_identifier": "db-b", "iam_database_authentication_enabled": True},
            {"db_instance_identifier": "db-a", "iam_database_authentication_enabled": True},
        ]},
    }
    assert aws.requests == ["DescribeDBInstances"]


def test_batch_timeout_is_per_database_and_fails_that_entry_only(aws, capsys, fast_clock):
    rds = aws.stubber("rds")
    rds.add_response("describe_db_instances", {"DBInstances": [named("db-slow")]}, instance_filter("db-slow"))
    rds.add_response("modify_db_instance", {"DBInstance": named("db-slow", DBInstanceStatus="modifying")}, None)
    rds.add_response(
        "describe_db_instances", {"DBInstances": [named("db-slow", DBInstanceStatus="modifying")]}, None
    )
    result = run({"databases": [{"db_instance_identifier": "db-slow"}], "wait_timeout": 1}, capsys)
    (entry,) = result["databases"]
    assert entry["failed"] is True and entry["changed"] is True
    assert entry["status"] == "modifying"
    assert entry["msg"].startswith("Timed out after 1s waiting for DB instance 'db-slow'")
    assert result["msg"].startswith("1 of 1 databases failed: databases[0]: Timed out after 1s")


@pytest.mark.parametrize(
    "args, text",
    [
        (
            {"databases": [{"db_instance_identifier": "a"}, {"db_cluster_identifier": "c"},
                           {"db_instance_identifier": "A"}]},
            "databases[2]: db_instance_identifier 'A' is given twice (first in databases[0])",
        ),
        (
            {"databases": [{"db_instance_identifier": "a", "db_cluster_identifier": "c"}]},
            "databases[0]: give exactly one of db_instance_identifier and db_cluster_identifier, got both",
        ),
        (
            {"databases": [{"db_instance_identifier": "a"}, {}]},
            "databases[1]: give exactly one of db_instance_identifier and db_cluster_identifier, got neither",
        ),
        (
            {"databases": [{"db_instance_identifier": "a"}], "db_instance_identifier": "b"},
            "parameters are mutually exclusive: db_instance_identifier|db_cluster_identifier|databases",
        ),
        ({"databases": [{"db_instance_identifier": "a"}], "concurrency": 0}, "concurrency must be at least 1"),
    ],
)
def test_batch_refusals_make_no_call(aws, capsys, args, text):
    result = run(args, capsys)
    assert result["failed"] is True
    assert text in result["msg"]
    assert aws.requests == []
