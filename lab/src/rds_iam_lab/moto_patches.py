"""In-process patches that make moto 5.2.x behave like RDS where the lab needs it.

Applied once per process with :func:`apply` (idempotent), before the server starts.
Every patch can be switched off at run time with :func:`disabled` so the tests can
show the stock behaviour next to the patched one.

Patches (name: what stock moto 5.2.5 does -> what RDS does):

``unique_dbi_resource_id``
    every instance gets ``db-M5ENSHXFPU6XHZ4G4ZEI5QIO2U`` -> a random ``db-`` id
    per instance (clusters already get random ``cluster-`` ids).
``cluster_iam_modify``
    ``ModifyDBCluster`` ignores ``EnableIAMDatabaseAuthentication`` -> honoured.
``mariadb_default_version``
    ``mariadb`` without ``EngineVersion`` -> KeyError (HTTP 500) -> a supported
    10.11 version.
``iam_engine_support``
    IAM auth accepted on any engine -> ``InvalidParameterCombination`` for
    Oracle, SQL Server, Db2 and RDS Custom, on create and on modify (and for
    Multi-AZ DB clusters on modify, as create already does).
``deferred_iam_modification``
    ``ApplyImmediately=false`` changes the setting at once -> the change waits in
    ``PendingModifiedValues.IAMDatabaseAuthenticationEnabled`` (instance and
    cluster) until :func:`apply_pending_maintenance`.
``modifying_status``
    never ``modifying`` -> after an immediate IAM change the instance/cluster is
    ``modifying`` for the next :data:`SETTINGS` ``modifying_describes`` describe
    calls or ``modifying_seconds`` seconds (whichever ends first).
``lab_endpoints``
    fake ``*.rds.amazonaws.com`` endpoint addresses -> the address the lab sets
    with :func:`set_endpoint_address` (the local server's).
``clustered_instance_iam``
    Aurora member instances report their own (always false) IAM flag and accept
    a per-instance IAM change -> they mirror the cluster's setting, and a
    per-instance change is refused as RDS does.
``read_replica_identity``
    a read replica is a shallow copy of its source: same ``DbiResourceId``, same IAM flag, same
    endpoint -> its own resource id, its own IAM setting (off unless the request turns it on), its
    own endpoint.
``lab_reader_endpoints``
    a cluster's reader endpoint has the writer's address once the lab sets one -> the address the lab
    sets with :func:`set_reader_endpoint_address` (another name of the lab server).
``global_cluster_primary``
    ``CreateGlobalCluster`` with ``SourceDBClusterIdentifier`` lists the source as a reader and gives it
    the global cluster's ARN as ``GlobalClusterIdentifier`` -> the source is the writer (primary) and
    names the global cluster by its identifier; ``RemoveFromGlobalCluster`` with the ARN of a cluster in
    another Region silently does nothing -> the cluster leaves the global database.
``iam_policy_simulator``
    ``SimulatePrincipalPolicy`` / ``SimulateCustomPolicy`` are not implemented ->
    served by :mod:`rds_iam_lab.iam_simulator` on the lab's evaluator (IAM API reference).
``db_proxy_auth``
    RDS Proxy without ``DefaultAuthScheme``, ``Auth`` required, its entries as given,
    no ``ModifyDBProxy`` -> ``DefaultAuthScheme`` (``IAM_AUTH`` | ``NONE``), ``Auth``
    entries completed with the documented defaults (``AuthScheme``, ``IAMAuth``,
    ``ClientPasswordAuthType``) and checked, ``ModifyDBProxy``, and the endpoint of
    the lab's own proxy process (:mod:`rds_iam_lab.db_proxy`) when the daemon runs one.

Every wrapper below names in its docstring the AWS page and the rule it follows
(``lab/tests/test_moto_patches.py`` checks that each has one); what has no AWS source
is listed in lab/README.md, "Assumptions".
"""

from __future__ import annotations

import contextlib
import random
import string
import threading
import time
from typing import Any, Iterator

from moto.rds import models as rds_models
from moto.rds import responses as rds_responses
from moto.core.utils import utcnow
from moto.rds.exceptions import DBProxyNotFoundFault, InvalidParameterCombination, InvalidParameterValue

from rds_iam_lab import iam_simulator

PATCH_NAMES = (
    "unique_dbi_resource_id",
    "cluster_iam_modify",
    "mariadb_default_version",
    "iam_engine_support",
    "deferred_iam_modification",
    "modifying_status",
    "lab_endpoints",
    "clustered_instance_iam",
    "read_replica_identity",
    "lab_reader_endpoints",
    "global_cluster_primary",
    "iam_policy_simulator",
    "db_proxy_auth",
)

#: Tunables (tests may change them).
SETTINGS: dict[str, Any] = {
    "modifying_describes": 2,
    "modifying_seconds": 2.0,
    "mariadb_default_version": "10.11.10",
}

_ENABLED: dict[str, bool] = {name: True for name in PATCH_NAMES}
_LOCK = threading.RLock()
_APPLIED = False
_ORIGINALS: dict[str, Any] = {}

