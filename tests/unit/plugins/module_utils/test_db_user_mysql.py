# -*- coding: utf-8 -*-

# Copyright: (c) 2026, dbauth.rds_iam developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""MySQL 8 and MariaDB dialects of rds_iam_db_user against recorded catalog rows."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

import pytest
from pymysql.converters import escape_string

from ansible_collections.dbauth.rds_iam.plugins.module_utils._db_user_common import DbUserError
from ansible_collections.dbauth.rds_iam.plugins.module_utils._db_user_common import normalize_users
from ansible_collections.dbauth.rds_iam.plugins.module_utils._db_user_mysql import IAM_AUTH_STRING
from ansible_collections.dbauth.rds_iam.plugins.module_utils._db_user_mysql import IAM_PLUGIN
from ansible_collections.dbauth.rds_iam.plugins.module_utils._db_user_mysql import MySQLUsers
from ansible_collections.dbauth.rds_iam.plugins.module_utils._db_user_mysql import account_from_mariadb_row
from ansible_collections.dbauth.rds_iam.plugins.module_utils._db_user_mysql import account_from_mysql_row

# SHOW PRIVILEGES of MySQL 8.0 (RDS 8.0.39), static privileges then dynamic ones.
MYSQL8_PRIVILEGES = [
    "Alter", "Alter routine", "Create", "Create role", "Create routine", "Create tablespace",
    "Create temporary tables", "Create user", "Create view", "Delete", "Drop", "Drop role", "Event", "Execute",
    "File", "Grant option", "Index", "Insert", "Lock tables", "Process", "Proxy", "References", "Reload",
    "Replication client", "Replication slave", "Select", "Show databases", "Show view", "Shutdown", "Super",
    "Trigger", "Update", "Usage", "APPLICATION_PASSWORD_ADMIN", "AUDIT_ABORT_EXEMPT", "AUDIT_ADMIN",
    "AUTHENTICATION_POLICY_ADMIN", "BACKUP_ADMIN", "BINLOG_ADMIN", "BINLOG_ENCRYPTION_ADMIN", "CLONE_ADMIN",
    "CONNECTION_ADMIN", "ENCRYPTION_KEY_ADMIN", "FIREWALL_EXEMPT", "FLUSH_OPTIMIZER_COSTS", "FLUSH_STATUS",
    "FLUSH_TABLES", "FLUSH_USER_RESOURCES", "GROUP_REPLICATION_ADMIN", "GROUP_REPLICATION_STREAM",
    "INNODB_REDO_LOG_ARCHIVE", "INNODB_REDO_LOG_ENABLE", "PASSWORDLESS_USER_ADMIN", "PERSIST_RO_VARIABLES_ADMIN",
    "REPLICATION_APPLIER", "REPLICATION_SLAVE_ADMIN", "RESOURCE_GROUP_ADMIN", "RESOURCE_GROUP_USER",
    "ROLE_ADMIN", "SENSITIVE_VARIABLES_OBSERVER", "SERVICE_CONNECTION_ADMIN", "SESSION_VARIABLES_ADMIN",
    "SET_USER_ID", "SHOW_ROUTINE", "SYSTEM_USER", "SYSTEM_VARIABLES_ADMIN", "TABLE_ENCRYPTION_ADMIN",
    "TELEMETRY_LOG_ADMIN", "XA_RECOVER_ADMIN",
]
MARIADB_PRIVILEGES = [
    "Alter", "Alter routine", "Create", "Create routine", "Create temporary tables", "Create view", "Create user",
    "Delete", "Delete history", "Drop", "Event", "Execute", "File", "Grant option", "Index", "Insert",
    "Lock tables", "Process", "Proxy", "References", "Reload", "Binlog admin", "Binlog monitor", "Binlog replay",
    "Replication master admin", "Replication slave admin", "Slave monitor", "Replication slave", "Select",
    "Show databases", "Show view", "Shutdown", "Super", "Trigger", "Create tablespace", "Update", "Set user",
    "Federated admin", "Connection admin", "Read_only admin", "Usage",
]

