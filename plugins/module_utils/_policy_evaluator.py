# -*- coding: utf-8 -*-
# Copyright: dbauth.rds_iam contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

# Internal use only: this file is not part of the collection's public interface and may change
# without notice.

"""Evaluate IAM policies for one action on one resource.

A small, dependency free evaluator of the IAM policy language as it matters for
``rds-db:connect``: Allow/Deny, Action/NotAction, Resource/NotResource, ``*`` and ``?``
wildcards, policy variables, the documented condition operators (String*, Numeric*,
Date*, Bool, BinaryEquals, IpAddress/NotIpAddress, Arn*, Null, ``...IfExists``,
``ForAnyValue:``/``ForAllValues:``), permissions boundaries and session policies.

Rules (AWS IAM User Guide, "Policy evaluation logic"):

* an explicit ``Deny`` that applies wins over every ``Allow`` (in any policy type);
* the identity policies must allow, and so must the permissions boundary and the session
  policy when there is one; otherwise the request is implicitly denied;
* action names are matched case-insensitively, resources case-sensitively;
* "IAM JSON policy elements: Condition operators": a condition key absent from the request
  context makes an operator false, a negated operator true; ``...IfExists`` is true and
  ``Null`` tests the absence; ``ForAllValues`` is true on an absent or empty key and
  ``ForAnyValue`` false.

``context`` is taken as the request context: a key that is not in it is absent. A caller
that could not learn some keys names them in ``unknown_keys`` (exact names, or prefixes
ending in ``*`` such as ``aws:PrincipalTag/*``); a decision that depends on one of them is
``undetermined``, as is one that depends on a Deny whose condition cannot be read or uses
an operator IAM does not document. An Allow whose condition cannot be read grants nothing.
The evaluator is a diagnostic aid: it says ``undetermined`` rather than guess.
"""

import base64
import binascii
import calendar
import ipaddress
import json
import math
import re

ALLOW = "allow"
EXPLICIT_DENY = "explicit_deny"
IMPLICIT_DENY = "implicit_deny"
UNDETERMINED = "undetermined"

_VARIABLE_RE = re.compile(r"\$\{([^}]*)\}")
_REGEX_CACHE = {}

_SUPPORTED_VERSIONS_WITH_VARIABLES = ("2012-10-17",)


class PolicyEvaluationError(ValueError):
    """Raised for a policy document that cannot be read at all."""


class StatementMatch(object):
    """One statement that took part in the decision."""

    def __init__(self, policy_index, policy_name, statement_index, sid, effect, note=None):
        self.policy_index = policy_index
        self.policy_name = policy_name
        self.statement_index = statement_index
        self.sid = sid
        self.effect = effect
        self.note = note

    def label(self):
        where = "policy %s" % (self.policy_name if self.policy_name else "#%d" % self.policy_index)
        if self.sid:
            return "%s statement %d (Sid %s)" % (where, self.statement_index, self.sid)
        return "%s statement %d" % (where, self.statement_index)

    def to_dict(self):
        return {
            "policy_index": self.policy_index,
            "policy_name": self.policy_name,
            "statement_index": self.statement_index,
            "sid": self.sid,
            "effect": self.effect,
            "note": self.note,
        }


class EvaluationResult(object):
    """Outcome of :func:`evaluate`.

    ``decision`` is one of ``allow``, ``explicit_deny``, ``implicit_deny`` or
    ``undetermined``; ``statement`` is the deciding :class:`StatementMatch` (None for an
    implicit deny; for ``undetermined`` the statement that could not be decided);
    ``skipped`` lists Allow statements that matched action and resource but were not
    applied because of a condition; ``notes`` holds warnings (invalid statements,
    unresolved variables); ``reason`` is a sentence for humans.
    """

    def __init__(self, decision, action, resource, reason, statement=None, skipped=None, notes=None):
        self.decision = decision
        self.action = action
        self.resource = resource
        self.reason = reason
        self.statement = statement
        self.skipped = skipped or []
        self.notes = notes or []

    @property
    def allowed(self):
        return self.decision == ALLOW

    @property
    def sid(self):
        return self.statement.sid if self.statement else None

    @property
    def statement_index(self):
        return self.statement.statement_index if self.statement else None

    @property
    def policy_index(self):
        return self.statement.policy_index if self.statement else None

    @property
    def policy_name(self):
        return self.statement.policy_name if self.statement else None

    def to_dict(self):
        return {
            "decision": self.decision,
            "allowed": self.allowed,
            "action": self.action,
            "resource": self.resource,
            "reason": self.reason,
            "statement": self.statement.to_dict() if self.statement else None,
            "skipped": [s.to_dict() for s in self.skipped],
            "notes": list(self.notes),
        }

    def __repr__(self):
        return "EvaluationResult(decision=%r, reason=%r)" % (self.decision, self.reason)


