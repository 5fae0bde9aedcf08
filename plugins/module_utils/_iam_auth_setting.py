# -*- coding: utf-8 -*-

# Copyright: Contributors to the dbauth.rds_iam collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

# Internal use only: this file is not part of the collection's public interface and may change
# without notice.

"""Turn IAM database authentication on or off for one RDS DB instance or DB cluster.

Shared logic of the rds_iam_enable module. Every AWS call goes through a client
wrapped in amazon.aws's C(RetryingBotoClientWrapper) and is made with
C(aws_retry=True), so throttling is retried with jittered backoff.

Call budget: a no-op is exactly one describe call; a change is describe, modify
and, when waiting, the describe calls of the wait loop (plus, when PostgreSQL IAM
authentication is being turned on, the read of C(rds.force_ssl)).

Errors are raised as L(IamAuthError); their messages carry identifiers, engines,
statuses and AWS error messages, never credentials.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import threading
import time

from concurrent.futures import ThreadPoolExecutor

try:
    from botocore.exceptions import BotoCoreError
    from botocore.exceptions import ClientError
except ImportError:
    pass  # handled by AnsibleAWSModule

from ansible.module_utils.common.text.converters import to_native

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code

from ansible_collections.dbauth.rds_iam.plugins.module_utils import _rds_databases

# Engines whose DB instances/clusters support IAM database authentication.
# aurora is the legacy name of Aurora MySQL 1 (5.6); mysql and postgres also
# name Multi-AZ DB clusters.
SUPPORTED_ENGINES = ("mysql", "mariadb", "postgres", "aurora-mysql", "aurora-postgresql", "aurora")
POSTGRES_ENGINES = ("postgres", "aurora-postgresql")

# A change is refused up front in these states: AWS would refuse it or it would
# be lost. Other states are left to AWS to judge.
STOPPED_STATUSES = ("stopped", "stopping")
DELETING_STATUSES = ("deleting", "delete-precheck")
BROKEN_STATUSES = (
    "failed",
    "inaccessible-encryption-credentials",
    "inaccessible-encryption-credentials-recoverable",
    "incompatible-network",
    "incompatible-option-group",
    "incompatible-parameters",
    "incompatible-restore",
    "insufficient-capacity",
    "restore-error",
    "storage-full",
)

INSTANCE_NOT_FOUND_CODES = ("DBInstanceNotFound", "DBInstanceNotFoundFault")
CLUSTER_NOT_FOUND_CODES = ("DBClusterNotFoundFault", "DBClusterNotFound")

# Seconds slept before each describe call of the wait loop. RDS needs seconds
# to minutes to apply an IAM change; polling sooner only adds API calls.
POLL_DELAYS = (5, 10, 15, 20)
POLL_DELAY_MAX = 30

# rds.force_ssl lookup: pages read at most when the value is not user-set.
FORCE_SSL_MAX_PAGES = 10


class IamAuthError(Exception):
    """A failure to report to the user.

    message: what went wrong, safe to show.
    exception: the botocore exception behind it, if any (its AWS message is shown).
    changed: whether AWS was modified before the failure.
    result: what is known of the instance/cluster (same keys as a success).
    kind: C(config) for options that cannot work (nothing was asked of AWS), C(aws) otherwise.
    """

    def __init__(self, message, exception=None, changed=False, result=None, kind="aws"):
        super(IamAuthError, self).__init__(message)
        self.kind = kind
        self.message = message
        self.exception = exception
        self.changed = changed
        self.result = result or {}


class Target:
    """What the module acts on: a DB instance or a DB cluster, by identifier."""

    def __init__(self, kind, identifier):
        if kind not in ("instance", "cluster"):
            raise ValueError("kind must be instance or cluster")
        self.kind = kind
        self.identifier = identifier

    @classmethod
    def from_params(cls, params, where=""):
        """The target of the identifier option that is set; an empty or blank one is refused (IamAuthError):
        RDS would read it as no filter at all and answer with every database."""
        kind = "cluster" if params.get("db_cluster_identifier") is not None else "instance"
        option = "db_%s_identifier" % kind
        identifier = params.get(option)
        if identifier is None or not identifier.strip():
            raise IamAuthError("%s%s %r is empty: give the identifier of the DB %s (as in the RDS console)."
                               % (where, option, identifier or "", kind), kind="config")
        return cls(kind, identifier)

    @property
    def label(self):
        return "DB %s '%s'" % (self.kind, self.identifier)

    @property
    def option(self):
        return "db_%s_identifier" % self.kind


def _aws_error_code(exc):
    try:
        return exc.response["Error"]["Code"]
    except (AttributeError, KeyError, TypeError):
        return None


def describe(client, target):
    """Return the describe_db_instances / describe_db_clusters record, or None if absent."""
    try:
        if target.kind == "instance":
            response = client.describe_db_instances(DBInstanceIdentifier=target.identifier, aws_retry=True)
            items = response.get("DBInstances", [])
        else:
            response = client.describe_db_clusters(DBClusterIdentifier=target.identifier, aws_retry=True)
            items = response.get("DBClusters", [])
        record = items[0] if items else None
        key = "DBInstanceIdentifier" if target.kind == "instance" else "DBClusterIdentifier"
        if record is not None and record.get(key, "").lower() != target.identifier.lower():
            # RDS identifiers are case-insensitive (stored in lower case); any other answer is not ours to change.
            raise IamAuthError("asked for %s, AWS answered for '%s'; nothing was changed." % (target.label, record.get(key)))
    except is_boto3_error_code(list(INSTANCE_NOT_FOUND_CODES if target.kind == "instance" else CLUSTER_NOT_FOUND_CODES)):
        return None
    except (ClientError, BotoCoreError) as e:  # pylint: disable=duplicate-except
        raise IamAuthError("Failed to describe %s" % target.label, exception=e)
    return record


def status_of(target, record):
    return _rds_databases.status_of(target.kind, record)


def pending_value(record):
    """The IAM setting waiting in PendingModifiedValues, or None."""
    pending = record.get("PendingModifiedValues") or {}
    value = pending.get("IAMDatabaseAuthenticationEnabled")
    return None if value is None else bool(value)


def summarize(target, record, region=None):
    """The module's return values for one describe record."""
    result = _rds_databases.summary(target.kind, record, region)
    del result[target.option]
    result["pending"] = pending_value(record) is not None
    result[target.option] = target.identifier
    return result


