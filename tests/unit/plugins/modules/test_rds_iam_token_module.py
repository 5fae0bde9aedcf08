# -*- coding: utf-8 -*-

# Copyright: (c) 2026, dbauth.rds_iam developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import json

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.dbauth.rds_iam.plugins.modules import rds_iam_token
from ansible_collections.dbauth.rds_iam.tests.unit.plugins.sigv4_reference import check_sts_token
from ansible_collections.dbauth.rds_iam.tests.unit.plugins.sigv4_reference import check_token

AK = "AKIAIOSFODNN7EXAMPLE"
SK = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
HOST = "mydb.abcdefghijkl.eu-west-1.rds.amazonaws.com"


def run_module(capsys, args):
    with patch_module_args(args):
        with pytest.raises(SystemExit) as e:
            rds_iam_token.main()
    out = json.loads(capsys.readouterr().out)
    return e.value.code, out


pytestmark = pytest.mark.usefixtures("clean_env")


def test_module_returns_valid_token(capsys):
    before = datetime.datetime.now(datetime.timezone.utc)
    rc, out = run_module(capsys, dict(db_host=HOST, db_port=3306, db_user="app_user", access_key=AK, secret_key=SK))
    assert rc == 0
    assert out["changed"] is False
    assert out["region"] == "eu-west-1"
    parts = check_token(out["token"], {AK: SK}, expect_region="eu-west-1")
    assert (parts["host"], parts["port"], parts["user"]) == (HOST, 3306, "app_user")
    expires = datetime.datetime.strptime(out["expires_at"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc)
    assert expires == parts["signed_at"] + datetime.timedelta(seconds=900)
    assert parts["signed_at"] >= before.replace(microsecond=0)
    assert SK not in json.dumps(out)


def test_module_check_mode_signs_too(capsys):
    rc, out = run_module(capsys, dict(db_host=HOST, db_port=5432, db_user="u", access_key=AK, secret_key=SK,
                                      _ansible_check_mode=True))
    assert rc == 0 and out["changed"] is False
    assert check_token(out["token"], {AK: SK})["user"] == "u"


def test_module_session_token_option(capsys):
    rc, out = run_module(capsys, dict(db_host="127.0.0.1", db_port=5432, db_user="u", region="us-east-1",
                                      aws_access_key=AK, aws_secret_key=SK, aws_session_token="sess/token=="))
    assert rc == 0
    assert check_token(out["token"], {AK: SK})["session_token"] == "sess/token=="
    assert "sess/token==" not in json.dumps(dict((k, v) for k, v in out.items() if k != "token"))


def test_module_region_in_host_beats_aws_region_env(capsys, monkeypatch):
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    rc, out = run_module(capsys, dict(db_host=HOST, db_port=5432, db_user="u", access_key=AK, secret_key=SK))
    assert rc == 0 and out["region"] == "eu-west-1"


def test_module_aws_region_env_for_plain_host(capsys, monkeypatch):
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    rc, out = run_module(capsys, dict(db_host="db.internal", db_port=5432, db_user="u", access_key=AK, secret_key=SK))
    assert rc == 0 and out["region"] == "us-east-1"


@pytest.mark.parametrize("args,message", [
    (dict(db_host="https://%s" % HOST, db_port=5432, db_user="u"), "not a URL"),
    (dict(db_host=HOST + ":5432", db_port=5432, db_user="u"), "must not contain a port"),
    (dict(db_host=HOST, db_port=70000, db_user="u"), "db_port 70000 is outside 1-65535"),
    (dict(db_host=HOST, db_port=5432, db_user=""), "db_user is required"),
    (dict(db_host="db.internal", db_port=5432, db_user="u"), "Set the region option or the AWS_REGION"),
    (dict(db_host=HOST, db_port=5432, db_user="u", region="us-east-1"), "does not match the region eu-west-1"),
])
def test_module_bad_input(capsys, args, message):
    args.update(access_key=AK, secret_key=SK)
    rc, out = run_module(capsys, args)
    assert rc == 1 and out["failed"] is True
    assert message in out["msg"]
    assert SK not in json.dumps(out)


def test_module_requires_options(capsys):
    rc, out = run_module(capsys, dict(db_host=HOST))
    assert rc == 1
    assert "db_port" in out["msg"] and "db_user" in out["msg"]


def test_module_no_credentials(capsys):
    rc, out = run_module(capsys, dict(db_host=HOST, db_port=5432, db_user="u"))
    assert rc == 1
    assert "No AWS credentials found" in out["msg"] and "instance metadata" in out["msg"]


def test_module_kind_sts_needs_only_server_id(capsys):
    rc, out = run_module(capsys, dict(kind="sts", server_id="orders-db-1", region="eu-west-1", access_key=AK,
                                      secret_key=SK))
    assert rc == 0 and out["changed"] is False and out["region"] == "eu-west-1"
    assert check_sts_token(out["token"], {AK: SK}, "orders-db-1")["expires"] == 900
    assert SK not in json.dumps(out)


def test_module_kind_sts_requires_server_id(capsys):
    rc, out = run_module(capsys, dict(kind="sts", region="eu-west-1", access_key=AK, secret_key=SK))
    assert rc == 1 and "kind is sts but all of the following are missing: server_id" in out["msg"]


def test_module_kind_rds_still_requires_its_options(capsys):
    rc, out = run_module(capsys, dict(kind="rds", server_id="x", access_key=AK, secret_key=SK))
    assert rc == 1 and "db_host" in out["msg"] and "db_port" in out["msg"] and "db_user" in out["msg"]
