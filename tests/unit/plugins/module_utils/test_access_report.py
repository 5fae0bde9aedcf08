# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The access report's logic on hand-made inputs: the matrix (policy decision, IAM flag, boundary) and each
finding code, with the objects it names, and nothing else."""

from __future__ import annotations

import pytest

from ansible_collections.dbauth.rds_iam.plugins.module_utils import _access_report as report

ACCOUNT = "111122223333"
REGION = "eu-west-1"
PREFIX = "arn:aws:rds-db:%s:%s:dbuser:" % (REGION, ACCOUNT)


def arn(resource_id, user):
    return PREFIX + resource_id + "/" + user


def allow(*resources, effect="Allow"):
    return {"Version": "2012-10-17", "Statement": [{"Effect": effect, "Action": "rds-db:connect", "Resource": list(resources)}]}


def role(name, *documents, boundary=None):
    return {"arn": "arn:aws:iam::%s:role/%s" % (ACCOUNT, name), "name": name, "type": "role", "path": "/", "tags": {},
            "policies": [("p%d" % i, d) for i, d in enumerate(documents)], "boundary": boundary}


def database(ident, resource_id, iam_users=(), iam_enabled=True, in_model=True, model_users=(), conflicts=(), pending=None,
             region=REGION, member_of=None, member_role=None):
    catalog = {"iam_users": [{"name": u} for u in iam_users], "password_users": [], "protected_users": [{"name": "admin"}],
               "rds_ad_conflicts": list(conflicts), "queries": 2}
    return {"id": ident, "kind": "instance", "engine": "postgres", "in_model": in_model, "missing": False,
            "resource_id": resource_id, "iam_enabled": iam_enabled, "iam_pending": pending, "endpoint": None,
            "catalog": catalog, "catalog_error": None, "model_users": list(model_users), "region": region,
            "member_of": member_of, "member_role": member_role}


def run(databases, principals, model_principals=None, resource_ids=None, switched=None):
    """The matrix and findings; ``resource_ids``: {Region: ids} of the Regions read, default each database's id."""
    evaluator = report.Evaluator(REGION, ACCOUNT, "aws")
    rows = report.matrix(databases, principals, evaluator)
    if resource_ids is None:
        resource_ids = {}
        for db in databases:
            resource_ids.setdefault(db["region"], set()).add(db["resource_id"])
    names = report.model_principal_names(model_principals, [{"users": db["model_users"]} for db in databases])
    return rows, report.findings(databases, principals, names, rows, resource_ids, evaluator, switched)


def switchover(old_id, new_id, name="pg"):
    """What _blue_green.switched_resource_ids gives for a completed switchover of `name`."""
    return {old_id: {"identifier": "bgd-1", "name": name + "-upgrade", "status": "SWITCHOVER_COMPLETED",
                     "switched_over": True,
                     "source": {"kind": "instance", "identifier": name + "-old1", "resource_id": old_id},
                     "target": {"kind": "instance", "identifier": name, "resource_id": new_id}}}


def keys(found):
    return sorted((f["code"], f["objects"].get("database"), f["objects"].get("db_user"),
                   (f["objects"].get("principal_arn") or "").rsplit("/", 1)[-1] or f["objects"].get("principal"))
                  for f in found)


def test_a_clean_model_has_no_finding_and_a_full_matrix():
    model = [{"name": "app", "principals": ["app-role"]}, {"name": "report", "principals": ["report-role"]}]
    dbs = [database("pg", "db-A", ["app", "report"], model_users=model)]
    principals = [role("app-role", allow(arn("db-A", "app"))), role("report-role", allow(arn("db-A", "report")))]
    rows, found = run(dbs, principals, ["app-role", "report-role"])
    assert found == []
    assert [(r["principal"], r["db_user"], r["allowed"]) for r in rows] == [
        ("app-role", "app", True), ("report-role", "app", False), ("app-role", "report", False), ("report-role", "report", True)]
    assert all(r["decided_by"] == "local" for r in rows)
    assert rows[1]["decision"] == "implicit_deny" and rows[1]["reason"] == report.NO_ALLOW


def test_iam_off_denies_the_login_and_is_a_high_finding():
    dbs = [database("pg", "db-A", ["app"], iam_enabled=False, model_users=[{"name": "app", "principals": ["app-role"]}])]
    rows, found = run(dbs, [role("app-role", allow(arn("db-A", "app")))], ["app-role"])
    assert rows[0]["allowed"] is False and rows[0]["decision"] == "allow"
    assert "IAM authentication is off on pg" in rows[0]["reason"]
    assert keys(found) == [("iam_auth_off", "pg", None, None)]
    assert found[0]["severity"] == "high" and found[0]["objects"]["db_users"] == ["app"]


