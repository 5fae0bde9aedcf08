#!/usr/bin/env python
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Markdown files link only to files that exist, and docs/ holds guides, not reference pages.

The reference of modules, plugins and roles is generated from the code (make docs); a hand-written page for one of
them (docs/rds_iam_*.md, docs/role_*.md) would repeat it and drift from it.
"""

from __future__ import annotations

import os
import re
import sys

# [text](target) of Markdown, without external links and in-page anchors.
LINK = re.compile(r"\]\(([^)\s]+)\)")
REFERENCE_PAGES = re.compile(r"^docs/(rds_iam_\w+|role_\w+)\.md$")


def main():
    paths = sys.argv[1:] or sys.stdin.read().splitlines()
    for path in paths:
        if REFERENCE_PAGES.match(path):
            print("%s:1:1: a reference page; document the plugin or role in its DOCUMENTATION or argument_specs" % path)
        with open(path, encoding="utf-8") as handle:
            for number, line in enumerate(handle, 1):
                for match in LINK.finditer(line):
                    target = match.group(1).split("#", 1)[0]
                    if not target or re.match(r"^[a-z]+:", target):
                        continue
                    if not os.path.exists(os.path.normpath(os.path.join(os.path.dirname(path), target))):
                        print("%s:%d:%d: the link target %s does not exist" % (path, number, match.start(1) + 1, target))


if __name__ == "__main__":
    main()
