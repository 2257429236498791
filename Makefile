# kubetask — the two commands that matter:
#   make run    set up everything (venv, local Kubernetes, images) and run a sample task end to end
#   make test   set up what the tests need, then lint, type-check and run every test (unit + real cluster)
# and, for a quicker loop: make test-fast (skips the slow and own_cluster tests), make mutants (proves
# the tests can fail: each mutants/*.patch must be caught by its named test; minutes, not part of test).
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: setup run down test test-fast check lint types imports crds mutants mutants-apply test-unit test-integration fmt bench

setup:
	bash scripts/setup.sh

run: setup
	bash scripts/run-local.sh up

down:
	bash scripts/run-local.sh down

lint:
	$(VENV)/bin/ruff check kubetask operator api tests scripts bench
	$(VENV)/bin/ruff format --check kubetask operator api tests scripts bench
	$(PY) scripts/hygiene.py

types:
	$(VENV)/bin/mypy kubetask tests bench

imports:
	$(VENV)/bin/lint-imports

crds:
	$(VENV)/bin/kubetask crds

# the mutants are not run here, but each must still apply and name tests that exist: a change
# that moves the mutated lines ports the patch instead of letting it rot
mutants-apply:
	$(PY) scripts/mutants.py --check

test: setup lint types imports mutants-apply
	$(VENV)/bin/kubetask crds --check
	$(VENV)/bin/pytest --durations=30

# the same checks, without the tests that take minutes or the cluster for themselves
test-fast: setup lint types imports mutants-apply
	$(VENV)/bin/kubetask crds --check
	$(VENV)/bin/pytest -m "not slow and not own_cluster"

# one mutant at a time, each in a scratch copy of HEAD; `make mutants ONLY=name` runs one
mutants: setup
	$(PY) scripts/mutants.py $(addprefix --only ,$(ONLY))

check: test

test-unit:
	$(VENV)/bin/pytest tests/unit

test-integration:
	$(VENV)/bin/pytest tests/integration

fmt:
	$(VENV)/bin/ruff format kubetask operator api tests scripts bench
	$(VENV)/bin/ruff check --fix kubetask operator api tests scripts bench

bench: setup
	$(PY) -m bench.run
