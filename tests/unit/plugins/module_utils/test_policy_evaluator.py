# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

import json

import pytest

from ansible_collections.dbauth.rds_iam.plugins.module_utils._policy_evaluator import (
    ALLOW,
    EXPLICIT_DENY,
    IMPLICIT_DENY,
    UNDETERMINED,
    PolicyEvaluationError,
    evaluate,
    glob_match,
)
from ansible_collections.dbauth.rds_iam.plugins.module_utils._rds_databases import rds_db_arn

RID = "db-ABCDEFGHIJKLMNOPQRSTUVWXYZ"
ARN = "arn:aws:rds-db:us-east-1:123456789012:dbuser:%s/alice" % RID
ACTION = "rds-db:connect"


def doc(*statements, **kwargs):
    result = {"Version": kwargs.get("version", "2012-10-17"), "Statement": list(statements)}
    return result


def allow(resource=ARN, action=ACTION, **extra):
    statement = {"Effect": "Allow", "Action": action, "Resource": resource}
    statement.update(extra)
    return statement


def deny(resource=ARN, action=ACTION, **extra):
    statement = {"Effect": "Deny", "Action": action, "Resource": resource}
    statement.update(extra)
    return statement


# decisions ---------------------------------------------------------------------

def test_exact_allow():
    result = evaluate([doc(allow(Sid="Connect"))], ACTION, ARN)
    assert result.decision == ALLOW
    assert result.allowed
    assert result.sid == "Connect"
    assert result.statement_index == 0
    assert result.policy_index == 0
    assert "Connect" in result.reason


def test_no_policies_is_implicit_deny():
    result = evaluate([], ACTION, ARN)
    assert result.decision == IMPLICIT_DENY
    assert not result.allowed
    assert result.statement is None
    assert "no policies" in result.reason


def test_no_matching_statement_is_implicit_deny():
    result = evaluate([doc(allow(resource=ARN.replace("alice", "bob")))], ACTION, ARN)
    assert result.decision == IMPLICIT_DENY
    assert "no statement allows rds-db:connect on %s" % ARN in result.reason


def test_explicit_deny_wins_over_allow_in_any_order():
    for statements in ([allow(resource="*"), deny(Sid="NoAlice")], [deny(Sid="NoAlice"), allow(resource="*")]):
        result = evaluate([doc(*statements)], ACTION, ARN)
        assert result.decision == EXPLICIT_DENY
        assert result.sid == "NoAlice"


def test_deny_in_another_policy_wins():
    result = evaluate([("grant", doc(allow())), ("guard", doc(deny(action="rds-db:*")))], ACTION, ARN)
    assert result.decision == EXPLICIT_DENY
    assert result.policy_index == 1
    assert result.policy_name == "guard"
    assert "guard" in result.reason


def test_deny_for_other_resource_does_not_apply():
    result = evaluate([doc(allow(), deny(resource=ARN.replace("alice", "bob")))], ACTION, ARN)
    assert result.decision == ALLOW


# input shapes ------------------------------------------------------------------

def test_json_string_and_single_document_and_statement_dict():
    single = {"Version": "2012-10-17", "Statement": allow()}
    assert evaluate(json.dumps(single), ACTION, ARN).allowed
    assert evaluate(single, ACTION, ARN).allowed
    assert evaluate([json.dumps(single)], ACTION, ARN).allowed
    assert evaluate([json.dumps(single).encode("utf-8")], ACTION, ARN).allowed
    assert evaluate([{"name": "n", "document": single}], ACTION, ARN).policy_name == "n"


def test_action_and_resource_lists():
    statement = allow(resource=["arn:aws:s3:::bucket", ARN], action=["s3:GetObject", ACTION])
    assert evaluate([doc(statement)], ACTION, ARN).allowed


def test_invalid_json_raises():
    with pytest.raises(PolicyEvaluationError):
        evaluate(["{not json"], ACTION, ARN)
    with pytest.raises(PolicyEvaluationError):
        evaluate(["[1, 2]"], ACTION, ARN)


def test_invalid_statements_are_ignored_with_notes():
    statements = [
        "not an object",
        {"Effect": "Permit", "Action": ACTION, "Resource": ARN},
        {"Effect": "Allow", "Resource": ARN},
        {"Effect": "Allow", "Action": ACTION},
        {"Effect": "Allow", "Action": ACTION, "NotAction": "s3:*", "Resource": ARN},
    ]
    result = evaluate([doc(*statements)], ACTION, ARN)
    assert result.decision == IMPLICIT_DENY
    assert len(result.notes) == 5
    assert evaluate([{"Version": "2012-10-17"}], ACTION, ARN).notes == ["policy #0 has no Statement"]


