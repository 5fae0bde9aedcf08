#!/usr/bin/env python
"""Out of band (boto3 and admin SQL against the lab, none of the collection's code): what the topology holds now.

Prints JSON: the IAM flag and the Region and resource id of every database, replica and secondary (each read in its
own Region), whether the role exists and the rds-db resources of its managed policies, and how many rt_app users each
server has.
Usage: oob.py CONFIG LAB_VARS_DIR
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import boto3
import psycopg2
import pymysql
import yaml

ROLE = "dbauth-rt-app"
USER = "rt_app"
INSTANCES = {"rt-pg": None, "rt-pg-replica": None, "rt-pg-west": "us-west-2", "rt-my": None, "rt-my-replica": None}
CLUSTERS = {"rt-aurora": None, "rt-aurora-west": "us-west-2"}


def main(config_path: str, lab_vars: str) -> None:
    config = yaml.safe_load(Path(config_path).read_text())
    lab = yaml.safe_load((Path(lab_vars) / "group_vars/all/lab_generated.yml").read_text())
    secrets = yaml.safe_load((Path(lab_vars) / "group_vars/all/lab_secrets.yml").read_text())

    def client(service: str, region: str | None = None):
        return boto3.client(service, region_name=region or config["aws_region"], endpoint_url=config["aws_endpoint_url"],
                            aws_access_key_id=config["aws_access_key"], aws_secret_access_key=config["aws_secret_key"])

    flags = {}
    ids = {}
    for ident, region in INSTANCES.items():
        record = client("rds", region).describe_db_instances(DBInstanceIdentifier=ident)["DBInstances"][0]
        flags[ident] = record["IAMDatabaseAuthenticationEnabled"]
        ids[ident] = {"region": region or config["aws_region"], "resource_id": record["DbiResourceId"]}
    for ident, region in CLUSTERS.items():
        record = client("rds", region).describe_db_clusters(DBClusterIdentifier=ident)["DBClusters"][0]
        flags[ident] = record["IAMDatabaseAuthenticationEnabled"]
        ids[ident] = {"region": region or config["aws_region"], "resource_id": record["DbClusterResourceId"]}

    iam = client("iam")
    resources: list[str] = []
    try:
        iam.get_role(RoleName=ROLE)
        role = True
    except iam.exceptions.NoSuchEntityException:
        role = False
    if role:
        for attached in iam.list_attached_role_policies(RoleName=ROLE)["AttachedPolicies"]:
            policy = iam.get_policy(PolicyArn=attached["PolicyArn"])["Policy"]
            document = iam.get_policy_version(PolicyArn=policy["Arn"], VersionId=policy["DefaultVersionId"])
            for statement in document["PolicyVersion"]["Document"]["Statement"]:
                found = statement["Resource"]
                resources += [found] if isinstance(found, str) else found

    users = {}
    for ident in ("rt-pg", "rt-aurora", "rt-my"):
        db = lab["lab_databases"][ident]
        password = secrets["lab_admin_passwords"][ident]
        if db["engine"] == "mysql":
            conn = pymysql.connect(host=db["address"], port=db["port"], user=db["admin_user"], password=password,
                                   ssl={"ca": config["lab_ca_cert"], "check_hostname": True})
            query = "SELECT COUNT(*) FROM mysql.user WHERE user = %s"
        else:
            conn = psycopg2.connect(host=db["address"], port=db["port"], user=db["admin_user"], password=password,
                                    dbname="postgres", sslmode="verify-full", sslrootcert=config["lab_ca_cert"])
            query = "SELECT COUNT(*) FROM pg_roles WHERE rolname = %s"
        with conn.cursor() as cur:
            cur.execute(query, (USER,))
            users[ident] = cur.fetchone()[0]
        conn.close()
    print(json.dumps({"flags": flags, "ids": ids, "role": role, "resources": sorted(resources), "users": users},
                     sort_keys=True))


if __name__ == "__main__":
    main(*sys.argv[1:])
