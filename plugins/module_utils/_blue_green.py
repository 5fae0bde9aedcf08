# -*- coding: utf-8 -*-

# Copyright: Contributors to the dbauth.rds_iam collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

# This module_util is for internal use only, not part of the public API: it may change or go away
# in any release.

"""RDS Blue/Green deployments as IAM database authentication sees them.

AWS rules relied on (RDS user guide, "Overview of Amazon RDS Blue/Green Deployments" and "Switching a
blue/green deployment in Amazon RDS"; RDS API reference, "DBInstance", DbiResourceId: immutable):

- the green database is a DB instance (or cluster) of its own, so it has a resource id of its own, and an
  ``rds-db:connect`` policy must name that id before logins can reach it;
- the switchover renames: the green takes the blue's identifier and endpoint, the blue becomes ``NAME-old1``;
  resource ids stay with the databases, so a policy bound to the blue's id no longer matches the name.

One paginated DescribeBlueGreenDeployments reads every deployment of the region; the databases' resource ids come
from one paginated DescribeDBInstances / DescribeDBClusters of the members named.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

try:
    from botocore.exceptions import BotoCoreError
    from botocore.exceptions import ClientError
    from botocore.exceptions import WaiterError
    from botocore.waiter import WaiterModel
    from botocore.waiter import create_waiter_with_client
except ImportError:
    pass  # handled by AnsibleAWSModule

from ansible_collections.amazon.aws.plugins.module_utils.arn import parse_aws_arn
from ansible_collections.amazon.aws.plugins.module_utils.botocore import paginated_query_with_retries
from ansible_collections.dbauth.rds_iam.plugins.module_utils import _rds_databases

SWITCHOVER_COMPLETED = "SWITCHOVER_COMPLETED"
SWITCHOVER_IN_PROGRESS = "SWITCHOVER_IN_PROGRESS"
AVAILABLE = "AVAILABLE"
# Statuses in which RDS refuses a switchover and waiting does not help (RDS API reference, "BlueGreenDeployment").
FAILED = ("INVALID_CONFIGURATION", "SWITCHOVER_FAILED", "DELETING")

# botocore has no waiter for this call: the same machinery, our acceptors (RDS API reference, "BlueGreenDeployment",
# Status).
_WAITER = {
    "version": 2,
    "waiters": {
        "SwitchoverCompleted": {
            "operation": "DescribeBlueGreenDeployments",
            "delay": 5,
            "maxAttempts": 60,
            "acceptors": [
                {"matcher": "pathAll", "argument": "BlueGreenDeployments[].Status", "expected": SWITCHOVER_COMPLETED,
                 "state": "success"},
            ] + [
                {"matcher": "pathAny", "argument": "BlueGreenDeployments[].Status", "expected": status, "state": "failure"}
                for status in FAILED
            ],
        },
    },
}


class BlueGreenError(Exception):
    """A Blue/Green call failed. message: safe to show; exception: the botocore exception (or None)."""

    def __init__(self, message, exception=None):
        super(BlueGreenError, self).__init__(message)
        self.message = message
        self.exception = exception


def read(client, retry, identifier=None, name=None):
    """The deployment records of the region, or the one with that identifier or name (a list, maybe empty)."""
    query = {}
    if identifier:
        query["Filters"] = [{"Name": "blue-green-deployment-identifier", "Values": [identifier]}]
    elif name:
        query["Filters"] = [{"Name": "blue-green-deployment-name", "Values": [name]}]
    try:
        result = paginated_query_with_retries(client, "describe_blue_green_deployments", retry_decorator=retry, **query)
    except (ClientError, BotoCoreError) as e:
        raise BlueGreenError("Failed to describe the Blue/Green deployments (rds:DescribeBlueGreenDeployments)", e)
    return result.get("BlueGreenDeployments", [])


def member(arn):
    """(kind, identifier) of a deployment's Source/Target ARN (arn:...:rds:REGION:ACCOUNT:db|cluster:ID)."""
    parsed = parse_aws_arn(arn or "") or {}
    resource = parsed.get("resource") or ""
    kind, _sep, ident = resource.partition(":")
    return ("cluster" if kind == "cluster" else "instance"), ident.lower()


def resource_ids(client, retry, records):
    """{(kind, identifier): resource id} of every Source and Target of the records (one read per kind)."""
    wanted = {"instance": set(), "cluster": set()}
    for record in records:
        for arn in (record.get("Source"), record.get("Target")):
            kind, ident = member(arn)
            if ident:
                wanted[kind].add(ident)
    found = {}
    for kind, idents in wanted.items():
        if not idents:
            continue
        for ident, described in _rds_databases.describe(client, kind, sorted(idents), retry).items():
            found[(kind, ident)] = _rds_databases.resource_id_of(kind, described)
    return found


def summary(record, ids):
    """What the modules return of one deployment; ``ids`` as resource_ids() returns it."""
    result = {
        "identifier": record.get("BlueGreenDeploymentIdentifier"),
        "name": record.get("BlueGreenDeploymentName"),
        "status": record.get("Status"),
        "status_details": record.get("StatusDetails"),
        "switched_over": record.get("Status") == SWITCHOVER_COMPLETED,
    }
    for side in ("source", "target"):
        kind, ident = member(record.get(side.capitalize()))
        result[side] = {"kind": kind, "identifier": ident, "arn": record.get(side.capitalize()),
                        "resource_id": ids.get((kind, ident))}
    return result


def annotate(databases, records, ids):
    """Add ``blue_green`` to each rds_iam_info entry: the deployment whose source or target it is (role
    V(source)/V(target)), null when none."""
    by_arn = {}
    for record in records:
        for side in ("Source", "Target"):
            if record.get(side):
                by_arn.setdefault(record[side].lower(), (side.lower(), record))
    for db in databases:
        found = by_arn.get((db.get("arn") or "").lower())
        if found is None:
            db["blue_green"] = None
            continue
        role, record = found
        db["blue_green"] = dict(summary(record, ids), role=role)
    return databases


def switched_resource_ids(records, ids):
    """{old blue resource id: summary} of the completed switchovers: after one, the source (NAME-old1) keeps the
    blue's resource id and the target holds the name (RDS user guide, "Switching a blue/green deployment")."""
    result = {}
    for record in records:
        if record.get("Status") != SWITCHOVER_COMPLETED:
            continue
        info = summary(record, ids)
        if info["source"]["resource_id"]:
            result[info["source"]["resource_id"]] = info
    return result


def switchover(client, identifier, timeout):
    """Start the switchover (``client``: amazon.aws' client with a retry decorator, so throttling is retried)."""
    try:
        return client.switchover_blue_green_deployment(
            BlueGreenDeploymentIdentifier=identifier, SwitchoverTimeout=timeout, aws_retry=True)["BlueGreenDeployment"]
    except (ClientError, BotoCoreError) as e:
        raise BlueGreenError("Failed to switch over the Blue/Green deployment %s" % identifier, e)


def wait_switched_over(client, identifier, wait_timeout, delay=5):
    """Wait with a botocore waiter until the switchover completed; a failed or invalid deployment ends it."""
    waiter = create_waiter_with_client("SwitchoverCompleted", WaiterModel(_WAITER), client)
    try:
        waiter.wait(Filters=[{"Name": "blue-green-deployment-identifier", "Values": [identifier]}],
                    WaiterConfig={"Delay": delay, "MaxAttempts": max(1, int(wait_timeout // delay))})
    except WaiterError as e:
        raise BlueGreenError("The switchover of %s did not complete: %s" % (identifier, e), None)
