# -*- coding: utf-8 -*-

# Copyright: (c) 2026, dbauth.rds_iam developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

# Internal use only: this file is not part of the collection's public interface and may change
# without notice.

"""Quoting and validation of SQL identifiers for MySQL/MariaDB and PostgreSQL.

Rules (documented in the rds_iam_db_user module, tested with hostile names):

* Values (MySQL user names and hosts) are never pasted into SQL: they go to the driver as
  parameters (``CREATE USER %s@%s``).
* Identifiers that cannot be parameters (MySQL database/table names, PostgreSQL role names) are
  quoted here: MySQL with backticks (a backtick doubled), PostgreSQL with double quotes (a double
  quote doubled).  Both refuse NUL, which neither server can store.
* Quotes, backticks, semicolons, spaces inside a name and non-ASCII letters are legal and round-trip
  exactly through this quoting.  Refused up front: empty names, NUL and every other control
  character (newline, tab, ...), leading or trailing white space, the IAM policy wildcards ``*`` and
  ``?`` (the user name is the last part of the ``rds-db:connect`` resource ARN, a wildcard there would
  grant more than this user), and names over the engine's limit (MySQL 32 characters, MariaDB 128
  characters, PostgreSQL 63 bytes, beyond which PostgreSQL silently truncates).  MySQL/MariaDB also
  refuse ``%`` in user names (it reads as a host pattern to people and tools); PostgreSQL accepts it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re
import unicodedata

MYSQL_USER_MAX_CHARS = 32       # MySQL 5.7.8+ / 8.x
MARIADB_USER_MAX_CHARS = 128    # MariaDB 10.6+ (mysql.global_priv.User is char(128))
POSTGRES_NAME_MAX_BYTES = 63    # NAMEDATALEN - 1
MYSQL_HOST_MAX_CHARS = 255
MYSQL_IDENT_MAX_CHARS = 64      # database and table names

# Host part of a MySQL account: host names, IPv4/IPv6 addresses, netmasks and the % and _
# patterns.  Quotes are not allowed, which also keeps the information_schema GRANTEE strings
# ('user'@'host', not escaped by the server) unambiguous.
_MYSQL_HOST_RE = re.compile(r"^[A-Za-z0-9%_.:/-]+$")


class IdentifierError(ValueError):
    """A name that is refused; the message says why."""


def _is_control(char):
    return unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp")


def describe(name):
    """A printable rendering of a name for error messages (control characters escaped)."""
    # repr() escapes newlines, NUL and every other non-printable character.
    return repr(name)


def check_common(name, what="user name"):
    """Checks shared by every engine; returns the name."""
    if not isinstance(name, str):
        raise IdentifierError("%s must be a string, got %s." % (what, type(name).__name__))
    if name == "":
        raise IdentifierError("%s must not be empty." % what)
    if "\x00" in name:
        raise IdentifierError("%s %s contains a NUL character, which no database can store." % (what, describe(name)))
    bad = [c for c in name if _is_control(c)]
    if bad:
        raise IdentifierError("%s %s contains control characters (%s); newlines, tabs and other control "
                              "characters are refused." % (what, describe(name), ", ".join(ascii(c) for c in sorted(set(bad)))))
    if name != name.strip():
        raise IdentifierError("%s %s has leading or trailing white space." % (what, describe(name)))
    return name


def validate_user_name(name, flavor):
    """Validate a database user name for ``flavor`` (mysql, mariadb or postgres)."""
    check_common(name)
    for wildcard in ("*", "?"):
        if wildcard in name:
            raise IdentifierError(
                "user name %s contains %r, a wildcard in the IAM policy resource "
                "arn:aws:rds-db:REGION:ACCOUNT:dbuser:RESOURCE_ID/USER; such a name cannot be granted "
                "rds-db:connect on its own." % (describe(name), wildcard))
    if "${" in name:
        raise IdentifierError(
            "user name %s contains '${', which IAM reads as a policy variable in the rds-db:connect resource "
            "arn:aws:rds-db:REGION:ACCOUNT:dbuser:RESOURCE_ID/USER (whom it grants would depend on the caller); "
            "choose a name without '${'." % describe(name))
    if flavor in ("mysql", "mariadb"):
        if "%" in name:
            raise IdentifierError("user name %s contains '%%', which is refused for MySQL/MariaDB user names "
                                  "(it reads as a host pattern); put patterns in host." % describe(name))
        limit = MYSQL_USER_MAX_CHARS if flavor == "mysql" else MARIADB_USER_MAX_CHARS
        if len(name) > limit:
            raise IdentifierError("user name %s has %d characters; %s allows at most %d." % (
                describe(name), len(name), "MySQL" if flavor == "mysql" else "MariaDB", limit))
    elif flavor == "postgres":
        size = len(name.encode("utf-8"))
        if size > POSTGRES_NAME_MAX_BYTES:
            raise IdentifierError("user name %s is %d bytes long in UTF-8; PostgreSQL allows at most %d bytes "
                                  "(and would silently truncate a longer name)." % (describe(name), size,
                                                                                    POSTGRES_NAME_MAX_BYTES))
    else:
        raise IdentifierError("unknown engine flavor %r." % (flavor,))
    return name


def validate_mysql_host(host):
    """Validate the host part of a MySQL/MariaDB account; returns it lower-cased."""
    if not isinstance(host, str) or host == "":
        raise IdentifierError("host must be a non-empty string such as '%' or '10.0.%'.")
    check_common(host, "host")
    if host.lower() == "localhost":
        raise IdentifierError(
            "host 'localhost' is refused: an account at localhost only matches connections over the local "
            "socket, while IAM logins come over TCP with TLS (and RDS offers no local socket); use '%' or "
            "the client network pattern.")
    if len(host) > MYSQL_HOST_MAX_CHARS:
        raise IdentifierError("host %s is longer than %d characters." % (describe(host), MYSQL_HOST_MAX_CHARS))
    if not _MYSQL_HOST_RE.match(host):
        raise IdentifierError("host %s may only contain letters, digits and . : / - _ %%." % describe(host))
    return host.lower()


def mysql_quote_ident(name):
    """Quote a MySQL/MariaDB identifier (database or table name) with backticks."""
    check_common(name, "identifier")
    if len(name) > MYSQL_IDENT_MAX_CHARS:
        raise IdentifierError("identifier %s is longer than %d characters." % (describe(name), MYSQL_IDENT_MAX_CHARS))
    return "`" + name.replace("`", "``") + "`"


def pg_quote_ident(name):
    """Quote a PostgreSQL identifier (role name) with double quotes."""
    if not isinstance(name, str) or name == "":
        raise IdentifierError("identifier must be a non-empty string.")
    if "\x00" in name:
        raise IdentifierError("identifier %s contains a NUL character." % describe(name))
    return '"' + name.replace('"', '""') + '"'


def mysql_account(name, host):
    """The GRANTEE spelling of information_schema: 'name'@'host' (the server does not escape)."""
    return "'%s'@'%s'" % (name, host)


def parse_mysql_grantee(grantee):
    """Split an information_schema GRANTEE ('name'@'host') into (name, host).

    Hosts never contain quotes (validate_mysql_host), so the last "'@'" separates the parts even
    when the user name contains quotes or "@".
    """
    if not (grantee.startswith("'") and grantee.endswith("'")) or "'@'" not in grantee:
        raise ValueError("unexpected GRANTEE %r" % (grantee,))
    name, host = grantee[1:-1].rsplit("'@'", 1)
    return name, host


# --------------------------------------------------------------------------------------------
# MySQL privilege mappings ("db.table": "PRIV,PRIV")
# --------------------------------------------------------------------------------------------

_PRIV_WORD_RE = re.compile(r"^[A-Z][A-Z_]*( [A-Z][A-Z_]*)*$")


def _parse_key_part(text, pos, key):
    """Parse one part of a privilege key at ``pos``: *, `quoted` or a bare name up to '.'."""
    if pos < len(text) and text[pos] == "`":
        out = []
        i = pos + 1
        while True:
            j = text.find("`", i)
            if j < 0:
                raise IdentifierError("privilege key %s has an unterminated backtick." % describe(key))
            out.append(text[i:j])
            if j + 1 < len(text) and text[j + 1] == "`":
                out.append("`")
                i = j + 2
                continue
            return "".join(out), j + 1, True
    j = text.find(".", pos)
    end = len(text) if j < 0 else j
    return text[pos:end], end, False


def parse_privilege_key(key):
    """'db.table' -> (db, table) where either may be '*'; backticks quote names with dots."""
    if not isinstance(key, str) or not key.strip():
        raise IdentifierError("privilege key must be a non-empty string like 'app.*', got %s." % describe(key))
    text = key.strip()
    db, pos, db_quoted = _parse_key_part(text, 0, key)
    if pos >= len(text) or text[pos] != ".":
        raise IdentifierError("privilege key %s must have the form db.table (for example app.*, *.* or "
                              "app.orders)." % describe(key))
    table, pos2, table_quoted = _parse_key_part(text, pos + 1, key)
    if pos2 != len(text):
        raise IdentifierError("privilege key %s has text after the table part; quote names that contain dots "
                              "with backticks: `my.db`.*" % describe(key))
    for part, quoted in ((db, db_quoted), (table, table_quoted)):
        if part == "":
            raise IdentifierError("privilege key %s has an empty part." % describe(key))
        if not quoted and part != "*":
            check_common(part, "name in privilege key %s" % describe(key))
        if "\x00" in part:
            raise IdentifierError("privilege key %s contains a NUL character." % describe(key))
    if db == "*" and not db_quoted and not (table == "*" and not table_quoted):
        raise IdentifierError("privilege key %s: with * as database the table must be * too (*.*)." % describe(key))
    if db_quoted and db == "*" or table_quoted and table == "*":
        raise IdentifierError("privilege key %s names a database or table literally called *; refused." % describe(key))
    return db, table


def format_privilege_key(db, table):
    """(db, table) -> the SQL ON clause target, quoted: *.*, `db`.*, `db`.`table`."""
    if db == "*":
        return "*.*"
    return "%s.%s" % (mysql_quote_ident(db), "*" if table == "*" else mysql_quote_ident(table))


def display_privilege_key(db, table):
    """(db, table) -> 'db.table' as users write it (backticks only where needed)."""
    def part(p):
        return p if p == "*" or ("." not in p and "`" not in p) else "`" + p.replace("`", "``") + "`"
    return "%s.%s" % (part(db), part(table))


def parse_privilege_list(value, key):
    """'SELECT, insert' or [SELECT, INSERT] -> set of normalised privilege names."""
    if isinstance(value, str):
        items = value.split(",")
    elif isinstance(value, (list, tuple)):
        items = []
        for v in value:
            if not isinstance(v, str):
                raise IdentifierError("privileges for %s must be strings, got %s." % (describe(key), describe(v)))
            items.extend(v.split(","))
    else:
        raise IdentifierError("privileges for %s must be a comma separated string or a list, got %s."
                              % (describe(key), type(value).__name__))
    privs = set()
    for item in items:
        norm = " ".join(item.strip().upper().split())
        if not norm:
            raise IdentifierError("privileges for %s contain an empty entry: %s." % (describe(key), describe(value)))
        if norm in ("ALL", "ALL PRIVILEGES"):
            norm = "ALL PRIVILEGES"
        elif norm == "GRANT":
            norm = "GRANT OPTION"
        if not _PRIV_WORD_RE.match(norm):
            raise IdentifierError("privilege %s for %s is not a privilege name." % (describe(item.strip()), describe(key)))
        privs.add(norm)
    if not privs:
        raise IdentifierError("privileges for %s are empty." % describe(key))
    return privs
