#!/usr/bin/env bash
# The self_managed role on the lab's plain servers: check -> out of band nothing written -> real -> out of band all
# there -> idempotent check -> idempotent; logins for the mapped principals, one refusal per broken link (the bridge's
# log naming the reason), no token or secret in any output at -vvv nor in the bridges' logs.
set -eu

cd "$(dirname "$0")"
# the role makes a system account and writes /etc/pam.d, as on a database host: root only
[ "$(id -u)" = 0 ] || { echo "role_self_managed needs root (the bridge's system account, /etc/pam.d)"; exit 1; }
CONFIG="${RDS_IAM_INTEGRATION_CONFIG:-../../integration_config.yml}"
OUT="${OUTPUT_DIR:-$(mktemp -d)}"
PYTHON="$(command -v python || command -v python3)"
SCAN=../setup_scan_output/scan_output.py
config_value() { "${PYTHON}" -c 'import sys, yaml; print(yaml.safe_load(open(sys.argv[1]))[sys.argv[2]])' "${CONFIG}" "$1"; }
# the bridge's LDAP port for sm-postgres: a free one on loopback
LDAP_PORT="$("${PYTHON}" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
# auth_pam runs PAM in its setuid helper; a machine without it (a stripped image) runs PAM in the server (auth_pam_v1)
PAM_PLUGIN=auth_pam
[ -x /usr/lib/mysql/plugin/auth_pam_tool_dir/auth_pam_tool ] || PAM_PLUGIN=auth_pam_v1
ARGS=(-i inventory.yml -e "@${CONFIG}" -e "rsm_ldap_port=${LDAP_PORT}" -e "rsm_pam_plugin=${PAM_PLUGIN}")
SECRETS=()
for id in sm-postgres sm-mariadb; do
  SECRETS+=(--secret "$("${PYTHON}" -c 'import sys, yaml
for s in yaml.safe_load(open(sys.argv[1]))["lab_self_managed"]:
    if s["id"] == sys.argv[2]: print(s["admin_password"])' "${CONFIG}" "${id}")")
done

cleanup() { ansible-playbook "${ARGS[@]}" cleanup.yml > "${OUT}/role_self_managed-cleanup.log" 2>&1 || echo "cleanup failed, see ${OUT}/role_self_managed-cleanup.log"; }
trap cleanup EXIT
cleanup

changed() { grep -E '^localhost +:' "$1" | sed -E 's/.*changed=([0-9]+).*/\1/'; }
run() {  # NAME EXPECTED_CHANGED(any|0|>0) ARGS...
  local name="$1" expect="$2" log="${OUT}/role_self_managed-$1.log"
  shift 2
  ansible-playbook "${ARGS[@]}" -vvv converge.yml "$@" > "${log}" 2>&1 || { tail -40 "${log}"; echo "${name}: failed"; exit 1; }
  local n; n="$(changed "${log}")"
  if [ "${expect}" = 0 ] && [ "${n}" != 0 ]; then grep -B3 -E '^changed:' "${log}" | tail -40; echo "${name}: changed=${n}, expected 0"; exit 1; fi
  if [ "${expect}" = ">0" ] && [ "${n}" = 0 ]; then echo "${name}: changed=0, expected changes"; exit 1; fi
  "${PYTHON}" "${SCAN}" --config "${CONFIG}" --log "${log}" "${SECRETS[@]}" --require "dbauth.rds_iam.self_managed"
  echo "${name}: changed=${n}"
}

run check ">0" --check --diff
ansible-playbook "${ARGS[@]}" -e rsm_expect=absent out_of_band.yml
run real ">0"
ansible-playbook "${ARGS[@]}" -e rsm_expect=present out_of_band.yml
run idempotent-check 0 --check --diff
run idempotent 0

ansible-playbook "${ARGS[@]}" -vvv logins.yml > "${OUT}/role_self_managed-logins.log" 2>&1 \
  || { tail -60 "${OUT}/role_self_managed-logins.log"; echo "logins: failed"; exit 1; }
"${PYTHON}" "${SCAN}" --config "${CONFIG}" --log "${OUT}/role_self_managed-logins.log" "${SECRETS[@]}" \
  --require "Refused for the reason the bridge logged: expired" --min-censored 5
echo "role_self_managed: ok"
