#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright: Contributors to the dbauth.rds_iam collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: rds_iam_info
short_description: Read the IAM database authentication facts of many RDS DB instances and Aurora DB clusters
version_added: 0.2.0
description:
  - Reads RDS DB instances and DB clusters, those named or all of the region, and returns for each what
    IAM database authentication needs to know, the resource id, the C(rds-db) ARN prefix, the endpoints,
    whether IAM authentication is on (or waiting for the maintenance window) and whether the server
    enforces TLS.
  - Read-only, nothing is ever changed.
  - The cost does not grow with a call per database. One paginated DescribeDBInstances and one paginated
    DescribeDBClusters (at most 100 identifiers per call when identifiers are given), one paginated read
    per distinct parameter group for the TLS setting, one paginated DescribeDBClusterEndpoints only
    when a cluster has custom endpoints, one paginated DescribeBlueGreenDeployments, and one more describe of the
    other side when a database found is part of a Blue/Green deployment.
  - Identifiers that do not exist are listed in RV(not_found) and are not an error; the caller decides.
  - Throttled AWS calls are retried with jittered backoff.
options:
  db_instance_identifiers:
    description:
      - Identifiers of the DB instances to read.
      - When neither O(db_instance_identifiers) nor O(db_cluster_identifiers) is given, every DB instance
        and DB cluster of the region is read.
      - When only O(db_cluster_identifiers) is given, no instance is read; an empty list reads none.
    type: list
    elements: str
  db_cluster_identifiers:
    description:
      - Identifiers of the DB clusters to read.
      - When only O(db_instance_identifiers) is given, no cluster is returned (the clusters of member
        instances are read for their TLS setting only).
    type: list
    elements: str
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
    description: The module never changes anything; it runs the same in check mode.
  diff_mode:
    support: none
    description: Nothing is changed, so there is no diff.
notes:
  - The TLS setting is read from the parameter group that applies, C(rds.force_ssl) for PostgreSQL
    engines and C(require_secure_transport) for MySQL and MariaDB engines, from the DB parameter group
    of an instance and from the DB cluster parameter group of a cluster and of the members of a cluster.
    A parameter group that cannot be read gives a warning and null values, not an error.
  - Partition, region and account of RV(databases[].resource_arn_prefix) are taken from the ARN of the
    instance or cluster; no STS call is made.
seealso:
  - module: dbauth.rds_iam.rds_iam_enable
  - module: amazon.aws.rds_instance_info
  - module: amazon.aws.rds_cluster_info
"""

EXAMPLES = r"""
- name: Everything of the region
  dbauth.rds_iam.rds_iam_info:
    region: eu-west-1
  register: all_databases

- name: Some databases, by identifier
  dbauth.rds_iam.rds_iam_info:
    db_instance_identifiers: [database-1, database-2]
    db_cluster_identifiers: [aurora-1]
  register: some

- name: Stop when one of them is missing
  ansible.builtin.assert:
    that:
      - some.not_found.db_instance_identifiers == []
      - some.not_found.db_cluster_identifiers == []

- name: The databases with IAM authentication on but TLS not enforced
  ansible.builtin.debug:
    msg: >-
      {{ all_databases.databases | selectattr('iam_database_authentication_enabled')
         | rejectattr('tls.enforced') | map(attribute='resource_arn_prefix') | list }}
