# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

# The filters of this file are documented in the .yml files of the same names beside it.

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


def rds_iam_bridge_config(database, principals, caller_arn, regions, listeners, sts_endpoints=None, ca_file=None,
                          stale_seconds=300):
    try:
        return _plan.bridge_config(database, principals, caller_arn, regions, listeners, sts_endpoints=sts_endpoints,
                                   ca_file=ca_file, stale_seconds=stale_seconds)
    except _plan.ModelError as e:
        _fail("rds_iam_bridge_config", e)


class FilterModule:
    def filters(self):
        return {
            "rds_iam_plan": rds_iam_plan,
            "rds_iam_principal_policies": rds_iam_principal_policies,
            "rds_iam_db_user_databases": rds_iam_db_user_databases,
            "rds_iam_bridge_config": rds_iam_bridge_config,
            "rds_iam_verify_rows": _plan.verify_rows,
            "rds_iam_verify_table": _plan.verify_table,
            "rds_iam_verify_unexpected": _plan.verify_unexpected,
        }
