"""The lab's RDS Proxy: a real TCP proxy for each DB proxy created in moto.

What it does follows the RDS user guide ("Setting up IAM authentication for RDS Proxy",
"Connecting to a database through RDS Proxy", "end-to-end IAM authentication" (Sept 2025)
and "Migrating from standard IAM authentication to end-to-end IAM authentication for RDS Proxy"):

* each proxy listens on an address of its own (``127.2.x.y``, its ``Endpoint``) and on the lab's port
  of its engine family (RDS Proxy listens on the engine's port; the lab's ports are kept in
  ``config.json`` as ``proxy_ports``), with a certificate of the lab CA for that address;
* a client speaks PostgreSQL or MySQL to it. With ``RequireTLS`` true the client must start TLS.
  The proxy asks for the password in clear text (PostgreSQL ``AuthenticationCleartextPassword``;
  MySQL an auth switch to ``mysql_clear_password``), as RDS Proxy does for IAM logins;
* when ``DefaultAuthScheme`` is ``IAM_AUTH`` or the user's ``Auth`` entry has ``IAMAuth`` ``REQUIRED``
  the password must be an IAM token signed for the proxy endpoint, which the lab's verifier checks
  against the proxy's ``prx-`` resource id (``rds-db:connect`` on
  ``arn:aws:rds-db:REGION:ACCOUNT:dbuser:prx-ID/USER``); otherwise it must be the secret's password;
* the proxy then logs in to its registered target with the proxy's IAM role (assumed as the
  ``rds.amazonaws.com`` service, which the role's trust policy must allow): with ``IAM_AUTH`` it signs a
  token of its own for the target endpoint (the role needs ``rds-db:connect`` on the target's user,
  and the target's IAM authentication must be on, or the target refuses it as RDS would); otherwise it
  reads the user's Secrets Manager secret with the role (``secretsmanager:GetSecretValue``, checked by
  the lab's AWS API) and logs in with its password;
* then it relays bytes both ways until either side closes. Handshakes have a timeout; a refusal is
  an error message to the client (no token, no password in it or in the logs).

One thread per listener and one per connection; the daemon stops them all on ``down``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import json
import logging
import os
import select
import socket
import ssl
import struct
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from rds_iam_lab.procutil import recv_exact

LOG = logging.getLogger("lab.proxy")

ADDRESS_NETWORK = ipaddress.ip_network("127.2.0.0/16")
HANDSHAKE_TIMEOUT = 20.0
IDLE_POLL = 1.0
CHUNK = 65536
SERVICE_PRINCIPAL = "rds.amazonaws.com"
SESSION_SECONDS = 3600

PG_SSL_REQUEST = 80877103
PG_GSSENC_REQUEST = 80877104
PG_CANCEL_REQUEST = 80877102
PG_PROTOCOL_3 = 196608

# MySQL capability flags (MySQL source documentation, "Capabilities Flags").
CLIENT_LONG_PASSWORD = 0x1
CLIENT_FOUND_ROWS = 0x2
CLIENT_LONG_FLAG = 0x4
CLIENT_CONNECT_WITH_DB = 0x8
CLIENT_PROTOCOL_41 = 0x200
CLIENT_INTERACTIVE = 0x400
CLIENT_SSL = 0x800
CLIENT_TRANSACTIONS = 0x2000
CLIENT_SECURE_CONNECTION = 0x8000
CLIENT_MULTI_STATEMENTS = 0x10000
CLIENT_MULTI_RESULTS = 0x20000
CLIENT_PS_MULTI_RESULTS = 0x40000
CLIENT_PLUGIN_AUTH = 0x80000
CLIENT_CONNECT_ATTRS = 0x100000
CLIENT_PLUGIN_AUTH_LENENC = 0x200000
# What the proxy offers its clients: no compression, no deprecated EOF, no session tracking, so that
# the packets that follow the login mean the same to the client and to the target.
PROXY_CAPABILITIES = (CLIENT_LONG_PASSWORD | CLIENT_FOUND_ROWS | CLIENT_LONG_FLAG | CLIENT_CONNECT_WITH_DB
                      | CLIENT_PROTOCOL_41 | CLIENT_INTERACTIVE | CLIENT_SSL | CLIENT_TRANSACTIONS
                      | CLIENT_SECURE_CONNECTION | CLIENT_MULTI_STATEMENTS | CLIENT_MULTI_RESULTS
                      | CLIENT_PS_MULTI_RESULTS | CLIENT_PLUGIN_AUTH | CLIENT_CONNECT_ATTRS
                      | CLIENT_PLUGIN_AUTH_LENENC)


class Refused(Exception):
    """A login the proxy refuses; the message goes to the client (never a secret)."""


@dataclass
class Listener:
    name: str
    family: str
    address: str
    port: int
    sock: socket.socket
    context: ssl.SSLContext
    connections: set = field(default_factory=set)


# -- small protocol helpers ---------------------------------------------------------------

def pg_message(kind: bytes, body: bytes) -> bytes:
    return kind + struct.pack("!I", len(body) + 4) + body


def pg_read_message(sock: socket.socket) -> tuple[bytes, bytes]:
    kind = recv_exact(sock, 1)
    (length,) = struct.unpack("!I", recv_exact(sock, 4))
    if not 4 <= length <= 1 << 20:
        raise ConnectionError("bad PostgreSQL message length")
    return kind, recv_exact(sock, length - 4)


def pg_error(message: str, code: str = "28000") -> bytes:
    fields = b"SFATAL\0VFATAL\0C" + code.encode() + b"\0M" + message.encode() + b"\0\0"
    return pg_message(b"E", fields)


def pg_startup_params(body: bytes) -> dict[str, str]:
    items = body[4:].split(b"\0")
    return {items[i].decode(): items[i + 1].decode() for i in range(0, len(items) - 1, 2) if items[i]}


def my_packet(seq: int, payload: bytes) -> bytes:
    return struct.pack("<I", len(payload))[:3] + bytes([seq & 0xFF]) + payload


def my_read_packet(sock: socket.socket) -> tuple[int, bytes]:
    header = recv_exact(sock, 4)
    length = int.from_bytes(header[:3], "little")
    return header[3], recv_exact(sock, length)


def my_error(seq: int, message: str, code: int = 1045) -> bytes:
    return my_packet(seq, b"\xff" + struct.pack("<H", code) + b"#28000" + message.encode())


def _cstring(data: bytes, pos: int) -> tuple[bytes, int]:
    end = data.index(b"\0", pos)
    return data[pos:end], end + 1


def _lenenc(data: bytes, pos: int) -> tuple[int, int]:
    first = data[pos]
    if first < 0xFB:
        return first, pos + 1
    size = {0xFC: 2, 0xFD: 3, 0xFE: 8}[first]
    return int.from_bytes(data[pos + 1:pos + 1 + size], "little"), pos + 1 + size


def native_password(password: bytes, scramble: bytes) -> bytes:
    """mysql_native_password: SHA1(password) XOR SHA1(scramble + SHA1(SHA1(password)))."""
    stage1 = hashlib.sha1(password).digest()
    stage2 = hashlib.sha1(stage1).digest()
    mask = hashlib.sha1(scramble + stage2).digest()
    return bytes(a ^ b for a, b in zip(stage1, mask))


@dataclass
class MySQLLogin:
    """What a MySQL client sent in its HandshakeResponse41."""
    capabilities: int
    charset: int
    user: str
    database: bytes | None
    attributes: bytes
    plugin: str
    auth_response: bytes


def parse_handshake_response(payload: bytes) -> MySQLLogin:
    caps, _max_packet, charset = struct.unpack("<IIB", payload[:9])
    pos = 32
    user, pos = _cstring(payload, pos)
    if caps & CLIENT_PLUGIN_AUTH_LENENC:
        size, pos = _lenenc(payload, pos)
    elif caps & CLIENT_SECURE_CONNECTION:
        size, pos = payload[pos], pos + 1
    else:
        end = payload.index(b"\0", pos)
        size = end - pos
    auth, pos = payload[pos:pos + size], pos + size
    database = None
    if caps & CLIENT_CONNECT_WITH_DB and pos < len(payload):
        database, pos = _cstring(payload, pos)
    plugin = b""
    if caps & CLIENT_PLUGIN_AUTH and pos < len(payload):
        plugin, pos = _cstring(payload, pos)
    attributes = payload[pos:] if caps & CLIENT_CONNECT_ATTRS else b""
    return MySQLLogin(caps, charset, user.decode("utf-8", "replace"), database, attributes,
                      plugin.decode("ascii", "replace"), auth)


# -- the hub ------------------------------------------------------------------------------

class ProxyHub:
    """Listeners of the lab's DB proxies; ``add``/``remove`` are moto_patches.PROXY_LISTENERS."""

    def __init__(self, control_plane: Any, verifier: Any, tls_dir: str, ports: dict[str, int]):
        self.cp = control_plane
        self.verifier = verifier
        self.tls_dir = tls_dir
        self.ca_cert = os.path.join(tls_dir, "ca.pem")
        self.ports = dict(ports)
        self._listeners: dict[str, Listener] = {}
        self._lock = threading.Lock()
        self._sessions: dict[str, dict[str, Any]] = {}
        self._stopping = threading.Event()

    # public -----------------------------------------------------------------------
    def add(self, proxy: Any) -> str:
        """Listen for ``proxy`` (moto's DBProxy) on an address of its own; returns the address."""
        family = proxy.engine_family
        if family not in self.ports:
            raise ValueError(f"the lab has no proxy port for engine family {family}")
        from rds_iam_lab.tls import ensure_endpoint_cert

        with self._lock:
            used = {entry.address for entry in self._listeners.values()}
            address = next(str(ip) for ip in ADDRESS_NETWORK.hosts() if str(ip) not in used)
            paths = ensure_endpoint_cert(self.tls_dir, f"proxy-{proxy.db_proxy_name}", address)
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.minimum_version = ssl.TLSVersion.TLSv1_2
            context.load_cert_chain(paths["cert"], paths["key"])
            sock = socket.create_server((address, self.ports[family]))
            listener = Listener(proxy.db_proxy_name, family, address, self.ports[family], sock, context)
            self._listeners[proxy.db_proxy_name] = listener
        threading.Thread(target=self._accept, args=(listener,), name=f"lab-proxy-{listener.name}",
                         daemon=True).start()
        LOG.info("proxy %s (%s): %s:%s", listener.name, family, address, listener.port)
        return address

    def remove(self, name: str) -> None:
        with self._lock:
            listener = self._listeners.pop(name, None)
        if listener is not None:
            self._close_listener(listener)
            LOG.info("proxy %s removed", name)

    def status(self) -> list[dict[str, Any]]:
        with self._lock:
            return [{"name": entry.name, "engine_family": entry.family, "address": entry.address,
                     "port": entry.port, "connections": len(entry.connections) // 2}
                    for entry in self._listeners.values()]

    def stop(self) -> None:
        self._stopping.set()
        with self._lock:
            listeners = list(self._listeners.values())
            self._listeners.clear()
        for listener in listeners:
            self._close_listener(listener)

    # internals ----------------------------------------------------------------------
    @staticmethod
    def _close_listener(listener: Listener) -> None:
        for sock in [listener.sock, *list(listener.connections)]:
            try:
                sock.close()
            except OSError:
                pass

    def _accept(self, listener: Listener) -> None:
        while not self._stopping.is_set():
            try:
                client, _peer = listener.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(listener, client), name=f"lab-proxy-{listener.name}-conn",
                             daemon=True).start()

    def _proxy(self, name: str) -> Any:
        proxy = self.cp.rds_backend.db_proxies.get(name)
        if proxy is None:
            raise Refused(f"DB proxy {name} no longer exists")
        return proxy

    def _serve(self, listener: Listener, client: socket.socket) -> None:
        upstream = None
        listener.connections.add(client)
        try:
            client.settimeout(HANDSHAKE_TIMEOUT)
            if listener.family == "POSTGRESQL":
                client, upstream = self._postgres(listener, client)
            else:
                client, upstream = self._mysql(listener, client)
            if upstream is None:
                return
            listener.connections.update((client, upstream))
            self._relay(client, upstream)
        except (OSError, ConnectionError, ValueError, ssl.SSLError) as exc:
            LOG.info("proxy %s: connection ended: %s", listener.name, type(exc).__name__)
        except Exception:  # one connection must never stop the proxy
            LOG.exception("proxy %s: connection failed", listener.name)
        finally:
            for sock in (client, upstream):
                if sock is not None:
                    listener.connections.discard(sock)
                    try:
                        sock.close()
                    except OSError:
                        pass

    def _relay(self, client: socket.socket, upstream: socket.socket) -> None:
        """Copy bytes both ways until one side closes (TLS sockets: drain what is decrypted)."""
        for sock in (client, upstream):
            sock.settimeout(None)
        peers = {client: upstream, upstream: client}
        while not self._stopping.is_set():
            # bytes TLS has decrypted already do not make the socket readable for select
            readable = [sock for sock in peers if isinstance(sock, ssl.SSLSocket) and sock.pending()]
            if not readable:
                readable, _w, _x = select.select(list(peers), [], [], IDLE_POLL)
            for sock in readable:
                while True:
                    data = sock.recv(CHUNK)
                    if not data:
                        return
                    peers[sock].sendall(data)
                    if not (isinstance(sock, ssl.SSLSocket) and sock.pending()):
                        break

    # -- who may log in, and how the proxy logs in to the target ------------------------
    def _login(self, listener: Listener, user: str, password: str) -> tuple[Any, str, str, tuple[str, int]]:
        """Check the client's password for ``user``; -> (proxy, how, credential, target endpoint) where how is
        ``iam`` (credential: a token of the proxy's role) or ``password`` (the secret's password)."""
        proxy = self._proxy(listener.name)
        iam_auth = getattr(proxy, "default_auth_scheme", "NONE") == "IAM_AUTH"
        secret = None if iam_auth else self._secret_for(proxy, user)
        entry = secret[0] if secret else None
        iam_required = iam_auth or (entry is not None and entry.get("IAMAuth") == "REQUIRED")
        if iam_required:
            decision = self.verifier.verify_proxy(password, user, proxy, (listener.address, listener.port), True)
            LOG.info("proxy %s login %s user=%s code=%s key=%s", proxy.db_proxy_name,
                     "accepted" if decision.ok else "refused", user, decision.code, decision.access_key_id)
            if not decision.ok:
                raise Refused(f"IAM authentication failed for user \"{user}\" (proxy {proxy.db_proxy_name})")
        elif secret is None or not hmac.compare_digest(password.encode(), str(secret[1].get("password", "")).encode()):
            raise Refused(f"password authentication failed for user \"{user}\" (proxy {proxy.db_proxy_name})")
        host, port = self._target(proxy)
        if iam_auth:
            access_key, secret_key, session_token = self._role_session(proxy)
            rds = self.cp.client("rds", access_key, secret_key, session_token)
            token = rds.generate_db_auth_token(DBHostname=host, Port=port, DBUsername=user, Region=self.cp.region)
            return proxy, "iam", token, (host, port)
        if secret is None:
            raise Refused(f"no secret of proxy {proxy.db_proxy_name} is for user \"{user}\"")
        return proxy, "password", str(secret[1].get("password", "")), (host, port)

    def _secret_for(self, proxy: Any, user: str) -> tuple[dict, dict] | None:
        """(Auth entry, secret value) of the proxy's secret for ``user``, read with the proxy's role
        (RDS user guide, "Setting up database credentials in AWS Secrets Manager for RDS Proxy": the secret
        holds username and password; the proxy's role needs secretsmanager:GetSecretValue)."""
        entries = [e for e in proxy.auth or [] if e.get("SecretArn")]
        if not entries:
            return None
        access_key, secret_key, session_token = self._role_session(proxy)
        client = self.cp.client("secretsmanager", access_key, secret_key, session_token)
        for entry in entries:
            if entry.get("UserName") and entry["UserName"] != user:
                continue
            try:
                value = json.loads(client.get_secret_value(SecretId=entry["SecretArn"])["SecretString"])
            except Exception as exc:  # AccessDenied, ResourceNotFound, not JSON: this secret cannot be used
                LOG.info("proxy %s: secret unusable: %s", proxy.db_proxy_name, type(exc).__name__)
                continue
            if value.get("username") == user:
                return entry, value
        return None

    def _role_session(self, proxy: Any) -> tuple[str, str, str]:
        """Credentials of the proxy's role, assumed as the RDS service (the role's trust policy must allow
        ``rds.amazonaws.com`` to call sts:AssumeRole: RDS user guide, "Setting up IAM authentication for RDS
        Proxy"); renewed when fewer than 5 minutes are left."""
        with self._lock:
            cached = self._sessions.get(proxy.role_arn)
            if cached and cached["expires"] - time.time() > 300:
                return cached["creds"]
        iam = self.cp.iam_backend
        try:
            role = iam.get_role_by_arn(proxy.role_arn)
        except Exception:
            raise Refused(f"the IAM role of proxy {proxy.db_proxy_name} does not exist") from None
        if not service_may_assume(role.assume_role_policy_document, SERVICE_PRINCIPAL):
            raise Refused(f"the IAM role of proxy {proxy.db_proxy_name} does not trust {SERVICE_PRINCIPAL}")
        assumed = self.cp.sts_backend.assume_role(
            region_name=self.cp.region, role_session_name=f"rds-proxy-{proxy.db_proxy_name}"[:64],
            role_arn=role.arn, policy="", duration=SESSION_SECONDS, external_id="")
        creds = (assumed.access_key_id, assumed.secret_access_key, assumed.session_token)
        with self._lock:
            self._sessions[proxy.role_arn] = {"creds": creds, "expires": time.time() + SESSION_SECONDS}
        return creds

    def _target(self, proxy: Any) -> tuple[str, int]:
        """The endpoint of the proxy's registered target (an instance, or a cluster's writer)."""
        groups = getattr(proxy, "proxy_target_groups", {}) or {}
        targets = list(getattr(groups.get("default"), "targets", []) or [])
        if not targets:
            raise Refused(f"DB proxy {proxy.db_proxy_name} has no registered target")
        endpoints = self.cp.endpoints(targets[0].rds_resource_id)
        if not endpoints:
            raise Refused(f"the target of DB proxy {proxy.db_proxy_name} no longer exists")
        return endpoints[0]

    def _upstream_tls(self, sock: socket.socket, host: str) -> ssl.SSLSocket:
        context = ssl.create_default_context(cafile=self.ca_cert)
        return context.wrap_socket(sock, server_hostname=host)

    # -- PostgreSQL -----------------------------------------------------------------------
    def _postgres(self, listener: Listener, client: socket.socket) -> tuple[socket.socket, socket.socket | None]:
        tls = False
        while True:
            (length,) = struct.unpack("!I", recv_exact(client, 4))
            if not 8 <= length <= 10000:
                raise ValueError("bad startup packet length")
            body = recv_exact(client, length - 4)
            (code,) = struct.unpack("!I", body[:4])
            if code == PG_SSL_REQUEST and not tls:
                client.sendall(b"S")
                client = listener.context.wrap_socket(client, server_side=True)
                tls = True
            elif code in (PG_SSL_REQUEST, PG_GSSENC_REQUEST):
                client.sendall(b"N")
            elif code == PG_PROTOCOL_3:
                break
            else:  # CancelRequest and anything else: not served by the lab's proxy
                return client, None
        params = pg_startup_params(body)
        user = params.get("user", "")
        if not tls and self._proxy(listener.name).require_tls:
            client.sendall(pg_error("this proxy requires TLS (RequireTLS)"))
            return client, None
        client.sendall(pg_message(b"R", struct.pack("!I", 3)))  # AuthenticationCleartextPassword
        kind, message = pg_read_message(client)
        if kind != b"p":
            raise ValueError("expected a password message")
        password = message.rstrip(b"\0").decode("utf-8", "replace")
        try:
            proxy, how, credential, (host, port) = self._login(listener, user, password)
            upstream, authentication_ok = self._postgres_upstream(proxy, how, credential, host, port, body)
        except Refused as refusal:
            client.sendall(pg_error(str(refusal), "28P01"))
            return client, None
        client.sendall(authentication_ok)
        return client, upstream

    def _postgres_upstream(self, proxy: Any, how: str, credential: str, host: str, port: int,
                           startup: bytes) -> tuple[socket.socket, bytes]:
        sock = socket.create_connection((host, port), timeout=HANDSHAKE_TIMEOUT)
        try:
            sock.sendall(struct.pack("!II", 8, PG_SSL_REQUEST))
            if recv_exact(sock, 1) != b"S":
                raise Refused(f"the target of proxy {proxy.db_proxy_name} does not offer TLS")
            sock = self._upstream_tls(sock, host)
            sock.sendall(struct.pack("!I", len(startup) + 4) + startup)
            scram = None
            while True:
                kind, body = pg_read_message(sock)
                if kind == b"E":
                    raise Refused(f"the target refused the proxy's login ({how}): " + _pg_error_text(body))
                if kind != b"R":
                    raise Refused("unexpected message from the target during login")
                (code,) = struct.unpack("!I", body[:4])
                if code == 0:  # AuthenticationOk: the client gets it, and then everything that follows
                    return sock, pg_message(b"R", body)
                if code == 3:
                    sock.sendall(pg_message(b"p", credential.encode() + b"\0"))
                elif code == 5:
                    user = _startup_user(startup)
                    inner = hashlib.md5(credential.encode() + user.encode()).hexdigest().encode()
                    digest = b"md5" + hashlib.md5(inner + body[4:8]).hexdigest().encode()
                    sock.sendall(pg_message(b"p", digest + b"\0"))
                elif code == 10:
                    if b"SCRAM-SHA-256" not in body[4:].split(b"\0"):
                        raise Refused("the target offers no SCRAM-SHA-256")
                    scram = ScramClient(credential)
                    first = scram.first()
                    sock.sendall(pg_message(b"p", b"SCRAM-SHA-256\0" + struct.pack("!I", len(first)) + first))
                elif code == 11 and scram is not None:
                    sock.sendall(pg_message(b"p", scram.final(body[4:])))
                elif code == 12 and scram is not None:
                    scram.check_server(body[4:])
                else:
                    raise Refused(f"the target asks for an authentication the proxy does not speak ({code})")
        except BaseException:
            sock.close()
            raise

    # -- MySQL / MariaDB ----------------------------------------------------------------
    def _mysql(self, listener: Listener, client: socket.socket) -> tuple[socket.socket, socket.socket | None]:
        scramble = os.urandom(20).replace(b"\0", b"\1")
        greeting = (b"\x0a" + b"8.0.40-lab-rds-proxy\0" + struct.pack("<I", threading.get_ident() & 0x7FFFFFFF)
                    + scramble[:8] + b"\0" + struct.pack("<H", PROXY_CAPABILITIES & 0xFFFF) + bytes([45])
                    + struct.pack("<H", 0x0002) + struct.pack("<H", PROXY_CAPABILITIES >> 16) + bytes([21])
                    + b"\0" * 10 + scramble[8:] + b"\0" + b"mysql_native_password\0")
        client.sendall(my_packet(0, greeting))
        seq, payload = my_read_packet(client)
        (caps,) = struct.unpack("<I", payload[:4])
        tls = False
        if caps & CLIENT_SSL and len(payload) == 32:  # SSLRequest, then the real response over TLS
            client = listener.context.wrap_socket(client, server_side=True)
            tls = True
            seq, payload = my_read_packet(client)
        login = parse_handshake_response(payload)
        if not tls and self._proxy(listener.name).require_tls:
            client.sendall(my_error(seq + 1, "this proxy requires TLS (RequireTLS)"))
            return client, None
        if login.plugin == "mysql_clear_password":
            password = login.auth_response.rstrip(b"\0")
        else:  # ask for the password in clear text, as RDS Proxy does for IAM logins
            client.sendall(my_packet(seq + 1, b"\xfemysql_clear_password\0"))
            seq, password = my_read_packet(client)
            password = password.rstrip(b"\0")
        try:
            proxy, how, credential, (host, port) = self._login(listener, login.user, password.decode("utf-8", "replace"))
            upstream, final = self._mysql_upstream(proxy, how, credential, host, port, login)
        except Refused as refusal:
            client.sendall(my_error(seq + 1, str(refusal)))
            return client, None
        client.sendall(my_packet(seq + 1, final))
        if final[:1] == b"\xff":
            upstream.close()
            return client, None
        return client, upstream

    def _mysql_upstream(self, proxy: Any, how: str, credential: str, host: str, port: int,
                        login: MySQLLogin) -> tuple[socket.socket, bytes]:
        sock = socket.create_connection((host, port), timeout=HANDSHAKE_TIMEOUT)
        try:
            _seq, greeting = my_read_packet(sock)
            if greeting[:1] == b"\xff":
                raise Refused("the target refused the connection")
            version_end = greeting.index(b"\0", 1)
            pos = version_end + 1 + 4
            scramble = greeting[pos:pos + 8]
            pos += 9
            caps = struct.unpack("<H", greeting[pos:pos + 2])[0]
            caps |= struct.unpack("<H", greeting[pos + 5:pos + 7])[0] << 16
            auth_len = greeting[pos + 7]
            pos += 18
            rest = max(13, auth_len - 8)
            scramble += greeting[pos:pos + rest - 1]
            if not caps & CLIENT_SSL:
                raise Refused(f"the target of proxy {proxy.db_proxy_name} does not offer TLS")
            ours = (login.capabilities & caps & PROXY_CAPABILITIES) | CLIENT_SSL | CLIENT_PROTOCOL_41 \
                | CLIENT_SECURE_CONNECTION | CLIENT_PLUGIN_AUTH
            if login.database is None:
                ours &= ~CLIENT_CONNECT_WITH_DB
            head = struct.pack("<IIB", ours, 1 << 24, login.charset) + b"\0" * 23
            sock.sendall(my_packet(1, head))
            sock = self._upstream_tls(sock, host)
            secret = credential.encode()
            answer = native_password(secret, scramble[:20]) if how == "password" else b""
            body = head + login.user.encode() + b"\0"
            body += (bytes([len(answer)]) + answer) if not ours & CLIENT_PLUGIN_AUTH_LENENC else _lenenc_bytes(answer)
            if ours & CLIENT_CONNECT_WITH_DB:
                body += login.database + b"\0"
            body += b"mysql_native_password\0"
            if ours & CLIENT_CONNECT_ATTRS:
                body += login.attributes
            sock.sendall(my_packet(2, body))
            while True:
                seq, packet = my_read_packet(sock)
                if packet[:1] in (b"\x00", b"\xff"):
                    sock.settimeout(HANDSHAKE_TIMEOUT)
                    return sock, packet
                if packet[:1] != b"\xfe":
                    raise Refused("unexpected packet from the target during login")
                plugin, pos = _cstring(packet, 1)
                data = packet[pos:].rstrip(b"\0")
                if plugin == b"mysql_clear_password":
                    sock.sendall(my_packet(seq + 1, secret + b"\0"))
                elif plugin == b"mysql_native_password":
                    sock.sendall(my_packet(seq + 1, native_password(secret, data[:20]) if how == "password" else b""))
                else:
                    raise Refused(f"the target asks for {plugin.decode(errors='replace')}, which the proxy does not speak")
        except BaseException:
            sock.close()
            raise


