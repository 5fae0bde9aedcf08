# -*- coding: utf-8 -*-

# Copyright: (c) 2026, dbauth.rds_iam developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""PostgreSQL part of rds_iam_db_user against recorded catalog rows."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.dbauth.rds_iam.plugins.module_utils._db_user_common import DbUserError
from ansible_collections.dbauth.rds_iam.plugins.module_utils._db_user_common import normalize_users
from ansible_collections.dbauth.rds_iam.plugins.module_utils._db_user_postgres import PostgresUsers

# (rolname, rolcanlogin, rolsuper, direct memberships, transitive memberships)
ROLES = [
    ("rds_iam", False, False, [], []),
    ("rds_ad", False, False, [], []),
    ("rds_superuser", False, False, ["pg_monitor"], ["pg_monitor"]),
    ("app_read", False, False, [], []),
    ("app_write", False, False, ["app_read"], ["app_read"]),
    ("ad_group", False, False, ["rds_ad"], ["rds_ad"]),
    ("nested_ad", False, False, ["ad_group"], ["ad_group", "rds_ad"]),
    ("iam_user", True, False, ["app_read", "rds_iam"], ["app_read", "rds_iam"]),
    ("iam_nologin", False, False, ["rds_iam"], ["rds_iam"]),
    ("pw_user", True, False, [], []),
    ("ad_user", True, False, ["rds_ad"], ["rds_ad"]),
    ("parent", False, False, ["child_user"], ["child_user"]),
    ("child_user", True, False, ["rds_iam"], ["rds_iam"]),
    ("su", True, True, [], []),
]


class FakeCursor:
    def __init__(self, conn):
        self.conn = conn
        self._rows = []

    def __enter__(self):
        return self

    def __exit__(self, *a):
        return False

    def execute(self, sql, params=None):
        if sql.startswith("SELECT current_user"):
            self.conn.reads.append(sql)
            self._rows = [(self.conn.login, self.conn.login, "16.4")]
        elif sql.startswith("WITH RECURSIVE"):
            self.conn.reads.append(sql)
            names = set(params[0])
            self._rows = [r for r in self.conn.roles if r[0] in names]
        else:
            if self.conn.fail_on and self.conn.fail_on in sql:
                raise RuntimeError('role "x" cannot be dropped because some objects depend on it')
            self.conn.writes.append(sql)
            self._rows = []

    def fetchall(self):
        return self._rows


class FakeConn:
    def __init__(self, roles=None, login="postgres"):
        self.roles = list(ROLES if roles is None else roles)
        self.login = login
        self.reads = []
        self.writes = []
        self.committed = []
        self.rolled_back = 0
        self.fail_on = None

    def cursor(self):
        return FakeCursor(self)

    def commit(self):
        self.committed.extend(self.writes)

    def rollback(self):
        self.rolled_back += 1
        self.writes = []


def run(conn, users, convert=False, login="postgres"):
    mgr = PostgresUsers(conn, login)
    mgr.read_server()
    params = dict(name=None, users=users, state="present", host=None, privileges=None, roles=None)
    plans = mgr.plan(normalize_users(params, "postgres"), convert)
    queries = mgr.queries(plans)
    executed = mgr.apply(plans)
    assert executed == queries
    return plans, executed


def test_create_with_roles_and_hostile_name():
    conn = FakeConn()
    plans, executed = run(conn, [{"name": "new_user", "roles": ["app_write", "app_read"]},
                                 {"name": 'o"q; DROP ROLE x; --'}, {"name": "ünï%"}])
    assert [p.action for p in plans] == ["created", "created", "created"]
    assert executed == [
        'CREATE ROLE "new_user" LOGIN', 'GRANT "rds_iam" TO "new_user"', 'GRANT "app_read", "app_write" TO "new_user"',
        'CREATE ROLE "o""q; DROP ROLE x; --" LOGIN', 'GRANT "rds_iam" TO "o""q; DROP ROLE x; --"',
        'CREATE ROLE "ünï%" LOGIN', 'GRANT "rds_iam" TO "ünï%"',
    ]
    assert conn.committed == executed