# mysql.user rows of MySQL 8 (User, Host, plugin, authentication_string, ssl_type): what SHOW CREATE USER
# prints as IDENTIFIED WITH 'AWSAuthenticationPlugin' AS 'RDS' / IDENTIFIED WITH 'caching_sha2_password' AS '$A$...'
MYSQL8_USERS = [
    ("gueban_doe", "%", "AWSAuthenticationPlugin", "RDS", ""),        # created by Terraform, no REQUIRE SSL
    ("iam_ok", "%", "AWSAuthenticationPlugin", "RDS", "ANY"),
    (b"legacy", b"%", b"caching_sha2_password", b"$A$005$\x01\x02abcdefghijklmnopqrstuvwxyz0123456789ABCDEF", b""),
    ("iam_ok", "10.0.%", "AWSAuthenticationPlugin", "RDS", "X509"),
]
# mysql.global_priv rows of MariaDB 10.11 (User, Host, Priv): SHOW CREATE USER prints
# IDENTIFIED VIA AWSAuthenticationPlugin USING 'RDS' [OR mysql_native_password USING '*...'].
MARIADB_USERS = [
    ("gueban_doe", "%", json.dumps({"access": 0, "plugin": "AWSAuthenticationPlugin", "authentication_string": "RDS",
                                    "password_last_changed": 1795592909})),
    ("iam_ok", "%", json.dumps({"access": 0, "plugin": "AWSAuthenticationPlugin", "authentication_string": "RDS",
                                "ssl_type": 1, "ssl_cipher": "", "x509_issuer": "", "x509_subject": ""})),
    ("legacy", "%", json.dumps({"access": 0, "plugin": "mysql_native_password",
                                "authentication_string": "*667F407DE7C6AD07358FA38DAED7828A72014B4E"})),
    ("both", "%", json.dumps({"access": 0, "plugin": "mysql_native_password", "authentication_string": "*667F",
                              "auth_or": [{"plugin": "AWSAuthenticationPlugin", "authentication_string": "RDS"}, {}],
                              "ssl_type": 1})),
    ("a_role", "", json.dumps({"access": 0, "is_role": True})),
    ("iam_ok", "10.0.%", json.dumps({"access": 0, "plugin": "AWSAuthenticationPlugin", "authentication_string": "RDS",
                                     "ssl_type": 2})),
]


class FakeCursor:
    def __init__(self, conn):
        self.conn = conn
        self._rows = []

    def __enter__(self):
        return self

    def __exit__(self, *a):
        return False

    def mogrify(self, sql, params=None):
        if params is None:
            return sql
        return sql % tuple("'%s'" % escape_string(p) for p in params)

    def execute(self, sql, params=None):
        text = self.mogrify(sql, params)
        for prefix, rows in self.conn.reads:
            if sql.startswith(prefix):
                self.conn.read_log.append(sql)
                self._rows = rows(params) if callable(rows) else rows
                return
        if self.conn.fail_on and self.conn.fail_on in text:
            raise self.conn.fail_exc
        self.conn.writes.append(text)
        self._rows = []

    def fetchall(self):
        return self._rows


class FakeConn:
    def __init__(self, version, current, privileges, users, user_privs=(), schema_privs=(), table_privs=(),
                 schemas=(), tables=()):
        self.writes = []
        self.read_log = []
        self.fail_on = None
        self.fail_exc = None
        mariadb = "MariaDB" in version

        def by_user(rows):
            return lambda params: [r for r in rows if (r[0].decode() if isinstance(r[0], bytes) else r[0]) in params]

        def by_grantee(rows):
            return lambda params: [r for r in rows if r[0] in params]

        self.reads = [
            ("SELECT VERSION()", [(version, current)]),
            ("SHOW PRIVILEGES", [(p, "ctx", "comment") for p in privileges]),
            ("SELECT User, Host, Priv FROM mysql.global_priv" if mariadb else
             "SELECT User, Host, plugin, authentication_string, ssl_type FROM mysql.user", by_user(users)),
            ("SELECT GRANTEE, '*', '*'", by_grantee(user_privs)),
            ("SELECT GRANTEE, TABLE_SCHEMA, '*'", by_grantee(schema_privs)),
            ("SELECT GRANTEE, TABLE_SCHEMA, TABLE_NAME", by_grantee(table_privs)),
            ("SELECT SCHEMA_NAME", [(s,) for s in schemas]),
            ("SELECT TABLE_SCHEMA, TABLE_NAME", list(tables)),
        ]

    def cursor(self):
        return FakeCursor(self)


