# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: rds_iam_policy_document
short_description: Least-privilege C(rds-db:connect) IAM policy from database grants
version_added: 0.1.0
description:
  - Turns a list of grants (a database and the database users an IAM principal may log in as) into an
    IAM policy document that allows C(rds-db:connect) on exactly those
    C(arn:aws:rds-db:REGION:ACCOUNT:dbuser:RESOURCE_ID/USER) resources.
  - The resources are sorted and de-duplicated, so the same grants always give the same document and
    M(amazon.aws.iam_managed_policy) reports no change on a re-run.
  - Wildcards are refused unless O(allow_wildcards=true). The size is checked against the IAM limit.
  - The filter makes no AWS call.
positional: region, account_id
options:
  _input:
    description:
      - The grants. Each is a dict with either C(resource_id) (C(db-...) for an instance, C(cluster-...) for an
        Aurora cluster, C(prx-...) for an RDS Proxy) or C(arn_prefix) (RV(dbauth.rds_iam.rds_iam_enable#module:resource_arn_prefix)
        of M(dbauth.rds_iam.rds_iam_enable)), and C(db_users), a list of database user names.
      - A grant may carry its own C(region) and C(account_id).
    type: list
    elements: dict
    required: true
  region:
    description:
      - AWS region of the databases, for grants given by C(resource_id).
    type: str
  account_id:
    description:
      - AWS account id (12 digits) that owns the databases, for grants given by C(resource_id).
    type: str
  allow_wildcards:
    description:
      - Allow C(*) and C(?) in resource ids and user names. Off by default, because least privilege names exact users.
    type: bool
    default: false
  max_size:
    description:
      - Largest policy size in characters (white space not counted, as IAM counts).
      - The default is the limit of a managed policy; an inline role policy may have 10240.
    type: int
    default: 6144
  split:
    description:
      - When V(true), return a list of documents, each within O(max_size), instead of failing when one
        document would be too large.
    type: bool
    default: false
  sid:
    description:
      - The statement id.
    type: str
    default: RdsIamConnect
"""

EXAMPLES = r"""
- name: Policy for the users of one instance, from the output of rds_iam_enable
  ansible.builtin.set_fact:
    app_policy: "{{ [{'arn_prefix': enable_result.resource_arn_prefix, 'db_users': ['app', 'report']}] | dbauth.rds_iam.rds_iam_policy_document }}"

- name: Policy from resource ids, region and account given to the filter
  ansible.builtin.set_fact:
    app_policy: >-
      {{ [{'resource_id': 'db-ABCDEFGHIJKLMNOPQRSTUVWXY1', 'db_users': ['app']},
          {'resource_id': 'cluster-ABCDEFGHIJKLMNOPQRSTUVWXY2', 'db_users': ['app']}]
         | dbauth.rds_iam.rds_iam_policy_document('eu-west-1', '123456789012') }}
"""

RETURN = r"""
_value:
  description:
    - The policy document (a dict; use C(to_json) to pass it as text), or with O(split=true) a list of them.
  type: raw
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.dbauth.rds_iam.plugins.plugin_utils._policy_document import (
    MANAGED_POLICY_MAX_CHARS,
    PolicyDocumentError,
    policy_documents,
)


def rds_iam_policy_document(grants, region=None, account_id=None, allow_wildcards=False, max_size=MANAGED_POLICY_MAX_CHARS, split=False, sid="RdsIamConnect"):
    try:
        return policy_documents(
            grants,
            region=region,
            account_id=None if account_id is None else str(account_id),
            allow_wildcards=allow_wildcards,
            max_size=int(max_size),
            split=split,
            sid=sid,
        )
    except PolicyDocumentError as e:
        raise AnsibleFilterError("rds_iam_policy_document: %s" % e)


class FilterModule:
    def filters(self):
        return {"rds_iam_policy_document": rds_iam_policy_document}
