# -*- coding: utf-8 -*-
# Copyright: (c) 2026, dbauth.rds_iam developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import json

import botocore.session
import pytest
from botocore.stub import ANY
from botocore.stub import Stubber

from ansible_collections.dbauth.rds_iam.plugins.module_utils import _verify_diagnosis
from ansible_collections.dbauth.rds_iam.plugins.module_utils._db_connection import DbConnectionError
from ansible_collections.dbauth.rds_iam.plugins.module_utils._db_connection import LoginSettings
from ansible_collections.dbauth.rds_iam.plugins.module_utils._verify_login import LoginOutcome

NOW = datetime.datetime(2026, 11, 25, 8, 0, 0, tzinfo=datetime.timezone.utc)
ACCOUNT = "123456789012"
ROLE_ARN = "arn:aws:iam::%s:role/app-role" % ACCOUNT
CALLER = "arn:aws:sts::%s:assumed-role/app-role/i-0abc" % ACCOUNT
RESOURCE_ID = "db-ABCDEFGHIJKLMNOPQRSTUVWXY1"
RESOURCE = "arn:aws:rds-db:eu-west-1:%s:dbuser:%s/app" % (ACCOUNT, RESOURCE_ID)
HOST = "db1.abc.eu-west-1.rds.amazonaws.com"


def client(service):
    session = botocore.session.Session()
    return session.create_client(service, region_name="eu-west-1", aws_access_key_id="AKIDEXAMPLE",
                                 aws_secret_access_key="not-a-secret")


class Aws:
    """Stubbed clients; every response is checked against the AWS API model by Stubber."""

    def __init__(self):
        self.clients = dict((s, client(s)) for s in ("sts", "rds", "iam"))
        self.stubs = dict((s, Stubber(c)) for s, c in self.clients.items())

    def client(self, service):
        return self.clients[service]

    def __enter__(self):
        for s in self.stubs.values():
            s.activate()
        return self

    def __exit__(self, *exc):
        for s in self.stubs.values():
            s.deactivate()

    def assert_done(self):
        for s in self.stubs.values():
            s.assert_no_pending_responses()

    # canned sequences ------------------------------------------------------------------------
    def caller(self, arn=CALLER):
        self.stubs["sts"].add_response("get_caller_identity", {"UserId": "AROAX:i-0abc", "Account": ACCOUNT, "Arn": arn}, {})

    def database(self, iam_enabled=True, pending=None):
        db = {"DBInstanceIdentifier": "db1", "DbiResourceId": RESOURCE_ID, "Engine": "mysql",
              "DBInstanceStatus": "available", "IAMDatabaseAuthenticationEnabled": iam_enabled,
              "DBInstanceArn": "arn:aws:rds:eu-west-1:%s:db:db1" % ACCOUNT,
              "Endpoint": {"Address": HOST, "Port": 3306}}
        if pending is not None:
            db["PendingModifiedValues"] = {"IAMDatabaseAuthenticationEnabled": pending}
        self.stubs["rds"].add_response("describe_db_clusters", {"DBClusters": []}, {})
        self.stubs["rds"].add_response("describe_db_instances", {"DBInstances": [db]}, {})

    def role(self, inline=(), attached=(), simulate_error="AccessDenied"):
        """The role's policies read one by one, after iam:SimulatePrincipalPolicy failed with ``simulate_error``."""
        iam = self.stubs["iam"]
        self.get_role()
        iam.add_client_error("simulate_principal_policy", service_error_code=simulate_error, service_message="no")
        iam.add_response("list_role_policies", {"PolicyNames": [n for n, _d in inline], "IsTruncated": False},
                         {"RoleName": "app-role"})
        for name, document in inline:
            iam.add_response("get_role_policy", {"RoleName": "app-role", "PolicyName": name,
                                                 "PolicyDocument": json.dumps(document)},
                             {"RoleName": "app-role", "PolicyName": name})
        iam.add_response("list_attached_role_policies",
                         {"AttachedPolicies": [{"PolicyName": a.rsplit("/", 1)[-1], "PolicyArn": a} for a, _d in attached],
                          "IsTruncated": False}, {"RoleName": "app-role"})
        for arn, document in attached:
            iam.add_response("get_policy", {"Policy": {"Arn": arn, "DefaultVersionId": "v1"}}, {"PolicyArn": arn})
            iam.add_response("get_policy_version", {"PolicyVersion": {"Document": json.dumps(document), "VersionId": "v1"}},
                             {"PolicyArn": arn, "VersionId": "v1"})

    def get_role(self, arn=ROLE_ARN, path="/"):
        self.stubs["iam"].add_response("get_role", {"Role": {
            "Path": path, "RoleName": "app-role", "RoleId": "AROAEXAMPLEEXAMPLE1", "Arn": arn, "CreateDate": NOW}},
            {"RoleName": "app-role"})

    def simulation(self, decision, source_arn=ROLE_ARN, matched=(), missing=()):
        result = {"EvalActionName": "rds-db:connect", "EvalResourceName": RESOURCE, "EvalDecision": decision}
        if matched:
            result["MatchedStatements"] = [{"SourcePolicyId": m, "SourcePolicyType": "IAM Policy"} for m in matched]
        if missing:
            result["MissingContextValues"] = list(missing)
        self.stubs["iam"].add_response("simulate_principal_policy", {"EvaluationResults": [result]}, {
            "PolicySourceArn": source_arn, "ActionNames": ["rds-db:connect"], "ResourceArns": [RESOURCE],
            "ContextEntries": ANY})


