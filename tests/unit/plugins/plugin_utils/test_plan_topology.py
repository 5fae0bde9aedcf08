# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The plan of topologies (docs/topologies.md): read replicas, Aurora endpoints, global databases' secondaries.

Each replica and secondary is a resource of its own: one rds-db ARN per resource id (its Region in the ARN), its
own IAM setting read and set in its own Region, and logins through its endpoint with tokens of its Region."""

from __future__ import annotations

import pytest

from ansible_collections.dbauth.rds_iam.plugins.plugin_utils._plan import (
    ModelError,
    build_plan,
    principal_policies,
    verify_rows,
)

ACCOUNT = "123456789012"


def prefix(region, resource_id):
    return "arn:aws:rds-db:%s:%s:dbuser:%s" % (region, ACCOUNT, resource_id)


def model():
    return [
        {
            "db_instance_identifier": "orders",
            "engine": "postgres",
            "admin": {"user": "postgres", "password": "pw-12345678"},
            "replicas": [{"db_instance_identifier": "orders-ro"}, {"db_instance_identifier": "orders-west", "region": "us-west-2"}],
            "users": [{"name": "app", "principals": ["app-role"]}],
        },
        {
            "db_instance_identifier": "shop",
            "engine": "mysql",
            "admin": {"user": "admin", "password": "pw-12345678"},
            "replicas": "discover",
            "users": [{"name": "app", "principals": ["app-role"]}],
        },
        {
            "db_cluster_identifier": "aurora-1",
            "engine": "postgres",
            "admin": {"user": "postgres", "password": "pw-12345678"},
            "endpoints": ["writer", "reader", "reporting"],
            "secondaries": [{"db_cluster_identifier": "aurora-1-west", "region": "us-west-2"}],
            "users": [{"name": "report", "principals": ["app-role"]}],
        },
    ]


def found(ident, region, resource_id, address, kind="instance", **extra):
    entry = {"db_%s_identifier" % kind: ident, "resource_id": resource_id, "resource_arn_prefix": prefix(region, resource_id),
             "arn": "arn:aws:rds:%s:%s:%s:%s" % (region, ACCOUNT, "db" if kind == "instance" else "cluster", ident),
             "endpoint": {"address": address, "port": 5432}, "iam_database_authentication_enabled": True}
    if kind == "cluster":
        entry["kind"] = "cluster"
    entry.update(extra)
    return entry


def sources():
    return [
        found("orders", "us-east-1", "db-ORDERS", "orders.host"),
        found("shop", "us-east-1", "db-SHOP", "shop.host",
              read_replicas=["shop-ro", "arn:aws:rds:eu-west-1:%s:db:shop-eu" % ACCOUNT]),
        found("aurora-1", "us-east-1", "cluster-A1", "aurora-1.cluster", kind="cluster",
              reader_endpoint={"address": "aurora-1.cluster-ro", "port": 5432},
              custom_endpoints=[{"name": "reporting", "address": "reporting.cluster-custom", "port": 5432, "type": "READER"}]),
    ]


def members():
    return [
        found("orders-ro", "us-east-1", "db-ORDERSRO", "orders-ro.host"),
        found("orders-west", "us-west-2", "db-ORDERSW", "orders-west.host"),
        found("shop-ro", "us-east-1", "db-SHOPRO", "shop-ro.host"),
        found("shop-eu", "eu-west-1", "db-SHOPEU", "shop-eu.host"),
        found("aurora-1-west", "us-west-2", "cluster-A1W", "aurora-1-west.cluster", kind="cluster"),
    ]


def test_reads_of_the_members_by_region_until_discovered():
    plan = build_plan(model(), [{"name": "app-role"}], discovered=sources())
    assert plan["member_reads"] == [
        {"region": None, "db_instance_identifiers": ["orders-ro", "shop-ro"], "db_cluster_identifiers": [],
         "refs": [{"db_instance_identifier": "orders-ro"}, {"db_instance_identifier": "shop-ro"}]},
        {"region": "eu-west-1", "db_instance_identifiers": ["shop-eu"], "db_cluster_identifiers": [],
         "refs": [{"db_instance_identifier": "shop-eu"}]},
        {"region": "us-west-2", "db_instance_identifiers": ["orders-west"], "db_cluster_identifiers": ["aurora-1-west"],
         "refs": [{"db_instance_identifier": "orders-west"}, {"db_cluster_identifier": "aurora-1-west"}]},
    ]
    plan = build_plan(model(), [{"name": "app-role"}], discovered=sources() + members())
    assert plan["member_reads"] == []
    assert [(m["database"], m["id"], m["region"], m["role"]) for m in plan["members"]] == [
        ("orders", "orders-ro", "us-east-1", "replica"), ("orders", "orders-west", "us-west-2", "replica"),
        ("shop", "shop-ro", "us-east-1", "replica"), ("shop", "shop-eu", "eu-west-1", "replica"),
        ("aurora-1", "aurora-1-west", "us-west-2", "secondary"),
    ]


def test_without_discovery_discover_lists_no_replica_yet():
    plan = build_plan(model(), [{"name": "app-role"}])
    reads = {r["region"]: r["db_instance_identifiers"] + r["db_cluster_identifiers"] for r in plan["member_reads"]}
    assert reads == {None: ["orders-ro"], "us-west-2": ["orders-west", "aurora-1-west"]}


def test_one_arn_per_resource_id_each_in_its_region():
    plan = build_plan(model(), [{"name": "app-role"}], discovered=sources() + members())
    policies = principal_policies(plan, "rds-iam-connect-", "/", ACCOUNT)
    resources = sorted(r for p in policies[0]["policies"] for s in p["document"]["Statement"]
                       for r in ([s["Resource"]] if isinstance(s["Resource"], str) else s["Resource"]))
    assert resources == sorted([
        prefix("us-east-1", "db-ORDERS") + "/app", prefix("us-east-1", "db-ORDERSRO") + "/app",
        prefix("us-west-2", "db-ORDERSW") + "/app", prefix("us-east-1", "db-SHOP") + "/app",
        prefix("us-east-1", "db-SHOPRO") + "/app", prefix("eu-west-1", "db-SHOPEU") + "/app",
        prefix("us-east-1", "cluster-A1") + "/report", prefix("us-west-2", "cluster-A1W") + "/report",
    ])


def test_a_member_without_resource_id_stops_the_grants():
    plan = build_plan(model(), [{"name": "app-role"}], discovered=sources())
    with pytest.raises(ModelError, match="orders-ro"):
        principal_policies(plan, "rds-iam-connect-", "/", ACCOUNT)


def test_logins_through_every_endpoint_and_member_with_their_region():
    plan = build_plan(model(), [{"name": "app-role"}], discovered=sources() + members(), require_endpoints=True,
                      hosts={"web-1": {"rds_iam_principal": "app-role"}})
    logins = plan["hosts"]["web-1"]["logins"]
    seen = [(login["database"], login["via"], login["args"]["db_host"], login["args"].get("region")) for login in logins]
    assert seen == [
        ("orders", None, "orders.host", None),
        ("orders", "orders-ro", "orders-ro.host", "us-east-1"),
        ("orders", "orders-west", "orders-west.host", "us-west-2"),
        ("shop", None, "shop.host", None),
        ("shop", "shop-ro", "shop-ro.host", "us-east-1"),
        ("shop", "shop-eu", "shop-eu.host", "eu-west-1"),
        ("aurora-1", None, "aurora-1.cluster", None),
        ("aurora-1", "reader", "aurora-1.cluster-ro", None),
        ("aurora-1", "reporting", "reporting.cluster-custom", None),
        ("aurora-1", "aurora-1-west", "aurora-1-west.cluster", "us-west-2"),
    ]
    assert all(login["granted"] for login in logins)
    # the diagnosis of a login reads the resource it dialled: the replica's or secondary's own identifier
    assert logins[2]["args"]["db_instance_identifier"] == "orders-west"
    assert logins[9]["args"]["db_cluster_identifier"] == "aurora-1-west"
    rows = verify_rows([{"connected": True}] * len(logins), logins, "web-1")
    assert rows[1]["database"] == "orders via orders-ro" and rows[0]["database"] == "orders"


def test_an_unknown_endpoint_is_named():
    databases = model()[2:]
    databases[0]["endpoints"] = ["writer", "nightly"]
    with pytest.raises(ModelError, match="no endpoint known for nightly"):
        build_plan(databases, discovered=sources() + members(), require_endpoints=True)
    with pytest.raises(ModelError, match=r"rds_iam_databases\[0\] \(aurora-1\): endpoints: the cluster has no nightly endpoint"):
        build_plan(databases, [{"name": "app-role"}], discovered=sources() + members(),
                   hosts={"web-1": {"rds_iam_principal": "app-role"}})


@pytest.mark.parametrize("change,message", [
    ({"replicas": "all"}, "replicas must be discover or a list"),
    ({"replicas": [{"db_instance_identifier": "orders"}]}, "replicas[0] (orders): the same as the database itself"),
    ({"replicas": [{"db_instance_identifier": "x"}, {"db_instance_identifier": "x"}]}, "replicas[1] (x): the same as replicas[0]"),
    ({"replicas": [{"db_instance_identifier": "x", "region": "moon"}]}, "region 'moon' is not an AWS Region name"),
    ({"replicas": [{"db_instance_identifer": "x"}]}, "unknown key 'db_instance_identifer' (did you mean 'db_instance_identifier'?)"),
    ({"endpoints": ["reader"]}, "endpoints and secondaries are for Aurora clusters"),
    ({"secondaries": [{"db_cluster_identifier": "c", "region": "us-west-2"}]}, "endpoints and secondaries are for Aurora clusters"),
])
def test_bad_topology_of_an_instance_is_named(change, message):
    databases = model()[:1]
    databases[0].update(change)
    with pytest.raises(ModelError) as error:
        build_plan(databases)
    assert message in str(error.value) and "rds_iam_databases[0] (orders)" in str(error.value)


@pytest.mark.parametrize("change,message", [
    ({"replicas": "discover"}, "replicas are for DB instances"),
    ({"endpoints": ["writer", "writer"]}, "endpoints lists a name twice"),
    ({"endpoints": ["bad name!"]}, "is neither writer, reader nor a custom endpoint name"),
    ({"secondaries": [{"db_cluster_identifier": "aurora-1-west"}]}, "region is required"),
])
def test_bad_topology_of_a_cluster_is_named(change, message):
    databases = model()[2:]
    databases[0].update(change)
    with pytest.raises(ModelError) as error:
        build_plan(databases)
    assert message in str(error.value) and "rds_iam_databases[0] (aurora-1)" in str(error.value)
