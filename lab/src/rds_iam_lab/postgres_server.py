"""The lab's own PostgreSQL clusters (``lab-postgres`` and the Aurora ``lab-aurora``).

Each cluster has its data dir in the lab state folder, listens on 127.0.0.1 only
(no unix socket outside the data dir), requires TLS (certificate from the lab
CA) and sends members of ``rds_iam`` to the lab's LDAP endpoint: PostgreSQL's
``ldap`` method in simple-bind mode passes the whole password (the token) as the
bind password for ``cn=USER,dc=DB_ID,dc=lab``; the endpoint asks the verifier.

Logical databases served by a cluster (``rds-iam-lab add-databases``) reach it through
relays that connect from loopback addresses of their own (:mod:`rds_iam_lab.relay`): one
``hostssl`` line per relay address gives the LDAP DN ``cn=USER,dc=DB_ID,ou=LOGICAL_ID,dc=lab``,
so the verifier knows which endpoint the client dialled. The routes are kept in
``BASE/logical-routes.json`` while the lab daemon runs (``rds-iam-lab down`` clears them).

When the lab runs as root, PostgreSQL (which refuses root) runs as the
``postgres`` account (or ``nobody``) and its data dir is chowned to it.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import subprocess
from pathlib import Path

from rds_iam_lab import procutil


def pg_bindir() -> Path:
    """Directory of initdb/pg_ctl/postgres: pg_config, else the newest /usr/lib/postgresql/N/bin."""
    env = os.environ.get("LAB_PG_BINDIR")
    if env:
        return Path(env)
    found = shutil.which("pg_config")
    if found:
        out = subprocess.run([found, "--bindir"], stdout=subprocess.PIPE, text=True, check=False).stdout.strip()
        if out and (Path(out) / "initdb").exists():
            return Path(out)
    base = Path("/usr/lib/postgresql")
    versions = sorted((p for p in base.glob("*/bin/initdb")), key=lambda p: int(p.parent.parent.name)
                      if p.parent.parent.name.isdigit() else 0)
    if versions:
        return versions[-1].parent
    raise RuntimeError("PostgreSQL server binaries (initdb) not found; run lab/install_deps.sh")


class PostgresServer:
    def __init__(self, base: Path, *, port: int, db_id: str, admin_user: str, admin_password: str,
                 tls: dict, ldap_port: int):
        self.base = Path(base)
        self.data = self.base / "data"
        self.log = self.base / "postgres.log"
        self.port = port
        self.db_id = db_id
        self.admin_user = admin_user
        self.admin_password = admin_password
        self.tls = tls
        self.ldap_port = ldap_port
        self.user = procutil.service_user()
        self.bindir = pg_bindir()

    @property
    def pid_file(self) -> Path:
        return self.data / "postmaster.pid"

    # -- setup -----------------------------------------------------------
    @property
    def routes_file(self) -> Path:
        return self.base / "logical-routes.json"

    def logical_routes(self) -> dict[str, str]:
        """{relay source address: logical database id} of the running lab daemon."""
        try:
            return dict(json.loads(self.routes_file.read_text()))
        except (OSError, ValueError):
            return {}

    def _hba(self) -> str:
        def ldap(suffix: str) -> str:
            return (f'ldap ldapserver=127.0.0.1 ldapport={self.ldap_port} ldapprefix="cn=" '
                    f'ldapsuffix="{suffix}"')

        logical = "".join(f"hostssl   all  +rds_iam  {source}/32   {ldap(f',dc={self.db_id},ou={db_id},dc=lab')}\n"
                          for source, db_id in sorted(self.logical_routes().items()))
        return (
            "# written by the dbauth.rds_iam lab (rds_iam_lab/postgres_server.py)\n"
            "# TYPE  DATABASE USER     ADDRESS        METHOD\n"
            "# IAM users (members of rds_iam): TLS only, token checked by the lab verifier via LDAP\n"
            "hostnossl all  +rds_iam  127.0.0.0/8    reject\n"
            "# logical databases: the relay's source address names the endpoint dialled\n"
            f"{logical}"
            f"hostssl   all  +rds_iam  127.0.0.0/8    {ldap(f',dc={self.db_id},dc=lab')}\n"
            "# everyone else: password over TLS (rds.force_ssl=1)\n"
            "hostssl   all  all       127.0.0.0/8    scram-sha-256\n"
            "hostnossl all  all       127.0.0.0/8    reject\n"
        )

    def write_hba(self) -> None:
        (self.data / "pg_hba.conf").write_text(self._hba())
        if self.user:
            os.chown(self.data / "pg_hba.conf", self.user[0], self.user[1])

    def set_logical_routes(self, routes: dict[str, str], timeout: float = 30) -> None:
        """Write the routes and pg_hba.conf, reload, and wait until new sessions use them."""
        if routes:
            procutil.write_json_private(self.routes_file, routes)
        else:
            self.clear_logical_routes()
        self.write_hba()
        if not self.running():
            return
        before = self._conf_load_time()
        procutil.run([str(self.bindir / "pg_ctl"), "reload", "-D", str(self.data), "-s"], user=self.user)
        deadline = time.monotonic() + timeout
        while self._conf_load_time() == before:  # a new session reads the postmaster's reload time
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.db_id}: PostgreSQL did not reload pg_hba.conf")
            time.sleep(0.02)

    def clear_logical_routes(self) -> None:
        try:
            self.routes_file.unlink()
        except FileNotFoundError:
            pass

    def _conf_load_time(self):
        conn = self.connect_admin()
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT pg_conf_load_time()")
                return cur.fetchone()[0]
        finally:
            conn.close()

    def _conf(self) -> str:
        return (
            "# dbauth.rds_iam lab settings\n"
            f"port = {self.port}\n"
            "listen_addresses = '127.0.0.1'\n"
            f"unix_socket_directories = '{self.data}'\n"
            "ssl = on\n"
            "ssl_cert_file = 'server.crt'\n"
            "ssl_key_file = 'server.key'\n"
            "password_encryption = 'scram-sha-256'\n"
            "max_connections = 50\n"
            "shared_buffers = 16MB\n"
            "fsync = off\n"
            "synchronous_commit = off\n"
            "full_page_writes = off\n"
            "log_connections = on\n"
            "logging_collector = off\n"
        )

    def write_config(self) -> None:
        (self.data / "pg_hba.conf").write_text(self._hba())
        (self.data / "lab.conf").write_text(self._conf())
        shutil.copyfile(self.tls["server_cert"], self.data / "server.crt")
        shutil.copyfile(self.tls["server_key"], self.data / "server.key")
        os.chmod(self.data / "server.key", 0o600)
        if self.user:
            for name in ("pg_hba.conf", "lab.conf", "server.crt", "server.key"):
                os.chown(self.data / name, self.user[0], self.user[1])

    def initialized(self) -> bool:
        return (self.data / "PG_VERSION").exists() and (self.base / ".admin-ready").exists()

    def init(self) -> None:
        self.base.mkdir(parents=True, exist_ok=True)
        os.chmod(self.base, 0o711)
        if self.initialized():
            self.write_config()
            return
        if self.data.exists():
            shutil.rmtree(self.data)
        pwfile = self.base / ".pwfile"
        procutil.write_private(pwfile, self.admin_password + "\n")
        self.data.mkdir(mode=0o700)
        if self.user:
            os.chown(pwfile, self.user[0], self.user[1])
            os.chown(self.data, self.user[0], self.user[1])
        try:
            procutil.run([str(self.bindir / "initdb"), "-D", str(self.data), "-U", self.admin_user,
                          f"--pwfile={pwfile}", "--auth=scram-sha-256", "-E", "UTF8",
                          "--locale=C", "--no-sync"], user=self.user)
        finally:
            pwfile.unlink()
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.write("\ninclude = 'lab.conf'\n")
        self.write_config()
        self.start(admin_ready=False)
        self._bootstrap()
        (self.base / ".admin-ready").write_text("ok\n")

    def connect_admin(self, dbname: str = "postgres"):
        import psycopg2

        return psycopg2.connect(host="127.0.0.1", port=self.port, user=self.admin_user,
                                password=self.admin_password, dbname=dbname, sslmode="verify-full",
                                sslrootcert=self.tls["ca_cert"], connect_timeout=5)

    def _bootstrap(self) -> None:
        procutil.wait_until(self.admin_login_ok, 30, "PostgreSQL admin login", log=self.log)
        conn = self.connect_admin()
        conn.autocommit = True
        try:
            with conn.cursor() as cur:
                self.bootstrap_roles(cur)
                cur.execute("SELECT 1 FROM pg_database WHERE datname = 'labdb'")
                if not cur.fetchone():
                    cur.execute("CREATE DATABASE labdb")
        finally:
            conn.close()

    @staticmethod
    def bootstrap_roles(cur) -> None:
        """The group of IAM users, as on RDS (pg_hba.conf sends its members to the lab's LDAP endpoint)."""
        cur.execute("SELECT 1 FROM pg_roles WHERE rolname = 'rds_iam'")
        if not cur.fetchone():
            cur.execute("CREATE ROLE rds_iam NOLOGIN")

    # -- lifecycle -------------------------------------------------------
    def running(self) -> bool:
        return procutil.pid_alive(procutil.read_pid(self.pid_file))

    def start(self, admin_ready: bool = True) -> None:
        self.write_config()
        if not self.running():
            if not self.log.exists():
                self.log.touch()
            if self.user:
                os.chown(self.log, self.user[0], self.user[1])
            procutil.run([str(self.bindir / "pg_ctl"), "start", "-D", str(self.data), "-l", str(self.log),
                          "-w", "-t", "60", "-s"], user=self.user)
        procutil.wait_until(lambda: procutil.port_open(self.port), 30, "PostgreSQL port", log=self.log)
        if admin_ready:
            procutil.wait_until(self.admin_login_ok, 30, "PostgreSQL admin login", log=self.log)

    def admin_login_ok(self) -> bool:
        import psycopg2

        try:
            self.connect_admin().close()
            return True
        except psycopg2.Error:
            return False

    def stop(self, timeout: float = 60) -> bool:
        if not self.running():
            return True
        proc = procutil.run([str(self.bindir / "pg_ctl"), "stop", "-D", str(self.data), "-m", "fast",
                             "-w", "-t", str(int(timeout)), "-s"], user=self.user, check=False)
        if proc.returncode != 0:
            return procutil.stop_pid(procutil.read_pid(self.pid_file), timeout)
        return True
