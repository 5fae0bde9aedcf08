# -*- coding: utf-8 -*-
# Copyright: (c) 2026, dbauth.rds_iam developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The assume-role wiring of the AWX credential type: option + environment fallback, one STS implementation.

STS is a real botocore client under a Stubber (the calls are checked against the API model).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

import botocore.session
import pytest
from botocore.stub import Stubber

from ansible.module_utils.testing import patch_module_args
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import RetryingBotoClientWrapper

from ansible_collections.dbauth.rds_iam.plugins.module_utils import _aws_session
from ansible_collections.dbauth.rds_iam.plugins.module_utils import _db_connection
from ansible_collections.dbauth.rds_iam.plugins.module_utils import _token_signing
from ansible_collections.dbauth.rds_iam.plugins.module_utils import _verify_login
from ansible_collections.dbauth.rds_iam.plugins.modules import rds_iam_enable
from ansible_collections.dbauth.rds_iam.plugins.modules import rds_iam_token
from ansible_collections.dbauth.rds_iam.plugins.modules import rds_iam_verify
from ansible_collections.dbauth.rds_iam.tests.unit.plugins.aws_doubles import ASSUMED_AK
from ansible_collections.dbauth.rds_iam.tests.unit.plugins.aws_doubles import ASSUMED_SK
from ansible_collections.dbauth.rds_iam.tests.unit.plugins.aws_doubles import ASSUMED_TOKEN
from ansible_collections.dbauth.rds_iam.tests.unit.plugins.aws_doubles import ModuleFailed
from ansible_collections.dbauth.rds_iam.tests.unit.plugins.aws_doubles import ParamsModule
from ansible_collections.dbauth.rds_iam.tests.unit.plugins.aws_doubles import StubbedSTS
from ansible_collections.dbauth.rds_iam.tests.unit.plugins.aws_doubles import signer_for
from ansible_collections.dbauth.rds_iam.tests.unit.plugins.sigv4_reference import check_token

AK = "AKIAIOSFODNN7EXAMPLE"
SK = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
ROLE_ARN = "arn:aws:iam::123456789012:role/awx-dbauth"
REGION = "eu-west-1"
HOST = "mydb.abcdefghijkl.eu-west-1.rds.amazonaws.com"


pytestmark = pytest.mark.usefixtures("clean_env")


def awx_credential_env(monkeypatch, session_name="awx-job-42", external_id="ext-7"):
    """What the credential type injects (extensions/awx/credential_type.yml)."""
    monkeypatch.setenv(_aws_session.ENV_ASSUME_ROLE_ARN, ROLE_ARN)
    monkeypatch.setenv(_aws_session.ENV_ROLE_SESSION_NAME, session_name)
    monkeypatch.setenv(_aws_session.ENV_EXTERNAL_ID, external_id)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", AK)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SK)
    monkeypatch.setenv("AWS_REGION", REGION)


# -- options and environment ---------------------------------------------------------------------

def test_argument_spec_falls_back_to_the_credential_type_environment(monkeypatch):
    awx_credential_env(monkeypatch)
    spec = dict(_aws_session.assume_role_argument_spec())
    with patch_module_args({}):
        module = AnsibleAWSModule(argument_spec=spec)
    assert _aws_session.assume_role_options(module.params) == {
        "assume_role_arn": ROLE_ARN, "role_session_name": "awx-job-42", "external_id": "ext-7"}


def test_an_explicit_option_wins_over_the_environment(monkeypatch):
    awx_credential_env(monkeypatch)
    spec = dict(_aws_session.assume_role_argument_spec())
    other = "arn:aws:iam::123456789012:role/other"
    with patch_module_args({"assume_role_arn": other}):
        module = AnsibleAWSModule(argument_spec=spec)
    assert module.params["assume_role_arn"] == other
    assert module.params["role_session_name"] == "awx-job-42"


def test_empty_injected_values_mean_no_role():
    env = {_aws_session.ENV_ROLE_SESSION_NAME: "awx", _aws_session.ENV_EXTERNAL_ID: ""}
    params = {"assume_role_arn": "", "role_session_name": "awx", "external_id": ""}
    assert _aws_session.assume_role_options(params, env) == {
        "assume_role_arn": None, "role_session_name": None, "external_id": None}


