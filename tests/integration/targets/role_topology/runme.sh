#!/usr/bin/env bash
# Topologies (docs/topologies.md) on the lab: read replicas (one in another Region, one discovered), an Aurora
# cluster's reader endpoint and a global database's secondary cluster in another Region. enable, iam_access and
# db_users run check -> real -> idempotent check -> idempotent (check mode proven to write nothing with boto3 and
# admin SQL, out of band), then a target host logs in through every replica, the reader endpoint and the secondary
# (playbooks/verify.yml: tokens signed for the host dialled, in its Region). In between, the access report: each replica
# and the secondary in its matrix, read in its own Region, and no finding about them.
set -eu

cd "$(dirname "$0")"
CONFIG="${RDS_IAM_INTEGRATION_CONFIG:-../../integration_config.yml}"
OUT="${OUTPUT_DIR:-$(mktemp -d)}"
TMP="${OUT}/role_topology"
PYTHON="$(command -v python || command -v python3)"
mkdir -p "${TMP}"
chmod 0700 "${TMP}"
STATE_DIR="$("${PYTHON}" -c 'import sys, yaml; print(yaml.safe_load(open(sys.argv[1]))["lab_state_dir"])' "${CONFIG}")"
lab() { LAB_STATE_DIR="${STATE_DIR}" "${PYTHON}" -m rds_iam_lab "$@"; }

# The lab's side of the topology: its databases, replicas and secondary (IAM off on all, as AWS creates them).
lab add-databases databases.yml > "${TMP}/add-databases.json"
lab inventory --vars-only "${TMP}/lab" > /dev/null
ARGS=(-i inventory.yml -e "@${CONFIG}" -e "@${TMP}/lab/group_vars/all/lab_generated.yml"
      -e "@${TMP}/lab/group_vars/all/lab_secrets.yml" -e "role_topology_tmp=${TMP}")

cleanup() {
  ansible-playbook "${ARGS[@]}" cleanup.yml > "${OUT}/role_topology-cleanup.log" 2>&1 \
    || echo "cleanup failed, see ${OUT}/role_topology-cleanup.log"
  lab remove-databases databases.yml > /dev/null || echo "remove-databases failed"
}
trap cleanup EXIT

state() { "${PYTHON}" oob.py "${CONFIG}" "${TMP}/lab" > "${TMP}/state-$1.json"; }
run() {  # run NAME [--check]: apply.yml, its recap in the log
  local name=$1
  shift
  ansible-playbook "${ARGS[@]}" "$@" apply.yml > "${OUT}/role_topology-${name}.log" 2>&1 \
    || { cat "${OUT}/role_topology-${name}.log"; exit 1; }
  grep -A2 'PLAY RECAP' "${OUT}/role_topology-${name}.log"
}
changed() { grep -Eq "localhost +: ok=[0-9]+ +changed=$2 " "${OUT}/role_topology-$1.log" \
  || { echo "$1: expected changed=$2"; exit 1; }; }

state before
run check --check
changed check '[1-9][0-9]*'
state after-check
"${PYTHON}" check_state.py same "${TMP}/state-before.json" "${TMP}/state-after-check.json"
run real
changed real '[1-9][0-9]*'
state after-real
"${PYTHON}" check_state.py applied "${TMP}/state-after-real.json"
run idempotent-check --check
changed idempotent-check 0
run idempotent
changed idempotent 0
state after-idempotent
"${PYTHON}" check_state.py same "${TMP}/state-after-real.json" "${TMP}/state-after-idempotent.json"

# The access report reads each replica and the secondary in its Region: in its matrix, no finding about them.
ansible-playbook "${ARGS[@]}" report.yml > "${OUT}/role_topology-report.log" 2>&1 \
  || { cat "${OUT}/role_topology-report.log"; exit 1; }
"${PYTHON}" check_state.py reported "${TMP}/state-after-idempotent.json" "${TMP}/report.json"

# The verify playbook people run: reads replicas and secondaries in their Regions, then the host logs in through each.
ansible-playbook "${ARGS[@]}" host_profile.yml > /dev/null
ansible-playbook "${ARGS[@]}" -e "rds_iam_verify_report=${TMP}/verify.json" dbauth.rds_iam.verify "$@" \
  | tee "${OUT}/role_topology-verify.log"
grep -q '8 of 8 logins ok' "${OUT}/role_topology-verify.log" || { echo "the verify table does not show 8 of 8"; exit 1; }
"${PYTHON}" check_state.py verified "${TMP}/verify.json"
echo "role_topology: ok"
