# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reading RDS for the access report against botocore's Stubber: the members of the data model's databases (read
replicas listed or discovered, global secondary clusters) each read in its own Region with one read of that Region
whatever the number of members in it, their resource ids known per Region, their catalog their source's; then the
whole report on what was read: no finding when every member is granted, stale_resource_id when a member's old id
is left in a policy."""

from __future__ import annotations

import boto3
import pytest
from botocore.stub import Stubber

from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from ansible_collections.amazon.aws.plugins.module_utils.retries import RetryingBotoClientWrapper
from ansible_collections.dbauth.rds_iam.plugins.module_utils import _access_report as report
from ansible_collections.dbauth.rds_iam.plugins.module_utils import _report_collect as collect

ACCOUNT = "111122223333"
HOME = "us-east-1"
WEST = "us-west-2"
RETRY = AWSRetry.jittered_backoff(retries=1, delay=0)

pytestmark = pytest.mark.usefixtures("clean_env")


def instance(name, region, resource_id, iam=True, replicas=(), source=None):
    record = {"DBInstanceIdentifier": name, "DbiResourceId": resource_id, "Engine": "postgres", "EngineVersion": "16.4",
              "DBInstanceStatus": "available", "DBInstanceArn": "arn:aws:rds:%s:%s:db:%s" % (region, ACCOUNT, name),
              "Endpoint": {"Address": "%s.abc.%s.rds.amazonaws.com" % (name, region), "Port": 5432},
              "IAMDatabaseAuthenticationEnabled": iam, "ReadReplicaDBInstanceIdentifiers": list(replicas)}
    if source:
        record["ReadReplicaSourceDBInstanceIdentifier"] = source
    return record


def cluster(name, region, resource_id, iam=True):
    return {"DBClusterIdentifier": name, "DbClusterResourceId": resource_id, "Engine": "aurora-postgresql",
            "EngineVersion": "16.4", "Status": "available", "DBClusterArn": "arn:aws:rds:%s:%s:cluster:%s" % (
                region, ACCOUNT, name), "Endpoint": "%s.cluster-abc.%s.rds.amazonaws.com" % (name, region), "Port": 5432,
            "IAMDatabaseAuthenticationEnabled": iam, "GlobalClusterIdentifier": "global-1"}


class Regions:
    """A stubbed RDS client per Region, each expecting one DescribeDBInstances and one DescribeDBClusters."""

    def __init__(self, records):
        self.clients = {}
        self.stubbers = []
        self.asked = []
        for region, (instances, clusters) in records.items():
            client = boto3.client("rds", region_name=region, aws_access_key_id="AKIDUNITTEST",
                                  aws_secret_access_key="not-used")
            stubber = Stubber(client)
            stubber.add_response("describe_db_instances", {"DBInstances": instances}, {})
            stubber.add_response("describe_db_clusters", {"DBClusters": clusters}, {})
            stubber.activate()
            self.stubbers.append(stubber)
            self.clients[region] = RetryingBotoClientWrapper(client, RETRY)

    def client(self, region):
        self.asked.append(region)
        return self.clients[region]

    def done(self):
        for stubber in self.stubbers:
            stubber.assert_no_pending_responses()


HOME_RECORDS = ([instance("orders", HOME, "db-ORDERS", replicas=["orders-ro", "arn:aws:rds:%s:%s:db:orders" % (WEST, ACCOUNT)]),
                 instance("orders-ro", HOME, "db-ORDERSRO", source="orders"),
                 instance("other", HOME, "db-OTHER")],
                [cluster("aurora-1", HOME, "cluster-AURORA")])
# The West Region holds a replica of the same name as its source, the secondary, and a database of no one's model.
WEST_RECORDS = ([instance("orders", WEST, "db-ORDERSWEST", source="arn:aws:rds:%s:%s:db:orders" % (HOME, ACCOUNT)),
                 instance("unmodelled", WEST, "db-UNMODELLED")],
                [cluster("aurora-1-west", WEST, "cluster-AURORAWEST", iam=False)])
USERS = [{"name": "app", "principals": ["app-role"]}]
MODEL = [
    {"db_instance_identifier": "orders", "engine": "postgres", "replicas": "discover", "users": USERS,
     "proxies": [{"name": "orders-proxy", "role": "proxy-role"}]},
    {"db_cluster_identifier": "aurora-1", "engine": "postgres", "users": USERS,
     "secondaries": [{"db_cluster_identifier": "aurora-1-west", "region": WEST}]},
]


def read(model=None, scope="model"):
    regions = Regions({HOME: HOME_RECORDS, WEST: WEST_RECORDS})
    databases, resource_ids = collect.read_rds(regions.clients[HOME], RETRY, model or MODEL, scope, regions.client)
    regions.done()
    return databases, resource_ids, regions


def test_members_are_read_in_their_own_region_once_per_region():
    databases, resource_ids, regions = read()
    assert regions.asked == [WEST], "one read of the other Region, for two members there"
    assert [(d["id"], d["region"], d["member_of"], d["member_role"], d["resource_id"], d["iam_enabled"]) for d in databases] == [
        ("orders", HOME, None, None, "db-ORDERS", True),
        ("orders-ro", HOME, "orders", "replica", "db-ORDERSRO", True),
        ("orders", WEST, "orders", "replica", "db-ORDERSWEST", True),
        ("aurora-1", HOME, None, None, "cluster-AURORA", True),
        ("aurora-1-west", WEST, "aurora-1", "secondary", "cluster-AURORAWEST", False),
    ]
    assert resource_ids == {HOME: {"db-ORDERS", "db-ORDERSRO", "db-OTHER", "cluster-AURORA"},
                            WEST: {"db-ORDERSWEST", "db-UNMODELLED", "cluster-AURORAWEST"}}
    assert databases[2]["resource_arn_prefix"] == "arn:aws:rds-db:%s:%s:dbuser:db-ORDERSWEST" % (WEST, ACCOUNT)
    assert all(d["engine"] == "postgres" and d["in_model"] for d in databases)
    # a proxy's role logs in to the database only (end-to-end IAM), not to its replicas
    assert databases[0]["model_users"] == [{"name": "app", "principals": ["app-role", "proxy-role"]}]
    assert databases[1]["model_users"] == USERS
    assert collect.where(databases) == (HOME, ACCOUNT, "aws")


def test_listed_members_a_missing_one_and_scope_account():
    model = [{"db_instance_identifier": "orders", "engine": "postgres", "users": USERS,
              "replicas": [{"db_instance_identifier": "orders-ro"}, {"db_instance_identifier": "gone", "region": WEST}]}]
    databases, _ids, regions = read(model, scope="account")
    assert regions.asked == [WEST]
    assert [(d["id"], d["region"], d["member_of"], d["missing"]) for d in databases] == [
        ("orders", HOME, None, False), ("orders-ro", HOME, "orders", False), ("gone", WEST, "orders", True),
        ("aurora-1", HOME, None, False), ("other", HOME, None, False)], "orders-ro once, as a member"


def test_no_member_no_other_region():
    regions = Regions({HOME: HOME_RECORDS})
    model = [{"db_instance_identifier": "other", "engine": "postgres", "users": USERS}]
    databases, resource_ids = collect.read_rds(regions.clients[HOME], RETRY, model, "model", regions.client)
    regions.done()
    assert regions.asked == [] and list(resource_ids) == [HOME] and len(databases) == 1


def test_a_member_shares_its_source_catalog():
    databases, _ids, _regions = read()
    collect.read_catalogs(databases, MODEL, {}, HOME, 2)
    assert set(d["catalog_error"] for d in databases) == {
        "no admin login given: the users of orders were not read", "no admin login given: the users of aurora-1 were not read"}
    assert databases[2]["catalog_error"] == databases[0]["catalog_error"]
    assert databases[4]["catalog_error"] == databases[3]["catalog_error"]


def role(name, *resources):
    return {"arn": "arn:aws:iam::%s:role/%s" % (ACCOUNT, name), "name": name, "type": "role", "path": "/", "tags": {},
            "policies": [("p", {"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": "rds-db:connect", "Resource": list(resources)}]})], "boundary": None}


def dbuser(region, resource_id, user="app"):
    return "arn:aws:rds-db:%s:%s:dbuser:%s/%s" % (region, ACCOUNT, resource_id, user)


def evaluate(principals):
    databases, resource_ids, _regions = read()
    catalog = {"iam_users": [{"name": "app", "marked": True}], "password_users": [], "protected_users": [],
               "rds_ad_conflicts": [], "queries": 2}
    for db in databases:
        db["catalog"] = catalog  # what read_catalogs gives: the source's, shared by its members
        db["iam_enabled"] = True
    evaluator = report.Evaluator(*collect.where(databases))
    rows = report.matrix(databases, principals, evaluator)
    names = report.model_principal_names(["app-role", "proxy-role"], MODEL)
    return rows, report.findings(databases, principals, names, rows, resource_ids, evaluator)


GRANTS = [dbuser(HOME, "db-ORDERS"), dbuser(HOME, "db-ORDERSRO"), dbuser(WEST, "db-ORDERSWEST"),
          dbuser(HOME, "cluster-AURORA"), dbuser(WEST, "cluster-AURORAWEST")]


def test_every_member_granted_in_its_region_no_finding():
    rows, found = evaluate([role("app-role", *GRANTS), role("proxy-role", dbuser(HOME, "db-ORDERS"))])
    assert found == []
    assert [(r["database"], r["region"], r["member_of"]) for r in rows if r["principal"] == "app-role" and r["allowed"]] == [
        ("aurora-1", HOME, None), ("aurora-1-west", WEST, "aurora-1"), ("orders", HOME, None), ("orders", WEST, "orders"),
        ("orders-ro", HOME, "orders")]


def test_a_grant_on_a_member_id_that_no_longer_exists_is_stale():
    gone = dbuser(WEST, "db-REPLACEDWEST")
    _rows, found = evaluate([role("app-role", gone, *GRANTS), role("proxy-role", dbuser(HOME, "db-ORDERS"))])
    assert [(f["code"], f["objects"]["resource_id"], f["objects"]["resource"]) for f in found] == [
        ("stale_resource_id", "db-REPLACEDWEST", gone)]
    assert "which no DB instance or cluster of us-west-2 has" in found[0]["message"]


def test_a_region_that_cannot_be_read_is_named():
    regions = Regions({HOME: HOME_RECORDS})
    west = boto3.client("rds", region_name=WEST, aws_access_key_id="AKIDUNITTEST", aws_secret_access_key="not-used")
    stubber = Stubber(west)
    stubber.add_client_error("describe_db_instances", "AccessDenied", "not allowed in us-west-2")
    stubber.activate()
    with pytest.raises(collect._rds_databases.RdsReadError) as raised:
        collect.read_rds(regions.clients[HOME], RETRY, MODEL, "model", lambda region: RetryingBotoClientWrapper(west, RETRY))
    assert raised.value.message == ("Failed to describe the DB instances in us-west-2, the Region of orders "
                                    "(a member of orders)")
    stubber.assert_no_pending_responses()
