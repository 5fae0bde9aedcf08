# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Checks that keep the collection's metadata in step with its plugins.

meta/runtime.yml lists the modules of the action group by hand; a module missing from it would
silently ignore `module_defaults: group/dbauth.rds_iam.rds_iam` (the AWS options of a play).
"""

from __future__ import annotations

import ast
import pathlib

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
MODULES = sorted(p.stem for p in (ROOT / "plugins" / "modules").glob("*.py") if p.stem != "__init__")


def _module_documentation(name):
    tree = ast.parse((ROOT / "plugins" / "modules" / (name + ".py")).read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "DOCUMENTATION" for t in node.targets):
            return yaml.safe_load(node.value.value)
    raise AssertionError("%s has no DOCUMENTATION" % name)


def test_there_are_modules():
    assert MODULES, "plugins/modules is empty"


def test_action_group_lists_exactly_the_modules():
    runtime = yaml.safe_load((ROOT / "meta" / "runtime.yml").read_text())
    assert sorted(runtime["action_groups"]["rds_iam"]) == MODULES


def _fragment_documentation(name):
    tree = ast.parse((ROOT / "plugins" / "doc_fragments" / (name + ".py")).read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "DOCUMENTATION" for t in node.targets):
            return yaml.safe_load(node.value.value)
    raise AssertionError("doc fragment %s has no DOCUMENTATION" % name)


def test_every_module_documents_its_action_group():
    group = _fragment_documentation("action_group")["attributes"]["action_group"]
    assert group["membership"] == ["dbauth.rds_iam.rds_iam"]
    for name in MODULES:
        doc = _module_documentation(name)
        assert "dbauth.rds_iam.action_group" in doc.get("extends_documentation_fragment", []), name
        attributes = doc.get("attributes", {})
        for attribute in ("check_mode", "diff_mode"):
            assert attribute in attributes, (name, attribute)


def test_every_module_accepts_the_aws_options():
    # One module_defaults block serves a whole play only if every module takes the AWS options.
    for name in MODULES:
        fragments = _module_documentation(name).get("extends_documentation_fragment", [])
        assert "amazon.aws.common.modules" in fragments, name
        assert "amazon.aws.region.modules" in fragments, name


def test_lab_and_tooling_stay_out_of_the_built_collection():
    ignored = yaml.safe_load((ROOT / "galaxy.yml").read_text())["build_ignore"]
    for path in ("lab", "inventories", "bench", "scripts", ".venv", ".build", "tests/output", ".ansible", "collections"):
        assert path in ignored, path