def allow(resource, effect="Allow"):
    return {"Version": "2012-10-17", "Statement": [{"Effect": effect, "Action": "rds-db:connect", "Resource": resource}]}


def outcome(diagnosis="token_rejected", message="refused", region="eu-west-1"):
    o = LoginOutcome()
    o.diagnosis = diagnosis
    o.message = message
    o.region = region
    return o


def run(aws, catalog=None, token=None, params=None, first=None):
    params = params or {"engine": "mysql"}
    return _verify_diagnosis.diagnose(first or outcome(), params, HOST, 3306, "app", aws, catalog=catalog, token=token,
                                      now=NOW)


def statuses(checks):
    return dict((c.name, c.status) for c in checks)


def test_policy_missing_is_policy_denied_with_the_resource_to_allow():
    with Aws() as aws:
        aws.caller()
        aws.database()
        aws.role(inline=[("other", allow("arn:aws:rds-db:eu-west-1:%s:dbuser:%s/report" % (ACCOUNT, RESOURCE_ID)))])
        diagnosis, message, checks, facts = run(aws, catalog=lambda: (True, True, "ok"))
        aws.assert_done()
    assert diagnosis == "policy_denied"
    assert statuses(checks) == {"credentials": "ok", "iam_enabled": "ok", "user": "ok", "policy": "failed"}
    assert "allows rds-db:connect on %s" % RESOURCE in message
    assert facts == {"principal_arn": CALLER, "resource_arn": RESOURCE, "db_identifier": "db1", "policy_source": "local"}


def test_explicit_deny_names_the_statement():
    with Aws() as aws:
        aws.caller()
        aws.database()
        aws.role(attached=[("arn:aws:iam::%s:policy/ok" % ACCOUNT, allow("*")),
                           ("arn:aws:iam::%s:policy/deny" % ACCOUNT, allow(RESOURCE, "Deny"))])
        diagnosis, message, checks, _facts = run(aws)
    assert diagnosis == "policy_denied"
    assert "explicit Deny" in message and "policy/deny" in message and "remove or narrow that Deny" in message
    assert statuses(checks)["user"] == "skipped"


def test_iam_disabled_comes_first_and_other_broken_links_are_listed():
    with Aws() as aws:
        aws.caller()
        aws.database(iam_enabled=False, pending=True)
        aws.role()
        diagnosis, message, checks, _facts = run(aws)
    assert diagnosis == "iam_disabled"
    assert "rds_iam_enable db_instance_identifier=db1" in message
    assert "maintenance window" in message
    assert "Also broken" in message and "implicit deny" in message


