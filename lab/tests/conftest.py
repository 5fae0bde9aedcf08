"""Fixtures of the control-plane / verifier tests (part A of the lab).

Shared fixture names are prefixed ``lab_``:

* ``lab_control_plane`` (session): a running, seeded control plane with three
  databases on fake ports (no data plane needed). moto's state is per process and
  ``start_control_plane`` refuses to start a second one while this one runs:
  other test modules should reuse it (``lab_control_plane.add_database(spec)`` to
  seed their own databases) rather than start their own.
* ``lab_iam``: helpers to make IAM users/roles with policies and sessions on it.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any, Iterator

import pytest

from rds_iam_lab import moto_patches
from rds_iam_lab.control_plane import ControlPlane, DatabaseSpec, start_control_plane

LAB_TEST_SPECS = (
    ("lab-mysql", "instance", "mariadb", 13306),
    ("lab-postgres", "instance", "postgres", 15432),
    ("lab-aurora", "cluster", "aurora-postgresql", 15433),
)


def lab_test_specs() -> list[DatabaseSpec]:
    return [DatabaseSpec(id=i, kind=k, engine=e, host="127.0.0.1", port=p, admin_user="labadmin",
                         admin_password="lab-admin-pw-1")
            for i, k, e, p in LAB_TEST_SPECS]


@pytest.fixture(scope="session")
def lab_control_plane() -> Iterator[ControlPlane]:
    plane = start_control_plane(lab_test_specs())
    try:
        yield plane
    finally:
        plane.stop()


@dataclass
class Creds:
    access_key: str
    secret_key: str
    session_token: str | None = None
    arn: str = ""

    def token(self, cp: ControlPlane, host: str, port: int, user: str, region: str | None = None) -> str:
        """boto3's generate_db_auth_token with these credentials (signs locally)."""
        client = cp.client("rds", self.access_key, self.secret_key, self.session_token)
        return client.generate_db_auth_token(DBHostname=host, Port=port, DBUsername=user,
                                             Region=region or cp.region)


class LabIam:
    """Make throw-away principals on the control plane (unique names per call)."""

    def __init__(self, cp: ControlPlane):
        self.cp = cp
        self.iam = cp.client("iam")
        self.sts = cp.client("sts")

    @staticmethod
    def connect_policy(resource: str | list[str], effect: str = "Allow", action: str = "rds-db:connect",
                       **extra: Any) -> str:
        statement = {"Effect": effect, "Action": action, "Resource": resource}
        statement.update(extra)
        return json.dumps({"Version": "2012-10-17", "Statement": [statement]})

    def user(self, policy: str | None = None) -> Creds:
        name = "t-user-" + uuid.uuid4().hex[:8]
        arn = self.iam.create_user(UserName=name)["User"]["Arn"]
        if policy:
            self.iam.put_user_policy(UserName=name, PolicyName="connect", PolicyDocument=policy)
        key = self.iam.create_access_key(UserName=name)["AccessKey"]
        return Creds(key["AccessKeyId"], key["SecretAccessKey"], None, arn)

    def role(self, inline: str | None = None, managed: str | None = None) -> str:
        name = "t-role-" + uuid.uuid4().hex[:8]
        trust = json.dumps({"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{self.cp.account_id}:root"},
            "Action": "sts:AssumeRole"}]})
        arn = self.iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust)["Role"]["Arn"]
        if inline:
            self.iam.put_role_policy(RoleName=name, PolicyName="connect", PolicyDocument=inline)
        if managed:
            parn = self.iam.create_policy(PolicyName=name + "-managed", PolicyDocument=managed)["Policy"]["Arn"]
            self.iam.attach_role_policy(RoleName=name, PolicyArn=parn)
        return arn

    def assume(self, role_arn: str, source: Creds | None = None) -> Creds:
        sts = self.sts
        if source is not None:
            sts = self.cp.client("sts", source.access_key, source.secret_key, source.session_token)
        c = sts.assume_role(RoleArn=role_arn, RoleSessionName="t-" + uuid.uuid4().hex[:6])
        return Creds(c["Credentials"]["AccessKeyId"], c["Credentials"]["SecretAccessKey"],
                     c["Credentials"]["SessionToken"], c["AssumedRoleUser"]["Arn"])

    def lab_role_session(self, role_name: str) -> Creds:
        """Assume a seeded lab role with its source user's keys, as a target host does."""
        principal = next(p for p in self.cp.principals() if p["name"] == role_name)
        key_id, secret = self.cp.principal_secret(role_name)
        return self.assume(principal["role_arn"], Creds(key_id, secret))


@pytest.fixture
def lab_iam(lab_control_plane: ControlPlane) -> LabIam:
    return LabIam(lab_control_plane)


@pytest.fixture
def lab_patch_settings() -> Iterator[dict[str, Any]]:
    """moto_patches.SETTINGS, restored after the test."""
    saved = dict(moto_patches.SETTINGS)
    try:
        yield moto_patches.SETTINGS
    finally:
        moto_patches.SETTINGS.clear()
        moto_patches.SETTINGS.update(saved)
