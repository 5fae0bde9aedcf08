"""TokenVerifier against a real in-process moto server (no data plane needed).

Tokens are made by boto3's ``generate_db_auth_token`` with keys the lab's IAM/STS
issued (static user keys and assumed-role sessions), as a target host would.
"""

from __future__ import annotations

import json
import time
import uuid

import pytest
from botocore.auth import SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from rds_iam_lab.control_plane import ControlPlane, DatabaseSpec
from rds_iam_lab.verifier import MAX_EXPIRES, TokenVerifier, parse_token

HOST = "127.0.0.1"
PG_PORT = 15432
AURORA_PORT = 15433


@pytest.fixture(scope="module")
def iam_enabled(lab_control_plane: ControlPlane) -> dict[str, dict]:
    rds = lab_control_plane.client("rds")
    rds.modify_db_instance(DBInstanceIdentifier="lab-postgres", EnableIAMDatabaseAuthentication=True,
                           ApplyImmediately=True)
    rds.modify_db_cluster(DBClusterIdentifier="lab-aurora", EnableIAMDatabaseAuthentication=True,
                          ApplyImmediately=True)
    dbs = {d["id"]: d for d in lab_control_plane.databases()}
    assert dbs["lab-postgres"]["iam_database_authentication_enabled"] is True
    assert dbs["lab-aurora"]["iam_database_authentication_enabled"] is True
    return dbs


@pytest.fixture
def verifier(lab_control_plane: ControlPlane, tmp_path) -> TokenVerifier:
    return TokenVerifier(lab_control_plane, log_path=tmp_path / "refusals.jsonl")


def user_arn(cp: ControlPlane, resource_id: str, user: str) -> str:
    return f"arn:aws:rds-db:{cp.region}:{cp.account_id}:dbuser:{resource_id}/{user}"


def presign(creds, host: str, port: int, user: str, region: str, service: str = "rds-db",
            expires: int = 900) -> str:
    """A token signed like generate_db_auth_token, but with a chosen service/expiry."""
    request = AWSRequest(method="GET", url=f"https://{host}:{port}/?Action=connect&DBUser={user}")
    signer = SigV4QueryAuth(Credentials(creds.access_key, creds.secret_key, creds.session_token),
                            service, region, expires=expires)
    signer.add_auth(request)
    return request.url[len("https://"):]


def test_valid_static_keys(lab_control_plane, lab_iam, iam_enabled, verifier):
    cp = lab_control_plane
    rid = iam_enabled["lab-postgres"]["resource_id"]
    creds = lab_iam.user(lab_iam.connect_policy(user_arn(cp, rid, "alice")))
    token = creds.token(cp, HOST, PG_PORT, "alice")
    decision = verifier.verify(token, "alice", "lab-postgres")
    assert decision.ok, decision.reason
    assert decision.code == "ok"
    assert decision.principal_arn == creds.arn
    assert decision.access_key_id == creds.access_key
    assert decision.resource_arn == user_arn(cp, rid, "alice")
    assert verifier.recent_refusals() == []


def test_valid_assumed_role_session(lab_control_plane, lab_iam, iam_enabled, verifier):
    """The seeded lab-app-role, assumed with its source user's keys as a target host does."""
    cp = lab_control_plane
    rid = iam_enabled["lab-postgres"]["resource_id"]
    iam = cp.client("iam")
    iam.put_role_policy(RoleName="lab-app-role", PolicyName="t-connect",
                        PolicyDocument=lab_iam.connect_policy(f"arn:aws:rds-db:*:*:dbuser:{rid}/app_*"))
    try:
        session = lab_iam.lab_role_session("lab-app-role")
        token = session.token(cp, HOST, PG_PORT, "app_user")
        assert "X-Amz-Security-Token=" in token
        decision = verifier.verify(token, "app_user", "lab-postgres")
        assert decision.ok, decision.reason
        assert decision.principal_arn == session.arn
        assert ":assumed-role/lab-app-role/" in decision.principal_arn
    finally:
        iam.delete_role_policy(RoleName="lab-app-role", PolicyName="t-connect")
    # the policy is gone: the same kind of token is now refused
    token = lab_iam.lab_role_session("lab-app-role").token(cp, HOST, PG_PORT, "app_user")
    assert verifier.verify(token, "app_user", "lab-postgres").code == "policy_implicit_deny"


