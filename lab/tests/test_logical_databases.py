"""Logical databases of the lab: their own RDS identity, served by one of the three servers.

``labctl add-databases FILE`` gives each entry its own DB instance (or Aurora cluster) in moto, with
its own resource id and IAM flag (off at creation), and an endpoint of its own: a relay on a free
127.0.0.1 port to the real server. As on RDS, a token is good only for the endpoint it was signed
for and only with IAM auth on and a policy on the resource id of the database dialled:

* each DB instance has its own ``DbiResourceId`` (an Aurora cluster its ``DbClusterResourceId``)
  and the ``rds-db:connect`` policy names it (RDS user guide, "Creating and using an IAM policy
  for IAM database access");
* the token is signed for the host name and port of the instance the client connects to (RDS user
  guide, "Connecting to your DB instance using IAM authentication").

One lab of its own for the module (started like ``test_logins.py``), real logins over TLS
(verify-full) through the relays.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pymysql
import pytest
import yaml

from lab.tests import test_logins
from lab.tests.test_logins import LOGIN_ERRORS, REPO, login, make_token, mysql_connect, pg_connect

lab = test_logins.lab  # the same module-scoped fixture: this module gets a lab of its own

LOGICAL = {  # logical id -> (kind, server)
    "lg-mysql": ("instance", "lab-mysql"),
    "lg-postgres": ("instance", "lab-postgres"),
    "lg-aurora": ("cluster", "lab-aurora"),
}
PAIRS = [(logical, server) for logical, (_kind, server) in LOGICAL.items()]
USER = "lg_user"


def add(lab, tmp_path, entries, check=True):
    path = tmp_path / "databases.yml"
    path.write_text(yaml.safe_dump(entries))
    proc = lab.labctl("add-databases", str(path), check=check)
    return proc if not check else json.loads(proc.stdout)["databases"]


def remove(lab, *args, check=True):
    proc = lab.labctl("remove-databases", *args, check=check)
    return proc if not check else json.loads(proc.stdout)["databases"]


def set_iam(lab, db_id, on):
    rds = lab.aws("rds")
    if lab.db(db_id)["kind"] == "cluster":
        rds.modify_db_cluster(DBClusterIdentifier=db_id, EnableIAMDatabaseAuthentication=on, ApplyImmediately=True)
    else:
        rds.modify_db_instance(DBInstanceIdentifier=db_id, EnableIAMDatabaseAuthentication=on, ApplyImmediately=True)


def iam_user(lab, name, resource_ids):
    """An IAM user allowed rds-db:connect as USER on the given resource ids only -> boto3 credentials."""
    iam = lab.aws("iam")
    iam.create_user(UserName=name)
    prefix = f"arn:aws:rds-db:{lab.status['region']}:{lab.status['account_id']}:dbuser"
    iam.put_user_policy(UserName=name, PolicyName="connect", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "rds-db:connect",
                                                "Resource": [f"{prefix}:{rid}/{USER}" for rid in resource_ids]}]}))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return {"aws_access_key_id": key["AccessKeyId"], "aws_secret_access_key": key["SecretAccessKey"]}


def expect_refused(lab, dialled, user, password, code):
    """The login through `dialled`'s endpoint fails; the verifier logged `code` for that database."""
    before = len(lab.log_entries())
    with pytest.raises(LOGIN_ERRORS):
        login(lab, dialled, user, password)
    new = lab.log_entries()[before:]
    assert any(e["code"] == code and e["database"] == dialled and e["user"] == user for e in new), \
        f"expected a {code!r} refusal for {user} dialling {dialled}, got {new}"