def test_an_explicit_session_name_without_a_role_still_fails():
    params = {"role_session_name": "mine", "access_key": AK, "secret_key": SK}
    with pytest.raises(_token_signing.TokenError, match="only apply together with assume_role_arn"):
        _aws_session.AwsPrincipal(ParamsModule(**params), params, environ={})


# -- clients of AnsibleAWSModule ------------------------------------------------------------------

class Module(ParamsModule):
    """An AnsibleAWSModule of these params that records the clients asked of it."""

    def __init__(self, **params):
        super(Module, self).__init__(**params)
        self.calls = []

    def client(self, service, retry_decorator=None, **extra):
        self.calls.append((service, extra))
        return super(Module, self).client(service, retry_decorator=retry_decorator, **extra)


def test_no_role_leaves_the_client_alone():
    module = Module(access_key=AK, secret_key=SK, assume_role_arn=None, region=REGION)
    _aws_session.client(module, "rds")
    assert module.calls == [("rds", {})]


def test_role_client_uses_assumed_credentials_once_and_masks_them(monkeypatch):
    sts = StubbedSTS(monkeypatch)
    sts.expect({"RoleArn": ROLE_ARN, "RoleSessionName": "awx-job-42", "ExternalId": "ext-7"})
    module = Module(access_key=AK, secret_key=SK, assume_role_arn=ROLE_ARN, role_session_name="awx-job-42",
                    external_id="ext-7", region=REGION)
    _aws_session.client(module, "rds")
    _aws_session.client(module, "iam")
    sts.done()  # one AssumeRole for both clients
    assert sts.base_keys == [AK]
    assumed = {"profile_name": None, "aws_access_key_id": ASSUMED_AK,
               "aws_secret_access_key": ASSUMED_SK, "aws_session_token": ASSUMED_TOKEN}
    # amazon.aws' STS client (the AWS options' credentials) first, then the clients as the role.
    assert module.calls == [("sts", {}), ("rds", assumed), ("iam", assumed)]
    assert {ASSUMED_SK, ASSUMED_TOKEN} <= module.no_log_values


def test_assume_failure_fails_the_module_without_secrets(monkeypatch):
    sts = StubbedSTS(monkeypatch)
    sts.stubber.add_client_error("assume_role", "AccessDenied", "not authorized to perform sts:AssumeRole")
    module = Module(access_key=AK, secret_key=SK, assume_role_arn=ROLE_ARN, region=REGION)
    with pytest.raises(ModuleFailed) as e:
        _aws_session.client(module, "rds")
    assert "Could not assume role %s" % ROLE_ARN in str(e.value) and "AccessDenied" in str(e.value)
    assert SK not in str(e.value)


