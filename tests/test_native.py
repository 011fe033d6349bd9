"""The native build is what the tests run: current, and compiled unless asked otherwise."""

from __future__ import annotations

import os
from pathlib import Path

from policy_service import native

NOT_NATIVE = os.environ.get("POLICY_PURE_PYTHON") == "1"


def test_no_compiled_module_is_older_than_its_source() -> None:
    # An in-place build shadows its source: an edit without a rebuild would
    # test (and serve) the old code. `make` rebuilds what changed.
    assert native.stale() == [], "run `make native`: these sources are newer than their build"


def test_the_hot_modules_run_compiled_unless_asked_otherwise() -> None:
    # `make test` builds them; `make test POLICY_PURE_PYTHON=1` removes them.
    assert native.compiled() == dict.fromkeys(native.compiled(), not NOT_NATIVE)


def test_every_native_module_exists_and_setup_reads_the_same_list() -> None:
    for path in native.NATIVE_MODULES:
        assert (native.ROOT / path).is_file(), path
    setup = (native.ROOT / "setup.py").read_text()
    assert "native_modules()" in setup and "policy_service.native_lib" in setup


def test_module_names() -> None:
    assert native.module_name("policy_service/state/memory.py") == "policy_service.state.memory"
    assert native.module_name("policy_service/analysis/__init__.py") == "policy_service.analysis"
    assert Path(native.__file__).name == "native.py"


def test_no_compiled_module_outlives_its_place_in_the_list() -> None:
    # A module taken off NATIVE_MODULES leaves its compiled file behind,
    # which Python would load instead of the source: `make` removes it.
    assert native.strays() == []
