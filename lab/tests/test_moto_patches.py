"""Each moto patch: the RDS behaviour through the API, and the stock moto 5.2.5
behaviour the patch corrects (the same check with the patch switched off).

Tests create their own throw-away instances/clusters so that the seeded lab
databases keep their state for other tests.
"""

from __future__ import annotations

import re
import uuid

import pytest
from botocore.exceptions import ClientError
from botocore.parsers import ResponseParserError

from rds_iam_lab import moto_patches


def _id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _instance(rds, engine="postgres", version="16.4", **extra):
    ident = _id("p-" + engine.split("-")[0])
    params = dict(DBInstanceIdentifier=ident, DBInstanceClass="db.t3.micro", Engine=engine,
                  MasterUsername="admin", MasterUserPassword="lab-admin-pw-1", AllocatedStorage=20)
    if version:
        params["EngineVersion"] = version
    params.update(extra)
    return rds.create_db_instance(**params)["DBInstance"]


def _cluster(rds, **extra):
    ident = _id("p-aurora")
    rds.create_db_cluster(DBClusterIdentifier=ident, Engine="aurora-postgresql", EngineVersion="16.4",
                          MasterUsername="admin", MasterUserPassword="lab-admin-pw-1", **extra)
    rds.describe_db_clusters(DBClusterIdentifier=ident)  # settle moto's one-off "creating"
    return ident


def _describe_instance(rds, ident):
    return rds.describe_db_instances(DBInstanceIdentifier=ident)["DBInstances"][0]


def _describe_cluster(rds, ident):
    return rds.describe_db_clusters(DBClusterIdentifier=ident)["DBClusters"][0]


@pytest.fixture
def rds(lab_control_plane):
    return lab_control_plane.client("rds")


@pytest.fixture
def slow_modifying(lab_patch_settings):
    # the "modifying" window ends after N describes or T seconds: make T irrelevant here
    lab_patch_settings["modifying_seconds"] = 3600.0
    return lab_patch_settings


def test_apply_is_idempotent(lab_control_plane):
    from moto.rds import models

    init = models.DBInstance.__init__
    modify = models.RDSBackend.modify_db_cluster
    moto_patches.apply()
    moto_patches.apply()
    assert models.DBInstance.__init__ is init
    assert models.RDSBackend.modify_db_cluster is modify
    assert moto_patches._ORIGINALS["DBInstance.__init__"] is not init  # the stock one, not a wrapper


# 1. unique DbiResourceId ------------------------------------------------------

def test_unique_dbi_resource_id(rds, lab_control_plane):
    # stock: every instance gets db-M5ENSHXFPU6XHZ4G4ZEI5QIO2U
    a, b = _instance(rds), _instance(rds)
    assert a["DbiResourceId"] != b["DbiResourceId"]
    for db in (a, b):
        assert db["DbiResourceId"].startswith("db-") and len(db["DbiResourceId"]) == 29
    seeded = {d["id"]: d["resource_id"] for d in lab_control_plane.databases()}
    assert len(set(seeded.values())) == len(seeded)
    assert seeded["lab-aurora"].startswith("cluster-")
    with moto_patches.disabled("unique_dbi_resource_id"):
        c, d = _instance(rds), _instance(rds)
    assert c["DbiResourceId"] == d["DbiResourceId"]


# 2. ModifyDBCluster honours EnableIAMDatabaseAuthentication -------------------

def test_modify_db_cluster_enables_iam(rds):
    ident = _cluster(rds)
    out = rds.modify_db_cluster(DBClusterIdentifier=ident, EnableIAMDatabaseAuthentication=True,
                                ApplyImmediately=True)["DBCluster"]
    assert out["IAMDatabaseAuthenticationEnabled"] is True
    assert _describe_cluster(rds, ident)["IAMDatabaseAuthenticationEnabled"] is True
    rds.modify_db_cluster(DBClusterIdentifier=ident, EnableIAMDatabaseAuthentication=False, ApplyImmediately=True)
    assert _describe_cluster(rds, ident)["IAMDatabaseAuthenticationEnabled"] is False
    # stock: the parameter is ignored
    other = _cluster(rds)
    with moto_patches.disabled("cluster_iam_modify"):
        rds.modify_db_cluster(DBClusterIdentifier=other, EnableIAMDatabaseAuthentication=True,
                              ApplyImmediately=True)
    assert _describe_cluster(rds, other)["IAMDatabaseAuthenticationEnabled"] is False