def _settled(target, record, desired):
    return (
        status_of(target, record) == "available"
        and bool(record.get("IAMDatabaseAuthenticationEnabled")) == desired
        and pending_value(record) is None
    )


def _preflight(target, record):
    """Refuse what IAM auth cannot apply to, whatever the desired state."""
    engine = record.get("Engine") or "unknown"
    if engine not in SUPPORTED_ENGINES:
        raise IamAuthError(
            "%s runs engine '%s', which does not support IAM database authentication; "
            "supported engines: %s" % (target.label, engine, ", ".join(SUPPORTED_ENGINES))
        )
    cluster = record.get("DBClusterIdentifier") if target.kind == "instance" else None
    if cluster:
        kind = "Aurora DB cluster" if engine.startswith("aurora") else "DB cluster"
        raise IamAuthError(
            "%s is a member of %s '%s': IAM database authentication and its resource id belong to "
            "the cluster; use db_cluster_identifier: %s instead of db_instance_identifier"
            % (target.label, kind, cluster, cluster)
        )


def _check_modifiable(target, record):
    status = status_of(target, record)
    if status in STOPPED_STATUSES:
        raise IamAuthError(
            "%s is %s: it must be running (available) to change IAM database authentication; start it "
            "first" % (target.label, status)
        )
    if status in DELETING_STATUSES:
        raise IamAuthError("%s is being deleted (status %s): nothing was changed" % (target.label, status))
    if status in BROKEN_STATUSES:
        raise IamAuthError(
            "%s is in status %s, in which IAM database authentication cannot be changed" % (target.label, status)
        )


def _modify(client, target, desired, apply_immediately):
    kwargs = dict(EnableIAMDatabaseAuthentication=desired, ApplyImmediately=apply_immediately, aws_retry=True)
    try:
        if target.kind == "instance":
            return client.modify_db_instance(DBInstanceIdentifier=target.identifier, **kwargs)["DBInstance"]
        return client.modify_db_cluster(DBClusterIdentifier=target.identifier, **kwargs)["DBCluster"]
    except (ClientError, BotoCoreError) as e:
        raise IamAuthError(
            "Failed to %s IAM database authentication on %s" % ("enable" if desired else "disable", target.label),
            exception=e,
        )


