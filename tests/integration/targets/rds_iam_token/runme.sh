#!/usr/bin/env bash
# Integration test of the rds_iam_token module and lookup against a moto server.
# Variables (aws_endpoint_url, aws_region, aws_access_key, aws_secret_key) come from
# tests/integration/integration_config.yml; ansible-test copies it two levels up.
set -eu

cd "$(dirname "$0")"
CONFIG="${RDS_IAM_INTEGRATION_CONFIG:-../../integration_config.yml}"
OUT="${OUTPUT_DIR:-$(mktemp -d)}"
export ANSIBLE_ROLES_PATH=../
PYTHON="$(command -v python || command -v python3)"

# 1. Functional tests (cache hit, refresh, assume role, region, bad inputs).
ansible-playbook -i localhost, -c local -e "@${CONFIG}" main.yml "$@"

# 2. Leak scan: a -vvv run in which every task that handles a token has no_log, plus failing
#    tasks without no_log that are given the secret key and a session token.
ansible-playbook -i localhost, -c local -e "@${CONFIG}" -vvv no_leak.yml > "${OUT}/rds_iam_token-vvv.log" 2>&1
"${PYTHON}" scan_output.py --config "${CONFIG}" --log "${OUT}/rds_iam_token-vvv.log" --expect-clean

# 3. Positive control: the same scanner finds the token when a task prints it.
ansible-playbook -i localhost, -c local -e "@${CONFIG}" -v show_token.yml > "${OUT}/rds_iam_token-show.log" 2>&1
"${PYTHON}" scan_output.py --config "${CONFIG}" --log "${OUT}/rds_iam_token-show.log" --expect-token-only
