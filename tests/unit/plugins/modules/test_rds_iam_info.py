# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests of the rds_iam_info module against botocore's Stubber: the calls it makes (few,
paginated, filtered), what it returns, not_found, cluster members and the TLS parameter."""

from __future__ import annotations

import copy

import pytest

from ansible_collections.dbauth.rds_iam.plugins.module_utils import _rds_databases
from ansible_collections.dbauth.rds_iam.plugins.modules import rds_iam_info
from ansible_collections.dbauth.rds_iam.tests.unit.plugins.modules.aws_stubs import ACCOUNT
from ansible_collections.dbauth.rds_iam.tests.unit.plugins.modules.aws_stubs import REGION
from ansible_collections.dbauth.rds_iam.tests.unit.plugins.modules.aws_stubs import cluster_record
from ansible_collections.dbauth.rds_iam.tests.unit.plugins.modules.aws_stubs import run_module

pytestmark = pytest.mark.usefixtures("clean_env")


def instance(name, engine="postgres", group="pg16-ssl", **over):
    record = {
        "DBInstanceIdentifier": name,
        "DBInstanceClass": "db.t3.micro",
        "Engine": engine,
        "EngineVersion": "16.3" if engine == "postgres" else "8.0.39",
        "DBInstanceStatus": "available",
        "DbiResourceId": "db-%s" % name.upper().replace("-", "").ljust(26, "X"),
        "DBInstanceArn": "arn:aws:rds:%s:%s:db:%s" % (REGION, ACCOUNT, name),
        "Endpoint": {"Address": "%s.abcdefghijkl.%s.rds.amazonaws.com" % (name, REGION), "Port": 5432},
        "IAMDatabaseAuthenticationEnabled": False,
        "DBParameterGroups": [{"DBParameterGroupName": group, "ParameterApplyStatus": "in-sync"}],
    }
    record.update(over)
    return record


def cluster(name, **over):
    over.setdefault("EngineVersion", "8.0.mysql_aurora.3.08.0")
    over.setdefault("DBClusterParameterGroup", "aurora-mysql8-tls")
    return cluster_record(name, engine="aurora-mysql", port=3306, **over)


def parameters(*pairs):
    return {"Parameters": [{"ParameterName": n, "ParameterValue": v, "Source": "user"} for n, v in pairs]}


def run(args, capsys, check_mode=False):
    return run_module(rds_iam_info.main, args, capsys, check_mode)


def test_named_databases_few_calls_not_found_and_members(aws, capsys):
    rds = aws.stubber("rds")
    member = instance("aurora-1-a", engine="aurora-mysql", group="default.aurora-mysql8.0",
                      DBClusterIdentifier="aurora-1")
    rds.add_response(
        "describe_db_instances",
        {"DBInstances": [instance("app-1"), instance("app-2", ReadReplicaDBInstanceIdentifiers=[
            "app-2-replica", "arn:aws:rds:eu-west-1:%s:db:app-2-west" % ACCOUNT]), member]},
        {"Filters": [{"Name": "db-instance-id", "Values": ["app-1", "app-2", "aurora-1-a", "missing-db"]}]},
    )
    rds.add_response(
        "describe_db_clusters",
        {"DBClusters": [cluster("aurora-1", GlobalClusterIdentifier="aurora-global")]},
        {"Filters": [{"Name": "db-cluster-id", "Values": ["aurora-1", "missing-cluster"]}]},
    )
    # One read per distinct parameter group: app-1 and app-2 share theirs, the member uses its cluster's.
    rds.add_response(
        "describe_db_cluster_parameters",
        parameters(("require_secure_transport", "ON"), ("max_connections", "100")),
        {"DBClusterParameterGroupName": "aurora-mysql8-tls"},
    )
    rds.add_response("describe_db_parameters", parameters(("rds.force_ssl", "1")), {"DBParameterGroupName": "pg16-ssl"})
    rds.add_response("describe_blue_green_deployments", {"BlueGreenDeployments": []}, {})
    result = run(
        {
            "db_instance_identifiers": ["App-2", "app-1", "missing-db", "aurora-1-a"],
            "db_cluster_identifiers": ["aurora-1", "missing-cluster"],
        },
        capsys,
    )
    assert result["changed"] is False
    assert aws.requests == [
        "DescribeDBInstances", "DescribeDBClusters", "DescribeDBClusterParameters", "DescribeDBParameters",
        "DescribeBlueGreenDeployments",
    ]
    assert result["not_found"] == {"db_instance_identifiers": ["missing-db"], "db_cluster_identifiers": ["missing-cluster"]}
    names = [d.get("db_instance_identifier") or d.get("db_cluster_identifier") for d in result["databases"]]
    assert names == ["app-2", "app-1", "aurora-1-a", "aurora-1"]
    app2, app1, member_info, cluster_info = result["databases"]
    assert app2 == {
        "kind": "instance",
        "db_instance_identifier": "app-2",
        "arn": "arn:aws:rds:us-west-2:444455556666:db:app-2",
        "resource_id": "db-APP2XXXXXXXXXXXXXXXXXXXXXX",
        "resource_arn_prefix": "arn:aws:rds-db:us-west-2:444455556666:dbuser:db-APP2XXXXXXXXXXXXXXXXXXXXXX",
        "engine": "postgres",
        "engine_version": "16.3",
        "status": "available",
        "endpoint": {"address": "app-2.abcdefghijkl.us-west-2.rds.amazonaws.com", "port": 5432},
        "port": 5432,
        "iam_database_authentication_enabled": False,
        "pending": {},
        "member_of_cluster": None,
        # replicas as RDS lists them: same Region by identifier, another Region by ARN
        "read_replicas": ["app-2-replica", "arn:aws:rds:eu-west-1:444455556666:db:app-2-west"],
        "read_replica_source": None,
        "tls": {"parameter": "rds.force_ssl", "value": "1", "enforced": True},
        "blue_green": None,
    }
    assert app1["read_replicas"] == []
    assert member_info["member_of_cluster"] == "aurora-1"
    assert member_info["tls"] == {"parameter": "require_secure_transport", "value": "ON", "enforced": True}
    assert cluster_info["kind"] == "cluster"
    assert cluster_info["resource_id"].startswith("cluster-")
    assert cluster_info["resource_arn_prefix"].endswith(":dbuser:" + cluster_info["resource_id"])
    assert cluster_info["reader_endpoint"] == {
        "address": "aurora-1.cluster-ro-abcdefghijkl.us-west-2.rds.amazonaws.com", "port": 3306
    }
    assert cluster_info["custom_endpoints"] == []
    assert cluster_info["iam_database_authentication_enabled"] is True
    assert "member_of_cluster" not in cluster_info
    assert cluster_info["global_cluster_identifier"] == "aurora-global"


def test_everything_paginated_and_read_only_in_check_mode(aws, capsys):
    rds = aws.stubber("rds")
    rds.add_response("describe_db_instances", {"DBInstances": [instance("b-db")], "Marker": "page-2"}, {})
    rds.add_response(
        "describe_db_instances",
        {"DBInstances": [instance("a-db", PendingModifiedValues={"IAMDatabaseAuthenticationEnabled": True})]},
        {"Marker": "page-2"},
    )
    rds.add_response("describe_db_clusters", {"DBClusters": []}, {})
    rds.add_response("describe_db_parameters", {"Parameters": [], "Marker": "p2"}, {"DBParameterGroupName": "pg16-ssl"})
    rds.add_response(
        "describe_db_parameters", parameters(("rds.force_ssl", "0")), {"DBParameterGroupName": "pg16-ssl", "Marker": "p2"}
    )
    rds.add_response("describe_blue_green_deployments", {"BlueGreenDeployments": []}, {})
    result = run({}, capsys, check_mode=True)
    assert result["changed"] is False
    assert [d["db_instance_identifier"] for d in result["databases"]] == ["a-db", "b-db"]
    assert result["databases"][0]["pending"] == {"iam_database_authentication_enabled": True}
    assert result["databases"][1]["tls"] == {"parameter": "rds.force_ssl", "value": "0", "enforced": False}
    assert result["not_found"] == {"db_instance_identifiers": [], "db_cluster_identifiers": []}
    assert not [name for name in aws.requests if not name.startswith("Describe")]


def test_identifiers_are_filtered_in_chunks_of_100(aws, capsys):
    rds = aws.stubber("rds")
    names = ["db-%03d" % i for i in range(150)]
    rds.add_response("describe_db_instances", {"DBInstances": []},
                     {"Filters": [{"Name": "db-instance-id", "Values": names[:100]}]})
    rds.add_response("describe_db_instances", {"DBInstances": []},
                     {"Filters": [{"Name": "db-instance-id", "Values": names[100:]}]})
    result = run({"db_instance_identifiers": names}, capsys)
    assert aws.requests == ["DescribeDBInstances", "DescribeDBInstances"]
    assert result["databases"] == []
    assert result["not_found"]["db_instance_identifiers"] == names


def test_only_clusters_asked_reads_no_instances(aws, capsys):
    rds = aws.stubber("rds")
    rds.add_response(
        "describe_db_clusters",
        {"DBClusters": [cluster("aurora-1", CustomEndpoints=["reports.cluster-custom-abcdefghijkl.us-west-2.rds.amazonaws.com"])]},
        {"Filters": [{"Name": "db-cluster-id", "Values": ["aurora-1"]}]},
    )
    rds.add_client_error("describe_db_cluster_parameters", "DBParameterGroupNotFound", "not found: aurora-mysql8-tls", 404)
    rds.add_response(
        "describe_db_cluster_endpoints",
        {"DBClusterEndpoints": [{
            "DBClusterEndpointIdentifier": "reports",
            "DBClusterIdentifier": "aurora-1",
            "Endpoint": "reports.cluster-custom-abcdefghijkl.us-west-2.rds.amazonaws.com",
            "EndpointType": "CUSTOM",
            "CustomEndpointType": "READER",
        }]},
        {"Filters": [{"Name": "db-cluster-endpoint-type", "Values": ["custom"]}]},
    )
    rds.add_response("describe_blue_green_deployments", {"BlueGreenDeployments": []}, {})
    result = run({"db_cluster_identifiers": ["aurora-1"]}, capsys)
    assert aws.requests == ["DescribeDBClusters", "DescribeDBClusterParameters", "DescribeDBClusterEndpoints",
                            "DescribeBlueGreenDeployments"]
    (only,) = result["databases"]
    assert only["custom_endpoints"] == [{
        "name": "reports",
        "address": "reports.cluster-custom-abcdefghijkl.us-west-2.rds.amazonaws.com",
        "port": 3306,
        "type": "READER",
    }]
    assert only["tls"] == {"parameter": "require_secure_transport", "value": None, "enforced": None}
    assert "aurora-mysql8-tls" in str(result["warnings"])


def test_engine_without_tls_parameter_and_unset_parameter(aws, capsys):
    rds = aws.stubber("rds")
    rds.add_response(
        "describe_db_instances",
        {"DBInstances": [instance("ora", engine="oracle-ee", group="default.oracle-ee-19"),
                         instance("maria", engine="mariadb", group="default.mariadb10.11")]},
        None,
    )
    rds.add_response("describe_db_parameters", parameters(("max_connections", "10")), {"DBParameterGroupName": "default.mariadb10.11"})
    rds.add_response("describe_blue_green_deployments", {"BlueGreenDeployments": []}, {})
    result = run({"db_instance_identifiers": ["ora", "maria"]}, capsys)
    ora, maria = result["databases"]
    assert ora["tls"] == {"parameter": None, "value": None, "enforced": None}
    assert maria["tls"] == {"parameter": "require_secure_transport", "value": None, "enforced": None}
    assert aws.requests == ["DescribeDBInstances", "DescribeDBParameters", "DescribeBlueGreenDeployments"]
    assert ora["blue_green"] is None and maria["blue_green"] is None


def deployment(source, target, status="AVAILABLE", kind="db"):
    return {
        "BlueGreenDeploymentIdentifier": "bgd-%s" % source,
        "BlueGreenDeploymentName": "%s-upgrade" % source,
        "Source": "arn:aws:rds:%s:%s:%s:%s" % (REGION, ACCOUNT, kind, source),
        "Target": "arn:aws:rds:%s:%s:%s:%s" % (REGION, ACCOUNT, kind, target),
        "Status": status,
    }


def test_blue_green_deployment_of_a_database_with_the_green_resource_id(aws, capsys):
    rds = aws.stubber("rds")
    rds.add_response("describe_db_instances", {"DBInstances": [instance("app-1", DBParameterGroups=[])]},
                     {"Filters": [{"Name": "db-instance-id", "Values": ["app-1"]}]})
    other = deployment("other-db", "other-db-green-zzzzzz")
    rds.add_response("describe_blue_green_deployments",
                     {"BlueGreenDeployments": [other, deployment("app-1", "app-1-green-abcdef")]}, {})
    # one read of the members of the deployments that concern the databases asked for (not other-db's)
    rds.add_response("describe_db_instances", {"DBInstances": [instance("app-1"), instance("app-1-green-abcdef")]},
                     {"Filters": [{"Name": "db-instance-id", "Values": ["app-1", "app-1-green-abcdef"]}]})
    result = run({"db_instance_identifiers": ["app-1"]}, capsys)
    assert aws.requests == ["DescribeDBInstances", "DescribeBlueGreenDeployments", "DescribeDBInstances"]
    (app,) = result["databases"]
    assert app["blue_green"] == {
        "identifier": "bgd-app-1", "name": "app-1-upgrade", "status": "AVAILABLE", "status_details": None,
        "switched_over": False, "role": "source",
        "source": {"kind": "instance", "identifier": "app-1", "arn": app["arn"], "resource_id": app["resource_id"]},
        "target": {"kind": "instance", "identifier": "app-1-green-abcdef",
                   "arn": "arn:aws:rds:%s:%s:db:app-1-green-abcdef" % (REGION, ACCOUNT),
                   "resource_id": instance("app-1-green-abcdef")["DbiResourceId"]},
    }
    assert app["blue_green"]["target"]["resource_id"] != app["resource_id"]


def test_blue_green_not_readable_is_a_warning_not_a_failure(aws, capsys):
    rds = aws.stubber("rds")
    rds.add_response("describe_db_instances", {"DBInstances": [instance("app-1", DBParameterGroups=[])]}, None)
    rds.add_client_error("describe_blue_green_deployments", "AccessDenied", "not authorized", 403)
    result = run({"db_instance_identifiers": ["app-1"]}, capsys)
    assert "failed" not in result
    assert result["databases"][0]["blue_green"] is None
    assert "rds:DescribeBlueGreenDeployments" in str(result["warnings"])


def test_describe_error_fails_with_the_aws_message(aws, capsys):
    aws.stubber("rds").add_client_error("describe_db_instances", "AccessDenied", "not authorized to DescribeDBInstances", 403)
    result = run({"db_instance_identifiers": ["app-1"]}, capsys)
    assert result["failed"] is True
    assert result["msg"].startswith("Failed to describe the DB instances: ")
    assert "not authorized to DescribeDBInstances" in result["msg"]


@pytest.mark.parametrize(
    "arn, prefix",
    [
        ("arn:aws-cn:rds:cn-north-1:111122223333:db:x", "arn:aws-cn:rds-db:cn-north-1:111122223333:dbuser:db-X"),
        ("arn:aws-us-gov:rds:us-gov-west-1:111122223333:db:x", "arn:aws-us-gov:rds-db:us-gov-west-1:111122223333:dbuser:db-X"),
        ("not-an-arn", None),
        (None, None),
    ],
)
def test_resource_arn_prefix_from_the_arn(arn, prefix):
    assert _rds_databases.resource_arn_prefix(arn, "db-X", region="eu-west-1") == prefix


def test_unchanged_records_are_not_mutated():
    record = cluster("c1")
    before = copy.deepcopy(record)
    _rds_databases.info("cluster", record, {"parameter": None, "value": None, "enforced": None}, {})
    assert record == before
