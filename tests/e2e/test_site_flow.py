# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""End to end: playbooks/site.yml, revoke.yml and verify.yml against the lab, proven out of band.

Order (one module-scoped lab, state reset to "fresh" first: no policies, no users, IAM auth off):
check mode of site.yml writes nothing (AWS and catalogs compared before/after, no files on the targets)
-> real run at -vvv (no secret or token in the output) -> check mode again changes nothing -> re-run with
changed=0 and the verify table: granted logins work, the host without access gets policy_denied
-> revoke.yml removes policies and users (and nothing else) -> every host is refused -> revoke again
changes nothing. Run: make e2e (or .venv/bin/python -m pytest tests/e2e -q after make view).
"""

from __future__ import annotations

import json
import os
import pwd
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parents[2]))  # the repository root, for the lab package
import snapshot  # noqa: E402  pylint: disable=wrong-import-position
from rds_iam_lab.labctl import secret_values as labctl_secret_values  # noqa: E402  pylint: disable=wrong-import-position
from rds_iam_lab import labctl as lab_labctl  # noqa: E402  pylint: disable=wrong-import-position

ROOT = Path(__file__).resolve().parents[2]
VIEW = ROOT / ".build" / "view"
RECAP = re.compile(r"^(\S+)\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)
TOKEN_MARKERS = ("X-Amz-Signature", "X-Amz-Credential", "X-Amz-Security-Token", "Action=connect")


def labctl(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "rds_iam_lab", *args], cwd=str(ROOT), capture_output=True,
                          text=True, check=False)


def labctl_control(request: dict):
    """One request to the lab daemon's control socket (the verifier's accepted logins)."""
    return lab_labctl.control(lab_labctl.state_dir(), request)


@pytest.fixture(scope="module")
def lab():
    if not (VIEW / "ansible_collections" / "dbauth" / "rds_iam" / "roles" / "enable").is_dir():
        pytest.fail("the collection view is missing: run `make view` (make e2e does)")
    started = labctl("status", "--json").returncode != 0
    up = labctl("up")
    assert up.returncode == 0, up.stderr[-2000:]
    yield snapshot.lab_status()
    if started:
        labctl("down")


@pytest.fixture(scope="module")
def inventory(lab, tmp_path_factory):
    inv = tmp_path_factory.mktemp("inventory")
    src = ROOT / "inventories" / "lab"
    shutil.copy(src / "hosts.yml", inv / "hosts.yml")
    (inv / "group_vars" / "all").mkdir(parents=True)
    shutil.copy(src / "group_vars" / "all" / "data_model.yml", inv / "group_vars" / "all" / "data_model.yml")
    proc = subprocess.run([sys.executable, "-m", "rds_iam_lab", "inventory", "--no-hosts", str(inv)], capture_output=True,
                          text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert (inv / "group_vars" / "all" / "lab_secrets.yml").stat().st_mode & 0o077 == 0
    return inv


@pytest.fixture(scope="module")
def secrets(lab):
    return sorted(labctl_secret_values(lab))


def playbook(inventory: Path, name: str, *args: str, **extra_env: str) -> tuple[subprocess.CompletedProcess, dict]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(extra_env)
    env.update(PATH=f"{Path(sys.executable).parent}:{env.get('PATH', '')}", ANSIBLE_COLLECTIONS_PATH=str(VIEW),
               ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0", ANSIBLE_RETRY_FILES_ENABLED="0",
               ANSIBLE_LOCAL_TEMP=str(inventory / ".ansible-tmp"))
    proc = subprocess.run(["ansible-playbook", "-i", str(inventory), str(ROOT / "playbooks" / name), *args],
                          cwd=str(ROOT), env=env, capture_output=True, text=True, check=False)
    recap = {m.group(1): {"ok": int(m.group(2)), "changed": int(m.group(3)), "unreachable": int(m.group(4)),
                          "failed": int(m.group(5))} for m in RECAP.finditer(proc.stdout)}
    return proc, recap


def ok(proc: subprocess.CompletedProcess) -> bool:
    return proc.returncode == 0


def tail(proc: subprocess.CompletedProcess) -> str:
    return (proc.stdout[-4000:] + proc.stderr[-2000:]).strip()


def changed(recap: dict) -> int:
    return sum(r["changed"] for r in recap.values())


def report(path: Path) -> dict:
    rows = json.loads(path.read_text())
    return {(r["host"], r["database"], r["user"]): r for r in rows}


def assert_no_leak(proc: subprocess.CompletedProcess, secrets: list) -> None:
    """No secret value and no part of a token in what a (-vvv) run printed."""
    output = proc.stdout + proc.stderr
    leaked = [s for s in secrets if s in output]
    assert not leaked, f"{len(leaked)} secret value(s) in the -vvv output"
    markers = [m for m in TOKEN_MARKERS if m in output]
    assert not markers, f"token parts in the -vvv output: {markers}"


def assert_rds_rows(rows: dict) -> None:
    """The verify table of the lab's data model: granted logins work over TLS, noaccess-1 gets policy_denied."""
    # 11 logins to the databases, and app_user through the lab's RDS Proxy from app-1 and app-2
    assert len(rows) == 13
    assert {key for key in rows if "via lab-proxy" in key[1]} == {
        (host, "lab-postgres via lab-proxy", "app_user") for host in ("app-1", "app-2")}
    for key, row in rows.items():
        if key[0] == "noaccess-1":
            assert not row["connected"] and row["diagnosis"] == "policy_denied", row
        else:
            assert row["connected"] and row["current_user"] == key[2] and row["tls_version"].startswith("TLS"), row


