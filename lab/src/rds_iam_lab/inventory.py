"""``rds-iam-lab inventory DIR``: an Ansible inventory that points the dbauth.rds_iam data model at the lab.

A user's data model (``rds_iam_databases``, ``rds_iam_principals``, the hosts' ``rds_iam_principal``) then
targets the lab by changing identifiers only. Files written into DIR (JSON, which is YAML: values quoted
safely, no dependency on a YAML dumper):

* ``hosts.yml`` (not with ``--no-hosts``): ``localhost`` (the controller) and the group ``rds_iam_targets``
  with the lab's target hosts, each with its instance profile's role as ``rds_iam_principal``;
* ``group_vars/rds_iam_targets/lab_targets.yml``: how the target hosts are reached (SSH to their account on the
  lab's sshd, or local) and their AWS identity: their own instance metadata endpoint (no keys on the hosts);
* ``group_vars/all/lab_connection.yml``: ``rds_iam_aws`` (how the controller's plays reach the lab's AWS API)
  and ``rds_iam_ca_bundle_src`` (the lab's CA);
* ``group_vars/all/lab_generated.yml``: endpoint, region, account, CA, AWS config files, databases, hosts
  (no secrets);
* ``group_vars/all/lab_secrets.yml`` (0600): the controller's access key pair and the admin passwords.

``--no-hosts`` leaves out ``hosts.yml``, for an inventory that names the lab's hosts itself (``inventories/lab`` of
the dbauth.rds_iam repository); ``--vars-only`` writes the last two files only, for an inventory with hosts and
connection settings of its own.

Nothing secret is printed.
"""

from __future__ import annotations

import json
from pathlib import Path

from rds_iam_lab import procutil

HEADER = "# Written by `rds-iam-lab inventory` from the running lab. Do not commit (it names keys and ports).\n"

# The target hosts' connection and identity, read from lab_hosts (lab_generated.yml) per host.
TARGET_VARS = {
    "_lab_host": "{{ lab_hosts[inventory_hostname] }}",
    "_lab_ssh": "{{ _lab_host.connection == 'ssh' }}",
    # ssh: the host's account on the lab's sshd; local: the controller itself (lab not run as root).
    "ansible_connection": "{{ _lab_host.connection }}",
    "ansible_host": "127.0.0.1",
    "ansible_port": "{{ _lab_host.ssh_port | default(omit) }}",
    "ansible_user": "{{ _lab_host.user | default(omit, true) }}",
    "ansible_ssh_private_key_file": "{{ _lab_host.ssh_private_key | default(omit) }}",
    "ansible_ssh_common_args": (
        "-o UserKnownHostsFile={{ _lab_host.known_hosts | default('/dev/null') }} -o StrictHostKeyChecking=yes"
        " -o IdentitiesOnly=yes -o PasswordAuthentication=no -o KbdInteractiveAuthentication=no"),
    # The host's own Python, set explicitly (interpreter discovery could pick a pyenv shim that does not run).
    "ansible_python_interpreter": "{{ _lab_host.python or ansible_playbook_python }}",
    # Drivers and the AWS SDK go to the account's own site-packages (the machine's python3 is Debian's,
    # marked externally managed); a local host installs into the controller's virtual environment.
    "client_pip_user": "{{ _lab_ssh }}",
    "client_pip_break_system_packages": "{{ _lab_ssh }}",
    # The host's AWS identity: its instance metadata endpoint, as on EC2. Region and endpoint of the lab's AWS
    # as environment settings; no profile, no keys (a local host would otherwise inherit the job's keys, which
    # an AWX credential injects: blank them).
    "rds_iam_host_environment": {
        "AWS_EC2_METADATA_SERVICE_ENDPOINT": "{{ _lab_host.imds_endpoint }}",
        "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE": "IPv4",
        "AWS_EC2_METADATA_DISABLED": "false",
        # botocore waits 1 s, once, by default: a busy lab machine may need longer
        "AWS_METADATA_SERVICE_TIMEOUT": "5",
        "AWS_METADATA_SERVICE_NUM_ATTEMPTS": "3",
        "AWS_REGION": "{{ lab_region }}",
        "AWS_DEFAULT_REGION": "{{ lab_region }}",
        "AWS_ENDPOINT_URL": "{{ lab_endpoint_url }}",
        "AWS_CONFIG_FILE": "{{ _lab_host.files_dir }}/aws/config",
        "AWS_SHARED_CREDENTIALS_FILE": "{{ _lab_host.files_dir }}/aws/credentials",
        "AWS_ACCESS_KEY_ID": "",
        "AWS_SECRET_ACCESS_KEY": "",
        "AWS_SESSION_TOKEN": "",
    },
    # Each host keeps its client files in its own folder (~/rds-iam-LABID of its account; a real host would use the
    # role defaults in /etc, with become).
    "rds_iam_ca_cert": "{{ _lab_host.files_dir }}/rds-ca-bundle.pem",
    "client_mysql_option_file": "{{ _lab_host.files_dir }}/my.cnf",
    "client_pg_service_file": "{{ _lab_host.files_dir }}/pg_service.conf",
}

