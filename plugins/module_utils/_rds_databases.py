# -*- coding: utf-8 -*-

# Copyright: Contributors to the dbauth.rds_iam collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

# This module_util is for internal use only, not part of the public API: it may change or go away
# in any release.

"""Read many RDS DB instances and DB clusters with a constant number of paginated calls.

Shared by rds_iam_info (what it returns) and rds_iam_enable (its batch mode). The cost does not
grow with a call per database:

- one paginated DescribeDBInstances, with a C(db-instance-id) filter of at most
  L(FILTER_CHUNK) identifiers per call when identifiers are given, all instances otherwise;
- one paginated DescribeDBClusters the same way (for the clusters asked for and the clusters
  the instances found are members of);
- for the TLS setting, one paginated parameter read per distinct parameter group;
- one paginated DescribeDBClusterEndpoints, only when a cluster found has custom endpoints.

Every call is retried with the retry decorator of the caller (amazon.aws AWSRetry).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

try:
    from botocore.exceptions import BotoCoreError
    from botocore.exceptions import ClientError
except ImportError:
    pass  # handled by AnsibleAWSModule

from ansible_collections.amazon.aws.plugins.module_utils.arn import parse_aws_arn
from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.botocore import paginated_query_with_retries
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from ansible_collections.amazon.aws.plugins.module_utils.transformation import camel_dict_to_snake_dict

# Identifiers per Filter of one Describe call (the RDS API takes lists of this size).
FILTER_CHUNK = 100

# The parameter that makes the server refuse connections without TLS, by engine.
TLS_PARAMETERS = {
    "postgres": "rds.force_ssl",
    "aurora-postgresql": "rds.force_ssl",
    "mysql": "require_secure_transport",
    "mariadb": "require_secure_transport",
    "aurora-mysql": "require_secure_transport",
    "aurora": "require_secure_transport",
}
TRUE_VALUES = ("1", "on", "true")

PARAMETER_GROUP_NOT_FOUND = ("DBParameterGroupNotFound", "DBParameterGroupNotFoundFault")


class RdsReadError(Exception):
    """A describe call failed. message: safe to show; exception: the botocore exception."""

    def __init__(self, message, exception=None):
        super(RdsReadError, self).__init__(message)
        self.message = message
        self.exception = exception


KINDS = {
    "instance": dict(
        paginator="describe_db_instances",
        items="DBInstances",
        filter="db-instance-id",
        id_key="DBInstanceIdentifier",
        option="db_instance_identifier",
    ),
    "cluster": dict(
        paginator="describe_db_clusters",
        items="DBClusters",
        filter="db-cluster-id",
        id_key="DBClusterIdentifier",
        option="db_cluster_identifier",
    ),
}


def default_retry():
    return AWSRetry.jittered_backoff(retries=10)


def _chunks(values, size=FILTER_CHUNK):
    values = list(values)
    for start in range(0, len(values), size):
        yield values[start:start + size]


def describe(client, kind, identifiers=None, retry=None):
    """Records of the DB instances or clusters (kind) by lower-cased identifier.

    identifiers=None reads all of them; otherwise only those (RDS identifiers are case-insensitive
    and stored lower-case); an empty list makes no call. Absent identifiers are simply missing
    from the result.
    """
    spec = KINDS[kind]
    retry = retry or default_retry()
    if identifiers is None:
        queries = [{}]
    else:
        wanted = sorted(set(i.lower() for i in identifiers))
        queries = [{"Filters": [{"Name": spec["filter"], "Values": chunk}]} for chunk in _chunks(wanted)]
    found = {}
    for query in queries:
        try:
            result = paginated_query_with_retries(client, spec["paginator"], retry_decorator=retry, **query)
        except (ClientError, BotoCoreError) as e:
            raise RdsReadError("Failed to describe the DB %ss" % kind, exception=e)
        for record in result.get(spec["items"], []):
            found[record[spec["id_key"]].lower()] = record
    return found


def identifier_of(kind, record):
    return record.get(KINDS[kind]["id_key"])


def resource_id_of(kind, record):
    return record.get("DbiResourceId" if kind == "instance" else "DbClusterResourceId")


def arn_of(kind, record):
    return record.get("DBInstanceArn" if kind == "instance" else "DBClusterArn")


def status_of(kind, record):
    return record.get("DBInstanceStatus" if kind == "instance" else "Status")


def endpoint_of(kind, record):
    """{address, port}: the instance's endpoint, or the cluster's writer endpoint."""
    if kind == "instance":
        endpoint = record.get("Endpoint") or {}
        return {"address": endpoint.get("Address"), "port": endpoint.get("Port")}
    return {"address": record.get("Endpoint"), "port": record.get("Port")}


def rds_db_arn(partition, region, account, resource_id, db_user=None):
    """The resource of ``rds-db:connect``: arn:PARTITION:rds-db:REGION:ACCOUNT:dbuser:RESOURCE_ID[/DB_USER].

    The collection's one builder of that ARN (AWS RDS user guide, "Creating and using an IAM policy for
    IAM database access"); without ``db_user`` it is the prefix of every user of the database.
    """
    prefix = "arn:%s:rds-db:%s:%s:dbuser:%s" % (partition, region, account, resource_id)
    return prefix if db_user is None else "%s/%s" % (prefix, db_user)


def resource_arn_prefix(arn, resource_id, region=None):
    """C(arn:PARTITION:rds-db:REGION:ACCOUNT:dbuser:RESOURCE_ID) from the instance or cluster ARN.

    Partition, region and account come from the ARN (amazon.aws's parser); region falls back to
    C(region) when the ARN has none. None when the resource id or the account is unknown.
    """
    parsed = parse_aws_arn(arn) if arn else None
    parsed = parsed or {}
    partition = parsed.get("partition") or "aws"
    region = parsed.get("region") or region
    account = parsed.get("account_id")
    if not (resource_id and account and region):
        return None
    return rds_db_arn(partition, region, account, resource_id)


def _parameter_group_of(kind, record, clusters):
    """(kind of group, name) whose TLS parameter applies: a member instance uses its cluster's."""
    if kind == "instance":
        cluster = clusters.get((record.get("DBClusterIdentifier") or "").lower())
        if cluster is None:
            groups = record.get("DBParameterGroups") or []
            name = groups[0].get("DBParameterGroupName") if groups else None
            return ("instance", name) if name else None
        record = cluster
    name = record.get("DBClusterParameterGroup")
    return ("cluster", name) if name else None


def _read_parameters(client, group, names, retry):
    """{name: value} of the parameters in names set in group (one paginated read)."""
    kind, group_name = group
    if kind == "instance":
        query = dict(DBParameterGroupName=group_name)
        paginator = "describe_db_parameters"
    else:
        query = dict(DBClusterParameterGroupName=group_name)
        paginator = "describe_db_cluster_parameters"
    result = paginated_query_with_retries(client, paginator, retry_decorator=retry, **query)
    values = {}
    for parameter in result.get("Parameters", []):
        if parameter.get("ParameterName") in names:
            values[parameter["ParameterName"]] = parameter.get("ParameterValue")
    return values


def enforced(parameter, value):
    if value is None:
        return None
    return str(value).strip().lower() in TRUE_VALUES


def read_tls(client, databases, clusters, retry=None):
    """TLS setting of each (kind, record) in databases: a list of {parameter, value, enforced}.

    clusters: every cluster record known, by lower-cased identifier (member instances use theirs).
    Returns (tls list in the order of databases, warnings). One read per distinct parameter group;
    a group that cannot be read gives a warning and null values, never an error.
    """
    retry = retry or default_retry()
    wanted = {}
    plan = []
    for kind, record in databases:
        parameter = TLS_PARAMETERS.get(record.get("Engine"))
        group = _parameter_group_of(kind, record, clusters) if parameter else None
        plan.append((parameter, group))
        if group:
            wanted.setdefault(group, set()).add(parameter)
    values = {}
    warnings = []
    for group in sorted(wanted):
        try:
            values[group] = _read_parameters(client, group, wanted[group], retry)
        except is_boto3_error_code(PARAMETER_GROUP_NOT_FOUND + ("AccessDenied",)) as e:
            values[group] = {}
            warnings.append(
                "Could not read %s from the %s parameter group '%s': %s"
                % (" and ".join(sorted(wanted[group])), "DB cluster" if group[0] == "cluster" else "DB",
                   group[1], e.response["Error"].get("Message") or e.response["Error"]["Code"])
            )
        except (ClientError, BotoCoreError) as e:  # pylint: disable=duplicate-except
            raise RdsReadError("Failed to read the parameter group '%s'" % group[1], exception=e)
    tls = []
    for parameter, group in plan:
        value = values.get(group, {}).get(parameter) if group else None
        tls.append({"parameter": parameter, "value": value, "enforced": enforced(parameter, value)})
    return tls, warnings


def read_custom_endpoints(client, clusters, retry=None):
    """Custom endpoints by lower-cased cluster identifier; no call unless a cluster lists some."""
    if not any(record.get("CustomEndpoints") for record in clusters.values()):
        return {}
    retry = retry or default_retry()
    try:
        result = paginated_query_with_retries(
            client,
            "describe_db_cluster_endpoints",
            retry_decorator=retry,
            Filters=[{"Name": "db-cluster-endpoint-type", "Values": ["custom"]}],
        )
    except (ClientError, BotoCoreError) as e:
        raise RdsReadError("Failed to describe the custom endpoints of the DB clusters", exception=e)
    endpoints = {}
    for item in result.get("DBClusterEndpoints", []):
        cluster_id = (item.get("DBClusterIdentifier") or "").lower()
        cluster = clusters.get(cluster_id) or {}
        endpoints.setdefault(cluster_id, []).append(
            {
                "name": item.get("DBClusterEndpointIdentifier"),
                "address": item.get("Endpoint"),
                "port": cluster.get("Port"),
                "type": item.get("CustomEndpointType"),
            }
        )
    return endpoints


def summary(kind, record, region=None):
    """What both modules return for one record: identifier, ids, engine, endpoint, IAM setting."""
    resource_id = resource_id_of(kind, record)
    result = {
        KINDS[kind]["option"]: identifier_of(kind, record),
        "resource_id": resource_id,
        "resource_arn_prefix": resource_arn_prefix(arn_of(kind, record), resource_id, region),
        "engine": record.get("Engine"),
        "engine_version": record.get("EngineVersion"),
        "endpoint": endpoint_of(kind, record),
        "iam_database_authentication_enabled": bool(record.get("IAMDatabaseAuthenticationEnabled")),
        "status": status_of(kind, record),
    }
    if kind == "instance":
        # Read replicas are DB instances of their own (own resource id and IAM setting); a cross-Region one is
        # listed by its ARN (RDS API reference, "DBInstance", ReadReplicaDBInstanceIdentifiers).
        result["read_replicas"] = list(record.get("ReadReplicaDBInstanceIdentifiers") or [])
        result["read_replica_source"] = record.get("ReadReplicaSourceDBInstanceIdentifier")
    else:
        result["global_cluster_identifier"] = record.get("GlobalClusterIdentifier")
    return result


def info(kind, record, tls, custom_endpoints, region=None):
    """One entry of rds_iam_info's RV(databases)."""
    result = summary(kind, record, region)
    result.update(
        kind=kind,
        arn=arn_of(kind, record),
        port=result["endpoint"]["port"],
        pending=camel_dict_to_snake_dict(record.get("PendingModifiedValues") or {}),
        tls=tls,
    )
    if kind == "instance":
        result["member_of_cluster"] = record.get("DBClusterIdentifier")
        if result["port"] is None:
            result["port"] = record.get("DbInstancePort") or None
    else:
        result["reader_endpoint"] = {"address": record.get("ReaderEndpoint"), "port": record.get("Port")}
        result["custom_endpoints"] = custom_endpoints.get(identifier_of(kind, record).lower(), [])

    return result


def gather(client, instance_ids=None, cluster_ids=None, region=None, retry=None):
    """What rds_iam_info returns: (databases, not_found, warnings).

    Both None: every instance and cluster. Otherwise only those asked for (an empty list: none), in
    the order asked (duplicates once); not_found lists the identifiers asked for that do not exist.
    """
    retry = retry or default_retry()
    everything = instance_ids is None and cluster_ids is None
    instance_ids = _unique(instance_ids or [])
    cluster_ids = _unique(cluster_ids or [])

    instances = {}
    if everything or instance_ids:
        instances = describe(client, "instance", None if everything else instance_ids, retry)
    if everything:
        clusters = describe(client, "cluster", None, retry)
    else:
        members = [r.get("DBClusterIdentifier") for r in instances.values() if r.get("DBClusterIdentifier")]
        clusters = describe(client, "cluster", cluster_ids + members, retry)

    if everything:
        chosen = [("instance", r) for k, r in sorted(instances.items())]
        chosen += [("cluster", r) for k, r in sorted(clusters.items())]
    else:
        chosen = [("instance", instances[i.lower()]) for i in instance_ids if i.lower() in instances]
        chosen += [("cluster", clusters[i.lower()]) for i in cluster_ids if i.lower() in clusters]
    not_found = {
        "db_instance_identifiers": [i for i in instance_ids if i.lower() not in instances],
        "db_cluster_identifiers": [i for i in cluster_ids if i.lower() not in clusters],
    }

    tls, warnings = read_tls(client, chosen, clusters, retry)
    shown_clusters = dict((identifier_of(k, r).lower(), r) for k, r in chosen if k == "cluster")
    endpoints = read_custom_endpoints(client, shown_clusters, retry)
    databases = [info(kind, record, t, endpoints, region) for (kind, record), t in zip(chosen, tls)]
    return databases, not_found, warnings


def _unique(values):
    seen = set()
    result = []
    for value in values:
        if value.lower() not in seen:
            seen.add(value.lower())
            result.append(value)
    return result