def test_idempotent_and_exact_roles():
    conn = FakeConn()
    plans, executed = run(conn, [{"name": "iam_user", "roles": ["app_read"]}, {"name": "child_user"}])
    assert [p.action for p in plans] == ["unchanged", "unchanged"] and executed == []
    plans, executed = run(conn, [{"name": "iam_user", "roles": ["app_write"]}])
    assert plans[0].action == "updated"
    assert executed == ['GRANT "app_write" TO "iam_user"', 'REVOKE "app_read" FROM "iam_user"']
    assert plans[0].diff()["before"]["roles"] == ["app_read"] and plans[0].diff()["after"]["roles"] == ["app_write"]
    plans, executed = run(conn, [{"name": "iam_user", "roles": []}])
    assert executed == ['REVOKE "app_read" FROM "iam_user"']
    # rds_iam in roles is accepted and managed by the module itself
    plans, executed = run(conn, [{"name": "iam_user", "roles": ["rds_iam", "app_read"]}])
    assert executed == []


def test_nologin_member_gets_login():
    plans, executed = run(FakeConn(), [{"name": "iam_nologin"}])
    assert plans[0].action == "updated" and executed == ['ALTER ROLE "iam_nologin" LOGIN']


def test_password_user_needs_convert_existing():
    conn = FakeConn()
    with pytest.raises(DbUserError, match="'pw_user' already exists and is not an IAM user.*convert_existing"):
        run(conn, [{"name": "pw_user"}, {"name": "other"}])
    assert conn.writes == [] and conn.committed == []
    plans, executed = run(conn, [{"name": "pw_user", "roles": ["app_read"]}], convert=True)
    assert plans[0].action == "converted"
    assert executed == ['GRANT "rds_iam" TO "pw_user"', 'GRANT "app_read" TO "pw_user"']


@pytest.mark.parametrize("users,why", [
    ([{"name": "ad_user"}], "member of rds_ad"),
    ([{"name": "x", "roles": ["rds_ad"]}], "is or belongs to rds_ad"),
    ([{"name": "x", "roles": ["ad_group"]}], "is or belongs to rds_ad"),
    ([{"name": "x", "roles": ["nested_ad"]}], "is or belongs to rds_ad"),
    ([{"name": "x", "roles": ["missing_role"]}], "role 'missing_role' does not exist"),
    ([{"name": "child_user", "roles": ["parent"]}], "would make a cycle"),
    ([{"name": "su"}], "superuser"),
    ([{"name": "postgres"}], "login user"),
    ([{"name": "rds_superuser"}], "platform"),
    ([{"name": "rdsadmin"}], "platform"),
    ([{"name": "pg_monitor"}], "platform"),
    ([{"name": "public"}], "platform"),
    ([{"name": "pw_user", "state": "absent"}], "not an IAM user"),
])
def test_refusals_write_nothing(users, why):
    conn = FakeConn()
    with pytest.raises(DbUserError, match=why):
        run(conn, users + [{"name": "innocent"}])
    assert conn.writes == [] and conn.committed == []


def test_login_user_refused_by_session_user_too():
    conn = FakeConn(login="master")
    with pytest.raises(DbUserError, match="'master' is the login user"):
        run(conn, [{"name": "master"}], login="someone_else")


def test_rds_iam_missing():
    conn = FakeConn(roles=[r for r in ROLES if r[0] != "rds_iam"])
    with pytest.raises(DbUserError, match="rds_iam does not exist"):
        run(conn, [{"name": "x"}])


def test_absent():
    conn = FakeConn()
    plans, executed = run(conn, [{"name": "iam_user", "state": "absent"}, {"name": "ghost", "state": "absent"},
                                 {"name": "pw_user", "state": "absent"}], convert=True)
    assert [p.action for p in plans] == ["dropped", "unchanged", "dropped"]
    assert executed == ['DROP ROLE "iam_user"', 'DROP ROLE "pw_user"']


