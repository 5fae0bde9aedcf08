# -*- coding: utf-8 -*-

# Copyright: (c) 2026, dbauth.rds_iam developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""rds_iam_db_user with databases: order, one broken entry, inherited login options, check mode,
the concurrency bound, no secret in the result."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import threading

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.dbauth.rds_iam.plugins.module_utils import _db_connection
from ansible_collections.dbauth.rds_iam.plugins.module_utils import _db_user_runner
from ansible_collections.dbauth.rds_iam.plugins.modules import rds_iam_db_user
from ansible_collections.dbauth.rds_iam.tests.unit.plugins.module_utils.test_db_user_postgres import FakeConn

PASSWORD = "Adm1n-Pa55word-q"
OTHER_PASSWORD = "0ther-Adm1n-Pa55-z"
CREATE_APP1 = ['CREATE ROLE "app1" LOGIN', 'GRANT "rds_iam" TO "app1"', 'GRANT "app_read" TO "app1"']


def run_module(capsys, args):
    with patch_module_args(args):
        with pytest.raises(SystemExit) as e:
            rds_iam_db_user.main()
    return e.value.code, json.loads(capsys.readouterr().out)


class Servers:
    """One fake PostgreSQL per login host; hosts named down-* are unreachable, and a refused login
    echoes the secret it was given (the module must not)."""

    def __init__(self, barrier=None):
        self.conns = {}
        self.settings = []
        self.lock = threading.Lock()
        self.active = 0
        self.max_active = 0
        self.barrier = barrier

    def connect(self, settings):
        with self.lock:
            self.settings.append(settings)
        if settings.host.startswith("down-"):
            raise _db_connection.DbConnectionError("cannot reach the database at %s: refused" % settings.endpoint,
                                                   "unreachable")
        if settings.host.startswith("badpw-"):
            message = "login to %s refused, password %s" % (settings.endpoint, settings.secret)
            raise _db_connection.DbConnectionError(message, "auth")
        with self.lock:
            conn = self.conns.setdefault(settings.host, FakeConn())
            self.active += 1
            self.max_active = max(self.max_active, self.active)

        def close():
            with self.lock:
                self.active -= 1
        conn.close = close
        if self.barrier is not None:
            self.barrier.wait()  # proves that the pool runs this many connections at once
        return conn, "TLSv1.3"


@pytest.fixture
def servers(monkeypatch):
    fake = Servers()
    monkeypatch.setattr(_db_user_runner, "connect", fake.connect)
    return fake


def database(name, host=None, users=None, **kw):
    entry = dict(name=name, login_host=host or name, users=users or [{"name": "app1", "roles": ["app_read"]}])
    entry.update(kw)
    return entry


def base(databases, **kw):
    args = dict(engine="postgres", login_user="postgres", login_password=PASSWORD, ca_cert="/ca.pem",
                region="us-east-1", databases=databases)
    args.update(kw)
    return args


def test_results_in_input_order_and_a_broken_entry_hides_nothing(capsys, servers):
    rc, out = run_module(capsys, base([database("db-a"), database("db-b", host="down-b"), database("db-c"),
                                       database("db-d", host="badpw-d")]))
    assert rc == 1 and out["failed"] is True and out["changed"] is True
    assert [d["name"] for d in out["databases"]] == ["db-a", "db-b", "db-c", "db-d"]
    a, b, c, d = out["databases"]
    for ok in (a, c):
        assert ok["changed"] is True and "failed" not in ok
        assert ok["users"] == [{"name": "app1", "host": None, "action": "created"}]
        assert ok["queries"] == CREATE_APP1
        assert ok["server"]["tls_version"] == "TLSv1.3"
    assert servers.conns["db-a"].committed == CREATE_APP1 and servers.conns["db-c"].committed == CREATE_APP1
    assert b["failed"] is True and b["kind"] == "unreachable" and "down-b:5432" in b["msg"]
    assert b["changed"] is False and b["users"] == [] and b["queries"] == []
    assert d["failed"] is True and d["kind"] == "auth"
    assert out["msg"].startswith("2 of 4 databases failed:")
    assert "db-b (unreachable): cannot reach" in out["msg"] and "db-d (auth): login to" in out["msg"]
    assert PASSWORD not in json.dumps(out)


def test_login_options_default_to_the_top_level(capsys, servers):
    rc, out = run_module(capsys, base([
        database("db-a"),
        database("db-b", login_port=6432, ssl_mode="verify-ca", ca_cert="/other-ca.pem", login_user="admin2",
                 login_password=OTHER_PASSWORD, login_db="app", connect_timeout=3),
    ], connect_timeout=7))
    assert rc == 0, out["msg"]
    first, second = sorted(servers.settings, key=lambda s: s.host)
    assert (first.port, first.ssl_mode, first.ca_cert, first.user, first.secret, first.database,
            first.connect_timeout) == (5432, "verify-full", "/ca.pem", "postgres", PASSWORD, "postgres", 7)
    assert (second.port, second.ssl_mode, second.ca_cert, second.user, second.secret, second.database,
            second.connect_timeout) == (6432, "verify-ca", "/other-ca.pem", "admin2", OTHER_PASSWORD, "app", 3)
    dumped = json.dumps(out)
    assert PASSWORD not in dumped and OTHER_PASSWORD not in dumped


