"""End-to-end logins against the lab's data plane (part B).

One lab for the whole module: ``labctl up`` with its own ``LAB_STATE_DIR`` in a
temporary folder, ``LAB_TEST_MODE=1`` (the verifier's clock can be shifted over
the daemon's control socket), torn down at the end. The test enables IAM auth
and writes the IAM policies with boto3 against the lab endpoint, creates the
database users with the admin logins, and then logs in with real drivers over
TLS (verify-full against the lab CA):

* lab-mysql (MariaDB + AWSAuthenticationPlugin, PyMySQL, mysql_clear_password),
* lab-postgres and lab-aurora (PostgreSQL ``ldap`` method -> lab LDAP endpoint, psycopg2).

Every refusal also checks the verifier log for the expected reason code, except
"no TLS": the servers refuse a plain connection before any password is sent
(MariaDB ``require_secure_transport``, PostgreSQL ``hostnossl ... reject``), so the
test asserts the server's error and that the verifier saw nothing.
"""

from __future__ import annotations

import configparser
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import boto3
import psycopg2
import pymysql
import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
APP_USER = "app_user"
OTHER_USER = "other_user"
DENIED_USER = "denied_user"
DB_IDS = ["lab-mysql", "lab-postgres", "lab-aurora"]


# -- the lab ---------------------------------------------------------------------
class Lab:
    def __init__(self, base: Path):
        self.base = base
        self.state = base / "state"
        self.integration_config = base / "integration_config.yml"
        self.env = dict(os.environ, LAB_STATE_DIR=str(self.state), LAB_TEST_MODE="1",
                        LAB_INTEGRATION_CONFIG=str(self.integration_config))
        self.status: dict = {}

    def labctl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        proc = subprocess.run([PYTHON, "-m", "rds_iam_lab", *args], cwd=REPO, env=self.env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=300, check=False)
        if check and proc.returncode != 0:
            raise AssertionError(f"labctl {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
        return proc

    def refresh(self) -> dict:
        self.status = json.loads(self.labctl("status", "--json").stdout)
        return self.status

    def control(self, request: dict):
        from rds_iam_lab import labctl

        return labctl.control(self.state, request)

    def db(self, db_id: str) -> dict:
        return next(d for d in self.status["databases"] if d["id"] == db_id)

    def log_entries(self) -> list[dict]:
        path = Path(self.status["verifier_log"])
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]

    def aws(self, service: str, **creds):
        creds = creds or {"aws_access_key_id": self.status["access_key"],
                          "aws_secret_access_key": self.status["secret_key"]}
        return boto3.client(service, region_name=self.status["region"], endpoint_url=self.status["endpoint_url"],
                            **creds)


@pytest.fixture(scope="module")
def lab():
    # not under pytest's 0700 tmp tree: PostgreSQL runs as another user when we are root
    base = Path(tempfile.mkdtemp(prefix="rdsiam-lab-", dir="/tmp"))
    os.chmod(base, 0o711)
    the_lab = Lab(base)
    try:
        the_lab.labctl("up")
        the_lab.refresh()
        yield the_lab
    finally:
        the_lab.labctl("down", check=False)
        shutil.rmtree(base, ignore_errors=True)


# -- credentials and tokens ------------------------------------------------------
def source_keys(lab: Lab, principal: dict) -> tuple[str, str]:
    creds = configparser.ConfigParser()
    creds.read(principal["aws_shared_credentials_file"])
    section = creds[principal["source_profile"]]
    return section["aws_access_key_id"], section["aws_secret_access_key"]


def make_token(creds: dict, host: str, port: int, user: str, region: str, pad: int = 0) -> str:
    """An RDS IAM auth token, optionally with a signed padding parameter (long-token transport test)."""
    client = boto3.client("rds", region_name=region, **creds)
    if not pad:
        return client.generate_db_auth_token(DBHostname=host, Port=port, DBUsername=user, Region=region)
    # same presigning as botocore's generate_db_auth_token, plus one extra signed query parameter
    from botocore.awsrequest import prepare_request_dict

    request = {"url_path": "/", "query_string": "", "headers": {}, "method": "GET",
               "body": {"Action": "connect", "DBUser": user, "X-Lab-Padding": "p" * pad}}
    prepare_request_dict(request, f"https://{host}:{port}")
    url = client._request_signer.generate_presigned_url(request, operation_name="connect", region_name=region,
                                                        expires_in=900, signing_name="rds-db")
    return url[len("https://"):]


