# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The plan: the data model and the inventory, validated as a whole and normalised once.

Internal use only: not part of the collection's public API, it may change in any release.

Every role reads the plan (through the ``dbauth.rds_iam.rds_iam_plan`` filter) instead of deriving ids,
endpoints, grants and logins in Jinja. A model with any problem raises :class:`ModelError` listing all of
them, before anything changes anywhere. The plan holds no secret: the admin passwords stay in the data model
and are joined to the plan only in the arguments of the module that logs in (:func:`db_user_databases`).
Each target host's part of the plan (``plan["hosts"][HOST]``: its principal, CA bundle and logins, and the
engines and endpoints of the databases) is all that the target plays hand a host (the roles' ``client_plan`` and
``verify_plan``): the model is checked once on the controller, not again on every host.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from ansible_collections.dbauth.rds_iam.plugins.plugin_utils._policy_document import (
    MANAGED_POLICY_MAX_CHARS,
    PolicyDocumentError,
    policy_documents,
)
from ansible_collections.dbauth.rds_iam.plugins.plugin_utils._model_schema import (
    DATABASE_OPTIONS,
    HOST_OPTIONS,
    KNOWN_VARIABLES,
    PRINCIPAL_OPTIONS,
    REPLICA_OPTIONS,
)
from ansible_collections.dbauth.rds_iam.plugins.plugin_utils._spec_check import check_options, check_value, closest

# RDS identifiers: a letter, then letters, digits and hyphens, at most 63 (CreateDBInstance/CreateDBCluster).
_IDENTIFIER = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,62}$")
# A self-managed database's name: also part of file names (its bridge's config, PAM service, service unit).
_SELF_MANAGED_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
# The bridge's server id (the X-DbAuth-Server-Id header value; roles/self_managed/files/dbauth_iam_bridge.py).
_SERVER_ID = re.compile(r"^[A-Za-z0-9._:@/+=-]{1,128}$")
_DEFAULT_PORT = {"mysql": 3306, "postgres": 5432}
_RDS_KEYS = ("db_instance_identifier", "db_cluster_identifier", "endpoint", "proxies", "replicas", "endpoints", "secondaries")
_SELF_MANAGED_KEYS = ("name", "host", "port", "server_id")
_ACCOUNT = re.compile(r"^\d{12}$")
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d$")
# An RDS ARN: arn:PARTITION:rds:REGION:ACCOUNT:db:ID (a cross-Region read replica is listed by its ARN).
_RDS_ARN = re.compile(r"^arn:[a-z-]+:rds:([a-z0-9-]+):\d{12}:(db|cluster):([A-Za-z0-9-]+)$")
_PRINCIPAL_ARN = re.compile(r"^arn:aws[a-z-]*:(iam|sts)::\d{12}:\S+$")
_FAMILY = {"mysql": "mysql", "mariadb": "mysql", "postgres": "postgres"}
_LABELS = ("db_instance_identifier", "db_cluster_identifier", "name", "user")
# Longest user names: MySQL 32 characters, PostgreSQL 63 bytes (NAMEDATALEN - 1).
_MAX_USER = {"mysql": 32, "postgres": 63}
MAX_PROBLEMS_SHOWN = 25
# trust values that name an AWS service: EC2 (instance profiles), RDS (an RDS Proxy's role).
_SERVICE_TRUST = {"ec2": "ec2.amazonaws.com", "rds": "rds.amazonaws.com"}
# RDS Proxy listens on the engine's port (RDS user guide, "Connecting to a database through RDS Proxy").
_PROXY_PORT = {"mysql": 3306, "postgres": 5432}


class ModelError(ValueError):
    """The data model has problems; the message lists each with the entry and key, and what to fix."""

    def __init__(self, problems):
        self.problems = list(problems)
        shown = self.problems[:MAX_PROBLEMS_SHOWN]
        more = len(self.problems) - len(shown)
        text = "the data model has %d problem(s); nothing was changed:\n- %s" % (len(self.problems), "\n- ".join(shown))
        if more:
            text += "\n- ... and %d more" % more
        super().__init__(text)


def _database_where(index, raw):
    label = ""
    if isinstance(raw, Mapping):
        ident = raw.get("db_instance_identifier") or raw.get("db_cluster_identifier") or raw.get("name")
        label = " (%s)" % ident if isinstance(ident, str) and ident else ""
    return "rds_iam_databases[%d]%s" % (index, label)


def _check_user_name(name, family, where, problems):
    if not name or name != name.strip() or any(ord(c) < 32 or ord(c) == 127 for c in name):
        problems.append("%s: name %r must be non-empty, without control characters or leading/trailing spaces" % (where, name))
    elif "${" in name:
        problems.append("%s: name %r contains '${', which IAM reads as a policy variable in the rds-db ARN" % (where, name))
    elif "/" in name or "*" in name or "?" in name:
        problems.append("%s: name %r contains '/', '*' or '?', which the rds-db resource ARN cannot name exactly" % (where, name))
    elif len(name.encode("utf-8")) > _MAX_USER[family]:
        problems.append("%s: name %r is longer than %s allows (%d)" % (where, name, family, _MAX_USER[family]))
    elif family == "postgres" and name.startswith("pg_"):
        problems.append("%s: name %r starts with pg_, which PostgreSQL reserves" % (where, name))


