"""The lab's AWS API judges its callers as AWS does: authentication, then authorization.

moto in server mode believes any caller (a wrong secret, an unknown key, an expired
session all pass). :class:`ApiGuard` is a WSGI layer in front of moto's application
(installed by :func:`lab.control_plane.start_control_plane`) that answers every request
first, as AWS's front door does, and hands the request to moto only when it passes:

1. **Authentication** -- AWS General Reference / IAM User Guide, "Signing AWS API
   requests" and "Create a signed AWS API request" ([SIGN]); "Authentication methods"
   with "Authenticating requests: using query parameters" ([PRESIGN]). A request carries
   a Signature Version 4 signature in the ``Authorization`` header or in the query string
   (``X-Amz-Algorithm``, ``X-Amz-Credential``, ``X-Amz-SignedHeaders``, ``X-Amz-Signature``).
   The lab recomputes it with botocore's own signer (``botocore.auth.SigV4Auth`` /
   ``SigV4QueryAuth``) over the request as received: method, path, query, the signed
   headers and the body, with the secret moto keeps for the access key (an IAM user's
   active key, or an assumed-role session whose session token must come with it).
   Refusals use the codes of the "Common Errors" pages of the query APIs (RDS API
   Reference "Common Errors", IAM API Reference "Common Errors", STS API Reference
   "Common Errors") ([ERRORS]):

   * no signature -> ``MissingAuthenticationToken`` (403);
   * a malformed ``Authorization`` header -> ``IncompleteSignature`` (400);
   * an access key moto does not know, an inactive key, a session token that does
     not belong to the key -> ``InvalidClientTokenId`` (403, "The security token
     included in the request is invalid.");
   * an expired assumed-role session -> ``ExpiredToken`` (403, "The security token
     included in the request is expired");
   * a signature that does not match, or a header named in the signed headers but not
     sent -> ``SignatureDoesNotMatch`` (403);
   * ``X-Amz-Date`` more than 15 minutes away from the lab's clock, or a presigned
     request past ``X-Amz-Expires`` -> ``RequestExpired`` (400) ([ERRORS]: "The
     request reached the service more than 15 minutes after the date stamp on the
     request or more than 15 minutes after the request expiration date (such as for
     pre-signed URLs), or the date stamp on the request is more than 15 minutes in
     the future").

   STS's ``AssumeRoleWithWebIdentity`` and ``AssumeRoleWithSAML`` are the documented
   exceptions: "you don't need to use AWS security credentials to call" them (STS API
   Reference, those actions); they pass unsigned. moto's own ``/moto-api/`` paths are
   not an AWS API and are refused from the network (the lab drives moto in-process).

2. **Authorization** -- IAM User Guide, "Policy evaluation logic" ([EVAL]), decided by
   the lab's own evaluator :mod:`rds_iam_lab.iam_policy`, never by moto's: the caller's identity
   policies (user: inline, attached, groups; role session: the role's), permissions
   boundary and session policy must allow the action (``service:Operation``, the IAM
   action names of the "Service Authorization Reference" ([SAR]) for RDS, IAM and
   STS) on the resource the operation acts on ([SAR] "Resource types" column, see
   :func:`request_resource`), with the request context of [CONTEXT] ("AWS global
   condition context keys": the principal's keys, ``aws:RequestTag/*``,
   ``aws:TagKeys``, ``aws:ResourceTag/*``) and the IAM service keys ``iam:PolicyARN``
   and ``iam:ResourceTag/*`` ([SAR] "Condition keys for AWS Identity and Access
   Management"). A refusal answers ``AccessDenied`` (403) with AWS's message: "User:
   ARN is not authorized to perform: ACTION on resource: RESOURCE because no
   identity-based policy allows the ACTION action" (or "with an explicit deny in an
   identity-based policy"; IAM User Guide, "Troubleshoot access denied error
   messages"). ``sts:GetCallerIdentity`` needs no permission ("No permissions are
   required to perform this operation", STS API Reference, GetCallerIdentity).

3. **AssumeRole** (:func:`lab.sts_trust.check_assume_role`): the role's trust policy
   and, where it names only the account, the caller's identity policy, decide; see
   that module.

Cost: one dict lookup per request for the principal (a cache keyed by access key id,
refreshed when moto's key lists change) plus one policy evaluation.

Nothing secret is logged: refusals (``STATE/api_auth.log`` through the daemon) hold
the time, access key id, principal ARN, action, resource and code.
"""

