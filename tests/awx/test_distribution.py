# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The built tarball, installed into an empty collections path, runs the way AWX runs it: the job templates of
extensions/awx/project (thin playbooks that import dbauth.rds_iam.*) through ansible-runner, with the credential
type's environment and the survey answers as extra vars: site, grant user, verify, revoke."""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import boto3
import psycopg2
import pytest

from conftest import AWX, ROOT, VENV_BIN
from conftest import assert_no_leaks, check_command_artifact, run_job, task_results

GRANT_USER = "awx_grant_user"


def survey_vars(name: str, answers: dict) -> dict:
    """Extra vars of a job launched with a survey, validated like AWX does (required, choices, length)."""
    spec = json.loads((AWX / "surveys" / f"{name}.json").read_text())
    extra = {}
    for q in spec["spec"]:
        value = answers.get(q["variable"], q.get("default"))
        if q["required"]:
            assert value not in (None, ""), q["variable"]
        if q["type"] == "multiplechoice":
            assert value in q["choices"], (q["variable"], value)
        if q["type"] in ("text", "textarea") and value:
            assert q["min"] <= len(value) <= q["max"], q["variable"]
        if value not in (None, ""):
            extra[q["variable"]] = value
    return extra


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    work = tmp_path_factory.mktemp("install")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    proc = subprocess.run([str(VENV_BIN / "ansible-galaxy"), "collection", "build", "--force", "--output-path",
                           str(work / "dist"), str(ROOT)], capture_output=True, text=True, check=False, env=env)
    assert proc.returncode == 0, proc.stderr
    (tarball,) = (work / "dist").glob("dbauth-rds_iam-*.tar.gz")
    path = work / "collections"
    path.mkdir()
    assert not any(path.iterdir())
    env["ANSIBLE_COLLECTIONS_PATH"] = str(path)
    proc = subprocess.run([str(VENV_BIN / "ansible-galaxy"), "collection", "install", "--no-deps", "-p", str(path),
                           str(tarball)], capture_output=True, text=True, check=False, env=env)
    assert proc.returncode == 0, proc.stderr
    listed = subprocess.run([str(VENV_BIN / "ansible-galaxy"), "collection", "list", "dbauth.rds_iam", "--format",
                             "json"], capture_output=True, text=True, check=False, env=env)
    locations = json.loads(listed.stdout)
    assert list(locations) == [str(path / "ansible_collections")], locations  # no other copy can shadow it
    return path


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    pdd = tmp_path_factory.mktemp("awx-project-job")
    shutil.copytree(AWX / "project", pdd / "project")
    return pdd


def drop_grant_user(lab):
    db = next(d for d in lab["databases"] if d["id"] == "lab-postgres")
    conn = psycopg2.connect(host=db["host"], port=db["port"], user=db["admin_user"], password=db["admin_password"],
                            dbname="postgres", sslmode="verify-full", sslrootcert=lab["ca_cert"])
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("DROP ROLE IF EXISTS %s" % GRANT_USER)
    conn.close()


def test_tarball_job_templates(lab, installed, project, inventory, awx_env, secrets, clean_process_env, tmp_path):
    def job(playbook, extravars=None, ident=None):
        result = run_job(project, playbook, inventory, awx_env, str(installed), extravars, ident=ident or playbook)
        assert result.ok, f"{playbook}: {result.tail()}"
        assert_no_leaks(result, secrets)
        check_command_artifact(result, awx_env, secrets)
        return result

    drop_grant_user(lab)
    site = job("site.yml")
    # The AWX job view: the play recap and the verify table read well (no JSON dumps of results).
    out = site.stdout()
    assert "PLAY RECAP" in out and "noaccess-1" in out
    assert site.stats().get("failures", {}) == {}

    # Grant a user with the survey: created on the database, its principal's policy names it.
    grant = job("grant_user.yml", survey_vars("grant_user", {
        "grant_database": "lab-postgres", "grant_user": GRANT_USER, "grant_principals": "lab-report-role",
        "grant_roles": "pg_read_all_data"}))
    created = [u for r in task_results(grant, "", role="db_users") for d in r.get("res", {}).get("databases", [])
               for u in d.get("users", [])]
    assert {"name": GRANT_USER, "host": None, "action": "created"} in created, created
    iam = boto3.client("iam", endpoint_url=lab["endpoint_url"], region_name=lab["region"],
                       aws_access_key_id=lab["access_key"], aws_secret_access_key=lab["secret_key"])
    arn = f"arn:aws:iam::{lab['account_id']}:policy/dbauth-rds-iam/rds-iam-connect-lab-report-role"
    version = iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
    document = json.dumps(iam.get_policy_version(PolicyArn=arn, VersionId=version)["PolicyVersion"]["Document"])
    assert f"/{GRANT_USER}" in document

    report = tmp_path / "verify.json"
    job("verify.yml", survey_vars("verify", {"rds_iam_verify_report": str(report)}))
    rows = json.loads(report.read_text())
    # 11 logins to the databases and 2 through the lab's RDS Proxy (docs/rds_proxy.md)
    assert len(rows) == 13 and sum(r["connected"] for r in rows) == 11

    # Revoke needs the survey's confirmation.
    refused = run_job(project, "revoke.yml", inventory, awx_env, str(installed), {"revoke_confirm": "no"},
                      ident="revoke-unconfirmed")
    assert not refused.ok and "Nothing revoked" in refused.stdout()
    revoke = job("revoke.yml", survey_vars("revoke", {"revoke_confirm": "REVOKE"}))
    assert revoke.changed() > 0
    drop_grant_user(lab)
