# -*- coding: utf-8 -*-

# Copyright: (c) 2026, dbauth.rds_iam developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

# Internal use only: this file is not part of the collection's public interface and may change
# without notice.

"""Read-only AWS reads for rds_iam_verify's diagnosis.

* who the host is (``sts:GetCallerIdentity``);
* which DB instance or cluster serves ``db_host:db_port`` (``rds:DescribeDBInstances`` /
  ``rds:DescribeDBClusters``) and whether IAM database authentication is on;
* what AWS itself decides for the caller (``iam:SimulatePrincipalPolicy`` on the role or user ARN,
  its IAM path kept: the simulation includes the permissions boundary), and the identity policies
  of the caller (role or user: inline, attached, groups, permissions boundary) for _policy_evaluator
  when the caller may not simulate.

Every function takes boto3 clients (tests pass stubbed ones) and raises ``AwsReadError`` with the
AWS error code; nothing here writes to AWS.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

from ansible_collections.amazon.aws.plugins.module_utils.arn import parse_aws_arn
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

try:
    from urllib.parse import unquote
except ImportError:  # pragma: no cover
    from urllib import unquote  # type: ignore

try:
    from botocore.exceptions import BotoCoreError
    from botocore.exceptions import ClientError
    from botocore.exceptions import NoCredentialsError
    from botocore.parsers import ResponseParserError
except ImportError:  # pragma: no cover - AnsibleAWSModule reports the missing library
    class BotoCoreError(Exception):
        pass

    class ResponseParserError(Exception):
        pass

    class ClientError(Exception):
        pass

    class NoCredentialsError(BotoCoreError):
        pass

_RETRY = AWSRetry.jittered_backoff()
EXPIRED_CODES = ("ExpiredToken", "ExpiredTokenException", "RequestExpired", "TokenRefreshRequired")
INVALID_CREDENTIALS_CODES = ("InvalidClientTokenId", "UnrecognizedClientException", "SignatureDoesNotMatch",
                             "InvalidAccessKeyId", "AuthFailure")


class AwsReadError(Exception):
    """A read that failed; ``code`` is the AWS error code (or the botocore exception name)."""

    def __init__(self, message, code):
        super(AwsReadError, self).__init__(message)
        self.code = code


def _call(what, func, **kwargs):
    """``func(**kwargs)`` retried on throttling (AWSRetry); a failure is an AwsReadError with the AWS code."""
    try:
        return _RETRY(func)(**kwargs)
    except NoCredentialsError as e:
        raise AwsReadError("%s: no AWS credentials (%s)" % (what, e), "NoCredentials")
    except ClientError as e:
        err = e.response.get("Error", {})
        code = err.get("Code") or "ClientError"
        raise AwsReadError("%s: %s: %s" % (what, code, err.get("Message", "")), code)
    except (BotoCoreError, ResponseParserError) as e:
        # A response botocore cannot parse (an HTTP 5xx page, a proxy's answer) is a failed read too, not a crash.
        raise AwsReadError("%s: %s: %s" % (what, type(e).__name__, str(e).splitlines()[0]), type(e).__name__)


def _pages(what, client, method, result_key, **kwargs):
    """All items of an IAM or RDS list call, through botocore's paginator."""
    return _call(what, client.get_paginator(method).paginate(**kwargs).build_full_result).get(result_key, [])


# --------------------------------------------------------------------------------------------
# Caller
# --------------------------------------------------------------------------------------------

def caller_identity(sts):
    resp = _call("sts:GetCallerIdentity", sts.get_caller_identity)
    return {"arn": resp.get("Arn"), "account": resp.get("Account"), "user_id": resp.get("UserId")}


def principal_of(arn):
    """(kind, name, partition, account) of a caller ARN: kind is role, user, root or other."""
    parsed = parse_aws_arn(arn or "")
    if parsed is None:
        return "other", None, "aws", None
    partition, service, account, resource = parsed["partition"], parsed["service"], parsed["account_id"], parsed["resource"]
    if service == "sts" and resource.startswith("assumed-role/"):
        return "role", resource.split("/")[1], partition, account
    if service == "iam" and resource.startswith("role/"):
        return "role", resource.rsplit("/", 1)[-1], partition, account
    if service == "iam" and resource.startswith("user/"):
        return "user", resource.rsplit("/", 1)[-1], partition, account
    if service == "iam" and resource == "root":
        return "root", None, partition, account
    return "other", None, partition, account