def _users(db, family, principal_names, where, problems):
    seen = {}
    for index, user in enumerate(db["users"] or []):
        if user is None or not user.get("name"):
            continue
        user_where = "%s: users[%d] (%s)" % (where, index, user["name"])
        _check_user_name(user["name"], family, user_where, problems)
        key = (user["name"], user["host"] or "%") if family == "mysql" else user["name"]
        if key in seen:
            problems.append("%s: the same user as users[%d]; list each user once" % (user_where, seen[key]))
        seen.setdefault(key, index)
        if family == "postgres" and user["privileges"] is not None:
            problems.append("%s: privileges are for MySQL/MariaDB, roles for PostgreSQL" % user_where)
        if family == "postgres" and user["host"] is not None:
            problems.append("%s: host is for MySQL/MariaDB accounts; PostgreSQL users have none" % user_where)
        if family == "mysql" and user["roles"] is not None:
            problems.append("%s: roles are for PostgreSQL, privileges for MySQL/MariaDB" % user_where)
        for name in user["principals"] or []:
            if principal_names is not None and name not in principal_names:
                problems.append(
                    "%s: principals names '%s', which rds_iam_principals does not define%s; add it there or fix the name"
                    % (user_where, name, closest(name, principal_names))
                )
        if len(set(user["principals"] or [])) != len(user["principals"] or []):
            problems.append("%s: principals lists a name twice" % user_where)


def _proxies(db, family, principal_names, where, problems):
    """The database's RDS Proxies: each with the users that log in through it (present users with principals)."""
    result = []
    users = {u["name"]: u for u in db["users"] or [] if u is not None and u.get("name")}
    for index, proxy in enumerate(db["proxies"] or []):
        if proxy is None or not proxy["name"]:
            continue
        proxy_where = "%s: proxies[%d] (%s)" % (where, index, proxy["name"])
        if not _IDENTIFIER.match(proxy["name"]):
            problems.append("%s: name must be a letter, then letters, digits and hyphens (at most 63)" % proxy_where)
        role = proxy["role"]
        if role and principal_names is not None and role not in principal_names:
            problems.append("%s: role '%s' is not defined in rds_iam_principals%s; add it there (trust: rds) or fix the name"
                            % (proxy_where, role, closest(role, principal_names)))
        for name in proxy["users"] or []:
            if name not in users:
                problems.append("%s: users names '%s', which is not a user of this database%s" % (proxy_where, name, closest(name, users)))
        names = proxy["users"] if proxy["users"] is not None else [n for n, u in users.items() if u["principals"]]
        result.append({
            "name": proxy["name"],
            "role": role,
            "users": sorted(n for n in names if n in users and users[n]["state"] == "present"),
            "port": proxy["port"] or _PROXY_PORT[family],
            "resource_id": None,
            "resource_arn_prefix": None,
            "endpoint": None,
        })
    return result


def _admin(db, where, problems, check_admin):
    admin = db["admin"]
    if admin is None:
        if check_admin and any(u and u.get("name") for u in db["users"] or []):
            problems.append("%s: admin is required to create the users (user, and password or iam: true)" % where)
        return
    if (admin["password"] is not None) == bool(admin["iam"]):
        problems.append("%s: admin: give exactly one of password or iam true" % where)


def _principals(raw, problems):
    if raw is None:
        return []
    checked = check_value(raw, {"type": "list", "elements": "dict", "options": PRINCIPAL_OPTIONS}, "rds_iam_principals", problems, _LABELS)
    result = []
    seen = set()
    for index, principal in enumerate(checked or []):
        if principal is None or not principal["name"]:
            continue
        where = "rds_iam_principals[%d] (%s)" % (index, principal["name"])
        if principal["name"] in seen:
            problems.append("%s: listed more than once" % where)
        seen.add(principal["name"])
        trust = principal["trust"]
        if trust is not None and not _service_trust(trust):
            if isinstance(trust, (int, str)):
                trust = [trust]
            if not isinstance(trust, (list, tuple)) or not trust:
                problems.append("%s: trust must be ec2, rds or a list of account ids and principal ARNs" % where)
            else:
                trust = [str(t) for t in trust]
                bad = [t for t in trust if not (_ACCOUNT.match(t) or _PRINCIPAL_ARN.match(t))]
                if bad:
                    problems.append("%s: trust entries %s are neither 12-digit account ids nor IAM principal ARNs" % (where, ", ".join(bad)))
            principal["trust"] = trust
        result.append(principal)
    return result


def _discovered_index(discovered):
    index = {}
    for entry in discovered or []:
        if not isinstance(entry, Mapping):
            continue
        if entry.get("db_proxy_name"):  # what rds_iam_proxy returned for a proxy
            index.setdefault(("proxy", entry["db_proxy_name"]), entry)
            continue
        # The first entry for a database wins (callers list what they trust most first).
        if entry.get("db_cluster_identifier") and entry.get("kind", "cluster") == "cluster" and not entry.get("db_instance_identifier"):
            index.setdefault(("cluster", entry["db_cluster_identifier"].lower()), entry)
        elif entry.get("db_instance_identifier"):
            index.setdefault(("instance", entry["db_instance_identifier"].lower()), entry)
    return index


