# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.dbauth.rds_iam.plugins.filter.rds_iam_policy_document import FilterModule


def test_filter_is_registered_and_computes_the_document():
    policy = FilterModule().filters()["rds_iam_policy_document"]
    document = policy([{"resource_id": "db-ABC123", "db_users": ["app"]}], "us-east-1", 123456789012)
    assert document["Statement"][0]["Resource"] == "arn:aws:rds-db:us-east-1:123456789012:dbuser:db-ABC123/app"


def test_filter_errors_are_ansible_errors_naming_the_filter():
    policy = FilterModule().filters()["rds_iam_policy_document"]
    with pytest.raises(AnsibleFilterError, match="rds_iam_policy_document: grant 0: database user '\\*' contains a wildcard"):
        policy([{"resource_id": "db-ABC123", "db_users": ["*"]}], "us-east-1", "123456789012")
