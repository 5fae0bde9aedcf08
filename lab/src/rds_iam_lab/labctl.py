"""What ``rds-iam-lab`` does: start, stop and describe the lab (:mod:`rds_iam_lab.cli` parses the command line).

State folder (:func:`state_dir`): ``--state-dir`` / ``$LAB_STATE_DIR`` when given. Otherwise, when the package
runs from its source tree (``lab/src/rds_iam_lab`` of a dbauth.rds_iam checkout, e.g. an editable install), the
lab belongs to that checkout: ``lab/.state`` when not root, ``/var/lib/rds-iam-lab/NAME-HASH`` when root (the
checkout may sit in a folder that PostgreSQL's service account cannot traverse; HASH is taken from the
checkout's path, so each checkout has a lab of its own). Installed from a wheel, the default is per user:
``$XDG_STATE_HOME/rds-iam-lab`` (``~/.local/state/rds-iam-lab``), and ``/var/lib/rds-iam-lab/default`` for root.

* ``up``: install missing Debian packages (root only), create once (CA, ports,
  passwords, data dirs, MariaDB plugin) and start the lab daemon (moto + verifier
  + LDAP endpoint) and the three database servers; wait until everything accepts
  connections; in a checkout, write ``tests/integration/integration_config.yml``
  (``$LAB_INTEGRATION_CONFIG`` overrides the path, empty = skip). Idempotent.
  ``LAB_TEST_MODE=1`` lets tests shift the verifier's clock.
* ``down``: stop the lab's own processes (pid files in the state folder); ``--purge`` also removes the
  lab's host accounts (``rdsiamlab-*``, made by ``up`` when root) with their homes, and the SSH keys.
* target hosts (:mod:`rds_iam_lab.hosts`): as root, ``up`` makes one Unix account per host and starts the lab's
  own sshd on 127.0.0.1; each host's AWS identity comes from its own instance metadata endpoint
  (:mod:`rds_iam_lab.imds`, served by the daemon). Not root (or ``LAB_HOSTS=local``): local hosts, same endpoints.
* ``purge``: ``down --purge``, then delete the state folder (servers' data, keys, logs) and the
  integration config. The next ``up`` starts afresh.
* ``status``: human summary incl. the last refusals of the verifier; ``--json``: one JSON object.
* ``maintenance``: apply pending RDS modifications (ApplyImmediately=false).
* ``add-databases FILE``: add logical databases to the running lab. FILE (YAML or JSON, ``-``
  = stdin) is a list of ``{id, kind: instance|cluster, server: lab-mysql|lab-postgres|lab-aurora}``
  (optional ``engine``: ``mysql``/``mariadb`` for an instance on lab-mysql). Each one is an RDS
  instance or cluster of its own (own resource id, IAM auth off) whose endpoint is a relay on a
  free 127.0.0.1 port to that server. Idempotent; they last until ``down``.
* ``remove-databases FILE|--all-logical``: remove logical databases (FILE: the same list, or
  just ids); never the three servers. Idempotent.
"""

from __future__ import annotations

import configparser
import hashlib
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from rds_iam_lab import hosts, procutil, self_managed_servers

PACKAGE_DIR = Path(__file__).resolve().parent
REGION = "us-east-1"

DATABASES = [
    {"id": "lab-mysql", "kind": "instance", "engine": "mysql", "server": "mariadb", "dir": "mysql",
     "admin_user": "admin", "db_name": "labdb"},
    {"id": "lab-postgres", "kind": "instance", "engine": "postgres", "server": "postgresql", "dir": "postgres",
     "admin_user": "postgres", "db_name": "labdb"},
    {"id": "lab-aurora", "kind": "cluster", "engine": "aurora-postgresql", "server": "postgresql",
     "dir": "aurora", "admin_user": "postgres", "db_name": "labdb"},
]


class LabError(RuntimeError):
    pass


SYSTEM_STATE_BASE = Path("/var/lib/rds-iam-lab")


def source_checkout() -> Path | None:
    """The dbauth.rds_iam checkout this package runs from (``CHECKOUT/lab/src/rds_iam_lab``, its source tree:
    an editable install or ``PYTHONPATH``), or None when it runs installed from a wheel."""
    project = PACKAGE_DIR.parent.parent
    if PACKAGE_DIR.parent.name == "src" and (project / "pyproject.toml").is_file():
        return project.parent
    return None


# the checkout whose lab this is (None: an installed package, no checkout)
REPO = source_checkout()


