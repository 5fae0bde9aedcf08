# -*- coding: utf-8 -*-

# Copyright: (c) 2026, dbauth.rds_iam developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

# Internal use only: this file is not part of the collection's public interface and may change
# without notice.

"""rds_iam_verify from validated params to result, for one login or for ``logins``.

``verify_one`` is the single mode (sign or take a token, log in, diagnose a refusal);
``run_logins`` runs it for each entry of ``logins`` in a bounded thread pool, with one signer
for all of them: the host's credentials are resolved once and each login gets its own freshly
signed token. No token is ever part of a result or a message.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import threading

from ansible_collections.dbauth.rds_iam.plugins.module_utils._batch import LockedSigner
from ansible_collections.dbauth.rds_iam.plugins.module_utils._batch import optional_spec
from ansible_collections.dbauth.rds_iam.plugins.module_utils._batch import run_bounded
from ansible_collections.dbauth.rds_iam.plugins.module_utils._db_connection import DEFAULT_PORTS
from ansible_collections.dbauth.rds_iam.plugins.module_utils._db_connection import LOGIN_ARGUMENT_SPEC
from ansible_collections.dbauth.rds_iam.plugins.module_utils._db_connection import login_settings
from ansible_collections.dbauth.rds_iam.plugins.module_utils._token_signing import TokenError
from ansible_collections.dbauth.rds_iam.plugins.module_utils._token_signing import region_from_host
from ansible_collections.dbauth.rds_iam.plugins.module_utils._verify_diagnosis import DIAGNOSABLE
from ansible_collections.dbauth.rds_iam.plugins.module_utils._verify_diagnosis import diagnose
from ansible_collections.dbauth.rds_iam.plugins.module_utils._verify_diagnosis import parse_token
from ansible_collections.dbauth.rds_iam.plugins.module_utils._verify_diagnosis import read_catalog
from ansible_collections.dbauth.rds_iam.plugins.module_utils._verify_login import VerifyConfigError
from ansible_collections.dbauth.rds_iam.plugins.module_utils._verify_login import attempt_login
from ansible_collections.dbauth.rds_iam.plugins.module_utils._verify_login import validated_target

# What one login is: in single mode top-level options, with logins the keys of each entry.
TARGET_SPEC = dict(
    engine=dict(type="str", required=True, choices=["mysql", "mariadb", "postgres"]),
    db_host=dict(type="str", required=True),
    db_port=dict(type="int"),
    db_user=dict(type="str", required=True),
    db_name=dict(type="str"),
    db_instance_identifier=dict(type="str"),
    db_cluster_identifier=dict(type="str"),
    # kind=sts: a self-managed database behind the bridge, whose tokens are bound to its server_id.
    kind=dict(type="str", choices=["rds", "sts"]),
    server_id=dict(type="str"),
)
TARGET_OPTION_NAMES = tuple(TARGET_SPEC)
REQUIRED_TARGET_OPTIONS = tuple(n for n, s in TARGET_SPEC.items() if s.get("required"))
# Options that name one login only, refused together with logins.
SINGLE_LOGIN_OPTIONS = TARGET_OPTION_NAMES + ("token", "login_host", "login_port")

# region per entry: a cross-Region read replica or a global database's secondary cluster signs in its own Region.
LOGIN_ENTRY_SPEC = dict(TARGET_SPEC, label=dict(type="str"), region=dict(type="str"))
TOP_ARGUMENT_SPEC = dict((n, optional_spec(s)) for n, s in TARGET_SPEC.items())
TOP_ARGUMENT_SPEC.update(
    # As in rds_iam_token: no environment fallback here, so that the region in an RDS host name
    # wins over AWS_REGION (the signer reads the environment after that).
    region=dict(type="str", aliases=["aws_region"]),
    token=dict(type="str", no_log=True),
    diagnose=dict(type="bool", default=False),
    fail_on_error=dict(type="bool", default=True),
)
# The TLS options and the admin login (login_*, to read the user's catalog entry) are the db_login fragment's.
TOP_ARGUMENT_SPEC.update((n, optional_spec(LOGIN_ARGUMENT_SPEC[n])) for n in ("login_user", "login_host"))
TOP_ARGUMENT_SPEC.update((n, LOGIN_ARGUMENT_SPEC[n]) for n in (
    "ca_cert", "ssl_mode", "connect_timeout", "login_password", "login_port", "login_db"))


class AwsClients:
    """Clients for the diagnosis, per region, created once and shared by the pool's threads."""

    def __init__(self, client_factory):
        self._factory = client_factory
        self._clients = {}
        self._lock = threading.Lock()

    def for_region(self, region):
        return _RegionClients(self, region)

    def client(self, service, region):
        with self._lock:
            key = (service, region)
            if key not in self._clients:
                self._clients[key] = self._factory(service, region)
            return self._clients[key]


