# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""End to end: one run of playbooks/site.yml for the lab's RDS databases and two self-managed ones (issue 17).

The lab's inventory plus two databases of ``kind: self_managed`` on the lab's plain servers (sm-postgres and
sm-mariadb: no lab plugin, no lab LDAP), users mapped to lab-app-role and lab-report-role; the controller is their
database host (group rds_iam_self_managed), with the role's lab settings (start-stop-daemon, the lab's moto as STS).
The target hosts log in to them with tokens of kind sts that they sign with their own instance profiles' sessions.

Order: a clean start (nothing of the role on this machine or the plain servers; RDS as test_site_flow leaves it)
-> check mode writes nothing (out of band: files, processes, catalogs) -> the real run at -vvv (no secret, no token
in the output) -> the verify table: the mapped hosts get in through both bridges (the bridges' logs name the hosts'
sessions), noaccess-1 is refused by both, the RDS rows are those of the RDS-only flow -> a second run: changed=0
-> clean up (bridges, PAM service, server settings, users, the bridge's account; RDS revoked and IAM auth off).

Needs root: the role makes a system account and writes /etc/pam.d, as on a database host. Run: make e2e.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import psycopg2
import pymysql
import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
import snapshot  # noqa: E402  pylint: disable=wrong-import-position
from test_site_flow import (  # noqa: E402,F401  pylint: disable=wrong-import-position,unused-import
    TOKEN_MARKERS, assert_no_leak, assert_rds_rows, changed, host_dirs, inventory, lab, ok, playbook, report, secrets,
    tail)

# Names of this test's own: the integration target role_self_managed uses sm-postgres, sm-mariadb and the role's
# default account, and both may be on this machine at once (the PAM service and the account are machine-wide).
PG_NAME, MY_NAME = "site-sm-postgres", "site-sm-mariadb"
BRIDGE_ACCOUNT = "dbauth-site-bridge"
PAM_SERVICE = Path("/etc/pam.d") / ("dbauth-iam-" + MY_NAME)
HBA_MARKER = "# {mark} dbauth.rds_iam self_managed: IAM users (dbauth_iam) checked by dbauth-iam-bridge"
MARIADB_SETTINGS = "90-dbauth-iam-bridge.cnf"
# auth_pam runs PAM in this setuid helper, a process per login. Without it (a stripped image, as the lab's machine may
# be) auth_pam_v1 runs PAM in the server's threads, and pam_python is not thread-safe: two IAM logins at once crash
# MariaDB (signal 11 in pam_python.so, docs/self_managed.md). Then the plays run one host at a time (forks 1).
PAM_TOOL = Path("/usr/lib/mysql/plugin/auth_pam_tool_dir/auth_pam_tool")
PG_USERS, MY_USERS = ("sm_app", "sm_report"), ("sm_app",)
# Which target host may log in where (the principals of the users below); noaccess-1 tries and must be refused.
MAPPED = {("app-1", PG_NAME, "sm_app"), ("app-2", PG_NAME, "sm_app"), ("report-1", PG_NAME, "sm_report"),
          ("app-1", MY_NAME, "sm_app"), ("app-2", MY_NAME, "sm_app")}
REFUSED = {("noaccess-1", PG_NAME, "sm_app"), ("noaccess-1", MY_NAME, "sm_app")}


@pytest.fixture(scope="module")
def root():
    if os.geteuid() != 0:
        pytest.fail("test_self_managed_site needs root: the self_managed role makes the bridge's system account and "
                    "writes /etc/pam.d, as on a database host (make e2e as root; make test runs as root in CI)")


@pytest.fixture(scope="module")
def servers(lab):
    return {s["id"]: s for s in lab["self_managed"]}


@pytest.fixture(scope="module")
def bridge_dir(lab):
    return Path(lab["state_dir"]) / "site-self-managed-bridge"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def sm_inventory(root, inventory, servers, bridge_dir):
    """The lab's inventory with the two self-managed databases added to its data model, the controller as their
    database host, and noaccess-1 trying to log in to both."""
    hosts_file = inventory / "hosts.yml"
    hosts = yaml.safe_load(hosts_file.read_text())
    hosts["all"]["children"]["rds_iam_self_managed"] = {"hosts": {"localhost": None}}
    noaccess = hosts["all"]["children"]["rds_iam_targets"]["hosts"]["noaccess-1"]
    noaccess["rds_iam_host_logins"] += [{"database": PG_NAME, "user": "sm_app"}, {"database": MY_NAME, "user": "sm_app"}]
    hosts_file.write_text(yaml.safe_dump(hosts, sort_keys=False))

    model_file = inventory / "group_vars" / "all" / "data_model.yml"
    model = yaml.safe_load(model_file.read_text())

    def admin(ident):
        return {"user": "{{ lab_self_managed['%s'].admin_user }}" % ident,
                "password": "{{ lab_admin_passwords['%s'] }}" % ident}

    model["rds_iam_databases"] += [
        {"kind": "self_managed", "name": PG_NAME, "engine": "postgres", "host": "127.0.0.1",
         "port": servers["sm-postgres"]["port"], "db_name": "labdb", "admin": admin("sm-postgres"),
         "users": [{"name": "sm_app", "principals": ["lab-app-role"]},
                   {"name": "sm_report", "principals": ["lab-report-role"]}]},
        {"kind": "self_managed", "name": MY_NAME, "engine": "mariadb", "host": "127.0.0.1",
         "port": servers["sm-mariadb"]["port"], "db_name": "labdb", "admin": admin("sm-mariadb"),
         "users": [{"name": "sm_app", "privileges": {"labdb.*": "SELECT"}, "principals": ["lab-app-role"]}]},
    ]
    model_file.write_text(yaml.safe_dump(model, sort_keys=False))

    # The role's settings for the lab (as tests/integration/targets/role_self_managed/vars.yml has them): no systemd
    # as PID 1, the bridge's files in the lab's state folder, the lab's moto as STS, the plain servers' own commands.
    settings = {
        "self_managed_service_manager": "start-stop-daemon",
        "self_managed_bridge_user": BRIDGE_ACCOUNT,
        "self_managed_bridge_group": BRIDGE_ACCOUNT,
        "self_managed_install_dir": str(bridge_dir / "opt"),
        "self_managed_config_dir": str(bridge_dir / "etc"),
        "self_managed_run_dir": str(bridge_dir / "run"),
        "self_managed_log_dir": str(bridge_dir / "log"),
        "self_managed_python": "{{ ansible_playbook_python if ansible_playbook_python.startswith('/usr/') "
                               "else '/usr/bin/python3' }}",
        "self_managed_sts_endpoints": "{{ {lab_region: lab_endpoint_url} }}",
        "self_managed_servers": {
            PG_NAME: {"hba_file": "{{ lab_self_managed['sm-postgres'].hba_file }}", "ldap_port": free_port(),
                      "reload_command": "{{ lab_self_managed['sm-postgres'].restart_command }}"},
            MY_NAME: {"conf_dir": "{{ lab_self_managed['sm-mariadb'].conf_dir }}",
                      "restart_command": "{{ lab_self_managed['sm-mariadb'].restart_command }}",
                      # auth_pam runs PAM in its setuid helper; without it, auth_pam_v1 runs PAM in the server
                      "pam_plugin": "auth_pam" if os.access(PAM_TOOL, os.X_OK) else "auth_pam_v1"},
        },
    }
    group_dir = inventory / "group_vars" / "rds_iam_self_managed"
    group_dir.mkdir(parents=True, exist_ok=True)
    (group_dir / "self_managed.yml").write_text(yaml.safe_dump(settings, sort_keys=False))
    return inventory


# ------------------------------------------------------------------------------------------- out of band
def pg_admin(server: dict, ca_cert: str):
    return psycopg2.connect(host=server["host"], port=server["port"], user=server["admin_user"],
                            password=server["admin_password"], dbname="postgres", sslmode="verify-full",
                            sslrootcert=ca_cert, connect_timeout=10)


def my_admin(server: dict, ca_cert: str):
    return pymysql.connect(host=server["host"], port=int(server["port"]), user=server["admin_user"],
                           password=server["admin_password"], ssl_ca=ca_cert, ssl_verify_cert=True,
                           ssl_verify_identity=True, connect_timeout=10)


def bridge_pids(bridge_dir: Path) -> dict:
    """The bridges' pid files whose process runs."""
    running = {}
    for name in (PG_NAME, MY_NAME):
        pidfile = bridge_dir / "run" / f"{name}.pid"
        status = subprocess.run(["start-stop-daemon", "--status", "--pidfile", str(pidfile)], check=False)
        if status.returncode == 0:
            running[name] = pidfile.read_text().strip()
    return running


def self_managed_state(lab: dict, servers: dict, bridge_dir: Path) -> dict:
    """What the self_managed role may have put on this machine and the plain servers, read without Ansible."""
    pg, my = servers["sm-postgres"], servers["sm-mariadb"]
    conn = pg_admin(pg, lab["ca_cert"])
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT r.rolname, r.rolcanlogin, array(SELECT g.rolname FROM pg_auth_members m "
                        "JOIN pg_roles g ON g.oid = m.roleid WHERE m.member = r.oid ORDER BY 1) FROM pg_roles r "
                        "WHERE r.rolname = ANY(%s) ORDER BY 1", (list(PG_USERS) + ["dbauth_iam"],))
            pg_roles = {name: {"login": login, "member_of": list(groups)} for name, login, groups in cur.fetchall()}
    finally:
        conn.close()
    conn = my_admin(my, lab["ca_cert"])
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT User, JSON_VALUE(Priv, '$.plugin'), JSON_VALUE(Priv, '$.authentication_string'), "
                        "JSON_VALUE(Priv, '$.ssl_type') FROM mysql.global_priv WHERE User IN %s ORDER BY User",
                        (list(MY_USERS),))
            my_users = {user: {"plugin": plugin, "pam_service": service, "ssl_type": ssl}
                        for user, plugin, service, ssl in cur.fetchall()}
    finally:
        conn.close()
    hba = Path(pg["hba_file"]).read_text()
    return {
        "files": sorted(str(p.relative_to(bridge_dir)) for p in bridge_dir.rglob("*") if p.is_file())
        if bridge_dir.exists() else [],
        "pam_service": PAM_SERVICE.exists(),
        "mariadb_settings": (Path(my["conf_dir"]) / MARIADB_SETTINGS).exists(),
        "hba_lines": [line for line in hba.splitlines() if "dbauth_iam" in line and not line.startswith("#")],
        # with their pids: a run that changes nothing restarts no bridge
        "bridges": bridge_pids(bridge_dir),
        "account": subprocess.run(["getent", "passwd", BRIDGE_ACCOUNT], capture_output=True, check=False).returncode == 0,
        "pg_roles": pg_roles,
        "my_users": my_users,
    }


