# -*- coding: utf-8 -*-

# Copyright: (c) 2026, dbauth.rds_iam developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Admin login of rds_iam_db_user (db_connection): TLS policy, tokens, errors without secrets.

Fake servers on loopback speak just enough of the MySQL and PostgreSQL protocols to prove that
nothing secret is sent when TLS is required but not offered.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import socket
import ssl
import struct
import threading

import pytest

from ansible_collections.dbauth.rds_iam.plugins.module_utils import _db_connection as dbc

SECRET = "S3cr3t-Pa55word-xyz"
TOKEN = "127.0.0.1:3306/?Action=connect&DBUser=admin&X-Amz-Signature=deadbeefcafe"


def params(**kw):
    base = dict(engine="mysql", login_host="127.0.0.1", login_port=None, login_user="admin", login_password=SECRET,
                login_iam=False, login_db=None, ca_cert=None, ssl_mode="verify-full", connect_timeout=3)
    base.update(kw)
    return base


class FakeSigner:
    def __init__(self):
        self.calls = []

    def generate(self, options):
        self.calls.append(dict(options))
        return {"token": TOKEN, "expires_at": "2026-01-01T00:15:00Z", "region": options["region"], "cached": False}


# -- settings -----------------------------------------------------------------------------------


def test_defaults_per_engine():
    s = dbc.login_settings(params())
    assert (s.port, s.database, s.secret, s.iam) == (3306, None, SECRET, False)
    s = dbc.login_settings(params(engine="postgres"))
    assert (s.port, s.database) == (5432, "postgres")
    assert SECRET not in repr(s)


def test_iam_login_signs_for_the_login_target():
    # The signer is the module's AWS principal (test_assume_role_wiring signs with a real one).
    signer = FakeSigner()
    s = dbc.login_settings(params(login_password=None, login_iam=True, login_port=3307), region="us-east-1",
                           signer=signer)
    assert s.secret == TOKEN and s.iam
    assert signer.calls == [{"db_host": "127.0.0.1", "db_port": 3307, "db_user": "admin", "region": "us-east-1"}]


@pytest.mark.parametrize("mode", ["disable", "allow", "prefer"])
def test_iam_token_without_tls_refused(mode):
    signer = FakeSigner()
    with pytest.raises(dbc.DbConnectionError, match="login_iam needs TLS") as e:
        dbc.login_settings(params(login_password=None, login_iam=True, ssl_mode=mode), region="us-east-1", signer=signer)
    assert e.value.kind == "config" and signer.calls == []


def test_iam_and_password_exclusive():
    with pytest.raises(dbc.DbConnectionError, match="mutually exclusive"):
        dbc.login_settings(params(login_iam=True), signer=FakeSigner())


def test_unknown_engine_and_bad_values():
    with pytest.raises(dbc.DbConnectionError, match="unknown engine 'oracle'"):
        dbc.login_settings(params(engine="oracle"))
    with pytest.raises(dbc.DbConnectionError, match="outside 1-65535"):
        dbc.login_settings(params(login_port=70000))
    with pytest.raises(dbc.DbConnectionError, match="connect_timeout"):
        dbc.login_settings(params(connect_timeout=0))


def test_token_signing_error_is_reported():
    class Broken:
        def generate(self, options):
            raise dbc.TokenError("No region to sign the token for")
    with pytest.raises(dbc.DbConnectionError, match="could not sign the IAM token.*No region") as e:
        dbc.login_settings(params(login_password=None, login_iam=True), signer=Broken())
    assert e.value.kind == "config"


@pytest.mark.parametrize("engine", ["mysql", "postgres"])
def test_missing_ca_cert_names_the_option_and_the_file(engine, tmp_path):
    missing = str(tmp_path / "missing-bundle.pem")
    settings = dbc.login_settings(params(engine=engine, ca_cert=missing))
    with pytest.raises(dbc.DbConnectionError) as e:
        dbc.connect(settings)
    assert (e.value.kind, e.value.option) == ("config", "ca_cert")
    assert "ca_cert %s is not a file" % missing in str(e.value) and SECRET not in str(e.value)


def test_a_ca_cert_that_is_no_certificate_is_an_error_naming_it_not_a_traceback(tmp_path):
    # ssl.create_default_context raised before the driver's try: a bare ssl error left the module.
    bundle = tmp_path / "bundle.pem"
    bundle.write_text("not a certificate\n")
    settings = dbc.login_settings(params(ca_cert=str(bundle)))
    with pytest.raises(dbc.DbConnectionError) as e:
        dbc.connect(settings)
    assert (e.value.kind, e.value.option) == ("config", "ca_cert")
    assert "ca_cert %s could not be read as a CA bundle" % bundle in str(e.value)


def test_scrub():
    assert dbc.scrub("x %s y %s" % (SECRET, TOKEN), [SECRET, TOKEN, ""]) == "x ******** y ********"


def test_ssl_contexts():
    assert dbc.mysql_ssl_context("prefer", None) is None
    ctx = dbc.mysql_ssl_context("require", None)
    assert ctx.verify_mode == ssl.CERT_NONE and not ctx.check_hostname
    ctx = dbc.mysql_ssl_context("verify-ca", None)
    assert ctx.verify_mode == ssl.CERT_REQUIRED and not ctx.check_hostname
    ctx = dbc.mysql_ssl_context("verify-full", None)
    assert ctx.verify_mode == ssl.CERT_REQUIRED and ctx.check_hostname
    assert ctx.minimum_version == ssl.TLSVersion.TLSv1_2


# -- fake servers -------------------------------------------------------------------------------


