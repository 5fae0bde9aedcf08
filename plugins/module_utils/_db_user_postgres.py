# -*- coding: utf-8 -*-

# Copyright: (c) 2026, dbauth.rds_iam developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

# Internal use only: this file is not part of the collection's public interface and may change
# without notice.

"""IAM database users on PostgreSQL (RDS and Aurora): members of ``rds_iam`` that can LOGIN.

With ``auth=bridge`` (a self-managed server, roles/self_managed) the group is ``dbauth_iam`` instead, which
``pg_hba.conf`` sends to the ``ldap`` method at the bridge; the module creates that group (NOLOGIN, marked as the
collection's) when it is missing.

Everything happens in one transaction: the state of all listed roles (with their direct and
transitive memberships) is read in one query, the DDL runs only for what differs, and a failure
rolls every statement back.  Role names are quoted by _sql_identifiers.pg_quote_ident.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.dbauth.rds_iam.plugins.module_utils._db_connection import failure_kind
from ansible_collections.dbauth.rds_iam.plugins.module_utils._db_user_common import OWNER_MARKER
from ansible_collections.dbauth.rds_iam.plugins.module_utils._db_user_common import DbUserError
from ansible_collections.dbauth.rds_iam.plugins.module_utils._db_user_common import Plan
from ansible_collections.dbauth.rds_iam.plugins.module_utils._db_user_common import protected_reason
from ansible_collections.dbauth.rds_iam.plugins.module_utils._db_user_common import refusal
from ansible_collections.dbauth.rds_iam.plugins.module_utils._sql_identifiers import describe
from ansible_collections.dbauth.rds_iam.plugins.module_utils._sql_identifiers import pg_quote_ident

IAM_ROLE = "rds_iam"
BRIDGE_ROLE = "dbauth_iam"
AD_ROLE = "rds_ad"

# One round trip for any number of users. Memberships are aggregated per role with GROUP BY
# (not a sub-select per row), so the cost grows linearly with the number of users.
ROLES_QUERY = """
WITH RECURSIVE wanted AS (
    SELECT r.oid FROM pg_catalog.pg_roles r WHERE r.rolname = ANY(%s)
), up(start, oid) AS (
    SELECT oid, oid FROM wanted
  UNION
    SELECT up.start, m.roleid FROM up JOIN pg_catalog.pg_auth_members m ON m.member = up.oid
), ancestors AS (
    SELECT up.start, array_agg(g.rolname ORDER BY g.rolname) AS names
    FROM up JOIN pg_catalog.pg_roles g ON g.oid = up.oid
    WHERE up.oid <> up.start GROUP BY up.start
), direct AS (
    SELECT m.member, array_agg(g.rolname ORDER BY g.rolname) AS names
    FROM pg_catalog.pg_auth_members m JOIN pg_catalog.pg_roles g ON g.oid = m.roleid
    WHERE m.member IN (SELECT oid FROM wanted) GROUP BY m.member
)
SELECT r.rolname, r.rolcanlogin, r.rolsuper,
       COALESCE(direct.names, '{}'::name[]), COALESCE(ancestors.names, '{}'::name[])
