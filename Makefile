# Two commands on a fresh machine: `make run` and `make test`.
# durable_rules runs on CPython 3.11 and 3.12 only: take the first interpreter
# that really runs and is one of them (pyenv shims can exist without running).
PYTHON ?= $(shell for p in python3.11 python3.12 python3; do \
	$$p -c 'import sys; sys.exit(not ((3, 11) <= sys.version_info[:2] <= (3, 12)))' 2>/dev/null \
	&& command -v $$p && break; done)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The decision path's hot modules, compiled in place with mypyc (docs/native.md).
# They are rebuilt whenever a module of the package changes (they are compiled
# against the types of what they import). POLICY_PURE_PYTHON=1 removes the
# compiled modules, so that everything runs as Python.
NATIVE_SOURCES := $(shell find policy_service -name '*.py')
NATIVE := $(VENV)/.native
# Seen by the tests too (tests/test_native.py), however it is given.
export POLICY_PURE_PYTHON
ifeq ($(POLICY_PURE_PYTHON),1)
BUILD := pure
else
BUILD := $(NATIVE)
endif
.PHONY: run test lint typecheck unit bench clean native pure

$(BIN)/python:
	@test -n "$(PYTHON)" || { echo "policy-service needs CPython 3.11 or 3.12 (durable_rules 2.0.28 does not import on 3.13); none found" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# The native modules are built by the next step, with the mypy installed here.
$(STAMP): pyproject.toml setup.py | $(BIN)/python
	POLICY_PURE_PYTHON=1 $(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

$(NATIVE): $(STAMP) $(NATIVE_SOURCES) setup.py
	$(BIN)/python -m policy_service.native --remove-strays
	$(BIN)/python setup.py --quiet build_ext --inplace
	@# An unchanged module is not recompiled and keeps its old time: mark the
	@# library as built from the current sources (tests/test_native.py checks).
	touch policy_service/native_lib__mypyc*.so $(NATIVE)

pure: $(STAMP)
	rm -f $(NATIVE) policy_service/native_lib__mypyc*.so
	find policy_service -name '*.cpython-*.so' -delete

# Local development: no tokens file, so access control is explicitly off.
run: $(BUILD)
	POLICY_DEV_NO_AUTH=true $(BIN)/policy-service serve

lint: $(STAMP)
	$(BIN)/ruff check policy_service tests bench
	$(BIN)/ruff format --check policy_service tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(BUILD)
	$(BIN)/pytest -q

test: lint typecheck unit

bench: $(BUILD)
	$(BIN)/python bench/decisions.py

native: $(NATIVE)

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache *.egg-info build
	find policy_service -name '*.so' -delete