def _apply_discovered(db, found, where, problems):
    noun = "DB instance" if db["kind"] == "instance" else "DB cluster"
    if found is None:
        problems.append(
            "%s: there is no %s '%s' in this account and region; fix the identifier, or the region and credentials (rds_iam_aws)"
            % (where, noun, db["id"])
        )
        return
    if found.get("failed"):
        problems.append("%s: %s" % (where, found.get("msg") or "the %s could not be read" % noun))
        return
    member_of = found.get("member_of_cluster")
    if member_of:
        problems.append(
            "%s: DB instance '%s' is a member of the Aurora cluster '%s', and IAM access is the cluster's: "
            "use db_cluster_identifier: %s" % (where, db["id"], member_of, member_of)
        )
    for key in ("resource_id", "resource_arn_prefix", "engine_version", "iam_database_authentication_enabled", "pending"):
        db[key] = found.get(key)
    db["rds_engine"] = found.get("engine")
    for key in ("read_replicas", "reader_endpoint", "custom_endpoints"):
        db["discovered_" + key] = found.get(key)
    if db["endpoint"] is None and found.get("endpoint"):
        db["endpoint"] = {"address": found["endpoint"].get("address"), "port": found["endpoint"].get("port")}


def _database(index, raw, principal_names, problems, check_admin):
    where = _database_where(index, raw)
    db = check_options(raw, DATABASE_OPTIONS, where, problems, _LABELS)
    if db is None:
        return None
    if db.pop("kind") == "self_managed":
        return _self_managed_database(index, db, where, principal_names, problems, check_admin)
    for key in _SELF_MANAGED_KEYS:
        if db.pop(key) is not None:
            problems.append("%s: %s is for kind: self_managed; an RDS database has db_instance_identifier or "
                            "db_cluster_identifier (and an optional endpoint)" % (where, key))
    instance, cluster = db.pop("db_instance_identifier"), db.pop("db_cluster_identifier")
    if bool(instance) == bool(cluster):
        problems.append("%s: give exactly one of db_instance_identifier (RDS instance) or db_cluster_identifier (Aurora cluster)" % where)
        return None
    ident = instance or cluster
    if not _IDENTIFIER.match(ident):
        problems.append("%s: identifier %r must be a letter, then letters, digits and hyphens (at most 63)" % (where, ident))
    engine = db["engine"]
    family = _FAMILY.get(engine)
    if family is None:
        return None
    _users(db, family, principal_names, where, problems)
    _admin(db, where, problems, check_admin)
    proxies = _proxies(db, family, principal_names, where, problems)
    topology = _topology(db, ident, "instance" if instance else "cluster", where, problems)
    endpoint = db["endpoint"]
    return dict(topology, **{
        "index": index,
        "where": where,
        "id": ident,
        "kind": "instance" if instance else "cluster",
        "id_key": "db_instance_identifier" if instance else "db_cluster_identifier",
        "ref": {"db_instance_identifier": ident} if instance else {"db_cluster_identifier": ident},
        "engine": engine,
        "family": family,
        "db_name": db["db_name"],
        "endpoint": dict(endpoint) if endpoint else None,
        "admin": None if db["admin"] is None else {k: v for k, v in db["admin"].items() if k != "password"},
        "users": [u for u in db["users"] or [] if u is not None],
        "proxies": proxies,
        "resource_id": None,
        "resource_arn_prefix": None,
        "engine_version": None,
        "rds_engine": None,
        "iam_database_authentication_enabled": None,
        "pending": None,
        "discovered_read_replicas": None,
        "discovered_reader_endpoint": None,
        "discovered_custom_endpoints": None,
        "members": [],
    })


def _topology(db, ident, kind, where, problems):
    """Check the replicas, endpoints and secondaries of a database entry -> their plan keys (docs/topologies.md)."""
    replicas, endpoints, secondaries = db["replicas"], db["endpoints"], db["secondaries"]
    if kind == "cluster" and replicas is not None:
        problems.append("%s: replicas are for DB instances; an Aurora cluster's readers share its resource id (endpoints: "
                        "[reader]), and a cluster in another Region is a secondary (secondaries)" % where)
        replicas = None
    if kind == "instance" and (endpoints is not None or secondaries is not None):
        problems.append("%s: endpoints and secondaries are for Aurora clusters (db_cluster_identifier); a DB instance has one "
                        "endpoint, and its copies are replicas" % where)
        endpoints = secondaries = None
    if isinstance(replicas, str) and replicas != "discover" or not isinstance(replicas, (str, list, type(None))):
        problems.append("%s: replicas must be discover or a list of {db_instance_identifier, region}, not %r" % (where, replicas))
        replicas = None
    elif isinstance(replicas, list):
        replicas = check_value(replicas, {"type": "list", "elements": "dict", "options": REPLICA_OPTIONS},
                               "%s: replicas" % where, problems, _LABELS) or []
    seen = {(ident.lower(), None): "the database itself"}
    for name, entries, id_key in (("replicas", replicas if isinstance(replicas, list) else [], "db_instance_identifier"),
                                  ("secondaries", secondaries or [], "db_cluster_identifier")):
        for index, entry in enumerate(entries):
            if entry is None or not entry[id_key]:
                continue
            entry_where = "%s: %s[%d] (%s)" % (where, name, index, entry[id_key])
            if not _IDENTIFIER.match(entry[id_key]):
                problems.append("%s: %s must be a letter, then letters, digits and hyphens (at most 63)" % (entry_where, id_key))
            if entry["region"] is not None and not _REGION.match(entry["region"]):
                problems.append("%s: region %r is not an AWS Region name such as eu-west-1" % (entry_where, entry["region"]))
            key = (entry[id_key].lower(), entry["region"])
            if key in seen:
                problems.append("%s: the same as %s; list each once" % (entry_where, seen[key]))
            seen.setdefault(key, "%s[%d]" % (name, index))
    if endpoints is not None:
        if len(set(endpoints)) != len(endpoints):
            problems.append("%s: endpoints lists a name twice" % where)
        for name in endpoints:
            if name not in ("writer", "reader") and not _IDENTIFIER.match(name or ""):
                problems.append("%s: endpoints: %r is neither writer, reader nor a custom endpoint name" % (where, name))
    return {
        "replicas": replicas,
        "secondaries": [s for s in secondaries or [] if s is not None],
        "endpoints": list(endpoints) if endpoints is not None else (["writer"] if kind == "cluster" else []),
    }