def test_valid_assumed_role_managed_policy_on_aurora_cluster(lab_control_plane, lab_iam, iam_enabled, verifier):
    cp = lab_control_plane
    rid = iam_enabled["lab-aurora"]["resource_id"]
    assert rid.startswith("cluster-")
    role = lab_iam.role(managed=lab_iam.connect_policy(user_arn(cp, rid, "report")))
    session = lab_iam.assume(role)
    token = session.token(cp, HOST, AURORA_PORT, "report")
    decision = verifier.verify(token, "report", "lab-aurora")
    assert decision.ok, decision.reason
    # the member instance id resolves to the cluster (its resource id and setting)
    assert verifier.verify(token, "report", "lab-aurora-instance-1").ok


def test_bad_signature(lab_control_plane, lab_iam, iam_enabled, verifier):
    cp = lab_control_plane
    creds = lab_iam.user(lab_iam.connect_policy("*"))
    token = creds.token(cp, HOST, PG_PORT, "alice")
    head, sig = token.rsplit("X-Amz-Signature=", 1)
    forged = head + "X-Amz-Signature=" + ("0" if sig[0] != "0" else "1") + sig[1:]
    decision = verifier.verify(forged, "alice", "lab-postgres")
    assert not decision.ok
    assert decision.code == "bad_signature"
    # a token signed with the right key id but another secret fails the same way
    wrong_secret = type(creds)(creds.access_key, "x" * 40)
    decision = verifier.verify(wrong_secret.token(cp, HOST, PG_PORT, "alice"), "alice", "lab-postgres")
    assert decision.code == "bad_signature"
    # tampering with a signed parameter (DBUser) breaks the signature too
    tampered = token.replace("DBUser=alice", "DBUser=alicf")
    assert verifier.verify(tampered, "alicf", "lab-postgres").code == "bad_signature"


def test_unknown_key(lab_control_plane, iam_enabled, verifier):
    from lab.tests.conftest import Creds

    creds = Creds("AKIA" + uuid.uuid4().hex[:16].upper(), "s" * 40)
    decision = verifier.verify(creds.token(lab_control_plane, HOST, PG_PORT, "alice"), "alice", "lab-postgres")
    assert not decision.ok
    assert decision.code == "unknown_key"
    assert decision.access_key_id == creds.access_key


def test_token_older_than_900_seconds(lab_control_plane, lab_iam, iam_enabled, tmp_path):
    cp = lab_control_plane
    creds = lab_iam.user(lab_iam.connect_policy("*"))
    token = creds.token(cp, HOST, PG_PORT, "alice")
    now = time.time()
    fresh = TokenVerifier(cp, clock=lambda: now + 890)
    assert fresh.verify(token, "alice", "lab-postgres").ok
    old = TokenVerifier(cp, clock=lambda: now + MAX_EXPIRES + 5)
    decision = old.verify(token, "alice", "lab-postgres")
    assert not decision.ok
    assert decision.code == "expired"


def test_token_from_the_future_and_long_expiry(lab_control_plane, lab_iam, iam_enabled, verifier):
    cp = lab_control_plane
    creds = lab_iam.user(lab_iam.connect_policy("*"))
    token = creds.token(cp, HOST, PG_PORT, "alice")
    now = time.time()
    # seen by a verifier whose clock is an hour behind, the token comes from the future
    assert TokenVerifier(cp, clock=lambda: now - 3600).verify(token, "alice", "lab-postgres").code == \
        "not_yet_valid"
    long_lived = presign(creds, HOST, PG_PORT, "alice", cp.region, expires=3600)
    assert verifier.verify(long_lived, "alice", "lab-postgres").code == "bad_expires"


def test_other_db_user(lab_control_plane, lab_iam, iam_enabled, verifier):
    cp = lab_control_plane
    creds = lab_iam.user(lab_iam.connect_policy("*"))
    decision = verifier.verify(creds.token(cp, HOST, PG_PORT, "alice"), "bob", "lab-postgres")
    assert not decision.ok
    assert decision.code == "wrong_user"
    # user names are case-sensitive
    assert verifier.verify(creds.token(cp, HOST, PG_PORT, "Alice"), "alice", "lab-postgres").code == "wrong_user"


