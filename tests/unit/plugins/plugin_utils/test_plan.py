# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The plan: every key of the data model is read, every problem is reported with its entry and key."""

from __future__ import annotations

import copy

import pytest
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.dbauth.rds_iam.plugins.plugin_utils import _model_schema as schema
from ansible_collections.dbauth.rds_iam.plugins.plugin_utils._plan import (
    ModelError,
    bridge_config,
    build_plan,
    db_user_databases,
    principal_policies,
    trust_document,
    verify_rows,
    verify_table,
    verify_unexpected,
)

PREFIX = "arn:aws:rds-db:us-east-1:123456789012:dbuser:"


def model():
    databases = [
        {
            "db_instance_identifier": "db-mysql",
            "engine": "mysql",
            "db_name": "app",
            "admin": {"user": "admin", "password": "s3cret-admin"},
            "replicas": "discover",  # none discovered here: docs/topologies.md, test_plan_topology.py
            "users": [
                {"name": "app", "privileges": {"app.*": "SELECT"}, "principals": ["app-role"]},
                {"name": "report", "host": "10.0.%", "principals": ["report-role", "app-role"]},
                {"name": "gone", "state": "absent", "principals": ["app-role"]},
            ],
        },
        {
            "db_cluster_identifier": "aurora-1",
            "engine": "postgres",
            "admin": {"user": "postgres", "iam": True, "host": "admin.example", "port": 6432, "db": "postgres"},
            "endpoint": {"address": "proxy.example", "port": 5433},
            "endpoints": ["writer"],
            "secondaries": [],
            "users": [{"name": "report", "roles": ["app_read"], "principals": ["report-role"], "db_name": "reports"}],
            "proxies": [],  # test_proxies: a database behind RDS Proxies
        },
    ]
    principals = [
        {"name": "app-role", "trust": "ec2"},
        {"name": "report-role", "trust": ["123456789012", "arn:aws:iam::210987654321:role/ci"], "path": "/svc/"},
        {"name": "none-role"},
    ]
    return databases, principals


def discovered():
    return [
        {"db_instance_identifier": "DB-MySQL", "resource_id": "db-ABC", "resource_arn_prefix": PREFIX + "db-ABC",
         "endpoint": {"address": "db-mysql.rds.example", "port": 3306}, "engine": "mysql", "engine_version": "8.0.40",
         "iam_database_authentication_enabled": True, "pending": {}},
        {"db_cluster_identifier": "aurora-1", "kind": "cluster", "resource_id": "cluster-XYZ",
         "resource_arn_prefix": PREFIX + "cluster-XYZ", "endpoint": {"address": "aurora-1.rds.example", "port": 5432},
         "engine": "aurora-postgresql", "iam_database_authentication_enabled": False, "pending": {"iam": True}},
    ]


def problems_of(*args, **kwargs):
    with pytest.raises(ModelError) as error:
        build_plan(*args, **kwargs)
    return error.value.problems


def test_a_whole_model_is_normalised():
    databases, principals = model()
    plan = build_plan(databases, principals, discovered=discovered(),
                      hosts={"app-1": {"rds_iam_principal": "app-role"}, "any": {}})
    mysql, aurora = plan["databases"]
    assert (mysql["id"], mysql["kind"], mysql["ref"], mysql["engine"], mysql["family"]) == (
        "db-mysql", "instance", {"db_instance_identifier": "db-mysql"}, "mysql", "mysql")
    assert mysql["endpoint"] == {"address": "db-mysql.rds.example", "port": 3306}
    assert mysql["resource_arn_prefix"] == PREFIX + "db-ABC" and mysql["engine_version"] == "8.0.40"
    assert mysql["admin"] == {"user": "admin", "iam": False, "host": None, "port": None, "db": None}
    assert (aurora["kind"], aurora["engine"], aurora["family"]) == ("cluster", "postgres", "postgres")
    assert aurora["endpoint"] == {"address": "proxy.example", "port": 5433}, "the override wins over AWS"
    assert aurora["pending"] == {"iam": True} and aurora["rds_engine"] == "aurora-postgresql", "RDS's engine name is kept"
    assert plan["families"] == ["mysql", "postgres"] and plan["empty"] is False
    grants = {p["name"]: p["grants"] for p in plan["principals"]}
    assert grants["app-role"] == [{"database": "db-mysql", "resource_arn_prefix": PREFIX + "db-ABC", "db_users": ["app", "report"]}]
    assert grants["report-role"] == [
        {"database": "db-mysql", "resource_arn_prefix": PREFIX + "db-ABC", "db_users": ["report"]},
        {"database": "aurora-1", "resource_arn_prefix": PREFIX + "cluster-XYZ", "db_users": ["report"]},
    ]
    assert grants["none-role"] == []
    logins = plan["hosts"]["app-1"]["logins"]
    assert [(x["database"], x["user"], x["granted"]) for x in logins] == [("db-mysql", "app", True), ("db-mysql", "report", True)]
    assert logins[0]["args"] == {"label": "db-mysql", "engine": "mysql", "db_instance_identifier": "db-mysql",
                                 "db_host": "db-mysql.rds.example", "db_port": 3306, "db_user": "app", "db_name": "app"}
    # A host without a principal checks every user that has principals.
    assert [(x["database"], x["user"]) for x in plan["hosts"]["any"]["logins"]] == [
        ("db-mysql", "app"), ("db-mysql", "report"), ("aurora-1", "report")]
    assert plan["hosts"]["any"]["logins"][2]["args"]["db_name"] == "reports"
    assert "s3cret-admin" not in repr(plan), "the plan holds no secret"


