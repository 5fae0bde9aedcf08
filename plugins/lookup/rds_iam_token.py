# -*- coding: utf-8 -*-

# Copyright: (c) 2026, dbauth.rds_iam developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: rds_iam_token
short_description: IAM authentication token for an RDS, Aurora or RDS Proxy database
version_added: 0.1.0
description:
  - Returns an IAM database authentication token, signed on the controller, to be used as the
    password of a database login. Same options and same signing code as the
    M(dbauth.rds_iam.rds_iam_token) module.
  - Signing is local; credentials are resolved (and O(assume_role_arn) assumed) once per principal
    and re-used inside the process that evaluates the lookup.
  - Tokens are cached per database host, port, user, region and principal (with O(kind=sts) per server id,
    region and principal) in that process, and a cached token is handed out only while it has more than O(cache_min_ttl) seconds to live. Ansible
    evaluates each task in its own worker process, so the cache serves the loop items and repeated
    lookups of one task; a later task signs a fresh token (which costs well under a millisecond, plus one STS
    call with O(assume_role_arn)).
  - "The token is a secret for its 15 minutes of life; keep it out of output with C(no_log: true) on
    tasks that use it."
author:
  - dbauth.rds_iam contributors (@dbauth)
options:
  _terms:
    description:
      - Optional database user names. One token is returned per name, and O(db_user) must not be set then.
      - Without terms, the token is for O(db_user).
    type: list
    elements: str
    required: false
  cache_min_ttl:
    description:
      - Hand out a cached token only while it has more than this many seconds to live; otherwise
        sign a new one.
      - V(900) (the token lifetime) turns the cache off. V(0) re-uses a token until it expires.
    type: int
    default: 60
extends_documentation_fragment:
  - dbauth.rds_iam.token_options.plugins
  - dbauth.rds_iam.token_options.kind
  - dbauth.rds_iam.token_options.notes
  - dbauth.rds_iam.assume_role.plugins
  - amazon.aws.common.plugins
  - amazon.aws.boto3
notes:
  - Keep O(cache_min_ttl) above the time the client needs to open its connection with the token.
seealso:
  - module: dbauth.rds_iam.rds_iam_token
"""

EXAMPLES = r"""
# These tasks run as they are (the integration test runs them against moto): signing is local,
# only the assume-role example calls STS at aws_endpoint_url.

- name: A token for an RDS instance (region from the host name), credentials from the environment
  ansible.builtin.set_fact:
    app_db_password: "{{ lookup('dbauth.rds_iam.rds_iam_token',
                         db_host='mydb.abcdefghijkl.eu-west-1.rds.amazonaws.com', db_port=5432,
                         db_user='app_user') }}"
  no_log: true

- name: One token per user, signed by an assumed role, with explicit credentials and endpoint
  ansible.builtin.set_fact:
    db_tokens: "{{ dict(users | zip(query('dbauth.rds_iam.rds_iam_token', *users,
                   db_host='127.0.0.1', db_port=3306, region='us-east-1',
                   assume_role_arn=role_arn, endpoint_url=aws_endpoint_url,
                   access_key=aws_access_key, secret_key=aws_secret_key))) }}"
  vars:
    users: [alice, bob]
    role_arn: arn:aws:iam::123456789012:role/db-connect
  no_log: true

- name: Facts about a token can be shown, the token itself must not
  ansible.builtin.debug:
    msg: "{{ db_tokens | length }} tokens of {{ db_tokens.values() | map('length') | join(', ') }} characters"

- name: A token for a self-managed database behind the bridge (kind sts), bound to its server id
  ansible.builtin.set_fact:
    orders_db_password: "{{ lookup('dbauth.rds_iam.rds_iam_token', kind='sts', server_id='orders-db-1',
                            region='us-east-1', endpoint_url=aws_endpoint_url,
                            access_key=aws_access_key, secret_key=aws_secret_key) }}"
  no_log: true

# Typical use: the lookup as the password of a login, for example
#   community.postgresql.postgresql_query:
#     login_host: mydb.abcdefghijkl.eu-west-1.rds.amazonaws.com
#     login_user: app_user
#     login_password: "{{ lookup('dbauth.rds_iam.rds_iam_token', db_host=db_host, db_port=5432, db_user='app_user') }}"
#     ssl_mode: verify-full
#   no_log: true
"""

RETURN = r"""
_raw:
  description:
    - One token per term (or one token for O(db_user)), a SigV4 presigned C(connect) URL without its
      C(https://) scheme, valid for 15 minutes from signing.
  type: list
  elements: str
"""

import hashlib
import os

from ansible.errors import AnsibleLookupError

from ansible_collections.amazon.aws.plugins.plugin_utils.botocore import get_aws_connection_info
from ansible_collections.amazon.aws.plugins.plugin_utils.lookup import AWSLookupBase

from ansible_collections.dbauth.rds_iam.plugins.module_utils._aws_session import ASSUME_ROLE_ENV
from ansible_collections.dbauth.rds_iam.plugins.module_utils._aws_session import AwsPrincipal
from ansible_collections.dbauth.rds_iam.plugins.module_utils._aws_session import profile_from_environment_only
from ansible_collections.dbauth.rds_iam.plugins.module_utils._token_signing import TokenError
from ansible_collections.dbauth.rds_iam.plugins.module_utils._token_signing import TokenSigner

# The options that choose the AWS principal, and the environment variables botocore reads for it.
_PRINCIPAL_OPTION_NAMES = ("access_key", "secret_key", "session_token", "profile", "endpoint_url",
                           "assume_role_arn", "role_session_name", "external_id")
_PRINCIPAL_ENV = ("AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SHARED_CREDENTIALS_FILE", "AWS_CONFIG_FILE") + tuple(
    ASSUME_ROLE_ENV.values())
_OPTION_NAMES = ("kind", "server_id", "db_host", "db_port", "db_user", "region") + _PRINCIPAL_OPTION_NAMES

# One signer per principal and process: it keeps the principal's clients and tokens between lookups.
_SIGNERS = {}


def _principal_key(options):
    """Which principal signs: the options and environment that choose it, secrets as digests only."""
    def digest(value):
        return hashlib.sha256(str(value).encode("utf-8")).hexdigest() if value else None
    return (tuple(digest(options.get(name)) for name in _PRINCIPAL_OPTION_NAMES)
            + tuple(os.environ.get(name) for name in _PRINCIPAL_ENV))


class LookupModule(AWSLookupBase):
    def run(self, terms, variables=None, **kwargs):
        super(LookupModule, self).run(terms, variables, **kwargs)
        if profile_from_environment_only(self.get_options()):
            self.set_option("profile", "")  # amazon.aws reads "" as "no profile"; None would fall back again
        options = dict((name, self.get_option(name)) for name in _OPTION_NAMES)
        cache_min_ttl = self.get_option("cache_min_ttl")
        users = [options["db_user"]]
        if terms:
            if options["db_user"] is not None:
                raise AnsibleLookupError("Give the database user either as terms or as db_user, not both.")
            users = list(terms)
        try:
            key = _principal_key(options)
            signer = _SIGNERS.get(key)
            if signer is None:
                principal = AwsPrincipal(self, options, connection_info=lambda: get_aws_connection_info(self))
                signer = _SIGNERS[key] = TokenSigner(principal)
            tokens = []
            for user in users:
                options["db_user"] = user
                tokens.append(signer.generate(options, cache_min_ttl=cache_min_ttl)["token"])
        except TokenError as e:
            raise AnsibleLookupError(str(e))
        return tokens
