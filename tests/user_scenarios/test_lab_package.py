"""The lab as users get it (issue 15): the built wheel and the built collection, installed into a fresh virtual
environment and an empty collections path, used from a scratch folder outside this repository.

1. ``rds-iam-lab up --seed`` with a team's own data model, ``rds-iam-lab inventory``, ``ansible-playbook
   dbauth.rds_iam.site`` with that inventory, then ``rds-iam-lab down``;
2. a team's role that depends on dbauth.rds_iam, with the scenario template ``extensions/molecule/lab_user_role``
   as its ``molecule/default``: ``molecule test`` against the lab.

Nothing of this checkout is on the way: the commands run with the fresh venv's PATH only, in the scratch folder,
with a collections path holding only the installed tarball and amazon.aws (copied from the ``ansible`` package of
the project's venv: Galaxy is not reachable here). pip installs from its cache and the configured indexes.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "extensions" / "molecule" / "lab_user_role"
MODEL = TEMPLATE / "inventory" / "group_vars" / "all" / "data_model.yml"
RECAP = re.compile(r"^(\S+)\s+: ok=\d+\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)

ROLE_META = """---
galaxy_info:
  author: acme
  description: IAM database access for acme's databases
  license: GPL-3.0-or-later
  min_ansible_version: "2.17"
  namespace: acme
  role_name: db_access
  platforms:
    - name: Debian
      versions: [all]
dependencies: []
collections:
  - dbauth.rds_iam
"""
ROLE_TASKS = """---
- name: IAM database access for the team's databases, with the dbauth.rds_iam roles
  module_defaults:
    group/dbauth.rds_iam.rds_iam: "{{ rds_iam_aws | default({}) }}"
  block:
    - name: IAM authentication on
      ansible.builtin.include_role:
        name: dbauth.rds_iam.enable
    - name: Grant rds-db:connect
      ansible.builtin.include_role:
        name: dbauth.rds_iam.iam_access
    - name: Database users
      ansible.builtin.include_role:
        name: dbauth.rds_iam.db_users
"""


def _run(argv, cwd, env, log: Path | None = None, timeout: int = 900) -> subprocess.CompletedProcess:
    proc = subprocess.run(argv, cwd=str(cwd), env=env, capture_output=True, text=True, timeout=timeout, check=False)
    if log is not None:
        log.write_text(proc.stdout + "\n--- stderr ---\n" + proc.stderr, encoding="utf-8")
    return proc


def _pins(*names: str) -> list[str]:
    """The project's version ranges of these packages (tests/requirements-dev.txt)."""
    lines = (ROOT / "tests" / "requirements-dev.txt").read_text(encoding="utf-8").splitlines()
    return [line.split("#")[0].strip() for line in lines
            if re.split(r"[<>=\[ ]", line.strip(), maxsplit=1)[0] in names]


