# dbauth.rds_iam — developer entry points. `make test` and `make demo` bootstrap everything they
# need (Debian packages when root, the .venv, ansible-test's offline pip bootstrap) on a fresh machine.
SHELL := /bin/bash
.DEFAULT_GOAL := help

ROOT := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))
VENV := $(ROOT)/.venv
PYTHON := $(VENV)/bin/python
export PATH := $(VENV)/bin:$(PATH)
VIEW := $(ROOT)/.build/view/ansible_collections/dbauth/rds_iam
PY_VERSION := 3.11
# Collections: ours from the view, amazon.aws & co. from the `ansible` package in the venv.
COLLECTIONS_PATH := $(ROOT)/.build/view

.PHONY: help bootstrap view sanity units lint lab-tests integration build-install test demo e2e molecule awx unprivileged

help:
	@echo "make test    bootstrap, then run every test (sanity, units, lint, lab, integration, build)"
	@echo "make demo    bootstrap, lab up, playbooks/site.yml twice (changed=0), the verify table and the access report"
	@echo "make sanity | units | lint | lab-tests | integration | e2e | molecule | build-install | awx | unprivileged   one suite"
	@echo "make lab-up | lab-down | lab-purge | lab-status | lab-status-json | lab-maintenance"

bootstrap:
	@bash scripts/bootstrap.sh

view: bootstrap
	@bash scripts/collection-view.sh >/dev/null

sanity: view
	cd $(VIEW) && ansible-test sanity --venv --python $(PY_VERSION) --color no

units: view
	cd $(VIEW) && ansible-test units --venv --python $(PY_VERSION) --color no

lint: view
	cd $(VIEW) && ANSIBLE_COLLECTIONS_PATH=$(COLLECTIONS_PATH) ansible-lint --profile production --offline

lab-tests: bootstrap
	cd $(ROOT) && $(PYTHON) -m pytest lab/tests -q -p no:cacheprovider

# TARGETS=name to run some targets only. The lab is started (and stopped again) as needed.
integration: bootstrap
	bash scripts/run-integration.sh $(TARGETS)

build-install: bootstrap
	bash scripts/test-build-install.sh

# The whole flow on the lab (issue #7): site.yml twice, the verify table and the access report; e2e and Molecule proofs.
demo: view
	bash scripts/demo.sh

e2e: view
	cd $(ROOT) && $(PYTHON) -m pytest tests/e2e -q -p no:cacheprovider

molecule: view
	cd $(ROOT) && ANSIBLE_COLLECTIONS_PATH=$(COLLECTIONS_PATH) molecule test -s site

# AWX / distribution (issue #8): ansible-builder create on the EE definition, the credential type and surveys,
# the playbooks as job templates through ansible-runner on the lab, the tarball installed and run from there.
awx: view
	cd $(ROOT) && $(PYTHON) -m pytest tests/awx -q -p no:cacheprovider

# Without root (issue "any checkout path, root or not"): as root, an account without sudo runs
# lab-tests and an integration target on a copy of this checkout, its lab's servers running as that
# account. Skipped when not root: such a run is already unprivileged.
unprivileged: bootstrap
	bash scripts/unprivileged.sh

-include lab/lab.mk

SUITES := sanity units lint lab-tests integration e2e molecule build-install awx unprivileged

test: bootstrap
	bash scripts/with-lab-restored.sh $(MAKE) --no-print-directory $(SUITES)
	@echo "make test: all suites passed"