from __future__ import annotations

import collections
import datetime as dt
import hmac
import io
import json
import re
import threading
import time
import urllib.parse
import uuid
from dataclasses import dataclass
from typing import Any, Callable

from botocore.auth import SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from rds_iam_lab import iam_policy

ALGORITHM = "AWS4-HMAC-SHA256"
MAX_SKEW = 15 * 60  # [ERRORS] RequestExpired: 15 minutes
UNSIGNED_ACTIONS = {("sts", "AssumeRoleWithWebIdentity"), ("sts", "AssumeRoleWithSAML")}
ALWAYS_ALLOWED = {"sts:GetCallerIdentity"}
_AUTH_RE = re.compile(r"^AWS4-HMAC-SHA256\s+(.*)$", re.S)

# Service -> the IAM action prefix ([SAR]); the signing name is the prefix for these.
QUERY_XMLNS = {
    "rds": "http://rds.amazonaws.com/doc/2014-10-31/",
    "iam": "https://iam.amazonaws.com/doc/2010-05-08/",
    "sts": "https://sts.amazonaws.com/doc/2011-06-15/",
}


class ApiError(Exception):
    """An AWS error answer: HTTP status, code, message."""

    def __init__(self, status: int, code: str, message: str, sender: bool = True):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.sender = sender


@dataclass
class Caller:
    """The authenticated principal of a request."""
    arn: str
    access_key_id: str
    kind: str  # "user" | "assumed-role" | "bootstrap"
    policies: list
    boundary: Any
    session_policy: Any
    context: dict


@dataclass
class ParsedRequest:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes
    params: dict[str, str]
    service: str
    action: str
    json_protocol: bool


# --------------------------------------------------------------------------- parsing
def _headers(environ: dict[str, Any]) -> dict[str, str]:
    headers = {}
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            headers[key[5:].replace("_", "-").lower()] = value
    if environ.get("CONTENT_TYPE"):
        headers["content-type"] = environ["CONTENT_TYPE"]
    if environ.get("CONTENT_LENGTH"):
        headers["content-length"] = environ["CONTENT_LENGTH"]
    return headers