# wildcards and case ------------------------------------------------------------

@pytest.mark.parametrize("pattern", [
    "rds-db:connect", "RDS-DB:Connect", "rds-db:*", "rds-db:con*", "rds-db:c?nnect", "*", "rds-*:*connect",
])
def test_action_patterns_match_case_insensitively(pattern):
    assert evaluate([doc(allow(action=pattern))], ACTION, ARN).allowed


@pytest.mark.parametrize("pattern", ["rds:connect", "rds-db:connect?", "rds-db:Connectx", "s3:*", "rds-db"])
def test_action_patterns_that_do_not_match(pattern):
    assert not evaluate([doc(allow(action=pattern))], ACTION, ARN).allowed


@pytest.mark.parametrize("pattern", [
    ARN,
    "*",
    "arn:aws:rds-db:*:*:dbuser:*/*",
    "arn:aws:rds-db:us-east-1:123456789012:dbuser:%s/*" % RID,
    "arn:aws:rds-db:us-east-1:123456789012:dbuser:%s/al?ce" % RID,
    "arn:aws:rds-db:us-east-1:*:dbuser:db-*/alice",
])
def test_resource_patterns_that_match(pattern):
    assert evaluate([doc(allow(resource=pattern))], ACTION, ARN).allowed


@pytest.mark.parametrize("pattern", [
    ARN.replace("alice", "Alice"),  # resources are case-sensitive (DB user names are)
    ARN.replace(RID, RID.lower()),
    "arn:aws:rds-db:us-west-2:123456789012:dbuser:%s/alice" % RID,
    "arn:aws:rds-db:us-east-1:123456789012:dbuser:%s/alic" % RID,
    "arn:aws:rds-db:us-east-1:123456789012:dbuser:%s/alice?" % RID,
    "arn:aws:rds-db:us-east-1:123456789012:dbuser:cluster-*/alice",
])
def test_resource_patterns_that_do_not_match(pattern):
    assert evaluate([doc(allow(resource=pattern))], ACTION, ARN).decision == IMPLICIT_DENY


def test_regex_metacharacters_are_literal():
    assert not glob_match("a.c", "abc")
    assert glob_match("a.c", "a.c")
    assert not glob_match("a[b]c", "abc")
    assert glob_match("a+(b)|c", "a+(b)|c")
    assert glob_match("a*", "a\nb")
    assert not glob_match(None, "a")