def test_other_port(lab_control_plane, lab_iam, iam_enabled, verifier):
    cp = lab_control_plane
    creds = lab_iam.user(lab_iam.connect_policy("*"))
    decision = verifier.verify(creds.token(cp, HOST, PG_PORT + 1, "alice"), "alice", "lab-postgres")
    assert not decision.ok
    assert decision.code == "wrong_endpoint"
    # a token for the aurora server is not valid on the postgres instance either
    decision = verifier.verify(creds.token(cp, HOST, AURORA_PORT, "alice"), "alice", "lab-postgres")
    assert decision.code == "wrong_endpoint"


def test_wrong_region(lab_control_plane, lab_iam, iam_enabled, verifier):
    cp = lab_control_plane
    creds = lab_iam.user(lab_iam.connect_policy("*"))
    token = creds.token(cp, HOST, PG_PORT, "alice", region="eu-west-1")
    decision = verifier.verify(token, "alice", "lab-postgres")
    assert not decision.ok
    assert decision.code == "wrong_region"


def test_iam_auth_disabled(lab_control_plane, lab_iam, iam_enabled, verifier):
    cp = lab_control_plane
    db = cp.add_database(DatabaseSpec(id="verifier-off", kind="instance", engine="mysql", host=HOST,
                                      port=13307, admin_user="admin", admin_password="lab-admin-pw-1"))
    assert db["iam_database_authentication_enabled"] is False
    creds = lab_iam.user(lab_iam.connect_policy(user_arn(cp, db["resource_id"], "alice")))
    token = creds.token(cp, HOST, 13307, "alice")
    decision = verifier.verify(token, "alice", "verifier-off")
    assert not decision.ok
    assert decision.code == "iam_auth_disabled"
    # turning it on (live from moto) makes the same token pass
    cp.client("rds").modify_db_instance(DBInstanceIdentifier="verifier-off", EnableIAMDatabaseAuthentication=True,
                                        ApplyImmediately=True)
    assert verifier.verify(token, "alice", "verifier-off").ok


def test_no_policy(lab_control_plane, lab_iam, iam_enabled, verifier):
    session = lab_iam.lab_role_session("lab-noaccess-role")
    decision = verifier.verify(session.token(lab_control_plane, HOST, PG_PORT, "alice"), "alice", "lab-postgres")
    assert not decision.ok
    assert decision.code == "policy_implicit_deny"
    assert "implicit deny" in decision.reason
    assert decision.principal_arn == session.arn


def test_policy_for_another_resource_id(lab_control_plane, lab_iam, iam_enabled, verifier):
    cp = lab_control_plane
    other = iam_enabled["lab-mysql"]["resource_id"]
    assert other != iam_enabled["lab-postgres"]["resource_id"]
    role = lab_iam.role(inline=lab_iam.connect_policy(user_arn(cp, other, "alice")))
    session = lab_iam.assume(role)
    decision = verifier.verify(session.token(cp, HOST, PG_PORT, "alice"), "alice", "lab-postgres")
    assert not decision.ok
    assert decision.code == "policy_implicit_deny"
    assert iam_enabled["lab-postgres"]["resource_id"] in decision.resource_arn


def test_explicit_deny(lab_control_plane, lab_iam, iam_enabled, verifier):
    cp = lab_control_plane
    rid = iam_enabled["lab-postgres"]["resource_id"]
    policy = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Sid": "AllowAll", "Effect": "Allow", "Action": "rds-db:*", "Resource": "*"},
        {"Sid": "NoAlice", "Effect": "Deny", "Action": "rds-db:connect", "Resource": user_arn(cp, rid, "alice")},
    ]})
    session = lab_iam.assume(lab_iam.role(inline=policy))
    decision = verifier.verify(session.token(cp, HOST, PG_PORT, "alice"), "alice", "lab-postgres")
    assert not decision.ok
    assert decision.code == "policy_explicit_deny"
    assert "NoAlice" in decision.reason
    assert verifier.verify(session.token(cp, HOST, PG_PORT, "bob"), "bob", "lab-postgres").ok


