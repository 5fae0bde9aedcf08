"""A minimal LDAP v3 endpoint on loopback, just enough for PostgreSQL's ``ldap`` auth.

PostgreSQL (simple-bind mode: ``ldapprefix="cn=" ldapsuffix=",dc=DB_ID,dc=lab"``)
sends one BindRequest with DN ``cn=USER,dc=DB_ID,dc=lab`` and the login password
(the IAM token) as the simple credentials, then an UnbindRequest. This server
decodes those two operations (BER), asks ``check(user, db_id, password, dialled)`` and
answers a BindResponse with success (0) or invalidCredentials (49). Anything else
is answered with protocolError/unwillingToPerform, or the connection is closed.

A logical database served by that PostgreSQL server (reached through its relay,
:mod:`rds_iam_lab.relay`) has its own ``pg_hba.conf`` line whose suffix also names it:
``cn=USER,dc=DB_ID,ou=LOGICAL_ID,dc=lab`` -> ``dialled`` = LOGICAL_ID (None otherwise).
The DN is read from the right: the parts the server's configuration adds come
last, so a login name cannot pose as them.
"""

from __future__ import annotations

import logging
import socket
import socketserver
import threading
from typing import Callable

LOG = logging.getLogger("lab.ldap")

MAX_MESSAGE = 64 * 1024

TAG_SEQUENCE = 0x30
TAG_INTEGER = 0x02
TAG_OCTET_STRING = 0x04
TAG_ENUMERATED = 0x0A
TAG_BIND_REQUEST = 0x60  # [APPLICATION 0] constructed
TAG_BIND_RESPONSE = 0x61  # [APPLICATION 1] constructed
TAG_UNBIND_REQUEST = 0x42  # [APPLICATION 2] primitive
TAG_EXTENDED_REQUEST = 0x77  # [APPLICATION 23]
TAG_EXTENDED_RESPONSE = 0x78
TAG_SIMPLE_AUTH = 0x80  # [0] primitive

SUCCESS = 0
PROTOCOL_ERROR = 2
AUTH_METHOD_NOT_SUPPORTED = 7
INVALID_DN_SYNTAX = 34
INVALID_CREDENTIALS = 49
UNWILLING_TO_PERFORM = 53


class BerError(ValueError):
    pass


# -- BER ----------------------------------------------------------------------
def encode_length(length: int) -> bytes:
    if length < 0x80:
        return bytes([length])
    body = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def encode(tag: int, value: bytes) -> bytes:
    return bytes([tag]) + encode_length(len(value)) + value


