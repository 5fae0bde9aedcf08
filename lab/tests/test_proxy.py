"""The lab's RDS Proxy: moto's DB proxy calls, patched, and a real proxy process in front of the servers.

RDS user guide, "Setting up IAM authentication for RDS Proxy": a client's token is signed for the proxy
endpoint and needs ``rds-db:connect`` on ``arn:aws:rds-db:REGION:ACCOUNT:dbuser:prx-ID/USER``; with
standard IAM authentication the proxy logs in to the database with the user's Secrets Manager secret;
with end-to-end IAM authentication (``DefaultAuthScheme: IAM_AUTH``) with a token of its own role, which
needs ``rds-db:connect`` on the database's user. Real logins over TLS (verify-full) through the proxy to
the lab's PostgreSQL and MariaDB servers, one lab of its own (like ``test_logins.py``).
"""

from __future__ import annotations

import json

import botocore.exceptions
import psycopg2
import pymysql
import pytest

from lab.tests import test_logins
from lab.tests.test_logical_databases import create_user
from lab.tests.test_logins import LOGIN_ERRORS, make_token

lab = test_logins.lab  # a lab of this module's own

IAM_USER = "px_iam"  # an IAM database user: the proxy logs in with its role's token (end-to-end)
SECRET_USER = "px_secret"  # a password user: the proxy logs in with the secret's password
SECRET_PASSWORD = "px-Secret-password-1"
PROXIES = {"px-postgres": ("POSTGRESQL", "lab-postgres"), "px-mysql": ("MYSQL", "lab-mysql")}
ROLE = "px-proxy-role"


def doc(*statements):
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


