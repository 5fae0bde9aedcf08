# -*- coding: utf-8 -*-

# Copyright: (c) 2026, dbauth.rds_iam developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

# Internal use only: this file is not part of the collection's public interface and may change
# without notice.

"""The rds-db:connect managed policies, roles and instance profiles of many IAM principals, applied
in one module invocation (rds_iam_grants).

Cost, whatever the number of principals:

- one paginated ListPolicies of the policy path (which of the principals' policies exist, and the
  obsolete parts of a shrunk split);
- per principal: GetRole, ListAttachedRolePolicies when the role exists, ListInstanceProfilesForRole
  when it should have an instance profile; per existing policy GetPolicy and GetPolicyVersion (the
  default version);
- writes only where something differs.

Every principal is read first (in a bounded thread pool); a principal without trust whose role does
not exist stops everything before any write. Then each principal is written in the pool; a failing
principal does not stop the others.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import json
import re

try:
    from urllib.parse import unquote
except ImportError:  # pragma: no cover
    from urllib import unquote  # type: ignore

try:
    from botocore.exceptions import BotoCoreError
    from botocore.exceptions import ClientError
except ImportError:
    pass  # handled by AnsibleAWSModule

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.botocore import paginated_query_with_retries
from ansible_collections.amazon.aws.plugins.module_utils.policy import compare_policies
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from ansible_collections.amazon.aws.plugins.module_utils.tagging import ansible_dict_to_boto3_tag_list
from ansible_collections.amazon.aws.plugins.module_utils.tagging import boto3_tag_list_to_ansible_dict

from ansible_collections.dbauth.rds_iam.plugins.module_utils._batch import run_bounded

# IAM is eventually consistent: a role just created may not be visible to the next call for a moment.
NEW_ENTITY_RETRY = AWSRetry.jittered_backoff(retries=8, delay=1, max_delay=8, catch_extra_error_codes=["NoSuchEntity"])

DEFAULT_ROLE_DESCRIPTION = "RDS IAM database access (managed by dbauth.rds_iam.iam_access)"


class GrantsError(Exception):
    """A principal cannot be handled. message: safe to show; exception: the botocore exception, if any."""

    def __init__(self, message, exception=None):
        super(GrantsError, self).__init__(message)
        self.message = message
        self.exception = exception


def describe_error(exc):
    """A short, safe sentence for an exception raised while handling a principal."""
    if isinstance(exc, GrantsError):
        if exc.exception is not None:
            return "%s: %s" % (exc.message, describe_error(exc.exception))
        return exc.message
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return "%s: %s" % (error.get("Code", "Error"), error.get("Message", str(exc)))
    return str(exc)


def policy_name(prefix, principal, part):
    """PREFIX + principal for a principal's first policy, PREFIX + principal + '-partN' for the next ones."""
    return prefix + principal + ("" if part == 1 else "-part%d" % part)


def owned_names(prefix, principal, max_policies):
    """Every policy name the principal may own (parts 1 to max_policies)."""
    return [policy_name(prefix, principal, part) for part in range(1, max_policies + 1)]


def as_document(value):
    """A policy document as a dict (botocore decodes them; a URL-encoded JSON string is decoded here)."""
    if value is None or isinstance(value, dict):
        return value
    return json.loads(unquote(value))


def _to_json(document):
    return json.dumps(document, sort_keys=True, separators=(",", ":"))


def differ(current, wanted):
    """Whether two policy documents differ, compared as JSON objects (amazon.aws compare_policies)."""
    if current is None:
        return True
    return compare_policies(current, wanted)


def list_path(iam, path, retry):
    """The customer managed policies exactly under ``path`` (one paginated ListPolicies), by name."""
    try:
        result = paginated_query_with_retries(iam, "list_policies", retry_decorator=retry, Scope="Local", PathPrefix=path)
    except (ClientError, BotoCoreError) as e:
        raise GrantsError("Failed to list the IAM policies under %s" % path, exception=e)
    return dict((p["PolicyName"], p) for p in result.get("Policies", []) if p.get("Path") == path)


def _paginate(iam, name, retry, key, **params):
    return paginated_query_with_retries(iam, name, retry_decorator=retry, **params).get(key, [])


