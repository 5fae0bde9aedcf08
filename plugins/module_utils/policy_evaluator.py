# -*- coding: utf-8 -*-
# Copyright: dbauth.rds_iam contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Evaluate IAM identity policies for one action on one resource.

A small, dependency free evaluator of the part of the IAM policy language that
matters for ``rds-db:connect``: Allow/Deny, Action/NotAction, Resource/NotResource,
``*`` and ``?`` wildcards, policy variables and a handful of condition operators.

Rules (as in IAM):

* an explicit ``Deny`` that matches wins over every ``Allow``;
* without a matching ``Allow`` the request is implicitly denied;
* action names are matched case-insensitively, resources case-sensitively.

Conditions: an operator or a condition key the evaluator cannot resolve makes the
statement *not understood*. A not understood ``Allow`` does not apply (it cannot
grant access); a not understood ``Deny`` is assumed to apply (the safe side), and
the result says so.
"""

import json
import re

ALLOW = "allow"
EXPLICIT_DENY = "explicit_deny"
IMPLICIT_DENY = "implicit_deny"

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

    ``decision`` is one of ``allow``, ``explicit_deny`` or ``implicit_deny``;
    ``statement`` is the deciding :class:`StatementMatch` (None for an implicit
    deny); ``skipped`` lists Allow statements that matched action and resource but
    were not applied because of a condition; ``notes`` holds warnings (invalid
    statements, unresolved variables); ``reason`` is a sentence for humans.
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


# Condition operators ----------------------------------------------------------

def _str_value(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    return json.dumps(value)


def _str_values(values):
    return [_str_value(v) for v in values]


def _op_string_equals(ctx_values, policy_values):
    return any(c == p for c in ctx_values for p in policy_values)


def _op_string_equals_ignore_case(ctx_values, policy_values):
    return any(c.lower() == p.lower() for c in ctx_values for p in policy_values)


def _op_string_like(ctx_values, policy_values):
    return any(glob_match(p, c) for c in ctx_values for p in policy_values)


def _op_bool(ctx_values, policy_values):
    return any(c.lower() == p.lower() for c in ctx_values for p in policy_values)


_POSITIVE_OPERATORS = {
    "stringequals": _op_string_equals,
    "stringequalsignorecase": _op_string_equals_ignore_case,
    "stringlike": _op_string_like,
    "arnequals": _op_string_like,
    "arnlike": _op_string_like,
    "bool": _op_bool,
}

_NEGATED_OPERATORS = {
    "stringnotequals": "stringequals",
    "stringnotequalsignorecase": "stringequalsignorecase",
    "stringnotlike": "stringlike",
    "arnnotequals": "arnequals",
    "arnnotlike": "arnlike",
}


class _NotUnderstood(Exception):
    pass


def _evaluate_condition_block(condition, context, use_variables):
    """True/False, or raise _NotUnderstood with a short explanation."""
    if not isinstance(condition, dict):
        raise _NotUnderstood("Condition is not a mapping")
    for operator, clauses in condition.items():
        if not isinstance(clauses, dict):
            raise _NotUnderstood("condition operator %s has no key/value mapping" % operator)
        op = operator.lower()
        if op.startswith("forallvalues:") or op.startswith("foranyvalue:"):
            raise _NotUnderstood("set operator %s is not supported" % operator)
        if_exists = False
        if op.endswith("ifexists") and op != "null":
            if_exists = True
            op = op[: -len("ifexists")]
        for key, raw_values in clauses.items():
            policy_values = _str_values(_as_list(raw_values))
            found, value = _lookup_context(context, key)
            if op == "null":
                wanted = [v.lower() for v in policy_values]
                is_null = not found or value is None
                if ("true" in wanted and is_null) or ("false" in wanted and not is_null):
                    continue
                return False
            if op not in _POSITIVE_OPERATORS and op not in _NEGATED_OPERATORS:
                raise _NotUnderstood("condition operator %s is not supported" % operator)
            if not found or value is None:
                if if_exists:
                    continue
                # The key is unknown to the evaluator: it cannot say whether the
                # request would carry it, so the statement is not understood.
                raise _NotUnderstood("condition key %s is not known to the evaluator" % key)
            ctx_values = _str_values(_as_list(value))
            if use_variables:
                resolved = []
                for pv in policy_values:
                    text, unresolved = _substitute_variables(pv, context)
                    if unresolved:
                        raise _NotUnderstood("policy variable %s in a condition cannot be resolved" % unresolved[0])
                    resolved.append(text)
                policy_values = resolved
            if op in _NEGATED_OPERATORS:
                positive = _POSITIVE_OPERATORS[_NEGATED_OPERATORS[op]]
                matched = not positive(ctx_values, policy_values)
            else:
                matched = _POSITIVE_OPERATORS[op](ctx_values, policy_values)
            if not matched:
                return False
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


def _matches_any(patterns, value, ignore_case, use_variables, context, notes, label):
    for pattern in patterns:
        if not isinstance(pattern, str):
            notes.append("%s: ignored a non-string pattern %r" % (label, pattern))
            continue
        if use_variables and "${" in pattern:
            regex, unresolved = _variable_pattern_regex(pattern, context, ignore_case)
            if unresolved is not None:
                notes.append("%s: policy variable ${%s} cannot be resolved, pattern does not match" % (label, unresolved))
                continue
            if regex.match(value):
                return True
            continue
        if glob_match(pattern, value, ignore_case=ignore_case):
            return True
    return False


def _statement_targets(statement, action, resource, use_variables, context, notes, label):
    """Does the statement name this action and resource?"""
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
        return _matches_any(_as_list(statement["Resource"]), resource, False, use_variables, context, notes, label)
    if "NotResource" in statement:
        return not _matches_any(_as_list(statement["NotResource"]), resource, False, use_variables, context, notes, label)
    notes.append("%s: has neither Resource nor NotResource, ignored" % label)
    return False


def evaluate(policies, action, resource, context=None):
    """Evaluate identity ``policies`` for ``action`` on ``resource``.

    ``policies``: one document or a list; each item is a JSON string, a dict, a
    ``(name, document)`` pair or ``{"name": ..., "document": ...}``. ``context``:
    optional mapping of condition keys (``aws:username``...) to values, used for
    conditions and policy variables. Returns an :class:`EvaluationResult`.
    """
    context = context or {}
    documents = _normalise_policies(policies)
    notes = []
    skipped = []
    first_allow = None
    first_deny = None
    assumed_deny = None

    for policy_index, (name, document) in enumerate(documents):
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
            sid = statement.get("Sid")
            match = StatementMatch(policy_index, name, statement_index, sid, effect)
            label = match.label()
            if effect not in ("Allow", "Deny"):
                notes.append("%s: Effect %r is not Allow or Deny, ignored" % (label, effect))
                continue
            if not _statement_targets(statement, action, resource, use_variables, context, notes, label):
                continue
            condition = statement.get("Condition")
            if condition is not None:
                try:
                    applies = _evaluate_condition_block(condition, context, use_variables)
                except _NotUnderstood as exc:
                    if effect == "Allow":
                        match.note = "not applied: %s" % exc
                        skipped.append(match)
                        continue
                    match.note = "assumed to apply: %s" % exc
                    if assumed_deny is None:
                        assumed_deny = match
                    continue
                if not applies:
                    if effect == "Allow":
                        match.note = "not applied: its Condition does not hold"
                        skipped.append(match)
                    continue
            if effect == "Deny":
                if first_deny is None:
                    first_deny = match
            elif first_allow is None:
                first_allow = match

    target = "%s on %s" % (action, resource)
    deny = first_deny or assumed_deny
    if deny is not None:
        if deny is first_deny:
            reason = "explicit Deny in %s for %s" % (deny.label(), target)
        else:
            reason = ("explicit Deny in %s for %s (its Condition could not be evaluated: %s)"
                      % (deny.label(), target, deny.note.split(": ", 1)[-1]))
        return EvaluationResult(EXPLICIT_DENY, action, resource, reason, deny, skipped, notes)
    if first_allow is not None:
        reason = "allowed by %s for %s" % (first_allow.label(), target)
        return EvaluationResult(ALLOW, action, resource, reason, first_allow, skipped, notes)
    if not documents:
        reason = "implicit deny: no policies for %s" % target
    elif skipped:
        reason = "implicit deny: no statement allows %s (%d Allow statement(s) not applied because of a Condition: %s)" % (
            target, len(skipped), "; ".join("%s %s" % (s.label(), s.note) for s in skipped))
    else:
        reason = "implicit deny: no statement allows %s" % target
    return EvaluationResult(IMPLICIT_DENY, action, resource, reason, None, skipped, notes)


def rds_db_user_arn(region, account_id, resource_id, db_user, partition="aws"):
    """The resource ``rds-db:connect`` is evaluated on."""
    return "arn:%s:rds-db:%s:%s:dbuser:%s/%s" % (partition, region, account_id, resource_id, db_user)
