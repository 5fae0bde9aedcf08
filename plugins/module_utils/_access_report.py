# -*- coding: utf-8 -*-

# Copyright: Contributors to the dbauth.rds_iam collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

# This module_util is for internal use only, not part of the public API: it may change or go away
# in any release.

"""The access report: which IAM principal can log in as which database user, and what differs from
the data model (rds_iam_access_report).

Input, already read: the databases (RDS facts, each catalog from _report_catalog, the data model's
users), the candidate principals (from _report_iam) and every resource id of each Region read. A database of the
data model brings its members (read replicas, global secondary clusters, docs/topologies.md): each is a database of
its own here, with its own resource id, IAM setting and Region, ``member_of`` naming its source, and the source's
catalog (the users are replicated from the source). The matrix is principal x database (or member) x IAM user; a
pair is allowed when the principal's identity policies allow
``rds-db:connect`` on ``arn:PARTITION:rds-db:REGION:ACCOUNT:dbuser:RESOURCE_ID/USER`` (REGION: the database's own,
and its permissions boundary too) and IAM authentication is on. Policies are evaluated by the collection's
evaluator (policy_evaluator); a decision it cannot make is handed to ``iam:SimulatePrincipalPolicy``
by the caller when allowed (``decided_by`` says which).

Findings have a stable ``code`` (FINDINGS), a severity, a message and the ``objects`` they name.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.dbauth.rds_iam.plugins.module_utils import _policy_evaluator
from ansible_collections.dbauth.rds_iam.plugins.module_utils._rds_databases import rds_db_arn
from ansible_collections.dbauth.rds_iam.plugins.module_utils._report_iam import ACTION
from ansible_collections.dbauth.rds_iam.plugins.module_utils._report_iam import connect_statements
from ansible_collections.dbauth.rds_iam.plugins.module_utils._verify_diagnosis import UNKNOWN_CONTEXT_KEYS
from ansible_collections.dbauth.rds_iam.plugins.module_utils._verify_diagnosis import request_context

LOCAL = "local"
SIMULATE = "simulate"
UNDETERMINED = "undetermined"

# code -> (severity, what it means). The codes are a contract: tests and dashboards match on them.
FINDINGS = {
    "iam_auth_off": ("high", "IAM users on a database whose IAM authentication is off or only pending"),
    "rds_iam_and_rds_ad": ("high", "a PostgreSQL user in both rds_iam and rds_ad"),
    "stale_resource_id": ("high", "a policy names a resource id that no database of its Region has (Regions read only)"),
    "switched_over_resource_id": ("high", "a policy names the resource id of the old blue of a Blue/Green switchover, "
                                          "no longer behind the database's name"),
    "wildcard_grant": ("medium", "a grant by wildcard, wider than one database or one user"),
    "principal_not_in_model": ("medium", "a principal that can connect but is not in the data model"),
    "grant_user_missing": ("medium", "a policy grants a database user that does not exist as an IAM user"),
    "iam_user_unusable": ("low", "an IAM user in a database that no principal can use"),
    "model_user_missing": ("medium", "drift: the data model names a user the database lacks (site.yml would add it)"),
    "model_grant_missing": ("medium", "drift: the data model grants a principal a user it cannot use (site.yml would add it)"),
    "unmodelled_user": ("low", "drift: an IAM user the data model does not name (pruning would drop it)"),
    "unmodelled_grant": ("low", "drift: a principal of the data model can use a user it is not granted (pruning would remove it)"),
}
SEVERITY_ORDER = ("high", "medium", "low", "info")
# The reason of most pairs of a large account, kept short (the pair names the database and the user).
NO_ALLOW = "implicit deny: no Allow statement names this database user"

_DBUSER_ARN = re.compile(r"^arn:([^:]*):rds-db:([^:]*):([^:]*):dbuser:([^/]*)/(.*)$")
_WILDCARD = re.compile(r"[*?]")
_PATTERN = re.compile(r"[*?$]")


def finding(code, message, **objects):
    return {"code": code, "severity": FINDINGS[code][0], "message": message,
            "objects": dict((k, v) for k, v in objects.items() if v is not None)}


def parse_dbuser_arn(pattern):
    """(partition, region, account, resource id, user) of an rds-db dbuser ARN pattern, or None."""
    match = _DBUSER_ARN.match(pattern)
    return match.groups() if match else None


class Evaluator:
    """Evaluates principal x resource with the local evaluator; remembers every decision, by (principal ARN,
    Region, resource id, user). ``region``: the Region of the module's call, that of a database without one."""

    def __init__(self, region, account, partition):
        self.region = region
        self.account = account
        self.partition = partition
        self.decisions = {}
        self._allow_patterns = {}

    def resource(self, resource_id, user, region=None):
        return rds_db_arn(self.partition, region or self.region, self.account, resource_id, user)

    def evaluate(self, principal, resource_id, user, region=None):
        """(decision, reason, decided_by) for rds-db:connect as ``user`` on ``resource_id`` (in ``region``)."""
        key = (principal["arn"], region or self.region, resource_id, user)
        if key not in self.decisions:
            self.decisions[key] = self._local(principal, self.resource(resource_id, user, region))
        return self.decisions[key]

    def _may_allow(self, principal, resource):
        """Whether an Allow statement's Resource may match (a Condition or a Deny can only narrow that): without
        one the decision is an implicit deny, known without a full evaluation (the common case at scale)."""
        known = self._allow_patterns.get(principal["arn"])
        if known is None:
            patterns = [p for _n, effect, resources, _c in connect_statements(principal["policies"]) if effect == "Allow"
                        for p in resources]
            # Exact ARNs in a set, the patterns with wildcards or policy variables matched one by one.
            known = (set(p for p in patterns if not _PATTERN.search(p)), [p for p in patterns if _PATTERN.search(p)])
            self._allow_patterns[principal["arn"]] = known
        exact, wild = known
        return resource in exact or any("$" in p or _policy_evaluator.glob_match(p, resource) for p in wild)

    def _local(self, principal, resource):
        if not self._may_allow(principal, resource):
            return _policy_evaluator.IMPLICIT_DENY, NO_ALLOW, LOCAL
        context = request_context(principal["type"], principal["arn"], self.account)
        result = _policy_evaluator.evaluate(principal["policies"], ACTION, resource, context,
                                            unknown_keys=UNKNOWN_CONTEXT_KEYS)
        if result.allowed and principal.get("boundary"):
            bounded = _policy_evaluator.evaluate([principal["boundary"]], ACTION, resource, context,
                                                 unknown_keys=UNKNOWN_CONTEXT_KEYS)
            if not bounded.allowed:
                return (bounded.decision, "the permissions boundary %s: %s" % (principal["boundary"][0], bounded.reason),
                        UNDETERMINED if bounded.decision == _policy_evaluator.UNDETERMINED else LOCAL)
        decided_by = UNDETERMINED if result.decision == _policy_evaluator.UNDETERMINED else LOCAL
        return result.decision, result.reason, decided_by

    def undetermined(self):
        return [k for k, v in self.decisions.items() if v[2] == UNDETERMINED]

    def decide(self, key, decision, reason, decided_by):
        self.decisions[key] = (decision, reason, decided_by)


