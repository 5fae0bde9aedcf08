# -*- coding: utf-8 -*-
# Copyright: (c) 2026, dbauth.rds_iam developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.dbauth.rds_iam.plugins.module_utils import _verify_login
from ansible_collections.dbauth.rds_iam.plugins.module_utils._db_connection import DbConnectionError
from ansible_collections.dbauth.rds_iam.plugins.modules import rds_iam_verify
from ansible_collections.dbauth.rds_iam.tests.unit.plugins.sigv4_reference import check_token

AK = "AKIAIOSFODNN7EXAMPLE"
SK = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
HOST = "db1.abcdefghijkl.eu-west-1.rds.amazonaws.com"


pytestmark = pytest.mark.usefixtures("clean_env")


class Cursor:
    def execute(self, query, args=None):
        pass

    def fetchone(self):
        return ("app@%", "8.0.40")

    def close(self):
        pass


class Conn:
    def cursor(self):
        return Cursor()

    def close(self):
        pass


def run_module(capsys, args):
    with patch_module_args(args):
        with pytest.raises(SystemExit) as e:
            rds_iam_verify.main()
    raw = capsys.readouterr().out
    return e.value.code, json.loads(raw), raw


def base(**kw):
    args = dict(engine="mysql", db_host=HOST, db_port=3306, db_user="app", ca_cert="/ca.pem",
                access_key=AK, secret_key=SK)
    args.update(kw)
    return args


@pytest.fixture
def seen(monkeypatch):
    """What the module sent to the server (the token), from a connect that always succeeds."""
    sent = {}

    def connect(settings):
        sent["token"] = settings.secret
        return Conn(), "TLSv1.3"

    monkeypatch.setattr(_verify_login, "connect", connect)
    return sent


def test_success_returns_the_session_and_never_the_token(capsys, seen):
    rc, out, raw = run_module(capsys, base())
    assert rc == 0
    assert out["changed"] is False
    assert out["connected"] is True and out["current_user"] == "app" and out["tls_version"] == "TLSv1.3"
    assert out["server_version"] == "8.0.40" and out["diagnosis"] is None
    assert out["db_endpoint"] == "%s:3306" % HOST and out["token_source"] == "signed"
    assert seen["token"].startswith(HOST + ":3306/?Action=connect&DBUser=app")
    assert seen["token"] not in raw and "X-Amz-Signature" not in raw and SK not in raw


def test_keys_in_the_task_win_over_aws_profile_in_the_environment(capsys, monkeypatch, clean_env, seen):
    # amazon.aws' profile option falls back to AWS_PROFILE and then refuses it beside keys; the task set keys only.
    (clean_env / "credentials").write_text(
        "[ops]\naws_access_key_id = AKIAOPSEXAMPLE000001\naws_secret_access_key = ops-secret\n")
    monkeypatch.setenv("AWS_PROFILE", "ops")
    rc, out, dummy_raw = run_module(capsys, base())
    assert rc == 0 and out["connected"] is True, out.get("msg")
    check_token(seen["token"], {AK: SK}, expect_region="eu-west-1")


def test_failure_fails_by_default_with_the_diagnosis(capsys, monkeypatch):
    def connect(settings):
        raise DbConnectionError("cannot reach the database at %s:3306: timed out" % HOST, "unreachable")

    monkeypatch.setattr(_verify_login, "connect", connect)
    rc, out, raw = run_module(capsys, base())
    assert rc == 1 and out["failed"] is True
    assert out["connected"] is False and out["diagnosis"] == "network"
    assert "db_port" in out["msg"]
    assert "X-Amz-Signature" not in raw


def test_fail_on_error_false_reports(capsys, monkeypatch):
    def connect(settings):
        raise DbConnectionError("certificate verify failed " + settings.secret, "tls")

    monkeypatch.setattr(_verify_login, "connect", connect)
    rc, out, raw = run_module(capsys, base(fail_on_error=False))
    assert rc == 0 and not out.get("failed")
    assert out["connected"] is False and out["diagnosis"] == "tls"
    assert "X-Amz-Signature" not in raw and "Action=connect" not in raw


def test_given_token_is_masked_everywhere(capsys, monkeypatch):
    token = "%s:3306/?Action=connect&DBUser=app&X-Amz-Signature=%s" % (HOST, "b" * 64)

    def connect(settings):
        raise DbConnectionError("Access denied (using password: YES) " + settings.secret, "auth")

    monkeypatch.setattr(_verify_login, "connect", connect)
    rc, out, raw = run_module(capsys, base(token=token, access_key=None, secret_key=None, fail_on_error=False))
    assert rc == 0 and out["diagnosis"] == "token_rejected" and out["token_source"] == "given"
    assert token not in raw and "b" * 64 not in raw


def test_no_credentials(capsys, monkeypatch):
    monkeypatch.setattr(_verify_login, "connect", lambda s: pytest.fail("must not connect without a token"))
    rc, out, _raw = run_module(capsys, base(access_key=None, secret_key=None, fail_on_error=False))
    assert rc == 0 and out["diagnosis"] == "no_credentials" and out["connected"] is False


def test_bad_option_is_a_plain_failure(capsys):
    rc, out, _raw = run_module(capsys, base(db_host="%s:3306" % HOST))
    assert rc == 1 and out["diagnosis"] is None
    assert "db_host must not contain a port" in out["msg"]


def test_mutually_exclusive_identifiers(capsys):
    rc, out, _raw = run_module(capsys, base(db_instance_identifier="a", db_cluster_identifier="b"))
    assert rc == 1 and "mutually exclusive" in out["msg"]


def test_a_db_user_with_a_newline_is_a_config_error_before_any_login(capsys, seen):
    rc, out, raw = run_module(capsys, base(db_user="app\nuser"))
    assert rc == 1 and out["error_kind"] == "config" and out["connected"] is False
    assert "control character" in out["msg"] and "token" not in seen
