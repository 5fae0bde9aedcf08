#!/usr/bin/env python
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Write the data model's schema (plugins/plugin_utils/_model_schema.py) into the roles' meta/argument_specs.yml.

The schema is the one source of the data model's keys: the plan checks against it, and each role option that
takes part of the data model carries it as its suboptions. Run after changing the schema:
``python scripts/role_argument_specs.py`` (``--check`` exits 1 when a file is out of date; ``make sanity`` checks too,
in tests/sanity/extra/role-argument-specs.py).
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
# role option -> the schema's name for its suboptions
OPTIONS = {
    ("enable", "enable_databases"): "DATABASE_OPTIONS",
    ("iam_access", "iam_access_databases"): "DATABASE_OPTIONS",
    ("iam_access", "iam_access_principals"): "PRINCIPAL_OPTIONS",
    ("db_users", "db_users_databases"): "DATABASE_OPTIONS",
    ("client", "client_databases"): "DATABASE_OPTIONS",
    ("client", "client_plan"): "HOST_PLAN_OPTIONS",
    ("verify", "verify_databases"): "DATABASE_OPTIONS",
    ("verify", "verify_logins"): "HOST_LOGIN_OPTIONS",
    ("verify", "verify_plan"): "HOST_PLAN_OPTIONS",
    ("self_managed", "self_managed_databases"): "DATABASE_OPTIONS",
    ("self_managed", "self_managed_principals"): "PRINCIPAL_OPTIONS",
}


def load_schema():
    spec = importlib.util.spec_from_file_location("model_schema", ROOT / "plugins" / "plugin_utils" / "_model_schema.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class _Dumper(yaml.SafeDumper):
    """Lists indented under their key, as yamllint (ansible-lint) wants them."""

    def increase_indent(self, flow=False, indentless=False):
        return super().increase_indent(flow, False)


def rendered(role, schema):
    path = ROOT / "roles" / role / "meta" / "argument_specs.yml"
    document = yaml.safe_load(path.read_text())
    options = document["argument_specs"]["main"]["options"]
    for (option_role, option), name in OPTIONS.items():
        if option_role == role:
            options[option]["options"] = getattr(schema, name)
    return path, "---\n" + yaml.dump(document, Dumper=_Dumper, sort_keys=False, width=110, allow_unicode=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report files that are out of date")
    args = parser.parse_args(argv)
    schema = load_schema()
    stale = []
    for role in sorted({role for role, option in OPTIONS}):
        path, text = rendered(role, schema)
        if path.read_text() != text:
            stale.append(str(path.relative_to(ROOT)))
            if not args.check:
                path.write_text(text)
    for name in stale:
        print(("out of date: " if args.check else "wrote ") + name)
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
