"""The lab's own MariaDB server: stands in for the RDS instance ``lab-mysql``.

Data dir, socket, pid file, logs and the plugin dir all live in the lab state
folder. The server loads ``AWSAuthenticationPlugin`` (lab/mariadb_plugin), built
at setup with gcc against the server headers of the installed MariaDB version
(taken from the libmariadbd-dev package with ``apt-get download``: only
``./usr/include/mariadb/server`` is extracted, no root needed).
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from rds_iam_lab import procutil

PLUGIN_SOURCE = Path(__file__).resolve().parent / "mariadb_plugin" / "aws_authentication_plugin.c"
PLUGIN_SO = "aws_authentication_plugin.so"


def mariadbd_path() -> str:
    """The server binary: on PATH, else /usr/sbin (not on an ordinary user's PATH)."""
    found = shutil.which("mariadbd")
    if found:
        return found
    if Path("/usr/sbin/mariadbd").exists():
        return "/usr/sbin/mariadbd"
    raise RuntimeError("mariadbd not found; run lab/install_deps.sh")


def _installed_version() -> str:
    out = subprocess.run(
        ["dpkg-query", "-W", "-f=${Version}", "mariadb-server"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, check=False,
    ).stdout.strip()
    return out


def _download_first(packages: list[str], directory: str) -> tuple[list[str], str]:
    """apt-get download the first of packages that can be had; return the .deb paths and apt's output."""
    output = ""
    for package in packages:
        proc = subprocess.run(["apt-get", "download", package], cwd=directory,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False)
        output += proc.stdout
        debs = glob.glob(os.path.join(directory, "*.deb"))
        if proc.returncode == 0 and debs:
            return debs, output
    return [], output


def ensure_headers(build_dir: Path) -> Path:
    """Return a directory with mysql/plugin_auth.h of the installed server version."""
    for candidate in (os.environ.get("LAB_MARIADB_INCLUDE"), "/usr/include/mariadb/server"):
        if candidate and (Path(candidate) / "mysql" / "plugin_auth.h").exists():
            return Path(candidate)
    build_dir = Path(build_dir)
    include = build_dir / "usr" / "include" / "mariadb" / "server"
    if (include / "mysql" / "plugin_auth.h").exists():
        return include
    build_dir.mkdir(parents=True, exist_ok=True)
    version = _installed_version()
    # The headers of the installed server version are best; the same series' newest is the fallback
    # (the plugin ABI is stable within a series). A fresh machine may have no package lists yet:
    # refresh them once, as root, and try again.
    attempts = [f"libmariadbd-dev={version}"] if version else []
    attempts.append("libmariadbd-dev")
    with tempfile.TemporaryDirectory(dir=build_dir) as tmp:
        debs, output = _download_first(attempts, tmp)
        if not debs and os.geteuid() == 0:
            subprocess.run(["apt-get", "update", "-qq"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=False)
            debs, output = _download_first(attempts, tmp)
        if not debs:
            raise RuntimeError(
                "could not fetch the MariaDB server headers (apt-get download libmariadbd-dev):\n"
                + output[-2000:])
        fsys = subprocess.Popen(["dpkg-deb", "--fsys-tarfile", debs[0]], stdout=subprocess.PIPE)
        tar = subprocess.run(["tar", "-x", "-C", str(build_dir), "./usr/include/mariadb/server"],
                             stdin=fsys.stdout, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False)
        fsys.stdout.close()
        fsys.wait()
        if tar.returncode != 0:
            raise RuntimeError("could not extract the MariaDB server headers:\n" + tar.stdout[-2000:])
    return include


def build_plugin(plugin_dir: Path, build_dir: Path) -> Path:
    """Compile AWSAuthenticationPlugin into plugin_dir (skipped when up to date)."""
    plugin_dir = Path(plugin_dir)
    plugin_dir.mkdir(parents=True, exist_ok=True)
    target = plugin_dir / PLUGIN_SO
    if target.exists() and target.stat().st_mtime >= PLUGIN_SOURCE.stat().st_mtime:
        return target
    include = ensure_headers(build_dir)
    tmp = plugin_dir / (PLUGIN_SO + ".tmp")
    procutil.run(["gcc", "-shared", "-fPIC", "-O2", "-Wall", "-DMYSQL_DYNAMIC_PLUGIN",
                  "-I", str(include), "-o", str(tmp), str(PLUGIN_SOURCE)])
    os.replace(tmp, target)
    return target


class MariaDBServer:
    def __init__(self, base: Path, *, port: int, db_id: str, admin_user: str, admin_password: str,
                 tls: dict, plugin_dir: Path, verifier_socket: Path):
        self.base = Path(base)
        self.data = self.base / "data"
        self.cnf = self.base / "my.cnf"
        self.pid_file = self.base / "mariadbd.pid"
        self.socket = self.base / "mariadbd.sock"
        self.log = self.base / "error.log"
        self.port = port
        self.db_id = db_id
        self.admin_user = admin_user
        self.admin_password = admin_password
        self.tls = tls
        self.plugin_dir = Path(plugin_dir)
        self.verifier_socket = Path(verifier_socket)

    # -- setup -----------------------------------------------------------
    def write_config(self) -> None:
        user_line = "user = root\n" if os.geteuid() == 0 else ""
        self.cnf.write_text(
            "[mariadbd]\n"
            f"{user_line}"
            f"datadir = {self.data}\n"
            f"socket = {self.socket}\n"
            f"pid-file = {self.pid_file}\n"
            f"log-error = {self.log}\n"
            f"port = {self.port}\n"
            "bind-address = 127.0.0.1\n"
            "skip-name-resolve\n"
            "require_secure_transport = ON\n"
            "performance_schema = OFF\n"
            "innodb_buffer_pool_size = 32M\n"
            "innodb_log_file_size = 16M\n"
            "max_connections = 100\n"
            f"ssl-ca = {self.tls['ca_cert']}\n"
            f"ssl-cert = {self.tls['server_cert']}\n"
            f"ssl-key = {self.tls['server_key']}\n"
            + self.auth_settings()
        )

    def auth_settings(self) -> str:
        """The end of my.cnf: how IAM users log in (the lab's plugin, asking the verifier)."""
        return (
            f"plugin_dir = {self.plugin_dir}\n"
            f"plugin_load_add = {PLUGIN_SO}\n"
            f"awsauthenticationplugin_verifier_socket = {self.verifier_socket}\n"
            f"awsauthenticationplugin_db_id = {self.db_id}\n"
        )

    def initialized(self) -> bool:
        return (self.data / "mysql" / "user.frm").exists() or (self.data / "mysql" / "global_priv.frm").exists()

    def init(self) -> None:
        """mariadb-install-db into the lab folder, then create the admin user."""
        self.base.mkdir(parents=True, exist_ok=True)
        os.chmod(self.base, 0o700)  # the server runs as whoever runs the lab: nobody else needs in
        self.write_config()
        if self.initialized() and (self.base / ".admin-ready").exists():
            return
        if self.data.exists():
            shutil.rmtree(self.data)
        cmd = ["mariadb-install-db", "--no-defaults", f"--datadir={self.data}",
               "--auth-root-authentication-method=normal", "--skip-test-db", "--skip-name-resolve"]
        if os.geteuid() == 0:
            cmd.append("--user=root")
        procutil.run(cmd, cwd=str(self.base))
        self.start(admin_ready=False)
        self._bootstrap_admin()
        (self.base / ".admin-ready").write_text("ok\n")

    def _bootstrap_admin(self) -> None:
        import pymysql

        conn = pymysql.connect(unix_socket=str(self.socket), user="root", password="", autocommit=True)
        try:
            with conn.cursor() as cur:
                pw = self.admin_password
                cur.execute("CREATE USER IF NOT EXISTS %s@'%%' IDENTIFIED BY %s", (self.admin_user, pw))
                cur.execute("ALTER USER %s@'%%' IDENTIFIED BY %s", (self.admin_user, pw))
                cur.execute(f"GRANT ALL PRIVILEGES ON *.* TO `{self.admin_user}`@'%' WITH GRANT OPTION")
                # root keeps only the unix socket of the lab folder, with the admin password
                cur.execute("ALTER USER 'root'@'localhost' IDENTIFIED BY %s", (pw,))
                cur.execute("SELECT user, host FROM mysql.user WHERE user = '' OR (user = 'root' AND host <> 'localhost')")
                for user, host in cur.fetchall():
                    cur.execute("DROP USER %s@%s", (user, host))
                cur.execute("CREATE DATABASE IF NOT EXISTS labdb")
        finally:
            conn.close()

    # -- lifecycle -------------------------------------------------------
    def running(self) -> bool:
        return procutil.pid_alive(procutil.read_pid(self.pid_file))

    def start(self, admin_ready: bool = True) -> None:
        self.write_config()
        if self.running():
            self.wait_ready(admin_ready)
            return
        with open(self.log, "ab") as log:
            subprocess.Popen([mariadbd_path(), f"--defaults-file={self.cnf}"], stdin=subprocess.DEVNULL,
                             stdout=log, stderr=log, start_new_session=True, cwd=str(self.base))
        self.wait_ready(admin_ready)

    def wait_ready(self, admin_ready: bool = True, timeout: float = 60) -> None:
        procutil.wait_until(lambda: self.socket.exists() and procutil.port_open(self.port), timeout,
                            "MariaDB to accept connections", log=self.log)
        procutil.wait_until(lambda: procutil.read_pid(self.pid_file), timeout, "MariaDB pid file", log=self.log)
        if admin_ready:
            procutil.wait_until(self.admin_login_ok, timeout, "MariaDB admin login", log=self.log)

    def admin_login_ok(self) -> bool:
        import pymysql

        try:
            conn = pymysql.connect(host="127.0.0.1", port=self.port, user=self.admin_user,
                                   password=self.admin_password, connect_timeout=3,
                                   ssl={"ca": self.tls["ca_cert"], "check_hostname": True})
            conn.close()
            return True
        except pymysql.MySQLError:
            return False

    def stop(self, timeout: float = 60) -> bool:
        pid = procutil.read_pid(self.pid_file)
        ok = procutil.stop_pid(pid, timeout)
        if ok:
            for path in (self.pid_file,):
                try:
                    path.unlink()
                except FileNotFoundError:
                    pass
        return ok
