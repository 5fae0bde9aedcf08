#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright: Contributors to the dbauth.rds_iam collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: rds_iam_grants
short_description: Apply the rds-db:connect managed policies, IAM roles and instance profiles of many principals at once
version_added: 0.2.0
description:
  - Applies, in one invocation, what the C(dbauth.rds_iam.iam_access) role grants to every IAM principal, the
    least-privilege C(rds-db:connect) managed policies (one or more per principal), the principal's IAM role with
    its trust and the policies attached, and an instance profile for EC2 trust; or, with O(state=absent),
    removes them again.
  - O(principals) takes exactly the entries that the filter C(dbauth.rds_iam.rds_iam_principal_policies) returns.
  - With O(state=present), per principal, each managed policy is created, or given a new default version when its
    document differs (documents are compared as JSON objects), keeping only that version; the role is created
    with its trust, path, description, maximum session duration and O(tags) when the principal has trust, and its
    trust, description and maximum session duration are updated when they differ; the policies are attached (other
    policies attached to the role are never detached); the instance profile is created with the role in it; then
    the principal's policies that are no longer needed (a split that shrank) are detached from every entity and
    deleted.
  - A principal without trust must have its IAM role already. Every principal is read before anything is written,
    and a missing role fails the module, naming the principals, before any change.
  - With O(state=absent), every policy of the principals (O(policy_prefix) + name, and the C(-partN) parts, under
    O(policy_path)) is detached from every entity and deleted; a role (and its instance profile) is deleted only
    when it carries all of O(tags), that is, when the collection created it. Other roles only lose the policies.
  - The cost does not grow with a module start per object. One paginated ListPolicies of O(policy_path); per
    principal GetRole, ListAttachedRolePolicies and, for an instance profile, ListInstanceProfilesForRole; per
    existing policy GetPolicy and GetPolicyVersion. Writes are made only where something differs. Principals are
    handled in parallel, O(concurrency) at a time.
  - A principal that fails (an AWS error) does not stop the others. Each result is returned; the module then fails
    with a message that names every failed principal.
  - Throttled AWS calls are retried with jittered backoff; right after a role is created, calls that name it are
    retried while IAM does not know it yet (IAM is eventually consistent).
options:
  principals:
    description:
      - The principals, as the filter C(dbauth.rds_iam.rds_iam_principal_policies) returns them.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: The IAM role name.
        type: str
        required: true
      trust:
        description:
          - V(ec2), or a list of account ids and principal ARNs, or null.
          - Null means that the role exists already and only gets its policies; it is never created or changed.
        type: raw
      trust_document:
        description: The assume-role policy document of the role (required with O(principals[].trust)).
        type: dict
      path:
        description: IAM path of the role and instance profile when they are created (default O(role_path)).
        type: str
      description:
        description: Description of the role created (a default naming the collection otherwise).
        type: str
      max_session_duration:
        description: Maximum session duration of the role, in seconds.
        type: int
      instance_profile:
        description: Whether the principal gets an instance profile of the same name with its role in it.
        type: bool
        default: false
      policies:
        description:
          - The principal's managed policies, in order; each name is O(policy_prefix) + the principal's name, then
            C(-part2), C(-part3), and so on. An empty list removes every policy of the principal.
        type: list
        elements: dict
        default: []
        suboptions:
          name:
            description: The policy name.
            type: str
            required: true
          arn:
            description: The ARN the policy has (or will have) under O(policy_path).
            type: str
          document:
            description: The policy document.
            type: dict
            required: true
  policy_path:
    description: The IAM path of the managed policies; only policies exactly under it are considered.
    type: str
    default: /dbauth-rds-iam/
  policy_prefix:
    description: The prefix of the managed policy names.
    type: str
    default: rds-iam-connect-
  role_path:
    description: The IAM path of the roles and instance profiles created, unless a principal gives O(principals[].path).
    type: str
    default: /
  tags:
    description:
      - The tags put on every policy, role and instance profile created (existing ones get the missing tags).
      - The ownership marker, with O(state=absent) only a role that carries all of them is deleted. Must not be empty.
    type: dict
    default:
      managed-by: dbauth.rds_iam.iam_access
  max_policies:
    description:
      - The highest part number looked for when finding the policies a principal no longer needs (and, with
        O(state=absent), all of its policies); AWS allows at most 20 managed policies per role.
    type: int
    default: 20
  state:
    description: V(present) applies the grants, V(absent) removes them.
    type: str
    choices: [present, absent]
    default: present
  concurrency:
    description: How many principals are read and written at the same time (threads).
    type: int
    default: 8
  prune:
    description:
      - With O(state=present), also remove what principals that O(principals) no longer names still have, their
        policies under O(policy_path) named O(policy_prefix) + name (+ C(-partN)) and, when it carries all of O(tags),
        their role and instance profile, as O(state=absent) removes them.
      - Only when every one of such a principal's policies carries all of O(tags) (the collection created them);
        otherwise the principal is left alone and named in RV(prune_refused).
      - Check mode and diff show what would be removed.
    type: bool
    default: false
    version_added: 0.2.0
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
    description: Reads everything, writes nothing, and returns the actions that would be taken.
  diff_mode:
    support: full
    description: Per principal, the policies' documents, the attached policy ARNs and the trust, before and after.