IAM_KEY = "enable_iam_database_authentication"
UNSUPPORTED_IAM_ENGINE_PREFIXES = ("oracle", "sqlserver", "db2", "custom-")


def enabled(name: str) -> bool:
    return _APPLIED and _ENABLED[name]


@contextlib.contextmanager
def disabled(*names: str) -> Iterator[None]:
    """Switch patches off for the duration of the block (tests)."""
    for name in names:
        if name not in _ENABLED:
            raise KeyError(name)
    previous = {name: _ENABLED[name] for name in names}
    try:
        for name in names:
            _ENABLED[name] = False
        yield
    finally:
        _ENABLED.update(previous)


def is_applied() -> bool:
    return _APPLIED


# helpers ----------------------------------------------------------------------

def _random_id(length: int = 26) -> str:
    alphabet = string.ascii_uppercase + string.digits
    return "".join(random.SystemRandom().choice(alphabet) for _position in range(length))


def iam_supported(engine: str) -> bool:
    engine = (engine or "").lower()
    return not engine.startswith(UNSUPPORTED_IAM_ENGINE_PREFIXES)


def _refuse_engine(engine: str) -> None:
    raise InvalidParameterCombination(
        f"IAM Database Authentication is not supported for engine {engine}."
    )


def _start_modifying(obj: Any) -> None:
    if not enabled("modifying_status"):
        return
    # describe wrappers decrement before serialising: +1 so that exactly
    # `modifying_describes` describe calls show "modifying".
    obj._lab_modifying_left = int(SETTINGS["modifying_describes"]) + 1
    obj._lab_modifying_until = time.monotonic() + float(SETTINGS["modifying_seconds"])


def _is_modifying(obj: Any) -> bool:
    if not enabled("modifying_status"):
        return False
    left = obj.__dict__.get("_lab_modifying_left", 0)
    if left <= 0:
        return False
    if time.monotonic() >= obj.__dict__.get("_lab_modifying_until", 0.0):
        obj.__dict__["_lab_modifying_left"] = 0
        return False
    return True


def _tick_modifying(objs: Any) -> None:
    for obj in objs or []:
        left = getattr(obj, "_lab_modifying_left", 0)
        if left > 0:
            obj._lab_modifying_left = left - 1


def set_endpoint_address(obj: Any, address: str) -> None:
    """Make an instance or cluster report ``address`` as its endpoint address (patch
    ``lab_endpoints``; RDS API reference, "Endpoint")."""
    obj._lab_endpoint_address = address


def set_reader_endpoint_address(cluster: Any, address: str) -> None:
    """Make a cluster report ``address`` as its reader endpoint (patch ``lab_reader_endpoints``;
    RDS API reference, "DBCluster", ReaderEndpoint)."""
    cluster._lab_reader_endpoint_address = address


def _pending_dict(obj: Any) -> dict[str, Any] | None:
    if not enabled("deferred_iam_modification"):
        return None
    pending = obj.__dict__.get("_lab_pending_iam")
    if pending is None:
        return None
    return {"IAMDatabaseAuthenticationEnabled": pending}


def apply_pending_maintenance(backend: Any) -> list[str]:
    """Apply pending IAM modifications of ``backend`` (an RDSBackend): what the maintenance window
    does with changes made with ApplyImmediately=false (RDS user guide, "Maintaining a DB instance",
    "The Amazon RDS maintenance window"; patch ``deferred_iam_modification``). When the window comes
    is the lab's command (``rds-iam-lab maintenance``), an assumption."""
    changes = []
    with _LOCK:
        for cluster in list(backend.clusters.values()):
            pending = cluster.__dict__.pop("_lab_pending_iam", None)
            if pending is not None:
                before = bool(cluster.iam_auth)
                cluster.iam_auth = bool(pending)
                changes.append(
                    f"cluster {cluster.db_cluster_identifier}: IAMDatabaseAuthenticationEnabled "
                    f"{str(before).lower()} -> {str(bool(pending)).lower()}"
                )
        for database in list(backend.databases.values()):
            pending = database.__dict__.pop("_lab_pending_iam", None)
            if pending is not None:
                before = bool(database.enable_iam_database_authentication)
                database.enable_iam_database_authentication = bool(pending)
                changes.append(
                    f"instance {database.db_instance_identifier}: IAMDatabaseAuthenticationEnabled "
                    f"{str(before).lower()} -> {str(bool(pending)).lower()}"
                )
    return changes


# wrappers ---------------------------------------------------------------------

def _instance_init(self: Any, *args: Any, **kwargs: Any) -> None:
    """Patches ``unique_dbi_resource_id`` and ``mariadb_default_version``.

    RDS API reference, "DBInstance": ``DbiResourceId`` is "the Amazon Web Services Region-unique,
    immutable identifier for the DB instance" -- one per instance, and the ``rds-db:connect``
    resource names it (RDS user guide, "Creating and using an IAM policy for IAM database
    access"). RDS API reference, "CreateDBInstance", EngineVersion: optional, RDS picks the
    engine's default version (RDS user guide, "MariaDB on Amazon RDS versions"); which 10.11 release
    is an assumption (lab/README.md)."""
    if (
        enabled("mariadb_default_version")
        and kwargs.get("engine") == "mariadb"
        and not kwargs.get("engine_version")
        and kwargs.get("db_cluster_identifier") is None
    ):
        kwargs["engine_version"] = SETTINGS["mariadb_default_version"]
    _ORIGINALS["DBInstance.__init__"](self, *args, **kwargs)
    if enabled("unique_dbi_resource_id"):
        self.dbi_resource_id = "db-" + _random_id()


