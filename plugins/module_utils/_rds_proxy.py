# -*- coding: utf-8 -*-

# Copyright: Contributors to the dbauth.rds_iam collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

# Internal use only: this file is not part of the collection's public interface and may change
# without notice.

"""The authentication of one RDS Proxy: create it, or bring its auth settings to the wanted ones.

Shared logic of the rds_iam_proxy module. AWS rules relied on (RDS user guide, "Setting up IAM
authentication for RDS Proxy", "end-to-end IAM authentication", RDS API reference "CreateDBProxy",
"ModifyDBProxy", "UserAuthConfig"):

* ``DefaultAuthScheme`` ``IAM_AUTH``: clients log in with IAM tokens and the proxy logs in to the database
  with its own role's token (no secret); ``NONE``: the proxy logs in with the secrets of ``Auth``, so at
  least one entry is needed, each with ``IAMAuth`` ``REQUIRED`` (clients use tokens) or ``DISABLED``;
* ``ModifyDBProxy`` with ``Auth`` replaces the whole list; AWS fills ``AuthScheme`` (SECRETS), ``IAMAuth``
  (DISABLED) and ``ClientPasswordAuthType`` (the engine family's default) in what it returns, so entries
  are compared on the keys given;
* a client's ``rds-db:connect`` resource is ``arn:aws:rds-db:REGION:ACCOUNT:dbuser:prx-ID/USER`` with the
  ``prx-`` resource id, the last part of the proxy's ARN.

Every call goes through a client wrapped with amazon.aws's retrying wrapper (``aws_retry=True``). No
secret goes through here: ``Auth`` names secrets by ARN.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time

try:
    from botocore.exceptions import BotoCoreError
    from botocore.exceptions import ClientError
except ImportError:
    pass  # handled by AnsibleAWSModule

from ansible_collections.amazon.aws.plugins.module_utils.arn import parse_aws_arn
from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code

AUTH_SCHEMES = ("IAM_AUTH", "NONE")
ENGINE_FAMILIES = ("MYSQL", "POSTGRESQL")
IAM_AUTH_MODES = ("REQUIRED", "DISABLED")
# (option name, API name) of an Auth entry.
AUTH_KEYS = (
    ("secret_arn", "SecretArn"),
    ("iam_auth", "IAMAuth"),
    ("user_name", "UserName"),
    ("description", "Description"),
    ("client_password_auth_type", "ClientPasswordAuthType"),
)
WAIT_DELAYS = (5, 10, 15, 20, 30)


class ProxyError(Exception):
    """A failure with a message for the user; ``exception`` is the AWS error behind it, if any."""

    def __init__(self, message, exception=None, changed=False):
        super(ProxyError, self).__init__(message)
        self.message = message
        self.exception = exception
        self.changed = changed


def check_params(params):
    """Problems of the options, each naming the option and what to fix (before any AWS call)."""
    problems = []
    auth = params.get("auth")
    scheme = params.get("default_auth_scheme")
    if scheme == "NONE" and auth is not None and not auth:
        problems.append("auth: default_auth_scheme NONE needs at least one secret in auth (the proxy logs in to the "
                        "database with it); give auth entries or use default_auth_scheme IAM_AUTH")
    for index, entry in enumerate(auth or []):
        arn = entry.get("secret_arn") or ""
        parsed = parse_aws_arn(arn) if arn else None
        if not parsed or parsed.get("service") != "secretsmanager":
            problems.append("auth[%d].secret_arn %r: give the ARN of a Secrets Manager secret "
                            "(arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME)" % (index, arn))
    arns = [e.get("secret_arn") for e in auth or []]
    if len(set(arns)) != len(arns):
        problems.append("auth: a secret_arn is listed twice; list each secret once")
    if params.get("db_instance_identifier") and params.get("db_cluster_identifier"):
        problems.append("db_instance_identifier and db_cluster_identifier: the proxy's target is one of them, not both")
    return problems


def api_auth(entries):
    """Auth entries of the options -> the API's UserAuthConfig list (AuthScheme SECRETS)."""
    result = []
    for entry in entries or []:
        item = {"AuthScheme": "SECRETS"}
        for option, api in AUTH_KEYS:
            if entry.get(option) is not None:
                item[api] = entry[option]
        result.append(item)
    return result


