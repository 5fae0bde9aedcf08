"""RDS IAM authentication token verifier of the lab.

``TokenVerifier.verify(token, login_user, db_id, dialled)`` accepts a login only when every
link RDS checks holds (``db_id``: the server that asks; ``dialled``: the database whose
endpoint the client connected to, that server's own by default, or a logical
database it serves, reached through the lab's relay, see :mod:`lab.relay`):

1. the token parses: ``host:port/?Action=connect&DBUser=...&X-Amz-*``;
2. ``X-Amz-Algorithm=AWS4-HMAC-SHA256``, credential scope service ``rds-db``,
   ``X-Amz-SignedHeaders=host``, and (once the database is known) region = the database's Region
   (a cross-Region replica's or secondary cluster's own);
3. ``X-Amz-Expires`` <= 900 and ``X-Amz-Date`` neither older than that nor in the
   future beyond a small skew (injectable clock);
4. ``DBUser`` equals the login name (case-sensitive);
5. host:port of the token is an endpoint of the database dialled (RDS: "an authentication
   token ... is signed for the host name and port of the DB instance", user guide,
   "Connecting to your DB instance using IAM authentication"): a token for a logical
   database's endpoint is refused on its server's own endpoint and the other way round;
6. the access key is known to moto (an active IAM user key, or an assumed-role
   session whose session token equals ``X-Amz-Security-Token`` and that has not
   expired) and the signature botocore's SigV4 query signer makes with its secret, on the
   token's own X-Amz-Date, scope and expiry, matches (:mod:`lab.auth_token`, the one place
   the lab reads tokens);
7. IAM database authentication is enabled on the instance / cluster dialled (live);
8. the principal's identity policies (user: inline + attached + groups; role
   session: the role's inline + attached; then permissions boundary and session
   policy when present) allow ``rds-db:connect`` on
   ``arn:aws:rds-db:REGION:ACCOUNT:dbuser:RESOURCE_ID/USER`` with the resource id of the
   database dialled (each DB instance has its own ``DbiResourceId`` and an Aurora cluster
   its ``DbClusterResourceId``; the policy names it: user guide, "Creating and using an IAM
   policy for IAM database access"), decided by the lab's own evaluator ``lab/iam_policy.py``
   (written from AWS's IAM user guide; the lab never loads the collection's ``plugins/``) on
   the request context of ``request_context``.

Refusals are logged (JSON lines to ``log_path`` and an in-memory ring) with the
access key id and a reason; secrets, session tokens and tokens are never logged.
"""

from __future__ import annotations

import collections
import datetime as dt
import hmac
import json
import pathlib
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

from rds_iam_lab import auth_token, iam_policy, iam_simulator
from rds_iam_lab.auth_token import ParsedToken, expected_signature
from rds_iam_lab.control_plane import PARTITION, ControlPlane


ALGORITHM = "AWS4-HMAC-SHA256"
SERVICE = "rds-db"
MAX_EXPIRES = 900
CLOCK_SKEW = 60  # seconds a token's X-Amz-Date may lie in the future
ACTION = "rds-db:connect"


@dataclass
class Decision:
    ok: bool
    reason: str
    principal_arn: str | None = None
    access_key_id: str | None = None
    code: str = ""  # short machine-readable reason ("ok", "expired", "bad_signature", ...)
    resource_arn: str | None = None
    database: str | None = None  # the database dialled (the asking server's own, or a logical one it serves)


class _Refuse(Exception):
    def __init__(self, code: str, reason: str, principal_arn: str | None = None,
                 access_key_id: str | None = None, resource_arn: str | None = None):
        super().__init__(reason)
        self.code = code
        self.reason = reason
        self.principal_arn = principal_arn
        self.access_key_id = access_key_id
        self.resource_arn = resource_arn


@dataclass
class _Target:
    """What a login is checked against: a DB instance, a DB cluster or an RDS Proxy."""
    endpoints: list[tuple[str, int]]
    enabled: bool
    resource_id: str
    label: str
    disabled_reason: str = ""
    region: str = ""  # the database's Region (a cross-Region replica, a global secondary); "" = the lab's


