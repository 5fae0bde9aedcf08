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
  - Never touched - the login user (and C(CURRENT_USER()) or C(session_user)), the platform's own accounts (C(root),
    C(rdsadmin), C(rdsrepladmin), C(rds_*), C(mysql.*), C(mariadb.*), C(pg_*), C(postgres), C(public), ...) and
    PostgreSQL superusers.
  - Existing password users, and MariaDB users that log in C(VIA AWSAuthenticationPlugin OR) a password, make the task
    fail unless O(convert_existing=true); the same option lets O(state=absent) drop a user that is not an IAM user.
    An IAM user created without C(REQUIRE SSL) (by another tool) is RV(users[].action=updated) to require it.
  - Every input and refusal check runs before the first statement, so a refused run changes nothing.
  - With O(databases), one invocation manages the users of many databases, each on its own connection, at most
    O(concurrency) at a time. One broken database (unreachable, refused admin login, missing CA file, invalid users,
    a failing statement) fails its own entry of RV(databases) and does not stop the others; the task then fails with
    a message that names each failed entry, and still returns every entry's result.
  - User names - at most 32 characters on MySQL, 128 on MariaDB and 63 bytes (UTF-8) on PostgreSQL. Quotes, backticks,
    C(;), C(@), inner spaces and non-ASCII letters are allowed (names are driver parameters on MySQL and MariaDB, also
    correct under C(NO_BACKSLASH_ESCAPES), and quoted identifiers on PostgreSQL). Refused on every engine - an empty
    name, NUL, newlines, tabs and other control characters, leading or trailing spaces, and C(*) or C(?) (wildcards
    in the C(rds-db:connect) resource ARN). C(%) is refused in MySQL and MariaDB names and allowed on PostgreSQL.
  - MySQL and MariaDB privileges - database and table names are quoted with backticks; C(%) patterns in database
    names are refused. Privilege names are checked against the server's C(SHOW PRIVILEGES) and the level (V(*.*),
    C(db.*), C(db.table)); V(ALL) expands to the privileges of that level, V(GRANT) means C(GRANT OPTION). Hosts
    may contain letters, digits and the characters C(.), C(:), C(/), C(-), C(_) and C(%).
  - PostgreSQL - a user that is, or would become through O(roles) (directly or through other roles), a member of
    C(rds_ad) is refused, and so are membership cycles.
author:
  - dbauth.rds_iam contributors (@dbauth)