def test_wrong_service(lab_control_plane, lab_iam, iam_enabled, verifier):
    cp = lab_control_plane
    creds = lab_iam.user(lab_iam.connect_policy("*"))
    # control: the hand-made signer with service rds-db yields a valid token
    assert verifier.verify(presign(creds, HOST, PG_PORT, "alice", cp.region), "alice", "lab-postgres").ok
    token = presign(creds, HOST, PG_PORT, "alice", cp.region, service="rds")
    decision = verifier.verify(token, "alice", "lab-postgres")
    assert not decision.ok
    assert decision.code == "wrong_service"


def test_3_4_kb_token(lab_control_plane, lab_iam, iam_enabled, verifier):
    """AWS session tokens reach ~3 KB; moto's are 356 characters: register a long one."""
    cp = lab_control_plane
    rid = iam_enabled["lab-postgres"]["resource_id"]
    role = lab_iam.role(inline=lab_iam.connect_policy(user_arn(cp, rid, "alice")))
    session = lab_iam.assume(role)
    assumed = next(a for a in cp.sts_backend.assumed_roles if a.access_key_id == session.access_key)
    long_token = "IQoJb3JpZ2luX2VjE" + "A1b2C3d4/+=" * 270
    assumed.session_token = long_token
    session.session_token = long_token
    token = session.token(cp, HOST, PG_PORT, "alice")
    assert len(token) >= 3400
    decision = verifier.verify(token, "alice", "lab-postgres")
    assert decision.ok, decision.reason
    # the session token is part of what is checked
    other = type(session)(session.access_key, session.secret_key, long_token[:-1] + "X")
    assert verifier.verify(other.token(cp, HOST, PG_PORT, "alice"), "alice", "lab-postgres").code == \
        "bad_session_token"


