# Two commands on a fresh machine: `make run` and `make test`.
# durable_rules runs on CPython 3.11 and 3.12 only: take the first interpreter
# that really runs and is one of them (pyenv shims can exist without running).
PYTHON ?= $(shell for p in python3.11 python3.12 python3; do \
	$$p -c 'import sys; sys.exit(not ((3, 11) <= sys.version_info[:2] <= (3, 12)))' 2>/dev/null \
	&& command -v $$p && break; done)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint typecheck unit bench clean

$(BIN)/python:
	@test -n "$(PYTHON)" || { echo "policy-service needs CPython 3.11 or 3.12 (durable_rules 2.0.28 does not import on 3.13); none found" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

# Local development: no tokens file, so access control is explicitly off.
run: $(STAMP)
	POLICY_DEV_NO_AUTH=true $(BIN)/policy-service serve

lint: $(STAMP)
	$(BIN)/ruff check policy_service tests bench
	$(BIN)/ruff format --check policy_service tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest -q

test: lint typecheck unit

bench: $(STAMP)
	$(BIN)/python bench/decisions.py

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache *.egg-info