@dataclass
class _Principal:
    arn: str
    kind: str  # "user" | "assumed-role"
    secret: str
    policies: list[tuple[str, Any]]
    boundary: tuple[str, Any] | None
    session_policy: Any | None
    context: dict[str, Any]


def parse_token(token: str) -> ParsedToken:
    """:func:`lab.auth_token.parse_token`, a refusal (code ``malformed``) when it is no token."""
    try:
        return auth_token.parse_token(token)
    except auth_token.TokenFormatError as error:
        raise _Refuse(error.code, error.reason) from None


def _policies(iam: Any, entity: Any) -> tuple[list[tuple[str, Any]], tuple[str, Any] | None]:
    """(label, document) of the identity policies and the boundary of a moto user or role, as the
    policy simulator reads them (:func:`lab.iam_simulator.entity_policies`)."""
    policies, boundary = iam_simulator.entity_policies(iam, entity)
    return [(p.label, p.document) for p in policies], None if boundary is None else (boundary.label, boundary.document)


def request_context(principal_keys: dict[str, Any], tags: list[dict[str, str]], now: float) -> dict[str, Any]:
    """The request context of ``rds-db:connect`` (IAM user guide, "AWS global condition context
    keys"): the principal's keys (aws:PrincipalArn with its IAM path, aws:PrincipalAccount,
    aws:PrincipalType, aws:userid, aws:username for IAM users), aws:PrincipalTag/KEY for each
    tag of the user or role ("Tags as policy variables"; moto keeps no session tags of
    AssumeRole, so only the role's own tags), aws:CurrentTime, aws:EpochTime and
    aws:SecureTransport (IAM database authentication always runs over TLS)."""
    context = dict(principal_keys)
    for tag in tags:
        if isinstance(tag, dict) and tag.get("Key"):
            context[f"aws:PrincipalTag/{tag['Key']}"] = str(tag.get("Value", ""))
    instant = dt.datetime.fromtimestamp(int(now), dt.timezone.utc)
    context["aws:CurrentTime"] = instant.strftime("%Y-%m-%dT%H:%M:%SZ")
    context["aws:EpochTime"] = str(int(now))
    context["aws:SecureTransport"] = "true"
    return context


def _user_tags(iam: Any, user_name: str) -> list[dict[str, str]]:
    try:
        return list(iam.list_user_tags(user_name))
    except Exception:  # moto's signature differs between versions: no tags rather than no login
        return []


def _retrying(func: Callable[[], Any]) -> Any:
    """moto's dicts may change size while the server thread works: retry."""
    for attempt in range(5):
        try:
            return func()
        except RuntimeError:
            if attempt == 4:
                raise
            time.sleep(0.01)
    return None


