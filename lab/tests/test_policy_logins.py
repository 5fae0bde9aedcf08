"""Corpus cases as real logins through the lab's MariaDB and PostgreSQL servers.

The cases of tests/policy_corpus/ marked ``logins: true`` (allow, explicit deny, ABAC with
``${aws:PrincipalTag/dbuser}``, a Deny whose condition key is absent, a wildcard DB user, a
role with an IAM path) are played end to end: the principal of the case's request context
is created in the lab's IAM (role with its path and tags, or user), its policies are the
case's policies moved to the lab's account, region and resource id, a token is signed with
its credentials, and the login must succeed exactly when the case says ``allowed`` -- a
refusal carries the verifier's reason code for the expected decision.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from lab.tests import test_logins
from lab.tests.test_logins import Lab, expect_refused, login, make_token, mysql_connect, pg_connect
from lab.tests.test_policy_corpus import CASES

lab = test_logins.lab  # the module-scoped lab fixture (a lab of this module's own)

LOGIN_CASES = [c for c in CASES if c.get("logins")]
DB_IDS = ["lab-mysql", "lab-postgres"]
CORPUS_ACCOUNT, CORPUS_REGION, CORPUS_RESOURCE_ID = "123456789012", "us-east-1", "db-ABC"
REFUSAL_CODES = {"explicit_deny": "policy_explicit_deny", "implicit_deny": "policy_implicit_deny"}


def test_the_selection() -> None:
    """At least 8 cases, covering both refusals and the features named in the module docstring."""
    assert len(LOGIN_CASES) >= 8
    expected = {c["expected"] for c in LOGIN_CASES}
    assert expected == {"allowed", "explicit_deny", "implicit_deny"}
    text = json.dumps(LOGIN_CASES)
    assert "${aws:PrincipalTag/dbuser}" in text and "role/app/team-a/" in text and "dbuser:db-ABC/*" in text
    assert any(c["id"].startswith("absent-deny") for c in LOGIN_CASES)


def localise(value: Any, account: str, region: str, resource_id: str) -> Any:
    """The case's documents and ARNs moved to the lab's account, region and resource id."""
    if isinstance(value, str):
        return (value.replace(CORPUS_ACCOUNT, account).replace(CORPUS_REGION, region)
                .replace(CORPUS_RESOURCE_ID, resource_id))
    if isinstance(value, list):
        return [localise(v, account, region, resource_id) for v in value]
    if isinstance(value, dict):
        return {k: localise(v, account, region, resource_id) for k, v in value.items()}
    return value


@pytest.fixture(scope="module")
def corpus_lab(lab: Lab) -> Lab:
    """IAM auth on both servers and the DB users the cases log in as."""
    rds = lab.aws("rds")
    for db_id in DB_IDS:
        rds.modify_db_instance(DBInstanceIdentifier=db_id, EnableIAMDatabaseAuthentication=True, ApplyImmediately=True)
    lab.refresh()
    users = sorted({c["resource"].rsplit("/", 1)[1] for c in LOGIN_CASES})
    for db_id in DB_IDS:
        db = lab.db(db_id)
        if db["engine"] == "mysql":
            conn = mysql_connect(lab, db, db["admin_user"], db["admin_password"])
            with conn.cursor() as cur:
                for user in users:
                    cur.execute(f"CREATE USER IF NOT EXISTS '{user}'@'%' IDENTIFIED WITH AWSAuthenticationPlugin "
                                "AS 'RDS' REQUIRE SSL")
            conn.close()
        else:
            conn = pg_connect(lab, db, db["admin_user"], db["admin_password"])
            conn.autocommit = True
            with conn.cursor() as cur:
                for user in users:
                    cur.execute(f"SELECT 1 FROM pg_roles WHERE rolname = '{user}'")
                    if not cur.fetchone():
                        cur.execute(f"CREATE ROLE {user} LOGIN")
                        cur.execute(f"GRANT rds_iam TO {user}")
            conn.close()
    return lab


class Principal:
    """The principal of a case's request context, made in the lab's IAM (removed again by ``close``)."""

    def __init__(self, lab: Lab, case: dict[str, Any], resource_id: str):
        self.iam = lab.aws("iam")
        self.lab = lab
        self.account, self.region = lab.status["account_id"], lab.status["region"]
        self.resource_id = resource_id
        context = case["context"]
        arn = context["aws:PrincipalArn"]
        kind, _slash, path_and_name = arn.split(":", 5)[5].partition("/")
        self.kind = kind
        self.path = "/" + path_and_name.rsplit("/", 1)[0] + "/" if "/" in path_and_name else "/"
        self.name = path_and_name.rsplit("/", 1)[-1]
        self.tags = [{"Key": k.split("/", 1)[1], "Value": str(v)} for k, v in context.items()
                     if k.lower().startswith("aws:principaltag/")]
        self.policies = [(p["name"], self._doc(p["document"])) for p in case["identity"]]
        self.boundary_arn = None
        if case.get("boundary"):
            self.boundary_arn = self.iam.create_policy(
                PolicyName="pb-" + uuid.uuid4().hex[:8], PolicyDocument=self._doc(case["boundary"]["document"])
            )["Policy"]["Arn"]
        self.session_policy = self._doc(case["session_policy"]["document"]) if case.get("session_policy") else None
        self.arn = ""

    def _doc(self, document: dict[str, Any]) -> str:
        return json.dumps(localise(document, self.account, self.region, self.resource_id))

    def credentials(self) -> dict[str, str]:
        extra: dict[str, Any] = {"PermissionsBoundary": self.boundary_arn} if self.boundary_arn else {}
        if self.tags:
            extra["Tags"] = self.tags
        if self.kind == "user":
            self.arn = self.iam.create_user(UserName=self.name, Path=self.path, **extra)["User"]["Arn"]
            for name, document in self.policies:
                self.iam.put_user_policy(UserName=self.name, PolicyName=name, PolicyDocument=document)
            key = self.iam.create_access_key(UserName=self.name)["AccessKey"]
            return {"aws_access_key_id": key["AccessKeyId"], "aws_secret_access_key": key["SecretAccessKey"]}
        trust = json.dumps({"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{self.account}:root"}, "Action": "sts:AssumeRole"}]})
        self.arn = self.iam.create_role(RoleName=self.name, Path=self.path, AssumeRolePolicyDocument=trust,
                                        **extra)["Role"]["Arn"]
        for name, document in self.policies:
            self.iam.put_role_policy(RoleName=self.name, PolicyName=name, PolicyDocument=document)
        session = {"Policy": self.session_policy} if self.session_policy else {}
        c = self.lab.aws("sts").assume_role(RoleArn=self.arn, RoleSessionName="corpus-" + uuid.uuid4().hex[:6],
                                            **session)["Credentials"]
        return {"aws_access_key_id": c["AccessKeyId"], "aws_secret_access_key": c["SecretAccessKey"],
                "aws_session_token": c["SessionToken"]}

    def close(self) -> None:
        if self.kind == "user":
            for key in self.iam.list_access_keys(UserName=self.name)["AccessKeyMetadata"]:
                self.iam.delete_access_key(UserName=self.name, AccessKeyId=key["AccessKeyId"])
            for name, _doc in self.policies:
                self.iam.delete_user_policy(UserName=self.name, PolicyName=name)
            self.iam.delete_user(UserName=self.name)
        else:
            for name, _doc in self.policies:
                self.iam.delete_role_policy(RoleName=self.name, PolicyName=name)
            self.iam.delete_role(RoleName=self.name)
        if self.boundary_arn:
            self.iam.delete_policy(PolicyArn=self.boundary_arn)


@pytest.mark.parametrize("db_id", DB_IDS)
@pytest.mark.parametrize("case", LOGIN_CASES, ids=[c["id"] for c in LOGIN_CASES])
def test_corpus_case_as_a_login(corpus_lab: Lab, case: dict[str, Any], db_id: str) -> None:
    lab = corpus_lab
    db = lab.db(db_id)
    resource = localise(case["resource"], lab.status["account_id"], lab.status["region"], db["resource_id"])
    assert resource == f"{db['resource_arn_prefix']}/{resource.rsplit('/', 1)[1]}"
    db_user = resource.rsplit("/", 1)[1]
    principal = Principal(lab, case, db["resource_id"])
    try:
        creds = principal.credentials()
        if case["context"]["aws:PrincipalArn"].split(":", 5)[5].count("/") > 1:
            assert principal.arn.split(":", 5)[5] == case["context"]["aws:PrincipalArn"].split(":", 5)[5]
        token = make_token(creds, "127.0.0.1", db["port"], db_user, lab.status["region"])
        if case["expected"] == "allowed":
            assert login(lab, db_id, db_user, token) == (db_user, True)
        else:
            expect_refused(lab, db_id, db_user, token, REFUSAL_CODES[case["expected"]])
    finally:
        principal.close()
