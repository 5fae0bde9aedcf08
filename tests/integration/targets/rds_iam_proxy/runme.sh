#!/usr/bin/env bash
# rds_iam_proxy against the lab: for each engine family a proxy with secrets and client IAM REQUIRED, then the
# migration to end-to-end IAM, each step check -> real -> idempotent check -> idempotent, proven out of band
# (AWS CLI against the lab) and by logins through the proxy's endpoint; run at -vvv and the whole output scanned
# for tokens and secrets. Variables come from tests/integration/integration_config.yml (two levels up).
set -eu

cd "$(dirname "$0")"
CONFIG="${RDS_IAM_INTEGRATION_CONFIG:-../../integration_config.yml}"
OUT="${OUTPUT_DIR:-$(mktemp -d)}"
PYTHON="$(command -v python || command -v python3)"
LOG="${OUT}/rds_iam_proxy-vvv.log"
SCAN=../setup_scan_output/scan_output.py
# the password of the secrets: a marker the scan must not find
MARKER="px-it-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"

"${PYTHON}" "${SCAN}" --self-test
rc=0
ansible-playbook -i localhost, -c local -e "@${CONFIG}" -e "px_tmp=${OUT}/rds_iam_proxy" -e "px_password=${MARKER}" \
  -vvv main.yml "$@" > "${LOG}" 2>&1 || rc=$?
"${PYTHON}" "${SCAN}" --config "${CONFIG}" --log "${LOG}" --require rds_iam_proxy --secret "${MARKER}"
if [ "${rc}" -ne 0 ]; then
  echo "main.yml failed (rc=${rc}); the failed tasks:"
  grep -E -A3 '^(fatal|failed):|^TASK \[' "${LOG}" | grep -E -B1 -A3 '^(fatal|failed):' | cut -c1-2000 | tail -60
  exit "${rc}"
fi
grep -E '^PLAY RECAP' -A2 "${LOG}"