def _create_db_instance(self: Any, db_kwargs: Any) -> Any:
    """Patch ``iam_engine_support`` on create.

    RDS user guide, "IAM database authentication for MariaDB, MySQL, and PostgreSQL": IAM database
    authentication works with MariaDB, MySQL and PostgreSQL (and Aurora); RDS API reference,
    "CreateDBInstance", EnableIAMDatabaseAuthentication: "This setting doesn't apply to ... RDS
    Custom"; errors: InvalidParameterCombination."""
    if enabled("iam_engine_support") and db_kwargs.get(IAM_KEY):
        if not iam_supported(db_kwargs.get("engine", "")):
            _refuse_engine(db_kwargs.get("engine", ""))
    return _ORIGINALS["RDSBackend.create_db_instance"](self, db_kwargs)


def _create_db_instance_read_replica(self: Any, db_kwargs: Any) -> Any:
    """Patch ``read_replica_identity`` (moto copies the source instance object).

    RDS API reference, "DBInstance": ``DbiResourceId`` is "the Amazon Web Services Region-unique,
    immutable identifier for the DB instance" -- a read replica is a DB instance of its own, so the
    ``rds-db:connect`` policy names its own id (RDS user guide, "Creating and using an IAM policy for IAM
    database access"). RDS API reference, "CreateDBInstanceReadReplica", EnableIAMDatabaseAuthentication:
    "Specifies whether to enable mapping of IAM accounts to database accounts. By default, mapping isn't
    enabled." -- the replica's setting is its own, not the source's. Its endpoint is its own (RDS user
    guide, "Working with DB instance read replicas": applications connect to a read replica "the same
    way they connect to any DB instance"), so the lab's endpoint override of the source is not copied.
    """
    replica = _ORIGINALS["RDSBackend.create_db_instance_read_replica"](self, db_kwargs)
    if enabled("read_replica_identity"):
        replica.dbi_resource_id = "db-" + _random_id()
        replica.enable_iam_database_authentication = bool(db_kwargs.get(IAM_KEY))
        replica.__dict__.pop("_lab_endpoint_address", None)
        replica.__dict__.pop("_lab_pending_iam", None)
        if db_kwargs.get("port"):
            replica.port = db_kwargs["port"]
    return replica


def _remove_replica(self: Any, replica: Any) -> None:
    """Patch ``read_replica_identity``: the source lists a cross-Region replica by its ARN
    (RDS API reference, "DBInstance", ReadReplicaDBInstanceIdentifiers: "the identifiers of the read
    replicas", cross-Region ones as ARNs), so deleting it removes the ARN, not a missing identifier."""
    if not enabled("read_replica_identity"):
        _ORIGINALS["DBInstance.remove_replica"](self, replica)
        return
    for name in (replica.db_instance_identifier, replica.db_instance_arn):
        if name in self.replicas:
            self.replicas.remove(name)
            return


def _create_global_cluster(self: Any, *args: Any, **kwargs: Any) -> Any:
    """Patch ``global_cluster_primary``. RDS API reference, "CreateGlobalCluster", SourceDBClusterIdentifier:
    "The Amazon Resource Name (ARN) to use as the primary cluster of the global database" -- the source is
    the global database's writer ("GlobalClusterMember", IsWriter); "DBCluster", GlobalClusterIdentifier:
    "the global database cluster identifier" (not its ARN)."""
    global_cluster = _ORIGINALS["RDSBackend.create_global_cluster"](self, *args, **kwargs)
    if enabled("global_cluster_primary"):
        for member in global_cluster.members[:1]:
            member.is_writer = True
            member.global_cluster_identifier = global_cluster.global_cluster_identifier
    return global_cluster


def _remove_from_global_cluster(self: Any, global_cluster_identifier: str, db_cluster_identifier: str) -> Any:
    """Patch ``global_cluster_primary``. RDS API reference, "RemoveFromGlobalCluster", DbClusterIdentifier:
    "The Amazon Resource Name (ARN) identifying the cluster that was detached from the Aurora global database
    cluster" -- a secondary cluster lives in another Region than the global database's request."""
    if not enabled("global_cluster_primary"):
        return _ORIGINALS["RDSBackend.remove_from_global_cluster"](self, global_cluster_identifier,
                                                                   db_cluster_identifier)
    global_cluster = self.global_clusters.get(global_cluster_identifier)
    if global_cluster is None:
        return None
    for member in list(global_cluster.members):
        if db_cluster_identifier in (member.db_cluster_arn, member.db_cluster_identifier):
            global_cluster.members.remove(member)
            member.global_cluster_identifier = None
    return global_cluster