def region_of(db, evaluator):
    """The Region of a database: its own (a member's), else that of the module's call."""
    return db.get("region") or evaluator.region


def db_key(db, evaluator):
    """What tells databases apart: (identifier, Region); a cross-Region replica may share its source's identifier."""
    return db["id"], region_of(db, evaluator)


def matrix(databases, principals, evaluator):
    """One entry per candidate principal x database (members too) x IAM user of the database (sorted)."""
    rows = []
    for db in databases:
        if not db.get("resource_id"):
            continue
        region = region_of(db, evaluator)
        for user in db_users_of(db, principals):
            for principal in principals:
                decision, reason, decided_by = evaluator.evaluate(principal, db["resource_id"], user, region)
                allowed = decision == _policy_evaluator.ALLOW
                if allowed and not db["iam_enabled"]:
                    allowed = False
                    reason = "IAM authentication is off on %s, so no token login works (the policy would allow it: %s)" % (
                        db["id"], reason)
                rows.append({
                    "principal_arn": principal["arn"],
                    "principal": principal["name"],
                    "principal_type": principal["type"],
                    "database": db["id"],
                    "region": region,
                    "member_of": db.get("member_of"),
                    "db_user": user,
                    "allowed": allowed,
                    "decision": decision,
                    "reason": reason,
                    "decided_by": decided_by,
                })
    return sorted(rows, key=lambda r: (r["database"], r["region"], r["db_user"], r["principal_arn"]))