def test_a_pending_change_is_reported_even_when_the_flag_reads_on():
    dbs = [database("pg", "db-A", ["app"], pending=False, model_users=[{"name": "app", "principals": ["r"]}])]
    _rows, found = run(dbs, [role("r", allow(arn("db-A", "app")))], ["r"])
    assert keys(found) == [("iam_auth_off", "pg", None, None)]
    assert "is on, a change to off is pending" in found[0]["message"]


def test_explicit_deny_and_boundary():
    deny = allow(arn("db-A", "app"), effect="Deny")
    principals = [role("denied", allow(PREFIX + "db-A/*"), deny),
                  role("bounded", allow(arn("db-A", "app")), boundary=("limit", allow(arn("db-B", "x"))))]
    rows, _found = run([database("pg", "db-A", ["app"])], principals)
    decisions = dict((r["principal"], (r["allowed"], r["decision"])) for r in rows)
    assert decisions == {"denied": (False, "explicit_deny"), "bounded": (False, "implicit_deny")}
    assert "permissions boundary limit" in [r for r in rows if r["principal"] == "bounded"][0]["reason"]


def test_every_finding_code_once():
    dbs = [
        database("pg", "db-A", ["app", "orphan", "both", "extra"], conflicts=["both"],
                 model_users=[{"name": "app", "principals": ["app-role"]}, {"name": "missing", "principals": ["app-role"]},
                              {"name": "gone", "principals": ["ghost-role"]}]),
    ]
    principals = [
        role("app-role", allow(arn("db-A", "app"), arn("db-A", "nouser"), arn("db-A", "extra"), arn("db-A", "both"))),
        role("wide-role", allow(PREFIX + "db-*/app")),
        role("stale-role", allow(arn("db-OLD", "app"))),
        role("moved-role", allow(arn("db-BLUE", "app"))),
    ]
    _rows, found = run(dbs, principals, ["app-role", "stale-role", "moved-role"], resource_ids={REGION: {"db-A", "db-BLUE"}},
                       switched=switchover("db-BLUE", "db-A"))
    assert keys(found) == sorted([
        ("rds_iam_and_rds_ad", "pg", "both", None),
        ("stale_resource_id", None, None, "stale-role"),
        ("switched_over_resource_id", "pg", None, "moved-role"),
        ("grant_user_missing", "pg", "nouser", "app-role"),
        ("model_grant_missing", "pg", "gone", "ghost-role"),
        ("model_grant_missing", "pg", "missing", "app-role"),
        ("model_user_missing", "pg", "gone", None),
        ("model_user_missing", "pg", "missing", None),
        ("principal_not_in_model", None, None, "wide-role"),
        ("wildcard_grant", None, None, "wide-role"),
        ("iam_user_unusable", "pg", "orphan", None),
        ("unmodelled_grant", "pg", "both", "app-role"),
        ("unmodelled_grant", "pg", "extra", "app-role"),
        ("unmodelled_user", "pg", "both", None),
        ("unmodelled_user", "pg", "extra", None),
        ("unmodelled_user", "pg", "orphan", None),
    ])
    assert [f["severity"] for f in found] == sorted((f["severity"] for f in found), key=report.SEVERITY_ORDER.index)
    assert set(f["code"] for f in found) | {"iam_auth_off"} == set(report.FINDINGS)


def test_a_policy_left_on_the_old_blue_after_a_switchover():
    # the name pg now holds the green's id db-GREEN; the old blue pg-old1 keeps db-BLUE, which the policy names
    dbs = [database("pg", "db-GREEN", ["app"], model_users=[{"name": "app", "principals": ["app-role"]}])]
    principals = [role("app-role", allow(arn("db-BLUE", "app")))]
    rows, found = run(dbs, principals, ["app-role"], resource_ids={REGION: {"db-GREEN", "db-BLUE"}},
                      switched=switchover("db-BLUE", "db-GREEN"))
    assert [r["allowed"] for r in rows] == [False]
    moved = [f for f in found if f["code"] == "switched_over_resource_id"]
    assert len(moved) == 1 and moved[0]["severity"] == "high"
    assert moved[0]["objects"] == {"principal_arn": principals[0]["arn"], "policy": "p0", "resource": arn("db-BLUE", "app"),
                                   "resource_id": "db-BLUE", "database": "pg", "current_resource_id": "db-GREEN",
                                   "old_database": "pg-old1", "deployment": "bgd-1"}
    assert "db-GREEN" in moved[0]["message"] and "site.yml" in moved[0]["message"]
    assert ("model_grant_missing", "pg", "app", "app-role") in keys(found)
    # without the switchover known, the same policy is no finding of its own (the id exists)
    _rows, found = run(dbs, principals, ["app-role"], resource_ids={REGION: {"db-GREEN", "db-BLUE"}})
    assert "switched_over_resource_id" not in [f["code"] for f in found]
    # once the grant names the current id, nothing is left to report
    _rows, found = run(dbs, [role("app-role", allow(arn("db-GREEN", "app")))], ["app-role"],
                       resource_ids={REGION: {"db-GREEN", "db-BLUE"}}, switched=switchover("db-BLUE", "db-GREEN"))
    assert found == []