def create_user(lab, server, user=USER, password_user=None, password=None):
    """``user`` on a server of the lab, as an IAM user (what its logical databases then serve); with
    ``password_user``, also a user that logs in with ``password`` (TLS required)."""
    db = lab.db(server)
    if db["engine"] == "mysql":
        conn = mysql_connect(lab, db, db["admin_user"], db["admin_password"])
        with conn.cursor() as cur:
            cur.execute(f"CREATE USER IF NOT EXISTS '{user}'@'%' IDENTIFIED WITH AWSAuthenticationPlugin "
                        "AS 'RDS' REQUIRE SSL")
            if password_user:
                cur.execute(f"CREATE USER IF NOT EXISTS '{password_user}'@'%' IDENTIFIED BY '{password}' REQUIRE SSL")
    else:
        conn = pg_connect(lab, db, db["admin_user"], db["admin_password"])
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(f"CREATE ROLE {user} LOGIN IN ROLE rds_iam")
            if password_user:
                cur.execute(f"CREATE ROLE {password_user} LOGIN PASSWORD '{password}'")
    conn.close()


def token(lab, creds, db_id):
    """A token signed for the endpoint of db_id (its relay for a logical database)."""
    db = lab.db(db_id)
    return make_token(creds, db["endpoint"]["address"], db["endpoint"]["port"], USER, lab.status["region"])


@pytest.fixture(scope="module")
def logical(lab, tmp_path_factory):
    """The three logical databases, IAM auth on for the servers (not for the logical ones), USER on each server,
    and credentials: allowed on the logical resource ids only, on the servers' only, or on both."""
    tmp = tmp_path_factory.mktemp("logical")
    created = add(lab, tmp, [{"id": i, "kind": k, "server": s} for i, (k, s) in LOGICAL.items()])
    assert [c["action"] for c in created] == ["created"] * 3
    lab.refresh()
    for server in ("lab-mysql", "lab-postgres", "lab-aurora"):
        set_iam(lab, server, True)
        create_user(lab, server)
    lab.refresh()
    rid = {d["id"]: d["resource_id"] for d in lab.status["databases"]}
    return {
        "logical_only": iam_user(lab, "lg-logical-only", [rid[i] for i in LOGICAL]),
        "server_only": iam_user(lab, "lg-server-only", [rid[s] for _i, s in PAIRS]),
        "both": iam_user(lab, "lg-both", list(rid.values())),
    }


def test_status_lists_logical_databases(lab, logical):
    servers = {d["id"]: d for d in lab.status["databases"] if not d["logical"]}
    assert set(servers) == {"lab-mysql", "lab-postgres", "lab-aurora"}
    for db_id, (kind, server) in LOGICAL.items():
        db = lab.db(db_id)
        base = servers[server]
        assert db["logical"] is True and db["served_by"] == server and db["kind"] == kind
        assert db["endpoint"] == {"address": "127.0.0.1", "port": db["port"]} and db["port"] != base["port"]
        assert db["resource_id"].startswith("cluster-" if kind == "cluster" else "db-")
        assert db["admin_user"] == base["admin_user"] and db["admin_password"] == base["admin_password"]
        assert db["db_name"] == base["db_name"] and db["server"] == base["server"]
    resource_ids = [d["resource_id"] for d in lab.status["databases"]]
    assert len(set(resource_ids)) == len(resource_ids) == 6  # each instance/cluster its own
    # RDS itself describes them with their endpoint (the relay)
    described = lab.aws("rds").describe_db_instances(DBInstanceIdentifier="lg-mysql")["DBInstances"][0]
    assert described["Endpoint"]["Port"] == lab.db("lg-mysql")["port"]
    assert described["IAMDatabaseAuthenticationEnabled"] is False