def client_logins(lab: dict, host_dir: Path) -> dict:
    """Log in as app_user with the mysql and psql clients and the files the client role wrote for app-1."""
    import boto3  # pylint: disable=import-outside-toplevel
    import botocore.session  # pylint: disable=import-outside-toplevel

    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    core = botocore.session.Session()
    core.set_config_variable("config_file", lab["aws_config_file"])
    core.set_config_variable("credentials_file", lab["aws_shared_credentials_file"])
    core.set_config_variable("profile", "lab-app-role")
    rds = boto3.Session(botocore_session=core).client("rds", region_name=lab["region"])
    ports = {db["id"]: db["port"] for db in lab["databases"]}
    my_token = rds.generate_db_auth_token("127.0.0.1", ports["lab-mysql"], "app_user")
    pg_token = rds.generate_db_auth_token("127.0.0.1", ports["lab-postgres"], "app_user")
    client = shutil.which("mariadb") or shutil.which("mysql")
    assert client and shutil.which("psql"), "the lab's Debian packages bring the mysql/mariadb and psql clients"
    mysql = subprocess.run([client, f"--defaults-extra-file={host_dir / 'my.cnf'}", "-h", "127.0.0.1", "-P",
                            str(ports["lab-mysql"]), "-u", "app_user", "-N", "-B", "-e",
                            "SELECT CURRENT_USER(), VARIABLE_VALUE FROM information_schema.SESSION_STATUS "
                            "WHERE VARIABLE_NAME = 'Ssl_version'"],
                           env=dict(env, MYSQL_PWD=my_token), capture_output=True, text=True, check=False)
    psql = subprocess.run(["psql", "service=lab-postgres user=app_user", "-Atc",
                           "SELECT current_user, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()"],
                          env=dict(env, PGSERVICEFILE=str(host_dir / "pg_service.conf"), PGPASSWORD=pg_token),
                          capture_output=True, text=True, check=False)
    assert mysql.returncode == 0, mysql.stderr.replace(my_token, "<token>")
    assert psql.returncode == 0, psql.stderr.replace(pg_token, "<token>")
    return {"mysql": mysql.stdout.strip().splitlines()[-1].replace("\t", " "),
            "postgres": psql.stdout.strip().splitlines()[-1].replace("|", " ")}


def host_dirs(lab: dict) -> dict:
    """Each target host's own folder (client files): ~/rds-iam of its account, or a folder of the lab's state."""
    return {h["name"]: Path(h["files_dir"]) for h in lab["hosts"]}


def test_targets_are_hosts_with_instance_profiles(lab, inventory):
    """Each target runs as its own account over SSH (root) and gets its identity from its metadata endpoint."""
    hosts = {h["name"]: h for h in lab["hosts"]}
    assert sorted(hosts) == ["app-1", "app-2", "noaccess-1", "report-1"]
    expect_ssh = os.geteuid() == 0 and os.environ.get("LAB_HOSTS", "").lower() != "local"
    proc = subprocess.run(["ansible", "-i", str(inventory), "rds_iam_targets", "-o", "-m", "ansible.builtin.command",
                           "-a", "id -un"], cwd=str(ROOT), capture_output=True, text=True, check=False,
                          env=dict({k: v for k, v in os.environ.items() if not k.startswith("AWS_")},
                                   PATH=f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}",
                                   ANSIBLE_COLLECTIONS_PATH=str(VIEW), ANSIBLE_NOCOLOR="1"))
    assert proc.returncode == 0, tail(proc)
    for name, entry in hosts.items():
        assert entry["connection"] == ("ssh" if expect_ssh else "local")
        line = next(l for l in proc.stdout.splitlines() if l.startswith(name + " "))
        if expect_ssh:
            assert line.rstrip().endswith("(stdout) " + entry["user"]), line
        assert entry["role"] == entry["principal"] and entry["instance_id"].startswith("i-")


