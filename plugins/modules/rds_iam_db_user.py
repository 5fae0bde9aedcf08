#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright: (c) 2026, dbauth.rds_iam developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: rds_iam_db_user
short_description: Create, convert and drop database users that log in with IAM tokens (MySQL, MariaDB, PostgreSQL)
version_added: 0.1.0
description:
  - Manages database users of Amazon RDS and Aurora that authenticate with IAM database authentication tokens.
  - MySQL and MariaDB users are created as C(CREATE USER 'u'@'host' IDENTIFIED WITH AWSAuthenticationPlugin AS 'RDS'
    REQUIRE SSL); existing users are read in both dialects (MySQL 8 C(IDENTIFIED WITH ... AS) and MariaDB
    C(IDENTIFIED VIA ... USING)). Privileges are given as a C(db.table) to C(PRIV,PRIV) mapping and applied exactly.
  - PostgreSQL users are roles with C(LOGIN) that are members of C(rds_iam); O(roles) sets their other memberships
    exactly. A role that is, or would become, a member of C(rds_ad) is refused.
  - A whole O(users) list is handled on one connection, its state read in a constant number of queries, and
    statements run only for what differs. PostgreSQL runs everything in one transaction (all or nothing). MySQL
    and MariaDB commit each statement, so after a failure the result says exactly which users were applied;
    running the task again converges.
  - The login user, the platform's own accounts (C(rdsadmin), C(rds_superuser), C(root), C(mysql.*), C(pg_*), ...)
    and existing password users (unless O(convert_existing=true)) are never touched.
  - See the user guide C(docs/rds_iam_db_user.md) of the collection for the naming rules.
author:
  - dbauth.rds_iam contributors (@dbauth)
options:
  name:
    description:
      - Name of one user. Case-sensitive.
      - Mutually exclusive with O(users).
    type: str
  users:
    description:
      - Users to manage in one call. Each user may appear once (for MySQL/MariaDB once per O(users[].host)).
      - Mutually exclusive with O(name).
    type: list
    elements: dict
    suboptions:
      name:
        description: Name of the user. Case-sensitive.
        type: str
        required: true
      state:
        description: V(present) or V(absent); defaults to O(state).
        type: str
        choices: [present, absent]
      host:
        description:
          - MySQL/MariaDB only. Host part of the account; defaults to O(host), else V(%).
          - V(localhost) is refused because IAM logins come over TCP with TLS.
        type: str
      privileges:
        description:
          - MySQL/MariaDB only. Mapping of C(db.table) (V(*.*), C(db.*), C(db.table); backticks quote names that
            contain dots) to a comma separated string or list of privileges (V(ALL) and V(GRANT) allowed).
          - Applied exactly; privileges on targets not listed are revoked. When not set, privileges are not touched.
          - Databases and tables must exist.
        type: raw
      roles:
        description:
          - PostgreSQL only. Roles the user is a direct member of, besides C(rds_iam). Applied exactly;
            when not set, memberships are not touched. The roles must exist.
        type: list
        elements: str
  state:
    description:
      - Whether the user(s) should exist (V(present)) or not (V(absent)). Default for O(users[].state).
      - V(absent) drops only IAM users unless O(convert_existing=true).
    type: str
    choices: [present, absent]
    default: present
  host:
    description:
      - MySQL/MariaDB only. Host part of the account for O(name), and the default of O(users[].host).
        V(%) when not set.
    type: str
  privileges:
    description:
      - Like O(users[].privileges), for O(name).
    type: raw
  roles:
    description:
      - Like O(users[].roles), for O(name).
    type: list
    elements: str
  convert_existing:
    description:
      - Allow touching existing users that are not IAM users (password users). Switch them to IAM authentication
        with V(present) (their password stops working) or drop them with V(absent).
      - When V(false), such users make the task fail and nothing is changed.
    type: bool
    default: false
extends_documentation_fragment:
  - dbauth.rds_iam.action_group
  - dbauth.rds_iam.db_login
  - dbauth.rds_iam.assume_role.modules
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
attributes:
  check_mode:
    description: Reads the state and reports the statements that would run in RV(queries); writes nothing.
    support: full
  diff_mode:
    description: One diff per changed user (authentication, TLS requirement, privileges or roles).
    support: full
notes:
  - The AWS options (and O(assume_role_arn)) are only used to sign the admin token with O(login_iam=true); the users
    are managed in SQL.
  - After creation a user logs in with a token signed by a principal that is allowed C(rds-db:connect) on
    C(arn:aws:rds-db:REGION:ACCOUNT:dbuser:RESOURCE_ID/USER), over TLS (MySQL clients need the cleartext plugin).
  - On PostgreSQL a member of C(rds_iam) can no longer log in with a password, which is why the login user is refused.
seealso:
  - module: dbauth.rds_iam.rds_iam_enable
  - module: dbauth.rds_iam.rds_iam_token
  - name: Creating a database account using IAM authentication (AWS RDS user guide)
    description: The statements RDS documents for each engine.
    link: https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/UsingWithRDS.IAMDBAuth.DBAccounts.html
