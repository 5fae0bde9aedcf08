"""``rds-iam-lab up --seed FILE``: the lab holds the databases and principals a user's data model names.

FILE is the user's own dbauth.rds_iam data model (YAML or JSON, or a folder such as ``group_vars/all`` whose
``*.yml``/``*.yaml``/``*.json`` files are read together); only identifiers and engines are read, Jinja in other
values is left alone:

* ``rds_iam_databases``: each entry becomes a logical database of the lab (``add-databases``) with its own
  identifier, resource id and endpoint, served by the lab's server of its engine: an instance of engine
  ``mysql``/``mariadb`` by lab-mysql, ``postgres`` by lab-postgres; a cluster (``db_cluster_identifier``) of
  engine ``postgres`` by lab-aurora (aurora-postgresql), ``mysql``/``mariadb`` by lab-mysql (aurora-mysql).
  The lab's own three ids are there already. ``replicas: [{db_instance_identifier, region}]`` of an
  instance become read replicas of it (``replica_of``, in ``region`` when given);
* ``rds_iam_principals``: each entry without ``trust`` names a role that exists already (the collection only
  attaches its policy): the lab creates it, trusted by EC2 and by the account, with an instance profile of
  the same name. Entries with ``trust`` are left to the collection's iam_access role, which creates them;
* ``proxies`` of a ``rds_iam_databases`` entry: each becomes a DB proxy of the lab (``CreateDBProxy``, with the
  lab's own proxy process behind it) in front of that database, with end-to-end IAM authentication
  (``DefaultAuthScheme: IAM_AUTH``) and the proxy's ``role`` (RDS user guide, "end-to-end IAM authentication"),
  whose role the collection's iam_access role creates (``trust: rds``) and grants. A proxy without ``role`` is
  refused: the lab cannot know the secrets of a secret-based proxy;
* ``rds_iam_lab_iam_users`` (optional, not part of the collection's model): IAM users to create, e.g. for an
  admin login with ``iam: true`` or an ``assume_role_arn`` source.

Everything is checked before anything is created; an error names the entry and the key. Idempotent: what
exists already (same kind and engine) is kept. It lasts until ``down`` (moto's state lives in the daemon).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

# engine of the data model -> (RDS engine of a logical instance, server) / (of a logical cluster, server)
INSTANCE_SERVERS = {"mysql": ("mysql", "lab-mysql"), "mariadb": ("mariadb", "lab-mysql"),
                    "postgres": ("postgres", "lab-postgres")}
CLUSTER_SERVERS = {"mysql": ("aurora-mysql", "lab-mysql"), "mariadb": ("aurora-mysql", "lab-mysql"),
                   "postgres": ("aurora-postgresql", "lab-aurora")}
LAB_SERVERS = ("lab-mysql", "lab-postgres", "lab-aurora")
# IAM names (IAM user guide, "IAM object quotas": role and user names, 64 characters, +=,.@_-)
IAM_NAME = re.compile(r"^[\w+=,.@-]{1,64}$")
# An EC2 instance profile's role trusts the EC2 service; the account may assume it too (e.g. its source user).
TRUST = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}


class SeedError(ValueError):
    pass


def read_model(path: str) -> dict:
    """The variables of a YAML/JSON file, or of every such file in a folder (later files win per key)."""
    import yaml

    source = Path(path)
    if source.is_dir():
        files = sorted(p for p in source.iterdir() if p.suffix in (".yml", ".yaml", ".json"))
    elif source.is_file():
        files = [source]
    else:
        raise SeedError(f"--seed {path}: no such file or folder")
    model: dict = {}
    for file in files:
        try:
            data = yaml.safe_load(file.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            raise SeedError(f"--seed {file}: not YAML or JSON: {exc}") from None
        if data is None:
            continue
        if not isinstance(data, dict):
            raise SeedError(f"--seed {file}: expected variables (a mapping with rds_iam_databases, "
                            f"rds_iam_principals), got a {type(data).__name__}")
        model.update(data)
    return model


def _entries(model: dict, key: str) -> list:
    value = model.get(key) or []
    if not isinstance(value, list):
        raise SeedError(f"{key}: expected a list, got a {type(value).__name__}")
    return value


def plan(model: dict) -> dict:
    """What the model asks of the lab: {databases: [add-databases entries], roles: [...], users: [...]}.
    Raises SeedError naming the entry and the key when the lab cannot serve it."""
    databases, roles, users, proxies = [], [], [], []
    for i, db in enumerate(_entries(model, "rds_iam_databases")):
        where = f"rds_iam_databases[{i}]"
        if not isinstance(db, dict):
            raise SeedError(f"{where}: expected a mapping, got {type(db).__name__}")
        keys = [k for k in ("db_instance_identifier", "db_cluster_identifier") if db.get(k)]
        if len(keys) != 1:
            raise SeedError(f"{where}: set exactly one of db_instance_identifier, db_cluster_identifier")
        db_id, engine = db[keys[0]], db.get("engine")
        where = f"{where} ({db_id})"
        if db.get("kind", "rds") != "rds":
            continue  # self-managed servers and other kinds are not RDS databases
        servers = INSTANCE_SERVERS if keys[0] == "db_instance_identifier" else CLUSTER_SERVERS
        if engine not in servers:
            raise SeedError(f"{where}: engine {engine!r} is not served by the lab; use one of {sorted(servers)}")
        if not isinstance(db_id, str) or "{{" in db_id:
            raise SeedError(f"{where}: {keys[0]} must be a plain identifier, not a template or {type(db_id).__name__}")
        kind = "instance" if keys[0] == "db_instance_identifier" else "cluster"
        proxies += _proxies(db, db_id, kind, engine, where)
        rds_engine, server = servers[engine]
        if db_id not in LAB_SERVERS:  # the lab's own servers are there already
            databases.append({"id": db_id, "kind": kind, "server": server, "engine": rds_engine})
        databases.extend(_replicas(db, db_id, kind, where))
    for i, principal in enumerate(_entries(model, "rds_iam_principals")):
        name = principal.get("name") if isinstance(principal, dict) else None
        if not isinstance(name, str) or not IAM_NAME.match(name):
            raise SeedError(f"rds_iam_principals[{i}]: name must be an IAM role name (1-64 of letters, digits, "
                            f"+=,.@_-), not {name!r}")
        if not principal.get("trust"):
            roles.append(name)
    for i, name in enumerate(_entries(model, "rds_iam_lab_iam_users")):
        if not isinstance(name, str) or not IAM_NAME.match(name):
            raise SeedError(f"rds_iam_lab_iam_users[{i}]: an IAM user name (1-64 of letters, digits, +=,.@_-), "
                            f"not {name!r}")
        users.append(name)
    return {"databases": databases, "roles": roles, "users": users, "proxies": proxies}


def _proxies(db: dict, db_id: str, kind: str, engine: str, where: str) -> list[dict]:
    result = []
    for i, proxy in enumerate(db.get("proxies") or []):
        name = proxy.get("name") if isinstance(proxy, dict) else None
        role = proxy.get("role") if isinstance(proxy, dict) else None
        if not isinstance(name, str) or not re.match(r"^[A-Za-z][A-Za-z0-9-]{0,62}$", name):
            raise SeedError(f"{where}: proxies[{i}]: name must be a letter, then letters, digits and hyphens, not {name!r}")
        if not isinstance(role, str) or not IAM_NAME.match(role):
            raise SeedError(f"{where}: proxies[{i}] ({name}): role must name the proxy's IAM role: the lab seeds proxies "
                            "with end-to-end IAM authentication (it cannot know the secrets of another one)")
        result.append({"name": name, "role": role, "target_kind": kind, "target": db_id,
                       "engine_family": "POSTGRESQL" if engine == "postgres" else "MYSQL"})
    return result


def create_proxies(rds, ec2, account_id: str, proxies: list) -> list[dict]:
    """Create the DB proxies that do not exist yet (end-to-end IAM, RequireTLS) and register their target."""
    subnets = [s["SubnetId"] for s in ec2.describe_subnets()["Subnets"]][:2]
    results = []
    for proxy in proxies:
        if _exists(lambda proxy=proxy: rds.describe_db_proxies(DBProxyName=proxy["name"]), "DBProxyNotFoundFault"):
            results.append({"proxy": proxy["name"], "action": "unchanged"})
            continue
        rds.create_db_proxy(DBProxyName=proxy["name"], EngineFamily=proxy["engine_family"], DefaultAuthScheme="IAM_AUTH",
                            RoleArn=f"arn:aws:iam::{account_id}:role/{proxy['role']}", VpcSubnetIds=subnets,
                            RequireTLS=True)
        target = {"DBInstanceIdentifiers" if proxy["target_kind"] == "instance" else "DBClusterIdentifiers": [proxy["target"]]}
        rds.register_db_proxy_targets(DBProxyName=proxy["name"], **target)
        results.append({"proxy": proxy["name"], "action": "created"})
    return results


def _replicas(db: dict, db_id: str, kind: str, where: str) -> list[dict]:
    """add-databases entries of the read replicas a database entry lists (``replicas: discover`` lists
    none: the replicas exist already on AWS, the lab cannot guess them)."""
    replicas = db.get("replicas")
    if replicas is None or replicas == "discover" or isinstance(replicas, str) and "{{" in replicas:
        return []  # discover: they exist already on AWS; a template: not known before Ansible renders it
    if not isinstance(replicas, list) or kind != "instance":
        raise SeedError(f"{where}: replicas must be a list of {{db_instance_identifier, region}} of a DB instance")
    result = []
    for i, replica in enumerate(replicas):
        ident = replica.get("db_instance_identifier") if isinstance(replica, dict) else None
        if not isinstance(ident, str) or "{{" in ident:
            raise SeedError(f"{where}: replicas[{i}]: db_instance_identifier must be a plain identifier")
        entry = {"id": ident, "kind": "instance", "replica_of": db_id}
        if replica.get("region"):
            entry["region"] = replica["region"]
        result.append(entry)
    return result


def _exists(call, error_code: str = "NoSuchEntity") -> bool:
    from botocore.exceptions import ClientError

    try:
        call()
        return True
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == error_code:
            return False
        raise


def create_principals(iam, account_id: str, roles: list, users: list) -> list[dict]:
    """Create the roles (with an instance profile each) and IAM users that do not exist yet."""
    trust = json.loads(json.dumps(TRUST))
    trust["Statement"].append({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account_id}:root"},
                               "Action": "sts:AssumeRole"})
    results = []
    for role in roles:
        if _exists(lambda role=role: iam.get_role(RoleName=role)):
            results.append({"role": role, "action": "unchanged"})
            continue
        iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(trust),
                        Description="seeded by rds-iam-lab up --seed")
        iam.create_instance_profile(InstanceProfileName=role)
        iam.add_role_to_instance_profile(InstanceProfileName=role, RoleName=role)
        results.append({"role": role, "action": "created"})
    for user in users:
        if _exists(lambda user=user: iam.get_user(UserName=user)):
            results.append({"user": user, "action": "unchanged"})
            continue
        iam.create_user(UserName=user)
        results.append({"user": user, "action": "created"})
    return results