def wait_settled(client, target, desired, timeout, sleep=None, clock=None):
    """Describe until the target is available with the setting in effect.

    Sleeps before each describe (POLL_DELAYS): RDS takes seconds to minutes to
    apply the change, so an earlier look only costs a call. The last describe is
    made at the deadline, so O(wait_timeout=0) describes once at once.
    """
    sleep = sleep or time.sleep
    clock = clock or time.monotonic
    deadline = clock() + timeout
    attempt = 0
    while True:
        remaining = deadline - clock()
        if remaining > 0:
            delay = POLL_DELAYS[attempt] if attempt < len(POLL_DELAYS) else POLL_DELAY_MAX
            sleep(min(delay, remaining))
        attempt += 1
        record = describe(client, target)
        if record is None:
            raise IamAuthError("%s disappeared while waiting for it" % target.label, changed=True)
        if _settled(target, record, desired):
            return record
        status = status_of(target, record)
        if status in DELETING_STATUSES + STOPPED_STATUSES + BROKEN_STATUSES:
            raise IamAuthError(
                "%s went to status %s while waiting for IAM database authentication to be %s"
                % (target.label, status, "enabled" if desired else "disabled"),
                changed=True,
                result=summarize(target, record),
            )
        if clock() >= deadline:
            summary = summarize(target, record)
            raise IamAuthError(
                "Timed out after %ss waiting for %s to be available with IAM database authentication %s; "
                "last status: %s, iam_database_authentication_enabled: %s, pending: %s. The change was "
                "requested and AWS may still apply it; run again with a longer wait_timeout to wait for it"
                % (
                    timeout,
                    target.label,
                    "enabled" if desired else "disabled",
                    status,
                    str(summary["iam_database_authentication_enabled"]).lower(),
                    str(summary["pending"]).lower(),
                ),
                changed=True,
                result=summary,
            )


def _parameter_value(pages):
    for parameters in pages:
        for parameter in parameters:
            if parameter.get("ParameterName") == "rds.force_ssl":
                return True, parameter.get("ParameterValue")
    return False, None


def _parameter_pages(client, target, group, source=None, max_pages=FORCE_SSL_MAX_PAGES):
    marker = None
    for dummy in range(max_pages):
        kwargs = dict(aws_retry=True)
        if source:
            kwargs["Source"] = source
        if marker:
            kwargs["Marker"] = marker
        if target.kind == "instance":
            response = client.describe_db_parameters(DBParameterGroupName=group, **kwargs)
        else:
            response = client.describe_db_cluster_parameters(DBClusterParameterGroupName=group, **kwargs)
        yield response.get("Parameters", [])
        marker = response.get("Marker")
        if not marker:
            return


def force_ssl_warning(client, target, record):
    """A warning (str) when a PostgreSQL target does not enforce SSL, else None.

    Reads the parameter group: the user-set values first (one call, the usual
    case), then all values. Any failure to read gives a softer warning instead
    of an error.
    """
    if record.get("Engine") not in POSTGRES_ENGINES:
        return None
    if target.kind == "instance":
        groups = record.get("DBParameterGroups") or []
        group = groups[0].get("DBParameterGroupName") if groups else None
        where = "DB parameter group"
    else:
        group = record.get("DBClusterParameterGroup")
        where = "DB cluster parameter group"
    advice = (
        "IAM database authentication on PostgreSQL requires SSL connections: set rds.force_ssl=1 in the %s "
        "of %s" % (where, target.label)
    )
    if not group:
        return "%s has no %s to read rds.force_ssl from. %s" % (target.label, where, advice)
    try:
        found, value = _parameter_value(_parameter_pages(client, target, group, source="user"))
        if not found:
            found, value = _parameter_value(_parameter_pages(client, target, group))
    except (ClientError, BotoCoreError) as e:
        return "Could not read rds.force_ssl from %s '%s' (%s). %s" % (where, group, _short_error(e), advice)
    if not found or value is None:
        return "Could not find rds.force_ssl in %s '%s'. %s" % (where, group, advice)
    if str(value).strip() != "1":
        return "rds.force_ssl is %s in %s '%s': SSL is not enforced. %s" % (value, where, group, advice)
    return None