def test_inactive_key_and_session_policy(lab_control_plane, lab_iam, iam_enabled, verifier):
    cp = lab_control_plane
    creds = lab_iam.user(lab_iam.connect_policy("*"))
    iam = cp.client("iam")
    user_name = creds.arn.rsplit("/", 1)[1]
    iam.update_access_key(UserName=user_name, AccessKeyId=creds.access_key, Status="Inactive")
    assert verifier.verify(creds.token(cp, HOST, PG_PORT, "alice"), "alice", "lab-postgres").code == "inactive_key"

    role = lab_iam.role(inline=lab_iam.connect_policy("*"))
    sts = cp.client("sts")
    c = sts.assume_role(RoleArn=role, RoleSessionName="scoped",
                        Policy=lab_iam.connect_policy("arn:aws:rds-db:*:*:dbuser:*/bob"))["Credentials"]
    from lab.tests.conftest import Creds

    scoped = Creds(c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"])
    assert verifier.verify(scoped.token(cp, HOST, PG_PORT, "bob"), "bob", "lab-postgres").ok
    assert verifier.verify(scoped.token(cp, HOST, PG_PORT, "alice"), "alice", "lab-postgres").code == \
        "session_policy_implicit_deny"


def test_malformed_tokens(lab_control_plane, iam_enabled, verifier):
    for token in ("", "garbage", "127.0.0.1/?Action=connect", "127.0.0.1:15432/?Action=connect&DBUser=a"):
        decision = verifier.verify(token, "a", "lab-postgres")
        assert not decision.ok
        assert decision.code == "malformed"


def test_refusals_logged_without_secrets(lab_control_plane, lab_iam, iam_enabled, tmp_path):
    cp = lab_control_plane
    log = tmp_path / "sub" / "refusals.jsonl"
    verifier = TokenVerifier(cp, log_path=log)
    session = lab_iam.lab_role_session("lab-noaccess-role")
    token = session.token(cp, HOST, PG_PORT, "alice")
    verifier.verify(token, "alice", "lab-postgres")
    verifier.verify(token, "mallory", "lab-postgres")
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert [e["code"] for e in lines] == ["policy_implicit_deny", "wrong_user"]
    assert lines[0]["access_key_id"] == session.access_key
    assert lines[0]["db_id"] == "lab-postgres" and lines[0]["user"] == "alice"
    assert set(lines[0]) >= {"time", "db_id", "user", "access_key_id", "reason"}
    text = log.read_text()
    signature = parse_token(token).get("X-Amz-Signature")
    for secret in (session.secret_key, session.session_token, signature, token):
        assert secret not in text
    ring = verifier.recent_refusals()
    assert [e["code"] for e in ring] == ["policy_implicit_deny", "wrong_user"]
    assert verifier.recent_refusals(limit=1)[0]["user"] == "mallory"


# control plane: what part B and the target hosts rely on ------------------------

def test_target_host_chain_through_written_aws_config(lab_control_plane, iam_enabled, verifier, tmp_path, monkeypatch):
    """AWS_CONFIG_FILE + AWS_SHARED_CREDENTIALS_FILE + AWS_PROFILE are all a target host needs."""
    import boto3

    cp = lab_control_plane
    info = cp.write_aws_config(tmp_path / "aws")
    assert oct((tmp_path / "aws" / "credentials").stat().st_mode & 0o777) == "0o600"
    principals = {p["name"]: p for p in cp.principals()}
    assert set(principals) == {"lab-app-role", "lab-report-role", "lab-noaccess-role"}
    app = principals["lab-app-role"]
    assert app["env"]["AWS_PROFILE"] == "lab-app-role" == app["profile"]
    assert app["env"]["AWS_CONFIG_FILE"] == info["config"]
    config = (tmp_path / "aws" / "config").read_text()
    assert f"role_arn = {app['role_arn']}" in config
    assert f"endpoint_url = {cp.endpoint_url}" in config
    assert cp.admin_secret_key not in config
    for name in list(__import__("os").environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    for key, value in info["env"]["lab-app-role"].items():
        monkeypatch.setenv(key, value)
    session = boto3.Session()
    identity = session.client("sts").get_caller_identity()
    assert identity["Arn"].startswith(f"arn:aws:sts::{cp.account_id}:assumed-role/lab-app-role/")

    rid = iam_enabled["lab-postgres"]["resource_id"]
    iam = cp.client("iam")
    iam.put_role_policy(RoleName="lab-app-role", PolicyName="t-chain", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "rds-db:connect",
                                                "Resource": user_arn(cp, rid, "app_user")}]}))
    try:
        token = session.client("rds").generate_db_auth_token(HOST, PG_PORT, "app_user")
        decision = verifier.verify(token, "app_user", "lab-postgres")
        assert decision.ok, decision.reason
        assert decision.principal_arn == identity["Arn"]
    finally:
        iam.delete_role_policy(RoleName="lab-app-role", PolicyName="t-chain")

    # the admin profile is the controller's principal
    monkeypatch.setenv("AWS_PROFILE", "lab-admin")
    assert boto3.Session().client("sts").get_caller_identity()["Arn"] == cp.admin_user_arn


def test_one_control_plane_per_process(lab_control_plane):
    from rds_iam_lab.control_plane import start_control_plane

    with pytest.raises(RuntimeError, match="already running"):
        start_control_plane([])
    assert lab_control_plane.running


def test_databases_report(lab_control_plane, iam_enabled):
    dbs = {d["id"]: d for d in lab_control_plane.databases()}
    assert set(dbs) >= {"lab-mysql", "lab-postgres", "lab-aurora"}
    pg = dbs["lab-postgres"]
    assert pg["kind"] == "instance" and pg["engine"] == "postgres"
    assert pg["arn"] == f"arn:aws:rds:{lab_control_plane.region}:{lab_control_plane.account_id}:db:lab-postgres"
    assert pg["resource_arn_prefix"].endswith(":dbuser:" + pg["resource_id"])
    assert pg["endpoint"] == {"address": HOST, "port": PG_PORT}
    assert dbs["lab-mysql"]["engine_version"].startswith("10.11.")
    assert dbs["lab-aurora"]["members"] == ["lab-aurora-instance-1"]
    assert dbs["lab-aurora"]["arn"].endswith(":cluster:lab-aurora")


@pytest.mark.parametrize("netloc, host_header", [
    ("DB.Example.COM:5432", "db.example.com:5432"),
    ("db.example.com:443", "db.example.com"),
    ("127.0.0.1:3306", "127.0.0.1:3306"),
])
def test_canonical_host_matches_what_botocore_signs(netloc, host_header):
    from rds_iam_lab.auth_token import canonical_host
    assert canonical_host(netloc) == host_header


