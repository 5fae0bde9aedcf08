"""The lab's AWS API checks its callers as AWS does (lab/api_auth.py, lab/sts_trust.py).

Authentication ("Signing AWS API requests", the query APIs' "Common Errors"): a wrong
secret -> SignatureDoesNotMatch, an unknown key -> InvalidClientTokenId, an expired
session -> ExpiredToken, no signature -> MissingAuthenticationToken, presigned query
strings checked too. Authorization by the lab's evaluator: AccessDenied with AWS's
message naming the action. AssumeRole: trust policy (principal, sts:ExternalId),
DurationSeconds.
"""

from __future__ import annotations

import datetime as dt
import json
import urllib.error
import urllib.request
import uuid

import pytest
from botocore.auth import SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from lab.tests.conftest import Creds


def _code(excinfo) -> str:
    return excinfo.value.response["Error"]["Code"]


def _client(cp, service, creds: Creds):
    return cp.client(service, creds.access_key, creds.secret_key, creds.session_token)


def _trusting_role(lab_iam, trust_statements, policy=None) -> str:
    name = "t-trust-" + uuid.uuid4().hex[:8]
    arn = lab_iam.iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": trust_statements}))["Role"]["Arn"]
    if policy:
        lab_iam.iam.put_role_policy(RoleName=name, PolicyName="p", PolicyDocument=policy)
    return arn


ASSUME_ANY = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}]})


# authentication ---------------------------------------------------------------------------------

def test_admin_key_works(lab_control_plane):
    cp = lab_control_plane
    assert cp.client("sts").get_caller_identity()["Arn"] == cp.admin_user_arn
    assert cp.client("rds").describe_db_instances()["DBInstances"]


@pytest.mark.parametrize("service,call", [("sts", "get_caller_identity"), ("iam", "list_users"),
                                          ("rds", "describe_db_instances")])
def test_wrong_secret_is_signature_does_not_match(lab_control_plane, service, call):
    cp = lab_control_plane
    client = cp.client(service, cp.admin_access_key, "not-the-secret-" + uuid.uuid4().hex)
    with pytest.raises(ClientError) as excinfo:
        getattr(client, call)()
    assert _code(excinfo) == "SignatureDoesNotMatch"
    assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


@pytest.mark.parametrize("service,call", [("sts", "get_caller_identity"), ("iam", "list_users"),
                                          ("rds", "describe_db_instances")])
def test_unknown_key_is_invalid_client_token_id(lab_control_plane, service, call):
    client = lab_control_plane.client(service, "AKIAUNKNOWN" + uuid.uuid4().hex[:9].upper(), "whatever-secret")
    with pytest.raises(ClientError) as excinfo:
        getattr(client, call)()
    assert _code(excinfo) == "InvalidClientTokenId"


def test_inactive_key_is_refused(lab_control_plane, lab_iam):
    creds = lab_iam.user()
    name = creds.arn.rsplit("/", 1)[-1]
    lab_iam.iam.update_access_key(UserName=name, AccessKeyId=creds.access_key, Status="Inactive")
    with pytest.raises(ClientError) as excinfo:
        _client(lab_control_plane, "sts", creds).get_caller_identity()
    assert _code(excinfo) == "InvalidClientTokenId"


def test_session_key_needs_its_token(lab_control_plane, lab_iam):
    session = lab_iam.assume(lab_iam.role(inline=ASSUME_ANY))
    assert _client(lab_control_plane, "sts", session).get_caller_identity()["Arn"] == session.arn
    for token in (None, "not-the-session-token"):
        with pytest.raises(ClientError) as excinfo:
            _client(lab_control_plane, "sts", Creds(session.access_key, session.secret_key, token)) \
                .get_caller_identity()
        assert _code(excinfo) == "InvalidClientTokenId"


def test_expired_session_is_expired_token(lab_control_plane, lab_iam):
    cp = lab_control_plane
    session = lab_iam.assume(lab_iam.role(inline=ASSUME_ANY))
    sts = _client(cp, "sts", session)
    assert sts.get_caller_identity()["Arn"] == session.arn
    # the session's end comes: moto keeps it; move its expiration into the past
    assumed = next(a for a in cp.sts_backend.assumed_roles if a.access_key_id == session.access_key)
    assumed.expiration = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None) - dt.timedelta(seconds=1)
    with pytest.raises(ClientError) as excinfo:
        sts.get_caller_identity()
    assert _code(excinfo) == "ExpiredToken"
    assert excinfo.value.response["Error"]["Message"] == "The security token included in the request is expired"


def test_unsigned_request_is_missing_authentication_token(lab_control_plane):
    url = lab_control_plane.endpoint_url + "/?Action=GetCallerIdentity&Version=2011-06-15"
    with pytest.raises(urllib.error.HTTPError) as excinfo:
        urllib.request.urlopen(url, timeout=10)  # noqa: S310 (loopback)
    assert excinfo.value.code == 403
    assert b"<Code>MissingAuthenticationToken</Code>" in excinfo.value.read()