NOTHING = {"files": [], "pam_service": False, "mariadb_settings": False, "hba_lines": [], "bridges": {},
           "account": False, "pg_roles": {}, "my_users": {}}


def remove_hba_block(hba_file: Path) -> bool:
    begin, end = HBA_MARKER.format(mark="BEGIN"), HBA_MARKER.format(mark="END")
    lines = hba_file.read_text().splitlines(keepends=True)
    if not any(line.rstrip("\n") == begin for line in lines):
        return False
    start = next(i for i, line in enumerate(lines) if line.rstrip("\n") == begin)
    stop = next(i for i, line in enumerate(lines) if line.rstrip("\n") == end)
    hba_file.write_text("".join(lines[:start] + lines[stop + 1:]))
    return True


def clean_self_managed(lab: dict, servers: dict, bridge_dir: Path) -> None:
    """Take away everything the role put here (the bridges, the PAM service, the servers' settings, the users, the
    bridge's files and account), out of band, so that the lab's plain servers are as the lab made them."""
    pg, my = servers["sm-postgres"], servers["sm-mariadb"]
    for name in (PG_NAME, MY_NAME):
        subprocess.run(["start-stop-daemon", "--stop", "--pidfile", str(bridge_dir / "run" / f"{name}.pid"),
                        "--retry", "TERM/10/KILL/5", "--remove-pidfile", "--oknodo"], capture_output=True, check=True)
    PAM_SERVICE.unlink(missing_ok=True)
    if remove_hba_block(Path(pg["hba_file"])):
        subprocess.run(pg["restart_command"], capture_output=True, check=True)
    settings = Path(my["conf_dir"]) / MARIADB_SETTINGS
    if settings.exists():
        settings.unlink()
        subprocess.run(my["restart_command"], capture_output=True, check=True)
    conn = pg_admin(pg, lab["ca_cert"])
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute("DROP ROLE IF EXISTS %s" % ", ".join(list(PG_USERS) + ["dbauth_iam"]))
    finally:
        conn.close()
    conn = my_admin(my, lab["ca_cert"])
    try:
        with conn.cursor() as cur:
            for user in MY_USERS:
                cur.execute("DROP USER IF EXISTS %s@'%%'", (user,))
    finally:
        conn.close()
    shutil.rmtree(bridge_dir, ignore_errors=True)
    if subprocess.run(["getent", "passwd", BRIDGE_ACCOUNT], capture_output=True, check=False).returncode == 0:
        subprocess.run(["userdel", BRIDGE_ACCOUNT], capture_output=True, check=True)
    if subprocess.run(["getent", "group", BRIDGE_ACCOUNT], capture_output=True, check=False).returncode == 0:
        subprocess.run(["groupdel", BRIDGE_ACCOUNT], capture_output=True, check=True)


