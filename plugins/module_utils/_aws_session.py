# -*- coding: utf-8 -*-

# Copyright: (c) 2026, dbauth.rds_iam developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

# Internal use only: this file is not part of the collection's public interface and may change
# without notice.

"""The AWS principal of a module or the lookup: amazon.aws makes every client, this adds the assume-role step.

Options ``assume_role_arn``, ``role_session_name`` and ``external_id`` (doc fragment
``dbauth.rds_iam.assume_role``) fall back to the environment variables that the collection's AWX /
Automation Controller credential type injects:

* ``DBAUTH_RDS_IAM_ASSUME_ROLE_ARN``
* ``DBAUTH_RDS_IAM_ROLE_SESSION_NAME``
* ``DBAUTH_RDS_IAM_EXTERNAL_ID``

When a role is configured, the AWS options (or the default credential chain) give the credentials that
assume it through amazon.aws' STS client, and every AWS client of the module uses the role's temporary
credentials ("assume-role first"). The RDS clients that sign tokens get credentials that outlive the
token (refreshed, or re-assumed, else a TokenError says they do not).

rds_iam_verify configures no role: it proves the target host's own identity.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import os
import re

try:
    import boto3
    import botocore.exceptions
except ImportError:
    pass  # AnsibleAWSModule and AWSLookupBase report the missing SDK

from ansible.module_utils.basic import env_fallback

from ansible_collections.amazon.aws.plugins.module_utils.botocore import get_aws_connection_info
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

from ansible_collections.dbauth.rds_iam.plugins.module_utils._token_signing import KIND_ASSUME_ROLE
from ansible_collections.dbauth.rds_iam.plugins.module_utils._token_signing import KIND_CREDENTIALS_EXPIRED
from ansible_collections.dbauth.rds_iam.plugins.module_utils._token_signing import KIND_NO_CREDENTIALS
from ansible_collections.dbauth.rds_iam.plugins.module_utils._token_signing import NO_CREDENTIALS_MSG
from ansible_collections.dbauth.rds_iam.plugins.module_utils._token_signing import TokenError
from ansible_collections.dbauth.rds_iam.plugins.module_utils._token_signing import TokenSigner
from ansible_collections.dbauth.rds_iam.plugins.module_utils._token_signing import isoformat_z
from ansible_collections.dbauth.rds_iam.plugins.module_utils._token_signing import utc_now

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
DEFAULT_ROLE_SESSION_NAME = "dbauth-rds-iam-token"
# AWS STS AssumeRole: RoleSessionName is 2-64 characters of [\w+=,.@-].
_ROLE_SESSION_NAME_RE = re.compile(r"^[\w+=,.@-]{2,64}$")
_KEY_OPTION_NAMES = ("access_key", "secret_key", "session_token")
_PROFILE_ENV = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE")


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
    a role is set) is ignored; given as options they make AwsPrincipal fail loudly.
    """
    environ = os.environ if environ is None else environ
    options = dict((name, params.get(name) or None) for name in ASSUME_ROLE_OPTION_NAMES)
    if not options["assume_role_arn"]:
        for name in ("role_session_name", "external_id"):
            if options[name] is not None and options[name] == environ.get(ASSUME_ROLE_ENV[name]):
                options[name] = None
    return options


def profile_from_environment_only(params, environ=None):
    """True when ``params`` hold keys and a profile that is AWS_PROFILE's (or AWS_DEFAULT_PROFILE's) value.

    amazon.aws' ``profile`` option falls back to those variables and then refuses it beside keys; the task
    set the keys, not the profile, so the keys win (as botocore lets explicit keys win over AWS_PROFILE).
    """
    environ = os.environ if environ is None else environ
    profile = params.get("profile")
    return bool(profile and any(params.get(name) for name in _KEY_OPTION_NAMES)
                and profile in [environ.get(name) for name in _PROFILE_ENV])


