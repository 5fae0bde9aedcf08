# -*- coding: utf-8 -*-

# Copyright: (c) 2026, dbauth.rds_iam developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

# Internal use only: this file is not part of the collection's public interface and may change
# without notice.

"""IAM authentication tokens: one implementation for the module and the lookup.

``kind: rds`` (the default): botocore's ``generate_db_auth_token`` of an RDS client that amazon.aws made
(see ``_aws_session.AwsPrincipal``): a SigV4 presigned ``connect`` URL for the ``rds-db`` service, valid 900
seconds.

``kind: sts``, for self-managed databases behind the collection's bridge: botocore's presigned
``GET /?Action=GetCallerIdentity&Version=2011-06-15`` of an STS client that amazon.aws made (regional
endpoint, or ``endpoint_url``), valid 900 seconds, with the header ``X-DbAuth-Server-Id: <server_id>``
added before signing so that it is in ``X-Amz-SignedHeaders``: the bridge of another server sends its own
id, and STS's signature check then fails (STS API Reference, "GetCallerIdentity"; IAM User Guide,
"Authenticating Requests: Using Query Parameters"). Written like an RDS token: the URL without its scheme.

What is ours: the checks of the options, the region taken from an RDS host name, the token
cache, and the check that the credentials behind a token outlive it.

Nothing in this file puts a secret key, a session token or a DB token into an exception
message, a log line or a ``repr``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import os
import re

TOKEN_LIFETIME = 900  # seconds; fixed by RDS, and what the bridge accepts at most for kind sts
KINDS = ("rds", "sts")
SERVER_ID_HEADER = "X-DbAuth-Server-Id"
# What the bridge accepts as a server id (it sends it to STS as a header value).
_SERVER_ID_RE = re.compile(r"^[A-Za-z0-9._:@/+=-]{1,128}$")
_SCHEME_RE = re.compile(r"^[a-z]+://")
# The global STS endpoint: signing there needs us-east-1 and the bridge accepts regional endpoints only.
_GLOBAL_STS_HOST = "sts.amazonaws.com"
_UTC = datetime.timezone.utc
_LIFETIME = datetime.timedelta(seconds=TOKEN_LIFETIME)
_SIGNED_AT_RE = re.compile(r"[?&]X-Amz-Date=([0-9]{4})([0-9]{2})([0-9]{2})T([0-9]{2})([0-9]{2})([0-9]{2})Z")

# <name>.<id>.<region>.rds.amazonaws.com[.cn] -- instances, Aurora cluster/cluster-ro/custom
# endpoints, RDS Proxy (and proxy custom) endpoints all end like this.
_REGION_RE = r"[a-z]{2}(?:-[a-z]+)+-[0-9]+"
_RDS_HOST_RE = re.compile(
    r"^(?:[a-z0-9-]+\.)+?(?P<region>" + _REGION_RE + r")\.rds\.amazonaws\.com(?:\.cn)?\.?$"
)
_REGION_ONLY_RE = re.compile(r"^" + _REGION_RE + r"$")
_HOST_PORT_RE = re.compile(r"^(?P<host>[^:/\s]+):(?P<port>[0-9]*)$")
_HOST_RE = re.compile(r"^[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_.])?$")

NO_CREDENTIALS_MSG = (
    "No AWS credentials found to sign the RDS IAM token. Tried, in this order: the access_key/"
    "secret_key/session_token and profile options; the environment (AWS_ACCESS_KEY_ID, "
    "AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_PROFILE); the shared credentials and config "
    "files (~/.aws/credentials, ~/.aws/config); the container credentials endpoint (ECS/EKS) and "
    "the EC2 instance metadata service. Set access_key and secret_key, or a profile, or run "
    "where an IAM role is attached."
)

# What went wrong, for callers that act on it (rds_iam_verify's diagnosis) without reading messages.
KIND_CONFIG = "config"                            # an option is wrong: the message says which and how
KIND_NO_CREDENTIALS = "no_credentials"            # nothing to sign with, or the source failed
KIND_CREDENTIALS_EXPIRED = "credentials_expired"  # the credentials end before the token would
KIND_ASSUME_ROLE = "assume_role"                  # STS refused the role


class TokenError(Exception):
    """A user-facing error; its message never contains a secret. ``kind`` is one of the KIND_* names."""

    def __init__(self, message, kind=KIND_CONFIG):
        super(TokenError, self).__init__(message)
        self.kind = kind


def utc_now():
    return datetime.datetime.now(_UTC)


def isoformat_z(when):
    """ISO 8601 UTC with a Z suffix and whole seconds: 2026-11-25T08:00:00Z."""
    return when.astimezone(_UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --------------------------------------------------------------------------------------------
# Input validation
# --------------------------------------------------------------------------------------------

def validate_db_host(db_host):
    if db_host is None or not str(db_host).strip():
        raise TokenError("db_host is required: give the DB instance, cluster or proxy endpoint address, "
                         "for example mydb.abcdefghijkl.eu-west-1.rds.amazonaws.com.")
    host = str(db_host)
    if "@" in host:
        # Never echo it: the part before @ may be a password.
        raise TokenError("db_host must be a bare host name without user information (user@ or user:password@); "
                         "the database user goes in db_user.")
    if host != host.strip():
        raise TokenError("db_host %r has leading or trailing whitespace; remove it." % host)
    if "://" in host:
        scheme = host.split("://", 1)[0]
        rest = host.split("://", 1)[1].split("/", 1)[0]
        hint = rest
        m = _HOST_PORT_RE.match(rest)
        if m:
            hint = m.group("host")
        raise TokenError("db_host must be a host name, not a URL: drop '%s://' (and any path) and "
                         "set db_host=%s; give the port in db_port." % (scheme, hint))
    m = _HOST_PORT_RE.match(host)
    if m:
        raise TokenError("db_host must not contain a port: set db_host=%s and db_port=%s."
                         % (m.group("host"), m.group("port") or "PORT"))
    if "/" in host:
        raise TokenError("db_host must be a bare host name without a path: got %r." % host)
    if ":" in host or "[" in host:
        raise TokenError("db_host %r looks like an IPv6 address; use the endpoint's DNS name." % host)
    if not _HOST_RE.match(host) or ".." in host:
        raise TokenError("db_host %r is not a valid host name." % host)
    return host


def validate_db_port(db_port):
    if db_port is None or (isinstance(db_port, str) and not db_port.strip()):
        raise TokenError("db_port is required: the port the database listens on "
                         "(RDS defaults: 3306 for MySQL/MariaDB, 5432 for PostgreSQL).")
    if isinstance(db_port, bool):
        raise TokenError("db_port must be an integer between 1 and 65535, got a boolean.")
    try:
        port = int(str(db_port).strip()) if not isinstance(db_port, int) else db_port
    except ValueError:
        raise TokenError("db_port must be an integer between 1 and 65535, got %r." % (db_port,))
    if port < 1 or port > 65535:
        raise TokenError("db_port %d is outside 1-65535." % port)
    return port


def validate_db_user(db_user):
    if db_user is None or str(db_user) == "":
        raise TokenError("db_user is required: the database user name that logs in with the token "
                         "(user names are case-sensitive).")
    user = str(db_user)
    if not user.strip():
        raise TokenError("db_user %r is blank: give the database user name that logs in with the token." % user)
    if user != user.strip() or any(ord(c) < 32 or ord(c) == 127 for c in user):
        raise TokenError("db_user %r has leading or trailing whitespace or a control character (such as a "
                         "newline); no database user can log in with it: give the name exactly." % user)
    return user


def validate_kind(kind):
    kind = "rds" if kind is None else kind
    if kind not in KINDS:
        raise TokenError("kind must be one of %s, got %r." % (", ".join(KINDS), kind))
    return kind


def validate_server_id(server_id):
    if server_id is None or server_id == "":
        raise TokenError("server_id is required with kind=sts: give the server id of the self-managed database "
                         "(the server_id of its bridge), which the token is signed for.")
    if not _SERVER_ID_RE.match(str(server_id)):
        raise TokenError("server_id %r is invalid: use 1-128 characters from letters, digits and ._:@/+=-"
                         % (server_id,))
    return str(server_id)


def validate_region(region):
    if not _REGION_ONLY_RE.match(region):
        raise TokenError("region %r does not look like an AWS region name such as eu-west-1." % region)
    return region


# --------------------------------------------------------------------------------------------
# Region
# --------------------------------------------------------------------------------------------

def region_from_host(db_host):
    """The region in an RDS/Aurora/RDS Proxy endpoint name, or None."""
    m = _RDS_HOST_RE.match(str(db_host).lower())
    return m.group("region") if m else None


def resolve_region(region, db_host, environ=None, profile_region=None):
    """Region to sign for: the option, else the host name, else AWS_REGION/AWS_DEFAULT_REGION,
    else the profile's configured region.  Fails when none applies or when the option
    contradicts the region written in an RDS host name (RDS would refuse the token)."""
    derived = region_from_host(db_host)
    if region:
        region = validate_region(str(region))
        if derived and derived != region:
            raise TokenError("region %s does not match the region %s in db_host %s; an RDS endpoint only "
                             "accepts tokens signed for its own region: remove the region option or set it "
                             "to %s." % (region, derived, db_host, derived))
        return region
    if derived:
        return derived
    environ = os.environ if environ is None else environ
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        if environ.get(name):
            return validate_region(environ[name])
    if profile_region:
        return validate_region(profile_region)
    if not db_host:
        raise TokenError("No region to sign the token for: set the region option (the region of the STS endpoint "
                         "the bridge asks) or the AWS_REGION environment variable.")
    raise TokenError("No region to sign the token for: db_host %s is not an RDS endpoint name that carries "
                     "a region. Set the region option or the AWS_REGION environment variable." % db_host)


class TokenSigner:
    """Signs tokens with the RDS clients of one AWS principal, optionally caches them.

    ``principal`` (``_aws_session.AwsPrincipal``) gives, per region, an RDS client whose credentials
    last at least until a given instant (or raises TokenError saying they do not), and the region
    configured for its profile. ``options`` of :meth:`generate`: db_host, db_port, db_user, region.
    """

    def __init__(self, principal, clock=None, environ=None):
        self._principal = principal
        self._clock = clock or utc_now
        self._environ = os.environ if environ is None else environ
        self._profile_region = None
        self._tokens = {}
        self.stats = {"signed": 0, "cache_hits": 0}

    def validate(self, options):
        host = validate_db_host(options.get("db_host"))
        port = validate_db_port(options.get("db_port"))
        user = validate_db_user(options.get("db_user"))
        return host, port, user, self._region(options.get("region"), host)

    def _region(self, region, host):
        profile_region = None
        if not region and not region_from_host(host) and not any(
                self._environ.get(n) for n in ("AWS_REGION", "AWS_DEFAULT_REGION")):
            if self._profile_region is None:
                self._profile_region = self._principal.profile_region() or ""
            profile_region = self._profile_region or None
        return resolve_region(region, host, self._environ, profile_region)

    def generate(self, options, cache_min_ttl=None):
        """Return a dict with token, expires_at (ISO 8601 UTC), region, cached (bool).

        With ``cache_min_ttl`` set, a token signed earlier for the same host, port, user and region
        (kind rds) or server id and region (kind sts) is handed out again while it has more than that
        many seconds to live.
        """
        kind = validate_kind(options.get("kind"))
        if kind == "sts":
            server_id = validate_server_id(options.get("server_id"))
            host = options.get("db_host")
            region = self._region(options.get("region"), validate_db_host(host) if host else "")
            cache_key = ("sts", server_id, region)
        else:
            host, port, user, region = self.validate(options)
            cache_key = ("rds", host.lower(), port, user, region)
        now = self._clock()
        if cache_min_ttl is not None:
            if cache_min_ttl < 0 or cache_min_ttl > TOKEN_LIFETIME:
                raise TokenError("cache_min_ttl must be between 0 and %d seconds, got %s."
                                 % (TOKEN_LIFETIME, cache_min_ttl))
            hit = self._tokens.get(cache_key)
            if hit is not None and (hit[1] - now).total_seconds() > cache_min_ttl:
                self.stats["cache_hits"] += 1
                return {"token": hit[0], "expires_at": isoformat_z(hit[1]), "region": region, "cached": True}
        needed_until = now.replace(microsecond=0) + _LIFETIME
        if kind == "sts":
            token = presign_caller_identity(self._principal.token_client(region, needed_until, "sts"), server_id)
        else:
            client = self._principal.token_client(region, needed_until)
            token = client.generate_db_auth_token(DBHostname=host, Port=port, DBUsername=user, Region=region)
        # The token's lifetime starts at the X-Amz-Date that botocore signed, which may be a second later.
        expires = datetime.datetime(*(int(g) for g in _SIGNED_AT_RE.search(token).groups()), tzinfo=_UTC) + _LIFETIME
        self.stats["signed"] += 1
        if cache_min_ttl is not None:
            self._tokens[cache_key] = (token, expires)
        return {"token": token, "expires_at": isoformat_z(expires), "region": region, "cached": False}


def presign_caller_identity(client, server_id):
    """A kind sts token: the presigned GetCallerIdentity GET of the STS ``client``, without its scheme.

    botocore's presigning signs the headers of the request it builds; a 'before-sign' handler adds
    X-DbAuth-Server-Id there, so that botocore lists it in X-Amz-SignedHeaders and signs its value.
    """
    def add_server_id(request, **kwargs):
        request.headers[SERVER_ID_HEADER] = server_id

    event = "before-sign.sts.GetCallerIdentity"
    client.meta.events.register(event, add_server_id, unique_id="dbauth-rds-iam-server-id")
    try:
        url = client.generate_presigned_url("get_caller_identity", ExpiresIn=TOKEN_LIFETIME, HttpMethod="GET")
    finally:
        client.meta.events.unregister(event, unique_id="dbauth-rds-iam-server-id")
    token = _SCHEME_RE.sub("", url, count=1)
    if token.split("/", 1)[0].lower() == _GLOBAL_STS_HOST:
        raise TokenError("botocore chose the global STS endpoint %s; the bridge accepts regional endpoints only: "
                         "unset AWS_STS_REGIONAL_ENDPOINTS=legacy (or set it to regional)." % _GLOBAL_STS_HOST)
    return token
