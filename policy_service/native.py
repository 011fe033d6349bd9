"""Which modules are compiled to C (mypyc) when the package is built, and which are.

These are the decision path's pure-Python hot spots (the list below): the
text analyzer, the event fast path, the evaluator, the engine's glue, the
memory store and crisis levels, the Redis store's key names and reply parsing,
rails, rate limits and metrics, and a
replay's loop, summary and decoding of the reader's events. mypyc compiles their
type-checked source as it is (mypy --strict holds for the package), so the
compiled and the pure-Python modules are the same code, and the test suite
runs against whichever the build produced (docs/native.md).

`setup.py` reads NATIVE_MODULES from this file without importing the package.
"""

from __future__ import annotations

import importlib
import importlib.machinery
from pathlib import Path

NATIVE_MODULES = (
    "policy_service/analysis/signals.py",
    "policy_service/analysis/lexicon.py",
    "policy_service/analysis/lexicon_tables.py",
    "policy_service/event_fast_path.py",
    "policy_service/event_model.py",
    "policy_service/evaluator.py",
    "policy_service/engine.py",
    "policy_service/instrumented.py",
    "policy_service/metrics.py",
    "policy_service/rails.py",
    "policy_service/ratelimit.py",
    "policy_service/state/levels.py",
    "policy_service/state/memory.py",
    "policy_service/state/redis_codec.py",
    "policy_service/timefmt.py",
    "policy_service/replay/summary.py",
    "policy_service/replay/runner.py",
    "policy_service/replay/codec.py",
)
ROOT = Path(__file__).resolve().parent.parent


def module_name(path: str) -> str:
    """`policy_service/state/memory.py` -> `policy_service.state.memory`."""
    name = path.removesuffix(".py").replace("/", ".")
    return name.removesuffix(".__init__")


def compiled() -> dict[str, bool]:
    """For each native module: whether this process runs its compiled form."""
    found: dict[str, bool] = {}
    for path in NATIVE_MODULES:
        name = module_name(path)
        origin = getattr(importlib.import_module(name), "__file__", None) or ""
        found[name] = origin.endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES))
    return found


def stale() -> list[str]:
    """Sources newer than the in-place build of them: a build to redo (`make`).

    The compiled code of every module lives in one shared library
    (`native_lib__mypyc*.so`); the per-module files only load it, and a
    rebuild leaves them alone when they come out the same.
    """
    libraries = sorted(ROOT.joinpath("policy_service").glob("native_lib__mypyc*.so"))
    if not libraries:
        return []
    built = min(lib.stat().st_mtime for lib in libraries)
    return [path for path in NATIVE_MODULES if (ROOT / path).stat().st_mtime > built]


def strays() -> list[Path]:
    """Compiled modules in the package that NATIVE_MODULES no longer names.

    An earlier build left them; Python would load one instead of its source
    and fail, since the shared library no longer holds its code.
    """
    named = {(ROOT / path).with_suffix("") for path in NATIVE_MODULES}
    # The longest suffix first: ".so" also ends ".cpython-311-x86_64-linux-gnu.so".
    suffixes = sorted(importlib.machinery.EXTENSION_SUFFIXES, key=len, reverse=True)
    found = []
    for path in ROOT.joinpath("policy_service").rglob("*.so"):
        suffix = next((s for s in suffixes if path.name.endswith(s)), None)
        if suffix is None:
            continue
        stem = path.with_name(path.name.removesuffix(suffix))
        if stem.name != "native_lib__mypyc" and stem not in named:
            found.append(path)
    return sorted(found)


if __name__ == "__main__":
    # `python -m policy_service.native --remove-strays`: run by `make` before a build.
    import sys

    if sys.argv[1:] != ["--remove-strays"]:
        sys.exit("usage: python -m policy_service.native --remove-strays")
    for stray in strays():
        stray.unlink()
        print(f"removed {stray.relative_to(ROOT)}: no longer a native module")
