#!/usr/bin/env bash
# site.yml refuses a bad data model before anything changes: each case of cases.py fails with a message naming
# the entry and the key, and the lab's state read out of band (tests/e2e/snapshot.py) is the same before and after.
set -eu
cd "$(dirname "$0")"
CONFIG="${RDS_IAM_INTEGRATION_CONFIG:-../../integration_config.yml}"
OUT="${OUTPUT_DIR:-$(mktemp -d)}"
python cases.py --config "${CONFIG}" --work "${OUT}/site_model_checks" "$@"
