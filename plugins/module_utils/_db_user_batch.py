# -*- coding: utf-8 -*-

# Copyright: (c) 2026, dbauth.rds_iam developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

# Internal use only: this file is not part of the collection's public interface and may change
# without notice.

"""rds_iam_db_user with ``databases``: many databases in one module invocation.

Each entry is the single mode's work (_db_user_runner.run) on its own connection, with the login
options of the entry falling back to the top-level options of the same name. Entries run in a
bounded thread pool; one entry's failure (unreachable, refused login, missing CA file, invalid
users, a failing statement) becomes that entry's result and never hides the others.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.dbauth.rds_iam.plugins.module_utils._batch import LockedSigner
from ansible_collections.dbauth.rds_iam.plugins.module_utils._batch import optional_spec
from ansible_collections.dbauth.rds_iam.plugins.module_utils._batch import run_bounded
from ansible_collections.dbauth.rds_iam.plugins.module_utils._db_connection import LOGIN_ARGUMENT_SPEC
from ansible_collections.dbauth.rds_iam.plugins.module_utils._db_connection import DbConnectionError
from ansible_collections.dbauth.rds_iam.plugins.module_utils._db_connection import driver_missing
from ansible_collections.dbauth.rds_iam.plugins.module_utils._db_connection import scrub
from ansible_collections.dbauth.rds_iam.plugins.module_utils._db_user_common import AUTH_OPTION_SPEC
from ansible_collections.dbauth.rds_iam.plugins.module_utils._db_user_common import USER_OPTION_SPEC
from ansible_collections.dbauth.rds_iam.plugins.module_utils._db_user_common import DbUserError
from ansible_collections.dbauth.rds_iam.plugins.module_utils._db_user_runner import run

LOGIN_OPTION_NAMES = tuple(LOGIN_ARGUMENT_SPEC)
# Needed to log in, in single mode at the top level, in multi-database mode in each entry or at the top level.
REQUIRED_LOGIN_OPTIONS = tuple(n for n in LOGIN_OPTION_NAMES if LOGIN_ARGUMENT_SPEC[n].get("required"))
# The password and the IAM switch are inherited together: an entry that sets either one sets both.
AUTH_OPTION_NAMES = ("login_password", "login_iam")


# The top-level login options: not required by the argument spec, so that ``databases`` can carry them.
TOP_LOGIN_ARGUMENT_SPEC = dict((n, optional_spec(s) if n in REQUIRED_LOGIN_OPTIONS else s)
                               for n, s in LOGIN_ARGUMENT_SPEC.items())

DATABASE_OPTION_SPEC = dict(
    name=dict(type="str", required=True),
    users=dict(type="list", elements="dict", options=USER_OPTION_SPEC, required=True),
)
DATABASE_OPTION_SPEC.update((n, optional_spec(s)) for n, s in LOGIN_ARGUMENT_SPEC.items())
DATABASE_OPTION_SPEC.update((n, optional_spec(s)) for n, s in AUTH_OPTION_SPEC.items())


class BatchInputError(Exception):
    """The databases list cannot be run; nothing was tried."""


def missing_single_mode_options(params):
    """Login options that single mode (name/users) needs and that are not set."""
    return [n for n in REQUIRED_LOGIN_OPTIONS if params.get(n) in (None, "")]


def database_params(params, entry):
    """The single mode's params for one ``databases`` entry: its own login options, else the top level's."""
    merged = dict((k, v) for k, v in params.items() if k not in ("databases", "concurrency"))
    own_auth = any(entry.get(n) is not None for n in AUTH_OPTION_NAMES)
    for name in LOGIN_OPTION_NAMES + tuple(AUTH_OPTION_SPEC):
        if name in AUTH_OPTION_NAMES and own_auth:
            merged[name] = entry.get(name)
        elif entry.get(name) is not None:
            merged[name] = entry[name]
    merged.update(name=None, users=entry.get("users"), privileges=None, roles=None)
    return merged


def validate_databases(params):
    """Raise BatchInputError naming every entry and option that cannot work."""
    errors = []
    seen = {}
    for index, entry in enumerate(params.get("databases") or []):
        name = entry.get("name")
        where = "databases[%d]" % index
        if not name or not str(name).strip():
            errors.append("%s: name is required (a label such as the RDS identifier)." % where)
            continue
        where = "%s (%s)" % (where, name)
        if name in seen:
            errors.append("%s: the name is already used by databases[%d]; each name may appear once."
                          % (where, seen[name]))
        seen.setdefault(name, index)
        merged = database_params(params, entry)
        for option in missing_single_mode_options(merged):
            errors.append("%s: %s is required: set it in the entry or at the top level." % (where, option))
    if not seen and not errors:
        errors.append("databases is empty: give at least one entry.")
    if errors:
        raise BatchInputError("invalid databases, nothing was tried:\n- " + "\n- ".join(errors))


def _prefixed_diff(name, diff):
    out = dict(diff)
    out["before_header"] = "%s: %s" % (name, diff.get("before_header"))
    out["after_header"] = "%s: %s" % (name, diff.get("after_header"))
    return out


def _failure(result, message, kind, users=None, queries=None):
    users = users or []
    result.update(
        failed=True, msg=message, kind=kind, users=users, queries=queries or [],
        # MySQL/MariaDB commit each statement: users applied before a failing one did change.
        changed=any(u.get("action") not in ("unchanged", "failed") for u in users),
    )
    return result


def run_databases(params, check_mode, region=None, signer=None, on_secret=None, connector=None):
    """Run every ``databases`` entry; returns (results in input order, diffs, failed results).

    Raises BatchInputError when the list itself is invalid (before any connection).
    """
    validate_databases(params)
    entries = params["databases"]
    shared_signer = LockedSigner(signer) if signer is not None else None

    def one(index, entry):
        merged = database_params(params, entry)
        result = {"name": entry["name"], "changed": False, "users": [], "queries": []}
        secrets = []

        def keep_secret(secret):
            secrets.append(secret)
            if on_secret:
                on_secret(secret)

        missing = driver_missing(merged["engine"])
        if missing:
            return _failure(result, "the %s Python library is required for engine %s: %s"
                            % (missing[0], merged["engine"], missing[1]), "driver")
        try:
            done = run(merged, check_mode, region=region, signer=shared_signer, on_secret=keep_secret,
                       connector=connector)
        except DbConnectionError as e:
            return _failure(result, scrub(e, secrets), e.kind)
        except DbUserError as e:
            return _failure(result, scrub(e, secrets), e.kind, e.users, e.queries)
        except Exception as e:  # a driver error while reading or writing: this entry only, never with a secret
            return _failure(result, scrub("%s: %s" % (type(e).__name__, e), secrets), "sql")
        result.update(changed=done["changed"], users=done["users"], queries=done["queries"], server=done["server"],
                      pruned=done["pruned"],
                      diff=[_prefixed_diff(entry["name"], d) for d in done["diff"]])
        return result

    results = run_bounded(one, entries, params.get("concurrency") or 1)
    diffs = []
    for result in results:
        diffs.extend(result.pop("diff", []))
    return results, diffs, [r for r in results if r.get("failed")]


def failure_message(failed, total):
    """The module's msg when some entries failed: each one named with its kind and message."""
    return "%d of %d databases failed:\n- %s" % (len(failed), total, "\n- ".join(
        "%s (%s): %s" % (r["name"], r["kind"], r["msg"]) for r in failed))
