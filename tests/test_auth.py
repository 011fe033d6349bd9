"""Access control: bearer tokens, scopes, the tokens file, and the refusal to start open."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from policy_service.api.auth import (
    ENDPOINT_SCOPES,
    OPEN_ENDPOINTS,
    check_classified,
    load_tokens,
)
from policy_service.app import create_app
from policy_service.clock import FixedClock
from policy_service.config import Settings
from policy_service.errors import ConfigError
from tests.conftest import RULES_DIR, make_event

DECIDER = "decider-token-0123456789abcdef"
READER = "reader-token-0123456789abcdef"
ADMIN = "admin-token-0123456789abcdef"
NEXT_DECIDER = "decider-token-next-9876543210"

TOKENS_YAML = f"""\
tokens:
  - name: bot
    token: "{DECIDER}"
    scopes: [decide]
  - name: bot-next
    token: "{NEXT_DECIDER}"
    scopes: [decide]
  - name: dashboard
    token: "{READER}"
    scopes: [read]
  - name: ops
    token: "{ADMIN}"
    scopes: [admin]
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "tokens.yaml"
    path.write_text(text)
    return path


def _app(clock: FixedClock, **config: Any) -> Flask:
    app = create_app(
        {"rules_dir": RULES_DIR, "state_url": "memory://", "reload_interval": 0, **config},
        clock=clock,
    )
    app.config["TESTING"] = True
    return app


@pytest.fixture
def secured(tmp_path: Path, clock: FixedClock) -> Iterator[Flask]:
    app = _app(clock, tokens_file=str(_write(tmp_path, TOKENS_YAML)))
    yield app
    app.extensions["policy_service"].policies.current().close()


@pytest.fixture
def secured_client(secured: Flask) -> FlaskClient:
    return secured.test_client()


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# (method, path, body, scope)
ENDPOINTS: list[tuple[str, str, Any, str]] = [
    ("post", "/v1/decisions", make_event(), "decide"),
    ("post", "/v1/decisions/batch", {"events": [make_event(event_id="b1")]}, "decide"),
    ("get", "/v1/accounts/acme/state", None, "read"),
    ("get", "/v1/rulesets", None, "read"),
    ("post", "/v1/admin/reload", None, "admin"),
    ("get", "/v1/admin/shadow", None, "admin"),
    ("get", "/v1/admin/capture", None, "admin"),
]
TOKEN_OF = {"decide": DECIDER, "read": READER, "admin": ADMIN}


def _call(client: FlaskClient, method: str, path: str, body: Any, headers: dict[str, str]) -> Any:
    if body is None:
        return getattr(client, method)(path, headers=headers)
    return getattr(client, method)(path, json=body, headers=headers)


@pytest.mark.parametrize(("method", "path", "body", "scope"), ENDPOINTS)
def test_no_token_or_a_wrong_one_is_401_with_a_challenge(
    secured_client: FlaskClient, method: str, path: str, body: Any, scope: str
) -> None:
    for headers in (
        {},
        _bearer("not-a-configured-token-at-all"),
        {"Authorization": f"Basic {DECIDER}"},
        {"Authorization": "Bearer "},
    ):
        response = _call(secured_client, method, path, body, headers)
        assert response.status_code == 401, headers
        assert response.mimetype == "application/problem+json"
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        assert response.get_json()["status"] == 401


@pytest.mark.parametrize(("method", "path", "body", "scope"), ENDPOINTS)
def test_a_token_without_the_scope_is_403(
    secured_client: FlaskClient, method: str, path: str, body: Any, scope: str
) -> None:
    for other, token in TOKEN_OF.items():
        if other == scope:
            continue
        response = _call(secured_client, method, path, body, _bearer(token))
        assert response.status_code == 403, other
        assert response.mimetype == "application/problem+json"
        assert scope in response.get_json()["detail"]


@pytest.mark.parametrize(("method", "path", "body", "scope"), ENDPOINTS)
def test_a_token_with_the_scope_gets_through(
    secured_client: FlaskClient, method: str, path: str, body: Any, scope: str
) -> None:
    response = _call(secured_client, method, path, body, _bearer(TOKEN_OF[scope]))
    assert response.status_code == 200, response.get_json()


