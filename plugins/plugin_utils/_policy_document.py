# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

# Internal use only: this file is not part of the collection's public interface and may change
# without notice.
"""Least-privilege ``rds-db:connect`` policy documents, computed from grants.

Pure functions (no AWS calls) shared by the ``rds_iam_policy_document`` filter and the modules.
A grant names one database (its resource id, or the ``rds-db`` ARN prefix returned by the
``rds_iam_enable`` module) and the database users an IAM principal may log in as.  The result
lists one exact ``arn:PARTITION:rds-db:REGION:ACCOUNT:dbuser:RESOURCE_ID/USER`` resource per
pair, sorted, so that the same grants always give the same document (idempotent re-runs).
"""

from __future__ import annotations

import json
import re

from ansible_collections.dbauth.rds_iam.plugins.module_utils._rds_databases import rds_db_arn

# IAM quotas, counted without white space as IAM counts them.
MANAGED_POLICY_MAX_CHARS = 6144
INLINE_ROLE_POLICY_MAX_CHARS = 10240

_RESOURCE_ID = re.compile(r"^(db|cluster|prx)-[A-Za-z0-9]+$")
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d+$")
_ACCOUNT = re.compile(r"^\d{12}$")
_ARN_PREFIX = re.compile(
    r"^arn:(?P<partition>aws[a-z-]*):rds-db:(?P<region>[^:]+):(?P<account>[^:]+):dbuser:(?P<resource_id>[^/:]+)$"
)
_WILDCARD_CHARS = ("*", "?")


class PolicyDocumentError(ValueError):
    """A grant that cannot be turned into a policy; the message says what to fix."""


def partition_for_region(region):
    """The ARN partition of an AWS region (China and GovCloud have their own)."""
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def _has_wildcard(value):
    return any(char in value for char in _WILDCARD_CHARS)


def _check_part(label, value, pattern, allow_wildcards, where):
    if not isinstance(value, str) or not value:
        raise PolicyDocumentError("%s: %s must be a non-empty string" % (where, label))
    if _has_wildcard(value):
        if not allow_wildcards:
            raise PolicyDocumentError(
                "%s: %s %r contains a wildcard; least privilege needs an exact value "
                "(set allow_wildcards=true to permit it on purpose)" % (where, label, value)
            )
        return
    if pattern is not None and not pattern.match(value):
        raise PolicyDocumentError("%s: %s %r is not valid" % (where, label, value))


def _grant_database(grant, region, account_id, allow_wildcards, where):
    """Return (partition, region, account, resource_id) for one grant."""
    arn_prefix = grant.get("arn_prefix") or grant.get("resource_arn_prefix")
    resource_id = grant.get("resource_id")
    if bool(arn_prefix) == bool(resource_id):
        raise PolicyDocumentError(
            "%s: give exactly one of resource_id (db-..., cluster-..., prx-...) or arn_prefix "
            "(the resource_arn_prefix returned by rds_iam_enable)" % where
        )
    if arn_prefix:
        match = _ARN_PREFIX.match(arn_prefix)
        if not match:
            raise PolicyDocumentError(
                "%s: arn_prefix %r is not of the form arn:aws:rds-db:REGION:ACCOUNT:dbuser:RESOURCE_ID" % (where, arn_prefix)
            )
        partition, region, account_id, resource_id = match.group("partition", "region", "account", "resource_id")
    else:
        region = grant.get("region", region)
        account_id = str(grant.get("account_id", account_id) or "")
        if not region:
            raise PolicyDocumentError("%s: no region; pass region= to the filter or set it in the grant" % where)
        if not account_id:
            raise PolicyDocumentError("%s: no account id; pass account_id= to the filter or set it in the grant" % where)
        partition = partition_for_region(region)
    _check_part("region", region, _REGION, allow_wildcards, where)
    _check_part("account id", account_id, _ACCOUNT, allow_wildcards, where)
    _check_part("resource id", resource_id, _RESOURCE_ID, allow_wildcards, where)
    return partition, region, account_id, resource_id


