#!/usr/bin/env python
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The built collection leaves out the lab, the developer tooling and what tests and builds leave behind."""

from __future__ import annotations

import yaml

GALAXY = "galaxy.yml"
# The lab and tooling are not part of the collection; the rest are caches, venvs and build output.
NOT_BUILT = ("lab", "inventories", "bench", "scripts", ".venv", ".build", "tests/output", ".ansible", "collections")


def main():
    with open(GALAXY, encoding="utf-8") as handle:
        ignored = yaml.safe_load(handle).get("build_ignore") or []
    for path in NOT_BUILT:
        if path not in ignored:
            print("%s: build_ignore must list %s" % (GALAXY, path))


if __name__ == "__main__":
    main()
