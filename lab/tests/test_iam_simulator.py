"""iam:SimulatePrincipalPolicy and iam:SimulateCustomPolicy served by the lab's moto (IAM API
reference), through boto3 as any AWS client calls them."""

from __future__ import annotations

import json
import uuid

import pytest
from botocore.exceptions import ClientError

from rds_iam_lab import moto_patches

RESOURCE = "arn:aws:rds-db:us-east-1:{account}:dbuser:db-ABCDEFGHIJKLMNOPQRSTUVWXYZ/app"
CONNECT = "rds-db:connect"


def _doc(*statements):
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def _allow(resource="*", action=CONNECT, effect="Allow", **extra):
    statement = {"Effect": effect, "Action": action, "Resource": resource}
    statement.update(extra)
    return statement


@pytest.fixture
def iam(lab_control_plane):
    return lab_control_plane.client("iam")


@pytest.fixture
def resource(lab_control_plane):
    return RESOURCE.format(account=lab_control_plane.account_id)


def _role(iam, path="/", inline=None, managed=None, boundary=None):
    name = "sim-role-" + uuid.uuid4().hex[:8]
    trust = _doc({"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"})
    kwargs = {}
    if boundary:
        kwargs["PermissionsBoundary"] = iam.create_policy(PolicyName=name + "-boundary",
                                                          PolicyDocument=boundary)["Policy"]["Arn"]
    arn = iam.create_role(RoleName=name, Path=path, AssumeRolePolicyDocument=trust, **kwargs)["Role"]["Arn"]
    if inline:
        iam.put_role_policy(RoleName=name, PolicyName="inline", PolicyDocument=inline)
    if managed:
        parn = iam.create_policy(PolicyName=name + "-managed", PolicyDocument=managed)["Policy"]["Arn"]
        iam.attach_role_policy(RoleName=name, PolicyArn=parn)
    return name, arn


def _simulate(iam, arn, resource, **extra):
    result = iam.simulate_principal_policy(PolicySourceArn=arn, ActionNames=[CONNECT], ResourceArns=[resource],
                                           **extra)
    assert len(result["EvaluationResults"]) == 1
    return result["EvaluationResults"][0]


def test_allowed_names_the_matched_statement(iam, resource):
    name, arn = _role(iam, inline=_doc(_allow(resource)))
    result = _simulate(iam, arn, resource)
    assert result["EvalActionName"] == CONNECT and result["EvalResourceName"] == resource
    assert result["EvalDecision"] == "allowed"
    assert result["MatchedStatements"] == [{"SourcePolicyId": "inline", "SourcePolicyType": "role"}]


def test_explicit_deny_beats_allow(iam, resource):
    _name, arn = _role(iam, inline=_doc(_allow("*")), managed=_doc(_allow(resource, effect="Deny")))
    result = _simulate(iam, arn, resource)
    assert result["EvalDecision"] == "explicitDeny"
    assert [m["SourcePolicyType"] for m in result["MatchedStatements"]] == ["user-managed"]


def test_implicit_deny_without_an_allow(iam, resource):
    _name, arn = _role(iam, inline=_doc(_allow(resource.replace("/app", "/other"))))
    result = _simulate(iam, arn, resource)
    assert result["EvalDecision"] == "implicitDeny" and not result.get("MatchedStatements")


def test_permissions_boundary_of_the_role_and_of_the_request(iam, resource):
    _name, arn = _role(iam, inline=_doc(_allow("*")), boundary=_doc(_allow("*", action="s3:*")))
    assert _simulate(iam, arn, resource)["EvalDecision"] == "implicitDeny"
    # PermissionsBoundaryPolicyInputList replaces the entity's boundary (API reference).
    replaced = _simulate(iam, arn, resource, PermissionsBoundaryPolicyInputList=[_doc(_allow("*"))])
    assert replaced["EvalDecision"] == "allowed"
    with pytest.raises(ClientError) as err:
        _simulate(iam, arn, resource, PermissionsBoundaryPolicyInputList=[_doc(_allow()), _doc(_allow())])
    assert err.value.response["Error"]["Code"] == "InvalidInput"


