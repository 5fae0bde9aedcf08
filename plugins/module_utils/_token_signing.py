# -*- coding: utf-8 -*-

# Copyright: (c) 2026, dbauth.rds_iam developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

# Internal use only: this file is not part of the collection's public interface and may change
# without notice.

"""RDS IAM authentication tokens: one implementation for the module and the lookup.

The token is a SigV4 presigned query for ``https://HOST:PORT/?Action=connect&DBUser=USER``
signed for the ``rds-db`` service, valid 900 seconds, without the ``https://`` prefix --
the same string that botocore's ``generate_db_auth_token`` and
``aws rds generate-db-auth-token`` produce.  Signing is local (no network); only the
optional assume-role step calls AWS STS.

Nothing in this file puts a secret key, a session token or a DB token into an exception
message, a log line or a ``repr``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import hashlib
import hmac
import os
import re

try:
    from urllib.parse import quote
except ImportError:  # pragma: no cover - Python 2 is not supported, this keeps sanity quiet
    from urllib import quote  # type: ignore

try:
    import botocore.config
    import botocore.exceptions
    import botocore.session
    HAS_BOTOCORE = True
    BOTOCORE_IMPORT_ERROR = None
except ImportError as e:  # pragma: no cover - exercised only without botocore
    HAS_BOTOCORE = False
    BOTOCORE_IMPORT_ERROR = e


TOKEN_LIFETIME = 900  # seconds; fixed by RDS
SERVICE = "rds-db"
ALGORITHM = "AWS4-HMAC-SHA256"
EMPTY_PAYLOAD_SHA256 = hashlib.sha256(b"").hexdigest()
DEFAULT_ROLE_SESSION_NAME = "dbauth-rds-iam-token"
DEFAULT_CACHE_MIN_TTL = 60
# Option names of the module and the lookup (the AWS ones are amazon.aws'; its plugin fragment
# has fewer than its module fragment).
TOKEN_OPTION_NAMES = (
    "db_host", "db_port", "db_user", "region", "assume_role_arn", "role_session_name", "external_id",
)
PLUGIN_OPTION_NAMES = TOKEN_OPTION_NAMES + ("access_key", "secret_key", "session_token", "profile", "endpoint_url")
MODULE_OPTION_NAMES = PLUGIN_OPTION_NAMES + ("validate_certs", "aws_ca_bundle", "aws_config")
_UTC = datetime.timezone.utc

# <name>.<id>.<region>.rds.amazonaws.com[.cn] -- instances, Aurora cluster/cluster-ro/custom
# endpoints, RDS Proxy (and proxy custom) endpoints all end like this.
_REGION_RE = r"[a-z]{2}(?:-[a-z]+)+-[0-9]+"
_RDS_HOST_RE = re.compile(
    r"^(?:[a-z0-9-]+\.)+?(?P<region>" + _REGION_RE + r")\.rds\.amazonaws\.com(?:\.cn)?\.?$"
)
_REGION_ONLY_RE = re.compile(r"^" + _REGION_RE + r"$")
_HOST_PORT_RE = re.compile(r"^(?P<host>[^:/\s]+):(?P<port>[0-9]*)$")
_HOST_RE = re.compile(r"^[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_.])?$")
_ROLE_SESSION_NAME_RE = re.compile(r"^[\w+=,.@-]{2,64}$")

_NO_CREDENTIALS_MSG = (
    "No AWS credentials found to sign the RDS IAM token. Tried, in this order: the access_key/"
    "secret_key/session_token and profile options; the environment (AWS_ACCESS_KEY_ID, "
    "AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_PROFILE); the shared credentials and config "
    "files (~/.aws/credentials, ~/.aws/config); the container credentials endpoint (ECS/EKS) and "
    "the EC2 instance metadata service. Set access_key and secret_key, or a profile, or run "
    "where an IAM role is attached."
)


class TokenError(Exception):
    """A user-facing error; its message never contains a secret."""


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
    return str(db_user)


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
    raise TokenError("No region to sign the token for: db_host %s is not an RDS endpoint name that carries "
                     "a region. Set the region option or the AWS_REGION environment variable." % db_host)


# --------------------------------------------------------------------------------------------
# Credentials
# --------------------------------------------------------------------------------------------

class FrozenCredentials:
    """Access key, secret and token at one instant, with the expiry if known."""

    __slots__ = ("access_key", "secret_key", "session_token", "expiry", "source")

    def __init__(self, access_key, secret_key, session_token=None, expiry=None, source="static credentials"):
        self.access_key = access_key
        self.secret_key = secret_key
        self.session_token = session_token or None
        self.expiry = expiry
        self.source = source

    def __repr__(self):
        return "FrozenCredentials(access_key=%s, secret_key=<hidden>, session_token=%s, expiry=%s, source=%s)" % (
            self.access_key, "<hidden>" if self.session_token else None,
            isoformat_z(self.expiry) if self.expiry else None, self.source)

    __str__ = __repr__


def _digest(value):
    if not value:
        return None
    return hashlib.sha256(value.encode("utf-8")).hexdigest()[:16]


def _expiry_of(creds):
    """Expiry of a botocore credentials object (RefreshableCredentials keep it privately)."""
    expiry = getattr(creds, "_expiry_time", None)
    if expiry is not None and expiry.tzinfo is None:
        expiry = expiry.replace(tzinfo=_UTC)
    return expiry


def _botocore_client_kwargs(options):
    kwargs = {}
    if options.get("endpoint_url"):
        kwargs["endpoint_url"] = options["endpoint_url"]
    validate_certs = options.get("validate_certs", True)
    if validate_certs is False:
        kwargs["verify"] = False
    elif options.get("aws_ca_bundle"):
        kwargs["verify"] = options["aws_ca_bundle"]
    config = options.get("aws_config")
    if config:
        kwargs["config"] = botocore.config.Config(**config)
    return kwargs


class _StaticSource:
    def __init__(self, frozen):
        self._frozen = frozen
        self.description = frozen.source

    def get(self, now, needed_until):
        return self._frozen


class _BotocoreSource:
    """Credentials from botocore's provider chain (or a profile), refreshed by botocore."""

    def __init__(self, creds, description):
        self._creds = creds
        self.description = description

    def get(self, now, needed_until):
        try:
            frozen = self._creds.get_frozen_credentials()
        except Exception as e:  # botocore raises RuntimeError or its own errors on failed refresh
            raise TokenError("Could not refresh the AWS credentials from %s: %s" % (self.description, _safe_error(e)))
        return FrozenCredentials(frozen.access_key, frozen.secret_key, frozen.token,
                                 _expiry_of(self._creds), self.description)


