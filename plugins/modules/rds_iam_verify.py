#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright: (c) 2026, dbauth.rds_iam developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: rds_iam_verify
short_description: Prove that a host logs in to an RDS or Aurora database with an IAM token, or say which link is broken
version_added: 0.1.0
description:
  - Runs on the host that will connect. Signs an IAM authentication token with that host's own AWS
    credentials (or uses O(token)), logs in to the database over TLS as O(db_user), and returns who
    the session is, the TLS version, the server version and the login latency.
  - When the login fails the result carries RV(diagnosis), the broken link, and the message says
    what to fix. Without O(diagnose) the diagnosis comes from what the client saw
    (network, TLS, credentials, the server's answer). With O(diagnose=true) the module also makes
    read-only AWS calls (C(sts:GetCallerIdentity), C(rds:DescribeDBInstances),
    C(rds:DescribeDBClusters), the caller's IAM policies read with C(iam:Get*)/C(iam:List*) and
    evaluated locally, or C(iam:SimulatePrincipalPolicy) when they cannot be read) and, given an
    admin login (O(login_user)), reads the user's catalog entry.
  - The token is never returned or printed.
  - Nothing is changed, so the result is never C(changed).
author:
  - dbauth.rds_iam developers (@dbauth)
options:
  engine:
    description:
      - Database engine. V(mysql) and V(mariadb) use PyMySQL, V(postgres) (RDS PostgreSQL and Aurora PostgreSQL)
        psycopg2; the driver must be installed on the host.
    type: str
    required: true
    choices: [mysql, mariadb, postgres]
  db_host:
    description:
      - Endpoint address the host connects to (instance, cluster or RDS Proxy endpoint).
      - With O(ssl_mode=verify-full) this must be the name in the server certificate.
    type: str
    required: true
  db_port:
    description:
      - Port of the database; it is signed into the token.
      - Defaults to V(3306) for MySQL/MariaDB and V(5432) for PostgreSQL.
    type: int
  db_user:
    description:
      - Database user to log in as, an IAM database user. Case-sensitive.
    type: str
    required: true
  db_name:
    description:
      - Database to connect to. Defaults to none for MySQL/MariaDB and V(postgres) for PostgreSQL.
    type: str
  region:
    description:
      - AWS region the token is signed for and the diagnosis reads from.
      - When not set, the region in an RDS host name is used, then E(AWS_REGION) or E(AWS_DEFAULT_REGION),
        then the profile's region.
    type: str
    aliases: [aws_region]
  ca_cert:
    description:
      - CA bundle that signed the server certificate, for example the RDS C(global-bundle.pem).
      - When not set, the system trust store is used.
    type: path
  ssl_mode:
    description:
      - TLS policy, with libpq's names for both engines.
      - V(verify-full) requires TLS and checks the certificate and the host name, V(verify-ca) only the certificate,
        V(require) only encrypts.
      - With V(disable), V(allow) or V(prefer) the module does not send the token to PostgreSQL and refuses to
        send it to MySQL on a plain connection; a failed login is then diagnosed as V(tls).
    type: str
    default: verify-full
    choices: [disable, allow, prefer, require, verify-ca, verify-full]
  connect_timeout:
    description:
      - Seconds to wait for the connection.
    type: int
    default: 10
  token:
    description:
      - An IAM token to log in with instead of signing one with the host's credentials.
      - With O(diagnose=true) the module checks that it is for O(db_user), O(db_host):O(db_port) and not expired.
    type: str
  diagnose:
    description:
      - After a refused login, find the broken link with read-only AWS calls and, given O(login_user), the user's
        catalog entry. The result's RV(checks) lists each link checked.
      - The AWS calls use the same credentials as the token (the AWS options or the host's); a check they are not
        allowed to make is reported as C(unknown), never as the cause.
    type: bool
    default: false
  fail_on_error:
    description:
      - When V(true), a failed login fails the task (with RV(diagnosis) in the result).
      - When V(false), the task succeeds and reports RV(connected=false) and RV(diagnosis), so that a play can check
        many logins and decide afterwards (the P(dbauth.rds_iam.verify#role) role does).
    type: bool
    default: true
  db_instance_identifier:
    description:
      - The DB instance behind O(db_host), for the diagnosis. When neither this nor O(db_cluster_identifier) is
        given, the instance or cluster whose endpoint is O(db_host):O(db_port) is looked up.
    type: str
  db_cluster_identifier:
    description:
      - The Aurora DB cluster behind O(db_host), for the diagnosis.
    type: str
  login_user:
    description:
      - Administrative user that reads O(db_user)'s catalog entry during the diagnosis
        (C(mysql.user) or C(pg_roles)). Only used with O(diagnose=true) after a refused login.
    type: str
  login_password:
    description:
      - Password of O(login_user).
    type: str
  login_host:
    description:
      - Address for the admin login. Defaults to O(db_host).
    type: str
  login_port:
    description:
      - Port for the admin login. Defaults to O(db_port).
    type: int
  login_db:
    description:
      - Database for the admin login. Defaults to none for MySQL/MariaDB and V(postgres) for PostgreSQL.
    type: str
extends_documentation_fragment:
  - dbauth.rds_iam.action_group
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
attributes:
  check_mode:
    description: Runs in check mode too; logging in changes nothing.
    support: full
  diff_mode:
    description: Nothing changes, so there is no diff.
    support: N/A
notes:
  - "RV(diagnosis) is one of: V(network) (nothing answers at host:port), V(tls) (handshake, certificate or host
    name check failed, or TLS not required by O(ssl_mode)), V(no_credentials) (the host has no AWS credentials),
    V(credentials_expired), V(iam_disabled) (IAM database authentication is off on the instance or cluster),
    V(policy_denied) (the principal's policies do not allow C(rds-db:connect) on the user's C(rds-db) ARN),
    V(user_missing), V(user_not_iam) (the user logs in with a password), V(token_rejected) (the token itself,
    or a cause the module cannot see)."
  - The principal's policies are evaluated locally (Allow/Deny, wildcards, permissions boundary); service control
    policies and session policies are not visible to it.
  - This module proves the identity of the host it runs on, so it has no assume-role options and ignores the
    E(DBAUTH_RDS_IAM_ASSUME_ROLE_ARN), E(DBAUTH_RDS_IAM_ROLE_SESSION_NAME) and E(DBAUTH_RDS_IAM_EXTERNAL_ID)
    environment variables that the collection's AWX credential type injects on the controller. It signs with
    the credentials of its AWS options when they are given, otherwise with the host's default credential chain.
    A job's AWS credential reaches a target only when the target is the controller itself (local connection);
    the collection's playbooks give such hosts their own identity with the play's C(environment).
requirements:
  - botocore
  - PyMySQL for MySQL and MariaDB
  - psycopg2 for PostgreSQL
seealso:
  - module: dbauth.rds_iam.rds_iam_token
  - module: dbauth.rds_iam.rds_iam_db_user
  - name: Troubleshooting IAM database authentication (AWS RDS user guide)
    description: The causes RDS lists for refused IAM logins.
    link: https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/UsingWithRDS.IAMDBAuth.Troubleshooting.html
"""

EXAMPLES = r"""
- name: Prove that this host logs in with its instance profile
  dbauth.rds_iam.rds_iam_verify:
    engine: postgres
    db_host: database-1.abcdefghijkl.eu-west-1.rds.amazonaws.com
    db_port: 5432
    db_user: app_user
    db_name: app
    ca_cert: /etc/ssl/rds/global-bundle.pem

- name: Check and explain, without failing the task
  dbauth.rds_iam.rds_iam_verify:
    engine: mysql
    db_host: database-2.abcdefghijkl.eu-west-1.rds.amazonaws.com
    db_user: report_reader
    ca_cert: /etc/ssl/rds/global-bundle.pem
    diagnose: true
    fail_on_error: false
  register: login

- name: Say what is broken
  ansible.builtin.debug:
    msg: "{{ login.diagnosis }}: {{ login.msg }}"
  when: not login.connected
"""

RETURN = r"""
connected:
  description: Whether the login succeeded over TLS with the IAM token.
  returned: always
  type: bool
  sample: true
current_user:
  description: The session's user as the server reports it (C(CURRENT_USER()) without the host part, C(current_user)).
  returned: always
  type: str
  sample: app_user
tls_version:
  description: TLS version of the connection.
  returned: always
  type: str
  sample: TLSv1.3
server_version:
  description: Version string of the server.
  returned: always
  type: str
  sample: "16.4"
latency_ms:
  description: Milliseconds from the start of the connection to the answer of the first query (or to the failure).
  returned: always
  type: float
  sample: 23.4
diagnosis:
  description:
    - The broken link when the login failed, else null. One of V(network), V(tls), V(no_credentials),
      V(credentials_expired), V(iam_disabled), V(policy_denied), V(user_missing), V(user_not_iam), V(token_rejected).
  returned: always
  type: str
  sample: policy_denied
msg:
  description: What happened and, after a failure, what to fix.
  returned: always
  type: str
checks:
  description: The links checked with O(diagnose=true), in order.
  returned: when O(diagnose=true) and the login was refused
  type: list
  elements: dict
  contains:
    check:
      description: C(credentials), C(token), C(region), C(iam_enabled), C(user) or C(policy).
      type: str
    status:
      description: C(ok), C(failed), C(unknown) (could not be checked) or C(skipped).
      type: str
    detail:
      description: What was found.
      type: str
principal_arn:
  description: The AWS identity of the host (C(sts:GetCallerIdentity)), with O(diagnose=true).
  returned: when O(diagnose=true) and the login was refused
  type: str
  sample: arn:aws:sts::123456789012:assumed-role/app-role/i-0123456789abcdef0
resource_arn:
  description: The C(rds-db) resource the principal needs C(rds-db:connect) on, with O(diagnose=true).
  returned: when O(diagnose=true) and the login was refused
  type: str
  sample: arn:aws:rds-db:eu-west-1:123456789012:dbuser:db-ABCDEFGHIJKLMNOPQRSTUVWXY1/app_user
db_identifier:
  description: The DB instance or cluster found behind O(db_host), with O(diagnose=true).
  returned: when O(diagnose=true) and the login was refused
  type: str
  sample: database-1
db_endpoint:
  description: C(host:port) logged in to.
  returned: always
  type: str
  sample: database-1.abcdefghijkl.eu-west-1.rds.amazonaws.com:5432
db_user:
  description: The user logged in as.
  returned: always
  type: str
  sample: app_user
token_source:
  description: C(signed) (with the host's credentials) or C(given) (O(token)).
  returned: always
  type: str
  sample: signed
token_expires_at:
  description: When the signed token expires (ISO 8601 UTC); null for a given token.
  returned: always
  type: str
  sample: "2026-11-25T08:00:00Z"
"""

import datetime

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule

from ansible_collections.dbauth.rds_iam.plugins.module_utils.db_connection import login_settings
from ansible_collections.dbauth.rds_iam.plugins.module_utils.token_signing import TokenError
from ansible_collections.dbauth.rds_iam.plugins.module_utils.token_signing import TokenSigner
from ansible_collections.dbauth.rds_iam.plugins.module_utils.token_signing import region_from_host
from ansible_collections.dbauth.rds_iam.plugins.module_utils.verify_diagnosis import DIAGNOSABLE
from ansible_collections.dbauth.rds_iam.plugins.module_utils.verify_diagnosis import diagnose
from ansible_collections.dbauth.rds_iam.plugins.module_utils.verify_diagnosis import parse_token
from ansible_collections.dbauth.rds_iam.plugins.module_utils.verify_diagnosis import read_catalog
from ansible_collections.dbauth.rds_iam.plugins.module_utils.verify_login import VerifyConfigError
from ansible_collections.dbauth.rds_iam.plugins.module_utils.verify_login import attempt_login
from ansible_collections.dbauth.rds_iam.plugins.module_utils.verify_login import validated_target


class _Aws:
    """Clients for the diagnosis, in the region the token is for."""

    def __init__(self, module, region):
        self._module = module
        self._region = region
        self._clients = {}

    def client(self, service):
        if service not in self._clients:
            if self._region:
                self._clients[service] = self._module.client(service, region=self._region)
            else:
                self._clients[service] = self._module.client(service)
        return self._clients[service]


def _catalog(module, engine, user):
    params = module.params
    if not params.get("login_user"):
        return None
    admin = dict(
        engine=engine, login_host=params.get("login_host") or params["db_host"],
        login_port=params.get("login_port") or params.get("db_port"), login_user=params["login_user"],
        login_password=params.get("login_password"), login_iam=False, login_db=params.get("login_db"),
        ca_cert=params.get("ca_cert"), ssl_mode=params.get("ssl_mode"), connect_timeout=params.get("connect_timeout"),
    )

    def read():
        return read_catalog(login_settings(admin), user)

    return read


def main():
    argument_spec = dict(
        engine=dict(type="str", required=True, choices=["mysql", "mariadb", "postgres"]),
        db_host=dict(type="str", required=True),
        db_port=dict(type="int"),
        db_user=dict(type="str", required=True),
        db_name=dict(type="str"),
        # As in rds_iam_token: no environment fallback here, so that the region in an RDS host name
        # wins over AWS_REGION (the signer reads the environment after that).
        region=dict(type="str", aliases=["aws_region"]),
        ca_cert=dict(type="path"),
        ssl_mode=dict(type="str", default="verify-full",
                      choices=["disable", "allow", "prefer", "require", "verify-ca", "verify-full"]),
        connect_timeout=dict(type="int", default=10),
        token=dict(type="str", no_log=True),
        diagnose=dict(type="bool", default=False),
        fail_on_error=dict(type="bool", default=True),
        db_instance_identifier=dict(type="str"),
        db_cluster_identifier=dict(type="str"),
        login_user=dict(type="str"),
        login_password=dict(type="str", no_log=True),
        login_host=dict(type="str"),
        login_port=dict(type="int"),
        login_db=dict(type="str"),
    )
    module = AnsibleAWSModule(
        argument_spec=argument_spec,
        mutually_exclusive=[["db_instance_identifier", "db_cluster_identifier"]],
        supports_check_mode=True,
    )
    params = module.params
    try:
        engine, host, port, user, _database = validated_target(params)
        signer = None if params.get("token") else TokenSigner()
        outcome = attempt_login(params, params.get("region"), signer, no_log_values=module.no_log_values)
    except (VerifyConfigError, TokenError) as e:
        module.fail_json(msg=str(e), connected=False, diagnosis=None, db_endpoint="%s:%s" % (
            params.get("db_host"), params.get("db_port")), db_user=params.get("db_user"))

    result = outcome.to_result()
    result.update(changed=False, db_endpoint="%s:%s" % (host, port), db_user=user, msg=outcome.message)
    if not outcome.connected and params["diagnose"] and outcome.diagnosis in DIAGNOSABLE:
        token_facts = parse_token(params.get("token")) if params.get("token") else None
        region = (params.get("region") or outcome.region or (token_facts or {}).get("region")
                  or region_from_host(host))
        diagnosis, message, checks, facts = diagnose(
            outcome, params, host, port, user, _Aws(module, region), catalog=_catalog(module, engine, user),
            token=params.get("token"), now=datetime.datetime.now(datetime.timezone.utc))
        result.update(diagnosis=diagnosis, msg=message, checks=[c.to_dict() for c in checks], **facts)

    if not result["connected"] and params["fail_on_error"]:
        module.fail_json(**result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
