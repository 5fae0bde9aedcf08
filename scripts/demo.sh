#!/usr/bin/env bash
# make demo: lab up, the lab inventory, playbooks/site.yml, then site.yml again (must change nothing), then the
# access report (playbooks/access_report.yml) with the lab's expected findings.
# The verify table (host, database, user, result, TLS, latency, diagnosis) is printed by the verify role.
# Needs `make view` first (the Makefile's demo target does it). LAB_STATE_DIR selects another lab.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
python="$root/.venv/bin/python"
export PATH="$root/.venv/bin:$PATH"
export ANSIBLE_COLLECTIONS_PATH="$root/.build/view"
export ANSIBLE_FORCE_COLOR="${ANSIBLE_FORCE_COLOR:-0}"
# The controller's own AWS settings must not leak into the lab's target hosts (local connections).
unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN AWS_PROFILE AWS_DEFAULT_PROFILE \
  AWS_CONFIG_FILE AWS_SHARED_CREDENTIALS_FILE
cd "$root"
log_dir="$root/.build/demo"
mkdir -p "$log_dir"

"$python" -m rds_iam_lab up >/dev/null
# A read replica of lab-postgres (docs/topologies.md): its own resource id, IAM flag and endpoint on the lab.
echo '[{"id": "lab-postgres-replica", "replica_of": "lab-postgres"}]' | "$python" -m rds_iam_lab add-databases - >/dev/null
"$python" -m rds_iam_lab inventory --no-hosts inventories/lab
topology=(-e @inventories/lab/demo_replica.yml)

site() {  # site NAME: site.yml with its output on the terminal and in .build/demo/NAME.log
  local name=$1 start
  start=$(date +%s%N)
  ansible-playbook -i inventories/lab "${topology[@]}" playbooks/site.yml >"$log_dir/$name.log" 2>&1 || {
    cat "$log_dir/$name.log"; echo "demo: $name failed (log: $log_dir/$name.log)" >&2; return 1; }
  elapsed=$(( ($(date +%s%N) - start) / 1000000 ))
}
recap() { sed -n '/^PLAY RECAP/,/^$/p' "$log_dir/$1.log"; }
table() { sed -n '/Summary of every host/,/logins ok/p' "$log_dir/$1.log" | sed -n '/"msg": \[/,$p' | sed -e '1d' -e 's/^ *"//' -e 's/",\{0,1\}$//'; }

echo "== first run: ansible-playbook -i inventories/lab -e @inventories/lab/demo_replica.yml playbooks/site.yml"
site first-run
first_ms=$elapsed
recap first-run
echo "== re-run (expect changed=0 everywhere)"
site re-run
second_ms=$elapsed
recap re-run
echo "== verify table (re-run)"
table re-run
if ! table re-run | grep -Eq 'lab-postgres via lab-postgres-replica +[a-z_]+ +ok '; then
  echo "demo: the verify table shows no login through the read replica lab-postgres-replica" >&2
  exit 1
fi
if recap re-run | grep ': ok=' | grep -qv ' changed=0 '; then
  echo "demo: the re-run changed something (see $log_dir/re-run.log)" >&2
  exit 1
fi
printf 'first run %d.%01d s, re-run %d.%01d s with changed=0 on every host\n' \
  $((first_ms / 1000)) $((first_ms % 1000 / 100)) $((second_ms / 1000)) $((second_ms % 1000 / 100))

# The access report of the lab: who can log in as whom, and what differs from the data model. The lab's drift is
# its admin user (allowed everything: a wildcard grant, a principal outside the data model); anything else is new.
echo "== access report: ansible-playbook -i inventories/lab -e @inventories/lab/demo_replica.yml playbooks/access_report.yml"
ansible-playbook -i inventories/lab "${topology[@]}" playbooks/access_report.yml -e "rds_iam_report_dir=$log_dir/access_report" \
  >"$log_dir/access-report.log" 2>&1 || { cat "$log_dir/access-report.log"; echo "demo: the access report failed" >&2; exit 1; }
cat "$log_dir/access_report/access_report.md"
codes="$("$python" -c 'import json, sys; print(" ".join(sorted({f["code"] for f in json.load(open(sys.argv[1]))["findings"]})))' \
  "$log_dir/access_report/access_report.json")"
if [ "$codes" != "principal_not_in_model wildcard_grant" ]; then
  echo "demo: the access report's findings are not the lab's expected drift (got: ${codes:-none})" >&2
  exit 1
fi
echo "Report: $log_dir/access_report/access_report.html (.json, .md)"
echo "Logs: $log_dir/first-run.log, $log_dir/re-run.log. Revoke: ansible-playbook -i inventories/lab playbooks/revoke.yml"