def test_admin_login_through_the_relay_keeps_tls_end_to_end(lab, logical):
    # verify-full against the lab CA: the relay copies bytes, the server's certificate still matches 127.0.0.1
    for db_id in LOGICAL:
        db = lab.db(db_id)
        if db["engine"] == "mysql":
            conn = mysql_connect(lab, db, db["admin_user"], db["admin_password"])
            with conn.cursor() as cur:
                cur.execute("SHOW SESSION STATUS LIKE 'Ssl_version'")
                assert cur.fetchone()[1].startswith("TLS")
        else:
            conn = pg_connect(lab, db, db["admin_user"], db["admin_password"])
            with conn.cursor() as cur:
                cur.execute("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
                assert cur.fetchone()[0] is True
        conn.close()


@pytest.mark.parametrize("db_id,server", PAIRS)
def test_login_needs_the_logical_databases_own_flag_and_policy(lab, logical, db_id, server):
    assert lab.db(db_id)["iam_database_authentication_enabled"] is False  # off at creation
    expect_refused(lab, db_id, USER, token(lab, logical["logical_only"], db_id), "iam_auth_disabled")
    set_iam(lab, db_id, True)
    lab.refresh()
    # a policy on the server's resource id does not open the logical database
    expect_refused(lab, db_id, USER, token(lab, logical["server_only"], db_id), "policy_implicit_deny")
    entry = lab.log_entries()[-1]
    assert entry["database"] == db_id and entry["db_id"] == server
    assert login(lab, db_id, USER, token(lab, logical["logical_only"], db_id)) == (USER, True)
    # and the other way round: the logical policy does not open the server's own endpoint
    expect_refused(lab, server, USER, token(lab, logical["logical_only"], server), "policy_implicit_deny")
    assert login(lab, server, USER, token(lab, logical["server_only"], server)) == (USER, True)
    # the logical database's flag is its own: off again, the server still accepts
    set_iam(lab, db_id, False)
    try:
        expect_refused(lab, db_id, USER, token(lab, logical["logical_only"], db_id), "iam_auth_disabled")
        assert login(lab, server, USER, token(lab, logical["both"], server)) == (USER, True)
    finally:
        set_iam(lab, db_id, True)
        lab.refresh()


@pytest.mark.parametrize("db_id,server", PAIRS)
def test_token_is_good_for_the_endpoint_it_was_signed_for_only(lab, logical, db_id, server):
    both = logical["both"]  # allowed on both resource ids: only the endpoint can refuse
    # signed for the logical endpoint, dialled the server's own endpoint
    expect_refused(lab, server, USER, token(lab, both, db_id), "wrong_endpoint")
    # signed for the server's endpoint, dialled the logical database's relay
    expect_refused(lab, db_id, USER, token(lab, both, server), "wrong_endpoint")
    assert lab.log_entries()[-1]["database"] == db_id
    assert login(lab, db_id, USER, token(lab, both, db_id)) == (USER, True)
    assert login(lab, server, USER, token(lab, both, server)) == (USER, True)


def test_add_is_idempotent_and_refuses_conflicts(lab, logical, tmp_path):
    entries = [{"id": i, "kind": k, "server": s} for i, (k, s) in LOGICAL.items()]
    assert [c["action"] for c in add(lab, tmp_path, entries)] == ["unchanged"] * 3
    for bad, message in (
        ([{"id": "lg-mysql", "kind": "instance", "server": "lab-postgres"}], "remove it first"),
        ([{"id": "lab-postgres", "kind": "instance", "server": "lab-postgres"}], "one of the lab's servers"),
        ([{"id": "lg-x", "kind": "instance", "server": "lab-nowhere"}], "server must be one of"),
        ([{"id": "lg-x", "kind": "proxy", "server": "lab-mysql"}], "kind must be instance or cluster"),
        ([{"id": "lg_x", "kind": "instance", "server": "lab-mysql"}], "RDS identifier"),
        ([{"id": "lg-x", "kind": "instance", "server": "lab-mysql", "engin": "mysql"}], "unknown key"),
    ):
        proc = add(lab, tmp_path, bad, check=False)
        assert proc.returncode == 1 and message in proc.stderr, (bad, proc.stderr)
    proc = remove(lab, str(tmp_path / "databases.yml"), "--all-logical", check=False)
    assert proc.returncode == 1 and "not both" in proc.stderr
    (tmp_path / "servers.json").write_text(json.dumps(["lab-mysql"]))
    proc = remove(lab, str(tmp_path / "servers.json"), check=False)
    assert proc.returncode == 1 and "only logical databases" in proc.stderr
    lab.refresh()
    assert len(lab.status["databases"]) == 6


def test_inventory_variables_cover_logical_databases(lab, logical, tmp_path):
    proc = subprocess.run([sys.executable, "-m", "rds_iam_lab", "inventory", "--vars-only", str(tmp_path)], cwd=REPO,
                          env=lab.env, capture_output=True, text=True, check=True)
    assert "lg-" not in proc.stdout  # names no database, prints no secret
    target = tmp_path / "group_vars" / "all"
    public = yaml.safe_load((target / "lab_generated.yml").read_text())
    secret = yaml.safe_load((target / "lab_secrets.yml").read_text())
    for db_id, (_kind, server) in LOGICAL.items():
        entry = public["lab_databases"][db_id]
        assert entry["logical"] is True and entry["served_by"] == server
        assert entry["port"] == lab.db(db_id)["port"] and entry["resource_id"] == lab.db(db_id)["resource_id"]
        assert entry["admin_user"] == public["lab_databases"][server]["admin_user"]
        assert secret["lab_admin_passwords"][db_id] == secret["lab_admin_passwords"][server]
    assert lab.db("lg-mysql")["admin_password"] not in (target / "lab_generated.yml").read_text()


def test_up_again_keeps_them(lab, logical):
    pid = lab.status["daemon_pid"]
    lab.labctl("up")
    lab.refresh()
    assert lab.status["daemon_pid"] == pid
    assert set(LOGICAL) <= {d["id"] for d in lab.status["databases"]}
    assert login(lab, "lg-postgres", USER, token(lab, logical["logical_only"], "lg-postgres")) == (USER, True)


def test_remove(lab, logical, tmp_path):
    gone = lab.db("lg-mysql")
    (tmp_path / "one.json").write_text(json.dumps([{"id": "lg-mysql"}, {"id": "lg-never-added"}]))
    expected = [{"id": "lg-mysql", "action": "removed"}, {"id": "lg-never-added", "action": "absent"}]
    assert remove(lab, str(tmp_path / "one.json")) == expected
    lab.refresh()
    assert "lg-mysql" not in {d["id"] for d in lab.status["databases"]}
    with pytest.raises(lab.aws("rds").exceptions.DBInstanceNotFoundFault):
        lab.aws("rds").describe_db_instances(DBInstanceIdentifier="lg-mysql")
    with pytest.raises(pymysql.MySQLError):  # its endpoint is closed
        mysql_connect(lab, gone, gone["admin_user"], gone["admin_password"])
    assert remove(lab, str(tmp_path / "one.json"))[0] == {"id": "lg-mysql", "action": "absent"}
    # the others still work, then all of them go
    assert login(lab, "lg-aurora", USER, token(lab, logical["logical_only"], "lg-aurora")) == (USER, True)
    assert sorted(r["id"] for r in remove(lab, "--all-logical")) == ["lg-aurora", "lg-postgres"]
    lab.refresh()
    assert [d["id"] for d in lab.status["databases"]] == ["lab-mysql", "lab-postgres", "lab-aurora"]
    for server in ("postgres", "aurora"):
        assert "ou=" not in (lab.state / server / "data" / "pg_hba.conf").read_text()
    assert remove(lab, "--all-logical") == []
    assert login(lab, "lab-aurora", USER, token(lab, logical["both"], "lab-aurora")) == (USER, True)


def test_down_ends_them(lab, logical, tmp_path):
    add(lab, tmp_path, [{"id": "lg-again", "kind": "instance", "server": "lab-postgres"}])
    assert "lg-again" in {d["id"] for d in lab.refresh()["databases"]}
    lab.labctl("down")
    stopped = json.loads(lab.labctl("status", "--json", check=False).stdout)
    assert "lg-again" not in {d["id"] for d in stopped["databases"]}
    assert not (lab.state / "postgres" / "logical-routes.json").exists()
    lab.labctl("up")
    assert [d["id"] for d in lab.refresh()["databases"]] == ["lab-mysql", "lab-postgres", "lab-aurora"]
    assert "ou=" not in (lab.state / "postgres" / "data" / "pg_hba.conf").read_text()
