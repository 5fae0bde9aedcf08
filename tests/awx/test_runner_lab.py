# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The collection's playbooks as AWX job templates: ansible-runner (the engine AWX uses) with the environment
that the credential type (extensions/awx/credential_type.yml) injects, against the lab.

One job per step playbook, in order: revoke (a clean start), enable, iam_access, db_users, client, verify.
Every job succeeds, leaves its artifacts, and no secret or token is in them. The modules take the role from the
credential (invocation arguments), the amazon.aws modules run with the role's temporary keys, the targets log
in with their own identity, and a role of another account makes rds_iam_enable look in that account.
"""

from __future__ import annotations

import json
import shutil

import pytest

from conftest import AWX_EXTERNAL_ID, AWX_ROLE_NAME, AWX_SESSION_NAME, ROOT, VIEW
from conftest import assert_no_leaks, check_command_artifact, lab_control, render_injectors, run_job, task_results


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """A private data dir whose project is the repository's playbooks (AWX checks the project out)."""
    if not (VIEW / "ansible_collections" / "dbauth" / "rds_iam" / "roles" / "enable").is_dir():
        pytest.fail("the collection view is missing: run `make view` (make awx does)")
    pdd = tmp_path_factory.mktemp("awx-job")
    shutil.copytree(ROOT / "playbooks", pdd / "project" / "playbooks")
    return pdd


def invocation_args(results: list[dict]) -> list[dict]:
    return [r["res"]["invocation"]["module_args"] for r in results if "invocation" in r.get("res", {})]


def test_step_job_templates(lab, project, inventory, awx_env, secrets, clean_process_env, tmp_path):
    collections = str(VIEW)

    def job(name, extravars=None):
        result = run_job(project, f"playbooks/{name}.yml", inventory, awx_env, collections, extravars, ident=name)
        assert result.ok, f"{name}: {result.tail()}"
        assert_no_leaks(result, secrets)
        check_command_artifact(result, awx_env, secrets)
        return result

    job("revoke")
    enable = job("enable", {"enable_state": "enabled"})
    args = invocation_args(task_results(enable, "Turn IAM database authentication", role="enable"))
    # One batched call for the lab's three databases.
    assert [len(arg["databases"]) for arg in args] == [3]
    for arg in args:  # from the credential's DBAUTH_RDS_IAM_* variables (option fallbacks)
        assert arg["assume_role_arn"].endswith(":role/" + AWX_ROLE_NAME)
        assert (arg["role_session_name"], arg["external_id"]) == (AWX_SESSION_NAME, AWX_EXTERNAL_ID)
        assert arg["access_key"] == lab["access_key"] and arg["secret_key"] == "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"

    grant = job("iam_access")
    assumed = task_results(grant, "Assume the role of the job's AWS credential")
    assert assumed and all(r["res"].get("censored") for r in assumed)  # ran (not skipped), output hidden
    policy_args = invocation_args(task_results(grant, "", role="iam_access"))
    # One module_defaults block: every AWS call of the role, amazon.aws's and the collection's own, used the role's
    # temporary keys, and the collection's modules did not assume the role a second time from them.
    aws_args = [a for a in policy_args if "access_key" in a]
    assert aws_args and all(a["access_key"].startswith("ASIA") for a in aws_args), {a["access_key"] for a in aws_args}
    ours = [a for a in aws_args if "assume_role_arn" in a]
    assert ours and not [a for a in ours if a["assume_role_arn"]], ours
    assert grant.changed() > 0

    job("db_users")
    job("client")
    report = tmp_path / "verify.json"
    verify = job("verify", {"rds_iam_verify_report": str(report)})
    rows = {(r["host"], r["database"], r["user"]): r for r in json.loads(report.read_text())}
    assert len(rows) == 13  # with app-1 and app-2 through the lab's RDS Proxy
    for key, row in rows.items():
        if key[0] == "noaccess-1":
            assert not row["connected"] and row["diagnosis"] == "policy_denied", row
        else:
            assert row["connected"] and row["current_user"] == key[2], row
    # The targets signed with their own roles, never with the job credential's role.
    # (the lab's RDS Proxy logs in to lab-postgres with its own role: end-to-end IAM, docs/rds_proxy.md)
    accepts = [a for a in lab_control({"cmd": "accepts", "limit": 50}) if "/lab-proxy-role/" not in a["principal_arn"]]
    principals = {a["principal_arn"] for a in accepts[-8:]}
    assert principals and all(":assumed-role/lab-app-role/" in p or ":assumed-role/lab-report-role/" in p
                              for p in principals), principals
    assert not [a for a in accepts if AWX_ROLE_NAME in a["principal_arn"]]
    # The summary in the job view: the verify table is in stdout.
    assert "noaccess-1" in verify.stdout() and "policy_denied" in verify.stdout()


def test_the_role_really_signs_the_aws_calls(lab, project, inventory, awx_inputs, secrets, clean_process_env):
    """A role of another account: rds_iam_enable finds no database there and names that account."""
    env = render_injectors(dict(awx_inputs, role_arn="arn:aws:iam::999999999999:role/" + AWX_ROLE_NAME))
    result = run_job(project, "playbooks/enable.yml", inventory, env, str(VIEW), ident="foreign")
    assert not result.ok
    failed = [e["event_data"] for e in result.events() if e.get("event") == "runner_on_failed"]
    messages = " ".join(str(e["res"].get("msg", "")) + json.dumps(e["res"].get("results", "")) for e in failed)
    assert "999999999999" in messages, messages[-2000:]
    assert_no_leaks(result, secrets)
