# -*- coding: utf-8 -*-

# Copyright: (c) 2026, dbauth.rds_iam developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime

import boto3.session
import botocore.credentials
import botocore.session
import pytest

from ansible_collections.dbauth.rds_iam.plugins.module_utils import _token_signing as ts
from ansible_collections.dbauth.rds_iam.tests.unit.plugins.aws_doubles import ASSUMED_AK
from ansible_collections.dbauth.rds_iam.tests.unit.plugins.aws_doubles import ASSUMED_SK
from ansible_collections.dbauth.rds_iam.tests.unit.plugins.aws_doubles import ASSUMED_TOKEN
from ansible_collections.dbauth.rds_iam.tests.unit.plugins.aws_doubles import ROLE_ARN
from ansible_collections.dbauth.rds_iam.tests.unit.plugins.aws_doubles import Clock
from ansible_collections.dbauth.rds_iam.tests.unit.plugins.aws_doubles import ModuleFailed
from ansible_collections.dbauth.rds_iam.tests.unit.plugins.aws_doubles import StubbedSTS
from ansible_collections.dbauth.rds_iam.tests.unit.plugins.aws_doubles import signer_for
from ansible_collections.dbauth.rds_iam.tests.unit.plugins.sigv4_reference import InvalidToken
from ansible_collections.dbauth.rds_iam.tests.unit.plugins.sigv4_reference import check_sts_token
from ansible_collections.dbauth.rds_iam.tests.unit.plugins.sigv4_reference import check_token

UTC = datetime.timezone.utc
NOW = datetime.datetime(2026, 11, 25, 7, 45, 0, 250000, tzinfo=UTC)
AK = "AKIAIOSFODNN7EXAMPLE"
SK = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
HOST = "mydb.abcdefghijkl.eu-west-1.rds.amazonaws.com"
# An AWS-sized session token (they are 1-3 KB) with characters that need percent-encoding.
LONG_SESSION_TOKEN = "IQoJb3JpZ2luX2VjE+/=" * 150

pytestmark = pytest.mark.usefixtures("clean_env")


@pytest.fixture
def clock(monkeypatch):
    return Clock(NOW).freeze_botocore(monkeypatch)


def static_signer(clock, **aws_options):
    options = dict(access_key=AK, secret_key=SK)
    options.update(aws_options)
    return signer_for(clock, **options)


def target(**extra):
    options = dict(db_host=HOST, db_port=5432, db_user="app_user")
    options.update(extra)
    return options


# ---------------------------------------------------------------------------------------------
# Signing: botocore's generate_db_auth_token, checked by an independent SigV4 verifier
# ---------------------------------------------------------------------------------------------

def test_frozen_clock_static_keys_pinned_vector(clock):
    token = static_signer(clock).generate(target())["token"]
    # Everything but the signature is pinned literally; the signature is pinned by the independent
    # checker, which accepts exactly one value for this string to sign (no token is kept in the tree).
    unsigned, signature = token.split("&X-Amz-Signature=")
    assert unsigned == (
        "mydb.abcdefghijkl.eu-west-1.rds.amazonaws.com:5432/?Action=connect&DBUser=app_user"
        "&X-Amz-Algorithm=AWS4-HMAC-SHA256"
        "&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20261125%2Feu-west-1%2Frds-db%2Faws4_request"
        "&X-Amz-Date=20261125T074500Z&X-Amz-Expires=900&X-Amz-SignedHeaders=host"
    )
    assert len(signature) == 64 and int(signature, 16) >= 0
    check_token(token, {AK: SK}, now=NOW, expect_region="eu-west-1")