def _glob_regex(pattern, ignore_case):
    key = (pattern, ignore_case)
    compiled = _REGEX_CACHE.get(key)
    if compiled is None:
        parts = []
        for char in pattern:
            if char == "*":
                parts.append(".*")
            elif char == "?":
                parts.append(".")
            else:
                parts.append(re.escape(char))
        compiled = re.compile("^" + "".join(parts) + "$", re.DOTALL | (re.IGNORECASE if ignore_case else 0))
        if len(_REGEX_CACHE) > 2048:
            _REGEX_CACHE.clear()
        _REGEX_CACHE[key] = compiled
    return compiled


def glob_match(pattern, value, ignore_case=False):
    """IAM style wildcard match: ``*`` any run of characters, ``?`` one character."""
    if not isinstance(pattern, str) or not isinstance(value, str):
        return False
    return _glob_regex(pattern, ignore_case).match(value) is not None


def _as_list(value):
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return list(value)
    return [value]


def _lookup_context(context, key):
    """Condition keys are case-insensitive: find ``key`` in ``context``."""
    if not context:
        return False, None
    if key in context:
        return True, context[key]
    lowered = key.lower()
    for name, value in context.items():
        if isinstance(name, str) and name.lower() == lowered:
            return True, value
    return False, None


def _resolve_variable(inner, context):
    """Value of the policy variable ``${inner}`` or None."""
    if inner in ("*", "?", "$"):
        return inner
    name = inner
    default = None
    if "," in inner:
        name, _sep, rest = inner.partition(",")
        rest = rest.strip()
        if len(rest) >= 2 and rest[0] == "'" and rest[-1] == "'":
            default = rest[1:-1]
    found, value = _lookup_context(context, name.strip())
    if found and isinstance(value, str):
        return value
    return default


def _substitute_variables(text, context):
    """Replace ``${...}`` policy variables. Returns (text, unresolved_names)."""
    unresolved = []

    def replace(match):
        value = _resolve_variable(match.group(1), context)
        if value is None:
            unresolved.append(match.group(1).partition(",")[0].strip())
            return match.group(0)
        return value

    return _VARIABLE_RE.sub(replace, text), unresolved


def _variable_pattern_regex(pattern, context, ignore_case):
    """Like _glob_regex, with ``${...}`` replaced by its (literal) value.

    Returns (compiled regex or None, unresolved variable name or None).
    """
    parts = []
    position = 0
    for match in _VARIABLE_RE.finditer(pattern):
        parts.append(_glob_regex(pattern[position:match.start()], ignore_case).pattern[1:-1])
        value = _resolve_variable(match.group(1), context)
        if value is None:
            return None, match.group(1).partition(",")[0].strip()
        parts.append(re.escape(value))
        position = match.end()
    parts.append(_glob_regex(pattern[position:], ignore_case).pattern[1:-1])
    flags = re.DOTALL | (re.IGNORECASE if ignore_case else 0)
    return re.compile("^" + "".join(parts) + "$", flags), None


def _is_unknown(key, unknown_keys):
    """Is ``key`` one the caller could not learn (``unknown_keys``: names, or prefixes + ``*``)?"""
    lowered = key.strip().lower()
    for name in unknown_keys or ():
        name = name.lower()
        if lowered == name or (name.endswith("*") and lowered.startswith(name[:-1])):
            return True
    return False


class _NotUnderstood(Exception):
    """The Condition cannot be read: malformed, or an operator IAM does not document."""


class _Unknowable(Exception):
    """Whether the statement applies depends on a key the caller could not learn."""


# Condition operators ----------------------------------------------------------
# AWS IAM User Guide, "IAM JSON policy elements: Condition operators". Each comparison takes
# one request value and one policy value (strings).