def mysql8(**kw):
    return FakeConn("8.0.39", "admin@%", MYSQL8_PRIVILEGES, MYSQL8_USERS, **kw)


def mariadb(**kw):
    return FakeConn("10.11.8-MariaDB-log", "admin@%", MARIADB_PRIVILEGES, MARIADB_USERS, **kw)


def specs(users, engine="mysql", **top):
    params = dict(name=None, users=users, state="present", host=None, privileges=None, roles=None)
    params.update(top)
    return normalize_users(params, engine)


def plan_and_apply(conn, users, convert=False, **top):
    mgr = MySQLUsers(conn, "admin")
    mgr.read_server()
    plans = mgr.plan(specs(users, **top), convert)
    queries = mgr.queries(plans)
    executed = mgr.apply(plans)
    assert executed == queries
    return mgr, plans, executed


# -- dialects -----------------------------------------------------------------------------------


def test_mysql8_rows_are_read():
    iam = account_from_mysql_row(MYSQL8_USERS[1])
    assert iam.uses(IAM_PLUGIN, IAM_AUTH_STRING) and iam.requires_tls
    legacy = account_from_mysql_row(MYSQL8_USERS[2])
    assert (legacy.name, legacy.host, legacy.plugin) == ("legacy", "%", "caching_sha2_password")
    assert not legacy.uses(IAM_PLUGIN, IAM_AUTH_STRING) and not legacy.requires_tls
    assert account_from_mysql_row(MYSQL8_USERS[3]).requires_tls  # X509 is stricter: fine


def test_mariadb_rows_are_read():
    iam = account_from_mariadb_row(MARIADB_USERS[1])
    assert iam.uses(IAM_PLUGIN, IAM_AUTH_STRING) and iam.requires_tls
    terraform = account_from_mariadb_row(MARIADB_USERS[0])
    assert terraform.uses(IAM_PLUGIN, IAM_AUTH_STRING) and not terraform.requires_tls
    both = account_from_mariadb_row(MARIADB_USERS[3])
    # IDENTIFIED VIA AWSAuthenticationPlugin USING 'RDS' OR mysql_native_password: a password still works
    assert both.plugin == "AWSAuthenticationPlugin" and both.other_methods == ["mysql_native_password"]
    assert not both.uses(IAM_PLUGIN, IAM_AUTH_STRING)
    assert both.authentication() == "AWSAuthenticationPlugin OR mysql_native_password"
    assert account_from_mariadb_row(MARIADB_USERS[4]).is_role


@pytest.mark.parametrize("factory,flavor", [(mysql8, "mysql"), (mariadb, "mariadb")])
def test_flavor_detection(factory, flavor):
    mgr = MySQLUsers(factory(), "admin")
    assert mgr.read_server() == flavor
    assert mgr.current_user == "admin"


# -- create / update / idempotency --------------------------------------------------------------


