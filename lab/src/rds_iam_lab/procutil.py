"""Small process and file helpers shared by the lab's server wrappers."""

from __future__ import annotations

import json
import os
import pwd
import signal
import stat
import socket
import subprocess
import time
from pathlib import Path


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def config_ports(cfg: dict) -> set:
    """Every port a lab config has given out: a new one must differ from all of them (they are chosen free one
    at a time and bound only when the lab starts, so the system can hand out the same free port twice)."""
    ports = {cfg.get("moto_port"), cfg.get("ldap_port"), cfg.get("ssh_port")}
    ports |= {db.get("port") for db in cfg.get("databases", [])}
    ports |= {server.get("port") for server in cfg.get("self_managed", [])}
    ports |= {host.get("imds_port") for host in cfg.get("hosts", {}).values()}
    ports |= set((cfg.get("proxy_ports") or {}).values())
    return {port for port in ports if port}


def new_port(used: set) -> int:
    """A free 127.0.0.1 port that is not in ``used`` (added to it)."""
    while True:
        candidate = free_port()
        if candidate not in used:
            used.add(candidate)
            return candidate


def port_open(port: int, host: str = "127.0.0.1", timeout: float = 0.3) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def write_private(path: Path, text: str) -> None:
    """Write a file readable by its owner only (0600)."""
    path = Path(path)
    fd = os.open(str(path), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.chmod(path, 0o600)


def write_json_private(path: Path, data) -> None:
    tmp = Path(str(path) + ".tmp")
    write_private(tmp, json.dumps(data, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)


def read_pid(pid_file: Path) -> int | None:
    try:
        text = Path(pid_file).read_text().strip()
        return int(text.split()[0]) if text else None
    except (OSError, ValueError):
        return None


def pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie child counts as gone
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().split(") ")[-1][:1] != "Z"
    except OSError:
        return True


def stop_pid(pid: int | None, timeout: float = 30.0, sig: int = signal.SIGTERM) -> bool:
    """Send sig to one process id (ours, from a pid file) and wait until it is gone."""
    if not pid_alive(pid):
        return True
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        return True
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            done, _status = os.waitpid(pid, os.WNOHANG)
            if done == pid:
                return True
        except ChildProcessError:
            pass
        if not pid_alive(pid):
            return True
        time.sleep(0.05)
    return False


def wait_until(predicate, timeout: float, what: str, interval: float = 0.05, log: Path | None = None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(interval)
    tail = ""
    if log and Path(log).exists():
        tail = "\n" + "\n".join(Path(log).read_text(errors="replace").splitlines()[-20:])
    raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}{tail}")


def service_user() -> tuple[int, int, str] | None:
    """The unprivileged account PostgreSQL runs as when the lab runs as root, else None."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            entry = pwd.getpwnam(name)
            return entry.pw_uid, entry.pw_gid, name
        except KeyError:
            continue
    raise RuntimeError("running as root but neither a postgres nor a nobody account exists")


def untraversable(path: Path, uid: int, gid: int) -> Path | None:
    """The first folder from / down to path (included) that the account uid/gid cannot search
    (x permission for its owner, group or others class), or None when it can reach path."""
    try:
        groups = set(os.getgrouplist(pwd.getpwuid(uid).pw_name, gid))
    except KeyError:
        groups = {gid}
    path = Path(path).resolve()
    for folder in list(reversed(path.parents)) + [path]:
        try:
            info = os.stat(folder)
        except FileNotFoundError:
            return None  # created later by us, with modes of our choosing
        if uid == 0:
            continue
        if info.st_uid == uid:
            bit = stat.S_IXUSR
        elif info.st_gid in groups:
            bit = stat.S_IXGRP
        else:
            bit = stat.S_IXOTH
        if not info.st_mode & bit:
            return folder
    return None


def chown_tree(path: Path, uid: int, gid: int) -> None:
    for root, dirs, files in os.walk(path):
        os.chown(root, uid, gid)
        for name in dirs + files:
            os.chown(os.path.join(root, name), uid, gid, follow_symlinks=False)


def run(cmd, *, user: tuple[int, int, str] | None = None, check=True, **kwargs):
    """Run a command, as the given unprivileged user when one is given."""
    if user is not None:
        cmd = ["setpriv", f"--reuid={user[0]}", f"--regid={user[1]}", "--init-groups", "--"] + list(cmd)
    kwargs.setdefault("stdout", subprocess.PIPE)
    kwargs.setdefault("stderr", subprocess.STDOUT)
    kwargs.setdefault("text", True)
    proc = subprocess.run(cmd, check=False, **kwargs)
    if check and proc.returncode != 0:
        raise RuntimeError(f"{cmd[0] if user is None else cmd[5]} failed ({proc.returncode}):\n{proc.stdout}")
    return proc


def recv_exact(sock: socket.socket, size: int) -> bytes:
    """Exactly ``size`` bytes from ``sock`` (ConnectionError when the peer closes first)."""
    chunks, got = [], 0
    while got < size:
        chunk = sock.recv(size - got)
        if not chunk:
            raise ConnectionError("peer closed")
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)