@pytest.mark.parametrize("session_token", [None, LONG_SESSION_TOKEN])
@pytest.mark.parametrize("host,port,user", [
    (HOST, 5432, "app_user"),
    ("Reader.Cluster-RO-abc.us-east-1.rds.amazonaws.com", 3306, "Report User@%/+="),
    ("db.example.internal", 443, "\u00fcser"),
    ("127.0.0.1", 65535, "a"),
])
def test_same_token_as_a_plain_botocore_client(clock, host, port, user, session_token):
    region = ts.region_from_host(host) or "eu-west-1"
    client = botocore.session.Session().create_client(
        "rds", region_name=region, aws_access_key_id=AK, aws_secret_access_key=SK, aws_session_token=session_token)
    expected = client.generate_db_auth_token(host, port, user)
    signer = static_signer(clock, session_token=session_token)
    assert signer.generate(dict(db_host=host, db_port=port, db_user=user, region=region))["token"] == expected


def test_independent_check_accepts_static_token(clock):
    token = static_signer(clock).generate(target())["token"]
    parts = check_token(token, {AK: SK}, now=NOW, expect_region="eu-west-1")
    assert parts["host"] == HOST and parts["port"] == 5432
    assert parts["user"] == "app_user"
    assert parts["expires"] == 900
    assert parts["session_token"] is None
    assert "X-Amz-Security-Token" not in parts["params"]
    assert parts["signed_at"] == NOW.replace(microsecond=0)


def test_independent_check_temporary_credentials_carry_security_token(clock):
    signer = signer_for(clock, access_key=ASSUMED_AK, secret_key=ASSUMED_SK, session_token=LONG_SESSION_TOKEN)
    token = signer.generate(target())["token"]
    parts = check_token(token, {ASSUMED_AK: ASSUMED_SK}, now=NOW)
    assert parts["session_token"] == LONG_SESSION_TOKEN
    assert len(token) > 3000


@pytest.mark.parametrize("tamper", [
    lambda t: t.replace("DBUser=app_user", "DBUser=admin"),
    lambda t: t.replace(":5432/", ":5433/"),
    lambda t: t.replace("mydb.", "otherdb."),
    lambda t: t.replace("X-Amz-Expires=900", "X-Amz-Expires=901"),
    lambda t: t.replace("eu-west-1%2Frds-db", "eu-west-2%2Frds-db"),
])
def test_independent_check_rejects_tampering(clock, tamper):
    token = static_signer(clock).generate(target())["token"]
    with pytest.raises(InvalidToken):
        check_token(tamper(token), {AK: SK})


def test_independent_check_rejects_wrong_secret(clock):
    token = static_signer(clock).generate(target())["token"]
    with pytest.raises(InvalidToken, match="signature"):
        check_token(token, {AK: SK + "x"})


def test_generate_returns_token_and_expiry(clock):
    result = static_signer(clock).generate(target())
    assert result["expires_at"] == "2026-11-25T08:00:00Z"
    assert result["region"] == "eu-west-1"
    parts = check_token(result["token"], {AK: SK}, now=NOW, expect_region="eu-west-1")
    assert (parts["user"], parts["port"]) == ("app_user", 5432)
    assert "Action" in parts["params"]


def test_one_client_per_region_for_many_tokens(clock, monkeypatch):
    # Not a timing assertion: counts work. amazon.aws makes one RDS client for 200 tokens.
    made = []
    original = boto3.session.Session.client
    monkeypatch.setattr(boto3.session.Session, "client",
                        lambda self, *a, **kw: made.append(a[0]) or original(self, *a, **kw))
    signer = static_signer(clock)
    for i in range(200):
        signer.generate(target(db_user="user%d" % i))
    assert signer.stats["signed"] == 200
    assert made == ["rds"]


# ---------------------------------------------------------------------------------------------
# Input validation
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("host,message", [
    (None, "db_host is required"),
    ("", "db_host is required"),
    ("   ", "db_host is required"),
    ("https://mydb.abc.eu-west-1.rds.amazonaws.com", "not a URL: drop 'https://'"),
    ("https://mydb.abc.eu-west-1.rds.amazonaws.com:5432/", "set db_host=mydb.abc.eu-west-1.rds.amazonaws.com;"),
    ("postgres://db.local/app", "not a URL: drop 'postgres://'"),
    ("mydb.abc.eu-west-1.rds.amazonaws.com:5432",
     "must not contain a port: set db_host=mydb.abc.eu-west-1.rds.amazonaws.com and db_port=5432"),
    ("db.local/app", "without a path"),
    ("::1", "IPv6"),
    (" db.local", "whitespace"),
    ("db..local", "not a valid host name"),
    ("db local", "not a valid host name"),
    ("https://admin:hunter2@db.local:5432/", "without user information"),
    ("admin:hunter2@db.local", "without user information"),
])
def test_bad_db_host(clock, host, message):
    with pytest.raises(ts.TokenError) as e:
        static_signer(clock).generate(target(db_host=host))
    assert message in str(e.value)
    assert "hunter2" not in str(e.value)


