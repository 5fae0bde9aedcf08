"""AssumeRole as STS decides it: the role's trust policy, judged by the lab's evaluator.

Pages followed:

* [ASSUME]  STS API Reference, "AssumeRole": the caller needs permission to assume the
  role, the trust policy "specifies who can assume the role"; ``ExternalId`` is matched
  against the ``sts:ExternalId`` condition key; ``DurationSeconds`` "can range from
  900 seconds (15 minutes) up to the maximum session duration setting for the role";
  a longer value fails ("The requested DurationSeconds exceeds the MaxSessionDuration
  set for this role.", ``ValidationError``).
* [TRUST]   IAM User Guide, "IAM JSON policy elements: Principal": ``"AWS": "ACCOUNT"``
  or ``arn:aws:iam::ACCOUNT:root`` names the account and "delegates" to it -- then an
  identity policy of the caller must also allow ``sts:AssumeRole``; a user ARN, a role
  ARN (any session of that role) or an assumed-role session ARN names that principal;
  ``"*"`` names everyone.
* [SAME]    IAM User Guide, "Policy evaluation for requests within a single account":
  a resource-based policy (a trust policy) that names the principal's ARN is enough on
  its own; one that names the account needs the identity policy as well; an explicit
  Deny in either policy wins.
* [DENIED]  IAM User Guide, "Troubleshoot access denied error messages": the refusal is
  ``AccessDenied`` "User: CALLER is not authorized to perform: sts:AssumeRole on
  resource: ROLE_ARN".
* [EXT]     IAM User Guide, "Access to AWS accounts owned by third parties" (the
  external ID condition ``"StringEquals": {"sts:ExternalId": "..."}``).

The identity-policy half is decided by :class:`rds_iam_lab.api_auth.ApiGuard` before this
check (``sts:AssumeRole`` on the role ARN); here the trust half and the combination.
"""

from __future__ import annotations

import json
from typing import Any

from rds_iam_lab import iam_policy
from rds_iam_lab.api_auth import ApiError, request_context_keys

MIN_DURATION = 900
ACTION = "sts:AssumeRole"


def _document(raw: Any) -> dict[str, Any]:
    import urllib.parse

    if isinstance(raw, str):
        text = raw
        if text.lstrip().startswith("%"):
            text = urllib.parse.unquote(text)
        return json.loads(text)
    return dict(raw or {})


def _principal_values(principal: Any) -> list[str] | None:
    """The ``AWS`` principals of a Principal element (None: no AWS principal)."""
    if principal == "*":
        return ["*"]
    if isinstance(principal, dict):
        values = principal.get("AWS")
        if values is None:
            return None
        return [values] if isinstance(values, str) else list(values)
    return None


def principal_match(values: list[str], caller_arn: str, principal_arn: str, account: str) -> str | None:
    """'explicit' when a value names the caller (its ARN, its role's ARN, ``*``),
    'account' when it names the caller's account only, None otherwise ([TRUST])."""
    found = None
    for value in values:
        if value in ("*", caller_arn, principal_arn):
            return "explicit"
        if value in (account, f"arn:aws:iam::{account}:root"):
            found = "account"
    return found


def trust_statements(document: dict[str, Any], caller_arn: str, principal_arn: str,
                     account: str) -> tuple[list[dict], list[dict]]:
    """(statements that name the caller, statements that name its account), Principal removed."""
    statements = document.get("Statement", [])
    if isinstance(statements, dict):
        statements = [statements]
    explicit, by_account = [], []
    for statement in statements:
        if not isinstance(statement, dict):
            continue
        if "NotPrincipal" in statement:
            values = _principal_values(statement["NotPrincipal"]) or []
            kind = None if principal_match(values, caller_arn, principal_arn, account) else "explicit"
        else:
            values = _principal_values(statement.get("Principal"))
            kind = principal_match(values, caller_arn, principal_arn, account) if values is not None else None
        if kind is None:
            continue
        stripped = {k: v for k, v in statement.items() if k not in ("Principal", "NotPrincipal")}
        stripped.setdefault("Resource", "*")
        (explicit if kind == "explicit" else by_account).append(stripped)
    return explicit, by_account


def check_assume_role(control_plane: Any, caller: Any, params: dict[str, str], now: float,
                      identity_allows: bool) -> None:
    """Raise :class:`ApiError` as STS does when ``caller`` may not assume the role.

    ``identity_allows``: whether the caller's identity policies allow ``sts:AssumeRole`` on
    the role (an explicit Deny there has been answered already)."""
    role_arn = params.get("RoleArn", "")
    denied = ApiError(403, "AccessDenied",
                      f"User: {caller.arn} is not authorized to perform: {ACTION} on resource: {role_arn}")
    role = None
    try:
        role = control_plane.iam_backend.get_role_by_arn(role_arn)
    except Exception:
        role = None
    if role is None:
        raise denied
    document = _document(getattr(role, "assume_role_policy_document", None))
    version = document.get("Version")
    principal_arn = caller.context.get("aws:PrincipalArn", caller.arn)
    explicit, by_account = trust_statements(document, caller.arn, principal_arn, control_plane.account_id)
    context = dict(caller.context)
    if params.get("ExternalId") is not None:
        context["sts:ExternalId"] = params["ExternalId"]
    if params.get("RoleSessionName"):
        context["sts:RoleSessionName"] = params["RoleSessionName"]
    context.update(request_context_keys("sts", "AssumeRole", params, None))

    def decide(statements: list[dict]) -> iam_policy.Decision:
        doc = {"Statement": statements}
        if version:
            doc["Version"] = version
        return iam_policy.evaluate([(f"trust policy of {role.name}", doc)], ACTION, role_arn, context)

    everything = decide(explicit + by_account)
    if not everything.allowed:
        raise denied
    # [SAME]: a trust policy naming the caller suffices; one naming the account only
    # delegates to the identity policy.
    if not identity_allows and not decide(explicit + [s for s in by_account if s.get("Effect") == "Deny"]).allowed:
        raise denied
    duration_text = params.get("DurationSeconds")
    if duration_text:
        maximum = int(getattr(role, "max_session_duration", 3600) or 3600)
        if not duration_text.isdigit() or int(duration_text) < MIN_DURATION:
            raise ApiError(400, "ValidationError",
                           f"1 validation error detected: Value '{duration_text}' at 'durationSeconds' failed to "
                           f"satisfy constraint: Member must have value greater than or equal to {MIN_DURATION}")
        if int(duration_text) > maximum:
            raise ApiError(400, "ValidationError",
                           "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.")