"""

RETURN = r"""
databases:
  description:
    - One entry per DB instance or DB cluster found, in the order asked (instances first), or sorted by
      identifier (instances, then clusters) when all are read.
  returned: always
  type: list
  elements: dict
  contains:
    kind:
      description: V(instance) or V(cluster).
      returned: always
      type: str
      sample: instance
    db_instance_identifier:
      description: The instance identifier (lower case, as RDS keeps it).
      returned: when RV(databases[].kind=instance)
      type: str
      sample: database-1
    db_cluster_identifier:
      description: The cluster identifier (lower case, as RDS keeps it).
      returned: when RV(databases[].kind=cluster)
      type: str
      sample: aurora-1
    arn:
      description: The ARN of the instance or cluster.
      returned: always
      type: str
      sample: arn:aws:rds:eu-west-1:123456789012:db:database-1
    resource_id:
      description: The resource id used in C(rds-db) ARNs, C(DbiResourceId) of an instance or C(DbClusterResourceId) of a cluster.
      returned: always
      type: str
      sample: db-ABCDEFGHIJKLMNOPQRSTUVWXY1
    resource_arn_prefix:
      description:
        - C(arn:PARTITION:rds-db:REGION:ACCOUNT:dbuser:RESOURCE_ID); append C(/DB_USER) for an IAM policy resource.
        - For a member instance of an Aurora cluster, logins use the cluster's prefix.
      returned: always
      type: str
      sample: arn:aws:rds-db:eu-west-1:123456789012:dbuser:db-ABCDEFGHIJKLMNOPQRSTUVWXY1
    engine:
      description: The engine.
      returned: always
      type: str
      sample: postgres
    engine_version:
      description: The engine version.
      returned: always
      type: str
      sample: "16.3"
    status:
      description: The status of the instance or cluster.
      returned: always
      type: str
      sample: available
    endpoint:
      description: The instance's endpoint, or the cluster's writer endpoint.
      returned: always
      type: dict
      contains:
        address:
          description: Host name.
          type: str
          returned: always
          sample: database-1.abcdefghijkl.eu-west-1.rds.amazonaws.com
        port:
          description: Port.
          type: int
          returned: always
          sample: 5432
    reader_endpoint:
      description: The cluster's reader endpoint, C(address) and C(port).
      returned: when RV(databases[].kind=cluster)
      type: dict
      sample: {"address": "aurora-1.cluster-ro-abcdefghijkl.eu-west-1.rds.amazonaws.com", "port": 5432}
    custom_endpoints:
      description: The cluster's custom endpoints, each with C(name), C(address), C(port) and C(type) (V(READER) or V(ANY)).
      returned: when RV(databases[].kind=cluster)
      type: list
      elements: dict
      sample: [{"name": "reporting", "address": "reporting.cluster-custom-abcdefghijkl.eu-west-1.rds.amazonaws.com",
                "port": 5432, "type": "READER"}]
    port:
      description: The port clients connect to.
      returned: always
      type: int
      sample: 5432
    iam_database_authentication_enabled:
      description: Whether IAM database authentication is in effect now.
      returned: always
      type: bool
      sample: true
    pending:
      description:
        - The pending modified values (waiting for the maintenance window), keys in snake case,
          for example C(iam_database_authentication_enabled); V({}) when there are none.
      returned: always
      type: dict
      sample: {"iam_database_authentication_enabled": true}
    member_of_cluster:
      description: The identifier of the DB cluster the instance is a member of, null otherwise.
      returned: when RV(databases[].kind=instance)
      type: str
      sample: aurora-1
    read_replicas:
      description:
        - The read replicas of the instance (C(ReadReplicaDBInstanceIdentifiers)), identifiers, and ARNs for
          replicas in another Region. Each replica has its own resource id and IAM setting.
      returned: when RV(databases[].kind=instance)
      type: list
      elements: str
      sample: [database-1-replica, "arn:aws:rds:us-west-2:123456789012:db:database-1-west"]
    read_replica_source:
      description: The identifier (an ARN for a cross-Region replica) of the instance this read replica copies, null otherwise.
      returned: when RV(databases[].kind=instance)
      type: str
      sample: database-1
    global_cluster_identifier:
      description: The Aurora global database the cluster belongs to, null otherwise.
      returned: when RV(databases[].kind=cluster)
      type: str
      sample: aurora-global
    blue_green:
      description:
        - The Blue/Green deployment this database is the source (blue) or target (green) of, null when there is none
          (or when C(rds:DescribeBlueGreenDeployments) is not allowed, which a warning says).
        - The green has a resource id of its own, and after the switchover the names move but the resource ids do
          not; see the guide C(docs/blue_green.md) and the playbook C(dbauth.rds_iam.blue_green_switchover).
      returned: always
      type: dict
      contains:
        identifier:
          description: The deployment's identifier.
          type: str
          returned: always
          sample: bgd-abcdefghij012345
        name:
          description: The deployment's name.
          type: str
          returned: always
          sample: database-1-upgrade
        status:
          description: The deployment's status (V(AVAILABLE), V(SWITCHOVER_IN_PROGRESS), V(SWITCHOVER_COMPLETED), ...).
          type: str
          returned: always
          sample: AVAILABLE
        status_details:
          description: The status details RDS gives, if any.
          type: str
          returned: always
          sample: null
        switched_over:
          description: Whether the switchover has completed.
          type: bool
          returned: always
          sample: false
        role:
          description:
            - V(source) when this database is the deployment's source (the blue; after the switchover the old blue,
              C(NAME-old1)), V(target) when it is the target (the green; after the switchover it holds the name).
          type: str
          returned: always
          sample: source
        source:
          description: The source, C(kind), C(identifier), C(arn) and C(resource_id).
          type: dict
          returned: always
          sample: {"kind": "instance", "identifier": "database-1", "arn": "arn:aws:rds:eu-west-1:123456789012:db:database-1",
                   "resource_id": "db-ABCDEFGHIJKLMNOPQRSTUVWXY1"}
        target:
          description: The target (the green), C(kind), C(identifier), C(arn) and C(resource_id).
          type: dict
          returned: always
          sample: {"kind": "instance", "identifier": "database-1-green-abcdef",
                   "arn": "arn:aws:rds:eu-west-1:123456789012:db:database-1-green-abcdef",
                   "resource_id": "db-ZYXWVUTSRQPONMLKJIHGFEDCB1"}
    tls:
      description: Whether the server refuses connections without TLS, read from the parameter group.
      returned: always
      type: dict
      contains:
        parameter:
          description:
            - V(rds.force_ssl) (PostgreSQL engines) or V(require_secure_transport) (MySQL and MariaDB
              engines); null for other engines.
          type: str
          returned: always
          sample: rds.force_ssl
        value:
          description: The value of the parameter in the parameter group, null when it is not set.
          type: str
          returned: always
          sample: "1"
        enforced:
          description: Whether the value enforces TLS, null when the value is unknown.
          type: bool
          returned: always
          sample: true
