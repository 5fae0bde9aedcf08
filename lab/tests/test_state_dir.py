"""Where the lab keeps its state: in the checkout for an ordinary user, outside it for root
(PostgreSQL's service account must reach the data; the checkout may sit in a 0700 folder)."""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path

from lab import labctl, procutil


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