def _modify_db_instance(self: Any, db_instance_identifier: str, db_kwargs: Any) -> Any:
    """Patches ``iam_engine_support``, ``clustered_instance_iam``, ``deferred_iam_modification`` and
    ``modifying_status`` on ModifyDBInstance.

    RDS API reference, "ModifyDBInstance": EnableIAMDatabaseAuthentication "doesn't apply to Amazon
    Aurora. Mapping ... IAM accounts to database accounts is managed by the DB cluster" (refused on a
    member instance); ApplyImmediately: when false, changes are "applied during the next maintenance
    window" and shown in PendingModifiedValues ("PendingModifiedValues" data type:
    IAMDatabaseAuthenticationEnabled). RDS user guide, "Viewing Amazon RDS DB instance status":
    ``modifying`` while a requested modification is applied."""
    original = _ORIGINALS["RDSBackend.modify_db_instance"]
    iam = db_kwargs.get(IAM_KEY) if IAM_KEY in db_kwargs else None
    if iam is None:
        return original(self, db_instance_identifier, db_kwargs)
    iam = bool(iam)
    database = self.describe_db_instances(db_instance_identifier)[0]
    if enabled("iam_engine_support") and iam and not iam_supported(database.engine):
        _refuse_engine(database.engine)
    if enabled("clustered_instance_iam") and isinstance(database, rds_models.DBInstanceClustered):
        raise InvalidParameterCombination(
            f"The requested DB instance {database.db_instance_identifier} is a member of DB cluster "
            f"{database.db_cluster_identifier}: set IAM database authentication on the DB cluster."
        )
    with _LOCK:
        before = bool(database.enable_iam_database_authentication)
        if enabled("deferred_iam_modification") and not db_kwargs.get("apply_immediately"):
            del db_kwargs[IAM_KEY]
            result = original(self, db_instance_identifier, db_kwargs)
            database.__dict__["_lab_pending_iam"] = None if iam == before else iam
            return result
        result = original(self, db_instance_identifier, db_kwargs)
        database.__dict__.pop("_lab_pending_iam", None)
        if iam != before:
            _start_modifying(database)
        return result


def _create_db_cluster(self: Any, kwargs: Any) -> Any:
    """Patch ``iam_engine_support`` on CreateDBCluster (RDS user guide, "IAM database authentication
    for MariaDB, MySQL, and PostgreSQL": supported engines; RDS API reference, "CreateDBCluster",
    errors: InvalidParameterCombination)."""
    if enabled("iam_engine_support") and kwargs.get(IAM_KEY):
        if not iam_supported(kwargs.get("engine", "")):
            _refuse_engine(kwargs.get("engine", ""))
    return _ORIGINALS["RDSBackend.create_db_cluster"](self, kwargs)


def _modify_db_cluster(self: Any, kwargs: Any) -> Any:
    """Patches ``cluster_iam_modify``, ``deferred_iam_modification`` and ``modifying_status`` on
    ModifyDBCluster.

    RDS API reference, "ModifyDBCluster": EnableIAMDatabaseAuthentication "Specifies whether to enable
    mapping of ... IAM accounts to database accounts" (valid for Aurora DB clusters); ApplyImmediately
    false defers the change to the maintenance window ("ClusterPendingModifiedValues":
    IAMDatabaseAuthenticationEnabled). Aurora user guide, "Enabling and disabling IAM database
    authentication": the setting is the DB cluster's."""
    original = _ORIGINALS["RDSBackend.modify_db_cluster"]
    if not enabled("cluster_iam_modify") or IAM_KEY not in kwargs or kwargs.get(IAM_KEY) is None:
        return original(self, kwargs)
    iam = bool(kwargs.get(IAM_KEY))
    del kwargs[IAM_KEY]
    cluster_id = kwargs["db_cluster_identifier"]
    cluster = self.clusters.get(cluster_id) or self.clusters.get(str(cluster_id).lower())
    if cluster is None:
        raise rds_models.DBClusterNotFoundError(cluster_id)
    if enabled("iam_engine_support") and iam and not str(cluster.engine).startswith("aurora"):
        raise InvalidParameterCombination(
            "IAM Authentication is currently not supported by Multi-AZ DB clusters."
        )
    with _LOCK:
        before = bool(cluster.iam_auth)
        deferred = enabled("deferred_iam_modification") and not kwargs.get("apply_immediately")
        if deferred:
            cluster.__dict__["_lab_pending_iam"] = None if iam == before else iam
        else:
            cluster.iam_auth = iam
            cluster.__dict__.pop("_lab_pending_iam", None)
            if iam != before:
                _start_modifying(cluster)
        return original(self, kwargs)


def _describe_instances_response(self: Any) -> Any:
    """Patch ``modifying_status``: each DescribeDBInstances counts down the ``modifying`` window
    (RDS user guide, "Viewing Amazon RDS DB instance status"; its length is an assumption)."""
    result = _ORIGINALS["RDSResponse.describe_db_instances"](self)
    _tick_modifying(result.result.get("DBInstances"))
    return result