def _short_error(exc):
    code = _aws_error_code(exc)
    if code:
        try:
            return "%s: %s" % (code, exc.response["Error"].get("Message", ""))
        except (AttributeError, KeyError, TypeError):
            return code
    return str(exc)


def _account_for_message(account_lookup):
    if account_lookup is None:
        return "unknown"
    try:
        return account_lookup() or "unknown"
    except (ClientError, BotoCoreError) as e:
        return "unknown (STS GetCallerIdentity failed: %s)" % _short_error(e)


def _region(client):
    return getattr(getattr(client, "meta", None), "region_name", None)


def not_found_error(target, region, account_lookup):
    return IamAuthError(
        "%s not found in region %s of account %s" % (target.label, region, _account_for_message(account_lookup))
    )


def ensure_state(
    client,
    params,
    check_mode,
    desired,
    account_lookup=None,
    sleep=None,
    clock=None,
    record=None,
):
    """Bring IAM database authentication of one instance/cluster to C(desired).

    params: module parameters (db_instance_identifier | db_cluster_identifier,
    apply_immediately, wait, wait_timeout).
    account_lookup: called only when the target does not exist, to name the
    account in the message.
    record: the describe record when the caller has read it already (batch mode).
    Returns (changed, result, diff, warnings).
    """
    target = Target.from_params(params)
    region = _region(client)
    apply_immediately = params.get("apply_immediately", True)
    warnings = []

    if record is None:
        record = describe(client, target)
    if record is None:
        raise not_found_error(target, region, account_lookup)
    _preflight(target, record)

    current = bool(record.get("IAMDatabaseAuthenticationEnabled"))
    pending = pending_value(record)
    before = {"iam_database_authentication_enabled": current}
    if pending is not None:
        before["pending"] = pending
    after = {"iam_database_authentication_enabled": desired if apply_immediately else current}
    if not apply_immediately and current != desired:
        after["pending"] = desired

    if current == desired and pending is None:
        needs_change = False
    elif current != desired and pending == desired and not apply_immediately:
        needs_change = False  # already queued for the maintenance window
    else:
        needs_change = True

    status = status_of(target, record)
    if status == "modifying" and apply_immediately and (not needs_change or pending == desired):
        # The change is already under way (an earlier run that timed out, or
        # another tool): wait for it rather than asking again.
        needs_change = False
        if params.get("wait", True) and not check_mode:
            try:
                record = wait_settled(
                    client, target, desired, params.get("wait_timeout", 900), sleep=sleep, clock=clock
                )
            except IamAuthError as e:
                e.changed = False  # this run requested nothing
                raise
            after = {"iam_database_authentication_enabled": desired}
            return False, summarize(target, record, region), {"before": before, "after": after}, warnings

    if not needs_change:
        return False, summarize(target, record, region), {"before": before, "after": dict(before)}, warnings

    _check_modifiable(target, record)
    if desired:
        warning = force_ssl_warning(client, target, record)
        if warning:
            warnings.append(warning)
    diff = {"before": before, "after": after}

    if check_mode:
        result = summarize(target, record, region)
        result["iam_database_authentication_enabled"] = after["iam_database_authentication_enabled"]
        result["pending"] = "pending" in after
        return True, result, diff, warnings

    modified = _modify(client, target, desired, apply_immediately)
    if not apply_immediately or not params.get("wait", True):
        # A deferred change has nothing to wait for until the maintenance window.
        return True, summarize(target, modified, region), diff, warnings
    try:
        settled = wait_settled(
            client, target, desired, params.get("wait_timeout", 900), sleep=sleep, clock=clock
        )
    except IamAuthError as e:
        e.changed = True
        e.result = e.result or summarize(target, modified, region)
        raise
    return True, summarize(target, settled, region), diff, warnings


def ensure_enabled(client, params, check_mode, **kwargs):
    return ensure_state(client, params, check_mode, True, **kwargs)


def ensure_disabled(client, params, check_mode, **kwargs):
    return ensure_state(client, params, check_mode, False, **kwargs)


# Batch mode (rds_iam_enable's databases option).


