# -*- coding: utf-8 -*-

# Copyright: (c) 2026, dbauth.rds_iam developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

# Internal use only: this file is not part of the collection's public interface and may change
# without notice.

"""IAM database users on MySQL 8 and MariaDB (RDS ``AWSAuthenticationPlugin``).

With ``auth=bridge`` (a self-managed MariaDB, roles/self_managed) the users are ``IDENTIFIED VIA pam USING
'SERVICE'``: MariaDB's packaged ``auth_pam`` plugin runs the PAM service, whose ``pam_exec`` asks the collection's
dbauth-iam-bridge. MySQL 8 Community has no PAM plugin: refused there.

State of every listed account is read in a constant number of queries:

* the server: ``SELECT VERSION(), CURRENT_USER()`` and ``SHOW PRIVILEGES``;
* authentication: MariaDB keeps it as JSON in ``mysql.global_priv`` (what ``SHOW CREATE USER``
  prints as ``IDENTIFIED VIA plugin USING 'string'``, possibly several methods joined by ``OR``);
  MySQL 8 in the ``plugin``/``authentication_string``/``ssl_type`` columns of ``mysql.user``
  (``IDENTIFIED WITH plugin AS 'string'``);
* privileges: ``information_schema`` USER_/SCHEMA_/TABLE_PRIVILEGES (same spelling on both);
* the databases and tables named in privileges: SCHEMATA and TABLES.

User names and hosts are always driver parameters; database and table names are quoted with
backticks by _sql_identifiers.mysql_quote_ident; privilege names are checked against the server's
own ``SHOW PRIVILEGES`` list before they are written into a statement.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

from ansible_collections.dbauth.rds_iam.plugins.module_utils._db_connection import failure_kind
from ansible_collections.dbauth.rds_iam.plugins.module_utils._db_user_common import MARIADB_MARKER_KEY
from ansible_collections.dbauth.rds_iam.plugins.module_utils._db_user_common import OWNER_MARKER
from ansible_collections.dbauth.rds_iam.plugins.module_utils._db_user_common import DbUserError
from ansible_collections.dbauth.rds_iam.plugins.module_utils._db_user_common import Plan
from ansible_collections.dbauth.rds_iam.plugins.module_utils._db_user_common import protected_reason
from ansible_collections.dbauth.rds_iam.plugins.module_utils._db_user_common import refusal
from ansible_collections.dbauth.rds_iam.plugins.module_utils._sql_identifiers import IdentifierError
from ansible_collections.dbauth.rds_iam.plugins.module_utils._sql_identifiers import describe
from ansible_collections.dbauth.rds_iam.plugins.module_utils._sql_identifiers import display_privilege_key
from ansible_collections.dbauth.rds_iam.plugins.module_utils._sql_identifiers import format_privilege_key
from ansible_collections.dbauth.rds_iam.plugins.module_utils._sql_identifiers import mysql_account
from ansible_collections.dbauth.rds_iam.plugins.module_utils._sql_identifiers import mysql_quote_ident
from ansible_collections.dbauth.rds_iam.plugins.module_utils._sql_identifiers import parse_mysql_grantee
from ansible_collections.dbauth.rds_iam.plugins.module_utils._sql_identifiers import validate_user_name

IAM_PLUGIN = "AWSAuthenticationPlugin"
IAM_AUTH_STRING = "RDS"
IAM_CLAUSE = "IDENTIFIED WITH AWSAuthenticationPlugin AS 'RDS' REQUIRE SSL"
BRIDGE_PLUGIN = "pam"

# Privileges valid at database level (mysql.db columns) and at table level (tables_priv), as
# information_schema spells them. Intersected with the server's SHOW PRIVILEGES.
DB_LEVEL_PRIVILEGES = frozenset([
    "SELECT", "INSERT", "UPDATE", "DELETE", "CREATE", "DROP", "REFERENCES", "INDEX", "ALTER",
    "CREATE TEMPORARY TABLES", "LOCK TABLES", "EXECUTE", "CREATE VIEW", "SHOW VIEW", "CREATE ROUTINE",
    "ALTER ROUTINE", "EVENT", "TRIGGER", "DELETE HISTORY", "SHOW CREATE ROUTINE",
])
TABLE_LEVEL_PRIVILEGES = frozenset([
    "SELECT", "INSERT", "UPDATE", "DELETE", "CREATE", "DROP", "REFERENCES", "INDEX", "ALTER",
    "CREATE VIEW", "SHOW VIEW", "TRIGGER", "DELETE HISTORY",
])
NOT_IN_ALL = frozenset(["USAGE", "GRANT OPTION", "PROXY"])

MARIADB_SSL_TYPES = {0: "", 1: "ANY", 2: "X509", 3: "SPECIFIED"}

ER_PLUGIN_IS_NOT_LOADED = 1524


def _text(value):
    if isinstance(value, (bytes, bytearray)):
        return value.decode("utf-8")
    return "" if value is None else value


class Account:
    """An existing account as read from the catalog."""

    def __init__(self, name, host, plugin, auth_string, ssl_type, other_methods=(), is_role=False):
        self.name = name
        self.host = host
        self.plugin = plugin or ""
        self.auth_string = auth_string or ""
        self.ssl_type = (ssl_type or "").upper()
        self.other_methods = list(other_methods)
        self.is_role = is_role

    def uses(self, plugin, auth_string):
        """Whether the account logs in with this method only."""
        return self.plugin == plugin and self.auth_string == auth_string and not self.other_methods

    @property
    def requires_tls(self):
        return self.ssl_type in ("ANY", "X509", "SPECIFIED")

    def authentication(self):
        methods = [self.plugin or "mysql_native_password"] + self.other_methods
        return " OR ".join(methods)


def account_from_mariadb_row(row):
    """(User, Host, Priv JSON) of mysql.global_priv -> Account."""
    name, host, priv = _text(row[0]), _text(row[1]), json.loads(_text(row[2]) or "{}")
    methods = []
    first_plugin, first_string = priv.get("plugin", ""), priv.get("authentication_string", "")
    # auth_or holds the methods before the last one (the last is plugin/authentication_string);
    # an empty {} entry stands for that last method.
    for method in priv.get("auth_or") or []:
        if method:
            methods.append((method.get("plugin", ""), method.get("authentication_string", "")))
    methods.append((first_plugin, first_string))
    plugin, auth_string = methods[0]
    others = [m[0] for m in methods[1:]]
    return Account(name, host, plugin, auth_string, MARIADB_SSL_TYPES.get(priv.get("ssl_type", 0), "SPECIFIED"),
                   others, bool(priv.get("is_role")))


def account_from_mysql_row(row):
    """(User, Host, plugin, authentication_string, ssl_type) of MySQL 8 mysql.user -> Account."""
    return Account(_text(row[0]), _text(row[1]), _text(row[2]), _text(row[3]), _text(row[4]))


class MySQLUsers:
    """Plans and applies IAM users on one connection (autocommit: DDL commits per statement)."""

    def __init__(self, conn, login_user, auth="rds", pam_service=None):
        self.auth = auth
        if auth == "bridge":  # pam_service was checked (_db_user_common.check_auth): no quote can be in it
            self.plugin, self.auth_string = BRIDGE_PLUGIN, pam_service
            self.clause = "IDENTIFIED VIA pam USING '%s' REQUIRE SSL" % pam_service
        else:
            self.plugin, self.auth_string, self.clause = IAM_PLUGIN, IAM_AUTH_STRING, IAM_CLAUSE
        self.conn = conn
        self.login_user = login_user
        self.flavor = None
        self.version = None
        self.current_user = None
        self.server_privileges = set()
        self.read_queries = 0

    # -- reading --------------------------------------------------------------------------

    def _query(self, sql, params=None):
        self.read_queries += 1
        with self.conn.cursor() as cur:
            cur.execute(sql, params)
            return list(cur.fetchall())

    def read_server(self):
        version, current = self._query("SELECT VERSION(), CURRENT_USER()")[0]
        self.version = _text(version)
        self.flavor = "mariadb" if "mariadb" in self.version.lower() else "mysql"
        self.current_user = _text(current).rsplit("@", 1)[0]
        self.server_privileges = set(" ".join(_text(r[0]).upper().split()) for r in self._query("SHOW PRIVILEGES"))
        return self.flavor

    def level_privileges(self, db, table):
        if db == "*":
            return set(self.server_privileges) - NOT_IN_ALL
        allowed = DB_LEVEL_PRIVILEGES if table == "*" else TABLE_LEVEL_PRIVILEGES
        return set(allowed) & self.server_privileges

    def read_accounts(self, names):
        names = sorted(set(names))
        marks = ", ".join(["%s"] * len(names))
        if self.flavor == "mariadb":
            rows = self._query("SELECT User, Host, Priv FROM mysql.global_priv WHERE User IN (%s)" % marks, names)
            accounts = [account_from_mariadb_row(r) for r in rows]
        else:
            rows = self._query("SELECT User, Host, plugin, authentication_string, ssl_type FROM mysql.user "
                               "WHERE User IN (%s)" % marks, names)
            accounts = [account_from_mysql_row(r) for r in rows]
        return dict(((a.name, a.host.lower()), a) for a in accounts)

    def read_privileges(self, keys):
        """{(name, host): {(db, table): set(PRIVS)}} for the given accounts."""
        grantees = sorted(set(mysql_account(n, h) for n, h in keys))
        out = dict((k, {}) for k in keys)
        if not grantees:
            return out
        marks = ", ".join(["%s"] * len(grantees))
        queries = (
            ("SELECT GRANTEE, '*', '*', PRIVILEGE_TYPE, IS_GRANTABLE FROM information_schema.USER_PRIVILEGES "
             "WHERE GRANTEE IN (%s)" % marks),
            ("SELECT GRANTEE, TABLE_SCHEMA, '*', PRIVILEGE_TYPE, IS_GRANTABLE FROM information_schema.SCHEMA_PRIVILEGES "
             "WHERE GRANTEE IN (%s)" % marks),
            ("SELECT GRANTEE, TABLE_SCHEMA, TABLE_NAME, PRIVILEGE_TYPE, IS_GRANTABLE "
             "FROM information_schema.TABLE_PRIVILEGES WHERE GRANTEE IN (%s)" % marks),
        )
        lowered = dict(((n, h.lower()), (n, h)) for n, h in keys)
        for sql in queries:
            for grantee, db, table, priv, grantable in self._query(sql, grantees):
                name, host = parse_mysql_grantee(_text(grantee))
                key = lowered.get((name, host.lower()))
                if key is None:
                    continue
                priv = " ".join(_text(priv).upper().split())
                target = (_text(db), _text(table))
                if priv == "USAGE":
                    if _text(grantable).upper() == "YES":
                        out[key].setdefault(target, set()).add("GRANT OPTION")
                    continue
                privs = out[key].setdefault(target, set())
                privs.add(priv)
                if _text(grantable).upper() == "YES":
                    privs.add("GRANT OPTION")
        return out

    def read_objects(self, targets):
        """(existing schema names, existing (schema, table) pairs) among the targets."""
        schemas = sorted(set(db for db, table in targets if db != "*"))
        if not schemas:
            return set(), set()
        marks = ", ".join(["%s"] * len(schemas))
        found = set(_text(r[0]) for r in self._query(
            "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME IN (%s)" % marks, schemas))
        tables = set()
        if any(table != "*" for db, table in targets):
            tables = set((_text(r[0]), _text(r[1])) for r in self._query(
                "SELECT TABLE_SCHEMA, TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA IN (%s)" % marks,
                schemas))
        return found, tables

    # -- planning -------------------------------------------------------------------------

    def expand(self, wanted, who):
        """Check privilege names per level and expand ALL PRIVILEGES; drops empty (USAGE) levels."""
        out = {}
        errors = []
        for (db, table), privs in sorted(wanted.items()):
            key = display_privilege_key(db, table)
            if db != "*":
                if "%" in db or "%" in table:
                    errors.append("%s: privilege key %s contains %%; database patterns are not supported, "
                                  "name each database." % (who, describe(key)))
                    continue
                try:
                    mysql_quote_ident(db)
                    if table != "*":
                        mysql_quote_ident(table)
                except IdentifierError as e:
                    errors.append("%s: %s" % (who, e))
                    continue
            level = self.level_privileges(db, table)
            result = set()
            for priv in privs:
                if priv == "ALL PRIVILEGES":
                    result |= level
                elif priv == "USAGE":
                    continue
                elif priv == "GRANT OPTION" or priv in level:
                    result.add(priv)
                elif priv in self.server_privileges:
                    errors.append("%s: privilege %s cannot be granted on %s (valid there: %s)." % (
                        who, priv, key, ", ".join(sorted(level | set(["ALL", "GRANT OPTION", "USAGE"])))))
                else:
                    errors.append("%s: unknown privilege %s on %s; this %s server knows: %s." % (
                        who, priv, key, "MariaDB" if self.flavor == "mariadb" else "MySQL",
                        ", ".join(sorted(self.server_privileges))))
            if result:
                out[(db, table)] = result
        return out, errors

    def _render_privs(self, privs):
        return dict((display_privilege_key(db, t), ",".join(sorted(p))) for (db, t), p in sorted(privs.items()))

    def _state(self, name, host, account, privs):
        if account is None:
            return {}
        return {"name": name, "host": host, "authentication": account.authentication(),
                "require_ssl": account.requires_tls, "privileges": self._render_privs(privs)}

    def _privilege_statements(self, current, wanted):
        statements = []
        account = ("%s@%s", None)
        for target in sorted(set(current) | set(wanted)):
            have = current.get(target, set())
            want = wanted.get(target, set())
            on = format_privilege_key(*target).replace("%", "%%")
            revoke = have - want
            if revoke:
                statements.append(("REVOKE %s ON %s FROM %s" % (", ".join(sorted(revoke)), on, account[0]), None))
            grant = want - have - set(["GRANT OPTION"])
            grant_option = "GRANT OPTION" in want and "GRANT OPTION" not in have
            if grant or grant_option:
                level = self.level_privileges(*target)
                if grant and grant == level:
                    text = "ALL PRIVILEGES"
                else:
                    text = ", ".join(sorted(grant)) if grant else "USAGE"
                suffix = " WITH GRANT OPTION" if grant_option else ""
                statements.append(("GRANT %s ON %s TO %s%s" % (text, on, account[0], suffix), None))
        return statements

    def marked_users(self):
        """(name, host) of every IAM account that carries the collection's marker (one query)."""
        if self.flavor == "mariadb":
            rows = self._query("SELECT User, Host FROM mysql.global_priv WHERE JSON_VALUE(Priv, %s) = %s "
                               "AND JSON_VALUE(Priv, '$.plugin') = %s", ("$." + MARIADB_MARKER_KEY, OWNER_MARKER, self.plugin))
        else:
            rows = self._query("SELECT User, Host FROM mysql.user WHERE plugin = %s AND "
                               "JSON_UNQUOTE(JSON_EXTRACT(User_attributes, '$.metadata.comment')) = %s",
                               (self.plugin, OWNER_MARKER))
        return [(_text(r[0]), _text(r[1])) for r in rows]

    def _mark_statements(self, acct):
        """Mark a created account as the collection's: MariaDB keeps the marker in its mysql.global_priv JSON (it
        has no account comment; FLUSH PRIVILEGES makes the server reread the table), MySQL 8 as its comment."""
        if self.flavor == "mariadb":
            return [("UPDATE mysql.global_priv SET Priv = JSON_SET(Priv, %s, %s) WHERE User = %s AND Host = %s",
                     ("$." + MARIADB_MARKER_KEY, OWNER_MARKER) + acct), ("FLUSH PRIVILEGES", None)]
        return [("ALTER USER %%s@%%s COMMENT '%s'" % OWNER_MARKER, acct)]

    def plan(self, specs, convert_existing, mark=False):
        """Read the state of every spec in a constant number of queries and plan the DDL."""
        if self.flavor is None:
            self.read_server()
        errors = []
        refused = set()
        for spec in specs:
            try:
                validate_user_name(spec.name, self.flavor)
            except IdentifierError as e:
                errors.append("%s: %s" % (spec.label(), e))
                refused.add(spec.key)
            reason = protected_reason(spec.name, "mysql", self.login_user, (self.current_user,))
            if reason:
                errors.append(reason)
                refused.add(spec.key)
        specs = [s for s in specs if s.key not in refused]
        if self.auth == "bridge" and self.flavor != "mariadb":
            errors.append("auth=bridge needs MariaDB's auth_pam plugin; MySQL %s has none (MySQL 8 Community ships no "
                          "PAM authentication)." % self.version)
            specs = []
        if not specs:
            raise refusal(errors)
        accounts = self.read_accounts([s.name for s in specs])
        existing_keys = [(s.name, s.host) for s in specs if (s.name, s.host) in accounts]
        privileges = self.read_privileges(existing_keys)
        wanted_targets = set()
        expanded = {}
        for spec in specs:
            if spec.privileges is not None:
                wanted, errs = self.expand(spec.privileges, spec.label())
                errors.extend(errs)
                expanded[spec.key] = wanted
                wanted_targets |= set(wanted)
        if wanted_targets and not errors:
            schemas, tables = self.read_objects(wanted_targets)
            for spec in specs:
                for db, table in sorted(expanded.get(spec.key, {})):
                    if db == "*":
                        continue
                    if db not in schemas:
                        errors.append("%s: database %s does not exist (privileges %s)." % (
                            spec.label(), describe(db), display_privilege_key(db, table)))
                    elif table != "*" and (db, table) not in tables:
                        errors.append("%s: table %s does not exist in database %s." % (
                            spec.label(), describe(table), describe(db)))
        plans = []
        for spec in specs:
            account = accounts.get(spec.key)
            current = privileges.get(spec.key, {})
            before = self._state(spec.name, spec.host, account, current)
            acct = (spec.name, spec.host)
            if account is not None and account.is_role:
                errors.append("%s is a role, not a user; refused." % spec.label())
                continue
            if spec.state == "absent":
                if account is None:
                    plans.append(Plan(spec, "unchanged", {}, {}))
                elif not account.uses(self.plugin, self.auth_string) and not convert_existing:
                    errors.append("%s exists with %s authentication (not an IAM user); left alone. Set "
                                  "convert_existing: true to drop it anyway." % (spec.label(), account.authentication()))
                else:
                    plans.append(Plan(spec, "dropped", before, {}, [("DROP USER %s@%s", acct)]))
                continue
            wanted = expanded.get(spec.key)
            target_privs = current if wanted is None else wanted
            after = {"name": spec.name, "host": spec.host, "authentication": self.plugin, "require_ssl": True,
                     "privileges": self._render_privs(target_privs)}
            if account is None:
                statements = [("CREATE USER %%s@%%s %s" % self.clause, acct)]
                if mark:
                    statements += self._mark_statements(acct)
                statements += [(st[0], acct) for st in self._privilege_statements({}, wanted or {})]
                plans.append(Plan(spec, "created", {}, after, statements))
                continue
            statements = []
            action = "updated"
            if not account.uses(self.plugin, self.auth_string):
                if not convert_existing:
                    errors.append(
                        "%s already exists with %s authentication (a password user); left alone. Set "
                        "convert_existing: true to switch it to IAM authentication (its password stops working)."
                        % (spec.label(), account.authentication()))
                    continue
                statements.append(("ALTER USER %%s@%%s %s" % self.clause, acct))
                action = "converted"
            elif not account.requires_tls:
                statements.append(("ALTER USER %s@%s REQUIRE SSL", acct))
            if wanted is not None:
                statements += [(st[0], acct) for st in self._privilege_statements(current, wanted)]
            else:
                after["privileges"] = before["privileges"]
            plans.append(Plan(spec, action if statements else "unchanged", before, after, statements))
        if errors:
            raise refusal(errors)
        return plans

    # -- applying -------------------------------------------------------------------------

    def render(self, sql, params):
        with self.conn.cursor() as cur:
            return cur.mogrify(sql, params)

    def queries(self, plans):
        return [self.render(sql, params) for plan in plans for sql, params in plan.statements]

    def apply(self, plans):
        """Run the DDL (each statement commits); on failure say which users were applied."""
        executed = []
        done = []
        with self.conn.cursor() as cur:
            for plan in plans:
                for position, (sql, params) in enumerate(plan.statements):
                    text = cur.mogrify(sql, params)
                    try:
                        cur.execute(sql, params)
                    except Exception as e:  # pymysql.MySQLError and socket errors
                        code = e.args[0] if getattr(e, "args", None) else None
                        detail = e.args[1] if isinstance(code, int) and len(e.args) > 1 else str(e)
                        hint = ""
                        if code == ER_PLUGIN_IS_NOT_LOADED:
                            hint = (" AWSAuthenticationPlugin is not loaded: IAM database authentication is off "
                                    "on this DB instance (turn it on with dbauth.rds_iam.rds_iam_enable) or the "
                                    "engine version does not support it.")
                        applied = [p.spec.label() for p in done if p.changed]
                        pending = [p.spec.label() for p in plans[len(done) + 1:] if p.changed]
                        message = ("%s failed for %s: (%s) %s.%s MySQL commits each statement: applied before the "
                                   "failure: %s; %s was partly applied (%d of its statements ran); not applied: %s. "
                                   "Fix the cause and re-run: the module reads the state again and converges." % (
                                       text, plan.spec.label(), code, detail, hint,
                                       ", ".join(applied) or "none", plan.spec.label(),
                                       position, ", ".join(pending) or "none"))
                        users = [p.result() for p in done]
                        failed = plan.result()
                        failed["action"] = "failed"
                        users.append(failed)
                        raise DbUserError(message, users=users, queries=executed, kind=failure_kind(e))
                    executed.append(text)
                done.append(plan)
        return executed
