#!/usr/bin/env python
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Logins per second the lab's token verifier decides, at the size of bench/site.py's 100-database scale.

Usage (from the repository root):

    make view && .venv/bin/python bench/logins.py [--databases 100] [--users 20] [--principals 10] [--threads 1,8]

The lab's verifier (lab/verifier.py) judges every IAM login of the lab's servers; bench/site.py's verify step
makes databases x users of them. This bench runs the verifier in this process on a control plane of its own
(moto, no database servers needed) seeded as that scale is: N logical databases (instances with their own
resource ids, IAM auth on, each served by one of three servers), one IAM role per principal, users granted round
robin to the roles in managed policies of at most 6,144 characters (IAM's limit), each role assumed once. Every
(database, user) pair gets a token signed by botocore with its role's session and is verified as the server that
serves it would ask (its server's id, the dialled logical database). Each row verifies every token (all must be
accepted, otherwise the bench fails) with 1 or more threads, as the lab's LDAP endpoint and MariaDB socket do.

A second pass refuses each token after its role's policy is changed to grant nothing (the verifier must see a
change of IAM at once): the table shows both.
"""

from __future__ import annotations

import os
import sys

# bench/ holds scripts whose names shadow the standard library (token.py): keep it off the import path.
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != os.path.dirname(os.path.abspath(__file__))]
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import argparse  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402
from concurrent.futures import ThreadPoolExecutor  # noqa: E402

from rds_iam_lab.control_plane import DatabaseSpec, start_control_plane  # noqa: E402
from rds_iam_lab.verifier import TokenVerifier  # noqa: E402

SERVERS = (("bench-server-mysql", "mariadb", 13306), ("bench-server-postgres", "postgres", 15432),
           ("bench-server-other", "postgres", 15433))
MAX_POLICY_CHARS = 6144  # IAM quota: managed policy document size


def seed(cp, n_databases: int, n_users: int, n_principals: int) -> list[tuple[str, str, str, str]]:
    """Databases, roles and policies -> [(server id, database id, user, role name)] (every granted login)."""
    rds, iam = cp.client("rds"), cp.client("iam")
    logins, grants = [], {}
    for i in range(n_databases):
        server, engine, port = SERVERS[i % len(SERVERS)]
        db_id = f"bench-login-db-{i:03d}"
        cp.add_database(DatabaseSpec(id=db_id, kind="instance", engine=engine, host="127.0.0.1", port=20000 + i,
                                     admin_user="benchadmin", admin_password="bench-admin-pw", served_by=server))
        rds.modify_db_instance(DBInstanceIdentifier=db_id, EnableIAMDatabaseAuthentication=True, ApplyImmediately=True)
        resource_id = rds.describe_db_instances(DBInstanceIdentifier=db_id)["DBInstances"][0]["DbiResourceId"]
        for j in range(n_users):
            user = f"b{i:03d}_u{j:02d}"
            role = f"bench-login-role-{(i * n_users + j) % n_principals + 1}"
            grants.setdefault(role, []).append(f"arn:aws:rds-db:{cp.region}:{cp.account_id}:dbuser:{resource_id}/{user}")
            logins.append((server, db_id, user, role))
    trust = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{cp.account_id}:root"}, "Action": "sts:AssumeRole"}]})
    for role, resources in grants.items():
        iam.create_role(RoleName=role, AssumeRolePolicyDocument=trust)
        for part, document in enumerate(documents(resources), start=1):
            arn = iam.create_policy(PolicyName=f"{role}-part{part}", PolicyDocument=document)["Policy"]["Arn"]
            iam.attach_role_policy(RoleName=role, PolicyArn=arn)
    return logins


def documents(resources: list[str]) -> list[str]:
    """rds-db:connect on ``resources``, split over as many documents of at most 6,144 characters as needed."""
    result, chunk = [], []

    def render(items):
        return json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "rds-db:connect", "Resource": items}]}, separators=(",", ":"))

    for resource in resources:
        if chunk and len(render(chunk + [resource])) > MAX_POLICY_CHARS:
            result.append(render(chunk))
            chunk = []
        chunk.append(resource)
    return result + ([render(chunk)] if chunk else [])


def tokens(cp, logins) -> list[tuple[str, str, str, str]]:
    """[(token, user, server id, database id)]: one token per login, signed with its role's session."""
    sts = cp.client("sts")
    clients = {}
    result = []
    for server, db_id, user, role in logins:
        if role not in clients:
            creds = sts.assume_role(RoleArn=f"arn:aws:iam::{cp.account_id}:role/{role}",
                                    RoleSessionName="bench")["Credentials"]
            clients[role] = cp.client("rds", creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])
        host, port = cp.endpoints(db_id)[0]
        token = clients[role].generate_db_auth_token(DBHostname=host, Port=port, DBUsername=user, Region=cp.region)
        result.append((token, user, server, db_id))
    return result