@pytest.fixture(scope="module")
def setup(lab):
    """IAM on for the servers, both users on each, a secret per server, the proxy role, a client, the proxies
    (standard IAM authentication: client IAM REQUIRED, secrets to the database)."""
    rds, iam, secrets = lab.aws("rds"), lab.aws("iam"), lab.aws("secretsmanager")
    for _name, (_family, server) in PROXIES.items():
        rds.modify_db_instance(DBInstanceIdentifier=server, EnableIAMDatabaseAuthentication=True, ApplyImmediately=True)
        create_user(lab, server, IAM_USER, SECRET_USER, SECRET_PASSWORD)
    lab.refresh()
    secret_arns = {server: secrets.create_secret(
        Name=f"px/{server}", SecretString=json.dumps({"username": SECRET_USER, "password": SECRET_PASSWORD}))["ARN"]
        for _f, server in PROXIES.values()}
    role_arn = iam.create_role(RoleName=ROLE, AssumeRolePolicyDocument=doc(
        {"Effect": "Allow", "Principal": {"Service": "rds.amazonaws.com"}, "Action": "sts:AssumeRole"}))["Role"]["Arn"]
    iam.put_role_policy(RoleName=ROLE, PolicyName="secrets", PolicyDocument=doc(
        {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": list(secret_arns.values())}))
    subnets = [s["SubnetId"] for s in lab.aws("ec2").describe_subnets()["Subnets"]][:2]
    proxies = {}
    for name, (family, server) in PROXIES.items():
        proxies[name] = rds.create_db_proxy(
            DBProxyName=name, EngineFamily=family, RoleArn=role_arn, VpcSubnetIds=subnets, RequireTLS=True,
            Auth=[{"SecretArn": secret_arns[server], "IAMAuth": "REQUIRED"}])["DBProxy"]
        rds.register_db_proxy_targets(DBProxyName=name, DBInstanceIdentifiers=[server])
    lab.refresh()
    resource = {name: proxy["DBProxyArn"].rsplit(":", 1)[1] for name, proxy in proxies.items()}
    prefix = f"arn:aws:rds-db:{lab.status['region']}:{lab.status['account_id']}:dbuser"
    iam.create_user(UserName="px-client")
    iam.put_user_policy(UserName="px-client", PolicyName="connect", PolicyDocument=doc(
        {"Effect": "Allow", "Action": "rds-db:connect",
         "Resource": [f"{prefix}:{rid}/{user}" for rid in resource.values() for user in (IAM_USER, SECRET_USER)]}))
    key = iam.create_access_key(UserName="px-client")["AccessKey"]
    iam.create_user(UserName="px-direct-only")  # allowed on the databases' resource ids, not the proxies'
    iam.put_user_policy(UserName="px-direct-only", PolicyName="connect", PolicyDocument=doc(
        {"Effect": "Allow", "Action": "rds-db:connect",
         "Resource": [f"{lab.db(s)['resource_arn_prefix']}/{u}" for _f, s in PROXIES.values()
                      for u in (IAM_USER, SECRET_USER)]}))
    direct = iam.create_access_key(UserName="px-direct-only")["AccessKey"]
    return {
        "proxies": proxies, "resource": resource, "role_arn": role_arn, "prefix": prefix,
        "client": {"aws_access_key_id": key["AccessKeyId"], "aws_secret_access_key": key["SecretAccessKey"]},
        "direct": {"aws_access_key_id": direct["AccessKeyId"], "aws_secret_access_key": direct["SecretAccessKey"]},
    }


def endpoint(lab, name):
    proxy = lab.aws("rds").describe_db_proxies(DBProxyName=name)["DBProxies"][0]
    return proxy["Endpoint"], lab.status["proxy_ports"][proxy["EngineFamily"]]


def proxy_login(lab, name, user, password, tls=True):
    """Log in through the proxy's endpoint -> (current user, TLS cipher or ssl flag); raise on refusal."""
    host, port = endpoint(lab, name)
    if PROXIES[name][0] == "MYSQL":
        kwargs = dict(host=host, port=port, user=user, password=password, connect_timeout=10, autocommit=True)
        kwargs.update({"ssl": {"ca": lab.status["ca_cert"], "check_hostname": True}} if tls else {"ssl_disabled": True})
        conn = pymysql.connect(**kwargs)
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT CURRENT_USER(), VARIABLE_VALUE FROM information_schema.SESSION_STATUS "
                            "WHERE VARIABLE_NAME = 'Ssl_cipher'")
                current, cipher = cur.fetchone()
                cur.execute("SELECT 1 + 1")  # the relay carries more than one command
                assert cur.fetchone()[0] == 2
            return current.split("@")[0], bool(cipher)
        finally:
            conn.close()
    conn = psycopg2.connect(host=host, port=port, user=user, password=password, dbname="labdb",
                            sslmode="verify-full" if tls else "disable", sslrootcert=lab.status["ca_cert"],
                            connect_timeout=10)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT current_user, ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
            current, ssl = cur.fetchone()
            cur.execute("SELECT repeat('x', 200000)")  # more than one TLS record back through the relay
            assert len(cur.fetchone()[0]) == 200000
        return current, bool(ssl)
    finally:
        conn.close()


def token(lab, creds, name, user):
    host, port = endpoint(lab, name)
    return make_token(creds, host, port, user, lab.status["region"])


def refusals_since(lab, before):
    return lab.log_entries()[before:]


def set_scheme(lab, name, scheme):
    proxy = lab.aws("rds").modify_db_proxy(DBProxyName=name, DefaultAuthScheme=scheme)["DBProxy"]
    assert proxy["DefaultAuthScheme"] == scheme


def test_describe_shows_the_patched_fields(lab, setup):
    rds = lab.aws("rds")
    for name, (family, _server) in PROXIES.items():
        proxy = rds.describe_db_proxies(DBProxyName=name)["DBProxies"][0]
        assert proxy["DBProxyArn"].split(":")[-2:] == ["db-proxy", setup["resource"][name]]
        assert setup["resource"][name].startswith("prx-")
        assert proxy["DefaultAuthScheme"] == "NONE" and proxy["RequireTLS"] is True
        [auth] = proxy["Auth"]
        assert auth["AuthScheme"] == "SECRETS" and auth["IAMAuth"] == "REQUIRED"
        assert auth["ClientPasswordAuthType"] == (
            "POSTGRES_SCRAM_SHA_256" if family == "POSTGRESQL" else "MYSQL_CACHING_SHA2_PASSWORD")
        assert proxy["Endpoint"].startswith("127.2.")
        listed = {p["name"]: p for p in lab.status["proxies"]}
        assert listed[name]["address"] == proxy["Endpoint"]
        assert listed[name]["port"] == lab.status["proxy_ports"][family]


def test_bad_settings_are_refused(lab, setup):
    rds = lab.aws("rds")
    with pytest.raises(botocore.exceptions.ClientError, match="InvalidParameterValue"):
        rds.modify_db_proxy(DBProxyName="px-postgres", DefaultAuthScheme="PASSWORD")
    with pytest.raises(botocore.exceptions.ClientError, match="Auth is required"):
        rds.modify_db_proxy(DBProxyName="px-postgres", Auth=[])
    with pytest.raises(botocore.exceptions.ClientError, match="IAMAuth"):
        rds.modify_db_proxy(DBProxyName="px-postgres", Auth=[{"SecretArn": "arn:aws:secretsmanager:us-east-1:000000000000:secret:x", "IAMAuth": "ENABLED"}])
    assert rds.describe_db_proxies(DBProxyName="px-postgres")["DBProxies"][0]["DefaultAuthScheme"] == "NONE"


@pytest.mark.parametrize("name", sorted(PROXIES))
def test_standard_iam_auth_logs_in_with_the_secret(lab, setup, name):
    current, tls = proxy_login(lab, name, SECRET_USER, token(lab, setup["client"], name, SECRET_USER))
    assert (current, tls) == (SECRET_USER, True)


@pytest.mark.parametrize("name", sorted(PROXIES))
def test_client_needs_connect_on_the_proxy_resource_id(lab, setup, name):
    before = len(lab.log_entries())
    with pytest.raises(LOGIN_ERRORS):
        proxy_login(lab, name, SECRET_USER, token(lab, setup["direct"], name, SECRET_USER))
    new = refusals_since(lab, before)
    assert any(e["database"] == f"proxy:{name}" and e["code"].startswith("policy_") for e in new), new


@pytest.mark.parametrize("name", sorted(PROXIES))
def test_token_for_the_database_endpoint_is_refused_by_the_proxy(lab, setup, name):
    db = lab.db(PROXIES[name][1])
    wrong = make_token(setup["client"], db["endpoint"]["address"], db["endpoint"]["port"], SECRET_USER,
                       lab.status["region"])
    before = len(lab.log_entries())
    with pytest.raises(LOGIN_ERRORS):
        proxy_login(lab, name, SECRET_USER, wrong)
    assert any(e["code"] == "wrong_endpoint" for e in refusals_since(lab, before))


@pytest.mark.parametrize("name", sorted(PROXIES))
def test_password_instead_of_token_and_no_tls_are_refused(lab, setup, name):
    with pytest.raises(LOGIN_ERRORS):
        proxy_login(lab, name, SECRET_USER, SECRET_PASSWORD)
    with pytest.raises(LOGIN_ERRORS):
        proxy_login(lab, name, SECRET_USER, token(lab, setup["client"], name, SECRET_USER), tls=False)


@pytest.mark.parametrize("name", sorted(PROXIES))
def test_end_to_end_iam_needs_the_role_allowed_on_the_database(lab, setup, name):
    server = PROXIES[name][1]
    iam = lab.aws("iam")
    set_scheme(lab, name, "IAM_AUTH")
    try:
        # the proxy's role may not connect to the database yet: the database refuses the proxy's token
        before = len(lab.log_entries())
        with pytest.raises(LOGIN_ERRORS):
            proxy_login(lab, name, IAM_USER, token(lab, setup["client"], name, IAM_USER))
        new = refusals_since(lab, before)
        assert any(e["database"] == server and e["user"] == IAM_USER and ROLE in (e["principal_arn"] or "")
                   and e["code"].startswith("policy_") for e in new), new
        iam.put_role_policy(RoleName=ROLE, PolicyName=f"connect-{server}", PolicyDocument=doc(
            {"Effect": "Allow", "Action": "rds-db:connect", "Resource": f"{lab.db(server)['resource_arn_prefix']}/{IAM_USER}"}))
        current, tls = proxy_login(lab, name, IAM_USER, token(lab, setup["client"], name, IAM_USER))
        assert (current, tls) == (IAM_USER, True)
        accepts = lab.control({"cmd": "accepts", "limit": 20})
        assert any(a["database"] == server and a["user"] == IAM_USER and ROLE in a["principal_arn"] for a in accepts)
        # with IAM authentication off on the database, end-to-end logins stop, as on RDS
        lab.aws("rds").modify_db_instance(DBInstanceIdentifier=server, EnableIAMDatabaseAuthentication=False,
                                          ApplyImmediately=True)
        with pytest.raises(LOGIN_ERRORS):
            proxy_login(lab, name, IAM_USER, token(lab, setup["client"], name, IAM_USER))
    finally:
        lab.aws("rds").modify_db_instance(DBInstanceIdentifier=server, EnableIAMDatabaseAuthentication=True,
                                          ApplyImmediately=True)
        set_scheme(lab, name, "NONE")


def test_nothing_secret_in_the_logs(lab, setup):
    text = "".join(p.read_text(errors="replace") for p in lab.state.glob("*.log"))
    assert SECRET_PASSWORD not in text
    assert "X-Amz-Signature" not in text and setup["client"]["aws_secret_access_key"] not in text


def test_delete_closes_the_endpoint(lab, setup):
    rds = lab.aws("rds")
    host, port = endpoint(lab, "px-mysql")
    rds.delete_db_proxy(DBProxyName="px-mysql")
    lab.refresh()
    assert "px-mysql" not in {p["name"] for p in lab.status["proxies"]}
    with pytest.raises(LOGIN_ERRORS):
        pymysql.connect(host=host, port=port, user=SECRET_USER, password="x", connect_timeout=5,
                        ssl={"ca": lab.status["ca_cert"], "check_hostname": True})
