# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The data model's schema: the one source of its keys, types, choices and suboptions.

Internal use only: not part of the collection's public API, it may change in any release.

The specs use Ansible's argument spec format, so that the roles' ``meta/argument_specs.yml`` can carry them
unchanged (``scripts/role_argument_specs.py`` writes them there; a unit test keeps both in step) and the plan
(:mod:`._plan`) validates against exactly the same keys.
"""

from __future__ import annotations

# The SQL dialect of the users: Aurora MySQL is mysql, Aurora PostgreSQL is postgres.
ENGINES = ["mysql", "mariadb", "postgres"]

USER_OPTIONS = {
    "name": {
        "type": "str",
        "required": True,
        "description": "Database user name (case-sensitive). Also the user part of the C(rds-db) resource ARN.",
    },
    "principals": {
        "type": "list",
        "elements": "str",
        "description": "Names of entries of rds_iam_principals (IAM roles) allowed C(rds-db:connect) as this user.",
    },
    "privileges": {
        "type": "dict",
        "description": "MySQL/MariaDB only: exact grants, C(db.table) to a comma-separated privilege list.",
    },
    "roles": {
        "type": "list",
        "elements": "str",
        "description": "PostgreSQL only: exact role memberships besides C(rds_iam).",
    },
    "host": {
        "type": "str",
        "description": "MySQL/MariaDB only: the account host (default C(%)).",
    },
    "state": {
        "type": "str",
        "choices": ["present", "absent"],
        "default": "present",
        "description": "V(absent) drops the user (and grants it to no principal).",
    },
    "db_name": {
        "type": "str",
        "description": "Database this user's logins open (verify); default the database's db_name.",
    },
}

ADMIN_OPTIONS = {
    "user": {"type": "str", "required": True, "description": "The admin (master) user name."},
    "password": {
        "type": "str",
        "no_log": True,
        "description": "The admin password (use Ansible Vault or a lookup). Exactly one of password or iam=true.",
    },
    "iam": {
        "type": "bool",
        "default": False,
        "description": "Log in as admin with an IAM token signed with the controller's AWS options (rds_iam_aws).",
    },
    "host": {"type": "str", "description": "Address for the admin login only (default: the database's endpoint)."},
    "port": {"type": "int", "description": "Port for the admin login only (default: the database's endpoint)."},
    "db": {"type": "str", "description": "Database the admin login opens."},
}

ENDPOINT_OPTIONS = {
    "address": {"type": "str", "required": True, "description": "Host name or address."},
    "port": {"type": "int", "description": "Port (default the engine's port as RDS reports it)."},
}

PROXY_OPTIONS = {
    "name": {"type": "str", "required": True, "description": "Name of an RDS Proxy whose target is this database (it must exist)."},
    "role": {
        "type": "str",
        "description": [
            "Name of an entry of rds_iam_principals: the proxy's IAM role (its trust V(rds)). With it the proxy uses "
            "end-to-end IAM authentication (C(DefaultAuthScheme: IAM_AUTH)): the role gets C(rds-db:connect) on this "
            "database's users that log in through the proxy, and the iam_access role sets the proxy's scheme and role.",
            "Without it the proxy's own authentication (secrets) is left as it is; clients still get their grants on "
            "the proxy's C(prx-) ARNs.",
        ],
    },
    "users": {
        "type": "list",
        "elements": "str",
        "description": "Users of this database that log in through the proxy (default: every user with principals).",
    },
    "port": {"type": "int", "description": "Port of the proxy endpoint (default the engine's, 3306 or 5432, where RDS Proxy listens)."},
}

# Topology (docs/topologies.md): read replicas of an instance, secondary clusters of an Aurora global database.
REPLICA_OPTIONS = {
    "db_instance_identifier": {"type": "str", "required": True, "description": "Identifier of the read replica (a DB instance)."},
    "region": {
        "type": "str",
        "description": "AWS Region of a cross-Region read replica; default the source's (the region of rds_iam_aws).",
    },
}

SECONDARY_OPTIONS = {
    "db_cluster_identifier": {"type": "str", "required": True, "description": "Identifier of the secondary Aurora DB cluster."},
    "region": {"type": "str", "required": True, "description": "AWS Region of the secondary cluster."},
}

DATABASE_OPTIONS = {
    "kind": {
        "type": "str",
        "choices": ["rds", "self_managed"],
        "default": "rds",
        "description": [
            "V(rds): an RDS DB instance or Aurora DB cluster (db_instance_identifier or db_cluster_identifier). "
            "V(self_managed): a server of one's own (name, host, port), whose IAM logins the role "
            "dbauth.rds_iam.self_managed sends to the collection's bridge, which asks AWS STS (docs/self_managed.md)."
        ],
    },
    "db_instance_identifier": {
        "type": "str",
        "description": "RDS DB instance identifier. Exactly one of db_instance_identifier or db_cluster_identifier.",
    },
    "db_cluster_identifier": {
        "type": "str",
        "description": "Aurora DB cluster identifier (IAM access and the resource id are the cluster's).",
    },
    "engine": {
        "type": "str",
        "required": True,
        "choices": ENGINES,
        "description": "SQL dialect of the users: V(mysql), V(mariadb) or V(postgres) (Aurora MySQL is V(mysql), Aurora PostgreSQL V(postgres)).",
    },
    "name": {"type": "str", "description": "kind V(self_managed) only: the database's name in the data model (required)."},
    "host": {"type": "str", "description": "kind V(self_managed) only: the server's host name or address (required)."},
    "port": {"type": "int", "description": "kind V(self_managed) only: the server's port (default the engine's: 3306 or 5432)."},
    "server_id": {
        "type": "str",
        "description": [
            "kind V(self_managed) only: the id that tokens for this server are signed for (the header X-DbAuth-Server-Id), "
            "so that a token for one server is useless on another. Default: the name."
        ],
    },
    "db_name": {"type": "str", "description": "Database the logins open (verify, the PostgreSQL service file)."},
    "endpoint": {
        "type": "dict",
        "options": ENDPOINT_OPTIONS,
        "description": "Override of the endpoint RDS reports (a proxy, a tunnel).",
    },
    "admin": {
        "type": "dict",
        "options": ADMIN_OPTIONS,
        "description": "How the controller logs in to create the users; required when the database has users.",
    },
    "users": {
        "type": "list",
        "elements": "dict",
        "default": [],
        "options": USER_OPTIONS,
        "description": "The IAM database users.",
    },
    "proxies": {
        "type": "list",
        "elements": "dict",
        "default": [],
        "options": PROXY_OPTIONS,
        "description": [
            "RDS Proxies in front of this database. The principals of the users that log in through a proxy get "
            "C(rds-db:connect) on the proxy's C(prx-) ARNs, and verify logs in through the proxy endpoint too "
            "(docs/rds_proxy.md).",
        ],
    },
    "replicas": {
        "type": "raw",
        "description": [
            "DB instances only: the read replicas of the instance, a list of C(db_instance_identifier) and optional "
            "C(region) (a cross-Region replica), or V(discover) to read them from the source "
            "(C(ReadReplicaDBInstanceIdentifiers), cross-Region replicas by ARN).",
            "Each replica has its own resource id and IAM setting: V(enable) turns it on on each, iam_access grants "
            "every principal of a user one C(rds-db) ARN per replica (its Region in the ARN), verify logs in through "
            "each replica's endpoint. The users are created on the source only (they are replicated).",
        ],
    },
    "endpoints": {
        "type": "list",
        "elements": "str",
        "description": [
            "Aurora DB clusters only: the endpoints verify logs in through, V(writer) (the cluster endpoint), "
            "V(reader) (the reader endpoint) or the name of a custom endpoint. Default V([writer]).",
            "The cluster's resource id covers all of them; each token is signed for the host that is dialled.",
        ],
    },
    "secondaries": {
        "type": "list",
        "elements": "dict",
        "options": SECONDARY_OPTIONS,
        "description": [
            "Aurora DB clusters only: the secondary clusters of the Aurora global database whose primary this "
            "cluster is, each in its own Region.",
            "Each has its own resource id and IAM setting in its own Region: V(enable) turns it on there, iam_access "
            "grants one C(rds-db) ARN per secondary (its Region in the ARN), verify logs in through each with tokens "
            "signed in its Region. The users are created on the primary only (they are replicated).",
        ],
    },
}

PRINCIPAL_OPTIONS = {
    "name": {"type": "str", "required": True, "description": "IAM role name."},
    "trust": {
        "type": "raw",
        "description": [
            "V(ec2) (create the role with an EC2 trust and an instance profile), V(rds) (create the role trusted by "
            "RDS, for an RDS Proxy's role), or a list of 12-digit account ids "
            "and principal ARNs allowed to assume it. Omitted: the role exists already and only gets its policy."
        ],
    },
    "path": {"type": "str", "description": "IAM path of a role this collection creates."},
    "description": {"type": "str", "description": "Description of a role this collection creates."},
    "max_session_duration": {"type": "int", "description": "Maximum session duration (seconds) of the role."},
    "instance_profile": {
        "type": "bool",
        "default": True,
        "description": "With trust V(ec2), also create an instance profile of the same name.",
    },
}

HOST_LOGIN_OPTIONS = {
    "database": {"type": "str", "required": True, "description": "Identifier of a database of rds_iam_databases."},
    "user": {"type": "str", "required": True, "description": "A user of that database."},
    "db_name": {"type": "str", "description": "Database the login opens."},
}

# Variables read from each target host (group rds_iam_targets).
HOST_OPTIONS = {
    "rds_iam_principal": {"type": "str", "description": "The IAM role whose credentials the host has."},
    "rds_iam_host_logins": {
        "type": "list",
        "elements": "dict",
        "options": HOST_LOGIN_OPTIONS,
        "description": "The logins the host makes (default: every user whose principals name rds_iam_principal).",
    },
    "rds_iam_ca_cert": {"type": "str", "description": "Path of the CA bundle on the host."},
    "rds_iam_host_environment": {"type": "dict", "description": "Environment for the host's AWS credentials."},
}

# Each target host's part of the plan (plan["hosts"][HOST]): the roles client and verify take it as client_plan and
# verify_plan, so that a host checks its own part, not the whole data model again.
PLANNED_LOGIN_OPTIONS = {
    # copies: one role's argument_specs.yml carries both (YAML would otherwise write them as anchors)
    "database": dict(HOST_LOGIN_OPTIONS["database"]),
    "user": dict(HOST_LOGIN_OPTIONS["user"]),
    "via": {
        "type": "str",
        "description": "What the login goes through besides the database's own endpoint: V(reader), a custom endpoint, "
        "the identifier of a read replica or secondary cluster, or the RDS Proxy whose endpoint is dialled "
        "(null: the database's endpoint).",
    },
    "granted": {"type": "bool", "required": True, "description": "Whether the data model grants this login to the host."},
    "args": {"type": "dict", "required": True, "description": "The login's arguments of dbauth.rds_iam.rds_iam_verify."},
}

PLANNED_DATABASE_OPTIONS = {
    "id": {"type": "str", "required": True, "description": "DB instance or cluster identifier, or a self-managed database's name."},
    "kind": {
        "type": "str",
        "choices": ["instance", "cluster", "self_managed"],
        "description": "DB instance, Aurora DB cluster or self-managed server.",
    },
    "engine": {"type": "str", "choices": list(ENGINES), "description": "SQL dialect of the users."},
    "family": {"type": "str", "required": True, "choices": ["mysql", "postgres"], "description": "Driver family of the engine."},
    "endpoint": {"type": "dict", "description": "Address and port (the override, or as RDS reports it)."},
    "db_name": {"type": "str", "description": "Database the logins open."},
}

HOST_PLAN_OPTIONS = {
    "principal": {"type": "str", "description": "The IAM role the host acts as (empty: every user that has principals)."},
    "ca_cert": {"type": "str", "description": "Path of the CA bundle on the host (rds_iam_ca_cert)."},
    "logins": {
        "type": "list",
        "elements": "dict",
        "default": [],
        "options": PLANNED_LOGIN_OPTIONS,
        "description": "The logins the host proves, each saying whether the data model grants it.",
    },
    "families": {
        "type": "list",
        "elements": "str",
        "default": [],
        "description": "Driver families of the databases' engines (V(mysql), V(postgres)).",
    },
    "databases": {
        "type": "list",
        "elements": "dict",
        "default": [],
        "options": PLANNED_DATABASE_OPTIONS,
        "description": "Every database of the model as the client settings need it (no users, no admin login).",
    },
}

# Every variable of the collection that starts with rds_iam_ (a misspelt one is named with its closest match).
KNOWN_VARIABLES = sorted(
    set(HOST_OPTIONS)
    | {
        "rds_iam_databases", "rds_iam_principals", "rds_iam_aws", "rds_iam_aws_assumed", "rds_iam_aws_assumed_environment",
        "rds_iam_ca_bundle_src",
        "rds_iam_allow_empty", "rds_iam_plan", "rds_iam_enabled_databases", "rds_iam_verify_strict",
        "rds_iam_verify_report", "rds_iam_verify_results", "rds_iam_access_report", "rds_iam_report_dir",
        "rds_iam_report_scope", "rds_iam_report_fail_on", "rds_iam_prune", "rds_iam_proxies_found",
        # playbooks/blue_green_switchover.yml
        "rds_iam_blue_green_database", "rds_iam_blue_green_switchover_timeout", "rds_iam_blue_green_wait_timeout",
    }
)

MODEL_OPTIONS = {
    "rds_iam_databases": {"type": "list", "elements": "dict", "options": DATABASE_OPTIONS},
    "rds_iam_principals": {"type": "list", "elements": "dict", "options": PRINCIPAL_OPTIONS},
}