def test_expired_credentials_from_sts():
    with Aws() as aws:
        aws.stubs["sts"].add_client_error("get_caller_identity", service_error_code="ExpiredToken",
                                          service_message="The security token included in the request is expired")
        aws.database()
        diagnosis, message, checks, facts = run(aws)
    assert diagnosis == "credentials_expired"
    assert statuses(checks)["policy"] == "unknown"
    assert facts["principal_arn"] is None


def test_unknown_key_is_token_rejected():
    with Aws() as aws:
        aws.stubs["sts"].add_client_error("get_caller_identity", service_error_code="InvalidClientTokenId",
                                          service_message="The security token included in the request is invalid.")
        aws.database()
        diagnosis, message, _checks, _facts = run(aws)
    assert diagnosis == "token_rejected" and "deleted, deactivated or mistyped" in message


@pytest.mark.parametrize("catalog, diagnosis, hint", [
    ((False, False, "no account 'app' in mysql.user"), "user_missing", "rds_iam_db_user"),
    ((True, False, "'app'@'%' identified with mysql_native_password, not AWSAuthenticationPlugin"), "user_not_iam",
     "convert_existing=true"),
])
def test_catalog_findings(catalog, diagnosis, hint):
    with Aws() as aws:
        aws.caller()
        aws.database()
        aws.role(inline=[("db", allow(RESOURCE))])
        result, message, checks, _facts = run(aws, catalog=lambda: catalog)
    assert result == diagnosis and hint in message
    assert statuses(checks)["policy"] == "ok"


def test_every_link_holds_gives_token_rejected_and_says_what_is_left():
    def broken_catalog():
        raise DbConnectionError("login to x refused", "auth")

    with Aws() as aws:
        aws.caller()
        aws.database()
        aws.role(inline=[("db", allow(RESOURCE))])
        diagnosis, message, checks, _facts = run(aws, catalog=broken_catalog)
    assert diagnosis == "token_rejected"
    assert statuses(checks)["user"] == "unknown"
    assert "every link that could be checked holds" in message and "not checked: user" in message


def test_postgres_guess_user_not_iam_is_overruled_by_the_catalog():
    with Aws() as aws:
        aws.caller()
        aws.database()
        aws.role(inline=[("db", allow(RESOURCE))])
        diagnosis, _m, _c, _f = run(aws, catalog=lambda: (True, True, "member"), params={"engine": "postgres"},
                                    first=outcome("user_not_iam", "password authentication failed"))
    assert diagnosis == "token_rejected"


def test_postgres_guess_user_not_iam_is_undetermined_when_aws_cannot_be_read():
    # A host without rds:Describe* and iam:Get*: PostgreSQL's refusal alone does not tell a user outside
    # rds_iam from a token that IAM refuses, so the diagnosis must not pick one.
    with Aws() as aws:
        aws.caller()
        aws.stubs["rds"].add_client_error("describe_db_clusters", service_error_code="AccessDenied", service_message="no")
        aws.stubs["rds"].add_client_error("describe_db_instances", service_error_code="AccessDenied",
                                          service_message="no")
        diagnosis, message, checks, _facts = run(aws, params={"engine": "postgres"},
                                                 first=outcome("user_not_iam", "password authentication failed"))
    assert statuses(checks)["iam_enabled"] == "unknown" and statuses(checks)["policy"] == "unknown"
    assert diagnosis == "token_rejected"
    assert "cause is undetermined" in message and "rds_iam" in message and "policy" in message


def test_policy_reads_denied_simulation_still_decides():
    with Aws() as aws:
        aws.caller()
        aws.database()
        aws.stubs["iam"].add_client_error("get_role", service_error_code="AccessDenied", service_message="no")
        aws.simulation("implicitDeny")
        diagnosis, message, _checks, facts = run(aws)
        aws.assert_done()
    assert diagnosis == "policy_denied" and "SimulatePrincipalPolicy" in message
    assert facts["policy_source"] == "simulate"


