"""The REST contract: what callers send and what they get back."""

from __future__ import annotations

from pathlib import Path

import flask
import pytest
from flask.testing import FlaskClient

from policy_service.analysis.trained import TrainedToneModel
from policy_service.app import create_app
from policy_service.clock import FixedClock
from tests.conftest import NOW, RULES_DIR, make_event


def test_decision_names_everything_a_caller_needs(client: FlaskClient) -> None:
    response = client.post("/v1/decisions", json=make_event())
    assert response.status_code == 200
    body = response.get_json()
    assert body["event_id"] == "c-123"
    assert body["account"] == "acme"
    assert body["action"] == "acknowledge"
    assert body["rule"] == "constructive-criticism"
    assert body["matched_rules"][0] == body["rule"]
    assert body["matched_rules"] == [
        "constructive-criticism",
        "customer-complaint",
        "nothing-to-do",
    ]
    assert body["route"] == "product"
    assert body["respond_within_seconds"] == 4 * 3600
    assert body["guidance"]
    assert body["ruleset"]["name"] == "default"
    assert len(body["ruleset"]["revision"]) == 12
    assert body["signals"]["tone"] == {"value": "negative", "source": "caller"}
    assert body["state"]["crisis_level"] == "calm"
    assert body["duplicate"] is False
    assert body["decision_id"].startswith("d-")
    assert body["decided_at"] == "2026-11-25T10:30:00Z"


def test_missing_signals_come_from_the_analyzer_and_say_so(client: FlaskClient) -> None:
    event = make_event(text="The app crashes every time I open it!!! Fix it", lang=None)
    del event["signals"]
    body = client.post("/v1/decisions", json=event).get_json()
    source = "analyzer:lexicon@1"
    assert body["signals"]["tone"] == {"value": "negative", "source": source}
    assert body["signals"]["lang"] == {"value": "en", "source": source}
    assert {s["source"] for s in body["signals"].values()} == {source}


def test_partly_given_signals_are_completed(client: FlaskClient) -> None:
    event = make_event(signals={"tone": "positive"})
    body = client.post("/v1/decisions", json=event).get_json()
    assert body["signals"]["tone"] == {"value": "positive", "source": "caller"}
    assert body["signals"]["severity"]["source"] == "analyzer:lexicon@1"
    assert body["signals"]["lang"] == {"value": "en", "source": "caller"}


def test_without_an_analyzer_missing_signals_are_marked_defaults(clock: FixedClock) -> None:
    config = {"rules_dir": RULES_DIR, "reload_interval": 0, "analyzer": "none"}
    client = create_app(config, clock=clock).test_client()
    event = make_event()
    del event["signals"]
    body = client.post("/v1/decisions", json=event).get_json()
    assert body["signals"]["tone"] == {"value": "neutral", "source": "default"}
    assert body["signals"]["severity"] == {"value": 0, "source": "default"}
    assert body["signals"]["constructive"] == {"value": False, "source": "default"}
    assert body["signals"]["topics"] == {"value": [], "source": "default"}


def test_only_required_fields_are_enough(client: FlaskClient) -> None:
    event = {
        "event_id": "e1",
        "account": "acme",
        "occurred_at": "2026-11-25T10:00:00+01:00",
        "author": {"id": "u1"},
    }
    response = client.post("/v1/decisions", json=event)
    assert response.status_code == 200
    assert response.get_json()["rule"] == "nothing-to-do"


def test_a_duplicate_gets_the_first_answer_marked_duplicate(client: FlaskClient) -> None:
    first = client.post("/v1/decisions", json=make_event()).get_json()
    # Same id, different content: the first answer stands, the event is not decided again.
    again = client.post("/v1/decisions", json=make_event(signals={"tone": "positive"})).get_json()
    assert again["duplicate"] is True
    assert {k: v for k, v in again.items() if k != "duplicate"} == {
        k: v for k, v in first.items() if k != "duplicate"
    }


def test_the_same_event_id_on_another_account_is_not_a_duplicate(client: FlaskClient) -> None:
    client.post("/v1/decisions", json=make_event())
    other = client.post("/v1/decisions", json=make_event(account="other-brand")).get_json()
    assert other["duplicate"] is False


