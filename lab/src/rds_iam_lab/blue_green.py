"""Blue/Green deployments in the lab: moto's model, patched where it differs from RDS, and hooks that give the
green database an endpoint of its own and move the endpoints with the names at switchover.

Stock moto 5.2.x already creates the green copy (its own identifier ``NAME-green-xxxxxx``, its own resource id
with the lab's ``unique_dbi_resource_id`` patch), and its switchover renames the blue to ``NAME-old1`` and the green
to ``NAME`` while the objects (and so their resource ids) stay. What it lacks, patched here (``apply``):

``green_copies_iam_flag``
    the green instance is created with IAM database authentication off -> it has the blue's setting. RDS user
    guide, "Overview of Amazon RDS Blue/Green Deployments": the green environment is "a copy of the topology of
    the production environment" that "includes the features used by the DB instance"; a read replica of the blue
    that keeps its configuration unless a change is asked for (CreateBlueGreenDeployment has no IAM option).
``green_endpoint``
    the green copies the blue's port and gets moto's made-up host name -> the lab's hook
    (:func:`set_hooks`, the daemon) gives it an endpoint of its own: a relay to the server that serves the blue.
``switchover_endpoints``
    the endpoints stay with the objects after the renames -> they move with the names. RDS user guide,
    "Switching a blue/green deployment in Amazon RDS": "the DB instances in the green environment" are renamed
    to match the blue ones and take over their endpoints ("Renames the production DB instances ... by appending
    -old1", "Renames the staging DB instances in the green environment to match the corresponding production DB
    instances"), so applications need no change; the resource ids do not change with the names (RDS API
    reference, "DBInstance", DbiResourceId: "immutable"), which is why an ``rds-db:connect`` policy on the old
    blue's resource id no longer matches the database behind the name.

Instances only: a Blue/Green deployment of an Aurora cluster is refused with ``InvalidParameterCombination`` by the
lab (lab/README.md, "Assumptions").
"""

from __future__ import annotations

import threading
from typing import Any, Callable

from moto.rds import models as rds_models
from moto.rds.exceptions import InvalidParameterCombination

PATCH_NAMES = ("green_copies_iam_flag", "green_endpoint", "switchover_endpoints", "delete_target")
_ORIGINALS: dict[str, Any] = {}
_LOCK = threading.RLock()
_APPLIED = False
#: on_green(source DBInstance, green DBInstance), on_switchover(old blue DBInstance, new blue DBInstance, old green
#: identifier), on_deleted(identifier): set by the lab daemon; None without one (a control plane alone, in tests).
_HOOKS: dict[str, Callable[..., None] | None] = {"on_green": None, "on_switchover": None, "on_deleted": None}


def set_hooks(on_green: Callable[..., None] | None = None, on_switchover: Callable[..., None] | None = None,
              on_deleted: Callable[..., None] | None = None) -> None:
    """The daemon's callbacks: give a new green an endpoint (it may refuse the source by raising); rename the
    endpoint of the old green at switchover; drop the endpoint of a green deleted with its deployment."""
    _HOOKS.update(on_green=on_green, on_switchover=on_switchover, on_deleted=on_deleted)


def _create_green_instance(self: Any, *args: Any, **kwargs: Any) -> str:
    """Patches ``green_copies_iam_flag`` and ``green_endpoint`` (module docstring: RDS user guide, "Overview of
    Amazon RDS Blue/Green Deployments": the green environment is a copy of the blue's topology and features)."""
    source = self._get_valid_instance_or_raise(self.source)
    if not isinstance(source, rds_models.DBInstance) or getattr(source, "db_cluster_identifier", None):
        raise InvalidParameterCombination(
            "The lab runs Blue/Green deployments of DB instances only (lab/README.md, Assumptions)")
    green_arn = _ORIGINALS["BlueGreenDeployment._create_green_instance"](self, *args, **kwargs)
    green = self.backend.find_db_from_id(green_arn)
    green.enable_iam_database_authentication = bool(source.enable_iam_database_authentication)
    hook = _HOOKS["on_green"]
    if hook is not None:
        try:
            hook(source, green)
        except BaseException:
            self.backend.delete_db_instance(db_instance_identifier=green.db_instance_identifier)
            raise
    return green_arn


def _switchover(self: Any) -> None:
    """Patch ``switchover_endpoints`` (module docstring: RDS user guide, "Switching a blue/green deployment in
    Amazon RDS": the green takes the blue's name and endpoint, the blue is renamed ``-old1``; resource ids stay)."""
    with _LOCK:
        blue = self._get_valid_instance_or_raise(self.source)
        green = self._get_valid_instance_or_raise(self.target)
        green_name = green.db_instance_identifier
        blue_endpoint = (blue.__dict__.get("_lab_endpoint_address"), blue.port)
        green_endpoint = (green.__dict__.get("_lab_endpoint_address"), green.port)
        _ORIGINALS["BlueGreenDeployment.switchover"](self)
        for obj, (address, port) in ((green, blue_endpoint), (blue, green_endpoint)):
            if address is None:
                obj.__dict__.pop("_lab_endpoint_address", None)
            else:
                obj.__dict__["_lab_endpoint_address"] = address
            obj.port = port
        hook = _HOOKS["on_switchover"]
        if hook is not None:
            hook(blue, green, green_name)


def _delete_blue_green_deployment(self: Any, blue_green_deployment_identifier: str, delete_target: bool = False) -> Any:
    """Patch ``delete_target``: with DeleteTarget, moto deletes the green instance but the lab would keep its
    endpoint -> the endpoint goes with it (RDS API reference, "DeleteBlueGreenDeployment", DeleteTarget: "Specifies
    whether to delete the resources in the green environment"; not allowed after a switchover)."""
    found = self.blue_green_deployments.get(blue_green_deployment_identifier)
    target = found.target if found is not None else None
    original = _ORIGINALS["RDSBackend.delete_blue_green_deployment"]
    result = original(self, blue_green_deployment_identifier, delete_target)
    hook = _HOOKS["on_deleted"]
    if delete_target and target and hook is not None:
        ident = target.split(":")[-1]
        if ident.lower() not in self.databases:
            hook(ident)
    return result


def apply() -> None:
    """Install the patches (idempotent)."""
    global _APPLIED
    with _LOCK:
        if _APPLIED:
            return
        cls = rds_models.BlueGreenDeployment
        for name, func in (("_create_green_instance", _create_green_instance), ("switchover", _switchover)):
            _ORIGINALS[f"BlueGreenDeployment.{name}"] = getattr(cls, name)
            setattr(cls, name, func)
        backend = rds_models.RDSBackend
        _ORIGINALS["RDSBackend.delete_blue_green_deployment"] = backend.delete_blue_green_deployment
        backend.delete_blue_green_deployment = _delete_blue_green_deployment  # type: ignore[method-assign]
        _APPLIED = True
