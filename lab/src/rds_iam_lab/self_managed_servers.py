"""The lab's plain database servers: a PostgreSQL and a MariaDB that stand in for self-managed databases.

Unlike the lab's RDS stand-ins they know nothing of IAM: no lab LDAP lines, no lab plugin, no RDS identity in moto.
They have TLS (certificates from the lab CA), an admin login by password, and nothing else, so that the
collection's ``self_managed`` role can configure them the way it configures a server on a host of one's own:

* ``sm-postgres``: ``pg_hba.conf`` is written once, when the cluster is created (password over TLS, plain TCP
  refused); after that it belongs to whoever configures the server, and the lab never rewrites it.
* ``sm-mariadb``: the lab's ``my.cnf`` ends with ``!includedir CONF_DIR``, a folder the lab leaves to others
  (plugins to load, their settings); the server's own plugin folder is the system's, where ``auth_pam`` is.

The servers are lab processes, not systemd units: ``rds-iam-lab restart-server ID`` restarts one (its data kept),
the way ``systemctl restart`` would. :func:`describe` says where each keeps what, for the inventory.
"""

from __future__ import annotations

import os
import pwd
import sys
from pathlib import Path

from rds_iam_lab.mariadb_server import MariaDBServer
from rds_iam_lab.postgres_server import PostgresServer

# (id, engine, folder, admin user); ports and passwords are chosen once per lab (config.json).
SERVERS = (
    ("sm-postgres", "postgres", "sm-postgres", "postgres"),
    ("sm-mariadb", "mariadb", "sm-mariadb", "admin"),
)


class PlainPostgresServer(PostgresServer):
    """A PostgreSQL cluster with TLS and password logins only."""

    def _hba(self) -> str:
        return (
            "# written once by the dbauth.rds_iam lab (rds_iam_lab/self_managed_servers.py) when the cluster was\n"
            "# created; the lab never rewrites it.\n"
            "# TYPE  DATABASE USER     ADDRESS        METHOD\n"
            "hostssl   all  all       127.0.0.0/8    scram-sha-256\n"
            "hostnossl all  all       127.0.0.0/8    reject\n"
        )

    def write_hba(self) -> None:
        if not (self.data / "pg_hba.conf").exists() or not self.initialized():
            super().write_hba()

    def write_config(self) -> None:
        hba = self.data / "pg_hba.conf"
        kept = hba.read_text() if hba.exists() and self.initialized() else None
        super().write_config()
        if kept is not None:  # the lab's start must not undo what the server's configuration wrote
            hba.write_text(kept)
            if self.user:
                os.chown(hba, self.user[0], self.user[1])

    @staticmethod
    def bootstrap_roles(cur) -> None:
        """No IAM group: the server's configuration makes its own."""


class PlainMariaDBServer(MariaDBServer):
    """A MariaDB server with TLS required and password logins only; extra settings in ``conf.d``."""

    @property
    def conf_dir(self) -> Path:
        return self.base / "conf.d"

    def auth_settings(self) -> str:
        """No lab plugin: what configures the server adds its own settings to conf.d (MariaDB reads its *.cnf)."""
        self.conf_dir.mkdir(parents=True, exist_ok=True)
        return f"!includedir {self.conf_dir}\n"


def ensure_config(cfg: dict, new_port, new_password) -> None:
    """Add the plain servers to a lab config (ports and admin passwords chosen once)."""
    have = {entry["id"] for entry in cfg.setdefault("self_managed", [])}
    for ident, engine, folder, admin in SERVERS:
        if ident not in have:
            cfg["self_managed"].append({"id": ident, "engine": engine, "dir": folder, "admin_user": admin,
                                        "port": new_port(), "admin_password": new_password()})


def servers(state: Path, cfg: dict, tls: dict) -> list:
    result = []
    for entry in cfg.get("self_managed", []):
        base = Path(state) / entry["dir"]
        common = dict(port=entry["port"], db_id=entry["id"], admin_user=entry["admin_user"],
                      admin_password=entry["admin_password"], tls=tls)
        if entry["engine"] == "postgres":
            result.append(PlainPostgresServer(base, ldap_port=0, **common))
        else:
            result.append(PlainMariaDBServer(base, plugin_dir=Path("/nonexistent"), verifier_socket=Path("/nonexistent"),
                                             **common))
    return result


def restart_command(state: Path, ident: str) -> list[str]:
    """The command that restarts a plain server (what ``systemctl restart`` is on a host of one's own)."""
    return [sys.executable, "-m", "rds_iam_lab", "--state-dir", str(state), "restart-server", ident]


def describe(state: Path, cfg: dict, tls: dict) -> list[dict]:
    """Where each plain server keeps what, for the status, the inventory and the integration config (with the admin
    password: callers that print keep it apart)."""
    result = []
    for entry, server in zip(cfg.get("self_managed", []), servers(state, cfg, tls)):
        item = {
            "id": entry["id"], "engine": entry["engine"], "host": "127.0.0.1", "port": entry["port"],
            "admin_user": entry["admin_user"], "admin_password": entry["admin_password"], "db_name": "labdb",
            "base_dir": str(server.base), "data_dir": str(server.data), "log_file": str(server.log),
            "restart_command": restart_command(state, entry["id"]),
            # the account the server runs as (what its PAM helpers run as, which sockets it must reach)
            "os_user": server.user[2] if getattr(server, "user", None) else pwd.getpwuid(os.geteuid()).pw_name,
        }
        if entry["engine"] == "postgres":
            item["hba_file"] = str(server.data / "pg_hba.conf")
        else:
            item["conf_dir"] = str(server.conf_dir)
            item["socket"] = str(server.socket)
        result.append(item)
    return result


def restart(state: Path, cfg: dict, tls: dict, ident: str) -> None:
    for server in servers(state, cfg, tls):
        if server.db_id == ident:
            if not server.stop():
                raise RuntimeError(f"{ident} did not stop")
            server.start()
            return
    raise ValueError(f"no plain server {ident!r} in this lab (known: "
                     + ", ".join(e["id"] for e in cfg.get("self_managed", [])) + ")")
