# -*- coding: utf-8 -*-
# Copyright: (c) 2026, dbauth.rds_iam developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import json

import botocore.session
import pytest
from botocore.stub import Stubber

from ansible_collections.dbauth.rds_iam.plugins.module_utils import _verify_identity

NOW = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)


def client(service):
    session = botocore.session.Session()
    return session.create_client(service, region_name="eu-west-1", aws_access_key_id="AKIDEXAMPLE",
                                 aws_secret_access_key="not-a-secret")


def doc(resource, effect="Allow"):
    return {"Version": "2012-10-17", "Statement": [{"Effect": effect, "Action": "rds-db:connect", "Resource": resource}]}


@pytest.mark.parametrize("arn, expected", [
    ("arn:aws:sts::123456789012:assumed-role/app-role/i-0abc", ("role", "app-role", "aws", "123456789012")),
    ("arn:aws:iam::123456789012:user/path/to/bob", ("user", "bob", "aws", "123456789012")),
    ("arn:aws-cn:iam::123456789012:root", ("root", None, "aws-cn", "123456789012")),
    ("arn:aws:sts::123456789012:federated-user/x", ("other", None, "aws", "123456789012")),
    ("garbage", ("other", None, "aws", None)),
])
def test_principal_of(arn, expected):
    assert _verify_identity.principal_of(arn) == expected


def test_collect_role_policies_inline_attached_and_boundary():
    iam = client("iam")
    role_arn = "arn:aws:iam::123456789012:role/app-role"
    boundary_arn = "arn:aws:iam::123456789012:policy/boundary"
    managed_arn = "arn:aws:iam::123456789012:policy/db"
    with Stubber(iam) as stub:
        stub.add_response("get_role", {"Role": {"Path": "/", "RoleName": "app-role", "RoleId": "AROAEXAMPLEEXAMPLE1",
                                                "Arn": role_arn, "CreateDate": NOW,
                                                "PermissionsBoundary": {"PermissionsBoundaryType": "Policy",
                                                                        "PermissionsBoundaryArn": boundary_arn}}},
                          {"RoleName": "app-role"})
        stub.add_response("list_role_policies", {"PolicyNames": ["inline1"], "IsTruncated": True, "Marker": "m1"},
                          {"RoleName": "app-role"})
        stub.add_response("list_role_policies", {"PolicyNames": ["inline2"], "IsTruncated": False},
                          {"RoleName": "app-role", "Marker": "m1"})
        stub.add_response("get_role_policy", {"RoleName": "app-role", "PolicyName": "inline1",
                                              "PolicyDocument": json.dumps(doc("arn:x/1"))},
                          {"RoleName": "app-role", "PolicyName": "inline1"})
        stub.add_response("get_role_policy", {"RoleName": "app-role", "PolicyName": "inline2",
                                              "PolicyDocument": "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%5D%7D"},
                          {"RoleName": "app-role", "PolicyName": "inline2"})
        stub.add_response("list_attached_role_policies", {"AttachedPolicies": [{"PolicyName": "db", "PolicyArn": managed_arn}],
                                                          "IsTruncated": False}, {"RoleName": "app-role"})
        for arn, document in ((managed_arn, doc("arn:x/2")), (boundary_arn, doc("*"))):
            stub.add_response("get_policy", {"Policy": {"Arn": arn, "DefaultVersionId": "v3"}}, {"PolicyArn": arn})
            stub.add_response("get_policy_version", {"PolicyVersion": {"Document": json.dumps(document), "VersionId": "v3"}},
                              {"PolicyArn": arn, "VersionId": "v3"})
        policies, boundary, entity_arn = _verify_identity.collect_policies(iam, "role", "app-role")
        stub.assert_no_pending_responses()
    assert [p[0] for p in policies] == ["role app-role inline policy inline1", "role app-role inline policy inline2",
                                        managed_arn]
    assert policies[0][1] == doc("arn:x/1")
    assert policies[1][1] == {"Version": "2012-10-17", "Statement": []}
    assert policies[2][1] == doc("arn:x/2")
    assert boundary == (boundary_arn, doc("*"))
    assert entity_arn == role_arn


