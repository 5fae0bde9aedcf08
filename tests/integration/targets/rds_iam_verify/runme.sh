#!/usr/bin/env bash
# rds_iam_verify against the lab: every diagnosis from a real broken link, run at -vvv, and the whole
# output scanned for tokens and secrets. Variables come from tests/integration/integration_config.yml,
# which ansible-test copies two levels up.
set -eu

cd "$(dirname "$0")"
CONFIG="${RDS_IAM_INTEGRATION_CONFIG:-../../integration_config.yml}"
OUT="${OUTPUT_DIR:-$(mktemp -d)}"
PYTHON="$(command -v python || command -v python3)"
LOG="${OUT}/rds_iam_verify-vvv.log"
SCAN=../setup_scan_output/scan_output.py

"${PYTHON}" "${SCAN}" --self-test
rc=0
ansible-playbook -i localhost, -c local -e "@${CONFIG}" -e "verify_tmp=${OUT}/rds_iam_verify" -vvv main.yml "$@" \
  > "${LOG}" 2>&1 || rc=$?
"${PYTHON}" "${SCAN}" --config "${CONFIG}" --log "${LOG}" --require rds_iam_verify
if [ "${rc}" -ne 0 ]; then
  echo "main.yml failed (rc=${rc}); the failed tasks:"
  grep -E -A3 '^(fatal|failed):|^TASK \[' "${LOG}" | grep -E -B1 -A3 '^(fatal|failed):' | cut -c1-2000 | tail -60
  exit "${rc}"
fi
grep -E '^PLAY RECAP' -A2 "${LOG}"
