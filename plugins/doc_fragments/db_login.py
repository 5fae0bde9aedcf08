# -*- coding: utf-8 -*-

# Copyright: (c) 2026, dbauth.rds_iam developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # Database login options shared by modules that log in to MySQL, MariaDB or PostgreSQL
    # (rds_iam_db_user; rds_iam_verify). Implemented in module_utils/_db_connection.py.
    DOCUMENTATION = r"""
options:
  engine:
    description:
      - Database engine. V(mysql) and V(mariadb) both use the MySQL protocol (PyMySQL); the SQL dialect
        (MySQL 8 or MariaDB) is detected from the server version, so an RDS instance of engine C(mysql)
        served by MariaDB works with either value. V(postgres) covers RDS PostgreSQL and Aurora PostgreSQL
        (psycopg2).
      - Required, unless every entry of O(databases) sets its own.
    type: str
    choices: [mysql, mariadb, postgres]
  login_host:
    description:
      - Address of the DB instance or cluster endpoint to log in to.
      - With O(login_iam) and O(ssl_mode=verify-full) this must be the name in the server certificate.
      - Required, unless every entry of O(databases) sets its own.
    type: str
  login_port:
    description:
      - Port of the database.
      - Defaults to V(3306) for MySQL/MariaDB and V(5432) for PostgreSQL.
    type: int
  login_user:
    description:
      - Administrative user to log in as, for example the master user of the instance.
      - Required, unless every entry of O(databases) sets its own.
    type: str
  login_password:
    description:
      - Password of O(login_user).
      - Mutually exclusive with O(login_iam).
    type: str
  login_iam:
    description:
      - Log in with an IAM authentication token instead of a password. The token is signed locally for
        O(login_user) at O(login_host):O(login_port) with the AWS options of the task (O(region),
        O(profile), O(access_key), ...); O(login_user) must itself be an IAM database user.
      - TLS is mandatory then; O(ssl_mode) must be V(require), V(verify-ca) or V(verify-full).
    type: bool
    default: false
  login_db:
    description:
      - Database to connect to.
      - Defaults to none for MySQL/MariaDB and to V(postgres) for PostgreSQL.
    type: str
  ca_cert:
    description:
      - CA bundle that signed the server certificate, for example the RDS C(global-bundle.pem).
      - When not set, the system trust store is used.
    type: path
  ssl_mode:
    description:
      - TLS policy, with libpq's names for both engines.
      - V(verify-full) (the default) requires TLS, checks the certificate against O(ca_cert) and the host name
        against O(login_host). V(verify-ca) does not check the host name. V(require) encrypts without checking
        the certificate. V(prefer) and V(allow) use TLS when the server offers it, V(disable) never.
      - When TLS is required and the server does not offer it, the task fails before any credential is sent.
    type: str
    default: verify-full
    choices: [disable, allow, prefer, require, verify-ca, verify-full]
  connect_timeout:
    description:
      - Seconds to wait for the connection.
    type: int
    default: 10
requirements:
  - PyMySQL for MySQL and MariaDB
  - psycopg2 for PostgreSQL
  - botocore, to sign the token when O(login_iam=true)
"""