def test_two_tokens_are_valid_at_once_for_rotation(secured_client: FlaskClient) -> None:
    for n, token in enumerate((DECIDER, NEXT_DECIDER)):
        response = secured_client.post(
            "/v1/decisions", json=make_event(event_id=f"r{n}"), headers=_bearer(token)
        )
        assert response.status_code == 200


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/openapi.json", "/metrics"])
def test_health_openapi_and_public_metrics_need_no_token(
    secured_client: FlaskClient, path: str
) -> None:
    assert secured_client.get(path).status_code == 200


def test_metrics_need_the_read_scope_when_not_public(tmp_path: Path, clock: FixedClock) -> None:
    app = _app(clock, tokens_file=str(_write(tmp_path, TOKENS_YAML)), metrics_public=False)
    client = app.test_client()
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers=_bearer(DECIDER)).status_code == 403
    assert client.get("/metrics", headers=_bearer(READER)).status_code == 200
    app.extensions["policy_service"].policies.current().close()


def test_an_unknown_path_is_still_404(secured_client: FlaskClient) -> None:
    assert secured_client.get("/v1/nothing-here").status_code == 404


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("tokens: [\n", "invalid YAML"),
        ("- a\n- b\n", ":1:1: error: the file must be a mapping"),
        ("tokens: []\n", ":1:9: error: tokens must be a non-empty list"),
        (
            'tokens:\n  - name: a\n    token: "short"\n    scopes: [read]\n',
            ":3:12: error: token is 5 characters; at least 16",
        ),
        (
            f'tokens:\n  - name: a\n    token: "{READER}"\n    scopes: [read, write]\n',
            ":4:20: error: unknown scope 'write'",
        ),
        (
            f'tokens:\n  - name: a\n    token: "{READER}"\n',
            ":2:5: error: missing key 'scopes'",
        ),
        (
            f'tokens:\n  - name: a\n    token: "{READER}"\n    scopes: [read]\n    role: x\n',
            ":5:5: error: unknown key 'role'",
        ),
        (
            f'tokens:\n  - name: a\n    token: "{READER}"\n    scopes: []\n',
            ":4:13: error: scopes must be a non-empty list",
        ),
        (
            f"tokens:\n  - name: a\n    token: '{READER}'\n    scopes: [read]\n"
            f"  - name: a\n    token: '{ADMIN}'\n    scopes: [admin]\n",
            ":5:5: error: the name 'a' is used twice",
        ),
    ],
)
def test_a_malformed_tokens_file_is_refused_with_its_line(
    tmp_path: Path, text: str, expected: str
) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_tokens(path)
    message = str(info.value)
    assert expected in message
    assert str(path) in message


def test_errors_never_repeat_a_token(tmp_path: Path) -> None:
    text = (
        f"tokens:\n  - name: a\n    token: '{READER}'\n    scopes: [read]\n"
        f"  - name: b\n    token: '{READER}'\n    scopes: [admin]\n"
        "  - name: c\n    token: 'sh0rt-s3cret'\n    scopes: [read]\n"
    )
    with pytest.raises(ConfigError) as info:
        load_tokens(_write(tmp_path, text))
    message = str(info.value)
    assert "also given to another name" in message and "12 characters" in message
    assert READER not in message and "sh0rt-s3cret" not in message


def test_a_missing_tokens_file_is_a_clear_error(tmp_path: Path, clock: FixedClock) -> None:
    with pytest.raises(ConfigError, match="POLICY_TOKENS_FILE .*cannot read it"):
        _app(clock, tokens_file=str(tmp_path / "absent.yaml"))


def test_start_is_refused_without_tokens_from_the_environment(clock: FixedClock) -> None:
    settings = Settings.from_env(
        {"POLICY_RULES_DIR": str(RULES_DIR), "POLICY_RELOAD_INTERVAL": "0"}
    )
    assert settings.dev_no_auth is False
    with pytest.raises(ConfigError, match="no POLICY_TOKENS_FILE"):
        _app(clock, dev_no_auth=False)


