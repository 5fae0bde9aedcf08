# -*- coding: utf-8 -*-

# Copyright: (c) 2026, dbauth.rds_iam developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Naming rules and quoting of rds_iam_db_user, with hostile names."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

import pytest

from ansible_collections.dbauth.rds_iam.plugins.module_utils import _sql_identifiers as si

HOSTILE_LEGAL = [
    "o'brien", 'dq"name', "back`tick", "semi;colon", "drop;--", "x'; DROP USER root; --", "spa ce",
    "ünïcødé", "日本語", "emoji\U0001F600", "back\\slash", "a@b", "under_score", "$dollar",
]


def mysql_unquote(quoted):
    """Independent reader of a backtick-quoted identifier (what the server does)."""
    assert quoted[0] == "`" and quoted[-1] == "`"
    body = quoted[1:-1]
    # every backtick inside must come doubled
    assert re.sub("``", "", body).count("`") == 0
    return body.replace("``", "`")


def pg_unquote(quoted):
    assert quoted[0] == '"' and quoted[-1] == '"'
    body = quoted[1:-1]
    assert re.sub('""', "", body).count('"') == 0
    return body.replace('""', '"')


@pytest.mark.parametrize("name", HOSTILE_LEGAL)
def test_legal_hostile_names_round_trip(name):
    assert si.validate_user_name(name, "postgres") == name
    assert pg_unquote(si.pg_quote_ident(name)) == name
    if len(name) <= 32:
        assert si.validate_user_name(name, "mysql") == name
    assert mysql_unquote(si.mysql_quote_ident(name)) == name


@pytest.mark.parametrize("flavor", ["mysql", "mariadb", "postgres"])
@pytest.mark.parametrize("name,why", [
    ("", "empty"),
    ("a\x00b", "NUL"),
    ("a\nb", "control"),
    ("a\rb", "control"),
    ("a\tb", "control"),
    ("zero\u200bwidth", "control"),
    (" lead", "white space"),
    ("trail ", "white space"),
    ("star*", "wildcard"),
    ("what?", "wildcard"),
    ("${aws:username}", "policy variable"),
    ("app${x}", "policy variable"),
])
def test_refused_everywhere(flavor, name, why):
    with pytest.raises(si.IdentifierError, match=why):
        si.validate_user_name(name, flavor)


def test_non_string_refused():
    with pytest.raises(si.IdentifierError, match="must be a string"):
        si.validate_user_name(5, "mysql")


def test_percent_refused_for_mysql_only():
    for flavor in ("mysql", "mariadb"):
        with pytest.raises(si.IdentifierError, match="host pattern"):
            si.validate_user_name("app%", flavor)
    assert si.validate_user_name("app%", "postgres") == "app%"


def test_length_limits_per_engine():
    assert si.validate_user_name("a" * 32, "mysql")
    with pytest.raises(si.IdentifierError, match="33 characters; MySQL allows at most 32"):
        si.validate_user_name("a" * 33, "mysql")
    assert si.validate_user_name("a" * 128, "mariadb")
    with pytest.raises(si.IdentifierError, match="MariaDB allows at most 128"):
        si.validate_user_name("a" * 129, "mariadb")
    # MySQL counts characters: 32 three-byte characters are fine
    assert si.validate_user_name("日" * 32, "mysql")
    # PostgreSQL counts bytes: 21 * 3 = 63 bytes fine, 22 * 3 = 66 refused (would be truncated)
    assert si.validate_user_name("日" * 21, "postgres")
    with pytest.raises(si.IdentifierError, match="66 bytes"):
        si.validate_user_name("日" * 22, "postgres")
    assert si.validate_user_name("a" * 63, "postgres")
    with pytest.raises(si.IdentifierError, match="silently truncate"):
        si.validate_user_name("a" * 64, "postgres")


def test_unknown_flavor():
    with pytest.raises(si.IdentifierError, match="unknown engine"):
        si.validate_user_name("a", "oracle")