@pytest.mark.parametrize("factory", [mysql8, mariadb])
def test_create_with_privileges_exact_queries(factory):
    conn = factory(schemas=["app"], tables=[("app", "orders")])
    mgr, plans, executed = plan_and_apply(conn, [
        {"name": "new_user", "privileges": {"app.*": "SELECT,INSERT", "app.orders": "UPDATE"}},
        {"name": "o'q`x;", "host": "10.0.%"},
    ])
    assert [p.action for p in plans] == ["created", "created"]
    assert executed == [
        "CREATE USER 'new_user'@'%' IDENTIFIED WITH AWSAuthenticationPlugin AS 'RDS' REQUIRE SSL",
        "GRANT INSERT, SELECT ON `app`.* TO 'new_user'@'%'",
        "GRANT UPDATE ON `app`.`orders` TO 'new_user'@'%'",
        "CREATE USER 'o\\'q`x;'@'10.0.%' IDENTIFIED WITH AWSAuthenticationPlugin AS 'RDS' REQUIRE SSL",
    ]


@pytest.mark.parametrize("factory", [mysql8, mariadb])
def test_terraform_user_gets_require_ssl_and_exact_privileges(factory):
    conn = factory(
        schemas=["app", "other"], tables=[("app", "orders")],
        user_privs=[("'gueban_doe'@'%'", "*", "*", "USAGE", "NO")],
        schema_privs=[("'gueban_doe'@'%'", "app", "*", "SELECT", "NO"), ("'gueban_doe'@'%'", "app", "*", "DELETE", "NO"),
                      ("'gueban_doe'@'%'", "other", "*", "SELECT", "YES")],
    )
    mgr, plans, executed = plan_and_apply(conn, [{"name": "gueban_doe", "privileges": {"app.*": "SELECT,INSERT"}}])
    assert plans[0].action == "updated"
    assert executed == [
        "ALTER USER 'gueban_doe'@'%' REQUIRE SSL",
        "REVOKE DELETE ON `app`.* FROM 'gueban_doe'@'%'",
        "GRANT INSERT ON `app`.* TO 'gueban_doe'@'%'",
        "REVOKE GRANT OPTION, SELECT ON `other`.* FROM 'gueban_doe'@'%'",
    ]
    diff = plans[0].diff()
    assert diff["before"]["require_ssl"] is False and diff["after"]["require_ssl"] is True
    assert diff["before"]["privileges"] == {"app.*": "DELETE,SELECT", "other.*": "GRANT OPTION,SELECT"}
    assert diff["after"]["privileges"] == {"app.*": "INSERT,SELECT"}


@pytest.mark.parametrize("factory", [mysql8, mariadb])
def test_unchanged_when_state_matches(factory):
    conn = factory(schemas=["app"], schema_privs=[("'iam_ok'@'%'", "app", "*", "SELECT", "NO")])
    mgr, plans, executed = plan_and_apply(conn, [{"name": "iam_ok", "privileges": {"app.*": "select"}},
                                                 {"name": "iam_ok", "host": "10.0.%"}])
    assert [p.action for p in plans] == ["unchanged", "unchanged"]
    assert executed == [] and conn.writes == []


def test_privileges_not_managed_when_omitted():
    conn = mysql8(schema_privs=[("'iam_ok'@'%'", "app", "*", "SELECT", "NO")])
    mgr, plans, executed = plan_and_apply(conn, [{"name": "iam_ok"}])
    assert plans[0].action == "unchanged" and executed == []
    assert plans[0].after["privileges"] == {"app.*": "SELECT"}


def test_empty_privileges_revoke_everything():
    conn = mysql8(schema_privs=[("'iam_ok'@'%'", "app", "*", "SELECT", "NO")],
                  user_privs=[("'iam_ok'@'%'", "*", "*", "PROCESS", "NO")])
    mgr, plans, executed = plan_and_apply(conn, [{"name": "iam_ok", "privileges": {}}])
    assert executed == ["REVOKE PROCESS ON *.* FROM 'iam_ok'@'%'", "REVOKE SELECT ON `app`.* FROM 'iam_ok'@'%'"]