def test_failure_rolls_back_everything():
    conn = FakeConn()
    conn.fail_on = 'DROP ROLE "child_user"'
    with pytest.raises(DbUserError) as e:
        run(conn, [{"name": "a1"}, {"name": "child_user", "state": "absent"}, {"name": "a2"}])
    assert conn.rolled_back == 1 and conn.committed == []
    assert "rolled back: no user was changed" in str(e.value) and "REASSIGN OWNED" in str(e.value)
    assert e.value.users == [] and e.value.queries == []


def test_a_commit_without_answer_says_the_outcome_is_unknown():
    import psycopg2.extensions

    def no_answer():
        raise psycopg2.extensions.QueryCanceledError("canceling statement due to statement timeout")
    conn = FakeConn()
    conn.commit = no_answer
    with pytest.raises(DbUserError) as e:
        run(conn, [{"name": "a1"}])
    assert e.value.kind == "timeout"
    assert "COMMIT of 2 statements for 'a1' failed" in str(e.value)
    assert "Whether PostgreSQL applied them is unknown" in str(e.value)
    assert e.value.queries == conn.writes


def test_a_failed_rollback_does_not_hide_the_failure():
    def gone():
        raise RuntimeError("server closed the connection unexpectedly")
    conn = FakeConn()
    conn.fail_on = 'CREATE ROLE "a1"'
    conn.rollback = gone
    with pytest.raises(DbUserError, match="failed for 'a1'"):
        run(conn, [{"name": "a1"}])


def test_one_read_query_whatever_the_number_of_users():
    for n in (1, 500):
        conn = FakeConn()
        run(conn, [{"name": "u%d" % i, "roles": ["app_read"]} for i in range(n)])
        assert len(conn.reads) == 2
        assert len(conn.committed) == 3 * n


# -- auth=bridge: self-managed servers whose pg_hba.conf sends dbauth_iam to the bridge ------------------------------


def run_bridge(conn, users, convert=False):
    mgr = PostgresUsers(conn, "postgres", auth="bridge")
    mgr.read_server()
    params = dict(name=None, users=users, state="present", host=None, privileges=None, roles=None)
    plans = mgr.plan(normalize_users(params, "postgres"), convert, mark=True)
    return plans, mgr.apply(plans)


def test_bridge_users_are_members_of_dbauth_iam_which_is_created_once_with_the_first():
    conn = FakeConn(roles=[r for r in ROLES if r[0] != "rds_iam"])  # a plain server: no rds_iam
    plans, executed = run_bridge(conn, [{"name": "app"}, {"name": "report", "roles": ["app_read"]}])
    assert [p.action for p in plans] == ["created", "created"]
    assert executed == [
        'CREATE ROLE "dbauth_iam" NOLOGIN', "COMMENT ON ROLE \"dbauth_iam\" IS 'dbauth.rds_iam'",
        'CREATE ROLE "app" LOGIN', 'GRANT "dbauth_iam" TO "app"', "COMMENT ON ROLE \"app\" IS 'dbauth.rds_iam'",
        'CREATE ROLE "report" LOGIN', 'GRANT "dbauth_iam" TO "report"', "COMMENT ON ROLE \"report\" IS 'dbauth.rds_iam'",
        'GRANT "app_read" TO "report"',
    ]


def test_bridge_users_are_idempotent_and_rds_iam_members_are_not_theirs():
    roles = list(ROLES) + [("dbauth_iam", False, False, [], []), ("app", True, False, ["dbauth_iam"], ["dbauth_iam"])]
    plans, executed = run_bridge(FakeConn(roles=roles), [{"name": "app"}])
    assert [p.action for p in plans] == ["unchanged"] and executed == []
    # an RDS IAM user (member of rds_iam) is not a bridge user: left alone unless converted
    with pytest.raises(DbUserError, match="not a member of dbauth_iam"):
        run_bridge(FakeConn(roles=roles), [{"name": "iam_user"}])
    plans, executed = run_bridge(FakeConn(roles=roles), [{"name": "iam_user"}], convert=True)
    assert plans[0].action == "converted" and executed == ['GRANT "dbauth_iam" TO "iam_user"']


def test_dbauth_iam_itself_is_never_a_user():
    with pytest.raises(DbUserError, match="platform"):
        run_bridge(FakeConn(), [{"name": "dbauth_iam"}])
