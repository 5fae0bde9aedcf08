"""RDS IAM authentication tokens: the one place the lab reads them.

A token is a SigV4 presigned request without its scheme (RDS user guide, "Connecting to your DB
instance using IAM authentication"; AWS General Reference, "Create a signed AWS API request",
"Authentication with query parameters"): ``HOST:PORT/?Action=connect&DBUser=USER&X-Amz-Algorithm=
AWS4-HMAC-SHA256&X-Amz-Credential=KEY/DATE/REGION/rds-db/aws4_request&X-Amz-Date=...&X-Amz-Expires=
900&X-Amz-SignedHeaders=host[&X-Amz-Security-Token=...]&X-Amz-Signature=...``.

:func:`parse_token` splits a token (or raises :class:`TokenFormatError`); :func:`expected_signature`
recomputes its signature with botocore's own SigV4 query signer (``botocore.auth.SigV4QueryAuth``,
the code every AWS SDK for Python user signs with) on the token's own X-Amz-Date, credential scope
and expiry, so that the lab checks a signature the way the SDKs make it, not with code of its own.
"""

from __future__ import annotations

import datetime as dt
import urllib.parse
from dataclasses import dataclass

from botocore.auth import SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

MAX_TOKEN_LENGTH = 16384
REQUIRED = ("Action", "DBUser", "X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires",
            "X-Amz-SignedHeaders", "X-Amz-Signature")


class TokenFormatError(Exception):
    """A string that is not an RDS IAM token; ``code`` is always ``malformed``."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.code = "malformed"
        self.reason = reason


@dataclass
class ParsedToken:
    host: str
    port: int
    netloc: str
    params: list[tuple[str, str]]  # decoded, in token order

    def get(self, name: str) -> str | None:
        for key, value in self.params:
            if key == name:
                return value
        return None

    @property
    def credential(self) -> list[str]:
        """``X-Amz-Credential`` split: [KEY, DATE, REGION, SERVICE, aws4_request] when well formed."""
        return (self.get("X-Amz-Credential") or "").split("/")

    @property
    def access_key_id(self) -> str | None:
        return self.credential[0] or None

    def signed_at(self) -> dt.datetime:
        """``X-Amz-Date`` (ValueError when it is not YYYYMMDDTHHMMSSZ)."""
        return dt.datetime.strptime(self.get("X-Amz-Date") or "", "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.timezone.utc)


def parse_token(token: str) -> ParsedToken:
    """Split an RDS auth token into host, port and decoded query parameters."""
    if not isinstance(token, str) or not token:
        raise TokenFormatError("empty token")
    if len(token) > MAX_TOKEN_LENGTH:
        raise TokenFormatError(f"token longer than {MAX_TOKEN_LENGTH} characters")
    if "://" in token:
        raise TokenFormatError("token must not carry a URL scheme")
    netloc, sep, query = token.partition("/?")
    if not sep or not netloc or not query:
        raise TokenFormatError("token is not host:port/?query")
    host, colon, port_text = netloc.rpartition(":")
    if not colon or not host or not port_text.isdigit():
        raise TokenFormatError("token has no host:port")
    port = int(port_text)
    if not 0 < port < 65536:
        raise TokenFormatError("token port out of range")
    params = []
    for pair in query.split("&"):
        if not pair:
            continue
        key, _eq, value = pair.partition("=")
        params.append((urllib.parse.unquote(key), urllib.parse.unquote(value)))
    names = [k for k, _v in params]
    for required in REQUIRED:
        if required not in names:
            raise TokenFormatError(f"token lacks {required}")
    duplicates = {n for n in names if names.count(n) > 1}
    if duplicates:
        raise TokenFormatError(f"token repeats {sorted(duplicates)[0]}")
    return ParsedToken(host=host, port=port, netloc=netloc, params=params)


def canonical_host(netloc: str) -> str:
    """The Host header SigV4 signs: lower-cased, without the https default port (as botocore sends it)."""
    host = netloc.lower()
    return host[: -len(":443")] if host.endswith(":443") else host


class _SignedAt(SigV4QueryAuth):
    """botocore's SigV4 query signer on a given X-Amz-Date instead of the clock.

    ``SigV4Auth.add_auth`` stamps the request with the current time, then asks
    ``_modify_request_before_signing`` for the query parameters; the stamp is replaced there, so
    that the canonical request, the credential scope and the string to sign all carry the token's
    own date. Everything else is botocore's.
    """

    def __init__(self, credentials: Credentials, service: str, region: str, expires: int, timestamp: str):
        super().__init__(credentials, service, region, expires=expires)
        self._timestamp = timestamp

    def _modify_request_before_signing(self, request: AWSRequest) -> None:
        request.context["timestamp"] = self._timestamp
        super()._modify_request_before_signing(request)


def expected_signature(parsed: ParsedToken, secret: str) -> str:
    """The X-Amz-Signature botocore makes for this token's request with ``secret``.

    The request is the one ``generate_db_auth_token`` presigns: ``GET https://HOST:PORT/`` with the
    token's operation parameters (``Action``, ``DBUser``, ...); botocore adds the X-Amz-* parameters
    from the credentials (the session token as X-Amz-Security-Token), the token's credential scope
    (region, service), X-Amz-Date and X-Amz-Expires, and signs the ``host`` header.
    """
    key, _date, region, service, _terminator = parsed.credential
    expires = int(parsed.get("X-Amz-Expires") or "0")
    operation = {k: v for k, v in parsed.params if not k.startswith("X-Amz-")}
    request = AWSRequest(method="GET", url=f"https://{parsed.netloc}/", params=operation)
    signer = _SignedAt(Credentials(key, secret, parsed.get("X-Amz-Security-Token")), service, region, expires,
                       parsed.get("X-Amz-Date") or "")
    signer.add_auth(request)
    query = urllib.parse.urlsplit(request.url).query
    signatures = [v for k, v in urllib.parse.parse_qsl(query, keep_blank_values=True) if k == "X-Amz-Signature"]
    return signatures[-1] if signatures else ""
