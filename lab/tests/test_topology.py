"""Topologies of the lab: read replicas (same and other Region) and the Aurora reader endpoint.

As on RDS:

* a read replica is a DB instance of its own: its own ``DbiResourceId`` (RDS API reference, "DBInstance"),
  its own IAM setting, off at creation (RDS API reference, "CreateDBInstanceReadReplica",
  EnableIAMDatabaseAuthentication: "By default, mapping isn't enabled"), its own endpoint; the
  ``rds-db:connect`` policy names its resource id (RDS user guide, "Creating and using an IAM policy for
  IAM database access"); its data, the users too, is its source's;
* a cross-Region replica lives in its own Region: its ARN, its ``rds-db`` ARN and the tokens for it carry
  that Region (RDS user guide, "Creating a read replica in a different AWS Region"; "Connecting to your
  DB instance using IAM authentication and the AWS SDK"), and its source lists it by ARN;
* an Aurora cluster's reader endpoint is a host name of its own (Aurora user guide, "Types of Aurora
  endpoints") under the cluster's resource id: a token is signed for that host.

One lab of its own (like ``test_logins.py``), real logins over TLS (verify-full).
"""

from __future__ import annotations

import json

import psycopg2
import pytest

from lab.tests import test_logins
from lab.tests.test_logical_databases import add, expect_refused, remove, set_iam
from lab.tests.test_logins import login, make_token

lab = test_logins.lab  # a lab of this module's own

USER = "topo_user"
OTHER_REGION = "us-west-2"
REPLICAS = [
    {"id": "topo-pg-replica", "replica_of": "lab-postgres"},
    {"id": "topo-pg-xregion", "replica_of": "lab-postgres", "region": OTHER_REGION},
    {"id": "topo-my-source", "kind": "instance", "server": "lab-mysql"},
    {"id": "topo-my-replica", "replica_of": "topo-my-source"},
    {"id": "topo-aurora-west", "kind": "cluster", "secondary_of": "lab-aurora", "region": OTHER_REGION},
]


def rds_in(lab, region):
    return lab.aws("rds") if region is None else __import__("boto3").client(
        "rds", region_name=region, endpoint_url=lab.status["endpoint_url"],
        aws_access_key_id=lab.status["access_key"], aws_secret_access_key=lab.status["secret_key"])


def connect_user(lab, name, arns):
    """An IAM user allowed rds-db:connect on exactly these ARNs -> boto3 credentials."""
    iam = lab.aws("iam")
    iam.create_user(UserName=name)
    iam.put_user_policy(UserName=name, PolicyName="connect", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "rds-db:connect", "Resource": list(arns)}]}))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return {"aws_access_key_id": key["AccessKeyId"], "aws_secret_access_key": key["SecretAccessKey"]}


def arn(lab, db_id):
    return f"{lab.db(db_id)['resource_arn_prefix']}/{USER}"


@pytest.fixture(scope="module")
def topology(lab, tmp_path_factory):
    created = add(lab, tmp_path_factory.mktemp("topology"), REPLICAS)
    assert [c["action"] for c in created] == ["created"] * len(REPLICAS)
    lab.refresh()
    for source in ("lab-mysql", "lab-postgres", "lab-aurora", "topo-my-source"):
        set_iam(lab, source, True)
    # the users exist on the sources only: a replica serves its source's data
    for server, sql in (("lab-postgres", f"CREATE ROLE {USER} LOGIN IN ROLE rds_iam"),
                        ("lab-aurora", f"CREATE ROLE {USER} LOGIN IN ROLE rds_iam"),
                        ("lab-mysql", f"CREATE USER '{USER}'@'%' IDENTIFIED WITH AWSAuthenticationPlugin "
                                      "AS 'RDS' REQUIRE SSL")):
        db = lab.db(server)
        conn = (test_logins.pg_connect if db["engine"] != "mysql" else test_logins.mysql_connect)(
            lab, db, db["admin_user"], db["admin_password"])
        if db["engine"] != "mysql":
            conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(sql)
        conn.close()
    lab.refresh()
    return lab


