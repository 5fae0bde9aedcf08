# -*- coding: utf-8 -*-

# Copyright: (c) 2026, dbauth.rds_iam developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

# Internal use only: this file is not part of the collection's public interface and may change
# without notice.

"""Database logins over TLS for MySQL/MariaDB (PyMySQL) and PostgreSQL (psycopg2).

Shared by rds_iam_db_user (admin login) and rds_iam_verify (IAM user login).

* ``ssl_mode`` uses libpq's names for both engines: disable, allow, prefer, require, verify-ca,
  verify-full (default).  ``verify-*`` check the server certificate against ``ca_cert`` (or the
  system trust store when not given); ``verify-full`` checks the host name too.
* A password or token is never sent in clear text over a connection without TLS when TLS was
  asked for: PyMySQL would answer a server's switch to ``mysql_clear_password`` by itself, so the
  connection class here refuses that switch on a plain connection.
* An IAM token (``login_iam``) requires ssl_mode require or stronger.
* Error messages never contain the password or token (scrubbed, and the caller registers the
  token with the module's no_log values).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import socket
import ssl

try:
    import pymysql
    import pymysql.connections
    from pymysql.constants import CLIENT
    HAS_PYMYSQL = True
    PYMYSQL_IMPORT_ERROR = None
except ImportError as e:  # pragma: no cover - depends on the host
    HAS_PYMYSQL = False
    PYMYSQL_IMPORT_ERROR = e

try:
    import psycopg2
    import psycopg2.extensions
    HAS_PSYCOPG2 = True
    PSYCOPG2_IMPORT_ERROR = None
except ImportError as e:  # pragma: no cover - depends on the host
    HAS_PSYCOPG2 = False
    PSYCOPG2_IMPORT_ERROR = e

from ansible_collections.dbauth.rds_iam.plugins.module_utils._token_signing import TokenError

SSL_MODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
# How long a statement may go unanswered: PyMySQL's read/write timeout, PostgreSQL's statement_timeout.
STATEMENT_TIMEOUT = 60
TLS_MODES = ("require", "verify-ca", "verify-full")
VERIFY_MODES = ("verify-ca", "verify-full")  # the server certificate is checked against ca_cert
MYSQL_ENGINES = ("mysql", "mariadb")
DEFAULT_PORTS = {"mysql": 3306, "mariadb": 3306, "postgres": 5432}

# Options of the db_login doc fragment, with the argument spec entries.
LOGIN_ARGUMENT_SPEC = dict(
    engine=dict(type="str", required=True, choices=["mysql", "mariadb", "postgres"]),
    login_host=dict(type="str", required=True),
    login_port=dict(type="int"),
    login_user=dict(type="str", required=True),
    login_password=dict(type="str", no_log=True),
    login_iam=dict(type="bool", default=False),
    login_db=dict(type="str"),
    ca_cert=dict(type="path"),
    ssl_mode=dict(type="str", default="verify-full", choices=list(SSL_MODES)),
    connect_timeout=dict(type="int", default=10),
)


class DbConnectionError(Exception):
    """A failed login; ``kind`` is one of config, unreachable, auth, tls, driver; ``option`` names the option
    at fault when one is (a config error)."""

    def __init__(self, message, kind, option=None):
        super(DbConnectionError, self).__init__(message)
        self.kind = kind
        self.option = option


def scrub(text, secrets):
    """Replace every secret in ``text`` with ********."""
    text = str(text)
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "********")
    return text


def driver_missing(engine):
    """(library name, import error) when the driver for ``engine`` is missing, else None."""
    if engine in MYSQL_ENGINES and not HAS_PYMYSQL:
        return "PyMySQL", PYMYSQL_IMPORT_ERROR
    if engine == "postgres" and not HAS_PSYCOPG2:
        return "psycopg2", PSYCOPG2_IMPORT_ERROR
    return None


class LoginSettings:
    """Validated login options (the password or token is kept out of repr)."""

    def __init__(self, engine, host, port, user, secret, database, ca_cert, ssl_mode, connect_timeout, iam):
        self.engine = engine
        self.host = host
        self.port = port
        self.user = user
        self.secret = secret
        self.database = database
        self.ca_cert = ca_cert
        self.ssl_mode = ssl_mode
        self.connect_timeout = connect_timeout
        self.iam = iam

    def __repr__(self):
        return "LoginSettings(engine=%s, host=%s, port=%s, user=%s, secret=<hidden>, ssl_mode=%s)" % (
            self.engine, self.host, self.port, self.user, self.ssl_mode)

    @property
    def endpoint(self):
        return "%s:%s" % (self.host, self.port)


def login_settings(params, region=None, signer=None):
    """Build LoginSettings from module params; signs the admin token when login_iam is set.

    ``region`` is the AWS region (module.region); ``signer`` the module's TokenSigner, needed with login_iam.
    """
    engine = params["engine"]
    if engine not in DEFAULT_PORTS:
        raise DbConnectionError("unknown engine %r: use one of mysql, mariadb, postgres." % (engine,), "config")
    host = params.get("login_host")
    if not host or not str(host).strip():
        raise DbConnectionError("login_host is required.", "config")
    port = params.get("login_port") or DEFAULT_PORTS[engine]
    if port < 1 or port > 65535:
        raise DbConnectionError("login_port %d is outside 1-65535." % port, "config")
    ssl_mode = params.get("ssl_mode") or "verify-full"
    timeout = params.get("connect_timeout")
    timeout = 10 if timeout is None else timeout
    if timeout < 1:
        raise DbConnectionError("connect_timeout must be at least 1 second.", "config")
    database = params.get("login_db")
    if engine == "postgres" and not database:
        database = "postgres"
    iam = bool(params.get("login_iam"))
    if iam:
        if params.get("login_password"):
            raise DbConnectionError("login_password and login_iam are mutually exclusive: with login_iam the "
                                    "admin logs in with an IAM token signed with the AWS options.", "config")
        if ssl_mode not in TLS_MODES:
            raise DbConnectionError(
                "login_iam needs TLS: an IAM token is a bearer credential sent in clear text inside the "
                "connection, and RDS refuses it without TLS. Set ssl_mode to verify-full (recommended), "
                "verify-ca or require (ssl_mode=%s given)." % ssl_mode, "config")
        options = dict(db_host=host, db_port=port, db_user=params["login_user"], region=region)
        try:
            secret = signer.generate(options)["token"]
        except TokenError as e:
            raise DbConnectionError("could not sign the IAM token for the admin login: %s" % e, e.kind)
    else:
        secret = params.get("login_password") or ""
    return LoginSettings(engine, host, port, params["login_user"], secret, database, params.get("ca_cert"),
                         ssl_mode, timeout, iam)


# --------------------------------------------------------------------------------------------
# MySQL / MariaDB
# --------------------------------------------------------------------------------------------

def mysql_ssl_context(ssl_mode, ca_cert):
    """SSLContext for require/verify-ca/verify-full, None otherwise."""
    if ssl_mode not in TLS_MODES:
        return None
    if ssl_mode == "require":
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    else:
        ctx = ssl.create_default_context(cafile=ca_cert) if ca_cert else ssl.create_default_context()
        ctx.check_hostname = ssl_mode == "verify-full"
        ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    return ctx


if HAS_PYMYSQL:
    class GuardedMySQLConnection(pymysql.connections.Connection):
        """PyMySQL connection that fails before authenticating when TLS is required but not
        offered, and never answers mysql_clear_password on a plain connection."""

        dbauth_require_tls = False

        def _request_authentication(self):
            if self.dbauth_require_tls and not (self.server_capabilities & CLIENT.SSL):
                raise DbConnectionError(
                    "the server at %s:%s does not offer TLS, which ssl_mode requires; nothing was sent. "
                    "Enable TLS on the server (RDS always offers it) or check login_host/login_port."
                    % (self.host, self.port), "tls")
            return super(GuardedMySQLConnection, self)._request_authentication()

        def _process_auth(self, plugin_name, auth_packet, handler=None):
            if plugin_name == b"mysql_clear_password" and not self._secure:
                raise DbConnectionError(
                    "the server asked for the password in clear text (mysql_clear_password) on a connection "
                    "without TLS; refused. Use ssl_mode=verify-full.", "tls")
            return super(GuardedMySQLConnection, self)._process_auth(plugin_name, auth_packet, handler)


def _classify_mysql_error(exc, settings):
    code = exc.args[0] if exc.args else None
    text = scrub(exc.args[1] if len(exc.args) > 1 else exc, [settings.secret])
    where = "%s (user %s)" % (settings.endpoint, settings.user)
    upper = text.upper()
    if "SSL" in upper or "CERTIFICATE" in upper or "TLS" in upper:
        if "doesn't support" in text or "does not support" in text:
            return DbConnectionError("the server at %s does not offer TLS, which ssl_mode=%s requires: %s"
                                     % (settings.endpoint, settings.ssl_mode, text), "tls")
        return DbConnectionError("TLS with %s failed (ssl_mode=%s, ca_cert=%s): %s" % (
            settings.endpoint, settings.ssl_mode, settings.ca_cert or "system trust store", text), "tls")
    if code in (2003, 2005, 2006, 2013):
        return DbConnectionError("cannot reach the database at %s: %s" % (settings.endpoint, text), "unreachable")
    if code in (1044, 1045, 1698):
        how = "the IAM token" if settings.iam else "the password"
        return DbConnectionError("login to %s refused, check login_user and %s: %s" % (where, how, text), "auth")
    if code == 1049:
        return DbConnectionError("login_db does not exist on %s: %s" % (settings.endpoint, text), "config")
    return DbConnectionError("could not log in to %s: %s" % (where, text), "driver")


def connect_mysql(settings):
    """Open an autocommit PyMySQL connection; returns (connection, tls_version or None)."""
    require_tls = settings.ssl_mode in TLS_MODES
    kwargs = dict(host=settings.host, port=settings.port, user=settings.user,
                  password=settings.secret.encode("utf-8"), connect_timeout=settings.connect_timeout,
                  read_timeout=max(STATEMENT_TIMEOUT, settings.connect_timeout),
                  write_timeout=max(STATEMENT_TIMEOUT, settings.connect_timeout),
                  charset="utf8mb4", autocommit=True, defer_connect=True)
    if settings.database:
        kwargs["database"] = settings.database
    if settings.ssl_mode == "disable":
        kwargs["ssl_disabled"] = True
    # allow/prefer: PyMySQL's default (TLS when offered, certificate not checked)
    try:
        if require_tls:
            kwargs["ssl"] = _ca_checked(mysql_ssl_context, settings)
        conn = GuardedMySQLConnection(**kwargs)
        conn.dbauth_require_tls = require_tls
        conn.connect()
    except DbConnectionError as e:
        raise DbConnectionError(scrub(e, [settings.secret]), e.kind, e.option)
    except pymysql.MySQLError as e:
        raise _classify_mysql_error(e, settings)
    except (OSError, ValueError) as e:
        raise DbConnectionError("could not connect to %s: %s" % (settings.endpoint, scrub(e, [settings.secret])),
                                "unreachable")
    sock = getattr(conn, "_sock", None)
    tls_version = sock.version() if isinstance(sock, ssl.SSLSocket) else None
    if require_tls and not tls_version:  # pragma: no cover - the guard above fails first
        conn.close()
        raise DbConnectionError("the connection to %s is not encrypted although ssl_mode=%s." % (
            settings.endpoint, settings.ssl_mode), "tls")
    return conn, tls_version


# --------------------------------------------------------------------------------------------
# PostgreSQL
# --------------------------------------------------------------------------------------------

def _classify_pg_error(exc, settings):
    text = scrub(str(exc).strip(), [settings.secret])
    lower = text.lower()
    where = "%s (user %s)" % (settings.endpoint, settings.user)
    if "does not support ssl" in lower:
        return DbConnectionError("the server at %s does not offer TLS, which ssl_mode=%s requires: %s"
                                 % (settings.endpoint, settings.ssl_mode, text), "tls")
    if "certificate" in lower or "ssl" in lower and "ssl off" not in lower and "no encryption" not in lower:
        return DbConnectionError("TLS with %s failed (ssl_mode=%s, ca_cert=%s): %s" % (
            settings.endpoint, settings.ssl_mode, settings.ca_cert or "system trust store", text), "tls")
    if "authentication failed" in lower or "password" in lower and "no password supplied" in lower \
            or "pg_hba.conf" in lower or "role" in lower and "does not exist" in lower:
        how = "the IAM token" if settings.iam else "the password"
        return DbConnectionError("login to %s refused, check login_user and %s: %s" % (where, how, text), "auth")
    if "database" in lower and "does not exist" in lower:
        return DbConnectionError("login_db does not exist on %s: %s" % (settings.endpoint, text), "config")
    if "could not connect" in lower or "connection refused" in lower or "timeout expired" in lower \
            or "could not translate host name" in lower or "connection to server" in lower:
        return DbConnectionError("cannot reach the database at %s: %s" % (settings.endpoint, text), "unreachable")
    return DbConnectionError("could not log in to %s: %s" % (where, text), "driver")


def connect_postgres(settings):
    """Open a psycopg2 connection (not autocommit); returns (connection, tls_version or None)."""
    kwargs = dict(host=settings.host, port=settings.port, user=settings.user, dbname=settings.database,
                  sslmode=settings.ssl_mode, connect_timeout=settings.connect_timeout,
                  application_name="dbauth.rds_iam", client_encoding="UTF8",
                  # The server ends a statement that waits longer (a lock held by another session, ...);
                  # keepalives notice a peer that is gone.
                  options="-c statement_timeout=%d" % (STATEMENT_TIMEOUT * 1000),
                  keepalives=1, keepalives_idle=10, keepalives_interval=5, keepalives_count=3)
    if settings.secret:
        kwargs["password"] = settings.secret
    if settings.ssl_mode in VERIFY_MODES:
        if settings.ca_cert:
            kwargs["sslrootcert"] = settings.ca_cert
        elif psycopg2.extensions.libpq_version() >= 160000:
            kwargs["sslrootcert"] = "system"
    try:
        conn = psycopg2.connect(**kwargs)
    except psycopg2.Error as e:
        raise _classify_pg_error(e, settings)
    tls_version = None
    info = getattr(conn, "info", None)
    if info is not None and info.ssl_in_use:
        tls_version = info.ssl_attribute("protocol")
    if settings.ssl_mode in TLS_MODES and not (info is not None and info.ssl_in_use):  # pragma: no cover
        conn.close()
        raise DbConnectionError("the connection to %s is not encrypted although ssl_mode=%s." % (
            settings.endpoint, settings.ssl_mode), "tls")
    return conn, tls_version


def failure_kind(exc):
    """``timeout`` when a driver error means the server did not answer in time, else ``sql``."""
    cause = exc.__cause__ or exc.__context__
    if isinstance(exc, (socket.timeout, TimeoutError)) or isinstance(cause, (socket.timeout, TimeoutError)):
        return "timeout"  # PyMySQL: OperationalError 2013 raised while reading a timed-out socket
    if HAS_PSYCOPG2 and isinstance(exc, psycopg2.extensions.QueryCanceledError):
        return "timeout"  # PostgreSQL: statement_timeout
    return "sql"


def _ca_checked(make_context, settings):
    """``make_context(ssl_mode, ca_cert)``; a CA bundle that cannot be read is a TLS error naming ca_cert."""
    try:
        return make_context(settings.ssl_mode, settings.ca_cert)
    except (OSError, ValueError) as e:  # ssl.SSLError is an OSError
        raise DbConnectionError("ca_cert %s could not be read as a CA bundle (%s: %s): give the PEM bundle that "
                                "signed the certificate of %s (RDS: global-bundle.pem); nothing was sent."
                                % (settings.ca_cert, type(e).__name__, e, settings.endpoint), "config", "ca_cert")


def connect(settings):
    if settings.ca_cert and settings.ssl_mode in VERIFY_MODES and not os.path.isfile(settings.ca_cert):
        raise DbConnectionError("ca_cert %s is not a file: give the CA bundle that signed the certificate of %s "
                                "(RDS: global-bundle.pem); nothing was sent." % (settings.ca_cert, settings.endpoint),
                                "config", "ca_cert")
    if settings.engine in MYSQL_ENGINES:
        return connect_mysql(settings)
    return connect_postgres(settings)
