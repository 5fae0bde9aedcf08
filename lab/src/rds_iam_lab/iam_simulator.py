"""IAM's policy simulator for the lab: ``iam:SimulatePrincipalPolicy`` and ``iam:SimulateCustomPolicy``.

moto 5.2 implements neither. The lab serves both through moto's own server (the patch
``iam_policy_simulator`` of :mod:`rds_iam_lab.moto_patches` adds them to moto's IAM responses) and decides
with its own evaluator, :mod:`rds_iam_lab.iam_policy`. The behaviour follows the IAM API reference
(cited as [API]): "SimulatePrincipalPolicy", "SimulateCustomPolicy", "EvaluationResult",
"Statement", "ContextEntry", and the IAM user guide "Testing IAM policies with the IAM policy
simulator" ([SIM]).

* Request: ``PolicySourceArn`` (principal only), ``ActionNames``, ``ResourceArns`` (default
  ``*``), ``ContextEntries``, ``PolicyInputList``, ``PermissionsBoundaryPolicyInputList``,
  ``CallerArn``, ``MaxItems`` / ``Marker``. ``ResourcePolicy``, ``ResourceOwner`` and
  ``ResourceHandlingOption`` are not modelled (lab/README.md, "Assumptions").
* What a principal's simulation covers ([API] SimulatePrincipalPolicy, PolicySourceArn: "If you
  specify a user, group, or role, the simulation includes all policies that are associated with
  that entity. If you specify a user, the simulation also includes all policies that are attached
  to any groups the user belongs to"): a role's inline and attached policies and its permissions
  boundary; a user's, its groups', and its boundary; a group's. ``PolicyInputList`` adds documents;
  ``PermissionsBoundaryPolicyInputList`` replaces the entity's boundary ([API]: "if a permissions
  boundary is attached to an entity and you pass in a different permissions boundary policy using
  this parameter, then the new permissions boundary policy is used"); only one is accepted.
* Response: ``EvaluationResults`` (one per action and resource, actions outer) with
  ``EvalActionName``, ``EvalResourceName``, ``EvalDecision`` (``allowed`` / ``explicitDeny`` /
  ``implicitDeny``), ``MatchedStatements`` (``SourcePolicyId``, ``SourcePolicyType``) and
  ``MissingContextValues`` (keys the policies' conditions used and ``ContextEntries`` lacked: the
  simulator adds no context of its own, [SIM] "the simulator does not ... supply" values that are
  not entered); ``IsTruncated`` / ``Marker`` when ``MaxItems`` cuts the list.
* Errors ([API], "Errors"): ``NoSuchEntity`` (404) for a PolicySourceArn that names no entity,
  ``InvalidInput`` (400) for a malformed ARN, action, context entry, policy document or marker.
* Authorization: the caller (the access key that signed the request, an IAM user key or an
  assumed-role session) needs ``iam:SimulatePrincipalPolicy`` on the PolicySourceArn (the
  service authorization reference names the user/group/role as its resource) or
  ``iam:SimulateCustomPolicy`` (no resource, ``*``), decided by the same evaluator; otherwise
  ``AccessDenied`` (403), as IAM answers.
"""

from __future__ import annotations

import json
import re
import urllib.parse
from dataclasses import dataclass
from typing import Any, Iterable

from rds_iam_lab import iam_policy

DECISIONS = {iam_policy.ALLOWED: "allowed", iam_policy.EXPLICIT_DENY: "explicitDeny",
             iam_policy.IMPLICIT_DENY: "implicitDeny"}
# [API] ContextEntry, ContextKeyType: the single-valued types; the "...List" types take several values.
CONTEXT_TYPES = ("string", "numeric", "boolean", "ip", "binary", "date")
_ENTITY_ARN = re.compile(r"^arn:(aws[a-z-]*):iam::(\d{12}):(user|group|role)(/.*)?/([\w+=,.@-]+)$")
_USER_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:user(/.*)?/[\w+=,.@-]+$")


class SimulationError(Exception):
    """An error IAM answers with: ``code`` (NoSuchEntity, InvalidInput, AccessDenied) and HTTP status."""

    def __init__(self, code: str, message: str, status: int = 400):
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