class _AssumedRoleSource:
    """Credentials of an assumed role, cached and re-assumed when they would expire first."""

    def __init__(self, base, role_arn, session_name, external_id, region, client_kwargs, sts_client_factory):
        self._base = base
        self._role_arn = role_arn
        self._session_name = session_name
        self._external_id = external_id
        self._region = region
        self._client_kwargs = client_kwargs
        self._sts_client_factory = sts_client_factory
        self._current = None
        self.description = "the role %s assumed with %s" % (role_arn, base.description)

    def get(self, now, needed_until):
        cur = self._current
        if cur is not None and (cur.expiry is None or cur.expiry >= needed_until):
            return cur
        base = self._base.get(now, now)
        client = self._sts_client_factory(base, self._region, self._client_kwargs)
        params = {"RoleArn": self._role_arn, "RoleSessionName": self._session_name}
        if self._external_id:
            params["ExternalId"] = self._external_id
        try:
            resp = client.assume_role(**params)
        except botocore.exceptions.ClientError as e:
            err = e.response.get("Error", {})
            raise TokenError("Could not assume role %s (session %s) with %s: %s: %s" % (
                self._role_arn, self._session_name, self._base.description,
                err.get("Code", "Error"), err.get("Message", "")))
        except (botocore.exceptions.BotoCoreError, ValueError) as e:
            raise TokenError("Could not assume role %s: %s" % (self._role_arn, _safe_error(e)))
        c = resp["Credentials"]
        expiry = c.get("Expiration")
        if isinstance(expiry, datetime.datetime) and expiry.tzinfo is None:
            expiry = expiry.replace(tzinfo=_UTC)
        self._current = FrozenCredentials(c["AccessKeyId"], c["SecretAccessKey"], c.get("SessionToken"),
                                          expiry, self.description)
        return self._current


def _safe_error(exc):
    """Type and message of an exception from botocore; those never carry secrets."""
    return "%s: %s" % (type(exc).__name__, exc)


def default_sts_client_factory(creds, region, client_kwargs):
    session = botocore.session.Session()
    return session.create_client(
        "sts", region_name=region, aws_access_key_id=creds.access_key,
        aws_secret_access_key=creds.secret_key, aws_session_token=creds.session_token, **client_kwargs)


# --------------------------------------------------------------------------------------------
# Signing
# --------------------------------------------------------------------------------------------

def _quote(value):
    return quote(value, safe="-_.~")


def _hmac(key, msg):
    return hmac.new(key, msg.encode("utf-8"), hashlib.sha256).digest()