def _str_value(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    return json.dumps(value)


def _str_values(values):
    return [_str_value(v) for v in values]


def _cmp_string(req, pol):
    return req == pol


def _cmp_string_ignore_case(req, pol):
    return req.lower() == pol.lower()


def _cmp_string_like(req, pol):
    return glob_match(pol, req)


def _cmp_bool(req, pol):
    # "Bool": the request value is true or false
    return req.lower() in ("true", "false") and req.lower() == pol.strip().lower()


def _to_float(text):
    try:
        number = float(text)
    except (TypeError, ValueError):
        return None
    if math.isnan(number):
        return None
    return number


_ISO_8601 = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})"
    r"(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?([Zz]|[+-]\d{2}:?\d{2})?)?$")


def _to_epoch(text):
    """Seconds since 1970 of a date: "Date condition operators" accept ISO 8601 (W3C profile)
    and epoch (UNIX) time."""
    text = text.strip()
    if re.match(r"^-?\d+(\.\d+)?$", text):
        return float(text)
    found = _ISO_8601.match(text)
    if not found:
        return None
    year, month, day, hour, minute, second, fraction, zone = found.groups()
    try:
        seconds = calendar.timegm((int(year), int(month), int(day), int(hour or 0), int(minute or 0),
                                   int(second or 0), 0, 0, 0))
    except (ValueError, OverflowError):
        return None
    if fraction:
        seconds += float("0." + fraction)
    if zone and zone not in ("Z", "z"):
        sign = -1 if zone[0] == "+" else 1
        digits = zone[1:].replace(":", "")
        seconds += sign * (int(digits[:2]) * 3600 + int(digits[2:]) * 60)
    return seconds


def _ordered(convert, test):
    def compare(req, pol):
        left = convert(req)
        right = convert(pol)
        if left is None or right is None:
            return False
        return test(left, right)
    return compare


def _cmp_binary(req, pol):
    # "BinaryEquals": the policy holds the value base64-encoded
    try:
        return base64.b64decode(req.encode("ascii"), validate=True) == base64.b64decode(pol.encode("ascii"), validate=True)
    except (binascii.Error, ValueError, UnicodeError):
        return False


def _cmp_ip(req, pol):
    # "IP address condition operators": an address or a CIDR range, IPv4 or IPv6
    try:
        network = ipaddress.ip_network(pol.strip(), strict=False)
        address = ipaddress.ip_address(req.strip())
    except ValueError:
        return False
    return address.version == network.version and address in network


def _cmp_arn(req, pol):
    # "ARN condition operators": each of the six colon-delimited parts is matched on its own,
    # case-sensitively, with * and ? wildcards (ArnEquals and ArnLike alike)
    req_parts = req.split(":", 5)
    pol_parts = pol.split(":", 5)
    if len(req_parts) < 6 or len(pol_parts) < 6:
        return False
    for index in range(6):
        if not glob_match(pol_parts[index], req_parts[index]):
            return False
    return True


# positive operator -> (comparison, policy variables allowed in its values)
_POSITIVE_OPERATORS = {
    "stringequals": (_cmp_string, True),
    "stringequalsignorecase": (_cmp_string_ignore_case, True),
    "stringlike": (_cmp_string_like, True),
    "bool": (_cmp_bool, True),
    "binaryequals": (_cmp_binary, False),
    "ipaddress": (_cmp_ip, False),
    "arnequals": (_cmp_arn, True),
    "arnlike": (_cmp_arn, True),
    "numericequals": (_ordered(_to_float, lambda a, b: a == b), False),
    "numericlessthan": (_ordered(_to_float, lambda a, b: a < b), False),
    "numericlessthanequals": (_ordered(_to_float, lambda a, b: a <= b), False),
    "numericgreaterthan": (_ordered(_to_float, lambda a, b: a > b), False),
    "numericgreaterthanequals": (_ordered(_to_float, lambda a, b: a >= b), False),
    "dateequals": (_ordered(_to_epoch, lambda a, b: a == b), True),
    "datelessthan": (_ordered(_to_epoch, lambda a, b: a < b), True),
    "datelessthanequals": (_ordered(_to_epoch, lambda a, b: a <= b), True),
    "dategreaterthan": (_ordered(_to_epoch, lambda a, b: a > b), True),
    "dategreaterthanequals": (_ordered(_to_epoch, lambda a, b: a >= b), True),
}

# negated operator -> the positive operator it negates
_NEGATED_OPERATORS = {
    "stringnotequals": "stringequals",
    "stringnotequalsignorecase": "stringequalsignorecase",
    "stringnotlike": "stringlike",
    "arnnotequals": "arnequals",
    "arnnotlike": "arnlike",
    "numericnotequals": "numericequals",
    "datenotequals": "dateequals",
    "notipaddress": "ipaddress",
}