# 3. mariadb without EngineVersion ---------------------------------------------

def test_mariadb_without_engine_version(rds):
    db = _instance(rds, engine="mariadb", version=None)
    assert db["Engine"] == "mariadb"
    assert db["EngineVersion"].startswith("10.11.")
    # stock: KeyError in moto -> HTTP 500 with an HTML body
    with moto_patches.disabled("mariadb_default_version"):
        with pytest.raises((ClientError, ResponseParserError)):
            _instance(rds, engine="mariadb", version=None)


# 4. IAM auth refused on engines RDS refuses -------------------------------------

@pytest.mark.parametrize("engine,version", [("sqlserver-se", "15.00.4153.1.v1"), ("oracle-ee", "19.0.0.0.ru-2024-01.rur-2024-01.r1")])
def test_iam_refused_on_unsupported_engine_create(rds, engine, version):
    with pytest.raises(ClientError) as err:
        _instance(rds, engine=engine, version=version, EnableIAMDatabaseAuthentication=True)
    assert err.value.response["Error"]["Code"] == "InvalidParameterCombination"
    assert engine in err.value.response["Error"]["Message"]
    # stock: accepted
    with moto_patches.disabled("iam_engine_support"):
        db = _instance(rds, engine=engine, version=version, EnableIAMDatabaseAuthentication=True)
    assert db["IAMDatabaseAuthenticationEnabled"] is True


def test_iam_refused_on_unsupported_engine_modify(rds):
    db = _instance(rds, engine="sqlserver-ex", version="15.00.4153.1.v1")
    with pytest.raises(ClientError) as err:
        rds.modify_db_instance(DBInstanceIdentifier=db["DBInstanceIdentifier"],
                               EnableIAMDatabaseAuthentication=True, ApplyImmediately=True)
    assert err.value.response["Error"]["Code"] == "InvalidParameterCombination"
    assert "sqlserver-ex" in err.value.response["Error"]["Message"]
    assert _describe_instance(rds, db["DBInstanceIdentifier"])["IAMDatabaseAuthenticationEnabled"] is False
    # disabling is fine, and supported engines are unaffected
    rds.modify_db_instance(DBInstanceIdentifier=db["DBInstanceIdentifier"],
                           EnableIAMDatabaseAuthentication=False, ApplyImmediately=True)
    pg = _instance(rds, EnableIAMDatabaseAuthentication=True)
    assert pg["IAMDatabaseAuthenticationEnabled"] is True
    # stock: accepted
    with moto_patches.disabled("iam_engine_support"):
        rds.modify_db_instance(DBInstanceIdentifier=db["DBInstanceIdentifier"],
                               EnableIAMDatabaseAuthentication=True, ApplyImmediately=True)
    assert _describe_instance(rds, db["DBInstanceIdentifier"])["IAMDatabaseAuthenticationEnabled"] is True


# 5. ApplyImmediately=false leaves the change pending --------------------------

def test_deferred_instance_modification(rds, lab_control_plane):
    ident = _instance(rds)["DBInstanceIdentifier"]
    out = rds.modify_db_instance(DBInstanceIdentifier=ident, EnableIAMDatabaseAuthentication=True,
                                 ApplyImmediately=False)["DBInstance"]
    assert out["IAMDatabaseAuthenticationEnabled"] is False
    assert out["PendingModifiedValues"] == {"IAMDatabaseAuthenticationEnabled": True}
    db = _describe_instance(rds, ident)
    assert db["IAMDatabaseAuthenticationEnabled"] is False
    assert db["PendingModifiedValues"]["IAMDatabaseAuthenticationEnabled"] is True
    changes = lab_control_plane.maintenance()
    assert f"instance {ident}: IAMDatabaseAuthenticationEnabled false -> true" in changes
    db = _describe_instance(rds, ident)
    assert db["IAMDatabaseAuthenticationEnabled"] is True
    assert "IAMDatabaseAuthenticationEnabled" not in db.get("PendingModifiedValues", {})
    assert lab_control_plane.maintenance() == []
    # stock: applied at once, nothing pending
    other = _instance(rds)["DBInstanceIdentifier"]
    with moto_patches.disabled("deferred_iam_modification"):
        rds.modify_db_instance(DBInstanceIdentifier=other, EnableIAMDatabaseAuthentication=True,
                               ApplyImmediately=False)
    assert _describe_instance(rds, other)["IAMDatabaseAuthenticationEnabled"] is True