def _self_managed_database(index, db, where, principal_names, problems, check_admin):
    """A database of kind self_managed: a server of one's own whose logins the bridge checks with STS."""
    for key in _RDS_KEYS:
        if db[key] not in (None, []):  # proxies defaults to []
            problems.append("%s: %s is for RDS databases; kind: self_managed has name, host, port and server_id" % (where, key))
    name, host = db["name"], db["host"]
    if not name or not host:
        problems.append("%s: kind: self_managed needs name and host (and port, unless the engine's default)" % where)
        return None
    if not _SELF_MANAGED_NAME.match(name):
        problems.append("%s: name %r must be a letter or digit, then letters, digits, '_', '.' and '-' (at most 63)" % (where, name))
    server_id = db["server_id"] or name
    if not _SERVER_ID.match(server_id):
        problems.append("%s: server_id %r must be 1-128 letters, digits and ._:@/+=-" % (where, server_id))
    engine = db["engine"]
    if engine == "mysql":
        problems.append("%s: kind: self_managed supports mariadb and postgres (MySQL Community has no PAM authentication "
                        "plugin for the bridge); use engine: mariadb for a MariaDB server" % where)
    family = _FAMILY.get(engine)
    if family is None:
        return None
    _users(db, family, principal_names, where, problems)
    _admin(db, where, problems, check_admin)
    return {
        "index": index,
        "where": where,
        "id": name,
        "kind": "self_managed",
        "id_key": "name",
        "ref": None,
        "engine": engine,
        "family": family,
        "db_name": db["db_name"],
        "endpoint": {"address": host, "port": db["port"] or _DEFAULT_PORT[family]},
        "server_id": server_id,
        # the PAM service (a file in /etc/pam.d) whose pam_python module asks this server's bridge (MariaDB)
        "pam_service": "dbauth-iam-%s" % name,
        "admin": None if db["admin"] is None else {k: v for k, v in db["admin"].items() if k != "password"},
        "users": [u for u in db["users"] or [] if u is not None],
        # RDS Proxy, replicas, Aurora endpoints and global secondaries are RDS's: a self-managed server has none
        "proxies": [],
        "members": [],
        "endpoints": [],
        "resource_id": None,
    }


def _region_of(entry):
    """The Region of a discovered database (from its ARN or rds-db ARN prefix), None when unknown."""
    for key in ("arn", "resource_arn_prefix"):
        parts = (entry.get(key) or "").split(":")
        if len(parts) > 3 and parts[3]:
            return parts[3]
    return None


def _members(db):
    """The replicas and secondary clusters of a plan database (explicit, or discovered from the source)."""
    wanted = []
    if db["replicas"] == "discover":
        for name in db["discovered_read_replicas"] or []:
            match = _RDS_ARN.match(name)
            wanted.append(("instance", match.group(3), match.group(1), "replica") if match else ("instance", name, None, "replica"))
    else:
        wanted += [("instance", r["db_instance_identifier"], r["region"], "replica") for r in db["replicas"] or []
                   if r and r["db_instance_identifier"]]
    wanted += [("cluster", s["db_cluster_identifier"], s["region"], "secondary") for s in db["secondaries"] if s["db_cluster_identifier"]]
    return [{
        "database": db["id"], "id": ident, "kind": kind, "region": region, "role": role,
        "id_key": "db_instance_identifier" if kind == "instance" else "db_cluster_identifier",
        "ref": {"db_instance_identifier" if kind == "instance" else "db_cluster_identifier": ident},
        "resource_id": None, "resource_arn_prefix": None, "endpoint": None, "iam_database_authentication_enabled": None,
    } for kind, ident, region, role in wanted]


