# -*- coding: utf-8 -*-

# Copyright: (c) 2026, dbauth.rds_iam developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

# Internal use only: this file is not part of the collection's public interface and may change
# without notice.

"""Find the broken link after a refused IAM login (rds_iam_verify's ``diagnose=true``).

The database only says "PAM authentication failed" or "Access denied (using password: YES)".
This module checks each link RDS checks, with read-only calls, and names the first broken one:

1. ``credentials``: sts:GetCallerIdentity with the host's credentials (expired, unknown);
2. ``token``: a token given with ``token`` is for this DBUser, host:port, not expired; the
   region it was signed for is the database's;
3. ``iam_enabled``: the DB instance / cluster serving host:port has IAM authentication on;
4. ``user``: with an admin login, the user's catalog entry exists and is an IAM user
   (MySQL/MariaDB plugin AWSAuthenticationPlugin, PostgreSQL member of rds_iam);
5. ``policy``: the caller's policies allow ``rds-db:connect`` on
   ``arn:PARTITION:rds-db:REGION:ACCOUNT:dbuser:RESOURCE_ID/USER``. AWS's own answer first:
   iam:SimulatePrincipalPolicy on the caller's role or user ARN (IAM path kept), which includes
   the permissions boundary; only when the caller may not simulate (AccessDenied) or the call
   fails, the policies are read and evaluated here (_policy_evaluator). ``policy_source`` says
   which: ``simulate``, ``local`` or ``undetermined`` (the local evaluation could not decide, or
   no policy could be read).

A check that cannot be made (no permission, no admin login) is ``unknown`` and said so; it
never turns into a diagnosis of its own. Nothing here logs or returns the token.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime

try:
    from urllib.parse import parse_qsl
except ImportError:  # pragma: no cover
    from urlparse import parse_qsl  # type: ignore

from ansible_collections.dbauth.rds_iam.plugins.module_utils import _policy_evaluator
from ansible_collections.dbauth.rds_iam.plugins.module_utils._rds_databases import rds_db_arn
from ansible_collections.dbauth.rds_iam.plugins.module_utils._db_connection import MYSQL_ENGINES
from ansible_collections.dbauth.rds_iam.plugins.module_utils._db_connection import DbConnectionError
from ansible_collections.dbauth.rds_iam.plugins.module_utils._db_connection import connect
from ansible_collections.dbauth.rds_iam.plugins.module_utils._verify_identity import EXPIRED_CODES
from ansible_collections.dbauth.rds_iam.plugins.module_utils._verify_identity import INVALID_CREDENTIALS_CODES
from ansible_collections.dbauth.rds_iam.plugins.module_utils._verify_identity import AwsReadError
from ansible_collections.dbauth.rds_iam.plugins.module_utils._verify_identity import caller_identity
from ansible_collections.dbauth.rds_iam.plugins.module_utils._verify_identity import collect_policies
from ansible_collections.dbauth.rds_iam.plugins.module_utils._verify_identity import describe_cluster
from ansible_collections.dbauth.rds_iam.plugins.module_utils._verify_identity import describe_instance
from ansible_collections.dbauth.rds_iam.plugins.module_utils._verify_identity import find_database
from ansible_collections.dbauth.rds_iam.plugins.module_utils._verify_identity import principal_entity
from ansible_collections.dbauth.rds_iam.plugins.module_utils._verify_identity import principal_of
from ansible_collections.dbauth.rds_iam.plugins.module_utils._verify_identity import principal_source_arn
from ansible_collections.dbauth.rds_iam.plugins.module_utils._verify_identity import simulate

ACTION = "rds-db:connect"
IAM_PLUGIN = "AWSAuthenticationPlugin"
# Client-side diagnoses after which the diagnose step has something to add.
DIAGNOSABLE = ("token_rejected", "user_not_iam", "user_missing", "iam_disabled")
_UTC = datetime.timezone.utc

OK = "ok"
FAILED = "failed"
UNKNOWN = "unknown"
SKIPPED = "skipped"


class Check:
    def __init__(self, name, status, detail, diagnosis=None):
        self.name = name
        self.status = status
        self.detail = detail
        self.diagnosis = diagnosis

    def to_dict(self):
        return {"check": self.name, "status": self.status, "detail": self.detail}


# --------------------------------------------------------------------------------------------
# Token (given with the token option): parsed, never shown
# --------------------------------------------------------------------------------------------

def parse_token(token):
    """Non-secret facts of a token: host, port, db_user, region, service, signed_at, expires,
    access_key_id. Returns None when it is not a token at all."""
    if not token or "/?" not in token:
        return None
    hostport, query = token.split("/?", 1)
    if ":" not in hostport:
        return None
    host, port = hostport.rsplit(":", 1)
    params = dict(parse_qsl(query, keep_blank_values=True))
    credential = (params.get("X-Amz-Credential") or "").split("/")
    try:
        signed_at = datetime.datetime.strptime(params.get("X-Amz-Date", ""), "%Y%m%dT%H%M%SZ").replace(tzinfo=_UTC)
        expires = int(params.get("X-Amz-Expires", ""))
        port = int(port)
    except ValueError:
        return None
    return {
        "host": host, "port": port, "db_user": params.get("DBUser"), "signed_at": signed_at, "expires": expires,
        "access_key_id": credential[0] if credential else None,
        "region": credential[2] if len(credential) == 5 else None,
        "service": credential[3] if len(credential) == 5 else None,
    }


def check_token(facts, host, port, user, now):
    if facts is None:
        return Check("token", FAILED, "the token option does not hold an RDS IAM token (host:port/?Action=connect...)",
                     "token_rejected")
    problems = []
    if facts["db_user"] != user:
        problems.append("it was signed for DBUser %r, the login is %r (user names are case-sensitive)"
                        % (facts["db_user"], user))
    if facts["host"].lower() != host.lower() or facts["port"] != port:
        problems.append("it was signed for %s:%s, the login goes to %s:%s (host and port are signed in)"
                        % (facts["host"], facts["port"], host, port))
    if facts["service"] != "rds-db":
        problems.append("it was signed for service %r, not rds-db" % (facts["service"],))
    age = (now - facts["signed_at"]).total_seconds()
    if age > facts["expires"]:
        late = age - facts["expires"]
        problems.append("it expired %d s ago (tokens live %d s): sign a fresh one" % (late, facts["expires"]))
    elif age < -300:
        problems.append("it is dated %d s in the future: the clock of the host that signed it is wrong" % -age)
    if problems:
        return Check("token", FAILED, "the given token does not fit this login: " + "; ".join(problems),
                     "token_rejected")
    return Check("token", OK, "the given token is for %s at %s:%s and not expired" % (user, host, port))


# --------------------------------------------------------------------------------------------
# Catalog (admin login)
# --------------------------------------------------------------------------------------------

def read_catalog(settings, user, connect_fn=None):
    """(exists, is_iam, detail) of ``user`` read with the admin ``settings`` (LoginSettings)."""
    connect_fn = connect_fn or connect
    conn, _tls = connect_fn(settings)
    try:
        cur = conn.cursor()
        if settings.engine in MYSQL_ENGINES:
            cur.execute("SELECT host, plugin FROM mysql.user WHERE user = %s", (user,))
            rows = cur.fetchall()
            if not rows:
                return False, False, "no account %r in mysql.user" % user
            iam_hosts = [h for h, plugin in rows if plugin == IAM_PLUGIN]
            if iam_hosts:
                return True, True, "%s identified with %s" % (", ".join("'%s'@'%s'" % (user, h) for h in iam_hosts),
                                                              IAM_PLUGIN)
            return True, False, "%s identified with %s, not %s" % (
                ", ".join("'%s'@'%s'" % (user, h) for h, _p in rows),
                ", ".join(sorted(set(p or "(default)" for _h, p in rows))), IAM_PLUGIN)
        cur.execute(
            "SELECT r.rolcanlogin, CASE WHEN EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'rds_iam') "
            "THEN pg_has_role(r.oid, 'rds_iam', 'MEMBER') END FROM pg_roles r WHERE r.rolname = %s", (user,))
        row = cur.fetchone()
        if row is None:
            return False, False, "no role %r in pg_roles" % user
        can_login, member = row
        if not can_login:
            return False, False, "role %r exists but has NOLOGIN" % user
        if member is None:
            return True, False, "there is no rds_iam role on this server (IAM authentication was never set up)"
        if not member:
            return True, False, "role %r exists but is not a member of rds_iam (it logs in with a password)" % user
        return True, True, "role %r is a member of rds_iam" % user
    finally:
        conn.close()


def check_user(catalog, engine, user, endpoint):
    if catalog is None:
        return Check("user", SKIPPED, "no admin login given (login_user/login_password): the user's catalog entry "
                                      "was not read")
    try:
        exists, is_iam, detail = catalog()
    except DbConnectionError as e:
        return Check("user", UNKNOWN, "the admin login failed: %s" % e)
    except Exception as e:  # a catalog read error must not hide the rest of the diagnosis
        return Check("user", UNKNOWN, "reading the catalog failed: %s: %s" % (type(e).__name__, e))
    if not exists:
        return Check("user", FAILED, "%s on %s: create %s as an IAM user with dbauth.rds_iam.rds_iam_db_user"
                     % (detail, endpoint, user), "user_missing")
    if not is_iam:
        if engine in MYSQL_ENGINES:
            fix = "recreate it IDENTIFIED WITH AWSAuthenticationPlugin AS 'RDS' (rds_iam_db_user convert_existing=true)"
        else:
            fix = "GRANT rds_iam TO %s (rds_iam_db_user convert_existing=true)" % user
        return Check("user", FAILED, "%s: %s" % (detail, fix), "user_not_iam")
    return Check("user", OK, detail)


# --------------------------------------------------------------------------------------------
# AWS
# --------------------------------------------------------------------------------------------

def check_credentials(aws, token_given=False):
    try:
        ident = caller_identity(aws.client("sts"))
    except AwsReadError as e:
        if e.code in EXPIRED_CODES:
            return Check("credentials", FAILED, "the host's AWS credentials have expired (%s): renew them" % e,
                         "credentials_expired"), None
        if e.code == "NoCredentials":
            if token_given:  # the token came from elsewhere: the host's own identity is not a link here
                return Check("credentials", UNKNOWN, "this host has no AWS credentials to read AWS with (%s)" % e), None
            return Check("credentials", FAILED, "this host has no AWS credentials (%s)" % e, "no_credentials"), None
        if e.code in INVALID_CREDENTIALS_CODES:
            return Check("credentials", FAILED, "AWS does not accept the host's credentials (%s): the key was "
                         "deleted, deactivated or mistyped" % e, "token_rejected"), None
        return Check("credentials", UNKNOWN, "could not ask STS who this host is: %s" % e), None
    return Check("credentials", OK, "the host acts as %s" % ident["arn"]), ident


def check_database(aws, params, host, port):
    try:
        rds = aws.client("rds")
        if params.get("db_cluster_identifier"):
            db = describe_cluster(rds, params["db_cluster_identifier"])
        elif params.get("db_instance_identifier"):
            db = describe_instance(rds, params["db_instance_identifier"])
        else:
            db = find_database(rds, host, port)
    except AwsReadError as e:
        return Check("iam_enabled", UNKNOWN, "could not describe the database: %s" % e), None
    if db is None:
        return Check("iam_enabled", UNKNOWN, "no DB instance or cluster in this account and region has the endpoint "
                     "%s:%s (give db_instance_identifier or db_cluster_identifier)" % (host, port)), None
    label = "DB %s %s" % (db["kind"], db["identifier"])
    if not db["iam_enabled"]:
        pending = ""
        if db.get("pending_iam"):
            pending = " (a change that enables it waits for the maintenance window: apply it now with " \
                      "apply_immediately=true)"
        return Check("iam_enabled", FAILED, "IAM database authentication is disabled on %s%s: enable it with "
                     "dbauth.rds_iam.rds_iam_enable db_%s_identifier=%s" % (label, pending, db["kind"], db["identifier"]),
                     "iam_disabled"), db
    return Check("iam_enabled", OK, "IAM database authentication is enabled on %s (resource id %s)"
                 % (label, db["resource_id"])), db


# Request context keys of rds-db:connect that this check does not read: a decision that depends
# on one of them is "undetermined" (_policy_evaluator's unknown_keys), never a guess.
UNKNOWN_CONTEXT_KEYS = ("aws:PrincipalTag/*", "aws:userid", "aws:PrincipalOrg*", "aws:MultiFactorAuth*",
                        "aws:TokenIssueTime", "aws:SourceIdentity", "aws:RoleSessionName", "aws:FederatedProvider")


def request_context(kind, principal_arn, account):
    """The request context of rds-db:connect for a principal (``kind`` role or user), as AWS fills it in;
    shared by the verify diagnosis and the access report, so that both judge the same request."""
    now = datetime.datetime.now(_UTC)
    ctx = {"aws:PrincipalArn": principal_arn, "aws:PrincipalAccount": account, "aws:SecureTransport": "true",
           "aws:CurrentTime": now.strftime("%Y-%m-%dT%H:%M:%SZ"), "aws:EpochTime": str(int(now.timestamp()))}
    if kind == "role":
        ctx["aws:PrincipalType"] = "AssumedRole"
    elif kind == "user":
        ctx["aws:PrincipalType"] = "User"
        ctx["aws:username"] = principal_arn.rsplit("/", 1)[-1]
    return ctx


SIMULATE = "simulate"
LOCAL = "local"
UNDETERMINED = "undetermined"


def _simulated(sim, principal, resource):
    """The policy check from an iam:SimulatePrincipalPolicy result (see _verify_identity.simulate)."""
    missing = ""
    if sim["missing"]:
        missing = " (the simulation lacked the context keys %s)" % ", ".join(sim["missing"])
    if sim["decision"] == "allowed":
        return Check("policy", OK, "iam:SimulatePrincipalPolicy allows %s %s on %s%s"
                     % (principal, ACTION, resource, missing))
    if sim["decision"] == "explicitDeny":
        return Check("policy", FAILED, "iam:SimulatePrincipalPolicy: explicitDeny for %s %s on %s by %s%s; remove or "
                     "narrow that Deny" % (principal, ACTION, resource, ", ".join(sim["matched"]) or "a Deny statement",
                                           missing), "policy_denied")
    return Check("policy", FAILED, "iam:SimulatePrincipalPolicy: %s for %s %s on %s (identity policies and permissions "
                 "boundary)%s; attach a policy that allows it (the dbauth.rds_iam.iam_access role or the "
                 "rds_iam_policy_document filter computes it)" % (sim["decision"], principal, ACTION, resource, missing),
                 "policy_denied")


def check_policy(aws, ident, db, user):
    """(Check, resource ARN, policy_source): AWS's simulator first, the local evaluator as fallback."""
    if ident is None or db is None:
        return Check("policy", UNKNOWN, "needs the caller identity and the database's resource id"), None, UNDETERMINED
    kind, name, partition, account = principal_of(ident["arn"])
    resource = rds_db_arn(db["partition"] or partition, db["region"], db["account"] or account, db["resource_id"], user)
    if kind == "root":
        return Check("policy", OK, "the account root user may connect to %s" % resource), resource, LOCAL
    if kind not in ("role", "user"):
        return Check("policy", UNKNOWN, "cannot read the policies of %s" % ident["arn"]), resource, UNDETERMINED
    principal = "%s %s" % (kind, name)
    iam = aws.client("iam")
    entity = entity_error = None
    try:
        entity = principal_entity(iam, kind, name)
    except AwsReadError as e:
        entity_error = e
    source_arn = principal_source_arn(ident["arn"], entity)
    context = request_context(kind, source_arn, account)
    try:
        return _simulated(simulate(iam, source_arn, ACTION, resource, context), principal, resource), resource, SIMULATE
    except AwsReadError as e:
        sim_error = e
    if entity_error is not None:
        return Check("policy", UNKNOWN, "could not simulate the policies of %s (%s) nor read them (%s)"
                     % (principal, sim_error, entity_error)), resource, UNDETERMINED
    try:
        policies, boundary, entity_arn = collect_policies(iam, kind, name, entity)
    except AwsReadError as e:
        return Check("policy", UNKNOWN, "could not simulate the policies of %s (%s) nor read them (%s)"
                     % (principal, sim_error, e)), resource, UNDETERMINED
    principal = "%s (local evaluation, %s)" % (principal, sim_error.code)
    result = _policy_evaluator.evaluate(policies, ACTION, resource, context, unknown_keys=UNKNOWN_CONTEXT_KEYS)
    if result.allowed and boundary is not None:
        bounded = _policy_evaluator.evaluate([boundary], ACTION, resource, context, unknown_keys=UNKNOWN_CONTEXT_KEYS)
        if bounded.decision == _policy_evaluator.UNDETERMINED:
            return Check("policy", UNKNOWN, "the permissions boundary of %s: %s" % (principal, bounded.reason)), \
                resource, UNDETERMINED
        if not bounded.allowed:
            return Check("policy", FAILED, "the permissions boundary of %s does not allow it: %s. Add %s to the "
                         "boundary policy %s" % (principal, bounded.reason, resource, boundary[0]),
                         "policy_denied"), resource, LOCAL
    if result.allowed:
        return Check("policy", OK, "%s: %s" % (principal, result.reason)), resource, LOCAL
    if result.decision == _policy_evaluator.UNDETERMINED:
        return Check("policy", UNKNOWN, "%s (%d identity policies read): %s"
                     % (principal, len(policies), result.reason)), resource, UNDETERMINED
    if result.decision == _policy_evaluator.EXPLICIT_DENY:
        fix = "remove or narrow that Deny"
    else:
        fix = ("attach a policy that allows %s on %s (the dbauth.rds_iam.iam_access role or the "
               "rds_iam_policy_document filter computes it)" % (ACTION, resource))
    return Check("policy", FAILED, "%s (%d identity policies read): %s; %s"
                 % (principal, len(policies), result.reason, fix), "policy_denied"), resource, LOCAL


