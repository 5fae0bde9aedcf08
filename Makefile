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

.PHONY: help bootstrap view sanity units lint docs lab-tests integration build-install test demo e2e molecule user-scenarios awx unprivileged

help:
	@echo "make test    bootstrap, then run every test (sanity, units, lint, docs, lab, integration, build)"
	@echo "make demo    bootstrap, lab up, playbooks/site.yml twice (changed=0), the verify table and the access report"
	@echo "make sanity | units | lint | docs | lab-tests | integration | e2e | molecule | user-scenarios | build-install | awx | unprivileged   one suite"
	@echo "make lab-up | lab-down | lab-purge | lab-status | lab-status-json | lab-maintenance"

bootstrap:
	@bash scripts/bootstrap.sh

view: bootstrap
	@bash scripts/collection-view.sh >/dev/null

# ansible-test's sanity tests, then the collection's own (tests/sanity/extra: metadata and argument spec checks).
sanity: view
	cd $(VIEW) && ansible-test sanity --venv --python $(PY_VERSION) --color no
	cd $(VIEW) && $(PYTHON) scripts/sanity_extra.py

units: view
	cd $(VIEW) && ansible-test units --venv --python $(PY_VERSION) --color no

lint: view
	cd $(VIEW) && ANSIBLE_COLLECTIONS_PATH=$(COLLECTIONS_PATH) ansible-lint --profile production --offline

# The reference of modules, plugins and roles, generated from DOCUMENTATION and argument_specs by antsibull-docs:
# linted (lint-collection-docs --plugin-docs), then built with Sphinx into .build/docs/build/html (not committed).
docs: view
	bash scripts/docs.sh

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

# The scenarios site (the whole flow) and self_managed (the self_managed role on the lab's plain servers).
molecule: view
	cd $(ROOT) && ANSIBLE_COLLECTIONS_PATH=$(COLLECTIONS_PATH) molecule test -s site
	cd $(ROOT) && ANSIBLE_COLLECTIONS_PATH=$(COLLECTIONS_PATH) molecule test -s self_managed

# The lab as users get it (issue 15): the built wheel and collection in a fresh venv and an empty collections path,
# from a scratch folder: rds-iam-lab up --seed / inventory / site.yml / down, and `molecule test` of a user's role.
user-scenarios: view
	cd $(ROOT) && $(PYTHON) -m pytest tests/user_scenarios -q -p no:cacheprovider

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

SUITES := sanity units lint docs lab-tests integration e2e molecule user-scenarios build-install awx unprivileged

test: bootstrap
	bash scripts/with-lab-restored.sh $(MAKE) --no-print-directory $(SUITES)
	@echo "make test: all suites passed"