# How the controller's plays reach the lab (module_defaults of the collection's playbooks). On AWS this is
# e.g. {region: eu-west-1} or {region: eu-west-1, profile: admin}.
CONNECTION_VARS = {
    "rds_iam_aws": {"endpoint_url": "{{ lab_endpoint_url }}", "region": "{{ lab_region }}",
                    "access_key": "{{ lab_access_key }}", "secret_key": "{{ lab_secret_key }}"},
    # CA bundle on the controller: admin logins use it and the client role copies it to the targets.
    "rds_iam_ca_bundle_src": "{{ lab_ca_cert }}",
}


def hosts_inventory(status: dict) -> dict:
    """localhost and the lab's target hosts, each with the role of its instance profile."""
    targets = {h["name"]: {"rds_iam_principal": h["principal"]} for h in status.get("hosts", [])}
    return {"all": {
        "hosts": {"localhost": {"ansible_connection": "local",
                                "ansible_python_interpreter": "{{ ansible_playbook_python }}"}},
        "children": {"rds_iam_targets": {"hosts": targets}},
    }}


def render(status: dict) -> tuple[dict, dict]:
    """(the lab's facts without secrets, the secrets) as inventory variables."""
    public = {
        "lab_state_dir": status["state_dir"],
        "lab_endpoint_url": status["endpoint_url"],
        "lab_region": status["region"],
        "lab_account_id": status["account_id"],
        "lab_ca_cert": status["ca_cert"],
        "lab_aws_config_file": status["aws_config_file"],
        "lab_aws_shared_credentials_file": status["aws_shared_credentials_file"],
        "lab_verifier_log": status["verifier_log"],
        "lab_databases": {
            db["id"]: {
                "kind": db["kind"], "engine": db["engine"], "address": db["host"], "port": db["port"],
                "admin_user": db["admin_user"], "db_name": db.get("db_name"), "resource_id": db.get("resource_id"),
                # a logical database (add-databases, up --seed): its own RDS identity on one of the servers
                "logical": bool(db.get("logical")), "served_by": db.get("served_by"),
                "region": db.get("region"), "replica_of": db.get("replica_of"),
                "reader_endpoint": db.get("reader_endpoint"),
            } for db in status["databases"]
        },
        "lab_principals": [p["name"] for p in status["principals"]],
        # RDS Proxy: the port of each engine family's proxies (their addresses: DescribeDBProxies' Endpoint)
        "lab_proxy_ports": dict(status.get("proxy_ports") or {}),
        # the plain servers that the self_managed role configures (no RDS identity): where each keeps what
        "lab_self_managed": {
            server["id"]: {key: value for key, value in server.items() if key != "admin_password"}
            for server in status.get("self_managed", [])
        },
        # the target hosts: connection (ssh to the host's account, or local), metadata endpoint, folders
        "lab_hosts": {
            h["name"]: {key: h.get(key) for key in (
                "connection", "user", "ssh_port", "ssh_private_key", "known_hosts", "python", "home", "files_dir",
                "imds_endpoint", "instance_id", "principal")}
            for h in status.get("hosts", [])
        },
    }
    secret = {
        "lab_access_key": status["access_key"],
        "lab_secret_key": status["secret_key"],
        "lab_admin_passwords": {db["id"]: db["admin_password"] for db in status["databases"] + status.get("self_managed", [])},
    }
    return public, secret


def _dump(data: dict) -> str:
    return HEADER + json.dumps(data, indent=2, sort_keys=True) + "\n"


def write(status: dict, directory: Path, hosts: bool = True, connection: bool = True) -> list[Path]:
    """Write the inventory into ``directory``: ``hosts.yml`` unless not ``hosts``, the hosts' and the controller's
    connection settings unless not ``connection``, the lab's facts and secrets always. Returns the files written."""
    public, secret = render(status)
    group_vars = directory / "group_vars" / "all"
    group_vars.mkdir(parents=True, exist_ok=True)
    files = [(group_vars / "lab_generated.yml", public)]
    if connection:
        (directory / "group_vars" / "rds_iam_targets").mkdir(parents=True, exist_ok=True)
        files += [(directory / "group_vars" / "rds_iam_targets" / "lab_targets.yml", TARGET_VARS),
                  (group_vars / "lab_connection.yml", CONNECTION_VARS)]
    if hosts:
        files.append((directory / "hosts.yml", hosts_inventory(status)))
    written = []
    for path, data in files:
        path.write_text(_dump(data), encoding="utf-8")
        written.append(path)
    secrets_path = group_vars / "lab_secrets.yml"
    procutil.write_private(secrets_path, _dump(secret))
    written.append(secrets_path)
    return written