@pytest.mark.parametrize("port,message", [
    (None, "db_port is required"),
    ("", "db_port is required"),
    (0, "db_port 0 is outside 1-65535"),
    (65536, "db_port 65536 is outside 1-65535"),
    (-1, "outside 1-65535"),
    ("abc", "must be an integer between 1 and 65535"),
    (True, "must be an integer"),
])
def test_bad_db_port(clock, port, message):
    with pytest.raises(ts.TokenError) as e:
        static_signer(clock).generate(target(db_port=port))
    assert message in str(e.value)


@pytest.mark.parametrize("port", [1, "3306", 65535])
def test_good_db_port(clock, port):
    result = static_signer(clock).generate(target(db_port=port))
    assert check_token(result["token"], {AK: SK})["port"] == int(port)


@pytest.mark.parametrize("user", [None, ""])
def test_missing_db_user(clock, user):
    with pytest.raises(ts.TokenError, match="db_user is required"):
        static_signer(clock).generate(target(db_user=user))


@pytest.mark.parametrize("user,message", [
    ("   ", "is blank"),
    ("\t", "is blank"),
    (" app_user", "leading or trailing whitespace"),
    ("app_user\n", "leading or trailing whitespace"),
    ("app\nuser", "control character"),
    ("app\x00user", "control character"),
])
def test_unusable_db_user_is_refused_before_signing(clock, user, message):
    with pytest.raises(ts.TokenError, match=message) as e:
        static_signer(clock).generate(target(db_user=user))
    assert e.value.kind == ts.KIND_CONFIG and repr(user) in str(e.value)


def test_bad_region_name(clock):
    with pytest.raises(ts.TokenError, match="does not look like an AWS region"):
        static_signer(clock).generate(target(db_host="127.0.0.1", region="Europe"))


# ---------------------------------------------------------------------------------------------
# Region
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("host,region", [
    ("mydb.abcdefghijkl.eu-west-1.rds.amazonaws.com", "eu-west-1"),
    ("mydb.abcdefghijkl.us-east-1.rds.amazonaws.com.", "us-east-1"),
    ("MyDB.ABCDEFGHIJKL.AP-SOUTHEAST-2.RDS.AMAZONAWS.COM", "ap-southeast-2"),
    ("mydb.abcdefghijkl.cn-north-1.rds.amazonaws.com.cn", "cn-north-1"),
    ("mydb.abcdefghijkl.cn-northwest-1.rds.amazonaws.com.cn", "cn-northwest-1"),
    ("mydb.abcdefghijkl.us-gov-west-1.rds.amazonaws.com", "us-gov-west-1"),
    ("aurora-1.cluster-abcdefghijkl.eu-central-1.rds.amazonaws.com", "eu-central-1"),
    ("aurora-1.cluster-ro-abcdefghijkl.eu-central-1.rds.amazonaws.com", "eu-central-1"),
    ("reports.cluster-custom-abcdefghijkl.eu-central-1.rds.amazonaws.com", "eu-central-1"),
    ("myproxy.proxy-abcdefghijkl.us-west-2.rds.amazonaws.com", "us-west-2"),
    ("ro.endpoint.proxy-abcdefghijkl.us-west-2.rds.amazonaws.com", "us-west-2"),
    ("127.0.0.1", None),
    ("localhost", None),
    ("db.example.com", None),
    ("mydb.abcdefghijkl.eu-west-1.rds.amazonaws.com.evil.example", None),
    ("eu-west-1.rds.amazonaws.com", None),
    ("mydb.abcdefghijkl.eu-west-1.redshift.amazonaws.com", None),
])
def test_region_from_host(host, region):
    assert ts.region_from_host(host) == region