def test_user_simulation_covers_its_groups(iam, resource):
    user = "sim-user-" + uuid.uuid4().hex[:8]
    arn = iam.create_user(UserName=user, Path="/team/")["User"]["Arn"]
    assert arn.endswith(":user/team/" + user)
    assert _simulate(iam, arn, resource)["EvalDecision"] == "implicitDeny"
    group = "sim-group-" + uuid.uuid4().hex[:8]
    iam.create_group(GroupName=group)
    iam.put_group_policy(GroupName=group, PolicyName="g", PolicyDocument=_doc(_allow(resource)))
    iam.add_user_to_group(GroupName=group, UserName=user)
    result = _simulate(iam, arn, resource)
    assert result["EvalDecision"] == "allowed"
    assert result["MatchedStatements"] == [{"SourcePolicyId": "g", "SourcePolicyType": "group"}]


def test_context_entries_and_missing_context_values(iam, resource):
    tagged = _doc(_allow(resource, Condition={"StringEquals": {"aws:PrincipalTag/team": "db"}}))
    _name, arn = _role(iam, inline=tagged)
    missing = _simulate(iam, arn, resource)
    assert missing["EvalDecision"] == "implicitDeny"
    assert missing["MissingContextValues"] == ["aws:PrincipalTag/team"]
    given = _simulate(iam, arn, resource, ContextEntries=[
        {"ContextKeyName": "aws:PrincipalTag/team", "ContextKeyValues": ["db"], "ContextKeyType": "string"}])
    assert given["EvalDecision"] == "allowed" and not given.get("MissingContextValues")
    with pytest.raises(ClientError) as err:
        _simulate(iam, arn, resource, ContextEntries=[
            {"ContextKeyName": "aws:PrincipalTag/team", "ContextKeyValues": ["a", "b"], "ContextKeyType": "string"}])
    assert err.value.response["Error"]["Code"] == "InvalidInput"


def test_role_arn_keeps_its_path(iam, resource):
    name, arn = _role(iam, path="/service/", inline=_doc(_allow(resource)))
    assert arn.endswith(f":role/service/{name}")
    assert _simulate(iam, arn, resource)["EvalDecision"] == "allowed"
    without_path = arn.replace("/service/", "/")
    with pytest.raises(ClientError) as err:
        _simulate(iam, without_path, resource)
    assert err.value.response["Error"]["Code"] == "NoSuchEntity"
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_no_such_entity_and_invalid_input(iam, lab_control_plane, resource):
    with pytest.raises(ClientError) as err:
        _simulate(iam, f"arn:aws:iam::{lab_control_plane.account_id}:role/no-such-role", resource)
    assert err.value.response["Error"]["Code"] == "NoSuchEntity"
    with pytest.raises(ClientError) as err:
        _simulate(iam, "arn:aws:s3:::a-bucket-not-an-entity", resource)
    assert err.value.response["Error"]["Code"] == "InvalidInput"


def test_pagination_with_max_items_and_marker(iam, resource):
    _name, arn = _role(iam, inline=_doc(_allow("*", action="*")))
    actions = [CONNECT, "s3:GetObject", "ec2:DescribeInstances"]
    first = iam.simulate_principal_policy(PolicySourceArn=arn, ActionNames=actions, MaxItems=2)
    assert first["IsTruncated"] is True and len(first["EvaluationResults"]) == 2
    rest = iam.simulate_principal_policy(PolicySourceArn=arn, ActionNames=actions, MaxItems=2, Marker=first["Marker"])
    assert rest["IsTruncated"] is False
    names = [r["EvalActionName"] for r in first["EvaluationResults"] + rest["EvaluationResults"]]
    assert names == actions
    assert all(r["EvalResourceName"] == "*" for r in rest["EvaluationResults"])
    paged = iam.get_paginator("simulate_principal_policy").paginate(
        PolicySourceArn=arn, ActionNames=actions, PaginationConfig={"PageSize": 1})
    assert [r["EvalActionName"] for page in paged for r in page["EvaluationResults"]] == actions


