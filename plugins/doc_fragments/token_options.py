# -*- coding: utf-8 -*-

# Copyright: (c) 2026, dbauth.rds_iam developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # Options of the RDS IAM token, shared by the dbauth.rds_iam.rds_iam_token module (MODULES) and
    # lookup (PLUGINS); the two differ only where marked. The AWS options come from the amazon.aws
    # fragments: the module takes `region` from amazon.aws.region.modules, the lookup documents its
    # own `region` without an `env` entry, so that in both a region written in an RDS host name wins
    # over AWS_REGION (the shared code reads the environment itself).

    # What the module and the lookup share beyond their options (fragment dbauth.rds_iam.token_options.notes).
    NOTES = r"""
options: {}
notes:
  - The token is a SigV4 presigned URL without its C(https://) scheme, signed for the C(rds-db) service
    (or a presigned STS C(GetCallerIdentity) request with O(kind=sts)) and valid for 900 seconds (15 minutes),
    the same string as C(aws rds generate-db-auth-token) prints.
    It is only checked when the connection is opened, and the credentials that signed it must still be
    valid then.
  - Signing happens locally without a network call; only O(assume_role_arn) calls AWS STS.
  - The principal that signs needs C(rds-db:connect) on
    C(arn:aws:rds-db:REGION:ACCOUNT:dbuser:RESOURCE_ID/DB_USER); the signature alone grants nothing.
  - Without O(access_key) and O(secret_key) or O(profile), botocore's default credential chain is used (environment,
    shared credentials and config files, container credentials, EC2 instance metadata); when it finds nothing the
    task fails and says so.
  - O(assume_role_arn) signs with the role's temporary credentials (the token then carries C(X-Amz-Security-Token)).
    It is the way to reach a database in another account, because IAM database authentication needs the principal
    in the database's account. STS is called at O(endpoint_url) when it is set; a refusal is reported with AWS's
    code and message, never with keys.
  - Credentials that would expire before the token's 15 minutes end are renewed first (an assumed role is assumed
    again, refreshable credentials such as an instance profile, SSO or C(credential_process) are refreshed); when
    they still expire first the task fails and names the time they expire.
  - When no region can be found (typical for local or CNAME'd endpoints) the task fails and asks for O(region) or
    the E(AWS_REGION) environment variable.
"""

    # kind and server_id, the same for the module and the lookup (fragment dbauth.rds_iam.token_options.kind).
    KIND = r"""
options:
  kind:
    description:
      - Which token to sign.
      - V(rds) signs the RDS IAM token for O(db_host), O(db_port) and O(db_user).
      - V(sts) signs a token for a self-managed database behind the collection's bridge (role
        C(dbauth.rds_iam.self_managed)), a presigned C(sts:GetCallerIdentity) request to the regional STS endpoint
        (or O(endpoint_url)), valid 900 seconds, whose signature covers the header C(X-DbAuth-Server-Id) with
        O(server_id). The bridge sends that request to STS with its own server id, so a token signed for
        another server is refused by STS; STS answers with the caller's ARN, which the bridge maps to the
        database users it may log in as.
      - With V(sts), O(db_port) and O(db_user) are not part of the token, and O(db_host) only helps find the
        region; O(region) (or E(AWS_REGION)) must be the region of an STS endpoint the bridge is configured for.
    type: str
    choices: [rds, sts]
    default: rds
  server_id:
    description:
      - The server id of the self-managed database (the C(server_id) of its bridge) the token is for.
      - Required with O(kind=sts), ignored otherwise.
    type: str
"""

    # Modules: the argument spec enforces the required options.
    MODULES = r"""
options:
  db_host:
    description:
      - Address of the DB instance, Aurora cluster endpoint or RDS Proxy endpoint the token is for,
        as the client will connect to it, for example C(mydb.abcdefghijkl.eu-west-1.rds.amazonaws.com).
      - A bare host name; not a URL (no C(https://)) and no C(:port) suffix, use O(db_port) for the port.
      - The region to sign for is, in this order, O(region); the region in an RDS host name
        (C(*.REGION.rds.amazonaws.com) and C(*.REGION.rds.amazonaws.com.cn), which covers instances,
        Aurora C(cluster-), C(cluster-ro-) and C(cluster-custom-) endpoints and RDS Proxy endpoints);
        the E(AWS_REGION) or E(AWS_DEFAULT_REGION) environment variables; the profile's configured region.
      - Setting O(region) to another region than the one in an RDS host name is an error, because that endpoint
        refuses tokens signed for another region.
      - Required with O(kind=rds).
    type: str
    required: false
  db_port:
    description:
      - Port the database listens on. It is signed into the token, so it must be the port the client uses.
      - There is no default because RDS has none that fits every engine (MySQL and MariaDB usually V(3306),
        PostgreSQL V(5432)).
      - Required with O(kind=rds).
    type: int
    required: false
  db_user:
    description:
      - Database user that logs in with the token. Case-sensitive.
      - Required with O(kind=rds).
      - The user must be set up for IAM authentication (MySQL/MariaDB C(AWSAuthenticationPlugin),
        PostgreSQL C(rds_iam) role), see M(dbauth.rds_iam.rds_iam_db_user).
    type: str
    required: false
"""

    # Lookup: the shared code checks the required options (with the same messages as the module),
    # and the lookup's terms may replace db_user.
    PLUGINS = r"""
options:
  db_host:
    description:
      - Address of the DB instance, Aurora cluster endpoint or RDS Proxy endpoint the token is for,
        as the client will connect to it, for example C(mydb.abcdefghijkl.eu-west-1.rds.amazonaws.com).
      - A bare host name; not a URL (no C(https://)) and no C(:port) suffix, use O(db_port) for the port.
      - The region to sign for is, in this order, O(region); the region in an RDS host name
        (C(*.REGION.rds.amazonaws.com) and C(*.REGION.rds.amazonaws.com.cn), which covers instances,
        Aurora C(cluster-), C(cluster-ro-) and C(cluster-custom-) endpoints and RDS Proxy endpoints);
        the E(AWS_REGION) or E(AWS_DEFAULT_REGION) environment variables; the profile's configured region.
      - Setting O(region) to another region than the one in an RDS host name is an error, because that endpoint
        refuses tokens signed for another region.
      - Required with O(kind=rds).
    type: str
    required: false
  db_port:
    description:
      - Port the database listens on. It is signed into the token, so it must be the port the client uses.
      - There is no default because RDS has none that fits every engine (MySQL and MariaDB usually V(3306),
        PostgreSQL V(5432)).
      - Required with O(kind=rds).
    type: int
    required: false
  db_user:
    description:
      - Database user that logs in with the token. Case-sensitive.
      - Required with O(kind=rds) unless the user names are given as the lookup's terms.
      - The user must be set up for IAM authentication (MySQL/MariaDB C(AWSAuthenticationPlugin),
        PostgreSQL C(rds_iam) role), see M(dbauth.rds_iam.rds_iam_db_user).
    type: str
    required: false
  region:
    description:
      - AWS region the token is signed for; it must be the region of the database.
      - When not set, the region in an RDS host name in O(db_host) is used, then the E(AWS_REGION) or
        E(AWS_DEFAULT_REGION) environment variables (of the controller), then the profile's region.
    type: str
    aliases: [aws_region]
"""
