#!/usr/bin/env python
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The action group of meta/runtime.yml lists exactly the modules and extends amazon.aws's group; every module says so.

meta/runtime.yml lists the modules by hand: a module missing from it would silently ignore
`module_defaults: group/dbauth.rds_iam.rds_iam` (the AWS options of a play), and without the extension the
amazon.aws modules that the roles call would need a second block. One block serves a whole play only if every
module also accepts the AWS options (amazon.aws's doc fragments document them).
"""

from __future__ import annotations

import ast
import os

import yaml

RUNTIME = "meta/runtime.yml"
MODULES_DIR = "plugins/modules"
FRAGMENT = "plugins/doc_fragments/action_group.py"
GROUP = "rds_iam"
EXTENDED_GROUPS = ["amazon.aws.aws"]
MODULE_FRAGMENTS = ("dbauth.rds_iam.action_group", "amazon.aws.common.modules", "amazon.aws.region.modules")
MODULE_ATTRIBUTES = ("check_mode", "diff_mode")


def documentation(path):
    """The DOCUMENTATION string of a module or doc fragment, as YAML."""
    with open(path, encoding="utf-8") as handle:
        tree = ast.parse(handle.read(), path)
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and any(getattr(target, "id", None) == "DOCUMENTATION" for target in node.targets):
            return yaml.safe_load(node.value.value)
    return None


def group_problems(runtime, modules):
    entries = (runtime.get("action_groups") or {}).get(GROUP)
    if entries is None:
        yield "has no action group %r" % GROUP
        return
    metadata = [entry["metadata"] for entry in entries if isinstance(entry, dict) and "metadata" in entry]
    extended = metadata[0].get("extend_group") if metadata else None
    if extended != EXTENDED_GROUPS:
        yield "action group %r must extend %s (metadata: extend_group), not %s" % (GROUP, EXTENDED_GROUPS, extended)
    listed = sorted(entry for entry in entries if isinstance(entry, str))
    for name in sorted(set(modules) - set(listed)):
        yield "module %s is missing from action group %r" % (name, GROUP)
    for name in sorted(set(listed) - set(modules)):
        yield "action group %r lists %s, which is not a module of plugins/modules" % (GROUP, name)


def module_problems(name, doc):
    if doc is None:
        yield "has no DOCUMENTATION"
        return
    fragments = doc.get("extends_documentation_fragment") or []
    for fragment in MODULE_FRAGMENTS:
        if fragment not in fragments:
            yield "DOCUMENTATION does not extend the doc fragment %s (add it to extends_documentation_fragment)" % fragment
    attributes = doc.get("attributes") or {}
    for attribute in MODULE_ATTRIBUTES:
        if attribute not in attributes:
            yield "DOCUMENTATION has no %s attribute" % attribute


def main():
    modules = sorted(entry[:-3] for entry in os.listdir(MODULES_DIR) if entry.endswith(".py") and entry != "__init__.py")
    if not modules:
        print("%s: there are no modules" % MODULES_DIR)
    with open(RUNTIME, encoding="utf-8") as handle:
        runtime = yaml.safe_load(handle)
    for message in group_problems(runtime, modules):
        print("%s: %s" % (RUNTIME, message))
    fragment = documentation(FRAGMENT) or {}
    membership = ((fragment.get("attributes") or {}).get("action_group") or {}).get("membership")
    if membership != ["dbauth.rds_iam.%s" % GROUP]:
        print("%s: the action_group attribute must name dbauth.rds_iam.%s, not %s" % (FRAGMENT, GROUP, membership))
    for name in modules:
        path = os.path.join(MODULES_DIR, name + ".py")
        for message in module_problems(name, documentation(path)):
            print("%s: %s" % (path, message))


if __name__ == "__main__":
    main()
