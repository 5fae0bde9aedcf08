#!/usr/bin/env python
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every role's meta/argument_specs.yml is its reference documentation and matches the role.

Same option names and defaults as defaults/main.yml (a default computed by a template is quoted in the description
instead), every option described and typed, names prefixed with the role name; meta/main.yml names the role; the
options that take the data model carry the plan's schema as scripts/role_argument_specs.py writes it (the schema
is their one source).
"""

from __future__ import annotations

import importlib.util
import os

import yaml

ROLES_DIR = "roles"
SCRIPT = "scripts/role_argument_specs.py"
NAMESPACE = "dbauth"
TEMPLATE_DEFAULT = "Default: C(%s)"


def load(path):
    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def is_template(value):
    return isinstance(value, str) and "{{" in value


def descriptions(spec):
    description = spec.get("description") or []
    return [description] if isinstance(description, str) else description


def option_problems(role, options, defaults):
    for name in sorted(set(options) - set(defaults)):
        yield "option %s has no default in defaults/main.yml" % name
    for name in sorted(set(defaults) - set(options)):
        yield "defaults/main.yml sets %s, which meta/argument_specs.yml does not document" % name
    for name, spec in options.items():
        if not name.startswith(role + "_"):
            yield "option %s must start with the role name (%s_)" % (name, role)
        for key in ("description", "type"):
            if not spec.get(key):
                yield "option %s has no %s" % (name, key)
        if name not in defaults:
            continue
        if is_template(defaults[name]):
            # A typed `default` cannot hold a template (the docs build rejects it): the description quotes it.
            if "default" in spec:
                yield "option %s: defaults/main.yml computes it (%s); drop default, quote it in the description" % (
                    name, defaults[name])
            if TEMPLATE_DEFAULT % defaults[name] not in " ".join(descriptions(spec)):
                yield "option %s: the description must say %r" % (name, TEMPLATE_DEFAULT % defaults[name])
            continue
        if "default" not in spec:
            yield "option %s has no default (defaults/main.yml has %r)" % (name, defaults[name])
        elif spec["default"] != defaults[name]:
            yield "option %s: default %r differs from defaults/main.yml (%r)" % (name, spec["default"], defaults[name])
        if "choices" in spec and defaults[name] not in spec["choices"]:
            yield "option %s: default %r is not one of its choices" % (name, defaults[name])


def role_argument_specs_script():
    spec = importlib.util.spec_from_file_location("role_argument_specs", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main():
    roles = sorted(name for name in os.listdir(ROLES_DIR) if os.path.isdir(os.path.join(ROLES_DIR, name)))
    script = role_argument_specs_script()
    schema = script.load_schema()
    data_model_roles = {role for role, option in script.OPTIONS}
    for role in roles:
        specs_path = os.path.join(ROLES_DIR, role, "meta", "argument_specs.yml")
        defaults = load(os.path.join(ROLES_DIR, role, "defaults", "main.yml")) or {}
        options = load(specs_path)["argument_specs"]["main"].get("options") or {}
        for message in option_problems(role, options, defaults):
            print("%s: %s" % (specs_path, message))
        meta_path = os.path.join(ROLES_DIR, role, "meta", "main.yml")
        info = load(meta_path).get("galaxy_info") or {}
        if info.get("role_name") != role or info.get("namespace") != NAMESPACE:
            print("%s: galaxy_info must have role_name %s and namespace %s" % (meta_path, role, NAMESPACE))
        if role not in data_model_roles:
            print("%s: the role takes no part of the data model; add its option to OPTIONS in %s" % (specs_path, SCRIPT))
            continue
        _path, text = script.rendered(role, schema)
        with open(specs_path, encoding="utf-8") as handle:
            if handle.read() != text:
                print("%s: out of date with the data model's schema: run python %s" % (specs_path, SCRIPT))


if __name__ == "__main__":
    main()
