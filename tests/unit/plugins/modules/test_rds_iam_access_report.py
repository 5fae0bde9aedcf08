# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests of the rds_iam_access_report module against botocore's Stubber (aws_stubs, a client per service and
Region): a data model with a same-Region replica, a cross-Region one and a global secondary is read with one read of
the other Region, its members are rows of the matrix with their Region, a grant on a member's id that no longer
exists is stale_resource_id, and bad replicas are refused before any call."""

from __future__ import annotations

import datetime
import json
from urllib.parse import quote

import pytest

from ansible_collections.dbauth.rds_iam.plugins.modules import rds_iam_access_report
from ansible_collections.dbauth.rds_iam.tests.unit.plugins.modules.aws_stubs import ACCOUNT
from ansible_collections.dbauth.rds_iam.tests.unit.plugins.modules.aws_stubs import REGION
from ansible_collections.dbauth.rds_iam.tests.unit.plugins.modules.aws_stubs import run_module

pytestmark = pytest.mark.usefixtures("clean_env")

OTHER = "eu-west-1"
NOW = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)


def instance(name, region, resource_id, replicas=()):
    return {"DBInstanceIdentifier": name, "DbiResourceId": resource_id, "Engine": "postgres", "EngineVersion": "16.4",
            "DBInstanceStatus": "available", "DBInstanceArn": "arn:aws:rds:%s:%s:db:%s" % (region, ACCOUNT, name),
            "Endpoint": {"Address": "%s.abc.%s.rds.amazonaws.com" % (name, region), "Port": 5432},
            "IAMDatabaseAuthenticationEnabled": True, "ReadReplicaDBInstanceIdentifiers": list(replicas)}


def cluster(name, region, resource_id):
    return {"DBClusterIdentifier": name, "DbClusterResourceId": resource_id, "Engine": "aurora-postgresql",
            "EngineVersion": "16.4", "Status": "available", "Port": 5432, "IAMDatabaseAuthenticationEnabled": True,
            "DBClusterArn": "arn:aws:rds:%s:%s:cluster:%s" % (region, ACCOUNT, name),
            "Endpoint": "%s.cluster-abc.%s.rds.amazonaws.com" % (name, region)}


def dbuser(region, resource_id, user="app"):
    return "arn:aws:rds-db:%s:%s:dbuser:%s/%s" % (region, ACCOUNT, resource_id, user)


def stub_aws(aws, resources):
    home = aws.stubber("rds")
    home.add_response("describe_db_instances", {"DBInstances": [
        instance("orders", REGION, "db-ORDERS", replicas=["orders-ro", "arn:aws:rds:%s:%s:db:orders-eu" % (OTHER, ACCOUNT)]),
        instance("orders-ro", REGION, "db-ORDERSRO")]})
    home.add_response("describe_db_clusters", {"DBClusters": [cluster("aurora-1", REGION, "cluster-AURORA")]})
    home.add_response("describe_blue_green_deployments", {"BlueGreenDeployments": []})
    other = aws.stubber("rds", OTHER)
    other.add_response("describe_db_instances", {"DBInstances": [instance("orders-eu", OTHER, "db-ORDERSEU")]})
    other.add_response("describe_db_clusters", {"DBClusters": [cluster("aurora-1-eu", OTHER, "cluster-AURORAEU")]})
    document = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "rds-db:connect", "Resource": resources}]}
    aws.stubber("iam").add_response("get_account_authorization_details", {
        "UserDetailList": [], "GroupDetailList": [], "Policies": [], "IsTruncated": False,
        "RoleDetailList": [{"RoleName": "app-role", "RoleId": "AROAAPPROLEXXXXXXXXX", "Path": "/", "CreateDate": NOW,
                            "Arn": "arn:aws:iam::%s:role/app-role" % ACCOUNT, "AttachedManagedPolicies": [],
                            "RolePolicyList": [{"PolicyName": "connect", "PolicyDocument": quote(json.dumps(document))}]}]})


MODEL = [
    {"db_instance_identifier": "orders", "engine": "postgres", "replicas": "discover",
     "users": [{"name": "app", "principals": ["app-role"]}]},
    {"db_cluster_identifier": "aurora-1", "engine": "postgres", "users": [{"name": "app", "principals": ["app-role"]}],
     "secondaries": [{"db_cluster_identifier": "aurora-1-eu", "region": OTHER}]},
]
GRANTS = [dbuser(REGION, "db-ORDERS"), dbuser(REGION, "db-ORDERSRO"), dbuser(OTHER, "db-ORDERSEU"),
          dbuser(REGION, "cluster-AURORA"), dbuser(OTHER, "cluster-AURORAEU")]


def test_members_in_their_own_region_and_no_finding(aws, capsys):
    stub_aws(aws, GRANTS)
    result = run_module(rds_iam_access_report.main, {"databases": MODEL, "principals": ["app-role"]}, capsys)
    assert result["findings"] == []
    assert [(r["database"], r["region"], r["member_of"], r["allowed"]) for r in result["matrix"]] == [
        ("aurora-1", REGION, None, True), ("aurora-1-eu", OTHER, "aurora-1", True), ("orders", REGION, None, True),
        ("orders-eu", OTHER, "orders", True), ("orders-ro", REGION, "orders", True)]
    assert [(d["id"], d["member_role"]) for d in result["databases"]] == [
        ("orders", None), ("orders-ro", "replica"), ("orders-eu", "replica"), ("aurora-1", None), ("aurora-1-eu", "secondary")]
    # one client in the other Region, for two members there, and one read of each Region
    assert aws.regions == [("rds", REGION), ("iam", REGION), ("rds", OTHER)]
    assert aws.requests == ["DescribeDBInstances", "DescribeDBClusters", "DescribeDBInstances", "DescribeDBClusters",
                            "DescribeBlueGreenDeployments", "GetAccountAuthorizationDetails"]


def test_a_grant_on_a_member_id_that_no_longer_exists_is_stale(aws, capsys):
    gone = dbuser(OTHER, "db-ORDERSEUOLD")
    stub_aws(aws, GRANTS + [gone])
    result = run_module(rds_iam_access_report.main, {"databases": MODEL, "principals": ["app-role"]}, capsys)
    assert [(f["code"], f["objects"]["resource"]) for f in result["findings"]] == [("stale_resource_id", gone)]


@pytest.mark.parametrize("replicas, error", [
    ("all", "replicas: give discover or a list of {db_instance_identifier, region}, not 'all'."),
    ([{"region": OTHER}], "replicas: [0]: give db_instance_identifier (and region for a replica in another Region)."),
    ([{"db_instance_identifier": "r", "zone": "a"}], "replicas: [0]: only db_instance_identifier and region (a Region "
                                                     "name) are known, not zone."),
])
def test_bad_replicas_are_refused_before_any_call(aws, capsys, replicas, error):
    model = [dict(MODEL[0], replicas=replicas)]
    result = run_module(rds_iam_access_report.main, {"databases": model}, capsys)
    assert result["failed"] and result["msg"] == "databases[0] (orders): " + error
    assert aws.regions == [] and aws.requests == []
