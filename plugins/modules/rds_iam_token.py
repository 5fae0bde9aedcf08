#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright: (c) 2026, dbauth.rds_iam developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: rds_iam_token
short_description: Generate an IAM authentication token for an RDS, Aurora or RDS Proxy database
version_added: 0.1.0
description:
  - Signs an IAM database authentication token that a database client sends as its password to log
    in to Amazon RDS (MySQL, MariaDB, PostgreSQL), Aurora or RDS Proxy as an IAM database user.
  - Signing happens locally on the host that runs the module, with that host's AWS credentials (or
    the AWS options); nothing in AWS changes, so the result is never C(changed).
  - "The token is a secret for its 15 minutes of life. Put C(no_log: true) on the task that registers
    it, or use the P(dbauth.rds_iam.rds_iam_token#lookup) lookup on the controller."
  - Use the module when the host that connects should sign with its own IAM identity (as
    M(dbauth.rds_iam.rds_iam_verify) does), the lookup to feed a login password on the controller. A module run costs
    about half a second, like C(aws rds generate-db-auth-token); the lookup well under a millisecond a token.
author:
  - dbauth.rds_iam contributors (@dbauth)
options: {}
extends_documentation_fragment:
  - dbauth.rds_iam.action_group
  - dbauth.rds_iam.token_options.modules
  - dbauth.rds_iam.token_options.kind
  - dbauth.rds_iam.token_options.notes
  - dbauth.rds_iam.assume_role.modules
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
attributes:
  check_mode:
    description: Can run in check mode. The token is signed in check mode too, because signing changes nothing.
    support: full
  diff_mode:
    description: Nothing changes, so there is no diff.
    support: N/A
seealso:
  - plugin: dbauth.rds_iam.rds_iam_token
    plugin_type: lookup
  - name: GetCallerIdentity (AWS STS API reference)
    description: The request a O(kind=sts) token presigns.
    link: https://docs.aws.amazon.com/STS/latest/APIReference/API_GetCallerIdentity.html
  - name: IAM database authentication (AWS RDS user guide)
    description: How RDS checks the token.
    link: https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/UsingWithRDS.IAMDBAuth.html
"""

EXAMPLES = r"""
- name: Sign a token with the credentials of the host (region from the host name)
  dbauth.rds_iam.rds_iam_token:
    db_host: mydb.abcdefghijkl.eu-west-1.rds.amazonaws.com
    db_port: 5432
    db_user: app_user
  register: rds_token
  no_log: true

- name: Use it as the password
  community.postgresql.postgresql_query:
    login_host: mydb.abcdefghijkl.eu-west-1.rds.amazonaws.com
    login_user: app_user
    login_password: "{{ rds_token.token }}"
    ssl_mode: verify-full
    ca_cert: /etc/ssl/rds/global-bundle.pem
    db: app
    query: SELECT current_user
  no_log: true

- name: Sign as a role of the database account (cross-account access)
  dbauth.rds_iam.rds_iam_token:
    db_host: reporting.cluster-ro-abcdefghijkl.us-east-1.rds.amazonaws.com
    db_port: 3306
    db_user: report_reader
    assume_role_arn: arn:aws:iam::123456789012:role/db-report-reader
    role_session_name: nightly-report
  register: rds_token
  no_log: true

- name: Sign a token for a self-managed database behind the bridge
  dbauth.rds_iam.rds_iam_token:
    kind: sts
    server_id: orders-db-1
    region: eu-west-1
  register: sts_token
  no_log: true
"""

RETURN = r"""
token:
  description:
    - The authentication token, to be sent as the database password (MySQL clients need the
      cleartext plugin, and TLS is required).
    - "It is valid until RV(expires_at). It is a secret: register it on a task with C(no_log: true)."
  returned: success
  type: str
  sample: "mydb.abcdefghijkl.eu-west-1.rds.amazonaws.com:5432/?Action=connect&DBUser=app_user&X-Amz-Algorithm=..."
expires_at:
  description: When the token stops being accepted, ISO 8601 in UTC (15 minutes after signing).
  returned: success
  type: str
  sample: "2026-11-25T08:00:00Z"
region:
  description: The region the token was signed for (given, or derived from O(db_host)).
  returned: success
  type: str
  sample: eu-west-1
"""

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule

from ansible_collections.dbauth.rds_iam.plugins.module_utils._aws_session import assume_role_argument_spec
from ansible_collections.dbauth.rds_iam.plugins.module_utils._aws_session import module_signer
from ansible_collections.dbauth.rds_iam.plugins.module_utils._token_signing import TokenError


def main():
    argument_spec = dict(
        kind=dict(type="str", choices=["rds", "sts"], default="rds"),
        server_id=dict(type="str"),
        db_host=dict(type="str"),
        db_port=dict(type="int"),
        db_user=dict(type="str"),
        # Replaces amazon.aws' region option (same name and alias) without its environment fallback,
        # so that the region written in an RDS host name wins over AWS_REGION; the shared code reads
        # AWS_REGION/AWS_DEFAULT_REGION itself after that.
        region=dict(type="str", aliases=["aws_region"]),
    )
    # assume_role_arn, role_session_name, external_id with the credential type's environment fallbacks.
    argument_spec.update(assume_role_argument_spec())
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True,
                              required_if=[("kind", "rds", ["db_host", "db_port", "db_user"]),
                                           ("kind", "sts", ["server_id"])])
    try:
        result = module_signer(module).generate(module.params)
    except TokenError as e:
        module.fail_json(msg=str(e), error_kind=e.kind)
    module.exit_json(changed=False, token=result["token"], expires_at=result["expires_at"],
                     region=result["region"])


if __name__ == "__main__":
    main()
