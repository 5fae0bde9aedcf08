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
  - "RDS does not say why it refused an IAM login (PostgreSQL answers C(PAM authentication failed), MySQL
    C(Access denied ... (using password: YES))); the diagnosis is what this module adds."
  - With O(logins), one invocation tries many logins from the host, at most O(concurrency) at a time, each with
    its own freshly signed token (the host's credentials are resolved once), and returns one result per login in
    RV(logins).
author:
  - dbauth.rds_iam developers (@dbauth)
options:
  engine:
    description:
      - Database engine. V(mysql) and V(mariadb) use PyMySQL, V(postgres) (RDS PostgreSQL and Aurora PostgreSQL)
        psycopg2; the driver must be installed on the host.
      - Required without O(logins); mutually exclusive with it.
    type: str
    choices: [mysql, mariadb, postgres]
  db_host:
    description:
      - Endpoint address the host connects to (instance, cluster or RDS Proxy endpoint).
      - With O(ssl_mode=verify-full) this must be the name in the server certificate.
      - Required without O(logins); mutually exclusive with it.
    type: str
  db_port:
    description:
      - Port of the database; it is signed into the token.
      - Defaults to V(3306) for MySQL/MariaDB and V(5432) for PostgreSQL.
      - Mutually exclusive with O(logins).
    type: int
  db_user:
    description:
      - Database user to log in as, an IAM database user. Case-sensitive.
      - Required without O(logins); mutually exclusive with it.
    type: str
  db_name:
    description:
      - Database to connect to. Defaults to none for MySQL/MariaDB and V(postgres) for PostgreSQL.
      - Mutually exclusive with O(logins).
    type: str
  logins:
    description:
      - Many logins in one call, for example every database this host connects to. Each entry names one login;
        O(region) (unless the entry names its own), O(ca_cert), O(ssl_mode), O(connect_timeout), O(diagnose), O(fail_on_error), the admin login of
        the diagnosis (O(login_user), O(login_password), O(login_db)) and the AWS options are shared by all.
      - Each login gets its own freshly signed token; the host's credentials are resolved once.
      - Mutually exclusive with O(engine), O(db_host), O(db_port), O(db_user), O(db_name), O(token),
        O(db_instance_identifier), O(db_cluster_identifier), O(login_host) and O(login_port).
      - Results come back in RV(logins), one per entry in the order given. With O(fail_on_error=true) the task
        fails after all logins were tried, naming each one that did not connect.
    type: list
    elements: dict
    version_added: 0.2.0
    suboptions:
      engine:
        description: Like O(engine).
        type: str
        required: true
        choices: [mysql, mariadb, postgres]
      db_host:
        description: Like O(db_host). The diagnosis reads the catalog here too (with O(login_user)).
        type: str
        required: true
      db_port:
        description: Like O(db_port).
        type: int
      db_user:
        description: Like O(db_user).
        type: str
        required: true
      db_name:
        description: Like O(db_name).
        type: str
      db_instance_identifier:
        description: Like O(db_instance_identifier).
        type: str
      db_cluster_identifier:
        description: Like O(db_cluster_identifier).
        type: str
      region:
        description:
          - The Region this login's token is signed for and its diagnosis reads from, for example that of a
            cross-Region read replica or of a global database's secondary cluster; default O(region).
        type: str
        version_added: 0.2.0
      kind:
        description: Like O(kind).
        type: str
        choices: [rds, sts]
      server_id:
        description: Like O(server_id).
        type: str
      label:
        description: A name for this login in messages and in RV(logins), for example the RDS identifier.
        type: str
  kind:
    description:
      - The kind of token to sign, as in M(dbauth.rds_iam.rds_iam_token).
      - V(rds) (the default when not set) for RDS, Aurora and RDS Proxy. V(sts) for a self-managed database
        behind the collection's bridge (role C(dbauth.rds_iam.self_managed)); the token is then a presigned
        C(sts:GetCallerIdentity) request bound to O(server_id), checked by the bridge with STS.
      - With V(sts), O(diagnose) does not apply (the bridge's log names the reason of a refusal).
      - Mutually exclusive with O(logins).
    type: str
    choices: [rds, sts]
  server_id:
    description:
      - With O(kind=sts), the server id of the database's bridge that the token is signed for.
      - Mutually exclusive with O(logins).
    type: str
  concurrency:
    description:
      - With O(logins), how many logins are tried at the same time.
      - Must be at least V(1). V(1) tries them one after the other.
    type: int
    default: 8
    version_added: 0.2.0
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
      - Mutually exclusive with O(logins) (a token is for one login).
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
      - Mutually exclusive with O(logins) (each entry's O(logins[].db_host) is used).
    type: str
  login_port:
    description:
      - Port for the admin login. Defaults to O(db_port).
      - Mutually exclusive with O(logins) (each entry's O(logins[].db_port) is used).
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
  - With O(diagnose=true) the links are checked in this order - the credentials (C(sts:GetCallerIdentity)), a given
    O(token) (its user, host, port and age), the region, IAM authentication on the instance or cluster, the user
    (with O(login_user)), the policies. The first link that fails is RV(diagnosis); the other failures are named in
    the message.
  - With O(logins) and O(fail_on_error=true) the task fails after every login was tried. An entry whose options
    cannot work (for example a port in O(logins[].db_host)) always fails the task.
  - "RV(diagnosis) is one of: V(network) (nothing answers at host:port), V(tls) (handshake, certificate or host
    name check failed, or TLS not required by O(ssl_mode)), V(no_credentials) (the host has no AWS credentials),
    V(credentials_expired), V(iam_disabled) (IAM database authentication is off on the instance or cluster),
    V(policy_denied) (the principal's policies do not allow C(rds-db:connect) on the user's C(rds-db) ARN),
    V(user_missing), V(user_not_iam) (the user logs in with a password), V(token_rejected) (the token itself,
    or a cause the module cannot see)."
  - The principal's policies are evaluated locally (Allow/Deny, wildcards, permissions boundary); service control
    policies and session policies are not visible to it.
  - "To diagnose itself with O(diagnose=true), the host's principal needs these read-only permissions (none of them
    grants a login): C(rds:DescribeDBInstances) and C(rds:DescribeDBClusters) on C(*) (the IAM setting and the
    resource id); for a role, C(iam:GetRole), C(iam:ListRolePolicies), C(iam:GetRolePolicy),
    C(iam:ListAttachedRolePolicies) and C(iam:SimulatePrincipalPolicy) on its own role ARN; for an IAM user,
    C(iam:GetUser), C(iam:ListUserPolicies), C(iam:GetUserPolicy), C(iam:ListAttachedUserPolicies),
    C(iam:ListGroupsForUser), C(iam:ListGroupPolicies), C(iam:GetGroupPolicy), C(iam:ListAttachedGroupPolicies)
    and C(iam:SimulatePrincipalPolicy) on itself and its groups; C(iam:GetPolicy) and C(iam:GetPolicyVersion) on the
    attached managed policies and the permissions boundary. C(sts:GetCallerIdentity) needs no permission."
  - Without those reads a refused PostgreSQL login is V(token_rejected) with a message that the cause is
    undetermined, because PostgreSQL refuses a user outside C(rds_iam) and a token that IAM refuses alike.
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

- name: Every database this host uses, in one call
  dbauth.rds_iam.rds_iam_verify:
    ca_cert: /etc/ssl/rds/global-bundle.pem
    diagnose: true
    fail_on_error: false
    logins:
      - label: orders-db
        engine: postgres
        db_host: orders-db.abcdefghijkl.eu-west-1.rds.amazonaws.com
        db_user: orders_app
        db_name: orders
        db_instance_identifier: orders-db
      - label: legacy-mysql
        engine: mysql
        db_host: legacy.abcdefghijkl.eu-west-1.rds.amazonaws.com
        db_user: legacy_app
  register: logins

- name: The logins that did not connect, with the broken link
  ansible.builtin.debug:
    msg: "{{ item.label }}: {{ item.diagnosis }}"
  loop: "{{ logins.logins | rejectattr('connected') | list }}"
"""

RETURN = r"""
connected:
  description: Whether the login succeeded over TLS with the IAM token.
  returned: without O(logins)
  type: bool
  sample: true
current_user:
  description: The session's user as the server reports it (C(CURRENT_USER()) without the host part, C(current_user)).
  returned: without O(logins)
  type: str
  sample: app_user
tls_version:
  description: TLS version of the connection.
  returned: without O(logins)
  type: str
  sample: TLSv1.3
server_version:
  description: Version string of the server.
  returned: without O(logins)
  type: str
  sample: "16.4"
latency_ms:
  description: Milliseconds from the start of the connection to the answer of the first query (or to the failure).
  returned: without O(logins)
  type: float
  sample: 23.4
diagnosis:
  description:
    - The broken link when the login failed, else null. One of V(network), V(tls), V(no_credentials),
      V(credentials_expired), V(iam_disabled), V(policy_denied), V(user_missing), V(user_not_iam), V(token_rejected).
  returned: without O(logins)
  type: str
  sample: policy_denied
msg:
  description:
    - What happened and, after a failure, what to fix.
    - With O(logins), how many logins connected, then one line for each login that did not.
  returned: always
  type: str
checks:
  description: The links checked with O(diagnose=true), in order.
  returned: when O(diagnose=true) and the login was refused, without O(logins)
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
  returned: when O(diagnose=true) and the login was refused, without O(logins)
  type: str
  sample: arn:aws:sts::123456789012:assumed-role/app-role/i-0123456789abcdef0
resource_arn:
  description: The C(rds-db) resource the principal needs C(rds-db:connect) on, with O(diagnose=true).
  returned: when O(diagnose=true) and the login was refused, without O(logins)
  type: str
  sample: arn:aws:rds-db:eu-west-1:123456789012:dbuser:db-ABCDEFGHIJKLMNOPQRSTUVWXY1/app_user
policy_source:
  description:
    - What decided the C(policy) check, with O(diagnose=true).
    - V(simulate) when C(iam:SimulatePrincipalPolicy) answered for the caller's role or user (its IAM path kept);
      AWS's own evaluation, which includes the permissions boundary. It is asked first.
    - V(local) when the caller may not simulate (AccessDenied) or the call failed, and the collection's own evaluator
      decided from the policies it read (inline, attached, groups, permissions boundary).
    - V(undetermined) when no policy could be read, or the local evaluation depends on request facts it does not
      know (such as principal tags).
  returned: when O(diagnose=true) and the login was refused, without O(logins)
  type: str
  choices: [simulate, local, undetermined]
  sample: simulate
db_identifier:
  description: The DB instance or cluster found behind O(db_host), with O(diagnose=true).
  returned: when O(diagnose=true) and the login was refused, without O(logins)
  type: str
  sample: database-1
db_endpoint:
  description: C(host:port) logged in to.
  returned: without O(logins)
  type: str
  sample: database-1.abcdefghijkl.eu-west-1.rds.amazonaws.com:5432
db_user:
  description: The user logged in as.
  returned: without O(logins)
  type: str
  sample: app_user
token_source:
  description: C(signed) (with the host's credentials) or C(given) (O(token)).
  returned: without O(logins)
  type: str
  sample: signed
token_expires_at:
  description: When the signed token expires (ISO 8601 UTC); null for a given token.
  returned: without O(logins)
  type: str
  sample: "2026-11-25T08:00:00Z"
logins:
  description:
    - With O(logins), one result per entry in the order given, also when the task fails. Each holds what a call
      without O(logins) returns for that login (RV(connected), RV(current_user), RV(tls_version),
      RV(server_version), RV(latency_ms), RV(diagnosis), RV(msg), RV(db_endpoint), RV(token_source),
      RV(token_expires_at), and after a diagnosed refusal RV(checks), RV(principal_arn), RV(resource_arn), RV(policy_source),
      RV(db_identifier)), plus the entry's O(logins[].db_host), O(logins[].db_port), O(logins[].db_user) and
      O(logins[].label). Never a token.
  returned: when O(logins) is given
  type: list
  elements: dict
  version_added: 0.2.0
  contains:
    label:
      description:
        - The entry's O(logins[].label), V(null) when not given. The keys C(db_host), C(db_user) and
          C(db_port) are the entry's too (the port is the engine's default when not given).
      type: str
    failed:
      description: V(true) when the entry's options cannot work (nothing was tried); the task then fails.
      type: bool
      returned: when the entry's options cannot work
  sample: [{"label": "orders-db", "db_host": "orders-db.abcdefghijkl.eu-west-1.rds.amazonaws.com", "db_port": 5432,
            "db_user": "orders_app", "connected": true, "current_user": "orders_app", "tls_version": "TLSv1.3",
            "server_version": "16.4", "latency_ms": 21.7, "diagnosis": null, "token_source": "signed",
            "msg": "Logged in to orders-db.abcdefghijkl.eu-west-1.rds.amazonaws.com:5432 as orders_app ..."}]
"""

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule

from ansible_collections.dbauth.rds_iam.plugins.module_utils._batch import CONCURRENCY_SPEC
from ansible_collections.dbauth.rds_iam.plugins.module_utils._batch import check_concurrency
from ansible_collections.dbauth.rds_iam.plugins.module_utils._verify_batch import LOGIN_ENTRY_SPEC
from ansible_collections.dbauth.rds_iam.plugins.module_utils._verify_batch import SINGLE_LOGIN_OPTIONS
from ansible_collections.dbauth.rds_iam.plugins.module_utils._verify_batch import TOP_ARGUMENT_SPEC
from ansible_collections.dbauth.rds_iam.plugins.module_utils._verify_batch import AwsClients
from ansible_collections.dbauth.rds_iam.plugins.module_utils._verify_batch import missing_single_login_options
from ansible_collections.dbauth.rds_iam.plugins.module_utils._verify_batch import run_logins
from ansible_collections.dbauth.rds_iam.plugins.module_utils._verify_batch import summary
from ansible_collections.dbauth.rds_iam.plugins.module_utils._verify_batch import verify_one
from ansible_collections.dbauth.rds_iam.plugins.module_utils._aws_session import client as aws_client
from ansible_collections.dbauth.rds_iam.plugins.module_utils._aws_session import module_signer
from ansible_collections.dbauth.rds_iam.plugins.module_utils._token_signing import TokenError
from ansible_collections.dbauth.rds_iam.plugins.module_utils._verify_login import VerifyConfigError


def main():
    argument_spec = dict(TOP_ARGUMENT_SPEC)
    argument_spec.update(
        logins=dict(type="list", elements="dict", options=LOGIN_ENTRY_SPEC,
                    mutually_exclusive=[["db_instance_identifier", "db_cluster_identifier"]]),
        concurrency=dict(CONCURRENCY_SPEC),
    )
    module = AnsibleAWSModule(
        argument_spec=argument_spec,
        mutually_exclusive=[["db_instance_identifier", "db_cluster_identifier"]]
        + [["logins", name] for name in SINGLE_LOGIN_OPTIONS],
        supports_check_mode=True,
    )
    params = module.params
    bad = check_concurrency(params["concurrency"])
    if bad:
        module.fail_json(msg=bad)

    def client(service, region):  # read-only calls, each retried on throttling by _verify_identity
        return aws_client(module, service, region=region)
    aws = AwsClients(client)
    # Signs as this host's own identity: rds_iam_verify has no assume-role options.
    signer = module_signer(module)

    if params["logins"] is not None:
        if not params["logins"]:
            module.fail_json(msg="logins is empty: give at least one entry.", logins=[])
        results = run_logins(params, aws, signer, no_log_values=module.no_log_values)
        failed, message = summary(results, params["fail_on_error"])
        if failed:
            module.fail_json(msg=message, changed=False, logins=results)
        module.exit_json(msg=message, changed=False, logins=results)

    missing = missing_single_login_options(params)
    if missing:
        module.fail_json(msg="missing required arguments: %s" % ", ".join(missing))
    try:
        result = verify_one(params, signer, aws, no_log_values=module.no_log_values)
    except (VerifyConfigError, TokenError) as e:
        module.fail_json(msg=str(e), error_kind=getattr(e, "kind", "config"), connected=False, diagnosis=None,
                         db_endpoint="%s:%s" % (params.get("db_host"), params.get("db_port")),
                         db_user=params.get("db_user"))

    if not result["connected"] and params["fail_on_error"]:
        module.fail_json(**result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