def test_region_derived_from_host_wins_over_environment():
    assert ts.resolve_region(None, HOST, {"AWS_REGION": "us-east-1"}) == "eu-west-1"


def test_region_option_used_for_non_rds_host():
    assert ts.resolve_region("us-east-1", "127.0.0.1", {}) == "us-east-1"


def test_region_from_environment_then_profile():
    assert ts.resolve_region(None, "127.0.0.1", {"AWS_DEFAULT_REGION": "sa-east-1"}) == "sa-east-1"
    assert ts.resolve_region(None, "127.0.0.1", {"AWS_REGION": "eu-north-1", "AWS_DEFAULT_REGION": "x"}) == "eu-north-1"
    assert ts.resolve_region(None, "127.0.0.1", {}, profile_region="ca-central-1") == "ca-central-1"


def test_region_contradicting_host_fails():
    with pytest.raises(ts.TokenError) as e:
        ts.resolve_region("us-east-1", HOST, {})
    assert "does not match the region eu-west-1 in db_host" in str(e.value)
    assert "remove the region option or set it to eu-west-1" in str(e.value)


def test_no_region_fails_with_hint(clock):
    with pytest.raises(ts.TokenError) as e:
        static_signer(clock).generate(target(db_host="db.internal"))
    assert "Set the region option or the AWS_REGION environment variable" in str(e.value)


def test_region_from_profile_config(clock, clean_env):
    (clean_env / "config").write_text("[profile dev]\nregion = ap-northeast-1\n"
                                      "aws_access_key_id = AKIAPROFILEEXAMPLE01\naws_secret_access_key = prof\n")
    result = signer_for(clock, profile="dev").generate(dict(db_host="db.internal", db_port=3306, db_user="u"))
    parts = check_token(result["token"], {"AKIAPROFILEEXAMPLE01": "prof"})
    assert parts["region"] == "ap-northeast-1"


# ---------------------------------------------------------------------------------------------
# Credentials (amazon.aws' options, botocore's chain)
# ---------------------------------------------------------------------------------------------

def test_no_credentials_names_every_source(clock):
    with pytest.raises(ts.TokenError) as e:
        signer_for(clock).generate(target())
    message = str(e.value)
    assert e.value.kind == ts.KIND_NO_CREDENTIALS
    for source in ("access_key", "profile", "environment", "AWS_ACCESS_KEY_ID", "shared credentials",
                   "config", "container", "instance metadata"):
        assert source in message