STS_HOST = "sts.us-east-1.amazonaws.com"


def _presigned(cp, secret: str, expires: int = 60) -> urllib.request.Request:
    """A presigned GetCallerIdentity URL for STS's host name, sent to the lab with that Host."""
    request = AWSRequest(method="GET", url=f"http://{STS_HOST}/",
                         params={"Action": "GetCallerIdentity", "Version": "2011-06-15"})
    SigV4QueryAuth(Credentials(cp.admin_access_key, secret), "sts", cp.region, expires=expires).add_auth(request)
    url = request.prepare().url.replace(f"http://{STS_HOST}", cp.endpoint_url, 1)
    return urllib.request.Request(url, headers={"Host": STS_HOST})


def test_presigned_query_string_is_verified(lab_control_plane):
    cp = lab_control_plane
    with urllib.request.urlopen(_presigned(cp, cp.admin_secret_key), timeout=10) as answer:  # noqa: S310
        assert cp.admin_user_arn.encode() in answer.read()
    with pytest.raises(urllib.error.HTTPError) as excinfo:
        urllib.request.urlopen(_presigned(cp, "wrong-secret"), timeout=10)  # noqa: S310
    assert b"<Code>SignatureDoesNotMatch</Code>" in excinfo.value.read()


def test_moto_api_is_not_served(lab_control_plane):
    with pytest.raises(urllib.error.HTTPError) as excinfo:
        urllib.request.urlopen(lab_control_plane.endpoint_url + "/moto-api/reset", data=b"", timeout=10)  # noqa: S310
    assert excinfo.value.code == 403


# authorization ----------------------------------------------------------------------------------

def test_no_policy_gets_access_denied_naming_the_action(lab_control_plane, lab_iam):
    cp = lab_control_plane
    creds = lab_iam.user()
    assert _client(cp, "sts", creds).get_caller_identity()["Arn"] == creds.arn  # always allowed
    with pytest.raises(ClientError) as excinfo:
        _client(cp, "rds", creds).describe_db_instances(DBInstanceIdentifier="lab-postgres")
    assert _code(excinfo) == "AccessDenied"
    message = excinfo.value.response["Error"]["Message"]
    assert f"User: {creds.arn} is not authorized to perform: rds:DescribeDBInstances" in message
    assert f"arn:aws:rds:{cp.region}:{cp.account_id}:db:lab-postgres" in message
    assert "because no identity-based policy allows the rds:DescribeDBInstances action" in message
    with pytest.raises(ClientError) as excinfo:
        _client(cp, "iam", creds).list_policies()
    assert _code(excinfo) == "AccessDenied"


def test_resource_scoped_policy(lab_control_plane, lab_iam):
    cp = lab_control_plane
    creds = lab_iam.user(json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "rds:DescribeDBInstances", "Resource": "arn:aws:rds:*:*:db:lab-postgres"},
        {"Effect": "Allow", "Action": "iam:*Policy*", "Resource": "arn:aws:iam::*:policy/only-here/*"}]}))
    rds = _client(cp, "rds", creds)
    assert rds.describe_db_instances(DBInstanceIdentifier="lab-postgres")["DBInstances"]
    with pytest.raises(ClientError) as excinfo:
        rds.describe_db_instances(DBInstanceIdentifier="lab-mysql")
    assert _code(excinfo) == "AccessDenied"
    with pytest.raises(ClientError) as excinfo:
        rds.describe_db_instances()  # every instance: arn:...:db:*
    assert _code(excinfo) == "AccessDenied"
    iam = _client(cp, "iam", creds)
    doc = json.dumps({"Version": "2012-10-17",
                      "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]})
    name = "t-" + uuid.uuid4().hex[:6]
    arn = iam.create_policy(PolicyName=name, Path="/only-here/", PolicyDocument=doc)["Policy"]["Arn"]
    iam.delete_policy(PolicyArn=arn)
    with pytest.raises(ClientError) as excinfo:
        iam.create_policy(PolicyName=name, Path="/elsewhere/", PolicyDocument=doc)
    assert _code(excinfo) == "AccessDenied"
    assert "iam:CreatePolicy" in excinfo.value.response["Error"]["Message"]


def test_explicit_deny_message(lab_control_plane, lab_iam):
    creds = lab_iam.user(json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "rds:*", "Resource": "*"},
        {"Effect": "Deny", "Action": "rds:ModifyDBInstance", "Resource": "*"}]}))
    with pytest.raises(ClientError) as excinfo:
        rds = _client(lab_control_plane, "rds", creds)
        rds.modify_db_instance(DBInstanceIdentifier="lab-postgres", EnableIAMDatabaseAuthentication=True)
    assert _code(excinfo) == "AccessDenied"
    assert "with an explicit deny in an identity-based policy" in excinfo.value.response["Error"]["Message"]


