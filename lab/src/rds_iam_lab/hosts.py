"""The lab's target hosts: unprivileged Unix accounts reached over SSH on loopback.

Each host of the lab inventory (app-1, app-2, report-1, noaccess-1) is an account of its own,
``rdsiamlab-<host>`` (the prefix says that it belongs to the lab), reached with ``ssh`` on an ``sshd`` that
the lab runs itself:

* ``STATE/ssh/sshd_config``: ``ListenAddress 127.0.0.1``, the port kept in ``config.json``, the lab's own
  host key (``STATE/ssh/ssh_host_ed25519_key``) and pid file, ``PermitRootLogin no``, public keys only
  (``PasswordAuthentication no``, ``KbdInteractiveAuthentication no``, ``UsePAM no``), ``AllowUsers`` = the
  lab's accounts, no forwarding, ``internal-sftp`` for Ansible's file transfers. The machine's own sshd and
  ``/etc/ssh`` are not used nor changed (``/run/sshd``, sshd's privilege separation directory, is created
  when missing).
* ``STATE/ssh/id_ed25519``: the key the controller logs in with (0600); its public half is each account's
  ``~/.ssh/authorized_keys``. ``STATE/ssh/known_hosts`` pins the lab's host key for
  ``StrictHostKeyChecking=yes``.
* Accounts: ``useradd --create-home --user-group --shell /bin/sh --password '*'`` (no password that could
  ever match: ``*`` is not a hash; not ``!``, which sshd without PAM reads as a locked account). They are
  made once and kept: ``rds-iam-lab down`` leaves them (``up`` reuses them). Several labs of one machine (state
  folders) share them, each with its own key line (comment ``rds-iam-lab:STATE``); ``rds-iam-lab down --purge``
  takes this lab's line out and removes an account that no lab uses any more, with its home
  (``userdel --remove``), and only accounts with the lab's prefix and comment.

This needs root (useradd, sshd). Otherwise, or with ``LAB_HOSTS=local``, the hosts fall back to local
connections on the controller (``mode: local``); each still has its own metadata endpoint (:mod:`rds_iam_lab.imds`)
and its own folder in ``STATE/hosts/<host>``.
"""

from __future__ import annotations

import hashlib
import json
import os
import pwd
import shutil
import subprocess
import time
from pathlib import Path

from rds_iam_lab import procutil

#: host -> the role whose instance profile the host's EC2 instance has (lab-noaccess-role: granted nothing)
HOSTS = {
    "app-1": "lab-app-role",
    "app-2": "lab-app-role",
    "report-1": "lab-report-role",
    "noaccess-1": "lab-noaccess-role",
}
USER_PREFIX = "rdsiamlab-"
USER_COMMENT = "dbauth.rds_iam lab host"
SSHD = "/usr/sbin/sshd"
HOST_PYTHON = "/usr/bin/python3"


def unix_user(host: str) -> str:
    return USER_PREFIX + host


def want_ssh() -> tuple[bool, str]:
    """(SSH hosts possible, why not)."""
    if os.environ.get("LAB_HOSTS", "").lower() == "local":
        return False, "LAB_HOSTS=local"
    if os.geteuid() != 0:
        return False, "not root: no useradd, no sshd"
    for tool in (SSHD, shutil.which("useradd") or "/usr/sbin/useradd", shutil.which("ssh-keygen") or ""):
        if not tool or not Path(tool).exists():
            return False, f"missing {tool or 'ssh-keygen'} (Debian package openssh-server / openssh-client)"
    if not Path(HOST_PYTHON).exists():
        return False, f"missing {HOST_PYTHON}"
    return True, ""


def ensure_ports(cfg: dict) -> bool:
    """Give the config an sshd port and one metadata port per host (kept once chosen). True if changed."""
    changed = False
    used = procutil.config_ports(cfg)
    hosts = cfg.setdefault("hosts", {})

    if not cfg.get("ssh_port"):
        cfg["ssh_port"] = procutil.new_port(used)
        changed = True
    for host in HOSTS:
        entry = hosts.setdefault(host, {})
        if not entry.get("imds_port"):
            entry["imds_port"] = procutil.new_port(used)
            changed = True
    return changed


