# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fixtures shared by the unit tests of the plugins."""

from __future__ import annotations

import pytest

# Everything through which the machine running the tests could hand botocore or the collection
# credentials, a region, a profile, an endpoint or a role to assume.
AMBIENT_AWS_VARIABLES = (
    "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_ACCESS_KEY", "AWS_SECRET_KEY",
    "AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN",
)


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    """No AWS credentials, region or role anywhere botocore or the collection looks, and no calls
    to the instance metadata service. Returns the folder of the (absent) shared config files, so a
    test can write a profile there."""
    # Imported here, not at the top: a conftest is imported before the collection loader is set up
    # when the tests run under plain pytest (pytest-ansible), not only under ansible-test.
    from ansible_collections.dbauth.rds_iam.plugins.module_utils import _aws_session

    role_variables = (_aws_session.ENV_ASSUME_ROLE_ARN, _aws_session.ENV_ROLE_SESSION_NAME, _aws_session.ENV_EXTERNAL_ID)
    for name in AMBIENT_AWS_VARIABLES + role_variables:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("BOTO_CONFIG", str(tmp_path / "boto"))
    return tmp_path
