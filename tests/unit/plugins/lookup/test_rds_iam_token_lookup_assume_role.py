# -*- coding: utf-8 -*-
# Copyright: (c) 2026, dbauth.rds_iam developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The rds_iam_token lookup takes the role of the AWX credential type from the environment."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible.plugins.loader import lookup_loader

from ansible_collections.dbauth.rds_iam.plugins.lookup import rds_iam_token as lookup_module
from ansible_collections.dbauth.rds_iam.tests.unit.plugins.modules.test_assume_role_wiring import ASSUMED_AK
from ansible_collections.dbauth.rds_iam.tests.unit.plugins.modules.test_assume_role_wiring import ASSUMED_SK
from ansible_collections.dbauth.rds_iam.tests.unit.plugins.modules.test_assume_role_wiring import HOST
from ansible_collections.dbauth.rds_iam.tests.unit.plugins.modules.test_assume_role_wiring import REGION
from ansible_collections.dbauth.rds_iam.tests.unit.plugins.modules.test_assume_role_wiring import ROLE_ARN
from ansible_collections.dbauth.rds_iam.tests.unit.plugins.modules.test_assume_role_wiring import StubbedSTS
from ansible_collections.dbauth.rds_iam.tests.unit.plugins.modules.test_assume_role_wiring import awx_credential_env
from ansible_collections.dbauth.rds_iam.tests.unit.plugins.sigv4_reference import check_token


pytestmark = pytest.mark.usefixtures("clean_env")


def test_rds_iam_token_lookup_signs_as_the_role_from_the_environment(monkeypatch):
    awx_credential_env(monkeypatch, external_id="")
    sts = StubbedSTS(monkeypatch)
    sts.expect({"RoleArn": ROLE_ARN, "RoleSessionName": "awx-job-42"})
    monkeypatch.setattr(lookup_module, "_SIGNERS", {})
    lookup = lookup_loader.get("dbauth.rds_iam.rds_iam_token")
    tokens = lookup.run([], {}, db_host=HOST, db_port=3306, db_user="app_user")
    sts.done()
    check_token(tokens[0], {ASSUMED_AK: ASSUMED_SK}, expect_region=REGION)