"""

EXAMPLES = r"""
- name: One MySQL user with privileges, admin logs in with its password
  dbauth.rds_iam.rds_iam_db_user:
    engine: mysql
    login_host: database-1.abcdefghijkl.eu-west-1.rds.amazonaws.com
    login_user: admin
    login_password: "{{ vault_admin_password }}"
    ca_cert: /etc/ssl/rds/global-bundle.pem
    name: gueban_doe
    privileges:
      "app.*": SELECT,INSERT

- name: Many PostgreSQL users in one call, admin logs in with an IAM token
  dbauth.rds_iam.rds_iam_db_user:
    engine: postgres
    login_host: reporting.cluster-abcdefghijkl.eu-west-1.rds.amazonaws.com
    login_user: iam_admin
    login_iam: true
    region: eu-west-1
    ca_cert: /etc/ssl/rds/global-bundle.pem
    users:
      - name: app_reader
        roles: [app_read]
      - name: app_writer
        roles: [app_read, app_write]
      - name: old_batch
        state: absent

- name: Switch an existing password user to IAM authentication
  dbauth.rds_iam.rds_iam_db_user:
    engine: mariadb
    login_host: "{{ db_host }}"
    login_user: admin
    login_password: "{{ vault_admin_password }}"
    ca_cert: /etc/ssl/rds/global-bundle.pem
    name: legacy_app
    host: "10.0.%"
    convert_existing: true
"""

RETURN = r"""
users:
  description: One entry per listed user, in the order given.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: User name.
      type: str
      sample: gueban_doe
    host:
      description: Host part of the MySQL/MariaDB account; V(null) for PostgreSQL.
      type: str
      sample: "%"
    action:
      description:
        - V(created), V(converted) (existing password user switched to IAM), V(updated) (TLS requirement, LOGIN,
          privileges or roles fixed), V(dropped) or V(unchanged).
        - In a failure result of MySQL/MariaDB, the user that failed has V(failed); users listed before it were applied.
      type: str
      sample: created
  sample: [{"name": "gueban_doe", "host": "%", "action": "created"}]
queries:
  description:
    - The statements that ran (in check mode, that would run), with user names rendered as literals. Never secrets.
    - In a failure result of MySQL/MariaDB, the statements that ran before the failure.
  returned: always
  type: list
  elements: str
  sample: ["CREATE USER 'gueban_doe'@'%' IDENTIFIED WITH AWSAuthenticationPlugin AS 'RDS' REQUIRE SSL",
           "GRANT INSERT, SELECT ON `app`.* TO 'gueban_doe'@'%'"]
server:
  description: What the module found on the server.
  returned: success
  type: dict
  contains:
    flavor:
      description: V(mysql), V(mariadb) or V(postgres), as detected.
      type: str
    version:
      description: Server version string.
      type: str
    tls_version:
      description: TLS protocol of the admin connection, V(null) without TLS.
      type: str
    read_queries:
      description: Number of queries that read the state (constant, whatever the number of users).
      type: int
  sample: {"flavor": "mariadb", "version": "10.11.8-MariaDB", "tls_version": "TLSv1.3", "read_queries": 6}
"""

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule

from ansible_collections.dbauth.rds_iam.plugins.module_utils.aws_session import assume_role_argument_spec
from ansible_collections.dbauth.rds_iam.plugins.module_utils.db_connection import LOGIN_ARGUMENT_SPEC
from ansible_collections.dbauth.rds_iam.plugins.module_utils.db_connection import DbConnectionError
from ansible_collections.dbauth.rds_iam.plugins.module_utils.db_connection import driver_missing
from ansible_collections.dbauth.rds_iam.plugins.module_utils.db_user_common import USER_OPTION_SPEC
from ansible_collections.dbauth.rds_iam.plugins.module_utils.db_user_common import DbUserError
from ansible_collections.dbauth.rds_iam.plugins.module_utils.db_user_runner import run


def main():
    argument_spec = dict(LOGIN_ARGUMENT_SPEC)
    argument_spec.update(
        name=dict(type="str"),
        users=dict(type="list", elements="dict", options=USER_OPTION_SPEC),
        state=dict(type="str", default="present", choices=["present", "absent"]),
        host=dict(type="str"),
        privileges=dict(type="raw"),
        roles=dict(type="list", elements="str"),
        convert_existing=dict(type="bool", default=False),
    )
    # Signs the admin token (login_iam) as the role when assume_role_arn / DBAUTH_RDS_IAM_ASSUME_ROLE_ARN is set.
    argument_spec.update(assume_role_argument_spec())
    module = AnsibleAWSModule(
        argument_spec=argument_spec,
        supports_check_mode=True,
        mutually_exclusive=[("name", "users")],
        required_one_of=[("name", "users")],
    )
    missing = driver_missing(module.params["engine"])
    if missing:
        module.fail_json(msg=missing_required_lib(missing[0]), exception=str(missing[1]))

    def mask(secret):
        module.no_log_values.add(secret)

    try:
        result = run(module.params, module.check_mode, region=module.region, on_secret=mask)
    except DbConnectionError as e:
        module.fail_json(msg=str(e), error_kind=e.kind, users=[], queries=[])
    except DbUserError as e:
        module.fail_json(msg=str(e), users=e.users, queries=e.queries)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