@pytest.mark.parametrize("resource, wide", [
    ("*", "any user of any database"),
    (PREFIX + "*/app", "one database"),
    (PREFIX + "db-A/app_?", "one user"),
    ("arn:aws:rds-db:*:%s:dbuser:db-A/app" % ACCOUNT, "one region or account"),
])
def test_wildcards_say_how_wide(resource, wide):
    _rows, found = run([database("pg", "db-A", ["app"], in_model=False)], [role("r", allow(resource))], [])
    codes = [f for f in found if f["code"] == "wildcard_grant"]
    assert len(codes) == 1 and wide in codes[0]["message"] and codes[0]["objects"]["resource"] == resource


def test_other_regions_and_accounts_are_not_judged_stale():
    other = "arn:aws:rds-db:us-east-1:%s:dbuser:db-ELSEWHERE/app" % ACCOUNT
    _rows, found = run([database("pg", "db-A", [], in_model=False)], [role("r", allow(other))], [])
    assert found == []


def test_rds_proxy_resource_ids_are_not_judged_stale():
    """A client's grant on an RDS Proxy names its prx- id (docs/rds_proxy.md), which is no DB instance or cluster."""
    _rows, found = run([database("pg", "db-A", [], in_model=False)], [role("r", allow(arn("prx-0123abcd", "app")))], ["r"])
    assert found == []
    _rows, found = run([database("pg", "db-A", [], in_model=False)], [role("r", allow(arn("db-GONE", "app")))], ["r"])
    assert keys(found) == [("stale_resource_id", None, None, "r")], "a database id still is"


def test_a_database_without_catalog_lists_the_model_users_and_the_users_granted_by_name():
    db = database("pg", "db-A", model_users=[{"name": "app", "principals": ["r"]}, {"name": "old", "state": "absent"}])
    db["catalog"] = None
    other = role("other", allow(arn("db-A", "report"), arn("db-A", "any*"), arn("db-B", "elsewhere")))
    rows, found = run([db], [role("r", allow(arn("db-A", "app"))), other], ["r"])
    assert [(r["principal"], r["db_user"], r["allowed"]) for r in rows] == [
        ("other", "app", False), ("r", "app", True), ("other", "report", True), ("r", "report", False)]
    assert keys(found) == [("principal_not_in_model", None, None, "other"), ("stale_resource_id", None, None, "other"),
                           ("wildcard_grant", None, None, "other")]


def test_model_principal_names_accept_entries_and_names():
    assert report.model_principal_names([{"name": "a"}, "b"], []) == ["a", "b"]
    assert report.model_principal_names(None, [{"users": [{"name": "u", "principals": ["c", "a"]}]}]) == ["a", "c"]


def test_summary_counts():
    model = [{"name": "app", "principals": ["r"]}, {"name": "orphan"}]
    dbs = [database("pg", "db-A", ["app", "orphan"], model_users=model)]
    principals = [role("r", allow(arn("db-A", "app")))]
    rows, found = run(dbs, principals, ["r"])
    assert report.summary(dbs, principals, rows, found) == {
        "databases": 1, "principals": 1, "pairs": 2, "allowed": 1,
        "findings": {"high": 0, "medium": 0, "low": 1, "info": 0}}


def test_a_proxy_role_is_expected_to_connect_as_the_users_that_go_through_it():
    """End-to-end IAM through an RDS Proxy (docs/rds_proxy.md): the proxy's role connects as those users, so the
    report reads it as granted by the data model, not as an unmodelled grant."""
    from ansible_collections.dbauth.rds_iam.plugins.module_utils._report_collect import model_users

    entry = {"users": [{"name": "app", "principals": ["app-role"]}, {"name": "batch"}],
             "proxies": [{"name": "p1", "role": "proxy-role"}, {"name": "p2", "role": "other-proxy-role", "users": ["batch"]},
                         {"name": "p3"}]}
    assert model_users(entry) == [{"name": "app", "principals": ["app-role", "proxy-role"]},
                                  {"name": "batch", "principals": ["other-proxy-role"]}]
    assert entry["users"][0]["principals"] == ["app-role"], "the data model is not changed"
    dbs = [database("pg", "db-A", ["app"], model_users=model_users({"users": [{"name": "app", "principals": ["app-role"]}],
                                                                    "proxies": [{"name": "p", "role": "proxy-role"}]}))]
    _rows, found = run(dbs, [role("app-role", allow(arn("db-A", "app"))), role("proxy-role", allow(arn("db-A", "app")))],
                       ["app-role", "proxy-role"])
    assert found == []