def test_site_flow(lab, inventory, secrets, tmp_path):
    # Fresh state: nothing granted, no users, IAM authentication off.
    proc, _recap = playbook(inventory, "revoke.yml")
    assert ok(proc), tail(proc)
    proc, _recap = playbook(inventory, "enable.yml", "-e", "enable_state=disabled")
    assert ok(proc), tail(proc)
    for folder in host_dirs(lab).values():
        shutil.rmtree(folder, ignore_errors=True)
    fresh = snapshot.snapshot(lab)
    assert not any(fresh["aws"]["iam_auth"].values())

    # 1. Check mode: reports changes, writes nothing (AWS, catalogs, target files).
    proc, recap = playbook(inventory, "site.yml", "--check")
    assert ok(proc), tail(proc)
    assert changed(recap) > 0
    assert snapshot.snapshot(lab) == fresh
    assert not [f for f in host_dirs(lab).values() if f.exists()]

    # 2. Real run at -vvv: no secret, no token in anything printed.
    proc, recap = playbook(inventory, "site.yml", "-vvv")
    assert ok(proc), tail(proc)
    assert changed(recap) > 0
    assert_no_leak(proc, secrets)
    after = snapshot.snapshot(lab)
    assert all(after["aws"]["iam_auth"].values())
    prefix = f"arn:aws:iam::{lab['account_id']}:policy/dbauth-rds-iam/rds-iam-connect-"
    assert after["aws"]["roles"]["lab-app-role"]["policies"] == [prefix + "lab-app-role"]
    assert after["aws"]["roles"]["lab-report-role"]["policies"] == [prefix + "lab-report-role"]
    assert after["aws"]["roles"]["lab-noaccess-role"]["policies"] == []
    mysql = after["catalogs"]["lab-mysql"]
    assert mysql["app_user@%"]["plugin"] == "AWSAuthenticationPlugin" and mysql["app_user@%"]["ssl_type"] == "ANY"
    assert "GRANT SELECT ON `labdb`.* TO `report_user`@`%`" in mysql["report_user@%"]["grants"]
    pg_app = after["catalogs"]["lab-postgres"]["app_user"]
    assert pg_app["member_of"] == ["pg_read_all_data", "pg_write_all_data", "rds_iam"]
    assert after["catalogs"]["lab-aurora"]["report_user"]["member_of"] == ["pg_read_all_data", "rds_iam"]
    app_1 = host_dirs(lab)["app-1"]
    assert (app_1 / "rds-ca-bundle.pem").read_bytes() == Path(lab["ca_cert"]).read_bytes()
    app_1_host = next(h for h in lab["hosts"] if h["name"] == "app-1")
    if app_1_host["connection"] == "ssh":  # written by the host's own account
        assert (app_1 / "rds-ca-bundle.pem").stat().st_uid == pwd.getpwnam(app_1_host["user"]).pw_uid

    # 3. Check mode again: nothing to change, nothing written.
    proc, recap = playbook(inventory, "site.yml", "--check")
    assert ok(proc), tail(proc)
    assert changed(recap) == 0, tail(proc)
    assert snapshot.snapshot(lab) == after

    # The hosts signed with their instance profiles' sessions (named after their instances), nothing else.
    instances = {h["instance_id"] for h in lab["hosts"]}
    # (the lab's RDS Proxy logs in to lab-postgres with its own role's session: end-to-end IAM, docs/rds_proxy.md)
    accepts = [a for a in labctl_control({"cmd": "accepts", "limit": 50}) if "/lab-proxy-role/" not in a["principal_arn"]]
    assert accepts and all(a["principal_arn"].rsplit("/", 1)[-1] in instances for a in accepts[-9:]), accepts[-9:]

    # 4. Re-run: changed=0 everywhere; the verify table as expected.
    rows_file = tmp_path / "verify.json"
    proc, recap = playbook(inventory, "site.yml", "-e", f"rds_iam_verify_report={rows_file}")
    assert ok(proc), tail(proc)
    assert recap and changed(recap) == 0, tail(proc)
    assert_rds_rows(report(rows_file))

    # The client role's settings: the mysql/psql command line clients log in with a token over verified TLS.
    for engine, line in client_logins(lab, host_dirs(lab)["app-1"]).items():
        assert line.split() in (["app_user", "TLSv1.3"], ["app_user@%", "TLSv1.3"]), (engine, line)

    # 5. Revoke: policies and users gone, nothing else touched; every host is refused now.
    proc, recap = playbook(inventory, "revoke.yml")
    assert ok(proc), tail(proc)
    assert changed(recap) > 0
    revoked = snapshot.snapshot(lab)
    assert revoked["aws"]["iam_auth"] == after["aws"]["iam_auth"]
    assert {k: v["policies"] for k, v in revoked["aws"]["roles"].items()} == {
        k: [] if k.startswith("lab-") and k.endswith("-role") else v["policies"]
        for k, v in after["aws"]["roles"].items()}
    assert not [a for a in revoked["aws"]["policies"] if "rds-iam-connect-" in a]
    assert revoked["catalogs"] == fresh["catalogs"]
    proc, _recap = playbook(inventory, "verify.yml", "-e", "rds_iam_verify_strict=false",
                            "-e", f"rds_iam_verify_report={rows_file}")
    assert ok(proc), tail(proc)
    rows = report(rows_file)
    assert len(rows) == 13 and not any(r["connected"] for r in rows.values())
    proc, _recap = playbook(inventory, "verify.yml")
    assert not ok(proc), "verify.yml must fail when granted logins are refused"

    # 6. Revoke again: nothing to do.
    proc, recap = playbook(inventory, "revoke.yml")
    assert ok(proc), tail(proc)
    assert changed(recap) == 0, tail(proc)
    assert snapshot.snapshot(lab) == revoked

    # Leave IAM authentication as a fresh lab has it.
    proc, _recap = playbook(inventory, "enable.yml", "-e", "enable_state=disabled")
    assert ok(proc), tail(proc)