def _document(value):
    """A policy document as boto3 returns it: a dict, or (URL-encoded) JSON text."""
    if isinstance(value, dict):
        return value
    text = value or "{}"
    try:
        return json.loads(text)
    except ValueError:
        return json.loads(unquote(text))


def _managed_document(iam, arn):
    policy = _call("iam:GetPolicy %s" % arn, iam.get_policy, PolicyArn=arn)["Policy"]
    version = _call("iam:GetPolicyVersion %s" % arn, iam.get_policy_version, PolicyArn=arn,
                    VersionId=policy["DefaultVersionId"])["PolicyVersion"]
    return _document(version.get("Document"))


def _entity_policies(iam, kind, name):
    """Inline, then attached managed policies of one IAM role, user or group, as (label, document).

    The IAM API spells the three kinds alike (list_role_policies / list_user_policies /
    list_group_policies, RoleName / UserName / GroupName, ...), so one reader serves all three.
    """
    title = kind.capitalize()
    name_arg = {title + "Name": name}
    policies = []
    for pname in _pages("iam:List%sPolicies" % title, iam, "list_%s_policies" % kind, "PolicyNames", **name_arg):
        doc = _call("iam:Get%sPolicy" % title, getattr(iam, "get_%s_policy" % kind), PolicyName=pname,
                    **name_arg)["PolicyDocument"]
        policies.append(("%s %s inline policy %s" % (kind, name, pname), _document(doc)))
    for att in _pages("iam:ListAttached%sPolicies" % title, iam, "list_attached_%s_policies" % kind,
                      "AttachedPolicies", **name_arg):
        policies.append((att["PolicyArn"], _managed_document(iam, att["PolicyArn"])))
    return policies


def principal_entity(iam, kind, name):
    """The ``Role`` or ``User`` record of iam:GetRole / iam:GetUser (its ``Arn`` keeps the IAM path)."""
    if kind == "role":
        return _call("iam:GetRole %s" % name, iam.get_role, RoleName=name)["Role"]
    if kind == "user":
        return _call("iam:GetUser %s" % name, iam.get_user, UserName=name)["User"]
    raise ValueError("kind must be role or user")


def principal_source_arn(caller_arn, entity=None):
    """The IAM ARN of the role or user behind ``caller_arn``, for iam:SimulatePrincipalPolicy.

    The entity's own ``Arn`` when it was read (a role at ``/service/app-role`` is
    ``arn:aws:iam::ACCOUNT:role/service/app-role``); an IAM user's caller ARN is already that ARN,
    path included. An assumed-role ARN (``arn:aws:sts::ACCOUNT:assumed-role/NAME/SESSION``) carries
    no path: without the role record the ARN is built with the root path, which is right only for
    roles at ``/``. None for other principals.
    """
    if entity and entity.get("Arn"):
        return entity["Arn"]
    kind, name, partition, account = principal_of(caller_arn)
    if kind == "user":
        return caller_arn
    if kind == "role":
        return "arn:%s:iam::%s:role/%s" % (partition, account, name)
    return None


def collect_policies(iam, kind, name, entity=None):
    """Identity policies of a role or user: (policies, boundary, principal_arn).

    ``policies`` is a list of (label, document); ``boundary`` a (label, document) or None.
    ``entity`` is the record of :func:`principal_entity` when already read.
    """
    if entity is None:
        entity = principal_entity(iam, kind, name)
    if kind == "role":
        policies = _entity_policies(iam, "role", name)
    elif kind == "user":
        policies = _entity_policies(iam, "user", name)
        for group in _pages("iam:ListGroupsForUser", iam, "list_groups_for_user", "Groups", UserName=name):
            policies.extend(_entity_policies(iam, "group", group["GroupName"]))
    else:
        raise ValueError("kind must be role or user")
    boundary = None
    boundary_arn = (entity.get("PermissionsBoundary") or {}).get("PermissionsBoundaryArn")
    if boundary_arn:
        boundary = (boundary_arn, _managed_document(iam, boundary_arn))
    return policies, boundary, entity.get("Arn")


# ContextKeyType of the global keys the diagnosis passes (IAM API reference, "ContextEntry").
_CONTEXT_TYPES = {"aws:securetransport": "boolean", "aws:currenttime": "date", "aws:epochtime": "numeric"}