notes:
  - Managed policies cannot change path or description; a policy of the same name under another path is an error.
  - Only the default version of an existing policy is read; when it has to change, the other versions are deleted.
seealso:
  - module: amazon.aws.iam_managed_policy
  - module: amazon.aws.iam_role
  - module: amazon.aws.iam_instance_profile
"""

EXAMPLES = r"""
- name: Plan each principal's policies
  ansible.builtin.set_fact:
    principals: >-
      {{ rds_iam_databases | dbauth.rds_iam.rds_iam_plan(principals=rds_iam_principals, check_admin=false,
           discovered=info.databases)
         | dbauth.rds_iam.rds_iam_principal_policies('rds-iam-connect-', '/dbauth-rds-iam/', caller.arn) }}

- name: Apply them, all principals in one call
  dbauth.rds_iam.rds_iam_grants:
    principals: "{{ principals }}"
  register: grants

- name: The ARN of each principal's role
  ansible.builtin.debug:
    msg: "{{ grants.principals | items2dict(key_name='name', value_name='role_arn') }}"

- name: Revoke (roles created by the collection are deleted, others only lose the policies)
  dbauth.rds_iam.rds_iam_grants:
    principals: "{{ principals }}"
    state: absent
"""

RETURN = r"""
principals:
  description: One entry per entry of O(principals), in the same order, also when the module fails.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: The principal's name.
      returned: always
      type: str
      sample: app-role
    role_arn:
      description:
        - The role's ARN; null when the role would be created (check mode), was deleted, or does not exist.
      returned: always
      type: str
      sample: arn:aws:iam::123456789012:role/app-role
    policy_arns:
      description: The ARNs of the principal's managed policies, in order (empty with O(state=absent)).
      returned: always
      type: list
      elements: str
      sample: [arn:aws:iam::123456789012:policy/dbauth-rds-iam/rds-iam-connect-app-role]
    policy_arn:
      description: The first of RV(principals[].policy_arns), null when there is none.
      returned: always
      type: str
      sample: arn:aws:iam::123456789012:policy/dbauth-rds-iam/rds-iam-connect-app-role
    policy_documents:
      description: The documents of RV(principals[].policy_arns), in order.
      returned: always
      type: list
      elements: dict
      sample: [{"Version": "2012-10-17", "Statement": [{"Sid": "RdsIamConnect", "Effect": "Allow",
                "Action": "rds-db:connect", "Resource": ["arn:aws:rds-db:eu-west-1:123456789012:dbuser:db-ABC/app"]}]}]
    policy_document:
      description: The first of RV(principals[].policy_documents), null when there is none.
      returned: always
      type: dict
      sample: {"Version": "2012-10-17", "Statement": []}
    changed:
      description: Whether anything of this principal was (or, in check mode, would be) changed.
      returned: always
      type: bool
      sample: true
    actions:
      description: What was (or would be) done, in order.
      returned: always
      type: list
      elements: str
      sample: ["created policy arn:aws:iam::123456789012:policy/dbauth-rds-iam/rds-iam-connect-app-role",
               "created role app-role", "attached arn:aws:iam::123456789012:policy/dbauth-rds-iam/rds-iam-connect-app-role"]
    role_deleted:
      description: Whether the role was (or would be) deleted.
      returned: when O(state=absent)
      type: bool
      sample: false
    failed:
      description: V(true) when this principal failed; absent otherwise.
      returned: when the principal failed
      type: bool
      sample: true
    msg:
      description: Why this principal failed.
      returned: when the principal failed
      type: str
      sample: "Failed to read the IAM role and policies of app-role: AccessDenied: ..."
