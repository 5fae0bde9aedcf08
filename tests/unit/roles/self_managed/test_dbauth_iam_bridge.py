# -*- coding: utf-8 -*-

# Copyright: (c) 2026, dbauth.rds_iam developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The bridge (roles/self_managed/files/dbauth_iam_bridge.py) end to end in-process: its LDAP and unix
socket listeners, against a stub STS that checks SigV4 query signatures with the
independent reference checker (tests/unit/plugins/sigv4_reference.py) and tokens that the collection's
signer makes. Every refusal reason is produced for real; the lab's STS is exercised by bench/bridge.py
and the self_managed integration target."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import http.server
import importlib.util
import io
import json
import os
import socket
import threading
import time
import urllib.parse

import boto3
import botocore.auth
import pytest

from ansible_collections.dbauth.rds_iam.plugins.module_utils._token_signing import presign_caller_identity
from ansible_collections.dbauth.rds_iam.tests.unit.plugins.sigv4_reference import _signature

BRIDGE_PATH = os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", "roles", "self_managed", "files",
                           "dbauth_iam_bridge.py")
_spec = importlib.util.spec_from_file_location("dbauth_iam_bridge", BRIDGE_PATH)
bridge_mod = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bridge_mod)

REGION = "eu-west-1"
SERVER_ID = "orders-db-1"
ACCOUNT = "123456789012"
USER_KEY = ("AKIAUSEREXAMPLE00001", "user/secret+key")
ROLE_KEY = ("ASIAROLEEXAMPLE00001", "role/secret+key")
ROLE_SESSION_TOKEN = "FwoGZXIvYXdzEXAMPLE/session+token==" * 60  # an AWS-sized session token
USER_ARN = "arn:aws:iam::%s:user/alice" % ACCOUNT
SESSION_ARN = "arn:aws:sts::%s:assumed-role/app-role/ci-session" % ACCOUNT
# The role is mapped with its IAM path; GetCallerIdentity names the session without it.
ROLE_ARN_WITH_PATH = "arn:aws:iam::%s:role/apps/app-role" % ACCOUNT
BASE_DN = "dc=dbauth-iam-bridge"
# A BindRequest and an UnbindRequest captured off the wire: message id 1, bind DN uid=app_user,dc=dbauth-iam-bridge,
# a 153-byte password; long-form BER lengths (0x81 NN). PostgreSQL 15's ldap method (pg_hba ldapprefix="uid="
# ldapsuffix=",dc=dbauth-iam-bridge", libldap) and the ldap3 2.9.1 client sent these same bytes.
CAPTURED_BIND = bytes.fromhex(
    "3081c80201016081c202010304217569643d6170705f757365722c64633d6462617574682d69616d2d627269646765"
    "8081997374732e65752d776573742d312e616d617a6f6e6177732e636f6d2f3f416374696f6e3d47657443616c6c65"
    "724964656e746974792656657273696f6e3d323031312d30362d313526582d416d7a2d5369676e61747572653d"
    + "6162" * 32)
CAPTURED_UNBIND = bytes.fromhex("30050201024200")


