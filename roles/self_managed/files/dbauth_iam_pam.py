# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PAM module (for Debian's libpam-python, ``pam_python.so``) that asks the dbauth-iam-bridge whether a login may go.

Why not ``pam_exec.so expose_authtok``: it hands a program at most 511 bytes of the password (measured on Debian 12,
Linux-PAM 1.5.2: PAM_MAX_RESP_SIZE), and a token signed with session credentials is 1 to 3.5 KB; pam_python gives
the whole response of the conversation. PAM service line (the role writes it)::

    auth    required  pam_python.so /path/dbauth_iam_pam.py socket=/run/dbauth-iam-bridge/bridge.sock
    account required  pam_python.so /path/dbauth_iam_pam.py

The bridge's unix socket protocol: one JSON line ``{"user": ..., "token": ...}`` in, one JSON line
``{"allow": bool, "reason": ...}`` out. The token is never logged or kept here; the bridge logs the decision.
"""

import json
import socket

DEFAULT_SOCKET = "/run/dbauth-iam-bridge/bridge.sock"
TIMEOUT_SECONDS = 10
MAX_REPLY = 65536


def _socket_path(argv):
    for arg in argv[1:]:
        if arg.startswith("socket="):
            return arg[len("socket="):]
    return DEFAULT_SOCKET


def _token(pamh):
    if pamh.authtok:
        return pamh.authtok
    # MariaDB's auth_pam answers the password prompt with what the client sent (mysql_clear_password)
    reply = pamh.conversation(pamh.Message(pamh.PAM_PROMPT_ECHO_OFF, "Password: "))
    return reply.resp if reply is not None else None


def ask_bridge(path, user, token, timeout=TIMEOUT_SECONDS):
    """The bridge's decision for (user, token): True to allow."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        sock.connect(path)
        sock.sendall(json.dumps({"user": user, "token": token}).encode("utf-8") + b"\n")
        data = b""
        while not data.endswith(b"\n") and len(data) < MAX_REPLY:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
    return json.loads(data.decode("utf-8")).get("allow") is True


def pam_sm_authenticate(pamh, flags, argv):
    try:
        user = pamh.get_user(None)
        token = _token(pamh)
        if not user or not token:
            return pamh.PAM_AUTH_ERR
        return pamh.PAM_SUCCESS if ask_bridge(_socket_path(argv), user, token) else pamh.PAM_AUTH_ERR
    except Exception:  # pylint: disable=broad-except  # any failure denies; the bridge logs what it saw
        return pamh.PAM_AUTH_ERR


def pam_sm_setcred(pamh, flags, argv):
    return pamh.PAM_SUCCESS


def pam_sm_acct_mgmt(pamh, flags, argv):
    # the bridge decided at authentication; the account needs no Unix account of its own
    return pamh.PAM_SUCCESS