def test_all_privileges_expand_per_flavor_and_are_idempotent():
    conn = mariadb(schemas=["app"], tables=[("app", "t")])
    mgr, plans, executed = plan_and_apply(conn, [{"name": "new", "privileges": {"app.t": "ALL", "app.*": "ALL,GRANT"}}])
    assert executed[1:] == ["GRANT ALL PRIVILEGES ON `app`.* TO 'new'@'%' WITH GRANT OPTION",
                            "GRANT ALL PRIVILEGES ON `app`.`t` TO 'new'@'%'"]
    table_all = ["SELECT", "INSERT", "UPDATE", "DELETE", "CREATE", "DROP", "REFERENCES", "INDEX", "ALTER",
                 "CREATE VIEW", "SHOW VIEW", "TRIGGER", "DELETE HISTORY"]
    conn2 = mariadb(schemas=["app"], tables=[("app", "t")],
                    table_privs=[("'iam_ok'@'%'", "app", "t", p, "NO") for p in table_all])
    mgr, plans, executed = plan_and_apply(conn2, [{"name": "iam_ok", "privileges": {"app.t": "ALL PRIVILEGES"}}])
    assert executed == [] and plans[0].action == "unchanged"
    # MySQL 8 has no DELETE HISTORY: the same rows mean one privilege too many there
    conn3 = mysql8(schemas=["app"], tables=[("app", "t")],
                   table_privs=[("'iam_ok'@'%'", "app", "t", p, "NO") for p in table_all[:-1]])
    mgr, plans, executed = plan_and_apply(conn3, [{"name": "iam_ok", "privileges": {"app.t": "ALL"}}])
    assert executed == []


def test_mysql8_dynamic_privileges_at_global_level():
    conn = mysql8()
    mgr, plans, executed = plan_and_apply(conn, [{"name": "ops", "privileges": {"*.*": "PROCESS,BACKUP_ADMIN"}}])
    assert executed[1] == "GRANT BACKUP_ADMIN, PROCESS ON *.* TO 'ops'@'%'"
    with pytest.raises(DbUserError, match="unknown privilege BACKUP_ADMIN"):
        plan_and_apply(mariadb(), [{"name": "ops", "privileges": {"*.*": "BACKUP_ADMIN"}}])


# -- refusals (nothing written) -----------------------------------------------------------------


@pytest.mark.parametrize("factory", [mysql8, mariadb])
def test_password_user_left_alone_then_converted(factory):
    conn = factory()
    with pytest.raises(DbUserError, match="'legacy'@'%' already exists with .* authentication .*convert_existing"):
        plan_and_apply(conn, [{"name": "legacy"}, {"name": "brand_new"}])
    assert conn.writes == []
    mgr, plans, executed = plan_and_apply(conn, [{"name": "legacy"}], convert=True)
    assert plans[0].action == "converted"
    assert executed == ["ALTER USER 'legacy'@'%' IDENTIFIED WITH AWSAuthenticationPlugin AS 'RDS' REQUIRE SSL"]


def test_mariadb_user_with_iam_or_password_needs_convert():
    conn = mariadb()
    with pytest.raises(DbUserError, match="AWSAuthenticationPlugin OR mysql_native_password"):
        plan_and_apply(conn, [{"name": "both"}])
    mgr, plans, executed = plan_and_apply(conn, [{"name": "both"}], convert=True)
    assert executed == ["ALTER USER 'both'@'%' IDENTIFIED WITH AWSAuthenticationPlugin AS 'RDS' REQUIRE SSL"]


def test_role_refused():
    mgr = MySQLUsers(mariadb(), "admin")
    mgr.read_server()
    spec = specs([{"name": "a_role"}])[0]
    spec.host = ""  # roles have an empty host in mysql.global_priv
    with pytest.raises(DbUserError, match="is a role"):
        mgr.plan([spec], False)


@pytest.mark.parametrize("name", ["admin", "root", "rdsadmin", "mysql.sys", "mariadb.sys", "rds_superuser_role",
                                  "rdsrepladmin"])
def test_login_and_platform_accounts_refused(name):
    conn = mysql8()
    with pytest.raises(DbUserError, match="login user|platform"):
        plan_and_apply(conn, [{"name": name}, {"name": "fine"}])
    assert conn.writes == []


