"""The request context the verifier builds for rds-db:connect, and the policy types it combines.

IAM user guide, "AWS global condition context keys": aws:PrincipalArn (with the IAM path),
aws:PrincipalAccount, aws:PrincipalType, aws:userid, aws:username (IAM users only),
aws:PrincipalTag/KEY, aws:CurrentTime, aws:EpochTime, aws:SecureTransport. Each key is
checked through a policy condition that only holds when the verifier put the right value
there; the last tests check permissions boundaries and session policies end to end.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid

import pytest

from rds_iam_lab.control_plane import ControlPlane
from lab.tests.conftest import Creds
from rds_iam_lab.verifier import TokenVerifier, request_context

HOST = "127.0.0.1"
PG_PORT = 15432


@pytest.fixture(scope="module")
def postgres_rid(lab_control_plane: ControlPlane) -> str:
    rds = lab_control_plane.client("rds")
    rds.modify_db_instance(DBInstanceIdentifier="lab-postgres", EnableIAMDatabaseAuthentication=True,
                           ApplyImmediately=True)
    return next(d for d in lab_control_plane.databases() if d["id"] == "lab-postgres")["resource_id"]


@pytest.fixture
def verifier(lab_control_plane: ControlPlane, tmp_path) -> TokenVerifier:
    return TokenVerifier(lab_control_plane, log_path=tmp_path / "refusals.jsonl")


def _doc(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def _trust(cp: ControlPlane) -> str:
    return _doc({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{cp.account_id}:root"},
                 "Action": "sts:AssumeRole"})


def test_request_context_keys() -> None:
    now = dt.datetime(2026, 6, 1, 12, 0, 0, tzinfo=dt.timezone.utc).timestamp()
    context = request_context({"aws:PrincipalArn": "arn:aws:iam::1:role/a/b"}, [{"Key": "dbuser", "Value": "x"}], now)
    assert context == {"aws:PrincipalArn": "arn:aws:iam::1:role/a/b", "aws:PrincipalTag/dbuser": "x",
                       "aws:CurrentTime": "2026-06-01T12:00:00Z", "aws:EpochTime": "1780315200",
                       "aws:SecureTransport": "true"}


def test_user_context_with_path_and_tags(lab_control_plane, postgres_rid, verifier):
    cp = lab_control_plane
    iam = cp.client("iam")
    name = "ctx-user-" + uuid.uuid4().hex[:6]
    arn = iam.create_user(UserName=name, Path="/ops/dba/", Tags=[{"Key": "dbuser", "Value": "alice"}])["User"]["Arn"]
    assert arn.endswith(f":user/ops/dba/{name}")
    iam.put_user_policy(UserName=name, PolicyName="ctx", PolicyDocument=_doc({
        "Effect": "Allow", "Action": "rds-db:connect",
        "Resource": f"arn:aws:rds-db:{cp.region}:{cp.account_id}:dbuser:{postgres_rid}/${{aws:PrincipalTag/dbuser}}",
        "Condition": {
            "StringEquals": {"aws:username": name, "aws:PrincipalType": "User", "aws:PrincipalAccount": cp.account_id},
            "ArnEquals": {"aws:PrincipalArn": arn},
            "Bool": {"aws:SecureTransport": "true"},
            "DateGreaterThan": {"aws:CurrentTime": "2020-01-01T00:00:00Z"},
            "NumericGreaterThan": {"aws:EpochTime": "1577836800"},
            "Null": {"aws:userid": "false"},
        }}))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    creds = Creds(key["AccessKeyId"], key["SecretAccessKey"])
    decision = verifier.verify(creds.token(cp, HOST, PG_PORT, "alice"), "alice", "lab-postgres")
    assert decision.ok, decision.reason
    refused = verifier.verify(creds.token(cp, HOST, PG_PORT, "bob"), "bob", "lab-postgres")
    assert refused.code == "policy_implicit_deny"


def test_role_session_context_with_path_and_tags(lab_control_plane, postgres_rid, verifier):
    cp = lab_control_plane
    iam = cp.client("iam")
    name = "ctx-role-" + uuid.uuid4().hex[:6]
    role = iam.create_role(RoleName=name, Path="/app/team-a/", AssumeRolePolicyDocument=_trust(cp),
                           Tags=[{"Key": "dbuser", "Value": "app_user"}])["Role"]
    assert role["Arn"].endswith(f":role/app/team-a/{name}")
    iam.put_role_policy(RoleName=name, PolicyName="ctx", PolicyDocument=_doc({
        "Effect": "Allow", "Action": "rds-db:connect",
        "Resource": f"arn:aws:rds-db:{cp.region}:{cp.account_id}:dbuser:*/${{aws:PrincipalTag/dbuser}}",
        "Condition": {
            "ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/app/team-a/*"},
            "StringEquals": {"aws:PrincipalType": "AssumedRole"},
            "StringLike": {"aws:userid": f"{role['RoleId']}:ctx-*"},
            "Null": {"aws:username": "true"},
        }}))
    c = cp.client("sts").assume_role(RoleArn=role["Arn"], RoleSessionName="ctx-" + uuid.uuid4().hex[:6])["Credentials"]
    creds = Creds(c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"])
    decision = verifier.verify(creds.token(cp, HOST, PG_PORT, "app_user"), "app_user", "lab-postgres")
    assert decision.ok, decision.reason
    assert verifier.verify(creds.token(cp, HOST, PG_PORT, "other"), "other", "lab-postgres").code == \
        "policy_implicit_deny"


def test_permissions_boundary_and_session_policy(lab_control_plane, postgres_rid, verifier):
    cp = lab_control_plane
    iam = cp.client("iam")
    prefix = f"arn:aws:rds-db:{cp.region}:{cp.account_id}:dbuser:{postgres_rid}"
    boundary = iam.create_policy(PolicyName="ctx-pb-" + uuid.uuid4().hex[:6], PolicyDocument=_doc(
        {"Effect": "Allow", "Action": "rds-db:connect", "Resource": [f"{prefix}/alice", f"{prefix}/bob"]},
        {"Sid": "NoBob", "Effect": "Deny", "Action": "rds-db:connect", "Resource": f"{prefix}/bob"}))["Policy"]["Arn"]
    name = "ctx-bounded-" + uuid.uuid4().hex[:6]
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=_trust(cp), PermissionsBoundary=boundary)["Role"]["Arn"]
    iam.put_role_policy(RoleName=name, PolicyName="all", PolicyDocument=_doc(
        {"Effect": "Allow", "Action": "rds-db:connect", "Resource": "*"}))
    sts = cp.client("sts")
    c = sts.assume_role(RoleArn=arn, RoleSessionName="ctx-b")["Credentials"]
    creds = Creds(c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"])

    def verify(user: str):
        return verifier.verify(creds.token(cp, HOST, PG_PORT, user), user, "lab-postgres")

    assert verify("alice").ok
    assert verify("bob").code == "boundary_explicit_deny"
    assert verify("carol").code == "boundary_implicit_deny"
    session_policy = _doc({"Effect": "Allow", "Action": "rds-db:connect", "Resource": f"{prefix}/bob"})
    c = sts.assume_role(RoleArn=arn, RoleSessionName="ctx-s", Policy=session_policy)["Credentials"]
    creds = Creds(c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"])
    assert verify("alice").code == "session_policy_implicit_deny"