def test_an_entry_with_its_own_iam_login_takes_no_password_from_the_top(capsys, servers, monkeypatch):
    class Signer:
        def generate(self, options):
            return {"token": "%s:%s/?DBUser=%s&X-Amz-Signature=feedfacecafe0123" % (
                options["db_host"], options["db_port"], options["db_user"])}
    real = _db_connection.login_settings
    monkeypatch.setattr(_db_user_runner, "login_settings",
                        lambda params, region=None, signer=None: real(params, region=region, signer=Signer()))
    rc, out = run_module(capsys, base([database("db-a"), database("badpw-b", login_iam=True, login_user="iam_admin")]))
    assert rc == 1
    second = [s for s in servers.settings if s.host == "badpw-b"][0]
    assert second.iam is True and second.user == "iam_admin"
    assert "X-Amz-Signature=feedfacecafe0123" not in json.dumps(out)
    assert out["databases"][0]["changed"] is True and out["databases"][1]["kind"] == "auth"


def test_check_mode_writes_nothing_and_diffs_name_the_database(capsys, servers):
    rc, out = run_module(capsys, base([database("db-a"), database("db-b", users=[{"name": "iam_user",
                                                                                 "roles": ["app_read"]}])],
                                      _ansible_check_mode=True, _ansible_diff=True))
    assert rc == 0 and out["changed"] is True
    a, b = out["databases"]
    assert a["changed"] is True and a["queries"] == CREATE_APP1
    assert b["changed"] is False and b["users"] == [{"name": "iam_user", "host": None, "action": "unchanged"}]
    for conn in servers.conns.values():
        assert conn.committed == [] and conn.writes == [] and conn.rolled_back == 1
    assert [d["before_header"] for d in out["diff"]] == ["db-a: 'app1'"]
    assert out["diff"][0]["after"]["roles"] == ["app_read"]


def test_concurrency_bound_is_respected(capsys, monkeypatch):
    fake = Servers(barrier=threading.Barrier(2, timeout=30))
    monkeypatch.setattr(_db_user_runner, "connect", fake.connect)
    rc, out = run_module(capsys, base([database("db-%d" % i) for i in range(6)], concurrency=2))
    assert rc == 0, out["msg"]
    assert fake.max_active == 2 and len(fake.conns) == 6
    assert [d["name"] for d in out["databases"]] == ["db-%d" % i for i in range(6)]


def test_concurrency_one_is_sequential(capsys, servers):
    rc, out = run_module(capsys, base([database("db-%d" % i) for i in range(3)], concurrency=1))
    assert rc == 0 and servers.max_active == 1
    assert [s.host for s in servers.settings] == ["db-0", "db-1", "db-2"]


def test_invalid_users_fail_their_entry_only(capsys, servers):
    rc, out = run_module(capsys, base([database("db-a", users=[{"name": "pg_bad"}]), database("db-b")]))
    assert rc == 1
    a, b = out["databases"]
    assert a["failed"] is True and a["kind"] == "refused" and "platform" in a["msg"]
    assert b["changed"] is True and b["queries"] == CREATE_APP1
    rc, out = run_module(capsys, base([database("db-x", users=[{"name": "u", "host": "%"}]), database("db-y")]))
    assert out["databases"][0]["kind"] == "input" and "host only applies" in out["databases"][0]["msg"]
    assert "failed" not in out["databases"][1]


def test_a_driver_error_while_reading_fails_its_entry_without_the_secret(capsys, servers, monkeypatch):
    def broken_cursor():
        raise RuntimeError("server closed the connection; password was %s" % OTHER_PASSWORD)
    real_connect = servers.connect

    def connect(settings):
        conn, tls = real_connect(settings)
        if settings.host == "db-b":
            conn.cursor = broken_cursor
        return conn, tls
    monkeypatch.setattr(_db_user_runner, "connect", connect)
    rc, out = run_module(capsys, base([database("db-a"), database("db-b", login_password=OTHER_PASSWORD)]))
    assert rc == 1
    a, b = out["databases"]
    assert a["changed"] is True and "failed" not in a
    assert b["failed"] is True and b["kind"] == "sql"
    assert b["msg"].startswith("reading the users on db-b:5432 failed before any change (no user was changed): "
                               "RuntimeError: server closed")
    assert OTHER_PASSWORD not in json.dumps(out)


@pytest.mark.parametrize("args,why", [
    (base([database("db-a"), database("db-a")]), "databases[1] (db-a): the name is already used by databases[0]"),
    (base([database("db-a"), dict(name="db-b", users=[{"name": "u"}])]),
     "databases[1] (db-b): login_host is required: set it in the entry or at the top level"),
    (dict((k, v) for k, v in base([database("db-a")]).items() if k != "engine"),
     "databases[0] (db-a): engine is required"),
    (base([]), "databases is empty"),
    (base([database("db-a")], name="x"), "mutually exclusive: name|users|databases"),
    (base([database("db-a")], roles=["r"]), "mutually exclusive: databases|roles"),
    (base([database("db-a")], concurrency=0), "concurrency must be at least 1"),
    (base([dict(login_host="h", users=[{"name": "u"}])]), "missing required arguments: name"),
    (base([database("db-a", engine="oracle")]), "value of engine must be one of"),
])
def test_bad_databases_fail_before_any_connection(capsys, servers, args, why):
    rc, out = run_module(capsys, args)
    assert rc == 1 and why in out["msg"], out["msg"]
    assert servers.settings == []


def test_single_mode_still_requires_its_login_options(capsys, servers):
    rc, out = run_module(capsys, dict(engine="postgres", login_user="postgres", name="a"))
    assert rc == 1 and out["msg"] == "missing required arguments: login_host"