def _grant_users(grant, allow_wildcards, where):
    users = grant.get("db_users")
    if users is None and "db_user" in grant:
        users = [grant["db_user"]]
    if isinstance(users, str) or not users:
        raise PolicyDocumentError("%s: db_users must be a non-empty list of database user names" % where)
    for user in users:
        _check_part("database user", user, None, allow_wildcards, where)
        if "/" in user:
            raise PolicyDocumentError("%s: database user %r must not contain '/'" % (where, user))
    return users


def literal_in_policy(text):
    """``text`` as literal characters in a 2012-10-17 policy: every ``$`` written ``${$}``.

    In that version ``${...}`` is a policy variable (a user named ``${aws:username}`` would grant the
    caller's own name); the IAM user guide, "IAM policy elements: Variables and tags", section "Special
    characters", gives ``${$}`` for a literal ``$``.
    """
    return text.replace("$", "${$}")


def connect_resources(grants, region=None, account_id=None, allow_wildcards=False):
    """The sorted, de-duplicated ``rds-db:connect`` resource ARNs for ``grants``."""
    if isinstance(grants, dict):
        grants = [grants]
    if not isinstance(grants, list) or not grants:
        raise PolicyDocumentError("grants must be a non-empty list of dicts (resource_id or arn_prefix, db_users)")
    resources = set()
    for index, grant in enumerate(grants):
        where = "grant %d" % index
        if not isinstance(grant, dict):
            raise PolicyDocumentError("%s: expected a dict, got %s" % (where, type(grant).__name__))
        unknown = set(grant) - {"arn_prefix", "resource_arn_prefix", "resource_id", "region", "account_id", "db_users", "db_user"}
        if unknown:
            raise PolicyDocumentError("%s: unknown keys %s" % (where, ", ".join(sorted(unknown))))
        partition, grant_region, grant_account, resource_id = _grant_database(grant, region, account_id, allow_wildcards, where)
        for user in _grant_users(grant, allow_wildcards, where):
            resources.add(rds_db_arn(partition, grant_region, grant_account, resource_id, literal_in_policy(user)))
    return sorted(resources)


def _document(resources, sid):
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": sid,
                "Effect": "Allow",
                "Action": "rds-db:connect",
                "Resource": resources if len(resources) > 1 else resources[0],
            }
        ],
    }


def policy_size(document):
    """The size IAM counts: the JSON text without white space."""
    return len(json.dumps(document, separators=(",", ":")))


def policy_documents(grants, region=None, account_id=None, allow_wildcards=False, max_size=MANAGED_POLICY_MAX_CHARS, split=False, sid="RdsIamConnect"):
    """Build the policy document(s) for ``grants``.

    Returns one document, or with ``split`` a list of documents each within ``max_size`` (to attach
    as several managed policies).  Without ``split`` a document over ``max_size`` is an error that
    says how to fix it.
    """
    if not re.match(r"^[A-Za-z0-9]+$", sid or ""):
        raise PolicyDocumentError("sid %r must be alphanumeric" % (sid,))
    resources = connect_resources(grants, region=region, account_id=account_id, allow_wildcards=allow_wildcards)
    whole = _document(resources, sid)
    if not split:
        size = policy_size(whole)
        if size > max_size:
            raise PolicyDocumentError(
                "the policy for %d database users is %d characters, over the IAM limit of %d; "
                "use split=true to get several policies, or fewer users per principal" % (len(resources), size, max_size)
            )
        return whole
    documents = []
    chunk = []
    for resource in resources:
        candidate = chunk + [resource]
        if chunk and policy_size(_document(candidate, sid)) > max_size:
            documents.append(_document(chunk, sid))
            candidate = [resource]
        if policy_size(_document(candidate, sid)) > max_size:
            raise PolicyDocumentError("the resource %s alone does not fit in a policy of %d characters" % (resource, max_size))
        chunk = candidate
    documents.append(_document(chunk, sid))
    return documents