def _resolve_members(databases, discovered):
    """Attach to each database its members with what was discovered of them; -> reads still needed, by Region."""
    regional = {}
    for entry in discovered or []:
        if isinstance(entry, Mapping) and not entry.get("failed"):
            kind = "cluster" if entry.get("db_cluster_identifier") and not entry.get("db_instance_identifier") else "instance"
            ident = entry.get("db_cluster_identifier") or entry.get("db_instance_identifier") or ""
            regional.setdefault((kind, ident.lower()), []).append(entry)
    reads = {}
    for db in databases:
        db["members"] = _members(db)
        for member in db["members"]:
            candidates = regional.get((member["kind"], member["id"].lower()), [])
            found = next((c for c in candidates if member["region"] in (None, _region_of(c))), None)
            if found is None:
                read = reads.setdefault(member["region"], {"region": member["region"], "db_instance_identifiers": [],
                                                           "db_cluster_identifiers": [], "refs": []})
                read[member["id_key"] + "s"].append(member["id"])
                read["refs"].append(member["ref"])
                continue
            for key in ("resource_id", "resource_arn_prefix", "iam_database_authentication_enabled"):
                member[key] = found.get(key)
            member["region"] = member["region"] or _region_of(found)
            if found.get("endpoint"):
                member["endpoint"] = {"address": found["endpoint"].get("address"), "port": found["endpoint"].get("port")}
    return [reads[region] for region in sorted(reads, key=lambda r: r or "")]


def _endpoint_logins(db):
    """(via, endpoint, region, id_key, id) of each way into a database that verify proves, its own endpoint first."""
    own = db["endpoint"] or {}
    result = []
    for name in db["endpoints"] or ["writer"]:
        if name == "writer":
            result.append((None, own, None, db["id_key"], db["id"]))
        elif name == "reader":
            result.append(("reader", db["discovered_reader_endpoint"] or {}, None, db["id_key"], db["id"]))
        else:
            custom = next((c for c in db["discovered_custom_endpoints"] or [] if c.get("name") == name), {})
            result.append((name, {"address": custom.get("address"), "port": custom.get("port") or own.get("port")},
                           None, db["id_key"], db["id"]))
    for member in db["members"]:
        result.append((member["id"], member["endpoint"] or {}, member["region"], member["id_key"], member["id"]))
    return result


def _host(name, variables, databases, principal_names, problems):
    where = "host %s" % name
    present = {k: v for k, v in (variables or {}).items() if k in HOST_OPTIONS and v is not None}
    host = check_options(present, HOST_OPTIONS, where, problems, _LABELS) or {}
    principal = host.get("rds_iam_principal") or ""
    if principal and principal_names is not None and principal not in principal_names:
        problems.append(
            "%s: rds_iam_principal is '%s', which rds_iam_principals does not define%s" % (where, principal, closest(principal, principal_names))
        )
    by_id = {db["id"]: db for db in databases}
    wanted = []
    # Logins through RDS Proxies are derived from the grants; a host that lists its logins gets exactly those.
    through_proxies = not host.get("rds_iam_host_logins")
    if host.get("rds_iam_host_logins"):
        for index, login in enumerate(host["rds_iam_host_logins"]):
            if login is None or not login["database"]:
                continue
            login_where = "%s: rds_iam_host_logins[%d]" % (where, index)
            db = by_id.get(login["database"])
            if db is None:
                problems.append("%s: database '%s' is not in rds_iam_databases%s" % (login_where, login["database"], closest(login["database"], by_id)))
                continue
            users = [u for u in db["users"] if u["name"] == login["user"]]
            if not users:
                problems.append("%s: database '%s' has no user '%s'" % (login_where, db["id"], login["user"]))
                continue
            wanted.append((db, users[0], login["db_name"]))
    else:
        for db in databases:
            for user in db["users"]:
                if user["state"] == "present" and (principal in (user["principals"] or []) if principal else user["principals"]):
                    wanted.append((db, user, None))
    logins = []
    for db in {id(db): db for db, _user, _name in wanted}.values():
        # An Aurora endpoint the model names but the cluster (read already) does not have: name it before any login.
        for name in db["endpoints"]:
            if name != "writer" and db["resource_id"] and not (_endpoint_logins(db)[db["endpoints"].index(name)][1] or {}).get("address"):
                problems.append("%s: endpoints: the cluster has no %s endpoint; fix the name (custom endpoints: "
                                "DescribeDBClusterEndpoints)" % (db["where"], name))
    for db, user, db_name in wanted:
        granted = user["state"] == "present" and principal in (user["principals"] or [])
        own_args = None
        for via, endpoint, region, id_key, ident in _endpoint_logins(db):
            args = {"label": db["id"] if via is None else "%s via %s" % (db["id"], via), "engine": db["engine"],
                    "db_host": endpoint.get("address"), "db_port": endpoint.get("port"), "db_user": user["name"]}
            if db["kind"] == "self_managed":  # a token for the bridge: presigned sts:GetCallerIdentity bound to the server
                args.update(kind="sts", server_id=db["server_id"])
            else:
                args[id_key] = ident
            if region:
                args["region"] = region
            if db_name or user["db_name"] or db["db_name"]:
                args["db_name"] = db_name or user["db_name"] or db["db_name"]
            own_args = own_args or args
            logins.append({"database": db["id"], "user": user["name"], "via": via, "granted": granted, "args": args})
        for proxy in db["proxies"] if through_proxies else []:
            if user["name"] not in proxy["users"]:
                continue
            # through the proxy: its endpoint is dialled and signed for; the diagnosis has no database id to read
            via = {key: value for key, value in own_args.items() if key not in ("db_instance_identifier", "db_cluster_identifier")}
            via.update(label="%s via %s" % (db["id"], proxy["name"]), db_host=proxy["endpoint"], db_port=proxy["port"])
            logins.append({"database": db["id"], "user": user["name"], "granted": granted, "args": via, "via": proxy["name"]})
    return {"principal": principal, "ca_cert": host.get("rds_iam_ca_cert"), "logins": logins}