options:
  name:
    description:
      - Name of one user. Case-sensitive.
      - Mutually exclusive with O(users) and O(databases).
    type: str
  users:
    description:
      - Users to manage in one call. Each user may appear once (for MySQL/MariaDB once per O(users[].host)).
      - Mutually exclusive with O(name) and O(databases).
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
  databases:
    description:
      - Many databases in one call, each with its own users and, where they differ, its own login options.
        A login option left out of an entry takes the top-level option of the same name, so settings that all
        databases share are given once.
      - O(state), O(host) and O(convert_existing) apply to every entry.
      - Mutually exclusive with O(name), O(users), O(privileges) and O(roles).
      - Results come back in RV(databases), one per entry in the order given.
    type: list
    elements: dict
    version_added: 0.2.0
    suboptions:
      name:
        description:
          - A label for this database in messages and results, for example the RDS identifier. Each name may
            appear once.
        type: str
        required: true
      users:
        description:
          - The users of this database, like O(users).
        type: list
        elements: dict
        required: true
        suboptions:
          name:
            description: Like O(users[].name).
            required: true
            type: str
          state:
            description: Like O(users[].state).
            choices: [present, absent]
            type: str
          host:
            description: Like O(users[].host).
            type: str
          privileges:
            description: Like O(users[].privileges).
            type: raw
          roles:
            description: Like O(users[].roles).
            type: list
            elements: str
      engine:
        description: Like O(engine); defaults to O(engine).
        type: str
        choices: [mysql, mariadb, postgres]
      login_host:
        description: Like O(login_host); defaults to O(login_host).
        type: str
      login_port:
        description: Like O(login_port); defaults to O(login_port), else the engine's port.
        type: int
      login_user:
        description: Like O(login_user); defaults to O(login_user).
        type: str
      login_password:
        description:
          - Like O(login_password).
          - An entry that sets O(databases[].login_password) or O(databases[].login_iam) takes neither of the two
            from the top level.
        type: str
      login_iam:
        description:
          - Like O(login_iam). An entry that sets O(databases[].login_password) or O(databases[].login_iam)
            takes neither of the two from the top level.
        type: bool
      login_db:
        description: Like O(login_db); defaults to O(login_db).
        type: str
      ca_cert:
        description: Like O(ca_cert); defaults to O(ca_cert).
        type: path
      ssl_mode:
        description: Like O(ssl_mode); defaults to O(ssl_mode).
        type: str
        choices: [disable, allow, prefer, require, verify-ca, verify-full]
      connect_timeout:
        description: Like O(connect_timeout); defaults to O(connect_timeout).
        type: int
      auth:
        description: Like O(auth); defaults to O(auth).
        type: str
        choices: [rds, bridge]
        version_added: 0.2.0
      pam_service:
        description: Like O(pam_service); defaults to O(pam_service).
        type: str
        version_added: 0.2.0
  auth:
    description:
      - How the users log in. V(rds) is RDS and Aurora IAM database authentication (C(rds_iam) membership on
        PostgreSQL, C(IDENTIFIED WITH AWSAuthenticationPlugin AS 'RDS') on MySQL and MariaDB).
      - V(bridge) is a self-managed server set up by the C(dbauth.rds_iam.self_managed) role, whose logins are checked
        by the collection's bridge against AWS STS. PostgreSQL users become members of C(dbauth_iam), the group that
        C(pg_hba.conf) sends to the C(ldap) method at the bridge (the module creates that group, C(NOLOGIN) and
        marked as the collection's, when it is missing). MariaDB users are C(IDENTIFIED VIA pam USING 'SERVICE'
        REQUIRE SSL) with O(pam_service) as SERVICE (MariaDB's C(auth_pam) plugin must be loaded). MySQL 8 has no PAM
        plugin in its Community edition and is refused.
      - Names, privileges, roles, O(convert_existing) and O(prune) work the same with both.
    type: str
    choices: [rds, bridge]
    default: rds
    version_added: 0.2.0
  pam_service:
    description:
      - With O(auth=bridge) on MariaDB, the PAM service (a file of C(/etc/pam.d)) that checks the logins; letters,
        digits, C(.), C(_) and C(-) only.
    type: str
    default: dbauth-iam-bridge
    version_added: 0.2.0
  concurrency:
    description:
      - With O(databases), how many databases are handled at the same time, each on its own connection.
      - Must be at least V(1). V(1) handles them one after the other.
    type: int
    default: 8
    version_added: 0.2.0
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
  mark:
    description:
      - Mark each user this task creates as the collection's, so that O(prune) may drop it later. PostgreSQL
        C(COMMENT ON ROLE), MySQL 8 C(ALTER USER ... COMMENT), MariaDB (which has no account comment) a key of the
        account's C(mysql.global_priv) entry, written with C(JSON_SET) and C(FLUSH PRIVILEGES).
      - The C(dbauth.rds_iam.db_users) role sets it.
    type: bool
    default: false
    version_added: 0.2.0
  prune:
    description:
      - Also drop the IAM users that carry the collection's marker (see O(mark)) and are not listed in O(name) or
        O(users) (for O(databases), in that entry's users). Users without the marker are never dropped.
      - They appear in RV(users) with the action C(dropped) and in the diff; check mode drops nothing.
    type: bool
    default: false
    version_added: 0.2.0
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
    description:
      - One diff per changed user (authentication, TLS requirement, privileges or roles).
      - With O(databases), each diff's header starts with the database's O(databases[].name).
    support: full
notes:
  - The AWS options (and O(assume_role_arn)) are only used to sign the admin token with O(login_iam=true); the users
    are managed in SQL.
  - After creation a user logs in with a token signed by a principal that is allowed C(rds-db:connect) on
    C(arn:aws:rds-db:REGION:ACCOUNT:dbuser:RESOURCE_ID/USER), over TLS (MySQL clients need the cleartext plugin).
  - On PostgreSQL a member of C(rds_iam) can no longer log in with a password, which is why the login user is refused.
  - Entries of O(databases) that cannot work at all (a O(databases[].name) given twice, no login host, login user or
    engine in the entry or at the top level) fail the task before any connection.
  - A module start costs about 0.3 to 0.6 seconds; with O(databases) a fleet costs one start plus the work of each
    database.
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

- name: The users of a whole fleet in one call, shared login settings given once
  dbauth.rds_iam.rds_iam_db_user:
    engine: postgres
    login_user: admin
    login_password: "{{ vault_admin_password }}"
    ca_cert: /etc/ssl/rds/global-bundle.pem
    concurrency: 8
    databases:
      - name: orders-db
        login_host: orders-db.abcdefghijkl.eu-west-1.rds.amazonaws.com
        users:
          - name: orders_app
            roles: [orders_rw]
      - name: billing-db
        login_host: billing-db.abcdefghijkl.eu-west-1.rds.amazonaws.com
        login_password: "{{ vault_billing_admin_password }}"
        users:
          - name: billing_app
            roles: [billing_rw]
      - name: legacy-mysql
        engine: mysql
        login_host: legacy.abcdefghijkl.eu-west-1.rds.amazonaws.com
        users:
          - name: legacy_app
            privileges:
              "legacy.*": SELECT
  register: fleet_users

- name: Which databases changed
  ansible.builtin.debug:
    msg: "{{ fleet_users.databases | selectattr('changed') | map(attribute='name') | list }}"
"""

RETURN = r"""
users:
  description: One entry per listed user, in the order given.
  returned: without O(databases)
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
  returned: without O(databases)
  type: list
  elements: str
  sample: ["CREATE USER 'gueban_doe'@'%' IDENTIFIED WITH AWSAuthenticationPlugin AS 'RDS' REQUIRE SSL",
           "GRANT INSERT, SELECT ON `app`.* TO 'gueban_doe'@'%'"]
server:
  description: What the module found on the server.
  returned: success, without O(databases)
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
pruned:
  description: With O(prune), the users dropped (in check mode, that would be dropped) because they left the list.
  returned: when O(databases) is not given
  type: list
  elements: dict
  version_added: 0.2.0
  sample: [{"name": "old_app", "host": "%"}]
databases:
  description:
    - With O(databases), one result per entry, in the order given, also when the task fails.
  returned: when O(databases) is given
  type: list
  elements: dict
  version_added: 0.2.0
  contains:
    name:
      description: The entry's O(databases[].name).
      type: str
      sample: orders-db
    changed:
      description: Whether this database changed (in check mode, would change).
      type: bool
      sample: true
    users:
      description: Like RV(users), for this database. Empty when the entry failed before planning.
      type: list
      elements: dict
      sample: [{"name": "orders_app", "host": null, "action": "created"}]
    queries:
      description: Like RV(queries), for this database. Never secrets.
      type: list
      elements: str
      sample: ['CREATE ROLE "orders_app" LOGIN', 'GRANT "rds_iam" TO "orders_app"']
    pruned:
      description: Like RV(pruned), for this database.
      type: list
      elements: dict
      returned: when the entry succeeded
    server:
      description: Like RV(server), for this database.
      type: dict
      returned: when the entry succeeded
      sample: {"flavor": "postgres", "version": "16.4", "tls_version": "TLSv1.3", "read_queries": 2}
    failed:
      description: V(true) when this entry failed.
      type: bool
      returned: when the entry failed
      sample: true
    msg:
      description: Why this entry failed. Never secrets.
      type: str
      returned: when the entry failed
      sample: "login to billing-db.abcdefghijkl.eu-west-1.rds.amazonaws.com:5432 (user admin) refused, ..."
    kind:
      description:
        - What failed. V(config) (options that cannot work, for example a missing O(databases[].ca_cert) file),
          V(unreachable) (nothing answered, or the connection timed out), V(tls), V(auth) (the admin login was
          refused), V(driver) (the database driver is missing or failed), V(input) (invalid O(databases[].users)),
          V(refused) (the state on the server forbids the change; nothing was written) or V(sql)
          (a statement failed; see RV(databases[].users) for what was applied).
      type: str
      returned: when the entry failed
      sample: auth
  sample: [{"name": "orders-db", "changed": true, "users": [{"name": "orders_app", "host": null, "action": "created"}],
            "queries": ['CREATE ROLE "orders_app" LOGIN', 'GRANT "rds_iam" TO "orders_app"'],
            "server": {"flavor": "postgres", "version": "16.4", "tls_version": "TLSv1.3", "read_queries": 2}},
           {"name": "billing-db", "changed": false, "users": [], "queries": [], "failed": true, "kind": "unreachable",
            "msg": "cannot reach the database at billing-db.abcdefghijkl.eu-west-1.rds.amazonaws.com:5432: ..."}]
"""

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule

from ansible_collections.dbauth.rds_iam.plugins.module_utils._batch import CONCURRENCY_SPEC
from ansible_collections.dbauth.rds_iam.plugins.module_utils._batch import check_concurrency
from ansible_collections.dbauth.rds_iam.plugins.module_utils._db_user_batch import DATABASE_OPTION_SPEC
from ansible_collections.dbauth.rds_iam.plugins.module_utils._db_user_batch import TOP_LOGIN_ARGUMENT_SPEC
from ansible_collections.dbauth.rds_iam.plugins.module_utils._db_user_batch import BatchInputError
from ansible_collections.dbauth.rds_iam.plugins.module_utils._db_user_batch import database_params
from ansible_collections.dbauth.rds_iam.plugins.module_utils._db_user_batch import failure_message
from ansible_collections.dbauth.rds_iam.plugins.module_utils._db_user_batch import missing_single_mode_options
from ansible_collections.dbauth.rds_iam.plugins.module_utils._db_user_batch import run_databases
from ansible_collections.dbauth.rds_iam.plugins.module_utils._db_user_common import AUTH_OPTION_SPEC
from ansible_collections.dbauth.rds_iam.plugins.module_utils._aws_session import assume_role_argument_spec
from ansible_collections.dbauth.rds_iam.plugins.module_utils._aws_session import module_signer
from ansible_collections.dbauth.rds_iam.plugins.module_utils._db_connection import DbConnectionError
from ansible_collections.dbauth.rds_iam.plugins.module_utils._db_connection import driver_missing
from ansible_collections.dbauth.rds_iam.plugins.module_utils._db_user_common import USER_OPTION_SPEC
from ansible_collections.dbauth.rds_iam.plugins.module_utils._db_user_common import DbUserError
from ansible_collections.dbauth.rds_iam.plugins.module_utils._db_user_runner import run


def main():
    argument_spec = dict(TOP_LOGIN_ARGUMENT_SPEC)
    argument_spec.update(
        name=dict(type="str"),
        users=dict(type="list", elements="dict", options=USER_OPTION_SPEC),
        databases=dict(type="list", elements="dict", options=DATABASE_OPTION_SPEC),
        concurrency=dict(CONCURRENCY_SPEC),
        state=dict(type="str", default="present", choices=["present", "absent"]),
        host=dict(type="str"),
        privileges=dict(type="raw"),
        roles=dict(type="list", elements="str"),
        convert_existing=dict(type="bool", default=False),
        mark=dict(type="bool", default=False),
        prune=dict(type="bool", default=False),
    )
    argument_spec.update((name, dict(spec)) for name, spec in AUTH_OPTION_SPEC.items())
    # Signs the admin token (login_iam) as the role when assume_role_arn / DBAUTH_RDS_IAM_ASSUME_ROLE_ARN is set.
    argument_spec.update(assume_role_argument_spec())
    module = AnsibleAWSModule(
        argument_spec=argument_spec,
        supports_check_mode=True,
        mutually_exclusive=[("name", "users", "databases"), ("databases", "privileges"), ("databases", "roles")],
        required_one_of=[("name", "users", "databases")],
    )

    def mask(secret):
        module.no_log_values.add(secret)

    # The admin token (login_iam) is signed as the module's AWS principal; no principal without IAM logins.
    params = module.params
    logins = [database_params(params, e) for e in params["databases"]] if params["databases"] else [params]
    signer = module_signer(module) if any(p.get("login_iam") for p in logins) else None
    if params["databases"] is not None:
        run_many(module, mask, signer)
    missing = missing_single_mode_options(module.params)
    if missing:
        module.fail_json(msg="missing required arguments: %s" % ", ".join(missing))
    missing = driver_missing(module.params["engine"])
    if missing:
        module.fail_json(msg=missing_required_lib(missing[0]), exception=str(missing[1]))

    try:
        result = run(module.params, module.check_mode, region=module.region, signer=signer, on_secret=mask)
    except DbConnectionError as e:
        module.fail_json(msg=str(e), error_kind=e.kind, users=[], queries=[])
    except DbUserError as e:
        module.fail_json(msg=str(e), error_kind=e.kind, users=e.users, queries=e.queries)
    module.exit_json(**result)


def run_many(module, mask, signer):
    """The databases mode: one result per entry; fails naming each failed entry, after all were tried."""
    bad = check_concurrency(module.params["concurrency"])
    if bad:
        module.fail_json(msg=bad, databases=[])
    try:
        results, diffs, failed = run_databases(module.params, module.check_mode, region=module.region,
                                               signer=signer, on_secret=mask)
    except BatchInputError as e:
        module.fail_json(msg=str(e), databases=[])
    changed = any(r["changed"] for r in results)
    if failed:
        module.fail_json(msg=failure_message(failed, len(results)), changed=changed, databases=results, diff=diffs)
    module.exit_json(changed=changed, databases=results, diff=diffs)


if __name__ == "__main__":
    main()