def test_current_user_refused_even_under_another_login_name():
    conn = FakeConn("8.0.39", "master@%", MYSQL8_PRIVILEGES, MYSQL8_USERS)
    with pytest.raises(DbUserError, match="'master' is the login user"):
        plan_and_apply(conn, [{"name": "master"}])


def test_missing_objects_and_bad_privileges_listed_together():
    conn = mysql8(schemas=["app"], tables=[])
    with pytest.raises(DbUserError) as e:
        plan_and_apply(conn, [{"name": "a", "privileges": {"nodb.*": "SELECT", "app.nope": "SELECT"}}])
    assert "database 'nodb' does not exist" in str(e.value) and "table 'nope' does not exist" in str(e.value)
    with pytest.raises(DbUserError) as e:
        plan_and_apply(conn, [{"name": "a", "privileges": {"app.*": "FLY", "app.t": "EXECUTE", "app%.*": "SELECT"}}])
    text = str(e.value)
    assert "unknown privilege FLY" in text and "EXECUTE cannot be granted on app.t" in text
    assert "database patterns are not supported" in text
    assert conn.writes == []


def test_mariadb_length_limit_after_detection():
    mgr = MySQLUsers(mysql8(), "admin")
    mgr.read_server()
    with pytest.raises(DbUserError, match="MySQL allows at most 32"):
        mgr.plan(specs([{"name": "x" * 40}], engine="mariadb"), False)
    mgr = MySQLUsers(mariadb(), "admin")
    mgr.read_server()
    assert mgr.plan(specs([{"name": "x" * 40}], engine="mariadb"), False)[0].action == "created"


# -- absent -------------------------------------------------------------------------------------


def test_absent():
    conn = mysql8()
    with pytest.raises(DbUserError, match="not an IAM user"):
        plan_and_apply(conn, [{"name": "legacy", "state": "absent"}])
    mgr, plans, executed = plan_and_apply(conn, [{"name": "iam_ok", "state": "absent"},
                                                 {"name": "ghost", "state": "absent"}])
    assert [p.action for p in plans] == ["dropped", "unchanged"]
    assert executed == ["DROP USER 'iam_ok'@'%'"]


# -- constant number of reads, partial failure --------------------------------------------------


def test_reads_are_constant_in_the_number_of_users():
    counts = []
    for n in (1, 300):
        conn = mysql8(schemas=["app"])
        users = [{"name": "u%03d" % i, "privileges": {"app.*": "SELECT"}} for i in range(n)]
        mgr, plans, executed = plan_and_apply(conn, users)
        counts.append(len(conn.read_log))
        assert len(executed) == 2 * n
    assert counts[0] == counts[1] == 4  # version, SHOW PRIVILEGES, accounts, SCHEMATA
    counts = []
    for n in (1, 300):
        rows = [("u%03d" % i, "%", "AWSAuthenticationPlugin", "RDS", "ANY") for i in range(n)]
        conn = FakeConn("8.0.39", "admin@%", MYSQL8_PRIVILEGES, rows, schemas=["app"], tables=[("app", "t")],
                        schema_privs=[("'u%03d'@'%%'" % i, "app", "*", "SELECT", "NO") for i in range(n)])
        users = [{"name": "u%03d" % i, "privileges": {"app.*": "SELECT", "app.t": "INSERT"}} for i in range(n)]
        mgr, plans, executed = plan_and_apply(conn, users)
        counts.append(len(conn.read_log))
        assert len(executed) == n and all(p.action == "updated" for p in plans)
    # + USER_/SCHEMA_/TABLE_PRIVILEGES and TABLES
    assert counts[0] == counts[1] == 8