class StubSts:
    """A plain-HTTP STS for GetCallerIdentity: the query signature is recomputed with the received Host and
    X-DbAuth-Server-Id headers; 200 with the caller's ARN, or 403 SignatureDoesNotMatch / InvalidClientTokenId."""

    def __init__(self):
        self.keys = {USER_KEY[0]: (USER_KEY[1], USER_ARN), ROLE_KEY[0]: (ROLE_KEY[1], SESSION_ARN)}
        self.requests = []
        self.fail_with = None  # an HTTP status to answer every request with (STS down)
        stub = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                stub.requests.append((self.path, dict((k.lower(), v) for k, v in self.headers.items())))
                status, body = stub.answer(self.path, self.headers)
                self.send_response(status)
                self.send_header("Content-Type", "text/xml")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def answer(self, path, headers):
        if self.fail_with:
            return self.fail_with, b"<ErrorResponse><Error><Code>ServiceUnavailable</Code></Error></ErrorResponse>"
        pairs = urllib.parse.parse_qsl(path.partition("?")[2], keep_blank_values=True)
        q = dict(pairs)
        key_id, dummy, region, service, dummy = q["X-Amz-Credential"].split("/")
        if key_id not in self.keys:
            return 403, self.error("InvalidClientTokenId")
        secret, arn = self.keys[key_id]
        signed = dict((name, headers.get(name, "")) for name in q["X-Amz-SignedHeaders"].split(";"))
        if _signature(pairs, signed, secret, q["X-Amz-Date"], region, service) != q["X-Amz-Signature"]:
            return 403, self.error("SignatureDoesNotMatch")
        return 200, ("<GetCallerIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">"
                     "<GetCallerIdentityResult><Arn>%s</Arn><UserId>X</UserId><Account>%s</Account>"
                     "</GetCallerIdentityResult></GetCallerIdentityResponse>" % (arn, ACCOUNT)).encode()

    @staticmethod
    def error(code):
        return ("<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error><Type>Sender</Type>"
                "<Code>%s</Code><Message>m</Message></Error></ErrorResponse>" % code).encode()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


class TrapHost:
    """A listening socket that counts connections: a token naming it must never reach it."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(5)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]

    def connections(self):
        count = 0
        while True:
            try:
                conn, dummy = self.sock.accept()
            except socket.timeout:
                return count
            conn.close()
            count += 1


@pytest.fixture
def sts():
    stub = StubSts()
    yield stub
    stub.stop()


class Clock:
    def __init__(self):
        self.now = time.time()

    def __call__(self):
        return self.now


def sign(endpoint_url, server_id=SERVER_ID, key=USER_KEY, session_token=None, region=REGION, at=None,
         monkeypatch=None):
    """A kind=sts token made by the collection's signer (``at``: signed at that epoch time)."""
    client = boto3.session.Session().client("sts", region_name=region, endpoint_url=endpoint_url,
                                            aws_access_key_id=key[0], aws_secret_access_key=key[1],
                                            aws_session_token=session_token)
    if at is not None:
        monkeypatch.setattr(botocore.auth, "get_current_datetime",
                            lambda: datetime.datetime.utcfromtimestamp(at))
    return presign_caller_identity(client, server_id)


def config(sts_url, tmp_path=None, **extra):
    data = {"server_id": SERVER_ID, "partition": "aws", "regions": [REGION], "sts_endpoints": {REGION: sts_url},
            "ldap": None, "socket": str(tmp_path / "bridge.sock") if tmp_path else "/run/unused.sock",
            "mapping": {USER_ARN: ["app_user"], ROLE_ARN_WITH_PATH: ["app_user", "report_user"]},
            "stale_seconds": 300}
    data.update(extra)
    return bridge_mod.load_config(data)


def new_bridge(cfg, clock=None):
    logs = []
    return bridge_mod.Bridge(cfg, clock=clock or time.time, log=logs.append), logs


# ------------------------------------------------------------------------------------------ decisions
def test_mapped_user_and_role_session_are_allowed(sts):
    b, logs = new_bridge(config(sts.url))
    assert b.decide("app_user", sign(sts.url), "test") == (True, "ok")
    role_token = sign(sts.url, key=ROLE_KEY, session_token=ROLE_SESSION_TOKEN)
    assert len(role_token) > 2000
    assert b.decide("report_user", role_token, "test") == (True, "ok")
    assert logs[1]["principal"] == "arn:aws:iam::%s:role/app-role" % ACCOUNT
    assert logs[1]["caller_arn"] == SESSION_ARN
    # STS got this server's id and the token's own Host.
    path, headers = sts.requests[0]
    assert headers["x-dbauth-server-id"] == SERVER_ID and headers["host"] == sts.url[len("http://"):]