def test_explicit_host_logins_say_whether_the_model_grants_them():
    databases, principals = model()
    plan = build_plan(databases, principals, hosts={"h": {"rds_iam_principal": "none-role", "rds_iam_host_logins": [
        {"database": "db-mysql", "user": "app"}, {"database": "aurora-1", "user": "report", "db_name": "x"}]}})
    logins = plan["hosts"]["h"]["logins"]
    assert [x["granted"] for x in logins] == [False, False]
    assert logins[1]["args"]["db_name"] == "x" and logins[1]["args"]["db_cluster_identifier"] == "aurora-1"
    assert logins[0]["args"]["db_host"] is None, "no endpoint before discovery"


def test_each_host_part_is_what_the_client_and_verify_roles_take():
    """plan["hosts"][HOST] is handed to the host as client_plan / verify_plan: it passes their spec as it is, carries
    the engines and endpoints of every database and the host's own logins, and no user list, admin login or secret."""
    databases, principals = model()
    plan = build_plan(databases, principals, discovered=discovered(), hosts={"app-1": {"rds_iam_principal": "app-role"}})
    part = plan["hosts"]["app-1"]
    result = ArgumentSpecValidator(schema.HOST_PLAN_OPTIONS).validate(copy.deepcopy(part))
    assert result.error_messages == []
    assert part["families"] == ["mysql", "postgres"]
    assert part["databases"] == [
        {"id": "db-mysql", "kind": "instance", "engine": "mysql", "family": "mysql",
         "endpoint": {"address": "db-mysql.rds.example", "port": 3306}, "db_name": "app"},
        {"id": "aurora-1", "kind": "cluster", "engine": "postgres", "family": "postgres",
         "endpoint": {"address": "proxy.example", "port": 5433}, "db_name": None},
    ]
    assert [(x["database"], x["user"]) for x in part["logins"]] == [("db-mysql", "app"), ("db-mysql", "report")]
    assert "users" not in repr(part["databases"]) and "admin" not in repr(part) and "s3cret-admin" not in repr(part)
    del part["logins"][0]["granted"]
    errors = ArgumentSpecValidator(schema.HOST_PLAN_OPTIONS).validate(part).error_messages
    assert errors == ["missing required arguments: granted found in logins"]


@pytest.mark.parametrize("key", sorted(schema.DATABASE_OPTIONS))
def test_every_database_key_is_known(key):
    assert key in schema.DATABASE_OPTIONS and schema.DATABASE_OPTIONS[key].get("description")
    databases, principals = self_managed_model()
    # Each key is accepted (no unknown-key problem) on a database that uses it.
    assert any(key in db for db in databases)
    build_plan(databases, principals)


@pytest.mark.parametrize("options", ["USER_OPTIONS", "ADMIN_OPTIONS", "ENDPOINT_OPTIONS", "PRINCIPAL_OPTIONS", "PROXY_OPTIONS",
                                     "REPLICA_OPTIONS", "SECONDARY_OPTIONS",
                                     "HOST_OPTIONS", "HOST_LOGIN_OPTIONS", "HOST_PLAN_OPTIONS", "PLANNED_LOGIN_OPTIONS",
                                     "PLANNED_DATABASE_OPTIONS"])
def test_every_key_of_every_part_is_documented_and_typed(options):
    for name, spec in getattr(schema, options).items():
        assert spec.get("description") and spec.get("type"), name


