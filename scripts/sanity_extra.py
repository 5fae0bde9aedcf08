#!/usr/bin/env python
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run the collection's extra sanity tests (tests/sanity/extra/NAME.py with its NAME.json), as ansible-test runs its
own code-smell tests: the files the config selects (prefixes, extensions, files) on stdin, one per line, unless
no_targets; the test prints one line per problem in its configured output format and nothing when all is well.
ansible-test does not run a collection's extra tests itself (community collections use a runner of their own).

Run from the collection root: python scripts/sanity_extra.py [NAME ...]  (make sanity does, in the collection view).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

EXTRA = Path("tests/sanity/extra")
# Output formats of ansible-test's code-smell tests: "path: message" and "path:line:column: message".
OUTPUT_FORMATS = ("path-message", "path-line-column-message")


def targets(config: dict) -> list[str]:
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], capture_output=True,
                            text=True, check=True).stdout.splitlines()
    paths = [p for p in listed if os.path.isfile(p) and (config.get("include_symlinks") or not os.path.islink(p))]
    if config.get("prefixes"):
        paths = [p for p in paths if p.startswith(tuple(config["prefixes"]))]
    if config.get("extensions"):
        paths = [p for p in paths if os.path.splitext(p)[1] in config["extensions"]]
    if config.get("files"):
        paths = [p for p in paths if os.path.basename(p) in config["files"]]
    return sorted(paths)


def run(name: str) -> list[str]:
    """The problems the test NAME reports (its own lines, or why it could not run)."""
    config = json.loads((EXTRA / (name + ".json")).read_text(encoding="utf-8"))
    if config.get("output") not in OUTPUT_FORMATS:
        return [f"{EXTRA / (name + '.json')}: unsupported output {config.get('output')!r}; use one of {OUTPUT_FORMATS}"]
    stdin = None
    if not config.get("no_targets"):
        paths = targets(config)
        if not paths:
            return []  # nothing it checks is in the collection
        stdin = "\n".join(paths)
    proc = subprocess.run([sys.executable, str(EXTRA / (name + ".py"))], input=stdin, capture_output=True, text=True,
                          check=False)
    problems = proc.stdout.splitlines()  # every line is a problem, in the configured format or not
    if proc.returncode or proc.stderr:
        problems.append(f"{EXTRA / (name + '.py')}: exited {proc.returncode}: {proc.stderr.strip()[-2000:]}")
    return problems


def main(argv: list[str]) -> int:
    names = argv or sorted(p.stem for p in EXTRA.glob("*.json"))
    failed = False
    for name in names:
        problems = run(name)
        print(f"Running sanity test '{name}' (extra)")
        for line in problems:
            print("ERROR: " + line)
        failed = failed or bool(problems)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
