# -*- coding: utf-8 -*-

# Copyright: (c) 2026, dbauth.rds_iam developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

# Internal use only: this file is not part of the collection's public interface and may change
# without notice.

"""Assume-role wiring shared by the modules that call AWS (rds_iam_enable, rds_iam_db_user, rds_iam_token).

Options ``assume_role_arn``, ``role_session_name`` and ``external_id`` (doc fragment
``dbauth.rds_iam.assume_role``) fall back to the environment variables that the collection's AWX /
Automation Controller credential type injects:

* ``DBAUTH_RDS_IAM_ASSUME_ROLE_ARN``
* ``DBAUTH_RDS_IAM_ROLE_SESSION_NAME``
* ``DBAUTH_RDS_IAM_EXTERNAL_ID``

When a role is configured, the AWS options (or the default credential chain) give the credentials that
assume it, and every AWS client of the module uses the role's temporary credentials ("assume-role
first"). The STS call itself is token_signing's (one implementation for the token and the clients).

rds_iam_verify does not use this: it proves the target host's own identity.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

from ansible.module_utils.basic import env_fallback

from ansible_collections.dbauth.rds_iam.plugins.module_utils._token_signing import TokenError
from ansible_collections.dbauth.rds_iam.plugins.module_utils._token_signing import TokenSigner

ENV_ASSUME_ROLE_ARN = "DBAUTH_RDS_IAM_ASSUME_ROLE_ARN"
ENV_ROLE_SESSION_NAME = "DBAUTH_RDS_IAM_ROLE_SESSION_NAME"
ENV_EXTERNAL_ID = "DBAUTH_RDS_IAM_EXTERNAL_ID"

# option name -> environment variable (the credential type's injectors)
ASSUME_ROLE_ENV = {
    "assume_role_arn": ENV_ASSUME_ROLE_ARN,
    "role_session_name": ENV_ROLE_SESSION_NAME,
    "external_id": ENV_EXTERNAL_ID,
}
ASSUME_ROLE_OPTION_NAMES = ("assume_role_arn", "role_session_name", "external_id")

# The AWS options of amazon.aws' module fragment that the signer understands.
_AWS_OPTION_NAMES = ("access_key", "secret_key", "session_token", "profile", "endpoint_url",
                     "validate_certs", "aws_ca_bundle", "aws_config")


def assume_role_argument_spec():
    """Argument spec entries of the assume-role options, with their environment fallbacks."""
    return dict(
        assume_role_arn=dict(type="str", fallback=(env_fallback, [ENV_ASSUME_ROLE_ARN])),
        role_session_name=dict(type="str", fallback=(env_fallback, [ENV_ROLE_SESSION_NAME])),
        # An external ID is not a secret (AWS says so); it is logged like the role ARN.
        external_id=dict(type="str", no_log=False, fallback=(env_fallback, [ENV_EXTERNAL_ID])),
    )


def assume_role_options(params, environ=None):
    """The three assume-role options of ``params``, normalized.

    Empty strings (an injector without a value) count as unset. Without a role ARN, a session name or
    external ID that only came from the environment (the credential type injects them whether or not
    a role is set) is ignored; given as options they still make the signer fail loudly.
    """
    environ = os.environ if environ is None else environ
    options = dict((name, params.get(name) or None) for name in ASSUME_ROLE_OPTION_NAMES)
    if not options["assume_role_arn"]:
        for name in ("role_session_name", "external_id"):
            if options[name] is not None and options[name] == environ.get(ASSUME_ROLE_ENV[name]):
                options[name] = None
    return options


def role_configured(params):
    return bool(params.get("assume_role_arn"))


def signer_options(params, region=None, environ=None):
    """Options for TokenSigner built from module params: AWS options plus the assume-role ones."""
    options = dict((name, params.get(name)) for name in _AWS_OPTION_NAMES)
    options.update(assume_role_options(params, environ))
    options["region"] = region
    return options


class AwsSessionError(Exception):
    """The role could not be assumed; the message never contains a secret."""


def assumed_credentials(params, region, signer=None):
    """FrozenCredentials of the configured role, assumed with the AWS options (or the default chain).

    Raises AwsSessionError when no role is configured or assuming it fails.
    """
    if not role_configured(params):
        raise AwsSessionError("assumed_credentials() needs assume_role_arn.")
    try:
        return (signer or TokenSigner()).credentials(signer_options(params, region), region)
    except TokenError as e:
        raise AwsSessionError(str(e))


def client(module, service, retry_decorator=None, signer=None):
    """``module.client(service)``, with the assumed role's credentials when a role is configured.

    ``module`` is an AnsibleAWSModule. Endpoint, certificate and botocore config options apply to
    the client as usual; only the credentials are replaced. A failure to assume the role fails the module.
    """
    if not role_configured(module.params):
        return module.client(service, retry_decorator=retry_decorator)
    creds = _module_credentials(module, signer)
    return module.client(service, retry_decorator=retry_decorator, profile_name=None,
                         aws_access_key_id=creds.access_key, aws_secret_access_key=creds.secret_key,
                         aws_session_token=creds.session_token)


def _module_credentials(module, signer):
    cache = getattr(module, "_dbauth_assumed_credentials", None)
    if cache is not None:
        return cache
    try:
        creds = assumed_credentials(module.params, module.region, signer)
    except AwsSessionError as e:
        module.fail_json(msg=str(e))
    # Whatever the module prints later, the temporary secret and session token stay masked.
    for value in (creds.secret_key, creds.session_token):
        if value:
            module.no_log_values.add(value)
    module._dbauth_assumed_credentials = creds  # pylint: disable=protected-access
    return creds


def describe(params):
    """A short phrase for messages: which principal the AWS calls run as (no secrets)."""
    if role_configured(params):
        return "the role %s" % params["assume_role_arn"]
    return "the credentials of the AWS options or the default chain"