def checkout_state_dir() -> Path | None:
    """The state folder inside the checkout (the default there when not root)."""
    return REPO / "lab" / ".state" if REPO is not None else None


def system_state_base() -> Path:
    """Where root's labs live (``$LAB_STATE_BASE`` overrides it)."""
    return Path(os.environ.get("LAB_STATE_BASE") or SYSTEM_STATE_BASE)


def system_state_dir() -> Path:
    """Root's default state folder: outside the checkout, where PostgreSQL's service account can reach it,
    one per checkout (``NAME-HASH``), or ``default`` for an installed package."""
    if REPO is None:
        return system_state_base() / "default"
    digest = hashlib.sha256(str(REPO).encode()).hexdigest()[:12]
    name = "".join(c if c.isalnum() or c in "-_." else "_" for c in REPO.name)[:40] or "checkout"
    return system_state_base() / f"{name}-{digest}"


def user_state_dir() -> Path:
    """An ordinary user's default state folder: in the checkout, or per user for an installed package
    (XDG base directory specification: ``$XDG_STATE_HOME``, else ``~/.local/state``)."""
    if REPO is not None:
        return checkout_state_dir()
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "rds-iam-lab"


def state_dir() -> Path:
    """The state folder: ``$LAB_STATE_DIR`` (``rds-iam-lab --state-dir`` sets it) or the default (module docstring)."""
    env = os.environ.get("LAB_STATE_DIR")
    if env:
        return Path(env).resolve()
    return system_state_dir() if os.geteuid() == 0 else user_state_dir().resolve()


def make_state_dir(state: Path) -> None:
    """Create the state folder. When root, PostgreSQL runs as its service account: the folder is
    0711 (traversable, not listable), the default base folder too, and every folder on the way
    must let that account through (checked here, so that initdb does not fail later)."""
    if os.geteuid() == 0 and not os.environ.get("LAB_STATE_DIR"):
        base = state.parent
        if not base.exists():
            base.mkdir(parents=True, exist_ok=True)
            os.chmod(base, 0o711)
    state.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        os.chmod(state, 0o700)
        return
    os.chmod(state, 0o711)
    marker = state / "checkout"
    if not marker.exists():
        marker.write_text(f"{REPO or 'installed package ' + str(PACKAGE_DIR)}\n")
    user = procutil.service_user()
    blocked = procutil.untraversable(state, user[0], user[1])
    if blocked is not None:
        raise LabError(f"PostgreSQL runs as {user[2]!r} when the lab runs as root, and {user[2]!r} cannot traverse "
                       f"{blocked} on the way to the lab state {state}; unset LAB_STATE_DIR (root's default is "
                       f"{system_state_dir()}) or choose a folder that {user[2]!r} can traverse")


def say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# -- dependencies --------------------------------------------------------------
def missing_packages() -> list[str]:
    """Debian packages the lab needs that are not installed (checked by command)."""
    from rds_iam_lab.postgres_server import pg_bindir

    missing = []
    try:
        pg_bindir()
    except RuntimeError:
        missing.append("postgresql")
    if not (shutil.which("mariadbd") or Path("/usr/sbin/mariadbd").exists()) or not shutil.which(
            "mariadb-install-db"):
        missing.append("mariadb-server")
    if not shutil.which("gcc"):
        missing.append("gcc")
    if not shutil.which("dpkg-deb") or not shutil.which("apt-get"):
        raise LabError("the lab needs a Debian/Ubuntu system (dpkg-deb and apt-get)")
    if os.geteuid() == 0 and not shutil.which("setpriv"):
        missing.append("util-linux")
    if os.geteuid() == 0 and os.environ.get("LAB_HOSTS", "").lower() != "local" and not Path(
            "/usr/sbin/sshd").exists():
        missing.append("openssh-server")
    return missing


def ensure_deps() -> None:
    missing = missing_packages()
    if not missing:
        return
    if os.geteuid() != 0:
        raise LabError("missing Debian packages: " + " ".join(missing)
                       + f"\nrun as root: {PACKAGE_DIR / 'install_deps.sh'} (or: sudo apt-get install "
                       + " ".join(missing) + ")")
    say("installing missing packages: " + " ".join(missing))
    subprocess.run(["bash", str(PACKAGE_DIR / "install_deps.sh")], check=True)
    still = missing_packages()
    if still:
        raise LabError("still missing after install_deps.sh: " + " ".join(still))


