# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reading IAM for the access report against botocore's Stubber: GetAccountAuthorizationDetails pages (one call
per page, not per principal), users with their groups' policies, roles with managed policies and boundary, and
which principals are candidates."""

from __future__ import annotations

import datetime
import json
from urllib.parse import quote

import boto3
import pytest
from botocore.stub import Stubber

from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from ansible_collections.amazon.aws.plugins.module_utils.retries import RetryingBotoClientWrapper
from ansible_collections.dbauth.rds_iam.plugins.module_utils import _report_iam

ACCOUNT = "111122223333"
NOW = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
RETRY = AWSRetry.jittered_backoff(retries=1, delay=0)
CONNECT = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "rds-db:connect",
                                                  "Resource": "arn:aws:rds-db:eu-west-1:%s:dbuser:db-A/app" % ACCOUNT}]}
S3 = {"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}}

pytestmark = pytest.mark.usefixtures("clean_env")


def encoded(document):
    """A policy document as IAM's API returns it (URL-encoded JSON)."""
    return quote(json.dumps(document))


def arn(kind, name):
    return "arn:aws:iam::%s:%s/%s" % (ACCOUNT, kind, name)


def user(name, groups=(), inline=None):
    return {"UserName": name, "UserId": "AIDA" + name.upper().ljust(16, "X"), "Arn": arn("user", name), "Path": "/",
            "CreateDate": NOW, "GroupList": list(groups), "AttachedManagedPolicies": [],
            "UserPolicyList": [{"PolicyName": "own", "PolicyDocument": encoded(inline)}] if inline else []}


def role(name, managed=(), boundary=None):
    entry = {"RoleName": name, "RoleId": "AROA" + name.upper().ljust(16, "X"), "Arn": arn("role", name), "Path": "/",
             "CreateDate": NOW, "RolePolicyList": [],
             "AttachedManagedPolicies": [{"PolicyName": m.rsplit("/", 1)[-1], "PolicyArn": m} for m in managed]}
    if boundary:
        entry["PermissionsBoundary"] = {"PermissionsBoundaryType": "Policy", "PermissionsBoundaryArn": boundary}
    return entry


def managed(name, document):
    return {"PolicyName": name, "PolicyId": "ANPA" + name.upper().ljust(16, "X"), "Arn": arn("policy", name), "Path": "/",
            "DefaultVersionId": "v2", "AttachmentCount": 1, "IsAttachable": True, "CreateDate": NOW, "UpdateDate": NOW,
            "PolicyVersionList": [{"Document": encoded(S3), "VersionId": "v1", "IsDefaultVersion": False, "CreateDate": NOW},
                                  {"Document": encoded(document), "VersionId": "v2", "IsDefaultVersion": True, "CreateDate": NOW}]}


def test_pages_groups_managed_policies_and_boundary():
    client = boto3.client("iam", region_name="us-east-1")
    stubber = Stubber(client)
    wanted = {"Filter": _report_iam.AUTHORIZATION_FILTER}
    stubber.add_response("get_account_authorization_details", {
        "UserDetailList": [user("alice", groups=["dbas"]), user("bob", inline=S3)],
        "GroupDetailList": [{"GroupName": "dbas", "GroupId": "AGPAXXXXXXXXXXXXXXXX", "Arn": arn("group", "dbas"), "Path": "/",
                             "CreateDate": NOW, "GroupPolicyList": [{"PolicyName": "g", "PolicyDocument": encoded(CONNECT)}],
                             "AttachedManagedPolicies": []}],
        "RoleDetailList": [], "Policies": [], "IsTruncated": True, "Marker": "page2"}, wanted)
    stubber.add_response("get_account_authorization_details", {
        "UserDetailList": [], "GroupDetailList": [],
        "RoleDetailList": [role("app", managed=[arn("policy", "connect")], boundary=arn("policy", "limit"))],
        "Policies": [managed("connect", CONNECT), managed("limit", S3)], "IsTruncated": False},
        dict(wanted, Marker="page2"))
    with stubber:
        principals = _report_iam.read_principals(RetryingBotoClientWrapper(client, RETRY), RETRY)
    stubber.assert_no_pending_responses()
    by_name = dict((p["name"], p) for p in principals)
    assert [p["arn"] for p in principals] == sorted(p["arn"] for p in principals)
    assert by_name["alice"]["policies"] == [("g (inline of group dbas)", CONNECT)]
    assert by_name["bob"]["policies"] == [("own (inline)", S3)]
    assert by_name["app"]["policies"] == [("connect", CONNECT)]
    assert by_name["app"]["boundary"] == ("limit", S3)
    assert [p["name"] for p in principals if _report_iam.is_candidate(p)] == ["app", "alice"]


@pytest.mark.parametrize("statement, covered", [
    ({"Effect": "Allow", "Action": "RDS-DB:Connect", "Resource": "*"}, True),
    ({"Effect": "Allow", "Action": ["s3:*", "rds-db:*"], "Resource": "*"}, True),
    ({"Effect": "Allow", "Action": "*", "Resource": "*"}, True),
    ({"Effect": "Allow", "NotAction": "s3:*", "Resource": "*"}, True),
    ({"Effect": "Allow", "NotAction": "rds-db:*", "Resource": "*"}, False),
    ({"Effect": "Allow", "Action": "rds:*", "Resource": "*"}, False),
    ({"Effect": "Deny", "Action": "rds-db:connect", "Resource": "*"}, False),
])
def test_which_statements_make_a_candidate(statement, covered):
    principal = {"policies": [("p", {"Version": "2012-10-17", "Statement": [statement]})]}
    assert _report_iam.is_candidate(principal) is covered


def test_not_resource_counts_as_any_resource():
    document = {"Statement": [{"Effect": "Allow", "Action": "rds-db:connect", "NotResource": "arn:aws:rds-db:*:*:dbuser:*/admin"}]}
    assert _report_iam.connect_statements([("p", document)]) == [("p", "Allow", ["*"], False)]
