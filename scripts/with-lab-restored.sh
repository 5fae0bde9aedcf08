#!/usr/bin/env bash
# Run a command, then stop the local lab again if it was not running before: suites start the lab
# as they need it, and `make test` should leave the machine as it found it.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
python="$root/.venv/bin/python"
was_up=no
if "$python" -m rds_iam_lab status --json >/dev/null 2>&1; then
  was_up=yes
fi
restore() {
  if [ "$was_up" = no ]; then
    (cd "$root" && "$python" -m rds_iam_lab down >/dev/null 2>&1) || true
  fi
}
trap restore EXIT
"$@"
