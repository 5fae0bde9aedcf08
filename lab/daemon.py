"""The long-running lab process: AWS control plane + token verifier + the endpoints
the database servers ask.

One process (``python -m lab.daemon --state-dir STATE``), started by ``labctl up``:

* moto (part A's ``start_control_plane``) on the port kept in ``STATE/config.json``,
  seeded with ``lab-mysql`` (instance, mysql), ``lab-postgres`` (instance, postgres)
  and ``lab-aurora`` (cluster, aurora-postgresql) whose endpoints are the lab's servers;
* ``TokenVerifier`` logging refusals to ``STATE/verifier.log``;
* the LDAP endpoint (thread) that PostgreSQL's ``ldap`` method binds to;
* ``STATE/verify.sock``: the MariaDB plugin's verify requests (``AWSV1`` frames);
* ``STATE/control.sock``: JSON-line control requests from ``labctl``
  (``ping``, ``status``, ``maintenance``, ``refusals``, ``set_clock_offset`` in test mode);
* ``STATE/lab.json`` (0600): what ``labctl status-json`` prints; ``STATE/daemon.pid``.

SIGTERM/SIGINT: stop the endpoints and moto, remove the pid file and sockets.
Tokens, secrets and passwords are never logged.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import socket
import socketserver
import struct
import sys
import threading
import time
from pathlib import Path

from lab import procutil

LOG = logging.getLogger("lab.daemon")

MAX_FRAME_FIELD = 64 * 1024


def _recv_exact(sock: socket.socket, size: int) -> bytes:
    chunks, got = [], 0
    while got < size:
        chunk = sock.recv(size - got)
        if not chunk:
            raise ConnectionError("peer closed")
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def read_verify_request(sock: socket.socket) -> tuple[str, str, str, str]:
    """AWSV1 frame from the MariaDB plugin -> (db_id, user, transport, token)."""
    if _recv_exact(sock, 5) != b"AWSV1":
        raise ValueError("bad magic")
    fields = []
    for _field in range(4):
        (length,) = struct.unpack(">I", _recv_exact(sock, 4))
        if length > MAX_FRAME_FIELD:
            raise ValueError("field too long")
        fields.append(_recv_exact(sock, length).decode("utf-8", errors="replace") if length else "")
    return fields[0], fields[1], fields[2], fields[3]


class LabDaemon:
    def __init__(self, state_dir: Path):
        self.state = Path(state_dir).resolve()
        self.config = json.loads((self.state / "config.json").read_text())
        self.test_mode = bool(self.config.get("test_mode"))
        self.clock_offset = 0.0
        self.stopping = threading.Event()
        self.cp = None
        self.verifier = None
        self.ldap = None
        self.servers: list[socketserver.BaseServer] = []
        self.started_at = time.time()

    # -- helpers ---------------------------------------------------------
    def clock(self) -> float:
        return time.time() + self.clock_offset

    def path(self, name: str) -> Path:
        return self.state / name

    def check(self, user: str, db_id: str, token: str, via: str) -> bool:
        decision = self.verifier.verify(token, user, db_id)
        LOG.info("login %s user=%s db=%s via=%s code=%s key=%s", "accepted" if decision.ok else "refused",
                 user, db_id, via, decision.code, decision.access_key_id)
        return bool(decision.ok)

    # -- start -----------------------------------------------------------
    def start(self) -> None:
        from lab.control_plane import DatabaseSpec, start_control_plane
        from lab.ldap_endpoint import LdapServer
        from lab.verifier import TokenVerifier

        cfg = self.config
        specs = [
            DatabaseSpec(id=db["id"], kind=db["kind"], engine=db["engine"], host="127.0.0.1", port=db["port"],
                         admin_user=db["admin_user"], admin_password=db["admin_password"])
            for db in cfg["databases"]
        ]
        self.cp = start_control_plane(specs, region=cfg["region"], port=cfg["moto_port"])
        self.verifier = TokenVerifier(self.cp, clock=self.clock, log_path=self.path("verifier.log"))
        self.aws_files = self.cp.write_aws_config(self.path("aws"))

        self.ldap = LdapServer(cfg["ldap_port"], lambda u, d, t: self.check(u, d, t, "ldap")).start()
        self.servers.append(self.ldap)
        self.servers.append(self._unix_server("verify.sock", self._verify_handler()))
        self.servers.append(self._unix_server("control.sock", self._control_handler()))
        procutil.write_json_private(self.path("lab.json"), self.status())
        procutil.write_private(self.path("daemon.pid"), f"{os.getpid()}\n")
        LOG.info("lab daemon ready: moto %s, ldap %s", self.cp.endpoint_url, self.ldap.port)

    def _unix_server(self, name: str, handler) -> socketserver.BaseServer:
        path = self.path(name)
        if len(str(path)) > 100:
            raise RuntimeError(f"state dir path too long for a unix socket: {path}")
        try:
            path.unlink()
        except FileNotFoundError:
            pass
        server = socketserver.ThreadingUnixStreamServer(str(path), handler)
        server.daemon_threads = True
        os.chmod(path, 0o600)
        threading.Thread(target=server.serve_forever, name=f"lab-{name}", daemon=True).start()
        return server

    def _verify_handler(self):
        daemon = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self):
                sock = self.request
                sock.settimeout(20)
                answer = b"N"
                try:
                    db_id, user, transport, token = read_verify_request(sock)
                    answer = b"Y" if daemon.check(user, db_id, token, f"mariadb-plugin/{transport}") else b"N"
                except Exception as exc:  # malformed frame: refuse
                    LOG.warning("verify request dropped: %s", type(exc).__name__)
                try:
                    sock.sendall(answer)
                except OSError:
                    pass

        return Handler

    def _control_handler(self):
        daemon = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self):
                line = self.rfile.readline(65536)
                try:
                    request = json.loads(line or b"{}")
                    reply = {"ok": True, "result": daemon.control(request)}
                except Exception as exc:
                    reply = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
                self.wfile.write(json.dumps(reply).encode() + b"\n")

        return Handler

    # -- control ---------------------------------------------------------
    def control(self, request: dict):
        cmd = request.get("cmd")
        if cmd == "ping":
            return {"pid": os.getpid()}
        if cmd == "status":
            status = self.status()
            procutil.write_json_private(self.path("lab.json"), status)
            return status
        if cmd == "maintenance":
            applied = self.cp.maintenance()
            return {"applied": applied}
        if cmd == "refusals":
            return self.verifier.recent_refusals(int(request.get("limit", 20)))
        if cmd == "accepts":
            return self.verifier.recent_accepts(int(request.get("limit", 20)))
        if cmd == "set_clock_offset":
            if not self.test_mode:
                raise PermissionError("set_clock_offset needs a lab started with LAB_TEST_MODE=1")
            self.clock_offset = float(request.get("seconds", 0))
            LOG.info("verifier clock offset set to %+.0f s", self.clock_offset)
            return {"clock_offset": self.clock_offset}
        if cmd == "stop":
            threading.Thread(target=lambda: (time.sleep(0.1), os.kill(os.getpid(), signal.SIGTERM))).start()
            return {"stopping": True}
        raise ValueError(f"unknown command {cmd!r}")

    def status(self) -> dict:
        cp = self.cp
        cfg = self.config
        by_id = {db["id"]: db for db in cfg["databases"]}
        databases = []
        for live in cp.databases():
            own = by_id.get(live["id"], {})
            entry = {
                "id": live["id"], "kind": live["kind"], "engine": live["engine"],
                "host": live["host"], "port": live["port"],
                "admin_user": live["admin_user"], "admin_password": live["admin_password"],
                "resource_id": live.get("resource_id"), "arn": live.get("arn"),
                "resource_arn_prefix": live.get("resource_arn_prefix"),
                "iam_database_authentication_enabled": live.get("iam_database_authentication_enabled"),
                "engine_version": live.get("engine_version"), "endpoint": live.get("endpoint"),
                "status": live.get("status"), "pending": live.get("pending"),
                "server": own.get("server"), "db_name": own.get("db_name"),
            }
            if live.get("reader_endpoint"):
                entry["reader_endpoint"] = live["reader_endpoint"]
            databases.append(entry)
        principals = []
        for p in cp.principals():
            entry = dict(p)
            entry["aws_config_file"] = self.aws_files["config"]
            entry["aws_shared_credentials_file"] = self.aws_files["credentials"]
            entry["env"] = self.aws_files["env"].get(p["name"], p.get("env"))
            principals.append(entry)
        return {
            "running": True,
            "daemon_pid": os.getpid(),
            "started_at": self.started_at,
            "endpoint_url": cp.endpoint_url,
            "region": cp.region,
            "account_id": cp.account_id,
            "access_key": cp.admin_access_key,
            "secret_key": cp.admin_secret_key,
            "admin_profile": self.aws_files.get("admin_profile"),
            "ca_cert": str(self.path("tls") / "ca.pem"),
            "databases": databases,
            "principals": principals,
            "aws_config_dir": str(self.path("aws")),
            "aws_config_file": self.aws_files["config"],
            "aws_shared_credentials_file": self.aws_files["credentials"],
            "state_dir": str(self.state),
            "verifier_log": str(self.path("verifier.log")),
            "daemon_log": str(self.path("daemon.log")),
            "ldap_port": self.ldap.port,
            "test_mode": self.test_mode,
            "clock_offset": self.clock_offset,
        }

    # -- stop ------------------------------------------------------------
    def stop(self) -> None:
        for server in self.servers:
            try:
                server.shutdown()
                server.server_close()
            except Exception:
                pass
        if self.cp is not None:
            self.cp.stop()
        for name in ("verify.sock", "control.sock", "daemon.pid"):
            try:
                self.path(name).unlink()
            except FileNotFoundError:
                pass
        try:
            data = json.loads(self.path("lab.json").read_text())
            data["running"] = False
            procutil.write_json_private(self.path("lab.json"), data)
        except (OSError, ValueError):
            pass
        LOG.info("lab daemon stopped")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="dbauth.rds_iam lab daemon")
    parser.add_argument("--state-dir", required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s",
                        stream=sys.stderr)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    daemon = LabDaemon(Path(args.state_dir))

    stop_event = threading.Event()

    def on_signal(signum, _frame):
        stop_event.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        daemon.start()
    except Exception:
        LOG.exception("lab daemon failed to start")
        daemon.stop()
        return 1
    while not stop_event.wait(1.0):
        pass
    daemon.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