def db_users_of(db, principals):
    """The users of a database the matrix lists: its IAM users (catalog), or, when the catalog was not
    read, the users the data model names and those the principals' Allow statements name on it exactly."""
    if db.get("catalog") is not None:
        return sorted(set(u["name"] for u in db["catalog"]["iam_users"]))
    users = set(u["name"] for u in db.get("model_users") or [] if u.get("state", "present") == "present")
    for principal in principals:
        for _policy, effect, resources, _conditional in connect_statements(principal["policies"]):
            for parts in (parse_dbuser_arn(r) for r in resources if effect == "Allow"):
                if parts and parts[3] == db["resource_id"] and not _WILDCARD.search(parts[4]):
                    users.add(parts[4])
    return sorted(users)


def _database_findings(db, rows):
    """iam_auth_off, rds_iam_and_rds_ad and iam_user_unusable of one database (``rows``: its matrix rows). A member
    has its own IAM setting, but its catalog is its source's: the catalog's findings are the source's only."""
    found = []
    catalog = db.get("catalog")
    if catalog is None:
        return found
    iam_users = sorted(set(u["name"] for u in catalog["iam_users"]))
    pending = db.get("iam_pending")
    if iam_users and (not db["iam_enabled"] or pending is not None):
        state = "off" if pending is None else "%s, a change to %s is pending" % (
            "on" if db["iam_enabled"] else "off", "on" if pending else "off")
        found.append(finding(
            "iam_auth_off", "%s has %d IAM user(s) (%s) but IAM database authentication is %s: their logins fail; "
            "run the enable step (rds_iam_enable) and apply the change" % (
                _named(db), len(iam_users), ", ".join(iam_users), state),
            database=db["id"], db_users=iam_users, member_of=db.get("member_of"), region=db.get("region")))
    if db.get("member_of"):
        return found
    for name in sorted(catalog["rds_ad_conflicts"]):
        found.append(finding(
            "rds_iam_and_rds_ad", "%s: the role %s is in both rds_iam and rds_ad; RDS then uses IAM only and Kerberos "
            "logins fail: revoke one of them" % (db["id"], name), database=db["id"], db_user=name))
    usable = set(r["db_user"] for r in rows if r["decision"] == _policy_evaluator.ALLOW)
    for name in iam_users:
        if name not in usable:
            found.append(finding(
                "iam_user_unusable", "%s: the IAM user %s can be used by no IAM principal (no policy allows rds-db:connect "
                "as it): grant it or drop it" % (db["id"], name), database=db["id"], db_user=name))
    return found


def _named(db):
    """A database in a message: a member with its role, source and Region."""
    if not db.get("member_of"):
        return db["id"]
    return "%s (%s of %s in %s)" % (db["id"], db.get("member_role") or "member", db["member_of"], db.get("region"))


