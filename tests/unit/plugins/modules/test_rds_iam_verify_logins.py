# -*- coding: utf-8 -*-
# Copyright: (c) 2026, dbauth.rds_iam developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""rds_iam_verify with logins: order, a refused login hides nothing, fail_on_error, one credential
resolution and one token per login, the concurrency bound, no token in the output."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import threading

import boto3.session

import pytest


from ansible_collections.dbauth.rds_iam.plugins.module_utils import _verify_login
from ansible_collections.dbauth.rds_iam.plugins.module_utils._db_connection import DbConnectionError
from ansible_collections.dbauth.rds_iam.tests.unit.plugins.modules.test_rds_iam_verify import AK
from ansible_collections.dbauth.rds_iam.tests.unit.plugins.modules.test_rds_iam_verify import SK
from ansible_collections.dbauth.rds_iam.tests.unit.plugins.modules.test_rds_iam_verify import run_module
DOMAIN = ".abcdefghijkl.eu-west-1.rds.amazonaws.com"

pytestmark = pytest.mark.usefixtures("clean_env")


class Servers:
    """Fake servers: user ``denied`` is refused, hosts down-* do not answer; a refusal echoes the token."""

    def __init__(self, barrier=None):
        self.lock = threading.Lock()
        self.tokens = []
        self.active = 0
        self.max_active = 0
        self.barrier = barrier

    def connect(self, settings):
        with self.lock:
            self.tokens.append(settings.secret)
        if settings.host.startswith("down-"):
            raise DbConnectionError("cannot reach the database at %s: timed out" % settings.endpoint, "unreachable")
        if settings.user == "denied":
            raise DbConnectionError("Access denied for user 'denied' (token %s)" % settings.secret, "auth")
        with self.lock:
            self.active += 1
            self.max_active = max(self.max_active, self.active)
        if self.barrier is not None:
            self.barrier.wait()  # proves that the pool tries this many logins at once
        return Conn(self, settings.user if settings.engine == "postgres" else settings.user + "@%"), "TLSv1.3"


class Cursor:
    def __init__(self, user):
        self.user = user

    def execute(self, query, args=None):
        pass

    def fetchone(self):
        return (self.user, "8.0.40")

    def close(self):
        pass


class Conn:
    def __init__(self, servers, user):
        self.servers = servers
        self.user = user

    def cursor(self):
        return Cursor(self.user)

    def close(self):
        with self.servers.lock:
            self.servers.active -= 1


@pytest.fixture
def servers(monkeypatch):
    fake = Servers()
    monkeypatch.setattr(_verify_login, "connect", fake.connect)
    return fake


def login(host, user="app", **kw):
    entry = dict(engine="mysql", db_host=host + DOMAIN, db_user=user)
    entry.update(kw)
    return entry


def base(logins, **kw):
    args = dict(logins=logins, ca_cert="/ca.pem", access_key=AK, secret_key=SK)
    args.update(kw)
    return args


def test_results_in_order_a_refused_login_hides_nothing(capsys, servers):
    rc, out, raw = run_module(capsys, base([
        login("db1", label="first"), login("db2", user="denied", label="second"),
        login("db3", user="other", engine="postgres", db_name="app"), login("down-4", db_port=3307, label="fourth"),
    ], fail_on_error=False))
    assert rc == 0 and not out.get("failed") and out["changed"] is False
    one, two, three, four = out["logins"]
    assert [r["label"] for r in out["logins"]] == ["first", "second", None, "fourth"]
    assert one["connected"] is True and one["current_user"] == "app" and one["tls_version"] == "TLSv1.3"
    assert one["server_version"] == "8.0.40" and one["diagnosis"] is None and one["latency_ms"] is not None
    assert (one["db_host"], one["db_port"], one["db_user"]) == ("db1" + DOMAIN, 3306, "app")
    assert two["connected"] is False and two["diagnosis"] == "token_rejected" and "denied" in two["msg"]
    assert three["connected"] is True and three["current_user"] == "other" and three["db_port"] == 5432
    assert four["connected"] is False and four["diagnosis"] == "network" and four["db_port"] == 3307
    assert out["msg"].startswith("2 of 4 logins connected.")
    assert "second (token_rejected)" in out["msg"] and "fourth (network)" in out["msg"]
    # each login its own token, none of them (nor the secret key) in the output
    assert len(servers.tokens) == 4 and len(set(servers.tokens)) == 4
    assert sum("DBUser=denied" in t for t in servers.tokens) == 1
    for token in servers.tokens:
        assert token not in raw
    assert "X-Amz-Signature" not in raw and SK not in raw


