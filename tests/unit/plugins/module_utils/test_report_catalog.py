# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Classifying the users of a catalog for the access report: IAM users, password users, accounts never touched,
rds_iam with rds_ad; the queries are a constant two whatever the number of users."""

from __future__ import annotations

import json

from ansible_collections.dbauth.rds_iam.plugins.module_utils import _report_catalog


def names(entries):
    return [e["name"] for e in entries]


def test_postgres_roles():
    rows = [
        ("app", True, False, ["rds_iam"], "dbauth.rds_iam"),
        ("indirect", True, False, ["iam_group", "rds_iam"], None),
        ("both", True, False, ["rds_ad", "rds_iam"], None),
        ("legacy", True, False, [], None),
        ("iam_group", False, False, ["rds_iam"], None),
        ("postgres", True, True, [], None),
        ("rdsadmin", True, True, [], None),
        ("master", True, False, ["rds_superuser"], None),
    ]
    catalog = _report_catalog.classify_postgres(rows, "master", ("master", "master"))
    assert names(catalog["iam_users"]) == ["app", "indirect", "both"]
    assert [u["marked"] for u in catalog["iam_users"]] == [True, False, False]
    assert names(catalog["password_users"]) == ["legacy"]
    assert names(catalog["protected_users"]) == ["postgres", "rdsadmin", "master"]
    assert catalog["rds_ad_conflicts"] == ["both"]


class Cursor:
    def __init__(self, results):
        self.results = list(results)
        self.executed = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def execute(self, sql, params=None):
        self.executed.append(sql)

    def fetchone(self):
        return self.results.pop(0)[0]

    def fetchall(self):
        return self.results.pop(0)


class Connection:
    def __init__(self, results):
        self.cur = Cursor(results)
        self.rolled_back = False

    def cursor(self):
        return self.cur

    def rollback(self):
        self.rolled_back = True


def priv(plugin, auth="", **extra):
    return json.dumps(dict(plugin=plugin, authentication_string=auth, ssl_type=1, **extra))


def test_mariadb_accounts_in_two_queries():
    users = [("u%03d" % i, "%", priv("AWSAuthenticationPlugin", "RDS", dbauth_rds_iam="dbauth.rds_iam")) for i in range(200)]
    rows = users + [
        ("legacy", "%", priv("mysql_native_password", "*ABC")),
        ("admin", "%", priv("mysql_native_password", "*DEF")),
        ("mariadb.sys", "localhost", priv("mysql_native_password")),
        ("either", "%", json.dumps({"plugin": "AWSAuthenticationPlugin", "authentication_string": "RDS",
                                    "auth_or": [{"plugin": "mysql_native_password", "authentication_string": "*1"}, {}]})),
        ("app_role", "", json.dumps({"is_role": True})),
    ]
    conn = Connection([[("10.11.19-MariaDB", "admin@%")], rows])
    catalog = _report_catalog.read_catalog(conn, "mariadb")
    assert len(conn.cur.executed) == 2 == catalog["queries"]
    assert len(catalog["iam_users"]) == 200 and all(u["marked"] for u in catalog["iam_users"])
    assert names(catalog["password_users"]) == ["legacy", "either"]
    assert names(catalog["protected_users"]) == ["admin", "mariadb.sys"]


def test_mysql8_accounts_and_their_comment():
    rows = [("app", "%", "AWSAuthenticationPlugin", "RDS", "ANY", '{"metadata": {"comment": "dbauth.rds_iam"}}'),
            ("legacy", "%", "caching_sha2_password", "x", "", None)]
    conn = Connection([[("8.0.40", "admin@%")], rows])
    catalog = _report_catalog.read_catalog(conn, "mysql")
    assert catalog["iam_users"] == [{"name": "app", "host": "%", "marked": True}]
    assert names(catalog["password_users"]) == ["legacy"]


def test_postgres_in_two_queries_read_only():
    conn = Connection([[("master", "master")], [("app", True, False, ["rds_iam"], None)]])
    catalog = _report_catalog.read_catalog(conn, "postgres")
    assert names(catalog["iam_users"]) == ["app"] and conn.rolled_back
    assert conn.cur.executed[1] == _report_catalog.PG_CATALOG_QUERY