def _lenenc_bytes(data: bytes) -> bytes:
    return bytes([len(data)]) + data if len(data) < 0xFB else b"\xfc" + struct.pack("<H", len(data)) + data


def _startup_user(startup: bytes) -> str:
    return pg_startup_params(startup).get("user", "")


def _pg_error_text(body: bytes) -> str:
    for part in body.split(b"\0"):
        if part[:1] == b"M":
            return part[1:].decode("utf-8", "replace")
    return "error"


class ScramClient:
    """SCRAM-SHA-256 (RFC 7677, PostgreSQL "SASL Authentication"), without channel binding."""

    def __init__(self, password: str):
        self.password = password.encode()
        self.nonce = base64.b64encode(os.urandom(18)).decode()
        self.first_bare = f"n=,r={self.nonce}"
        self.server_signature = b""

    def first(self) -> bytes:
        return ("n,," + self.first_bare).encode()

    def final(self, server_first: bytes) -> bytes:
        fields = dict(item.split("=", 1) for item in server_first.decode().split(","))
        if not fields["r"].startswith(self.nonce):
            raise Refused("SCRAM: the server's nonce does not extend the client's")
        salted = hashlib.pbkdf2_hmac("sha256", self.password, base64.b64decode(fields["s"]), int(fields["i"]))
        client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
        stored_key = hashlib.sha256(client_key).digest()
        without_proof = f"c=biws,r={fields['r']}"
        auth_message = f"{self.first_bare},{server_first.decode()},{without_proof}".encode()
        signature = hmac.new(stored_key, auth_message, hashlib.sha256).digest()
        proof = bytes(a ^ b for a, b in zip(client_key, signature))
        server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
        self.server_signature = hmac.new(server_key, auth_message, hashlib.sha256).digest()
        return f"{without_proof},p={base64.b64encode(proof).decode()}".encode()

    def check_server(self, server_final: bytes) -> None:
        text = server_final.decode()
        if not text.startswith("v=") or not hmac.compare_digest(base64.b64decode(text[2:]), self.server_signature):
            raise Refused("SCRAM: the server's signature does not match")


def service_may_assume(document: Any, service: str) -> bool:
    """Whether a role's trust policy lets ``service`` call sts:AssumeRole (IAM user guide, "AWS JSON policy
    elements: Principal", service principals; an explicit Deny wins)."""
    if isinstance(document, str):
        from urllib.parse import unquote

        try:
            document = json.loads(document)
        except ValueError:
            document = json.loads(unquote(document))
    statements = document.get("Statement", [])
    statements = statements if isinstance(statements, list) else [statements]
    allowed = False
    for statement in statements:
        principal = statement.get("Principal") or {}
        services = principal.get("Service", []) if isinstance(principal, dict) else []
        services = [services] if isinstance(services, str) else services
        actions = statement.get("Action", [])
        actions = [actions] if isinstance(actions, str) else actions
        if service in services and any(a in ("sts:AssumeRole", "sts:*", "*") for a in actions):
            if statement.get("Effect") == "Deny":
                return False
            allowed = allowed or statement.get("Effect") == "Allow"
    return allowed
