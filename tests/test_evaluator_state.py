"""The default policy on live state: a wave of comments moves the level, rules follow it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient

from policy_service import engine
from policy_service.clock import FixedClock
from tests.conftest import NOW, make_event


def _post(client: FlaskClient, **overrides: Any) -> dict[str, Any]:
    response = client.post("/v1/decisions", json=make_event(**overrides))
    assert response.status_code == 200, response.get_json()
    body: dict[str, Any] = response.get_json()
    return body


def _at(minutes_before_now: float) -> str:
    return (NOW - timedelta(minutes=minutes_before_now)).isoformat().replace("+00:00", "Z")


def _negative(client: FlaskClient, i: int, minutes_before_now: float) -> dict[str, Any]:
    return _post(
        client,
        event_id=f"n{i}",
        occurred_at=_at(minutes_before_now),
        author={"id": f"critic{i}", "is_customer": True},
        thread=None,
        signals={"tone": "negative", "severity": 2, "constructive": False},
    )


def test_a_wave_of_negative_comments_moves_the_account_into_crisis(client: FlaskClient) -> None:
    decisions = [_negative(client, i, 59 - i) for i in range(55)]
    levels = [d["state"]["crisis_level"] for d in decisions]
    assert levels[0] == "calm"
    assert levels[19] == "watch"  # 20 comments, all negative
    assert levels[49] == "crisis"  # 50 comments, velocity 50
    assert decisions[48]["rule"] == "customer-complaint"
    assert decisions[49]["rule"] == "crisis-negative"
    assert decisions[54]["state"]["volume_1h"] == 55
    assert decisions[54]["state"]["negative_share_1h"] == 1.0
    # Fans are still answered during the crisis.
    praise = _post(client, event_id="fan", occurred_at=_at(1), signals={"tone": "positive"})
    assert (praise["action"], praise["rule"]) == ("reply_to_fans", "crisis-fan-support")
    state = client.get("/v1/accounts/acme/state").get_json()
    assert state["crisis_level"] == "crisis"
    assert [(t["from"], t["to"]) for t in state["transitions"]] == [
        ("watch", "crisis"),
        ("calm", "watch"),
    ]
    assert state["windows"]["1h"]["volume"] == 56


def test_minutes_in_crisis_comes_from_the_clock(client: FlaskClient, clock: FixedClock) -> None:
    for i in range(50):
        _negative(client, i, 50 - i)
    # The 50th comment, posted a minute before NOW, started the crisis.
    assert client.get("/v1/accounts/acme/state").get_json()["since"] == _at(1)
    clock.set(NOW + timedelta(minutes=30))
    body = _post(client, event_id="later", occurred_at=_at(-29), signals={"tone": "negative"})
    assert body["state"]["crisis_level"] == "crisis"
    assert body["time"]["minutes_in_crisis"] == 31.0
    assert body["time"]["minutes_since_comment"] == 1.0


def test_a_repeat_critic_is_not_answered_again_and_again(client: FlaskClient) -> None:
    rules = [
        _post(
            client,
            event_id=f"r{i}",
            occurred_at=_at(30 - i),
            author={"id": "same-critic", "is_customer": True},
            signals={"tone": "negative", "severity": 2, "constructive": False},
        )["rule"]
        for i in range(4)
    ]
    assert rules == ["customer-complaint", "customer-complaint", "repeat-critic", "repeat-critic"]


def test_a_burst_under_a_brand_post_escalates_to_review_it(client: FlaskClient) -> None:
    rules = [
        _post(
            client,
            event_id=f"p{i}",
            occurred_at=_at(20 - i),
            author={"id": f"viewer{i}", "is_customer": False},
            thread={"id": "ad-42", "by_brand": True},
            signals={"tone": "negative", "severity": 1, "constructive": False},
        )["rule"]
        for i in range(11)
    ]
    assert rules[:9] == ["emotional-non-customer"] * 9
    assert rules[9:] == ["posting-mistake", "posting-mistake"]


def test_an_event_from_the_future_is_refused_and_not_counted(client: FlaskClient) -> None:
    response = client.post("/v1/decisions", json=make_event(occurred_at=_at(-6)))
    assert response.status_code == 422
    assert "ahead of the service's clock" in response.get_json()["detail"]
    assert client.get("/v1/accounts/acme/state").get_json()["windows"]["1h"]["volume"] == 0
    # Within the drift tolerance it is accepted.
    assert _post(client, occurred_at=_at(-4))["duplicate"] is False


def test_an_event_far_in_the_past_is_decided_but_not_counted(client: FlaskClient) -> None:
    _post(client, event_id="recent", occurred_at=_at(1))
    old = _post(client, event_id="old", occurred_at=_at(3 * 24 * 60))
    assert old["rule"] == "stale-comment"
    windows = client.get("/v1/accounts/acme/state").get_json()["windows"]
    assert windows["1h"]["volume"] == 1
    assert windows["24h"]["volume"] == 1
    # ... and it is still deduplicated.
    assert _post(client, event_id="old", occurred_at=_at(3 * 24 * 60))["duplicate"] is True


def test_an_unknown_account_has_a_calm_empty_state(client: FlaskClient) -> None:
    state = client.get("/v1/accounts/nobody/state").get_json()
    assert state["crisis_level"] == "calm"
    assert state["windows"]["1h"]["volume"] == 0
    assert state["transitions"] == []


def test_a_decision_that_fails_once_is_decided_on_the_next_copy_and_counted_once(
    client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The engine's C core fails on the first fact (as it does on a corrupt state).
    real = engine._core.assert_fact
    calls = {"n": 0}

    def fail_once(handle: Any, text: str) -> Any:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("error code: 102")
        return real(handle, text)

    monkeypatch.setattr(engine._core, "assert_fact", fail_once)
    failed = client.post("/v1/decisions", json=make_event(event_id="flaky"))
    assert failed.status_code == 500
    again = client.post("/v1/decisions", json=make_event(event_id="flaky")).get_json()
    assert again["duplicate"] is False and again["rule"] == "constructive-criticism"
    assert client.get("/v1/accounts/acme/state").get_json()["windows"]["1h"]["volume"] == 1
    third = client.post("/v1/decisions", json=make_event(event_id="flaky")).get_json()
    assert third["duplicate"] is True
