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
SCAN=../setup_scan_output/scan_output.py
SESSION_TOKEN_MARKER="IntegrationSessionToken0123456789/+="  # given to failing tasks in no_leak.yml
config_value() { "${PYTHON}" -c 'import sys, yaml; print(yaml.safe_load(open(sys.argv[1]))[sys.argv[2]])' "${CONFIG}" "$1"; }

# 1. Functional tests (cache hit, refresh, assume role, region, bad inputs).
ansible-playbook -i localhost, -c local -e "@${CONFIG}" main.yml "$@"

# 2. The lookup's EXAMPLES run as documented (the first takes its credentials from the environment).
"${PYTHON}" examples_playbook.py "${OUT}/rds_iam_token-examples.yml"
ansible-playbook -i localhost, -c local -e "@${CONFIG}" -e assumed_roles_state=present assumed_roles.yml "$@"
env AWS_ACCESS_KEY_ID="$(config_value aws_access_key)" AWS_SECRET_ACCESS_KEY="$(config_value aws_secret_key)" \
  ansible-playbook -i localhost, -c local -e "@${CONFIG}" "${OUT}/rds_iam_token-examples.yml" "$@"

# 3. Leak scan: a -vvv run in which every task that handles a token has no_log, plus failing
#    tasks without no_log that are given the secret key and a session token.
ansible-playbook -i localhost, -c local -e "@${CONFIG}" -vvv no_leak.yml > "${OUT}/rds_iam_token-vvv.log" 2>&1 \
  || { echo "no_leak.yml failed, see ${OUT}/rds_iam_token-vvv.log"; exit 1; }
"${PYTHON}" "${SCAN}" --config "${CONFIG}" --log "${OUT}/rds_iam_token-vvv.log" --expect clean \
  --secret "${SESSION_TOKEN_MARKER}" --min-censored 4 --require "not a URL" --require "Could not assume role"
ansible-playbook -i localhost, -c local -e "@${CONFIG}" -e assumed_roles_state=absent assumed_roles.yml "$@"

# 4. Positive control: the same scanner finds the token when a task prints it.
ansible-playbook -i localhost, -c local -e "@${CONFIG}" -v show_token.yml > "${OUT}/rds_iam_token-show.log" 2>&1 \
  || { echo "show_token.yml failed, see ${OUT}/rds_iam_token-show.log"; exit 1; }
"${PYTHON}" "${SCAN}" --config "${CONFIG}" --log "${OUT}/rds_iam_token-show.log" --expect token
