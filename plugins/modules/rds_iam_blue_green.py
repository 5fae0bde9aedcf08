#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright: Contributors to the dbauth.rds_iam collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: rds_iam_blue_green
short_description: Switch over an RDS Blue/Green deployment and report the resource ids on both sides
version_added: 0.3.0
description:
  - Switches over an existing Amazon RDS Blue/Green deployment (amazon.aws has no module for it), waits until the
    switchover has completed, and returns the deployment with the identifier and resource id of its source (the blue)
    and target (the green).
  - The resource ids are what IAM database authentication cares about. The green is a database of its own with a
    resource id of its own; the switchover gives it the blue's name and endpoint, and renames the blue C(NAME-old1),
    but the resource ids stay with the databases. C(rds-db:connect) policies must therefore name the green's resource
    id before the switchover, or logins through the name fail after it. The playbook
    C(dbauth.rds_iam.blue_green_switchover) does this in order (guide C(docs/blue_green.md)).
  - Creating and deleting deployments is left to the tools that do upgrades (console, CLI, CloudFormation).
  - Idempotent. A deployment whose switchover has completed is left as it is; one being switched over is waited
    for, not switched again.
options:
  blue_green_deployment_identifier:
    description:
      - The deployment's identifier (C(bgd-...)).
      - Exactly one of O(blue_green_deployment_identifier) and O(blue_green_deployment_name) is required.
    type: str
  blue_green_deployment_name:
    description: The deployment's name.
    type: str
  state:
    description:
      - V(switched_over), the switchover has completed.
      - V(present), only read the deployment (nothing is changed); fails when it does not exist.
    type: str
    choices: [switched_over, present]
    default: switched_over
  switchover_timeout:
    description:
      - Seconds RDS has for the switchover; when it takes longer RDS rolls it back and changes nothing.
    type: int
    default: 300
  wait:
    description: Wait until the switchover has completed.
    type: bool
    default: true
  wait_timeout:
    description: Seconds to wait at most.
    type: int
    default: 1200
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
    description: Reads the deployment and reports whether a switchover would start; starts none.
  diff_mode:
    support: full
    description: The deployment's status before and after.
notes:
  - Fails, without changing anything, when the deployment does not exist, and when its status does not allow a
    switchover (C(PROVISIONING), C(INVALID_CONFIGURATION), C(SWITCHOVER_FAILED), C(DELETING)); the message gives the
    status and RDS's details.
  - Calls C(rds:DescribeBlueGreenDeployments), C(rds:SwitchoverBlueGreenDeployment) and C(rds:DescribeDBInstances)
    (or C(rds:DescribeDBClusters)) for the resource ids.
seealso:
  - module: dbauth.rds_iam.rds_iam_info
  - module: dbauth.rds_iam.rds_iam_access_report
"""

EXAMPLES = r"""
- name: Switch over, once the grants name the green's resource id too (see playbooks/blue_green_switchover.yml)
  dbauth.rds_iam.rds_iam_blue_green:
    blue_green_deployment_name: database-1-upgrade
  register: switched

- name: The resource id now behind the name database-1
  ansible.builtin.debug:
    msg: "{{ switched.blue_green_deployment.target.resource_id }}"
"""

RETURN = r"""
blue_green_deployment:
  description: The deployment as RDS describes it after the call (before it in check mode).
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
      description: V(AVAILABLE), V(SWITCHOVER_IN_PROGRESS), V(SWITCHOVER_COMPLETED), ...
      type: str
      returned: always
      sample: SWITCHOVER_COMPLETED
    status_details:
      description: RDS's details of the status, if any.
      type: str
      returned: always
      sample: null
    switched_over:
      description: Whether the switchover has completed.
      type: bool
      returned: always
      sample: true
    source:
      description:
        - The source (the blue), C(kind), C(identifier), C(arn), C(resource_id). After the switchover its identifier
          is C(NAME-old1) and its resource id the one the blue had.
      type: dict
      returned: always
      sample: {"kind": "instance", "identifier": "database-1-old1", "arn": "arn:aws:rds:eu-west-1:123456789012:db:database-1-old1",
               "resource_id": "db-ABCDEFGHIJKLMNOPQRSTUVWXY1"}
    target:
      description:
        - The target (the green), C(kind), C(identifier), C(arn), C(resource_id). After the switchover it holds the
          blue's name and endpoint, with its own resource id.
      type: dict
      returned: always
      sample: {"kind": "instance", "identifier": "database-1", "arn": "arn:aws:rds:eu-west-1:123456789012:db:database-1",
               "resource_id": "db-ZYXWVUTSRQPONMLKJIHGFEDCB1"}