FROM wanted JOIN pg_catalog.pg_roles r ON r.oid = wanted.oid
LEFT JOIN direct ON direct.member = r.oid
LEFT JOIN ancestors ON ancestors.start = r.oid
""".strip()


# The IAM users this collection created (direct members of the IAM group, rds_iam or dbauth_iam, carrying the marker
# comment), in one query.
MARKED_QUERY = """
SELECT r.rolname FROM pg_catalog.pg_roles r
JOIN pg_catalog.pg_auth_members m ON m.member = r.oid
JOIN pg_catalog.pg_roles g ON g.oid = m.roleid AND g.rolname = %s
WHERE pg_catalog.shobj_description(r.oid, 'pg_authid') = %s
ORDER BY r.rolname
""".strip()


class Role:
    def __init__(self, name, can_login, superuser, direct, ancestors, iam_role=IAM_ROLE):
        self.iam_role = iam_role
        self.name = name
        self.can_login = bool(can_login)
        self.superuser = bool(superuser)
        self.direct = sorted(direct or [])
        self.ancestors = set(ancestors or [])

    @property
    def is_iam(self):
        return self.iam_role in self.direct

    def state(self):
        return {"name": self.name, "login": self.can_login, "iam": self.is_iam,
                "roles": [r for r in self.direct if r != self.iam_role]}


class PostgresUsers:
    """Plans and applies IAM users on one psycopg2 connection (one transaction)."""

    def __init__(self, conn, login_user, auth="rds"):
        self.iam_role = BRIDGE_ROLE if auth == "bridge" else IAM_ROLE
        self.conn = conn
        self.login_user = login_user
        self.current_users = ()
        self.version = None
        self.read_queries = 0
        self.flavor = "postgres"

    def _query(self, sql, params=None):
        self.read_queries += 1
        with self.conn.cursor() as cur:
            cur.execute(sql, params)
            return list(cur.fetchall())

    def read_server(self):
        current, session, self.version = self._query("SELECT current_user, session_user, current_setting('server_version')")[0]
        self.current_users = (current, session)
        return self.flavor

    def read_roles(self, names):
        names = sorted(set(names))
        rows = self._query(ROLES_QUERY, (names,))
        return dict((r[0], Role(*r, iam_role=self.iam_role)) for r in rows)

    def marked_users(self):
        """(name, None) of every IAM user that carries the collection's marker."""
        return [(row[0], None) for row in self._query(MARKED_QUERY, (self.iam_role, OWNER_MARKER))]

    def plan(self, specs, convert_existing, mark=False):
        if not self.current_users:
            self.read_server()
        errors = []
        for spec in specs:
            reason = protected_reason(spec.name, "postgres", self.login_user, self.current_users)
            if reason:
                errors.append(reason)
        specs = [s for s in specs if not protected_reason(s.name, "postgres", self.login_user, self.current_users)]
        if not specs:
            raise refusal(errors)
        wanted_roles = set()
        for spec in specs:
            wanted_roles |= set(spec.roles or [])
        roles = self.read_roles([s.name for s in specs] + sorted(wanted_roles) + [self.iam_role, AD_ROLE])
        create_group = self.iam_role == BRIDGE_ROLE and BRIDGE_ROLE not in roles
        if self.iam_role == IAM_ROLE and IAM_ROLE not in roles and any(s.state == "present" for s in specs):
            raise DbUserError("the role rds_iam does not exist on this server: IAM database authentication is "
                              "only available on Amazon RDS / Aurora PostgreSQL (nothing was changed).")
        plans = []
        for spec in specs:
            role = roles.get(spec.name)
            q = pg_quote_ident(spec.name)
            before = role.state() if role else {}
            if role is not None and role.superuser:
                errors.append("%s is a superuser; refused." % spec.label())
                continue
            if role is not None and AD_ROLE in role.ancestors | set(role.direct):
                errors.append("%s is a member of rds_ad (Kerberos/Active Directory authentication); a role must "
                              "not be in both %s and rds_ad. Refused." % (spec.label(), self.iam_role))
                continue
            if spec.state == "absent":
                if role is None:
                    plans.append(Plan(spec, "unchanged", {}, {}))
                elif not role.is_iam and not convert_existing:
                    errors.append("%s exists and is not an IAM user (not a member of %s); left alone. Set "
                                  "convert_existing: true to drop it anyway." % (spec.label(), self.iam_role))
                else:
                    plans.append(Plan(spec, "dropped", before, {}, ["DROP ROLE %s" % q]))
                continue
            spec_errors = []
            for wanted in spec.roles or []:
                other = roles.get(wanted)
                if other is None:
                    spec_errors.append("%s: role %s does not exist (roles)." % (spec.label(), describe(wanted)))
                elif wanted == AD_ROLE or AD_ROLE in other.ancestors:
                    spec_errors.append("%s: role %s is or belongs to rds_ad; a role must not be in both %s and "
                                       "rds_ad. Refused." % (spec.label(), describe(wanted), self.iam_role))
                elif spec.name in other.ancestors:
                    spec_errors.append("%s: role %s is itself a member of %s; granting it would make a cycle."
                                       % (spec.label(), describe(wanted), describe(spec.name)))
            if spec_errors:
                errors.extend(spec_errors)
                continue
            current_roles = [r for r in role.direct if r != self.iam_role] if role else []
            target_roles = current_roles if spec.roles is None else list(spec.roles)
            after = {"name": spec.name, "login": True, "iam": True, "roles": sorted(target_roles)}
            statements = []
            if role is None:
                statements.append("CREATE ROLE %s LOGIN" % q)
                statements.append("GRANT %s TO %s" % (pg_quote_ident(self.iam_role), q))
                if mark:
                    statements.append("COMMENT ON ROLE %s IS '%s'" % (q, OWNER_MARKER))
                action = "created"
            else:
                action = "updated"
                if not role.is_iam:
                    if not convert_existing:
                        errors.append("%s already exists and is not an IAM user (not a member of %s, it may log "
                                      "in with a password); left alone. Set convert_existing: true to switch it to "
                                      "IAM authentication (its password stops working)." % (spec.label(), self.iam_role))
                        continue
                    action = "converted"
                if not role.can_login:
                    statements.append("ALTER ROLE %s LOGIN" % q)
                if not role.is_iam:
                    statements.append("GRANT %s TO %s" % (pg_quote_ident(self.iam_role), q))
            grant = sorted(set(target_roles) - set(current_roles))
            revoke = sorted(set(current_roles) - set(target_roles))
            if grant:
                statements.append("GRANT %s TO %s" % (", ".join(pg_quote_ident(r) for r in grant), q))
            if revoke:
                statements.append("REVOKE %s FROM %s" % (", ".join(pg_quote_ident(r) for r in revoke), q))
            plans.append(Plan(spec, action if statements else "unchanged", before, after,
                              [(s, None) for s in statements]))
        if errors:
            raise refusal(errors)
        first = next((p for p in plans if p.changed and p.spec.state == "present"), None)
        if create_group and first is not None:
            # the group pg_hba.conf names: created with the first user that needs it, in the same transaction
            group = pg_quote_ident(BRIDGE_ROLE)
            first.statements[:0] = ["CREATE ROLE %s NOLOGIN" % group, "COMMENT ON ROLE %s IS '%s'" % (group, OWNER_MARKER)]
        for plan in plans:
            plan.statements = [s if isinstance(s, tuple) else (s, None) for s in plan.statements]
        return plans

    def queries(self, plans):
        return [st[0] for plan in plans for st in plan.statements]

    def apply(self, plans):
        """Run every statement in the open transaction and commit; all or nothing."""
        executed = []
        with self.conn.cursor() as cur:
            for plan in plans:
                for sql, dummy in plan.statements:
                    try:
                        cur.execute(sql)
                    except Exception as e:  # psycopg2.Error
                        try:
                            self.conn.rollback()
                        # A server that is gone rolls back by itself; the failure above is what to report.
                        except Exception:  # pylint: disable=broad-except
                            pass
                        detail = str(e).strip()
                        hint = ""
                        if "cannot be dropped because some objects depend on it" in detail:
                            hint = (" The role owns objects or holds privileges: move them first (REASSIGN OWNED BY "
                                    "... TO ...; DROP OWNED BY ...) in each database.")
                        raise DbUserError(
                            "%s failed for %s: %s.%s PostgreSQL ran everything in one transaction, which was rolled "
                            "back: no user was changed." % (sql, plan.spec.label(), detail, hint),
                            users=[], queries=[], kind=failure_kind(e))
                    executed.append(sql)
        try:
            self.conn.commit()
        except Exception as e:  # psycopg2.Error: the server did not confirm the transaction
            raise DbUserError(
                "COMMIT of %d statements for %s failed: %s. Whether PostgreSQL applied them is unknown: re-run, the "
                "module reads the state again and converges." % (
                    len(executed), ", ".join(p.spec.label() for p in plans if p.changed), str(e).strip()),
                users=[], queries=executed, kind=failure_kind(e))
        return executed