@pytest.fixture(scope="module")
def iam(lab):
    """IAM auth on, policies, DB users. Returns credentials per scenario."""
    rds = lab.aws("rds")
    iam_client = lab.aws("iam")
    for db in lab.status["databases"]:
        if db["kind"] == "cluster":
            rds.modify_db_cluster(DBClusterIdentifier=db["id"], EnableIAMDatabaseAuthentication=True,
                                  ApplyImmediately=True)
        else:
            rds.modify_db_instance(DBInstanceIdentifier=db["id"], EnableIAMDatabaseAuthentication=True,
                                   ApplyImmediately=True)
    lab.refresh()
    assert all(d["iam_database_authentication_enabled"] for d in lab.status["databases"])

    prefix = {d["id"]: d["resource_arn_prefix"] for d in lab.status["databases"]}
    account = lab.status["account_id"]
    region = lab.status["region"]
    principals = {p["name"]: p for p in lab.status["principals"]}

    def doc(*statements):
        return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})

    allow_app = {"Effect": "Allow", "Action": "rds-db:connect",
                 "Resource": [f"{prefix[i]}/{APP_USER}" for i in DB_IDS]
                 + [f"{prefix[i]}/{OTHER_USER}" for i in DB_IDS]
                 + [f"{prefix[i]}/{DENIED_USER}" for i in DB_IDS]}
    deny = {"Effect": "Deny", "Action": "rds-db:*", "Resource": [f"{prefix[i]}/{DENIED_USER}" for i in DB_IDS]}
    iam_client.put_role_policy(RoleName="lab-app-role", PolicyName="connect", PolicyDocument=doc(allow_app, deny))
    # the source user of lab-app-role signs static-key tokens: same grants
    app = principals["lab-app-role"]
    iam_client.put_user_policy(UserName=app["source_user"], PolicyName="connect", PolicyDocument=doc(allow_app))
    # lab-report-role: allowed on a resource id that is not one of ours
    iam_client.put_role_policy(RoleName="lab-report-role", PolicyName="connect", PolicyDocument=doc(
        {"Effect": "Allow", "Action": "rds-db:connect",
         "Resource": f"arn:aws:rds-db:{region}:{account}:dbuser:db-NOTTHISONE0000000000000000/{APP_USER}"}))

    def session(role: str) -> dict:
        key, secret = source_keys(lab, principals[role])
        sts = lab.aws("sts", aws_access_key_id=key, aws_secret_access_key=secret)
        c = sts.assume_role(RoleArn=principals[role]["role_arn"], RoleSessionName="logins-test")["Credentials"]
        return {"aws_access_key_id": c["AccessKeyId"], "aws_secret_access_key": c["SecretAccessKey"],
                "aws_session_token": c["SessionToken"]}

    key, secret = source_keys(lab, app)
    creds = {
        "static": {"aws_access_key_id": key, "aws_secret_access_key": secret},
        "app": session("lab-app-role"),
        "report": session("lab-report-role"),
        "noaccess": session("lab-noaccess-role"),
    }

    # database users
    for db in lab.status["databases"]:
        if db["engine"] == "mysql":
            conn = mysql_connect(lab, db, db["admin_user"], db["admin_password"])
            with conn.cursor() as cur:
                for user in (APP_USER, OTHER_USER, DENIED_USER):
                    cur.execute(f"CREATE USER IF NOT EXISTS '{user}'@'%' IDENTIFIED WITH AWSAuthenticationPlugin "
                                "AS 'RDS' REQUIRE SSL")
                    cur.execute(f"GRANT SELECT ON labdb.* TO '{user}'@'%'")
            conn.close()
        else:
            conn = pg_connect(lab, db, db["admin_user"], db["admin_password"])
            conn.autocommit = True
            with conn.cursor() as cur:
                for user in (APP_USER, OTHER_USER, DENIED_USER):
                    cur.execute(f"CREATE ROLE {user} LOGIN")
                    cur.execute(f"GRANT rds_iam TO {user}")
            conn.close()
    return creds


# -- logins ----------------------------------------------------------------------
def mysql_connect(lab: Lab, db: dict, user: str, password: str, tls: bool = True):
    kwargs = dict(host="127.0.0.1", port=db["port"], user=user, password=password, connect_timeout=10,
                  autocommit=True)
    if tls:
        kwargs["ssl"] = {"ca": lab.status["ca_cert"], "check_hostname": True}
    else:
        kwargs["ssl_disabled"] = True
    return pymysql.connect(**kwargs)


def pg_connect(lab: Lab, db: dict, user: str, password: str, tls: bool = True):
    return psycopg2.connect(host="127.0.0.1", port=db["port"], user=user, password=password, dbname="labdb",
                            sslmode="verify-full" if tls else "disable", sslrootcert=lab.status["ca_cert"],
                            connect_timeout=10)


