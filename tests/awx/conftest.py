# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Shared pieces of the AWX / distribution proofs: the lab, the credential type's environment, ansible-runner.

Run: make awx (or .venv/bin/python -m pytest tests/awx -q after make view). LAB_STATE_DIR is honoured; a lab
that this session starts is stopped again at the end.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import jinja2
import jinja2.sandbox
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
VIEW = ROOT / ".build" / "view"
VENV_BIN = Path(sys.executable).parent
AWX = ROOT / "extensions" / "awx"
# Parts of an RDS IAM token (a SigV4 presigned URL) and the prefix of every moto session token: the session
# tokens of the roles that the modules and the playbooks assume are not known to the test, their prefix is.
TOKEN_MARKERS = ("X-Amz-Signature", "X-Amz-Credential", "X-Amz-Security-Token", "Action=connect", "FQoGZXIvYXdz")
AWX_ROLE_NAME = "lab-awx-automation"
AWX_SESSION_NAME = "awx-job-4242"
AWX_EXTERNAL_ID = "awx-lab-external-id"


def labctl(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "rds_iam_lab", *args], cwd=str(ROOT), capture_output=True,
                          text=True, check=False)


def lab_module():
    """rds_iam_lab.labctl (the lab package, installed into .venv from lab/)."""
    sys.path.insert(0, str(ROOT))
    try:
        from rds_iam_lab import labctl  # pylint: disable=import-outside-toplevel
    finally:
        sys.path.remove(str(ROOT))
    return labctl


def lab_control(request: dict):
    """One request to the lab daemon's control socket (the verifier's accepted logins)."""
    labctl_module = lab_module()
    return labctl_module.control(labctl_module.state_dir(), request)