def _statement_findings(principal, resource_ids, by_resource_id, evaluator, switched):
    """wildcard_grant, stale_resource_id, switched_over_resource_id and grant_user_missing of one principal's Allow
    statements. ``resource_ids``: {Region: every resource id of its DB instances and clusters} of the Regions read;
    a grant in another Region or account is not judged."""
    found = []
    for policy, effect, resources, conditional in connect_statements(principal["policies"]):
        if effect != "Allow":
            continue
        for pattern in resources:
            parts = parse_dbuser_arn(pattern)
            if pattern == "*" or (parts is None and _WILDCARD.search(pattern)):
                found.append(finding(
                    "wildcard_grant", "%s may connect as any user of any database through %s (Resource %s): name each "
                    "resource id and user" % (principal["arn"], policy, pattern),
                    principal_arn=principal["arn"], policy=policy, resource=pattern))
                continue
            if parts is None:
                continue
            _partition, region, account, resource_id, user = parts
            wide = [what for what, value in (("database", resource_id), ("user", user)) if _WILDCARD.search(value)]
            if wide or _WILDCARD.search(region) or _WILDCARD.search(account):
                matched = sorted(set(r for name, ids in resource_ids.items() if _policy_evaluator.glob_match(region, name)
                                     for r in ids if _policy_evaluator.glob_match(resource_id, r)))
                found.append(finding(
                    "wildcard_grant", "%s: %s grants %s by wildcard, wider than one %s (matches %d database(s) of the "
                    "Regions read now): name each resource id and user" % (
                        principal["arn"], policy, pattern, " or one ".join(wide) or "region or account", len(matched)),
                    principal_arn=principal["arn"], policy=policy, resource=pattern, databases=matched))
                continue
            if region not in resource_ids or account != evaluator.account:
                continue
            if resource_id.startswith("prx-"):
                continue  # an RDS Proxy's resource id (docs/rds_proxy.md): not a DB instance or cluster to judge here
            if resource_id not in resource_ids[region]:
                found.append(finding(
                    "stale_resource_id", "%s: %s names the resource id %s, which no DB instance or cluster of %s has "
                    "(a re-created database, a Blue/Green switchover?): grant the current resource id" % (
                        principal["arn"], policy, resource_id, region),
                    principal_arn=principal["arn"], policy=policy, resource=pattern, resource_id=resource_id))
                continue
            deployment = switched.get(resource_id) if region == evaluator.region else None  # read in the call's Region
            if deployment is not None:
                name, now = deployment["target"]["identifier"], deployment["target"]["resource_id"]
                found.append(finding(
                    "switched_over_resource_id", "%s: %s names the resource id %s, which the Blue/Green switchover %s "
                    "moved away from %s (it is %s now, the old blue); %s has the resource id %s: re-run site.yml "
                    "(iam_access) to grant it" % (principal["arn"], policy, resource_id, deployment["identifier"],
                                                  name, deployment["source"]["identifier"], name, now),
                    principal_arn=principal["arn"], policy=policy, resource=pattern, resource_id=resource_id,
                    database=name, current_resource_id=now, old_database=deployment["source"]["identifier"],
                    deployment=deployment["identifier"]))
                continue
            db = by_resource_id.get((region, resource_id))
            if db is None or db.get("catalog") is None:
                continue
            if user not in set(u["name"] for u in db["catalog"]["iam_users"]):
                found.append(finding(
                    "grant_user_missing", "%s: %s grants %s on %s, which has no IAM user %s" % (
                        principal["arn"], policy, user, _named(db), user),
                    principal_arn=principal["arn"], policy=policy, database=db["id"], db_user=user, resource=pattern))
    return found


def _model_findings(databases, principals, model_principals, rows_of, evaluator):
    """Drift from the data model and principal_not_in_model; ``rows_of`` maps a database (db_key) to its matrix rows.
    A member's users are its source's: only the grants on it are its own drift."""
    found = []
    roles = dict((p["name"], p) for p in principals if p["type"] == "role")
    model_names = set(model_principals or [])
    for db in databases:
        if not db.get("in_model"):
            continue
        catalog = db.get("catalog")
        iam_users = set(u["name"] for u in catalog["iam_users"]) if catalog is not None else None
        own_catalog = iam_users is not None and not db.get("member_of")
        marked = set(u["name"] for u in catalog["iam_users"] if u.get("marked")) if catalog is not None else set()
        wanted = dict((u["name"], u) for u in db.get("model_users") or [])
        present = set(n for n, u in wanted.items() if u.get("state", "present") == "present")
        for name in sorted(present):
            if own_catalog and name not in iam_users:
                found.append(finding("model_user_missing", "%s: the data model names the IAM user %s, which the database "
                                     "lacks (site.yml would create it)" % (db["id"], name), database=db["id"], db_user=name))
            for principal_name in sorted(wanted[name].get("principals") or []):
                principal = roles.get(principal_name)
                allowed = False
                if principal is not None and db.get("resource_id"):
                    allowed = evaluator.evaluate(principal, db["resource_id"], name,
                                                 region_of(db, evaluator))[0] == _policy_evaluator.ALLOW
                if not allowed:
                    why = ("there is no IAM role of that name with an rds-db:connect policy" if principal is None
                           else "no policy allows it")
                    found.append(finding("model_grant_missing", "%s: the data model grants %s the user %s, but %s "
                                         "(site.yml would grant it)" % (_named(db), principal_name, name, why),
                                         database=db["id"], db_user=name, principal=principal_name))
        if own_catalog:
            for name in sorted(iam_users - present):
                found.append(finding("unmodelled_user", "%s: the IAM user %s is not in the data model%s (%s)" % (
                    db["id"], name, " (marked absent)" if name in wanted else "",
                    "the collection created it: pruning drops it" if name in marked
                    else "the collection did not create it: pruning leaves it"), database=db["id"], db_user=name))
        for row in rows_of.get(db_key(db, evaluator), []):
            if row["decision"] != _policy_evaluator.ALLOW:
                continue
            name = row["principal"] if row["principal_type"] == "role" else None
            if name is None or name not in model_names:
                continue
            granted = wanted.get(row["db_user"], {}).get("principals") or []
            if row["db_user"] in present and name in granted:
                continue
            found.append(finding("unmodelled_grant", "%s: %s can connect as %s, which the data model does not grant it "
                                 "(pruning would remove that grant if the collection created it)" % (
                                     _named(db), row["principal_arn"], row["db_user"]),
                                 database=db["id"], db_user=row["db_user"], principal_arn=row["principal_arn"]))
    outsiders = {}
    for db in databases:
        if not db.get("in_model"):
            continue
        for row in rows_of.get(db_key(db, evaluator), []):
            if row["decision"] == _policy_evaluator.ALLOW and not (
                    row["principal_type"] == "role" and row["principal"] in model_names):
                outsiders.setdefault(row["principal_arn"], []).append("%s/%s" % (row["database"], row["db_user"]))
    for arn, pairs in sorted(outsiders.items()):
        found.append(finding("principal_not_in_model", "%s is allowed rds-db:connect as %s but is not in the data "
                             "model's principals" % (arn, ", ".join(sorted(pairs))), principal_arn=arn, pairs=sorted(pairs)))
    return found