def _describe_clusters_response(self: Any) -> Any:
    """Patch ``modifying_status``: each DescribeDBClusters counts down the ``modifying`` window
    (Aurora user guide, "Viewing DB cluster status"; its length is an assumption)."""
    result = _ORIGINALS["RDSResponse.describe_db_clusters"](self)
    _tick_modifying(result.result.get("DBClusters"))
    return result


def _instance_status_get(self: Any) -> str:
    """Patch ``modifying_status``: DBInstanceStatus ``modifying`` during the window, else the stored
    status (RDS user guide, "Viewing Amazon RDS DB instance status")."""
    if _is_modifying(self):
        return "modifying"
    return self.__dict__.get("_lab_status", "available")


def _instance_status_set(self: Any, value: str) -> None:
    """Patch ``modifying_status``: keeps the status moto sets (RDS user guide, "Viewing Amazon RDS DB
    instance status")."""
    self.__dict__["_lab_status"] = value


def _cluster_status_get(self: Any) -> str:
    """Patch ``modifying_status``: DBCluster Status ``modifying`` during the window (Aurora user guide,
    "Viewing DB cluster status")."""
    if _is_modifying(self):
        return "modifying"
    return _ORIGINALS["DBCluster.status"].fget(self)


def _cluster_status_set(self: Any, value: str) -> None:
    """Patch ``modifying_status``: keeps the status moto sets (Aurora user guide, "Viewing DB cluster
    status")."""
    _ORIGINALS["DBCluster.status"].fset(self, value)


def _instance_address(self: Any) -> str:
    """Patch ``lab_endpoints``: Endpoint.Address of a DB instance (RDS API reference, "Endpoint": "the
    DNS address of the DB instance") is the lab server's address a client can reach; the address
    itself is an assumption of the lab (lab/README.md)."""
    override = self.__dict__.get("_lab_endpoint_address")
    if override and enabled("lab_endpoints"):
        return override
    return _ORIGINALS["DBInstance.address"].fget(self)


def _cluster_endpoint(self: Any) -> str:
    """Patch ``lab_endpoints``: the cluster (writer) endpoint (RDS API reference, "DBCluster",
    Endpoint: "the connection endpoint for the primary instance of the DB cluster") is the lab
    server's address."""
    override = self.__dict__.get("_lab_endpoint_address")
    if override and enabled("lab_endpoints"):
        return override
    return _ORIGINALS["DBCluster.endpoint"].fget(self)


def _cluster_reader_endpoint(self: Any) -> str:
    """Patches ``lab_endpoints`` and ``lab_reader_endpoints``: the reader endpoint (RDS API reference,
    "DBCluster", ReaderEndpoint: "the reader endpoint for the DB cluster", a host name of its own; Aurora
    user guide, "Types of Aurora endpoints") is another name of the lab server (one server serves writer
    and readers: an assumption), so that a token signed for it names that host."""
    reader = self.__dict__.get("_lab_reader_endpoint_address")
    if reader and enabled("lab_reader_endpoints"):
        return reader
    override = self.__dict__.get("_lab_endpoint_address")
    if override and enabled("lab_endpoints"):
        return override
    return _ORIGINALS["DBCluster.reader_endpoint"].fget(self)


def _clustered_iam_enabled(self: Any) -> bool:
    """Patch ``clustered_instance_iam``: an Aurora member instance reports its cluster's setting
    (RDS API reference, "ModifyDBInstance", EnableIAMDatabaseAuthentication: for Aurora "IAM
    accounts to database accounts is managed by the DB cluster")."""
    if enabled("clustered_instance_iam"):
        return bool(self.cluster.iam_auth)
    return _ORIGINALS["DBInstance.iam_database_authentication_enabled"].fget(self)


def _pending_modified_values(self: Any) -> dict[str, Any] | None:
    """Patch ``deferred_iam_modification``: PendingModifiedValues / ClusterPendingModifiedValues carry
    IAMDatabaseAuthenticationEnabled while a change waits (RDS API reference,
    "PendingModifiedValues" and "ClusterPendingModifiedValues")."""
    return _pending_dict(self)


def _request_access_key(response: Any) -> str | None:
    """The access key id that signed a request: the SigV4 ``Authorization`` header's
    ``Credential=KEY/...`` or a presigned request's ``X-Amz-Credential`` (AWS General Reference,
    "Signature Version 4 signing process": "Add the signature to the HTTP request")."""
    header = (response.headers or {}).get("Authorization") or ""
    marker = "Credential="
    if marker in header:
        return header.split(marker, 1)[1].split("/", 1)[0].strip() or None
    values = (response.querystring or {}).get("X-Amz-Credential") or []
    return values[0].split("/", 1)[0] if values else None