def test_tag_conditions(lab_control_plane, lab_iam):
    cp = lab_control_plane
    creds = lab_iam.user(json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["iam:CreateRole", "iam:TagRole"], "Resource": "*",
         "Condition": {"StringEquals": {"aws:RequestTag/owner": "me"}}},
        {"Effect": "Allow", "Action": "iam:DeleteRole", "Resource": "*",
         "Condition": {"StringEquals": {"aws:ResourceTag/owner": "me"}}}]}))
    iam = _client(cp, "iam", creds)
    trust = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
    name = "t-tag-" + uuid.uuid4().hex[:6]
    with pytest.raises(ClientError) as excinfo:
        iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust)
    assert _code(excinfo) == "AccessDenied"
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust, Tags=[{"Key": "owner", "Value": "me"}])
    iam.delete_role(RoleName=name)
    other = "t-tag-" + uuid.uuid4().hex[:6]
    lab_iam.iam.create_role(RoleName=other, AssumeRolePolicyDocument=trust)
    with pytest.raises(ClientError) as excinfo:
        iam.delete_role(RoleName=other)
    assert _code(excinfo) == "AccessDenied"


# AssumeRole -------------------------------------------------------------------------------------

def test_trust_naming_the_user_is_enough(lab_control_plane, lab_iam):
    creds = lab_iam.user()  # no identity policy at all
    arn = _trusting_role(lab_iam, [{"Effect": "Allow", "Principal": {"AWS": creds.arn}, "Action": "sts:AssumeRole"}])
    session = lab_iam.assume(arn, creds)
    assert session.arn.startswith(arn.replace(":iam::", ":sts::").replace(":role/", ":assumed-role/"))


def test_trust_naming_the_account_needs_an_identity_policy(lab_control_plane, lab_iam):
    account_root = f"arn:aws:iam::{lab_control_plane.account_id}:root"
    arn = _trusting_role(lab_iam, [{"Effect": "Allow", "Principal": {"AWS": account_root},
                                    "Action": "sts:AssumeRole"}])
    without = lab_iam.user()
    with pytest.raises(ClientError) as excinfo:
        lab_iam.assume(arn, without)
    assert _code(excinfo) == "AccessDenied"
    assert f"is not authorized to perform: sts:AssumeRole on resource: {arn}" in excinfo.value.response["Error"]["Message"]
    lab_iam.assume(arn, lab_iam.user(ASSUME_ANY))


def test_trust_refusing_the_caller(lab_control_plane, lab_iam):
    other = lab_iam.user()
    arn = _trusting_role(lab_iam, [{"Effect": "Allow", "Principal": {"AWS": other.arn}, "Action": "sts:AssumeRole"}])
    with pytest.raises(ClientError) as excinfo:
        lab_iam.assume(arn, lab_iam.user(ASSUME_ANY))  # identity allows, trust names someone else
    assert _code(excinfo) == "AccessDenied"
    service_only = _trusting_role(lab_iam, [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"},
                                             "Action": "sts:AssumeRole"}])
    with pytest.raises(ClientError) as excinfo:
        lab_iam.assume(service_only)  # even the admin: the trust policy decides
    assert _code(excinfo) == "AccessDenied"


def test_external_id(lab_control_plane, lab_iam):
    creds = lab_iam.user()
    arn = _trusting_role(lab_iam, [{"Effect": "Allow", "Principal": {"AWS": creds.arn}, "Action": "sts:AssumeRole",
                                    "Condition": {"StringEquals": {"sts:ExternalId": "ext-123"}}}])
    sts = _client(lab_control_plane, "sts", creds)
    for extra in ({}, {"ExternalId": "ext-999"}):
        with pytest.raises(ClientError) as excinfo:
            sts.assume_role(RoleArn=arn, RoleSessionName="sess", **extra)
        assert _code(excinfo) == "AccessDenied"
    assert sts.assume_role(RoleArn=arn, RoleSessionName="sess", ExternalId="ext-123")["Credentials"]


def test_duration_seconds(lab_control_plane, lab_iam):
    creds = lab_iam.user()
    arn = _trusting_role(lab_iam, [{"Effect": "Allow", "Principal": {"AWS": creds.arn}, "Action": "sts:AssumeRole"}])
    sts = _client(lab_control_plane, "sts", creds)
    with pytest.raises(ClientError) as excinfo:
        sts.assume_role(RoleArn=arn, RoleSessionName="sess", DurationSeconds=7200)  # role maximum: 3600
    assert _code(excinfo) == "ValidationError"
    answer = sts.assume_role(RoleArn=arn, RoleSessionName="sess", DurationSeconds=900)
    left = (answer["Credentials"]["Expiration"] - dt.datetime.now(dt.timezone.utc)).total_seconds()
    assert 800 < left <= 900


def test_refusals_hold_no_secret(lab_control_plane):
    cp = lab_control_plane
    for entry in cp.guard.recent_refusals(200):
        text = json.dumps(entry)
        assert cp.admin_secret_key not in text