# -- logical databases: the endpoint dialled decides ----------------------------------------------------------
LOGICAL_PORT = 15501


@pytest.fixture(scope="module")
def logical_db(lab_control_plane: ControlPlane) -> dict:
    """A logical DB instance served by lab-postgres (own resource id, endpoint 127.0.0.1:LOGICAL_PORT), IAM on."""
    cp = lab_control_plane
    cp.add_database(DatabaseSpec(id="lab-logical-pg", kind="instance", engine="postgres", host=HOST,
                                 port=LOGICAL_PORT, admin_user="labadmin", admin_password="lab-admin-pw-1",
                                 served_by="lab-postgres"))
    cp.client("rds").modify_db_instance(DBInstanceIdentifier="lab-logical-pg", EnableIAMDatabaseAuthentication=True,
                                        ApplyImmediately=True)
    return {d["id"]: d for d in cp.databases()}["lab-logical-pg"]


def test_logical_database_has_its_own_resource_id(lab_control_plane, iam_enabled, logical_db):
    assert lab_control_plane.served_databases("lab-postgres") == ["lab-logical-pg"]
    assert lab_control_plane.served_databases("lab-aurora") == []
    assert logical_db["resource_id"].startswith("db-")
    assert logical_db["resource_id"] != iam_enabled["lab-postgres"]["resource_id"]


def test_dialled_logical_database_is_checked_against_its_own_resource_id(
        lab_control_plane, lab_iam, iam_enabled, logical_db, verifier):
    cp = lab_control_plane
    logical_rid, server_rid = logical_db["resource_id"], iam_enabled["lab-postgres"]["resource_id"]
    logical_only = lab_iam.user(lab_iam.connect_policy(user_arn(cp, logical_rid, "alice")))
    server_only = lab_iam.user(lab_iam.connect_policy(user_arn(cp, server_rid, "alice")))
    token = logical_only.token(cp, HOST, LOGICAL_PORT, "alice")
    decision = verifier.verify(token, "alice", "lab-postgres", "lab-logical-pg")
    assert decision.ok and decision.database == "lab-logical-pg", decision.reason
    assert decision.resource_arn == user_arn(cp, logical_rid, "alice")
    refused = verifier.verify(server_only.token(cp, HOST, LOGICAL_PORT, "alice"), "alice", "lab-postgres",
                              "lab-logical-pg")
    assert refused.code == "policy_implicit_deny"
    # the token names the logical endpoint: refused when the server's own endpoint was dialled
    assert verifier.verify(token, "alice", "lab-postgres").code == "wrong_endpoint"
    # and a token for the server's endpoint is refused through the logical one
    server_token = server_only.token(cp, HOST, PG_PORT, "alice")
    assert verifier.verify(server_token, "alice", "lab-postgres").ok
    assert verifier.verify(server_token, "alice", "lab-postgres", "lab-logical-pg").code == "wrong_endpoint"
    # only the server that serves it may speak for a logical database
    assert verifier.verify(token, "alice", "lab-aurora", "lab-logical-pg").code == "unknown_database"
    logged = verifier.recent_refusals()[-1]
    assert logged["db_id"] == "lab-aurora" and logged["database"] == "lab-logical-pg"


def test_ldap_dn_names_the_logical_database_from_the_right():
    from rds_iam_lab.ldap_endpoint import parse_dn

    assert parse_dn("cn=alice,dc=lab-postgres,dc=lab") == ("alice", "lab-postgres", None)
    assert parse_dn("cn=alice,dc=lab-postgres,ou=bench-db-001,dc=lab") == ("alice", "lab-postgres", "bench-db-001")
    # a login name cannot pose as the part the server's configuration adds
    assert parse_dn("cn=a,ou=bench-db-001,dc=lab-postgres,dc=lab") == ("a,ou=bench-db-001", "lab-postgres", None)
    assert parse_dn("cn=alice,dc=lab-postgres,ou=,dc=lab") is None
    assert parse_dn("cn=alice,ou=x,dc=lab") is None
