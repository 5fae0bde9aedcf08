"""An EC2 instance metadata service (IMDSv2) per lab host, on loopback.

Each target host of the lab is an EC2 instance in moto (``run_instances`` with ``IamInstanceProfile``, see
:meth:`lab.control_plane.ControlPlane.launch_host_instance`) and gets its AWS identity the way an instance
does: from the instance metadata service. The lab serves one endpoint per host (its own
``127.0.0.1`` port); the host's environment names it in ``AWS_EC2_METADATA_SERVICE_ENDPOINT``, and botocore's
credential chain reads it as on EC2.

Behaviour, from the Amazon EC2 User Guide ("Use the Instance Metadata Service to access instance metadata",
https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/configuring-instance-metadata-service.html; "How Instance
Metadata Service Version 2 works",
https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/instance-metadata-v2-how-it-works.html; "Retrieve security
credentials from instance metadata",
https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/instance-metadata-security-credentials.html):

* IMDSv2 is required (``HttpTokens=required``): a session starts with ``PUT /latest/api/token`` and the header
  ``X-aws-ec2-metadata-token-ttl-seconds`` (1 to 21600 seconds; missing or out of range: ``400``). The answer
  is the token, with the TTL echoed in the same header. A ``PUT`` that carries ``X-Forwarded-For`` is refused
  (``403``): the token is for the instance itself, not for something a proxy forwards.
* Every ``GET`` sends the token in ``X-aws-ec2-metadata-token``; without a token, or with an expired or
  unknown one (tokens are per instance: another host's token is unknown here), the answer is ``401``.
* ``/latest/meta-data/iam/security-credentials/`` lists the role of the instance profile (one line);
  ``.../security-credentials/ROLE`` answers ``Code``, ``LastUpdated``, ``Type`` (``AWS-HMAC``),
  ``AccessKeyId``, ``SecretAccessKey``, ``Token`` and ``Expiration``. An instance without an instance profile
  (or whose profile has no role) answers ``404`` for both, as on EC2; ``iam/info`` gives the profile.
* The credentials are temporary and rotated before they expire: AWS makes new credentials available at least
  five minutes before the old ones expire. The lab assumes the profile's role in moto (session name = the
  instance id, so the principal is ``assumed-role/ROLE/i-...``), gives out the same session until
  ``rotate_before`` seconds (default 900, more than five minutes) are left, then assumes the role again. The
  session is a real moto session: the lab's token verifier accepts what it signs.

Nothing here logs a token, a key or a secret: the log says which host asked which path and the status.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

LOG = logging.getLogger("lab.imds")

TOKEN_HEADER = "X-aws-ec2-metadata-token"
TTL_HEADER = "X-aws-ec2-metadata-token-ttl-seconds"
MAX_TOKEN_TTL = 21600
SESSION_SECONDS = 3600
ROTATE_BEFORE = 900
CREDENTIALS_PATH = "/latest/meta-data/iam/security-credentials/"


def _iso(when: float | dt.datetime) -> str:
    if not isinstance(when, dt.datetime):
        when = dt.datetime.fromtimestamp(when, dt.timezone.utc)
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    return when.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class HostIdentity:
    """What one instance's metadata service answers: its instance id and its role credentials (rotated).

    ``lookup()`` returns ``(instance_id, profile_arn, profile_id, role_name)`` live from moto (role None: no
    instance profile, or a profile without a role); ``assume(role_name, session_name)`` returns STS
    ``Credentials`` (AccessKeyId, SecretAccessKey, SessionToken, Expiration as datetime).
    """

    def __init__(self, name: str, lookup: Callable[[], tuple], assume: Callable[[str, str], dict],
                 clock: Callable[[], float] = time.time, rotate_before: int = ROTATE_BEFORE):
        self.name = name
        self._lookup = lookup
        self._assume = assume
        self._clock = clock
        self.rotate_before = rotate_before
        self._lock = threading.Lock()
        self._current: dict | None = None  # {role, credentials, updated}
        self.rotations = 0

    def instance(self) -> tuple:
        return self._lookup()

    def credentials(self, role: str) -> dict | None:
        """The role's current credentials (rotated when fewer than rotate_before seconds are left)."""
        instance_id, _arn, _pid, attached = self._lookup()
        if attached is None or attached != role:
            return None
        return self._session(role, instance_id)

    def refresh(self) -> None:
        """Have the profile role's credentials ready (the first request and rotations are not made to wait)."""
        instance_id, _arn, _pid, role = self._lookup()
        if role is not None:
            self._session(role, instance_id)

    def _session(self, role: str, instance_id: str) -> dict:
        with self._lock:
            cur = self._current
            if cur is not None and cur["role"] == role:
                expiration = cur["credentials"]["Expiration"]
                if expiration.tzinfo is None:
                    expiration = expiration.replace(tzinfo=dt.timezone.utc)
                if expiration.timestamp() - self._clock() > self.rotate_before:
                    return cur
            creds = self._assume(role, instance_id)
            self._current = {"role": role, "credentials": creds, "updated": self._clock()}
            self.rotations += 1
            LOG.info("imds %s: new session for role %s (key %s)", self.name, role, creds["AccessKeyId"])
            return self._current