def _parse_operator(operator):
    """(set qualifier or None, base operator, if_exists) of a condition operator name."""
    op = operator.strip().lower()
    qualifier = None
    if ":" in op:
        qualifier, _sep, op = op.partition(":")
        if qualifier not in ("forallvalues", "foranyvalue"):
            raise _NotUnderstood("set operator %s is not one IAM documents" % operator)
    if_exists = op.endswith("ifexists")
    if if_exists:
        op = op[: -len("ifexists")]
    if op == "null":
        if qualifier or if_exists:
            raise _NotUnderstood("condition operator %s is not one IAM documents" % operator)
    elif op not in _POSITIVE_OPERATORS and op not in _NEGATED_OPERATORS:
        raise _NotUnderstood("condition operator %s is not one IAM documents" % operator)
    return qualifier, op, if_exists


def _resolved_values(policy_values, context, unknown_keys):
    """Policy values with their variables replaced; a value whose variable has no value
    ("Policy variables with no value") equals nothing and is dropped."""
    resolved = []
    for value in policy_values:
        text, unresolved = _substitute_variables(value, context)
        if not unresolved:
            resolved.append(text)
            continue
        for name in unresolved:
            if _is_unknown(name, unknown_keys):
                raise _Unknowable("policy variable ${%s} depends on a key the caller could not learn" % name)
    return resolved


def _clause_holds(qualifier, op, if_exists, key, raw_values, context, use_variables, unknown_keys):
    policy_values = _str_values(_as_list(raw_values))
    found, value = _lookup_context(context, key)
    request_values = _str_values(_as_list(value)) if found and value is not None else []
    if not request_values and _is_unknown(key, unknown_keys):
        raise _Unknowable("condition key %s is not known to the caller" % key)
    if op == "null":
        # "Condition operator to check existence of condition keys"
        wanted = [v.lower() for v in policy_values]
        absent = not request_values
        return ("true" in wanted and absent) or ("false" in wanted and not absent)
    negated = op in _NEGATED_OPERATORS
    if not request_values:
        # "...IfExists": true when the key is absent. Set operators: "ForAllValues" is true,
        # "ForAnyValue" false on an absent or empty key. Otherwise the key being absent makes
        # the operator false, a negated operator true.
        if if_exists or qualifier == "forallvalues":
            return True
        if qualifier == "foranyvalue":
            return False
        return negated
    compare, variables_allowed = _POSITIVE_OPERATORS[_NEGATED_OPERATORS.get(op, op)]
    if use_variables and variables_allowed:
        policy_values = _resolved_values(policy_values, context, unknown_keys)

    def matches(request_value):
        return any(compare(request_value, p) for p in policy_values)

    if qualifier == "forallvalues":
        return all(matches(r) != negated for r in request_values)
    if qualifier == "foranyvalue":
        return any(matches(r) != negated for r in request_values)
    hit = any(matches(r) for r in request_values)
    return not hit if negated else hit


def _evaluate_condition_block(condition, context, use_variables, unknown_keys=None):
    """True/False; raise _NotUnderstood (cannot be read) or _Unknowable (needs an unknown key).

    Every operator and every key must hold ("Condition with multiple context keys or values"):
    one clause that is false decides, even when another one is unknowable.
    """
    if not isinstance(condition, dict):
        raise _NotUnderstood("Condition is not a mapping")
    unknowable = None
    for operator, clauses in condition.items():
        if not isinstance(clauses, dict):
            raise _NotUnderstood("condition operator %s has no key/value mapping" % operator)
        qualifier, op, if_exists = _parse_operator(operator)
        for key, raw_values in clauses.items():
            try:
                if not _clause_holds(qualifier, op, if_exists, key, raw_values, context, use_variables,
                                     unknown_keys):
                    return False
            except _Unknowable as exc:
                unknowable = unknowable or exc
    if unknowable is not None:
        raise unknowable
    return True


# Documents --------------------------------------------------------------------

def _load_document(document):
    if isinstance(document, (bytes, bytearray)):
        document = document.decode("utf-8")
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except ValueError as exc:
            raise PolicyEvaluationError("policy document is not valid JSON: %s" % exc)
    if not isinstance(document, dict):
        raise PolicyEvaluationError("policy document must be a JSON object")
    return document


