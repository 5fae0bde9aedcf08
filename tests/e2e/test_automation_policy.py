# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The published least-privilege policy (docs/automation_role_policy.json) is enough, and each statement is needed.

The lab's AWS API authorizes every call with the caller's policies, as AWS does (lab/api_auth.py). An IAM user
with exactly the published policy runs site.yml and revoke.yml with its own keys (rds_iam_aws): they pass.
The same user without one statement fails at the step that needs it, with AccessDenied naming an action of
that statement. Run: make e2e (or .venv/bin/python -m pytest tests/e2e/test_automation_policy.py -q).
"""

from __future__ import annotations

import json
import os
import re
import sys
import uuid
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
# pylint: disable=wrong-import-position
from test_site_flow import ROOT, changed, inventory, lab, ok, playbook, tail  # noqa: E402,F401  pylint: disable=unused-import

POLICY = json.loads((ROOT / "docs" / "automation_role_policy.json").read_text())
# botocore's "An error occurred (AccessDenied) when calling the X operation: User: ..." (amazon.aws modules) and
# "AccessDenied: User: ..." (the collection's rds_iam_grants).
DENIED = re.compile(r"AccessDenied(?:\)? when calling the \w+ operation)?: User: (\S+) is not authorized to "
                    r"perform: ([\w-]+:\w+) on resource")


def _admin(lab):
    import boto3  # pylint: disable=import-outside-toplevel

    kw = dict(endpoint_url=lab["endpoint_url"], region_name=lab["region"], aws_access_key_id=lab["access_key"],
              aws_secret_access_key=lab["secret_key"])
    return boto3.client("iam", **kw)


def _without(sid: str | None) -> dict:
    return dict(POLICY, Statement=[s for s in POLICY["Statement"] if s["Sid"] != sid])


@pytest.fixture(scope="module")
def automation_user(lab, inventory, tmp_path_factory):
    """An IAM user whose only policy is the published one; yields (set_policy, extra-vars file)."""
    iam = _admin(lab)
    name = "dbauth-automation-" + uuid.uuid4().hex[:6]
    iam.create_user(UserName=name)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    varsfile = tmp_path_factory.mktemp("automation") / "aws.json"
    fd = os.open(varsfile, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump({"rds_iam_aws": {"endpoint_url": lab["endpoint_url"], "region": lab["region"],
                                   "access_key": key["AccessKeyId"], "secret_key": key["SecretAccessKey"]}}, handle)

    def set_policy(document: dict) -> None:
        iam.put_user_policy(UserName=name, PolicyName="automation", PolicyDocument=json.dumps(document))

    set_policy(POLICY)
    yield set_policy, varsfile
    iam.delete_user_policy(UserName=name, PolicyName="automation")
    iam.delete_access_key(UserName=name, AccessKeyId=key["AccessKeyId"])
    iam.delete_user(UserName=name)


def _denied(proc) -> set[str]:
    return {m.group(2) for m in DENIED.finditer(" ".join((proc.stdout + proc.stderr).split()))}


def _statement_actions(sid: str) -> set[str]:
    statement = next(s for s in POLICY["Statement"] if s["Sid"] == sid)
    actions = statement["Action"]
    return {actions} if isinstance(actions, str) else set(actions)


def test_site_and_revoke_under_the_published_policy(lab, inventory, automation_user):
    set_policy, varsfile = automation_user
    # Fresh state with the lab's admin keys: nothing granted, IAM authentication off.
    for name, args in (("revoke.yml", ()), ("enable.yml", ("-e", "enable_state=disabled"))):
        proc, _recap = playbook(inventory, name, *args)
        assert ok(proc), tail(proc)

    # Without the statement that turns IAM authentication on, enable fails naming rds:Modify*.
    set_policy(_without("TurnOnIamDatabaseAuthentication"))
    proc, recap = playbook(inventory, "enable.yml", "-e", f"@{varsfile}")
    assert not ok(proc) and changed(recap) == 0
    denied = _denied(proc)
    assert denied and denied <= _statement_actions("TurnOnIamDatabaseAuthentication"), tail(proc)

    # Without the policy statements, iam_access fails naming an iam:*Policy* action of that statement.
    set_policy(_without("ManageConnectPolicies"))
    proc, recap = playbook(inventory, "enable.yml", "-e", f"@{varsfile}")
    assert ok(proc), tail(proc)
    proc, recap = playbook(inventory, "iam_access.yml", "-e", f"@{varsfile}")
    assert not ok(proc)
    denied = _denied(proc)
    assert denied and denied <= _statement_actions("ManageConnectPolicies"), tail(proc)

    # Without the attach statement, the grant fails at AttachRolePolicy.
    set_policy(_without("AttachOnlyConnectPolicies"))
    proc, recap = playbook(inventory, "iam_access.yml", "-e", f"@{varsfile}")
    assert not ok(proc)
    assert _denied(proc) == {"iam:AttachRolePolicy"}, tail(proc)

    # Without the RDS Proxy statement, the step playbooks cannot read the lab's proxy of the data model.
    set_policy(_without("RdsProxyAuthentication"))
    proc, recap = playbook(inventory, "iam_access.yml", "-e", f"@{varsfile}")
    assert not ok(proc)
    denied = _denied(proc)
    assert denied and denied <= _statement_actions("RdsProxyAuthentication"), tail(proc)

    # The whole policy: site.yml and revoke.yml pass with the automation user's keys.
    set_policy(POLICY)
    proc, recap = playbook(inventory, "site.yml", "-e", f"@{varsfile}")
    assert ok(proc), tail(proc)
    assert not _denied(proc)
    proc, recap = playbook(inventory, "revoke.yml", "-e", f"@{varsfile}")
    assert ok(proc), tail(proc)
    assert changed(recap) > 0
    proc, recap = playbook(inventory, "revoke.yml", "-e", f"@{varsfile}")
    assert ok(proc) and changed(recap) == 0, tail(proc)

    # Leave IAM authentication as a fresh lab has it.
    proc, _recap = playbook(inventory, "enable.yml", "-e", "enable_state=disabled")
    assert ok(proc), tail(proc)
