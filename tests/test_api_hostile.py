"""Hostile input in every field: a clear answer (never a 500), nothing counted, no forged log line."""

from __future__ import annotations

import itertools
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from flask.testing import FlaskClient

from policy_service.app import create_app
from policy_service.clock import FixedClock
from policy_service.logs import JsonFormatter
from tests.conftest import NOW, RULES_DIR, make_event

NEWLINE = "a\nb"
NUL = "a\x00b"
LONG = "x" * 10_000
HASH_TAG = "{acme}"
CYRILLIC_A = "\u0430cme"  # looks like "acme"
ZERO_WIDTH = "acme\u200b"
FULL_WIDTH = "\uff41\uff43\uff4d\uff45"
RTL_OVERRIDE = "acme\u202e"
HOSTILE = [NEWLINE, NUL, LONG, HASH_TAG, CYRILLIC_A, ZERO_WIDTH, FULL_WIDTH, RTL_OVERRIDE]
_SEQUENCE = itertools.count()
_IDS = ["hostile-newline", "nul", "long", "hash-tag", "cyrillic", "zero-width", "full-width", "rtl"]


@pytest.fixture(scope="module")
def client() -> Iterator[FlaskClient]:
    """One app for the module: refused requests leave nothing behind, and every
    accepted one has its own event id."""
    app = create_app(
        {"rules_dir": RULES_DIR, "state_url": "memory://", "reload_interval": 0},
        clock=FixedClock(NOW),
    )
    yield app.test_client()
    app.extensions["policy_service"].policies.current().close()


def _with(path: str, value: Any) -> dict[str, Any]:
    """The example event (its own event id) with one field (dotted path) set to `value`."""
    event = make_event(event_id=f"e{next(_SEQUENCE)}")
    *parents, leaf = path.split(".")
    target = event
    for name in parents:
        target[name] = dict(target[name])
        target = target[name]
    target[leaf] = value
    return event


def _volume(client: FlaskClient, account: str = "acme") -> int:
    volume: int = client.get(f"/v1/accounts/{account}/state").get_json()["windows"]["1h"]["volume"]
    return volume


def _refused(client: FlaskClient, body: Any, status: int = 422, **kwargs: Any) -> dict[str, Any]:
    before = _volume(client)
    response = client.post("/v1/decisions", json=body, **kwargs)
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    problem: dict[str, Any] = response.get_json(force=True)
    assert problem["status"] == status and problem["detail"]
    assert _volume(client) == before  # nothing counted
    return problem


# Ids become log fields and store keys: only letters, digits and ._:- get in.
@pytest.mark.parametrize("value", HOSTILE, ids=_IDS)
@pytest.mark.parametrize("path", ["event_id", "account", "author.id", "thread.id"])
def test_hostile_ids_are_refused_naming_the_field(
    client: FlaskClient, path: str, value: str
) -> None:
    assert path in _refused(client, _with(path, value))["errors"]


# Free text is the comment itself: anything printable or not is decided on, up to 10k.
@pytest.mark.parametrize("value", HOSTILE, ids=_IDS)
def test_hostile_text_is_decided(client: FlaskClient, value: str) -> None:
    response = client.post("/v1/decisions", json=_with("text", value))
    assert response.status_code == 200
    assert response.get_json()["signals"]["tone"]["source"] == "caller"


