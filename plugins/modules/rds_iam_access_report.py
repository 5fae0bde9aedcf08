#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright: Contributors to the dbauth.rds_iam collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: rds_iam_access_report
short_description: Report which IAM principal can log in as which database user, and what differs from the data model
version_added: 0.2.0
description:
  - Reads three sides and joins them. RDS, the resource id, endpoint and IAM authentication setting (and a
    pending change of it) of every database. IAM, every user and role with its inline and managed policies,
    its groups' policies and its permissions boundary. The databases, their IAM users (C(AWSAuthenticationPlugin)
    accounts, members of C(rds_iam)), password users, roles in both C(rds_iam) and C(rds_ad), and the accounts the
    collection never touches (the admin login, the platform's own).
  - Returns RV(matrix), one entry per IAM principal whose policies allow C(rds-db:connect) somewhere, database and
    IAM user of that database, allowed or denied and why; and RV(findings), each with a stable RV(findings[].code),
    a severity and the objects it names.
  - Policies are evaluated by the collection's own policy evaluator. A decision it cannot make alone (a Condition on
    a key it does not know) is asked of C(iam:SimulatePrincipalPolicy) when the caller is allowed to call it, see
    O(evaluator); RV(matrix[].decided_by) says which decided.
  - Read-only, nothing is ever changed; check mode runs the same.
  - The cost does not grow with a call per principal or per user. IAM is read with C(GetAccountAuthorizationDetails)
    pages; RDS with one paginated C(DescribeDBInstances), one C(DescribeDBClusters) and one
    C(DescribeBlueGreenDeployments) (plus one describe of the members of completed switchovers, when there are any),
    and one C(DescribeDBInstances) and one C(DescribeDBClusters) in each other Region where a replica or secondary of
    O(databases) lives;
    each database catalog with two queries, O(concurrency) databases at a time. RV(aws_calls) counts the AWS calls made.
  - After a Blue/Green switchover the green holds the name and has another resource id, while the old blue
    (C(NAME-old1)) keeps the id the policies were written for; V(switched_over_resource_id) names each policy left
    on such an id (see C(docs/blue_green.md)).