def verify_all(verifier, signed, threads: int) -> tuple[float, list]:
    def one(item):
        token, user, server, db_id = item
        return verifier.verify(token, user, server, db_id)

    start = time.perf_counter()
    if threads == 1:
        decisions = [one(item) for item in signed]
    else:
        with ThreadPoolExecutor(threads) as pool:
            decisions = list(pool.map(one, signed))
    return time.perf_counter() - start, decisions


def revoke_all(cp, roles) -> None:
    """Give each role's first policy a new default version that grants nothing; detach the others."""
    iam = cp.client("iam")
    nothing = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "rds-db:connect", "Resource": "arn:aws:rds-db:*:*:dbuser:nothing/nobody"}]})
    for role in roles:
        attached = iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]
        iam.create_policy_version(PolicyArn=attached[0]["PolicyArn"], PolicyDocument=nothing, SetAsDefault=True)
        for policy in attached[1:]:
            iam.detach_role_policy(RoleName=role, PolicyArn=policy["PolicyArn"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("--databases", type=int, default=100)
    parser.add_argument("--users", type=int, default=20, help="users per database (default 20)")
    parser.add_argument("--principals", type=int, default=10, help="IAM roles the users are granted to (default 10)")
    parser.add_argument("--threads", default="1,8", help="verifying threads per row, comma-separated (default 1,8)")
    args = parser.parse_args()
    threads = [int(x) for x in args.threads.split(",") if x.strip()]
    if min(args.databases, args.users, args.principals) < 1 or not threads or min(threads) < 1:
        parser.error("--databases, --users, --principals and --threads: at least 1")
    cp = start_control_plane([DatabaseSpec(id=i, kind="instance", engine=e, host="127.0.0.1", port=p,
                                           admin_user="benchadmin", admin_password="bench-admin-pw")
                              for i, e, p in SERVERS])
    try:
        logins = seed(cp, args.databases, args.users, args.principals)
        signed = tokens(cp, logins)
        verifier = TokenVerifier(cp)
        rows = []
        for count in threads:
            seconds, decisions = verify_all(verifier, signed, count)
            refused = [d for d in decisions if not d.ok]
            if refused:
                raise SystemExit(f"bench: {len(refused)} granted login(s) refused, first: {refused[0].code}: "
                                 f"{refused[0].reason}")
            rows.append(("granted (accepted)", count, len(signed), seconds))
        revoke_all(cp, sorted({role for *_rest, role in logins}))
        seconds, decisions = verify_all(verifier, signed, threads[-1])
        accepted = [d for d in decisions if d.ok]
        if accepted:
            raise SystemExit(f"bench: {len(accepted)} login(s) accepted after their grants were revoked")
        rows.append(("revoked (refused)", threads[-1], len(signed), seconds))
    finally:
        cp.stop()
    print(f"lab/verifier.py: {args.databases} databases x {args.users} users, {args.principals} roles "
          f"(managed policies of at most {MAX_POLICY_CHARS} characters)")
    print("| logins | threads | verifications | seconds | logins/s | ms per login |")
    print("|---|---|---|---|---|---|")
    for label, count, total, seconds in rows:
        print(f"| {label} | {count} | {total} | {seconds:.2f} | {total / seconds:.0f} | {1000 * seconds / total:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