def test_replicas_have_their_own_identity(topology):
    lab = topology
    source = lab.db("lab-postgres")
    for entry in REPLICAS:
        if "replica_of" not in entry:
            continue
        replica = lab.db(entry["id"])
        region = entry.get("region", lab.status["region"])
        assert replica["replica_of"] == entry["replica_of"] and replica["region"] == region
        assert replica["resource_id"].startswith("db-")
        assert replica["resource_id"] != lab.db(entry["replica_of"])["resource_id"]
        assert replica["resource_arn_prefix"].startswith(f"arn:aws:rds-db:{region}:")
        assert replica["iam_database_authentication_enabled"] is False  # its own setting, off at creation
        assert replica["endpoint"]["port"] != lab.db(entry["replica_of"])["endpoint"]["port"]
        described = rds_in(lab, entry.get("region")).describe_db_instances(
            DBInstanceIdentifier=entry["id"])["DBInstances"][0]
        assert described["DbiResourceId"] == replica["resource_id"]
        assert described["DBInstanceArn"].startswith(f"arn:aws:rds:{region}:")
        assert described["ReadReplicaSourceDBInstanceIdentifier"].endswith(entry["replica_of"])
    listed = lab.aws("rds").describe_db_instances(DBInstanceIdentifier="lab-postgres")["DBInstances"][0]
    xregion = rds_in(lab, OTHER_REGION).describe_db_instances(
        DBInstanceIdentifier="topo-pg-xregion")["DBInstances"][0]["DBInstanceArn"]
    # the source lists its replicas: same Region by identifier, another Region by ARN
    assert sorted(listed["ReadReplicaDBInstanceIdentifiers"]) == sorted(["topo-pg-replica", xregion])
    assert source["iam_database_authentication_enabled"] is True


@pytest.mark.parametrize("replica", ["topo-pg-replica", "topo-my-replica"])
def test_replica_login_needs_its_own_flag_and_resource_id(topology, replica):
    lab = topology
    source = lab.db(replica)["replica_of"]
    region = lab.status["region"]
    on_source = connect_user(lab, f"{replica}-source-only", [arn(lab, source)])
    on_replica = connect_user(lab, f"{replica}-only", [arn(lab, replica)])
    endpoint = lab.db(replica)["endpoint"]
    replica_token = make_token(on_replica, endpoint["address"], endpoint["port"], USER, region)
    expect_refused(lab, replica, USER, replica_token, "iam_auth_disabled")
    set_iam(lab, replica, True)
    lab.refresh()
    # the source's grant does not open the replica, and the other way round
    expect_refused(lab, replica, USER, make_token(on_source, endpoint["address"], endpoint["port"], USER, region),
                   "policy_implicit_deny")
    assert login(lab, replica, USER, replica_token) == (USER, True)
    src = lab.db(source)["endpoint"]
    expect_refused(lab, source, USER, make_token(on_replica, src["address"], src["port"], USER, region),
                   "policy_implicit_deny")
    # a token for the source's endpoint is no good on the replica's
    expect_refused(lab, replica, USER, make_token(on_replica, src["address"], src["port"], USER, region),
                   "wrong_endpoint")


def test_cross_region_replica_wants_tokens_and_arns_of_its_region(topology):
    lab = topology
    replica = "topo-pg-xregion"
    both_regions = connect_user(lab, "topo-xregion", [arn(lab, replica)])
    wrong_arn = arn(lab, replica).replace(f":{OTHER_REGION}:", f":{lab.status['region']}:")
    home_arn_only = connect_user(lab, "topo-xregion-home-arn", [wrong_arn])
    rds_in(lab, OTHER_REGION).modify_db_instance(DBInstanceIdentifier=replica, EnableIAMDatabaseAuthentication=True,
                                                 ApplyImmediately=True)
    lab.refresh()
    assert lab.db(replica)["iam_database_authentication_enabled"] is True
    endpoint = lab.db(replica)["endpoint"]
    expect_refused(lab, replica, USER,
                   make_token(both_regions, endpoint["address"], endpoint["port"], USER, lab.status["region"]),
                   "wrong_region")
    expect_refused(lab, replica, USER,
                   make_token(home_arn_only, endpoint["address"], endpoint["port"], USER, OTHER_REGION),
                   "policy_implicit_deny")
    token = make_token(both_regions, endpoint["address"], endpoint["port"], USER, OTHER_REGION)
    assert login(lab, replica, USER, token) == (USER, True)