def awx_role(lab) -> None:
    """The role the AWX credential assumes, as an AWS admin would make it: trusting the credential's keys with the
    credential's external id, and allowed exactly the published least-privilege policy (docs/automation_role_policy.json).
    The lab checks AssumeRole against the trust policy and every call against the role's policy, as AWS does."""
    import boto3  # pylint: disable=import-outside-toplevel

    keys = dict(endpoint_url=lab["endpoint_url"], region_name=lab["region"], aws_access_key_id=lab["access_key"],
                aws_secret_access_key=lab["secret_key"])
    caller = boto3.client("sts", **keys).get_caller_identity()["Arn"]
    iam = boto3.client("iam", **keys)
    trust = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": caller}, "Action": "sts:AssumeRole",
        "Condition": {"StringEquals": {"sts:ExternalId": AWX_EXTERNAL_ID}}}]}
    try:
        iam.create_role(RoleName=AWX_ROLE_NAME, AssumeRolePolicyDocument=json.dumps(trust))
    except iam.exceptions.EntityAlreadyExistsException:
        iam.update_assume_role_policy(RoleName=AWX_ROLE_NAME, PolicyDocument=json.dumps(trust))
    iam.put_role_policy(RoleName=AWX_ROLE_NAME, PolicyName="dbauth-rds-iam-automation",
                        PolicyDocument=(ROOT / "docs" / "automation_role_policy.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def lab():
    started = labctl("status", "--json").returncode != 0
    up = labctl("up")
    assert up.returncode == 0, up.stderr[-2000:]
    status = LabStatus(json.loads(labctl("status", "--json").stdout))
    awx_role(status)
    yield status
    if started:
        labctl("down")


@pytest.fixture(scope="session")
def secrets(lab):
    """Every secret value the jobs could print: admin secret key, admin passwords, the hosts' source keys."""
    return Hidden(sorted(lab_module().secret_values(dict(lab))))


def credential_type() -> dict:
    return yaml.safe_load((AWX / "credential_type.yml").read_text(encoding="utf-8"))


def render_injectors(inputs: dict) -> dict:
    """The environment that AWX injects for a credential of our type with these inputs (sandboxed Jinja, as AWX)."""
    env = jinja2.sandbox.ImmutableSandboxedEnvironment(undefined=jinja2.StrictUndefined)
    return {name: env.from_string(template).render(**inputs)
            for name, template in credential_type()["injectors"]["env"].items()}


@pytest.fixture(scope="session")
def awx_inputs(lab):
    """The credential's inputs for the lab: the admin keys assume the AWX role; AWS calls go to the lab."""
    return SecretDict({
        "role_arn": f"arn:aws:iam::{lab['account_id']}:role/{AWX_ROLE_NAME}",
        "external_id": AWX_EXTERNAL_ID,
        "role_session_name": AWX_SESSION_NAME,
        "region": lab["region"],
        "access_key": lab["access_key"],
        "secret_key": lab["secret_key"],
        "endpoint_url": lab["endpoint_url"],
    })


@pytest.fixture(scope="session")
def awx_env(awx_inputs):
    return SecretDict(render_injectors(awx_inputs))


@pytest.fixture(scope="session")
def inventory(lab, tmp_path_factory):
    """The lab inventory as an AWX inventory would hold it: no AWS keys in variables (the credential brings them)."""
    inv = tmp_path_factory.mktemp("awx-inventory")
    src = ROOT / "inventories" / "lab"
    shutil.copy(src / "hosts.yml", inv / "hosts.yml")
    (inv / "group_vars" / "all").mkdir(parents=True)
    shutil.copy(src / "group_vars" / "all" / "data_model.yml", inv / "group_vars" / "all" / "data_model.yml")
    proc = subprocess.run([sys.executable, "-m", "rds_iam_lab", "inventory", "--no-hosts", str(inv)], capture_output=True,
                          text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    # Instead of the lab's rds_iam_aws (keys in variables): region, endpoint and keys come from the credential's
    # environment.
    (inv / "group_vars" / "all" / "lab_connection.yml").unlink()
    (inv / "group_vars" / "all" / "awx.yml").write_text("---\nrds_iam_aws: {}\n", encoding="utf-8")
    # The targets keep the lab's environment (group_vars/rds_iam_targets): their own metadata endpoints (their
    # instance profiles), the job's keys blanked (a local target would inherit them; an SSH target never sees them).
    return inv


@pytest.fixture()
def clean_process_env(monkeypatch):
    """ansible-runner copies this process's environment: only the credential may bring AWS settings."""
    for name in list(os.environ):
        if name.startswith(("AWS_", "DBAUTH_", "ANSIBLE_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("PATH", f"{VENV_BIN}:{os.environ.get('PATH', '')}")


class Job:
    """One ansible-runner job, as AWX runs a job template: private data dir, project, inventory, env, extra vars."""

    def __init__(self, result, private_data_dir: Path):
        self.result = result
        self.pdd = private_data_dir
        self.artifacts = Path(result.config.artifact_dir)

    @property
    def ok(self) -> bool:
        return self.result.status == "successful" and self.result.rc == 0

    def stdout(self) -> str:
        return (self.artifacts / "stdout").read_text(encoding="utf-8", errors="replace")

    def events(self) -> list[dict]:
        return [json.loads(p.read_text(encoding="utf-8")) for p in sorted((self.artifacts / "job_events").glob("*.json"))]

    def stats(self) -> dict:
        return self.result.stats or {}

    def changed(self) -> int:
        return sum(self.stats().get("changed", {}).values())

    def tail(self) -> str:
        return self.stdout()[-5000:]

    def scanned_files(self) -> list[Path]:
        """Everything the job left behind that AWX keeps or shows: artifacts and env files.

        The ``command`` artifact is ansible-runner's record of the process environment, which holds the
        credential's injected variables by design (AWX deletes the private data dir after the job): it is checked
        separately (check_command_artifact).
        """
        files = [p for p in self.artifacts.rglob("*") if p.is_file() and p.name != "command"]
        env_dir = self.pdd / "env"
        if env_dir.is_dir():
            files += [p for p in env_dir.rglob("*") if p.is_file()]
        return files


def run_job(pdd: Path, playbook: str, inventory: Path, envvars: dict, collections_path: str,
            extravars: dict | None = None, ident: str = "job") -> Job:
    import ansible_runner  # pylint: disable=import-outside-toplevel

    env = dict(envvars)
    env.update(ANSIBLE_COLLECTIONS_PATH=collections_path, ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0",
               ANSIBLE_RETRY_FILES_ENABLED="0", ANSIBLE_LOCAL_TEMP=str(pdd / ".ansible-tmp"))
    result = ansible_runner.run(
        private_data_dir=str(pdd), playbook=playbook, inventory=str(inventory), envvars=env,
        extravars=extravars or {}, ident=ident, quiet=True,
        # As AWX (AWX_RUNNER_OMIT_ENV_FILES): the credential's environment is not written to env/ files.
        suppress_env_files=True,
    )
    return Job(result, pdd)


def assert_no_leaks(job: Job, secrets: list[str], extra_secrets: tuple[str, ...] = ()):
    files = job.scanned_files()
    assert any(p.parent.name == "job_events" for p in files) and (job.artifacts / "stdout").is_file()
    leaks = []
    for path in files:
        text = path.read_text(encoding="utf-8", errors="replace")
        leaks += [f"{path.name}: secret value" for s in list(secrets) + list(extra_secrets) if s and s in text]
        leaks += [f"{path.name}: {m}" for m in TOKEN_MARKERS if m in text]
    assert not leaks, f"secrets or token parts in the runner artifacts: {sorted(set(leaks))[:10]}"


def check_command_artifact(job: Job, awx_env: dict, secrets: list[str]):
    """ansible-runner's ``command`` file (mode 0600) keeps the process environment, so the credential's own
    secret key is there (and nowhere else); no token, no session token and no database password is."""
    path = job.artifacts / "command"
    assert path.stat().st_mode & 0o077 == 0
    record = json.loads(path.read_text(encoding="utf-8"))
    assert record["env"]["AWS_SECRET_ACCESS_KEY"] == awx_env["AWS_SECRET_ACCESS_KEY"]
    text = json.dumps({k: v for k, v in record.items() if k != "env"}) + json.dumps(
        {k: v for k, v in record["env"].items() if k != "AWS_SECRET_ACCESS_KEY"})
    assert not [s for s in secrets if s in text]
    assert not [m for m in TOKEN_MARKERS if m in text]


def task_results(job: Job, task_prefix: str, role: str | None = None) -> list[dict]:
    """One entry per host and loop item of the tasks whose name starts with task_prefix."""
    found = []
    for event in job.events():
        data = event.get("event_data", {})
        if not data.get("task", "").startswith(task_prefix) or (role and data.get("role") != role):
            continue
        kind = event.get("event")
        if kind in ("runner_item_on_ok", "runner_item_on_failed") or (
                kind in ("runner_on_ok", "runner_on_failed") and "results" not in data.get("res", {})):
            found.append(data)
    return found


class Hidden(tuple):
    """Secret values that pytest may print in a failure report: the repr never shows them."""

    def __repr__(self):
        return "<%d secret values>" % len(self)


class SecretDict(dict):
    def __repr__(self):
        return "<%s: values hidden>" % ", ".join(sorted(self))


class LabStatus(dict):
    def __repr__(self):
        return "<lab status of %s>" % self.get("state_dir")