def test_every_user_principal_and_host_key_is_read():
    databases, principals = model()
    used_user_keys = {k for db in databases for u in db["users"] for k in u}
    assert used_user_keys == set(schema.USER_OPTIONS)
    assert {k for db in databases for k in db["admin"]} == set(schema.ADMIN_OPTIONS)
    principals[2].update(description="d", max_session_duration="7200", instance_profile="no", path="/p/")
    assert {k for p in principals for k in p} == set(schema.PRINCIPAL_OPTIONS)
    plan = build_plan(databases, principals, hosts={"h": {"rds_iam_principal": "app-role", "rds_iam_ca_cert": "/ca.pem",
                                                          "rds_iam_host_environment": {"A": "b"}, "rds_iam_host_logins": []}})
    none_role = plan["principals"][2]
    assert (none_role["max_session_duration"], none_role["instance_profile"]) == (7200, False), "converted as Ansible does"
    assert plan["hosts"]["h"]["ca_cert"] == "/ca.pem"


CASES = [
    # (change to the model, the text the problem must contain)
    (lambda d, p: d[1].update(users=[{"name": "x", "principal": ["app-role"]}]),
     "rds_iam_databases[1] (aurora-1): users[0] (x): unknown key 'principal' (did you mean 'principals'?)"),
    (lambda d, p: d[0]["users"][0].update(privilges={}), "users[0] (app): unknown key 'privilges' (did you mean 'privileges'?)"),
    (lambda d, p: d[0].update(db_instance_identifer="x"),
     "rds_iam_databases[0] (db-mysql): unknown key 'db_instance_identifer' (did you mean 'db_instance_identifier'?)"),
    (lambda d, p: d[0].pop("engine"), "rds_iam_databases[0] (db-mysql): engine is required"),
    (lambda d, p: d[0].update(engine="oracle"), "engine is 'oracle'; give engine mysql, mariadb or postgres"),
    (lambda d, p: d[0].update(db_cluster_identifier="c"), "rds_iam_databases[0] (db-mysql): give exactly one of db_instance_identifier"),
    (lambda d, p: d[0].pop("db_instance_identifier"), "rds_iam_databases[0]: give exactly one of db_instance_identifier"),
    (lambda d, p: d[0].update(db_instance_identifier="1-bad_id"), "identifier '1-bad_id' must be a letter"),
    (lambda d, p: d.append(copy.deepcopy(d[0])), "rds_iam_databases[2] (db-mysql): the same database as rds_iam_databases[0]"),
    (lambda d, p: d.append(dict(copy.deepcopy(d[0]), db_instance_identifier="DB-MYSQL")), "the same database as rds_iam_databases[0]"),
    (lambda d, p: d[0]["users"].append({"name": "app", "principals": []}), "users[3] (app): the same user as users[0]"),
    (lambda d, p: d[0]["users"][0].update(principals=["ap-role"]),
     "principals names 'ap-role', which rds_iam_principals does not define (did you mean 'app-role'?)"),
    (lambda d, p: d[0]["users"][0].update(principals=["app-role", "app-role"]), "principals lists a name twice"),
    (lambda d, p: d[0]["users"][0].update(principals="app-role"), "users[0] (app): principals must be a list"),
    (lambda d, p: d[0].pop("admin"), "rds_iam_databases[0] (db-mysql): admin is required to create the users"),
    (lambda d, p: d[0]["admin"].update(iam=True), "admin: give exactly one of password or iam true"),
    (lambda d, p: d[1]["admin"].update(iam="maybe"), "admin: iam must be true or false"),
    (lambda d, p: d[1]["admin"].update(port="x"), "admin: port must be a whole number"),
    (lambda d, p: d[1]["admin"].pop("user"), "admin: user is required"),
    (lambda d, p: d[1]["endpoint"].pop("address"), "endpoint: address is required"),
    (lambda d, p: d[1].update(endpoint="host:5432"), "endpoint must be a dict"),
    (lambda d, p: d[1]["users"][0].update(privileges={"a.*": "SELECT"}), "privileges are for MySQL/MariaDB, roles for PostgreSQL"),
    (lambda d, p: d[1]["users"][0].update(host="%"), "host is for MySQL/MariaDB accounts"),
    (lambda d, p: d[0]["users"][0].update(roles=["r"]), "roles are for PostgreSQL, privileges for MySQL/MariaDB"),
    (lambda d, p: d[0]["users"][0].update(state="gone"), "state is 'gone'; give state present or absent"),
    (lambda d, p: d[0]["users"][0].update(name=" app"), "name ' app' must be non-empty"),
    (lambda d, p: d[0]["users"][0].update(name="a\nb"), "without control characters"),
    (lambda d, p: d[0]["users"][0].update(name="${aws:username}"), "contains '${', which IAM reads as a policy variable"),
    (lambda d, p: d[0]["users"][0].update(name="a/b"), "contains '/', '*' or '?'"),
    (lambda d, p: d[0]["users"][0].update(name="u" * 33), "is longer than mysql allows (32)"),
    (lambda d, p: d[1]["users"][0].update(name="pg_mine"), "starts with pg_, which PostgreSQL reserves"),
    (lambda d, p: d[0]["users"][0].pop("name"), "users[0]: name is required"),
    (lambda d, p: d[0]["users"].append("app"), "users[3] must be a dict, not str"),
    (lambda d, p: d[0].update(users={"name": "x"}), "rds_iam_databases[0] (db-mysql): users must be a list, not dict"),
    (lambda d, p: d.append("db"), "rds_iam_databases[2] must be a dict, not str"),
    (lambda d, p: d[0].update(db_name=5), "db_name must be a string"),
    (lambda d, p: p.append({"name": "app-role"}), "rds_iam_principals[3] (app-role): listed more than once"),
    (lambda d, p: p[0].update(trust="lambda"), "rds_iam_principals[0] (app-role): trust entries lambda are neither"),
    (lambda d, p: p[0].update(trust=[]), "trust must be ec2, rds or a list"),
    (lambda d, p: p[0].update(trusts="ec2"), "unknown key 'trusts' (did you mean 'trust'?)"),
    (lambda d, p: p[0].pop("name"), "rds_iam_principals[0]: name is required"),
]