def test_credentials_from_environment(clock, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAENVEXAMPLE000001")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "env-secret")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "env-session-token")
    result = signer_for(clock).generate(target())
    parts = check_token(result["token"], {"AKIAENVEXAMPLE000001": "env-secret"})
    assert parts["session_token"] == "env-session-token"


def test_credentials_from_shared_file_profile(clock, clean_env):
    (clean_env / "credentials").write_text(
        "[ops]\naws_access_key_id = AKIAOPSEXAMPLE000001\naws_secret_access_key = ops-secret\n")
    result = signer_for(clock, profile="ops").generate(target(db_user="u"))
    assert check_token(result["token"], {"AKIAOPSEXAMPLE000001": "ops-secret"})["user"] == "u"


def test_unknown_profile(clock):
    with pytest.raises(ts.TokenError, match="profile nope was not found") as e:
        signer_for(clock, profile="nope").generate(target())
    assert e.value.kind == ts.KIND_NO_CREDENTIALS


def test_keys_in_the_task_win_over_aws_profile_in_the_environment(clock, monkeypatch):
    # amazon.aws' profile option falls back to AWS_PROFILE; the task gave keys, not a profile.
    from ansible_collections.dbauth.rds_iam.plugins.module_utils._aws_session import profile_from_environment_only
    monkeypatch.setenv("AWS_PROFILE", "from-env")
    params = dict(access_key=AK, secret_key=SK, profile="from-env")
    assert profile_from_environment_only(params)
    assert not profile_from_environment_only(dict(params, profile="from-task"))
    assert not profile_from_environment_only(dict(profile="from-env"))


def test_profile_and_keys_given_together_are_refused_as_amazon_aws_does(clock):
    with pytest.raises(ModuleFailed, match="Passing both a profile and access tokens is not supported") as e:
        static_signer(clock, profile="p").generate(target())
    assert SK not in str(e.value)


@pytest.mark.parametrize("options,message", [
    (dict(role_session_name="x"), "only apply together with assume_role_arn"),
    (dict(external_id="x"), "only apply together with assume_role_arn"),
    (dict(assume_role_arn=ROLE_ARN, role_session_name="bad name!"), "role_session_name 'bad name!' is invalid"),
])
def test_role_option_errors(clock, options, message):
    with pytest.raises(ts.TokenError) as e:
        static_signer(clock, **options)
    assert message in str(e.value) and e.value.kind == ts.KIND_CONFIG
    assert SK not in str(e.value)


# ---------------------------------------------------------------------------------------------
# Assume role (amazon.aws' STS client, checked against the API model with botocore's Stubber)
# ---------------------------------------------------------------------------------------------

def test_assume_role_signs_with_role_credentials(clock, monkeypatch):
    sts = StubbedSTS(monkeypatch)
    sts.expect({"RoleArn": ROLE_ARN, "RoleSessionName": "nightly", "ExternalId": "ext-1"},
               expiry=NOW + datetime.timedelta(hours=1))
    signer = static_signer(clock, assume_role_arn=ROLE_ARN, role_session_name="nightly", external_id="ext-1",
                           endpoint_url="http://127.0.0.1:5000")
    parts = check_token(signer.generate(target())["token"], {ASSUMED_AK: ASSUMED_SK}, now=NOW)
    assert parts["session_token"] == ASSUMED_TOKEN
    sts.done()
    # The base credentials assumed the role, at the configured endpoint, in the token's region.
    assert sts.calls == [(AK, "eu-west-1", "http://127.0.0.1:5000")]


def test_assume_role_default_session_name_and_reuse(clock, monkeypatch):
    sts = StubbedSTS(monkeypatch)
    sts.expect({"RoleArn": ROLE_ARN, "RoleSessionName": "dbauth-rds-iam-token"}, expiry=NOW + datetime.timedelta(hours=1))
    signer = static_signer(clock, assume_role_arn=ROLE_ARN)
    signer.generate(target())
    clock.advance(60)
    # No second response queued: a second STS call would raise in the Stubber.
    second = signer.generate(target(db_user="other"))
    assert check_token(second["token"], {ASSUMED_AK: ASSUMED_SK})["user"] == "other"
    assert len(sts.calls) == 1


def test_assume_role_refused_gives_aws_message_without_secrets(clock, monkeypatch):
    sts = StubbedSTS(monkeypatch)
    sts.stubber.add_client_error(
        "assume_role", service_error_code="AccessDenied", http_status_code=403,
        service_message="User: arn:aws:iam::123456789012:user/ci is not authorized to perform: sts:AssumeRole")
    with pytest.raises(ts.TokenError) as e:
        static_signer(clock, assume_role_arn=ROLE_ARN, session_token="base-session-token").generate(target())
    message = str(e.value)
    assert e.value.kind == ts.KIND_ASSUME_ROLE
    assert "Could not assume role %s" % ROLE_ARN in message
    assert "AccessDenied: User: arn:aws:iam::123456789012:user/ci is not authorized to perform: sts:AssumeRole" in message
    assert SK not in message and "base-session-token" not in message


def test_assumed_credentials_are_renewed_when_they_would_expire_first(clock, monkeypatch):
    sts = StubbedSTS(monkeypatch)
    sts.expect(expiry=NOW + datetime.timedelta(hours=1))
    sts.expect(expiry=NOW + datetime.timedelta(hours=2), access_key="ASIASECONDEXAMPLE001")
    signer = static_signer(clock, assume_role_arn=ROLE_ARN)
    assert check_token(signer.generate(target())["token"], {ASSUMED_AK: ASSUMED_SK})
    clock.advance(3000)  # 600 s left on the role credentials, the token needs 900
    assert check_token(signer.generate(target())["token"], {"ASIASECONDEXAMPLE001": ASSUMED_SK})
    sts.done()


def test_role_credentials_shorter_than_token_fail_with_expiry_time(clock, monkeypatch):
    sts = StubbedSTS(monkeypatch)
    sts.expect(expiry=NOW + datetime.timedelta(seconds=300))
    with pytest.raises(ts.TokenError) as e:
        static_signer(clock, assume_role_arn=ROLE_ARN).generate(target())
    message = str(e.value)
    assert e.value.kind == ts.KIND_CREDENTIALS_EXPIRED
    assert "expire at 2026-11-25T07:50:00Z, before the token's 15 minutes end (2026-11-25T08:00:00Z)" in message
    assert ASSUMED_SK not in message and ASSUMED_TOKEN not in message


# ---------------------------------------------------------------------------------------------
# botocore refreshable credentials (instance profile, SSO, credential_process, ...)
# ---------------------------------------------------------------------------------------------

def _refreshable(clock, monkeypatch, first_expiry, refreshed_expiry):
    calls = []

    def refresh():
        calls.append(clock())
        return {"access_key": "ASIAREFRESHED0000001", "secret_key": "refreshed-secret",
                "token": "refreshed-token", "expiry_time": refreshed_expiry.isoformat()}

    creds = botocore.credentials.RefreshableCredentials.create_from_metadata(
        metadata={"access_key": "ASIAORIGINAL00000001", "secret_key": "original-secret",
                  "token": "original-token", "expiry_time": first_expiry.isoformat()},
        refresh_using=refresh, method="iam-role")
    creds._time_fetcher = clock
    monkeypatch.setattr(boto3.session.Session, "get_credentials", lambda self: creds)
    return calls


def test_refreshable_credentials_are_refreshed_before_signing(clock, monkeypatch):
    calls = _refreshable(clock, monkeypatch, NOW + datetime.timedelta(seconds=500), NOW + datetime.timedelta(hours=6))
    result = signer_for(clock).generate(target())
    assert check_token(result["token"], {"ASIAREFRESHED0000001": "refreshed-secret"})["session_token"] == "refreshed-token"
    assert len(calls) == 1


def test_refreshable_credentials_not_refreshed_when_long_enough(clock, monkeypatch):
    calls = _refreshable(clock, monkeypatch, NOW + datetime.timedelta(hours=1), NOW + datetime.timedelta(hours=6))
    result = signer_for(clock).generate(target())
    assert check_token(result["token"], {"ASIAORIGINAL00000001": "original-secret"})
    assert calls == []


def test_refreshable_credentials_still_too_short_fail(clock, monkeypatch):
    calls = _refreshable(clock, monkeypatch, NOW + datetime.timedelta(seconds=800), NOW + datetime.timedelta(seconds=700))
    with pytest.raises(ts.TokenError) as e:
        signer_for(clock).generate(target())
    assert e.value.kind == ts.KIND_CREDENTIALS_EXPIRED
    assert "from iam-role expire before the token's 15 minutes end (2026-11-25T08:00:00Z)" in str(e.value)
    assert calls, "botocore was asked to refresh first"
    assert "refreshed-secret" not in str(e.value)


def test_failed_refresh_is_reported_without_secrets(clock, monkeypatch):
    _refreshable(clock, monkeypatch, NOW - datetime.timedelta(seconds=10), NOW - datetime.timedelta(seconds=5))
    with pytest.raises(ts.TokenError) as e:
        signer_for(clock).generate(target())
    assert e.value.kind == ts.KIND_CREDENTIALS_EXPIRED  # and they stay expired
    assert "Could not refresh the AWS credentials" in str(e.value)
    assert "original-secret" not in str(e.value) and "refreshed-secret" not in str(e.value)


# ---------------------------------------------------------------------------------------------
# Token cache (used by the lookup)
# ---------------------------------------------------------------------------------------------

def test_token_cache_hit_and_refresh(clock):
    signer = static_signer(clock)
    first = signer.generate(target(), cache_min_ttl=60)
    clock.advance(10)
    again = signer.generate(target(), cache_min_ttl=60)
    assert again["token"] == first["token"] and again["cached"] is True
    assert again["expires_at"] == first["expires_at"]
    clock.advance(835)  # 55 s left < 60
    fresh = signer.generate(target(), cache_min_ttl=60)
    assert fresh["token"] != first["token"] and fresh["cached"] is False
    assert check_token(fresh["token"], {AK: SK}, now=clock())["signed_at"] == clock().replace(microsecond=0)
    assert signer.stats == {"signed": 2, "cache_hits": 1}


def test_token_cache_keys_on_host_port_user_region(clock):
    signer = static_signer(clock)
    base = signer.generate(target(), cache_min_ttl=60)["token"]
    clock.advance(2)
    variants = [
        target(db_user="other"),
        target(db_port=5433),
        target(db_host="mydb2.abcdefghijkl.eu-west-1.rds.amazonaws.com"),
        target(db_host="10.0.0.1", region="eu-west-1"),
        target(db_host="10.0.0.1", region="eu-west-2"),
    ]
    tokens = [signer.generate(v, cache_min_ttl=60)["token"] for v in variants]
    assert len(set(tokens + [base])) == len(variants) + 1
    assert signer.stats["cache_hits"] == 0


def test_cache_min_ttl_900_disables_cache_and_range_checked(clock):
    signer = static_signer(clock)
    first = signer.generate(target(), cache_min_ttl=900)
    clock.advance(1)
    assert signer.generate(target(), cache_min_ttl=900)["token"] != first["token"]
    for bad in (-1, 901):
        with pytest.raises(ts.TokenError, match="cache_min_ttl must be between 0 and 900"):
            signer.generate(target(), cache_min_ttl=bad)


def test_module_path_does_not_cache(clock):
    signer = static_signer(clock)
    first = signer.generate(target())
    clock.advance(1)
    assert signer.generate(target())["token"] != first["token"]


# ---------------------------------------------------------------------------------------------
# kind=sts: a presigned GetCallerIdentity bound to a server id (X-DbAuth-Server-Id signed)
# ---------------------------------------------------------------------------------------------

def sts_options(**extra):
    options = dict(kind="sts", server_id="orders-db-1", region="eu-west-1")
    options.update(extra)
    return options


def test_pinned_shape_regional_endpoint_server_id_signed(clock):
    result = static_signer(clock).generate(sts_options())
    unsigned, signature = result["token"].split("&X-Amz-Signature=")
    assert unsigned == (
        "sts.eu-west-1.amazonaws.com/?Action=GetCallerIdentity&Version=2011-06-15"
        "&X-Amz-Algorithm=AWS4-HMAC-SHA256"
        "&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20261125%2Feu-west-1%2Fsts%2Faws4_request"
        "&X-Amz-Date=20261125T074500Z&X-Amz-Expires=900&X-Amz-SignedHeaders=host%3Bx-dbauth-server-id"
    )
    assert len(signature) == 64
    assert result["expires_at"] == "2026-11-25T08:00:00Z" and result["region"] == "eu-west-1"
    parts = check_sts_token(result["token"], {AK: SK}, "orders-db-1")
    assert parts["expires"] == 900 and parts["session_token"] is None


def test_signature_binds_the_server_id(clock):
    token = static_signer(clock).generate(sts_options())["token"]
    with pytest.raises(InvalidToken, match="signature"):
        check_sts_token(token, {AK: SK}, "orders-db-2")
    with pytest.raises(InvalidToken, match="signature"):
        check_sts_token(token, {AK: SK + "x"}, "orders-db-1")


def test_endpoint_url_is_honoured_for_the_lab(clock):
    token = static_signer(clock, endpoint_url="http://127.0.0.1:5000").generate(sts_options(region="us-east-1"))["token"]
    assert token.startswith("127.0.0.1:5000/?Action=GetCallerIdentity&")
    assert check_sts_token(token, {AK: SK}, "orders-db-1")["region"] == "us-east-1"


def test_china_partition_endpoint(clock):
    token = static_signer(clock).generate(sts_options(region="cn-north-1"))["token"]
    assert token.startswith("sts.cn-north-1.amazonaws.com.cn/?")


def test_region_from_environment(clock, monkeypatch):
    monkeypatch.setenv("AWS_REGION", "ap-southeast-2")
    token = static_signer(clock).generate(sts_options(region=None))["token"]
    assert token.startswith("sts.ap-southeast-2.amazonaws.com/?")


def test_no_region_asks_for_one(clock):
    with pytest.raises(ts.TokenError, match="set the region option"):
        static_signer(clock).generate(sts_options(region=None))


def test_global_endpoint_is_refused(clock, monkeypatch):
    monkeypatch.setenv("AWS_STS_REGIONAL_ENDPOINTS", "legacy")
    with pytest.raises(ts.TokenError, match="regional endpoints only"):
        static_signer(clock).generate(sts_options(region="us-east-1"))


@pytest.mark.parametrize("server_id,message", [
    (None, "server_id is required with kind=sts"),
    ("", "server_id is required with kind=sts"),
    ("has space", "server_id 'has space' is invalid"),
    ("x" * 129, "is invalid"),
])
def test_server_id_checked_before_signing(clock, server_id, message):
    with pytest.raises(ts.TokenError, match=message):
        static_signer(clock).generate(sts_options(server_id=server_id))


def test_unknown_kind(clock):
    with pytest.raises(ts.TokenError, match="kind must be one of rds, sts"):
        static_signer(clock).generate(sts_options(kind="ldap"))


def test_db_host_port_user_are_not_needed_nor_signed(clock):
    token = static_signer(clock).generate(sts_options(db_host="db1.example.internal", db_port=5432, db_user="app"))["token"]
    assert "db1" not in token and "app" not in token.split("X-Amz-Credential")[0]


def test_cache_per_server_id_and_region(clock):
    s = static_signer(clock)
    first = s.generate(sts_options(), cache_min_ttl=60)
    clock.advance(30)
    again = s.generate(sts_options(), cache_min_ttl=60)
    assert again["cached"] and again["token"] == first["token"]
    other = s.generate(sts_options(server_id="orders-db-2"), cache_min_ttl=60)
    assert not other["cached"]
    clock.advance(820)  # 50 s left, below cache_min_ttl
    assert not s.generate(sts_options(), cache_min_ttl=60)["cached"]
    assert s.stats == {"signed": 3, "cache_hits": 1}


def test_kind_rds_and_sts_do_not_share_cache_entries(clock):
    s = static_signer(clock)
    s.generate(sts_options(), cache_min_ttl=60)
    rds = s.generate(dict(db_host="mydb.abcdefghijkl.eu-west-1.rds.amazonaws.com", db_port=5432, db_user="app",
                          kind="rds"), cache_min_ttl=60)
    assert not rds["cached"] and "Action=connect" in rds["token"]


def test_assume_role_signs_with_the_role_session(clock, monkeypatch):
    stubbed = StubbedSTS(monkeypatch)
    stubbed.expect({"RoleArn": ROLE_ARN, "RoleSessionName": "dbauth-rds-iam-token"},
                   expiry=NOW + datetime.timedelta(hours=1))
    token = static_signer(clock, assume_role_arn=ROLE_ARN).generate(sts_options())["token"]
    parts = check_sts_token(token, {ASSUMED_AK: ASSUMED_SK}, "orders-db-1")
    assert parts["session_token"] == ASSUMED_TOKEN
    stubbed.done()


def test_no_secret_in_the_token_or_errors(clock):
    token = static_signer(clock, session_token="base-session-token").generate(sts_options())["token"]
    assert SK not in token
    with pytest.raises(ts.TokenError) as e:
        static_signer(clock, session_token="base-session-token").generate(sts_options(server_id="bad id"))
    assert SK not in str(e.value) and "base-session-token" not in str(e.value)
