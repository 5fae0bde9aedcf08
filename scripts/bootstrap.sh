#!/usr/bin/env bash
# Make this machine ready for `make test` / `make demo`: Debian packages the lab needs (only when
# missing, only as root), the project's virtual environment in .venv (re-installed when
# tests/requirements-dev.txt changes), and the offline get-pip stand-in that ansible-test needs.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
python="${BOOTSTRAP_PYTHON:-python3}"

# Tools the test suites call: shellcheck for ansible-test's shellcheck sanity test.
if ! command -v shellcheck >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq shellcheck >/dev/null
  else
    echo "bootstrap: shellcheck is missing; install the Debian package shellcheck (needs root)" >&2
    exit 1
  fi
fi
# The browser the access report's HTML is opened in (tests: Selenium drives Debian's chromium through
# chromium-driver; no browser is ever downloaded). Without root, the test that needs it says what to install.
if [ "$(id -u)" = 0 ] && ! { [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; }; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
fi
# Debian's pam_python (libpam-python): the self_managed role's PAM path for MariaDB, which the lab's machine is the
# database host of (the role would install it too; here it is ready before the tests, with fresh package lists).
if [ "$(id -u)" = 0 ] && ! dpkg-query -W -f='${Status}' libpam-python 2>/dev/null | grep -q "ok installed"; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libpam-python >/dev/null
fi
# Database servers, compiler and headers for the lab.
if [ -x lab/src/rds_iam_lab/install_deps.sh ]; then
  lab/src/rds_iam_lab/install_deps.sh
fi

if [ ! -x .venv/bin/python ]; then
  "$python" -m venv .venv
fi
stamp=.venv/.requirements-dev.sha256
want="$(cat tests/requirements-dev.txt lab/pyproject.toml | sha256sum | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -r tests/requirements-dev.txt
  # The lab package from its source tree (the `rds-iam-lab` command; edits take effect without reinstalling).
  .venv/bin/python -m pip install --quiet --no-deps --editable ./lab
  echo "$want" >"$stamp"
fi

# ansible-test bootstraps pip in each of its venvs with a script it would download; give it ours.
cache="$HOME/.ansible/test/cache"
mkdir -p "$cache"
# The pip version ansible-test pins names the script it looks for (get_pip_24_2.py for 24.2).
grep -ho "pip='[0-9.]*'" .venv/lib/python3*/site-packages/ansible_test/_internal/python_requirements.py \
  | grep -o "[0-9][0-9.]*[0-9]" | while read -r v; do
  install -m 0644 scripts/get_pip_standin.py "$cache/get_pip_${v//./_}.py"
done