def _check_variables(variables, problems):
    for name in sorted(set(variables or ())):
        if isinstance(name, str) and name.startswith("rds_iam_") and name not in KNOWN_VARIABLES:
            problems.append("variable '%s' is not one of the collection's%s" % (name, closest(name, KNOWN_VARIABLES)))


def build_plan(databases, principals=None, hosts=None, discovered=None, allow_empty=False, variables=None,
               require_endpoints=False, check_admin=True):
    """The plan for ``databases`` (rds_iam_databases) and ``principals`` (rds_iam_principals).

    ``hosts`` maps each target host to its variables (rds_iam_principal, rds_iam_host_logins, ...);
    ``discovered`` is what rds_iam_info or rds_iam_enable returned (resource ids, endpoints);
    ``variables`` are the names of the variables defined, to catch a misspelt ``rds_iam_*`` one;
    ``check_admin`` false lets databases with users lack an admin login (for steps that do not log in as admin).
    Raises ModelError with every problem.
    """
    problems = []
    _check_variables(variables, problems)
    principal_list = _principals(principals, problems)
    # Without rds_iam_principals (a role that does not grant) the principal names are not checked.
    principal_names = None if principals is None else [p["name"] for p in principal_list]
    plan_databases = []
    if databases is None or (isinstance(databases, (list, tuple)) and not databases):
        if not allow_empty:
            problems.append(
                "rds_iam_databases is %s: there is nothing to manage. Define it (see docs/data_model.md), or set "
                "rds_iam_allow_empty: true if an empty list is meant (then nothing is granted, and nothing removed)"
                % ("not defined" if databases is None else "empty")
            )
    elif isinstance(databases, (str, bytes, Mapping)) or not isinstance(databases, (list, tuple)):
        problems.append("rds_iam_databases must be a list of databases, not %s" % type(databases).__name__)
    else:
        seen = {}
        for index, raw in enumerate(databases):
            db = _database(index, raw, principal_names, problems, check_admin)
            if db is None:
                continue
            key = db["id"].lower()
            if key in seen:
                problems.append("%s: the same database as rds_iam_databases[%d]; list each database once, with all its users" % (db["where"], seen[key]))
                continue
            seen[key] = index
            plan_databases.append(db)
    # RDS steps (enable, iam_access, db_users, the report) read plan_databases; the self_managed role its own list
    self_managed = [db for db in plan_databases if db["kind"] == "self_managed"]
    every_database = plan_databases
    plan_databases = [db for db in plan_databases if db["kind"] != "self_managed"]
    if discovered is not None:
        found = _discovered_index(discovered)
        for db in plan_databases:
            _apply_discovered(db, found.get((db["kind"], db["id"].lower())), db["where"], problems)
            for proxy in db["proxies"]:
                seen_proxy = found.get(("proxy", proxy["name"]))
                if seen_proxy is not None and not seen_proxy.get("failed"):
                    for key in ("resource_id", "resource_arn_prefix", "endpoint"):
                        proxy[key] = seen_proxy.get(key)
    member_reads = _resolve_members(plan_databases, discovered)
    if require_endpoints:
        for db in plan_databases:
            if not (db["endpoint"] or {}).get("address") or not (db["endpoint"] or {}).get("port"):
                problems.append("%s: no endpoint known: run the enable step first (site.yml does), or set endpoint (address, port)" % db["where"])
            for proxy in db["proxies"]:
                if not proxy["endpoint"] and proxy["users"]:
                    problems.append("%s: proxies (%s): its endpoint is not known: the proxy must exist (the iam_access step "
                                    "reads it; docs/rds_proxy.md)" % (db["where"], proxy["name"]))
            for via, endpoint, _region, _key, _ident in _endpoint_logins(db)[1:]:
                if not endpoint.get("address") or not endpoint.get("port"):
                    problems.append("%s: no endpoint known for %s: it does not exist, or the enable step has not read it" % (db["where"], via))
    host_plans = {}
    for name, host_vars in sorted((hosts or {}).items()):
        host_plans[name] = _host(name, host_vars, every_database, principal_names, problems)
    if problems:
        raise ModelError(problems)
    families = sorted({db["family"] for db in every_database})
    # What the client step needs of every database on each host (drivers, service files); no users, no admin.
    client_databases = [{key: db[key] for key in ("id", "kind", "engine", "family", "endpoint", "db_name")} for db in plan_databases]
    for host_plan in host_plans.values():
        host_plan.update(families=families, databases=client_databases)
    for principal in principal_list:
        principal["grants"] = []
        for db in plan_databases:
            modelled = sorted({u["name"] for u in db["users"] if u["state"] == "present" and principal["name"] in (u["principals"] or [])})
            # end-to-end IAM: a proxy's role logs in to the database (not its replicas) as the users that go through the proxy
            users = sorted(set(modelled).union(*[p["users"] for p in db["proxies"] if p["role"] == principal["name"]]))
            if users:
                principal["grants"].append({"database": db["id"], "resource_arn_prefix": db["resource_arn_prefix"], "db_users": users})
            if modelled:
                # One rds-db ARN per resource id: each replica's and each secondary's too (in its Region).
                for member in db["members"]:
                    principal["grants"].append({"database": member["id"], "resource_arn_prefix": member["resource_arn_prefix"],
                                                "db_users": modelled})
            for proxy in db["proxies"]:
                # clients of a proxy need rds-db:connect on its prx- resource id (not the database's)
                through = sorted(set(proxy["users"]) & {u["name"] for u in db["users"] if principal["name"] in (u["principals"] or [])})
                if through:
                    principal["grants"].append({"database": "%s via %s" % (db["id"], proxy["name"]),
                                                "resource_arn_prefix": proxy["resource_arn_prefix"], "db_users": through})
    return {
        "databases": plan_databases,
        "members": [member for db in plan_databases for member in db["members"]],
        "member_reads": member_reads,
        "proxies": [dict(p, database=db["id"]) for db in plan_databases for p in db["proxies"]],
        "self_managed": self_managed,
        "principals": principal_list,
        "hosts": host_plans,
        "families": families,
        "empty": not plan_databases,
    }


