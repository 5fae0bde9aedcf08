#!/usr/bin/env python
"""Compare two oob.py states: ``same A B`` (check mode wrote nothing), or ``applied STATE`` (the topology is granted:
IAM on everywhere, one rds-db ARN per source, replica and secondary, each in its own Region, users on the sources),
or ``verified REPORT`` (rds_iam_verify_report: a login as rt_app over TLS through every endpoint, replica and
secondary), or ``reported STATE REPORT`` (rds_iam_access_report after the roles: every replica and the secondary in
the matrix with the resource id and Region boto3 reads, the role allowed as rt_app on each, no finding about them)."""

from __future__ import annotations

import json
import sys


def load(path: str) -> dict:
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


# The members of the target's data model and their sources (group_vars/all/data_model.yml).
MEMBERS = {"rt-pg-replica": "rt-pg", "rt-pg-west": "rt-pg", "rt-my-replica": "rt-my", "rt-aurora-west": "rt-aurora"}


def reported(state: dict, report: dict) -> None:
    ids = state["ids"]
    databases = {(d["id"], d["region"]): d for d in report["databases"]}
    for member, source in MEMBERS.items():
        where = (member, ids[member]["region"])
        assert where in databases, f"{where} is not in the report's databases: {sorted(databases)}"
        db = databases[where]
        assert db["resource_id"] == ids[member]["resource_id"] and db["member_of"] == source, db
        assert db["iam_enabled"] and db["iam_users"] == databases[(source, ids[source]["region"])]["iam_users"], db
        rows = [r for r in report["matrix"] if (r["database"], r["region"]) == where and r["db_user"] == "rt_app"
                and r["principal"] == "dbauth-rt-app"]
        assert len(rows) == 1 and rows[0]["allowed"] and rows[0]["member_of"] == source, rows
        assert f":{ids[member]['region']}:" in rows[0]["reason"] and ids[member]["resource_id"] in rows[0]["reason"], rows
    member_ids = {ids[m]["resource_id"] for m in MEMBERS}
    # The lab's admin user may connect anywhere (Resource "*": its own wildcard_grant): that it can also connect to the
    # members is what principal_not_in_model says of it; any other finding naming a member is a failure.
    everywhere = {f["objects"]["principal_arn"] for f in report["findings"]
                  if f["code"] == "wildcard_grant" and f["objects"].get("resource") == "*"}
    about = [f for f in report["findings"] if f["objects"].get("database") in MEMBERS or f["objects"].get("member_of")
             or any(i in json.dumps(f) for i in member_ids)
             or (any(p.split("/")[0] in MEMBERS for p in f["objects"].get("pairs") or [])
                 and not (f["code"] == "principal_not_in_model" and f["objects"]["principal_arn"] in everywhere))]
    assert not about, f"findings about the replicas and the secondary: {about}"
    assert report["aws_calls"]["rds"] >= 4, report["aws_calls"]  # the call's Region and us-west-2, two reads each


def main(mode: str, *paths: str) -> None:
    if mode == "same":
        before, after = load(paths[0]), load(paths[1])
        assert before == after, f"check mode changed the lab:\nbefore {before}\nafter  {after}"
        return
    if mode == "reported":
        reported(load(paths[0]), load(paths[1]))
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
