# -*- coding: utf-8 -*-

# Copyright: (c) 2026, dbauth.rds_iam developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Input normalisation of rds_iam_db_user (before any connection)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.dbauth.rds_iam.plugins.module_utils._db_user_common import DbUserError
from ansible_collections.dbauth.rds_iam.plugins.module_utils._db_user_common import check_auth
from ansible_collections.dbauth.rds_iam.plugins.module_utils._db_user_common import normalize_users
from ansible_collections.dbauth.rds_iam.plugins.module_utils._db_user_common import protected_reason


def norm(engine="mysql", **kw):
    params = dict(name=None, users=None, state="present", host=None, privileges=None, roles=None)
    params.update(kw)
    return normalize_users(params, engine)


def test_single_name_form():
    (spec,) = norm(name="u", host="10.0.%", privileges={"app.*": "select"})
    assert (spec.name, spec.host, spec.state, spec.privileges) == ("u", "10.0.%", "present", {("app", "*"): {"SELECT"}})
    (spec,) = norm("postgres", name="u", roles=["b", "a", "rds_iam", "a"])
    assert spec.host is None and spec.roles == ["a", "b"]


def test_users_defaults():
    specs = norm(users=[{"name": "a"}, {"name": "b", "state": "absent", "host": "%"}], state="present", host="10.%")
    assert [(s.name, s.host, s.state) for s in specs] == [("a", "10.%", "present"), ("b", "%", "absent")]


@pytest.mark.parametrize("engine,kw,why", [
    ("mysql", dict(users=[{"name": "a"}, {"name": "a"}]), "listed twice"),
    ("mysql", dict(users=[{"name": "a", "host": "10.%"}, {"name": "a", "host": "10.%"}]), "listed twice"),
    ("postgres", dict(users=[{"name": "a"}, {"name": "a", "state": "absent"}]), "listed twice"),
    ("mysql", dict(users=[]), "nothing to do"),
    ("mysql", dict(users=[{"name": "a", "roles": ["r"]}]), "roles only apply to PostgreSQL"),
    ("postgres", dict(users=[{"name": "a", "privileges": {"a.*": "SELECT"}}]), "privileges only apply"),
    ("postgres", dict(users=[{"name": "a", "host": "%"}]), "host only applies"),
    ("postgres", dict(users=[{"name": "a", "roles": ["a"]}]), "member of itself"),
    ("postgres", dict(users=[{"name": "a", "roles": [5]}]), "roles must be strings"),
    ("mysql", dict(users=[{"name": "a", "privileges": "SELECT"}]), "must be a mapping"),
    ("mysql", dict(users=[{"name": "a", "privileges": {"app": "SELECT"}}]), "db.table"),
    ("mysql", dict(users=[{"name": "a", "privileges": {"app.*": "SELECT;DROP"}}]), "not a privilege name"),
    ("mysql", dict(users=[{"name": "a", "privileges": {"app.*": "SELECT", " app.* ": "INSERT"}}]), "twice"),
    ("mysql", dict(users=[{"name": "a", "state": "absent", "privileges": {"app.*": "SELECT"}}]), "state=absent"),
    ("mysql", dict(users=[{"name": "a", "host": "localhost"}]), "localhost"),
    ("mysql", dict(users=["a"]), "must be a mapping"),
    ("mysql", dict(users=[{"name": "a"}], privileges={"a.*": "SELECT"}), "only go with name"),
])
def test_bad_input(engine, kw, why):
    with pytest.raises(DbUserError, match=why):
        norm(engine, **kw)


def test_all_errors_listed_at_once():
    with pytest.raises(DbUserError) as e:
        norm(users=[{"name": ""}, {"name": "ok"}, {"name": "a\nb"}, {"name": "x" * 40}, {"name": "p%"}])
    text = str(e.value)
    assert text.startswith("invalid input, nothing was changed")
    for part in ("users[0]", "users[2]", "users[3]", "users[4]"):
        assert part in text
    assert "users[1]" not in text


def test_protected():
    assert "login user" in protected_reason("admin", "mysql", "admin")
    assert "login user" in protected_reason("boss", "postgres", "admin", ("boss",))
    for name in ("root", "ROOT", "rdsadmin", "mysql.session", "mariadb.sys", "rds_superuser_role"):
        assert "platform" in protected_reason(name, "mysql", "admin")
    for name in ("rds_superuser", "rds_iam", "rds_ad", "rdsadmin", "pg_monitor", "public", "postgres"):
        assert "platform" in protected_reason(name, "postgres", "admin")
    assert protected_reason("app", "mysql", "admin") is None
    assert protected_reason("rootless", "mysql", "admin") is None


@pytest.mark.parametrize("service", ["", "a'b", "x" * 65, "../etc/passwd", "svc name"])
def test_a_pam_service_that_cannot_be_a_file_name_is_refused(service):
    with pytest.raises(DbUserError, match="pam_service"):
        check_auth({"auth": "bridge", "pam_service": service})


def test_pam_service_is_only_checked_for_the_bridge():
    check_auth({"auth": "rds", "pam_service": "a'b"})
    check_auth({"auth": "bridge", "pam_service": "dbauth-iam-db_1.x"})
