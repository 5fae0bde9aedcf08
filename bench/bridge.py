#!/usr/bin/env python
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Logins per second through dbauth-iam-bridge, against the lab's STS, with and without cached STS answers.

Usage (from the repository root):

    make view && .venv/bin/python bench/bridge.py [--principals 20] [--uncached 400] [--cached 4000] [--threads 1,8]

A control plane of the lab (moto behind the lab's SigV4 check, no database servers needed) is the STS. The bench
makes IAM users with access keys (half of them) and role sessions (the other half, tokens with a session token,
2-3 KB), signs kind=sts tokens with the collection's signer (``presign_caller_identity``, signing is not timed),
starts the bridge as its own process (``dbauth_iam_bridge.py serve``, LDAP on loopback and a unix socket) and
logs in through each front end:

* ``uncached``: every login carries a token the bridge has not seen: one GetCallerIdentity round trip to STS each;
* ``cached``: the same few tokens again and again: answered from the bridge's cache (keyed by a hash of the token).

Every login must be allowed (the bench fails otherwise); the table shows logins per second per front end, STS
answers and client threads. The LDAP client is a minimal one (BindRequest, BindResponse, UnbindRequest, one TCP
connection per login, as PostgreSQL opens one per login); the socket client speaks the JSON line protocol, as
the role's PAM module ``dbauth_iam_pam.py`` does inside MariaDB's ``auth_pam``.
"""

from __future__ import annotations

import os
import sys

# bench/ holds scripts whose names shadow the standard library (token.py): keep it off the import path.
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != os.path.dirname(os.path.abspath(__file__))]
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, ".build", "view"))
# The imports below need the import path above.
# pylint: disable=wrong-import-position,import-error

import argparse  # noqa: E402
import datetime  # noqa: E402
import importlib.util  # noqa: E402
import json  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from concurrent.futures import ThreadPoolExecutor  # noqa: E402

import botocore.auth  # noqa: E402
from rds_iam_lab.control_plane import start_control_plane  # noqa: E402

from ansible_collections.dbauth.rds_iam.plugins.module_utils._token_signing import presign_caller_identity  # noqa: E402

BRIDGE = os.path.join(ROOT, "roles", "self_managed", "files", "dbauth_iam_bridge.py")
SERVER_ID = "bench-db-1"
BASE_DN = "dc=dbauth-iam-bridge"
_real_clock = botocore.auth.get_current_datetime
# Every batch of tokens is signed backwards from this instant, each batch further back: no two tokens are equal.
_STARTED = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
_spec = importlib.util.spec_from_file_location("dbauth_iam_bridge", BRIDGE)
bridge = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bridge)


def principals(cp, count):
    """[(credentials for an STS client, ARN to map)]: IAM users with keys and sessions of roles."""
    iam, sts = cp.client("iam"), cp.client("sts")
    trust = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{cp.account_id}:root"}, "Action": "sts:AssumeRole"}]})
    result = []
    for i in range(count):
        name = f"bench-bridge-{i}-{uuid.uuid4().hex[:6]}"
        if i % 2 == 0:
            arn = iam.create_user(UserName=name)["User"]["Arn"]
            key = iam.create_access_key(UserName=name)["AccessKey"]
            result.append(((key["AccessKeyId"], key["SecretAccessKey"], None), arn))
        else:
            arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust)["Role"]["Arn"]
            c = sts.assume_role(RoleArn=arn, RoleSessionName="bench")["Credentials"]
            result.append(((c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"]), arn))
    return result


def tokens(cp, creds, count, age_offset=0):
    """``count`` distinct tokens: botocore signs to the second, so each principal's tokens are signed one
    second apart, backwards from now (``age_offset`` seconds further back; all well within their 900 s)."""
    clients = [cp.client("sts", *c) for c, dummy in creds]
    now = _STARTED
    result = []
    try:
        for i in range(count):
            signed_at = now - datetime.timedelta(seconds=age_offset + i // len(clients))
            botocore.auth.get_current_datetime = lambda at=signed_at: at
            result.append(presign_caller_identity(clients[i % len(clients)], SERVER_ID))
    finally:
        botocore.auth.get_current_datetime = _real_clock
    assert len(set(result)) == count
    return result


def ldap_login(port, user, token):
    with socket.create_connection(("127.0.0.1", port), timeout=30) as conn:
        conn.sendall(bridge.ber_encode(0x30, bridge.ber_encode(0x02, b"\x01") + bridge.ber_encode(
            0x60, bridge.ber_encode(0x02, b"\x03") + bridge.ber_encode(0x04, f"uid={user},{BASE_DN}".encode())
            + bridge.ber_encode(0x80, token.encode()))))
        message = bridge.read_ldap_message(conn.makefile("rb"), 65536)
        conn.sendall(bytes.fromhex("30050201024200"))
    tag, content, dummy = bridge.ber_element(message, 0)
    dummy, dummy, offset = bridge.ber_element(content, 0)
    dummy, op, dummy = bridge.ber_element(content, offset)
    return op[2] == 0  # resultCode success


def socket_login(path, user, token):
    with socket.socket(socket.AF_UNIX) as conn:
        conn.settimeout(30)
        conn.connect(path)
        conn.sendall(json.dumps({"user": user, "token": token}).encode() + b"\n")
        return json.loads(conn.makefile().readline())["allow"]


def run(login, target, token_list, threads):
    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        results = list(pool.map(lambda t: login(target, "app_user", t), token_list))
    elapsed = time.perf_counter() - started
    if not all(results):
        raise SystemExit(f"{login.__name__}: {results.count(False)} of {len(results)} logins refused")
    return elapsed


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--principals", type=int, default=20)
    parser.add_argument("--uncached", type=int, default=400, help="logins with fresh tokens per row")
    parser.add_argument("--cached", type=int, default=4000, help="logins with already checked tokens per row")
    parser.add_argument("--threads", default="1,8")
    args = parser.parse_args()
    thread_counts = [int(t) for t in args.threads.split(",")]
    cp = start_control_plane([])
    tmp = tempfile.mkdtemp(prefix="bench-bridge-")
    proc = None
    try:
        creds = principals(cp, args.principals)
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            ldap_port = probe.getsockname()[1]
        sock = os.path.join(tmp, "bridge.sock")
        config = {"server_id": SERVER_ID, "regions": [cp.region], "sts_endpoints": {cp.region: cp.endpoint_url},
                  "ldap": {"host": "127.0.0.1", "port": ldap_port, "base_dn": BASE_DN}, "socket": sock,
                  "mapping": {arn: ["app_user"] for dummy, arn in creds}, "max_connections": 256}
        with open(os.path.join(tmp, "config.json"), "w", encoding="utf-8") as handle:
            json.dump(config, handle)
        log = open(os.path.join(tmp, "bridge.log"), "w", encoding="utf-8")  # pylint: disable=consider-using-with
        proc = subprocess.Popen([sys.executable, BRIDGE, "serve", "--config", handle.name], stderr=log)
        for dummy in range(100):
            if os.path.exists(sock):
                break
            time.sleep(0.05)
        rows = []
        fronts = (("LDAP (PostgreSQL ldap)", ldap_login, ldap_port), ("unix socket (PAM)", socket_login, sock))
        batch = 0
        for name, login, target in fronts:
            for threads in thread_counts:
                fresh = tokens(cp, creds, args.uncached, age_offset=batch * (args.uncached // len(creds) + 1))
                batch += 1
                rows.append((name, "uncached (1 STS call each)", threads, len(fresh), run(login, target, fresh, threads)))
                seen = fresh[:len(creds)]
                repeated = [seen[i % len(seen)] for i in range(args.cached)]
                rows.append((name, "cached", threads, len(repeated), run(login, target, repeated, threads)))
        print("| front end | STS answers | client threads | logins | seconds | logins/s |")
        print("|---|---|---|---|---|---|")
        for name, mode, threads, count, elapsed in rows:
            print(f"| {name} | {mode} | {threads} | {count} | {elapsed:.2f} | {count / elapsed:,.0f} |")
        secret_parts = [t.rsplit("X-Amz-Signature=", 1)[1] for t in fresh]
        log.flush()
        with open(log.name, encoding="utf-8") as handle:
            text = handle.read()
        assert not any(part in text for part in secret_parts), "a token signature is in the bridge's log"
        asked = text.count('"sts": "asked"')
        assert asked == args.uncached * len(fronts) * len(thread_counts), asked
        print(f"bridge log: {text.count(chr(10))} lines, {asked} STS calls (one per uncached login), no token in it")
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=10)
        cp.stop()


if __name__ == "__main__":
    main()