def _get_role(iam, name):
    try:
        return iam.get_role(aws_retry=True, RoleName=name)["Role"]
    except is_boto3_error_code("NoSuchEntity"):
        return None


def _tags_missing(current, wanted):
    return dict((k, v) for k, v in wanted.items() if current.get(k) != v)


def _carries(tag_list, wanted):
    return not _tags_missing(boto3_tag_list_to_ansible_dict(tag_list or []), wanted)


class Ctx:
    """What every principal's work shares: the client, options, check mode, the listing of the path."""

    def __init__(self, iam, params, check_mode, retry, listing):
        self.iam = iam
        self.params = params
        self.check_mode = check_mode
        self.retry = retry
        self.listing = listing
        self.tags = params.get("tags") or {}


# ---------------------------------------------------------------------------------------------- present


def read_principal(ctx, principal):
    """The current state of one principal: role, attached policies, its policies' documents, profile."""
    iam = ctx.iam
    name = principal["name"]
    state = {"role": None, "attached": [], "policies": {}, "profile": None, "profiles": []}
    try:
        role = _get_role(iam, name)
        state["role"] = role
        if role is not None:
            attached = _paginate(iam, "list_attached_role_policies", ctx.retry, "AttachedPolicies", RoleName=name)
            state["attached"] = [p["PolicyArn"] for p in attached]
            if principal.get("instance_profile"):
                state["profiles"] = _paginate(iam, "list_instance_profiles_for_role", ctx.retry, "InstanceProfiles",
                                              RoleName=name)
        for policy in principal["policies"]:
            listed = ctx.listing.get(policy["name"])
            if listed is None:
                continue
            current = iam.get_policy(aws_retry=True, PolicyArn=listed["Arn"])["Policy"]
            version = iam.get_policy_version(aws_retry=True, PolicyArn=listed["Arn"],
                                             VersionId=current["DefaultVersionId"])["PolicyVersion"]
            state["policies"][policy["name"]] = {
                "arn": current["Arn"],
                "tags": boto3_tag_list_to_ansible_dict(current.get("Tags") or []),
                "default_version": current["DefaultVersionId"],
                "document": as_document(version["Document"]),
            }
    except (ClientError, BotoCoreError) as e:
        raise GrantsError("Failed to read the IAM role and policies of %s" % name, exception=e)
    return state


def _delete_policy(ctx, listed, actions):
    """Detach a policy from every entity, delete its other versions, then the policy."""
    iam = ctx.iam
    arn = listed["Arn"]
    if ctx.check_mode:
        actions.append("deleted policy %s" % arn)
        return
    if listed.get("AttachmentCount", 1):
        entities = paginated_query_with_retries(iam, "list_entities_for_policy", retry_decorator=ctx.retry, PolicyArn=arn)
        for group in entities.get("PolicyGroups", []):
            iam.detach_group_policy(aws_retry=True, GroupName=group["GroupName"], PolicyArn=arn)
            actions.append("detached %s from group %s" % (arn, group["GroupName"]))
        for user in entities.get("PolicyUsers", []):
            iam.detach_user_policy(aws_retry=True, UserName=user["UserName"], PolicyArn=arn)
            actions.append("detached %s from user %s" % (arn, user["UserName"]))
        for role in entities.get("PolicyRoles", []):
            iam.detach_role_policy(aws_retry=True, RoleName=role["RoleName"], PolicyArn=arn)
            actions.append("detached %s from role %s" % (arn, role["RoleName"]))
    _delete_old_versions(ctx, arn)
    iam.delete_policy(aws_retry=True, PolicyArn=arn)
    actions.append("deleted policy %s" % arn)


def _delete_old_versions(ctx, arn):
    for version in _paginate(ctx.iam, "list_policy_versions", ctx.retry, "Versions", PolicyArn=arn):
        if not version["IsDefaultVersion"]:
            ctx.iam.delete_policy_version(aws_retry=True, PolicyArn=arn, VersionId=version["VersionId"])


def _new_version(ctx, arn, document):
    """A new default version; when the policy has the most versions IAM allows, the non-default ones go first."""
    text = _to_json(document)
    try:
        ctx.iam.create_policy_version(aws_retry=True, PolicyArn=arn, PolicyDocument=text, SetAsDefault=True)
    except is_boto3_error_code("LimitExceeded"):
        _delete_old_versions(ctx, arn)
        ctx.iam.create_policy_version(aws_retry=True, PolicyArn=arn, PolicyDocument=text, SetAsDefault=True)
    # Keep only this version (only_version).
    _delete_old_versions(ctx, arn)


