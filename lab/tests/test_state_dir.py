"""Where the lab keeps its state: in the checkout for an ordinary user, outside it for root
(PostgreSQL's service account must reach the data; the checkout may sit in a 0700 folder)."""

from __future__ import annotations

import hashlib
import os
import random
import shutil
import tempfile
from pathlib import Path

from rds_iam_lab import labctl, procutil


def test_lab_state_dir_wins(monkeypatch, tmp_path):
    monkeypatch.setenv("LAB_STATE_DIR", str(tmp_path / "s"))
    for euid in (0, 1000):
        monkeypatch.setattr(os, "geteuid", lambda euid=euid: euid)
        assert labctl.state_dir() == (tmp_path / "s").resolve()


def test_ordinary_user_keeps_state_in_the_checkout(monkeypatch):
    monkeypatch.delenv("LAB_STATE_DIR", raising=False)
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    assert labctl.state_dir() == (labctl.REPO / "lab" / ".state").resolve()
    assert labctl.other_state_dirs() == []


def test_root_state_is_per_checkout_outside_it(monkeypatch, tmp_path):
    monkeypatch.delenv("LAB_STATE_DIR", raising=False)
    monkeypatch.delenv("LAB_STATE_BASE", raising=False)
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    state = labctl.state_dir()
    digest = hashlib.sha256(str(labctl.REPO).encode()).hexdigest()[:12]
    assert state.parent == Path("/var/lib/rds-iam-lab")
    assert state.name.endswith("-" + digest)
    assert labctl.REPO not in state.parents
    monkeypatch.setenv("LAB_STATE_BASE", str(tmp_path))
    assert labctl.state_dir().parent == tmp_path
    other = tmp_path / "elsewhere" / labctl.REPO.name
    monkeypatch.setattr(labctl, "REPO", other)
    assert labctl.state_dir().name != state.name  # another checkout, another folder


def test_untraversable_names_the_blocking_folder():
    nobody = (65534, 65534)  # not the owner of anything below
    base = Path(tempfile.mkdtemp(prefix="rdsiam-trav-", dir="/tmp"))  # pytest's tmp tree is 0700
    try:
        os.chmod(base, 0o711)
        private = base / "private"
        (private / "a" / "b").mkdir(parents=True)
        os.chmod(private, 0o700)
        assert procutil.untraversable(private / "a" / "b", *nobody) == private
        assert procutil.untraversable(private / "a" / "b", os.getuid(), os.getgid()) is None  # its owner
        os.chmod(private, 0o711)
        assert procutil.untraversable(private / "a" / "b", *nobody) is None
        assert procutil.untraversable(private / "not-yet", *nobody) is None
    finally:
        shutil.rmtree(base)


def test_installed_package_keeps_state_per_user(monkeypatch, tmp_path):
    """Installed from a wheel (no checkout): per user, never the current folder."""
    monkeypatch.delenv("LAB_STATE_DIR", raising=False)
    monkeypatch.delenv("LAB_STATE_BASE", raising=False)
    monkeypatch.setattr(labctl, "REPO", None)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    assert labctl.state_dir() == (tmp_path / "xdg" / "rds-iam-lab").resolve()
    monkeypatch.delenv("XDG_STATE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert labctl.state_dir() == (tmp_path / "home" / ".local" / "state" / "rds-iam-lab").resolve()
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    assert labctl.state_dir() == Path("/var/lib/rds-iam-lab/default")
    assert labctl.integration_config_path() is None  # no checkout, no ansible-test config
    assert labctl.other_state_dirs() == []


def test_state_dir_option_names_the_folder(monkeypatch, tmp_path):
    """`rds-iam-lab --state-dir DIR` is the folder the daemon and every helper use."""
    from rds_iam_lab import cli

    monkeypatch.setenv("LAB_STATE_DIR", "")  # so that monkeypatch restores what cli.main sets
    monkeypatch.chdir(tmp_path)
    assert cli.main(["--state-dir", "mine", "status"]) == 1  # nothing runs there
    assert os.environ["LAB_STATE_DIR"] == str(tmp_path / "mine")
    assert labctl.state_dir() == tmp_path / "mine"
    assert not (tmp_path / "mine").exists()  # status creates nothing


def test_this_checkout_is_found_from_the_package_path():
    assert labctl.REPO is not None and (labctl.REPO / "lab" / "pyproject.toml").is_file()
    assert labctl.PACKAGE_DIR == labctl.REPO / "lab" / "src" / "rds_iam_lab"


def test_every_port_of_a_lab_config_is_its_own(tmp_path, monkeypatch):
    """Ports are picked free one at a time and bound only at start: the system may offer the same free port again
    (here: any of 24 ports, each time), and each allocator must skip every port the config already holds."""
    offers = random.Random(7)
    monkeypatch.setattr(procutil, "free_port", lambda: offers.choice(range(30000, 30024)))
    cfg = labctl.load_or_create_config(tmp_path)
    ports = [cfg["moto_port"], cfg["ldap_port"], cfg["ssh_port"]] + [db["port"] for db in cfg["databases"]]
    ports += [s["port"] for s in cfg["self_managed"]] + [h["imds_port"] for h in cfg["hosts"].values()]
    ports += list(cfg["proxy_ports"].values())
    assert len(ports) == len(set(ports)), sorted(ports)
    assert procutil.config_ports(cfg) == set(ports)