def test_deferred_cluster_modification(rds, lab_control_plane):
    ident = _cluster(rds)
    out = rds.modify_db_cluster(DBClusterIdentifier=ident, EnableIAMDatabaseAuthentication=True,
                                ApplyImmediately=False)["DBCluster"]
    assert out["IAMDatabaseAuthenticationEnabled"] is False
    assert out["PendingModifiedValues"] == {"IAMDatabaseAuthenticationEnabled": True}
    assert _describe_cluster(rds, ident)["PendingModifiedValues"]["IAMDatabaseAuthenticationEnabled"] is True
    assert f"cluster {ident}: IAMDatabaseAuthenticationEnabled false -> true" in lab_control_plane.maintenance()
    cluster = _describe_cluster(rds, ident)
    assert cluster["IAMDatabaseAuthenticationEnabled"] is True
    assert "PendingModifiedValues" not in cluster
    # stock (with the cluster fix on): applied at once
    other = _cluster(rds)
    with moto_patches.disabled("deferred_iam_modification"):
        rds.modify_db_cluster(DBClusterIdentifier=other, EnableIAMDatabaseAuthentication=True,
                              ApplyImmediately=False)
    assert _describe_cluster(rds, other)["IAMDatabaseAuthenticationEnabled"] is True


# 6. "modifying" after an immediate change --------------------------------------

def test_instance_modifying_then_available(rds, slow_modifying):
    ident = _instance(rds)["DBInstanceIdentifier"]
    out = rds.modify_db_instance(DBInstanceIdentifier=ident, EnableIAMDatabaseAuthentication=True,
                                 ApplyImmediately=True)["DBInstance"]
    assert out["DBInstanceStatus"] == "modifying"
    statuses = [_describe_instance(rds, ident)["DBInstanceStatus"] for _call in range(3)]
    assert statuses == ["modifying", "modifying", "available"]
    # the waiter sees it through
    rds.get_waiter("db_instance_available").wait(DBInstanceIdentifier=ident, WaiterConfig={"Delay": 0})
    # a no-op modification does not start a new window
    rds.modify_db_instance(DBInstanceIdentifier=ident, EnableIAMDatabaseAuthentication=True, ApplyImmediately=True)
    assert _describe_instance(rds, ident)["DBInstanceStatus"] == "available"
    # stock: never modifying
    with moto_patches.disabled("modifying_status"):
        rds.modify_db_instance(DBInstanceIdentifier=ident, EnableIAMDatabaseAuthentication=False,
                               ApplyImmediately=True)
        assert _describe_instance(rds, ident)["DBInstanceStatus"] == "available"


def test_cluster_modifying_then_available(rds, slow_modifying):
    ident = _cluster(rds)
    rds.modify_db_cluster(DBClusterIdentifier=ident, EnableIAMDatabaseAuthentication=True, ApplyImmediately=True)
    statuses = [_describe_cluster(rds, ident)["Status"] for _call in range(3)]
    assert statuses == ["modifying", "modifying", "available"]


def test_modifying_window_also_ends_with_time(rds, lab_patch_settings):
    lab_patch_settings["modifying_seconds"] = 0.0
    ident = _instance(rds)["DBInstanceIdentifier"]
    rds.modify_db_instance(DBInstanceIdentifier=ident, EnableIAMDatabaseAuthentication=True, ApplyImmediately=True)
    assert _describe_instance(rds, ident)["DBInstanceStatus"] == "available"


# 7. endpoints are the local servers' --------------------------------------------

def test_seeded_endpoints_are_local_servers(rds, lab_control_plane):
    specs = {s.id: s for s in lab_control_plane.specs()}
    for ident in ("lab-mysql", "lab-postgres"):
        ep = _describe_instance(rds, ident)["Endpoint"]
        assert (ep["Address"], ep["Port"]) == (specs[ident].host, specs[ident].port)
    cluster = _describe_cluster(rds, "lab-aurora")
    assert (cluster["Endpoint"], cluster["Port"]) == ("127.0.0.1", specs["lab-aurora"].port)
    # the reader endpoint is a host name of its own (Aurora user guide, "Types of Aurora endpoints")
    assert cluster["ReaderEndpoint"] == "localhost"
    with moto_patches.disabled("lab_reader_endpoints"):
        assert _describe_cluster(rds, "lab-aurora")["ReaderEndpoint"] == "127.0.0.1"
    member = _describe_instance(rds, "lab-aurora-instance-1")["Endpoint"]
    assert (member["Address"], member["Port"]) == ("127.0.0.1", specs["lab-aurora"].port)
    # stock: fake *.rds.amazonaws.com names
    with moto_patches.disabled("lab_endpoints"):
        assert _describe_instance(rds, "lab-postgres")["Endpoint"]["Address"].endswith(".rds.amazonaws.com")
        assert _describe_cluster(rds, "lab-aurora")["Endpoint"].endswith(".rds.amazonaws.com")


