#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright: Contributors to the dbauth.rds_iam collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: rds_iam_enable
short_description: Turn IAM database authentication on or off for an RDS DB instance or Aurora DB cluster
version_added: 0.1.0
description:
  - Enables or disables IAM database authentication on one Amazon RDS DB instance (MySQL, MariaDB,
    PostgreSQL) or one Aurora DB cluster (Aurora MySQL, Aurora PostgreSQL), and
    returns what the next steps need, the resource id and the C(rds-db) ARN prefix for IAM policies,
    whether or not anything changed.
  - Only the IAM setting is touched; no other part of the instance or cluster specification is needed.
  - When nothing has to change the module makes exactly one describe call. A change is one describe
    call, one modify call and, with O(wait=true), describe calls until the instance or cluster is
    C(available) with the setting in effect.
  - For an Aurora cluster the setting and the resource id (C(cluster-...)) belong to the cluster;
    naming a member instance with O(db_instance_identifier) fails and names the cluster to use instead.
  - Throttled AWS calls are retried with jittered backoff.
  - When IAM authentication is being turned on for PostgreSQL (also in check mode), the module reads
    C(rds.force_ssl) from the (cluster) parameter group and warns when SSL is not enforced; a failure to
    read the parameter group gives a warning, never an error.
options:
  db_instance_identifier:
    description:
      - Identifier of the DB instance (RDS for MySQL, MariaDB or PostgreSQL).
      - Exactly one of O(db_instance_identifier), O(db_cluster_identifier) and O(databases) is required.
    type: str
  db_cluster_identifier:
    description:
      - Identifier of the DB cluster (Aurora MySQL, Aurora PostgreSQL).
      - Exactly one of O(db_instance_identifier), O(db_cluster_identifier) and O(databases) is required.
    type: str
  databases:
    description:
      - Batch mode, many instances and clusters in one call. Each entry names exactly one of
        O(databases[].db_instance_identifier) and O(databases[].db_cluster_identifier); an identifier
        given twice is refused (naming the entry) before any AWS call.
      - All the databases are described with one paginated call per kind (instances, clusters), at most
        100 identifiers per call, whatever their number. Only those that need a change are modified, and
        they are modified and waited for in parallel, O(concurrency) at a time.
      - O(state), O(apply_immediately), O(wait) and O(wait_timeout) apply to every entry; O(wait_timeout)
        is per database.
      - The module returns RV(databases), one result per entry in the order given. An entry that fails
        (not found, a member instance of a cluster, an unsupported engine, a timeout, an AWS error) fails
        alone with the message the single mode gives for it and does not stop the others; the module
        then fails with a message that names every failed entry, and still returns RV(databases).
      - Exactly one of O(db_instance_identifier), O(db_cluster_identifier) and O(databases) is required.
    type: list
    elements: dict
    version_added: 0.2.0
    suboptions:
      db_instance_identifier:
        description: Identifier of a DB instance.
        type: str
      db_cluster_identifier:
        description: Identifier of a DB cluster.
        type: str
  concurrency:
    description:
      - With O(databases), how many databases are modified and waited for at the same time (threads).
      - Ignored in the single mode.
    type: int
    default: 10
    version_added: 0.2.0
  state:
    description:
      - V(enabled) turns IAM database authentication on, V(disabled) turns it off.
    type: str
    choices: [enabled, disabled]
    default: enabled
  apply_immediately:
    description:
      - Apply the change now (V(true)) or in the next maintenance window (V(false)).
      - With V(false) the module returns at once with RV(pending=true); a change already waiting
        for the maintenance window is not requested again. With V(true) a waiting change is applied now.
      - Changing IAM database authentication causes no outage.
    type: bool
    default: true
  wait:
    description:
      - After an immediate change, wait until the instance or cluster is C(available) with the
        setting in effect.
    type: bool
    default: true
  wait_timeout:
    description:
      - How many seconds to wait when O(wait=true). On timeout the module fails, reports the
        last status seen and C(changed=true) (the change was requested).
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
    description: Reads the current state, makes no change and returns the values the change would give.
  diff_mode:
    support: full
    description: Shows the setting (and a change waiting for the maintenance window) before and after.