def findings(databases, principals, model_principals, rows, resource_ids, evaluator, switched=None):
    """Every finding, sorted by severity, code, then message. ``resource_ids``: {Region: resource ids} of the Regions
    read; ``switched``: {old blue resource id: deployment} of the completed Blue/Green switchovers
    (_blue_green.switched_resource_ids)."""
    by_resource_id = dict(((region_of(db, evaluator), db["resource_id"]), db) for db in databases if db.get("resource_id"))
    rows_of = {}
    for row in rows:
        rows_of.setdefault((row["database"], row["region"]), []).append(row)
    found = []
    for db in databases:
        found.extend(_database_findings(db, rows_of.get(db_key(db, evaluator), [])))
    for principal in principals:
        found.extend(_statement_findings(principal, resource_ids, by_resource_id, evaluator, switched or {}))
    found.extend(_model_findings(databases, principals, model_principals, rows_of, evaluator))
    return sorted(found, key=lambda f: (SEVERITY_ORDER.index(f["severity"]), f["code"], f["message"]))


def summary(databases, principals, rows, found):
    counts = dict((s, 0) for s in SEVERITY_ORDER)
    for f in found:
        counts[f["severity"]] += 1
    return {
        "databases": len(databases),
        "principals": len(principals),
        "pairs": len(rows),
        "allowed": sum(1 for r in rows if r["allowed"]),
        "findings": counts,
    }


def model_principal_names(principals, databases):
    """The principal names of the data model: ``principals`` (names or entries with a name), or else
    every name in the users' principals."""
    if principals is not None:
        return sorted(set(p.get("name") if isinstance(p, dict) else str(p) for p in principals) - set([None]))
    return sorted(set(name for db in databases for user in db.get("users") or [] for name in user.get("principals") or []))


def report_databases(databases):
    """What the report shows of each database (no login secret ever was in it)."""
    result = []
    for db in databases:
        catalog = db.get("catalog") or {}
        result.append({
            "id": db["id"], "kind": db["kind"], "engine": db["engine"], "in_model": db["in_model"],
            "region": db.get("region"), "member_of": db.get("member_of"), "member_role": db.get("member_role"),
            "missing": db["missing"], "resource_id": db["resource_id"], "iam_enabled": db["iam_enabled"],
            "iam_pending": db["iam_pending"], "endpoint": db["endpoint"],
            "catalog_read": db.get("catalog") is not None, "catalog_error": db.get("catalog_error"),
            "iam_users": sorted(set(u["name"] for u in catalog.get("iam_users") or [])),
            "password_users": sorted(set(u["name"] for u in catalog.get("password_users") or [])),
            "protected_users": sorted(set(u["name"] for u in catalog.get("protected_users") or [])),
            "rds_ad_conflicts": sorted(catalog.get("rds_ad_conflicts") or []),
        })
    return result