def _params(query: str, body: bytes, headers: dict[str, str]) -> dict[str, str]:
    params = dict(urllib.parse.parse_qsl(query, keep_blank_values=True))
    if "x-www-form-urlencoded" in headers.get("content-type", "") and body:
        params.update(urllib.parse.parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    return params


def parse_authorization(value: str) -> dict[str, str]:
    """``AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...`` ([SIGN],
    "Add the signature to the request") -> its three fields."""
    match = _AUTH_RE.match(value.strip())
    if not match:
        raise ApiError(400, "IncompleteSignature",
                       "Authorization header requires AWS4-HMAC-SHA256 with Credential, SignedHeaders and Signature.")
    fields = {}
    for part in match.group(1).split(","):
        name, _sep, val = part.strip().partition("=")
        fields[name] = val
    for name in ("Credential", "SignedHeaders", "Signature"):
        if not fields.get(name):
            raise ApiError(400, "IncompleteSignature",
                           f"Authorization header requires '{name}' parameter.")
    return fields


def _scope(credential: str) -> tuple[str, str, str, str]:
    parts = credential.split("/")
    if len(parts) != 5 or parts[4] != "aws4_request" or not parts[0]:
        raise ApiError(400, "IncompleteSignature",
                       "Credential must have the form KEY/DATE/REGION/SERVICE/aws4_request.")
    return parts[0], parts[1], parts[2], parts[3]


# --------------------------------------------------------------------------- errors
def error_response(error: ApiError, parsed: ParsedRequest | None) -> tuple[str, list[tuple[str, str]], bytes]:
    """The error body the service's protocol uses ([ERRORS]): XML ``ErrorResponse`` for
    the query APIs (RDS, IAM, STS), JSON ``__type`` for JSON APIs."""
    request_id = str(uuid.uuid4())
    status = {400: "400 Bad Request", 403: "403 Forbidden", 404: "404 Not Found"}.get(
        error.status, f"{error.status} Error")
    if parsed is not None and parsed.json_protocol:
        body = json.dumps({"__type": error.code, "message": error.message}).encode()
        return status, [("Content-Type", "application/x-amz-json-1.1"), ("x-amzn-RequestId", request_id),
                        ("x-amzn-ErrorType", error.code)], body
    xmlns = QUERY_XMLNS.get(parsed.service if parsed else "", "")
    ns = f' xmlns="{xmlns}"' if xmlns else ""
    from xml.sax.saxutils import escape

    body = (f"<ErrorResponse{ns}><Error><Type>{'Sender' if error.sender else 'Receiver'}</Type>"
            f"<Code>{escape(error.code)}</Code><Message>{escape(error.message)}</Message></Error>"
            f"<RequestId>{request_id}</RequestId></ErrorResponse>").encode()
    return status, [("Content-Type", "text/xml"), ("x-amzn-RequestId", request_id)], body


# --------------------------------------------------------------------------- resources
def request_resource(service: str, action: str, params: dict[str, str], region: str, account: str,
                     role_path: Callable[[str], str] | None = None,
                     profile_path: Callable[[str], str] | None = None) -> str:
    """The resource ARN an operation acts on ([SAR], "Actions defined by ...", column
    "Resource types"). List/describe operations without an identifier act on every
    resource of that type (``...:db:*``); operations without resource-level permissions
    ([SAR]: no resource type) act on ``*``."""
    p = params.get
    if service == "rds":
        base = f"arn:aws:rds:{region}:{account}"
        if action in ("DescribeDBInstances", "ModifyDBInstance", "RebootDBInstance", "DeleteDBInstance",
                      "CreateDBInstance", "StartDBInstance", "StopDBInstance"):
            return f"{base}:db:{p('DBInstanceIdentifier') or '*'}"
        if action in ("DescribeDBClusters", "ModifyDBCluster", "DeleteDBCluster", "CreateDBCluster",
                      "StartDBCluster", "StopDBCluster"):
            return f"{base}:cluster:{p('DBClusterIdentifier') or '*'}"
        if action == "DescribeDBClusterEndpoints":
            if p("DBClusterIdentifier"):
                return f"{base}:cluster:{p('DBClusterIdentifier')}"
            return f"{base}:cluster-endpoint:{p('DBClusterEndpointIdentifier') or '*'}"
        if action in ("DescribeBlueGreenDeployments", "SwitchoverBlueGreenDeployment", "DeleteBlueGreenDeployment"):
            # [SAR]: resource type "deployment" (arn:...:rds:REGION:ACCOUNT:deployment:ID)
            return f"{base}:deployment:{p('BlueGreenDeploymentIdentifier') or '*'}"
        if action in ("DescribeDBParameters", "DescribeDBParameterGroups", "ModifyDBParameterGroup"):
            return f"{base}:pg:{p('DBParameterGroupName') or '*'}"
        if action in ("DescribeDBClusterParameters", "DescribeDBClusterParameterGroups",
                      "ModifyDBClusterParameterGroup"):
            return f"{base}:cluster-pg:{p('DBClusterParameterGroupName') or '*'}"
        if action in ("DescribeDBProxies", "ModifyDBProxy"):
            return f"{base}:db-proxy:{p('DBProxyName') or '*'}"
        return "*"
    if service == "iam":
        base = f"arn:aws:iam::{account}"
        # Attach/Detach{Role,User,Group}Policy act on the role, user or group ([SAR]); the
        # policy is the condition key iam:PolicyARN.
        if p("PolicyArn") and not action.startswith(("Attach", "Detach")):
            return p("PolicyArn")
        if action == "CreatePolicy":
            return f"{base}:policy{p('Path') or '/'}{p('PolicyName')}"
        if action == "SimulatePrincipalPolicy":
            return p("PolicySourceArn") or "*"
        if p("InstanceProfileName"):
            path = p("Path") if action == "CreateInstanceProfile" else None
            if path is None:
                path = profile_path(p("InstanceProfileName")) if profile_path else "/"
            return f"{base}:instance-profile{path or '/'}{p('InstanceProfileName')}"
        if p("RoleName"):
            path = p("Path") if action == "CreateRole" else None
            if path is None:
                path = role_path(p("RoleName")) if role_path else "/"
            return f"{base}:role{path or '/'}{p('RoleName')}"
        if p("UserName"):
            return f"{base}:user/{p('UserName')}"
        if p("GroupName"):
            return f"{base}:group/{p('GroupName')}"
        return "*"
    if service == "sts":
        if action == "AssumeRole":
            return p("RoleArn") or "*"
        return "*"
    return "*"


def request_context_keys(service: str, action: str, params: dict[str, str],
                         resource_tags: dict[str, str] | None) -> dict[str, Any]:
    """Request keys of [CONTEXT] and [SAR] that the lab fills: ``aws:RequestTag/K`` and
    ``aws:TagKeys`` from the ``Tags.member.N`` of the request, ``aws:ResourceTag/K`` (and
    ``iam:ResourceTag/K`` for IAM) from the tags of the resource acted on,
    ``iam:PolicyARN`` for Attach/Detach*Policy, ``iam:PermissionsBoundary``."""
    context: dict[str, Any] = {}
    tags: dict[str, str] = {}
    index = 1
    while f"Tags.member.{index}.Key" in params:
        tags[params[f"Tags.member.{index}.Key"]] = params.get(f"Tags.member.{index}.Value", "")
        index += 1
    if tags:
        for key, value in tags.items():
            context[f"aws:RequestTag/{key}"] = value
        context["aws:TagKeys"] = list(tags)
    if "TagKeys.member.1" in params:
        keys = []
        index = 1
        while f"TagKeys.member.{index}" in params:
            keys.append(params[f"TagKeys.member.{index}"])
            index += 1
        context["aws:TagKeys"] = keys
    for key, value in (resource_tags or {}).items():
        context[f"aws:ResourceTag/{key}"] = value
        if service == "iam":
            context[f"iam:ResourceTag/{key}"] = value
    if service == "iam" and action in ("AttachRolePolicy", "DetachRolePolicy", "AttachUserPolicy",
                                       "DetachUserPolicy", "AttachGroupPolicy", "DetachGroupPolicy"):
        if params.get("PolicyArn"):
            context["iam:PolicyARN"] = params["PolicyArn"]
    if service == "iam" and params.get("PermissionsBoundary"):
        context["iam:PermissionsBoundary"] = params["PermissionsBoundary"]
    return context


def _tag_dict(tags: Any) -> dict[str, str]:
    """moto keeps tags as {key: {"Key":..,"Value":..}} or a list of {"Key","Value"}."""
    result: dict[str, str] = {}
    if isinstance(tags, dict):
        for key, value in tags.items():
            if isinstance(value, dict):
                result[str(value.get("Key", key))] = str(value.get("Value", ""))
            else:
                result[str(key)] = str(value)
    elif isinstance(tags, list):
        for item in tags:
            if isinstance(item, dict) and "Key" in item:
                result[str(item["Key"])] = str(item.get("Value", ""))
    return result


# --------------------------------------------------------------------------- the guard
class ApiGuard:
    """WSGI middleware: authenticate, authorize, then call moto's application."""

    def __init__(self, control_plane: Any, clock: Callable[[], float] = time.time, ring_size: int = 200):
        self.control_plane = control_plane
        self.clock = clock
        self.log_path = None
        self._app: Any = None
        self._lock = threading.Lock()
        self._refusals: collections.deque[dict[str, Any]] = collections.deque(maxlen=ring_size)
        self._bootstrap: tuple[str, str] | None = None
        #: a file to append "PRINCIPAL ACTION RESOURCE DECISION" of every authorized call to
        #: (finding the calls a playbook makes); None: not recorded
        self.actions_log_path: str | None = None

    # setup ------------------------------------------------------------------
    def wrap(self, app: Any) -> ApiGuard:
        self._app = app
        return self

    def open_bootstrap(self, access_key: str, secret: str) -> None:
        """Accept one in-process key with full access until :meth:`close_bootstrap`: the
        lab's seeding creates the admin user with it (no IAM key exists yet)."""
        self._bootstrap = (access_key, secret)

    def close_bootstrap(self) -> None:
        self._bootstrap = None

    def recent_refusals(self, limit: int = 20) -> list[dict[str, Any]]:
        with self._lock:
            items = list(self._refusals)
        return items[-limit:] if limit else []

    # WSGI -------------------------------------------------------------------
    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        parsed: ParsedRequest | None = None
        try:
            parsed = self._read(environ)
            if parsed is not None:
                self.check(parsed)
                if "X-Amz-Signature" in parsed.params and "HTTP_AUTHORIZATION" not in environ:
                    # moto routes a request to a service (and an account) by the credential scope
                    # of its Authorization header only: give a verified presigned request the same
                    # header, built from its query parameters, so that it reaches the service signed.
                    environ["HTTP_AUTHORIZATION"] = (
                        f"{ALGORITHM} Credential={parsed.params.get('X-Amz-Credential', '')}, "
                        f"SignedHeaders={parsed.params.get('X-Amz-SignedHeaders', '')}, "
                        f"Signature={parsed.params.get('X-Amz-Signature', '')}")
        except ApiError as error:
            status, headers, body = error_response(error, parsed)
            headers.append(("Content-Length", str(len(body))))
            start_response(status, headers)
            return [body]
        return self._app(environ, start_response)

    def _read(self, environ: dict[str, Any]) -> ParsedRequest | None:
        path = environ.get("PATH_INFO", "") or "/"
        if path.startswith("/moto-api"):
            raise ApiError(403, "AccessDenied", "moto's API is not served to the network by the lab.")
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
        headers = _headers(environ)
        query = environ.get("QUERY_STRING", "")
        params = _params(query, body, headers)
        target = headers.get("x-amz-target", "")
        service = ""
        credential = params.get("X-Amz-Credential")
        if not credential and headers.get("authorization", "").startswith(ALGORITHM):
            match = re.search(r"Credential=([^,\s]+)", headers["authorization"])
            credential = match.group(1) if match else ""
        if credential and credential.count("/") == 4:
            service = credential.split("/")[3]
        action = params.get("Action", "")
        if target:
            action = target.rsplit(".", 1)[-1]
        if not service:
            host = headers.get("host", "")
            service = host.split(".", 1)[0] if "." in host else ""
        return ParsedRequest(environ.get("REQUEST_METHOD", "GET"), path, query, headers, body, params,
                             service, action, bool(target))

    # checks -----------------------------------------------------------------
    def check(self, req: ParsedRequest) -> Caller | None:
        if (req.service, req.action) in UNSIGNED_ACTIONS and "authorization" not in req.headers:
            return None
        caller = self.authenticate(req)
        self.authorize(caller, req)
        return caller

    def authenticate(self, req: ParsedRequest) -> Caller:
        """[SIGN] / [PRESIGN]: recompute the signature with botocore's signer."""
        presigned = "X-Amz-Signature" in req.params
        if presigned:
            if req.params.get("X-Amz-Algorithm") != ALGORITHM:
                raise ApiError(400, "IncompleteSignature", f"X-Amz-Algorithm must be {ALGORITHM}.")
            fields = {"Credential": req.params.get("X-Amz-Credential", ""),
                      "SignedHeaders": req.params.get("X-Amz-SignedHeaders", ""),
                      "Signature": req.params.get("X-Amz-Signature", "")}
            amz_date = req.params.get("X-Amz-Date", "")
            token = req.params.get("X-Amz-Security-Token")
        elif "authorization" in req.headers:
            fields = parse_authorization(req.headers["authorization"])
            amz_date = req.headers.get("x-amz-date", "")
            token = req.headers.get("x-amz-security-token")
        else:
            raise ApiError(403, "MissingAuthenticationToken",
                           "Request is missing Authentication Token")
        key_id, scope_date, region, service = _scope(fields["Credential"])
        try:
            signed_at = dt.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.timezone.utc)
        except ValueError:
            raise ApiError(400, "IncompleteSignature", "X-Amz-Date is missing or not YYYYMMDDTHHMMSSZ.") from None
        if scope_date != amz_date[:8]:
            raise ApiError(403, "SignatureDoesNotMatch", "Credential scope date does not match X-Amz-Date.")
        now = self.clock()
        age = now - signed_at.timestamp()
        window = MAX_SKEW
        if presigned:
            expires = req.params.get("X-Amz-Expires", "")
            if not expires.isdigit():
                raise ApiError(400, "IncompleteSignature", "X-Amz-Expires must be a number of seconds.")
            window = int(expires)
        if age > window or age < -MAX_SKEW:
            raise ApiError(400, "RequestExpired",
                           f"Request has expired: signed at {amz_date}, the service's clock says "
                           f"{dt.datetime.fromtimestamp(now, dt.timezone.utc).strftime('%Y%m%dT%H%M%SZ')}.")

        caller, secret = self._caller(key_id, token, now)
        # [PRESIGN] / [SIGN]: the signed headers are part of the canonical request, so each one named
        # in SignedHeaders (X-Amz-SignedHeaders) must come with the request, with the value signed; an
        # absent one is a mismatch however the rest was signed (a presigned GetCallerIdentity bound to
        # a header, as the collection's bridge sends it, depends on this).
        absent = [name for name in fields["SignedHeaders"].lower().split(";") if name and name not in req.headers]
        if absent:
            self._refuse(caller.arn, key_id, req, "SignatureDoesNotMatch")
            raise ApiError(403, "SignatureDoesNotMatch",
                           "The request signature we calculated does not match the signature you provided: "
                           f"signed header(s) {', '.join(absent)} not sent with the request.")
        expected = self._signature(req, fields, key_id, secret, token, amz_date, region, service, presigned)
        if not hmac.compare_digest(expected, fields["Signature"].lower()):
            self._refuse(caller.arn, key_id, req, "SignatureDoesNotMatch")
            raise ApiError(403, "SignatureDoesNotMatch",
                           "The request signature we calculated does not match the signature you provided. "
                           "Check your AWS Secret Access Key and signing method. Consult the service "
                           "documentation for details.")
        return caller

    @staticmethod
    def _signature(req: ParsedRequest, fields: dict[str, str], key_id: str, secret: str, token: str | None,
                   amz_date: str, region: str, service: str, presigned: bool) -> str:
        signed = [h for h in fields["SignedHeaders"].lower().split(";") if h]
        headers = {name: req.headers.get(name, "") for name in signed}
        query = req.query
        if presigned:
            query = "&".join(part for part in req.query.split("&")
                             if not part.startswith("X-Amz-Signature="))
        url = f"http://{req.headers.get('host', 'localhost')}{urllib.parse.quote(req.path, safe='/~')}"
        if query:
            url += "?" + query
        request = AWSRequest(method=req.method, url=url, headers=headers, data=req.body)
        request.context["timestamp"] = amz_date
        credentials = Credentials(key_id, secret, token)
        signer_class = SigV4QueryAuth if presigned else SigV4Auth
        signer = signer_class(credentials, service, region) if not presigned else signer_class(
            credentials, service, region, expires=int(req.params.get("X-Amz-Expires", "0") or 0))
        canonical = signer.canonical_request(request)
        string_to_sign = signer.string_to_sign(request, canonical)
        return signer.signature(string_to_sign, request)

    def _caller(self, key_id: str, token: str | None, now: float) -> tuple[Caller, str]:
        if self._bootstrap is not None and key_id == self._bootstrap[0]:
            return Caller("lab-bootstrap", key_id, "bootstrap", [], None, None, {}), self._bootstrap[1]
        from rds_iam_lab.verifier import TokenVerifier, _Refuse, _retrying

        verifier = TokenVerifier(self.control_plane, clock=lambda: now)
        try:
            principal = _retrying(lambda: verifier._principal(key_id, token, now))
        except _Refuse as refusal:
            if refusal.code == "session_expired":
                raise ApiError(403, "ExpiredToken", "The security token included in the request is expired") from None
            raise ApiError(403, "InvalidClientTokenId",
                           "The security token included in the request is invalid.") from None
        context = dict(principal.context)
        context["aws:SecureTransport"] = "false"  # the lab's API is plain HTTP on loopback
        return (Caller(principal.arn, key_id, principal.kind, principal.policies, principal.boundary,
                       principal.session_policy, context), principal.secret)

    def authorize(self, caller: Caller, req: ParsedRequest) -> None:
        if caller.kind == "bootstrap":
            return
        prefix = req.service or "unknown"
        action = f"{prefix}:{req.action or 'UnknownOperation'}"
        if action in ALWAYS_ALLOWED:
            self._record(caller.arn, action, "*", "allowed")
            return
        cp = self.control_plane
        resource = request_resource(prefix, req.action, req.params, cp.region, cp.account_id,
                                    self._role_path, self._profile_path)
        context = dict(caller.context)
        context.update(request_context_keys(prefix, req.action, req.params, self._resource_tags(prefix, req)))
        result = iam_policy.evaluate(caller.policies, action, resource, context,
                                     boundary=caller.boundary, session_policy=caller.session_policy)
        self._record(caller.arn, action, resource, result.decision)
        if prefix == "sts" and req.action == "AssumeRole" and result.decision != iam_policy.EXPLICIT_DENY:
            from rds_iam_lab import sts_trust

            try:
                sts_trust.check_assume_role(cp, caller, req.params, now=self.clock(), identity_allows=result.allowed)
            except ApiError as error:
                self._refuse(caller.arn, caller.access_key_id, req, error.code, action, resource, error.message)
                raise
            return
        if not result.allowed:
            self._refuse(caller.arn, caller.access_key_id, req, "AccessDenied", action, resource, result.reason)
            raise ApiError(403, "AccessDenied", denial_message(caller.arn, action, resource, result))

    def _record(self, arn: str, action: str, resource: str, decision: str) -> None:
        if self.actions_log_path:
            with self._lock, open(self.actions_log_path, "a", encoding="utf-8") as handle:
                handle.write(f"{arn} {action} {resource} {decision}\n")

    def _role(self, name: str) -> Any:
        try:
            return self.control_plane.iam_backend.get_role(name)
        except Exception:
            return None

    def _role_path(self, name: str) -> str:
        role = self._role(name)
        return getattr(role, "path", None) or "/"

    def _profile_path(self, name: str) -> str:
        try:
            profile = self.control_plane.iam_backend.get_instance_profile(name)
        except Exception:
            return "/"
        return getattr(profile, "path", None) or "/"

    def _resource_tags(self, service: str, req: ParsedRequest) -> dict[str, str]:
        if service != "iam":
            return {}
        if req.params.get("RoleName") and not req.params.get("InstanceProfileName"):
            role = self._role(req.params["RoleName"])
            return _tag_dict(getattr(role, "tags", None)) if role is not None else {}
        return {}

    def _refuse(self, arn: str | None, key_id: str | None, req: ParsedRequest, code: str,
                action: str | None = None, resource: str | None = None, reason: str | None = None) -> None:
        entry = {"time": dt.datetime.fromtimestamp(self.clock(), dt.timezone.utc).isoformat(timespec="seconds"),
                 "access_key_id": key_id, "principal_arn": arn, "code": code,
                 "action": action or f"{req.service}:{req.action}", "resource": resource, "reason": reason}
        with self._lock:
            self._refusals.append(entry)
            if self.log_path is not None:
                with open(self.log_path, "a", encoding="utf-8") as handle:
                    handle.write(json.dumps(entry, sort_keys=True) + "\n")


def denial_message(principal_arn: str, action: str, resource: str, result: Any) -> str:
    """AWS's AccessDenied message (IAM User Guide, "Troubleshoot access denied error
    messages": "User: ARN is not authorized to perform: ACTION on resource: RESOURCE
    because no identity-based policy allows the ACTION action")."""
    if result.decision == iam_policy.EXPLICIT_DENY:
        kind = {"boundary": "a permissions boundary", "session": "a session policy"}.get(
            result.policy_type, "an identity-based policy")
        why = f"with an explicit deny in {kind}"
    elif result.policy_type == "boundary":
        why = f"because no permissions boundary allows the {action} action"
    elif result.policy_type == "session":
        why = f"because no session policy allows the {action} action"
    else:
        why = f"because no identity-based policy allows the {action} action"
    return f"User: {principal_arn} is not authorized to perform: {action} on resource: {resource} {why}"