@dataclass
class PolicySource:
    """One policy in a simulation: ``label`` for logs, the document, and how [API] "Statement"
    names it (``SourcePolicyId``, ``SourcePolicyType``: user, group, role, aws-managed,
    user-managed, none)."""
    label: str
    document: Any
    source_id: str
    source_type: str


# --------------------------------------------------------------------------- moto state
def decode_document(document: Any) -> Any:
    """moto keeps policy documents as given: JSON text, sometimes URL-encoded."""
    if isinstance(document, str) and document.lstrip().startswith("%"):
        return urllib.parse.unquote(document)
    return document


def _managed(arn: str, policy: Any) -> PolicySource:
    document = getattr(policy, "document", "{}")
    for version in getattr(policy, "versions", []):
        if getattr(version, "is_default", False):
            document = version.document
    # [API] Statement, SourcePolicyType: AWS managed policies live in the account "aws".
    kind = "aws-managed" if arn.split(":")[4:5] == ["aws"] else "user-managed"
    return PolicySource(arn, decode_document(document), getattr(policy, "name", arn.rsplit("/", 1)[-1]), kind)


def _entity_kind(entity: Any) -> str:
    from moto.iam.models import Group, Role, User

    if isinstance(entity, Role):
        return "role"
    if isinstance(entity, User):
        return "user"
    if isinstance(entity, Group):
        return "group"
    raise TypeError(f"not an IAM user, group or role: {type(entity).__name__}")


def entity_policies(iam: Any, entity: Any) -> tuple[list[PolicySource], PolicySource | None]:
    """Identity policies and permissions boundary of a moto Role, User or Group (see the module
    docstring); used by the simulator and by the token verifier alike."""
    kind = _entity_kind(entity)
    owners = [(kind, entity)]
    if kind == "user":
        owners += [("group", g) for g in iam.get_groups_for_user(entity.name)]
    policies = []
    for owner_kind, owner in owners:
        prefix = f"{owner.name} inline" if owner_kind != "group" else f"group {owner.name} inline"
        policies += [PolicySource(f"{prefix} {name}", decode_document(doc), name, owner_kind)
                     for name, doc in list(owner.policies.items())]
        policies += [_managed(arn, p) for arn, p in list(owner.managed_policies.items())]
    boundary = None
    boundary_arn = getattr(entity, "permissions_boundary_arn", None) if kind != "group" else None
    if boundary_arn:
        if not isinstance(boundary_arn, str):
            boundary_arn = getattr(boundary_arn, "arn", None) or str(boundary_arn)
        try:
            boundary = _managed(boundary_arn, iam.get_policy(boundary_arn))
        except Exception:  # a boundary that no longer exists allows nothing
            boundary = PolicySource(boundary_arn, {"Version": "2012-10-17", "Statement": []},
                                    boundary_arn.rsplit("/", 1)[-1], "user-managed")
    return policies, boundary


def find_entity(iam: Any, arn: str) -> Any:
    """The moto user, group or role whose ARN (with its IAM path) is ``arn``."""
    match = _ENTITY_ARN.match(arn or "")
    if not match:
        raise SimulationError("InvalidInput", f"PolicySourceArn {arn!r} is not the ARN of an IAM user, group or role")
    kind = match.group(3)
    entities = getattr(iam, kind + "s").values()  # moto's IAMBackend.users / .roles / .groups
    for entity in list(entities):
        if entity.arn == arn:
            return entity
    raise SimulationError("NoSuchEntity", f"The {kind} with ARN {arn} cannot be found.", 404)


def caller(iam: Any, sts: Any, access_key_id: str) -> tuple[str, str, list[PolicySource], PolicySource | None, Any]:
    """(caller ARN, aws:PrincipalArn, policies, boundary, session policy) of the principal that owns
    ``access_key_id``. For a role session aws:PrincipalArn is the role's ARN with its IAM path (IAM user
    guide, "AWS global condition context keys", aws:PrincipalArn), the caller ARN the session's."""
    for assumed in list(sts.assumed_roles):
        if assumed.access_key_id == access_key_id:
            try:
                role = iam.get_role_by_arn(assumed.role_arn)
            except Exception:
                raise SimulationError("AccessDenied", "the role of this session no longer exists", 403) from None
            policies, boundary = entity_policies(iam, role)
            return assumed.arn, role.arn, policies, boundary, assumed.policy or None
    for user in list(iam.users.values()):
        for key in list(user.access_keys):
            if key.access_key_id == access_key_id and key.status == "Active":
                policies, boundary = entity_policies(iam, user)
                return user.arn, user.arn, policies, boundary, None
    raise SimulationError("InvalidClientTokenId", "The security token included in the request is invalid.", 403)


