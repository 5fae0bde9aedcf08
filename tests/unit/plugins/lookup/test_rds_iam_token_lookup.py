# -*- coding: utf-8 -*-

# Copyright: (c) 2026, dbauth.rds_iam developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime

import pytest
from ansible.errors import AnsibleLookupError
from ansible.plugins.loader import lookup_loader

from ansible_collections.dbauth.rds_iam.plugins.lookup import rds_iam_token as lookup_module
from ansible_collections.dbauth.rds_iam.plugins.module_utils import _aws_session
from ansible_collections.dbauth.rds_iam.plugins.module_utils import _token_signing
from ansible_collections.dbauth.rds_iam.tests.unit.plugins.aws_doubles import Clock
from ansible_collections.dbauth.rds_iam.tests.unit.plugins.sigv4_reference import check_sts_token
from ansible_collections.dbauth.rds_iam.tests.unit.plugins.sigv4_reference import check_token

AK = "AKIAIOSFODNN7EXAMPLE"
SK = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
HOST = "mydb.abcdefghijkl.eu-west-1.rds.amazonaws.com"
NOW = datetime.datetime(2026, 11, 25, 7, 45, 0, tzinfo=datetime.timezone.utc)


@pytest.fixture
def clock(monkeypatch, clean_env):
    c = Clock(NOW).freeze_botocore(monkeypatch)
    monkeypatch.setattr(_token_signing, "utc_now", c)
    monkeypatch.setattr(_aws_session, "utc_now", c)
    monkeypatch.setattr(lookup_module, "_SIGNERS", {})
    return c


@pytest.fixture
def lookup():
    return lookup_loader.get("dbauth.rds_iam.rds_iam_token")


def test_lookup_returns_one_token(lookup, clock):
    tokens = lookup.run([], {}, db_host=HOST, db_port=5432, db_user="app_user", access_key=AK, secret_key=SK)
    assert len(tokens) == 1
    parts = check_token(tokens[0], {AK: SK}, now=NOW, expect_region="eu-west-1")
    assert (parts["user"], parts["port"]) == ("app_user", 5432)


def test_lookup_terms_are_users(lookup, clock):
    tokens = lookup.run(["alice", "bob"], {}, db_host="127.0.0.1", db_port=3306, region="us-east-1",
                        access_key=AK, secret_key=SK)
    assert [check_token(t, {AK: SK})["user"] for t in tokens] == ["alice", "bob"]


def test_lookup_terms_and_db_user_conflict(lookup, clock):
    with pytest.raises(AnsibleLookupError, match="either as terms or as db_user"):
        lookup.run(["alice"], {}, db_host=HOST, db_port=5432, db_user="bob", access_key=AK, secret_key=SK)


def test_lookup_aws_credentials_from_environment(lookup, clock, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAENVEXAMPLE000001")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "env-secret")
    tokens = lookup.run([], {}, db_host=HOST, db_port=5432, db_user="u")
    assert check_token(tokens[0], {"AKIAENVEXAMPLE000001": "env-secret"})["user"] == "u"


def test_lookup_caches_until_min_ttl(lookup, clock):
    kwargs = dict(db_host=HOST, db_port=5432, db_user="u", access_key=AK, secret_key=SK)
    first = lookup.run([], {}, **kwargs)[0]
    clock.now = NOW + datetime.timedelta(seconds=30)
    assert lookup.run([], {}, **kwargs)[0] == first
    # default cache_min_ttl is 60: at 850 s only 50 s are left, so a new token is signed
    clock.now = NOW + datetime.timedelta(seconds=850)
    fresh = lookup.run([], {}, **kwargs)[0]
    assert fresh != first
    assert check_token(fresh, {AK: SK})["signed_at"] == clock.now
    # with cache_min_ttl=900 nothing is re-used
    clock.now = NOW + datetime.timedelta(seconds=851)
    assert lookup.run([], {}, cache_min_ttl=900, **kwargs)[0] != fresh


def test_lookup_errors_are_lookup_errors(lookup, clock):
    with pytest.raises(AnsibleLookupError, match="db_port 0 is outside 1-65535"):
        lookup.run([], {}, db_host=HOST, db_port=0, db_user="u", access_key=AK, secret_key=SK)
    with pytest.raises(AnsibleLookupError, match="db_host is required"):
        lookup.run([], {}, db_port=5432, db_user="u", access_key=AK, secret_key=SK)
    with pytest.raises(AnsibleLookupError) as e:
        lookup.run([], {}, db_host=HOST, db_port=5432, db_user="u", access_key=AK)
    assert "access_key is set but secret_key is not" in str(e.value)


def test_lookup_keys_win_over_aws_profile_in_the_environment(lookup, clock, monkeypatch, clean_env):
    # amazon.aws would refuse "a profile and access tokens"; the task set only the keys, so they sign.
    (clean_env / "credentials").write_text(
        "[ops]\naws_access_key_id = AKIAOPSEXAMPLE000001\naws_secret_access_key = ops-secret\n")
    monkeypatch.setenv("AWS_PROFILE", "ops")
    tokens = lookup.run([], {}, db_host=HOST, db_port=5432, db_user="u", access_key=AK, secret_key=SK)
    assert check_token(tokens[0], {AK: SK})["user"] == "u"


@pytest.mark.parametrize("user", ["   ", "app\nuser"])
def test_lookup_refuses_blank_or_multiline_db_user(lookup, clock, user):
    with pytest.raises(AnsibleLookupError, match="db_user"):
        lookup.run([], {}, db_host=HOST, db_port=5432, db_user=user, access_key=AK, secret_key=SK)


def test_lookup_kind_sts(lookup, clock):
    tokens = lookup.run([], {}, kind="sts", server_id="orders-db-1", region="us-east-1",
                        endpoint_url="http://127.0.0.1:5000", access_key=AK, secret_key=SK)
    assert tokens[0].startswith("127.0.0.1:5000/?Action=GetCallerIdentity&Version=2011-06-15&")
    assert check_sts_token(tokens[0], {AK: SK}, "orders-db-1")["date"] == "20261125T074500Z"
    with pytest.raises(AnsibleLookupError, match="server_id is required with kind=sts"):
        lookup.run([], {}, kind="sts", region="us-east-1", access_key=AK, secret_key=SK)