not_found:
  description: The identifiers asked for that do not exist (in the order asked).
  returned: always
  type: dict
  contains:
    db_instance_identifiers:
      description: Instance identifiers not found.
      type: list
      elements: str
      returned: always
      sample: [database-9]
    db_cluster_identifiers:
      description: Cluster identifiers not found.
      type: list
      elements: str
      returned: always
      sample: []
"""

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

from ansible_collections.dbauth.rds_iam.plugins.module_utils import _aws_session
from ansible_collections.dbauth.rds_iam.plugins.module_utils import _blue_green
from ansible_collections.dbauth.rds_iam.plugins.module_utils._rds_databases import RdsReadError
from ansible_collections.dbauth.rds_iam.plugins.module_utils._rds_databases import gather
from ansible_collections.dbauth.rds_iam.plugins.module_utils._aws_session import assume_role_argument_spec


def _deployments_of(client, retry, databases):
    """The Blue/Green deployments whose source or target is one of the databases, and their members' resource ids."""
    if not databases:
        return [], {}
    arns = set((db.get("arn") or "").lower() for db in databases)
    records = [r for r in _blue_green.read(client, retry)
               if (r.get("Source") or "").lower() in arns or (r.get("Target") or "").lower() in arns]
    return records, _blue_green.resource_ids(client, retry, records) if records else {}


def main():
    argument_spec = dict(
        db_instance_identifiers=dict(type="list", elements="str"),
        db_cluster_identifiers=dict(type="list", elements="str"),
    )
    argument_spec.update(assume_role_argument_spec())
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)

    retry = AWSRetry.jittered_backoff(retries=10)
    client = _aws_session.client(module, "rds", retry_decorator=retry)
    try:
        databases, not_found, warnings = gather(
            client,
            module.params["db_instance_identifiers"],
            module.params["db_cluster_identifiers"],
            region=client.meta.region_name,
            retry=retry,
        )
    except RdsReadError as e:
        module.fail_json_aws(e.exception, msg=e.message)
    for warning in warnings:
        module.warn(warning)
    try:
        deployments, ids = _deployments_of(client, retry, databases)
    except (_blue_green.BlueGreenError, RdsReadError) as e:
        module.warn("%s: blue_green is null for every database (%s)" % (e.message, e.exception or ""))
        deployments, ids = [], {}
    _blue_green.annotate(databases, deployments, ids)
    module.exit_json(changed=False, databases=databases, not_found=not_found)


if __name__ == "__main__":
    main()