def _simulation(response: Any, action: str, resource_of: Any, run: Any) -> Any:
    from moto.core.responses import ActionResult
    from moto.sts.models import sts_backends
    from xml.sax.saxutils import escape

    if not enabled("iam_policy_simulator"):
        raise NotImplementedError(f"The {action} action has not been implemented")
    params = {name: response._get_param(name) for name in (
        "PolicySourceArn", "ActionNames", "ResourceArns", "ContextEntries", "PolicyInputList",
        "PermissionsBoundaryPolicyInputList", "CallerArn", "MaxItems", "Marker")}
    iam = response.backend
    try:
        sts = sts_backends[iam.account_id][iam.partition]
        iam_simulator.authorize(iam, sts, _request_access_key(response), action, resource_of(params))
        return ActionResult(run(iam, params))
    except iam_simulator.SimulationError as error:
        kind = "Receiver" if error.status >= 500 else "Sender"
        body = (f'<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><Error><Type>{kind}</Type>'
                f"<Code>{escape(error.code)}</Code><Message>{escape(error.message)}</Message></Error>"
                "<RequestId>lab-simulator</RequestId></ErrorResponse>")
        return body, {"status": error.status}


def _simulate_principal_policy_response(self: Any) -> Any:
    """``iam:SimulatePrincipalPolicy`` (IAM API reference, "SimulatePrincipalPolicy"): the policies of
    the user, group or role named by PolicySourceArn (a user's groups too, its permissions boundary),
    decided by the lab's evaluator; the caller needs ``iam:SimulatePrincipalPolicy`` on that ARN
    (Service Authorization Reference, "Actions defined by AWS Identity and Access Management")."""
    return _simulation(self, "iam:SimulatePrincipalPolicy", lambda p: p.get("PolicySourceArn") or "*",
                       iam_simulator.simulate_principal_policy)


def _simulate_custom_policy_response(self: Any) -> Any:
    """``iam:SimulateCustomPolicy`` (IAM API reference, "SimulateCustomPolicy"): only the policy
    documents of the request; the caller needs ``iam:SimulateCustomPolicy`` (no resource type:
    Service Authorization Reference, "Actions defined by AWS Identity and Access Management")."""
    return _simulation(self, "iam:SimulateCustomPolicy", lambda _p: "*",
                       lambda _iam, params: iam_simulator.simulate_custom_policy(params))


# RDS Proxy (patch db_proxy_auth) -------------------------------------------------

PROXY_AUTH_SCHEMES = ("IAM_AUTH", "NONE")
PROXY_AUTH_KEYS = ("Description", "UserName", "AuthScheme", "SecretArn", "IAMAuth", "ClientPasswordAuthType")
#: The ClientPasswordAuthType RDS fills in per engine family (RDS API reference, "UserAuthConfig").
PROXY_CLIENT_PASSWORD_DEFAULTS = {
    "MYSQL": "MYSQL_CACHING_SHA2_PASSWORD",
    "POSTGRESQL": "POSTGRES_SCRAM_SHA_256",
    "SQLSERVER": "SQL_SERVER_AUTHENTICATION",
}
PROXY_CLIENT_PASSWORD_TYPES = {
    "MYSQL": ("MYSQL_NATIVE_PASSWORD", "MYSQL_CACHING_SHA2_PASSWORD"),
    "POSTGRESQL": ("POSTGRES_SCRAM_SHA_256", "POSTGRES_MD5"),
    "SQLSERVER": ("SQL_SERVER_AUTHENTICATION",),
}
#: The lab daemon's proxy listeners: ``add(proxy) -> endpoint address`` and ``remove(name)``
#: (None: no daemon, moto's endpoint names stay).
PROXY_LISTENERS: dict[str, Any] = {"add": None, "remove": None}


def proxy_auth_entries(auth: Any, engine_family: str) -> list[dict[str, str]]:
    """Patch ``db_proxy_auth``: the ``Auth`` entries as RDS keeps them (RDS API reference,
    "UserAuthConfig" and "UserAuthConfigInfo"): ``AuthScheme`` SECRETS (the only value),
    ``IAMAuth`` DISABLED by default (``ENABLED`` only for SQL Server), ``ClientPasswordAuthType``
    the engine family's default, and a ``SecretArn`` for each entry ("Setting up database
    credentials in AWS Secrets Manager for RDS Proxy": the proxy reads the user name and password
    from the secret)."""
    entries = []
    for index, raw in enumerate(auth or []):
        raw = raw or {}  # moto hands request structures over as XFormedDict: read them by their API names
        entry = {key: raw.get(key) for key in PROXY_AUTH_KEYS if raw.get(key) not in (None, "")}
        entry.setdefault("AuthScheme", "SECRETS")
        entry.setdefault("IAMAuth", "DISABLED")
        entry.setdefault("ClientPasswordAuthType", PROXY_CLIENT_PASSWORD_DEFAULTS.get(engine_family, ""))
        if entry["AuthScheme"] != "SECRETS":
            raise InvalidParameterValue(f"Auth[{index}].AuthScheme must be SECRETS")
        if entry["IAMAuth"] not in ("DISABLED", "REQUIRED", "ENABLED") or (
                entry["IAMAuth"] == "ENABLED" and engine_family != "SQLSERVER"):
            raise InvalidParameterValue(
                f"Auth[{index}].IAMAuth {entry['IAMAuth']!r}: DISABLED or REQUIRED (ENABLED is for SQL Server only)")
        if entry["ClientPasswordAuthType"] not in PROXY_CLIENT_PASSWORD_TYPES.get(engine_family, ()):
            raise InvalidParameterValue(
                f"Auth[{index}].ClientPasswordAuthType {entry['ClientPasswordAuthType']!r} is not valid for "
                f"engine family {engine_family}")
        if not entry.get("SecretArn"):
            raise InvalidParameterValue(f"Auth[{index}]: SecretArn is required for AuthScheme SECRETS")
        entries.append(entry)
    return entries


