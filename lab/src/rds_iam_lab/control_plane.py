"""The lab's AWS control plane: moto in server mode, in this process, patched and seeded.

``start_control_plane(specs)`` starts ``moto.server.ThreadedMotoServer`` on
127.0.0.1 (free port by default), applies :mod:`rds_iam_lab.moto_patches`, and seeds:

* one RDS instance per ``kind="instance"`` spec, one Aurora cluster with one member
  instance per ``kind="cluster"`` spec, IAM database authentication OFF, endpoints
  = the spec's host/port (the lab's local servers);
* ``lab-admin``: IAM user with access keys and an attached admin policy
  (the controller's principal);
* roles ``lab-app-role``, ``lab-report-role``, ``lab-noaccess-role`` (no
  ``rds-db`` policy; an inline ``lab-diagnose-self`` policy with the read-only calls of a
  host's self-diagnosis, :func:`diagnose_policy`), each with a source IAM user (``<role>-source``)
  whose keys may assume it, a trust for ``ec2.amazonaws.com`` and an instance profile of the
  same name (the lab seeds them: the data model names these roles without ``trust``);
* on request (:meth:`ControlPlane.launch_host_instance`), one EC2 instance per lab host
  with the instance profile of its role: what the host's metadata service answers for
  (:mod:`rds_iam_lab.imds`).

Target hosts get their credentials from their instance metadata service (:mod:`rds_iam_lab.imds`). The
files written by :meth:`ControlPlane.write_aws_config` remain for tools and tests:
``AWS_CONFIG_FILE``, ``AWS_SHARED_CREDENTIALS_FILE`` and ``AWS_PROFILE=<role name>``
are enough (the profile names ``role_arn`` + ``source_profile``, the region and
``endpoint_url``).

Only one control plane per process: moto's state is process-global and
``start_control_plane`` resets it.
"""

from __future__ import annotations

import json
import logging
import os
import pathlib
import secrets
import threading
from dataclasses import asdict, dataclass, field
from typing import Any

import boto3
import botocore.session
from botocore.config import Config

from rds_iam_lab import blue_green, moto_patches

PARTITION = "aws"
ROLE_NAMES = ("lab-app-role", "lab-report-role", "lab-noaccess-role")
ADMIN_USER = "lab-admin"
ADMIN_POLICY = "lab-admin-policy"
DIAGNOSE_POLICY = "lab-diagnose-self"


def diagnose_policy(role_arn: str) -> dict[str, Any]:
    """Read-only calls a target host makes to diagnose its own refused login (docs of
    rds_iam_verify: ``rds:Describe*`` for the IAM setting; the role's own policies, or
    ``iam:SimulatePrincipalPolicy`` on itself, for ``policy_denied``). No ``rds-db:connect``."""
    return {"Version": "2012-10-17", "Statement": [
        {"Sid": "DescribeDatabases", "Effect": "Allow",
         "Action": ["rds:DescribeDBInstances", "rds:DescribeDBClusters"], "Resource": "*"},
        {"Sid": "ReadOwnPolicies", "Effect": "Allow",
         "Action": ["iam:GetRole", "iam:ListRolePolicies", "iam:GetRolePolicy", "iam:ListAttachedRolePolicies",
                    "iam:SimulatePrincipalPolicy"], "Resource": role_arn},
        {"Sid": "ReadManagedPolicies", "Effect": "Allow",
         "Action": ["iam:GetPolicy", "iam:GetPolicyVersion"], "Resource": "*"},
    ]}


DEFAULT_ENGINE_VERSIONS = {
    "mysql": "8.0.40",
    "mariadb": None,  # moto_patches picks a supported 10.11 release
    "postgres": "16.4",
    "aurora-postgresql": "16.4",
    "aurora-mysql": "8.0.mysql_aurora.3.08.0",
}
INSTANCE_ENGINES = ("mysql", "mariadb", "postgres")
#: The reader endpoint of every lab cluster: another name of the loopback server (SAN DNS:localhost).
READER_HOST = "localhost"
CLUSTER_ENGINES = ("aurora-postgresql", "aurora-mysql")

_START_LOCK = threading.Lock()
_RUNNING: ControlPlane | None = None


