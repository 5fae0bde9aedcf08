"""The long-running lab process: AWS control plane + token verifier + the endpoints
the database servers ask.

One process (``python -m rds_iam_lab.daemon --state-dir STATE``), started by ``rds-iam-lab up``:

* moto (part A's ``start_control_plane``) on the port kept in ``STATE/config.json``,
  seeded with ``lab-mysql`` (instance, mysql), ``lab-postgres`` (instance, postgres)
  and ``lab-aurora`` (cluster, aurora-postgresql) whose endpoints are the lab's servers;
* ``TokenVerifier`` logging refusals to ``STATE/verifier.log``;
* the LDAP endpoint (thread) that PostgreSQL's ``ldap`` method binds to;
* ``STATE/verify.sock``: the MariaDB plugin's verify requests (``AWSV2`` frames, ``AWSV1`` read too);
* ``STATE/control.sock``: JSON-line control requests from ``rds-iam-lab``
  (``ping``, ``status``, ``maintenance``, ``refusals``, ``add_databases``, ``remove_databases``,
  ``set_clock_offset`` in test mode);
* logical databases (``add_databases``): an RDS instance or cluster of their own in moto
  (own resource id, IAM auth off at creation) whose endpoint is a relay (:mod:`rds_iam_lab.relay`) to
  one of the three servers; they live as long as this process (``rds-iam-lab down`` ends them);
* one EC2 instance metadata endpoint (IMDSv2, :mod:`rds_iam_lab.imds`) per lab host (:mod:`rds_iam_lab.hosts`) on the port
  kept in ``config.json``: each host is an EC2 instance in moto with the instance profile of its role, and
  its endpoint gives out that role's session credentials, rotated before they expire;
* RDS Proxy (:mod:`rds_iam_lab.db_proxy`): a DB proxy created in moto gets a listener of its own (an
  address ``127.2.x.y`` on the port of its engine family, ``proxy_ports`` in ``config.json``) that checks
  the client's IAM token for the proxy's ``prx-`` id and logs in to the target with the proxy's role;
* ``STATE/lab.json`` (0600): what ``rds-iam-lab status --json`` prints; ``STATE/daemon.pid``.

SIGTERM/SIGINT: stop the endpoints and moto, remove the pid file and sockets.
Tokens, secrets and passwords are never logged.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import signal
import socket
import socketserver
import struct
import sys
import threading
import time
from pathlib import Path

from rds_iam_lab import procutil, self_managed_servers

LOG = logging.getLogger("lab.daemon")

MAX_FRAME_FIELD = 64 * 1024


def read_verify_request(sock: socket.socket) -> tuple[str, str, str, str, str]:
    """Frame from the MariaDB plugin -> (db_id, user, transport, client address, token).

    AWSV2: 5 fields; AWSV1 (a plugin built before the client address was sent): 4 fields, address "".
    """
    magic = procutil.recv_exact(sock, 5)
    if magic not in (b"AWSV1", b"AWSV2"):
        raise ValueError("bad magic")
    fields = []
    for _field in range(5 if magic == b"AWSV2" else 4):
        (length,) = struct.unpack(">I", procutil.recv_exact(sock, 4))
        if length > MAX_FRAME_FIELD:
            raise ValueError("field too long")
        fields.append(procutil.recv_exact(sock, length).decode("utf-8", errors="replace") if length else "")
    if magic == b"AWSV1":
        fields.insert(3, "")
    return fields[0], fields[1], fields[2], fields[3], fields[4]


#: Engine of a logical database: (server family, kind) -> the engines RDS would run there (first = default).
LOGICAL_ENGINES = {
    ("mariadb", "instance"): ("mysql", "mariadb"),
    ("mariadb", "cluster"): ("aurora-mysql",),
    ("postgresql", "instance"): ("postgres",),
    ("postgresql", "cluster"): ("aurora-postgresql",),
}
LAB_PROXY = "lab-proxy"
LAB_PROXY_ROLE = "lab-proxy-role"
REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d$")
RDS_IDENTIFIER = re.compile(r"^[A-Za-z](?!.*--)[A-Za-z0-9-]{0,61}[A-Za-z0-9]$|^[A-Za-z]$")


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
        self.relays = None
        self.proxies = None
        self.imds: dict[str, object] = {}  # host -> rds_iam_lab.imds.MetadataServer
        self.logical: dict[str, dict] = {}  # id -> {id, kind, engine, served_by}
        self._logical_lock = threading.Lock()

    # -- helpers ---------------------------------------------------------
    def clock(self) -> float:
        return time.time() + self.clock_offset

    def path(self, name: str) -> Path:
        return self.state / name

    def check(self, user: str, db_id: str, token: str, via: str, dialled: str | None = None) -> bool:
        decision = self.verifier.verify(token, user, db_id, dialled)
        LOG.info("login %s user=%s db=%s dialled=%s via=%s code=%s key=%s",
                 "accepted" if decision.ok else "refused", user, db_id, decision.database, via, decision.code,
                 decision.access_key_id)
        return bool(decision.ok)

    def dialled_by_address(self, client: str) -> str | None:
        """The logical database whose relay connects from `client` (None: the server was dialled directly)."""
        relay = self.relays.by_source(client) if client and self.relays is not None else None
        return relay.name if relay is not None else None

    # -- start -----------------------------------------------------------
    def start(self) -> None:
        from rds_iam_lab.control_plane import DatabaseSpec, start_control_plane
        from rds_iam_lab.ldap_endpoint import LdapServer
        from rds_iam_lab import blue_green
        from rds_iam_lab.relay import RelayHub
        from rds_iam_lab.verifier import TokenVerifier

        cfg = self.config
        specs = [
            DatabaseSpec(id=db["id"], kind=db["kind"], engine=db["engine"], host="127.0.0.1", port=db["port"],
                         admin_user=db["admin_user"], admin_password=db["admin_password"])
            for db in cfg["databases"]
        ]
        self.cp = start_control_plane(specs, region=cfg["region"], port=cfg["moto_port"])
        self.verifier = TokenVerifier(self.cp, clock=self.clock, log_path=self.path("verifier.log"))
        if self.cp.guard is not None:  # the AWS API's refusals (api_auth.py), no secrets
            self.cp.guard.log_path = self.path("api_auth.log")
            if os.environ.get("LAB_API_ACTIONS_LOG"):  # every authorized call: principal, action, resource
                self.cp.guard.actions_log_path = os.environ["LAB_API_ACTIONS_LOG"]
        self.aws_files = self.cp.write_aws_config(self.path("aws"))

        self.relays = RelayHub()
        blue_green.set_hooks(self._green_created, self._switched_over, self._green_deleted)
        self._start_proxies()
        self.ldap = LdapServer(cfg["ldap_port"], lambda u, d, t, dialled: self.check(u, d, t, "ldap", dialled)).start()
        self.servers.append(self.ldap)
        self._start_imds()
        self.servers.append(self._unix_server("verify.sock", self._verify_handler()))
        self.servers.append(self._unix_server("control.sock", self._control_handler()))
        procutil.write_json_private(self.path("lab.json"), self.status())
        procutil.write_private(self.path("daemon.pid"), f"{os.getpid()}\n")
        LOG.info("lab daemon ready: moto %s, ldap %s", self.cp.endpoint_url, self.ldap.port)

    def _start_proxies(self) -> None:
        """The DB proxies' listeners: moto's CreateDBProxy / DeleteDBProxy open and close them."""
        from rds_iam_lab import moto_patches
        from rds_iam_lab.db_proxy import ProxyHub

        self.proxies = ProxyHub(self.cp, self.verifier, str(self.path("tls")), self.config.get("proxy_ports") or {})
        moto_patches.PROXY_LISTENERS.update(add=self.proxies.add, remove=self.proxies.remove)
        self._seed_proxy()

    def _seed_proxy(self) -> None:
        """The lab's own RDS Proxy ``lab-proxy`` in front of lab-postgres, with end-to-end IAM authentication and
        its role ``lab-proxy-role`` (trusted by rds.amazonaws.com, no permission: the data model grants it, as the
        lab's host roles)."""
        import json as _json

        iam, rds = self.cp.client("iam"), self.cp.client("rds")
        trust = {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "rds.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
        role_arn = iam.create_role(RoleName=LAB_PROXY_ROLE, AssumeRolePolicyDocument=_json.dumps(trust),
                                   Description="the lab's RDS Proxy role")["Role"]["Arn"]
        subnets = [s["SubnetId"] for s in self.cp.client("ec2").describe_subnets()["Subnets"]][:2]
        rds.create_db_proxy(DBProxyName=LAB_PROXY, EngineFamily="POSTGRESQL", DefaultAuthScheme="IAM_AUTH",
                            RoleArn=role_arn, VpcSubnetIds=subnets, RequireTLS=True)
        rds.register_db_proxy_targets(DBProxyName=LAB_PROXY, DBInstanceIdentifiers=["lab-postgres"])

    def _start_imds(self) -> None:
        """One EC2 instance (with its role's instance profile) and one metadata endpoint per lab host."""
        from rds_iam_lab import hosts, imds

        for host, principal in hosts.HOSTS.items():
            port = int(self.config.get("hosts", {}).get(host, {}).get("imds_port") or 0)
            instance_id = self.cp.launch_host_instance(host, principal)
            cp = self.cp
            identity = imds.HostIdentity(
                host, lookup=lambda iid=instance_id: cp.instance_identity(iid),
                assume=lambda role, session: cp.assume_instance_role(role, session, imds.SESSION_SECONDS),
                clock=self.clock)
            server = imds.MetadataServer(port, identity, cfg_region(self.config)).start()
            self.imds[host] = server
            self.servers.append(server)
        LOG.info("instance metadata endpoints: %s",
                 ", ".join(f"{h} 127.0.0.1:{s.port}" for h, s in self.imds.items()))

    def hosts_status(self) -> list[dict]:
        from rds_iam_lab import hosts, imds

        info = hosts.read_info(self.state)
        result = []
        for host, server in self.imds.items():
            entry = {"name": host, "mode": info.get("mode", "local"), "principal": hosts.HOSTS[host],
                     "instance_profile": hosts.HOSTS[host]}
            entry.update(info.get("hosts", {}).get(host, {}))
            entry.update(imds.status(server))
            if entry["mode"] == "ssh":
                entry.update(connection="ssh", ssh_host="127.0.0.1", ssh_port=info["ssh_port"],
                             ssh_private_key=info["ssh_private_key"], known_hosts=info["known_hosts"],
                             python=info["python"])
            else:
                entry.update(connection="local", python=None,
                             files_dir=entry.get("files_dir") or str(self.state / "hosts" / host))
            result.append(entry)
        return result

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
                    db_id, user, transport, client, token = read_verify_request(sock)
                    answer = b"Y" if daemon.check(user, db_id, token, f"mariadb-plugin/{transport}",
                                                  daemon.dialled_by_address(client)) else b"N"
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
        if cmd == "add_databases":
            result = self.add_databases(list(request.get("databases") or []))
            procutil.write_json_private(self.path("lab.json"), self.status())
            return result
        if cmd == "remove_databases":
            result = self.remove_databases(list(request.get("ids") or []), bool(request.get("all_logical")))
            procutil.write_json_private(self.path("lab.json"), self.status())
            return result
        if cmd == "api_refusals":
            guard = self.cp.guard
            return guard.recent_refusals(int(request.get("limit", 20))) if guard is not None else []
        if cmd == "expire_session":
            # Ends an assumed-role session now (tests of ExpiredToken): the lab only gets stricter.
            return {"expired": self.cp.expire_session(str(request.get("access_key_id", "")))}
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

    # -- logical databases -------------------------------------------------
    def _check_logical(self, entry: dict, earlier: dict | None = None) -> dict:
        """Validate one add_databases entry -> {id, kind, engine, served_by, replica_of, secondary_of, region}
        (nothing created yet).

        ``replica_of``: a read replica of that DB instance; ``secondary_of`` (with ``region``): a secondary
        cluster of the global database of that Aurora cluster. Either is served by its source's server (its
        data is the source's: RDS user guide, "Working with DB instance read replicas"; Aurora user guide,
        "Using Amazon Aurora Global Database"). ``region``: the AWS Region of the database (default the lab's).
        """
        if not isinstance(entry, dict):
            raise ValueError(f"each database must be a mapping {{id, kind, server}}, not {entry!r}")
        known = ("id", "kind", "server", "engine", "replica_of", "secondary_of", "region")
        unknown = sorted(set(entry) - set(known))
        if unknown:
            raise ValueError(f"unknown key(s) {unknown} in {entry!r} (known: {', '.join(known)})")
        db_id, kind, server = entry.get("id"), entry.get("kind", "instance"), entry.get("server")
        replica_of, secondary_of, region = entry.get("replica_of"), entry.get("secondary_of"), entry.get("region")
        if not isinstance(db_id, str) or not RDS_IDENTIFIER.match(db_id):
            raise ValueError(f"id {db_id!r}: an RDS identifier is 1-63 letters, digits or hyphens, a letter "
                             "first, no hyphen at the end nor two in a row")
        if region is not None and not (isinstance(region, str) and REGION.match(region)):
            raise ValueError(f"{db_id}: region {region!r} is not an AWS Region name such as us-west-2")
        bases = {db["id"]: db for db in self.config["databases"]}
        source = None
        if replica_of is not None and secondary_of is not None:
            raise ValueError(f"{db_id}: give replica_of (a read replica) or secondary_of (a secondary cluster), not both")
        if replica_of is not None:
            if kind != "instance":
                raise ValueError(f"{db_id}: replica_of makes a read replica of a DB instance; kind must be instance")
            source = self._source(db_id, "replica_of", replica_of, "instance", bases, earlier or {})
        if secondary_of is not None:
            if kind != "cluster" or not region:
                raise ValueError(f"{db_id}: a secondary cluster of a global database (secondary_of) is a cluster "
                                 "(kind: cluster) in a region of its own (region)")
            source = self._source(db_id, "secondary_of", secondary_of, "cluster", bases, earlier or {})
        if source is not None:
            if server not in (None, source["served_by"]):
                raise ValueError(f"{db_id}: a replica is served by its source's server {source['served_by']}, "
                                 f"not {server!r}")
            server = source["served_by"]
        if server not in bases:
            raise ValueError(f"{db_id}: server must be one of {sorted(bases)}, not {server!r}")
        if db_id.lower() in {b.lower() for b in bases}:
            raise ValueError(f"{db_id} is one of the lab's servers, not a logical database")
        engines = LOGICAL_ENGINES.get((bases[server]["server"], kind))
        if engines is None:
            raise ValueError(f"{db_id}: kind must be instance or cluster, not {kind!r}")
        engine = entry.get("engine") or (source["engine"] if source is not None else engines[0])
        if engine not in engines:
            raise ValueError(f"{db_id}: a {kind} on {server} runs engine {' or '.join(engines)}, not {engine!r}")
        if source is not None and engine != source["engine"]:
            raise ValueError(f"{db_id}: a replica runs its source's engine {source['engine']}, not {engine!r}")
        return {"id": db_id, "kind": kind, "engine": engine, "served_by": server, "replica_of": replica_of,
                "secondary_of": secondary_of, "region": region}

    def _source(self, db_id: str, key: str, source_id, kind: str, bases: dict, earlier: dict) -> dict:
        """{served_by, engine} of the source (``kind``) of a replica: a lab server, a logical database, or one
        listed before it in the same request (``earlier``)."""
        if source_id in bases and bases[source_id]["kind"] == kind:
            return {"served_by": source_id, "engine": bases[source_id]["engine"]}
        have = (self.logical.get(source_id) or earlier.get(source_id)) if isinstance(source_id, str) else None
        if have is None or have["kind"] != kind:
            raise ValueError(f"{db_id}: {key} {source_id!r} is neither a {kind} server of the lab "
                             f"({', '.join(b for b in bases if bases[b]['kind'] == kind)}) nor a logical "
                             f"{kind} added before it")
        return have

    def add_databases(self, entries: list) -> dict:
        """Create logical databases (idempotent: an existing one with the same kind/server/engine is kept)."""
        from rds_iam_lab.control_plane import DatabaseSpec

        wanted: list[dict] = []
        for entry in entries:
            wanted.append(self._check_logical(entry, {w["id"]: w for w in wanted}))
        ids = [w["id"].lower() for w in wanted]
        if len(ids) != len(set(ids)):
            raise ValueError("the same id is listed twice")
        results = []
        with self._logical_lock:
            for want in wanted:
                have = self.logical.get(want["id"])
                if have is not None and have != want:
                    raise ValueError(f"{want['id']} exists as {have}; remove it first to change it")
                if have is None and self.cp.find_database(want["id"]) is not None:
                    raise ValueError(f"{want['id']} exists in RDS and is not a logical database of the lab")
            touched = set()
            for want in wanted:
                if want["id"] in self.logical:
                    results.append({"id": want["id"], "action": "unchanged"})
                    continue
                base = next(db for db in self.config["databases"] if db["id"] == want["served_by"])
                relay = self.relays.add(want["id"], ("127.0.0.1", base["port"]))
                try:
                    self.cp.add_database(DatabaseSpec(
                        id=want["id"], kind=want["kind"], engine=want["engine"], host="127.0.0.1", port=relay.port,
                        admin_user=base["admin_user"], admin_password=base["admin_password"],
                        db_name=base.get("db_name"), served_by=want["served_by"], replica_of=want["replica_of"],
                        secondary_of=want["secondary_of"], region=want["region"]))
                except BaseException:
                    self.relays.remove(want["id"])
                    raise
                self.logical[want["id"]] = want
                touched.add(want["served_by"])
                results.append({"id": want["id"], "action": "created"})
            self._route_postgres(touched)
        LOG.info("logical databases: %s", ", ".join(f"{r['id']} {r['action']}" for r in results) or "none")
        return {"databases": results}

    def remove_databases(self, ids: list, all_logical: bool = False) -> dict:
        """Delete logical databases (idempotent: an id that is not there is reported absent)."""
        bases = {db["id"].lower() for db in self.config["databases"]}
        for db_id in ids:
            if not isinstance(db_id, str):
                raise ValueError(f"ids must be strings, not {db_id!r}")
            if db_id.lower() in bases:
                raise ValueError(f"{db_id} is one of the lab's servers; only logical databases can be removed")
        results = []
        with self._logical_lock:
            targets = list(self.logical) if all_logical else list(dict.fromkeys(ids))
            # Replicas and secondary clusters first: RDS deletes a read replica before its source ("Deleting a
            # read replica"), a secondary cluster leaves its global database before the primary is deleted.
            targets.sort(key=lambda i: 0 if {"replica_of", "secondary_of"} & {
                k for k, v in (self.logical.get(i) or {}).items() if v} else 1)
            touched = set()
            for db_id in targets:
                have = self.logical.get(db_id)
                if have is None:
                    if self.cp.find_database(db_id) is not None:
                        raise ValueError(f"{db_id} is not a logical database of the lab")
                    results.append({"id": db_id, "action": "absent"})
                    continue
                self.relays.remove(db_id)
                self.cp.remove_database(db_id)
                del self.logical[db_id]
                touched.add(have["served_by"])
                results.append({"id": db_id, "action": "removed"})
            self._route_postgres(touched)
        LOG.info("logical databases: %s", ", ".join(f"{r['id']} {r['action']}" for r in results) or "none")
        return {"databases": results}

    # -- Blue/Green deployments (rds_iam_lab.blue_green calls these from moto's request threads) ----------
    def _green_created(self, source, green) -> None:
        """The green of a new Blue/Green deployment: a logical database on the blue's server, endpoint a relay."""
        from moto.rds.exceptions import InvalidParameterCombination

        from rds_iam_lab import moto_patches
        from rds_iam_lab.control_plane import DatabaseSpec

        blue_id, green_id = source.db_instance_identifier, green.db_instance_identifier
        with self._logical_lock:
            have = self.logical.get(blue_id)
            if have is None:
                raise InvalidParameterCombination(
                    f"the lab runs Blue/Green deployments of its logical databases only, and {blue_id} is one of its "
                    "servers: add a logical database (rds-iam-lab add-databases) and deploy that")
            base = next(db for db in self.config["databases"] if db["id"] == have["served_by"])
            relay = self.relays.add(green_id, ("127.0.0.1", base["port"]))
            moto_patches.set_endpoint_address(green, "127.0.0.1")
            green.port = relay.port
            self.cp.adopt_database(DatabaseSpec(
                id=green_id, kind="instance", engine=green.engine, host="127.0.0.1", port=relay.port,
                admin_user=base["admin_user"], admin_password=base["admin_password"], db_name=base.get("db_name"),
                served_by=have["served_by"]))
            self.logical[green_id] = dict(have, id=green_id)
            self._route_postgres({have["served_by"]})
        LOG.info("blue/green: green %s of %s on relay port %s", green_id, blue_id, relay.port)

    def _switched_over(self, old_blue, new_blue, old_green_id: str) -> None:
        """After a switchover the blue's name and endpoint serve the green; the old blue keeps the old green's
        endpoint under its new name (NAME-old1)."""
        renamed = old_blue.db_instance_identifier
        with self._logical_lock:
            self.relays.rename(old_green_id, renamed)
            self.cp.rename_database(old_green_id, renamed)
            self.logical[renamed] = dict(self.logical.pop(old_green_id), id=renamed)
            self._route_postgres({self.logical[renamed]["served_by"]})
        LOG.info("blue/green: %s now serves %s, the old blue is %s", new_blue.db_instance_identifier,
                 new_blue.dbi_resource_id, renamed)

    def _green_deleted(self, green_id: str) -> None:
        with self._logical_lock:
            have = self.logical.pop(green_id, None)
            self.relays.remove(green_id)
            self.cp.forget_database(green_id)
            if have is not None:
                self._route_postgres({have["served_by"]})

    def _route_postgres(self, server_ids: set) -> None:
        """Give each PostgreSQL server one pg_hba.conf line per relay source address (then reload)."""
        from rds_iam_lab.postgres_server import PostgresServer

        for db in self.config["databases"]:
            if db["id"] not in server_ids or db["server"] != "postgresql":
                continue
            routes = {self.relays.get(i).source_ip: i for i, w in self.logical.items() if w["served_by"] == db["id"]}
            server = PostgresServer(self.state / db["dir"], port=db["port"], db_id=db["id"],
                                    admin_user=db["admin_user"], admin_password=db["admin_password"],
                                    tls=self.tls_paths(), ldap_port=self.config["ldap_port"])
            server.set_logical_routes(routes)

    def tls_paths(self) -> dict:
        return {k: str(self.state / "tls" / f) for k, f in
                (("ca_cert", "ca.pem"), ("server_cert", "server.pem"), ("server_key", "server.key"))}

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
                "status": live.get("status"), "pending": live.get("pending"), "region": live.get("region"),
                "server": own.get("server"), "db_name": own.get("db_name"),
                "logical": live["id"] in self.logical,
            }
            if entry["logical"]:
                base = by_id[live["served_by"]]
                entry.update(server=base["server"], db_name=live.get("db_name"), served_by=live["served_by"])
            if live.get("reader_endpoint"):
                entry["reader_endpoint"] = live["reader_endpoint"]
            for key in ("replica_of", "secondary_of", "global_cluster"):
                if live.get(key):
                    entry[key] = live[key]
            if live.get("read_replicas"):
                entry["read_replicas"] = live["read_replicas"]
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
            "hosts": self.hosts_status(),
            "proxy_ports": self.config.get("proxy_ports") or {},
            "proxies": self.proxies.status() if self.proxies is not None else [],
            "aws_config_dir": str(self.path("aws")),
            "aws_config_file": self.aws_files["config"],
            "aws_shared_credentials_file": self.aws_files["credentials"],
            "state_dir": str(self.state),
            "verifier_log": str(self.path("verifier.log")),
            "api_auth_log": str(self.path("api_auth.log")),
            "daemon_log": str(self.path("daemon.log")),
            "ldap_port": self.ldap.port,
            # the plain servers (no IAM of the lab's on them) for the collection's self_managed role
            "self_managed": self_managed_servers.describe(self.state, cfg, self.tls_paths()),
            "test_mode": self.test_mode,
            "clock_offset": self.clock_offset,
        }

    # -- stop ------------------------------------------------------------
    def stop(self) -> None:
        from rds_iam_lab import blue_green

        blue_green.set_hooks()
        if self.relays is not None:
            self.relays.stop()
        if self.proxies is not None:
            self.proxies.stop()
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
            # logical databases live in this process only
            data["databases"] = [db for db in data.get("databases", []) if not db.get("logical")]
            procutil.write_json_private(self.path("lab.json"), data)
        except (OSError, ValueError):
            pass
        LOG.info("lab daemon stopped")


def cfg_region(cfg: dict) -> str:
    return cfg.get("region") or "us-east-1"


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