def test_not_action():
    statement = {"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}
    assert evaluate([doc(statement)], ACTION, ARN).allowed
    statement = {"Effect": "Allow", "NotAction": ["rds-db:*"], "Resource": "*"}
    assert not evaluate([doc(statement)], ACTION, ARN).allowed
    deny_everything_else = {"Effect": "Deny", "NotAction": "rds-db:connect", "Resource": "*"}
    assert evaluate([doc(allow(), deny_everything_else)], ACTION, ARN).allowed


def test_not_resource():
    statement = {"Effect": "Allow", "Action": ACTION, "NotResource": "arn:aws:rds-db:*:*:dbuser:*/admin"}
    assert evaluate([doc(statement)], ACTION, ARN).allowed
    assert not evaluate([doc(statement)], ACTION, ARN.replace("alice", "admin")).allowed
    guard = {"Effect": "Deny", "Action": ACTION, "NotResource": "arn:aws:rds-db:*:*:dbuser:%s/*" % RID}
    assert evaluate([doc(allow(resource="*"), guard)], ACTION, ARN).allowed
    assert evaluate([doc(allow(resource="*"), guard)], ACTION,
                    ARN.replace(RID, "db-OTHER")).decision == EXPLICIT_DENY


# conditions --------------------------------------------------------------------

def test_absent_condition_key_makes_allow_not_apply():
    # "IAM JSON policy elements: Condition operators": a key absent from the request context
    # makes the operator false
    statement = allow(Condition={"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}})
    result = evaluate([doc(statement)], ACTION, ARN)
    assert result.decision == IMPLICIT_DENY
    assert len(result.skipped) == 1
    assert "does not hold" in result.skipped[0].note
    assert "Condition" in result.reason


def test_absent_condition_key_makes_negated_operator_on_deny_apply():
    # ... and a negated operator true: the Deny applies
    statement = deny(Sid="Office", Condition={"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}})
    result = evaluate([doc(allow(resource="*"), statement)], ACTION, ARN)
    assert result.decision == EXPLICIT_DENY
    assert result.sid == "Office"


def test_absent_condition_key_makes_positive_operator_on_deny_not_apply():
    statement = deny(Sid="Office", Condition={"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}})
    assert evaluate([doc(allow(resource="*"), statement)], ACTION, ARN).allowed


def test_unknown_keys_make_the_decision_undetermined():
    deny_mfa = deny(Sid="Mfa", Condition={"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}})
    result = evaluate([doc(allow(resource="*"), deny_mfa)], ACTION, ARN, {}, unknown_keys=["aws:MultiFactor*"])
    assert result.decision == UNDETERMINED
    assert result.sid == "Mfa"
    assert "aws:MultiFactorAuthPresent" in result.reason
    # the same key given in the context decides
    assert evaluate([doc(allow(resource="*"), deny_mfa)], ACTION, ARN, {"aws:MultiFactorAuthPresent": "true"},
                    unknown_keys=["aws:MultiFactor*"]).allowed
    abac = allow(resource="arn:aws:rds-db:*:*:dbuser:*/${aws:PrincipalTag/dbuser}")
    result = evaluate([doc(abac)], ACTION, ARN, {}, unknown_keys=["aws:PrincipalTag/*"])
    assert result.decision == UNDETERMINED
    assert "aws:PrincipalTag/dbuser" in result.reason
    assert evaluate([doc(abac)], ACTION, ARN, {"aws:PrincipalTag/dbuser": "alice"},
                    unknown_keys=["aws:PrincipalTag/*"]).allowed
    # a clause that is false decides even beside an unknowable one
    both = allow(Condition={"StringEquals": {"aws:username": "bob", "aws:PrincipalTag/team": "x"}})
    assert evaluate([doc(both)], ACTION, ARN, {"aws:username": "alice"},
                    unknown_keys=["aws:PrincipalTag/*"]).decision == IMPLICIT_DENY


def test_undocumented_operator_on_deny_is_undetermined():
    statement = deny(Sid="Odd", Condition={"StringMatchesRegex": {"aws:username": "a.*"}})
    result = evaluate([doc(allow(resource="*"), statement)], ACTION, ARN, {"aws:username": "alice"})
    assert result.decision == UNDETERMINED
    assert not result.allowed
    assert "StringMatchesRegex" in result.reason


def test_boundary_and_session_policy_intersect():
    assert evaluate([doc(allow())], ACTION, ARN, boundary=doc(allow(resource="*"))).allowed
    bounded = evaluate([doc(allow())], ACTION, ARN, boundary=("pb", doc(allow(action="s3:*"))))
    assert bounded.decision == IMPLICIT_DENY
    assert "permissions boundary" in bounded.reason
    session = evaluate([doc(allow())], ACTION, ARN, session_policy=doc(allow(), deny(Sid="S")))
    assert session.decision == EXPLICIT_DENY
    assert session.sid == "S"


def test_understood_deny_condition_that_does_not_hold_does_not_apply():
    statement = deny(Condition={"StringEquals": {"aws:username": "mallory"}})
    result = evaluate([doc(allow(), statement)], ACTION, ARN, {"aws:username": "alice"})
    assert result.allowed


def test_string_conditions_with_context():
    context = {"aws:username": "alice", "aws:PrincipalArn": "arn:aws:iam::123456789012:role/app"}
    cases = [
        ({"StringEquals": {"aws:username": "alice"}}, True),
        ({"StringEquals": {"aws:username": ["bob", "alice"]}}, True),
        ({"StringEquals": {"aws:username": "Alice"}}, False),
        ({"StringEqualsIgnoreCase": {"aws:username": "ALICE"}}, True),
        ({"StringNotEquals": {"aws:username": "alice"}}, False),
        ({"StringNotEquals": {"aws:username": "bob"}}, True),
        ({"StringLike": {"aws:username": "al*"}}, True),
        ({"StringNotLike": {"aws:username": "al*"}}, False),
        ({"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/app"}}, True),
        ({"ArnNotLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/app"}}, False),
        ({"ArnEquals": {"aws:PrincipalArn": "arn:aws:iam::123456789012:role/other"}}, False),
        ({"stringequals": {"AWS:USERNAME": "alice"}}, True),  # operators and keys are case-insensitive
        ({"StringEquals": {"aws:username": "alice"}, "StringLike": {"aws:PrincipalArn": "*:role/x"}}, False),
    ]
    for condition, expected in cases:
        result = evaluate([doc(allow(Condition=condition))], ACTION, ARN, context)
        assert result.allowed is expected, condition


def test_bool_null_and_if_exists():
    context = {"aws:SecureTransport": "true", "aws:username": "alice"}
    assert evaluate([doc(allow(Condition={"Bool": {"aws:SecureTransport": True}}))], ACTION, ARN, context).allowed
    assert not evaluate([doc(allow(Condition={"Bool": {"aws:SecureTransport": "false"}}))],
                        ACTION, ARN, context).allowed
    assert evaluate([doc(allow(Condition={"Null": {"aws:TokenIssueTime": "true"}}))], ACTION, ARN, context).allowed
    assert not evaluate([doc(allow(Condition={"Null": {"aws:username": "true"}}))], ACTION, ARN, context).allowed
    assert evaluate([doc(allow(Condition={"Null": {"aws:username": "false"}}))], ACTION, ARN, context).allowed
    if_exists = {"StringEqualsIfExists": {"aws:RequestTag/team": "db"}}
    assert evaluate([doc(allow(Condition=if_exists))], ACTION, ARN, context).allowed
    assert not evaluate([doc(allow(Condition=if_exists))], ACTION, ARN, {"aws:RequestTag/team": "web"}).allowed


def test_set_operators_and_malformed_conditions_are_not_understood():
    for condition in (
        {"ForAnyValue:StringEquals": {"aws:TagKeys": ["a"]}},
        {"DateGreaterThan": {"aws:CurrentTime": "2020-01-01T00:00:00Z"}},
        {"StringEquals": "aws:username"},
        "nonsense",
    ):
        result = evaluate([doc(allow(Condition=condition))], ACTION, ARN, {"aws:username": "alice"})
        assert result.decision == IMPLICIT_DENY, condition
        assert result.skipped


def test_condition_that_does_not_hold_is_reported_in_skipped():
    result = evaluate([doc(allow(Condition={"StringEquals": {"aws:username": "bob"}}))], ACTION, ARN,
                      {"aws:username": "alice"})
    assert result.decision == IMPLICIT_DENY
    assert "does not hold" in result.skipped[0].note


# policy variables --------------------------------------------------------------

def test_policy_variables_in_resources():
    statement = allow(resource="arn:aws:rds-db:*:*:dbuser:*/${aws:username}")
    assert evaluate([doc(statement)], ACTION, ARN, {"aws:username": "alice"}).allowed
    assert not evaluate([doc(statement)], ACTION, ARN, {"aws:username": "bob"}).allowed
    unresolved = evaluate([doc(statement)], ACTION, ARN)
    assert unresolved.decision == IMPLICIT_DENY
    assert any("cannot be resolved" in note for note in unresolved.notes)
    with_default = allow(resource="arn:aws:rds-db:*:*:dbuser:*/${aws:username, 'alice'}")
    assert evaluate([doc(with_default)], ACTION, ARN).allowed
    # variables are literal text in version 2008-10-17 documents
    old = {"Version": "2008-10-17", "Statement": [allow(resource="arn:aws:rds-db:*:*:dbuser:*/${aws:username}")]}
    assert not evaluate([old], ACTION, ARN, {"aws:username": "alice"}).allowed
    # a variable's value is literal text, not a wildcard
    assert not evaluate([doc(statement)], ACTION, ARN, {"aws:username": "a*"}).allowed
    assert evaluate([doc(statement)], ACTION, ARN.replace("alice", "a*"), {"aws:username": "a*"}).allowed
    literal = allow(resource="arn:aws:rds-db:*:*:dbuser:*/${*}")
    assert evaluate([doc(literal)], ACTION, "arn:aws:rds-db:us-east-1:1:dbuser:db-X/*").allowed
    assert not evaluate([doc(literal)], ACTION, ARN).allowed


def test_result_to_dict_and_helpers():
    result = evaluate([("p", doc(allow(Sid="S")))], ACTION, ARN)
    data = result.to_dict()
    assert data["decision"] == "allow"
    assert data["allowed"] is True
    assert data["statement"]["sid"] == "S"
    assert data["statement"]["policy_name"] == "p"
    assert json.dumps(data)
    assert rds_db_arn("aws", "us-east-1", "123456789012", RID, "alice") == ARN
    assert "allow" in repr(result)
