# -*- coding: utf-8 -*-

# Copyright: (c) 2026, dbauth.rds_iam developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

# Internal use only: this file is not part of the collection's public interface and may change
# without notice.

"""rds_iam_db_user from validated params to result: login, read, plan, apply (or not in check mode)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.dbauth.rds_iam.plugins.module_utils._db_connection import MYSQL_ENGINES
from ansible_collections.dbauth.rds_iam.plugins.module_utils._db_connection import connect
from ansible_collections.dbauth.rds_iam.plugins.module_utils._db_connection import failure_kind
from ansible_collections.dbauth.rds_iam.plugins.module_utils._db_connection import login_settings
from ansible_collections.dbauth.rds_iam.plugins.module_utils._db_user_common import DbUserError
from ansible_collections.dbauth.rds_iam.plugins.module_utils._db_user_common import UserSpec
from ansible_collections.dbauth.rds_iam.plugins.module_utils._db_user_common import check_auth
from ansible_collections.dbauth.rds_iam.plugins.module_utils._db_user_common import normalize_users
from ansible_collections.dbauth.rds_iam.plugins.module_utils._db_user_mysql import MySQLUsers
from ansible_collections.dbauth.rds_iam.plugins.module_utils._db_user_postgres import PostgresUsers

USER_PARAM_NAMES = ("name", "users", "state", "host", "privileges", "roles")


def manager_for(engine, conn, login_user, auth="rds", pam_service=None):
    if engine in MYSQL_ENGINES:
        return MySQLUsers(conn, login_user, auth=auth, pam_service=pam_service)
    return PostgresUsers(conn, login_user, auth=auth)


def run(params, check_mode, region=None, signer=None, on_secret=None, connector=None):
    """Do the work; returns the module result dict.  Raises DbUserError or DbConnectionError.

    ``on_secret`` is called with the admin password/token so that the caller can mask it
    (module.no_log_values.add); ``connector`` replaces _db_connection.connect in tests.
    """
    engine = params["engine"]
    # Syntax checks before any connection: a bad list never reaches the server.
    # (MySQL protocol: MariaDB's 128-character limit until the server says it is MySQL 8.)
    normalize_users(params, engine, "mariadb" if engine in MYSQL_ENGINES else "postgres")
    check_auth(params)
    settings = login_settings(params, region=region, signer=signer)
    if on_secret and settings.secret:
        on_secret(settings.secret)
    conn, tls_version = (connector or connect)(settings)
    try:
        manager = manager_for(engine, conn, settings.user, params.get("auth") or "rds", params.get("pam_service"))
        try:
            flavor = manager.read_server()
            specs = normalize_users(params, engine, flavor)  # length limits of the real server
            pruned = []
            if params.get("prune"):
                listed = set(spec.key for spec in specs)
                for name, host in manager.marked_users():
                    if (name, host) not in listed:
                        specs.append(UserSpec(name, "absent", host, index=len(specs)))
                        pruned.append({"name": name, "host": host})
            plans = manager.plan(specs, params.get("convert_existing", False), mark=bool(params.get("mark")))
            queries = manager.queries(plans)
        except DbUserError:
            raise
        except Exception as e:  # a driver error while reading: nothing was written yet
            raise DbUserError("reading the users on %s failed before any change (no user was changed): %s: %s"
                              % (settings.endpoint, type(e).__name__, e), kind=failure_kind(e))
        if check_mode or not any(p.changed for p in plans):
            if engine not in MYSQL_ENGINES:
                conn.rollback()
        else:
            queries = manager.apply(plans)
        changed = any(p.changed for p in plans)
        return {
            "changed": changed,
            "users": [p.result() for p in plans],
            "queries": queries,
            "diff": [p.diff() for p in plans if p.changed],
            "pruned": pruned,
            "server": {"flavor": flavor, "version": getattr(manager, "version", None), "tls_version": tls_version,
                       "read_queries": manager.read_queries},
        }
    finally:
        try:
            conn.close()
        except Exception:  # pragma: no cover - closing a broken connection
            pass