def test_policy_unknown_when_nothing_can_be_read():
    with Aws() as aws:
        aws.caller()
        aws.database()
        aws.stubs["iam"].add_client_error("get_role", service_error_code="AccessDenied", service_message="no")
        aws.stubs["iam"].add_client_error("simulate_principal_policy", service_error_code="AccessDenied",
                                          service_message="no")
        diagnosis, _message, checks, facts = run(aws)
        aws.assert_done()
    assert diagnosis == "token_rejected" and statuses(checks)["policy"] == "unknown"
    assert facts["policy_source"] == "undetermined"


@pytest.mark.parametrize("decision, matched, diagnosis, status, hint", [
    ("allowed", (), "token_rejected", "ok", "iam:SimulatePrincipalPolicy allows role app-role"),
    ("explicitDeny", ("deny-db",), "policy_denied", "failed", "explicitDeny for role app-role rds-db:connect on %s by "
     "deny-db; remove or narrow that Deny" % RESOURCE),
    ("implicitDeny", (), "policy_denied", "failed", "implicitDeny for role app-role rds-db:connect on %s (identity "
     "policies and permissions boundary)" % RESOURCE),
])
def test_simulation_is_asked_first(decision, matched, diagnosis, status, hint):
    with Aws() as aws:
        aws.caller()
        aws.database()
        aws.get_role()
        aws.simulation(decision, matched=matched)
        result, message, checks, facts = run(aws)
        aws.assert_done()  # no policy was read one by one
    assert result == diagnosis and statuses(checks)["policy"] == status
    assert hint in [c.detail for c in checks if c.name == "policy"][0]
    assert facts["policy_source"] == "simulate"


def test_simulation_names_the_role_with_its_path_and_sends_the_request_context():
    path_arn = "arn:aws:iam::%s:role/service/app-role" % ACCOUNT
    with Aws() as aws:
        aws.caller()
        aws.database()
        aws.get_role(arn=path_arn, path="/service/")
        aws.simulation("implicitDeny", source_arn=path_arn, missing=("aws:PrincipalTag/team",))
        calls = []
        aws.clients["iam"].meta.events.register(
            "provide-client-params.iam.SimulatePrincipalPolicy", lambda params, **kw: calls.append(dict(params)))
        _diagnosis, message, _checks, facts = run(aws)
        aws.assert_done()
    assert facts["policy_source"] == "simulate"
    assert "lacked the context keys aws:PrincipalTag/team" in message
    entries = dict((e["ContextKeyName"], (e["ContextKeyValues"], e["ContextKeyType"])) for e in calls[0]["ContextEntries"])
    assert entries["aws:PrincipalArn"] == ([path_arn], "string")
    assert entries["aws:SecureTransport"] == (["true"], "boolean")
    assert entries["aws:PrincipalType"] == (["AssumedRole"], "string")


@pytest.mark.parametrize("error", ["AccessDenied", "ServiceFailure"])
def test_local_evaluation_when_the_caller_may_not_simulate(error):
    with Aws() as aws:
        aws.caller()
        aws.database()
        aws.role(inline=[("db", allow(RESOURCE))], simulate_error=error)
        _diagnosis, _message, checks, facts = run(aws)
        aws.assert_done()
    assert statuses(checks)["policy"] == "ok" and facts["policy_source"] == "local"
    assert "local evaluation, %s" % error in [c.detail for c in checks if c.name == "policy"][0]


def test_local_undetermined_is_policy_source_undetermined():
    tagged = "arn:aws:rds-db:eu-west-1:%s:dbuser:%s/${aws:PrincipalTag/dbuser}" % (ACCOUNT, RESOURCE_ID)
    with Aws() as aws:
        aws.caller()
        aws.database()
        aws.role(inline=[("abac", allow(tagged))])
        _diagnosis, _message, checks, facts = run(aws)
        aws.assert_done()
    assert statuses(checks)["policy"] == "unknown" and facts["policy_source"] == "undetermined"