def _service_trust(trust):
    return isinstance(trust, str) and trust in _SERVICE_TRUST


def trust_document(trust, partition="aws"):
    """The assume-role policy of a principal's trust (ec2, or account ids and principal ARNs)."""
    if _service_trust(trust):
        principal = {"Service": _SERVICE_TRUST[trust]}
    else:
        principal = {"AWS": sorted({"arn:%s:iam::%s:root" % (partition, t) if _ACCOUNT.match(t) else t for t in trust})}
    return {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"}]}


def policy_name(prefix, principal, part):
    """PREFIX + principal for the first policy of a principal, PREFIX + principal + '-partN' for the next ones."""
    return prefix + principal + ("" if part == 1 else "-part%d" % part)


def principal_policies(plan, prefix, path, account_id, partition="aws", allow_wildcards=False, max_policies=10,
                       max_size=MANAGED_POLICY_MAX_CHARS, revoke=False):
    """Each principal's managed policies: its grants split over as many documents as the size limit needs.

    Returns one entry per principal: name, policies (name, arn, document), trust_document. With ``revoke``
    every principal gets no policy (so that all of its policies are obsolete).
    """
    result = []
    owners = {}
    for principal in plan["principals"]:
        documents = []
        if principal["grants"] and not revoke:
            missing = [g["database"] for g in principal["grants"] if not g["resource_arn_prefix"]]
            if missing:
                raise ModelError(["principal %s: the resource ids of %s are not known (run rds_iam_info or the enable step first)"
                                  % (principal["name"], ", ".join(missing))])
            try:
                documents = policy_documents(
                    [{"arn_prefix": g["resource_arn_prefix"], "db_users": g["db_users"]} for g in principal["grants"]],
                    allow_wildcards=allow_wildcards, max_size=max_size, split=True,
                )
            except PolicyDocumentError as e:
                raise ModelError(["principal %s: %s" % (principal["name"], e)])
        if len(documents) > max_policies:
            users = sum(len(g["db_users"]) for g in principal["grants"])
            raise ModelError([
                "principal %s: its %d database users need %d managed policies of %d characters, over the %d a role may have "
                "attached (iam_access_max_policies; AWS's default quota is 10, at most 20 on request): grant fewer users "
                "to one principal, or raise the quota and iam_access_max_policies" % (principal["name"], users, len(documents), max_size, max_policies)
            ])
        policies = []
        for part, document in enumerate(documents, start=1):
            name = policy_name(prefix, principal["name"], part)
            if name in owners:
                raise ModelError(["principals %s and %s would both own the managed policy %s: rename one of them"
                                  % (owners[name], principal["name"], name)])
            owners[name] = principal["name"]
            policies.append({"name": name, "arn": "arn:%s:iam::%s:policy%s%s" % (partition, account_id, path, name), "document": document})
        result.append({
            "name": principal["name"],
            "trust": principal["trust"],
            "trust_document": None if principal["trust"] is None else trust_document(principal["trust"], partition),
            "path": principal["path"],
            "description": principal["description"],
            "max_session_duration": principal["max_session_duration"],
            "instance_profile": principal["trust"] == "ec2" and principal["instance_profile"],
            "policies": policies,
        })
    return result


def db_user_databases(plan_databases, source_databases, state="present"):
    """The ``databases`` argument of rds_iam_db_user for plan databases: the admin login (its password taken from
    the data model entry the plan database came from) and the users. Only for module arguments: never set it as a fact.
    """
    result = []
    for db in plan_databases:
        if not db["users"]:
            continue
        admin = db["admin"]
        source_admin = source_databases[db["index"]]["admin"]
        endpoint = db["endpoint"] or {}
        users = []
        for user in db["users"]:
            spec = {"name": user["name"], "state": "absent" if state == "absent" else user["state"]}
            if user["host"] is not None:
                spec["host"] = user["host"]
            if state != "absent":
                for key in ("privileges", "roles"):
                    if user[key] is not None:
                        spec[key] = user[key]
            users.append(spec)
        if not (admin["host"] or endpoint.get("address")):
            raise ModelError(["%s: no endpoint known for the admin login: run the enable step first (site.yml does), "
                              "or set endpoint (address, port) or admin.host" % db["where"]])
        entry = {
            "name": db["id"],
            "engine": db["engine"],
            "login_host": admin["host"] or endpoint.get("address"),
            "login_port": admin["port"] or endpoint.get("port"),
            "login_user": admin["user"],
            "login_iam": bool(admin["iam"]),
            "users": users,
        }
        if admin["db"]:
            entry["login_db"] = admin["db"]
        if db["kind"] == "self_managed":  # users that the bridge checks: ldap (PostgreSQL) or PAM (MariaDB)
            entry.update(auth="bridge", pam_service=db["pam_service"])
        if not admin["iam"]:
            entry["login_password"] = source_admin["password"]
        result.append(entry)
    return result


def bridge_config(db, principals, caller_arn, regions, listeners, sts_endpoints=None, ca_file=None, stale_seconds=300):
    """The bridge's configuration (JSON) for a self-managed database of the plan: its server id and which principal
    may log in as which user. ``principals`` are the plan's (IAM role names); their ARNs take the account and
    partition of ``caller_arn`` (the automation's identity), without a path, as STS names an assumed role's role.
    ``listeners`` is {"ldap": {...} or None, "socket": path or None}."""
    match = re.match(r"^arn:(aws[a-z-]*):[a-z]+::(\d{12}):", caller_arn or "")
    if not match:
        raise ModelError(["%s: the caller ARN %r has no account id (amazon.aws.aws_caller_info)" % (db["where"], caller_arn)])
    partition, account = match.groups()
    known = {p["name"] for p in principals} if principals is not None else None
    mapping = {}
    for user in db["users"]:
        if user["state"] != "present":
            continue
        for name in user["principals"] or []:
            if known is not None and name not in known:
                continue  # the plan has refused it already
            arn = "arn:%s:iam::%s:role/%s" % (partition, account, name)
            mapping.setdefault(arn, [])
            if user["name"] not in mapping[arn]:
                mapping[arn].append(user["name"])
    return {
        "server_id": db["server_id"],
        "partition": partition,
        "regions": list(regions),
        "sts_endpoints": dict(sts_endpoints or {}),
        "ca_file": ca_file or None,
        "ldap": listeners.get("ldap"),
        "socket": listeners.get("socket"),
        "mapping": {arn: sorted(users) for arn, users in sorted(mapping.items())},
        "stale_seconds": int(stale_seconds),
    }


def verify_table(rows):
    """The verify summary: one aligned line per login, then 'N of M logins ok'."""
    table = [["HOST", "DATABASE", "USER", "RESULT", "TLS", "MS", "DIAGNOSIS"]]
    for row in rows:
        latency = row.get("latency_ms")
        table.append([
            str(row.get("host", "")), str(row.get("database", "")), str(row.get("user", "")),
            "ok" if row.get("connected") else "FAILED", row.get("tls_version") or "-",
            "%.1f" % latency if latency is not None else "-", row.get("diagnosis") or "-",
        ])
    widths = [max(len(line[i]) for line in table) for i in range(len(table[0]))]
    lines = ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(line)).rstrip() for line in table]
    lines.append("%d of %d logins ok" % (sum(1 for row in rows if row.get("connected")), len(rows)))
    return lines


