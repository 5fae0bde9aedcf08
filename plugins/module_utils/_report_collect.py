# -*- coding: utf-8 -*-

# Copyright: Contributors to the dbauth.rds_iam collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

# This module_util is for internal use only, not part of the public API: it may change or go away
# in any release.

"""What rds_iam_access_report reads: RDS (two paginated Describe calls for the whole region, and two more for each
other Region where a member of a database of the data model lives: a read replica, a global secondary cluster), IAM
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


def _read_region(client, retry):
    """{(kind, lower-cased identifier): record} of every DB instance and cluster of the client's Region."""
    records = {}
    for kind in ("instance", "cluster"):
        for key, record in _rds_databases.describe(client, kind, None, retry).items():
            records[(kind, key)] = record
    return records


def members_of(entry, record, region):
    """(kind, identifier, Region, role) of each member of a data model entry (docs/topologies.md): its replicas, listed
    or, with ``replicas: discover``, read from the source's ``ReadReplicaDBInstanceIdentifiers`` (RDS API reference,
    "DBInstance": a cross-Region replica is listed by its ARN, whose Region is the replica's), and its secondaries."""
    replicas = entry.get("replicas")
    if replicas == "discover":
        wanted = []
        for name in (record or {}).get("ReadReplicaDBInstanceIdentifiers") or []:
            parsed = parse_aws_arn(name)
            if parsed:
                wanted.append(("instance", parsed["resource_id"], parsed["region"], "replica"))
            else:
                wanted.append(("instance", name, region, "replica"))
    else:
        wanted = [("instance", r["db_instance_identifier"], r.get("region") or region, "replica")
                  for r in replicas or [] if r and r.get("db_instance_identifier")]
    wanted += [("cluster", s["db_cluster_identifier"], s.get("region") or region, "secondary")
               for s in entry.get("secondaries") or [] if s and s.get("db_cluster_identifier")]
    return wanted


def read_rds(client, retry, model, scope, regional_client):
    """(databases to report, {Region: every resource id of its DB instances and clusters}).

    A database of the data model that RDS does not have is reported with ``missing: true``; each member of one is a
    database of its own, read in its own Region (``regional_client(region)``: an RDS client there; one read of each
    other Region, whatever the number of members in it). With scope account every instance (not an Aurora member:
    its cluster is reported) and cluster of the call's Region is reported too."""
    region = client.meta.region_name
    by_region = {region: _read_region(client, retry)}
    records = by_region[region]
    sources = []
    seen = set()
    for entry in model:
        key = model_key(entry)
        seen.add(key)
        record = records.get(key)
        sources.append((_database(key, record, entry, region), members_of(entry, record, region)))
    for db, members in sources:
        for _kind, ident, member_region, _role in members:
            if member_region in by_region:
                continue
            try:
                by_region[member_region] = _read_region(regional_client(member_region), retry)
            except _rds_databases.RdsReadError as e:
                raise _rds_databases.RdsReadError("%s in %s, the Region of %s (a member of %s)" % (
                    e.message, member_region, ident, db["id"]), e.exception)
    databases = []
    for (db, members), entry in zip(sources, model):
        databases.append(db)
        for kind, ident, member_region, role in members:
            key = (kind, ident.lower())
            if member_region == region:
                seen.add(key)
            member = _database(key, by_region[member_region].get(key), None, member_region)
            member.update(id=ident, in_model=True, engine=db["engine"], model_users=model_users(entry, proxies=False),
                          member_of=db["id"], member_role=role)
            databases.append(member)
    if scope == "account":
        for key in sorted(records):
            if key not in seen and not (key[0] == "instance" and records[key].get("DBClusterIdentifier")):
                databases.append(_database(key, records[key], None, region))
    resource_ids = {}
    for name, regional in by_region.items():
        resource_ids[name] = set(r for r in (_rds_databases.resource_id_of(k, rec) for (k, _i), rec in regional.items()) if r)
    return databases, resource_ids


def model_users(entry, proxies=True):
    """The users of a data model entry, each with the principals the model grants it: its own, and (``proxies``) the
    role of each RDS Proxy it logs in through (end-to-end IAM: the proxy's role connects as the user,
    docs/rds_proxy.md; on the database only, not its members)."""
    users = [dict(u) for u in (entry or {}).get("users") or [] if u]
    for proxy in (entry or {}).get("proxies") or [] if proxies else []:
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
          "endpoint": None, "catalog": None, "catalog_error": None, "region": region, "member_of": None,
          "member_role": None}
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
    """(region, account, partition) of the databases' rds-db ARNs, a member's Region aside (None when there is none)."""
    for db in databases:
        if db["member_of"]:
            continue
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
    """Fill each model database's ``catalog`` (or ``catalog_error``: a sentence without secrets). A member's catalog
    is its source's: the users are data, replicated from the source ("Working with DB instance read replicas";
    "Using Amazon Aurora Global Database"), and the admin login is the source's."""
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

    sources = [db for db in databases if not db["member_of"]]
    results = run_bounded(one, sources, concurrency)
    for db, (catalog, error) in zip(sources, results):
        db["catalog"], db["catalog_error"] = catalog, error
    by_id = dict((db["id"], db) for db in sources if db["in_model"])
    for db in databases:
        if db["member_of"]:
            source = by_id[db["member_of"]]
            db["catalog"], db["catalog_error"] = source["catalog"], source["catalog_error"]


def simulate_decisions(iam, evaluator, principals, keys, context_of):
    """Ask iam:SimulatePrincipalPolicy for the decisions ``keys`` ((principal ARN, Region, resource id, user)).
    Returns None, or the error code that stopped it (the decisions not simulated stay as they were)."""
    by_arn = dict((p["arn"], p) for p in principals)
    for key in sorted(keys):
        principal_arn, region, resource_id, user = key
        resource = evaluator.resource(resource_id, user, region)
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
