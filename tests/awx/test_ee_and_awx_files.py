# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Offline proofs of the shipped AWX / EE files: `ansible-builder create` on the EE definition, the collection's
own EE metadata, the credential type and the survey specs."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tarfile

import pytest
import yaml

from conftest import AWX, ROOT, VENV_BIN, credential_type, render_injectors

EE = ROOT / "extensions" / "ee"


def requirement_names(text: str) -> set[str]:
    return {re.split(r"[<>=!~\[; ]", line.strip(), maxsplit=1)[0].lower()
            for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")}


@pytest.fixture(scope="module")
def tarball(tmp_path_factory):
    out = tmp_path_factory.mktemp("dist")
    proc = subprocess.run([str(VENV_BIN / "ansible-galaxy"), "collection", "build", "--force", "--output-path",
                           str(out), str(ROOT)], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    (path,) = out.glob("dbauth-rds_iam-*.tar.gz")
    return path


def test_collection_ee_metadata_is_minimal_and_unpinned():
    meta = yaml.safe_load((ROOT / "meta" / "execution-environment.yml").read_text())
    assert meta == {"version": 3, "dependencies": {"python": "requirements.txt", "system": "bindep.txt"}}
    reqs = (ROOT / "requirements.txt").read_text()
    assert requirement_names(reqs) == {"boto3", "botocore", "pymysql", "psycopg2-binary"}
    for line in reqs.splitlines():
        if line.strip() and not line.startswith("#"):
            assert ">=" in line and "==" not in line, line  # minimum versions only
    assert "ansible" not in requirement_names(reqs) and "ansible-core" not in requirement_names(reqs)
    bindep = [line for line in (ROOT / "bindep.txt").read_text().splitlines() if line and not line.startswith("#")]
    assert bindep == ["ca-certificates [platform:dpkg platform:rpm]"]


def test_ansible_builder_create_offline(tmp_path, tarball):
    # The definition refers to ../../requirements.txt and ../../bindep.txt: copy that layout, plus the tarball
    # where the build instructions (docs/execution_environment.md) put it.
    src = tmp_path / "src"
    (src / "extensions" / "ee" / "collections").mkdir(parents=True)
    for name in ("requirements.txt", "bindep.txt"):
        shutil.copy(ROOT / name, src / name)
    for name in ("execution-environment.yml", "requirements.yml"):
        shutil.copy(EE / name, src / "extensions" / "ee" / name)
    shutil.copy(tarball, src / "extensions" / "ee" / "collections" / tarball.name)
    context = tmp_path / "context"
    proc = subprocess.run([str(VENV_BIN / "ansible-builder"), "create", "-f", "extensions/ee/execution-environment.yml",
                           "-c", str(context), "--output-filename", "Containerfile"], cwd=str(src),
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    build = context / "_build"
    containerfile = (context / "Containerfile").read_text()

    # The collection itself, as built from this repository, with its EE metadata inside.
    assert (build / "collections" / tarball.name).read_bytes() == tarball.read_bytes()
    with tarfile.open(build / "collections" / tarball.name) as tar:
        names = set(tar.getnames())
        assert {"MANIFEST.json", "meta/execution-environment.yml", "requirements.txt", "bindep.txt",
                "plugins/modules/rds_iam_enable.py", "playbooks/site.yml"} <= names
        assert not [n for n in names if n.startswith(("lab/", "tests/output", ".venv"))]
    galaxy = yaml.safe_load((build / "requirements.yml").read_text())
    pins = {c["name"]: c.get("version") for c in galaxy["collections"]}
    assert pins == {"/build/collections/%s" % tarball.name: None, "amazon.aws": "10.1.2"}
    assert next(c for c in galaxy["collections"] if c["name"].startswith("/build/"))["type"] == "file"

    # Its Python and system requirements: the collection's own files, unchanged.
    assert (build / "requirements.txt").read_text() == (ROOT / "requirements.txt").read_text()
    assert (build / "bindep.txt").read_text() == (ROOT / "bindep.txt").read_text()
    assert "introspect --user-pip=requirements.txt --user-bindep=bindep.txt" in containerfile

    # Pinned: base image by tag, ansible-core and ansible-runner by version; the galaxy stage sees /build.
    assert re.search(r'^ARG EE_BASE_IMAGE="[^":]+/[^":]+:[0-9][^"]*"$', containerfile, re.M)
    assert re.search(r'^ARG ANSIBLE_INSTALL_REFS="ansible-core==2\.19\.[0-9]+ ansible-runner==[0-9.]+"$',
                     containerfile, re.M)
    assert 'ARG PYCMD="/usr/bin/python3.11"' in containerfile
    assert "COPY _build /build" in containerfile and "ansible-galaxy collection install" in containerfile
    assert "/etc/pki/rds/global-bundle.pem" in containerfile


@pytest.mark.parametrize("with_lab", [False, True])
def test_the_lab_is_an_optional_extra_of_the_ee(tmp_path, tarball, with_lab):
    """Off by default (extensions/ee/lab holds only its README); a wheel put there is copied and installed."""
    src = tmp_path / "src"
    shutil.copytree(EE, src / "extensions" / "ee", ignore=shutil.ignore_patterns("context", "*.whl", "*.tar.gz"))
    for name in ("requirements.txt", "bindep.txt"):
        shutil.copy(ROOT / name, src / name)
    shutil.copy(tarball, src / "extensions" / "ee" / "collections" / tarball.name)
    if with_lab:
        proc = subprocess.run([str(VENV_BIN / "python"), "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir",
                               str(src / "extensions" / "ee" / "lab"), str(ROOT / "lab")],
                              capture_output=True, text=True, check=False)
        assert proc.returncode == 0, proc.stderr
    context = tmp_path / "context"
    proc = subprocess.run([str(VENV_BIN / "ansible-builder"), "create", "-f", "extensions/ee/execution-environment.yml",
                           "-c", str(context), "--output-filename", "Containerfile"], cwd=str(src),
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    shipped = sorted(p.name for p in (context / "_build" / "lab").iterdir())
    wheels = [n for n in shipped if n.endswith(".whl")]
    assert "README.md" in shipped and len(wheels) == (1 if with_lab else 0)
    containerfile = (context / "Containerfile").read_text()
    assert "COPY _build/lab/ /usr/share/rds-iam-lab/" in containerfile
    assert re.search(r'^RUN for w in /usr/share/rds-iam-lab/rds_iam_lab-\*\.whl; do \[ ! -e "\$w" \] \|\| '
                     r'\$PYCMD -m pip install', containerfile, re.M)


def test_credential_type_fields_and_injectors():
    ctype = credential_type()
    assert ctype["kind"] == "cloud"
    fields = {f["id"]: f for f in ctype["inputs"]["fields"]}
    assert set(fields) == {"role_arn", "external_id", "role_session_name", "region", "access_key", "secret_key",
                           "session_token", "endpoint_url"}
    assert all(f["type"] == "string" and f["label"] for f in fields.values())
    assert {k for k, f in fields.items() if f.get("secret")} == {"secret_key", "session_token"}
    assert set(ctype["inputs"]["required"]) == {"role_arn", "region"}
    used = set(re.findall(r"\{\{\s*(\w+)", " ".join(ctype["injectors"]["env"].values())))
    assert used <= set(fields)

    # Only the required inputs: the role is assumed with the node's own identity, nothing else is set.
    env = render_injectors({"role_arn": "arn:aws:iam::123456789012:role/x", "region": "eu-west-1"})
    assert env == {
        "DBAUTH_RDS_IAM_ASSUME_ROLE_ARN": "arn:aws:iam::123456789012:role/x",
        "DBAUTH_RDS_IAM_EXTERNAL_ID": "", "DBAUTH_RDS_IAM_ROLE_SESSION_NAME": "awx-dbauth-rds-iam",
        "AWS_REGION": "eu-west-1", "AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "", "AWS_SESSION_TOKEN": "",
        "AWS_ENDPOINT_URL": ""}


def test_the_module_fallbacks_are_the_injected_variables():
    """The variables the credential injects are exactly the ones the code reads."""
    text = (ROOT / "plugins" / "module_utils" / "_aws_session.py").read_text()
    env = credential_type()["injectors"]["env"]
    for name in [n for n in env if n.startswith("DBAUTH_")]:
        assert f'"{name}"' in text
    lookup_doc = (ROOT / "plugins" / "doc_fragments" / "assume_role.py").read_text()
    for name in [n for n in env if n.startswith("DBAUTH_")]:
        assert f"- name: {name}" in lookup_doc


SURVEY_TYPES = {"text", "textarea", "password", "integer", "float", "multiplechoice", "multiselect"}


@pytest.mark.parametrize("name, playbook", [
    ("enable", "enable.yml"), ("grant_user", "grant_user.yml"), ("verify", "verify.yml"), ("revoke", "revoke.yml")])
def test_survey_specs(name, playbook):
    spec = json.loads((AWX / "surveys" / f"{name}.json").read_text())
    assert spec["name"] and spec["description"] and spec["spec"]
    project_playbook = (AWX / "project" / playbook).read_text()
    collection_playbooks = " ".join(p.read_text() for p in (ROOT / "playbooks").glob("*.yml"))
    roles = " ".join(p.read_text() for p in (ROOT / "roles").glob("*/defaults/main.yml"))
    for question in spec["spec"]:
        assert question["type"] in SURVEY_TYPES and question["question_name"] and question["variable"]
        assert isinstance(question["required"], bool)
        if question["type"] == "multiplechoice":
            assert question["default"] in question["choices"]
        if question["type"] in ("text", "textarea", "integer"):
            assert question["min"] <= question["max"]
        # Each variable is read by the job template's playbook, the collection's playbooks or a role default.
        assert question["variable"] in project_playbook + collection_playbooks + roles, question["variable"]


def test_awx_configuration_playbook_uses_the_shipped_files():
    play = yaml.safe_load((AWX / "configure_awx.yml").read_text())
    text = (AWX / "configure_awx.yml").read_text()
    assert "awx.awx.credential_type" in text and "credential_type.yml" in text
    for survey in ("enable", "grant_user", "verify", "revoke"):
        assert f"surveys/{survey}.json" in text
    assert play[0]["hosts"] == "localhost"