def test_rds_iam_enable_assumes_the_role_from_the_environment(monkeypatch, capsys):
    awx_credential_env(monkeypatch)
    sts = StubbedSTS(monkeypatch)
    sts.expect({"RoleArn": ROLE_ARN, "RoleSessionName": "awx-job-42", "ExternalId": "ext-7"})
    seen = []
    rds = botocore.session.Session().create_client("rds", region_name=REGION, aws_access_key_id="x",
                                                   aws_secret_access_key="y")
    stub = Stubber(rds)
    stub.add_response("describe_db_instances", {"DBInstances": [{
        "DBInstanceIdentifier": "app-db", "Engine": "postgres", "EngineVersion": "16.3",
        "DBInstanceStatus": "available", "DbiResourceId": "db-ABCDEFGHIJKLMNOPQRSTUVWXY1",
        "DBInstanceArn": "arn:aws:rds:%s:123456789012:db:app-db" % REGION,
        "Endpoint": {"Address": "app-db.abcdefghijkl.%s.rds.amazonaws.com" % REGION, "Port": 5432},
        "IAMDatabaseAuthenticationEnabled": True}]}, {"DBInstanceIdentifier": "app-db"})
    stub.activate()

    real_client = AnsibleAWSModule.client

    def client(module, service, retry_decorator=None, **extra):
        if service != "rds":  # STS: amazon.aws' own client, under the Stubber
            return real_client(module, service, retry_decorator=retry_decorator, **extra)
        seen.append((service, extra))
        return rds if retry_decorator is None else RetryingBotoClientWrapper(rds, retry_decorator)

    monkeypatch.setattr(AnsibleAWSModule, "client", client)
    with patch_module_args({"db_instance_identifier": "app-db"}):
        with pytest.raises(SystemExit):
            rds_iam_enable.main()
    out = json.loads(capsys.readouterr().out)
    assert out["changed"] is False and out["resource_id"] == "db-ABCDEFGHIJKLMNOPQRSTUVWXY1"
    sts.done()
    stub.assert_no_pending_responses()
    assert sts.base_keys == [AK]  # AWS_ACCESS_KEY_ID of the credential assumed the role
    assert seen == [("rds", {"profile_name": None, "aws_access_key_id": ASSUMED_AK,
                             "aws_secret_access_key": ASSUMED_SK, "aws_session_token": ASSUMED_TOKEN})]
    dumped = json.dumps(out)
    assert ASSUMED_SK not in dumped and ASSUMED_TOKEN not in dumped and SK not in dumped


# -- tokens: module, lookup, admin login of rds_iam_db_user -------------------------------------------

def test_rds_iam_token_module_signs_as_the_role_from_the_environment(monkeypatch, capsys):
    awx_credential_env(monkeypatch)
    sts = StubbedSTS(monkeypatch)
    sts.expect({"RoleArn": ROLE_ARN, "RoleSessionName": "awx-job-42", "ExternalId": "ext-7"})
    with patch_module_args({"db_host": HOST, "db_port": 5432, "db_user": "app_user"}):
        with pytest.raises(SystemExit):
            rds_iam_token.main()
    out = json.loads(capsys.readouterr().out)
    sts.done()
    parts = check_token(out["token"], {ASSUMED_AK: ASSUMED_SK}, expect_region=REGION)
    assert parts["user"] == "app_user"


def test_db_user_admin_token_is_signed_as_the_role(monkeypatch):
    sts = StubbedSTS(monkeypatch)
    sts.expect({"RoleArn": ROLE_ARN, "RoleSessionName": "dbauth-rds-iam-token"})
    params = {"engine": "postgres", "login_host": HOST, "login_user": "iam_admin", "login_iam": True,
              "ssl_mode": "verify-full"}
    signer = signer_for(access_key=AK, secret_key=SK, assume_role_arn=ROLE_ARN)
    settings = _db_connection.login_settings(params, region=REGION, signer=signer)
    sts.done()
    assert sts.base_keys == [AK]
    parts = check_token(settings.secret, {ASSUMED_AK: ASSUMED_SK}, expect_region=REGION)
    assert parts["user"] == "iam_admin" and parts["port"] == 5432


# -- rds_iam_verify keeps the host's own identity --------------------------------------------------

def test_rds_iam_verify_ignores_the_credential_type_role(monkeypatch, capsys):
    awx_credential_env(monkeypatch)

    sts = StubbedSTS(monkeypatch)  # no AssumeRole queued: a call would fail the login
    seen = {}

    class Conn:
        def cursor(self):
            return self

        def execute(self, query, args=None):
            pass

        def fetchone(self):
            return ("app@%", "8.0.40")

        def close(self):
            pass

    def connect(settings):
        seen["token"] = settings.secret
        return Conn(), "TLSv1.3"

    monkeypatch.setattr(_verify_login, "connect", connect)
    with patch_module_args({"engine": "mysql", "db_host": HOST, "db_port": 3306, "db_user": "app",
                            "ca_cert": "/ca.pem"}):
        with pytest.raises(SystemExit):
            rds_iam_verify.main()
    out = json.loads(capsys.readouterr().out)
    assert out["connected"] is True
    # Signed by the host's own chain (here the environment keys), not by a role session.
    check_token(seen["token"], {AK: SK}, expect_region=REGION)
    assert sts.calls == []
