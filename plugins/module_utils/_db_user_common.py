# -*- coding: utf-8 -*-

# Copyright: (c) 2026, dbauth.rds_iam developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

# Internal use only: this file is not part of the collection's public interface and may change
# without notice.

"""Engine-independent part of rds_iam_db_user: input normalisation, refusals, plans, results."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.dbauth.rds_iam.plugins.module_utils._sql_identifiers import IdentifierError
from ansible_collections.dbauth.rds_iam.plugins.module_utils._sql_identifiers import describe
from ansible_collections.dbauth.rds_iam.plugins.module_utils._sql_identifiers import parse_privilege_key
from ansible_collections.dbauth.rds_iam.plugins.module_utils._sql_identifiers import parse_privilege_list
from ansible_collections.dbauth.rds_iam.plugins.module_utils._sql_identifiers import validate_mysql_host
from ansible_collections.dbauth.rds_iam.plugins.module_utils._sql_identifiers import validate_user_name

USER_OPTION_SPEC = dict(
    name=dict(type="str", required=True),
    state=dict(type="str", choices=["present", "absent"]),
    host=dict(type="str"),
    privileges=dict(type="raw"),
    roles=dict(type="list", elements="str"),
)

# How the users log in: V(rds) is RDS/Aurora IAM database authentication (rds_iam, AWSAuthenticationPlugin);
# V(bridge) a self-managed server whose ldap (PostgreSQL) or pam (MariaDB) method asks the collection's
# dbauth-iam-bridge (roles/self_managed), which checks an STS token. Same rules for names and privileges.
AUTH_OPTION_SPEC = dict(
    auth=dict(type="str", choices=["rds", "bridge"], default="rds"),
    pam_service=dict(type="str", default="dbauth-iam-bridge"),
)
# The PAM service name is written into CREATE USER ... USING '...': letters, digits, '.', '_', '-' only.
PAM_SERVICE_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")


def check_auth(params):
    """Refuse an auth setting that cannot work, before any connection (DbUserError of kind input)."""
    service = params.get("pam_service") or ""
    if params.get("auth") == "bridge" and (not service or not set(service) <= PAM_SERVICE_CHARS or len(service) > 64):
        raise DbUserError("pam_service %s must be 1 to 64 letters, digits, '.', '_' or '-' (a file name in /etc/pam.d)."
                          % describe(service), kind="input")


ACTIONS = ("created", "converted", "updated", "dropped", "unchanged")

# Accounts of the platform (RDS, MySQL, MariaDB, PostgreSQL) that this module never touches.
PROTECTED_MYSQL_NAMES = frozenset([
    "root", "rdsadmin", "rdsrepladmin", "rds_superuser_role", "rdsproxyadmin", "rdstopmgr",
    "mysql.sys", "mysql.session", "mysql.infoschema", "mariadb.sys", "event_scheduler",
])
PROTECTED_MYSQL_PREFIXES = ("mysql.", "mariadb.", "rds_", "rdsadmin")
PROTECTED_PG_NAMES = frozenset([
    "rdsadmin", "rdsrepladmin", "rdstopmgr", "rds_superuser", "rds_iam", "rds_ad", "rds_replication",
    "rds_password", "rds_reserved", "rdsproxyadmin", "dbauth_iam", "postgres", "public", "none", "current_user",
    "session_user", "current_role", "system_user",
])
PROTECTED_PG_PREFIXES = ("pg_", "rds_", "rdsadmin")


# What marks a user this collection created (so that pruning drops only those): the comment of a PostgreSQL role
# (COMMENT ON ROLE), of a MySQL 8 account (CREATE/ALTER USER ... COMMENT, kept in mysql.user.User_attributes),
# and on MariaDB, which has no account comment, this key of the account's JSON in mysql.global_priv.
OWNER_MARKER = "dbauth.rds_iam"
MARIADB_MARKER_KEY = "dbauth_rds_iam"


class DbUserError(Exception):
    """A refusal or failure; the message is user-facing and carries no secret.

    ``kind``: ``input`` (the users list is invalid), ``refused`` (the server's state forbids the
    change, nothing was written), ``sql`` (a statement failed while applying) or ``timeout`` (the
    server did not answer in time; the message says what was applied).
    """

    def __init__(self, message, users=None, queries=None, kind="refused"):
        super(DbUserError, self).__init__(message)
        self.users = users or []
        self.queries = queries or []
        self.kind = kind


class UserSpec:
    """One wanted user after normalisation."""

    def __init__(self, name, state, host=None, privileges=None, roles=None, index=0):
        self.name = name
        self.state = state
        self.host = host
        self.privileges = privileges  # None = not managed; {(db, table): set(PRIVS)}
        self.roles = roles            # None = not managed; sorted list of role names
        self.index = index

    @property
    def key(self):
        return (self.name, self.host)

    def label(self):
        return "%s@%s" % (describe(self.name), describe(self.host)) if self.host is not None else describe(self.name)

    def __repr__(self):
        return "UserSpec(%s, %s)" % (self.label(), self.state)


def flavor_of(engine):
    """Engine option -> validation flavor before the server is known."""
    return "postgres" if engine == "postgres" else engine


def protected_reason(name, engine, login_user, current_users=()):
    """Why ``name`` must not be touched, or None."""
    if name == login_user or name in current_users:
        how = ("granting rds_iam to it would lock it out of password login" if engine == "postgres"
               else "converting it would lock the admin session out")
        return ("%s is the login user of this task; refused (%s). Manage it from another admin account."
                % (describe(name), how))
    lower = name.lower()
    if engine == "postgres":
        names, prefixes = PROTECTED_PG_NAMES, PROTECTED_PG_PREFIXES
    else:
        names, prefixes = PROTECTED_MYSQL_NAMES, PROTECTED_MYSQL_PREFIXES
    if lower in names or any(lower.startswith(p) for p in prefixes):
        return ("%s is an account or role of the platform (RDS/%s); this module never touches those."
                % (describe(name), "PostgreSQL" if engine == "postgres" else "MySQL/MariaDB"))
    return None


def parse_privileges(value, who):
    """The privileges option -> {(db, table): set(PRIVS)}; None stays None (not managed)."""
    if value is None:
        return None
    if value == "" or value == {}:
        return {}
    if not isinstance(value, dict):
        raise IdentifierError("privileges of %s must be a mapping like {'app.*': 'SELECT,INSERT'}, got %s."
                              % (who, type(value).__name__))
    out = {}
    for key, privs in value.items():
        target = parse_privilege_key(key)
        if target in out:
            raise IdentifierError("privileges of %s name %s twice." % (who, describe(key)))
        out[target] = parse_privilege_list(privs, key)
    return out


def normalize_users(params, engine, flavor=None):
    """Module params -> list of UserSpec; raises DbUserError listing every invalid entry.

    ``flavor`` is the server flavor once known (mysql, mariadb, postgres) for length limits.
    """
    flavor = flavor or flavor_of(engine)
    default_state = params.get("state") or "present"
    default_host = params.get("host")
    raw = []
    if params.get("name") is not None:
        raw.append(dict(name=params["name"], state=default_state, host=default_host,
                        privileges=params.get("privileges"), roles=params.get("roles")))
    else:
        if params.get("privileges") is not None or params.get("roles") is not None:
            raise DbUserError("privileges and roles at the top level only go with name; with users, set them "
                              "in each entry.", kind="input")
        for entry in params.get("users") or []:
            raw.append(entry)
    if not raw:
        raise DbUserError("nothing to do: give name or a non-empty users list.", kind="input")
    errors = []
    specs = []
    seen = {}
    for index, entry in enumerate(raw):
        if not isinstance(entry, dict):
            errors.append("users[%d] must be a mapping with at least name." % index)
            continue
        name = entry.get("name")
        where = "users[%d]" % index if params.get("name") is None else "name"
        try:
            validate_user_name(name, flavor)
            state = entry.get("state") or default_state
            host = None
            privileges = None
            roles = None
            if engine == "postgres":
                if entry.get("host") is not None:
                    raise IdentifierError("host only applies to MySQL/MariaDB accounts.")
                if entry.get("privileges") is not None:
                    raise IdentifierError("privileges only apply to MySQL/MariaDB; for PostgreSQL list roles "
                                          "(grant table privileges to those roles).")
                if entry.get("roles") is not None:
                    roles = []
                    for role in entry["roles"]:
                        if not isinstance(role, str):
                            raise IdentifierError("roles must be strings, got %s." % describe(role))
                        validate_user_name(role, "postgres")
                        if role == "rds_iam":
                            continue  # managed by the module itself
                        if role == name:
                            raise IdentifierError("a role cannot be a member of itself.")
                        if role not in roles:
                            roles.append(role)
                    roles.sort()
            else:
                if entry.get("roles") is not None:
                    raise IdentifierError("roles only apply to PostgreSQL; for MySQL/MariaDB use privileges.")
                host = validate_mysql_host(entry.get("host") or default_host or "%")
                privileges = parse_privileges(entry.get("privileges"), describe(name))
            if state == "absent" and (privileges or roles):
                raise IdentifierError("privileges and roles make no sense with state=absent.")
            spec = UserSpec(name, state, host, privileges, roles, index)
        except IdentifierError as e:
            errors.append("%s: %s" % (where, e))
            continue
        if spec.key in seen:
            errors.append("%s: %s is listed twice in users (first as users[%d]); each user may appear once."
                          % (where, spec.label(), seen[spec.key]))
            continue
        seen[spec.key] = index
        specs.append(spec)
    if errors:
        raise DbUserError("invalid input, nothing was changed:\n- " + "\n- ".join(errors), kind="input")
    return specs


class Plan:
    """What to do for one user: statements (sql, params) plus the result entry and diff."""

    def __init__(self, spec, action, before, after, statements=None):
        self.spec = spec
        self.action = action
        self.before = before
        self.after = after
        self.statements = statements or []

    @property
    def changed(self):
        return self.action != "unchanged"

    def result(self):
        out = {"name": self.spec.name, "host": self.spec.host, "action": self.action}
        return out

    def diff(self):
        label = self.spec.label()
        return {"before_header": label, "after_header": label, "before": self.before or {}, "after": self.after or {}}


def refusal(errors):
    """The DbUserError listing every refusal collected while planning, for every engine."""
    return DbUserError("refused, nothing was changed:\n- " + "\n- ".join(errors))