def test_the_dev_flag_starts_open_with_a_loud_warning(
    clock: FixedClock, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings.from_env({"POLICY_DEV_NO_AUTH": "true"})
    assert settings.dev_no_auth is True
    caplog.set_level(logging.WARNING, logger="policy_service")
    app = _app(clock, dev_no_auth="true")
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert any("ACCESS CONTROL IS OFF" in r.getMessage() for r in warnings)
    assert app.test_client().post("/v1/decisions", json=make_event()).status_code == 200
    app.extensions["policy_service"].policies.current().close()


def test_a_bad_boolean_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="POLICY_DEV_NO_AUTH must be true or false"):
        Settings.from_env({"POLICY_DEV_NO_AUTH": "maybe"})


def test_tokens_never_appear_in_the_logs(
    tmp_path: Path, clock: FixedClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    app = _app(clock, tokens_file=str(_write(tmp_path, TOKENS_YAML)))
    client = app.test_client()
    client.post("/v1/decisions", json=make_event(event_id="l1"), headers=_bearer(DECIDER))
    client.post("/v1/decisions", json=make_event(event_id="l2"), headers=_bearer(READER))
    client.post("/v1/decisions", json=make_event(event_id="l3"), headers=_bearer("x" * 40))
    client.post("/v1/admin/reload", headers=_bearer(ADMIN))
    app.extensions["policy_service"].policies.current().close()
    assert caplog.records
    logged = caplog.text + "".join(str(r.__dict__) for r in caplog.records)
    for token in (DECIDER, READER, ADMIN, NEXT_DECIDER, "x" * 40):
        assert token not in logged


def test_a_tokens_file_among_the_rule_files_is_refused(tmp_path: Path, clock: FixedClock) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    for source in RULES_DIR.glob("*.yaml"):
        (rules / source.name).write_text(source.read_text())
    tokens = rules / "tokens.yml"
    tokens.write_text(TOKENS_YAML)
    with pytest.raises(ConfigError, match="inside the rules directory"):
        _app(clock, rules_dir=rules, tokens_file=str(tokens))


def test_every_route_of_the_app_is_scoped_or_open(secured: Flask) -> None:
    endpoints = {rule.endpoint for rule in secured.url_map.iter_rules()}
    assert endpoints
    for endpoint in endpoints:
        assert (endpoint in ENDPOINT_SCOPES) != (endpoint in OPEN_ENDPOINTS), endpoint
    # Nothing listed that the app does not have (a renamed view would leave a stale entry).
    assert set(ENDPOINT_SCOPES) | OPEN_ENDPOINTS == endpoints


def test_a_route_without_access_rule_stops_the_start() -> None:
    with pytest.raises(ConfigError, match="endpoints without access rule.*api.extra"):
        check_classified(["api.healthz", "api.extra", "api.decide_one"])
    check_classified(list(ENDPOINT_SCOPES) + sorted(OPEN_ENDPOINTS))


@pytest.mark.parametrize("tokens", [True, False])
def test_a_view_no_rule_names_is_refused_to_everyone(
    tmp_path: Path, clock: FixedClock, tokens: bool
) -> None:
    config = {"tokens_file": str(_write(tmp_path, TOKENS_YAML))} if tokens else {}
    app = _app(clock, **config)
    # Added after the start's check, as a view registered late would be.
    app.add_url_rule("/v1/extra", endpoint="api.extra", view_func=lambda: "reached")
    client = app.test_client()
    try:
        for token in (ADMIN, READER, DECIDER, None):
            headers = _bearer(token) if token else {}
            response = client.get("/v1/extra", headers=headers)
            assert response.status_code == 403, token
            assert response.mimetype == "application/problem+json"
            assert b"reached" not in response.data
    finally:
        app.extensions["policy_service"].policies.current().close()


def test_the_document_declares_the_access_answers_of_every_scoped_route(secured: Flask) -> None:
    paths = secured.test_client().get("/openapi.json").get_json()["paths"]
    for rule in secured.url_map.iter_rules():
        if rule.endpoint == "api.openapi":
            continue
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
        methods = sorted((rule.methods or set()) - {"HEAD", "OPTIONS"})
        for method in methods:
            operation = paths[path][method.lower()]
            if rule.endpoint in ENDPOINT_SCOPES:
                assert {"bearer": []} in operation["security"], path
                assert {"401", "403", "429"} <= set(operation["responses"]), path
