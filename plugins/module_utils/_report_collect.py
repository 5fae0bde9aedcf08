# -*- coding: utf-8 -*-

# Copyright: Contributors to the dbauth.rds_iam collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

# This module_util is for internal use only, not part of the public API: it may change or go away
# in any release.

"""What rds_iam_access_report reads: RDS (two paginated Describe calls for the whole region), IAM
(GetAccountAuthorizationDetails pages, see _report_iam), each catalog (see _report_catalog), and,
for decisions the local evaluator cannot make, iam:SimulatePrincipalPolicy.

Runs the reads; the report itself is computed by _access_report from what is returned here.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

try:
    from botocore.exceptions import BotoCoreError
    from botocore.exceptions import ClientError
except ImportError:
    pass  # handled by AnsibleAWSModule

from ansible_collections.amazon.aws.plugins.module_utils.arn import parse_aws_arn
from ansible_collections.amazon.aws.plugins.module_utils.transformation import camel_dict_to_snake_dict

from ansible_collections.dbauth.rds_iam.plugins.module_utils import _rds_databases
from ansible_collections.dbauth.rds_iam.plugins.module_utils import _policy_evaluator
from ansible_collections.dbauth.rds_iam.plugins.module_utils._access_report import SIMULATE
from ansible_collections.dbauth.rds_iam.plugins.module_utils._batch import run_bounded
from ansible_collections.dbauth.rds_iam.plugins.module_utils._report_catalog import read_catalog
from ansible_collections.dbauth.rds_iam.plugins.module_utils._db_connection import DbConnectionError
from ansible_collections.dbauth.rds_iam.plugins.module_utils._db_connection import connect
from ansible_collections.dbauth.rds_iam.plugins.module_utils._db_connection import login_settings
from ansible_collections.dbauth.rds_iam.plugins.module_utils._verify_identity import AwsReadError
from ansible_collections.dbauth.rds_iam.plugins.module_utils._verify_identity import simulate


class CallCounter:
    """Counts the AWS API calls a client makes (botocore's before-call event), per service."""

    def __init__(self):
        self.calls = {}

    def attach(self, client):
        service = client.meta.service_model.service_name
        self.calls.setdefault(service, 0)

        def count(**kwargs):
            self.calls[service] += 1

        client.meta.events.register("before-call.*.*", count)
        return client


def model_key(entry):
    """("instance"|"cluster", lower-cased identifier) of a data model entry."""
    if entry.get("db_instance_identifier"):
        return "instance", entry["db_instance_identifier"].lower()
    return "cluster", (entry.get("db_cluster_identifier") or "").lower()


def read_rds(client, retry, model, scope):
    """(databases to report, every resource id of the region). A database of the data model that RDS
    does not have is reported with ``missing: true``; with scope account every instance (not an Aurora
    member: its cluster is reported) and cluster of the region is reported too."""
    records = {}
    for kind in ("instance", "cluster"):
        for key, record in _rds_databases.describe(client, kind, None, retry).items():
            records[(kind, key)] = record
    resource_ids = set(_rds_databases.resource_id_of(k, r) for (k, _i), r in records.items())
    region = client.meta.region_name
    databases = []
    seen = set()
    for entry in model:
        key = model_key(entry)
        seen.add(key)
        databases.append(_database(key, records.get(key), entry, region))
    if scope == "account":
        for key in sorted(records):
            if key not in seen and not (key[0] == "instance" and records[key].get("DBClusterIdentifier")):
                databases.append(_database(key, records[key], None, region))
    return databases, set(r for r in resource_ids if r)


def model_users(entry):
    """The users of a data model entry, each with the principals the model grants it: its own, and the role of each
    RDS Proxy it logs in through (end-to-end IAM: the proxy's role connects as the user, docs/rds_proxy.md)."""
    users = [dict(u) for u in (entry or {}).get("users") or [] if u]
    for proxy in (entry or {}).get("proxies") or []:
        if not proxy or not proxy.get("role"):
            continue
        through = proxy.get("users")
        for user in users:
            if (user.get("name") in through) if through is not None else user.get("principals"):
                user["principals"] = list(user.get("principals") or []) + [proxy["role"]]
    return users


def _database(key, record, entry, region):
    kind, ident = key
    db = {"id": ident, "kind": kind, "in_model": entry is not None, "missing": record is None,
          "engine": (entry or {}).get("engine"), "model_users": model_users(entry),
          "resource_id": None, "resource_arn_prefix": None, "iam_enabled": False, "iam_pending": None,
          "endpoint": None, "catalog": None, "catalog_error": None}
    if entry is not None:
        db["id"] = entry.get("db_instance_identifier") or entry.get("db_cluster_identifier")
    if record is not None:
        facts = _rds_databases.summary(kind, record, region)
        pending = camel_dict_to_snake_dict(record.get("PendingModifiedValues") or {})
        db.update(resource_id=facts["resource_id"], resource_arn_prefix=facts["resource_arn_prefix"],
                  iam_enabled=facts["iam_database_authentication_enabled"], endpoint=facts["endpoint"],
                  rds_engine=facts["engine"], iam_pending=pending.get("iam_database_authentication_enabled"))
        db["engine"] = db["engine"] or _engine_family(facts["engine"])
    if entry is not None and entry.get("endpoint"):
        db["endpoint"] = {"address": entry["endpoint"]["address"],
                          "port": entry["endpoint"].get("port") or (db["endpoint"] or {}).get("port")}
    return db


def _engine_family(rds_engine):
    engine = (rds_engine or "").lower()
    if "postgres" in engine:
        return "postgres"
    return "mariadb" if "mariadb" in engine else "mysql"


def where(databases):
    """(region, account, partition) of the databases' rds-db ARNs (None when there is no database)."""
    for db in databases:
        parsed = parse_aws_arn(db.get("resource_arn_prefix") or "") or {}
        if parsed.get("account_id"):
            return parsed.get("region"), parsed["account_id"], parsed.get("partition") or "aws"
    return None, None, "aws"


def _login_params(db, admin, params):
    login = dict(params)
    endpoint = db["endpoint"] or {}
    login.update(engine=db["engine"], login_host=admin.get("host") or endpoint.get("address"),
                 login_port=admin.get("port") or endpoint.get("port"), login_user=admin["user"],
                 login_password=admin.get("password"), login_iam=bool(admin.get("iam")),
                 login_db=admin.get("db"))
    return login


def read_catalogs(databases, model, params, region, concurrency, signer=None):
    """Fill each model database's ``catalog`` (or ``catalog_error``: a sentence without secrets)."""
    admins = {}
    for entry in model:
        admins[model_key(entry)] = entry.get("admin")

    def one(index, db):
        admin = admins.get((db["kind"], db["id"].lower()))
        if db["missing"]:
            return None, "RDS has no DB %s %s in this region" % (db["kind"], db["id"])
        if not admin:
            return None, "no admin login given: the users of %s were not read" % db["id"]
        conn = None
        try:
            settings = login_settings(_login_params(db, admin, params), region, signer)
            conn, _tls = connect(settings)
            return read_catalog(conn, db["engine"]), None
        except DbConnectionError as e:
            return None, "could not read the users of %s: %s" % (db["id"], e)
        finally:
            if conn is not None:
                conn.close()

    results = run_bounded(one, databases, concurrency)
    for db, (catalog, error) in zip(databases, results):
        db["catalog"], db["catalog_error"] = catalog, error


def simulate_decisions(iam, evaluator, principals, keys, context_of):
    """Ask iam:SimulatePrincipalPolicy for the decisions ``keys`` ((principal ARN, resource id, user)).
    Returns None, or the error code that stopped it (the decisions not simulated stay as they were)."""
    by_arn = dict((p["arn"], p) for p in principals)
    for key in sorted(keys):
        principal_arn, resource_id, user = key
        resource = evaluator.resource(resource_id, user)
        principal = by_arn[principal_arn]
        try:
            sim = simulate(iam, principal_arn, "rds-db:connect", resource,
                           context_of(principal["type"], principal_arn, evaluator.account))
        except AwsReadError as e:
            return e.code
        except (ClientError, BotoCoreError) as e:  # pragma: no cover - simulate wraps them
            return str(e)
        decision = {"allowed": _policy_evaluator.ALLOW, "explicitDeny": _policy_evaluator.EXPLICIT_DENY}.get(
            sim["decision"], _policy_evaluator.IMPLICIT_DENY)
        evaluator.decide(key, decision, "iam:SimulatePrincipalPolicy: %s%s" % (
            sim["decision"], " by %s" % ", ".join(sim["matched"]) if sim["matched"] else ""), SIMULATE)
    return None