def presign_token(db_host, db_port, db_user, region, credentials, now):
    """The RDS IAM token (SigV4 presigned ``connect`` URL minus ``https://``).

    ``now`` is an aware datetime; the signature uses it at whole-second resolution.
    """
    now = now.astimezone(_UTC)
    amz_date = now.strftime("%Y%m%dT%H%M%SZ")
    datestamp = amz_date[:8]
    scope = "%s/%s/%s/aws4_request" % (datestamp, region, SERVICE)
    # Same host header rule as botocore: lower case, no port when it is https' default.
    canonical_host = db_host.lower() if db_port == 443 else "%s:%d" % (db_host.lower(), db_port)

    params = [
        ("Action", "connect"),
        ("DBUser", db_user),
        ("X-Amz-Algorithm", ALGORITHM),
        ("X-Amz-Credential", "%s/%s" % (credentials.access_key, scope)),
        ("X-Amz-Date", amz_date),
        ("X-Amz-Expires", str(TOKEN_LIFETIME)),
        ("X-Amz-SignedHeaders", "host"),
    ]
    if credentials.session_token:
        params.append(("X-Amz-Security-Token", credentials.session_token))
    encoded = [(_quote(k), _quote(v)) for k, v in params]
    canonical_query = "&".join("%s=%s" % kv for kv in sorted(encoded))
    canonical_request = "\n".join([
        "GET", "/", canonical_query, "host:%s\n" % canonical_host, "host", EMPTY_PAYLOAD_SHA256])
    string_to_sign = "\n".join([
        ALGORITHM, amz_date, scope, hashlib.sha256(canonical_request.encode("utf-8")).hexdigest()])
    key = _hmac(("AWS4" + credentials.secret_key).encode("utf-8"), datestamp)
    key = _hmac(key, region)
    key = _hmac(key, SERVICE)
    key = _hmac(key, "aws4_request")
    signature = hmac.new(key, string_to_sign.encode("utf-8"), hashlib.sha256).hexdigest()
    query = "&".join("%s=%s" % kv for kv in encoded)
    return "%s:%d/?%s&X-Amz-Signature=%s" % (db_host, db_port, query, signature)


