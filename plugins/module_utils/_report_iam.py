# -*- coding: utf-8 -*-

# Copyright: Contributors to the dbauth.rds_iam collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

# This module_util is for internal use only, not part of the public API: it may change or go away
# in any release.

"""Every IAM user and role that may be allowed rds-db:connect, read in pages, not a call per principal.

``GetAccountAuthorizationDetails`` (IAM API reference) returns users with their inline policies,
attached managed policies, groups and permissions boundary, groups with theirs, roles with theirs,
and the managed policies with their versions, in pages of up to 1000 entities. A principal is a
candidate when one of its identity policies (its own, its groups' for a user) has an Allow statement
whose Action matches ``rds-db:connect`` (or whose NotAction does not).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.amazon.aws.plugins.module_utils.botocore import paginated_query_with_retries

from ansible_collections.dbauth.rds_iam.plugins.module_utils._iam_grants import as_document
from ansible_collections.dbauth.rds_iam.plugins.module_utils._policy_evaluator import glob_match

ACTION = "rds-db:connect"
# AWSManagedPolicy: AWS-managed policies attached to something (AdministratorAccess allows rds-db:* too).
AUTHORIZATION_FILTER = ["User", "Role", "Group", "LocalManagedPolicy", "AWSManagedPolicy"]


def _as_list(value):
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def statements(document):
    """The statements of a policy document (a dict; a single statement may be given without a list)."""
    return [s for s in _as_list((document or {}).get("Statement")) if isinstance(s, dict)]


def names_action(statement):
    """Whether the statement's Action (or NotAction) covers rds-db:connect (action names ignore case)."""
    if "Action" in statement:
        return any(glob_match(str(a), ACTION, ignore_case=True) for a in _as_list(statement["Action"]))
    if "NotAction" in statement:
        return not any(glob_match(str(a), ACTION, ignore_case=True) for a in _as_list(statement["NotAction"]))
    return False


def connect_statements(policies):
    """(policy name, Effect, resources) of each statement that covers rds-db:connect in ``policies``
    (a list of (name, document)); NotResource statements give the resources ['*'] (they may match any)."""
    result = []
    for name, document in policies:
        for statement in statements(document):
            if names_action(statement):
                resources = _as_list(statement.get("Resource")) if "Resource" in statement else ["*"]
                result.append((name, statement.get("Effect"), [str(r) for r in resources],
                               bool(statement.get("Condition"))))
    return result


def _default_version(policy):
    for version in policy.get("PolicyVersionList") or []:
        if version.get("IsDefaultVersion"):
            return as_document(version.get("Document"))
    return None


def _inline(entries, key_name, key_document):
    return [(e[key_name], as_document(e[key_document])) for e in entries or []]


def read_principals(iam, retry):
    """The account's users and roles with their identity policies and boundary, from
    GetAccountAuthorizationDetails pages. Returns a list of principals (dicts: arn, name, type, path,
    tags, policies [(name, document)], boundary (name, document) or None), every one, candidates or not."""
    details = paginated_query_with_retries(iam, "get_account_authorization_details", retry_decorator=retry,
                                           Filter=AUTHORIZATION_FILTER)
    managed = dict((p["Arn"], (p.get("PolicyName") or p["Arn"].rsplit("/", 1)[-1], _default_version(p)))
                   for p in details.get("Policies") or [])
    groups = {}
    for group in details.get("GroupDetailList") or []:
        groups[group["GroupName"]] = (
            [("%s (inline of group %s)" % (n, group["GroupName"]), d)
             for n, d in _inline(group.get("GroupPolicyList"), "PolicyName", "PolicyDocument")]
            + [_managed(managed, a["PolicyArn"]) for a in group.get("AttachedManagedPolicies") or []])

    def principal(kind, entry, inline_key):
        policies = [("%s (inline)" % n, d) for n, d in _inline(entry.get(inline_key), "PolicyName", "PolicyDocument")]
        policies += [_managed(managed, a["PolicyArn"]) for a in entry.get("AttachedManagedPolicies") or []]
        for group in entry.get("GroupList") or []:
            policies += groups.get(group, [])
        boundary = (entry.get("PermissionsBoundary") or {}).get("PermissionsBoundaryArn")
        return {
            "arn": entry["Arn"],
            "name": entry["UserName" if kind == "user" else "RoleName"],
            "type": kind,
            "path": entry.get("Path") or "/",
            "tags": dict((t["Key"], t["Value"]) for t in entry.get("Tags") or []),
            "policies": [p for p in policies if p[1] is not None],
            "boundary": _managed(managed, boundary) if boundary else None,
        }

    result = [principal("user", u, "UserPolicyList") for u in details.get("UserDetailList") or []]
    result += [principal("role", r, "RolePolicyList") for r in details.get("RoleDetailList") or []]
    return sorted(result, key=lambda p: p["arn"])


def _managed(managed, arn):
    name, document = managed.get(arn, (arn.rsplit("/", 1)[-1], None))
    return (name, document)


def is_candidate(principal):
    """Whether an Allow statement of the principal's identity policies covers rds-db:connect."""
    return any(effect == "Allow" for _n, effect, _r, _c in connect_statements(principal["policies"]))