@pytest.mark.parametrize("change, expected", CASES, ids=[c[1][:60] for c in CASES])
def test_each_problem_names_the_entry_and_the_key(change, expected):
    databases, principals = model()
    change(databases, principals)
    problems = problems_of(databases, principals)
    assert any(expected in problem for problem in problems), problems


def test_every_problem_is_reported_at_once_and_the_message_says_nothing_changed():
    databases, principals = model()
    databases[0]["users"][0]["principal"] = ["x"]
    databases[1]["engine"] = "aurora-postgresql"
    with pytest.raises(ModelError) as error:
        build_plan(databases, principals)
    assert len(error.value.problems) == 2
    assert str(error.value).startswith("the data model has 2 problem(s); nothing was changed:\n- ")


def test_a_long_list_of_problems_is_cut():
    databases = [{"db_instance_identifier": "d%d" % i, "engine": "mysql", "typo": 1} for i in range(30)]
    with pytest.raises(ModelError) as error:
        build_plan(databases, [])
    assert "... and 5 more" in str(error.value)


@pytest.mark.parametrize("databases, word", [(None, "not defined"), ([], "empty")])
def test_an_empty_or_missing_list_is_an_error_unless_allowed(databases, word):
    problems = problems_of(databases, [])
    assert "rds_iam_databases is %s" % word in problems[0] and "rds_iam_allow_empty: true" in problems[0]
    plan = build_plan(databases, [{"name": "r"}], allow_empty=True)
    assert plan["empty"] is True and plan["principals"][0]["grants"] == []


def test_a_list_that_is_no_list_is_an_error():
    assert "rds_iam_databases must be a list" in problems_of({"db_instance_identifier": "x"}, [])[0]


def test_misspelt_collection_variables_are_named():
    databases, principals = model()
    problems = problems_of(databases, principals, variables=["rds_iam_databse", "rds_iam_aws", "other_var"])
    assert problems == ["variable 'rds_iam_databse' is not one of the collection's (did you mean 'rds_iam_databases'?)"]


def test_host_problems_name_the_host_and_the_key():
    databases, principals = model()
    problems = problems_of(databases, principals, hosts={
        "h1": {"rds_iam_principal": "ap-role"},
        "h2": {"rds_iam_host_logins": [{"database": "db-mysq", "user": "app"}, {"database": "db-mysql", "user": "nobody"},
                                       {"database": "db-mysql"}]},
        "h3": {"rds_iam_host_logins": "db-mysql"},
        "h4": {"rds_iam_host_logins": [{"database": "db-mysql", "user": "app", "dbname": "x"}]},
    })
    expected = [
        "host h1: rds_iam_principal is 'ap-role', which rds_iam_principals does not define (did you mean 'app-role'?)",
        "host h2: rds_iam_host_logins[0]: database 'db-mysq' is not in rds_iam_databases (did you mean 'db-mysql'?)",
        "host h2: rds_iam_host_logins[1]: database 'db-mysql' has no user 'nobody'",
        "host h2: rds_iam_host_logins[2]: user is required",
        "host h3: rds_iam_host_logins must be a list, not str",
        "unknown key 'dbname' (did you mean 'db_name'?)",
    ]
    for text in expected:
        assert any(text in problem for problem in problems), (text, problems)


