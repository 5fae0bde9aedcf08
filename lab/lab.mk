# Lab targets, included by the top Makefile (`-include lab/lab.mk`): the `rds-iam-lab` command of the lab
# package (lab/pyproject.toml), installed into .venv from this checkout by scripts/bootstrap.sh.
# Usable alone too: make -f lab/lab.mk lab-up
LAB_ROOT := $(abspath $(dir $(lastword $(MAKEFILE_LIST)))/..)
RDS_IAM_LAB ?= $(LAB_ROOT)/.venv/bin/rds-iam-lab

.PHONY: lab-up lab-down lab-purge lab-status lab-status-json lab-maintenance

lab-up:
	$(RDS_IAM_LAB) up

lab-down:
	$(RDS_IAM_LAB) down

# down, remove the lab's host accounts (rdsiamlab-*) that no other lab uses, then delete its state folder
lab-purge:
	$(RDS_IAM_LAB) purge

lab-status:
	$(RDS_IAM_LAB) status

lab-status-json:
	@$(RDS_IAM_LAB) status --json

lab-maintenance:
	$(RDS_IAM_LAB) maintenance