@pytest.mark.parametrize("playbook_name, extra, message", [
    ("enable.yml", {"rds_iam_databases": [{"db_instance_identifier": "lab-mysql", "engine": "oracle"}]},
     "engine mysql, mariadb or postgres"),
    ("enable.yml", {"rds_iam_databases": [{"db_instance_identifier": "lab-mysql", "db_cluster_identifier": "x",
                                           "engine": "mysql"}]},
     "exactly one of db_instance_identifier (RDS instance) or db_cluster_identifier"),
    ("db_users.yml", {"rds_iam_databases": [{"db_instance_identifier": "lab-mysql", "engine": "mysql",
                                             "admin": {"user": "admin"}, "users": [{"name": "x"}]}]},
     "exactly one of password or iam true"),
    ("db_users.yml", {"rds_iam_databases": [{"db_instance_identifier": "lab-postgres", "engine": "postgres",
                                             "admin": {"user": "postgres", "iam": True},
                                             "users": [{"name": "x", "privileges": {"a.*": "SELECT"}}]}]},
     "privileges are for MySQL/MariaDB, roles for PostgreSQL"),
    ("client.yml", {"rds_iam_ca_cert": "relative/ca.pem"}, "an absolute path on the host"),
])
def test_preflight_says_what_to_fix(lab, inventory, playbook_name, extra, message):
    before = snapshot.snapshot(lab)
    proc, recap = playbook(inventory, playbook_name, "-e", json.dumps(extra))
    assert proc.returncode != 0
    assert message in " ".join(proc.stdout.split()), tail(proc)
    assert changed(recap) == 0
    assert snapshot.snapshot(lab) == before


# The modules the roles of site.yml run on the controller with the AWS options of the play.
CONTROLLER_AWS_MODULES = {"amazon.aws.aws_caller_info", "dbauth.rds_iam.rds_iam_info", "dbauth.rds_iam.rds_iam_enable",
                          "dbauth.rds_iam.rds_iam_grants", "dbauth.rds_iam.rds_iam_db_user"}


def test_one_module_defaults_block_reaches_every_module(lab, inventory, tmp_path):
    """The controller plays give the AWS options in one block, group/dbauth.rds_iam.rds_iam, which extends amazon.aws's
    group (meta/runtime.yml): site.yml runs with the lab's endpoint, keys and region in that block only (no AWS_*
    variable), and every amazon.aws and dbauth.rds_iam module on the controller received the endpoint and region
    (a module that did not would dial AWS, which is unreachable here)."""
    for path in sorted((ROOT / "playbooks").glob("*.yml")):
        for play in yaml.safe_load(path.read_text()):
            if "module_defaults" in play:
                assert list(play["module_defaults"]) == ["group/dbauth.rds_iam.rds_iam"], path.name
    seen_log = tmp_path / "aws_options.jsonl"
    proc, recap = playbook(inventory, "site.yml", "--check",
                           ANSIBLE_CALLBACK_PLUGINS=str(Path(__file__).resolve().parent / "callback_plugins"),
                           ANSIBLE_CALLBACKS_ENABLED="aws_options_seen", RDS_IAM_TEST_AWS_OPTIONS_LOG=str(seen_log))
    assert ok(proc), tail(proc)
    assert recap["localhost"]["failed"] == 0
    seen = [json.loads(line) for line in seen_log.read_text().splitlines()]
    controller = [e for e in seen if e["host"] == "localhost" and e["module"].startswith(("amazon.aws.", "dbauth.rds_iam."))]
    assert {e["module"] for e in controller} >= CONTROLLER_AWS_MODULES, sorted({e["module"] for e in controller})
    wrong = [e for e in controller if e["options"] != {"endpoint_url": lab["endpoint_url"], "region": lab["region"]}]
    assert not wrong, wrong
