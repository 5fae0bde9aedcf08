#!/usr/bin/env bash
# Lay out the working tree as ansible_collections/dbauth/rds_iam under .build/view, the layout
# ansible-test requires. Copies what git would commit (tracked files plus untracked files that are
# not ignored), so uncommitted work is tested too, and makes the view a git repository of its own
# because ansible-test lists the collection's files through git.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
view="$root/.build/view/ansible_collections/dbauth/rds_iam"
mkdir -p "$view"
cd "$root"
wanted="$(mktemp)"
trap 'rm -f "$wanted" "$wanted.have"' EXIT
git ls-files --cached --others --exclude-standard | while IFS= read -r f; do
  [ -e "$f" ] && printf '%s\n' "$f"
done | sort >"$wanted"
rsync -a --files-from="$wanted" ./ "$view/"
# Drop files that are gone from the working tree since the last sync.
(cd "$view" && find . -path ./.git -prune -o -path ./tests/output -prune -o \( -type f -o -type l \) -print \
  | sed 's|^\./||' | sort >"$wanted.have")
comm -13 "$wanted" "$wanted.have" | (cd "$view" && xargs -r -d '\n' rm -f)
# ansible-test looks for the collections we depend on beside ours; link the copies that the
# `ansible` package installed in the venv.
site_collections="$("$root/.venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/ansible_collections"
for dep in amazon/aws community/aws community/mysql community/postgresql community/general; do
  mkdir -p "$root/.build/view/ansible_collections/${dep%/*}"
  ln -sfn "$site_collections/$dep" "$root/.build/view/ansible_collections/$dep"
done
cd "$view"
[ -d .git ] || git init -q
git add -A .
echo "$view"
