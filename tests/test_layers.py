"""The layers of docs/architecture.md hold: who may import durable_rules, redis and Flask."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import ROOT

PACKAGE = ROOT / "policy_service"


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def _relative(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


@pytest.mark.parametrize(
    ("library", "allowed"),
    [
        # durable_rules: the engine module only.
        ({"durable", "durable_rules_engine"}, {"policy_service/engine.py"}),
        # redis (and its C protocol library): the Redis modules of the state layer only.
        (
            {"redis", "hiredis"},
            {
                "policy_service/state/redis_store.py",
                "policy_service/state/redis_capture.py",
                "policy_service/state/redis_permits.py",
                "policy_service/state/redis_cluster.py",
            },
        ),
        # Flask: the API and the app factory only.
        ({"flask", "werkzeug"}, {"policy_service/app.py"}),
        # gunicorn: the worker class of `serve` only (the rest of the service runs anywhere).
        ({"gunicorn"}, {"policy_service/gunicorn_worker.py"}),
    ],
)
def test_only_their_layer_imports_these_libraries(library: set[str], allowed: set[str]) -> None:
    offenders = [
        _relative(path)
        for path in _modules()
        if _imports(path) & library
        and _relative(path) not in allowed
        and not (
            library == {"flask", "werkzeug"} and _relative(path).startswith("policy_service/api/")
        )
    ]
    assert offenders == []


def test_lower_layers_do_not_import_the_api_or_the_cli() -> None:
    lower = [
        p
        for p in _modules()
        if not _relative(p).startswith(("policy_service/api/", "policy_service/cli"))
        and _relative(p) != "policy_service/app.py"
    ]
    for path in lower:
        source = path.read_text()
        assert "policy_service.api" not in source, _relative(path)
        assert "policy_service.cli" not in source, _relative(path)
        assert "policy_service.app " not in source and "policy_service.app\n" not in source