def _normalise_policies(policies):
    """Yield (name, document) pairs from the accepted input shapes."""
    if isinstance(policies, (str, bytes, bytearray, dict)):
        policies = [policies]
    result = []
    for item in policies or []:
        name = None
        document = item
        if isinstance(item, (tuple, list)) and len(item) == 2:
            name, document = item
        elif isinstance(item, dict) and "document" in item and "Statement" not in item:
            name = item.get("name")
            document = item["document"]
        result.append((name, _load_document(document)))
    return result


def _matches_any(patterns, value, ignore_case, use_variables, context, notes, label, unknown_keys=None):
    unknowable = None
    for pattern in patterns:
        if not isinstance(pattern, str):
            notes.append("%s: ignored a non-string pattern %r" % (label, pattern))
            continue
        if use_variables and "${" in pattern:
            regex, unresolved = _variable_pattern_regex(pattern, context, ignore_case)
            if unresolved is not None:
                if _is_unknown(unresolved, unknown_keys):
                    unknowable = unknowable or _Unknowable(
                        "policy variable ${%s} in %s depends on a key the caller could not learn" % (unresolved, pattern))
                    continue
                notes.append("%s: policy variable ${%s} cannot be resolved, pattern does not match" % (label, unresolved))
                continue
            if regex.match(value):
                return True
            continue
        if glob_match(pattern, value, ignore_case=ignore_case):
            return True
    if unknowable is not None:
        raise unknowable
    return False


def _statement_targets(statement, action, resource, use_variables, context, notes, label, unknown_keys=None):
    """Does the statement name this action and resource? (may raise _Unknowable)"""
    if "Action" in statement and "NotAction" in statement:
        notes.append("%s: has both Action and NotAction, ignored" % label)
        return False
    if "Action" in statement:
        if not _matches_any(_as_list(statement["Action"]), action, True, False, context, notes, label):
            return False
    elif "NotAction" in statement:
        if _matches_any(_as_list(statement["NotAction"]), action, True, False, context, notes, label):
            return False
    else:
        notes.append("%s: has neither Action nor NotAction, ignored" % label)
        return False

    if "Resource" in statement and "NotResource" in statement:
        notes.append("%s: has both Resource and NotResource, ignored" % label)
        return False
    if "Resource" in statement:
        return _matches_any(_as_list(statement["Resource"]), resource, False, use_variables, context, notes, label,
                            unknown_keys)
    if "NotResource" in statement:
        return not _matches_any(_as_list(statement["NotResource"]), resource, False, use_variables, context, notes,
                                label, unknown_keys)
    notes.append("%s: has neither Resource nor NotResource, ignored" % label)
    return False


class _Scan(object):
    """The statements of one policy type (identity, permissions boundary, session policy)."""

    def __init__(self, kind, documents):
        self.kind = kind
        self.documents = documents
        self.allow = None
        self.deny = None
        self.maybe_allow = None
        self.maybe_deny = None
        self.skipped = []


def _statement_applies(statement, action, resource, use_variables, context, notes, label, unknown_keys):
    """True, False, or a string: why it cannot be told (raises _NotUnderstood for the Condition)."""
    why = None
    try:
        if not _statement_targets(statement, action, resource, use_variables, context, notes, label, unknown_keys):
            return False
    except _Unknowable as exc:
        why = str(exc)
    condition = statement.get("Condition")
    if condition is not None:
        try:
            if not _evaluate_condition_block(condition, context, use_variables, unknown_keys):
                return False
        except _Unknowable as exc:
            why = why or str(exc)
    return why if why else True


def _scan(scan, action, resource, context, notes, unknown_keys):
    for policy_index, (name, document) in enumerate(scan.documents):
        if name is None and scan.kind != "identity":
            name = scan.kind
        use_variables = document.get("Version") in _SUPPORTED_VERSIONS_WITH_VARIABLES
        statements = document.get("Statement")
        if statements is None:
            notes.append("policy %s has no Statement" % (name or "#%d" % policy_index))
            continue
        if isinstance(statements, dict):
            statements = [statements]
        if not isinstance(statements, list):
            notes.append("policy %s: Statement is neither an object nor a list" % (name or "#%d" % policy_index))
            continue
        for statement_index, statement in enumerate(statements):
            if not isinstance(statement, dict):
                notes.append("policy %s statement %d is not an object, ignored" % (name or "#%d" % policy_index, statement_index))
                continue
            effect = statement.get("Effect")
            match = StatementMatch(policy_index, name, statement_index, statement.get("Sid"), effect)
            label = match.label()
            if effect not in ("Allow", "Deny"):
                notes.append("%s: Effect %r is not Allow or Deny, ignored" % (label, effect))
                continue
            try:
                applies = _statement_applies(statement, action, resource, use_variables, context, notes, label,
                                             unknown_keys)
            except _NotUnderstood as exc:
                if effect == "Allow":  # it cannot grant anything
                    match.note = "not applied: %s" % exc
                    scan.skipped.append(match)
                    continue
                applies = "its Condition cannot be evaluated: %s" % exc
            if applies is False:
                named = _statement_names(statement, action, resource, use_variables, context)
                if effect == "Allow" and "Condition" in statement and named:
                    match.note = "not applied: its Condition does not hold"
                    scan.skipped.append(match)
                continue
            if applies is True:
                if effect == "Deny":
                    scan.deny = scan.deny or match
                else:
                    scan.allow = scan.allow or match
                continue
            match.note = "undetermined: %s" % applies
            if effect == "Deny":
                scan.maybe_deny = scan.maybe_deny or match
            else:
                scan.maybe_allow = scan.maybe_allow or match


