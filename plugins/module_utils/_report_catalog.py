# -*- coding: utf-8 -*-

# Copyright: Contributors to the dbauth.rds_iam collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

# This module_util is for internal use only, not part of the public API: it may change or go away
# in any release.

"""Who can log in to one database, read from its catalog with a constant number of queries.

Whatever the number of users:

- PostgreSQL: ``SELECT current_user, session_user`` and one query over ``pg_roles`` with every
  role's transitive memberships and its comment (``COMMENT ON ROLE``);
- MariaDB: ``SELECT VERSION(), CURRENT_USER()`` and one read of ``mysql.global_priv``;
- MySQL 8: ``SELECT VERSION(), CURRENT_USER()`` and one read of ``mysql.user`` (with its
  ``User_attributes``, where ``CREATE USER ... COMMENT`` is kept).

Each login user is classified: an IAM user (``rds_iam`` member / ``AWSAuthenticationPlugin``), a
password user, or an account the collection never touches (the admin login, the platform's own); an IAM user
is ``marked`` when it carries the collection's marker (_db_user_common.OWNER_MARKER), that is, the collection created it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

from ansible_collections.dbauth.rds_iam.plugins.module_utils._db_user_common import MARIADB_MARKER_KEY
from ansible_collections.dbauth.rds_iam.plugins.module_utils._db_user_common import OWNER_MARKER
from ansible_collections.dbauth.rds_iam.plugins.module_utils._db_user_common import protected_reason
from ansible_collections.dbauth.rds_iam.plugins.module_utils._db_user_mysql import IAM_AUTH_STRING
from ansible_collections.dbauth.rds_iam.plugins.module_utils._db_user_mysql import IAM_PLUGIN
from ansible_collections.dbauth.rds_iam.plugins.module_utils._db_user_mysql import account_from_mariadb_row
from ansible_collections.dbauth.rds_iam.plugins.module_utils._db_user_mysql import account_from_mysql_row
from ansible_collections.dbauth.rds_iam.plugins.module_utils._db_user_postgres import AD_ROLE
from ansible_collections.dbauth.rds_iam.plugins.module_utils._db_user_postgres import IAM_ROLE

# Every role with all the roles it belongs to, directly or through other roles (pg_hba's +rds_iam
# matches indirect members too), and its comment, in one round trip.
PG_CATALOG_QUERY = """
WITH RECURSIVE up(member, roleid) AS (
    SELECT m.member, m.roleid FROM pg_catalog.pg_auth_members m
  UNION
    SELECT up.member, m.roleid FROM up JOIN pg_catalog.pg_auth_members m ON m.member = up.roleid
), memberships AS (
    SELECT up.member, array_agg(DISTINCT g.rolname) AS names
    FROM up JOIN pg_catalog.pg_roles g ON g.oid = up.roleid GROUP BY up.member
)
SELECT r.rolname, r.rolcanlogin, r.rolsuper, COALESCE(memberships.names, '{}'::name[]),
       pg_catalog.shobj_description(r.oid, 'pg_authid')
FROM pg_catalog.pg_roles r LEFT JOIN memberships ON memberships.member = r.oid
WHERE r.rolname !~ '^pg_'
ORDER BY r.rolname
""".strip()

MARIADB_CATALOG_QUERY = "SELECT User, Host, Priv FROM mysql.global_priv ORDER BY User, Host"
MYSQL_CATALOG_QUERY = ("SELECT User, Host, plugin, authentication_string, ssl_type, User_attributes "
                       "FROM mysql.user ORDER BY User, Host")


def _text(value):
    if isinstance(value, (bytes, bytearray)):
        return value.decode("utf-8")
    return "" if value is None else value


def empty_catalog():
    return {"iam_users": [], "password_users": [], "protected_users": [], "rds_ad_conflicts": [], "queries": 0}


def _add(catalog, kind, name, **extra):
    entry = dict(name=name, **extra)
    catalog[kind].append(entry)


def classify_postgres(rows, login_user, current_users):
    """The catalog of a PostgreSQL server from the rows of PG_CATALOG_QUERY."""
    catalog = empty_catalog()
    for name, can_login, superuser, memberships, comment in rows:
        memberships = set(memberships or [])
        if not can_login:
            continue
        iam = IAM_ROLE in memberships
        if iam and AD_ROLE in memberships:
            catalog["rds_ad_conflicts"].append(name)
        if protected_reason(name, "postgres", login_user, current_users) or superuser:
            _add(catalog, "protected_users", name)
        elif iam:
            _add(catalog, "iam_users", name, marked=comment == OWNER_MARKER)
        else:
            _add(catalog, "password_users", name)
    return catalog


def _mysql_comment(attributes):
    """The COMMENT of CREATE USER as MySQL 8 keeps it in mysql.user.User_attributes (JSON)."""
    try:
        return (json.loads(_text(attributes) or "{}").get("metadata") or {}).get("comment") or ""
    except (ValueError, AttributeError):
        return ""


def classify_mysql(accounts, login_user, engine):
    """The catalog of a MySQL/MariaDB server from its accounts (name, host, Account, comment)."""
    catalog = empty_catalog()
    for name, host, account, comment in accounts:
        if account.is_role:
            continue
        if protected_reason(name, engine, login_user):
            _add(catalog, "protected_users", name, host=host)
        elif account.plugin == IAM_PLUGIN and account.auth_string == IAM_AUTH_STRING:
            _add(catalog, "iam_users", name, host=host, marked=comment == OWNER_MARKER)
        else:
            _add(catalog, "password_users", name, host=host)
    return catalog


def read_catalog(conn, engine):
    """Read the catalog on an open connection (see the module docstring for the queries)."""
    with conn.cursor() as cur:
        if engine == "postgres":
            cur.execute("SELECT current_user, session_user")
            current, session = cur.fetchone()
            cur.execute(PG_CATALOG_QUERY)
            catalog = classify_postgres(cur.fetchall(), current, (current, session))
            conn.rollback()
        else:
            cur.execute("SELECT VERSION(), CURRENT_USER()")
            version, current = cur.fetchone()
            login_user = _text(current).rsplit("@", 1)[0]
            if "mariadb" in _text(version).lower():
                cur.execute(MARIADB_CATALOG_QUERY)
                accounts = []
                for row in cur.fetchall():
                    account = account_from_mariadb_row(row)
                    accounts.append((account.name, account.host, account, _mariadb_marker(row[2])))
            else:
                cur.execute(MYSQL_CATALOG_QUERY)
                accounts = []
                for row in cur.fetchall():
                    account = account_from_mysql_row(row[:5])
                    accounts.append((account.name, account.host, account, _mysql_comment(row[5])))
            catalog = classify_mysql(accounts, login_user, engine)
    catalog["queries"] = 2
    return catalog


def _mariadb_marker(priv):
    """The collection's marker of a MariaDB account: a key of its mysql.global_priv JSON (see db_user_common)."""
    try:
        return json.loads(_text(priv) or "{}").get(MARIADB_MARKER_KEY) or ""
    except ValueError:
        return ""
