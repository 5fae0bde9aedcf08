# -*- coding: utf-8 -*-

# Copyright: (c) 2026, dbauth.rds_iam developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""kind=sts tokens: a presigned GetCallerIdentity bound to a server id, checked by an independent SigV4 verifier."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime

import pytest

from ansible_collections.dbauth.rds_iam.plugins.module_utils import _token_signing as ts
from ansible_collections.dbauth.rds_iam.tests.unit.plugins.aws_doubles import ASSUMED_AK
from ansible_collections.dbauth.rds_iam.tests.unit.plugins.aws_doubles import ASSUMED_SK
from ansible_collections.dbauth.rds_iam.tests.unit.plugins.aws_doubles import ASSUMED_TOKEN
from ansible_collections.dbauth.rds_iam.tests.unit.plugins.aws_doubles import ROLE_ARN
from ansible_collections.dbauth.rds_iam.tests.unit.plugins.aws_doubles import Clock
from ansible_collections.dbauth.rds_iam.tests.unit.plugins.aws_doubles import StubbedSTS
from ansible_collections.dbauth.rds_iam.tests.unit.plugins.aws_doubles import signer_for
from ansible_collections.dbauth.rds_iam.tests.unit.plugins.sigv4_reference import InvalidToken
from ansible_collections.dbauth.rds_iam.tests.unit.plugins.sigv4_reference import check_sts_token

UTC = datetime.timezone.utc
NOW = datetime.datetime(2026, 11, 25, 7, 45, 0, 250000, tzinfo=UTC)
AK = "AKIAIOSFODNN7EXAMPLE"
SK = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"

pytestmark = pytest.mark.usefixtures("clean_env")


@pytest.fixture
def clock(monkeypatch):
    return Clock(NOW).freeze_botocore(monkeypatch)


def signer(clock, **aws_options):
    options = dict(access_key=AK, secret_key=SK)
    options.update(aws_options)
    return signer_for(clock, **options)


def sts(**extra):
    options = dict(kind="sts", server_id="orders-db-1", region="eu-west-1")
    options.update(extra)
    return options


def test_pinned_shape_regional_endpoint_server_id_signed(clock):
    result = signer(clock).generate(sts())
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
    token = signer(clock).generate(sts())["token"]
    with pytest.raises(InvalidToken, match="signature"):
        check_sts_token(token, {AK: SK}, "orders-db-2")
    with pytest.raises(InvalidToken, match="signature"):
        check_sts_token(token, {AK: SK + "x"}, "orders-db-1")


def test_endpoint_url_is_honoured_for_the_lab(clock):
    token = signer(clock, endpoint_url="http://127.0.0.1:5000").generate(sts(region="us-east-1"))["token"]
    assert token.startswith("127.0.0.1:5000/?Action=GetCallerIdentity&")
    assert check_sts_token(token, {AK: SK}, "orders-db-1")["region"] == "us-east-1"


def test_china_partition_endpoint(clock):
    token = signer(clock).generate(sts(region="cn-north-1"))["token"]
    assert token.startswith("sts.cn-north-1.amazonaws.com.cn/?")


def test_region_from_environment(clock, monkeypatch):
    monkeypatch.setenv("AWS_REGION", "ap-southeast-2")
    token = signer(clock).generate(sts(region=None))["token"]
    assert token.startswith("sts.ap-southeast-2.amazonaws.com/?")


def test_no_region_asks_for_one(clock):
    with pytest.raises(ts.TokenError, match="set the region option"):
        signer(clock).generate(sts(region=None))


def test_global_endpoint_is_refused(clock, monkeypatch):
    monkeypatch.setenv("AWS_STS_REGIONAL_ENDPOINTS", "legacy")
    with pytest.raises(ts.TokenError, match="regional endpoints only"):
        signer(clock).generate(sts(region="us-east-1"))


@pytest.mark.parametrize("server_id,message", [
    (None, "server_id is required with kind=sts"),
    ("", "server_id is required with kind=sts"),
    ("has space", "server_id 'has space' is invalid"),
    ("x" * 129, "is invalid"),
])
def test_server_id_checked_before_signing(clock, server_id, message):
    with pytest.raises(ts.TokenError, match=message):
        signer(clock).generate(sts(server_id=server_id))


def test_unknown_kind(clock):
    with pytest.raises(ts.TokenError, match="kind must be one of rds, sts"):
        signer(clock).generate(sts(kind="ldap"))


def test_db_host_port_user_are_not_needed_nor_signed(clock):
    token = signer(clock).generate(sts(db_host="db1.example.internal", db_port=5432, db_user="app"))["token"]
    assert "db1" not in token and "app" not in token.split("X-Amz-Credential")[0]


def test_cache_per_server_id_and_region(clock):
    s = signer(clock)
    first = s.generate(sts(), cache_min_ttl=60)
    clock.advance(30)
    again = s.generate(sts(), cache_min_ttl=60)
    assert again["cached"] and again["token"] == first["token"]
    other = s.generate(sts(server_id="orders-db-2"), cache_min_ttl=60)
    assert not other["cached"]
    clock.advance(820)  # 50 s left, below cache_min_ttl
    assert not s.generate(sts(), cache_min_ttl=60)["cached"]
    assert s.stats == {"signed": 3, "cache_hits": 1}


def test_kind_rds_and_sts_do_not_share_cache_entries(clock):
    s = signer(clock)
    s.generate(sts(), cache_min_ttl=60)
    rds = s.generate(dict(db_host="mydb.abcdefghijkl.eu-west-1.rds.amazonaws.com", db_port=5432, db_user="app",
                          kind="rds"), cache_min_ttl=60)
    assert not rds["cached"] and "Action=connect" in rds["token"]


def test_assume_role_signs_with_the_role_session(clock, monkeypatch):
    stubbed = StubbedSTS(monkeypatch)
    stubbed.expect({"RoleArn": ROLE_ARN, "RoleSessionName": "dbauth-rds-iam-token"},
                   expiry=NOW + datetime.timedelta(hours=1))
    token = signer(clock, assume_role_arn=ROLE_ARN).generate(sts())["token"]
    parts = check_sts_token(token, {ASSUMED_AK: ASSUMED_SK}, "orders-db-1")
    assert parts["session_token"] == ASSUMED_TOKEN
    stubbed.done()


def test_no_secret_in_the_token_or_errors(clock):
    token = signer(clock, session_token="base-session-token").generate(sts())["token"]
    assert SK not in token
    with pytest.raises(ts.TokenError) as e:
        signer(clock, session_token="base-session-token").generate(sts(server_id="bad id"))
    assert SK not in str(e.value) and "base-session-token" not in str(e.value)