def _check_default_auth_scheme(scheme: Any, auth: list[dict[str, str]]) -> str:
    """Patch ``db_proxy_auth``: ``DefaultAuthScheme`` is IAM_AUTH or NONE (RDS API reference,
    "CreateDBProxy" / "ModifyDBProxy", default NONE); with NONE the proxy logs in to the database
    only with secrets, so it needs at least one ``Auth`` entry (RDS user guide, "Setting up IAM
    authentication for RDS Proxy"; with IAM_AUTH no secret is needed: "end-to-end IAM
    authentication")."""
    scheme = scheme or "NONE"
    if scheme not in PROXY_AUTH_SCHEMES:
        raise InvalidParameterValue(f"DefaultAuthScheme {scheme!r} must be one of {PROXY_AUTH_SCHEMES}")
    if scheme == "NONE" and not auth:
        raise InvalidParameterValue(
            "Auth is required when DefaultAuthScheme is NONE: the proxy needs a secret to log in to the database")
    return scheme


def _create_db_proxy_response(self: Any) -> Any:
    """Patch ``db_proxy_auth`` on CreateDBProxy (RDS API reference, "CreateDBProxy": DefaultAuthScheme
    IAM_AUTH | NONE, Auth optional with IAM_AUTH; "end-to-end IAM authentication" (Sept 2025): the
    proxy logs in to the database with its own IAM role). The proxy's resource id is moto's ``prx-``
    id, the last part of its ARN (RDS user guide, "Setting up IAM authentication for RDS Proxy": the
    ``rds-db:connect`` resource of a proxy is ``arn:aws:rds-db:REGION:ACCOUNT:dbuser:prx-ID/USER``).
    The endpoint is the lab's listener for the proxy when the daemon runs one."""
    if not enabled("db_proxy_auth"):
        return _ORIGINALS["RDSResponse.create_db_proxy"](self)
    family = self.params.get("EngineFamily")
    auth = proxy_auth_entries(self.params.get("Auth"), family)
    scheme = _check_default_auth_scheme(self.params.get("DefaultAuthScheme"), auth)
    self.params["Auth"] = auth
    result = _ORIGINALS["RDSResponse.create_db_proxy"](self)
    proxy = result.result["DBProxy"]
    proxy.default_auth_scheme = scheme
    if self.params.get("RequireTLS") is None:
        proxy.require_tls = False
    listen = PROXY_LISTENERS["add"]
    if listen is not None:
        proxy.endpoint = listen(proxy)
    return result


def _modify_db_proxy_response(self: Any) -> Any:
    """``ModifyDBProxy`` (RDS API reference, "ModifyDBProxy": DefaultAuthScheme, Auth (replaces the
    list), RequireTLS, IdleClientTimeout, DebugLogging, RoleArn, SecurityGroups; NewDBProxyName is
    not supported by the lab); the migration to end-to-end IAM modifies DefaultAuthScheme (RDS user
    guide, "Migrating from standard IAM authentication to end-to-end IAM authentication for RDS
    Proxy")."""
    from moto.core.responses import ActionResult

    if not enabled("db_proxy_auth"):
        raise NotImplementedError("The ModifyDBProxy action has not been implemented")
    name = self.params.get("DBProxyName")
    proxy = self.backend.describe_db_proxies(db_proxy_name=name)[0]
    if self.params.get("NewDBProxyName") not in (None, name):
        raise InvalidParameterValue("NewDBProxyName is not supported by the lab")
    with _LOCK:
        auth = proxy.auth
        if self.params.get("Auth") is not None:
            auth = proxy_auth_entries(self.params.get("Auth"), proxy.engine_family)
        scheme = _check_default_auth_scheme(
            self.params.get("DefaultAuthScheme") or getattr(proxy, "default_auth_scheme", "NONE"), auth)
        proxy.auth = auth
        proxy.default_auth_scheme = scheme
        for param, attribute in (("RequireTLS", "require_tls"), ("IdleClientTimeout", "idle_client_timeout"),
                                 ("DebugLogging", "debug_logging"), ("RoleArn", "role_arn"),
                                 ("SecurityGroups", "vpc_security_group_ids")):
            if self.params.get(param) is not None:
                setattr(proxy, attribute, self.params.get(param))
        proxy.updated_date = utcnow()
    return ActionResult({"DBProxy": proxy})


