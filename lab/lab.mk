# Lab targets, included by the top Makefile (`-include lab/lab.mk`).
# Usable alone too: make -f lab/lab.mk lab-up
LAB_ROOT := $(abspath $(dir $(lastword $(MAKEFILE_LIST)))/..)
PYTHON ?= $(LAB_ROOT)/.venv/bin/python
LABCTL = cd $(LAB_ROOT) && $(PYTHON) -m lab.labctl

.PHONY: lab-up lab-down lab-purge lab-status lab-status-json lab-maintenance

lab-up:
	$(LABCTL) up

lab-down:
	$(LABCTL) down

# down, remove the lab's host accounts (rdsiamlab-*) that no other lab uses, then delete its state folder
lab-purge:
	$(LABCTL) purge

lab-status:
	$(LABCTL) status

lab-status-json:
	@$(LABCTL) status-json

lab-maintenance:
	$(LABCTL) maintenance
