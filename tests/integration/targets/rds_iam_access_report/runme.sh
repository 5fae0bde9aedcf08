#!/usr/bin/env bash
# rds_iam_access_report against the lab: seed.py puts drift of every finding code in the lab (out of band), the
# module reports it (check mode, run, second run: the same), check_findings.py compares the findings with
# expected_findings.txt exactly, try_logins.py tries every pair of the matrix through the lab, then
# playbooks/access_report.yml writes JSON, HTML and Markdown and browser_check.py opens the HTML in chromium.
# Variables come from tests/integration/integration_config.yml, which ansible-test copies two levels up.
set -eu

cd "$(dirname "$0")"
CONFIG="${RDS_IAM_INTEGRATION_CONFIG:-../../integration_config.yml}"
OUT="${OUTPUT_DIR:-$(mktemp -d)}/rds_iam_access_report"
PYTHON="$(command -v python || command -v python3)"
mkdir -p "${OUT}"
STATE="${OUT}/seed-state.json"
# The screenshot is a test artifact of the checkout (tests/output/, git-ignored).
ARTIFACTS="$("${PYTHON}" -c 'import sys, yaml; print(yaml.safe_load(open(sys.argv[1]))["checkout_root"])' "${CONFIG}")/tests/output/access_report"

cleanup() { "${PYTHON}" seed.py down --config "${CONFIG}" --state "${STATE}"; }
trap cleanup EXIT
"${PYTHON}" seed.py down --config "${CONFIG}" --state "${STATE}"
"${PYTHON}" seed.py up --config "${CONFIG}" --state "${STATE}"

ansible-playbook -i localhost, -c local -e "@${CONFIG}" -e @model.yml -e "rpt_out=${OUT}" main.yml "$@"
"${PYTHON}" check_findings.py --report "${OUT}/report.json" --expected expected_findings.txt
"${PYTHON}" try_logins.py --config "${CONFIG}" --report "${OUT}/report.json"

# The playbook people run, then its HTML page in a real browser.
ansible-playbook -i localhost, -c local -e "@${CONFIG}" -e @model.yml -e "rds_iam_report_dir=${OUT}/report" \
  -e ansible_python_interpreter="${PYTHON}" dbauth.rds_iam.access_report "$@"
for ext in json html md; do
  test -s "${OUT}/report/access_report.${ext}"
done
grep -q '^# IAM database access report' "${OUT}/report/access_report.md"
"${PYTHON}" browser_check.py --html "${OUT}/report/access_report.html" --json "${OUT}/report/access_report.json" \
  --screenshot "${ARTIFACTS}/access_report.png"

# Pruning (rds_iam_prune) through the roles, against fixtures seed.py made out of band.
ansible-playbook -i localhost, -c local -e "@${CONFIG}" -e @model.yml -e "rpt_config=${CONFIG}" prune.yml "$@"