def check_region(token_region, db):
    if not token_region or db is None or not db.get("region") or token_region == db["region"]:
        return None
    return Check("region", FAILED, "the token was signed for region %s but the database is in %s: set region=%s"
                 % (token_region, db["region"], db["region"]), "token_rejected")


# --------------------------------------------------------------------------------------------
# Orchestration
# --------------------------------------------------------------------------------------------

ORDER = ("credentials", "token", "region", "iam_enabled", "user", "policy")


def diagnose(outcome, params, host, port, user, aws, catalog=None, token=None, now=None):
    """Run the checks for a refused login. Returns (diagnosis, message, checks, facts).

    ``aws`` has ``client(service)`` (read-only use); ``catalog`` is None or a callable returning
    (exists, is_iam, detail); ``token`` is the token option's value (only parsed).
    """
    now = now or datetime.datetime.now(_UTC)
    endpoint = "%s:%s" % (host, port)
    checks = []
    cred_check, ident = check_credentials(aws, token_given=bool(token))
    checks.append(cred_check)
    token_facts = None
    if token:
        token_facts = parse_token(token)
        checks.append(check_token(token_facts, host, port, user, now))
    db_check, db = check_database(aws, params, host, port)
    token_region = token_facts["region"] if token_facts else outcome.region
    region_check = check_region(token_region, db)
    if region_check is not None:
        checks.append(region_check)
    checks.append(db_check)
    checks.append(check_user(catalog, params.get("engine"), user, endpoint))
    policy_check, resource, policy_source = check_policy(aws, ident, db, user)
    if token_facts and ident and token_facts.get("access_key_id") and policy_check.status != UNKNOWN:
        policy_check.detail += " (policies of this host's principal; the given token was signed with key %s)" \
            % token_facts["access_key_id"]
    checks.append(policy_check)

    facts = {"principal_arn": ident["arn"] if ident else None, "resource_arn": resource,
             "db_identifier": db["identifier"] if db else None, "policy_source": policy_source}
    failed = [c for c in sorted(checks, key=lambda c: ORDER.index(c.name)) if c.status == FAILED]
    if failed:
        first = failed[0]
        others = ""
        if len(failed) > 1:
            others = " Also broken: " + "; ".join(c.detail for c in failed[1:])
        message = "Login as %s to %s refused; broken link: %s.%s" % (user, endpoint, first.detail, others)
        return first.diagnosis, message, checks, facts
    unknown = [c.name for c in checks if c.status in (UNKNOWN, SKIPPED)]
    diagnosis, message = outcome.diagnosis, outcome.message
    user_ok = any(c.name == "user" and c.status == OK for c in checks)
    if diagnosis in ("user_not_iam", "user_missing") and user_ok:
        diagnosis = "token_rejected"  # the catalog contradicts the guess made from the server's message
    aws_unknown = [name for name in ("iam_enabled", "policy") if name in unknown]
    if diagnosis == "user_not_iam" and not user_ok and aws_unknown:
        # PostgreSQL refuses a user outside rds_iam and a token that IAM refuses alike; without the AWS checks
        # that tell them apart, the server's message is no diagnosis.
        return "token_rejected", (
            "Login as %s to %s refused; the cause is undetermined: the user may not be a member of rds_iam, or IAM "
            "refused the token (policy, IAM database authentication off), and %s could not be checked from this "
            "host. Give it the read-only permissions listed in the module's notes, or login_user/login_password "
            "to read the user's catalog entry. Server: %s"
            % (user, endpoint, " and ".join(aws_unknown), outcome.message)), checks, facts
    if diagnosis == "token_rejected":
        message = ("Login as %s to %s refused, and every link that could be checked holds (%s)%s. Remaining causes: "
                   "the host's clock (tokens are dated), credentials revoked or a session expired after signing, a "
                   "session policy or service control policy, or an RDS Proxy in between."
                   % (user, endpoint, ", ".join(c.name for c in checks if c.status == OK) or "none",
                      "; not checked: %s" % ", ".join(unknown) if unknown else ""))
    return diagnosis, message, checks, facts