pruned:
  description:
    - With O(prune), one entry per principal no longer named whose policies (and tagged role) were (or would be)
      removed, shaped as RV(principals) with O(state=absent).
  returned: always
  type: list
  elements: dict
  sample: [{"name": "old-role", "role_deleted": true, "changed": true,
            "actions": ["deleted policy arn:aws:iam::123456789012:policy/dbauth-rds-iam/rds-iam-connect-old-role"]}]
prune_refused:
  description: With O(prune), a sentence per principal no longer named that was left alone (its policies lack O(tags)).
  returned: always
  type: list
  elements: str
  sample: ["hand-made: the policies rds-iam-connect-hand-made do not carry the tags managed-by=dbauth.rds_iam.iam_access, ..."]
"""

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

from ansible_collections.dbauth.rds_iam.plugins.module_utils import _iam_grants
from ansible_collections.dbauth.rds_iam.plugins.module_utils import _aws_session
from ansible_collections.dbauth.rds_iam.plugins.module_utils._batch import CONCURRENCY_SPEC
from ansible_collections.dbauth.rds_iam.plugins.module_utils._batch import check_concurrency
from ansible_collections.dbauth.rds_iam.plugins.module_utils._aws_session import assume_role_argument_spec

POLICY_SPEC = dict(
    name=dict(type="str", required=True),
    arn=dict(type="str"),
    document=dict(type="dict", required=True),
)

PRINCIPAL_SPEC = dict(
    name=dict(type="str", required=True),
    trust=dict(type="raw"),
    trust_document=dict(type="dict"),
    path=dict(type="str"),
    description=dict(type="str"),
    max_session_duration=dict(type="int"),
    instance_profile=dict(type="bool", default=False),
    policies=dict(type="list", elements="dict", default=[], options=POLICY_SPEC),
)


def main():
    argument_spec = dict(
        principals=dict(type="list", elements="dict", required=True, options=PRINCIPAL_SPEC),
        policy_path=dict(type="str", default="/dbauth-rds-iam/"),
        policy_prefix=dict(type="str", default="rds-iam-connect-"),
        role_path=dict(type="str", default="/"),
        tags=dict(type="dict", default={"managed-by": "dbauth.rds_iam.iam_access"}),
        max_policies=dict(type="int", default=20),
        state=dict(type="str", default="present", choices=["present", "absent"]),
        concurrency=dict(CONCURRENCY_SPEC),
        prune=dict(type="bool", default=False),
    )
    argument_spec.update(assume_role_argument_spec())
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)

    params = dict(module.params)
    params["principals"] = _iam_grants.copy_principals(module.params["principals"])
    error = check_concurrency(params["concurrency"]) or _iam_grants.validate(params)
    if error:
        module.fail_json(msg=error)

    retry = AWSRetry.jittered_backoff(retries=10)
    iam = _aws_session.client(module, "iam", retry_decorator=retry)
    ensure = _iam_grants.ensure_present if params["state"] == "present" else _iam_grants.ensure_absent
    try:
        changed, results, diff, failed, fatal = ensure(iam, params, module.check_mode, retry)
    except _iam_grants.GrantsError as e:
        if e.exception is not None:
            module.fail_json_aws(e.exception, msg=e.message)
        module.fail_json(msg=e.message)
    if fatal:
        module.fail_json(msg=fatal, changed=False, principals=results)
    if failed:
        module.fail_json(
            msg="%d of %d principals failed: %s" % (
                len(failed), len(results),
                "; ".join("%s: %s" % (r["name"], r["msg"]) for r in results if r.get("failed"))),
            changed=changed, principals=results, diff=diff,
        )
    pruned, refused = [], []
    if params["prune"] and params["state"] == "present":
        try:
            pruned_changed, pruned, pruned_diff, refused = _iam_grants.prune(iam, params, module.check_mode, retry)
        except _iam_grants.GrantsError as e:
            if e.exception is not None:
                module.fail_json_aws(e.exception, msg=e.message)
            module.fail_json(msg=e.message)
        changed = changed or pruned_changed
        for side in ("before", "after"):
            diff.setdefault(side, {"principals": {}})["principals"].update(pruned_diff[side]["principals"])
        failed_pruning = [r for r in pruned if r.get("failed")]
        if failed_pruning:
            module.fail_json(msg="pruning failed for %s" % "; ".join("%s: %s" % (r["name"], r["msg"]) for r in failed_pruning),
                             changed=changed, principals=results, pruned=pruned, prune_refused=refused, diff=diff)
    module.exit_json(changed=changed, principals=results, diff=diff, pruned=pruned, prune_refused=refused)


if __name__ == "__main__":
    main()
