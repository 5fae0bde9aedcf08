"""The lab's IAM evaluator (lab/iam_policy.py) against the shared corpus tests/policy_corpus/.

Every case states the decision AWS's documentation gives (page + heading in the case);
the lab must agree with every one. The product's evaluator is checked against the same
corpus by tests/unit/plugins/module_utils/test_policy_corpus.py, not against this code.
"""

from __future__ import annotations

import pathlib
from typing import Any

import pytest
import yaml

from rds_iam_lab import iam_policy

CORPUS = pathlib.Path(__file__).resolve().parents[2] / "tests" / "policy_corpus"
DECISIONS = {iam_policy.ALLOWED, iam_policy.EXPLICIT_DENY, iam_policy.IMPLICIT_DENY}
REQUIRED = ("id", "doc", "identity", "context", "action", "resource", "expected")


def corpus_cases() -> list[dict[str, Any]]:
    cases = []
    for path in sorted(CORPUS.glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        for case in data["cases"]:
            cases.append(dict(case, file=path.name))
    return cases


CASES = corpus_cases()


def test_corpus_shape() -> None:
    assert len(CASES) >= 80
    ids = [c["id"] for c in CASES]
    assert len(ids) == len(set(ids)), "case ids must be unique"
    for case in CASES:
        missing = [k for k in REQUIRED if k not in case]
        assert not missing, f"{case.get('id')}: missing {missing}"
        assert case["expected"] in DECISIONS, case["id"]
        assert case["doc"].get("page") and case["doc"].get("heading"), case["id"]
        assert isinstance(case["identity"], list), case["id"]


def _pair(policy: dict[str, Any] | None) -> tuple[str, Any] | None:
    return None if policy is None else (policy["name"], policy["document"])


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_lab_evaluator_agrees(case: dict[str, Any]) -> None:
    decision = iam_policy.evaluate(
        [_pair(p) for p in case["identity"]], case["action"], case["resource"], case["context"],
        boundary=_pair(case.get("boundary")), session_policy=_pair(case.get("session_policy")))
    where = f"{case['file']} {case['id']} ({case['doc']['page']}: {case['doc']['heading']})"
    assert decision.decision == case["expected"], f"{where}: {decision.reason}; notes {decision.notes}"
    if "decided_by" in case:
        assert decision.sid == case["decided_by"], f"{where}: decided by {decision.statement}"
    if decision.decision == iam_policy.IMPLICIT_DENY:
        assert decision.statement is None
    else:
        assert decision.statement is not None and decision.policy_name