options:
  databases:
    description:
      - The databases of the data model, entries shaped like C(rds_iam_databases) (docs/data_model.md).
      - Their users and principals are what the report compares with (drift); their admin login reads the catalog.
    type: list
    elements: dict
    default: []
    suboptions:
      db_instance_identifier:
        description: RDS DB instance identifier. Exactly one of O(databases[].db_instance_identifier) or
          O(databases[].db_cluster_identifier).
        type: str
      db_cluster_identifier:
        description: Aurora DB cluster identifier.
        type: str
      engine:
        description: SQL dialect of the users.
        type: str
        required: true
        choices: [mysql, mariadb, postgres]
      db_name:
        description: Database the logins open (not used by the report).
        type: str
      endpoint:
        description: Override of the endpoint RDS reports (a proxy, a tunnel), used for the admin login.
        type: dict
        suboptions:
          address:
            description: Host name or address.
            type: str
            required: true
          port:
            description: Port.
            type: int
      admin:
        description:
          - How the report logs in to read the users. Without it the database's users are not read (the report says
            so) and its matrix lists the users of the data model.
        type: dict
        suboptions:
          user:
            description: The admin user name.
            type: str
            required: true
          password:
            description: The admin password. Exactly one of O(databases[].admin.password) or O(databases[].admin.iam).
            type: str
          iam:
            description: Log in with an IAM token signed with the AWS options of the task.
            type: bool
            default: false
          host:
            description: Address for the admin login only (default the database's endpoint).
            type: str
          port:
            description: Port for the admin login only.
            type: int
          db:
            description: Database the admin login opens.
            type: str
      replicas:
        description:
          - The read replicas of a DB instance (docs/topologies.md), a list of C({db_instance_identifier, region}) (the
            Region defaults to that of the call), or V(discover) (the source's C(ReadReplicaDBInstanceIdentifiers)).
          - Each replica is reported as a database of its own, read in its own Region, with its own resource id and IAM
            setting (in RV(databases), C(member_of) names the source); its users are the source's (replicated).
        type: raw
        version_added: 0.2.0
      endpoints:
        description: The Aurora endpoints the data model entry proves (accepted, not reported on; the cluster's
          resource id covers them all).
        type: list
        elements: str
        version_added: 0.2.0
      secondaries:
        description:
          - The secondary clusters of an Aurora global database, each reported like a replica, read in its own Region.
        type: list
        elements: dict
        version_added: 0.2.0
        suboptions:
          db_cluster_identifier:
            description: The secondary DB cluster identifier.
            type: str
            required: true
          region:
            description: Its Region.
            type: str
            required: true
      users:
        description: The IAM database users of the data model.
        type: list
        elements: dict
        default: []
        suboptions:
          name:
            description: Database user name.
            type: str
            required: true
          principals:
            description: Names of O(principals) (IAM roles) allowed to connect as this user.
            type: list
            elements: str
          privileges:
            description: MySQL/MariaDB grants (not compared by the report).
            type: dict
          roles:
            description: PostgreSQL roles (not compared by the report).
            type: list
            elements: str
          host:
            description: MySQL/MariaDB account host.
            type: str
          state:
            description: V(absent) users are expected not to exist.
            type: str
            choices: [present, absent]
            default: present
          db_name:
            description: Database this user's logins open (not used by the report).
            type: str
      proxies:
        description:
          - RDS Proxies in front of the database (C(docs/rds_proxy.md)). The role of a proxy (C(role)) is expected to
            connect as the users that log in through it (C(users), default every user with principals); grants on a
            proxy's C(prx-) resource id are not judged.
        type: list
        elements: dict
        default: []
        suboptions:
          name:
            description: Name of the RDS Proxy.
            type: str
            required: true
          role:
            description: Name of the proxy's IAM role (end-to-end IAM).
            type: str
          users:
            description: Users that log in through the proxy.
            type: list
            elements: str
          port:
            description: Port of the proxy endpoint (not used by the report).
            type: int
  principals:
    description:
      - The principals of the data model (C(rds_iam_principals)), IAM role names or entries with a C(name).
      - A principal that can connect to a database of the data model but is not named here is a finding
        (C(principal_not_in_model)). When omitted, the names in O(databases[].users[].principals) are used.
    type: list
    elements: raw
  scope:
    description:
      - V(model) reports the databases of O(databases). V(account) reports every DB instance and DB cluster of the
        region too (the users of those without an admin login are not read).
    type: str
    choices: [model, account]
    default: model
  evaluator:
    description:
      - V(auto), the local evaluator decides, and what it cannot decide is asked of C(iam:SimulatePrincipalPolicy)
        (when that call is denied the decision stays C(undetermined)).
      - V(local), only the local evaluator (no simulate call).
      - V(simulate), every decision is asked of C(iam:SimulatePrincipalPolicy), one call per pair; the local
        decision stays where the call is denied.
    type: str
    choices: [auto, local, simulate]
    default: auto
  ca_cert:
    description: CA bundle that signed the database servers' certificates (RDS C(global-bundle.pem)).
    type: path
  ssl_mode:
    description: TLS policy of the admin logins, with libpq's names; V(verify-full) checks certificate and host name.
    type: str
    default: verify-full
    choices: [disable, allow, prefer, require, verify-ca, verify-full]
  connect_timeout:
    description: Seconds to wait for each admin login.
    type: int
    default: 10
  concurrency:
    description: How many database catalogs are read at the same time (threads).
    type: int
    default: 8
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
  - Not evaluated, as for the verify module, service control policies, resource control policies and session
    policies of the sessions that will connect; a Condition on a key of the session (tags, MFA) is
    C(undetermined) locally.
  - The caller needs C(iam:GetAccountAuthorizationDetails), C(rds:DescribeDBInstances), C(rds:DescribeDBClusters),
    and optionally C(iam:SimulatePrincipalPolicy).
seealso:
  - module: dbauth.rds_iam.rds_iam_info
  - module: dbauth.rds_iam.rds_iam_verify
"""

EXAMPLES = r"""
- name: Who can log in as whom, against the data model
  dbauth.rds_iam.rds_iam_access_report:
    databases: "{{ rds_iam_databases }}"
    principals: "{{ rds_iam_principals }}"
    ca_cert: /etc/pki/rds/global-bundle.pem
  register: report

- name: Fail on any finding of high severity
  ansible.builtin.assert:
    that: report.findings | selectattr('severity', 'equalto', 'high') | list | length == 0
    fail_msg: "{{ report.findings | selectattr('severity', 'equalto', 'high') | map(attribute='message') | list }}"

- name: Every database of the region, policies only where there is no admin login
  dbauth.rds_iam.rds_iam_access_report:
    scope: account
    region: eu-west-1
  register: account_report
"""

RETURN = r"""
matrix:
  description: One entry per principal whose policies allow C(rds-db:connect) somewhere, database and IAM user.
  returned: always
  type: list
  elements: dict
  contains:
    principal_arn:
      description: The IAM role or user ARN.
      type: str
      returned: always
      sample: arn:aws:iam::123456789012:role/app-role
    principal:
      description: Its name.
      type: str
      returned: always
      sample: app-role
    principal_type:
      description: V(role) or V(user).
      type: str
      returned: always
      sample: role
    database:
      description: The DB instance or cluster identifier (a replica's or secondary's for a member).
      type: str
      returned: always
      sample: database-1
    region:
      description: The Region of the database, that of its C(rds-db) ARN.
      type: str
      returned: always
      sample: us-east-1
      version_added: 0.2.0
    member_of:
      description: For a read replica or global secondary cluster, the identifier of its source; null otherwise.
      type: str
      returned: always
      sample: null
      version_added: 0.2.0
    db_user:
      description: The database user.
      type: str
      returned: always
      sample: app_user
    allowed:
      description: Whether a token login works (the policies allow it and IAM authentication is on).
      type: bool
      returned: always
      sample: true
    decision:
      description: The policy decision, V(allow), V(explicit_deny), V(implicit_deny) or V(undetermined).
      type: str
      returned: always
      sample: allow
    reason:
      description: Why, naming the policy and statement that decided.
      type: str
      returned: always
      sample: "allowed by statement 0 (RdsIamConnect) of policy rds-iam-connect-app-role for rds-db:connect on ..."
    decided_by:
      description: V(local) (the collection's evaluator), V(simulate) (C(iam:SimulatePrincipalPolicy)) or V(undetermined).
      type: str
      returned: always
      sample: local
findings:
  description: What is wrong or differs from the data model, most severe first.
  returned: always
  type: list
  elements: dict
  contains:
    code:
      description:
        - Stable code. V(iam_auth_off), V(rds_iam_and_rds_ad), V(stale_resource_id), V(switched_over_resource_id)
          (high); V(wildcard_grant),
          V(principal_not_in_model), V(grant_user_missing), V(model_user_missing), V(model_grant_missing) (medium);
          V(iam_user_unusable), V(unmodelled_user), V(unmodelled_grant) (low).
      type: str
      returned: always
      sample: stale_resource_id
    severity:
      description: V(high), V(medium), V(low) or V(info).
      type: str
      returned: always
      sample: high
    message:
      description: A sentence naming the objects and what to do.
      type: str
      returned: always
      sample: "arn:aws:iam::123456789012:role/app-role: ... names the resource id db-OLD, which no DB instance ..."
    objects:
      description:
        - The objects the finding names (C(database), C(db_user), C(principal_arn), C(principal), C(policy), C(resource), ...).
        - V(iam_auth_off) of a read replica or secondary also names its C(member_of) (the source) and C(region).
        - V(stale_resource_id) and V(switched_over_resource_id) name the C(resource_id); V(switched_over_resource_id) also
          the C(deployment), the C(database) whose name moved, its C(current_resource_id) and the C(old_database)
          (C(NAME-old1)) that keeps the old id.
      type: dict
      returned: always
      sample: {"principal_arn": "arn:aws:iam::123456789012:role/app-role", "resource": "arn:aws:rds-db:..."}
databases:
  description:
    - Each database reported, with what was read of it (never a password).
    - A read replica or global secondary cluster of a database of O(databases) is one too, after its source, with its
      C(region), C(member_of) (the source) and C(member_role) (V(replica) or V(secondary)); its users are the source's.
  returned: always
  type: list
  elements: dict
  sample: [{"id": "database-1", "kind": "instance", "engine": "postgres", "resource_id": "db-ABC", "iam_enabled": true,
            "iam_users": ["app_user"], "password_users": ["legacy"], "protected_users": ["postgres"], "catalog_error": null}]
principals:
  description: The principals whose policies allow C(rds-db:connect) somewhere (ARN, name, type, in the data model or not).
  returned: always
  type: list
  elements: dict
  sample: [{"arn": "arn:aws:iam::123456789012:role/app-role", "name": "app-role", "type": "role", "in_model": true}]
summary:
  description: Counts, databases, principals, pairs, allowed pairs, findings per severity.
  returned: always
  type: dict
  sample: {"databases": 3, "principals": 2, "pairs": 12, "allowed": 5, "findings": {"high": 0, "medium": 1, "low": 2, "info": 0}}
aws_calls:
  description: The AWS API calls made, per service.
  returned: always
  type: dict
  sample: {"iam": 1, "rds": 2}
simulate_error:
  description: Why C(iam:SimulatePrincipalPolicy) could not be used (its error code), null when it was not needed or worked.
  returned: always
  type: str
  sample: AccessDenied
"""

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

from ansible_collections.dbauth.rds_iam.plugins.module_utils import _aws_session
from ansible_collections.dbauth.rds_iam.plugins.module_utils import _blue_green
from ansible_collections.dbauth.rds_iam.plugins.module_utils._access_report import Evaluator
from ansible_collections.dbauth.rds_iam.plugins.module_utils._access_report import findings
from ansible_collections.dbauth.rds_iam.plugins.module_utils._access_report import matrix
from ansible_collections.dbauth.rds_iam.plugins.module_utils._access_report import model_principal_names
from ansible_collections.dbauth.rds_iam.plugins.module_utils._access_report import report_databases
from ansible_collections.dbauth.rds_iam.plugins.module_utils._access_report import summary
from ansible_collections.dbauth.rds_iam.plugins.module_utils._aws_session import assume_role_argument_spec
from ansible_collections.dbauth.rds_iam.plugins.module_utils._aws_session import module_signer
from ansible_collections.dbauth.rds_iam.plugins.module_utils._batch import CONCURRENCY_SPEC
from ansible_collections.dbauth.rds_iam.plugins.module_utils._batch import LockedSigner
from ansible_collections.dbauth.rds_iam.plugins.module_utils._batch import check_concurrency
from ansible_collections.dbauth.rds_iam.plugins.module_utils._db_connection import SSL_MODES
from ansible_collections.dbauth.rds_iam.plugins.module_utils._rds_databases import RdsReadError
from ansible_collections.dbauth.rds_iam.plugins.module_utils._report_collect import CallCounter
from ansible_collections.dbauth.rds_iam.plugins.module_utils._report_collect import read_catalogs
from ansible_collections.dbauth.rds_iam.plugins.module_utils._report_collect import read_rds
from ansible_collections.dbauth.rds_iam.plugins.module_utils._report_collect import simulate_decisions
from ansible_collections.dbauth.rds_iam.plugins.module_utils._report_collect import where
from ansible_collections.dbauth.rds_iam.plugins.module_utils._report_iam import is_candidate
from ansible_collections.dbauth.rds_iam.plugins.module_utils._report_iam import read_principals
from ansible_collections.dbauth.rds_iam.plugins.module_utils._verify_diagnosis import request_context

try:
    from botocore.exceptions import BotoCoreError
    from botocore.exceptions import ClientError
except ImportError:
    pass  # handled by AnsibleAWSModule

ENDPOINT_SPEC = dict(address=dict(type="str", required=True), port=dict(type="int"))
ADMIN_SPEC = dict(
    user=dict(type="str", required=True),
    password=dict(type="str", no_log=True),
    iam=dict(type="bool", default=False),
    host=dict(type="str"),
    port=dict(type="int"),
    db=dict(type="str"),
)
USER_SPEC = dict(
    name=dict(type="str", required=True),
    principals=dict(type="list", elements="str"),
    privileges=dict(type="dict"),
    roles=dict(type="list", elements="str"),
    host=dict(type="str"),
    state=dict(type="str", choices=["present", "absent"], default="present"),
    db_name=dict(type="str"),
)
DATABASE_SPEC = dict(
    db_instance_identifier=dict(type="str"),
    db_cluster_identifier=dict(type="str"),
    engine=dict(type="str", required=True, choices=["mysql", "mariadb", "postgres"]),
    db_name=dict(type="str"),
    endpoint=dict(type="dict", options=ENDPOINT_SPEC),
    admin=dict(type="dict", options=ADMIN_SPEC),
    users=dict(type="list", elements="dict", default=[], options=USER_SPEC),
    proxies=dict(type="list", elements="dict", default=[], options=dict(
        name=dict(type="str", required=True), role=dict(type="str"), users=dict(type="list", elements="str"),
        port=dict(type="int"))),
    # The topology keys of the data model (docs/topologies.md): accepted so the data model passes unchanged.
    replicas=dict(type="raw"),
    endpoints=dict(type="list", elements="str"),
    secondaries=dict(type="list", elements="dict", options=dict(
        db_cluster_identifier=dict(type="str", required=True), region=dict(type="str", required=True))),
)


def _check_databases(databases):
    """The error message for a bad databases entry, or None."""
    for index, entry in enumerate(databases):
        ident = entry.get("db_instance_identifier") or entry.get("db_cluster_identifier")
        where_ = "databases[%d]%s" % (index, " (%s)" % ident if ident else "")
        if bool(entry.get("db_instance_identifier")) == bool(entry.get("db_cluster_identifier")):
            return "%s: give exactly one of db_instance_identifier or db_cluster_identifier." % where_
        admin = entry.get("admin")
        if admin and bool(admin.get("password")) == bool(admin.get("iam")):
            return "%s: admin: give exactly one of password or iam: true." % where_
        error = _check_replicas(entry.get("replicas"))
        if error:
            return "%s: replicas: %s" % (where_, error)
    return None


def _check_replicas(replicas):
    """Why ``replicas`` (raw: discover or a list of {db_instance_identifier, region}) is wrong, or None."""
    if replicas is None or replicas == "discover":
        return None
    if not isinstance(replicas, list):
        return "give discover or a list of {db_instance_identifier, region}, not %r." % (replicas,)
    for index, replica in enumerate(replicas):
        if not isinstance(replica, dict) or not isinstance(replica.get("db_instance_identifier"), str):
            return "[%d]: give db_instance_identifier (and region for a replica in another Region)." % index
        unknown = sorted(set(replica) - set(["db_instance_identifier", "region"]))
        if unknown or not isinstance(replica.get("region"), (str, type(None))):
            return "[%d]: only db_instance_identifier and region (a Region name) are known, not %s." % (
                index, ", ".join(unknown) or "region %r" % (replica.get("region"),))
    return None


def _switched_over(module, rds, retry):
    """{old blue resource id: deployment} of the region's completed Blue/Green switchovers; a warning when they
    cannot be read (then switched_over_resource_id cannot be found)."""
    try:
        completed = [r for r in _blue_green.read(rds, retry) if r.get("Status") == _blue_green.SWITCHOVER_COMPLETED]
        return _blue_green.switched_resource_ids(completed, _blue_green.resource_ids(rds, retry, completed))
    except (_blue_green.BlueGreenError, RdsReadError) as e:
        module.warn("%s: policies left on the old resource ids of switchovers are not reported (%s)" % (
            e.message, e.exception or ""))
        return {}


def main():
    argument_spec = dict(
        databases=dict(type="list", elements="dict", default=[], options=DATABASE_SPEC),
        principals=dict(type="list", elements="raw"),
        scope=dict(type="str", choices=["model", "account"], default="model"),
        evaluator=dict(type="str", choices=["auto", "local", "simulate"], default="auto"),
        ca_cert=dict(type="path"),
        ssl_mode=dict(type="str", default="verify-full", choices=list(SSL_MODES)),
        connect_timeout=dict(type="int", default=10),
        concurrency=dict(CONCURRENCY_SPEC),
    )
    argument_spec.update(assume_role_argument_spec())
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    params = module.params
    error = check_concurrency(params["concurrency"]) or _check_databases(params["databases"])
    if error:
        module.fail_json(msg=error)

    retry = AWSRetry.jittered_backoff(retries=10)
    counter = CallCounter()
    rds = counter.attach(_aws_session.client(module, "rds", retry_decorator=retry))
    iam = counter.attach(_aws_session.client(module, "iam", retry_decorator=retry))
    try:
        databases, resource_ids = read_rds(
            rds, retry, params["databases"], params["scope"],
            lambda region: counter.attach(_aws_session.client(module, "rds", retry_decorator=retry, region=region)))
    except RdsReadError as e:
        module.fail_json_aws(e.exception, msg=e.message)
    switched = _switched_over(module, rds, retry)
    try:
        principals = [p for p in read_principals(iam, retry) if is_candidate(p)]
    except (ClientError, BotoCoreError) as e:
        module.fail_json_aws(e, msg="Failed to read the IAM users, roles and policies (iam:GetAccountAuthorizationDetails)")
    # An admin with iam: true logs in with a token signed as this module's principal (one signer, shared
    # by the pool's threads).
    signer = None
    if any((entry.get("admin") or {}).get("iam") for entry in params["databases"]):
        signer = LockedSigner(module_signer(module))
    read_catalogs(databases, params["databases"], params, rds.meta.region_name, params["concurrency"], signer)

    region, account, partition = where(databases)
    evaluator = Evaluator(region or rds.meta.region_name, account, partition)
    rows = matrix(databases, principals, evaluator)
    simulate_error = None
    if params["evaluator"] != "local":
        keys = evaluator.decisions if params["evaluator"] == "simulate" else evaluator.undetermined()
        if keys:
            simulate_error = simulate_decisions(iam, evaluator, principals, list(keys), request_context)
            rows = matrix(databases, principals, evaluator)
    model_names = model_principal_names(params["principals"], params["databases"])
    found = findings(databases, principals, model_names, rows, resource_ids, evaluator, switched)
    module.exit_json(
        changed=False,
        matrix=rows,
        findings=found,
        databases=report_databases(databases),
        principals=[{"arn": p["arn"], "name": p["name"], "type": p["type"],
                     "in_model": p["type"] == "role" and p["name"] in model_names} for p in principals],
        summary=summary(databases, principals, rows, found),
        aws_calls=counter.calls,
        simulate_error=simulate_error,
    )


if __name__ == "__main__":
    main()
