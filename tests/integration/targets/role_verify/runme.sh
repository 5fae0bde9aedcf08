#!/usr/bin/env bash
# The verify role on two local "hosts" with different AWS identities: one whose role has the policy
# (logins succeed), one whose role has none (policy_denied). verify_fail=false reports; verify_fail=true
# fails only the broken host, after the summary of both.
set -eu

cd "$(dirname "$0")"
CONFIG="${RDS_IAM_INTEGRATION_CONFIG:-../../integration_config.yml}"
OUT="${OUTPUT_DIR:-$(mktemp -d)}"
TMP="${OUT}/role_verify"
mkdir -p "${TMP}"
chmod 0700 "${TMP}"
ARGS=(-i inventory.yml -e "@${CONFIG}" -e "role_verify_tmp=${TMP}")

cleanup() { ansible-playbook "${ARGS[@]}" cleanup.yml > "${OUT}/role_verify-cleanup.log" 2>&1 || { echo "cleanup failed, see ${OUT}/role_verify-cleanup.log"; }; }
trap cleanup EXIT

ansible-playbook "${ARGS[@]}" setup.yml "$@"
ansible-playbook "${ARGS[@]}" report.yml "$@"

# verify_fail=true: the play fails, but only for the host whose login is broken, after the summary.
rc=0
ansible-playbook "${ARGS[@]}" -e verify_fail=true verify_only.yml > "${OUT}/role_verify-fail.log" 2>&1 || rc=$?
grep -A8 'Summary of every host' "${OUT}/role_verify-fail.log" || true
[ "${rc}" -eq 2 ] || { echo "expected the play to fail (rc 2), got rc=${rc}"; exit 1; }
grep -Eq 'app-host +: ok=[0-9]+ +changed=[0-9]+ +unreachable=0 +failed=0' "${OUT}/role_verify-fail.log" \
  || { echo "app-host should not have failed"; exit 1; }
grep -Eq 'noaccess-host +: ok=[0-9]+ +changed=[0-9]+ +unreachable=0 +failed=1' "${OUT}/role_verify-fail.log" \
  || { echo "noaccess-host should have failed once"; exit 1; }
grep -q '2 of 3 logins ok' "${OUT}/role_verify-fail.log" || { echo "the summary does not cover all hosts"; exit 1; }
grep -q 'policy_denied' "${OUT}/role_verify-fail.log" || { echo "the failure does not carry the diagnosis"; exit 1; }
echo "role_verify: ok"
