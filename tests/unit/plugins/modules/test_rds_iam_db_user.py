# -*- coding: utf-8 -*-

# Copyright: (c) 2026, dbauth.rds_iam developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""rds_iam_db_user module: argument handling, results, check mode, no secret in output."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.dbauth.rds_iam.plugins.module_utils import _db_connection
from ansible_collections.dbauth.rds_iam.plugins.module_utils import _db_user_runner
from ansible_collections.dbauth.rds_iam.plugins.modules import rds_iam_db_user
from ansible_collections.dbauth.rds_iam.tests.unit.plugins.module_utils.test_db_user_postgres import FakeConn

PASSWORD = "Adm1n-Pa55word-q"


def run_module(capsys, args):
    with patch_module_args(args):
        with pytest.raises(SystemExit) as e:
            rds_iam_db_user.main()
    return e.value.code, json.loads(capsys.readouterr().out)


@pytest.fixture
def pg(monkeypatch):
    conn = FakeConn()
    seen = []

    def connector(settings):
        seen.append(settings)
        return conn, "TLSv1.3"
    monkeypatch.setattr(_db_user_runner, "connect", connector)
    conn.close = lambda: None
    conn.settings = seen
    return conn


def base(**kw):
    args = dict(engine="postgres", login_host="127.0.0.1", login_user="postgres", login_password=PASSWORD,
                region="us-east-1")
    args.update(kw)
    return args


def test_create_check_mode_then_real(capsys, pg):
    rc, out = run_module(capsys, base(users=[{"name": "app1", "roles": ["app_read"]}], _ansible_check_mode=True))
    assert rc == 0 and out["changed"] is True
    assert out["users"] == [{"name": "app1", "host": None, "action": "created"}]
    assert out["queries"] == ['CREATE ROLE "app1" LOGIN', 'GRANT "rds_iam" TO "app1"', 'GRANT "app_read" TO "app1"']
    assert pg.committed == [] and pg.rolled_back == 1
    rc, out = run_module(capsys, base(name="app1", roles=["app_read"], _ansible_diff=True))
    assert rc == 0 and out["changed"] is True and pg.committed == out["queries"]
    assert out["diff"][0]["after"] == {"name": "app1", "login": True, "iam": True, "roles": ["app_read"]}
    assert out["server"]["tls_version"] == "TLSv1.3" and out["server"]["read_queries"] == 2
    assert PASSWORD not in json.dumps(out)
    assert pg.settings[0].ssl_mode == "verify-full" and pg.settings[0].port == 5432


def test_refusal_is_a_failure_with_empty_users(capsys, pg):
    rc, out = run_module(capsys, base(name="pw_user"))
    assert rc == 1 and out["failed"] is True
    assert "convert_existing" in out["msg"] and out["users"] == [] and out["queries"] == []


@pytest.mark.parametrize("args,why", [
    (dict(engine="oracle", name="a"), "value of engine must be one of: mysql, mariadb, postgres"),
    (dict(), "one of the following is required: name, users"),
    (dict(name="a", users=[{"name": "b"}]), "mutually exclusive: name|users"),
    (dict(users=[{"state": "present"}]), "missing required arguments: name"),
    (dict(name="a", login_iam=True, ssl_mode="prefer", login_password=None), "login_iam needs TLS"),
    (dict(name="a\x00"), "NUL"),
    (dict(name="a", ssl_mode="bogus"), "value of ssl_mode must be one of"),
])
def test_bad_arguments(capsys, pg, args, why):
    rc, out = run_module(capsys, base(**args))
    assert rc == 1 and why in out["msg"]
    assert pg.reads == [] and pg.writes == []  # refused before any connection


def test_admin_token_is_masked_in_failures(capsys, monkeypatch):
    token = "127.0.0.1:5432/?Action=connect&DBUser=iam_admin&X-Amz-Signature=0123456789abcdef"

    class Signer:
        def generate(self, options):
            return {"token": token}
    real = _db_connection.login_settings
    monkeypatch.setattr(_db_user_runner, "login_settings",
                        lambda params, region=None, signer=None: real(params, region=region, signer=Signer()))

    def connector(settings):
        raise _db_connection.DbConnectionError("login refused, token was %s" % settings.secret, "auth")
    monkeypatch.setattr(_db_user_runner, "connect", connector)
    rc, out = run_module(capsys, base(name="a", login_user="iam_admin", login_password=None, login_iam=True))
    assert rc == 1 and out["error_kind"] == "auth"
    assert token not in json.dumps(out)


def test_connection_error_kind(capsys, monkeypatch):
    def connector(settings):
        raise _db_connection.DbConnectionError("cannot reach the database at 127.0.0.1:1: refused", "unreachable")
    monkeypatch.setattr(_db_user_runner, "connect", connector)
    rc, out = run_module(capsys, base(name="a"))
    assert rc == 1 and out["error_kind"] == "unreachable" and "cannot reach" in out["msg"]


def test_a_driver_error_while_reading_is_a_failure_with_a_kind_not_a_traceback(capsys, monkeypatch):
    import socket
    import pymysql

    class Hung:
        def cursor(self):
            raise pymysql.err.OperationalError(2013, "Lost connection to MySQL server during query") \
                from socket.timeout("timed out")

        def close(self):
            pass

    monkeypatch.setattr(_db_user_runner, "connect", lambda settings: (Hung(), "TLSv1.3"))
    rc, out = run_module(capsys, base(engine="mysql", login_user="admin", ssl_mode="require", name="app"))
    assert rc == 1 and out["error_kind"] == "timeout"
    assert "failed before any change (no user was changed)" in out["msg"] and PASSWORD not in json.dumps(out)