@dataclass
class DatabaseSpec:
    id: str  # instance id (kind=instance) or cluster id (kind=cluster)
    kind: str  # "instance" | "cluster"
    engine: str  # mysql | mariadb | postgres | aurora-postgresql | aurora-mysql
    host: str  # the local server's address; becomes the endpoint address
    port: int  # the local server's port; becomes the endpoint port
    admin_user: str
    admin_password: str
    engine_version: str | None = None  # default: DEFAULT_ENGINE_VERSIONS[engine]
    db_name: str | None = None
    # A logical database: its own RDS identity (resource id, IAM flag, endpoint = a relay of the lab
    # daemon) served by the real server of this database id. None: the database is a server itself.
    served_by: str | None = None
    # A read replica of this instance id (RDS user guide, "Working with DB instance read replicas"): a DB
    # instance of its own (own DbiResourceId, own IAM setting, own endpoint) whose data is the source's.
    replica_of: str | None = None
    # The AWS Region the database lives in; None: the control plane's region. A cross-Region read replica
    # lives in another Region than its source ("Creating a read replica in a different AWS Region").
    region: str | None = None
    # A secondary cluster (in ``region``) of the Aurora global database whose primary is this cluster id
    # (Aurora user guide, "Using Amazon Aurora Global Database"): a cluster of its own (own resource id, IAM
    # setting, endpoints) whose data is the primary's. The global database is ``<primary>-global``.
    secondary_of: str | None = None

    def validate(self) -> None:
        if self.kind == "instance":
            if self.engine not in INSTANCE_ENGINES:
                raise ValueError(f"{self.id}: engine {self.engine!r} is not an instance engine {INSTANCE_ENGINES}")
        elif self.kind == "cluster":
            if self.engine not in CLUSTER_ENGINES:
                raise ValueError(f"{self.id}: engine {self.engine!r} is not a cluster engine {CLUSTER_ENGINES}")
        else:
            raise ValueError(f"{self.id}: kind must be 'instance' or 'cluster', not {self.kind!r}")
        if self.replica_of is not None and self.kind != "instance":
            raise ValueError(f"{self.id}: only a DB instance can be a read replica of an instance (replica_of)")
        if self.secondary_of is not None and self.kind != "cluster":
            raise ValueError(f"{self.id}: only an Aurora cluster can be a secondary cluster (secondary_of)")
        if len(self.admin_password) < 8:
            raise ValueError(f"{self.id}: admin_password must have at least 8 characters (RDS rule)")


@dataclass
class _Principal:
    name: str
    role_arn: str
    source_user: str
    source_user_arn: str
    access_key_id: str
    secret_access_key: str = field(repr=False)


def _member_instance_id(cluster_id: str) -> str:
    return f"{cluster_id}-instance-1"