def test_without_principals_the_names_are_not_checked_and_admin_can_be_optional():
    databases = model()[0]
    databases[0].pop("admin")
    databases[0]["users"][0]["principals"] = ["anything"]
    plan = build_plan(databases, None, check_admin=False)
    assert plan["principals"] == [] and plan["databases"][0]["admin"] is None


def test_discovery_problems():
    databases, principals = model()
    found = discovered()[1:] + [{"db_instance_identifier": "db-mysql", "member_of_cluster": "aurora-1"}]
    problems = problems_of(databases, principals, discovered=found)
    assert any("DB instance 'db-mysql' is a member of the Aurora cluster 'aurora-1'" in p for p in problems)
    problems = problems_of(databases, principals, discovered=discovered()[1:])
    assert any("there is no DB instance 'db-mysql' in this account and region" in p for p in problems)
    problems = problems_of(databases, principals, discovered=[{"db_instance_identifier": "db-mysql", "failed": True, "msg": "boom"}] + discovered()[1:])
    assert "rds_iam_databases[0] (db-mysql): boom" in problems


def test_endpoints_can_be_required():
    databases, principals = model()
    problems = problems_of(databases, principals, require_endpoints=True)
    assert problems == ["rds_iam_databases[0] (db-mysql): no endpoint known: run the enable step first (site.yml does), "
                        "or set endpoint (address, port)"]


def test_trust_documents():
    assert trust_document("ec2")["Statement"][0]["Principal"] == {"Service": "ec2.amazonaws.com"}
    assert trust_document("rds")["Statement"][0]["Principal"] == {"Service": "rds.amazonaws.com"}, "an RDS Proxy's role"
    doc = trust_document(["123456789012", "arn:aws:iam::210987654321:role/ci", "123456789012"], "aws-cn")
    assert doc["Statement"][0]["Principal"] == {"AWS": ["arn:aws-cn:iam::123456789012:root", "arn:aws:iam::210987654321:role/ci"]}


def test_principal_policies_are_named_and_split_to_the_size_limit():
    databases, principals = model()
    databases[0]["users"] = [{"name": "user%03d" % i, "principals": ["app-role"]} for i in range(120)]
    plan = build_plan(databases, principals, discovered=discovered())
    result = {p["name"]: p for p in principal_policies(plan, "rds-iam-connect-", "/dbauth/", "123456789012")}
    app = result["app-role"]
    assert [p["name"] for p in app["policies"]] == ["rds-iam-connect-app-role", "rds-iam-connect-app-role-part2"]
    assert app["policies"][1]["arn"] == "arn:aws:iam::123456789012:policy/dbauth/rds-iam-connect-app-role-part2"
    resources = [r for p in app["policies"] for r in p["document"]["Statement"][0]["Resource"]]
    assert len(resources) == 120 and resources == sorted(resources)
    assert app["instance_profile"] is True and app["trust_document"]["Statement"][0]["Principal"]["Service"] == "ec2.amazonaws.com"
    assert result["none-role"]["policies"] == [] and result["none-role"]["trust_document"] is None
    with pytest.raises(ModelError, match="app-role: its 121 database users need 2 managed policies of 6144 characters, over the 1"):
        databases[1]["users"][0]["principals"].append("app-role")
        principal_policies(build_plan(databases, principals, discovered=discovered()), "p-", "/", "123456789012", max_policies=1)
    revoked = principal_policies(plan, "rds-iam-connect-", "/", "123456789012", revoke=True)
    assert all(p["policies"] == [] for p in revoked)


def test_principal_policies_need_resource_ids_and_distinct_names():
    databases, principals = model()
    with pytest.raises(ModelError, match="the resource ids of db-mysql are not known"):
        principal_policies(build_plan(databases, principals), "p-", "/", "123456789012")
    principals.append({"name": "app-role-part2"})
    databases[0]["users"] = [{"name": "user%03d" % i, "principals": ["app-role"]} for i in range(120)]
    databases[0]["users"][0]["principals"].append("app-role-part2")
    with pytest.raises(ModelError, match="principals app-role and app-role-part2 would both own the managed policy p-app-role-part2"):
        principal_policies(build_plan(databases, principals, discovered=discovered()), "p-", "/", "123456789012")