# 8. Aurora member instances follow the cluster ---------------------------------

def test_cluster_member_mirrors_cluster_iam(rds):
    ident = _cluster(rds)
    member = _id("p-member")
    rds.create_db_instance(DBInstanceIdentifier=member, DBInstanceClass="db.r6g.large",
                           Engine="aurora-postgresql", DBClusterIdentifier=ident)
    rds.modify_db_cluster(DBClusterIdentifier=ident, EnableIAMDatabaseAuthentication=True, ApplyImmediately=True)
    assert _describe_instance(rds, member)["IAMDatabaseAuthenticationEnabled"] is True
    with pytest.raises(ClientError) as err:
        rds.modify_db_instance(DBInstanceIdentifier=member, EnableIAMDatabaseAuthentication=False,
                               ApplyImmediately=True)
    assert err.value.response["Error"]["Code"] == "InvalidParameterCombination"
    # stock: the member keeps its own flag (false) whatever the cluster says
    with moto_patches.disabled("clustered_instance_iam"):
        assert _describe_instance(rds, member)["IAMDatabaseAuthenticationEnabled"] is False


def test_multi_az_cluster_iam_refused_on_modify(rds):
    ident = _id("p-maz")
    rds.create_db_cluster(DBClusterIdentifier=ident, Engine="postgres", EngineVersion="16.4",
                          MasterUsername="admin", MasterUserPassword="lab-admin-pw-1",
                          DBClusterInstanceClass="db.m5d.large", AllocatedStorage=100, Iops=1000,
                          StorageType="io1")
    with pytest.raises(ClientError) as err:
        rds.modify_db_cluster(DBClusterIdentifier=ident, EnableIAMDatabaseAuthentication=True,
                              ApplyImmediately=True)
    assert err.value.response["Error"]["Code"] == "InvalidParameterCombination"


# -- every patch cites AWS ---------------------------------------------------------------------------------------
_AWS_REFERENCE = re.compile(r"(RDS|IAM|Aurora) (API reference|user guide)|AWS General Reference|"
                            r"Service Authorization Reference")
_PAGE = re.compile(r'"[A-Z][^"]{3,}"')  # a quoted page (or data type) title


def _installed_functions():
    """Every function rds_iam_lab.moto_patches installs into moto's classes (methods and property accessors)."""
    from moto.iam.responses import IamResponse
    from moto.rds import models, responses

    moto_patches.apply()
    found = {}
    for cls in (models.DBInstance, models.DBInstanceClustered, models.DBCluster, models.RDSBackend,
                responses.RDSResponse, IamResponse):
        for value in vars(cls).values():
            funcs = [value.fget, value.fset] if isinstance(value, property) else [value]
            for func in funcs:
                if callable(func) and getattr(func, "__module__", "") == moto_patches.__name__:
                    found[func.__name__] = func
    return found


def test_every_patch_function_cites_an_aws_page():
    from rds_iam_lab import control_plane

    functions = dict(_installed_functions())
    assert len(functions) >= 18, sorted(functions)
    functions.update(apply_pending_maintenance=moto_patches.apply_pending_maintenance,
                     set_endpoint_address=moto_patches.set_endpoint_address,
                     find_database=control_plane.ControlPlane.find_database,
                     endpoints=control_plane.ControlPlane.endpoints,
                     maintenance=control_plane.ControlPlane.maintenance,
                     seed_database=control_plane.ControlPlane._seed_database,
                     set_reader_endpoint_address=moto_patches.set_reader_endpoint_address,
                     seed_replica=control_plane.ControlPlane._seed_replica,
                     global_cluster_of=control_plane.ControlPlane._global_cluster_of)
    missing = [name for name, func in sorted(functions.items())
               if not (_AWS_REFERENCE.search(func.__doc__ or "") and _PAGE.search(func.__doc__ or ""))]
    assert missing == [], f"patch functions without an AWS page in their docstring: {missing}"


def test_every_patch_is_documented_in_the_module_docstring():
    for name in moto_patches.PATCH_NAMES:
        assert f"``{name}``" in moto_patches.__doc__, name
