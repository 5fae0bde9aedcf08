# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The collection's policy evaluator against the shared corpus tests/policy_corpus/.

Each case names the AWS documentation that decides it. The product's evaluator is a
diagnostic aid: for every case it must give the documented decision or say
``undetermined`` with a reason -- never a different decision. (The lab's own evaluator
must agree with every case: lab/tests/test_policy_corpus.py.)
"""

import os

import pytest
import yaml

from ansible_collections.dbauth.rds_iam.plugins.module_utils._policy_evaluator import (
    ALLOW,
    EXPLICIT_DENY,
    IMPLICIT_DENY,
    UNDETERMINED,
    evaluate,
)

# tests/unit/plugins/module_utils/ -> tests/policy_corpus/ (also inside the ansible-test view,
# which copies the whole tree)
CORPUS = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, os.pardir, os.pardir, "policy_corpus")
AS_CORPUS = {ALLOW: "allowed", EXPLICIT_DENY: "explicit_deny", IMPLICIT_DENY: "implicit_deny"}


def _load():
    cases = []
    for name in sorted(os.listdir(CORPUS)):
        if name.endswith(".yaml"):
            with open(os.path.join(CORPUS, name)) as handle:
                cases.extend(dict(case, file=name) for case in yaml.safe_load(handle)["cases"])
    return cases


CASES = _load()


def _named(policy):
    return None if policy is None else (policy["name"], policy["document"])


def test_the_corpus_is_found():
    assert len(CASES) >= 80
    assert len({c["id"] for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_product_evaluator_never_contradicts_the_corpus(case):
    result = evaluate([_named(p) for p in case["identity"]], case["action"], case["resource"], case["context"],
                      boundary=_named(case.get("boundary")), session_policy=_named(case.get("session_policy")))
    where = "%s %s (%s: %s)" % (case["file"], case["id"], case["doc"]["page"], case["doc"]["heading"])
    if result.decision == UNDETERMINED:
        assert result.reason, where
        return
    assert AS_CORPUS[result.decision] == case["expected"], "%s: %s" % (where, result.reason)
    if "decided_by" in case:
        assert result.sid == case["decided_by"], "%s: decided by %s" % (where, result.statement and result.statement.label())