def token(user="app", host=HOST, port=3306, signed=NOW, region="eu-west-1"):
    return ("%s:%d/?Action=connect&DBUser=%s&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%%2F%s%%2F"
            "%s%%2Frds-db%%2Faws4_request&X-Amz-Date=%s&X-Amz-Expires=900&X-Amz-SignedHeaders=host&X-Amz-Signature=%s"
            % (host, port, user, signed.strftime("%Y%m%d"), region, signed.strftime("%Y%m%dT%H%M%SZ"), "a" * 64))


def test_parse_token_reads_only_public_facts():
    facts = _verify_diagnosis.parse_token(token())
    assert facts["db_user"] == "app" and facts["host"] == HOST and facts["port"] == 3306
    assert facts["region"] == "eu-west-1" and facts["service"] == "rds-db" and facts["access_key_id"] == "AKIDEXAMPLE"
    assert _verify_diagnosis.parse_token("password123") is None


@pytest.mark.parametrize("tok, hint", [
    (token(user="other"), "signed for DBUser 'other'"),
    (token(port=5432), "signed for %s:5432" % HOST),
    (token(signed=NOW - datetime.timedelta(seconds=1000)), "expired 100 s ago"),
    (token(signed=NOW + datetime.timedelta(seconds=900)), "in the future"),
    ("not-a-token", "does not hold an RDS IAM token"),
])
def test_given_token_that_does_not_fit(tok, hint):
    with Aws() as aws:
        aws.caller()
        aws.database()
        aws.role(inline=[("db", allow(RESOURCE))])
        diagnosis, message, checks, _facts = run(aws, token=tok)
    assert diagnosis == "token_rejected"
    assert hint in message
    assert tok not in message and "a" * 64 not in message
    assert statuses(checks)["token"] == "failed"


def test_region_mismatch():
    with Aws() as aws:
        aws.caller()
        aws.database()
        aws.role(inline=[("db", allow(RESOURCE))])
        diagnosis, message, _checks, _facts = run(aws, first=outcome(region="us-east-1"))
    assert diagnosis == "token_rejected" and "set region=eu-west-1" in message


class Cursor:
    def __init__(self, rows):
        self.rows = rows
        self.executed = []

    def execute(self, query, args=None):
        self.executed.append((query, args))

    def fetchall(self):
        return self.rows

    def fetchone(self):
        return self.rows[0] if self.rows else None


class Conn:
    def __init__(self, rows):
        self.cur = Cursor(rows)
        self.closed = False

    def cursor(self):
        return self.cur

    def close(self):
        self.closed = True


def settings(engine):
    return LoginSettings(engine, "h", 1, "admin", "pw", None, None, "verify-full", 5, False)


@pytest.mark.parametrize("engine, rows, expected", [
    ("mysql", [], (False, False)),
    ("mysql", [("%", "AWSAuthenticationPlugin")], (True, True)),
    ("mysql", [("%", "mysql_native_password")], (True, False)),
    ("postgres", [], (False, False)),
    ("postgres", [(False, True)], (False, False)),
    ("postgres", [(True, None)], (True, False)),
    ("postgres", [(True, False)], (True, False)),
    ("postgres", [(True, True)], (True, True)),
])
def test_read_catalog(engine, rows, expected):
    conn = Conn(rows)
    exists, is_iam, detail = _verify_diagnosis.read_catalog(settings(engine), "app", connect_fn=lambda s: (conn, "TLSv1.3"))
    assert (exists, is_iam) == expected
    assert conn.closed and detail
    assert conn.cur.executed[0][1] == ("app",)


class NoCredsAws:
    """Real botocore clients on a host without credentials: every call raises NoCredentialsError."""

    def client(self, service):
        return botocore.session.Session().create_client(service, region_name="eu-west-1")


@pytest.mark.parametrize("tok, expected", [(None, "no_credentials"), (token(), "token_rejected")])
def test_no_credentials_only_counts_when_the_host_signed(tok, expected, clean_env):
    diagnosis, _message, checks, _facts = run(NoCredsAws(), token=tok)
    assert diagnosis == expected
    assert statuses(checks)["credentials"] == ("failed" if tok is None else "unknown")
