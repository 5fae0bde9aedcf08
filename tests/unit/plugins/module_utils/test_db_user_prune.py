# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The owner marker and pruning of rds_iam_db_user: created users are marked when asked, only marked IAM users
that the list no longer names are dropped (check mode drops nothing), on recorded catalog rows."""

from __future__ import annotations

from ansible_collections.dbauth.rds_iam.plugins.module_utils import _db_user_runner
from ansible_collections.dbauth.rds_iam.plugins.module_utils._db_user_common import OWNER_MARKER
from ansible_collections.dbauth.rds_iam.plugins.module_utils._db_user_mysql import MySQLUsers
from ansible_collections.dbauth.rds_iam.plugins.module_utils._db_user_postgres import MARKED_QUERY

# (rolname, rolcanlogin, rolsuper, direct, transitive) as ROLES_QUERY returns them; MARKED lists the marked ones.
ROLES = [("rds_iam", False, False, [], []), ("rds_ad", False, False, [], []),
         ("kept", True, False, ["rds_iam"], ["rds_iam"]), ("gone", True, False, ["rds_iam"], ["rds_iam"]),
         ("handmade", True, False, ["rds_iam"], ["rds_iam"])]
MARKED = ["kept", "gone"]


class Cursor:
    def __init__(self, conn):
        self.conn = conn
        self.rows = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def execute(self, sql, params=None):
        if sql.startswith("SELECT current_user"):
            self.rows = [("master", "master", "16.4")]
        elif sql == MARKED_QUERY:
            assert params == ("rds_iam", OWNER_MARKER)
            self.rows = [(name,) for name in MARKED]
        elif sql.startswith("WITH RECURSIVE"):
            self.rows = [r for r in ROLES if r[0] in set(params[0])]
        else:
            self.conn.writes.append(sql)
            self.rows = []

    def fetchall(self):
        return self.rows


class Connection:
    def __init__(self):
        self.writes = []
        self.committed = False

    def cursor(self):
        return Cursor(self)

    def commit(self):
        self.committed = True

    def rollback(self):
        pass

    def close(self):
        pass


def run(conn, users, check_mode=False, **options):
    params = dict(engine="postgres", login_host="db.example", login_port=5432, login_user="master",
                  login_password="secret", login_iam=False, login_db=None, ca_cert=None, ssl_mode="verify-full",
                  connect_timeout=5, users=users, name=None, state="present", host=None, privileges=None, roles=None,
                  convert_existing=False, **options)
    return _db_user_runner.run(params, check_mode, connector=lambda settings: (conn, "TLSv1.3"))


def test_created_users_are_marked_when_asked():
    conn = Connection()
    result = run(conn, [{"name": "new"}], mark=True)
    assert result["queries"] == ['CREATE ROLE "new" LOGIN', 'GRANT "rds_iam" TO "new"', "COMMENT ON ROLE \"new\" IS 'dbauth.rds_iam'"]
    assert run(Connection(), [{"name": "new"}])["queries"] == ['CREATE ROLE "new" LOGIN', 'GRANT "rds_iam" TO "new"']


def test_prune_drops_only_marked_users_not_listed():
    conn = Connection()
    result = run(conn, [{"name": "kept"}], prune=True)
    assert result["pruned"] == [{"name": "gone", "host": None}]
    assert result["queries"] == ['DROP ROLE "gone"']
    assert conn.writes == ['DROP ROLE "gone"'] and conn.committed
    assert [(u["name"], u["action"]) for u in result["users"]] == [("kept", "unchanged"), ("gone", "dropped")]
    assert result["diff"][0]["before"]["name"] == "gone" and result["diff"][0]["after"] == {}


def test_prune_in_check_mode_drops_nothing():
    conn = Connection()
    result = run(conn, [{"name": "kept"}], check_mode=True, prune=True)
    assert result["changed"] and result["queries"] == ['DROP ROLE "gone"'] and conn.writes == []


def test_without_prune_nothing_unlisted_is_touched():
    conn = Connection()
    result = run(conn, [{"name": "kept"}])
    assert result["pruned"] == [] and not result["changed"] and conn.writes == []


class Recorder(MySQLUsers):
    def __init__(self, flavor):
        super().__init__(None, "admin")
        self.flavor = flavor
        self.asked = []

    def _query(self, sql, params=None):
        self.asked.append((sql, params))
        return [("gone", "%")]


def test_mariadb_marker_is_a_key_of_global_priv():
    users = Recorder("mariadb")
    assert users._mark_statements(("app", "%")) == [
        ("UPDATE mysql.global_priv SET Priv = JSON_SET(Priv, %s, %s) WHERE User = %s AND Host = %s",
         ("$.dbauth_rds_iam", OWNER_MARKER, "app", "%")), ("FLUSH PRIVILEGES", None)]
    assert users.marked_users() == [("gone", "%")]
    assert "mysql.global_priv" in users.asked[0][0] and users.asked[0][1][1] == OWNER_MARKER


def test_mysql8_marker_is_the_account_comment():
    users = Recorder("mysql")
    assert users._mark_statements(("app", "%")) == [("ALTER USER %s@%s COMMENT 'dbauth.rds_iam'", ("app", "%"))]
    users.marked_users()
    assert "User_attributes" in users.asked[0][0]