class AwsPrincipal:
    """Clients of one AWS principal, made by amazon.aws: an AnsibleAWSModule's or an AWSLookupBase's.

    ``plugin`` has amazon.aws' ``client(service, retry_decorator, **params)`` and ``region``;
    ``params`` are its options; ``connection_info`` returns amazon.aws' ``get_aws_connection_info`` of
    the plugin (the module's by default; the lookup passes the plugin_utils one).
    """

    def __init__(self, plugin, params, connection_info=None, clock=None, environ=None):
        self._plugin = plugin
        self._connection_info = connection_info or (lambda: get_aws_connection_info(plugin))
        self._clock = clock or utc_now
        self._role = assume_role_options(params, environ)
        self._no_log_values = getattr(plugin, "no_log_values", None)
        self._assumed = None      # (client credential params, expiry) of the role
        self._credentials = None  # botocore credentials of the AWS options or the default chain
        self._token_clients = {}
        access_key, secret_key = params.get("access_key"), params.get("secret_key")
        if bool(access_key) != bool(secret_key):
            given, missing = ("access_key", "secret_key") if access_key else ("secret_key", "access_key")
            raise TokenError("%s is set but %s is not: give both (or neither, to use the default "
                             "credential chain)." % (given, missing))
        if params.get("session_token") and not access_key:
            raise TokenError("session_token is set without access_key and secret_key: give all three.")
        role_arn = self._role["assume_role_arn"]
        if role_arn:
            session_name = self._role["role_session_name"] or DEFAULT_ROLE_SESSION_NAME
            if not _ROLE_SESSION_NAME_RE.match(session_name):
                raise TokenError("role_session_name %r is invalid: use 2-64 characters from letters, "
                                 "digits and +=,.@_-" % session_name)
            self._role["role_session_name"] = session_name
        elif self._role["role_session_name"] or self._role["external_id"]:
            raise TokenError("role_session_name and external_id only apply together with assume_role_arn.")

    def client(self, service, retry_decorator=None, region=None):
        """amazon.aws' client for ``service``, as the role when one is configured."""
        params = {"region": region} if region else {}
        if self._role["assume_role_arn"]:
            params.update(self._role_credentials(region, self._clock()))
        return self._plugin.client(service, retry_decorator=retry_decorator, **params)

    def profile_region(self):
        """The region amazon.aws finds without a region option (the profile's configuration)."""
        return self._plugin.region

    def token_client(self, region, needed_until, service="rds"):
        """A ``service`` (rds, or sts for kind sts) client for ``region`` whose credentials last until
        ``needed_until`` (aware datetime)."""
        if self._role["assume_role_arn"]:
            params = self._role_credentials(region, needed_until)
        else:
            params = self._chain_credentials(needed_until)
        key = (service, region, params["aws_access_key_id"], params["aws_secret_access_key"], params["aws_session_token"])
        client = self._token_clients.get(key)
        if client is None:
            client = self._token_clients[key] = self._plugin.client(service, region=region, **params)
        return client

    def _chain_credentials(self, needed_until):
        if self._credentials is None:
            dummy_region, dummy_endpoint, connect = self._connection_info()
            try:
                session = boto3.session.Session(
                    profile_name=connect.get("profile_name"), aws_access_key_id=connect.get("aws_access_key_id"),
                    aws_secret_access_key=connect.get("aws_secret_access_key"),
                    aws_session_token=connect.get("aws_session_token"))
                credentials = session.get_credentials()
            except botocore.exceptions.ProfileNotFound as e:
                raise TokenError("The AWS profile %s was not found in the shared credentials and config files."
                                 % e.kwargs.get("profile"), KIND_NO_CREDENTIALS)
            except botocore.exceptions.BotoCoreError as e:
                raise TokenError("Could not load AWS credentials: %s: %s" % (type(e).__name__, e), KIND_NO_CREDENTIALS)
            if credentials is None:
                raise TokenError(NO_CREDENTIALS_MSG, KIND_NO_CREDENTIALS)
            self._credentials = credentials
        source = getattr(self._credentials, "method", None) or "the default credential chain"
        try:
            # botocore refreshes temporary credentials here when they end within its refresh window.
            frozen = self._credentials.get_frozen_credentials()
        except Exception as e:  # botocore raises RuntimeError or its own errors on a failed refresh
            expired = getattr(self._credentials, "refresh_needed", lambda seconds: False)(0)
            raise TokenError("Could not refresh the AWS credentials from %s: %s: %s" % (source, type(e).__name__, e),
                             KIND_CREDENTIALS_EXPIRED if expired else KIND_NO_CREDENTIALS)
        refresh_needed = getattr(self._credentials, "refresh_needed", None)  # temporary credentials only
        if refresh_needed is not None and refresh_needed((needed_until - self._clock()).total_seconds()):
            raise TokenError(
                "The AWS credentials from %s expire before the token's 15 minutes end (%s), and refreshing them "
                "did not help: renew those credentials (or let the token be signed by longer-lived ones) and retry."
                % (source, isoformat_z(needed_until)), KIND_CREDENTIALS_EXPIRED)
        return _client_credentials(frozen.access_key, frozen.secret_key, frozen.token)

    def _role_credentials(self, region, needed_until):
        if self._assumed is not None and self._assumed[1] >= needed_until:
            return self._assumed[0]
        request = {"RoleArn": self._role["assume_role_arn"], "RoleSessionName": self._role["role_session_name"]}
        if self._role["external_id"]:
            request["ExternalId"] = self._role["external_id"]
        sts = self._plugin.client("sts", retry_decorator=AWSRetry.jittered_backoff(),
                                  **({"region": region} if region else {}))
        try:
            granted = sts.assume_role(aws_retry=True, **request)["Credentials"]
        except botocore.exceptions.ClientError as e:
            error = e.response.get("Error", {})
            raise TokenError("Could not assume role %s (session %s) with the credentials of the AWS options or the "
                             "default chain: %s: %s" % (request["RoleArn"], request["RoleSessionName"],
                                                        error.get("Code", "Error"), error.get("Message", "")),
                             KIND_ASSUME_ROLE)
        except botocore.exceptions.BotoCoreError as e:
            raise TokenError("Could not assume role %s: %s: %s" % (request["RoleArn"], type(e).__name__, e),
                             KIND_NO_CREDENTIALS)
        expiry = granted["Expiration"]
        if expiry.tzinfo is None:
            expiry = expiry.replace(tzinfo=datetime.timezone.utc)
        if expiry < needed_until:
            raise TokenError("The credentials of the role %s expire at %s, before the token's 15 minutes end (%s): "
                             "raise the role's maximum session duration." % (
                                 request["RoleArn"], isoformat_z(expiry), isoformat_z(needed_until)),
                             KIND_CREDENTIALS_EXPIRED)
        params = _client_credentials(granted["AccessKeyId"], granted["SecretAccessKey"], granted.get("SessionToken"))
        if self._no_log_values is not None:
            # Whatever the module prints later, the temporary secret and session token stay masked.
            self._no_log_values.update(v for v in (granted["SecretAccessKey"], granted.get("SessionToken")) if v)
        self._assumed = (params, expiry)
        return params