notes:
  - Fails, without changing anything, when the instance or cluster does not exist (the message names the
    region and the account searched), when its engine has no IAM database authentication (Oracle,
    SQL Server, Db2, ...), when an instance is a member of a cluster, and when it is stopped or being
    deleted and a change is needed.
  - The account id in RV(resource_arn_prefix) is taken from the instance or cluster ARN; no STS call is made.
  - Batch mode (O(databases)) makes, when nothing has to change, one describe call for the instances and
    one for the clusters (one per page of 100 records); each change adds a modify call and the describe
    calls of its wait.
  - With O(wait=true) the describe calls of the wait are 5, 10, 15, 20, then every 30 seconds apart; RDS takes seconds
    to minutes for this change. A change already under way (status C(modifying), for example after a run that timed
    out) is waited for instead of requested again, and reported as not changed. After a timeout, run the task again
    with a longer O(wait_timeout).
  - With O(apply_immediately=false) a re-run reports C(changed=false) and RV(pending=true) until the maintenance
    window; after it RV(pending=false) and the setting is in effect.
  - A database that needs no change is fine in any state (disabling IAM authentication on a stopped instance that
    has it off is a no-op). The PostgreSQL C(rds.force_ssl) check reads the parameters set by the user first (one
    call), then all of them, and runs only when something is to change, so that a no-op stays one call.
  - MariaDB supports IAM database authentication on some versions only (10.11, 11.4 and 11.8 at the time of writing);
    the module lets AWS judge the version and reports AWS's message.
  - "IAM permissions of the caller - C(rds:DescribeDBInstances) or C(rds:DescribeDBClusters), C(rds:ModifyDBInstance) or
    C(rds:ModifyDBCluster); optionally C(rds:DescribeDBParameters) or C(rds:DescribeDBClusterParameters) for the
    PostgreSQL SSL check (without it, a warning) and C(sts:GetCallerIdentity) to name the account when the database is
    not found."
seealso:
  - module: amazon.aws.rds_instance
  - module: amazon.aws.rds_cluster
  - module: dbauth.rds_iam.rds_iam_info
  - name: Enabling and disabling IAM database authentication (AWS RDS user guide)
    description: What the setting does for instances and Aurora clusters.
    link: https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/UsingWithRDS.IAMDBAuth.Enabling.html
"""

EXAMPLES = r"""
- name: Enable IAM database authentication on an RDS for PostgreSQL instance, now
  dbauth.rds_iam.rds_iam_enable:
    db_instance_identifier: database-1
    region: eu-west-1
  register: db1

- name: Use the ARN prefix in a policy resource
  ansible.builtin.debug:
    msg: "{{ db1.resource_arn_prefix }}/app_user"

- name: Enable it on an Aurora cluster in the next maintenance window
  dbauth.rds_iam.rds_iam_enable:
    db_cluster_identifier: aurora-1
    apply_immediately: false

- name: Disable it again
  dbauth.rds_iam.rds_iam_enable:
    db_instance_identifier: database-1
    state: disabled

- name: Enable it on a whole fleet in one task, five databases at a time
  dbauth.rds_iam.rds_iam_enable:
    databases:
      - db_instance_identifier: database-1
      - db_instance_identifier: database-2
      - db_cluster_identifier: aurora-1
    concurrency: 5
  register: fleet

- name: One ARN prefix per database, in the order given
  ansible.builtin.debug:
    msg: "{{ fleet.databases | map(attribute='resource_arn_prefix') | list }}"
"""

RETURN = r"""
resource_id:
  description:
    - The resource id used in C(rds-db) ARNs, C(DbiResourceId) of an instance or C(DbClusterResourceId) of a cluster.
    - The values from RV(resource_id) to RV(db_cluster_identifier) are returned in the single mode; in
      batch mode (O(databases)) each entry of RV(databases) carries them.
  returned: success
  type: str
  sample: db-ABCDEFGHIJKLMNOPQRSTUVWXY1