def test_collect_user_policies_include_its_groups():
    iam = client("iam")
    user_arn = "arn:aws:iam::123456789012:user/bob"
    user_managed = "arn:aws:iam::123456789012:policy/user-db"
    group_managed = "arn:aws:iam::123456789012:policy/group-db"
    with Stubber(iam) as stub:
        stub.add_response("get_user", {"User": {"Path": "/", "UserName": "bob", "UserId": "AIDAEXAMPLEEXAMPLE1",
                                                "Arn": user_arn, "CreateDate": NOW}}, {"UserName": "bob"})
        stub.add_response("list_user_policies", {"PolicyNames": ["own"], "IsTruncated": False}, {"UserName": "bob"})
        stub.add_response("get_user_policy", {"UserName": "bob", "PolicyName": "own",
                                              "PolicyDocument": json.dumps(doc("arn:x/user"))},
                          {"UserName": "bob", "PolicyName": "own"})
        stub.add_response("list_attached_user_policies",
                          {"AttachedPolicies": [{"PolicyName": "user-db", "PolicyArn": user_managed}], "IsTruncated": False},
                          {"UserName": "bob"})
        stub.add_response("get_policy", {"Policy": {"Arn": user_managed, "DefaultVersionId": "v1"}},
                          {"PolicyArn": user_managed})
        stub.add_response("get_policy_version", {"PolicyVersion": {"Document": json.dumps(doc("arn:x/um")), "VersionId": "v1"}},
                          {"PolicyArn": user_managed, "VersionId": "v1"})
        stub.add_response("list_groups_for_user",
                          {"Groups": [{"Path": "/", "GroupName": "dba", "GroupId": "AGPAEXAMPLEEXAMPLE1",
                                       "Arn": "arn:aws:iam::123456789012:group/dba", "CreateDate": NOW}],
                           "IsTruncated": False}, {"UserName": "bob"})
        stub.add_response("list_group_policies", {"PolicyNames": ["team"], "IsTruncated": False}, {"GroupName": "dba"})
        stub.add_response("get_group_policy", {"GroupName": "dba", "PolicyName": "team",
                                               "PolicyDocument": json.dumps(doc("arn:x/group"))},
                          {"GroupName": "dba", "PolicyName": "team"})
        stub.add_response("list_attached_group_policies",
                          {"AttachedPolicies": [{"PolicyName": "group-db", "PolicyArn": group_managed}], "IsTruncated": False},
                          {"GroupName": "dba"})
        stub.add_response("get_policy", {"Policy": {"Arn": group_managed, "DefaultVersionId": "v2"}},
                          {"PolicyArn": group_managed})
        stub.add_response("get_policy_version", {"PolicyVersion": {"Document": json.dumps(doc("arn:x/gm")), "VersionId": "v2"}},
                          {"PolicyArn": group_managed, "VersionId": "v2"})
        policies, boundary, entity_arn = _verify_identity.collect_policies(iam, "user", "bob")
        stub.assert_no_pending_responses()
    assert policies == [("user bob inline policy own", doc("arn:x/user")), (user_managed, doc("arn:x/um")),
                        ("group dba inline policy team", doc("arn:x/group")), (group_managed, doc("arn:x/gm"))]
    assert boundary is None
    assert entity_arn == user_arn


def test_read_errors_carry_the_aws_code():
    sts = client("sts")
    with Stubber(sts) as stub:
        stub.add_client_error("get_caller_identity", service_error_code="ExpiredToken",
                              service_message="The security token included in the request is expired")
        with pytest.raises(_verify_identity.AwsReadError) as err:
            _verify_identity.caller_identity(sts)
    assert err.value.code == "ExpiredToken"
    assert "expired" in str(err.value)


def instance(identifier, address, port, iam, cluster=None, resource_id="db-ABC"):
    db = {"DBInstanceIdentifier": identifier, "DbiResourceId": resource_id, "Engine": "postgres",
          "DBInstanceStatus": "available", "IAMDatabaseAuthenticationEnabled": iam,
          "DBInstanceArn": "arn:aws:rds:eu-west-1:123456789012:db:%s" % identifier,
          "Endpoint": {"Address": address, "Port": port}}
    if cluster:
        db["DBClusterIdentifier"] = cluster
    return db


def cluster(identifier, iam):
    return {"DBClusterIdentifier": identifier, "DbClusterResourceId": "cluster-XYZ", "Engine": "aurora-postgresql",
            "Status": "available", "IAMDatabaseAuthenticationEnabled": iam, "Port": 5432,
            "Endpoint": "c.cluster-x.eu-west-1.rds.amazonaws.com",
            "ReaderEndpoint": "c.cluster-ro-x.eu-west-1.rds.amazonaws.com",
            "DBClusterArn": "arn:aws:rds:eu-west-1:123456789012:cluster:%s" % identifier}


