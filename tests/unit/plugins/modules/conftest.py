# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fixtures of the unit tests of whole modules."""

from __future__ import annotations

import pytest

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.dbauth.rds_iam.tests.unit.plugins.modules.aws_stubs import Aws


@pytest.fixture(name="aws")
def aws_fixture(monkeypatch):
    aws = Aws()

    def client(module, service, retry_decorator=None, **kwargs):
        return aws.client(module, service, retry_decorator, **kwargs)

    monkeypatch.setattr(AnsibleAWSModule, "client", client)
    aws.slept = []
    monkeypatch.setattr(
        "ansible_collections.amazon.aws.plugins.module_utils.cloud.time.sleep", aws.slept.append
    )
    monkeypatch.setattr(
        "ansible_collections.dbauth.rds_iam.plugins.module_utils._iam_auth_setting.time.sleep", aws.slept.append
    )
    yield aws
    for stubber in aws.stubbers.values():
        stubber.assert_no_pending_responses()