def test_db_user_databases_join_the_admin_password_only_in_module_arguments():
    databases, principals = model()
    plan = build_plan(databases, principals, discovered=discovered())
    mysql, aurora = db_user_databases(plan["databases"], databases)
    assert mysql == {
        "name": "db-mysql", "engine": "mysql", "login_host": "db-mysql.rds.example", "login_port": 3306, "login_user": "admin",
        "login_iam": False, "login_password": "s3cret-admin",
        "users": [{"name": "app", "state": "present", "privileges": {"app.*": "SELECT"}},
                  {"name": "report", "state": "present", "host": "10.0.%"}, {"name": "gone", "state": "absent"}],
    }
    assert aurora["login_host"] == "admin.example" and aurora["login_port"] == 6432 and aurora["login_iam"] is True
    assert aurora["login_db"] == "postgres" and "login_password" not in aurora
    absent = db_user_databases(plan["databases"], databases, state="absent")[1]
    assert absent["users"] == [{"name": "report", "state": "absent"}]
    databases[0]["users"] = []
    assert [d["name"] for d in db_user_databases(build_plan(databases, principals, discovered=discovered())["databases"], databases)] == ["aurora-1"]


def test_db_user_databases_need_an_endpoint():
    databases, principals = model()
    with pytest.raises(ModelError, match="rds_iam_databases\\[0\\] \\(db-mysql\\): no endpoint known for the admin login"):
        db_user_databases(build_plan(databases, principals)["databases"], databases)


def test_verify_rows_table_and_unexpected():
    databases, principals = model()
    host = {"rds_iam_principal": "report-role",
            "rds_iam_host_logins": [{"database": "db-mysql", "user": "report"}, {"database": "db-mysql", "user": "app"}]}
    plan = build_plan(databases, principals, discovered=discovered(), hosts={"h": host})
    logins = plan["hosts"]["h"]["logins"]
    results = [{"connected": False, "diagnosis": "policy_denied", "msg": "no allow"},
               {"connected": True, "tls_version": "TLSv1.3", "latency_ms": 12.345, "current_user": "app"}]
    rows = verify_rows(results, logins, "h", "report-role")
    assert [(r["user"], r["granted"], r["connected"], r["diagnosis"]) for r in rows] == [
        ("report", True, False, "policy_denied"), ("app", False, True, None)]
    assert verify_unexpected(rows) == [
        "h -> db-mysql as report: policy_denied: no allow",
        "h -> db-mysql as app: logged in although the data model does not grant it to report-role",
    ]
    lines = verify_table(rows)
    assert lines[0].split() == ["HOST", "DATABASE", "USER", "RESULT", "TLS", "MS", "DIAGNOSIS"]
    assert lines[1].split() == ["h", "db-mysql", "report", "FAILED", "-", "-", "policy_denied"]
    assert lines[2].split() == ["h", "db-mysql", "app", "ok", "TLSv1.3", "12.3", "-"]
    assert lines[-1] == "1 of 2 logins ok"
    assert verify_rows([{"connected": False}], logins[:1], "h")[0]["diagnosis"] == "error"


def proxy_model():
    databases, principals = model()
    databases[0]["proxies"] = [{"name": "app-proxy", "role": "proxy-role"}, {"name": "report-proxy", "users": ["report"]}]
    principals.append({"name": "proxy-role", "trust": "rds"})
    found = discovered() + [
        {"db_proxy_name": "app-proxy", "resource_id": "prx-aaa", "resource_arn_prefix": PREFIX + "prx-aaa",
         "endpoint": "app-proxy.proxy-x.rds.example"},
        {"db_proxy_name": "report-proxy", "resource_id": "prx-bbb", "resource_arn_prefix": PREFIX + "prx-bbb",
         "endpoint": "report-proxy.proxy-x.rds.example"},
    ]
    return databases, principals, found