class TokenVerifier:
    def __init__(self, control_plane: ControlPlane, clock: Callable[[], float] = time.time,
                 log_path: pathlib.Path | None = None, ring_size: int = 200):
        self.control_plane = control_plane
        self.clock = clock
        self.log_path = pathlib.Path(log_path) if log_path is not None else None
        self._refusals: collections.deque[dict[str, Any]] = collections.deque(maxlen=ring_size)
        self._accepts: collections.deque[dict[str, Any]] = collections.deque(maxlen=ring_size)
        self._lock = threading.Lock()

    # public -----------------------------------------------------------------
    def verify(self, token: str, login_user: str, db_id: str, dialled: str | None = None) -> Decision:
        access_key_id = None
        database = dialled or db_id
        try:
            return self._verify(token, login_user, db_id, database)
        except _Refuse as refusal:
            access_key_id = refusal.access_key_id
            decision = Decision(False, refusal.reason, refusal.principal_arn, access_key_id,
                                refusal.code, refusal.resource_arn, database)
        except Exception as exc:  # never let a bug turn into an accepted login
            decision = Decision(False, f"verifier error: {type(exc).__name__}", None, access_key_id,
                                "internal_error", None, database)
        self._record_refusal(decision, login_user, db_id)
        return decision

    def recent_refusals(self, limit: int = 20) -> list[dict[str, Any]]:
        """The last ``limit`` refusals, oldest first (no secrets)."""
        with self._lock:
            items = list(self._refusals)
        return items[-limit:] if limit else []

    def recent_accepts(self, limit: int = 20) -> list[dict[str, Any]]:
        with self._lock:
            items = list(self._accepts)
        return items[-limit:] if limit else []

    # internals --------------------------------------------------------------
    def _record_refusal(self, decision: Decision, login_user: str, db_id: str) -> None:
        entry = {
            "time": dt.datetime.fromtimestamp(self.clock(), dt.timezone.utc).isoformat(timespec="seconds"),
            "db_id": db_id,
            "database": decision.database,
            "user": login_user,
            "access_key_id": decision.access_key_id,
            "principal_arn": decision.principal_arn,
            "code": decision.code,
            "reason": decision.reason,
        }
        with self._lock:
            self._refusals.append(entry)
            if self.log_path is not None:
                self.log_path.parent.mkdir(parents=True, exist_ok=True)
                with self.log_path.open("a", encoding="utf-8") as handle:
                    handle.write(json.dumps(entry, sort_keys=True) + "\n")

    def _verify(self, token: str, login_user: str, db_id: str, database: str,
                target: _Target | None = None) -> Decision:
        cp = self.control_plane
        parsed = parse_token(token)

        parts = parsed.credential
        access_key_id = parts[0] if parts and parts[0] else None
        if len(parts) != 5 or not parts[0]:
            raise _Refuse("malformed", "X-Amz-Credential is not KEY/DATE/REGION/SERVICE/aws4_request",
                          access_key_id=access_key_id)
        _key, scope_date, region, service, terminator = parts

        def refuse(code: str, reason: str, **kw: Any) -> _Refuse:
            return _Refuse(code, reason, access_key_id=access_key_id, **kw)

        if parsed.get("Action") != "connect":
            raise refuse("wrong_action", "Action must be connect")
        if parsed.get("X-Amz-Algorithm") != ALGORITHM:
            raise refuse("wrong_algorithm", f"X-Amz-Algorithm must be {ALGORITHM}")
        if terminator != "aws4_request":
            raise refuse("malformed", "credential scope does not end in aws4_request")
        if service != SERVICE:
            raise refuse("wrong_service", f"token signed for service {service!r}, not {SERVICE!r}")
        if parsed.get("X-Amz-SignedHeaders") != "host":
            raise refuse("wrong_signed_headers", "X-Amz-SignedHeaders must be host")

        expires_text = parsed.get("X-Amz-Expires") or ""
        if not expires_text.isdigit() or not 0 < int(expires_text) <= MAX_EXPIRES:
            raise refuse("bad_expires", f"X-Amz-Expires must be 1..{MAX_EXPIRES} seconds")
        expires = int(expires_text)
        amz_date = parsed.get("X-Amz-Date") or ""
        try:
            signed_at = parsed.signed_at()
        except ValueError:
            raise refuse("malformed", "X-Amz-Date is not YYYYMMDDTHHMMSSZ") from None
        if scope_date != amz_date[:8]:
            raise refuse("malformed", "credential scope date differs from X-Amz-Date")
        now = self.clock()
        age = now - signed_at.timestamp()
        if age > expires:
            raise refuse("expired", f"token expired: signed {int(age)} s ago, valid for {expires} s")
        if age < -CLOCK_SKEW:
            raise refuse("not_yet_valid", f"token signed {int(-age)} s in the future")

        db_user = parsed.get("DBUser") or ""
        if db_user != login_user:
            raise refuse("wrong_user", f"token is for DBUser {db_user!r}, login is {login_user!r}")

        if target is None:
            target = self._database_target(db_id, database, refuse)
        # A token is signed in the Region of the database it opens (RDS user guide, "Connecting to your DB
        # instance using IAM authentication and the AWS SDK": the Region is one of the token's inputs): a
        # cross-Region replica or a global database's secondary cluster wants a token of its own Region.
        db_region = target.region or cp.region
        if region != db_region:
            raise refuse("wrong_region", f"token signed for region {region!r}, the database is in {db_region!r}")
        endpoints = target.endpoints
        if (parsed.host.lower(), parsed.port) not in {(h.lower(), p) for h, p in endpoints}:
            allowed = ", ".join(sorted({f"{h}:{p}" for h, p in endpoints}))
            raise refuse("wrong_endpoint", f"token signed for {parsed.host}:{parsed.port}, "
                                           f"{database} listens on {allowed}")

        principal = _retrying(lambda: self._principal(access_key_id, parsed.get("X-Amz-Security-Token"), now))
        signature = parsed.get("X-Amz-Signature") or ""
        if not hmac.compare_digest(expected_signature(parsed, principal.secret), signature.lower()):
            raise refuse("bad_signature", "signature does not match", principal_arn=principal.arn)

        enabled, resource_id, label = target.enabled, target.resource_id, target.label
        resource_arn = iam_policy.rds_db_user_arn(db_region, cp.account_id, resource_id, db_user,
                                                  partition=PARTITION)
        if not enabled:
            raise refuse("iam_auth_disabled", target.disabled_reason or
                         f"IAM database authentication is disabled on {label}",
                         principal_arn=principal.arn, resource_arn=resource_arn)

        # The lab's own evaluator (lab/iam_policy.py, written from AWS's IAM user guide).
        result = iam_policy.evaluate(principal.policies, ACTION, resource_arn, principal.context,
                                     boundary=principal.boundary, session_policy=principal.session_policy)
        if not result.allowed:
            prefix = {"boundary": "boundary_", "session": "session_policy_"}.get(result.policy_type, "policy_")
            raise refuse(prefix + result.decision, result.reason, principal_arn=principal.arn,
                         resource_arn=resource_arn)
        reason = result.reason
        decision = Decision(True, reason, principal.arn, access_key_id, "ok", resource_arn, database)
        with self._lock:
            self._accepts.append({
                "time": dt.datetime.fromtimestamp(now, dt.timezone.utc).isoformat(timespec="seconds"),
                "db_id": db_id, "database": database, "user": login_user, "access_key_id": access_key_id,
                "principal_arn": principal.arn, "reason": reason,
            })
        return decision

    def _database_target(self, db_id: str, database: str, refuse: Callable[..., _Refuse]) -> _Target:
        """The DB instance or cluster dialled: its endpoints, IAM flag and resource id (live)."""
        cp = self.control_plane
        if database.lower() != db_id.lower() and database not in _retrying(lambda: cp.served_databases(db_id)):
            raise refuse("unknown_database", f"{database!r} is not a database served by {db_id}")
        found = _retrying(lambda: cp.find_database(database))
        if found is None:  # moto's ModifyDBCluster briefly removes the cluster: look twice
            time.sleep(0.05)
            found = _retrying(lambda: cp.find_database(database))
        if found is None:
            raise refuse("unknown_database", f"no RDS instance or cluster {database!r}")
        kind, db = found
        endpoints = _retrying(lambda: cp.endpoints(database))
        region = cp.region_of(database)
        if kind == "instance":
            return _Target(endpoints, bool(db.enable_iam_database_authentication), db.dbi_resource_id,
                           f"DB instance {db.db_instance_identifier}", region=region)
        return _Target(endpoints, bool(db.iam_auth), db.db_cluster_resource_id,
                       f"DB cluster {db.db_cluster_identifier}", region=region)

    def verify_proxy(self, token: str, login_user: str, proxy: Any, endpoint: tuple[str, int],
                     iam_required: bool) -> Decision:
        """A client's login to an RDS Proxy (moto's DBProxy ``proxy``, listening on ``endpoint``): the
        same checks as a database's, with the proxy's endpoint and its ``prx-`` resource id (RDS user
        guide, "Setting up IAM authentication for RDS Proxy": clients need ``rds-db:connect`` on
        ``arn:aws:rds-db:REGION:ACCOUNT:dbuser:prx-ID/USER``; the token is signed for the proxy
        endpoint). ``iam_required``: DefaultAuthScheme IAM_AUTH or the user's Auth entry with IAMAuth
        REQUIRED (otherwise the proxy takes no token: ``iam_auth_disabled``)."""
        name = f"proxy:{proxy.db_proxy_name}"
        target = _Target([endpoint], iam_required, proxy.unique_id, f"DB proxy {proxy.db_proxy_name}",
                         f"DB proxy {proxy.db_proxy_name} does not require IAM authentication for {login_user!r}")
        try:
            return self._verify(token, login_user, name, name, target)
        except _Refuse as refusal:
            decision = Decision(False, refusal.reason, refusal.principal_arn, refusal.access_key_id,
                                refusal.code, refusal.resource_arn, name)
        except Exception as exc:  # never let a bug turn into an accepted login
            decision = Decision(False, f"verifier error: {type(exc).__name__}", None, None, "internal_error", None,
                                name)
        self._record_refusal(decision, login_user, name)
        return decision

    def _principal(self, access_key_id: str, session_token: str | None, now: float) -> _Principal:
        cp = self.control_plane
        iam = cp.iam_backend

        def refuse(code: str, reason: str, arn: str | None = None) -> _Refuse:
            return _Refuse(code, reason, principal_arn=arn, access_key_id=access_key_id)

        for assumed in list(cp.sts_backend.assumed_roles):
            if assumed.access_key_id != access_key_id:
                continue
            arn = assumed.arn
            if not session_token:
                raise refuse("missing_session_token", "temporary key used without X-Amz-Security-Token", arn)
            if not hmac.compare_digest(assumed.session_token.encode(), session_token.encode()):
                raise refuse("bad_session_token", "X-Amz-Security-Token does not match the session", arn)
            expiration = assumed.expiration
            if expiration.tzinfo is None:
                expiration = expiration.replace(tzinfo=dt.timezone.utc)
            if expiration.timestamp() <= now:
                raise refuse("session_expired", "the role session has expired", arn)
            try:
                role = iam.get_role_by_arn(assumed.role_arn)
            except Exception:
                raise refuse("unknown_role", f"role {assumed.role_arn} no longer exists", arn) from None
            policies, boundary = _policies(iam, role)
            return _Principal(
                arn=arn, kind="assumed-role", secret=assumed.secret_access_key, policies=policies,
                boundary=boundary,
                session_policy=assumed.policy or None,
                context=request_context({
                    "aws:PrincipalArn": role.arn, "aws:PrincipalAccount": cp.account_id,
                    "aws:PrincipalType": "AssumedRole", "aws:userid": f"{role.id}:{assumed.session_name}",
                }, list(getattr(role, "tags", None) or []), now),
            )

        for user in list(iam.users.values()):
            for key in list(user.access_keys):
                if key.access_key_id != access_key_id:
                    continue
                if key.status != "Active":
                    raise refuse("inactive_key", "access key is inactive", user.arn)
                if session_token:
                    raise refuse("unexpected_session_token",
                                 "X-Amz-Security-Token given with a long-term access key", user.arn)
                policies, boundary = _policies(iam, user)
                return _Principal(
                    arn=user.arn, kind="user", secret=key.secret_access_key, policies=policies,
                    boundary=boundary,
                    session_policy=None,
                    context=request_context({
                        "aws:username": user.name, "aws:PrincipalArn": user.arn,
                        "aws:PrincipalAccount": cp.account_id, "aws:PrincipalType": "User", "aws:userid": user.id,
                    }, _user_tags(iam, user.name), now),
                )
        raise refuse("unknown_key", "access key id is not known to the lab's IAM/STS")