# -- configuration -------------------------------------------------------------
def load_or_create_config(state: Path) -> dict:
    path = state / "config.json"
    if path.exists():
        cfg = json.loads(path.read_text())
    else:
        used: set[int] = set()

        def port() -> int:
            return procutil.new_port(used)

        cfg = {"region": REGION, "moto_port": port(), "ldap_port": port(), "databases": []}
        for db in DATABASES:
            entry = dict(db, port=port(), admin_password=secrets.token_urlsafe(18))
            cfg["databases"].append(entry)
    # the plain servers (self_managed_servers.py); a state from before gets them too
    used_ports = procutil.config_ports(cfg)
    self_managed_servers.ensure_config(cfg, lambda: procutil.new_port(used_ports), lambda: secrets.token_urlsafe(18))
    hosts.ensure_ports(cfg)  # the sshd port and one metadata port per host (a state from before gets them)
    ensure_proxy_ports(cfg)
    cfg["test_mode"] = os.environ.get("LAB_TEST_MODE", "") in ("1", "true", "yes")
    procutil.write_json_private(path, cfg)
    return cfg


def ensure_proxy_ports(cfg: dict) -> None:
    """One port per RDS Proxy engine family (every proxy of the family listens on it, each on its own
    address, as RDS Proxy listens on the engine's port), kept once chosen."""
    used = procutil.config_ports(cfg)
    ports = cfg.setdefault("proxy_ports", {})
    for family in ("MYSQL", "POSTGRESQL"):
        if not ports.get(family):
            ports[family] = procutil.new_port(used)


def _servers(state: Path, cfg: dict, tls: dict) -> list:
    from rds_iam_lab.mariadb_server import MariaDBServer
    from rds_iam_lab.postgres_server import PostgresServer

    servers = []
    for db in cfg["databases"]:
        base = state / db["dir"]
        if db["server"] == "mariadb":
            servers.append(MariaDBServer(base, port=db["port"], db_id=db["id"], admin_user=db["admin_user"],
                                         admin_password=db["admin_password"], tls=tls,
                                         plugin_dir=state / "plugin", verifier_socket=state / "verify.sock"))
        else:
            servers.append(PostgresServer(base, port=db["port"], db_id=db["id"], admin_user=db["admin_user"],
                                          admin_password=db["admin_password"], tls=tls,
                                          ldap_port=cfg["ldap_port"]))
    return servers + self_managed_servers.servers(state, cfg, tls)


def _tls_paths(state: Path) -> dict:
    from rds_iam_lab.tls import ensure_certs

    return ensure_certs(state / "tls")