def test_find_database_by_endpoint_instance():
    rds = client("rds")
    with Stubber(rds) as stub:
        stub.add_response("describe_db_clusters", {"DBClusters": [cluster("c", True)]}, {})
        stub.add_response("describe_db_instances", {"DBInstances": [instance("other", "o.x", 5432, True)], "Marker": "n"}, {})
        stub.add_response("describe_db_instances", {"DBInstances": [instance("db1", "DB1.x", 5432, False)]}, {"Marker": "n"})
        db = _verify_identity.find_database(rds, "db1.x.", 5432)
    assert db == {"kind": "instance", "identifier": "db1", "resource_id": "db-ABC", "iam_enabled": False,
                  "engine": "postgres", "status": "available", "partition": "aws", "region": "eu-west-1",
                  "account": "123456789012", "pending_iam": None}


def test_find_database_by_cluster_reader_endpoint_and_member_resolves_to_cluster():
    rds = client("rds")
    with Stubber(rds) as stub:
        stub.add_response("describe_db_clusters", {"DBClusters": [cluster("c", True)]}, {})
        db = _verify_identity.find_database(rds, "c.cluster-ro-x.eu-west-1.rds.amazonaws.com", 5432)
    assert db["kind"] == "cluster" and db["resource_id"] == "cluster-XYZ" and db["iam_enabled"] is True
    with Stubber(rds) as stub:
        stub.add_response("describe_db_instances", {"DBInstances": [instance("c-1", "m.x", 5432, False, cluster="c")]},
                          {"DBInstanceIdentifier": "c-1"})
        stub.add_response("describe_db_clusters", {"DBClusters": [cluster("c", True)]}, {"DBClusterIdentifier": "c"})
        db = _verify_identity.describe_instance(rds, "c-1")
    assert db["kind"] == "cluster" and db["identifier"] == "c"


def test_find_database_none():
    rds = client("rds")
    with Stubber(rds) as stub:
        stub.add_response("describe_db_clusters", {"DBClusters": []}, {})
        stub.add_response("describe_db_instances", {"DBInstances": []}, {})
        assert _verify_identity.find_database(rds, "nowhere", 1) is None


@pytest.mark.parametrize("caller, entity, expected", [
    ("arn:aws:sts::123456789012:assumed-role/app-role/i-0abc", {"Arn": "arn:aws:iam::123456789012:role/service/app-role"},
     "arn:aws:iam::123456789012:role/service/app-role"),
    ("arn:aws:iam::123456789012:user/path/to/bob", None, "arn:aws:iam::123456789012:user/path/to/bob"),
    ("arn:aws:sts::123456789012:assumed-role/app-role/i-0abc", None, "arn:aws:iam::123456789012:role/app-role"),
    ("arn:aws:sts::123456789012:federated-user/x", None, None),
])
def test_principal_source_arn_keeps_the_iam_path(caller, entity, expected):
    assert _verify_identity.principal_source_arn(caller, entity) == expected


def test_simulate_returns_decision_matched_statements_and_missing_keys():
    iam = client("iam")
    resource = "arn:aws:rds-db:eu-west-1:123456789012:dbuser:db-ABC/app"
    source = "arn:aws:iam::123456789012:role/service/app-role"
    with Stubber(iam) as stub:
        stub.add_response("simulate_principal_policy", {"EvaluationResults": [{
            "EvalActionName": "rds-db:connect", "EvalResourceName": resource, "EvalDecision": "explicitDeny",
            "MatchedStatements": [{"SourcePolicyId": "deny-db", "SourcePolicyType": "role"}],
            "MissingContextValues": ["aws:PrincipalTag/team"]}]}, {
            "PolicySourceArn": source, "ActionNames": ["rds-db:connect"], "ResourceArns": [resource],
            "ContextEntries": [
                {"ContextKeyName": "aws:EpochTime", "ContextKeyValues": ["1"], "ContextKeyType": "numeric"},
                {"ContextKeyName": "aws:PrincipalArn", "ContextKeyValues": [source], "ContextKeyType": "string"}]})
        result = _verify_identity.simulate(iam, source, "rds-db:connect", resource,
                                           {"aws:PrincipalArn": source, "aws:EpochTime": "1"})
        stub.assert_no_pending_responses()
    assert result == {"decision": "explicitDeny", "matched": ["deny-db"], "missing": ["aws:PrincipalTag/team"]}


def test_an_unparsable_response_is_a_failed_read_not_a_crash():
    from botocore.parsers import ResponseParserError

    def answer_with_an_error_page():
        raise ResponseParserError("Unable to parse response (syntax error), invalid XML received.\nb'<!doctype html>'")

    with pytest.raises(_verify_identity.AwsReadError) as error:
        _verify_identity._call("iam:SimulatePrincipalPolicy", answer_with_an_error_page)
    assert error.value.code == "ResponseParserError"
    assert "doctype" not in str(error.value)
