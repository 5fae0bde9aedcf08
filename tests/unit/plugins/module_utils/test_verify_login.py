# -*- coding: utf-8 -*-
# Copyright: (c) 2026, dbauth.rds_iam developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.dbauth.rds_iam.plugins.module_utils import _verify_login
from ansible_collections.dbauth.rds_iam.plugins.module_utils._db_connection import DbConnectionError
from ansible_collections.dbauth.rds_iam.plugins.module_utils._token_signing import KIND_ASSUME_ROLE
from ansible_collections.dbauth.rds_iam.plugins.module_utils._token_signing import KIND_CONFIG
from ansible_collections.dbauth.rds_iam.plugins.module_utils._token_signing import KIND_CREDENTIALS_EXPIRED
from ansible_collections.dbauth.rds_iam.plugins.module_utils._token_signing import KIND_NO_CREDENTIALS
from ansible_collections.dbauth.rds_iam.plugins.module_utils._token_signing import TokenError

TOKEN = "db.example:3306/?Action=connect&DBUser=app&X-Amz-Signature=" + "f" * 64


class FakeSigner:
    def __init__(self, error=None, kind=KIND_CONFIG):
        self.error = error
        self.kind = kind
        self.options = None

    def generate(self, options):
        self.options = options
        if self.error:
            raise TokenError(self.error, self.kind)
        return {"token": TOKEN, "expires_at": "2026-11-25T08:00:00Z", "region": "eu-west-1"}


class FakeCursor:
    def __init__(self, row):
        self.row = row
        self.queries = []

    def execute(self, query, args=None):
        self.queries.append(query)

    def fetchone(self):
        return self.row

    def close(self):
        pass


class FakeConn:
    def __init__(self, row):
        self.cur = FakeCursor(row)
        self.closed = False

    def cursor(self):
        return self.cur

    def close(self):
        self.closed = True


def params(**kw):
    base = dict(engine="mysql", db_host="db.example", db_port=3306, db_user="app", db_name=None, ca_cert="/ca.pem",
                ssl_mode="verify-full", connect_timeout=5, token=None)
    base.update(kw)
    return base


def ticking_clock():
    state = {"t": 100.0}

    def clock():
        state["t"] += 0.0125
        return state["t"]
    return clock


def test_success_mysql_reports_user_tls_version_latency_and_hides_token():
    seen = {}

    def connect(settings):
        seen["settings"] = settings
        return FakeConn(("app@%", "10.11.6-MariaDB")), "TLSv1.3"

    no_log = set()
    signer = FakeSigner()
    out = _verify_login.attempt_login(params(), "eu-west-1", signer, connect_fn=connect, clock=ticking_clock(),
                                      no_log_values=no_log)
    assert out.connected is True
    assert out.current_user == "app"
    assert out.tls_version == "TLSv1.3"
    assert out.server_version == "10.11.6-MariaDB"
    assert out.latency_ms == 12.5
    assert out.diagnosis is None
    assert TOKEN in no_log
    assert seen["settings"].secret == TOKEN and seen["settings"].iam is True
    assert seen["settings"].ssl_mode == "verify-full" and seen["settings"].ca_cert == "/ca.pem"
    assert signer.options["db_host"] == "db.example" and signer.options["region"] == "eu-west-1"
    assert TOKEN not in repr(out.to_result()) and TOKEN not in out.message


def test_postgres_defaults_port_and_database():
    seen = {}

    def connect(settings):
        seen["s"] = settings
        return FakeConn(("app", "16.4")), "TLSv1.3"

    out = _verify_login.attempt_login(params(engine="postgres", db_port=None), None, FakeSigner(), connect_fn=connect)
    assert out.connected and out.current_user == "app" and out.server_version == "16.4"
    assert seen["s"].port == 5432 and seen["s"].database == "postgres"


@pytest.mark.parametrize("message, kind, diagnosis", [
    ("No AWS credentials found to sign the RDS IAM token. Tried ...", KIND_NO_CREDENTIALS, "no_credentials"),
    ("The AWS profile ghost was not found in the shared credentials and config files.", KIND_NO_CREDENTIALS,
     "no_credentials"),
    ("Could not refresh the AWS credentials from custom-process: RuntimeError: Credentials were "
     "refreshed, but the refreshed credentials are still expired.", KIND_CREDENTIALS_EXPIRED, "credentials_expired"),
    ("The AWS credentials from iam-role expire before the token's 15 minutes end", KIND_CREDENTIALS_EXPIRED,
     "credentials_expired"),
    ("Could not assume role arn:aws:iam::1:role/x (session s) with y: AccessDenied: no", KIND_ASSUME_ROLE,
     "no_credentials"),
    # The kind decides, never the words: an "expired" in a message of another kind changes nothing.
    ("No AWS credentials found (the old ones expired)", KIND_NO_CREDENTIALS, "no_credentials"),
])
def test_signing_failures_are_diagnosed_by_kind(message, kind, diagnosis):
    out = _verify_login.attempt_login(params(), None, FakeSigner(message, kind), connect_fn=None)
    assert out.diagnosis == diagnosis
    assert not out.connected
    assert message in out.message


def test_missing_ca_cert_is_a_tls_diagnosis_and_no_login_is_claimed(tmp_path):
    missing = str(tmp_path / "missing-bundle.pem")
    out = _verify_login.attempt_login(params(ca_cert=missing), None, FakeSigner())
    assert out.connected is False and out.diagnosis == "tls"
    assert "ca_cert %s is not a file" % missing in out.message
    assert "Logged in" not in out.message


