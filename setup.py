"""Build: the decision path's hot modules compiled to C with mypyc (docs/native.md).

Everything else is in pyproject.toml. POLICY_PURE_PYTHON=1 builds without
compiling (the same code, slower: for debugging or profiling Python frames).
"""

from __future__ import annotations

import ast
import os
from pathlib import Path

from setuptools import setup


def native_modules() -> list[str]:
    # Read from the package without importing it (its dependencies may not
    # be installed yet while it is being built).
    tree = ast.parse(Path(__file__).with_name("policy_service").joinpath("native.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "NATIVE_MODULES":
            return list(ast.literal_eval(node.value))
    raise RuntimeError("policy_service/native.py names no NATIVE_MODULES")


def extensions() -> list[object]:
    if os.environ.get("POLICY_PURE_PYTHON") == "1":
        return []
    from mypyc.build import mypycify

    # One shared library inside the package, so an editable install finds it.
    return list(mypycify(native_modules(), opt_level="3", group_name="policy_service.native_lib"))


setup(ext_modules=extensions())