def test_user_not_allowed_and_unmapped_principal(sts):
    b, dummy = new_bridge(config(sts.url, mapping={ROLE_ARN_WITH_PATH: ["report_user"]}))
    assert b.decide("app_user", sign(sts.url), "test") == (False, "unmapped_principal")
    token = sign(sts.url, key=ROLE_KEY, session_token=ROLE_SESSION_TOKEN)
    assert b.decide("app_user", token, "test") == (False, "user_not_allowed")


def test_token_for_another_server_is_refused_by_sts(sts):
    b, logs = new_bridge(config(sts.url))
    assert b.decide("app_user", sign(sts.url, server_id="other-db"), "test") == (False, "sts_refused")
    assert logs[0]["detail"] == "STS answered SignatureDoesNotMatch"


@pytest.mark.parametrize("tamper", [
    lambda t: t.replace("X-Amz-Expires=900", "X-Amz-Expires=899"),
    lambda t: t[:-1] + ("0" if t[-1] != "0" else "1"),
])
def test_tampered_token_is_refused_by_sts(sts, tamper):
    b, dummy = new_bridge(config(sts.url))
    assert b.decide("app_user", tamper(sign(sts.url)), "test") == (False, "sts_refused")


def test_unknown_key_is_refused_by_sts(sts):
    b, dummy = new_bridge(config(sts.url))
    assert b.decide("app_user", sign(sts.url, key=("AKIAUNKNOWN000000001", "x")), "test") == (False, "sts_refused")


def test_server_id_not_signed(sts):
    client = boto3.session.Session().client("sts", region_name=REGION, endpoint_url=sts.url,
                                            aws_access_key_id=USER_KEY[0], aws_secret_access_key=USER_KEY[1])
    plain = client.generate_presigned_url("get_caller_identity", ExpiresIn=900, HttpMethod="GET").split("://")[1]
    b, dummy = new_bridge(config(sts.url))
    assert b.decide("app_user", plain, "test") == (False, "server_id_not_signed")
    assert sts.requests == []


def test_wrong_action(sts):
    b, dummy = new_bridge(config(sts.url))
    token = sign(sts.url).replace("Action=GetCallerIdentity", "Action=AssumeRole")
    assert b.decide("app_user", token, "test") == (False, "wrong_action")
    assert sts.requests == []


@pytest.mark.parametrize("token,reason", [
    ("", "malformed_token"),
    ("not a token", "malformed_token"),
    ("x" * 9000, "malformed_token"),
    ("\u00e9t\u00e9/?a=b", "malformed_token"),
    ("127.0.0.1:1/path?Action=GetCallerIdentity", "malformed_token"),
    ("127.0.0.1:1/?Action=GetCallerIdentity", "not_sts_url"),
])
def test_malformed_token(sts, token, reason):
    b, dummy = new_bridge(config(sts.url))
    assert b.decide("app_user", token, "test") == (False, reason)
    assert sts.requests == []


def test_malformed_token_reasons_exact(sts):
    b, dummy = new_bridge(config(sts.url))
    token = sign(sts.url)
    assert b.decide("app_user", token + "&Extra=1", "test") == (False, "malformed_token")
    assert b.decide("app_user", token + "&Action=GetCallerIdentity", "test") == (False, "malformed_token")
    assert b.decide("app_user", None, "test") == (False, "malformed_token")
    assert b.decide("", token, "test") == (False, "malformed_request")


def test_other_host_is_refused_without_any_connection_to_it(sts):
    trap = TrapHost()
    b, dummy = new_bridge(config(sts.url))
    token = sign("http://127.0.0.1:%d" % trap.port)
    assert b.decide("app_user", token, "test") == (False, "not_sts_url")
    assert b.decide("app_user", token.replace("127.0.0.1", "sts.eu-west-1.amazonaws.com.evil.example"),
                    "test") == (False, "not_sts_url")
    assert trap.connections() == 0 and sts.requests == []


