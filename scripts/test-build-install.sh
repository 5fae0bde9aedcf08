#!/usr/bin/env bash
# Prove the collection ships: build the tarball from the repository root, install it into an empty
# collections path, and render the documentation of every plugin from that installed copy.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$root/.build/install-test"
export PATH="$root/.venv/bin:$PATH"
rm -rf "$work"
mkdir -p "$work/dist" "$work/collections"
cd "$root"
ansible-galaxy collection build --force --output-path "$work/dist" . >/dev/null
tarball="$(ls "$work"/dist/dbauth-rds_iam-*.tar.gz)"
# What must never ship: the lab, generated inventories (keys, passwords), the venv, test output, bench scripts.
if tar -tzf "$tarball" | grep -E '^(lab|inventories|\.venv|\.build|bench|scripts|tests/output)/'; then
  echo "build-install: the tarball contains files that build_ignore should exclude" >&2
  exit 1
fi
# --no-deps: amazon.aws comes from the `ansible` package in the venv (no Galaxy here).
# The collections path is set to the empty folder alone, so that a copy installed elsewhere (for
# example in ~/.ansible/collections) can neither satisfy nor shadow this install.
ANSIBLE_COLLECTIONS_PATH="$work/collections" \
  ansible-galaxy collection install --force --no-deps -p "$work/collections" "$tarball" >/dev/null
installed="$work/collections/ansible_collections/dbauth/rds_iam"
test -f "$installed/MANIFEST.json"
count=0
for kind_dir in modules lookup filter; do
  case "$kind_dir" in modules) kind=module ;; *) kind="$kind_dir" ;; esac
  # A filter file may hold several filters, each documented by a NAME.yml beside it (rds_iam_plan.py); a
  # file of filters without documentation of its own (rds_iam_report.py) is not a plugin name.
  for f in "$installed/plugins/$kind_dir"/*.py "$installed/plugins/$kind_dir"/*.yml; do
    [ -e "$f" ] || continue
    name="$(basename "$f")"
    name="${name%.*}"
    [ "$name" = "__init__" ] && continue
    if [ "$kind" = filter ] && [ "${f##*.}" = py ] && ! grep -q '^DOCUMENTATION' "$f"; then
      continue
    fi
    ANSIBLE_COLLECTIONS_PATH="$work/collections" ansible-doc -t "$kind" "dbauth.rds_iam.$name" >"$work/doc-$name.txt"
    grep -q "dbauth.rds_iam.$name" "$work/doc-$name.txt"
    count=$((count + 1))
  done
done
if [ "$count" -eq 0 ]; then
  echo "build-install: no plugin documentation was rendered" >&2
  exit 1
fi
echo "build-install: built $(basename "$tarball"), installed it, rendered docs of $count plugins"