def auth_matches(current, wanted):
    """Whether the proxy's Auth (as AWS returns it) is the wanted list, compared on the keys the wanted entries give."""
    if len(current or []) != len(wanted):
        return False
    by_arn = dict((entry.get("SecretArn"), entry) for entry in current or [])
    for entry in wanted:
        have = by_arn.get(entry["SecretArn"])
        if have is None or any(have.get(key) != value for key, value in entry.items()):
            return False
    return True


def summary(proxy, targets=None):
    """What the module returns about a proxy (no secret: secrets are named by ARN)."""
    arn = proxy.get("DBProxyArn") or ""
    parsed = parse_aws_arn(arn) or {}
    resource_id = (parsed.get("resource") or "").split(":")[-1]
    result = {
        "db_proxy_name": proxy.get("DBProxyName"),
        "db_proxy_arn": arn,
        "resource_id": resource_id,
        "resource_arn_prefix": "arn:%s:rds-db:%s:%s:dbuser:%s" % (
            parsed.get("partition") or "aws", parsed.get("region") or "", parsed.get("account_id") or "", resource_id),
        "endpoint": proxy.get("Endpoint"),
        "engine_family": proxy.get("EngineFamily"),
        "status": proxy.get("Status"),
        "default_auth_scheme": proxy.get("DefaultAuthScheme") or "NONE",
        "auth": [dict((option, entry.get(api)) for option, api in AUTH_KEYS if entry.get(api) is not None)
                 for entry in proxy.get("Auth") or []],
        "require_tls": bool(proxy.get("RequireTLS")),
        "role_arn": proxy.get("RoleArn"),
    }
    if targets is not None:
        result["targets"] = targets
    return result


def _diff_view(result):
    keys = ("default_auth_scheme", "auth", "require_tls", "role_arn", "targets")
    return dict((key, result.get(key)) for key in keys if key in result)


def describe(client, name):
    """The proxy's record, or None when there is no proxy of that name."""
    try:
        proxies = client.describe_db_proxies(DBProxyName=name, aws_retry=True)["DBProxies"]
    except is_boto3_error_code("DBProxyNotFoundFault"):
        return None
    return proxies[0] if proxies else None


def registered_targets(client, name):
    """The ids of the DB instances and clusters registered with the proxy's default target group."""
    targets = client.describe_db_proxy_targets(DBProxyName=name, aws_retry=True)["Targets"]
    return sorted(set(t.get("RdsResourceId") for t in targets if t.get("Type") in ("RDS_INSTANCE", "TRACKED_CLUSTER")
                      and t.get("RdsResourceId")))


def _wanted_target(params):
    if params.get("db_instance_identifier"):
        return "DBInstanceIdentifiers", params["db_instance_identifier"]
    if params.get("db_cluster_identifier"):
        return "DBClusterIdentifiers", params["db_cluster_identifier"]
    return None, None


def _wait_available(client, name, timeout, sleep=None, clock=time.monotonic):
    """Describe until the proxy is available (RDS reports creating, then modifying, then available)."""
    deadline = clock() + timeout
    attempt = 0
    while True:
        proxy = describe(client, name)
        if proxy is not None and proxy.get("Status") == "available":
            return proxy
        if clock() >= deadline:
            raise ProxyError("DB proxy %s is not available after %d seconds (last status: %s); run the task again with a "
                             "longer wait_timeout" % (name, timeout, proxy.get("Status") if proxy else "gone"), changed=True)
        (sleep or time.sleep)(WAIT_DELAYS[min(attempt, len(WAIT_DELAYS) - 1)])
        attempt += 1


