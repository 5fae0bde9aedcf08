#!/usr/bin/env bash
# make unprivileged: prove that the lab and the suites work without root.
# As root: create (once) the account rdsiamlab-ci (no sudo, a home of its own), give it a copy of this
# checkout as git would commit it (tracked files and untracked ones that are not ignored, so uncommitted
# work is tested too) in a git repository it owns under its home, and run there, as that account:
#   make lab-tests                           (its own labs: real logins to the three servers)
#   make integration TARGETS=rds_iam_db_user_postgres  (the checkout's lab, started and stopped by the target)
# The lab then runs PostgreSQL and MariaDB as that account, with its state in the copy's lab/.state.
# Not root: skipped, because the run itself is the unprivileged case.
# UNPRIVILEGED_USER names another account, UNPRIVILEGED_TARGETS other make targets (quoted, space-separated).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
user="${UNPRIVILEGED_USER:-rdsiamlab-ci}"
read -r -a targets <<<"${UNPRIVILEGED_TARGETS:-lab-tests integration TARGETS=rds_iam_db_user_postgres}"

if [ "$(id -u)" -ne 0 ]; then
  echo "unprivileged: skipped: not root; this run is itself the unprivileged case (the lab runs its servers as $(id -un))"
  exit 0
fi

# The account: created once, never given sudo; refused if it could become root.
if ! getent passwd "$user" >/dev/null; then
  useradd --create-home --user-group --shell /bin/bash --comment "dbauth.rds_iam lab CI, unprivileged" "$user"
  echo "unprivileged: created the account $user"
fi
uid="$(id -u "$user")"
group="$(id -gn "$user")"
home="$(getent passwd "$user" | cut -d: -f6)"
if [ "$uid" -eq 0 ]; then
  echo "unprivileged: $user has uid 0" >&2
  exit 1
fi
for g in $(id -nG "$user"); do
  case "$g" in
    sudo | wheel | admin | root)
      echo "unprivileged: $user is in group $g; use an account without sudo (UNPRIVILEGED_USER)" >&2
      exit 1
      ;;
  esac
done
if [ ! -d "$home" ]; then
  install -d -m 0750 -o "$user" -g "$group" "$home"
fi

# as_user CMD...: run as the account with an ordinary user's environment (no sbin on PATH, nothing of
# this checkout's venv, make or lab settings); network settings of the machine (proxy, pip) are kept.
path=""
IFS=: read -r -a dirs <<<"$PATH"
for d in "${dirs[@]}"; do
  case "$d" in "" | */sbin | "$root"/*) continue ;; esac
  path="${path:+$path:}$d"
done
as_user() {
  setpriv --reuid="$uid" --regid="$(id -g "$user")" --init-groups -- \
    env -u MAKEFLAGS -u MAKELEVEL -u MFLAGS -u VIRTUAL_ENV -u PYTHONPATH -u PIP_CACHE_DIR -u XDG_CACHE_HOME \
    -u XDG_CONFIG_HOME -u XDG_RUNTIME_DIR -u TMPDIR -u LAB_STATE_DIR -u LAB_STATE_BASE -u LAB_INTEGRATION_CONFIG \
    -u LAB_TEST_MODE -u ANSIBLE_COLLECTIONS_PATH -u ANSIBLE_CONFIG -u AWS_PROFILE -u AWS_CONFIG_FILE \
    -u AWS_SHARED_CREDENTIALS_FILE -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY -u AWS_SESSION_TOKEN \
    HOME="$home" USER="$user" LOGNAME="$user" SHELL=/bin/bash PATH="$path" "$@"
}

# The copy: one per checkout of root's (named from a hash of its path), kept between runs so that
# its .venv is built once.
dest="$home/checkouts/$(basename "$root")-$(printf '%s' "$root" | sha256sum | cut -c1-12)"
as_user mkdir -p "$dest"
wanted="$(mktemp)"
trap 'rm -f "$wanted" "$wanted.have"' EXIT
cd "$root"
git ls-files -z --cached --others --exclude-standard | while IFS= read -r -d '' f; do
  if [ -e "$f" ] || [ -L "$f" ]; then printf '%s\0' "$f"; fi
done >"$wanted"
rsync -a --from0 --files-from="$wanted" --chown="$user:$group" ./ "$dest/"
cd "$dest"
[ -d .git ] || as_user git init -q
# Files gone from the checkout since the last copy go from the copy too.
as_user git ls-files -z --cached --others --exclude-standard >"$wanted.have"
comm -z -13 <(sort -z "$wanted") <(sort -z "$wanted.have") | as_user xargs -0 -r rm -f --
as_user git add -A
as_user git -c user.name="$user" -c user.email="$user@localhost" commit -q --allow-empty \
  -m "copy of the checkout for make unprivileged" >/dev/null
echo "unprivileged: $user ($uid, groups: $(id -nG "$user")) runs in $dest: make ${targets[*]}"

# Whatever happens, the account's lab is stopped again (pid files of its own state folder).
stop_lab() {
  if [ -x "$dest/.venv/bin/python" ]; then
    (cd "$dest" && as_user .venv/bin/python -m rds_iam_lab down >/dev/null 2>&1) || true
  fi
}
trap 'stop_lab; rm -f "$wanted" "$wanted.have"' EXIT
start=$(date +%s)
as_user make -C "$dest" --no-print-directory bootstrap
echo "unprivileged: bootstrap as $user took $(($(date +%s) - start)) s"
start=$(date +%s)
as_user make -C "$dest" --no-print-directory "${targets[@]}"
echo "unprivileged: make ${targets[*]} as $user passed in $(($(date +%s) - start)) s"