class ControlPlane:
    """A running, seeded moto server plus accessors to its live state."""

    def __init__(self, server: Any, host: str, port: int, region: str, specs: list[DatabaseSpec]):
        self._server = server
        self.host = host
        self.port = port
        self.endpoint_url = f"http://{host}:{port}"
        self.region = region
        self.account_id = ""
        self.admin_access_key = ""
        self.admin_secret_key = ""
        self.admin_user_arn = ""
        self._specs = list(specs)
        self._principals: list[_Principal] = []
        self._config_dir: pathlib.Path | None = None
        self._stopped = False
        self._session: Any = None
        self._session_lock = threading.Lock()
        #: rds_iam_lab.api_auth.ApiGuard in front of moto (None only when started with auth=False).
        self.guard: Any = None

    # boto3 ------------------------------------------------------------------
    def client(self, service: str, access_key: str | None = None, secret_key: str | None = None,
               session_token: str | None = None, region: str | None = None) -> Any:
        """A boto3 client against this control plane (admin keys by default).

        Independent of AWS_PROFILE / AWS_CONFIG_FILE of the calling process.
        """
        with self._session_lock:
            if self._session is None:
                botocore_session = botocore.session.Session(session_vars={"profile": (None, None, None, None)})
                self._session = boto3.session.Session(botocore_session=botocore_session)
            return self._session.client(
                service,
                region_name=region or self.region,
                endpoint_url=self.endpoint_url,
                aws_access_key_id=access_key or self.admin_access_key,
                aws_secret_access_key=secret_key or self.admin_secret_key,
                aws_session_token=session_token,
                config=Config(retries={"max_attempts": 2, "mode": "standard"}),
            )

    # moto state -------------------------------------------------------------
    @property
    def rds_backend(self) -> Any:
        return self.rds_backend_in(self.region)

    def rds_backend_in(self, region: str) -> Any:
        """moto's RDS backend of one Region (RDS resources are regional: "Regions, Availability Zones, and
        Local Zones", RDS user guide)."""
        from moto.rds.models import rds_backends

        return rds_backends[self.account_id][region]

    def region_of(self, db_id: str) -> str:
        """The Region of a database of the lab: its spec's, else the control plane's."""
        spec = self.spec(db_id)
        return (spec.region if spec is not None else None) or self.region

    @property
    def iam_backend(self) -> Any:
        from moto.iam.models import iam_backends

        return iam_backends[self.account_id][PARTITION]

    @property
    def sts_backend(self) -> Any:
        from moto.sts.models import sts_backends

        return sts_backends[self.account_id][PARTITION]

    def specs(self) -> list[DatabaseSpec]:
        return list(self._specs)

    def spec(self, db_id: str) -> DatabaseSpec | None:
        for spec in self._specs:
            if spec.id.lower() == db_id.lower():
                return spec
        return None

    def served_databases(self, server_id: str) -> list[str]:
        """Ids of the logical databases that the server of ``server_id`` serves."""
        return [s.id for s in self._specs if s.served_by and s.served_by.lower() == server_id.lower()]

    def find_database(self, db_id: str) -> tuple[str, Any] | None:
        """("instance", DBInstance) or ("cluster", DBCluster) for an id, live from moto.

        An Aurora member instance id resolves to its cluster: IAM auth and the resource id are the
        cluster's (RDS API reference, "ModifyDBInstance", EnableIAMDatabaseAuthentication: for Aurora
        "IAM accounts to database accounts is managed by the DB cluster"; Aurora user guide,
        "Creating and using an IAM policy for IAM database access": the cluster's resource id).
        """
        key = db_id.lower()
        backend = self.rds_backend_in(self.region_of(db_id))
        cluster = backend.clusters.get(key)
        if cluster is not None:
            return "cluster", cluster
        instance = backend.databases.get(key)
        if instance is None:
            return None
        cluster_id = getattr(instance, "db_cluster_identifier", None)
        if cluster_id:
            cluster = backend.clusters.get(cluster_id)
            if cluster is not None:
                return "cluster", cluster
        return "instance", instance

    def endpoints(self, db_id: str) -> list[tuple[str, int]]:
        """Every (address, port) a token for this database may be signed for: the instance endpoint,
        or the cluster, reader and member endpoints of a cluster (RDS user guide, "Connecting to your
        DB instance using IAM authentication": the token is for "the host name and port" of the
        endpoint the client connects to; Aurora user guide, "Amazon Aurora endpoint connections")."""
        found = self.find_database(db_id)
        if found is None:
            return []
        kind, obj = found
        if kind == "instance":
            return [(obj.address, int(obj.port))]
        result = [(obj.endpoint, int(obj.port)), (obj.reader_endpoint, int(obj.port))]
        for member in list(self.rds_backend_in(self.region_of(db_id)).databases.values()):
            if getattr(member, "db_cluster_identifier", None) == obj.db_cluster_identifier:
                result.append((member.address, int(member.port)))
        return result

    def databases(self) -> list[dict[str, Any]]:
        result = []
        for spec in self._specs:
            entry = asdict(spec)
            found = self.find_database(spec.id)
            if found is None:
                entry.update(exists=False)
                result.append(entry)
                continue
            kind, obj = found
            if kind == "instance":
                entry.update(
                    resource_id=obj.dbi_resource_id,
                    arn=obj.db_instance_arn,
                    iam_database_authentication_enabled=bool(obj.enable_iam_database_authentication),
                    status=obj.status,
                    engine_version=obj.engine_version,
                    endpoint={"address": obj.address, "port": int(obj.port)},
                    pending=obj.pending_modified_values or {},
                    read_replica_source=obj.read_replica_source_db_instance_identifier,
                    read_replicas=list(obj.read_replica_db_instance_identifiers),
                )
            else:
                entry.update(
                    resource_id=obj.db_cluster_resource_id,
                    arn=obj.db_cluster_arn,
                    iam_database_authentication_enabled=bool(obj.iam_auth),
                    status=obj.status,
                    engine_version=obj.engine_version,
                    endpoint={"address": obj.endpoint, "port": int(obj.port)},
                    reader_endpoint={"address": obj.reader_endpoint, "port": int(obj.port)},
                    members=[m.db_instance_identifier for m in obj.members],
                    global_cluster=obj.global_cluster_identifier or None,
                    pending=obj.pending_modified_values or {},
                )
            entry["exists"] = True
            entry["region"] = self.region_of(spec.id)
            entry["resource_arn_prefix"] = (
                f"arn:{PARTITION}:rds-db:{entry['region']}:{self.account_id}:dbuser:{entry['resource_id']}"
            )
            result.append(entry)
        return result

    # principals -------------------------------------------------------------
    def principals(self) -> list[dict[str, Any]]:
        result = []
        for p in self._principals:
            env = {"AWS_PROFILE": p.name}
            if self._config_dir is not None:
                env["AWS_CONFIG_FILE"] = str(self._config_dir / "config")
                env["AWS_SHARED_CREDENTIALS_FILE"] = str(self._config_dir / "credentials")
            result.append({
                "name": p.name,
                "kind": "role",
                "role_arn": p.role_arn,
                "profile": p.name,
                "source_profile": f"{p.name}-source",
                "source_user": p.source_user,
                "source_user_arn": p.source_user_arn,
                "source_access_key_id": p.access_key_id,
                "credentials": (
                    "shared config files written by write_aws_config(): set AWS_CONFIG_FILE, "
                    f"AWS_SHARED_CREDENTIALS_FILE and AWS_PROFILE={p.name}; botocore assumes "
                    f"{p.role_arn} with the keys of {p.source_user} against endpoint_url"
                ),
                "env": env,
            })
        return result

    def principal_secret(self, name: str) -> tuple[str, str]:
        """(access key id, secret) of a role's source user (tests, config writing)."""
        for p in self._principals:
            if p.name == name:
                return p.access_key_id, p.secret_access_key
        raise KeyError(name)

    def write_aws_config(self, directory: str | os.PathLike[str]) -> dict[str, Any]:
        directory = pathlib.Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        common = [f"region = {self.region}", f"endpoint_url = {self.endpoint_url}"]
        config_lines = ["[default]", *common, ""]
        cred_lines = []
        config_lines += [f"[profile {ADMIN_USER}]", *common, ""]
        cred_lines += [f"[{ADMIN_USER}]", f"aws_access_key_id = {self.admin_access_key}",
                       f"aws_secret_access_key = {self.admin_secret_key}", ""]
        for p in self._principals:
            source = f"{p.name}-source"
            config_lines += [f"[profile {p.name}]", f"role_arn = {p.role_arn}", f"source_profile = {source}",
                             *common, ""]
            config_lines += [f"[profile {source}]", *common, ""]
            cred_lines += [f"[{source}]", f"aws_access_key_id = {p.access_key_id}",
                           f"aws_secret_access_key = {p.secret_access_key}", ""]
        config_path = directory / "config"
        cred_path = directory / "credentials"
        config_path.write_text("\n".join(config_lines))
        fd = os.open(cred_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write("\n".join(cred_lines))
        os.chmod(cred_path, 0o600)
        self._config_dir = directory.resolve()
        base_env = {"AWS_CONFIG_FILE": str(config_path.resolve()),
                    "AWS_SHARED_CREDENTIALS_FILE": str(cred_path.resolve())}
        return {
            "config": str(config_path.resolve()),
            "credentials": str(cred_path.resolve()),
            "region": self.region,
            "endpoint_url": self.endpoint_url,
            "admin_profile": ADMIN_USER,
            "profiles": [ADMIN_USER] + [p.name for p in self._principals],
            "env": {name: dict(base_env, AWS_PROFILE=name)
                    for name in [ADMIN_USER] + [p.name for p in self._principals]},
        }

    # EC2 instances of the lab's hosts -------------------------------------------
    def launch_host_instance(self, host: str, instance_profile: str | None) -> str:
        """An EC2 instance for a lab host (tag Name=host), with ``instance_profile`` attached (None: none).

        Idempotent: an instance tagged with the host's name is reused. Returns the instance id.
        """
        ec2 = self.client("ec2")
        found = self.host_instance_id(host)
        if found:
            return found
        image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
        params: dict[str, Any] = dict(
            ImageId=image, MinCount=1, MaxCount=1, InstanceType="t3.micro",
            TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": host},
                                                                     {"Key": "lab:host", "Value": host}]}],
            MetadataOptions={"HttpTokens": "required", "HttpEndpoint": "enabled"},
        )
        if instance_profile:
            params["IamInstanceProfile"] = {"Name": instance_profile}
        return ec2.run_instances(**params)["Instances"][0]["InstanceId"]

    def host_instance_id(self, host: str) -> str | None:
        ec2 = self.client("ec2")
        reservations = ec2.describe_instances(Filters=[
            {"Name": "tag:lab:host", "Values": [host]},
            {"Name": "instance-state-name", "Values": ["pending", "running"]}])["Reservations"]
        for reservation in reservations:
            for instance in reservation["Instances"]:
                return instance["InstanceId"]
        return None

    @property
    def ec2_backend(self) -> Any:
        from moto.ec2.models import ec2_backends

        return ec2_backends[self.account_id][self.region]

    def instance_identity(self, instance_id: str) -> tuple[str, str | None, str | None, str | None]:
        """(instance id, instance profile ARN, instance profile id, role name) of an instance, live from moto.

        The profile comes from the instance's association (what DescribeIamInstanceProfileAssociations
        lists), the role from the profile as IAM has it now (GetInstanceProfile); None where there is none.
        Read from moto's backends in this process (no HTTP round trip: the metadata service answers fast).
        """
        assoc = self.ec2_backend.iam_instance_profile_associations.get(instance_id)
        if assoc is None or getattr(assoc, "state", "associated") not in ("associated", "associating"):
            return instance_id, None, None, None
        try:
            profile = self.iam_backend.get_instance_profile(assoc.iam_instance_profile.name)
        except Exception:  # moto's NotFoundException: the profile was deleted
            return instance_id, assoc.iam_instance_profile.arn, None, None
        roles = list(profile.roles or [])
        return instance_id, profile.arn, profile.id, roles[0].name if roles else None

    def assume_instance_role(self, role_name: str, instance_id: str, duration: int = 3600) -> dict[str, Any]:
        """What EC2 does for an instance profile: a session of the role named after the instance."""
        role_arn = self.client("iam").get_role(RoleName=role_name)["Role"]["Arn"]
        return self.client("sts").assume_role(RoleArn=role_arn, RoleSessionName=instance_id,
                                              DurationSeconds=duration)["Credentials"]

    def expire_session(self, access_key_id: str) -> bool:
        """End the assumed-role session of ``access_key_id`` now (its expiration moves to the
        past): its calls then get ``ExpiredToken`` as on AWS after ``DurationSeconds``."""
        import datetime as dt

        found = False
        for assumed in list(self.sts_backend.assumed_roles):
            if assumed.access_key_id == access_key_id:
                assumed.expiration = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None) - dt.timedelta(seconds=1)
                found = True
        return found

    # lifecycle --------------------------------------------------------------
    def maintenance(self) -> list[str]:
        """Apply pending modifications (made with ApplyImmediately=false), as the maintenance window
        does (RDS user guide, "The Amazon RDS maintenance window"; see
        :func:`lab.moto_patches.apply_pending_maintenance`)."""
        return moto_patches.apply_pending_maintenance(self.rds_backend)

    def stop(self) -> None:
        global _RUNNING
        if self._stopped:
            return
        self._stopped = True
        self._server.stop()
        with _START_LOCK:
            if _RUNNING is self:
                _RUNNING = None

    @property
    def running(self) -> bool:
        return not self._stopped

    def __enter__(self) -> ControlPlane:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # seeding ----------------------------------------------------------------
    def _seed(self) -> None:
        # No IAM key exists yet: the guard accepts a random in-process key until the admin
        # key is made (rds_iam_lab.api_auth.ApiGuard.open_bootstrap), then only keys moto knows.
        boot_key = "AKIALABBOOT" + secrets.token_hex(5).upper()
        boot_secret = secrets.token_urlsafe(30)
        if self.guard is not None:
            self.guard.open_bootstrap(boot_key, boot_secret)
        boot = dict(access_key=boot_key, secret_key=boot_secret)
        iam = self.client("iam", **boot)
        admin = iam.create_user(UserName=ADMIN_USER)["User"]
        self.account_id = admin["Arn"].split(":")[4]
        policy_arn = iam.create_policy(
            PolicyName=ADMIN_POLICY,
            PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
                {"Sid": "LabAdmin", "Effect": "Allow", "Action": "*", "Resource": "*"}]}),
        )["Policy"]["Arn"]
        iam.attach_user_policy(UserName=ADMIN_USER, PolicyArn=policy_arn)
        key = iam.create_access_key(UserName=ADMIN_USER)["AccessKey"]
        self.admin_access_key = key["AccessKeyId"]
        self.admin_secret_key = key["SecretAccessKey"]
        ident = self.client("sts").get_caller_identity()
        self.account_id = ident["Account"]
        self.admin_user_arn = ident["Arn"]
        if self.guard is not None:
            self.guard.close_bootstrap()

        iam = self.client("iam")
        account_root = f"arn:{PARTITION}:iam::{self.account_id}:root"
        for role in ROLE_NAMES:
            source = role[: -len("-role")] + "-source" if role.endswith("-role") else role + "-source"
            user = iam.create_user(UserName=source)["User"]
            trust = {"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Principal": {"AWS": [user["Arn"], account_root]},
                 "Action": "sts:AssumeRole"},
                {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"},
            ]}
            role_arn = iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(trust),
                                       Description=f"lab role {role}")["Role"]["Arn"]
            # The lab's AWS API authorizes every call (api_auth.py): a target host's role may make
            # the read-only calls with which rds_iam_verify diagnoses its own refused logins.
            iam.put_role_policy(RoleName=role, PolicyName=DIAGNOSE_POLICY,
                                PolicyDocument=json.dumps(diagnose_policy(role_arn)))
            iam.put_user_policy(UserName=source, PolicyName="assume-" + role, PolicyDocument=json.dumps({
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": role_arn}]}))
            iam.create_instance_profile(InstanceProfileName=role, Path="/")
            iam.add_role_to_instance_profile(InstanceProfileName=role, RoleName=role)
            key = iam.create_access_key(UserName=source)["AccessKey"]
            self._principals.append(_Principal(role, role_arn, source, user["Arn"], key["AccessKeyId"],
                                               key["SecretAccessKey"]))

        for spec in self._specs:
            self._seed_database(spec)

    def add_database(self, spec: DatabaseSpec) -> dict[str, Any]:
        """Seed one more database (IAM auth off) into the running control plane."""
        spec.validate()
        if self.spec(spec.id) is not None or self.find_database(spec.id) is not None:
            raise ValueError(f"database {spec.id!r} already exists")
        self._seed_database(spec)
        self._specs.append(spec)
        return next(d for d in self.databases() if d["id"] == spec.id)

    def remove_database(self, db_id: str) -> bool:
        """Delete a database added with :meth:`add_database` (and, for a cluster, its member instance)."""
        spec = self.spec(db_id)
        if spec is None:
            return False
        rds = self.client("rds", region=spec.region)
        if spec.kind == "instance":
            if self.find_database(spec.id) is not None:
                rds.delete_db_instance(DBInstanceIdentifier=spec.id, SkipFinalSnapshot=True)
        else:
            member = _member_instance_id(spec.id)
            backend = self.rds_backend_in(spec.region or self.region)
            if spec.secondary_of is not None:
                # A secondary cluster leaves its global database before it is deleted (RDS API reference,
                # "RemoveFromGlobalCluster": DbClusterIdentifier is the cluster's ARN).
                cluster = backend.clusters.get(spec.id.lower())
                if cluster is not None and cluster.global_cluster_identifier:
                    self.client("rds", region=self.region_of(spec.secondary_of)).remove_from_global_cluster(
                        GlobalClusterIdentifier=cluster.global_cluster_identifier,
                        DbClusterIdentifier=cluster.db_cluster_arn)
            if member.lower() in backend.databases:
                rds.delete_db_instance(DBInstanceIdentifier=member, SkipFinalSnapshot=True)
            if spec.id.lower() in backend.clusters:
                rds.delete_db_cluster(DBClusterIdentifier=spec.id, SkipFinalSnapshot=True)
        self._specs.remove(spec)
        return True

    def adopt_database(self, spec: DatabaseSpec) -> None:
        """Record a database that RDS created itself (the green of a Blue/Green deployment) as served by the lab."""
        if self.spec(spec.id) is not None:
            raise ValueError(f"database {spec.id!r} already exists")
        self._specs.append(spec)

    def rename_database(self, old_id: str, new_id: str) -> DatabaseSpec:
        """A database took another name (Blue/Green switchover): its spec follows, endpoint and server unchanged."""
        spec = self.spec(old_id)
        if spec is None:
            raise KeyError(old_id)
        spec.id = new_id
        return spec

    def forget_database(self, db_id: str) -> bool:
        """Drop the spec of a database that RDS deleted itself (the green of a deleted Blue/Green deployment)."""
        spec = self.spec(db_id)
        if spec is not None:
            self._specs.remove(spec)
        return spec is not None

    def _seed_database(self, spec: DatabaseSpec) -> None:
        """Create the RDS instance, or the Aurora cluster and its member instance, of ``spec`` with IAM
        authentication off (RDS user guide, "Enabling and disabling IAM database authentication": "By
        default, IAM database authentication is disabled"), its endpoint address the lab server's
        (patch ``lab_endpoints``; RDS API reference, "Endpoint"). A new cluster is described once so
        that moto's one-off ``creating`` status settles to ``available`` (RDS API reference,
        "DBCluster", Status), as a cluster is when RDS reports it ready."""
        rds = self.client("rds", region=spec.region)
        version = spec.engine_version or DEFAULT_ENGINE_VERSIONS.get(spec.engine)
        if spec.replica_of is not None:
            self._seed_replica(spec, rds)
        elif spec.kind == "instance":
            params: dict[str, Any] = dict(
                DBInstanceIdentifier=spec.id, DBInstanceClass="db.t3.micro", Engine=spec.engine,
                MasterUsername=spec.admin_user, MasterUserPassword=spec.admin_password, Port=spec.port,
                AllocatedStorage=20, EnableIAMDatabaseAuthentication=False,
            )
            if version:
                params["EngineVersion"] = version
            if spec.db_name:
                params["DBName"] = spec.db_name
            rds.create_db_instance(**params)
            moto_patches.set_endpoint_address(
                self.rds_backend_in(spec.region or self.region).databases[spec.id.lower()], spec.host)
        else:
            params = dict(
                DBClusterIdentifier=spec.id, Engine=spec.engine, MasterUsername=spec.admin_user,
                MasterUserPassword=spec.admin_password, Port=spec.port, EnableIAMDatabaseAuthentication=False,
            )
            if spec.secondary_of is not None:
                # A secondary cluster has no master user of its own: it replicates the primary's
                # (RDS API reference, "CreateDBCluster", MasterUsername: not for a secondary cluster).
                params = dict(DBClusterIdentifier=spec.id, Engine=spec.engine, Port=spec.port,
                              EnableIAMDatabaseAuthentication=False,
                              GlobalClusterIdentifier=self._global_cluster_of(spec))
            if version:
                params["EngineVersion"] = version
            if spec.db_name:
                params["DatabaseName"] = spec.db_name
            rds.create_db_cluster(**params)
            member = _member_instance_id(spec.id)
            rds.create_db_instance(DBInstanceIdentifier=member, DBInstanceClass="db.r6g.large",
                                   Engine=spec.engine, DBClusterIdentifier=spec.id, Port=spec.port)
            backend = self.rds_backend_in(spec.region or self.region)
            moto_patches.set_endpoint_address(backend.clusters[spec.id.lower()], spec.host)
            moto_patches.set_endpoint_address(backend.databases[member.lower()], spec.host)
            # The reader endpoint is a host name of its own (Aurora user guide, "Types of Aurora endpoints"):
            # another name of the same lab server, in the server certificate too (lab/src/rds_iam_lab/tls.py).
            if spec.host == "127.0.0.1":
                moto_patches.set_reader_endpoint_address(backend.clusters[spec.id.lower()], READER_HOST)
            # moto reports a new cluster as "creating" once; settle it.
            rds.describe_db_clusters(DBClusterIdentifier=spec.id)

    def _global_cluster_of(self, spec: DatabaseSpec) -> str:
        """The global database of ``spec.secondary_of``, made the first time with the primary as its writer
        (RDS API reference, "CreateGlobalCluster": SourceDBClusterIdentifier is the primary cluster's ARN)."""
        found = self.find_database(spec.secondary_of)
        if found is None or found[0] != "cluster":
            raise ValueError(f"{spec.id}: secondary_of {spec.secondary_of!r} is no Aurora cluster of the lab")
        primary = found[1]
        if primary.global_cluster_identifier:
            return primary.global_cluster_identifier
        name = f"{primary.db_cluster_identifier}-global"
        self.client("rds", region=self.region_of(spec.secondary_of)).create_global_cluster(
            GlobalClusterIdentifier=name, SourceDBClusterIdentifier=primary.db_cluster_arn)
        return name

    def _seed_replica(self, spec: DatabaseSpec, rds: Any) -> None:
        """A read replica of ``spec.replica_of`` with IAM authentication off, as RDS creates one
        (RDS API reference, "CreateDBInstanceReadReplica": SourceDBInstanceIdentifier is the source's identifier,
        or its ARN when the replica is in another Region; EnableIAMDatabaseAuthentication "By default,
        mapping isn't enabled"), its endpoint the lab's relay."""
        source = self.find_database(spec.replica_of)
        if source is None or source[0] != "instance":
            raise ValueError(f"{spec.id}: replica_of {spec.replica_of!r} is no DB instance of the lab")
        source_region = self.region_of(spec.replica_of)
        region = spec.region or self.region
        source_ref = spec.replica_of if source_region == region else source[1].db_instance_arn
        rds.create_db_instance_read_replica(DBInstanceIdentifier=spec.id, SourceDBInstanceIdentifier=source_ref,
                                            DBInstanceClass="db.t3.micro", Port=spec.port,
                                            EnableIAMDatabaseAuthentication=False)
        moto_patches.set_endpoint_address(self.rds_backend_in(region).databases[spec.id.lower()], spec.host)


def _reset_moto() -> None:
    from moto.moto_api._internal.models import moto_api_backend

    moto_api_backend.reset()


def start_control_plane(databases: list[DatabaseSpec], region: str = "us-east-1",
                        host: str = "127.0.0.1", port: int = 0, quiet: bool = True,
                        auth: bool = True) -> ControlPlane:
    """Start moto in this process on host:port (0 = free port), patch it, seed it.

    ``quiet`` silences werkzeug's per-request access log. ``auth`` puts
    :class:`rds_iam_lab.api_auth.ApiGuard` in front of moto: every request must be signed with a
    key moto knows and be allowed by the caller's policies (the lab's own evaluator),
    as AWS does; moto's own access control (``INITIAL_NO_AUTH_ACTION_COUNT``) stays off
    because its decisions would not be the lab evaluator's.
    """
    global _RUNNING
    from moto.server import ThreadedMotoServer

    for spec in databases:
        spec.validate()
    ids = [s.id.lower() for s in databases]
    if len(ids) != len(set(ids)):
        raise ValueError("database ids must be unique")
    if quiet:
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
    with _START_LOCK:
        if _RUNNING is not None:
            raise RuntimeError(
                f"a control plane is already running in this process ({_RUNNING.endpoint_url}): "
                "moto's state is process-global; stop it first or reuse it (add_database)")
        moto_patches.apply()
        blue_green.apply()
        _reset_moto()
        server = ThreadedMotoServer(ip_address=host, port=port, verbose=False)
        server.start()
        bound_host, bound_port = server.get_host_and_port()
        plane = ControlPlane(server, host, int(bound_port), region, databases)
        if auth:
            from rds_iam_lab.api_auth import ApiGuard

            wsgi_server = server._server  # werkzeug's server; its app is moto's dispatcher
            plane.guard = ApiGuard(plane).wrap(wsgi_server.app)
            wsgi_server.app = plane.guard
        _RUNNING = plane
    try:
        plane._seed()
    except BaseException:
        plane.stop()
        raise
    return plane