def test_batch_answers_in_order_and_isolates_bad_events(client: FlaskClient) -> None:
    events = [
        make_event(event_id="b1", signals={"tone": "positive"}),
        make_event(event_id="b 2"),
        "not an object",
        make_event(event_id="b3", signals={"tone": "hostile", "severity": 5}),
    ]
    response = client.post("/v1/decisions/batch", json={"events": events})
    assert response.status_code == 200
    results = response.get_json()["results"]
    assert len(results) == 4
    assert results[0]["action"] == "reply_to_fans"
    assert results[1]["error"]["status"] == 422
    assert "event_id" in results[1]["error"]["errors"]
    assert results[2]["error"]["status"] == 422
    assert results[3]["rule"] == "threat-or-hate"
    # The bad event was not remembered: sent again corrected, it is decided, not a duplicate.
    fixed = client.post("/v1/decisions", json=make_event(event_id="b2")).get_json()
    assert fixed["duplicate"] is False


def test_batch_marks_duplicates_within_the_batch(client: FlaskClient) -> None:
    events = [make_event(event_id="same"), make_event(event_id="same")]
    results = client.post("/v1/decisions/batch", json={"events": events}).get_json()["results"]
    assert [r["duplicate"] for r in results] == [False, True]


def test_probes(client: FlaskClient) -> None:
    assert client.get("/healthz").get_json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.get_json()["checks"]["store"] == "up"


def test_rulesets_lists_the_active_revision(client: FlaskClient) -> None:
    body = client.get("/v1/rulesets").get_json()
    decision = client.post("/v1/decisions", json=make_event()).get_json()
    assert body["revision"] == decision["ruleset"]["revision"]
    assert body["rulesets"][0]["name"] == "default"
    assert body["rulesets"][0]["rules"] >= 7


def test_openapi_is_generated_from_the_validating_schemas(client: FlaskClient) -> None:
    spec = client.get("/openapi.json").get_json()
    assert spec["openapi"].startswith("3.")
    event = spec["components"]["schemas"]["Event"]
    assert set(event["required"]) == {"event_id", "account", "occurred_at", "author"}
    assert event["additionalProperties"] is False
    assert "/v1/decisions" in spec["paths"]
    assert "/v1/decisions/batch" in spec["paths"]
    decision = spec["components"]["schemas"]["Decision"]
    assert {"action", "rule", "matched_rules", "ruleset", "duplicate"} <= set(decision["required"])


def test_caller_topics_arousal_and_language_are_used_and_marked(client: FlaskClient) -> None:
    event = make_event(
        lang="fr",
        signals={
            "tone": "negative",
            "severity": 2,
            "topics": ["refund", "legal", "refund"],
            "arousal": 0.5,
        },
    )
    body = client.post("/v1/decisions", json=event).get_json()
    assert body["signals"]["topics"] == {"value": ["legal", "refund"], "source": "caller"}
    assert body["signals"]["arousal"] == {"value": 0.5, "source": "caller"}
    assert body["signals"]["lang"] == {"value": "fr", "source": "caller"}


def test_unknown_topics_and_out_of_range_arousal_are_refused(client: FlaskClient) -> None:
    event = make_event(signals={"topics": ["weather"], "arousal": 1.5})
    body = client.post("/v1/decisions", json=event).get_json()
    assert body["status"] == 422
    assert set(body["errors"]) == {"signals.topics.0", "signals.arousal"}


def test_a_trained_tone_model_is_loaded_from_the_configured_directory(
    clock: FixedClock, tmp_path: Path
) -> None:
    texts = ["love it", "great team", "awful service", "terrible delay", "ok", "fine I guess"] * 5
    labels = ["positive", "positive", "negative", "negative", "neutral", "neutral"] * 5
    model = TrainedToneModel.train(texts, labels, trained_at=NOW)
    model.save(tmp_path / "model")
    config = {
        "rules_dir": RULES_DIR,
        "reload_interval": 0,
        "analyzer_model": str(tmp_path / "model"),
    }
    client = create_app(config, clock=clock).test_client()
    event = make_event(text="awful service")
    del event["signals"]
    body = client.post("/v1/decisions", json=event).get_json()
    assert body["signals"]["tone"] == {
        "value": "negative",
        "source": f"analyzer:trained@{model.version}",
    }


def test_the_api_keeps_no_sessions(client: FlaskClient) -> None:
    first = client.post("/v1/decisions", json=make_event(event_id="no-session-1"))
    second = client.post("/v1/decisions", json=make_event(event_id="no-session-2"))
    assert first.status_code == second.status_code == 200
    assert "Set-Cookie" not in first.headers and "Set-Cookie" not in second.headers
    app = client.application
    with app.test_request_context("/healthz"):
        # A null session refuses to hold anything.
        with pytest.raises(RuntimeError):
            flask.session["user"] = "x"
        first_session = flask.session._get_current_object()  # type: ignore[attr-defined]
    with app.test_request_context("/healthz"):
        # One of its own per request: what one request does to it, no other sees.
        assert flask.session._get_current_object() is not first_session  # type: ignore[attr-defined]
        assert dict(flask.session) == {}