def authorize(iam: Any, sts: Any, access_key_id: str | None, action: str, resource: str) -> None:
    """Raise AccessDenied unless the caller's policies allow ``action`` on ``resource``."""
    if not access_key_id:
        raise SimulationError("MissingAuthenticationToken", "Request is missing Authentication Token", 403)
    arn, principal_arn, policies, boundary, session = caller(iam, sts, access_key_id)
    decision = iam_policy.evaluate([(p.label, p.document) for p in policies], action, resource,
                                   {"aws:PrincipalArn": principal_arn},
                                   boundary=None if boundary is None else (boundary.label, boundary.document),
                                   session_policy=session)
    if not decision.allowed:
        raise SimulationError("AccessDenied", f"User: {arn} is not authorized to perform: {action} on resource: "
                                              f"{resource} because {decision.reason}", 403)


# --------------------------------------------------------------------------- request parsing
def _load_inputs(documents: Iterable[Any] | None, parameter: str, source_type: str) -> list[PolicySource]:
    result = []
    for index, text in enumerate(documents or [], start=1):
        try:
            document = json.loads(text) if isinstance(text, str) else text
        except ValueError:
            raise SimulationError("InvalidInput", f"{parameter}.{index} is not a JSON policy document") from None
        if not isinstance(document, dict):
            raise SimulationError("InvalidInput", f"{parameter}.{index} is not a JSON policy document")
        # [API] Statement: "SourcePolicyId: The identifier of the policy that was provided as an input".
        result.append(PolicySource(f"{parameter}.{index}", document, f"{parameter}.{index}", source_type))
    return result


def context_from_entries(entries: Iterable[Any] | None) -> dict[str, Any]:
    """[API] ContextEntry: ContextKeyName, ContextKeyValues, ContextKeyType; a single-valued type takes
    one value, a ``...List`` type several (a multivalued key)."""
    context: dict[str, Any] = {}
    for index, entry in enumerate(entries or [], start=1):
        entry = entry if isinstance(entry, dict) else {}
        name = entry.get("ContextKeyName")
        values = list(entry.get("ContextKeyValues") or [])
        kind = entry.get("ContextKeyType") or "string"
        if not name or not 5 <= len(name) <= 256:
            raise SimulationError("InvalidInput", f"ContextEntries.{index}: ContextKeyName must be 5-256 characters")
        base = kind[:-len("List")] if kind.endswith("List") else kind
        if base not in CONTEXT_TYPES:
            raise SimulationError("InvalidInput", f"ContextEntries.{index}: unknown ContextKeyType {kind!r}")
        if kind == base and len(values) > 1:
            raise SimulationError("InvalidInput", f"ContextEntries.{index}: ContextKeyType {kind} takes one value")
        if kind == base:
            context[name] = values[0] if values else None
        else:
            context[name] = values
    return context


# --------------------------------------------------------------------------- simulation
def _statement(source: PolicySource) -> dict[str, Any]:
    return {"SourcePolicyId": source.source_id, "SourcePolicyType": source.source_type}