def login(lab: Lab, db_id: str, user: str, password: str, tls: bool = True) -> tuple[str, bool]:
    """Log in, return (current user, connection uses TLS); raise on refusal."""
    db = lab.db(db_id)
    if db["engine"] == "mysql":
        conn = mysql_connect(lab, db, user, password, tls)
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT CURRENT_USER(), VARIABLE_VALUE FROM information_schema.SESSION_STATUS "
                            "WHERE VARIABLE_NAME = 'Ssl_cipher'")
                current, cipher = cur.fetchone()
            return current.split("@")[0], bool(cipher)
        finally:
            conn.close()
    conn = pg_connect(lab, db, user, password, tls)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT current_user, ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
            current, ssl = cur.fetchone()
        return current, bool(ssl)
    finally:
        conn.close()


LOGIN_ERRORS = (pymysql.MySQLError, psycopg2.Error)


def expect_refused(lab: Lab, db_id: str, user: str, password: str, code: str | None, tls: bool = True) -> str:
    """The login fails; the verifier logged `code` for this db and user (None: it saw nothing)."""
    before = len(lab.log_entries())
    with pytest.raises(LOGIN_ERRORS) as info:
        login(lab, db_id, user, password, tls)
    new = lab.log_entries()[before:]
    if code is None:
        assert new == [], f"the verifier should not have been asked: {new}"
    else:
        assert any(e["code"] == code and e["db_id"] == db_id and e["user"] == user for e in new), \
            f"expected a {code!r} refusal for {user}@{db_id} in the verifier log, got {new}"
        for entry in new:  # the log never carries a token or a secret
            assert "X-Amz-Signature" not in json.dumps(entry)
    return str(info.value)


def token_for(lab: Lab, creds: dict, db_id: str, user: str = APP_USER, **kw) -> str:
    db = lab.db(db_id)
    return make_token(creds, kw.pop("host", "127.0.0.1"), kw.pop("port", db["port"]), user,
                      kw.pop("region", lab.status["region"]), **kw)


# -- accepted logins ---------------------------------------------------------------
@pytest.mark.parametrize("db_id", DB_IDS)
@pytest.mark.parametrize("kind", ["static", "app"])
def test_token_login_over_tls(lab, iam, db_id, kind):
    token = token_for(lab, iam[kind], db_id)
    assert login(lab, db_id, APP_USER, token) == (APP_USER, True)


@pytest.mark.parametrize("db_id", DB_IDS)
def test_long_token_passes_whole(lab, iam, db_id):
    token = token_for(lab, iam["app"], db_id, pad=2700)
    assert 3300 <= len(token) <= 3600
    assert login(lab, db_id, APP_USER, token) == (APP_USER, True)
    # one byte less and the signature no longer matches: the server passed it whole
    expect_refused(lab, db_id, APP_USER, token[:-1], "bad_signature")


# -- refusals ------------------------------------------------------------------------
@pytest.mark.parametrize("db_id", DB_IDS)
def test_bad_signature(lab, iam, db_id):
    token = token_for(lab, iam["app"], db_id)
    last = token[-1]
    broken = token[:-1] + ("0" if last != "0" else "1")
    expect_refused(lab, db_id, APP_USER, broken, "bad_signature")


@pytest.mark.parametrize("db_id", DB_IDS)
def test_unknown_key(lab, iam, db_id):
    creds = {"aws_access_key_id": "AKIAUNKNOWNLABKEY000", "aws_secret_access_key": "x" * 40}
    expect_refused(lab, db_id, APP_USER, token_for(lab, creds, db_id), "unknown_key")


@pytest.mark.parametrize("db_id", DB_IDS)
def test_expired_token(lab, iam, db_id):
    token = token_for(lab, iam["app"], db_id)
    lab.control({"cmd": "set_clock_offset", "seconds": 901})
    try:
        expect_refused(lab, db_id, APP_USER, token, "expired")
    finally:
        lab.control({"cmd": "set_clock_offset", "seconds": 0})
    assert login(lab, db_id, APP_USER, token)[0] == APP_USER


@pytest.mark.parametrize("db_id", DB_IDS)
def test_token_for_other_db_user(lab, iam, db_id):
    token = token_for(lab, iam["app"], db_id, user=OTHER_USER)
    expect_refused(lab, db_id, APP_USER, token, "wrong_user")


@pytest.mark.parametrize("db_id", DB_IDS)
def test_token_for_other_port(lab, iam, db_id):
    token = token_for(lab, iam["app"], db_id, port=lab.db(db_id)["port"] + 1)
    expect_refused(lab, db_id, APP_USER, token, "wrong_endpoint")


@pytest.mark.parametrize("db_id", DB_IDS)
def test_token_for_wrong_region(lab, iam, db_id):
    token = token_for(lab, iam["app"], db_id, region="eu-west-3")
    expect_refused(lab, db_id, APP_USER, token, "wrong_region")