class TokenSigner:
    """Resolves credentials once per principal, signs tokens, optionally caches them.

    ``options`` use the module/lookup option names: db_host, db_port, db_user, region,
    assume_role_arn, role_session_name, external_id, access_key, secret_key, session_token,
    profile, endpoint_url, validate_certs, aws_ca_bundle, aws_config.
    """

    def __init__(self, clock=None, sts_client_factory=None, environ=None):
        if not HAS_BOTOCORE:
            raise TokenError("The botocore Python library is required to sign RDS IAM tokens: %s"
                             % BOTOCORE_IMPORT_ERROR)
        self._clock = clock or utc_now
        self._sts_client_factory = sts_client_factory or default_sts_client_factory
        self._environ = os.environ if environ is None else environ
        self._sources = {}
        self._tokens = {}
        self._profile_regions = {}
        self.stats = {"signed": 0, "cache_hits": 0, "assume_role_calls": 0}

    # -- principals ---------------------------------------------------------------------------

    def _principal_key(self, options):
        env_keys = ("AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SHARED_CREDENTIALS_FILE", "AWS_CONFIG_FILE")
        return (
            options.get("access_key") or None,
            _digest(options.get("secret_key")),
            _digest(options.get("session_token")),
            options.get("profile") or None,
            options.get("assume_role_arn") or None,
            (options.get("role_session_name") or DEFAULT_ROLE_SESSION_NAME) if options.get("assume_role_arn") else None,
            _digest(options.get("external_id")),
            options.get("endpoint_url") or None,
            tuple(self._environ.get(k) for k in env_keys),
        )

    def _base_source(self, options):
        access_key = options.get("access_key") or None
        secret_key = options.get("secret_key") or None
        session_token = options.get("session_token") or None
        profile = options.get("profile") or None
        if profile and (access_key or secret_key or session_token):
            raise TokenError("profile and access_key/secret_key/session_token are mutually exclusive: "
                             "set only one of them.")
        if bool(access_key) != bool(secret_key):
            given, missing = ("access_key", "secret_key") if access_key else ("secret_key", "access_key")
            raise TokenError("%s is set but %s is not: give both (or neither, to use the default "
                             "credential chain)." % (given, missing))
        if session_token and not access_key:
            raise TokenError("session_token is set without access_key and secret_key: give all three.")
        if access_key:
            return _StaticSource(FrozenCredentials(
                access_key, secret_key, session_token, None,
                "the access_key/secret_key%s options" % ("/session_token" if session_token else "")))
        try:
            session = botocore.session.Session(profile=profile)
            creds = session.get_credentials()
        except botocore.exceptions.ProfileNotFound:
            raise TokenError("The AWS profile %s was not found in the shared credentials and config files."
                             % (profile or self._environ.get("AWS_PROFILE")))
        except botocore.exceptions.BotoCoreError as e:
            raise TokenError("Could not load AWS credentials: %s" % _safe_error(e))
        if creds is None:
            raise TokenError(_NO_CREDENTIALS_MSG)
        method = getattr(creds, "method", None) or "the default credential chain"
        description = "profile %s (%s)" % (profile, method) if profile else "the default credential chain (%s)" % method
        return _BotocoreSource(creds, description)

    def _profile_region(self, options):
        try:
            return botocore.session.Session(profile=options.get("profile") or None).get_config_variable("region")
        except botocore.exceptions.BotoCoreError:
            return None

    def _source(self, options, region):
        key = self._principal_key(options) + (region,)
        source = self._sources.get(key)
        if source is None:
            source = self._base_source(options)
            role_arn = options.get("assume_role_arn")
            if role_arn:
                session_name = options.get("role_session_name") or DEFAULT_ROLE_SESSION_NAME
                if not _ROLE_SESSION_NAME_RE.match(session_name):
                    raise TokenError("role_session_name %r is invalid: use 2-64 characters from letters, "
                                     "digits and +=,.@_-" % session_name)
                source = _AssumedRoleSource(source, role_arn, session_name, options.get("external_id") or None,
                                            region, _botocore_client_kwargs(options), self._counting_sts_factory)
            elif options.get("role_session_name") or options.get("external_id"):
                raise TokenError("role_session_name and external_id only apply together with assume_role_arn.")
            self._sources[key] = source
        return source

    def _counting_sts_factory(self, creds, region, client_kwargs):
        self.stats["assume_role_calls"] += 1
        return self._sts_client_factory(creds, region, client_kwargs)

    def credentials(self, options, region, now=None):
        """Credentials valid for at least the token's lifetime from ``now``."""
        now = now or self._clock()
        needed_until = now.replace(microsecond=0) + datetime.timedelta(seconds=TOKEN_LIFETIME)
        source = self._source(options, region)
        creds = source.get(now, needed_until)
        if creds.expiry is not None and creds.expiry < needed_until:
            raise TokenError(
                "The AWS credentials from %s expire at %s, before the token's 15 minutes end (%s), and "
                "refreshing them did not help: renew those credentials (or let the token be signed by "
                "longer-lived ones) and retry." % (source.description, isoformat_z(creds.expiry),
                                                   isoformat_z(needed_until)))
        return creds

    # -- tokens -------------------------------------------------------------------------------

    def validate(self, options):
        host = validate_db_host(options.get("db_host"))
        port = validate_db_port(options.get("db_port"))
        user = validate_db_user(options.get("db_user"))
        region = options.get("region")
        profile_region = None
        if not region and not region_from_host(host) and not any(
                self._environ.get(n) for n in ("AWS_REGION", "AWS_DEFAULT_REGION")):
            profile = options.get("profile") or None
            if profile not in self._profile_regions:
                self._profile_regions[profile] = self._profile_region(options)
            profile_region = self._profile_regions[profile]
        region = resolve_region(region, host, self._environ, profile_region)
        return host, port, user, region

    def generate(self, options, cache_min_ttl=None):
        """Return a dict with token, expires_at (ISO 8601 UTC), region, cached (bool).

        With ``cache_min_ttl`` set, a token signed earlier for the same host, port, user, region
        and principal is handed out again while it has more than that many seconds to live.
        """
        host, port, user, region = self.validate(options)
        now = self._clock()
        cache_key = None
        if cache_min_ttl is not None:
            if cache_min_ttl < 0 or cache_min_ttl > TOKEN_LIFETIME:
                raise TokenError("cache_min_ttl must be between 0 and %d seconds, got %s."
                                 % (TOKEN_LIFETIME, cache_min_ttl))
            cache_key = (host.lower(), port, user, region) + self._principal_key(options)
            hit = self._tokens.get(cache_key)
            if hit is not None and (hit[1] - now).total_seconds() > cache_min_ttl:
                self.stats["cache_hits"] += 1
                return {"token": hit[0], "expires_at": isoformat_z(hit[1]), "region": region, "cached": True}
        creds = self.credentials(options, region, now)
        token = presign_token(host, port, user, region, creds, now)
        expires = now.replace(microsecond=0) + datetime.timedelta(seconds=TOKEN_LIFETIME)
        self.stats["signed"] += 1
        if cache_key is not None:
            self._tokens[cache_key] = (token, expires)
        return {"token": token, "expires_at": isoformat_z(expires), "region": region, "cached": False}
