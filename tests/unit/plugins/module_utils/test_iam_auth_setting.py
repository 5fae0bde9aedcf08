# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests of module_utils._iam_auth_setting against botocore's Stubber.

Stubber checks every request and response against the RDS API model, so the
calls asserted here are calls the real API accepts.
"""

from __future__ import annotations

import copy

import boto3
import pytest
from botocore.stub import Stubber

from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from ansible_collections.amazon.aws.plugins.module_utils.retries import RetryingBotoClientWrapper
from ansible_collections.dbauth.rds_iam.plugins.module_utils import _iam_auth_setting as ias
from ansible_collections.dbauth.rds_iam.plugins.module_utils._iam_auth_setting import IamAuthError

REGION = "eu-west-1"
ACCOUNT = "111122223333"

INSTANCE = {
    "DBInstanceIdentifier": "db1",
    "DBInstanceClass": "db.t3.micro",
    "Engine": "postgres",
    "EngineVersion": "16.3",
    "DBInstanceStatus": "available",
    "DbiResourceId": "db-ABCDEFGHIJKLMNOPQRSTUVWXY1",
    "DBInstanceArn": "arn:aws:rds:%s:%s:db:db1" % (REGION, ACCOUNT),
    "Endpoint": {"Address": "db1.abcdefghijkl.%s.rds.amazonaws.com" % REGION, "Port": 5432},
    "IAMDatabaseAuthenticationEnabled": False,
    "DBParameterGroups": [{"DBParameterGroupName": "pg16-ssl", "ParameterApplyStatus": "in-sync"}],
}

CLUSTER = {
    "DBClusterIdentifier": "aurora1",
    "Engine": "aurora-postgresql",
    "EngineVersion": "16.4",
    "Status": "available",
    "DbClusterResourceId": "cluster-ABCDEFGHIJKLMNOPQRSTUVWXY2",
    "DBClusterArn": "arn:aws:rds:%s:%s:cluster:aurora1" % (REGION, ACCOUNT),
    "Endpoint": "aurora1.cluster-abcdefghijkl.%s.rds.amazonaws.com" % REGION,
    "Port": 5432,
    "IAMDatabaseAuthenticationEnabled": False,
    "DBClusterParameterGroup": "aurora-pg16-ssl",
}


def instance(**over):
    record = copy.deepcopy(INSTANCE)
    record.update(over)
    return record


def cluster(**over):
    record = copy.deepcopy(CLUSTER)
    record.update(over)
    return record


class Calls:
    """Records every API request the client made, errors included (botocore's after-call event)."""

    def __init__(self, client):
        self.names = []
        client.meta.events.register("after-call.rds", self._after)

    def _after(self, model, **kwargs):
        self.names.append(model.name)


@pytest.fixture(name="rds")
def rds_fixture(monkeypatch):
    slept = []
    monkeypatch.setattr(
        "ansible_collections.amazon.aws.plugins.module_utils.cloud.time.sleep", lambda s: slept.append(("retry", s))
    )
    client = boto3.client(
        "rds", region_name=REGION, aws_access_key_id="AKIDUNITTEST", aws_secret_access_key="unit-test-not-a-secret"
    )
    stubber = Stubber(client)
    calls = Calls(client)
    wrapped = RetryingBotoClientWrapper(client, AWSRetry.jittered_backoff(retries=4, delay=1))
    with stubber:
        yield wrapped, stubber, calls, slept
        stubber.assert_no_pending_responses()


class FakeClock:
    def __init__(self):
        self.now = 1000.0
        self.sleeps = []

    def clock(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


def params(**over):
    base = {
        "db_instance_identifier": "db1",
        "db_cluster_identifier": None,
        "apply_immediately": True,
        "wait": True,
        "wait_timeout": 900,
    }
    base.update(over)
    return base


def describe_instance(stubber, record):
    stubber.add_response("describe_db_instances", {"DBInstances": [record]}, {"DBInstanceIdentifier": "db1"})


def force_ssl(stubber, value="1", group="pg16-ssl"):
    stubber.add_response(
        "describe_db_parameters",
        {"Parameters": [{"ParameterName": "rds.force_ssl", "ParameterValue": value, "Source": "user"}]},
        {"DBParameterGroupName": group, "Source": "user"},
    )


def test_noop_is_exactly_one_describe_call(rds):
    client, stubber, calls, dummy = rds
    describe_instance(stubber, instance(IAMDatabaseAuthenticationEnabled=True))
    changed, result, diff, warnings = ias.ensure_enabled(client, params(), False)
    assert calls.names == ["DescribeDBInstances"]
    assert changed is False
    assert warnings == []
    assert diff == {
        "before": {"iam_database_authentication_enabled": True},
        "after": {"iam_database_authentication_enabled": True},
    }
    assert result == {
        "resource_id": "db-ABCDEFGHIJKLMNOPQRSTUVWXY1",
        "resource_arn_prefix": "arn:aws:rds-db:eu-west-1:111122223333:dbuser:db-ABCDEFGHIJKLMNOPQRSTUVWXY1",
        "engine": "postgres",
        "engine_version": "16.3",
        "endpoint": {"address": "db1.abcdefghijkl.eu-west-1.rds.amazonaws.com", "port": 5432},
        "iam_database_authentication_enabled": True,
        "pending": False,
        "status": "available",
        "db_instance_identifier": "db1",
        # a replica is enabled on its own (docs/topologies.md): the source names its replicas
        "read_replicas": [],
        "read_replica_source": None,
    }


def test_noop_disabled_is_one_call_even_when_stopped(rds):
    client, stubber, calls, dummy = rds
    describe_instance(stubber, instance(DBInstanceStatus="stopped"))
    changed, result, dummy_diff, dummy_warnings = ias.ensure_disabled(client, params(), False)
    assert calls.names == ["DescribeDBInstances"]
    assert changed is False
    assert result["iam_database_authentication_enabled"] is False


def test_enable_modifies_then_waits_until_available_and_in_effect(rds):
    client, stubber, calls, dummy = rds
    clock = FakeClock()
    describe_instance(stubber, instance())
    force_ssl(stubber, "1")
    stubber.add_response(
        "modify_db_instance",
        {"DBInstance": instance()},
        {"DBInstanceIdentifier": "db1", "EnableIAMDatabaseAuthentication": True, "ApplyImmediately": True},
    )
    describe_instance(stubber, instance(DBInstanceStatus="available"))  # not applied yet
    describe_instance(stubber, instance(DBInstanceStatus="modifying"))
    describe_instance(stubber, instance(IAMDatabaseAuthenticationEnabled=True))
    changed, result, diff, warnings = ias.ensure_enabled(
        client, params(), False, sleep=clock.sleep, clock=clock.clock
    )
    assert changed is True
    assert warnings == []
    assert result["iam_database_authentication_enabled"] is True
    assert result["pending"] is False
    assert result["status"] == "available"
    assert diff == {
        "before": {"iam_database_authentication_enabled": False},
        "after": {"iam_database_authentication_enabled": True},
    }
    assert calls.names == [
        "DescribeDBInstances",
        "DescribeDBParameters",
        "ModifyDBInstance",
        "DescribeDBInstances",
        "DescribeDBInstances",
        "DescribeDBInstances",
    ]
    assert clock.sleeps == [5, 10, 15]


def test_disable_makes_no_parameter_group_read(rds):
    client, stubber, calls, dummy = rds
    describe_instance(stubber, instance(IAMDatabaseAuthenticationEnabled=True))
    stubber.add_response(
        "modify_db_instance",
        {"DBInstance": instance(IAMDatabaseAuthenticationEnabled=True)},
        {"DBInstanceIdentifier": "db1", "EnableIAMDatabaseAuthentication": False, "ApplyImmediately": True},
    )
    describe_instance(stubber, instance())
    changed, result, dummy_diff, dummy_warnings = ias.ensure_disabled(client, params(), False)
    assert changed is True
    assert result["iam_database_authentication_enabled"] is False
    assert calls.names == ["DescribeDBInstances", "ModifyDBInstance", "DescribeDBInstances"]


def test_check_mode_reads_only_and_predicts(rds):
    client, stubber, calls, dummy = rds
    describe_instance(stubber, instance())
    force_ssl(stubber, "1")
    changed, result, diff, dummy_warnings = ias.ensure_enabled(client, params(), True)
    assert changed is True
    assert calls.names == ["DescribeDBInstances", "DescribeDBParameters"]
    assert result["iam_database_authentication_enabled"] is True
    assert result["pending"] is False
    assert diff["after"] == {"iam_database_authentication_enabled": True}


def test_check_mode_deferred_predicts_pending(rds):
    client, stubber, dummy_calls, dummy = rds
    describe_instance(stubber, instance(Engine="mysql", EngineVersion="8.0.39"))
    changed, result, diff, dummy_warnings = ias.ensure_enabled(client, params(apply_immediately=False), True)
    assert changed is True
    assert result["iam_database_authentication_enabled"] is False
    assert result["pending"] is True
    assert diff["after"] == {"iam_database_authentication_enabled": False, "pending": True}


def test_deferred_change_reports_pending_without_waiting(rds):
    client, stubber, calls, dummy = rds
    describe_instance(stubber, instance(Engine="mysql", EngineVersion="8.0.39"))
    stubber.add_response(
        "modify_db_instance",
        {
            "DBInstance": instance(
                Engine="mysql", EngineVersion="8.0.39", PendingModifiedValues={"IAMDatabaseAuthenticationEnabled": True}
            )
        },
        {"DBInstanceIdentifier": "db1", "EnableIAMDatabaseAuthentication": True, "ApplyImmediately": False},
    )
    changed, result, dummy_diff, dummy_warnings = ias.ensure_enabled(client, params(apply_immediately=False), False)
    assert changed is True
    assert result["pending"] is True
    assert result["iam_database_authentication_enabled"] is False
    assert calls.names == ["DescribeDBInstances", "ModifyDBInstance"]


def test_already_pending_deferred_is_a_noop(rds):
    client, stubber, calls, dummy = rds
    describe_instance(stubber, instance(PendingModifiedValues={"IAMDatabaseAuthenticationEnabled": True}))
    changed, result, diff, dummy_warnings = ias.ensure_enabled(client, params(apply_immediately=False), False)
    assert changed is False
    assert result["pending"] is True
    assert diff["before"] == diff["after"]
    assert calls.names == ["DescribeDBInstances"]


def test_already_pending_applied_now_when_immediate(rds):
    client, stubber, calls, dummy = rds
    queued = instance(Engine="mysql", EngineVersion="8.0.39", PendingModifiedValues={"IAMDatabaseAuthenticationEnabled": True})
    describe_instance(stubber, queued)
    stubber.add_response(
        "modify_db_instance",
        {"DBInstance": queued},
        {"DBInstanceIdentifier": "db1", "EnableIAMDatabaseAuthentication": True, "ApplyImmediately": True},
    )
    describe_instance(stubber, instance(Engine="mysql", EngineVersion="8.0.39", IAMDatabaseAuthenticationEnabled=True))
    changed, result, dummy_diff, dummy_warnings = ias.ensure_enabled(client, params(), False)
    assert changed is True
    assert result["pending"] is False
    assert result["iam_database_authentication_enabled"] is True
    assert calls.names == ["DescribeDBInstances", "ModifyDBInstance", "DescribeDBInstances"]


def test_no_wait_returns_after_modify(rds):
    client, stubber, calls, dummy = rds
    describe_instance(stubber, instance(Engine="mariadb", EngineVersion="11.4.4"))
    stubber.add_response(
        "modify_db_instance",
        {"DBInstance": instance(Engine="mariadb", EngineVersion="11.4.4", DBInstanceStatus="modifying")},
        {"DBInstanceIdentifier": "db1", "EnableIAMDatabaseAuthentication": True, "ApplyImmediately": True},
    )
    changed, result, dummy_diff, dummy_warnings = ias.ensure_enabled(client, params(wait=False), False)
    assert changed is True
    assert result["status"] == "modifying"
    assert calls.names == ["DescribeDBInstances", "ModifyDBInstance"]


def test_cluster_enable_uses_cluster_resource_id(rds):
    client, stubber, calls, dummy = rds
    stubber.add_response("describe_db_clusters", {"DBClusters": [cluster()]}, {"DBClusterIdentifier": "aurora1"})
    stubber.add_response(
        "describe_db_cluster_parameters",
        {"Parameters": [{"ParameterName": "rds.force_ssl", "ParameterValue": "1"}]},
        {"DBClusterParameterGroupName": "aurora-pg16-ssl", "Source": "user"},
    )
    stubber.add_response(
        "modify_db_cluster",
        {"DBCluster": cluster(Status="modifying")},
        {"DBClusterIdentifier": "aurora1", "EnableIAMDatabaseAuthentication": True, "ApplyImmediately": True},
    )
    stubber.add_response(
        "describe_db_clusters",
        {"DBClusters": [cluster(IAMDatabaseAuthenticationEnabled=True)]},
        {"DBClusterIdentifier": "aurora1"},
    )
    changed, result, dummy_diff, warnings = ias.ensure_enabled(
        client, params(db_instance_identifier=None, db_cluster_identifier="aurora1"), False
    )
    assert changed is True
    assert warnings == []
    assert result["resource_id"] == "cluster-ABCDEFGHIJKLMNOPQRSTUVWXY2"
    assert result["resource_arn_prefix"] == (
        "arn:aws:rds-db:eu-west-1:111122223333:dbuser:cluster-ABCDEFGHIJKLMNOPQRSTUVWXY2"
    )
    assert result["endpoint"] == {"address": CLUSTER["Endpoint"], "port": 5432}
    assert result["db_cluster_identifier"] == "aurora1"
    assert "db_instance_identifier" not in result
    assert calls.names == ["DescribeDBClusters", "DescribeDBClusterParameters", "ModifyDBCluster", "DescribeDBClusters"]


def test_not_found_names_region_and_account(rds):
    client, stubber, calls, dummy = rds
    stubber.add_client_error(
        "describe_db_instances", "DBInstanceNotFound", "DBInstance db1 not found.", 404, {"DBInstanceIdentifier": "db1"}
    )
    with pytest.raises(IamAuthError) as e:
        ias.ensure_enabled(client, params(), False, account_lookup=lambda: ACCOUNT)
    assert e.value.message == "DB instance 'db1' not found in region eu-west-1 of account 111122223333"
    assert e.value.changed is False
    assert calls.names == ["DescribeDBInstances"]


def test_cluster_not_found(rds):
    client, stubber, dummy_calls, dummy = rds
    stubber.add_client_error("describe_db_clusters", "DBClusterNotFoundFault", "DBCluster c9 not found.", 404)
    with pytest.raises(IamAuthError) as e:
        ias.ensure_enabled(client, params(db_instance_identifier=None, db_cluster_identifier="c9"), False)
    assert e.value.message == "DB cluster 'c9' not found in region eu-west-1 of account unknown"


@pytest.mark.parametrize("engine", ["oracle-ee", "sqlserver-se", "db2-se", "custom-oracle-ee"])
def test_unsupported_engine_fails_before_any_change(rds, engine):
    client, stubber, calls, dummy = rds
    describe_instance(stubber, instance(Engine=engine))
    with pytest.raises(IamAuthError) as e:
        ias.ensure_enabled(client, params(), False)
    assert "runs engine '%s', which does not support IAM database authentication" % engine in e.value.message
    assert "supported engines: mysql, mariadb, postgres, aurora-mysql, aurora-postgresql" in e.value.message
    assert calls.names == ["DescribeDBInstances"]


def test_aurora_member_instance_names_its_cluster(rds):
    client, stubber, calls, dummy = rds
    describe_instance(stubber, instance(Engine="aurora-postgresql", DBClusterIdentifier="aurora1"))
    with pytest.raises(IamAuthError) as e:
        ias.ensure_enabled(client, params(), False)
    assert "member of Aurora DB cluster 'aurora1'" in e.value.message
    assert "use db_cluster_identifier: aurora1" in e.value.message
    assert calls.names == ["DescribeDBInstances"]


@pytest.mark.parametrize(
    "status, text",
    [("stopped", "is stopped"), ("stopping", "is stopping"), ("deleting", "is being deleted"), ("storage-full", "status storage-full")],
)
def test_unmodifiable_status_fails_before_any_change(rds, status, text):
    client, stubber, calls, dummy = rds
    describe_instance(stubber, instance(Engine="mysql", DBInstanceStatus=status))
    with pytest.raises(IamAuthError) as e:
        ias.ensure_enabled(client, params(), False)
    assert text in e.value.message
    assert e.value.changed is False
    assert calls.names == ["DescribeDBInstances"]


def test_wait_timeout_reports_last_status(rds):
    client, stubber, dummy_calls, dummy = rds
    clock = FakeClock()
    describe_instance(stubber, instance(Engine="mysql"))
    stubber.add_response("modify_db_instance", {"DBInstance": instance(Engine="mysql")}, None)
    for dummy_i in range(3):
        describe_instance(stubber, instance(Engine="mysql", DBInstanceStatus="modifying"))
    with pytest.raises(IamAuthError) as e:
        ias.ensure_enabled(client, params(wait_timeout=20), False, sleep=clock.sleep, clock=clock.clock)
    assert e.value.message.startswith("Timed out after 20s waiting for DB instance 'db1'")
    assert "last status: modifying, iam_database_authentication_enabled: false, pending: false" in e.value.message
    assert e.value.changed is True
    assert e.value.result["status"] == "modifying"
    # 5 + 10, then only the 5 s left: the last describe is made at the deadline
    assert clock.sleeps == [5, 10, 5]


def test_wait_timeout_zero_describes_once_at_once(rds):
    client, stubber, calls, dummy = rds
    clock = FakeClock()
    describe_instance(stubber, instance(Engine="mysql"))
    stubber.add_response("modify_db_instance", {"DBInstance": instance(Engine="mysql")}, None)
    describe_instance(stubber, instance(Engine="mysql", DBInstanceStatus="modifying"))
    with pytest.raises(IamAuthError) as e:
        ias.ensure_enabled(client, params(wait_timeout=0), False, sleep=clock.sleep, clock=clock.clock)
    assert e.value.message.startswith("Timed out after 0s")
    assert clock.sleeps == []
    assert calls.names == ["DescribeDBInstances", "ModifyDBInstance", "DescribeDBInstances"]


def test_wait_stops_when_instance_goes_to_deleting(rds):
    client, stubber, dummy_calls, dummy = rds
    describe_instance(stubber, instance(Engine="mysql"))
    stubber.add_response("modify_db_instance", {"DBInstance": instance(Engine="mysql")}, None)
    describe_instance(stubber, instance(Engine="mysql", DBInstanceStatus="deleting"))
    with pytest.raises(IamAuthError) as e:
        ias.ensure_enabled(client, params(), False, sleep=lambda s: None)
    assert "went to status deleting" in e.value.message
    assert e.value.changed is True


def test_throttling_is_retried_with_backoff(rds):
    client, stubber, calls, slept = rds
    for dummy_i in range(2):
        stubber.add_client_error("describe_db_instances", "Throttling", "Rate exceeded", 400)
    describe_instance(stubber, instance(IAMDatabaseAuthenticationEnabled=True))
    changed, dummy_result, dummy_diff, dummy_warnings = ias.ensure_enabled(client, params(), False)
    assert changed is False
    assert len(slept) == 2
    assert calls.names == ["DescribeDBInstances"] * 3


def test_api_error_is_surfaced_with_aws_message(rds):
    client, stubber, dummy_calls, dummy = rds
    describe_instance(stubber, instance(Engine="mysql"))
    stubber.add_client_error(
        "modify_db_instance", "InvalidDBInstanceState", "Database instance is not in available state.", 400
    )
    with pytest.raises(IamAuthError) as e:
        ias.ensure_enabled(client, params(), False)
    assert e.value.message == "Failed to enable IAM database authentication on DB instance 'db1'"
    assert e.value.exception.response["Error"]["Message"] == "Database instance is not in available state."
    assert e.value.changed is False


def test_access_denied_on_describe_is_surfaced(rds):
    client, stubber, dummy_calls, dummy = rds
    stubber.add_client_error("describe_db_instances", "AccessDenied", "not authorized to perform rds:DescribeDBInstances", 403)
    with pytest.raises(IamAuthError) as e:
        ias.ensure_enabled(client, params(), False)
    assert e.value.message == "Failed to describe DB instance 'db1'"
    assert e.value.exception.response["Error"]["Code"] == "AccessDenied"


def test_force_ssl_off_warns(rds):
    client, stubber, dummy_calls, dummy = rds
    describe_instance(stubber, instance())
    force_ssl(stubber, "0")
    changed, dummy_result, dummy_diff, warnings = ias.ensure_enabled(client, params(), True)
    assert changed is True
    assert warnings == [
        "rds.force_ssl is 0 in DB parameter group 'pg16-ssl': SSL is not enforced. IAM database authentication "
        "on PostgreSQL requires SSL connections: set rds.force_ssl=1 in the DB parameter group of DB instance 'db1'"
    ]


def test_force_ssl_engine_default_read_when_not_user_set(rds):
    client, stubber, calls, dummy = rds
    describe_instance(stubber, instance())
    stubber.add_response("describe_db_parameters", {"Parameters": []}, {"DBParameterGroupName": "pg16-ssl", "Source": "user"})
    stubber.add_response(
        "describe_db_parameters",
        {"Parameters": [{"ParameterName": "max_connections", "ParameterValue": "100"}], "Marker": "m1"},
        {"DBParameterGroupName": "pg16-ssl"},
    )
    stubber.add_response(
        "describe_db_parameters",
        {"Parameters": [{"ParameterName": "rds.force_ssl", "ParameterValue": "1", "Source": "engine-default"}]},
        {"DBParameterGroupName": "pg16-ssl", "Marker": "m1"},
    )
    dummy_changed, dummy_result, dummy_diff, warnings = ias.ensure_enabled(client, params(), True)
    assert warnings == []
    assert calls.names.count("DescribeDBParameters") == 3


def test_parameter_group_read_failure_only_warns(rds):
    client, stubber, dummy_calls, dummy = rds
    describe_instance(stubber, instance())
    stubber.add_client_error("describe_db_parameters", "AccessDenied", "not authorized", 403)
    changed, result, dummy_diff, warnings = ias.ensure_enabled(client, params(), True)
    assert changed is True
    assert result["resource_id"] == INSTANCE["DbiResourceId"]
    assert len(warnings) == 1
    assert warnings[0].startswith("Could not read rds.force_ssl from DB parameter group 'pg16-ssl' (AccessDenied: not authorized).")


def test_no_ssl_check_for_mysql(rds):
    client, stubber, calls, dummy = rds
    describe_instance(stubber, instance(Engine="mysql", EngineVersion="8.0.39"))
    dummy_changed, dummy_result, dummy_diff, warnings = ias.ensure_enabled(client, params(), True)
    assert warnings == []
    assert calls.names == ["DescribeDBInstances"]


def test_arn_prefix_follows_partition_and_region_of_the_arn():
    target = ias.Target("instance", "db1")
    record = instance(DBInstanceArn="arn:aws-cn:rds:cn-north-1:%s:db:db1" % ACCOUNT)
    assert ias.summarize(target, record, "eu-west-1")["resource_arn_prefix"] == (
        "arn:aws-cn:rds-db:cn-north-1:111122223333:dbuser:db-ABCDEFGHIJKLMNOPQRSTUVWXY1"
    )


def test_no_arn_prefix_without_resource_id():
    target = ias.Target("instance", "db1")
    record = instance()
    del record["DbiResourceId"]
    assert ias.summarize(target, record)["resource_arn_prefix"] is None


def test_change_under_way_is_waited_for_not_requested_again(rds):
    client, stubber, calls, dummy = rds
    describe_instance(stubber, instance(Engine="mysql", DBInstanceStatus="modifying", IAMDatabaseAuthenticationEnabled=True))
    describe_instance(stubber, instance(Engine="mysql", IAMDatabaseAuthenticationEnabled=True))
    changed, result, dummy_diff, dummy_warnings = ias.ensure_enabled(client, params(), False, sleep=lambda s: None)
    assert changed is False
    assert result["status"] == "available"
    assert calls.names == ["DescribeDBInstances", "DescribeDBInstances"]


def test_change_under_way_timeout_is_not_a_change(rds):
    client, stubber, dummy_calls, dummy = rds
    clock = FakeClock()
    queued = instance(Engine="mysql", DBInstanceStatus="modifying", PendingModifiedValues={"IAMDatabaseAuthenticationEnabled": True})
    describe_instance(stubber, queued)
    describe_instance(stubber, queued)
    with pytest.raises(IamAuthError) as e:
        ias.ensure_enabled(client, params(wait_timeout=0), False, sleep=clock.sleep, clock=clock.clock)
    assert e.value.changed is False
    assert "last status: modifying" in e.value.message


def test_change_under_way_in_check_mode_reads_once(rds):
    client, stubber, calls, dummy = rds
    describe_instance(stubber, instance(Engine="mysql", DBInstanceStatus="modifying", IAMDatabaseAuthenticationEnabled=True))
    changed, result, dummy_diff, dummy_warnings = ias.ensure_enabled(client, params(), True)
    assert changed is False
    assert result["status"] == "modifying"
    assert calls.names == ["DescribeDBInstances"]


def test_deferred_change_never_waits(rds):
    client, stubber, calls, dummy = rds
    describe_instance(stubber, instance(Engine="mysql", EngineVersion="8.0.39"))
    stubber.add_response(
        "modify_db_instance",
        {"DBInstance": instance(Engine="mysql", EngineVersion="8.0.39")},  # AWS shows nothing pending (yet)
        {"DBInstanceIdentifier": "db1", "EnableIAMDatabaseAuthentication": True, "ApplyImmediately": False},
    )
    changed, dummy_result, dummy_diff, dummy_warnings = ias.ensure_enabled(
        client, params(apply_immediately=False, wait=True), False
    )
    assert changed is True
    assert calls.names == ["DescribeDBInstances", "ModifyDBInstance"]