@pytest.mark.parametrize("db_id", DB_IDS)
def test_iam_auth_disabled(lab, iam, db_id):
    rds = lab.aws("rds")
    db = lab.db(db_id)

    def set_iam(on: bool):
        if db["kind"] == "cluster":
            rds.modify_db_cluster(DBClusterIdentifier=db_id, EnableIAMDatabaseAuthentication=on,
                                  ApplyImmediately=True)
        else:
            rds.modify_db_instance(DBInstanceIdentifier=db_id, EnableIAMDatabaseAuthentication=on,
                                   ApplyImmediately=True)

    token = token_for(lab, iam["app"], db_id)
    set_iam(False)
    try:
        expect_refused(lab, db_id, APP_USER, token, "iam_auth_disabled")
    finally:
        set_iam(True)
    assert login(lab, db_id, APP_USER, token)[0] == APP_USER


@pytest.mark.parametrize("db_id", DB_IDS)
def test_no_policy(lab, iam, db_id):
    expect_refused(lab, db_id, APP_USER, token_for(lab, iam["noaccess"], db_id), "policy_implicit_deny")


@pytest.mark.parametrize("db_id", DB_IDS)
def test_policy_for_other_resource_id(lab, iam, db_id):
    expect_refused(lab, db_id, APP_USER, token_for(lab, iam["report"], db_id), "policy_implicit_deny")


@pytest.mark.parametrize("db_id", DB_IDS)
def test_explicit_deny(lab, iam, db_id):
    token = token_for(lab, iam["app"], db_id, user=DENIED_USER)
    expect_refused(lab, db_id, DENIED_USER, token, "policy_explicit_deny")


@pytest.mark.parametrize("db_id", DB_IDS)
def test_no_tls(lab, iam, db_id):
    token = token_for(lab, iam["app"], db_id)
    message = expect_refused(lab, db_id, APP_USER, token, None, tls=False)
    if lab.db(db_id)["engine"] == "mysql":
        # require_secure_transport: refused before the plugin runs (MariaDB answers 1045)
        assert message.startswith("(1045,")
    else:
        assert "pg_hba.conf rejects connection" in message and "no encryption" in message


@pytest.mark.parametrize("db_id", DB_IDS)
def test_plain_password_instead_of_token(lab, iam, db_id):
    expect_refused(lab, db_id, APP_USER, "Secr3t-password!", "malformed")


# -- lab lifecycle ------------------------------------------------------------------------
def test_status_json_and_integration_config(lab, iam):
    status = lab.refresh()
    for key in ("endpoint_url", "region", "account_id", "access_key", "secret_key", "ca_cert", "databases",
                "principals", "aws_config_dir", "state_dir", "verifier_log"):
        assert status[key], key
    assert {d["id"]: (d["kind"], d["engine"]) for d in status["databases"]} == {
        "lab-mysql": ("instance", "mysql"), "lab-postgres": ("instance", "postgres"),
        "lab-aurora": ("cluster", "aurora-postgresql")}
    for db in status["databases"]:
        assert db["resource_id"] and db["admin_password"] and db["port"]
    for p in status["principals"]:
        assert Path(p["aws_config_file"]).exists() and Path(p["aws_shared_credentials_file"]).exists()
    config = yaml.safe_load(lab.integration_config.read_text())
    assert config["aws_endpoint_url"] == status["endpoint_url"]
    assert config["lab_ca_cert"] == status["ca_cert"]
    assert [d["id"] for d in config["lab_databases"]] == [d["id"] for d in status["databases"]]
    assert oct(lab.integration_config.stat().st_mode & 0o777) == "0o600"
    assert oct((lab.state / "config.json").stat().st_mode & 0o777) == "0o600"


def test_status_lists_refusals(lab, iam):
    last = lab.log_entries()[-1]
    text = lab.labctl("status").stdout
    assert "lab-mysql" in text and "lab-aurora" in text
    assert "last refusals" in text
    assert f"{last['db_id']} user={last['user']}" in text and last["code"] in text


def test_up_is_idempotent_and_maintenance_runs(lab, iam):
    pid = lab.status["daemon_pid"]
    lab.labctl("up")
    assert lab.refresh()["daemon_pid"] == pid  # same daemon, IAM state kept
    assert all(d["iam_database_authentication_enabled"] for d in lab.status["databases"])
    result = json.loads(lab.labctl("maintenance").stdout)
    assert "applied" in result


def test_logs_carry_no_tokens_or_passwords(lab, iam):
    secrets = [d["admin_password"] for d in lab.status["databases"]] + [lab.status["secret_key"]]
    secrets += [c["aws_secret_access_key"] for c in iam.values()]
    logs = [p for p in lab.state.rglob("*") if p.is_file() and (p.suffix == ".log" or p.name == "postgresql.log")]
    assert any(p.name == "verifier.log" for p in logs) and any(p.name == "daemon.log" for p in logs)
    for path in logs:
        text = path.read_text(errors="replace")
        assert "X-Amz-Signature" not in text and "X-Amz-Security-Token" not in text, path
        for secret in secrets:
            assert secret not in text, path