def _run(argv: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(argv, check=True, capture_output=True, text=True, **kw)


def _keys(ssh_dir: Path) -> None:
    ssh_dir.mkdir(mode=0o700, exist_ok=True)
    os.chmod(ssh_dir, 0o700)
    for name, comment in (("ssh_host_ed25519_key", "rds-iam-lab host key"), ("id_ed25519", "rds-iam-lab controller")):
        key = ssh_dir / name
        if not key.exists():
            _run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(key)])
        os.chmod(key, 0o600)


def _key_line(public_key: str, state: Path) -> str:
    """The lab's public key as an authorized_keys line whose comment names this lab (its state folder)."""
    kind, blob = public_key.split()[:2]
    return f"{kind} {blob} rds-iam-lab:{state}"


def _live_lines(lines: list[str], drop: str | None = None) -> list[str]:
    """authorized_keys lines without ``drop``'s and without those of labs whose state folder is gone."""
    kept = []
    for line in lines:
        comment = line.split()[2] if len(line.split()) > 2 else ""
        if comment == drop:
            continue
        if comment.startswith("rds-iam-lab:") and not Path(comment[len("rds-iam-lab:"):]).is_dir():
            continue  # a lab (a test's temporary one) that no longer exists
        kept.append(line)
    return kept


def files_dir_name(state: Path) -> str:
    """The host's folder for this lab's client files (CA bundle, client settings) in the account's home: one per
    lab (state folder), so that labs sharing the accounts never overwrite or remove each other's files."""
    return "rds-iam-" + hashlib.sha256(str(state).encode()).hexdigest()[:12]


def _account(host: str, key_line: str, files_dir: str) -> dict:
    user = unix_user(host)
    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        _run(["useradd", "--create-home", "--user-group", "--shell", "/bin/sh", "--password", "*",
              "--comment", f"{USER_COMMENT} {host}", user])
        entry = pwd.getpwnam(user)
    home = Path(entry.pw_dir)
    os.chmod(home, 0o750)
    ssh = home / ".ssh"
    ssh.mkdir(mode=0o700, exist_ok=True)
    auth = ssh / "authorized_keys"
    # Several labs (state folders) on one machine share the accounts: each adds its own key line.
    lines = auth.read_text().splitlines() if auth.exists() else []
    lines = _live_lines(lines, drop=key_line.split()[2]) + [key_line]
    if not auth.exists() or auth.read_text() != "\n".join(lines) + "\n":
        procutil.write_private(auth, "\n".join(lines) + "\n")
    for path in (ssh, auth):
        os.chown(path, entry.pw_uid, entry.pw_gid)
    os.chmod(ssh, 0o700)
    return {"user": user, "uid": entry.pw_uid, "home": str(home), "files_dir": str(home / files_dir)}


def sshd_config(state: Path, port: int, users: list[str]) -> str:
    ssh = state / "ssh"
    return "\n".join([
        "# written by rds-iam-lab up (dbauth.rds_iam lab): the lab's own sshd, loopback only",
        f"Port {port}",
        "ListenAddress 127.0.0.1",
        f"HostKey {ssh / 'ssh_host_ed25519_key'}",
        f"PidFile {ssh / 'sshd.pid'}",
        "PermitRootLogin no",
        "PubkeyAuthentication yes",
        "AuthenticationMethods publickey",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "PermitEmptyPasswords no",
        "HostbasedAuthentication no",
        "UsePAM no",
        "StrictModes yes",
        "AuthorizedKeysFile .ssh/authorized_keys",
        f"AllowUsers {' '.join(users)}",
        "AllowTcpForwarding no",
        "AllowAgentForwarding no",
        "X11Forwarding no",
        "PermitTunnel no",
        "PermitUserEnvironment no",
        "PrintMotd no",
        "MaxStartups 40:30:80",
        "MaxSessions 20",
        "LogLevel INFO",
        "Subsystem sftp internal-sftp",
        "",
    ])