def _ensure_policies(ctx, principal, state, actions):
    """Create or update each of the principal's managed policies; the ARNs, in order."""
    iam = ctx.iam
    path = ctx.params["policy_path"]
    arns = []
    for policy in principal["policies"]:
        current = state["policies"].get(policy["name"])
        document = policy["document"]
        if current is None:
            arn = policy.get("arn")
            if not ctx.check_mode:
                created = iam.create_policy(
                    aws_retry=True, PolicyName=policy["name"], Path=path, PolicyDocument=_to_json(document),
                    Description="rds-db:connect for %s (managed by dbauth.rds_iam)" % principal["name"],
                    Tags=ansible_dict_to_boto3_tag_list(ctx.tags),
                )["Policy"]
                arn = created["Arn"]
            actions.append("created policy %s" % (arn or policy["name"]))
            arns.append(arn)
            continue
        arn = current["arn"]
        arns.append(arn)
        if differ(current["document"], document):
            if not ctx.check_mode:
                _new_version(ctx, arn, document)
            actions.append("updated policy %s (new default version, the old one deleted)" % arn)
        missing = _tags_missing(current["tags"], ctx.tags)
        if missing:
            if not ctx.check_mode:
                iam.tag_policy(aws_retry=True, PolicyArn=arn, Tags=ansible_dict_to_boto3_tag_list(missing))
            actions.append("tagged policy %s" % arn)
    return arns


def _ensure_role(ctx, principal, state, actions):
    """Create the role (principals with trust) or bring its trust, description, duration and tags in line.
    Returns (role ARN or None in check mode, created)."""
    iam = ctx.iam
    name = principal["name"]
    role = state["role"]
    trust = principal.get("trust_document")
    if principal.get("trust") is None or trust is None:
        return role["Arn"], False
    description = principal.get("description") or DEFAULT_ROLE_DESCRIPTION
    duration = principal.get("max_session_duration")
    if role is None:
        arn = None
        if not ctx.check_mode:
            params = dict(RoleName=name, Path=principal.get("path") or ctx.params["role_path"],
                          AssumeRolePolicyDocument=_to_json(trust), Description=description,
                          Tags=ansible_dict_to_boto3_tag_list(ctx.tags))
            if duration:
                params["MaxSessionDuration"] = duration
            arn = iam.create_role(aws_retry=True, **params)["Role"]["Arn"]
        actions.append("created role %s" % name)
        return arn, True
    if differ(as_document(role.get("AssumeRolePolicyDocument")), trust):
        if not ctx.check_mode:
            iam.update_assume_role_policy(aws_retry=True, RoleName=name, PolicyDocument=_to_json(trust))
        actions.append("updated the trust of role %s" % name)
    if role.get("Description", "") != description:
        if not ctx.check_mode:
            iam.update_role(aws_retry=True, RoleName=name, Description=description)
        actions.append("updated the description of role %s" % name)
    if duration and role.get("MaxSessionDuration") != duration:
        if not ctx.check_mode:
            iam.update_role(aws_retry=True, RoleName=name, MaxSessionDuration=duration)
        actions.append("updated the maximum session duration of role %s" % name)
    missing = _tags_missing(boto3_tag_list_to_ansible_dict(role.get("Tags") or []), ctx.tags)
    if missing:
        if not ctx.check_mode:
            iam.tag_role(aws_retry=True, RoleName=name, Tags=ansible_dict_to_boto3_tag_list(missing))
        actions.append("tagged role %s" % name)
    return role["Arn"], False


def _attach(ctx, principal, state, arns, created, actions):
    attached = set(state["attached"])
    for arn in arns:
        if arn in attached:
            continue
        if not ctx.check_mode:
            call = ctx.iam.attach_role_policy
            if created:
                call = NEW_ENTITY_RETRY(call)
            call(aws_retry=True, RoleName=principal["name"], PolicyArn=arn)
        actions.append("attached %s" % (arn or "the new policy"))