"""

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from ansible_collections.dbauth.rds_iam.plugins.module_utils import _aws_session
from ansible_collections.dbauth.rds_iam.plugins.module_utils import _blue_green
from ansible_collections.dbauth.rds_iam.plugins.module_utils._aws_session import assume_role_argument_spec
from ansible_collections.dbauth.rds_iam.plugins.module_utils._rds_databases import RdsReadError


def _describe(module, client, retry):
    params = module.params
    records = _blue_green.read(client, retry, params["blue_green_deployment_identifier"],
                               params["blue_green_deployment_name"])
    wanted = params["blue_green_deployment_identifier"] or params["blue_green_deployment_name"]
    if not records:
        module.fail_json(msg="There is no Blue/Green deployment %s in %s: check the identifier or name, and the region"
                         % (wanted, client.meta.region_name))
    if len(records) > 1:
        module.fail_json(msg="%d Blue/Green deployments are named %s: give blue_green_deployment_identifier"
                         % (len(records), wanted))
    return records[0]


def _summary(client, retry, record):
    return _blue_green.summary(record, _blue_green.resource_ids(client, retry, [record]))


def main():
    argument_spec = dict(
        blue_green_deployment_identifier=dict(type="str"),
        blue_green_deployment_name=dict(type="str"),
        state=dict(type="str", choices=["switched_over", "present"], default="switched_over"),
        switchover_timeout=dict(type="int", default=300),
        wait=dict(type="bool", default=True),
        wait_timeout=dict(type="int", default=1200),
    )
    argument_spec.update(assume_role_argument_spec())
    module = AnsibleAWSModule(
        argument_spec=argument_spec,
        supports_check_mode=True,
        mutually_exclusive=[["blue_green_deployment_identifier", "blue_green_deployment_name"]],
        required_one_of=[["blue_green_deployment_identifier", "blue_green_deployment_name"]],
    )
    params = module.params
    if params["switchover_timeout"] < 30:
        module.fail_json(msg="switchover_timeout is %d: RDS takes at least 30 seconds" % params["switchover_timeout"])
    if params["wait_timeout"] < 1:
        module.fail_json(msg="wait_timeout must be a positive number of seconds, not %d" % params["wait_timeout"])

    retry = AWSRetry.jittered_backoff(retries=10)
    client = _aws_session.client(module, "rds", retry_decorator=retry)
    try:
        record = _describe(module, client, retry)
        identifier = record["BlueGreenDeploymentIdentifier"]
        status = record.get("Status")
        before = {"status": status}
        changed = False
        if params["state"] == "switched_over":
            if status in _blue_green.FAILED or status not in (
                    _blue_green.AVAILABLE, _blue_green.SWITCHOVER_IN_PROGRESS, _blue_green.SWITCHOVER_COMPLETED):
                module.fail_json(msg="The Blue/Green deployment %s is %s, which allows no switchover%s" % (
                    identifier, status, ": %s" % record["StatusDetails"] if record.get("StatusDetails") else ""))
            changed = status == _blue_green.AVAILABLE
            if changed and not module.check_mode:
                _blue_green.switchover(client, identifier, params["switchover_timeout"])
            if (changed or status == _blue_green.SWITCHOVER_IN_PROGRESS) and params["wait"] and not module.check_mode:
                _blue_green.wait_switched_over(client, identifier, params["wait_timeout"])
            if changed and not module.check_mode:
                record = _blue_green.read(client, retry, identifier)[0]
        result = _summary(client, retry, record)
    except (_blue_green.BlueGreenError, RdsReadError) as e:
        if e.exception is None:
            module.fail_json(msg=e.message)
        module.fail_json_aws(e.exception, msg=e.message)
    after = {"status": _blue_green.SWITCHOVER_COMPLETED if changed else result["status"]}
    module.exit_json(changed=changed, blue_green_deployment=result, diff={"before": before, "after": after})


if __name__ == "__main__":
    main()