def ensure_proxy(client, params, check_mode, sleep=None):
    """Create the proxy or bring its auth settings and target to ``params`` -> (changed, result, diff)."""
    name = params["name"]
    wanted_auth = api_auth(params.get("auth")) if params.get("auth") is not None else None
    try:
        current = describe(client, name)
        if current is None:
            return _create(client, params, wanted_auth, check_mode, sleep)
        before = summary(current, registered_targets(client, name))
        changes = {}
        if params.get("default_auth_scheme") and params["default_auth_scheme"] != before["default_auth_scheme"]:
            changes["DefaultAuthScheme"] = params["default_auth_scheme"]
        if wanted_auth is not None and not auth_matches(current.get("Auth"), wanted_auth):
            changes["Auth"] = wanted_auth
        if params.get("require_tls") is not None and params["require_tls"] != before["require_tls"]:
            changes["RequireTLS"] = params["require_tls"]
        if params.get("role_arn") and params["role_arn"] != before["role_arn"]:
            changes["RoleArn"] = params["role_arn"]
        scheme = changes.get("DefaultAuthScheme", before["default_auth_scheme"])
        if scheme == "NONE" and not changes.get("Auth", current.get("Auth")):
            raise ProxyError("DB proxy %s: default_auth_scheme NONE needs at least one secret in auth (it has none)" % name)
        target_key, target = _wanted_target(params)
        register = target is not None and target not in before["targets"]
        changed = bool(changes) or register
        after = summary(current, before["targets"])
        after.update(_planned(changes))
        if register:
            after["targets"] = sorted(before["targets"] + [target])
        if changed and not check_mode:
            if changes:
                changes["DBProxyName"] = name
                client.modify_db_proxy(aws_retry=True, **changes)
            if register:
                client.register_db_proxy_targets(DBProxyName=name, aws_retry=True, **{target_key: [target]})
            proxy = _wait_available(client, name, params["wait_timeout"], sleep) if params.get("wait") else describe(client, name)
            after = summary(proxy, registered_targets(client, name))
        return changed, after, {"before": _diff_view(before), "after": _diff_view(after)}
    except ProxyError:
        raise
    except (BotoCoreError, ClientError) as e:
        raise ProxyError("DB proxy %s: AWS refused or failed a call" % name, exception=e)


def _planned(changes):
    planned = {}
    if "DefaultAuthScheme" in changes:
        planned["default_auth_scheme"] = changes["DefaultAuthScheme"]
    if "Auth" in changes:
        planned["auth"] = [dict((option, entry.get(api)) for option, api in AUTH_KEYS if entry.get(api) is not None)
                           for entry in changes["Auth"]]
    if "RequireTLS" in changes:
        planned["require_tls"] = changes["RequireTLS"]
    if "RoleArn" in changes:
        planned["role_arn"] = changes["RoleArn"]
    return planned


def _create(client, params, wanted_auth, check_mode, sleep):
    name = params["name"]
    missing = [key for key in ("engine_family", "role_arn", "vpc_subnet_ids") if not params.get(key)]
    if missing:
        raise ProxyError("DB proxy %s does not exist; to create it give %s" % (name, ", ".join(missing)))
    scheme = params.get("default_auth_scheme") or "IAM_AUTH"
    if scheme == "NONE" and not wanted_auth:
        raise ProxyError("DB proxy %s: default_auth_scheme NONE needs at least one secret in auth" % name)
    target_key, target = _wanted_target(params)
    request = {
        "DBProxyName": name,
        "EngineFamily": params["engine_family"],
        "DefaultAuthScheme": scheme,
        "RoleArn": params["role_arn"],
        "VpcSubnetIds": params["vpc_subnet_ids"],
        "RequireTLS": params.get("require_tls") is not False,
    }
    if wanted_auth:
        request["Auth"] = wanted_auth
    if params.get("vpc_security_group_ids"):
        request["VpcSecurityGroupIds"] = params["vpc_security_group_ids"]
    if params.get("tags"):
        request["Tags"] = [{"Key": k, "Value": v} for k, v in sorted(params["tags"].items())]
    after = {
        "db_proxy_name": name, "db_proxy_arn": None, "resource_id": None, "resource_arn_prefix": None, "endpoint": None,
        "engine_family": params["engine_family"], "status": "creating", "default_auth_scheme": scheme,
        "require_tls": request["RequireTLS"], "role_arn": params["role_arn"],
        "auth": _planned({"Auth": wanted_auth or []})["auth"], "targets": [target] if target else [],
    }
    if not check_mode:
        proxy = client.create_db_proxy(aws_retry=True, **request)["DBProxy"]
        if target is not None:
            client.register_db_proxy_targets(DBProxyName=name, aws_retry=True, **{target_key: [target]})
        if params.get("wait"):
            proxy = _wait_available(client, name, params["wait_timeout"], sleep)
        after = summary(proxy, registered_targets(client, name))
    return True, after, {"before": {}, "after": _diff_view(after)}