def _ensure_profile(ctx, principal, state, created, actions):
    if not principal.get("instance_profile"):
        return
    iam = ctx.iam
    name = principal["name"]
    if any(p["InstanceProfileName"] == name for p in state["profiles"]):
        return
    try:
        profile = iam.get_instance_profile(aws_retry=True, InstanceProfileName=name)["InstanceProfile"]
    except is_boto3_error_code("NoSuchEntity"):
        profile = None
    exists = profile is not None
    if exists and profile.get("Roles"):
        raise GrantsError("the instance profile %s holds the role %s already (an instance profile holds one role)"
                          % (name, profile["Roles"][0]["RoleName"]))
    if not exists:
        if not ctx.check_mode:
            iam.create_instance_profile(aws_retry=True, InstanceProfileName=name,
                                        Path=principal.get("path") or ctx.params["role_path"],
                                        Tags=ansible_dict_to_boto3_tag_list(ctx.tags))
        actions.append("created instance profile %s" % name)
    if not ctx.check_mode:
        NEW_ENTITY_RETRY(iam.add_role_to_instance_profile)(aws_retry=True, InstanceProfileName=name, RoleName=name)
    actions.append("added role %s to instance profile %s" % (name, name))


def obsolete_names(ctx, principal, wanted_everywhere):
    """Names under the path that the principal's policies used to have and no longer need."""
    wanted = set(p["name"] for p in principal["policies"])
    names = owned_names(ctx.params["policy_prefix"], principal["name"], ctx.params["max_policies"])
    return [n for n in names if n in ctx.listing and n not in wanted and n not in wanted_everywhere]


def apply_principal(ctx, principal, state, wanted_everywhere):
    """Write what differs for one principal. Returns (result, before, after)."""
    actions = []
    arns = _ensure_policies(ctx, principal, state, actions)
    role_arn, created = _ensure_role(ctx, principal, state, actions)
    _attach(ctx, principal, state, arns, created, actions)
    _ensure_profile(ctx, principal, state, created, actions)
    for name in obsolete_names(ctx, principal, wanted_everywhere):
        before = len(actions)
        _delete_policy(ctx, ctx.listing[name], actions)
        actions[before:] = [a.replace("deleted policy", "deleted obsolete policy") for a in actions[before:]]
    documents = [p["document"] for p in principal["policies"]]
    arns_out = [a or p.get("arn") for a, p in zip(arns, principal["policies"])]
    return {
        "name": principal["name"],
        "role_arn": role_arn,
        "policy_arns": arns_out,
        "policy_arn": arns_out[0] if arns_out else None,
        "policy_documents": documents,
        "policy_document": documents[0] if documents else None,
        "changed": bool(actions),
        "actions": actions,
    }


def _diff_state(ctx, principal, state, after):
    role = state["role"]
    if not after:
        return {
            "policies": dict((n, p["document"]) for n, p in sorted(state["policies"].items())),
            "attached": sorted(state["attached"]),
            "trust": as_document(role.get("AssumeRolePolicyDocument")) if role else None,
        }
    obsolete_arns = set(ctx.listing[n]["Arn"] for n in state.get("obsolete", []))
    attached = set(a for a in state["attached"] if a not in obsolete_arns)
    attached.update(p.get("arn") for p in principal["policies"])
    trust = principal.get("trust_document") if principal.get("trust") is not None else (
        as_document(role.get("AssumeRolePolicyDocument")) if role else None)
    return {
        "policies": dict((p["name"], p["document"]) for p in principal["policies"]),
        "attached": sorted(a for a in attached if a),
        "trust": trust,
    }


def _failed(name, exc, **extra):
    entry = {"name": name, "changed": False, "failed": True, "msg": describe_error(exc), "actions": []}
    entry.update(extra)
    return entry


def _untouched(principal):
    return {"name": principal["name"], "role_arn": None, "policy_arns": [], "policy_arn": None, "policy_documents": [],
            "policy_document": None, "changed": False, "actions": []}


