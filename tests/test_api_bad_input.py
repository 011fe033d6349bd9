"""Bad input gets a clear problem document, never a 500, and loses nothing."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.conftest import make_event

PROBLEM = "application/problem+json"


def _problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM
    body: dict[str, Any] = response.get_json(force=True)
    assert body["status"] == status
    assert body["title"] and body["detail"]
    return body


def _still_works(client: FlaskClient, event_id: str = "c-123") -> None:
    """After a refused request the same event is decided normally (nothing was recorded)."""
    body = client.post("/v1/decisions", json=make_event(event_id=event_id)).get_json()
    assert body["duplicate"] is False


def test_malformed_json(client: FlaskClient) -> None:
    response = client.post(
        "/v1/decisions", data='{"event_id": "c-123",', content_type="application/json"
    )
    body = _problem(response, 400)
    assert "not valid JSON" in body["detail"]
    assert "line 1" in body["detail"]
    _still_works(client)


def test_body_that_is_not_utf8(client: FlaskClient) -> None:
    response = client.post("/v1/decisions", data=b'{"t": "\xff"}', content_type="application/json")
    _problem(response, 400)


@pytest.mark.parametrize("body", ["[]", "42", '"text"', "null"])
def test_json_that_is_not_an_object(client: FlaskClient, body: str) -> None:
    response = client.post("/v1/decisions", data=body, content_type="application/json")
    _problem(response, 422)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"author": {"id": "u1", "reach": "1200"}}, "author.reach"),
        ({"author": {"id": "u1", "reach": -1}}, "author.reach"),
        ({"author": {"id": "u1", "is_customer": "yes"}}, "author.is_customer"),
        ({"author": {"id": "u1", "is_customer": 1}}, "author.is_customer"),
        ({"signals": {"tone": "angry"}}, "signals.tone"),
        ({"signals": {"severity": 6}}, "signals.severity"),
        ({"signals": {"severity": 2.5}}, "signals.severity"),
        ({"signals": {"severity": "2"}}, "signals.severity"),
        ({"occurred_at": "yesterday"}, "occurred_at"),
        ({"occurred_at": "2026-11-25T10:00:00"}, "occurred_at"),  # no zone: ambiguous
        ({"text": 42}, "text"),
        ({"text": "x" * 10_001}, "text"),
        ({"thread": {"published_at": 5}}, "thread.published_at"),
        ({"lang": "French"}, "lang"),
    ],
)
def test_wrong_types_name_the_field(
    client: FlaskClient, overrides: dict[str, Any], field: str
) -> None:
    body = _problem(client.post("/v1/decisions", json=make_event(**overrides)), 422)
    assert field in body["errors"], body
    _still_works(client)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"occured_at": "2026-11-25T10:00:00Z"}, "occured_at"),
        ({"signals": {"tonne": "negative"}}, "signals.tonne"),
        ({"author": {"id": "u1", "followers": 10}}, "author.followers"),
    ],
)
def test_unknown_fields_are_refused(
    client: FlaskClient, overrides: dict[str, Any], field: str
) -> None:
    body = _problem(client.post("/v1/decisions", json=make_event(**overrides)), 422)
    assert body["errors"][field] == ["Unknown field."]


@pytest.mark.parametrize("missing", ["event_id", "account", "occurred_at", "author"])
def test_missing_required_fields(client: FlaskClient, missing: str) -> None:
    event = make_event()
    del event[missing]
    body = _problem(client.post("/v1/decisions", json=event), 422)
    assert body["errors"][missing] == ["Missing data for required field."]


def test_missing_author_id(client: FlaskClient) -> None:
    body = _problem(client.post("/v1/decisions", json=make_event(author={"reach": 3})), 422)
    assert "author.id" in body["errors"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("event_id", "c 123"),
        ("event_id", "c/123"),
        ("event_id", ""),
        ("event_id", "x" * 65),
        ("account", "{acme}"),
        ("account", "acme\n"),
        ("account", "acmé"),
    ],
)
def test_ids_with_other_characters(client: FlaskClient, field: str, value: str) -> None:
    body = _problem(client.post("/v1/decisions", json=make_event(**{field: value})), 422)
    assert field in body["errors"]


def test_body_over_64_kib_is_413(client: FlaskClient) -> None:
    event = make_event(text="x" * 9000, padding="y" * (70 * 1024))
    response = client.post("/v1/decisions", data=json.dumps(event), content_type="application/json")
    _problem(response, 413)
    _still_works(client)


def test_non_json_content_type_is_415(client: FlaskClient) -> None:
    response = client.post(
        "/v1/decisions", data=json.dumps(make_event()), content_type="text/plain"
    )
    body = _problem(response, 415)
    assert "application/json" in body["detail"]
    _still_works(client)


def test_no_content_type_is_415(client: FlaskClient) -> None:
    _problem(client.post("/v1/decisions", data=json.dumps(make_event())), 415)


def test_unknown_path_and_method_are_problems_too(client: FlaskClient) -> None:
    _problem(client.get("/v1/nothing"), 404)
    response = client.get("/v1/decisions")
    _problem(response, 405)
    assert "POST" in response.headers["Allow"]


def test_batch_over_500_events(client: FlaskClient) -> None:
    events = [make_event(event_id=f"e{i}", text="") for i in range(501)]
    body = _problem(client.post("/v1/decisions/batch", json={"events": events}), 422)
    assert "events" in body["errors"]
    # Nothing of the refused batch was decided.
    _still_works(client, "e0")


def test_batch_over_4_mib(client: FlaskClient) -> None:
    events = [make_event(event_id=f"e{i}", text="z" * 9_000) for i in range(480)]
    _problem(client.post("/v1/decisions/batch", json={"events": events}), 413)


@pytest.mark.parametrize(
    "body", [{"events": []}, {"events": "x"}, {"evnts": []}, {"events": [], "extra": 1}, []]
)
def test_batch_shape_errors(client: FlaskClient, body: Any) -> None:
    _problem(client.post("/v1/decisions/batch", json=body), 422)


def test_invalid_account_in_state_path(client: FlaskClient) -> None:
    body = _problem(client.get("/v1/accounts/acme%7B1%7D/state"), 422)
    assert "account" in body["errors"]


def test_batch_items_that_are_null_get_their_own_errors(client: FlaskClient) -> None:
    events = [None, make_event(event_id="fine")]
    results = client.post("/v1/decisions/batch", json={"events": events}).get_json()["results"]
    assert results[0]["error"]["status"] == 422
    assert results[1]["event_id"] == "fine"


def _post_stream(client: FlaskClient, body: bytes | io.RawIOBase, length: str | None) -> Any:
    """A POST whose body comes as a stream (bytes, or a stream of its own): with
    the given CONTENT_LENGTH, or none at all and the input marked terminated, as
    a server gives a chunked body."""
    stream = io.BytesIO(body) if isinstance(body, bytes) else body
    overrides: dict[str, Any] = {"wsgi.input": stream}
    if length is None:
        overrides["wsgi.input_terminated"] = True
    else:
        overrides["CONTENT_LENGTH"] = length
    return client.post(
        "/v1/decisions",
        content_type="application/json",
        environ_overrides=overrides,
    )


def test_a_body_without_a_declared_length_is_read_to_its_end(client: FlaskClient) -> None:
    body = json.dumps(make_event(event_id="chunked-1")).encode()
    response = _post_stream(client, body, None)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["event_id"] == "chunked-1"


def test_a_body_without_a_declared_length_over_64_kib_is_413(client: FlaskClient) -> None:
    event = make_event(event_id="chunked-2", padding="y" * (70 * 1024))
    _problem(_post_stream(client, json.dumps(event).encode(), None), 413)
    _still_works(client, "chunked-2")


@pytest.mark.parametrize("length", ["abc", "-5", "\u0661\u0662", "9" * 30, " 12", "70000"])
def test_a_content_length_that_is_no_plain_number_within_the_limit_is_refused(
    client: FlaskClient, length: str
) -> None:
    # Never read as a length, never a 500: werkzeug refuses it (400 or 413).
    body = json.dumps(make_event(event_id="odd-length")).encode()
    response = _post_stream(client, body, length)
    assert response.status_code in (400, 413), response.status_code
    assert response.mimetype == PROBLEM
    _still_works(client, "odd-length")


def test_a_body_shorter_than_its_declared_length_is_a_400(client: FlaskClient) -> None:
    body = json.dumps(make_event(event_id="short-1")).encode()
    # Even when what came is valid JSON on its own.
    for sent in (body[:-10], body):
        response = _post_stream(client, sent, str(len(body) + 40))
        assert "incomplete" in _problem(response, 400)["detail"]
    _still_works(client, "short-1")


class _BrokenInput(io.RawIOBase):
    """A server's input whose client went away in the middle of the body."""

    def read(self, size: int = -1) -> bytes:
        raise OSError("connection reset by peer")


@pytest.mark.parametrize("length", ["120", None])
def test_a_body_that_breaks_off_is_a_400(client: FlaskClient, length: str | None) -> None:
    response = _post_stream(client, _BrokenInput(), length)
    assert "could not be read" in _problem(response, 400)["detail"]
    _still_works(client, "broken-1")