def simulate(iam, source_arn, action, resource_arn, context=None):
    """What iam:SimulatePrincipalPolicy decides for ``source_arn`` (IAM API reference,
    "SimulatePrincipalPolicy": the principal's identity policies, its groups' for a user, and its
    permissions boundary): a dict with ``decision`` (``allowed``, ``explicitDeny``,
    ``implicitDeny``), ``matched`` (``SourcePolicyId`` of each MatchedStatements entry) and
    ``missing`` (MissingContextValues). ``context`` maps condition keys to string values
    (ContextEntries)."""
    kwargs = dict(PolicySourceArn=source_arn, ActionNames=[action], ResourceArns=[resource_arn])
    if context:
        kwargs["ContextEntries"] = [{"ContextKeyName": k, "ContextKeyValues": [v],
                                     "ContextKeyType": _CONTEXT_TYPES.get(k.lower(), "string")}
                                    for k, v in sorted(context.items())]
    resp = _call("iam:SimulatePrincipalPolicy", iam.simulate_principal_policy, **kwargs)
    results = resp.get("EvaluationResults") or []
    if not results:
        raise AwsReadError("iam:SimulatePrincipalPolicy returned no result", "EmptyResult")
    first = results[0]
    return {"decision": first.get("EvalDecision"),
            "matched": [m.get("SourcePolicyId") for m in first.get("MatchedStatements") or []],
            "missing": list(first.get("MissingContextValues") or [])}


# --------------------------------------------------------------------------------------------
# Database
# --------------------------------------------------------------------------------------------

def _arn_parts(arn):
    """(partition, region, account) of an RDS ARN, each None when unknown."""
    parsed = parse_aws_arn(arn or "") or {}
    return parsed.get("partition"), parsed.get("region") or None, parsed.get("account_id") or None


def _instance_record(db):
    partition, region, account = _arn_parts(db.get("DBInstanceArn"))
    pending = db.get("PendingModifiedValues") or {}
    return {
        "kind": "instance", "identifier": db.get("DBInstanceIdentifier"), "resource_id": db.get("DbiResourceId"),
        "iam_enabled": bool(db.get("IAMDatabaseAuthenticationEnabled")), "engine": db.get("Engine"),
        "status": db.get("DBInstanceStatus"), "partition": partition, "region": region, "account": account,
        "pending_iam": pending.get("IAMDatabaseAuthenticationEnabled"),
    }


def _cluster_record(db):
    partition, region, account = _arn_parts(db.get("DBClusterArn"))
    pending = db.get("PendingModifiedValues") or {}
    return {
        "kind": "cluster", "identifier": db.get("DBClusterIdentifier"), "resource_id": db.get("DbClusterResourceId"),
        "iam_enabled": bool(db.get("IAMDatabaseAuthenticationEnabled")), "engine": db.get("Engine"),
        "status": db.get("Status"), "partition": partition, "region": region, "account": account,
        "pending_iam": pending.get("IAMDatabaseAuthenticationEnabled"),
    }


def describe_cluster(rds, identifier):
    resp = _call("rds:DescribeDBClusters %s" % identifier, rds.describe_db_clusters, DBClusterIdentifier=identifier)
    clusters = resp.get("DBClusters") or []
    if not clusters:
        raise AwsReadError("no DB cluster %s" % identifier, "DBClusterNotFoundFault")
    return _cluster_record(clusters[0])


def describe_instance(rds, identifier):
    resp = _call("rds:DescribeDBInstances %s" % identifier, rds.describe_db_instances,
                 DBInstanceIdentifier=identifier)
    instances = resp.get("DBInstances") or []
    if not instances:
        raise AwsReadError("no DB instance %s" % identifier, "DBInstanceNotFound")
    db = instances[0]
    if db.get("DBClusterIdentifier"):
        return describe_cluster(rds, db["DBClusterIdentifier"])
    return _instance_record(db)


def find_database(rds, host, port):
    """The instance or cluster whose endpoint is host:port (a cluster member resolves to its
    cluster, which holds the IAM setting), or None."""
    host = host.lower().rstrip(".")
    for cluster in _pages("rds:DescribeDBClusters", rds, "describe_db_clusters", "DBClusters"):
        names = [cluster.get("Endpoint"), cluster.get("ReaderEndpoint")] + list(cluster.get("CustomEndpoints") or [])
        if cluster.get("Port") == port and host in [(n or "").lower() for n in names]:
            return _cluster_record(cluster)
    for db in _pages("rds:DescribeDBInstances", rds, "describe_db_instances", "DBInstances"):
        endpoint = db.get("Endpoint") or {}
        if (endpoint.get("Address") or "").lower() == host and endpoint.get("Port") == port:
            if db.get("DBClusterIdentifier"):
                return describe_cluster(rds, db["DBClusterIdentifier"])
            return _instance_record(db)
    return None