def ensure_present(iam, params, check_mode, retry):
    """Returns (changed, results, diff, failed names, fatal message or None)."""
    principals = params["principals"]
    listing = list_path(iam, params["policy_path"], retry)
    ctx = Ctx(iam, params, check_mode, retry, listing)
    wanted_everywhere = set(p["name"] for principal in principals for p in principal["policies"])

    def read(index, principal):
        try:
            return read_principal(ctx, principal), None
        except (GrantsError, ClientError, BotoCoreError) as e:
            return None, e

    states = run_bounded(read, principals, params["concurrency"])
    missing = [p["name"] for p, (state, error) in zip(principals, states)
               if error is None and p.get("trust") is None and state["role"] is None]
    if missing:
        results = [_failed(p["name"], GrantsError("no trust and no IAM role of that name"), role_arn=None, policy_arns=[],
                           policy_arn=None, policy_documents=[], policy_document=None) if p["name"] in missing
                   else _untouched(p) for p in principals]
        return False, results, {}, missing, (
            "principals %s have no trust and there is no IAM role of that name: add trust (ec2, or a list of account ids "
            "/ ARNs) so that the role is created, or create the role first. Nothing was changed." % ", ".join(missing))

    def write(index, principal):
        state, error = states[index]
        if error is not None:
            return _failed(principal["name"], error, role_arn=None, policy_arns=[], policy_arn=None,
                           policy_documents=[], policy_document=None), None
        state["obsolete"] = obsolete_names(ctx, principal, wanted_everywhere)
        before = _diff_state(ctx, principal, state, after=False)
        try:
            result = apply_principal(ctx, principal, state, wanted_everywhere)
        except (GrantsError, ClientError, BotoCoreError) as e:
            return _failed(principal["name"], e, role_arn=(state["role"] or {}).get("Arn"), policy_arns=[],
                           policy_arn=None, policy_documents=[], policy_document=None), None
        return result, (before, _diff_state(ctx, principal, state, after=True))

    outcome = run_bounded(write, principals, params["concurrency"])
    return _summarize(outcome)


def _summarize(outcome):
    results = [r for r, _d in outcome]
    diff = {"before": {"principals": {}}, "after": {"principals": {}}}
    for result, pair in outcome:
        if pair is not None:
            diff["before"]["principals"][result["name"]] = pair[0]
            diff["after"]["principals"][result["name"]] = pair[1]
    failed = [r["name"] for r in results if r.get("failed")]
    changed = any(r["changed"] for r in results)
    return changed, results, diff, failed, None


# ---------------------------------------------------------------------------------------------- absent


def remove_principal(ctx, principal):
    """Delete the principal's policies (every entity detached), and its role and instance profile
    when the role carries all of the tags. Returns (result, before, after)."""
    iam = ctx.iam
    name = principal["name"]
    actions = []
    ours = [n for n in owned_names(ctx.params["policy_prefix"], name, ctx.params["max_policies"]) if n in ctx.listing]
    try:
        role = _get_role(iam, name)
    except (ClientError, BotoCoreError) as e:
        raise GrantsError("Failed to read the IAM role %s" % name, exception=e)
    before = {"policies": sorted(ctx.listing[n]["Arn"] for n in ours), "role": role["Arn"] if role else None}
    for policy in ours:
        _delete_policy(ctx, ctx.listing[policy], actions)
    deleted = False
    if role is not None and _carries(role.get("Tags"), ctx.tags):
        if not ctx.check_mode:
            for profile in _paginate(iam, "list_instance_profiles_for_role", ctx.retry, "InstanceProfiles", RoleName=name):
                iam.remove_role_from_instance_profile(aws_retry=True, InstanceProfileName=profile["InstanceProfileName"],
                                                      RoleName=name)
                actions.append("removed role %s from instance profile %s" % (name, profile["InstanceProfileName"]))
                if profile["InstanceProfileName"] == name:
                    iam.delete_instance_profile(aws_retry=True, InstanceProfileName=name)
                    actions.append("deleted instance profile %s" % name)
            for arn in _paginate(iam, "list_attached_role_policies", ctx.retry, "AttachedPolicies", RoleName=name):
                iam.detach_role_policy(aws_retry=True, RoleName=name, PolicyArn=arn["PolicyArn"])
                actions.append("detached %s" % arn["PolicyArn"])
            for inline in _paginate(iam, "list_role_policies", ctx.retry, "PolicyNames", RoleName=name):
                iam.delete_role_policy(aws_retry=True, RoleName=name, PolicyName=inline)
                actions.append("deleted inline policy %s" % inline)
            iam.delete_role(aws_retry=True, RoleName=name)
        actions.append("deleted role %s" % name)
        deleted = True
    result = {
        "name": name,
        "role_arn": None if deleted or role is None else role["Arn"],
        "role_deleted": deleted,
        "policy_arns": [],
        "policy_arn": None,
        "policy_documents": [],
        "policy_document": None,
        "changed": bool(actions),
        "actions": actions,
    }
    after = {"policies": [], "role": None if deleted else before["role"]}
    return result, (before, after)