class _RegionClients:
    def __init__(self, clients, region):
        self._clients = clients
        self._region = region

    def client(self, service):
        return self._clients.client(service, self._region)


def _catalog(params, engine, user):
    if not params.get("login_user"):
        return None
    admin = dict(
        engine=engine, login_host=params.get("login_host") or params["db_host"],
        login_port=params.get("login_port") or params.get("db_port"), login_user=params["login_user"],
        login_password=params.get("login_password"), login_iam=False, login_db=params.get("login_db"),
        ca_cert=params.get("ca_cert"), ssl_mode=params.get("ssl_mode"), connect_timeout=params.get("connect_timeout"),
    )

    def read():
        return read_catalog(login_settings(admin), user)

    return read


def verify_one(params, signer, aws, no_log_values=None, login_fn=None):
    """The result of one login (and its diagnosis). Raises VerifyConfigError or TokenError when the
    options cannot work; a refused login is a result, not an exception."""
    engine, host, port, user, dummy = validated_target(params)
    outcome = (login_fn or attempt_login)(params, params.get("region"), signer, no_log_values=no_log_values)
    result = outcome.to_result()
    result.update(changed=False, db_endpoint="%s:%s" % (host, port), db_user=user, msg=outcome.message)
    # The diagnosis reads RDS and the RDS token; a kind=sts login is judged by its bridge, whose log names the reason.
    if not outcome.connected and params["diagnose"] and outcome.diagnosis in DIAGNOSABLE \
            and params.get("kind") in (None, "rds"):
        token_facts = parse_token(params.get("token")) if params.get("token") else None
        region = (params.get("region") or outcome.region or (token_facts or {}).get("region")
                  or region_from_host(host))
        diagnosis, message, checks, facts = diagnose(
            outcome, params, host, port, user, aws.for_region(region), catalog=_catalog(params, engine, user),
            token=params.get("token"), now=datetime.datetime.now(datetime.timezone.utc))
        result.update(diagnosis=diagnosis, msg=message, checks=[c.to_dict() for c in checks], **facts)
    return result


def missing_single_login_options(params):
    return [n for n in REQUIRED_TARGET_OPTIONS if params.get(n) in (None, "")]


def login_label(entry):
    return entry.get("label") or "%s@%s:%s" % (entry.get("db_user"), entry.get("db_host"), entry.get("db_port"))


def login_params(params, entry):
    """The single mode's params for one ``logins`` entry; the shared options stay the top level's."""
    merged = dict((k, v) for k, v in params.items() if k not in ("logins", "concurrency"))
    for name in SINGLE_LOGIN_OPTIONS:
        merged[name] = entry.get(name)
    if entry.get("region"):
        merged["region"] = entry["region"]
    return merged


def run_logins(params, aws, signer, no_log_values=None, login_fn=None):
    """One result per ``logins`` entry in input order: the single mode's result plus db_host, db_port,
    db_user and label. An entry whose options cannot work gets ``failed: true``."""
    shared_signer = LockedSigner(signer)

    def one(index, entry):
        merged = login_params(params, entry)
        try:
            result = verify_one(merged, shared_signer, aws, no_log_values=no_log_values, login_fn=login_fn)
        except (VerifyConfigError, TokenError) as e:
            result = dict(connected=False, current_user=None, tls_version=None, server_version=None, latency_ms=None,
                          diagnosis=None, changed=False, failed=True, msg=str(e))
        result.update(db_host=entry.get("db_host"), db_user=entry.get("db_user"), label=entry.get("label"),
                      db_port=entry.get("db_port") or DEFAULT_PORTS.get(entry.get("engine")))
        return result

    return run_bounded(one, params["logins"], params.get("concurrency") or 1)


def summary(results, fail_on_error):
    """(failed, message): the module fails for options that cannot work, and for refused logins
    only with fail_on_error; the message names each login that did not connect."""
    broken = [r for r in results if r.get("failed")]
    refused = [r for r in results if not r["connected"] and not r.get("failed")]
    connected = len(results) - len(broken) - len(refused)
    parts = ["%d of %d logins connected." % (connected, len(results))]
    for r in refused:
        parts.append("%s (%s): %s" % (login_label(r), r.get("diagnosis") or "refused", r.get("msg")))
    for r in broken:
        parts.append("%s (options): %s" % (login_label(r), r.get("msg")))
    failed = bool(broken) or bool(refused and fail_on_error)
    return failed, "\n- ".join(parts)
