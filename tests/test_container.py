"""The Dockerfile keeps its shape (no container engine runs here to build it)."""

from __future__ import annotations

import re

from tests.conftest import ROOT

DOCKERFILE = (ROOT / "Dockerfile").read_text()


def _stages() -> list[str]:
    return re.split(r"(?m)^FROM ", DOCKERFILE)[1:]


def test_a_build_stage_with_a_compiler_and_a_slim_runtime() -> None:
    build, runtime = _stages()
    assert build.startswith("python:3.12-slim AS build")
    assert "gcc" in build  # durable_rules compiles C, so does the native build
    assert re.search(r"(?m)^COPY .*setup\.py", build)  # the native build's script
    assert runtime.startswith("python:3.12-slim")
    assert "gcc" not in runtime
    assert "COPY --from=build /opt/venv /opt/venv" in runtime


def test_the_runtime_runs_as_a_non_root_user_with_a_healthcheck() -> None:
    runtime = _stages()[-1]
    user = re.search(r"(?m)^USER (\S+)", runtime)
    assert user is not None and user.group(1) not in ("root", "0")
    assert re.search(r"(?m)^HEALTHCHECK .*\n?.*healthz", runtime)
    assert re.search(r"(?m)^EXPOSE 8080$", runtime)
    assert 'ENTRYPOINT ["policy-service", "serve"]' in runtime
    assert "POLICY_HOST=0.0.0.0" in runtime


def test_compose_runs_the_service_on_redis() -> None:
    compose = (ROOT / "docker-compose.yml").read_text()
    assert "redis://redis:6379/0" in compose
    assert "build: ." in compose