def test_official_host_of_another_region_or_service_is_refused(sts):
    cfg = config(sts.url, regions=[REGION, "us-east-1"], sts_endpoints={})
    b, dummy = new_bridge(cfg)
    assert set(cfg["sts_hosts"]) == {"sts.eu-west-1.amazonaws.com", "sts.us-east-1.amazonaws.com"}
    # Signed for eu-west-1 but sent to us-east-1's endpoint: refused before any request.
    token = sign("https://sts.us-east-1.amazonaws.com")
    assert b.decide("app_user", token, "test") == (False, "not_sts_url")
    assert b.decide("app_user", sign("https://sts.eu-central-1.amazonaws.com", region="eu-central-1"),
                    "test") == (False, "not_sts_url")


def test_expired_and_future_tokens(sts, monkeypatch):
    b, logs = new_bridge(config(sts.url))
    old = sign(sts.url, at=time.time() - 901, monkeypatch=monkeypatch)
    future = sign(sts.url, at=time.time() + 600, monkeypatch=monkeypatch)
    assert b.decide("app_user", old, "test") == (False, "expired")
    assert b.decide("app_user", future, "test") == (False, "expired")
    assert sts.requests == []
    # A longer X-Amz-Expires does not extend the life past 900 s (STS would refuse the tampered value anyway).
    assert b.decide("app_user", old.replace("X-Amz-Expires=900", "X-Amz-Expires=3600"), "test") == (False, "expired")


def test_sts_unreachable(sts):
    sts.fail_with = 503
    b, dummy = new_bridge(config(sts.url))
    assert b.decide("app_user", sign(sts.url), "test") == (False, "sts_unreachable")
    closed = TrapHost()
    closed.sock.close()
    url = "http://127.0.0.1:%d" % closed.port
    b2, dummy = new_bridge(config(url, sts_timeout=2))
    assert b2.decide("app_user", sign(url), "test") == (False, "sts_unreachable")


# ------------------------------------------------------------------------------------------ cache
def test_answer_cached_until_the_token_expires(sts):
    clock = Clock()
    b, logs = new_bridge(config(sts.url), clock)
    token = sign(sts.url)
    assert b.decide("app_user", token, "test")[0]
    clock.now += 600
    assert b.decide("app_user", token, "test")[0]
    assert len(sts.requests) == 1 and logs[1]["sts"] == "cached"
    clock.now += 400  # past the token's 900 s
    assert b.decide("app_user", token, "test") == (False, "expired")
    assert b.stats == {"sts_calls": 1, "cache_hits": 1}


def test_refusals_are_cached_too(sts):
    b, dummy = new_bridge(config(sts.url))
    token = sign(sts.url, server_id="other-db")
    assert b.decide("app_user", token, "test") == (False, "sts_refused")
    assert b.decide("app_user", token, "test") == (False, "sts_refused")
    assert len(sts.requests) == 1


def test_stale_answer_while_sts_is_unreachable(sts):
    clock = Clock()
    b, logs = new_bridge(config(sts.url, cache_seconds=0, stale_seconds=120), clock)
    token = sign(sts.url)
    assert b.decide("app_user", token, "test")[0]
    sts.fail_with = 503
    clock.now += 100
    assert b.decide("app_user", token, "test") == (True, "ok") and logs[-1]["sts"] == "stale"
    clock.now += 30  # 130 s past the check: more than stale_seconds
    assert b.decide("app_user", token, "test") == (False, "sts_unreachable")
    # A token never checked gets no stale answer.
    assert b.decide("app_user", sign(sts.url), "test") == (False, "sts_unreachable")


def test_cache_keys_are_digests_not_tokens(sts):
    b, dummy = new_bridge(config(sts.url))
    token = sign(sts.url)
    b.decide("app_user", token, "test")
    assert list(b._cache) == [bridge_mod.token_digest(token)]  # pylint: disable=protected-access


