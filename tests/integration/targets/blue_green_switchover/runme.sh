#!/usr/bin/env bash
# playbooks/blue_green_switchover.yml against the lab (docs/blue_green.md). Two logical databases of the lab get what
# site.yml gives them, then a Blue/Green deployment each (lab_bg.py, out of band: boto3 against the lab's AWS).
#   bgt-pg, with the playbook: check mode writes nothing (AWS compared before/after), the real run switches over while
#   logins through the name go on (every one accepted), then the idempotent check and run change nothing; the name now
#   holds the green's resource id and the grants follow it, the old blue's id left them.
#   bgt-my, outside the playbook: the logins through the name are refused, the access report names the policy left on
#   the old id (switched_over_resource_id); iam_access (what site.yml runs) rebinds: check, real, idempotent twice.
# Variables come from tests/integration/integration_config.yml, which ansible-test copies two levels up.
set -eu

cd "$(dirname "$0")"
CONFIG="${RDS_IAM_INTEGRATION_CONFIG:-../../integration_config.yml}"
OUT="${OUTPUT_DIR:-$(mktemp -d)}/blue_green_switchover"
PYTHON="$(command -v python || command -v python3)"
mkdir -p "${OUT}"
bg() { "${PYTHON}" lab_bg.py --config "${CONFIG}" "$@"; }
# No target hosts here (the logins are proven out of band, lab_bg.py): the plays for rds_iam_targets match none.
play() {
  local log="$1"
  shift
  ANSIBLE_HOST_PATTERN_MISMATCH=warning ansible-playbook -i localhost, -c local -e "@${CONFIG}" -e @model.yml -e ansible_python_interpreter="${PYTHON}" \
    "$@" | tee "${OUT}/${log}.log"
}
# changed=N of the run's recap: "yes" (some change) or "no" (changed=0), else exit 1.
expect_changed() {
  local changed
  changed="$(sed -n 's/^localhost *: ok=[0-9]* *changed=\([0-9]*\).*/\1/p' "${OUT}/$1.log" | tail -1)"
  if [ -z "${changed}" ] || { [ "$2" = no ] && [ "${changed}" != 0 ]; } || { [ "$2" = yes ] && [ "${changed}" = 0 ]; }; then
    echo "$1: expected changes: $2, the recap says changed=${changed}" >&2
    exit 1
  fi
}

trap 'bg down' EXIT
bg down
bg up
play site dbauth.rds_iam.site
bg deploy
bg login bgt-pg ok
bg login bgt-my ok

# --- bgt-pg: the documented playbook -------------------------------------------------------------------------------
SWITCH=(-e rds_iam_blue_green_database=bgt-pg dbauth.rds_iam.blue_green_switchover)
bg observe "${OUT}/before.json"
play check --check --diff "${SWITCH[@]}"
expect_changed check yes
bg observe "${OUT}/after_check.json"
bg same "${OUT}/before.json" "${OUT}/after_check.json"

rm -f "${OUT}/stop"
bg hammer bgt-pg "${OUT}/stop" "${OUT}/hammer.json" &
hammer=$!
play real "${SWITCH[@]}"
touch "${OUT}/stop"
wait "${hammer}"
expect_changed real yes
bg hammered "${OUT}/hammer.json"
bg observe "${OUT}/after_real.json"
bg switched "${OUT}/before.json" "${OUT}/after_real.json" bgt-pg
bg login bgt-pg ok
bg login bgt-pg-old1 refused

play idempotent_check --check "${SWITCH[@]}"
expect_changed idempotent_check no
play idempotent "${SWITCH[@]}"
expect_changed idempotent no
bg observe "${OUT}/after_idempotent.json"
bg same "${OUT}/after_real.json" "${OUT}/after_idempotent.json"

# --- bgt-my: a switchover outside the playbook, then what site.yml does ---------------------------------------------
bg switch bgt-my
bg login bgt-my refused
bg observe "${OUT}/switched.json"
play report_moved -e "bg_observed=${OUT}/switched.json" -e bg_moved=true report.yml

play rebind_check --check --diff dbauth.rds_iam.iam_access
expect_changed rebind_check yes
bg observe "${OUT}/rebind_check.json"
bg same "${OUT}/switched.json" "${OUT}/rebind_check.json"
play rebind dbauth.rds_iam.iam_access
expect_changed rebind yes
play rebind_idempotent_check --check dbauth.rds_iam.iam_access
expect_changed rebind_idempotent_check no
play rebind_idempotent dbauth.rds_iam.iam_access
expect_changed rebind_idempotent no
bg observe "${OUT}/rebound.json"
bg switched "${OUT}/after_idempotent.json" "${OUT}/rebound.json" bgt-my
bg login bgt-my ok
play report_rebound -e "bg_observed=${OUT}/rebound.json" -e bg_moved=false report.yml
