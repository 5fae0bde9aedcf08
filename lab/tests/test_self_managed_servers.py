"""The lab's plain servers (self_managed_servers.py): no IAM of the lab's on them, and what the lab writes leaves the
server's authentication configuration to whoever configures it (the collection's self_managed role)."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from rds_iam_lab import self_managed_servers as sms

TLS = {"ca_cert": "/tls/ca.pem", "server_cert": "/tls/server.pem", "server_key": "/tls/server.key"}


def config():
    ports = itertools.count(41000)
    passwords = (f"pw-{n}" for n in itertools.count())
    cfg = {}
    sms.ensure_config(cfg, lambda: next(ports), lambda: next(passwords))
    return cfg


def test_ports_and_passwords_are_chosen_once():
    cfg = config()
    assert [(e["id"], e["engine"]) for e in cfg["self_managed"]] == [("sm-postgres", "postgres"), ("sm-mariadb", "mariadb")]
    before = [dict(e) for e in cfg["self_managed"]]
    sms.ensure_config(cfg, lambda: pytest.fail("no new port"), lambda: pytest.fail("no new password"))
    assert cfg["self_managed"] == before
    assert len({e["port"] for e in before}) == 2 and len({e["admin_password"] for e in before}) == 2


def test_postgres_hba_has_no_lab_ldap_and_refuses_plain_tcp(tmp_path):
    pg = sms.servers(tmp_path, config(), TLS)[0]
    lines = [line.split() for line in pg._hba().splitlines() if line and not line.startswith("#")]
    assert lines == [["hostssl", "all", "all", "127.0.0.0/8", "scram-sha-256"], ["hostnossl", "all", "all", "127.0.0.0/8", "reject"]]


def test_postgres_hba_written_by_others_survives_the_labs_start(tmp_path, monkeypatch):
    pg = sms.servers(tmp_path, config(), TLS)[0]
    pg.user = None
    for name in ("server_cert", "server_key"):
        Path(tmp_path, name).write_text("x")
    pg.tls = {"ca_cert": "", "server_cert": str(tmp_path / "server_cert"), "server_key": str(tmp_path / "server_key")}
    pg.data.mkdir(parents=True)
    monkeypatch.setattr(type(pg), "initialized", lambda self: True)
    (pg.data / "pg_hba.conf").write_text("# the role's block\nhostssl all +dbauth_iam all ldap\n")
    pg.write_config()
    assert (pg.data / "pg_hba.conf").read_text() == "# the role's block\nhostssl all +dbauth_iam all ldap\n"
    assert "ssl = on" in (pg.data / "lab.conf").read_text()


def test_mariadb_loads_no_lab_plugin_and_reads_a_folder_left_to_others(tmp_path):
    maria = sms.servers(tmp_path, config(), TLS)[1]
    maria.write_config()
    cnf = maria.cnf.read_text()
    assert "plugin_load_add" not in cnf and "plugin_dir" not in cnf and "awsauthenticationplugin" not in cnf.lower()
    assert "require_secure_transport = ON" in cnf
    assert cnf.rstrip().endswith(f"!includedir {maria.conf_dir}") and maria.conf_dir.is_dir()


def test_describe_says_where_each_keeps_what(tmp_path):
    described = {d["id"]: d for d in sms.describe(tmp_path, config(), TLS)}
    assert described["sm-postgres"]["hba_file"] == str(tmp_path / "sm-postgres" / "data" / "pg_hba.conf")
    assert described["sm-mariadb"]["conf_dir"] == str(tmp_path / "sm-mariadb" / "conf.d")
    for entry in described.values():
        assert entry["restart_command"][-2:] == ["restart-server", entry["id"]]
        assert entry["restart_command"][entry["restart_command"].index("--state-dir") + 1] == str(tmp_path)


def test_restart_names_the_known_servers(tmp_path):
    with pytest.raises(ValueError, match="sm-postgres, sm-mariadb"):
        sms.restart(tmp_path, config(), TLS, "sm-other")