def _statement_names(statement, action, resource, use_variables, context):
    """Action and resource match (for the report of Allow statements a Condition kept out)."""
    try:
        return _statement_targets(statement, action, resource, use_variables, context, [], "")
    except _Unknowable:
        return False


def evaluate(policies, action, resource, context=None, boundary=None, session_policy=None, unknown_keys=None):
    """Evaluate ``policies`` (identity policies) for ``action`` on ``resource``.

    ``policies``: one document or a list; each item is a JSON string, a dict, a
    ``(name, document)`` pair or ``{"name": ..., "document": ...}``. ``boundary`` and
    ``session_policy``: one document in the same shapes, or None. ``context``: mapping of
    condition keys (``aws:username``...) to values, the request context used for conditions
    and policy variables. ``unknown_keys``: keys the caller could not learn (see the module
    docstring). Returns an :class:`EvaluationResult` whose decision is ``allow``,
    ``explicit_deny``, ``implicit_deny`` or ``undetermined``.
    """
    context = context or {}
    scans = [_Scan("identity", _normalise_policies(policies))]
    if boundary is not None:
        scans.append(_Scan("permissions boundary", _normalise_policies([boundary])))
    if session_policy is not None:
        scans.append(_Scan("session policy", _normalise_policies([session_policy])))
    notes = []
    for scan in scans:
        _scan(scan, action, resource, context, notes, unknown_keys)
    skipped = [m for scan in scans for m in scan.skipped]
    target = "%s on %s" % (action, resource)

    # "Policy evaluation logic": an explicit Deny in any policy type decides.
    for scan in scans:
        if scan.deny is not None:
            reason = "explicit Deny in %s for %s" % (scan.deny.label(), target)
            return EvaluationResult(EXPLICIT_DENY, action, resource, reason, scan.deny, skipped, notes)
    for scan in scans:
        if scan.maybe_deny is not None:
            reason = "undetermined: the Deny in %s may apply to %s (%s)" % (
                scan.maybe_deny.label(), target, scan.maybe_deny.note.split(": ", 1)[-1])
            return EvaluationResult(UNDETERMINED, action, resource, reason, scan.maybe_deny, skipped, notes)
    # Every policy type present must allow.
    for scan in scans:
        if scan.allow is None and scan.maybe_allow is None:
            return EvaluationResult(IMPLICIT_DENY, action, resource, _implicit_reason(scan, target), None, skipped,
                                    notes)
    for scan in scans:
        if scan.allow is None:
            reason = "undetermined: the Allow in %s may or may not apply to %s (%s)" % (
                scan.maybe_allow.label(), target, scan.maybe_allow.note.split(": ", 1)[-1])
            return EvaluationResult(UNDETERMINED, action, resource, reason, scan.maybe_allow, skipped, notes)
    allow = scans[0].allow
    reason = "allowed by %s for %s" % (allow.label(), target)
    return EvaluationResult(ALLOW, action, resource, reason, allow, skipped, notes)


def _implicit_reason(scan, target):
    if scan.kind != "identity":
        return "implicit deny: the %s does not allow %s" % (scan.kind, target)
    if not scan.documents:
        return "implicit deny: no policies for %s" % target
    if scan.skipped:
        return "implicit deny: no statement allows %s (%d Allow statement(s) not applied because of a Condition: %s)" % (
            target, len(scan.skipped), "; ".join("%s %s" % (s.label(), s.note) for s in scan.skipped))
    return "implicit deny: no statement allows %s" % target
