"""lab/iam_policy.py's interface: input shapes, the decision object, notes. (What it decides is
checked against the documented cases of tests/policy_corpus/ by test_policy_corpus.py.)"""

from __future__ import annotations

import json
import urllib.parse

from rds_iam_lab import iam_policy

ARN = "arn:aws:rds-db:us-east-1:123456789012:dbuser:db-ABC/app_user"
ALLOW = {"Version": "2012-10-17", "Statement": [{"Sid": "A", "Effect": "Allow", "Action": "rds-db:connect",
                                                 "Resource": ARN}]}


def test_document_shapes() -> None:
    text = json.dumps(ALLOW)
    for policies in (ALLOW, [ALLOW], text, [text], [urllib.parse.quote(text)], [text.encode()],
                     [("named", ALLOW)], ("named", ALLOW), [{"name": "named", "document": ALLOW}]):
        assert iam_policy.evaluate(policies, "rds-db:connect", ARN).allowed, policies
    assert iam_policy.evaluate([("named", text)], "rds-db:connect", ARN).policy_name == "named"


def test_decision_object() -> None:
    decision = iam_policy.evaluate([("p", ALLOW)], "rds-db:connect", ARN, boundary=("pb", ALLOW))
    assert decision.decision == iam_policy.ALLOWED and decision.allowed
    assert decision.sid == "A" and decision.policy_name == "p"
    assert [s.kind for s in decision.allows] == ["identity", "boundary"]
    data = decision.to_dict()
    assert data["statement"] == {"policy": "p", "kind": "identity", "index": 0, "sid": "A", "effect": "Allow"}
    assert json.dumps(data)
    refused = iam_policy.evaluate([("p", ALLOW)], "rds-db:connect", ARN, session_policy={"Statement": []})
    assert refused.decision == iam_policy.IMPLICIT_DENY and refused.policy_type == "session"
    assert refused.statement is None and "session policy" in refused.reason


def test_not_understood_statements_are_noted_never_a_refusal_by_themselves() -> None:
    odd_deny = {"Sid": "Odd", "Effect": "Deny", "Action": "*", "Resource": "*",
                "Condition": {"StringMatchesRegex": {"aws:username": ".*"}}}
    broken = [{"Effect": "Permit", "Action": "*", "Resource": "*"}, {"Effect": "Deny", "Resource": "*"},
              {"Effect": "Deny", "Action": "*"}, "text", odd_deny]
    document = {"Version": "2012-10-17", "Statement": ALLOW["Statement"] + broken}
    decision = iam_policy.evaluate([document, "{not json"], "rds-db:connect", ARN, {"aws:username": "a"})
    assert decision.allowed
    assert len(decision.notes) == 6
    assert any("StringMatchesRegex" in note for note in decision.notes)


def test_rds_db_user_arn() -> None:
    assert iam_policy.rds_db_user_arn("us-east-1", "123456789012", "db-ABC", "app_user") == ARN
    assert iam_policy.rds_db_user_arn("cn-north-1", "1", "cluster-X", "u", partition="aws-cn") == \
        "arn:aws-cn:rds-db:cn-north-1:1:dbuser:cluster-X/u"