def test_an_error_while_connecting_never_claims_a_login():
    def connect(settings):
        raise FileNotFoundError(2, "No such file or directory")
    with pytest.raises(_verify_login.VerifyConfigError) as e:
        _verify_login.attempt_login(params(), None, FakeSigner(), connect_fn=connect)
    assert "Logged in" not in str(e.value)
    assert "could not connect to db.example:3306" in str(e.value) and TOKEN not in str(e.value)


def test_signing_config_errors_are_not_diagnoses():
    with pytest.raises(_verify_login.VerifyConfigError, match="db_host must not contain a port"):
        _verify_login.attempt_login(params(), None, FakeSigner("db_host must not contain a port: set db_host=a"))


def failing(message, kind):
    def connect(settings):
        raise DbConnectionError(message + " " + settings.secret, kind)
    return connect


@pytest.mark.parametrize("engine, message, kind, diagnosis, hint", [
    ("mysql", "cannot reach the database at db.example:3306: refused", "unreachable", "network", "db_port"),
    ("postgres", "TLS with db.example:5432 failed: certificate verify failed", "tls", "tls", "ca_cert"),
    ("mysql", "login refused: (1524, \"Plugin 'AWSAuthenticationPlugin' is not loaded\")", "auth", "iam_disabled",
     "rds_iam_enable"),
    ("postgres", "login refused: FATAL:  password authentication failed for user \"app\"", "auth", "user_not_iam",
     "GRANT rds_iam TO app"),
    ("postgres", "login refused: FATAL:  PAM authentication failed for user \"app\"", "auth", "token_rejected",
     "diagnose=true"),
    ("mysql", "login refused: (1045, \"Access denied for user 'app'@'1.2.3.4' (using password: YES)\")", "auth",
     "token_rejected", "diagnose=true"),
])
def test_connect_failures_are_diagnosed_and_scrubbed(engine, message, kind, diagnosis, hint):
    out = _verify_login.attempt_login(params(engine=engine), None, FakeSigner(), connect_fn=failing(message, kind))
    assert out.diagnosis == diagnosis
    assert hint in out.message
    assert TOKEN not in out.message and TOKEN not in out.server_message
    assert out.latency_ms is not None


def test_no_tls_client_side_is_tls_and_postgres_gets_no_token():
    seen = {}

    def connect(settings):
        seen["secret"] = settings.secret
        raise DbConnectionError("pg_hba.conf rejects connection for host, no encryption", "auth")

    out = _verify_login.attempt_login(params(engine="postgres", ssl_mode="disable"), None, FakeSigner(),
                                      connect_fn=connect)
    assert out.diagnosis == "tls"
    assert "ssl_mode=verify-full" in out.message
    assert seen["secret"] == ""


def test_plain_connection_that_logs_in_is_not_a_success():
    out = _verify_login.attempt_login(params(ssl_mode="prefer"), None, FakeSigner(),
                                      connect_fn=lambda s: (FakeConn(("app@%", "8.0")), None))
    assert not out.connected and out.diagnosis == "tls"


def test_given_token_is_used_without_signing():
    seen = {}

    def connect(settings):
        seen["secret"] = settings.secret
        return FakeConn(("app@%", "8.0")), "TLSv1.2"

    out = _verify_login.attempt_login(params(token="given-token-value"), None, None, connect_fn=connect)
    assert out.connected and out.token_source == "given" and seen["secret"] == "given-token-value"


@pytest.mark.parametrize("override, message", [
    (dict(engine="oracle"), "engine must be one of"),
    (dict(db_host=" "), "db_host is required"),
    (dict(db_port=70000), "outside 1-65535"),
    (dict(db_user=""), "db_user is required"),
    (dict(connect_timeout=-1), "connect_timeout"),
])
def test_bad_options(override, message):
    with pytest.raises(_verify_login.VerifyConfigError, match=message):
        _verify_login.validated_target(params(**override))


def test_kind_sts_login_signs_for_the_server_id():
    signer = FakeSigner()
    out = _verify_login.attempt_login(params(kind="sts", server_id="orders-db-1"), None, signer,
                                      connect_fn=lambda settings: (FakeConn(("app@%", "11.4")), "TLSv1.3"))
    assert out.connected
    assert (signer.options["kind"], signer.options["server_id"]) == ("sts", "orders-db-1")


def test_kind_sts_without_server_id_is_a_configuration_error():
    signer = FakeSigner(error="server_id is required with kind=sts: give the server id")
    with pytest.raises(_verify_login.VerifyConfigError, match="server_id is required with kind=sts"):
        _verify_login.attempt_login(params(kind="sts"), None, signer, connect_fn=lambda settings: None)


def test_kind_sts_refusal_points_at_the_bridge_log():
    def refuse(settings):
        raise DbConnectionError('login refused: FATAL:  LDAP authentication failed for user "app"', "auth")

    out = _verify_login.attempt_login(params(engine="postgres", kind="sts", server_id="orders-db-1"), None,
                                      FakeSigner(), connect_fn=refuse)
    assert out.diagnosis == "token_rejected" and not out.connected
    assert "Its bridge (dbauth-iam-bridge) logs the reason" in out.message and "diagnose=true" not in out.message
    assert TOKEN not in out.message