def ensure_absent(iam, params, check_mode, retry):
    """Returns (changed, results, diff, failed names, None)."""
    listing = list_path(iam, params["policy_path"], retry)
    ctx = Ctx(iam, params, check_mode, retry, listing)

    def one(index, principal):
        try:
            return remove_principal(ctx, principal)
        except (GrantsError, ClientError, BotoCoreError) as e:
            return _failed(principal["name"], e, role_deleted=False, role_arn=None, policy_arns=[], policy_arn=None,
                           policy_documents=[], policy_document=None), None

    return _summarize(run_bounded(one, params["principals"], params["concurrency"]))


_PART_SUFFIX = re.compile(r"-part[0-9]+$")


def owner_of(prefix, policy_name):
    """The principal whose policy ``policy_name`` is (PREFIX + name, or PREFIX + name + -partN), or None."""
    if not policy_name.startswith(prefix):
        return None
    return _PART_SUFFIX.sub("", policy_name[len(prefix):]) or None


def prune(iam, params, check_mode, retry):
    """Remove what principals that ``params["principals"]`` no longer names still have: their policies under the
    path and, when it carries the tags, their role (as state=absent does), only when every one of their policies
    carries all of the tags, that is, when the collection created them. Returns (changed, results, diff, refused):
    one result per principal removed, and a sentence per principal left alone."""
    listing = list_path(iam, params["policy_path"], retry)
    ctx = Ctx(iam, params, check_mode, retry, listing)
    named = set(p["name"] for p in params["principals"])
    owners = {}
    for name in sorted(listing):
        owner = owner_of(params["policy_prefix"], name)
        if owner is not None and owner not in named:
            owners.setdefault(owner, []).append(name)
    outcome = []
    refused = []
    for owner, names in sorted(owners.items()):
        try:
            unmarked = [n for n in names if not _carries(
                _paginate(iam, "list_policy_tags", retry, "Tags", PolicyArn=listing[n]["Arn"]), ctx.tags)]
            if unmarked:
                refused.append("%s: the policies %s do not carry the tags %s, so the collection did not create them; "
                               "left alone" % (owner, ", ".join(unmarked), ", ".join("%s=%s" % t for t in sorted(ctx.tags.items()))))
                continue
            outcome.append(remove_principal(ctx, {"name": owner}))
        except (GrantsError, ClientError, BotoCoreError) as e:
            outcome.append((_failed(owner, e, role_deleted=False), None))
    changed, results, diff, _failed_names, _fatal = _summarize(outcome)
    return changed, results, diff, refused


def validate(params):
    """The error message for bad options, or None."""
    if not params.get("tags"):
        return "tags must hold at least one tag: it marks what the collection created (absent deletes only those roles)."
    if params["max_policies"] < 1:
        return "max_policies must be at least 1."
    names = [p["name"] for p in params["principals"]]
    twice = sorted(set(n for n in names if names.count(n) > 1))
    if twice:
        return "principals are listed more than once: %s." % ", ".join(twice)
    for principal in params["principals"]:
        if principal.get("trust") is not None and principal.get("trust_document") is None:
            return "principals entry %s has trust but no trust_document." % principal["name"]
        for policy in principal.get("policies") or []:
            if not re.match(re.escape(params["policy_prefix"] + principal["name"]) + r"(-part[0-9]+)?$", policy["name"]):
                return ("principals entry %s: policy name %s does not follow the naming PREFIX + name (+ -partN) with "
                        "policy_prefix %s." % (principal["name"], policy["name"], params["policy_prefix"]))
    return None


def copy_principals(principals):
    result = copy.deepcopy(principals)
    for principal in result:
        principal["policies"] = principal.get("policies") or []
        for policy in principal["policies"]:
            policy["document"] = as_document(policy["document"])
        if principal.get("trust_document") is not None:
            principal["trust_document"] = as_document(principal["trust_document"])
    return result
