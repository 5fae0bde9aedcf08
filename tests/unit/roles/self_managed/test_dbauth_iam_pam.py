# -*- coding: utf-8 -*-

# Copyright: (c) 2026, dbauth.rds_iam developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The pam_python module (roles/self_managed/files/dbauth_iam_pam.py) against a unix socket that answers as the bridge
does (one JSON line in, one out), with a PAM handle shaped like pam_python's: the user and the whole token reach the
bridge, its answer decides, and anything that goes wrong denies."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import socket
import threading
import types
from importlib.machinery import SourceFileLoader
from pathlib import Path

import pytest

# the role's file, as pam_python loads it: by path, not as a package module
_LOADER = SourceFileLoader(
    "dbauth_iam_pam", str(Path(__file__).resolve().parents[4] / "roles" / "self_managed" / "files" / "dbauth_iam_pam.py"))
pam_mod = types.ModuleType(_LOADER.name)
_LOADER.exec_module(pam_mod)


class FakePamh:
    """What pam_python hands a module: constants, the user, the token (or a conversation to ask for it)."""

    PAM_SUCCESS = 0
    PAM_AUTH_ERR = 7
    PAM_PROMPT_ECHO_OFF = 1

    class Message:
        def __init__(self, style, text):
            self.style, self.text = style, text

    class Response:
        def __init__(self, resp):
            self.resp = resp

    def __init__(self, user, authtok=None, answer=None):
        self.user, self.authtok, self.answer, self.prompts = user, authtok, answer, []

    def get_user(self, prompt):
        return self.user

    def conversation(self, message):
        self.prompts.append((message.style, message.text))
        return self.Response(self.answer)


@pytest.fixture
def bridge(tmp_path):
    """A unix socket that records each request and allows user 'app' only."""
    path = str(tmp_path / "bridge.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(5)
    seen = []

    def serve():
        while True:
            try:
                conn, dummy = server.accept()
            except OSError:
                return
            with conn:
                request = json.loads(conn.makefile("rb").readline())
                seen.append(request)
                allow = request["user"] == "app"
                conn.sendall(json.dumps({"allow": allow, "reason": "ok" if allow else "user_not_allowed"}).encode() + b"\n")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield path, seen
    server.close()


def test_a_3500_byte_token_reaches_the_bridge_whole_and_its_yes_allows(bridge):
    path, seen = bridge
    token = "sts.eu-west-1.amazonaws.com/?Action=GetCallerIdentity&" + "x" * 3450
    pamh = FakePamh("app", answer=token)
    assert pam_mod.pam_sm_authenticate(pamh, 0, ["dbauth_iam_pam.py", "socket=" + path]) == pamh.PAM_SUCCESS
    assert seen == [{"user": "app", "token": token}]
    assert pamh.prompts == [(pamh.PAM_PROMPT_ECHO_OFF, "Password: ")]  # MariaDB's auth_pam answers with the token


def test_a_token_set_by_an_earlier_module_is_used_without_asking(bridge):
    path, seen = bridge
    pamh = FakePamh("app", authtok="tok")
    assert pam_mod.pam_sm_authenticate(pamh, 0, ["m", "socket=" + path]) == pamh.PAM_SUCCESS
    assert pamh.prompts == [] and seen[0]["token"] == "tok"


@pytest.mark.parametrize("user,token,socket_arg", [
    ("other", "tok", True),      # the bridge says no
    ("app", "", True),           # no token: the bridge is not even asked
    (None, "tok", True),         # no user
    ("app", "tok", False),       # no bridge at that path
])
def test_anything_but_the_bridges_yes_denies(bridge, tmp_path, user, token, socket_arg):
    path, seen = bridge
    pamh = FakePamh(user, answer=token)
    argv = ["m", "socket=" + (path if socket_arg else str(tmp_path / "missing.sock"))]
    assert pam_mod.pam_sm_authenticate(pamh, 0, argv) == pamh.PAM_AUTH_ERR
    if not token or not user:
        assert seen == []


def test_the_default_socket_and_the_other_stacks():
    assert pam_mod._socket_path(["m"]) == "/run/dbauth-iam-bridge/bridge.sock"
    pamh = FakePamh("app")
    assert pam_mod.pam_sm_setcred(pamh, 0, []) == pamh.PAM_SUCCESS
    assert pam_mod.pam_sm_acct_mgmt(pamh, 0, []) == pamh.PAM_SUCCESS