def test_fail_on_error_fails_after_all_logins_were_tried(capsys, servers):
    rc, out, raw = run_module(capsys, base([login("db1", user="denied"), login("db2"), login("down-3")]))
    assert rc == 1 and out["failed"] is True
    assert len(servers.tokens) == 3 and [r["connected"] for r in out["logins"]] == [False, True, False]
    assert "1 of 3 logins connected." in out["msg"]
    assert "denied@db1%s:3306 (token_rejected)" % DOMAIN in out["msg"]
    assert "app@down-3%s:3306 (network)" % DOMAIN in out["msg"]
    assert "X-Amz-Signature" not in raw


def test_credentials_are_resolved_once_for_all_logins(capsys, servers, monkeypatch):
    calls = []
    real = boto3.session.Session.get_credentials

    def counting(self):
        calls.append(self)
        return real(self)
    monkeypatch.setattr(boto3.session.Session, "get_credentials", counting)
    rc, out, _raw = run_module(capsys, base([login("db%d" % i) for i in range(5)]))
    assert rc == 0 and all(r["connected"] for r in out["logins"])
    assert len(calls) == 1 and len(set(servers.tokens)) == 5


def test_concurrency_bound_is_respected(capsys, monkeypatch):
    fake = Servers(barrier=threading.Barrier(3, timeout=30))
    monkeypatch.setattr(_verify_login, "connect", fake.connect)
    rc, out, _raw = run_module(capsys, base([login("db%d" % i) for i in range(6)], concurrency=3))
    assert rc == 0 and fake.max_active == 3
    assert [r["db_host"] for r in out["logins"]] == ["db%d%s" % (i, DOMAIN) for i in range(6)]


def test_check_mode_logs_in_too(capsys, servers):
    rc, out, _raw = run_module(capsys, base([login("db1"), login("db2")], _ansible_check_mode=True))
    assert rc == 0 and [r["connected"] for r in out["logins"]] == [True, True]


def test_an_entry_that_cannot_work_fails_the_task_but_not_the_others(capsys, servers):
    rc, out, raw = run_module(capsys, base([login("db1"), dict(engine="mysql", db_host="db2%s:3306" % DOMAIN,
                                                               db_user="app", label="bad")], fail_on_error=False))
    assert rc == 1
    good, bad = out["logins"]
    assert good["connected"] is True and "failed" not in good
    assert bad["failed"] is True and bad["connected"] is False and "db_host must not contain a port" in bad["msg"]
    assert "bad (options): " in out["msg"]


@pytest.mark.parametrize("args,why", [
    (base([login("db1")], db_host="x"), "mutually exclusive: logins|db_host"),
    (base([login("db1")], token="t" * 40), "mutually exclusive: logins|token"),
    (base([login("db1")], concurrency=0), "concurrency must be at least 1"),
    (base([]), "logins is empty"),
    (base([dict(engine="mysql", db_host="h")]), "missing required arguments: db_user found in logins"),
    (base([login("db1", db_instance_identifier="a", db_cluster_identifier="b")]), "mutually exclusive"),
    (dict(engine="mysql", db_host="h"), "missing required arguments: db_user"),
])
def test_bad_options_fail_before_any_login(capsys, servers, args, why):
    rc, out, _raw = run_module(capsys, args)
    assert rc == 1 and why in out["msg"], out["msg"]
    assert servers.tokens == []


def test_an_entry_signs_in_its_own_region(capsys, servers):
    # A cross-Region read replica or a global database's secondary cluster: the token's credential scope names the
    # entry's Region; the other entries keep the shared one (here the Region in the RDS host name).
    rc, out, _raw = run_module(capsys, base([
        login("db1", label="source"), login("replica", label="replica", db_host="127.0.0.1", region="us-west-2")]))
    assert rc == 0 and [r["connected"] for r in out["logins"]] == [True, True]
    scopes = sorted(t.split("X-Amz-Credential=")[1].split("%2F")[2] for t in servers.tokens)
    assert scopes == ["eu-west-1", "us-west-2"]
