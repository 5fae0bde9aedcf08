#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright: Contributors to the dbauth.rds_iam collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: rds_iam_proxy
short_description: Create an RDS Proxy or set its IAM authentication (client IAM, end-to-end IAM or secrets)
version_added: 0.2.0
description:
  - Brings the authentication of one Amazon RDS Proxy to what is asked, creating the proxy when it does not exist,
    and returns what IAM policies and clients need, the proxy's C(prx-) resource id, its C(rds-db) ARN prefix and
    its endpoint, whether or not anything changed.
  - With O(default_auth_scheme=IAM_AUTH) (end-to-end IAM authentication) clients log in to the proxy with IAM tokens
    and the proxy logs in to the database with tokens of its own IAM role (O(role_arn)), so no Secrets Manager secret
    is needed. The role then needs C(rds-db:connect) on the database's users and the database needs IAM database
    authentication on.
  - With O(default_auth_scheme=NONE) the proxy logs in to the database with the secrets of O(auth); each entry says
    whether clients must use IAM tokens (O(auth[].iam_auth=REQUIRED)).
  - Clients need C(rds-db:connect) on C(arn:aws:rds-db:REGION:ACCOUNT:dbuser:prx-ID/USER) (RV(resource_arn_prefix)
    followed by C(/USER)), and sign their tokens for the proxy endpoint.
  - Only the settings given are compared and changed; nothing else of an existing proxy is touched, a target
    registered already is kept, and the module never deletes a proxy.
  - Throttled AWS calls are retried with jittered backoff.
