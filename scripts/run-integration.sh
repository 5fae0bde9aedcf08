#!/usr/bin/env bash
# Run the ansible-test integration targets against the local lab. Starts the lab when it is not
# running and stops it again afterwards (a lab that was already up is left up).
# Usage: scripts/run-integration.sh [ansible-test target names...]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
python="$root/.venv/bin/python"
export PATH="$root/.venv/bin:$PATH"
view="$root/.build/view/ansible_collections/dbauth/rds_iam"
config=tests/integration/integration_config.yml
cd "$root"

started=no
if ! "$python" -m rds_iam_lab status --json >/dev/null 2>&1; then
  started=yes
fi
stop_lab() {
  if [ "$started" = yes ]; then
    "$python" -m rds_iam_lab down >/dev/null || true
  fi
}
trap stop_lab EXIT
"$python" -m rds_iam_lab up
bash scripts/collection-view.sh >/dev/null
install -m 0600 "$config" "$view/$config"
# Where targets keep their artifacts for people to look at (tests/output/ of this checkout, git-ignored).
"$python" - "$view/$config" "$root" <<'PY'
import sys, yaml
with open(sys.argv[1], "a", encoding="utf-8") as f:
    f.write(yaml.safe_dump({"checkout_root": sys.argv[2]}))
PY
cd "$view"
ansible-test integration --local --python 3.11 --color no "$@"