# ------------------------------------------------------------------------------------------ the listeners
@pytest.fixture
def running(sts, tmp_path):
    """The bridge's listeners (LDAP on a free port, unix socket) in-process; yields (bridge, logs, servers)."""
    cfg = config(sts.url, tmp_path, ldap={"host": "127.0.0.1", "port": 0, "base_dn": BASE_DN}, client_timeout=2,
                 max_message_bytes=8192)
    b, logs = new_bridge(cfg)
    servers = bridge_mod.start_listeners(b)
    yield b, logs, servers
    bridge_mod.stop_listeners(servers)


def ldap_exchange(port, messages, read=True):
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        for message in messages:
            conn.sendall(message)
        if not read:
            return b""
        data = b""
        while True:
            chunk = conn.recv(65536)
            if not chunk:
                return data
            data += chunk


def bind_request(message_id, dn, password, version=3):
    ber = bridge_mod.ber_encode
    op = ber(0x02, bytes([version])) + ber(0x04, dn.encode()) + ber(0x80, password.encode())
    return ber(0x30, ber(0x02, bytes([message_id])) + ber(0x60, op))


def result_code(response):
    dummy_id, dummy_op, fields = None, None, None
    tag, content, dummy = bridge_mod.ber_element(response, 0)
    tag, value, offset = bridge_mod.ber_element(content, 0)
    tag, op, dummy = bridge_mod.ber_element(content, offset)
    assert tag == 0x61  # BindResponse
    tag, code, dummy = bridge_mod.ber_element(op, 0)
    assert tag == 0x0A
    return code[0]


def test_ldap_bind_allowed_and_refused(running, sts):
    b, logs, servers = running
    port = servers[0].server_address[1]
    token = sign(sts.url)
    ok = ldap_exchange(port, [bind_request(1, "uid=app_user," + BASE_DN, token), CAPTURED_UNBIND])
    assert result_code(ok) == 0
    no = ldap_exchange(port, [bind_request(1, "uid=report_user," + BASE_DN, token), CAPTURED_UNBIND])
    assert result_code(no) == 49
    outside = ldap_exchange(port, [bind_request(1, "uid=app_user,dc=other", token), CAPTURED_UNBIND])
    assert result_code(outside) == 49
    empty = ldap_exchange(port, [bind_request(1, "uid=app_user," + BASE_DN, ""), CAPTURED_UNBIND])
    assert result_code(empty) == 49
    v2 = ldap_exchange(port, [bind_request(1, "uid=app_user," + BASE_DN, token, version=2), CAPTURED_UNBIND])
    assert result_code(v2) == 49
    assert [e.get("reason") for e in logs if "reason" in e] == [
        "ok", "user_not_allowed", "malformed_request", "malformed_request", "malformed_request"]


def test_ldap_captured_client_bytes(running):
    b, logs, servers = running
    answer = ldap_exchange(servers[0].server_address[1], [CAPTURED_BIND, CAPTURED_UNBIND])
    assert result_code(answer) == 49  # the captured password is not a valid token
    assert logs[-1]["reason"] == "not_sts_url" and logs[-1]["user"] == "app_user"


def test_captured_bind_parses():
    message_id, operation, fields = bridge_mod.parse_ldap_message(CAPTURED_BIND)
    assert (message_id, operation, fields["version"], fields["name"]) == (1, "bind", 3, "uid=app_user," + BASE_DN)
    assert len(fields["password"]) == 153 and fields["password"].startswith("sts.eu-west-1.amazonaws.com/?")
    assert bridge_mod.parse_ldap_message(CAPTURED_UNBIND) == (2, "unbind", {})
    assert bridge_mod.user_from_dn("UID=x,DC=dbauth-iam-bridge", BASE_DN) == "x"


def test_bind_response_round_trip():
    for message_id in (1, 127, 128, 300, 70000):
        response = bridge_mod.bind_response(message_id, 49)
        tag, content, dummy = bridge_mod.ber_element(response, 0)
        tag, value, dummy = bridge_mod.ber_element(content, 0)
        assert int.from_bytes(value, "big", signed=True) == message_id
        assert result_code(response) == 49