def test_error_messages_escape_control_characters():
    with pytest.raises(si.IdentifierError) as e:
        si.validate_user_name("a\nDROP", "mysql")
    assert "\n" not in str(e.value)
    assert "'a\\nDROP'" in str(e.value)


@pytest.mark.parametrize("host,expected", [("%", "%"), ("10.0.%", "10.0.%"), ("App.Example.COM", "app.example.com"),
                                           ("192.168.1.0/255.255.255.0", "192.168.1.0/255.255.255.0"),
                                           ("::1", "::1"), ("127.0.0.1", "127.0.0.1")])
def test_hosts_accepted(host, expected):
    assert si.validate_mysql_host(host) == expected


@pytest.mark.parametrize("host,why", [
    ("localhost", "TCP with TLS"), ("LocalHost", "TCP with TLS"), ("", "non-empty"), ("a'b", "may only contain"),
    ("a b", "may only contain"), ("a\nb", "control"), ("h" * 256, "longer than 255"), ("a`b", "may only contain"),
])
def test_hosts_refused(host, why):
    with pytest.raises(si.IdentifierError, match=why):
        si.validate_mysql_host(host)


def test_quote_refuses_nul_and_long():
    with pytest.raises(si.IdentifierError, match="NUL"):
        si.pg_quote_ident("a\x00")
    with pytest.raises(si.IdentifierError, match="NUL"):
        si.mysql_quote_ident("a\x00")
    with pytest.raises(si.IdentifierError, match="longer than 64"):
        si.mysql_quote_ident("t" * 65)


def test_grantee_parsing_with_quotes_in_name():
    # the server does not escape quotes in GRANTEE; hosts never contain them
    assert si.parse_mysql_grantee(si.mysql_account("o'q'@'x", "10.%")) == ("o'q'@'x", "10.%")
    assert si.parse_mysql_grantee("'a'@'%'") == ("a", "%")
    with pytest.raises(ValueError):
        si.parse_mysql_grantee("a@%")


@pytest.mark.parametrize("key,expected", [
    ("*.*", ("*", "*")), ("app.*", ("app", "*")), ("app.orders", ("app", "orders")),
    (" app.orders ", ("app", "orders")), ("`my.db`.*", ("my.db", "*")), ("`we``ird`.`t.1`", ("we`ird", "t.1")),
    ("app.or;ders", ("app", "or;ders")),
])
def test_privilege_keys(key, expected):
    assert si.parse_privilege_key(key) == expected


@pytest.mark.parametrize("key,why", [
    ("", "non-empty"), ("app", "db.table"), ("*.orders", r"\*\.\*"), ("a.b.c", "text after"), ("`a.*", "unterminated"),
    (".t", "empty part"), ("a.", "empty part"), ("`*`.*", "literally"), ("a\n.b", "control"), (5, "non-empty"),
])
def test_privilege_keys_malformed(key, why):
    with pytest.raises(si.IdentifierError, match=why):
        si.parse_privilege_key(key)


def test_privilege_lists():
    assert si.parse_privilege_list("select, Insert ,UPDATE", "k") == {"SELECT", "INSERT", "UPDATE"}
    assert si.parse_privilege_list(["all", "grant"], "k") == {"ALL PRIVILEGES", "GRANT OPTION"}
    assert si.parse_privilege_list("create   temporary tables", "k") == {"CREATE TEMPORARY TABLES"}
    for bad, why in [("SELECT,", "empty entry"), ("SELECT; DROP", "not a privilege"), ("SEL`ECT", "not a privilege"),
                     (5, "comma separated"), ([1], "must be strings"), ("", "empty")]:
        with pytest.raises(si.IdentifierError, match=why):
            si.parse_privilege_list(bad, "k")


def test_format_privilege_key_quotes():
    assert si.format_privilege_key("*", "*") == "*.*"
    assert si.format_privilege_key("app", "*") == "`app`.*"
    assert si.format_privilege_key("a`b", "t;x") == "`a``b`.`t;x`"
    assert si.display_privilege_key("my.db", "*") == "`my.db`.*"
    assert si.parse_privilege_key(si.display_privilege_key("we`ird", "t.1")) == ("we`ird", "t.1")
