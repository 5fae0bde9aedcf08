#!/usr/bin/env python
"""Compare two oob.py states: ``same A B`` (check mode wrote nothing), or ``applied STATE`` (the topology is granted:
IAM on everywhere, one rds-db ARN per source, replica and secondary, each in its own Region, users on the sources),
or ``verified REPORT`` (rds_iam_verify_report: a login as rt_app over TLS through every endpoint, replica and
secondary)."""

from __future__ import annotations

import json
import sys


def load(path: str) -> dict:
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def main(mode: str, *paths: str) -> None:
    if mode == "same":
        before, after = load(paths[0]), load(paths[1])
        assert before == after, f"check mode changed the lab:\nbefore {before}\nafter  {after}"
        return
    if mode == "verified":
        rows = load(paths[0])
        assert sorted(row["database"] for row in rows) == [
            "rt-aurora", "rt-aurora via reader", "rt-aurora via rt-aurora-west", "rt-my", "rt-my via rt-my-replica",
            "rt-pg", "rt-pg via rt-pg-replica", "rt-pg via rt-pg-west"], rows
        assert all(row["connected"] and row["granted"] and row["current_user"] == "rt_app" for row in rows), rows
        assert all((row["tls_version"] or "").startswith("TLSv1.") for row in rows), rows
        return
    state = load(paths[0])
    assert all(state["flags"].values()), f"IAM authentication is not on everywhere: {state['flags']}"
    assert state["role"], "the role dbauth-rt-app does not exist"
    regions = {r.split(":")[3] for r in state["resources"]}
    assert len(state["resources"]) == 7, state["resources"]  # 3 sources + 3 replicas + 1 secondary
    assert all(r.endswith("/rt_app") for r in state["resources"]), state["resources"]
    assert len(regions) == 2 and "us-west-2" in regions, regions
    assert sum(":us-west-2:" in r for r in state["resources"]) == 2, state["resources"]
    assert state["users"] == {"rt-pg": 1, "rt-aurora": 1, "rt-my": 1}, state["users"]


if __name__ == "__main__":
    main(*sys.argv[1:])