class FakeServer:
    """Accepts one connection, runs ``script(conn)`` and records every byte the client sent."""

    def __init__(self, script):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(1)
        self.port = self.sock.getsockname()[1]
        self.received = b""
        self.script = script
        self.thread = threading.Thread(target=self._run)
        self.thread.daemon = True
        self.thread.start()

    def recv(self, conn):
        try:
            data = conn.recv(65536)
        except OSError:
            data = b""
        self.received += data
        return data

    def _run(self):
        conn = self.sock.accept()[0]
        conn.settimeout(5)
        try:
            self.script(self, conn)
            while self.recv(conn):
                pass
        finally:
            conn.close()
            self.sock.close()

    def join(self):
        self.thread.join(10)


def mysql_packet(seq, payload):
    return struct.pack("<I", len(payload))[:3] + struct.pack("B", seq) + payload


def mysql_greeting(ssl_offered=False):
    caps = 0x1 | 0x8 | 0x200 | 0x8000 | 0x80000 | 0x200000
    if ssl_offered:
        caps |= 0x800
    scramble = b"abcdefghijklmnopqrst"
    payload = (b"\x0a" + b"10.11.8-MariaDB-fake\x00" + struct.pack("<I", 7) + scramble[:8] + b"\x00"
               + struct.pack("<H", caps & 0xFFFF) + b"\x21" + struct.pack("<H", 2) + struct.pack("<H", caps >> 16)
               + b"\x15" + b"\x00" * 10 + scramble[8:] + b"\x00" + b"mysql_native_password\x00")
    return mysql_packet(0, payload)


def test_mysql_tls_required_but_not_offered_sends_nothing():
    def script(server, conn):
        conn.sendall(mysql_greeting(ssl_offered=False))
    server = FakeServer(script)
    settings = dbc.login_settings(params(login_port=server.port, ssl_mode="verify-full"))
    with pytest.raises(dbc.DbConnectionError) as e:
        dbc.connect_mysql(settings)
    server.join()
    assert e.value.kind == "tls" and "does not offer TLS" in str(e.value)
    assert server.received == b""  # not even the user name left the client


def test_mysql_iam_token_not_sent_without_tls():
    signer = FakeSigner()

    def script(server, conn):
        conn.sendall(mysql_greeting(ssl_offered=False))
    server = FakeServer(script)
    settings = dbc.login_settings(params(login_port=server.port, login_password=None, login_iam=True, ssl_mode="require"),
                                  region="us-east-1", signer=signer)
    with pytest.raises(dbc.DbConnectionError, match="does not offer TLS"):
        dbc.connect_mysql(settings)
    server.join()
    assert TOKEN.encode() not in server.received and server.received == b""


def test_mysql_cleartext_switch_refused_on_plain_connection():
    def script(server, conn):
        conn.sendall(mysql_greeting(ssl_offered=False))
        server.recv(conn)  # handshake response (scrambled, not the password)
        conn.sendall(mysql_packet(2, b"\xfemysql_clear_password\x00"))
    server = FakeServer(script)
    settings = dbc.login_settings(params(login_port=server.port, ssl_mode="disable"))
    with pytest.raises(dbc.DbConnectionError, match="clear text") as e:
        dbc.connect_mysql(settings)
    server.join()
    assert e.value.kind == "tls"
    assert SECRET.encode() not in server.received
    assert b"admin" in server.received  # the handshake response did arrive


def test_postgres_tls_required_but_not_offered():
    def script(server, conn):
        data = server.recv(conn)
        assert data[4:8] == struct.pack("!I", 80877103)  # SSLRequest
        conn.sendall(b"N")
    server = FakeServer(script)
    settings = dbc.login_settings(params(engine="postgres", login_port=server.port, ssl_mode="require"))
    with pytest.raises(dbc.DbConnectionError) as e:
        dbc.connect_postgres(settings)
    server.join()
    assert e.value.kind == "tls" and "does not offer TLS" in str(e.value)
    assert SECRET.encode() not in server.received and len(server.received) == 8


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@pytest.mark.parametrize("engine", ["mysql", "postgres"])
def test_unreachable(engine):
    settings = dbc.login_settings(params(engine=engine, login_port=free_port(), connect_timeout=2))
    with pytest.raises(dbc.DbConnectionError, match="cannot reach the database at 127.0.0.1") as e:
        dbc.connect(settings)
    assert e.value.kind == "unreachable" and SECRET not in str(e.value)


def test_mysql_error_classification_never_leaks():
    settings = dbc.login_settings(params())
    import pymysql
    err = dbc._classify_mysql_error(pymysql.err.OperationalError(1045, "Access denied for %s" % SECRET), settings)
    assert err.kind == "auth" and SECRET not in str(err) and "check login_user and the password" in str(err)
    err = dbc._classify_mysql_error(pymysql.err.OperationalError(2003, "Can't connect ([SSL: CERTIFICATE_VERIFY_FAILED])"),
                                    settings)
    assert err.kind == "tls"
    err = dbc._classify_mysql_error(pymysql.err.OperationalError(1049, "Unknown database 'x'"), settings)
    assert err.kind == "config"


@pytest.mark.parametrize("text,kind", [
    ('FATAL:  password authentication failed for user "admin"', "auth"),
    ('FATAL:  LDAP authentication failed for user "admin"', "auth"),
    ('FATAL:  no pg_hba.conf entry for host "127.0.0.1"', "auth"),
    ('FATAL:  database "nope" does not exist', "config"),
    ("server does not support SSL, but SSL was required", "tls"),
    ("SSL error: certificate verify failed", "tls"),
    ("timeout expired", "unreachable"),
])
def test_postgres_error_classification(text, kind):
    settings = dbc.login_settings(params(engine="postgres"))
    assert dbc._classify_pg_error(Exception(text + " " + SECRET), settings).kind == kind
    assert SECRET not in str(dbc._classify_pg_error(Exception(text + " " + SECRET), settings))
