"""The Dockerfile keeps its shape (no container engine runs here to build it)."""

from __future__ import annotations

import os
import re
import subprocess
import tomllib

import pytest

from policy_service.api.auth import load_tokens
from tests.conftest import ROOT

DOCKERFILE = (ROOT / "Dockerfile").read_text()
COMPOSE = (ROOT / "docker-compose.yml").read_text()
# Where the image expects the operator's tokens file.
TOKENS_PATH = "/run/secrets/policy-tokens.yaml"


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
    assert "redis://redis:6379/0" in COMPOSE
    assert "build: ." in COMPOSE


def test_the_image_expects_a_mounted_tokens_file_and_holds_none() -> None:
    runtime = _stages()[-1]
    assert f"ENV POLICY_TOKENS_FILE={TOKENS_PATH}" in runtime
    # Only the rules are copied in beside the installed package: no tokens file.
    copied = re.findall(r"(?m)^COPY (?!--from)(.*)$", runtime)
    assert copied == ["rules ./rules"]
    assert "DEV_NO_AUTH" not in DOCKERFILE + COMPOSE


def test_compose_mounts_the_example_tokens_read_only_where_the_image_looks() -> None:
    assert f"POLICY_TOKENS_FILE: {TOKENS_PATH}" in COMPOSE
    assert f"- ./deploy/tokens.example.yaml:{TOKENS_PATH}:ro" in COMPOSE
    # The example file is a valid tokens file, and says on every token that it is one.
    registry = load_tokens(ROOT / "deploy" / "tokens.example.yaml")
    assert len(registry) == 3
    text = (ROOT / "deploy" / "tokens.example.yaml").read_text()
    tokens = re.findall(r'token: "([^"]+)"', text)
    assert len(tokens) == 3 and all(t.startswith("EXAMPLE-ONLY-") for t in tokens)


def test_the_build_has_the_typed_dependencies_mypyc_checks_at_the_same_pins() -> None:
    # `pip install .` compiles the native modules in an isolated build
    # environment: without these there, mypy fails on their imports.
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    build = set(project["build-system"]["requires"])
    untyped = {"durable-rules==2.0.28", "google-re2==1.1.20251105"}
    assert set(project["project"]["dependencies"]) - untyped <= build


_INSTALL_CHECK = os.environ.get("CI") == "true" or (
    os.environ.get("POLICY_TEST_CONTAINER_INSTALL") == "1"
)


@pytest.mark.skipif(
    not _INSTALL_CHECK,
    reason="installs the project in a fresh venv (1-2 minutes): runs with CI=true "
    "or POLICY_TEST_CONTAINER_INSTALL=1",
)
def test_the_install_steps_give_a_service_that_starts_with_tokens() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("POLICY_")}
    done = subprocess.run(
        ["bash", str(ROOT / "scripts" / "check-container-install.sh")],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-4000:]
    assert "decision with the token: 200, without: 401" in output