def _delete_db_proxy_response(self: Any) -> Any:
    """Patch ``db_proxy_auth`` on DeleteDBProxy (RDS API reference, "DeleteDBProxy"): an unknown name is
    ``DBProxyNotFoundFault`` (moto: KeyError, HTTP 500); the proxy's endpoint stops accepting connections
    (the lab's listener is closed)."""
    if enabled("db_proxy_auth") and self.params.get("DBProxyName") not in self.backend.db_proxies:
        raise DBProxyNotFoundFault(self.params.get("DBProxyName"))
    result = _ORIGINALS["RDSResponse.delete_db_proxy"](self)
    stop = PROXY_LISTENERS["remove"]
    if stop is not None and enabled("db_proxy_auth"):
        stop(self.params.get("DBProxyName"))
    return result


def _proxy_default_auth_scheme(self: Any) -> str:
    """Patch ``db_proxy_auth``: DBProxy ``DefaultAuthScheme`` (RDS API reference, "DBProxy"),
    NONE for a proxy created without it."""
    return self.__dict__.get("_lab_default_auth_scheme", "NONE")


def _set_proxy_default_auth_scheme(self: Any, value: str) -> None:
    """Patch ``db_proxy_auth``: keeps DBProxy ``DefaultAuthScheme`` (RDS API reference, "DBProxy")."""
    self.__dict__["_lab_default_auth_scheme"] = value


def _apply_proxy_patches(Response: Any) -> None:
    for name, func in (("create_db_proxy", _create_db_proxy_response),
                       ("delete_db_proxy", _delete_db_proxy_response)):
        _ORIGINALS[f"RDSResponse.{name}"] = getattr(Response, name)
        setattr(Response, name, func)
    Response.modify_db_proxy = _modify_db_proxy_response  # type: ignore[attr-defined]
    rds_models.DBProxy.default_auth_scheme = property(  # type: ignore[attr-defined]
        _proxy_default_auth_scheme, _set_proxy_default_auth_scheme)


def apply() -> None:
    """Install the patches (idempotent)."""
    global _APPLIED
    with _LOCK:
        if _APPLIED:
            return
        DBInstance = rds_models.DBInstance
        DBCluster = rds_models.DBCluster
        Backend = rds_models.RDSBackend
        Response = rds_responses.RDSResponse

        _ORIGINALS["DBInstance.__init__"] = DBInstance.__init__
        DBInstance.__init__ = _instance_init  # type: ignore[method-assign]

        for name, func in (
            ("create_db_instance", _create_db_instance),
            ("modify_db_instance", _modify_db_instance),
            ("create_db_cluster", _create_db_cluster),
            ("modify_db_cluster", _modify_db_cluster),
            ("create_db_instance_read_replica", _create_db_instance_read_replica),
            ("create_global_cluster", _create_global_cluster),
            ("remove_from_global_cluster", _remove_from_global_cluster),
        ):
            _ORIGINALS[f"RDSBackend.{name}"] = getattr(Backend, name)
            setattr(Backend, name, func)

        _ORIGINALS["DBInstance.remove_replica"] = DBInstance.remove_replica
        DBInstance.remove_replica = _remove_replica  # type: ignore[method-assign]

        _ORIGINALS["RDSResponse.describe_db_instances"] = Response.describe_db_instances
        Response.describe_db_instances = _describe_instances_response  # type: ignore[method-assign]
        _ORIGINALS["RDSResponse.describe_db_clusters"] = Response.describe_db_clusters
        Response.describe_db_clusters = _describe_clusters_response  # type: ignore[method-assign]

        DBInstance.status = property(_instance_status_get, _instance_status_set)  # type: ignore[attr-defined]
        _ORIGINALS["DBCluster.status"] = DBCluster.__dict__["status"]
        DBCluster.status = property(_cluster_status_get, _cluster_status_set)  # type: ignore[method-assign,assignment]

        _ORIGINALS["DBInstance.address"] = DBInstance.__dict__["address"]
        DBInstance.address = property(_instance_address)  # type: ignore[method-assign,assignment]
        _ORIGINALS["DBCluster.endpoint"] = DBCluster.__dict__["endpoint"]
        DBCluster.endpoint = property(_cluster_endpoint)  # type: ignore[method-assign,assignment]
        _ORIGINALS["DBCluster.reader_endpoint"] = DBCluster.__dict__["reader_endpoint"]
        DBCluster.reader_endpoint = property(_cluster_reader_endpoint)  # type: ignore[method-assign,assignment]

        _ORIGINALS["DBInstance.iam_database_authentication_enabled"] = DBInstance.__dict__[
            "iam_database_authentication_enabled"
        ]
        rds_models.DBInstanceClustered.iam_database_authentication_enabled = property(  # type: ignore[attr-defined]
            _clustered_iam_enabled
        )

        DBInstance.pending_modified_values = property(_pending_modified_values)  # type: ignore[attr-defined]
        DBCluster.pending_modified_values = property(_pending_modified_values)  # type: ignore[attr-defined]

        from moto.iam.responses import IamResponse

        IamResponse.simulate_principal_policy = _simulate_principal_policy_response  # type: ignore[attr-defined]
        IamResponse.simulate_custom_policy = _simulate_custom_policy_response  # type: ignore[attr-defined]
        _apply_proxy_patches(Response)

        _APPLIED = True