class _Handler(BaseHTTPRequestHandler):
    server_version = "EC2ws"
    sys_version = ""
    protocol_version = "HTTP/1.1"

    # -- plumbing --------------------------------------------------------
    def log_message(self, format, *args):  # noqa: A002  pylint: disable=redefined-builtin
        pass  # the request line could carry nothing secret, but stay quiet: see _answer's log

    def _answer(self, status: int, body: str = "", headers: dict | None = None, content_type: str = "text/plain"):
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        LOG.debug("imds %s: %s %s -> %s", self.server.identity.name, self.command, self.path.split("?")[0], status)

    def _drain(self):
        length = int(self.headers.get("Content-Length") or 0)
        if 0 < length <= 65536:
            self.rfile.read(length)

    # -- IMDSv2 session --------------------------------------------------
    def do_PUT(self):  # noqa: N802
        self._drain()
        if self.path.split("?")[0] != "/latest/api/token":
            return self._answer(405 if self.path.startswith("/latest/meta-data") else 404, "")
        if self.headers.get("X-Forwarded-For") is not None:
            return self._answer(403, "Forbidden")
        ttl_text = (self.headers.get(TTL_HEADER) or "").strip()
        if not ttl_text.isdigit() or not 1 <= int(ttl_text) <= MAX_TOKEN_TTL:
            return self._answer(400, "Bad Request")
        ttl = int(ttl_text)
        token = secrets.token_urlsafe(42)
        self.server.add_token(token, ttl)
        return self._answer(200, token, {TTL_HEADER: str(ttl)})

    def do_GET(self):  # noqa: N802
        token = self.headers.get(TOKEN_HEADER)
        if not token or not self.server.token_valid(token):
            return self._answer(401, "Unauthorized")
        path = self.path.split("?")[0]
        identity: HostIdentity = self.server.identity
        instance_id, profile_arn, profile_id, role = identity.instance()
        if path in ("/latest/meta-data", "/latest/meta-data/"):
            items = ["instance-id", "placement/"] + (["iam/"] if profile_arn else [])
            return self._answer(200, "\n".join(items))
        if path == "/latest/meta-data/instance-id":
            return self._answer(200, instance_id)
        if path in ("/latest/meta-data/placement/region", "/latest/meta-data/placement/region/"):
            return self._answer(200, self.server.region)
        if path in ("/latest/meta-data/iam", "/latest/meta-data/iam/"):
            if not profile_arn:
                return self._answer(404, "Not Found")
            return self._answer(200, "info\nsecurity-credentials/")
        if path == "/latest/meta-data/iam/info":
            if not profile_arn:
                return self._answer(404, "Not Found")
            info = {"Code": "Success", "LastUpdated": _iso(time.time()), "InstanceProfileArn": profile_arn,
                    "InstanceProfileId": profile_id}
            return self._answer(200, json.dumps(info, indent=2))
        if path in (CREDENTIALS_PATH, CREDENTIALS_PATH.rstrip("/")):
            if not role:
                return self._answer(404, "Not Found")
            return self._answer(200, role)
        if path.startswith(CREDENTIALS_PATH):
            wanted = path[len(CREDENTIALS_PATH):].rstrip("/")
            current = identity.credentials(wanted) if role and wanted == role else None
            if current is None:
                return self._answer(404, "Not Found")
            creds = current["credentials"]
            body = {"Code": "Success", "LastUpdated": _iso(current["updated"]), "Type": "AWS-HMAC",
                    "AccessKeyId": creds["AccessKeyId"], "SecretAccessKey": creds["SecretAccessKey"],
                    "Token": creds["SessionToken"], "Expiration": _iso(creds["Expiration"])}
            return self._answer(200, json.dumps(body, indent=2))
        return self._answer(404, "Not Found")

    def _not_allowed(self):
        self._drain()
        self._answer(405, "Method Not Allowed")

    do_POST = do_DELETE = do_PATCH = _not_allowed  # noqa: N815


class MetadataServer(ThreadingHTTPServer):
    """One host's metadata endpoint (127.0.0.1:port); tokens are this instance's only."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, port: int, identity: HostIdentity, region: str, clock: Callable[[], float] = time.time):
        super().__init__(("127.0.0.1", port), _Handler)
        self.identity = identity
        self.region = region
        self._clock = clock
        self._tokens: dict[str, float] = {}
        self._tokens_lock = threading.Lock()
        self.thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self.server_address[1]

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def add_token(self, token: str, ttl: int) -> None:
        now = self._clock()
        with self._tokens_lock:
            self._tokens = {t: exp for t, exp in self._tokens.items() if exp > now}
            self._tokens[token] = now + ttl

    def token_valid(self, token: str) -> bool:
        with self._tokens_lock:
            expires = self._tokens.get(token)
        return expires is not None and expires > self._clock()

    def start(self, refresh_every: float = 30.0) -> "MetadataServer":
        """Serve, and keep the credentials fresh in the background (ready before they are asked for)."""
        self.thread = threading.Thread(target=self.serve_forever, name=f"lab-imds-{self.identity.name}",
                                       daemon=True)
        self.thread.start()
        self._stop = threading.Event()

        def refresher():
            while True:
                try:
                    self.identity.refresh()
                except Exception as exc:  # moto not ready, role gone ...: the next round tries again
                    LOG.warning("imds %s: refresh failed: %s", self.identity.name, type(exc).__name__)
                if self._stop.wait(refresh_every):
                    return

        threading.Thread(target=refresher, name=f"lab-imds-refresh-{self.identity.name}", daemon=True).start()
        return self

    def shutdown(self) -> None:
        if getattr(self, "_stop", None) is not None:
            self._stop.set()
        super().shutdown()

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


def status(server: MetadataServer) -> dict[str, Any]:
    instance_id, profile_arn, _pid, role = server.identity.instance()
    return {"imds_endpoint": server.endpoint, "imds_port": server.port, "instance_id": instance_id,
            "instance_profile_arn": profile_arn, "role": role, "credential_rotations": server.identity.rotations}