def rds_fresh(inventory: Path) -> None:
    """RDS as a fresh lab has it (and test_site_flow leaves it): nothing granted, no users, IAM auth off."""
    for args in (("revoke.yml",), ("enable.yml", "-e", "enable_state=disabled")):
        proc, _recap = playbook(inventory, *args)
        assert ok(proc), tail(proc)


def site(inventory: Path, *args: str):
    """site.yml; one host at a time when MariaDB runs PAM in its own threads (auth_pam_v1, see PAM_TOOL)."""
    return playbook(inventory, "site.yml", *args, **({} if os.access(PAM_TOOL, os.X_OK) else {"ANSIBLE_FORKS": "1"}))


def decisions(bridge_dir: Path, name: str) -> list:
    """The login decisions in a bridge's log (its other lines: start, listening)."""
    log = bridge_dir / "log" / f"{name}.log"
    entries = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    return [e for e in entries if "reason" in e]


# ------------------------------------------------------------------------------------------------ the test
def test_site_with_self_managed_databases(root, lab, sm_inventory, servers, bridge_dir, secrets, tmp_path):
    try:
        clean_self_managed(lab, servers, bridge_dir)
        rds_fresh(sm_inventory)
        for folder in host_dirs(lab).values():
            shutil.rmtree(folder, ignore_errors=True)
        assert self_managed_state(lab, servers, bridge_dir) == NOTHING
        fresh = snapshot.snapshot(lab)

        # 1. Check mode: changes reported, nothing written (RDS, catalogs, this machine, the plain servers).
        proc, recap = site(sm_inventory, "--check")
        assert ok(proc), tail(proc)
        assert changed(recap) > 0
        assert self_managed_state(lab, servers, bridge_dir) == NOTHING
        assert snapshot.snapshot(lab) == fresh

        # 2. The real run at -vvv: both kinds in one run, no secret and no token in anything printed.
        rows_file = tmp_path / "verify.json"
        proc, recap = site(sm_inventory, "-vvv", "-e", f"rds_iam_verify_report={rows_file}")
        assert ok(proc), tail(proc)
        assert changed(recap) > 0
        assert_no_leak(proc, secrets)
        state = self_managed_state(lab, servers, bridge_dir)
        assert sorted(state["bridges"]) == [MY_NAME, PG_NAME]
        assert state["pam_service"] and state["mariadb_settings"]
        assert state["account"] and {f"etc/{PG_NAME}.json", f"etc/{MY_NAME}.json"} <= set(state["files"])
        assert [line.split()[0] for line in state["hba_lines"]] == ["hostnossl", "hostssl"]
        assert state["pg_roles"] == {"dbauth_iam": {"login": False, "member_of": []},
                                     "sm_app": {"login": True, "member_of": ["dbauth_iam"]},
                                     "sm_report": {"login": True, "member_of": ["dbauth_iam"]}}
        # REQUIRE SSL: mysql.global_priv keeps ssl_type as a number, 1 for ANY
        assert state["my_users"] == {"sm_app": {"plugin": "pam", "pam_service": PAM_SERVICE.name, "ssl_type": "1"}}

        # The verify table: the RDS rows of the RDS-only flow, and the self-managed rows as the data model maps them.
        rows = report(rows_file)
        sm_rows = {key: row for key, row in rows.items() if key[1] in (PG_NAME, MY_NAME)}
        rds_rows = {key: row for key, row in rows.items() if key not in sm_rows}
        assert set(sm_rows) == MAPPED | REFUSED, sorted(sm_rows)
        for key in MAPPED:
            row = sm_rows[key]
            assert row["connected"] and row["current_user"].split("@")[0] == key[2], row
            assert row["tls_version"].startswith("TLS"), row
        for key in REFUSED:
            assert not sm_rows[key]["connected"] and not sm_rows[key]["granted"], sm_rows[key]
        assert_rds_rows(rds_rows)

        # The bridges' own account of it: the hosts signed with their instance profiles' sessions (named after their
        # instances), noaccess-1's role is in no mapping; no token in the bridges' logs.
        sessions = {h["name"]: f"arn:aws:sts::{lab['account_id']}:assumed-role/{h['principal']}/{h['instance_id']}"
                    for h in lab["hosts"]}
        for name in (PG_NAME, MY_NAME):
            entries = decisions(bridge_dir, name)
            allowed = {(e["user"], e["caller_arn"]) for e in entries if e["reason"] == "ok"}
            assert allowed == {(user, sessions[host]) for host, db, user in MAPPED if db == name}, entries
            refused = {e["caller_arn"] for e in entries if e["reason"] == "unmapped_principal"}
            assert refused == {sessions["noaccess-1"]}, entries
            log_text = (bridge_dir / "log" / f"{name}.log").read_text()
            assert not [m for m in TOKEN_MARKERS if m in log_text]

        # 3. A second run: nothing to change, the same logins.
        proc, recap = site(sm_inventory, "-e", f"rds_iam_verify_report={rows_file}")
        assert ok(proc), tail(proc)
        assert recap and changed(recap) == 0, tail(proc)
        again = report(rows_file)
        assert {k: r["connected"] for k, r in again.items()} == {k: r["connected"] for k, r in rows.items()}
        assert self_managed_state(lab, servers, bridge_dir) == state
    finally:
        # 4. The lab as the other suites expect it.
        clean_self_managed(lab, servers, bridge_dir)
        rds_fresh(sm_inventory)
    assert self_managed_state(lab, servers, bridge_dir) == NOTHING
