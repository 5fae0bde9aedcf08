# -*- coding: utf-8 -*-

# Copyright: (c) 2026, dbauth.rds_iam developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

# Internal use only: this file is not part of the collection's public interface and may change
# without notice.

"""The login half of rds_iam_verify: sign (or take) a token, log in over TLS, read who we are.

A failure is turned into a first ``diagnosis`` from what the client saw (no AWS call):

* ``no_credentials`` / ``credentials_expired``: the token could not be signed;
* ``network``: nothing answered at host:port (refused, timeout, DNS);
* ``tls``: the TLS handshake or certificate check failed, the server offers no TLS, or
  ssl_mode does not require TLS (a token is never sent without it);
* ``iam_disabled``: MySQL error 1524 (the AWSAuthenticationPlugin is not loaded);
* ``user_not_iam``: PostgreSQL answered with password authentication, so the user is not a
  member of rds_iam (or does not exist);
* ``token_rejected``: the server refused the token without saying why; the diagnose step
  (verify_diagnosis) then finds the broken link with read-only AWS and catalog reads.

The token is never part of a message or a return value.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re
import time

from ansible_collections.dbauth.rds_iam.plugins.module_utils._db_connection import DEFAULT_PORTS
from ansible_collections.dbauth.rds_iam.plugins.module_utils._db_connection import MYSQL_ENGINES
from ansible_collections.dbauth.rds_iam.plugins.module_utils._db_connection import TLS_MODES
from ansible_collections.dbauth.rds_iam.plugins.module_utils._db_connection import DbConnectionError
from ansible_collections.dbauth.rds_iam.plugins.module_utils._db_connection import LoginSettings
from ansible_collections.dbauth.rds_iam.plugins.module_utils._db_connection import connect
from ansible_collections.dbauth.rds_iam.plugins.module_utils._db_connection import driver_missing
from ansible_collections.dbauth.rds_iam.plugins.module_utils._db_connection import scrub
from ansible_collections.dbauth.rds_iam.plugins.module_utils._token_signing import KIND_ASSUME_ROLE
from ansible_collections.dbauth.rds_iam.plugins.module_utils._token_signing import KIND_CREDENTIALS_EXPIRED
from ansible_collections.dbauth.rds_iam.plugins.module_utils._token_signing import KIND_NO_CREDENTIALS
from ansible_collections.dbauth.rds_iam.plugins.module_utils._token_signing import TokenError

DIAGNOSES = (
    "network", "tls", "no_credentials", "credentials_expired", "iam_disabled", "policy_denied",
    "user_missing", "user_not_iam", "token_rejected",
)


_MYSQL_CODE_RE = re.compile(r"^\((\d+),")


class VerifyConfigError(Exception):
    """Options that cannot work; the message says what to fix (no diagnosis: nothing was tried)."""


class LoginOutcome:
    """What the login attempt gave."""

    def __init__(self):
        self.connected = False
        self.current_user = None
        self.tls_version = None
        self.server_version = None
        self.latency_ms = None
        self.diagnosis = None
        self.message = None
        self.server_message = None
        self.error_kind = None
        self.token_source = None
        self.token_expires_at = None
        self.region = None

    def to_result(self):
        return {
            "connected": self.connected,
            "current_user": self.current_user,
            "tls_version": self.tls_version,
            "server_version": self.server_version,
            "latency_ms": self.latency_ms,
            "diagnosis": self.diagnosis,
            "token_source": self.token_source,
            "token_expires_at": self.token_expires_at,
        }


def validated_target(params):
    """(engine, host, port, user, database) from the module options."""
    engine = params.get("engine")
    if engine not in DEFAULT_PORTS:
        raise VerifyConfigError("engine must be one of mysql, mariadb, postgres (got %r)." % (engine,))
    host = params.get("db_host")
    if not host or not str(host).strip():
        raise VerifyConfigError("db_host is required: the endpoint address the host connects to.")
    port = params.get("db_port") or DEFAULT_PORTS[engine]
    if port < 1 or port > 65535:
        raise VerifyConfigError("db_port %d is outside 1-65535." % port)
    user = params.get("db_user")
    if not user:
        raise VerifyConfigError("db_user is required: the IAM database user to log in as.")
    database = params.get("db_name")
    if engine == "postgres" and not database:
        database = "postgres"
    timeout = params.get("connect_timeout") or 10
    if timeout < 1:
        raise VerifyConfigError("connect_timeout must be at least 1 second.")
    return engine, str(host), port, user, database


def classify_token_error(error):
    """Diagnosis for a TokenError, read from its kind (None: a configuration error)."""
    if error.kind == KIND_CREDENTIALS_EXPIRED:
        return "credentials_expired"
    if error.kind in (KIND_NO_CREDENTIALS, KIND_ASSUME_ROLE):
        return "no_credentials"
    return None


def _mysql_code(message):
    m = _MYSQL_CODE_RE.match(message)
    return int(m.group(1)) if m else None


def classify_connect_error(err, engine, ssl_mode, user, endpoint):
    """(diagnosis, message) for a DbConnectionError raised by db_connection.connect."""
    text = str(err)
    lower = text.lower()
    if ssl_mode not in TLS_MODES and err.kind in ("auth", "tls", "driver"):
        return "tls", (
            "The login failed and ssl_mode=%s does not require TLS. IAM authentication only works over TLS "
            "(RDS refuses a token on a plain connection, and this module never sends one without TLS): "
            "set ssl_mode=verify-full and ca_cert to the RDS CA bundle. The server said: %s" % (ssl_mode, text))
    if err.kind == "unreachable":
        return "network", (
            "Nothing answered at %s: %s. Check db_host and db_port (the endpoint's port, not a default), DNS, "
            "and that security groups / network ACLs let this host reach the database." % (endpoint, text))
    if err.kind == "tls" or err.option == "ca_cert":  # a CA bundle that cannot be read is a broken TLS link too
        return "tls", (
            "TLS to %s failed: %s. Give ca_cert the CA bundle that signed the server certificate (RDS: "
            "global-bundle.pem), connect with the endpoint name written in the certificate (ssl_mode=verify-full "
            "checks it), and use a client with TLS 1.2 or newer." % (endpoint, text))
    if err.kind == "auth":
        if engine in MYSQL_ENGINES and ("1524" in text or "awsauthenticationplugin" in lower and "not loaded" in lower):
            return "iam_disabled", (
                "The server has no AWSAuthenticationPlugin loaded: IAM database authentication is disabled on "
                "the DB instance/cluster. Enable it (dbauth.rds_iam.rds_iam_enable). Server: %s" % text)
        if engine == "postgres" and "password authentication failed" in lower:
            return "user_not_iam", (
                "PostgreSQL at %s checked the token as a password: user %s is not a member of rds_iam (or does "
                "not exist). GRANT rds_iam TO %s (dbauth.rds_iam.rds_iam_db_user). Server: %s"
                % (endpoint, user, user, text))
        if engine == "postgres" and "role" in lower and "does not exist" in lower:
            return "user_missing", "User %s does not exist on %s: create it with dbauth.rds_iam.rds_iam_db_user. " \
                                   "Server: %s" % (user, endpoint, text)
        return "token_rejected", (
            "The database at %s refused the IAM token for user %s: %s. The server does not say which link is "
            "broken; run with diagnose=true (read-only AWS calls, plus login_user/login_password for the user's "
            "catalog entry) to find out." % (endpoint, user, text))
    return None, text


def _server_facts(conn, engine):
    cur = conn.cursor()
    try:
        if engine in MYSQL_ENGINES:
            cur.execute("SELECT CURRENT_USER(), VERSION()")
            account, version = cur.fetchone()
            name = account.rsplit("@", 1)[0] if account else account
            return name, version
        cur.execute("SELECT current_user, current_setting('server_version')")
        name, version = cur.fetchone()
        return name, version
    finally:
        cur.close()


def attempt_login(params, region, signer, connect_fn=None, clock=None, no_log_values=None):
    """Sign or take a token and log in. Returns a LoginOutcome; never raises for a failed login.

    ``no_log_values``: a set the signed token is added to (the module's), so that Ansible masks it
    wherever it might appear.
    """
    connect_fn = connect_fn or connect
    clock = clock or time.monotonic
    engine, host, port, user, database = validated_target(params)
    ssl_mode = params.get("ssl_mode") or "verify-full"
    endpoint = "%s:%s" % (host, port)
    outcome = LoginOutcome()
    missing = driver_missing(engine)
    if missing:
        raise VerifyConfigError("The %s Python library is required on this host for engine %s: %s (install it, "
                                "for example with the dbauth.rds_iam.client role)." % (missing[0], engine, missing[1]))

    token = params.get("token")
    if token:
        outcome.token_source = "given"
    else:
        outcome.token_source = "signed"
        try:
            signed = signer.generate(dict(db_host=host, db_port=port, db_user=user, region=region,
                                          kind=params.get("kind"), server_id=params.get("server_id")))
        except TokenError as e:
            diagnosis = classify_token_error(e)
            if diagnosis is None:
                raise VerifyConfigError(str(e))
            outcome.diagnosis = diagnosis
            if diagnosis == "credentials_expired":
                outcome.message = ("The AWS credentials of this host have expired, so no valid token can be signed: "
                                   "%s Renew them (for example aws sso login, a fresh credentials file, or the "
                                   "instance profile's role) and retry." % e)
            else:
                outcome.message = ("This host has no usable AWS credentials to sign the token: %s For an EC2 host, "
                                   "attach the instance profile of a role that has rds-db:connect (the "
                                   "dbauth.rds_iam.iam_access role creates it)." % e)
            return outcome
        token = signed["token"]
        outcome.token_expires_at = signed["expires_at"]
        outcome.region = signed["region"]
        if no_log_values is not None:
            no_log_values.add(token)

    if engine == "postgres" and ssl_mode not in TLS_MODES:
        # libpq may answer a password request on a plain connection: probe without the token.
        secret = ""
    else:
        secret = token
    settings = LoginSettings(engine, host, port, user, secret, database, params.get("ca_cert"), ssl_mode,
                             params.get("connect_timeout") or 10, True)
    started = clock()
    try:
        conn, tls_version = connect_fn(settings)
    except DbConnectionError as e:
        outcome.latency_ms = round((clock() - started) * 1000.0, 1)
        outcome.error_kind = e.kind
        outcome.server_message = scrub(str(e), [token])
        outcome.diagnosis, message = classify_connect_error(
            DbConnectionError(outcome.server_message, e.kind, e.option), engine, ssl_mode, user, endpoint)
        if outcome.diagnosis is None:
            raise VerifyConfigError(message)
        if outcome.diagnosis == "token_rejected" and params.get("kind") == "sts":
            # The server asked its bridge, which logs why (its reason field); the RDS diagnosis does not apply.
            message = ("The database at %s refused the kind=sts token for user %s: %s. Its bridge (dbauth-iam-bridge) "
                       "logs the reason of each refusal: unmapped_principal, user_not_allowed, sts_refused (signed for "
                       "another server_id, or bad credentials), expired, not_sts_url, ..."
                       % (endpoint, user, outcome.server_message))
        outcome.message = message
        return outcome
    except Exception as e:  # the driver failed otherwise: report, never with the token, and claim no login
        raise VerifyConfigError("could not connect to %s as %s: %s"
                                % (endpoint, user, scrub("%s: %s" % (type(e).__name__, e), [token])))
    try:
        current_user, server_version = _server_facts(conn, engine)
    except Exception as e:  # a driver error after the login (the queries): report, never with the token
        raise VerifyConfigError("Logged in to %s as %s, but reading the session facts failed: %s"
                                % (endpoint, user, scrub("%s: %s" % (type(e).__name__, e), [token])))
    finally:
        conn.close()
    outcome.latency_ms = round((clock() - started) * 1000.0, 1)
    if ssl_mode not in TLS_MODES and not tls_version:
        outcome.diagnosis = "tls"
        outcome.message = ("Connected to %s without TLS (ssl_mode=%s) and without sending the token: the server let "
                           "%s in without IAM authentication. Use ssl_mode=verify-full." % (endpoint, ssl_mode, user))
        return outcome
    outcome.connected = True
    outcome.current_user = current_user
    outcome.tls_version = tls_version
    outcome.server_version = server_version
    outcome.message = "Logged in to %s as %s with an IAM token over %s in %.1f ms." % (
        endpoint, current_user, tls_version or "an unencrypted connection", outcome.latency_ms)
    return outcome