@pytest.mark.parametrize("data,error", [
    (b"\x30\x80\x00\x00", "indefinite"),
    (b"\x30\x85\x00\x00\x00\x00\x01", "over-long"),
    (b"\x04\x01\x00", "not an LDAPMessage"),
    (b"\x30\x84\x00\x01\x00\x00", "exceeds the limit"),
    (b"\x30\x05\x02\x01\x01", "truncated"),
])
def test_ber_framing_limits(data, error):
    with pytest.raises(bridge_mod.BerError, match=error):
        bridge_mod.read_ldap_message(io.BytesIO(data), 8192)


@pytest.mark.parametrize("message,error", [
    (bytes.fromhex("300702010160020201"), "longer than its container"),
    (bytes.fromhex("300702010160020400"), "version missing"),
    (bytes.fromhex("300a02050100000000600100"), "INTEGER of 5 octets"),
    (bytes.fromhex("30031f0101"), "truncated|multi-octet"),
])
def test_ber_parse_errors(message, error):
    with pytest.raises(bridge_mod.BerError, match=error):
        bridge_mod.parse_ldap_message(message)


def test_ldap_oversized_and_garbage_connections_are_closed(running):
    b, logs, servers = running
    port = servers[0].server_address[1]
    assert ldap_exchange(port, [b"\x30\x84\x00\x10\x00\x00"]) == b""
    assert ldap_exchange(port, [b"GET / HTTP/1.0\r\n\r\n"]) == b""
    # A search request (operation 0x63) is not served.
    assert ldap_exchange(port, [bytes.fromhex("300702010163020400")]) == b""
    assert [e["event"] for e in logs] == ["ldap_protocol_error"] * 3


def test_ldap_idle_client_times_out(running):
    b, logs, servers = running
    with socket.create_connection(("127.0.0.1", servers[0].server_address[1]), timeout=10) as conn:
        started = time.time()
        assert conn.recv(10) == b""  # the bridge hangs up after client_timeout (2 s)
        assert time.time() - started < 9


def test_socket_protocol(running, sts):
    b, logs, servers = running
    path = servers[1].server_address
    token = sign(sts.url)
    with socket.socket(socket.AF_UNIX) as conn:
        conn.connect(path)
        conn.sendall(json.dumps({"user": "app_user", "token": token}).encode() + b"\n")
        assert json.loads(conn.makefile().readline()) == {"allow": True, "reason": "ok"}
    with socket.socket(socket.AF_UNIX) as conn:
        conn.connect(path)
        conn.sendall(b"not json\n")
        assert json.loads(conn.makefile().readline()) == {"allow": False, "reason": "malformed_request"}
    assert oct(os.stat(path).st_mode & 0o777) == "0o660"


def test_no_token_in_the_log(running, sts, capsys):
    b, logs, servers = running
    tokens = [sign(sts.url), sign(sts.url, key=ROLE_KEY, session_token=ROLE_SESSION_TOKEN),
              sign(sts.url, server_id="other")]
    for token in tokens:
        ldap_exchange(servers[0].server_address[1], [bind_request(1, "uid=app_user," + BASE_DN, token)], read=False)
        b.decide("app_user", token, "socket")
    time.sleep(0.5)
    text = json.dumps(logs) + "".join(capsys.readouterr())
    for token in tokens:
        signature = token.rsplit("X-Amz-Signature=", 1)[1]
        assert signature not in text and token not in text
    assert urllib.parse.quote(ROLE_SESSION_TOKEN, safe="") not in text and ROLE_SESSION_TOKEN not in text


def test_json_log_writes_one_line_per_entry():
    stream = io.StringIO()
    log = bridge_mod.json_log(stream)
    log({"reason": "ok"})
    log({"event": "connection_refused"})
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [line.get("reason") for line in lines] == ["ok", None]
    assert all(len(line["time"]) == len("2026-11-25T07:45:00Z") for line in lines)  # every line has its time