def sshd_pid(state: Path) -> int | None:
    pid = procutil.read_pid(state / "ssh" / "sshd.pid")
    return pid if procutil.pid_alive(pid) else None


def up(state: Path, cfg: dict) -> dict:
    """Accounts, keys and the lab's sshd (root), or the local fallback. Writes and returns STATE/hosts.json."""
    ok, why = want_ssh()
    hosts: dict[str, dict] = {}
    info = {"mode": "ssh" if ok else "local", "why_local": why, "hosts": hosts}
    if ok:
        ssh = state / "ssh"
        _keys(ssh)
        key_line = _key_line((ssh / "id_ed25519.pub").read_text(), state)
        host_key = (ssh / "ssh_host_ed25519_key.pub").read_text().split()
        for host in HOSTS:
            hosts[host] = _account(host, key_line, files_dir_name(state))
        port = int(cfg["ssh_port"])
        procutil.write_private(ssh / "known_hosts", f"[127.0.0.1]:{port} {host_key[0]} {host_key[1]}\n")
        conf = ssh / "sshd_config"
        procutil.write_private(conf, sshd_config(state, port, [h["user"] for h in hosts.values()]))
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privilege separation directory
        _run([SSHD, "-t", "-f", str(conf)])
        if sshd_pid(state) is None:
            _run([SSHD, "-f", str(conf), "-E", str(ssh / "sshd.log")])
        procutil.wait_until(lambda: procutil.port_open(port), 15, "the lab's sshd", interval=0.1,
                            log=ssh / "sshd.log")
        info.update(ssh_port=port, ssh_private_key=str(ssh / "id_ed25519"), known_hosts=str(ssh / "known_hosts"),
                    python=HOST_PYTHON)
    else:
        for host in HOSTS:
            files = state / "hosts" / host
            hosts[host] = {"user": None, "home": None, "files_dir": str(files)}
    for host, principal in HOSTS.items():
        hosts[host].update(principal=principal, instance_profile=principal,
                           imds_port=int(cfg["hosts"][host]["imds_port"]))
    procutil.write_json_private(state / "hosts.json", info)
    return info


def down(state: Path, purge: bool = False) -> bool:
    """Stop the lab's sshd; with purge also remove the lab's accounts (and their homes) and the keys."""
    ok = True
    pid = sshd_pid(state)
    if pid and not procutil.stop_pid(pid, 15):
        ok = False
    deadline = time.monotonic() + 5
    while pid and procutil.pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if purge:
        ok = purge_accounts(state) and ok
        shutil.rmtree(state / "ssh", ignore_errors=True)
        try:
            (state / "hosts.json").unlink()
        except FileNotFoundError:
            pass
    return ok


def purge_accounts(state: Path) -> bool:
    """Take this lab's key out of each account; remove an account (with its home) that no lab uses any more."""
    if os.geteuid() != 0:
        return True
    ok = True
    mark = f"rds-iam-lab:{state}"
    for host in HOSTS:
        user = unix_user(host)
        try:
            entry = pwd.getpwnam(user)
        except KeyError:
            continue
        if not entry.pw_gecos.startswith(USER_COMMENT):
            ok = False  # not made by the lab: leave it alone
            continue
        auth = Path(entry.pw_dir) / ".ssh" / "authorized_keys"
        lines = auth.read_text().splitlines() if auth.exists() else []
        others = _live_lines(lines, drop=mark)
        if others:  # another lab of this machine still uses the account
            procutil.write_private(auth, "\n".join(others) + "\n")
            os.chown(auth, entry.pw_uid, entry.pw_gid)
            continue
        if subprocess.run(["userdel", "--remove", user], check=False, capture_output=True).returncode not in (0, 12):
            ok = False
    return ok


def read_info(state: Path) -> dict:
    try:
        return json.loads((state / "hosts.json").read_text())
    except (OSError, ValueError):
        return {}