def test_failure_reports_exactly_what_was_applied():
    import pymysql
    conn = mysql8(schemas=["app"])
    conn.fail_on = "GRANT SELECT ON `app`.* TO 'u2'"
    conn.fail_exc = pymysql.err.OperationalError(1290, "The MySQL server is running with the --read-only option")
    users = [{"name": "u%d" % i, "privileges": {"app.*": "SELECT"}} for i in range(1, 5)]
    with pytest.raises(DbUserError) as e:
        plan_and_apply(conn, users)
    err = e.value
    assert [(u["name"], u["action"]) for u in err.users] == [("u1", "created"), ("u2", "failed")]
    assert err.queries == conn.writes == [
        "CREATE USER 'u1'@'%' IDENTIFIED WITH AWSAuthenticationPlugin AS 'RDS' REQUIRE SSL",
        "GRANT SELECT ON `app`.* TO 'u1'@'%'",
        "CREATE USER 'u2'@'%' IDENTIFIED WITH AWSAuthenticationPlugin AS 'RDS' REQUIRE SSL",
    ]
    text = str(err)
    assert "applied before the failure: 'u1'@'%'" in text
    assert "'u2'@'%' was partly applied (1 of its statements ran)" in text
    assert "not applied: 'u3'@'%', 'u4'@'%'" in text and "read-only" in text


def test_a_server_that_stops_answering_mid_batch_is_a_timeout_that_says_what_was_applied():
    # PyMySQL raises OperationalError 2013 while handling the socket's timeout (read_timeout).
    import socket
    import pymysql
    lost = pymysql.err.OperationalError(2013, "Lost connection to MySQL server during query (timed out)")
    lost.__context__ = socket.timeout("timed out")  # what raising it inside PyMySQL's except clause sets
    conn = mysql8(schemas=["app"])
    conn.fail_on = "CREATE USER 'u2'"
    conn.fail_exc = lost
    with pytest.raises(DbUserError) as e:
        plan_and_apply(conn, [{"name": "u%d" % i} for i in range(1, 4)])
    assert e.value.kind == "timeout"
    assert [(u["name"], u["action"]) for u in e.value.users] == [("u1", "created"), ("u2", "failed")]
    assert "applied before the failure: 'u1'@'%'" in str(e.value) and "not applied: 'u3'@'%'" in str(e.value)


def test_plugin_not_loaded_hint():
    import pymysql
    conn = mysql8()
    conn.fail_on = "CREATE USER"
    conn.fail_exc = pymysql.err.OperationalError(1524, "Plugin 'AWSAuthenticationPlugin' is not loaded")
    with pytest.raises(DbUserError, match="IAM database authentication is off"):
        plan_and_apply(conn, [{"name": "n"}])


# -- auth=bridge: self-managed MariaDB, users IDENTIFIED VIA pam ------------------------------------------------------


def test_bridge_users_are_identified_via_pam_with_the_service():
    conn = mariadb(schemas=["app"])
    mgr = MySQLUsers(conn, "admin", auth="bridge", pam_service="dbauth-iam-db1")
    mgr.read_server()
    plans = mgr.plan(specs([{"name": "app", "privileges": {"app.*": "SELECT"}}]), False)
    queries = mgr.queries(plans)
    assert queries[0] == "CREATE USER 'app'@'%' IDENTIFIED VIA pam USING 'dbauth-iam-db1' REQUIRE SSL"
    assert plans[0].after["authentication"] == "pam"


def test_an_rds_iam_user_is_not_a_bridge_user():
    mgr = MySQLUsers(mariadb(), "admin", auth="bridge", pam_service="dbauth-iam-db1")
    mgr.read_server()
    iam_name = account_from_mariadb_row(MARIADB_USERS[1]).name
    with pytest.raises(DbUserError, match="convert_existing"):
        mgr.plan(specs([{"name": iam_name}]), False)


def test_bridge_is_refused_on_mysql8():
    mgr = MySQLUsers(mysql8(), "admin", auth="bridge", pam_service="dbauth-iam-db1")
    mgr.read_server()
    with pytest.raises(DbUserError, match="MySQL 8 Community ships no PAM"):
        mgr.plan(specs([{"name": "app"}]), False)