def error_message(error):
    """The message of an IamAuthError as the single mode fails with it (AWS's message appended,
    as amazon.aws's fail_json_aws does)."""
    if error.exception is None:
        return error.message
    return "%s: %s" % (error.message, to_native(getattr(error.exception, "message", error.exception)))


def batch_targets(entries):
    """The Targets of O(databases), in order; refuses (IamAuthError naming the entry) an entry
    without exactly one identifier and an identifier given twice, before any AWS call."""
    targets = []
    seen = {}
    for index, entry in enumerate(entries):
        where = "databases[%d]" % index
        given = [key for key in ("db_instance_identifier", "db_cluster_identifier") if (entry or {}).get(key) is not None]
        if len(given) != 1:
            raise IamAuthError(
                "%s: give exactly one of db_instance_identifier and db_cluster_identifier, %s"
                % (where, "got both" if given else "got neither"), kind="config"
            )
        target = Target.from_params(entry, where="%s: " % where)
        key = (target.kind, target.identifier.lower())
        if key in seen:
            raise IamAuthError(
                "%s: %s '%s' is given twice (first in databases[%d]); give each database once"
                % (where, target.option, target.identifier, seen[key]), kind="config"
            )
        seen[key] = index
        targets.append(target)
    return targets


class _Once:
    """Calls fn at most once, from any thread, and keeps its answer (or its exception)."""

    def __init__(self, fn):
        self.fn = fn
        self.lock = threading.Lock()
        self.done = False
        self.value = None
        self.error = None

    def __call__(self):
        with self.lock:
            if not self.done:
                self.done = True
                try:
                    self.value = self.fn()
                except (ClientError, BotoCoreError) as e:
                    self.error = e
        if self.error is not None:
            raise self.error
        return self.value


def ensure_state_many(client, params, check_mode, desired, account_lookup=None, sleep=None, clock=None, retry=None):
    """Bring IAM database authentication of every entry of O(databases) to C(desired).

    The databases are described with one paginated call per kind (instances, clusters), whatever
    their number; then each one that needs a change is modified and waited for by a pool of
    O(concurrency) threads, each with its own O(wait_timeout). A failing entry fails alone.

    Returns (changed, results, diff, warnings, failed): results in the order of O(databases), each
    with its identifier key, C(changed) and the single mode's return values, or C(failed) and
    C(msg); failed is a list of (index, msg). Raises IamAuthError for a refused O(databases) and
    _rds_databases.RdsReadError when the describe calls fail.
    """
    targets = batch_targets(params["databases"])
    region = _region(client)
    records = {}
    for kind in ("instance", "cluster"):
        identifiers = [t.identifier for t in targets if t.kind == kind]
        records[kind] = _rds_databases.describe(client, kind, identifiers, retry) if identifiers else {}
    account = _Once(account_lookup) if account_lookup else None

    def one(target):
        entry_params = dict(params, db_instance_identifier=None, db_cluster_identifier=None, databases=None)
        entry_params[target.option] = target.identifier
        record = records[target.kind].get(target.identifier.lower())
        try:
            if record is None:
                raise not_found_error(target, region, account)
            changed, result, diff, warnings = ensure_state(
                client, entry_params, check_mode, desired, sleep=sleep, clock=clock, record=record
            )
        except IamAuthError as e:
            result = dict(e.result)
            result.update({target.option: target.identifier, "changed": e.changed, "failed": True,
                           "msg": error_message(e)})
            return result, None, []
        result["changed"] = changed
        return result, diff, warnings

    workers = max(1, min(params.get("concurrency") or 1, len(targets)))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        outcomes = list(pool.map(one, targets))

    results = [result for result, dummy, dummy2 in outcomes]
    diff = {"before": {"databases": []}, "after": {"databases": []}}
    warnings = []
    for target, (result, entry_diff, entry_warnings) in zip(targets, outcomes):
        warnings.extend(entry_warnings)
        if entry_diff is not None:
            for side in ("before", "after"):
                item = {target.option: target.identifier}
                item.update(entry_diff[side])
                diff[side]["databases"].append(item)
    failed = [(index, result["msg"]) for index, result in enumerate(results) if result.get("failed")]
    changed = any(result["changed"] for result in results)
    return changed, results, diff, warnings, failed
