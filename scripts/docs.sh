#!/usr/bin/env bash
# The collection's reference (modules, plugins, roles), generated from the code (DOCUMENTATION, meta/argument_specs.yml)
# by antsibull-docs: linted, then built into a Sphinx site under .build/docs (not committed). docs/ keeps the guides.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd -P)"
view="$root/.build/view/ansible_collections/dbauth/rds_iam"
dest="$root/.build/docs"
export ANSIBLE_COLLECTIONS_PATH="$root/.build/view"
# antsibull-docs copies a collection that sits in a git work tree with `git ls-files`. amazon.aws (our dependency) comes
# from the .venv, which this checkout's git ignores, so it would be copied empty: git stops looking at the .venv.
export GIT_CEILING_DIRECTORIES="$root/.venv"
antsibull-docs lint-collection-docs --plugin-docs "$view"
rm -rf "$dest"
mkdir -p "$dest" && chmod 0755 "$dest"  # antsibull-docs wants it writable by its owner only
antsibull-docs sphinx-init --use-current --fail-on-error --title dbauth.rds_iam --dest-dir "$dest" dbauth.rds_iam >/dev/null
# Built offline: the inventories of the Ansible docsite (amazon.aws's modules, common return values) cannot be fetched,
# so labels outside this collection stay unresolved; the lint above checks every reference into this collection.
cat >>"$dest/conf.py" <<'CONF'
intersphinx_mapping = {}
suppress_warnings = ['ref.ref']
CONF
"$dest/build.sh"  # antsibull-docs collection (fails on any error), then sphinx-build -W (warnings are errors)
echo "docs: $dest/build/html/index.html"