def test_max_connections(sts, tmp_path):
    cfg = config(sts.url, tmp_path, ldap={"host": "127.0.0.1", "port": 0, "base_dn": BASE_DN}, client_timeout=5,
                 max_connections=1)
    b, logs = new_bridge(cfg)
    servers = bridge_mod.start_listeners(b)
    try:
        port = servers[0].server_address[1]
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            time.sleep(0.3)  # the first connection holds the only slot
            assert ldap_exchange(port, [CAPTURED_UNBIND]) == b""
        assert {"event": "connection_refused", "why": "max_connections reached"} in logs
    finally:
        bridge_mod.stop_listeners(servers)


# ------------------------------------------------------------------------------------------ configuration
@pytest.mark.parametrize("change,message", [
    ({"server_id": "bad id"}, "'server_id'"),
    ({"partition": "mars"}, "'partition' must be one of"),
    ({"regions": []}, "'regions'"),
    ({"regions": ["EU"]}, "'regions'"),
    ({"sts_endpoints": {"us-west-2": "http://x"}}, "names region 'us-west-2', which is not in 'regions'"),
    ({"sts_endpoints": {REGION: "ftp://x"}}, "'sts_endpoints' entry 'eu-west-1'"),
    ({"sts_endpoints": {REGION: "http://x/path"}}, "'sts_endpoints' entry"),
    ({"ldap": {"host": "127.0.0.1"}}, "'ldap' must be null or"),
    ({"socket": "relative.sock"}, "'socket' must be null or an absolute path"),
    ({"socket": None, "ldap": None}, "configure at least one listener"),
    ({"mapping": {"not-an-arn": ["u"]}}, "'mapping'"),
    ({"mapping": {USER_ARN: "u"}}, "'mapping'"),
    ({"stale_seconds": 901}, "'stale_seconds' must be an integer from 0 to 900"),
    ({"stale_seconds": True}, "'stale_seconds'"),
    ({"typo": 1}, "unknown config key(s) typo"),
])
def test_config_errors_name_the_key(change, message):
    data = {"server_id": SERVER_ID, "regions": [REGION], "socket": "/run/x.sock", "mapping": {USER_ARN: ["u"]}}
    data.update(change)
    with pytest.raises(bridge_mod.ConfigError) as e:
        bridge_mod.load_config(data)
    assert message in str(e.value)


def test_official_endpoints_per_partition():
    cfg = bridge_mod.load_config({"server_id": "s", "partition": "aws-cn", "regions": ["cn-north-1"],
                                  "socket": "/run/x.sock", "mapping": {}})
    assert cfg["sts_hosts"] == {"sts.cn-north-1.amazonaws.com.cn": ("cn-north-1", "https://sts.cn-north-1.amazonaws.com.cn")}


@pytest.mark.parametrize("arn,normal", [
    (SESSION_ARN, "arn:aws:iam::%s:role/app-role" % ACCOUNT),
    (ROLE_ARN_WITH_PATH, "arn:aws:iam::%s:role/app-role" % ACCOUNT),
    ("arn:aws-cn:sts::%s:assumed-role/r/s" % ACCOUNT, "arn:aws-cn:iam::%s:role/r" % ACCOUNT),
    (USER_ARN, USER_ARN),
])
def test_normalise_arn(arn, normal):
    assert bridge_mod.normalise_arn(arn) == normal


def test_serve_reports_a_bad_config_and_exits_2(tmp_path, capsys):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"server_id": SERVER_ID, "regions": [REGION], "socket": None, "ldap": None,
                                "mapping": {}}))
    assert bridge_mod.main(["serve", "--config", str(path)]) == 2
    assert "configure at least one listener" in capsys.readouterr().err


def test_xml_answer_without_entities():
    assert bridge_mod._xml_text(b"<!DOCTYPE x [<!ENTITY a 'b'>]><Arn>&a;</Arn>", "Arn") is None  # pylint: disable=protected-access
    assert bridge_mod._xml_text(b"<a xmlns='n'><Arn> arn:x </Arn></a>", "Arn") == "arn:x"  # pylint: disable=protected-access