def _client_credentials(access_key, secret_key, session_token):
    """amazon.aws client parameters that replace the profile by these credentials."""
    return {"profile_name": None, "aws_access_key_id": access_key, "aws_secret_access_key": secret_key,
            "aws_session_token": session_token or None}


def module_principal(module):
    """The AwsPrincipal of an AnsibleAWSModule (one per module run); fails the module on bad role options.

    A profile that only came from the environment gives way to keys set in the task first.
    """
    principal = getattr(module, "_dbauth_principal", None)
    if principal is None:
        if profile_from_environment_only(module.params):
            module.params["profile"] = None
        try:
            principal = AwsPrincipal(module, module.params)
        except TokenError as e:
            module.fail_json(msg=str(e), error_kind=e.kind)
        module._dbauth_principal = principal  # pylint: disable=protected-access
    return principal


def client(module, service, retry_decorator=None, region=None):
    """``module.client(service)``, as the configured role if any; a failure to assume it fails the module."""
    try:
        return module_principal(module).client(service, retry_decorator=retry_decorator, region=region)
    except TokenError as e:
        module.fail_json(msg=str(e), error_kind=e.kind)


def module_signer(module):
    """A TokenSigner for the tokens of an AnsibleAWSModule, as its principal."""
    return TokenSigner(module_principal(module))
