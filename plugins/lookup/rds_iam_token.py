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
  - Tokens are cached per database host, port, user, region and principal in that process, and a
    cached token is handed out only while it has more than O(cache_min_ttl) seconds to live. Ansible
    evaluates each task in its own worker process, so the cache serves the loop items and repeated
    lookups of one task; a later task signs a fresh token (which costs well under a millisecond).
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

# Typical use: the lookup as the password of a login, for example
#   community.postgresql.postgresql_query:
#     login_host: mydb.abcdefghijkl.eu-west-1.rds.amazonaws.com
#     login_user: app_user
#     login_password: "{{ lookup('dbauth.rds_iam.rds_iam_token', db_host=..., db_port=5432, db_user='app_user') }}"
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

from ansible.errors import AnsibleLookupError

from ansible_collections.amazon.aws.plugins.plugin_utils.lookup import AWSLookupBase

from ansible_collections.dbauth.rds_iam.plugins.module_utils._aws_session import assume_role_options
from ansible_collections.dbauth.rds_iam.plugins.module_utils._token_signing import PLUGIN_OPTION_NAMES
from ansible_collections.dbauth.rds_iam.plugins.module_utils._token_signing import TokenError
from ansible_collections.dbauth.rds_iam.plugins.module_utils._token_signing import TokenSigner

# One signer per process: it keeps resolved credentials and tokens between lookups.
_SIGNER = None


def _signer():
    global _SIGNER
    if _SIGNER is None:
        _SIGNER = TokenSigner()
    return _SIGNER


class LookupModule(AWSLookupBase):
    def run(self, terms, variables=None, **kwargs):
        super(LookupModule, self).run(terms, variables, **kwargs)
        options = dict((name, self.get_option(name)) for name in PLUGIN_OPTION_NAMES)
        options.update(assume_role_options(options))
        cache_min_ttl = self.get_option("cache_min_ttl")
        users = [options["db_user"]]
        if terms:
            if options["db_user"] is not None:
                raise AnsibleLookupError("Give the database user either as terms or as db_user, not both.")
            users = list(terms)
        try:
            signer = _signer()
            tokens = []
            for user in users:
                options["db_user"] = user
                tokens.append(signer.generate(options, cache_min_ttl=cache_min_ttl)["token"])
        except TokenError as e:
            raise AnsibleLookupError(str(e))
        return tokens