def test_proxies_grant_clients_on_prx_ids_the_role_on_the_database_and_add_logins():
    """RDS user guide, "Setting up IAM authentication for RDS Proxy": clients need rds-db:connect on the proxy's
    prx- id; with end-to-end IAM the proxy's role needs it on the database's users."""
    databases, principals, found = proxy_model()
    plan = build_plan(databases, principals, discovered=found, hosts={"app-1": {"rds_iam_principal": "app-role"}})
    grants = {p["name"]: p["grants"] for p in plan["principals"]}
    assert grants["app-role"] == [
        {"database": "db-mysql", "resource_arn_prefix": PREFIX + "db-ABC", "db_users": ["app", "report"]},
        {"database": "db-mysql via app-proxy", "resource_arn_prefix": PREFIX + "prx-aaa", "db_users": ["app", "report"]},
        {"database": "db-mysql via report-proxy", "resource_arn_prefix": PREFIX + "prx-bbb", "db_users": ["report"]},
    ]
    assert grants["proxy-role"] == [
        {"database": "db-mysql", "resource_arn_prefix": PREFIX + "db-ABC", "db_users": ["app", "report"]}]
    assert [(p["name"], p["database"], p["role"], p["port"]) for p in plan["proxies"]] == [
        ("app-proxy", "db-mysql", "proxy-role", 3306), ("report-proxy", "db-mysql", None, 3306)]
    logins = plan["hosts"]["app-1"]["logins"]
    assert [(x["database"], x["user"], x.get("via")) for x in logins] == [
        ("db-mysql", "app", None), ("db-mysql", "app", "app-proxy"),
        ("db-mysql", "report", None), ("db-mysql", "report", "app-proxy"), ("db-mysql", "report", "report-proxy")]
    assert logins[1]["args"] == {"label": "db-mysql via app-proxy", "engine": "mysql", "db_host": "app-proxy.proxy-x.rds.example",
                                 "db_port": 3306, "db_user": "app", "db_name": "app"}
    assert ArgumentSpecValidator(schema.HOST_PLAN_OPTIONS).validate(copy.deepcopy(plan["hosts"]["app-1"])).error_messages == []
    rows = verify_rows([{"connected": True}] * 5, logins, "app-1", "app-role")
    assert rows[1]["database"] == "db-mysql via app-proxy"
    listed = build_plan(databases, principals, discovered=found, hosts={"h": {"rds_iam_principal": "app-role",
                        "rds_iam_host_logins": [{"database": "db-mysql", "user": "app"}]}})
    assert [x.get("via") for x in listed["hosts"]["h"]["logins"]] == [None], "a host that lists its logins gets those"


def test_proxy_problems_name_the_entry_and_the_key():
    databases, principals, _found = proxy_model()
    databases[0]["proxies"] = [{"name": "app-proxy", "role": "proxy-rol", "users": ["nobody"]}, {"name": "9bad"}]
    problems = problems_of(databases, principals)
    assert any("rds_iam_databases[0] (db-mysql): proxies[0] (app-proxy): role 'proxy-rol' is not defined" in p
               and "did you mean 'proxy-role'" in p for p in problems), problems
    assert any("proxies[0] (app-proxy): users names 'nobody'" in p for p in problems)
    assert any("proxies[1] (9bad): name must be a letter" in p for p in problems)


def test_proxy_endpoints_are_required_for_their_logins_and_ids_for_their_grants():
    databases, principals, found = proxy_model()
    problems = problems_of(databases, principals, discovered=discovered(), require_endpoints=True)
    assert any("proxies (app-proxy): its endpoint is not known" in p for p in problems)
    plan = build_plan(databases, principals, discovered=discovered())
    with pytest.raises(ModelError, match="db-mysql via app-proxy"):
        principal_policies(plan, "rds-iam-connect-", "/", "123456789012")


# -- kind: self_managed ----------------------------------------------------------------------------------------------


def self_managed_model():
    databases, principals = model()
    databases.append({
        "kind": "self_managed", "name": "pg-1", "engine": "postgres", "host": "db1.internal", "db_name": "app",
        "admin": {"user": "postgres", "password": "s3cret-pg"},
        "users": [{"name": "app", "principals": ["app-role"]}, {"name": "rep", "principals": ["report-role", "app-role"]},
                  {"name": "old", "state": "absent", "principals": ["app-role"]}],
    })
    databases.append({"kind": "self_managed", "name": "maria-1", "engine": "mariadb", "host": "db2.internal", "port": 3307,
                      "server_id": "prod/maria-1", "admin": {"user": "admin", "password": "s3cret-my"},
                      "users": [{"name": "app", "privileges": {"app.*": "SELECT"}, "principals": ["app-role"]}]})
    return databases, principals


