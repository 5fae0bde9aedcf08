"""``rds-iam-lab up --seed``: what a user's data model asks of the lab (no lab needed), and its refusals."""

from __future__ import annotations

import pytest
import yaml

from rds_iam_lab import seed

ADMIN = {"user": "{{ lab_databases['x'].admin_user }}", "password": "{{ lab_admin_passwords['x'] }}"}


def test_each_engine_and_kind_goes_to_the_server_of_its_engine():
    model = {"rds_iam_databases": [
        {"db_instance_identifier": "orders", "engine": "mysql", "admin": ADMIN},
        {"db_instance_identifier": "shop", "engine": "mariadb"},
        {"db_instance_identifier": "billing", "engine": "postgres"},
        {"db_cluster_identifier": "reports", "engine": "postgres"},
        {"db_cluster_identifier": "events", "engine": "mysql"},
        {"db_instance_identifier": "lab-mysql", "engine": "mysql"},  # the lab's own: there already
    ]}
    planned = {d["id"]: (d["kind"], d["server"], d["engine"]) for d in seed.plan(model)["databases"]}
    assert planned == {"orders": ("instance", "lab-mysql", "mysql"), "shop": ("instance", "lab-mysql", "mariadb"),
                       "billing": ("instance", "lab-postgres", "postgres"),
                       "reports": ("cluster", "lab-aurora", "aurora-postgresql"),
                       "events": ("cluster", "lab-mysql", "aurora-mysql")}


def test_principals_without_trust_are_made_by_the_lab_the_others_by_the_collection():
    model = {"rds_iam_principals": [{"name": "app-role"}, {"name": "new-role", "trust": "ec2"}],
             "rds_iam_lab_iam_users": ["ci-admin"]}
    planned = seed.plan(model)
    assert planned["roles"] == ["app-role"] and planned["users"] == ["ci-admin"] and planned["databases"] == []


@pytest.mark.parametrize("model, message", [
    ({"rds_iam_databases": [{"db_instance_identifier": "ledger", "engine": "oracle"}]},
     "rds_iam_databases[0] (ledger): engine 'oracle' is not served by the lab"),
    ({"rds_iam_databases": [{"engine": "mysql"}]},
     "rds_iam_databases[0]: set exactly one of db_instance_identifier, db_cluster_identifier"),
    ({"rds_iam_databases": [{"db_instance_identifier": "a", "db_cluster_identifier": "b", "engine": "mysql"}]},
     "rds_iam_databases[0]: set exactly one of"),
    ({"rds_iam_databases": [{"db_instance_identifier": "{{ db_id }}", "engine": "mysql"}]},
     "db_instance_identifier must be a plain identifier"),
    ({"rds_iam_databases": {"db_instance_identifier": "a"}}, "rds_iam_databases: expected a list"),
    ({"rds_iam_principals": [{"name": "bad name"}]}, "rds_iam_principals[0]: name must be an IAM role name"),
    ({"rds_iam_lab_iam_users": [7]}, "rds_iam_lab_iam_users[0]: an IAM user name"),
])
def test_what_the_lab_cannot_serve_is_refused_with_entry_and_key(model, message):
    with pytest.raises(seed.SeedError) as err:
        seed.plan(model)
    assert message in str(err.value)


def test_a_folder_of_group_vars_is_read_together(tmp_path):
    (tmp_path / "data_model.yml").write_text(yaml.safe_dump(
        {"rds_iam_databases": [{"db_instance_identifier": "orders", "engine": "mysql"}]}))
    (tmp_path / "principals.json").write_text('{"rds_iam_principals": [{"name": "app-role"}]}')
    (tmp_path / "notes.txt").write_text("not read")
    planned = seed.plan(seed.read_model(str(tmp_path)))
    assert [d["id"] for d in planned["databases"]] == ["orders"] and planned["roles"] == ["app-role"]
    (tmp_path / "broken.yml").write_text("- a list\n")
    with pytest.raises(seed.SeedError, match="broken.yml: expected variables"):
        seed.read_model(str(tmp_path))
    with pytest.raises(seed.SeedError, match="no such file or folder"):
        seed.read_model(str(tmp_path / "missing"))


def test_proxies_become_db_proxies_with_end_to_end_iam_and_need_their_role():
    model = {"rds_iam_databases": [
        {"db_instance_identifier": "lab-postgres", "engine": "postgres",
         "proxies": [{"name": "orders-proxy", "role": "orders-proxy-role"}]},
        {"db_cluster_identifier": "orders-aurora", "engine": "mysql", "proxies": [{"name": "aurora-proxy", "role": "r"}]},
    ]}
    assert seed.plan(model)["proxies"] == [
        {"name": "orders-proxy", "role": "orders-proxy-role", "target_kind": "instance", "target": "lab-postgres",
         "engine_family": "POSTGRESQL"},
        {"name": "aurora-proxy", "role": "r", "target_kind": "cluster", "target": "orders-aurora", "engine_family": "MYSQL"},
    ]
    model["rds_iam_databases"][0]["proxies"] = [{"name": "orders-proxy"}]
    with pytest.raises(seed.SeedError, match=r"rds_iam_databases\[0\] \(lab-postgres\): proxies\[0\] \(orders-proxy\): role"):
        seed.plan(model)