options:
  name:
    description: Name of the DB proxy.
    type: str
    required: true
  engine_family:
    description:
      - The engine family of the proxy's databases. Needed to create the proxy; ignored for an existing one.
    type: str
    choices: [MYSQL, POSTGRESQL]
  role_arn:
    description:
      - ARN of the proxy's IAM role. Its trust policy must allow C(rds.amazonaws.com) to call C(sts:AssumeRole).
      - With end-to-end IAM it needs C(rds-db:connect) on the database's users; with secrets,
        C(secretsmanager:GetSecretValue) on them (and C(kms:Decrypt) for a customer managed key).
      - Needed to create the proxy; an existing proxy gets this role when it has another one.
    type: str
  vpc_subnet_ids:
    description: The subnets of the proxy (at least two Availability Zones on AWS). Needed to create the proxy.
    type: list
    elements: str
  vpc_security_group_ids:
    description: Security groups of a new proxy (default the VPC's default security group).
    type: list
    elements: str
  default_auth_scheme:
    description:
      - V(IAM_AUTH) for end-to-end IAM authentication, V(NONE) for logins to the database with the secrets of O(auth).
      - When not given, an existing proxy keeps its scheme and a new one gets V(IAM_AUTH).
    type: str
    choices: [IAM_AUTH, NONE]
  auth:
    description:
      - The proxy's secrets (C(Auth)), the whole list. Not given, the list is left as it is.
      - With O(default_auth_scheme=NONE) at least one entry is needed.
    type: list
    elements: dict
    suboptions:
      secret_arn:
        description: ARN of a Secrets Manager secret with the C(username) and C(password) of a database user.
        type: str
        required: true
      iam_auth:
        description: V(REQUIRED) makes clients of this user log in with IAM tokens; V(DISABLED) with the password.
        type: str
        choices: [REQUIRED, DISABLED]
        default: REQUIRED
      user_name:
        description: The database user of the secret (optional, informational).
        type: str
      description:
        description: A description of the entry.
        type: str
      client_password_auth_type:
        description: How clients send a password (default the engine family's, chosen by AWS).
        type: str
        choices: [MYSQL_NATIVE_PASSWORD, MYSQL_CACHING_SHA2_PASSWORD, POSTGRES_SCRAM_SHA_256, POSTGRES_MD5]
  require_tls:
    description: Whether clients must use TLS. A new proxy requires it unless V(false) is given.
    type: bool
  db_instance_identifier:
    description: A DB instance to register as the proxy's target when it is not registered yet.
    type: str
  db_cluster_identifier:
    description: An Aurora DB cluster to register as the proxy's target when it is not registered yet.
    type: str
  tags:
    description: Tags of a new proxy.
    type: dict
  wait:
    description: After a change, wait until the proxy is C(available).
    type: bool
    default: true
  wait_timeout:
    description: How many seconds to wait when O(wait=true).
    type: int
    default: 900
author:
  - dbauth.rds_iam contributors (@dbauth)
extends_documentation_fragment:
  - dbauth.rds_iam.action_group
  - dbauth.rds_iam.assume_role.modules
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
attributes:
  check_mode:
    support: full
    description: Reads the proxy and its targets, makes no change and returns the settings the change would give.
  diff_mode:
    support: full
    description: Shows the scheme, the secrets (by ARN), RequireTLS, the role and the targets before and after.
notes:
  - Options are checked before any AWS call; an error names the option (and the entry of O(auth)) and what to fix.
  - A no-op is one C(DescribeDBProxies) and one C(DescribeDBProxyTargets) call.
  - "IAM permissions of the caller - C(rds:DescribeDBProxies), C(rds:DescribeDBProxyTargets), C(rds:CreateDBProxy),
    C(rds:ModifyDBProxy), C(rds:RegisterDBProxyTargets) and C(iam:PassRole) on O(role_arn)."
  - The migration from secrets to end-to-end IAM is a change of O(default_auth_scheme) once the role may connect;
    see C(docs/rds_proxy.md) of the collection for the steps and what to verify between them.
seealso:
  - module: dbauth.rds_iam.rds_iam_grants
  - module: dbauth.rds_iam.rds_iam_verify
  - name: Setting up IAM authentication for RDS Proxy (AWS RDS user guide)
    description: Client IAM authentication, the C(prx-) resource id in C(rds-db:connect) policies.
    link: https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/rds-proxy-iam-setup.html
  - name: ModifyDBProxy (RDS API reference)
    description: C(DefaultAuthScheme), C(Auth), C(RequireTLS), C(RoleArn).
    link: https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_ModifyDBProxy.html
"""

EXAMPLES = r"""
- name: An RDS Proxy with end-to-end IAM authentication in front of an RDS for PostgreSQL instance
  dbauth.rds_iam.rds_iam_proxy:
    name: orders-proxy
    engine_family: POSTGRESQL
    role_arn: arn:aws:iam::123456789012:role/orders-proxy-role
    vpc_subnet_ids: [subnet-0a1b2c3d, subnet-4e5f6a7b]
    default_auth_scheme: IAM_AUTH
    db_instance_identifier: orders-db
  register: proxy

- name: Clients connect as app_user through the proxy
  ansible.builtin.debug:
    msg: "{{ proxy.resource_arn_prefix }}/app_user at {{ proxy.endpoint }}"

- name: Standard IAM authentication, the proxy logging in with a secret
  dbauth.rds_iam.rds_iam_proxy:
    name: orders-proxy
    default_auth_scheme: NONE
    auth:
      - secret_arn: arn:aws:secretsmanager:eu-west-1:123456789012:secret:orders/app_user-AbCdEf
        iam_auth: REQUIRED
"""

RETURN = r"""
db_proxy_name:
  description: The proxy's name.
  returned: success
  type: str
  sample: orders-proxy
db_proxy_arn:
  description: The proxy's ARN (none in check mode for a proxy that would be created).
  returned: success
  type: str
  sample: arn:aws:rds:eu-west-1:123456789012:db-proxy:prx-0123456789abcdef0
resource_id:
  description: The proxy's resource id, the C(prx-) part of its ARN, which client C(rds-db:connect) policies name.
  returned: success
  type: str
  sample: prx-0123456789abcdef0
resource_arn_prefix:
  description: C(arn:aws:rds-db:REGION:ACCOUNT:dbuser:prx-ID); append C(/DB_USER) for a client's policy resource.
  returned: success
  type: str
  sample: arn:aws:rds-db:eu-west-1:123456789012:dbuser:prx-0123456789abcdef0
endpoint:
  description: The proxy's endpoint (host name) clients connect to and sign their tokens for.
  returned: success
  type: str
  sample: orders-proxy.proxy-abcdefghijkl.eu-west-1.rds.amazonaws.com
engine_family:
  description: The proxy's engine family.
  returned: success
  type: str
  sample: POSTGRESQL
status:
  description: The proxy's status.
  returned: success
  type: str
  sample: available
default_auth_scheme:
  description: V(IAM_AUTH) (end-to-end IAM) or V(NONE) (secrets).
  returned: success
  type: str
  sample: IAM_AUTH
auth:
  description: The proxy's secrets by ARN, with their C(iam_auth) and the other keys AWS reports.
  returned: success
  type: list
  elements: dict
  sample: [{"secret_arn": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:orders-AbCdEf", "iam_auth": "REQUIRED"}]
require_tls:
  description: Whether clients must use TLS.
  returned: success
  type: bool
  sample: true
role_arn:
  description: The proxy's IAM role.
  returned: success
  type: str
  sample: arn:aws:iam::123456789012:role/orders-proxy-role
targets:
  description: Identifiers of the DB instances and clusters registered with the proxy.
  returned: success
  type: list
  elements: str
  sample: [orders-db]
"""

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

from ansible_collections.dbauth.rds_iam.plugins.module_utils import _aws_session
from ansible_collections.dbauth.rds_iam.plugins.module_utils._aws_session import assume_role_argument_spec
from ansible_collections.dbauth.rds_iam.plugins.module_utils._rds_proxy import ProxyError
from ansible_collections.dbauth.rds_iam.plugins.module_utils._rds_proxy import check_params
from ansible_collections.dbauth.rds_iam.plugins.module_utils._rds_proxy import ensure_proxy


def main():
    argument_spec = dict(
        name=dict(type="str", required=True),
        engine_family=dict(type="str", choices=["MYSQL", "POSTGRESQL"]),
        role_arn=dict(type="str"),
        vpc_subnet_ids=dict(type="list", elements="str"),
        vpc_security_group_ids=dict(type="list", elements="str"),
        default_auth_scheme=dict(type="str", choices=["IAM_AUTH", "NONE"]),
        auth=dict(
            type="list",
            elements="dict",
            options=dict(
                secret_arn=dict(type="str", required=True, no_log=False),  # an ARN names the secret, it is none
                iam_auth=dict(type="str", choices=["REQUIRED", "DISABLED"], default="REQUIRED"),
                user_name=dict(type="str"),
                description=dict(type="str"),
                client_password_auth_type=dict(type="str", choices=[
                    "MYSQL_NATIVE_PASSWORD", "MYSQL_CACHING_SHA2_PASSWORD", "POSTGRES_SCRAM_SHA_256", "POSTGRES_MD5"]),
            ),
        ),
        require_tls=dict(type="bool"),
        db_instance_identifier=dict(type="str"),
        db_cluster_identifier=dict(type="str"),
        tags=dict(type="dict"),
        wait=dict(type="bool", default=True),
        wait_timeout=dict(type="int", default=900),
    )
    argument_spec.update(assume_role_argument_spec())
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    problems = check_params(module.params)
    if module.params["wait_timeout"] < 1:
        problems.append("wait_timeout: at least 1 second")
    if problems:
        module.fail_json(msg="rds_iam_proxy %s: %s; nothing was changed" % (module.params["name"], "; ".join(problems)),
                         error_kind="config")
    client = _aws_session.client(module, "rds", retry_decorator=AWSRetry.jittered_backoff(retries=10))
    try:
        changed, result, diff = ensure_proxy(client, module.params, module.check_mode)
    except ProxyError as e:
        if e.exception is not None:
            module.fail_json_aws(e.exception, msg=e.message, changed=e.changed)
        module.fail_json(msg=e.message, changed=e.changed)
    module.exit_json(changed=changed, diff=diff, **result)


if __name__ == "__main__":
    main()