def test_global_database_secondary_cluster_in_its_own_region(topology):
    lab = topology
    secondary = lab.db("topo-aurora-west")
    primary = lab.db("lab-aurora")
    assert secondary["kind"] == "cluster" and secondary["region"] == OTHER_REGION
    assert secondary["resource_id"].startswith("cluster-") and secondary["resource_id"] != primary["resource_id"]
    assert secondary["resource_arn_prefix"].startswith(f"arn:aws:rds-db:{OTHER_REGION}:")
    assert secondary["global_cluster"] == primary["global_cluster"] == "lab-aurora-global"
    members = lab.aws("rds").describe_global_clusters(GlobalClusterIdentifier="lab-aurora-global")[
        "GlobalClusters"][0]["GlobalClusterMembers"]
    assert [(m["DBClusterArn"].split(":")[3], m["IsWriter"]) for m in members] == [
        (lab.status["region"], True), (OTHER_REGION, False)]
    # its IAM setting is its own, in its own Region; the user is the primary's (replicated)
    on_secondary = connect_user(lab, "topo-secondary", [arn(lab, "topo-aurora-west")])
    endpoint = secondary["endpoint"]
    token = make_token(on_secondary, endpoint["address"], endpoint["port"], USER, OTHER_REGION)
    expect_refused(lab, "topo-aurora-west", USER, token, "iam_auth_disabled")
    rds_in(lab, OTHER_REGION).modify_db_cluster(DBClusterIdentifier="topo-aurora-west",
                                                EnableIAMDatabaseAuthentication=True, ApplyImmediately=True)
    lab.refresh()
    assert lab.db("lab-aurora")["iam_database_authentication_enabled"] is True
    assert login(lab, "topo-aurora-west", USER, token) == (USER, True)
    expect_refused(lab, "topo-aurora-west", USER,
                   make_token(on_secondary, endpoint["address"], endpoint["port"], USER, lab.status["region"]),
                   "wrong_region")


def test_aurora_reader_endpoint_is_a_host_of_its_own(topology):
    lab = topology
    cluster = lab.db("lab-aurora")
    reader = cluster["reader_endpoint"]
    assert reader["address"] == "localhost" and reader["port"] == cluster["endpoint"]["port"]
    assert cluster["endpoint"]["address"] == "127.0.0.1"
    creds = connect_user(lab, "topo-reader", [arn(lab, "lab-aurora")])
    token = make_token(creds, reader["address"], reader["port"], USER, lab.status["region"])
    conn = psycopg2.connect(host=reader["address"], port=reader["port"], user=USER, password=token, dbname="labdb",
                            sslmode="verify-full", sslrootcert=lab.status["ca_cert"], connect_timeout=10)
    with conn.cursor() as cur:
        cur.execute("SELECT current_user")
        assert cur.fetchone()[0] == USER
    conn.close()
    # a token signed for a host that is no endpoint of the cluster is refused
    other = make_token(creds, "reader.example.com", reader["port"], USER, lab.status["region"])
    expect_refused(lab, "lab-aurora", USER, other, "wrong_endpoint")


def test_replicas_are_removed_before_their_source(topology, tmp_path):
    lab = topology
    bad = add(lab, tmp_path, [{"id": "topo-bad", "replica_of": "lab-aurora"}], check=False)
    assert bad.returncode != 0 and "replica_of" in bad.stdout + bad.stderr
    removed = remove(lab, "--all-logical")
    assert sorted(r["id"] for r in removed) == sorted(e["id"] for e in REPLICAS)
    assert all(r["action"] == "removed" for r in removed)
    lab.refresh()
    source = lab.aws("rds").describe_db_instances(DBInstanceIdentifier="lab-postgres")["DBInstances"][0]
    assert source.get("ReadReplicaDBInstanceIdentifiers", []) == []
    members = lab.aws("rds").describe_global_clusters(GlobalClusterIdentifier="lab-aurora-global")[
        "GlobalClusters"][0]["GlobalClusterMembers"]
    assert [m["DBClusterArn"].split(":")[-1] for m in members] == ["lab-aurora"]