@pytest.fixture(scope="module")
def scratch():
    """A folder outside the checkout; root's lab runs PostgreSQL as its service account, which must traverse it."""
    base = Path(tempfile.mkdtemp(prefix="rds-iam-user-", dir="/tmp"))
    os.chmod(base, 0o711)
    try:
        yield base
    finally:
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="module")
def installed(scratch):
    """Build the wheel and the tarball, install them: {env, bin, collections}."""
    dist = scratch / "dist"
    proc = _run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(dist), str(ROOT / "lab")],
                ROOT, os.environ)
    assert proc.returncode == 0, proc.stderr[-3000:]
    wheel = next(dist.glob("rds_iam_lab-*.whl"))
    proc = _run([str(Path(sys.executable).parent / "ansible-galaxy"), "collection", "build", "--force", "--output-path",
                 str(dist), str(ROOT)], ROOT, os.environ)
    assert proc.returncode == 0, proc.stderr[-3000:]
    tarball = next(dist.glob("dbauth-rds_iam-*.tar.gz"))

    venv = scratch / "venv"
    assert _run([sys.executable, "-m", "venv", str(venv)], scratch, os.environ).returncode == 0
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", str(wheel),
           *_pins("ansible-core", "molecule"), "-r", str(ROOT / "requirements.txt")]
    proc = _run(pip, scratch, os.environ)
    assert proc.returncode == 0, proc.stderr[-3000:]

    collections = scratch / "collections"
    env = {"PATH": f"{venv / 'bin'}:/usr/sbin:/usr/bin:/sbin:/bin", "HOME": os.environ.get("HOME", "/root"),
           "LANG": "C.UTF-8", "ANSIBLE_COLLECTIONS_PATH": str(collections), "ANSIBLE_NOCOLOR": "1",
           "ANSIBLE_FORCE_COLOR": "0", "PY_COLORS": "0", "NO_COLOR": "1"}
    proc = _run(["ansible-galaxy", "collection", "install", "--no-deps", "-p", str(collections), str(tarball)],
                scratch, env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    amazon_aws = Path(sysconfig.get_paths()["purelib"]) / "ansible_collections" / "amazon" / "aws"
    shutil.copytree(amazon_aws, collections / "ansible_collections" / "amazon" / "aws", symlinks=True)
    return {"env": env, "bin": venv / "bin", "collections": collections}


def _lab(installed, state: Path, *args: str) -> subprocess.CompletedProcess:
    return _run([str(installed["bin"] / "rds-iam-lab"), "--state-dir", str(state), *args], state.parent,
                installed["env"], timeout=600)


def test_the_installed_lab_is_the_wheel_not_this_checkout(installed, scratch):
    probe = "import json, rds_iam_lab, rds_iam_lab.labctl as l; print(json.dumps([rds_iam_lab.__file__, str(l.REPO)]))"
    proc = _run([str(installed["bin"] / "python"), "-c", probe], scratch, installed["env"])
    assert proc.returncode == 0, proc.stderr
    path, repo = json.loads(proc.stdout)
    assert Path(path).is_relative_to(installed["bin"].parent) and repo == "None"
    package = Path(path).parent
    assert (package / "mariadb_plugin" / "aws_authentication_plugin.c").is_file()
    assert (package / "install_deps.sh").is_file()


def test_a_bad_seed_names_the_entry_and_starts_nothing(installed, scratch):
    state = scratch / "lab-bad"
    bad = scratch / "bad_model.yml"
    bad.write_text(yaml.safe_dump({"rds_iam_databases": [{"db_instance_identifier": "ledger", "engine": "oracle"}]}))
    proc = _lab(installed, state, "up", "--seed", str(bad))
    assert proc.returncode == 1
    assert "rds_iam_databases[0] (ledger): engine 'oracle' is not served by the lab" in proc.stderr
    assert not state.exists()


def test_wheel_up_seed_site_down_in_a_scratch_folder(installed, scratch):
    state = scratch / "lab"
    work = scratch / "site"
    work.mkdir()
    shutil.copy(MODEL, work / "data_model.yml")
    proc = _lab(installed, state, "up", "--seed", str(work / "data_model.yml"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    model = yaml.safe_load(MODEL.read_text())
    ids = [db.get("db_instance_identifier") or db["db_cluster_identifier"] for db in model["rds_iam_databases"]]
    for db_id in ids:
        assert f"seed: database {db_id} created" in proc.stderr
    assert "seed: role etl-role created" in proc.stderr

    proc = _lab(installed, state, "status", "--json")
    status = json.loads(proc.stdout)
    assert proc.returncode == 0 and status["state_dir"] == str(state)
    exports = _lab(installed, state, "env").stdout
    assert f"export AWS_ENDPOINT_URL={status['endpoint_url']}\n" in exports
    assert f"export LAB_STATE_DIR={state}\n" in exports
    assert status["secret_key"] not in exports

    inventory = work / "inventory"
    assert _lab(installed, state, "inventory", str(inventory)).returncode == 0
    shutil.copy(MODEL, inventory / "group_vars" / "all" / "data_model.yml")
    assert (inventory / "group_vars" / "all" / "lab_secrets.yml").stat().st_mode & 0o077 == 0

    proc = _run(["ansible-playbook", "-i", str(inventory), "dbauth.rds_iam.site"], work, installed["env"],
                log=scratch / "site.log")
    assert proc.returncode == 0, proc.stdout[-4000:]
    recap = {host: (int(c), int(u), int(f)) for host, c, u, f in RECAP.findall(proc.stdout)}
    assert set(recap) == {"localhost"} | {h["name"] for h in status["hosts"]}
    assert all(u == 0 and f == 0 for _c, u, f in recap.values()), recap
    # each target host logs in as every user its instance profile's role is granted
    logins = sum(h["principal"] in user["principals"] for h in status["hosts"]
                 for db in model["rds_iam_databases"] for user in db["users"])
    assert logins > 0 and f"{logins} of {logins} logins ok" in proc.stdout, proc.stdout[-3000:]
    assert not any(db["admin_password"] in proc.stdout for db in status["databases"])

    # out of band: the seeded databases are RDS identities of their own, IAM authentication on
    after = {db["id"]: db for db in json.loads(_lab(installed, state, "status", "--json").stdout)["databases"]}
    for db_id in ids:
        assert after[db_id]["logical"] and after[db_id]["iam_database_authentication_enabled"] is True
    assert len({after[db_id]["resource_id"] for db_id in ids}) == len(ids)

    assert _lab(installed, state, "down").returncode == 0
    stopped = _lab(installed, state, "status", "--json")
    assert stopped.returncode == 1 and json.loads(stopped.stdout)["running"] is False
    assert sorted(p.name for p in work.iterdir()) == ["data_model.yml", "inventory"]  # the lab wrote only there


def test_molecule_test_of_a_users_role(installed, scratch):
    role = scratch / "roles" / "acme_db_access"
    (role / "meta").mkdir(parents=True)
    (role / "tasks").mkdir()
    (role / "meta" / "main.yml").write_text(ROLE_META, encoding="utf-8")
    (role / "tasks" / "main.yml").write_text(ROLE_TASKS, encoding="utf-8")
    shutil.copytree(TEMPLATE, role / "molecule" / "default")
    env = dict(installed["env"], LAB_STATE_DIR=str(scratch / "lab-molecule"))
    proc = _run(["molecule", "test"], role, env, log=scratch / "molecule.log", timeout=1800)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-5000:]
    # idempotence fails on any change of the second converge; verify asserts that every granted login worked
    # (and that there are some), on a lab that create started afresh
    for step in ("create", "converge", "idempotence", "verify", "destroy"):
        assert re.search(rf"\[default > {step}\] Executed: Successful", out), step
    status = _run([str(installed["bin"] / "rds-iam-lab"), "status", "--json"], scratch, env)
    assert status.returncode == 1 and json.loads(status.stdout)["running"] is False  # destroy stopped it