WEST = "us-west-2"


def west_arn(resource_id, user):
    return "arn:aws:rds-db:%s:%s:dbuser:%s/%s" % (WEST, ACCOUNT, resource_id, user)


def topology(replica_iam=True):
    """A source, a same-Region replica and a cross-Region one (docs/topologies.md), the users the source's."""
    model = [{"name": "app", "principals": ["app-role"]}]
    return [database("pg", "db-A", ["app"], model_users=model),
            database("pg-ro", "db-R", ["app"], model_users=model, member_of="pg", member_role="replica"),
            database("pg", "db-W", ["app"], model_users=model, member_of="pg", member_role="replica", region=WEST,
                     iam_enabled=replica_iam)]


def test_members_are_rows_of_their_own_judged_in_their_own_region():
    """A grant on each resource id, the cross-Region replica's with its Region in the ARN: every login allowed, no
    finding; its identifier may be the source's (another Region)."""
    principals = [role("app-role", allow(arn("db-A", "app"), arn("db-R", "app"), west_arn("db-W", "app")))]
    rows, found = run(topology(), principals, ["app-role"])
    assert found == []
    assert [(r["database"], r["region"], r["member_of"], r["allowed"]) for r in rows] == [
        ("pg", REGION, None, True), ("pg", WEST, "pg", True), ("pg-ro", REGION, "pg", True)]
    assert "arn:aws:rds-db:us-west-2:" in rows[1]["reason"]


def test_a_grant_on_the_source_only_or_in_the_wrong_region_does_not_open_a_member():
    # db-W granted in the call's Region: no such resource there (stale), and the replica is not granted
    principals = [role("app-role", allow(arn("db-A", "app"), arn("db-R", "app"), arn("db-W", "app")))]
    rows, found = run(topology(), principals, ["app-role"])
    assert [(r["database"], r["region"], r["allowed"]) for r in rows] == [
        ("pg", REGION, True), ("pg", WEST, False), ("pg-ro", REGION, True)]
    assert keys(found) == [("model_grant_missing", "pg", "app", "app-role"), ("stale_resource_id", None, None, "app-role")]
    missing = [f for f in found if f["code"] == "model_grant_missing"][0]
    assert "pg (replica of pg in us-west-2)" in missing["message"]


def test_a_grant_on_a_member_id_that_no_longer_exists_is_stale_in_its_region():
    principals = [role("app-role", allow(arn("db-A", "app"), arn("db-R", "app"), west_arn("db-W", "app"),
                                         west_arn("db-GONE", "app"))),
                  role("elsewhere", allow("arn:aws:rds-db:eu-central-1:%s:dbuser:db-UNREAD/app" % ACCOUNT))]
    _rows, found = run(topology(), principals, ["app-role", "elsewhere"])
    assert keys(found) == [("stale_resource_id", None, None, "app-role")], "eu-central-1 was not read: not judged"
    assert found[0]["objects"]["resource_id"] == "db-GONE" and found[0]["objects"]["resource"] == west_arn("db-GONE", "app")
    # the same grant, its Region read but its id known there: no finding
    _rows, found = run(topology(), principals[:1], ["app-role"],
                       resource_ids={REGION: {"db-A", "db-R"}, WEST: {"db-W", "db-GONE"}})
    assert found == []


def test_a_member_has_its_own_iam_setting_and_no_catalog_finding_of_its_own():
    """IAM off on the cross-Region replica: its logins fail (iam_auth_off names it, its source and Region); the
    users it shares with its source (unmodelled, unusable) are reported once, on the source."""
    dbs = topology(replica_iam=False)
    for db in dbs:
        db["catalog"]["iam_users"].append({"name": "orphan"})
    principals = [role("app-role", allow(arn("db-A", "app"), arn("db-R", "app"), west_arn("db-W", "app")))]
    rows, found = run(dbs, principals, ["app-role"])
    assert [r["allowed"] for r in rows if r["db_user"] == "app"] == [True, False, True]
    assert keys(found) == [("iam_auth_off", "pg", None, None), ("iam_user_unusable", "pg", "orphan", None),
                           ("unmodelled_user", "pg", "orphan", None)]
    off = [f for f in found if f["code"] == "iam_auth_off"][0]
    assert off["objects"]["member_of"] == "pg" and off["objects"]["region"] == WEST
    assert [f["objects"].get("member_of") for f in found if f["code"] != "iam_auth_off"] == [None, None]
