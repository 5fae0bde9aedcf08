# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: rds_iam_plan
short_description: Check the whole data model and turn it into the plan every role reads
version_added: 0.2.0
description:
  - Validates C(rds_iam_databases), C(rds_iam_principals) and the variables of the target hosts against one schema
    (types, choices, suboptions; unknown keys are refused with the closest known key), checks that every reference
    resolves (principals, databases and users in host logins) and that nothing is listed twice, and normalises the
    result into the plan. A model with problems fails with all of them, each naming the entry and the key, before
    anything changes.
  - The plan holds no secret (admin passwords stay in the data model).
  - Makes no AWS call; give O(discovered) (what M(dbauth.rds_iam.rds_iam_info) or M(dbauth.rds_iam.rds_iam_enable)
    returned) to add resource ids, C(rds-db) ARN prefixes and endpoints.
options:
  _input:
    description: The databases (C(rds_iam_databases)); V(null) means the variable is not defined.
    type: list
    elements: dict
    required: true
  principals:
    description: The IAM principals (C(rds_iam_principals)). Omitted, principal names are not checked.
    type: list
    elements: dict
  hostvars:
    description: C(hostvars), to read the variables of O(targets) and to find misspelt C(rds_iam_*) variables.
    type: dict
  targets:
    description: The target hosts (C(groups['rds_iam_targets'])).
    type: list
    elements: str
  controller:
    description: The host the play runs on (C(inventory_hostname)); its C(rds_iam_*) variable names are checked.
    type: str
  hosts:
    description: Variables of target hosts given directly, host name to variables (instead of O(hostvars)).
    type: dict
  discovered:
    description: The databases as AWS reports them (resource ids, endpoints); every planned database must be there.
    type: list
    elements: dict
  allow_empty:
    description: An empty or missing database list is an error unless this is V(true).
    type: bool
    default: false
  require_endpoints:
    description: Fail when a database has no endpoint (neither O(discovered) nor an C(endpoint) override).
    type: bool
    default: false
  check_admin:
    description: Require an C(admin) login on every database that has users (V(false) for steps that do not log in as admin).
    type: bool
    default: true
"""

EXAMPLES = r"""
- name: Check the data model and make the plan
  ansible.builtin.set_fact:
    rds_iam_plan: >-
      {{ rds_iam_databases | default(none) | dbauth.rds_iam.rds_iam_plan(principals=rds_iam_principals | default([]),
         hostvars=hostvars, targets=groups['rds_iam_targets'] | default([]), controller=inventory_hostname) }}
"""

RETURN = r"""
_value:
  description:
    - The plan, with C(databases) (id, kind, engine, family, endpoint, resource ids, admin login without password,
      users), C(principals) (with their C(grants)), C(hosts) (per target host its principal and logins, each with
      C(granted)), C(families) and C(empty).
  type: dict
"""

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError
from ansible_collections.amazon.aws.plugins.module_utils.arn import parse_aws_arn

from ansible_collections.dbauth.rds_iam.plugins.plugin_utils import _plan
from ansible_collections.dbauth.rds_iam.plugins.plugin_utils._model_schema import HOST_OPTIONS


def _host_variables(hostvars, targets):
    hosts = {}
    for name in targets or []:
        variables = hostvars[name]
        hosts[name] = {key: variables[key] for key in HOST_OPTIONS if key in variables}
    return hosts


def _variable_names(hostvars, names):
    found = set()
    for name in names:
        if name and name in hostvars:
            found.update(key for key in hostvars[name].keys() if isinstance(key, str) and key.startswith("rds_iam_"))
    return found


def _fail(name, error):
    raise AnsibleFilterError("%s: %s" % (name, error))


def rds_iam_plan(databases, principals=None, hostvars=None, targets=None, controller=None, hosts=None, discovered=None,
                 allow_empty=False, require_endpoints=False, check_admin=True):
    if hosts is None and hostvars is not None:
        hosts = _host_variables(hostvars, targets)
    variables = _variable_names(hostvars, list(targets or []) + [controller]) if isinstance(hostvars, Mapping) else None
    try:
        return _plan.build_plan(databases, principals=principals, hosts=hosts, discovered=discovered, allow_empty=allow_empty,
                                variables=variables, require_endpoints=require_endpoints, check_admin=check_admin)
    except _plan.ModelError as e:
        _fail("rds_iam_plan", e)


def rds_iam_principal_policies(plan, prefix, path, caller_arn, allow_wildcards=False, max_policies=10, revoke=False):
    caller = parse_aws_arn(caller_arn)
    try:
        return _plan.principal_policies(plan, prefix, path, caller["account_id"], partition=caller["partition"],
                                        allow_wildcards=allow_wildcards, max_policies=int(max_policies), revoke=revoke)
    except _plan.ModelError as e:
        _fail("rds_iam_principal_policies", e)


def rds_iam_db_user_databases(plan_databases, source_databases, state="present"):
    try:
        return _plan.db_user_databases(plan_databases, source_databases, state=state)
    except _plan.ModelError as e:
        _fail("rds_iam_db_user_databases", e)


class FilterModule:
    def filters(self):
        return {
            "rds_iam_plan": rds_iam_plan,
            "rds_iam_principal_policies": rds_iam_principal_policies,
            "rds_iam_db_user_databases": rds_iam_db_user_databases,
            "rds_iam_verify_rows": _plan.verify_rows,
            "rds_iam_verify_table": _plan.verify_table,
            "rds_iam_verify_unexpected": _plan.verify_unexpected,
        }