def encode_int(value: int, tag: int = TAG_INTEGER) -> bytes:
    length = max(1, (value.bit_length() + 8) // 8)
    return encode(tag, value.to_bytes(length, "big", signed=True))


def decode_tlv(data: bytes, pos: int = 0) -> tuple[int, bytes, int]:
    """(tag, value, next position) of the element at pos."""
    if pos + 2 > len(data):
        raise BerError("truncated element")
    tag = data[pos]
    if tag & 0x1F == 0x1F:
        raise BerError("multi-byte tags are not used by LDAP")
    first = data[pos + 1]
    pos += 2
    if first < 0x80:
        length = first
    else:
        count = first & 0x7F
        if count == 0 or count > 4 or pos + count > len(data):
            raise BerError("bad length")
        length = int.from_bytes(data[pos:pos + count], "big")
        pos += count
    end = pos + length
    if end > len(data):
        raise BerError("truncated value")
    return tag, data[pos:end], end


def decode_int(value: bytes) -> int:
    if not value:
        raise BerError("empty integer")
    return int.from_bytes(value, "big", signed=True)


def read_message(sock: socket.socket) -> bytes | None:
    """One whole LDAPMessage (tag + length + value) from the socket, None at EOF."""
    head = _recv_exact(sock, 2)
    if head is None:
        return None
    if head[0] != TAG_SEQUENCE:
        raise BerError("LDAPMessage must be a SEQUENCE")
    if head[1] < 0x80:
        length, extra = head[1], b""
    else:
        count = head[1] & 0x7F
        if count == 0 or count > 4:
            raise BerError("bad message length")
        extra = _recv_exact(sock, count)
        if extra is None:
            raise BerError("truncated message length")
        length = int.from_bytes(extra, "big")
    if length > MAX_MESSAGE:
        raise BerError("message too large")
    body = _recv_exact(sock, length) if length else b""
    if body is None:
        raise BerError("truncated message")
    return head + extra + body


def _recv_exact(sock: socket.socket, size: int) -> bytes | None:
    chunks, got = [], 0
    while got < size:
        chunk = sock.recv(size - got)
        if not chunk:
            if got == 0:
                return None
            raise BerError("connection closed mid-message")
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def bind_response(message_id: int, code: int, diagnostic: str = "") -> bytes:
    op = encode(TAG_BIND_RESPONSE, encode_int(code, TAG_ENUMERATED) + encode(TAG_OCTET_STRING, b"")
                + encode(TAG_OCTET_STRING, diagnostic.encode()))
    return encode(TAG_SEQUENCE, encode_int(message_id) + op)


def parse_dn(dn: str) -> tuple[str, str, str | None] | None:
    """``cn=USER,dc=DB_ID[,ou=LOGICAL_ID],dc=lab`` -> (USER, DB_ID, LOGICAL_ID or None); None for another shape."""
    if not dn.startswith("cn=") or not dn.endswith(",dc=lab"):
        return None
    middle = dn[len("cn="):-len(",dc=lab")]
    dialled = None
    rest, sep, last = middle.rpartition(",")
    if sep and last.startswith("ou="):
        dialled = last[len("ou="):]
        if not dialled:
            return None
        middle = rest
    user, sep, db_id = middle.rpartition(",dc=")
    if not sep or not user or not db_id:
        return None
    return user, db_id, dialled


# -- server -------------------------------------------------------------------
class _Handler(socketserver.BaseRequestHandler):
    server: "LdapServer"

    def handle(self) -> None:
        sock: socket.socket = self.request
        sock.settimeout(30)
        try:
            while True:
                message = read_message(sock)
                if message is None:
                    return
                if not self._dispatch(sock, message):
                    return
        except (BerError, OSError) as exc:
            LOG.debug("ldap connection dropped: %s", exc)

    def _dispatch(self, sock: socket.socket, message: bytes) -> bool:
        _tag, body, _end = decode_tlv(message)
        tag, value, pos = decode_tlv(body)
        if tag != TAG_INTEGER:
            raise BerError("messageID missing")
        message_id = decode_int(value)
        op_tag, op, _end = decode_tlv(body, pos)
        if op_tag == TAG_UNBIND_REQUEST:
            return False
        if op_tag == TAG_BIND_REQUEST:
            sock.sendall(self._bind(message_id, op))
            return True
        if op_tag == TAG_EXTENDED_REQUEST:  # e.g. StartTLS: not offered
            resp = encode(TAG_EXTENDED_RESPONSE, encode_int(UNWILLING_TO_PERFORM, TAG_ENUMERATED)
                          + encode(TAG_OCTET_STRING, b"") + encode(TAG_OCTET_STRING, b"not supported"))
            sock.sendall(encode(TAG_SEQUENCE, encode_int(message_id) + resp))
            return True
        return False

    def _bind(self, message_id: int, op: bytes) -> bytes:
        tag, value, pos = decode_tlv(op)
        if tag != TAG_INTEGER or decode_int(value) != 3:
            return bind_response(message_id, PROTOCOL_ERROR, "LDAP v3 only")
        tag, name, pos = decode_tlv(op, pos)
        if tag != TAG_OCTET_STRING:
            return bind_response(message_id, PROTOCOL_ERROR, "bad bind name")
        tag, password, _end = decode_tlv(op, pos)
        if tag != TAG_SIMPLE_AUTH:
            return bind_response(message_id, AUTH_METHOD_NOT_SUPPORTED, "simple bind only")
        try:
            parsed = parse_dn(name.decode("utf-8"))
        except UnicodeDecodeError:
            parsed = None
        if parsed is None:
            return bind_response(message_id, INVALID_DN_SYNTAX, "expected cn=USER,dc=DB_ID[,ou=LOGICAL_ID],dc=lab")
        if not password:
            return bind_response(message_id, INVALID_CREDENTIALS, "empty password")
        user, db_id, dialled = parsed
        try:
            ok = bool(self.server.check(user, db_id, password.decode("utf-8", errors="replace"), dialled))
        except Exception:  # a bug must never turn into a successful bind
            LOG.exception("ldap check failed")
            ok = False
        self.server.binds += 1
        if ok:
            return bind_response(message_id, SUCCESS)
        return bind_response(message_id, INVALID_CREDENTIALS, "token refused by the lab verifier")


class LdapServer(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, port: int, check: Callable[[str, str, str, str | None], bool], host: str = "127.0.0.1"):
        self.check = check
        self.binds = 0
        super().__init__((host, port), _Handler)
        self.port = self.server_address[1]
        self._thread: threading.Thread | None = None

    def start(self) -> "LdapServer":
        self._thread = threading.Thread(target=self.serve_forever, name="lab-ldap", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
