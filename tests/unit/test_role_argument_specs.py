# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every role's meta/argument_specs.yml matches its defaults/main.yml: same option names, same defaults,
every option documented and typed, names prefixed with the role name."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

import pytest
import yaml

ROLES_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "roles")
ROLES = sorted(name for name in os.listdir(ROLES_DIR) if os.path.isdir(os.path.join(ROLES_DIR, name)))


def load(role, *parts):
    with open(os.path.join(ROLES_DIR, role, *parts)) as handle:
        return yaml.safe_load(handle)


def test_there_are_roles():
    assert {"enable", "db_users", "client"} <= set(ROLES)


@pytest.mark.parametrize("role", ROLES)
def test_argument_specs_match_defaults(role):
    defaults = load(role, "defaults", "main.yml") or {}
    options = load(role, "meta", "argument_specs.yml")["argument_specs"]["main"]["options"]
    assert sorted(options) == sorted(defaults), "options and defaults differ"
    for name, spec in options.items():
        assert name.startswith(role + "_"), name
        assert spec.get("description"), name + " has no description"
        assert spec.get("type"), name + " has no type"
        assert "default" in spec, name + " has no default"
        assert spec["default"] == defaults[name], name + ": default differs from defaults/main.yml"
        if "choices" in spec:
            assert defaults[name] in spec["choices"], name


@pytest.mark.parametrize("role", ROLES)
def test_meta_main(role):
    meta = load(role, "meta", "main.yml")
    assert meta["galaxy_info"]["role_name"] == role
    assert meta["galaxy_info"]["namespace"] == "dbauth"


def _role_argument_specs_script():
    import importlib.util

    path = os.path.join(ROLES_DIR, "..", "scripts", "role_argument_specs.py")
    spec = importlib.util.spec_from_file_location("role_argument_specs", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("role", ROLES)
def test_data_model_options_carry_the_plan_schema(role):
    """The options that take the data model carry the schema the plan checks against, as the script writes it."""
    script = _role_argument_specs_script()
    if role not in {name for name, option in script.OPTIONS}:
        pytest.fail("%s has no data model option; add it to OPTIONS in scripts/role_argument_specs.py" % role)
    path, text = script.rendered(role, script.load_schema())
    with open(path) as handle:
        assert handle.read() == text, "run python scripts/role_argument_specs.py"