resource_arn_prefix:
  description:
    - C(arn:aws:rds-db:REGION:ACCOUNT:dbuser:RESOURCE_ID); append C(/DB_USER) (or C(/*)) for an IAM policy resource.
  returned: success
  type: str
  sample: arn:aws:rds-db:eu-west-1:123456789012:dbuser:db-ABCDEFGHIJKLMNOPQRSTUVWXY1
engine:
  description: The engine of the instance or cluster.
  returned: success
  type: str
  sample: postgres
engine_version:
  description: The engine version.
  returned: success
  type: str
  sample: "16.3"
endpoint:
  description: Where clients connect (the cluster's writer endpoint for a cluster).
  returned: success
  type: dict
  contains:
    address:
      description: Host name.
      type: str
      returned: success
      sample: database-1.abcdefghijkl.eu-west-1.rds.amazonaws.com
    port:
      description: Port.
      type: int
      returned: success
      sample: 5432
iam_database_authentication_enabled:
  description:
    - Whether IAM database authentication is in effect now (in check mode, what it would be).
  returned: success
  type: bool
  sample: true
pending:
  description:
    - Whether a change of the setting is recorded but not in effect yet, waiting for the maintenance
      window (O(apply_immediately=false)).
  returned: success
  type: bool
  sample: false
status:
  description: The last status of the instance or cluster seen.
  returned: success
  type: str
  sample: available
read_replicas:
  description:
    - The read replicas of the instance (C(ReadReplicaDBInstanceIdentifiers)), ARNs for replicas in another Region.
      Each has its own resource id and IAM setting (enable them with their own entries, in their Region).
  returned: success, for an instance
  type: list
  elements: str
  sample: [database-1-replica]
read_replica_source:
  description: The instance this read replica copies (an ARN when in another Region), null otherwise.
  returned: success, for an instance
  type: str
  sample: database-1
global_cluster_identifier:
  description: The Aurora global database the cluster belongs to, null otherwise.
  returned: success, for a cluster
  type: str
  sample: aurora-global
db_instance_identifier:
  description: The instance identifier, when O(db_instance_identifier) was given.
  returned: when O(db_instance_identifier) is set
  type: str
  sample: database-1
db_cluster_identifier:
  description: The cluster identifier, when O(db_cluster_identifier) was given.
  returned: when O(db_cluster_identifier) is set
  type: str
  sample: aurora-1
databases:
  description:
    - Batch mode, one result per entry of O(databases), in the same order, also when the module fails.
  returned: when O(databases) is set
  type: list
  elements: dict
  version_added: 0.2.0
  contains:
    db_instance_identifier:
      description: The instance identifier of the entry.
      returned: when the entry names an instance
      type: str
      sample: database-1
    db_cluster_identifier:
      description: The cluster identifier of the entry.
      returned: when the entry names a cluster
      type: str
      sample: aurora-1
    changed:
      description: Whether this database was (or, in check mode, would be) changed.
      returned: always
      type: bool
      sample: true
    failed:
      description: V(true) when this entry failed; absent otherwise.
      returned: when the entry failed
      type: bool
      sample: true
    msg:
      description: Why this entry failed, the message the single mode gives for it.
      returned: when the entry failed
      type: str
      sample: DB instance 'database-9' not found in region eu-west-1 of account 123456789012
    resource_id:
      description: As RV(resource_id).
      returned: success of the entry
      type: str
      sample: db-ABCDEFGHIJKLMNOPQRSTUVWXY1
    resource_arn_prefix:
      description: As RV(resource_arn_prefix).
      returned: success of the entry
      type: str
      sample: arn:aws:rds-db:eu-west-1:123456789012:dbuser:db-ABCDEFGHIJKLMNOPQRSTUVWXY1
    engine:
      description: As RV(engine).
      returned: success of the entry
      type: str
      sample: postgres
    engine_version:
      description: As RV(engine_version).
      returned: success of the entry
      type: str
      sample: "16.3"
    endpoint:
      description: As RV(endpoint), C(address) and C(port).
      returned: success of the entry
      type: dict
      sample: {"address": "database-1.abcdefghijkl.eu-west-1.rds.amazonaws.com", "port": 5432}
    iam_database_authentication_enabled:
      description: As RV(iam_database_authentication_enabled).
      returned: success of the entry
      type: bool
      sample: true
    pending:
      description: As RV(pending).
      returned: success of the entry
      type: bool
      sample: false
    status:
      description: As RV(status).
      returned: success of the entry
      type: str
      sample: available
    read_replicas:
      description: As RV(read_replicas).
      returned: success of an instance entry
      type: list
      elements: str
      sample: [database-1-replica]
    read_replica_source:
      description: As RV(read_replica_source).
      returned: success of an instance entry
      type: str
      sample: database-1
    global_cluster_identifier:
      description: As RV(global_cluster_identifier).
      returned: success of a cluster entry
      type: str
      sample: aurora-global
"""

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

from ansible_collections.dbauth.rds_iam.plugins.module_utils import _aws_session
from ansible_collections.dbauth.rds_iam.plugins.module_utils._rds_databases import RdsReadError
from ansible_collections.dbauth.rds_iam.plugins.module_utils._aws_session import assume_role_argument_spec
from ansible_collections.dbauth.rds_iam.plugins.module_utils._iam_auth_setting import IamAuthError
from ansible_collections.dbauth.rds_iam.plugins.module_utils._iam_auth_setting import ensure_disabled
from ansible_collections.dbauth.rds_iam.plugins.module_utils._iam_auth_setting import ensure_enabled
from ansible_collections.dbauth.rds_iam.plugins.module_utils._iam_auth_setting import ensure_state_many


def main():
    argument_spec = dict(
        db_instance_identifier=dict(type="str"),
        db_cluster_identifier=dict(type="str"),
        state=dict(type="str", default="enabled", choices=["enabled", "disabled"]),
        apply_immediately=dict(type="bool", default=True),
        wait=dict(type="bool", default=True),
        wait_timeout=dict(type="int", default=900),
        databases=dict(
            type="list",
            elements="dict",
            options=dict(db_instance_identifier=dict(type="str"), db_cluster_identifier=dict(type="str")),
        ),
        concurrency=dict(type="int", default=10),
    )
    argument_spec.update(assume_role_argument_spec())
    module = AnsibleAWSModule(
        argument_spec=argument_spec,
        mutually_exclusive=[["db_instance_identifier", "db_cluster_identifier", "databases"]],
        required_one_of=[["db_instance_identifier", "db_cluster_identifier", "databases"]],
        supports_check_mode=True,
    )
    wait_timeout = module.params["wait_timeout"]
    if wait_timeout < 0 or (module.params["wait"] and wait_timeout < 1):
        # Refused before any AWS call: 0 would make the change and then fail at once.
        module.fail_json(msg="wait_timeout %d must be at least 1 second while wait is true (or set wait: false)."
                         % wait_timeout, error_kind="config")
    if module.params["concurrency"] < 1:
        module.fail_json(msg="concurrency must be at least 1", error_kind="config")

    retry = AWSRetry.jittered_backoff(retries=10)
    # With assume_role_arn (or DBAUTH_RDS_IAM_ASSUME_ROLE_ARN), both clients use the role's credentials.
    client = _aws_session.client(module, "rds", retry_decorator=retry)

    def account_lookup():
        sts = _aws_session.client(module, "sts", retry_decorator=retry)
        return sts.get_caller_identity(aws_retry=True)["Account"]

    if module.params["databases"] is not None:
        batch(module, client, account_lookup, retry)

    ensure = ensure_enabled if module.params["state"] == "enabled" else ensure_disabled
    try:
        changed, result, diff, warnings = ensure(client, module.params, module.check_mode, account_lookup=account_lookup)
    except IamAuthError as e:
        if e.exception is not None:
            module.fail_json_aws(e.exception, msg=e.message, changed=e.changed, error_kind=e.kind, **e.result)
        module.fail_json(msg=e.message, changed=e.changed, error_kind=e.kind, **e.result)

    for warning in warnings:
        module.warn(warning)
    module.exit_json(changed=changed, diff=diff, **result)


def batch(module, client, account_lookup, retry):
    """Batch mode: O(databases)."""
    try:
        changed, results, diff, warnings, failed = ensure_state_many(
            client, module.params, module.check_mode, module.params["state"] == "enabled",
            account_lookup=account_lookup, retry=retry,
        )
    except IamAuthError as e:
        module.fail_json(msg=e.message, error_kind=e.kind)
    except RdsReadError as e:
        module.fail_json_aws(e.exception, msg=e.message)
    for warning in warnings:
        module.warn(warning)
    if failed:
        module.fail_json(
            msg="%d of %d databases failed: %s"
            % (len(failed), len(results), "; ".join("databases[%d]: %s" % item for item in failed)),
            changed=changed,
            databases=results,
            diff=diff,
        )
    module.exit_json(changed=changed, databases=results, diff=diff)


if __name__ == "__main__":
    main()