def evaluate_all(policies: list[PolicySource], boundary: PolicySource | None, actions: list[str],
                 resources: list[str] | None, context: dict[str, Any]) -> list[dict[str, Any]]:
    """One EvaluationResult per action and resource ([API] EvaluationResult)."""
    if not actions:
        raise SimulationError("InvalidInput", "ActionNames must name at least one action")
    for action in actions:
        if not isinstance(action, str) or ":" not in action or not 3 <= len(action) <= 128:
            raise SimulationError("InvalidInput", f"ActionNames: {action!r} is not service:action")
    keyed = {f"p{i}": p for i, p in enumerate(policies)}
    bound = None if boundary is None else ("boundary", boundary.document)
    results = []
    for action in actions:
        for resource in resources or ["*"]:
            decision = iam_policy.evaluate([(k, p.document) for k, p in keyed.items()], action, resource, context,
                                           boundary=bound)
            if decision.decision == iam_policy.EXPLICIT_DENY:
                refs = [decision.statement] if decision.statement else []
            elif decision.allowed:
                refs = list(decision.allows)
            else:
                refs = []
            matched = []
            for ref in refs:
                source = boundary if ref.kind == "boundary" else keyed.get(ref.policy)
                if source is not None:
                    matched.append(_statement(source))
            results.append({
                "EvalActionName": action, "EvalResourceName": resource,
                "EvalDecision": DECISIONS[decision.decision], "MatchedStatements": matched,
                "MissingContextValues": list(decision.missing_keys),
            })
    return results


def page(results: list[dict[str, Any]], max_items: Any, marker: Any) -> dict[str, Any]:
    """[API] MaxItems / Marker / IsTruncated (the marker is opaque to callers)."""
    start = 0
    if marker:
        if not str(marker).isdigit() or int(marker) > len(results):
            raise SimulationError("InvalidInput", "Marker is not one this service returned")
        start = int(marker)
    limit = int(max_items) if max_items else 100
    if not 1 <= limit <= 1000:
        raise SimulationError("InvalidInput", "MaxItems must be 1-1000")
    chunk = results[start:start + limit]
    body: dict[str, Any] = {"EvaluationResults": chunk, "IsTruncated": start + limit < len(results)}
    if body["IsTruncated"]:
        body["Marker"] = str(start + limit)
    return body


def _check_caller_arn(caller_arn: Any) -> None:
    # [API] CallerArn: "You can specify only the ARN of an IAM user."
    if caller_arn and not _USER_ARN.match(str(caller_arn)):
        raise SimulationError("InvalidInput", "CallerArn must be the ARN of an IAM user")


def simulate_principal_policy(iam: Any, params: dict[str, Any]) -> dict[str, Any]:
    """[API] SimulatePrincipalPolicy on moto's IAM backend ``iam``; ``params`` as the request gives them."""
    source_arn = params.get("PolicySourceArn")
    _check_caller_arn(params.get("CallerArn"))
    entity = find_entity(iam, source_arn)
    policies, boundary = entity_policies(iam, entity)
    policies += _load_inputs(params.get("PolicyInputList"), "PolicyInputList", "none")
    boundaries = _load_inputs(params.get("PermissionsBoundaryPolicyInputList"),
                              "PermissionsBoundaryPolicyInputList", "none")
    if len(boundaries) > 1:
        raise SimulationError("InvalidInput", "PermissionsBoundaryPolicyInputList takes one policy")
    if boundaries:
        boundary = boundaries[0]
    results = evaluate_all(policies, boundary, list(params.get("ActionNames") or []), params.get("ResourceArns"),
                           context_from_entries(params.get("ContextEntries")))
    return page(results, params.get("MaxItems"), params.get("Marker"))


def simulate_custom_policy(params: dict[str, Any]) -> dict[str, Any]:
    """[API] SimulateCustomPolicy: only the documents given (PolicyInputList is required)."""
    _check_caller_arn(params.get("CallerArn"))
    policies = _load_inputs(params.get("PolicyInputList"), "PolicyInputList", "none")
    if not policies:
        raise SimulationError("InvalidInput", "PolicyInputList must hold at least one policy")
    boundaries = _load_inputs(params.get("PermissionsBoundaryPolicyInputList"),
                              "PermissionsBoundaryPolicyInputList", "none")
    if len(boundaries) > 1:
        raise SimulationError("InvalidInput", "PermissionsBoundaryPolicyInputList takes one policy")
    results = evaluate_all(policies, boundaries[0] if boundaries else None, list(params.get("ActionNames") or []),
                           params.get("ResourceArns"), context_from_entries(params.get("ContextEntries")))
    return page(results, params.get("MaxItems"), params.get("Marker"))