def test_self_managed_databases_are_planned_apart_from_rds():
    databases, principals = self_managed_model()
    plan = build_plan(databases, principals, hosts={"h": {"rds_iam_principal": "app-role"}}, discovered=discovered())
    assert [db["id"] for db in plan["databases"]] == ["db-mysql", "aurora-1"]  # what the RDS steps read
    pg, maria = plan["self_managed"]
    assert (pg["id"], pg["kind"], pg["endpoint"], pg["server_id"], pg["pam_service"]) == (
        "pg-1", "self_managed", {"address": "db1.internal", "port": 5432}, "pg-1", "dbauth-iam-pg-1")
    assert (maria["endpoint"], maria["server_id"]) == ({"address": "db2.internal", "port": 3307}, "prod/maria-1")
    # iam_access grants nothing in rds-db for them
    grants = {p["name"]: [g["database"] for g in p["grants"]] for p in plan["principals"]}
    assert grants["app-role"] == ["db-mysql"]
    # the hosts log in to them with tokens of kind sts for their server id
    logins = {(l["database"], l["user"]): l["args"] for l in plan["hosts"]["h"]["logins"]}
    assert logins[("pg-1", "app")] == {"label": "pg-1", "engine": "postgres", "db_host": "db1.internal", "db_port": 5432,
                                       "db_user": "app", "db_name": "app", "kind": "sts", "server_id": "pg-1"}
    assert logins[("maria-1", "app")]["server_id"] == "prod/maria-1"
    assert "db_instance_identifier" in logins[("db-mysql", "app")] and "kind" not in logins[("db-mysql", "app")]


def test_self_managed_users_are_created_through_the_bridge():
    databases, principals = self_managed_model()
    plan = build_plan(databases, principals, discovered=discovered())
    entries = db_user_databases(plan["self_managed"], databases)
    assert [(e["name"], e["auth"], e["pam_service"], e["login_password"]) for e in entries] == [
        ("pg-1", "bridge", "dbauth-iam-pg-1", "s3cret-pg"), ("maria-1", "bridge", "dbauth-iam-maria-1", "s3cret-my")]
    assert "auth" not in db_user_databases(plan["databases"], databases)[0]


def test_the_bridge_maps_role_arns_to_users():
    databases, principals = self_managed_model()
    plan = build_plan(databases, principals)
    listeners = {"ldap": {"host": "127.0.0.1", "port": 3890, "base_dn": "dc=dbauth-iam-bridge"}, "socket": None}
    config = bridge_config(plan["self_managed"][0], plan["principals"], "arn:aws-cn:sts::111122223333:assumed-role/x/y",
                           ["cn-north-1"], listeners, stale_seconds="60")
    assert config == {
        "server_id": "pg-1", "partition": "aws-cn", "regions": ["cn-north-1"], "sts_endpoints": {}, "ca_file": None,
        "ldap": listeners["ldap"], "socket": None, "stale_seconds": 60,
        # no path in the ARN (STS names an assumed role's role without it); absent users map to nobody
        "mapping": {"arn:aws-cn:iam::111122223333:role/app-role": ["app", "rep"],
                    "arn:aws-cn:iam::111122223333:role/report-role": ["rep"]},
    }
    with pytest.raises(ModelError, match="account id"):
        bridge_config(plan["self_managed"][0], plan["principals"], "not-an-arn", ["eu-west-1"], listeners)


@pytest.mark.parametrize("change,expected", [
    ({"host": None}, "kind: self_managed needs name and host"),
    ({"db_instance_identifier": "x"}, "db_instance_identifier is for RDS databases"),
    ({"engine": "mysql"}, "kind: self_managed supports mariadb and postgres"),
    ({"name": "bad name"}, "name 'bad name' must be"),
    ({"server_id": "a b"}, "server_id 'a b' must be"),
])
def test_self_managed_problems_name_the_entry_and_key(change, expected):
    databases, principals = self_managed_model()
    databases[2].update(change)
    with pytest.raises(ModelError) as e:
        build_plan(databases, principals)
    assert "rds_iam_databases[2]" in str(e.value) and expected in str(e.value)


def test_rds_entries_refuse_self_managed_keys():
    databases, principals = self_managed_model()
    databases[0]["host"] = "db.example"
    with pytest.raises(ModelError, match=r"rds_iam_databases\[0\] \(db-mysql\): host is for kind: self_managed"):
        build_plan(databases, principals)


def test_self_managed_databases_have_no_proxies_and_hosts_plan_beside_rds_proxies():
    databases, principals = self_managed_model()
    databases[2]["proxies"] = [{"name": "pg-proxy"}]
    assert any("rds_iam_databases[2] (pg-1): proxies is for RDS databases" in p for p in problems_of(databases, principals))
    databases, principals, found = proxy_model()
    databases.append(self_managed_model()[0][2])
    plan = build_plan(databases, principals, discovered=found, hosts={"h": {"rds_iam_principal": "app-role"}})
    assert [(x["database"], x.get("via")) for x in plan["hosts"]["h"]["logins"] if x["database"] == "pg-1"] == [
        ("pg-1", None), ("pg-1", None)]