def test_simulate_custom_policy(iam, resource):
    result = iam.simulate_custom_policy(PolicyInputList=[_doc(_allow(resource))], ActionNames=[CONNECT],
                                        ResourceArns=[resource, resource + "x"])["EvaluationResults"]
    assert [r["EvalDecision"] for r in result] == ["allowed", "implicitDeny"]
    assert result[0]["MatchedStatements"][0]["SourcePolicyId"] == "PolicyInputList.1"
    bounded = iam.simulate_custom_policy(PolicyInputList=[_doc(_allow(resource))], ActionNames=[CONNECT],
                                         PermissionsBoundaryPolicyInputList=[_doc(_allow("*", action="s3:*"))],
                                         ResourceArns=[resource])["EvaluationResults"][0]
    assert bounded["EvalDecision"] == "implicitDeny"
    with pytest.raises(ClientError) as err:
        iam.simulate_custom_policy(PolicyInputList=["{not json"], ActionNames=[CONNECT])
    assert err.value.response["Error"]["Code"] == "InvalidInput"


def test_the_caller_needs_permission_to_simulate(lab_control_plane, lab_iam, resource):
    _name, arn = _role(lab_control_plane.client("iam"), inline=_doc(_allow(resource)))
    plain = lab_iam.user()
    client = lab_control_plane.client("iam", plain.access_key, plain.secret_key)
    with pytest.raises(ClientError) as err:
        client.simulate_principal_policy(PolicySourceArn=arn, ActionNames=[CONNECT])
    assert err.value.response["Error"]["Code"] == "AccessDenied"
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    allowed = lab_iam.user(_doc(_allow(arn, action="iam:SimulatePrincipalPolicy")))
    client = lab_control_plane.client("iam", allowed.access_key, allowed.secret_key)
    assert client.simulate_principal_policy(PolicySourceArn=arn, ActionNames=[CONNECT],
                                            ResourceArns=[resource])["EvaluationResults"][0]["EvalDecision"] == "allowed"
    with pytest.raises(ClientError) as err:
        client.simulate_custom_policy(PolicyInputList=[_doc(_allow())], ActionNames=[CONNECT])
    assert err.value.response["Error"]["Code"] == "AccessDenied"


def test_stock_moto_has_no_simulator(iam, resource):
    _name, arn = _role(iam, inline=_doc(_allow(resource)))
    with moto_patches.disabled("iam_policy_simulator"):
        with pytest.raises(Exception):
            iam.simulate_principal_policy(PolicySourceArn=arn, ActionNames=[CONNECT])


def test_a_role_session_at_a_path_may_simulate_itself(lab_control_plane, lab_iam, resource):
    """The caller's aws:PrincipalArn is its role's ARN with the IAM path (as the product's diagnosis asks)."""
    iam = lab_control_plane.client("iam")
    name, arn = _role(iam, path="/service/", inline=_doc(
        _allow(resource, effect="Deny"),
        _allow("*", action="iam:SimulatePrincipalPolicy",
               Condition={"ArnEquals": {"aws:PrincipalArn": f"arn:aws:iam::{lab_control_plane.account_id}:role/service/*"}})))
    iam.update_assume_role_policy(RoleName=name, PolicyDocument=_doc({
        "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{lab_control_plane.account_id}:root"},
        "Action": "sts:AssumeRole"}))
    session = lab_iam.assume(arn)
    assert session.arn.endswith(f":assumed-role/{name}/" + session.arn.rsplit("/", 1)[-1])
    client = lab_control_plane.client("iam", session.access_key, session.secret_key, session.session_token)
    result = client.simulate_principal_policy(PolicySourceArn=arn, ActionNames=[CONNECT], ResourceArns=[resource])
    assert result["EvaluationResults"][0]["EvalDecision"] == "explicitDeny"