@pytest.mark.parametrize("value", [NEWLINE, NUL, HASH_TAG, CYRILLIC_A, ZERO_WIDTH, RTL_OVERRIDE])
def test_hostile_channel_names_are_only_labels(client: FlaskClient, value: str) -> None:
    assert client.post("/v1/decisions", json=_with("channel", value)).status_code == 200


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("channel", LONG),
        ("lang", NEWLINE),
        ("lang", "en\x00"),
        ("lang", FULL_WIDTH),
        ("signals.tone", "negative\n"),
        ("signals.tone", "n\u0435gative"),  # Cyrillic e
        ("signals.topics", ["refund\x00"]),
        ("author.role", "staff\n"),
        ("author.role", "\u0455taff"),  # Cyrillic s
        ("occurred_at", "2026-11-25T10:00:00Z\n"),
        ("occurred_at", "2026-11-25T10:00:00Z\x00"),
        ("occurred_at", LONG),
        ("thread.published_at", "２０２６-11-25T08:00:00Z"),
    ],
)
def test_hostile_values_of_closed_fields_are_refused(
    client: FlaskClient, path: str, value: Any
) -> None:
    assert any(field.startswith(path) for field in _refused(client, _with(path, value))["errors"])


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("author.reach", 10**10 + 1),
        ("author.reach", 2**63),
        ("author.reach", -(2**63)),
        ("author.reach", 1.5),
        ("signals.severity", 2**64),
        ("signals.severity", -1),
        ("signals.arousal", 1e308),
        ("signals.arousal", -1e-9),
        ("occurred_at", "9999-12-31T23:59:59Z"),  # from the future: refused, not counted
        ("occurred_at", "2026-13-01T00:00:00Z"),
        ("thread.published_at", "+275760-09-13T00:00:00Z"),
    ],
)
def test_numbers_and_times_out_of_range_are_refused(
    client: FlaskClient, path: str, value: Any
) -> None:
    problem = _refused(client, _with(path, value))
    assert path in problem.get("errors", {}) or "ahead of the service's clock" in problem["detail"]


@pytest.mark.parametrize(
    ("path", "value"),
    [("signals.arousal", 1e-320), ("signals.arousal", 0.0), ("author.reach", 10**10)],
)
def test_numbers_at_the_edges_are_decided(client: FlaskClient, path: str, value: Any) -> None:
    assert client.post("/v1/decisions", json=_with(path, value)).status_code == 200


@pytest.mark.parametrize(
    "raw",
    [
        '{"n": 1' + "0" * 400 + "}",  # beyond a double
        '{"n": 1e400}',
        '{"n": NaN}',
        '{"n": -Infinity}',
        '{"t": "\\ud800"}',  # a lone surrogate
    ],
)
def test_numbers_and_strings_json_cannot_hold_are_400(client: FlaskClient, raw: str) -> None:
    _refused(client, None, 400, data=raw, content_type="application/json")


def test_duplicate_keys_take_the_last_value(client: FlaskClient) -> None:
    """Documented (README): as most JSON parsers do, the last of duplicate keys wins."""
    body = json.dumps(make_event(event_id="first"))[:-1] + ', "event_id": "second"}'
    decision = client.post("/v1/decisions", data=body, content_type="application/json").get_json()
    assert decision["event_id"] == "second"
    nested = '{"author": {"id": "u1", "id": "bad id"},' + json.dumps(make_event())[1:]
    # the later "author" (make_event's) wins as a whole: a valid event
    assert (
        client.post("/v1/decisions", data=nested, content_type="application/json").status_code
        == 200
    )
    inner = json.dumps(make_event(event_id="inner"))[:-1]
    inner += ', "author": {"id": "u1", "id": "bad id"}}'
    problem = _refused(client, None, data=inner, content_type="application/json")
    assert "author.id" in problem["errors"]


def test_deep_nesting_is_refused(client: FlaskClient) -> None:
    deep: Any = "u1"
    for _ in range(500):
        deep = [deep]
    assert "author.id" in _refused(client, _with("author.id", deep))["errors"]
    nested = _with("signals.tone", {"a": {"b": {"c": "negative"}}})
    assert "signals.tone" in _refused(client, nested)["errors"]
    too_deep = "[" * 5000 + "]" * 5000
    problem = _refused(client, None, 400, data=too_deep, content_type="application/json")
    assert "recursion" in problem["detail"]
    batch = client.post("/v1/decisions/batch", json={"events": [deep, make_event(event_id="ok")]})
    results = batch.get_json()["results"]
    assert results[0]["error"]["status"] == 422 and results[1]["event_id"] == "ok"


def test_no_input_forges_a_log_line(client: FlaskClient, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    for value in HOSTILE:
        for path in ("text", "channel", "event_id", "author.id", "lang"):
            client.post("/v1/decisions", json=_with(path, value))
        client.post("/v1/decisions", json=_with("event_id", value), headers={"X-Request": "a b"})
    client.get("/v1/accounts/a%0Ab/state")
    assert any(r.getMessage() == "decision" for r in caplog.records)
    formatter = JsonFormatter()
    for record in caplog.records:
        line = formatter.format(record)
        assert "\n" not in line and "\r" not in line
        json.loads(line)
