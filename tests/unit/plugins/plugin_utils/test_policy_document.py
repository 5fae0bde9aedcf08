# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import json

import pytest

from ansible_collections.dbauth.rds_iam.plugins.module_utils._policy_evaluator import evaluate
from ansible_collections.dbauth.rds_iam.plugins.plugin_utils._policy_document import (
    PolicyDocumentError,
    connect_resources,
    partition_for_region,
    policy_documents,
    policy_size,
)

ACCOUNT = "123456789012"
INSTANCE = "db-ABCDEFGHIJKLMNOPQRSTUVWXY1"
CLUSTER = "cluster-ABCDEFGHIJKLMNOPQRSTUVWXY2"


def test_exact_resources_sorted_and_unique():
    grants = [
        {"resource_id": INSTANCE, "db_users": ["report", "app", "app"]},
        {"arn_prefix": "arn:aws:rds-db:eu-west-1:%s:dbuser:%s" % (ACCOUNT, CLUSTER), "db_users": ["app"]},
    ]
    assert connect_resources(grants, region="eu-west-1", account_id=ACCOUNT) == [
        "arn:aws:rds-db:eu-west-1:123456789012:dbuser:cluster-ABCDEFGHIJKLMNOPQRSTUVWXY2/app",
        "arn:aws:rds-db:eu-west-1:123456789012:dbuser:db-ABCDEFGHIJKLMNOPQRSTUVWXY1/app",
        "arn:aws:rds-db:eu-west-1:123456789012:dbuser:db-ABCDEFGHIJKLMNOPQRSTUVWXY1/report",
    ]


def test_policy_variables_in_user_names_are_literal():
    # Found by a new user: a user named ${aws:username} went into the policy as a variable, so the
    # grant depended on the caller. Escaped, it grants that exact name and nothing else.
    user = "${aws:username}"
    document = policy_documents([{"resource_id": INSTANCE, "db_users": [user, "pay$day"]}], region="us-east-1",
                                account_id=ACCOUNT)
    prefix = "arn:aws:rds-db:us-east-1:%s:dbuser:%s/" % (ACCOUNT, INSTANCE)
    assert document["Statement"][0]["Resource"] == [prefix + "${$}{aws:username}", prefix + "pay${$}day"]
    as_alice = {"aws:username": "alice"}
    assert evaluate([document], "rds-db:connect", prefix + user, as_alice).decision == "allow"
    assert evaluate([document], "rds-db:connect", prefix + "pay$day", as_alice).decision == "allow"
    assert evaluate([document], "rds-db:connect", prefix + "alice", as_alice).decision == "implicit_deny"


def test_document_shape_single_resource_is_a_string():
    document = policy_documents([{"resource_id": INSTANCE, "db_users": ["app"]}], region="us-east-1", account_id=ACCOUNT)
    assert document == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "RdsIamConnect",
                "Effect": "Allow",
                "Action": "rds-db:connect",
                "Resource": "arn:aws:rds-db:us-east-1:123456789012:dbuser:db-ABCDEFGHIJKLMNOPQRSTUVWXY1/app",
            }
        ],
    }


def test_same_grants_in_another_order_give_the_same_json():
    a = [{"resource_id": INSTANCE, "db_users": ["b", "a"]}, {"resource_id": CLUSTER, "db_users": ["c"]}]
    b = [{"resource_id": CLUSTER, "db_users": ["c"]}, {"resource_id": INSTANCE, "db_users": ["a", "b"]}]
    dump = [json.dumps(policy_documents(g, region="us-east-1", account_id=ACCOUNT), sort_keys=True) for g in (a, b)]
    assert dump[0] == dump[1]


@pytest.mark.parametrize(
    "region, partition",
    [("us-east-1", "aws"), ("cn-north-1", "aws-cn"), ("us-gov-west-1", "aws-us-gov"), ("eu-central-2", "aws")],
)
def test_partition(region, partition):
    assert partition_for_region(region) == partition
    resources = connect_resources([{"resource_id": INSTANCE, "db_users": ["u"]}], region=region, account_id=ACCOUNT)
    assert resources[0].startswith("arn:%s:rds-db:%s:" % (partition, region))


@pytest.mark.parametrize(
    "grant, message",
    [
        ({"resource_id": "*", "db_users": ["app"]}, "wildcard"),
        ({"resource_id": INSTANCE, "db_users": ["*"]}, "wildcard"),
        ({"resource_id": INSTANCE, "db_users": ["ap?"]}, "wildcard"),
        ({"resource_id": "i-12345", "db_users": ["app"]}, "resource id"),
        ({"resource_id": INSTANCE, "db_users": []}, "non-empty list"),
        ({"resource_id": INSTANCE, "db_users": "app"}, "non-empty list"),
        ({"resource_id": INSTANCE, "db_users": [""]}, "non-empty string"),
        ({"resource_id": INSTANCE, "db_users": ["a/b"]}, "must not contain '/'"),
        ({"db_users": ["app"]}, "exactly one of resource_id"),
        ({"resource_id": INSTANCE, "arn_prefix": "arn:aws:rds-db:x", "db_users": ["a"]}, "exactly one of resource_id"),
        ({"arn_prefix": "arn:aws:rds:us-east-1:123456789012:db:x", "db_users": ["a"]}, "not of the form"),
        ({"resource_id": INSTANCE, "db_users": ["a"], "user": "x"}, "unknown keys user"),
        ({"resource_id": INSTANCE, "db_users": ["a"], "account_id": "12345"}, "account id"),
    ],
)
def test_bad_grants_are_refused_with_a_reason(grant, message):
    with pytest.raises(PolicyDocumentError, match=message):
        policy_documents([grant], region="us-east-1", account_id=ACCOUNT)


def test_region_and_account_needed_for_resource_ids():
    with pytest.raises(PolicyDocumentError, match="no region"):
        policy_documents([{"resource_id": INSTANCE, "db_users": ["a"]}], account_id=ACCOUNT)
    with pytest.raises(PolicyDocumentError, match="no account id"):
        policy_documents([{"resource_id": INSTANCE, "db_users": ["a"]}], region="us-east-1")


def test_wildcards_allowed_on_request():
    document = policy_documents([{"resource_id": INSTANCE, "db_users": ["*"]}], region="us-east-1", account_id=ACCOUNT, allow_wildcards=True)
    assert document["Statement"][0]["Resource"] == "arn:aws:rds-db:us-east-1:123456789012:dbuser:%s/*" % INSTANCE


def test_size_limit_error_and_split():
    grants = [{"resource_id": INSTANCE, "db_users": ["user_%03d" % i for i in range(200)]}]
    with pytest.raises(PolicyDocumentError, match="over the IAM limit of 6144"):
        policy_documents(grants, region="us-east-1", account_id=ACCOUNT)
    documents = policy_documents(grants, region="us-east-1", account_id=ACCOUNT, split=True)
    assert len(documents) > 1
    assert all(policy_size(d) <= 6144 for d in documents)
    merged = [r for d in documents for r in d["Statement"][0]["Resource"]]
    assert merged == connect_resources(grants, region="us-east-1", account_id=ACCOUNT)
