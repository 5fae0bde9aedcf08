# -*- coding: utf-8 -*-
# Copyright: (c) 2026, dbauth.rds_iam developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Test doubles around the real AWS SDK: a clock that botocore signs with, STS under botocore's Stubber,
and an AnsibleAWSModule made of a params dict whose clients amazon.aws' own functions make."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime

import botocore.auth
import botocore.session
from botocore.stub import Stubber

from ansible_collections.amazon.aws.plugins.module_utils.botocore import boto3_conn
from ansible_collections.amazon.aws.plugins.module_utils.botocore import get_aws_connection_info
from ansible_collections.amazon.aws.plugins.module_utils.botocore import get_aws_region
from ansible_collections.amazon.aws.plugins.module_utils.retries import RetryingBotoClientWrapper

from ansible_collections.dbauth.rds_iam.plugins.module_utils._aws_session import AwsPrincipal
from ansible_collections.dbauth.rds_iam.plugins.module_utils._token_signing import TokenSigner

UTC = datetime.timezone.utc
ROLE_ARN = "arn:aws:iam::123456789012:role/db-connect"
ASSUMED_AK = "ASIAASSUMEDEXAMPLE01"
ASSUMED_SK = "assumed/secret+key=EXAMPLE"
ASSUMED_TOKEN = "FwoGZXIvYXdzEXAMPLE/session+token==" * 40


class Clock:
    """A settable clock; ``freeze_botocore`` makes botocore sign at its time too."""

    def __init__(self, now):
        self.now = now

    def __call__(self):
        return self.now

    def advance(self, seconds):
        self.now = self.now + datetime.timedelta(seconds=seconds)

    def freeze_botocore(self, monkeypatch):
        monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: self.now.astimezone(UTC).replace(tzinfo=None))
        return self


class ModuleFailed(Exception):
    """fail_json of ParamsModule."""


class ParamsModule:
    """What AwsPrincipal uses of an AnsibleAWSModule, without argument parsing: the client and region
    come from amazon.aws' functions, as in AnsibleAWSModule."""

    def __init__(self, **params):
        self.params = params
        self.no_log_values = set()

    def client(self, service, retry_decorator=None, **extra_params):
        region, endpoint_url, connect = get_aws_connection_info(self)
        kwargs = dict(region=region, endpoint=endpoint_url, **connect)
        kwargs.update(extra_params)
        conn = boto3_conn(self, conn_type="client", resource=service, **kwargs)
        return conn if retry_decorator is None else RetryingBotoClientWrapper(conn, retry_decorator)

    @property
    def region(self):
        return get_aws_region(self)

    def fail_json(self, msg, **kwargs):
        raise ModuleFailed(msg)


def signer_for(clock=None, **params):
    """A TokenSigner as the principal of these amazon.aws options (and the assume-role ones)."""
    module = ParamsModule(**params)
    return TokenSigner(AwsPrincipal(module, params, clock=clock), clock=clock)


class StubbedSTS:
    """Every STS client botocore creates is one real client under a Stubber; records who asked for it."""

    def __init__(self, monkeypatch, region="eu-west-1"):
        original = botocore.session.Session.create_client
        self.client = original(botocore.session.Session(), "sts", region_name=region,
                               aws_access_key_id="x", aws_secret_access_key="y")
        self.stubber = Stubber(self.client)
        self.stubber.activate()
        self.calls = []  # (access key of the base credentials, region, endpoint_url)
        stubbed = self

        def create_client(session, service_name, *args, **kwargs):
            # The role's own STS clients (they presign kind=sts tokens) are real, unstubbed clients.
            if service_name != "sts" or kwargs.get("aws_access_key_id") == ASSUMED_AK:
                return original(session, service_name, *args, **kwargs)
            access_key = kwargs.get("aws_access_key_id")
            if not access_key:
                credentials = session.get_credentials()
                access_key = credentials.access_key if credentials else None
            stubbed.calls.append((access_key, kwargs.get("region_name"), kwargs.get("endpoint_url")))
            return stubbed.client

        monkeypatch.setattr(botocore.session.Session, "create_client", create_client)

    @property
    def base_keys(self):
        return [call[0] for call in self.calls]

    def expect(self, params=None, expiry=None, access_key=ASSUMED_AK):
        expiry = expiry or datetime.datetime.now(UTC) + datetime.timedelta(hours=1)
        self.stubber.add_response("assume_role", {
            "Credentials": {"AccessKeyId": access_key, "SecretAccessKey": ASSUMED_SK,
                            "SessionToken": ASSUMED_TOKEN, "Expiration": expiry},
            "AssumedRoleUser": {"AssumedRoleId": "AROAEXAMPLE:s", "Arn": ROLE_ARN.replace(":role/", ":assumed-role/")},
        }, params)

    def done(self):
        self.stubber.assert_no_pending_responses()