def verify_rows(results, logins, host, principal=""):
    """One row per login of a host: what the plan expected (granted) joined to what rds_iam_verify returned."""
    rows = []
    for login, result in zip(logins, results or []):
        connected = bool(result.get("connected"))
        rows.append({
            "host": host,
            "principal": principal,
            "database": login["database"] + (" via %s" % login["via"] if login.get("via") else ""),
            "user": login["user"],
            "granted": login["granted"],
            "connected": connected,
            "diagnosis": result.get("diagnosis") if connected else (result.get("diagnosis") or "error"),
            "tls_version": result.get("tls_version"),
            "latency_ms": result.get("latency_ms"),
            "current_user": result.get("current_user"),
            "policy_source": result.get("policy_source"),
            "msg": result.get("msg") or "",
        })
    return rows


def verify_unexpected(rows):
    """A sentence for each login whose result differs from what the data model grants."""
    messages = []
    for row in rows:
        if row["granted"] and not row["connected"]:
            messages.append("%s -> %s as %s: %s: %s" % (row["host"], row["database"], row["user"], row["diagnosis"], row["msg"]))
        elif row["connected"] and not row["granted"]:
            messages.append("%s -> %s as %s: logged in although the data model does not grant it to %s"
                            % (row["host"], row["database"], row["user"], row["principal"] or "this host"))
    return messages