# -- daemon --------------------------------------------------------------------
def control(state: Path, request: dict, timeout: float = 30.0):
    path = state / "control.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        sock.connect(str(path))
        sock.sendall(json.dumps(request).encode() + b"\n")
        data = b""
        while not data.endswith(b"\n"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    reply = json.loads(data)
    if not reply.get("ok"):
        raise LabError(f"lab daemon refused {request.get('cmd')}: {reply.get('error')}")
    return reply["result"]


def daemon_alive(state: Path) -> bool:
    if not procutil.pid_alive(procutil.read_pid(state / "daemon.pid")):
        return False
    try:
        control(state, {"cmd": "ping"}, timeout=5)
        return True
    except (OSError, ValueError, LabError):
        return False


def start_daemon(state: Path) -> subprocess.Popen | None:
    if daemon_alive(state):
        return None
    old = procutil.read_pid(state / "daemon.pid")
    if old and procutil.pid_alive(old):
        procutil.stop_pid(old, 15)
    env = dict(os.environ)
    # the daemon imports this very copy of the package, installed or not
    env["PYTHONPATH"] = str(PACKAGE_DIR.parent) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    log = open(state / "daemon.log", "ab")
    try:
        return subprocess.Popen([sys.executable, "-m", "rds_iam_lab.daemon", "--state-dir", str(state)], cwd=str(state),
                                env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                start_new_session=True)
    finally:
        log.close()


def wait_daemon(state: Path, proc: subprocess.Popen | None, timeout: float = 90) -> None:
    def ready():
        if proc is not None and proc.poll() is not None:
            raise LabError(f"lab daemon exited with {proc.returncode}; see {state / 'daemon.log'}\n"
                           + "\n".join((state / "daemon.log").read_text(errors="replace").splitlines()[-25:]))
        return daemon_alive(state)

    procutil.wait_until(ready, timeout, "the lab daemon", interval=0.1, log=state / "daemon.log")


# -- commands ------------------------------------------------------------------
def up() -> dict:
    t0 = time.monotonic()
    state = state_dir()
    ensure_deps()
    make_state_dir(state)
    cfg = load_or_create_config(state)
    tls = _tls_paths(state)

    from rds_iam_lab.mariadb_server import build_plugin

    build_plugin(state / "plugin", state / "build")
    host_info = hosts.up(state, cfg)
    if host_info["mode"] == "local":
        say(f"lab hosts: local connections ({host_info['why_local']}); each still has its own metadata endpoint")
    proc = start_daemon(state)

    servers = _servers(state, cfg, tls)
    if proc is not None:  # a new daemon: logical databases of an earlier one are gone
        clear_logical_routes(servers)
    errors: list[BaseException] = []

    def bring_up(server):
        try:
            if server.initialized():
                server.start()
            else:
                server.init()
                server.start()
        except BaseException as exc:  # reported below
            errors.append(exc)

    # The plain servers come up after the lab's own: two mariadb-install-db at once failed on a fresh lab
    # ("Unknown table 'mysql.tmp_user_sys'"), so a MariaDB is never created while another one is.
    plain = {entry["id"] for entry in cfg.get("self_managed", [])}
    for wave in ([s for s in servers if s.db_id not in plain], [s for s in servers if s.db_id in plain]):
        threads = [threading.Thread(target=bring_up, args=(s,)) for s in wave]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    if errors:
        raise LabError(f"a database server did not come up: {errors[0]}")
    wait_daemon(state, proc)
    status = control(state, {"cmd": "status"})
    write_integration_config(status)
    elapsed = time.monotonic() - t0
    say(f"lab up in {elapsed:.1f}s: moto {status['endpoint_url']}, "
        + ", ".join(f"{d['id']} 127.0.0.1:{d['port']}" for d in status["databases"]))
    return status


def integration_config_path() -> Path | None:
    """The integration config of ansible-test (a checkout's own tests): ``$LAB_INTEGRATION_CONFIG`` (empty:
    none), else the checkout's ``tests/integration/integration_config.yml``; none for an installed package."""
    env = os.environ.get("LAB_INTEGRATION_CONFIG")
    if env is not None:
        return Path(env) if env else None
    return REPO / "tests" / "integration" / "integration_config.yml" if REPO is not None else None


def write_integration_config(status: dict) -> Path | None:
    path = integration_config_path()
    if path is None:
        return None
    data = {
        "aws_endpoint_url": status["endpoint_url"],
        "aws_region": status["region"],
        "aws_access_key": status["access_key"],
        "aws_secret_key": status["secret_key"],
        "lab_account_id": status["account_id"],
        "lab_ca_cert": status["ca_cert"],
        "lab_databases": status["databases"],
        "lab_principals": status["principals"],
        "lab_aws_config_dir": status["aws_config_dir"],
        "lab_state_dir": status["state_dir"],
        "lab_verifier_log": status["verifier_log"],
        "lab_proxy_ports": status.get("proxy_ports") or {},
        "lab_self_managed": status.get("self_managed", []),
    }
    try:
        import yaml

        text = "# written by `rds-iam-lab up` (dbauth.rds_iam lab); do not commit\n" + yaml.safe_dump(
            data, sort_keys=False, default_flow_style=False)
    except ImportError:  # JSON is YAML too
        text = json.dumps(data, indent=2)
    path.parent.mkdir(parents=True, exist_ok=True)
    procutil.write_private(path, text)
    return path


def other_state_dirs() -> list[Path]:
    """State folders of this checkout that are not the active one but may hold a lab: root's labs
    lived in ``lab/.state`` before they moved out of the checkout. ``down`` and ``purge`` see them."""
    if os.environ.get("LAB_STATE_DIR") or os.geteuid() != 0 or REPO is None:
        return []
    legacy = checkout_state_dir().resolve()
    return [legacy] if legacy != state_dir() and (legacy / "config.json").exists() else []


def down(purge: bool = False) -> bool:
    ok = True
    for other in other_state_dirs():
        say(f"also stopping the lab in {other}")
        ok = _down(other, purge) and ok
    return _down(state_dir(), purge) and ok


def _down(state: Path, purge: bool = False) -> bool:
    if not (state / "config.json").exists():
        say("no lab state: nothing to stop")
        return True
    cfg = json.loads((state / "config.json").read_text())
    tls = {k: str(state / "tls" / f) for k, f in
           (("ca_cert", "ca.pem"), ("server_cert", "server.pem"), ("server_key", "server.key"))}
    ok = True
    servers = _servers(state, cfg, tls)
    for server in servers:
        if not server.stop():
            ok = False
            say(f"could not stop {server.db_id}")
    clear_logical_routes(servers)
    pid = procutil.read_pid(state / "daemon.pid")
    if pid and not procutil.stop_pid(pid, 30):
        ok = False
        say("could not stop the lab daemon")
    if not hosts.down(state, purge=purge):
        ok = False
        say("could not stop the lab's sshd" + (" or remove its accounts" if purge else ""))
    for name in ("daemon.pid", "control.sock", "verify.sock"):
        try:
            (state / name).unlink()
        except FileNotFoundError:
            pass
    say("lab down" if ok else "lab partly down")
    return ok


def purge() -> bool:
    """down (with the host accounts), then delete the state folder(s) of this checkout and the integration config."""
    if not down(purge=True):
        say("rds-iam-lab purge: the lab did not stop; nothing deleted")
        return False
    for state in [state_dir()] + other_state_dirs():
        if not state.exists():
            continue
        if not (state / "config.json").exists() and any(state.iterdir()):
            if not (state / "checkout").exists():
                say(f"rds-iam-lab purge: {state} does not look like a lab state folder; left alone")
                continue
        shutil.rmtree(state)
        say(f"removed {state}")
        if state.parent == system_state_base():
            try:
                state.parent.rmdir()  # only when no other checkout has a lab there
            except OSError:
                pass
    config = integration_config_path()
    if config is not None and config.exists():
        config.unlink()
        say(f"removed {config}")
    return True


def restart_server(ident: str) -> None:
    """Restart one of the plain servers (self_managed_servers.py), its data kept."""
    state = state_dir()
    if not (state / "config.json").exists():
        raise LabError(f"no lab in {state} (rds-iam-lab up)")
    cfg = json.loads((state / "config.json").read_text())
    self_managed_servers.restart(state, cfg, _tls_paths(state), ident)
    say(f"{ident} restarted")


def clear_logical_routes(servers: list) -> None:
    """Forget the relay routes of logical databases (the next start writes the servers' own pg_hba.conf)."""
    for server in servers:
        if hasattr(server, "clear_logical_routes"):
            server.clear_logical_routes()


def read_database_list(path: str) -> list:
    """A YAML or JSON list of logical databases ({id, kind, server}) or of ids; `-` reads stdin."""
    text = sys.stdin.read() if path == "-" else Path(path).read_text()
    try:
        data = json.loads(text)
    except ValueError:
        import yaml

        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise LabError(f"{path}: neither JSON nor YAML: {exc}") from None
    if isinstance(data, dict) and "databases" in data:
        data = data["databases"]
    if not isinstance(data, list):
        raise LabError(f"{path}: expected a list of databases ({{id, kind, server}}), got {type(data).__name__}")
    return data


def change_databases(command: str, path: str | None, all_logical: bool = False) -> dict:
    state = state_dir()
    if not daemon_alive(state):
        raise LabError("the lab is not running (rds-iam-lab up)")
    if command == "add-databases":
        if not path:
            raise LabError("add-databases needs FILE")
        result = control(state, {"cmd": "add_databases", "databases": read_database_list(path)}, timeout=300)
    else:
        if bool(path) == bool(all_logical):
            raise LabError("remove-databases needs FILE or --all-logical (not both)")
        ids = []
        for entry in (read_database_list(path) if path else []):
            ids.append(entry.get("id") if isinstance(entry, dict) else entry)
        result = control(state, {"cmd": "remove_databases", "ids": ids, "all_logical": all_logical}, timeout=300)
    status = control(state, {"cmd": "status"})
    write_integration_config(status)
    return result


def read_refusals(state: Path, limit: int = 10) -> list[dict]:
    log = state / "verifier.log"
    if not log.exists():
        return []
    lines = log.read_text(errors="replace").splitlines()[-limit:]
    result = []
    for line in lines:
        try:
            result.append(json.loads(line))
        except ValueError:
            continue
    return result


def status_json() -> tuple[dict, bool]:
    state = state_dir()
    if daemon_alive(state):
        status = control(state, {"cmd": "status"})
        ok = True
    else:
        try:
            status = json.loads((state / "lab.json").read_text())
        except (OSError, ValueError):
            status = {"state_dir": str(state)}
        status["running"] = False
        ok = False
    status["servers"] = server_states(state)
    if status["running"] and not all(s["running"] for s in status["servers"]):
        ok = False
    return status, ok


def secret_values(status: dict) -> set[str]:
    """Every secret a status-json names or points at: the admin secret key, the databases' admin
    passwords and the target hosts' source keys. What a leak scan must never find in output."""
    values = {status["secret_key"]} | {db["admin_password"] for db in status["databases"] + status.get("self_managed", [])}
    creds = configparser.ConfigParser()
    creds.read(status["aws_shared_credentials_file"])
    values |= {creds[s]["aws_secret_access_key"] for s in creds.sections() if "aws_secret_access_key" in creds[s]}
    return {v for v in values if v}


def server_states(state: Path) -> list[dict]:
    if not (state / "config.json").exists():
        return []
    cfg = json.loads((state / "config.json").read_text())
    tls = {k: str(state / "tls" / f) for k, f in
           (("ca_cert", "ca.pem"), ("server_cert", "server.pem"), ("server_key", "server.key"))}
    result = []
    for server in _servers(state, cfg, tls):
        result.append({"id": server.db_id, "port": server.port, "running": server.running(),
                       "accepting": procutil.port_open(server.port)})
    return result


def status_text() -> tuple[str, bool]:
    state = state_dir()
    status, ok = status_json()
    out = [f"lab state: {state}", f"daemon:    {'running (pid %s)' % status.get('daemon_pid') if status['running'] else 'stopped'}"]
    if status.get("endpoint_url"):
        out.append(f"AWS:       {status['endpoint_url']}  region {status.get('region')}  account {status.get('account_id')}")
        out.append(f"CA:        {status.get('ca_cert')}")
    states = {s["id"]: s for s in status.get("servers", [])}
    out.append("")
    out.append(f"{'DATABASE':<14} {'KIND':<9} {'ENGINE':<18} {'ENDPOINT':<17} {'IAM AUTH':<9} {'SERVER':<8} RESOURCE ID")
    for db in status.get("databases", []):
        srv = states.get(db.get("served_by") or db["id"], {})
        iam = db.get("iam_database_authentication_enabled")
        out.append(f"{db['id']:<14} {db['kind']:<9} {db['engine']:<18} {'127.0.0.1:%s' % db['port']:<17} "
                   f"{('on' if iam else 'off') if status['running'] else '-':<9} "
                   f"{'up' if srv.get('running') else 'down':<8} {db.get('resource_id') or ''}"
                   + (f"  (logical, served by {db['served_by']})" if db.get("logical") else ""))
    if status.get("principals"):
        out.append("")
        out.append(f"{'PRINCIPAL':<20} ROLE ARN")
        for p in status["principals"]:
            out.append(f"{p['name']:<20} {p['role_arn']}")
    if status.get("hosts"):
        out.append("")
        out.append(f"{'HOST':<11} {'CONNECTION':<40} {'INSTANCE':<20} {'ROLE (instance profile)':<24} METADATA")
        for h in status["hosts"]:
            conn = (f"ssh {h['user']}@127.0.0.1:{h['ssh_port']}" if h.get("connection") == "ssh" else "local")
            out.append(f"{h['name']:<11} {conn:<40} {h.get('instance_id') or '-':<20} {h.get('role') or '-':<24} "
                       f"{h.get('imds_endpoint')}")
    if status.get("self_managed"):
        out.append("")
        out.append(f"{'PLAIN SERVER':<14} {'ENGINE':<9} {'ENDPOINT':<17} {'SERVER':<8} (no IAM of the lab's: for the self_managed role)")
        for server in status["self_managed"]:
            out.append(f"{server['id']:<14} {server['engine']:<9} {'127.0.0.1:%s' % server['port']:<17} "
                       f"{'up' if states.get(server['id'], {}).get('running') else 'down':<8}")
    refusals = read_refusals(state, 10)
    out.append("")
    out.append(f"last refusals ({status.get('verifier_log') or state / 'verifier.log'}):")
    if not refusals:
        out.append("  none")
    for r in refusals:
        out.append(f"  {r.get('time')} {r.get('db_id')} user={r.get('user')} key={r.get('access_key_id')} "
                   f"{r.get('code')}: {r.get('reason')}")
    return "\n".join(out), ok
