"""Safety rails through the API on the default rules: folding, exemptions, one answer per author."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient

from policy_service.clock import FixedClock
from tests.conftest import NOW, make_event
from tests.test_metrics import scrape, total, value

SAFETY = {"tone": "negative", "severity": 4}  # serious-risk: escalate to the crisis team


def _decide(client: FlaskClient, **overrides: Any) -> dict[str, Any]:
    response = client.post("/v1/decisions", json=make_event(**overrides))
    assert response.status_code == 200, response.get_data(as_text=True)
    body: dict[str, Any] = response.get_json()
    return body


def _escalation(client: FlaskClient, n: int, clock: FixedClock) -> dict[str, Any]:
    clock.set(NOW + timedelta(seconds=n))  # the open escalation is the newest by the clock
    return _decide(
        client,
        event_id=f"risk-{n}",
        account="burst",
        text="my kid got sick after eating this",
        author={"id": f"parent{n}", "is_customer": True},
        signals=SAFETY,
    )


def test_escalations_past_the_hourly_cap_are_folded_into_the_open_one(
    client: FlaskClient, clock: FixedClock
) -> None:
    paged = [_escalation(client, n, clock) for n in range(5)]  # the default cap: 5 an hour
    assert [d["folded"] for d in paged] == [False] * 5
    extra = [_escalation(client, n, clock) for n in range(5, 8)]
    for decision in extra:
        assert decision["action"] == "escalate" and decision["rule"] == "serious-risk"
        assert decision["folded"] is True
        assert decision["folded_into"] == paged[-1]["decision_id"]
        assert decision["route"] == "crisis-team"
    # a duplicate of a folded escalation gets it again, folded
    again = _escalation(client, 6, clock)
    assert again["duplicate"] is True and again["folded"] is True
    assert again["folded_into"] == paged[-1]["decision_id"]
    # other accounts have their own cap
    assert _decide(client, event_id="elsewhere", signals=SAFETY)["folded"] is False
    # an hour after the first page a new one goes out
    assert _escalation(client, 3601, clock)["folded"] is False
    samples = scrape(client)
    assert value(samples, "policy_folded_total") == 3


@pytest.mark.parametrize("role", ["staff", "partner"])
def test_staff_and_partners_get_no_automated_reply_or_escalation(
    client: FlaskClient, role: str
) -> None:
    praise = _decide(
        client,
        event_id=f"p-{role}",
        text="Proud of this launch",
        author={"id": "insider", "role": role},
        signals={"tone": "positive"},
    )
    assert praise["action"] == "ignore" and praise["rule"] == "fan-praise"
    assert praise["rail"] == "exempt_author" and praise["rule_action"] == "reply_to_fans"
    assert praise["respond_within_seconds"] is None
    risk = _decide(
        client,
        event_id=f"r-{role}",
        author={"id": "insider2", "role": role},
        signals=SAFETY,
    )
    assert (risk["action"], risk["rail"], risk["rule_action"]) == (
        "ignore",
        "exempt_author",
        "escalate",
    )
    assert value(scrape(client), "policy_rails_total", rail="exempt_author") == 2


def test_public_authors_and_acknowledgements_are_not_exempt(client: FlaskClient) -> None:
    public = _decide(client, author={"id": "fan", "role": "public"}, signals={"tone": "positive"})
    assert public["action"] == "reply_to_fans" and public["rail"] is None
    staff_question = _decide(
        client,
        event_id="q1",
        text="do you ship to Belgium?",
        author={"id": "colleague", "role": "staff", "is_customer": True},
        signals={"tone": "neutral"},
    )
    assert staff_question["action"] == "acknowledge" and staff_question["rail"] is None


def test_an_author_is_not_answered_twice_within_the_hour(
    client: FlaskClient, clock: FixedClock
) -> None:
    fan = {"id": "fan7"}
    first = _decide(client, event_id="f1", author=fan, signals={"tone": "positive"})
    assert first["action"] == "reply_to_fans"
    second = _decide(client, event_id="f2", author=fan, signals={"tone": "positive"})
    assert (second["action"], second["rail"], second["rule_action"]) == (
        "ignore",
        "author_answered",
        "reply_to_fans",
    )
    # an ignored comment is no answer: it does not restart the hour
    clock.set(NOW + timedelta(minutes=61))
    third = _decide(client, event_id="f3", author=fan, signals={"tone": "positive"})
    assert third["action"] == "reply_to_fans"
    # another author is answered at once
    assert _decide(client, event_id="f4", author={"id": "fan8"})["action"] == "acknowledge"


def test_the_metrics_include_store_and_analyzer_latency(client: FlaskClient) -> None:
    _decide(client, signals={})  # the analyzer fills every signal
    samples = scrape(client)
    assert value(samples, "policy_store_seconds_count", operation="observe") == 1
    assert value(samples, "policy_store_seconds_count", operation="record") == 1
    assert value(samples, "policy_analyzer_seconds_count") == 1
    assert total(samples, "policy_rails_total") == 0
