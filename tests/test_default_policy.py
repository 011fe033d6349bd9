"""The default policy in rules/default.yaml: its inline tests, and its cases through the API."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from flask.testing import FlaskClient

from policy_service.loaded_policy import LoadedPolicy, load
from policy_service.ruletests import run_one, run_tests
from tests.conftest import RULES_DIR, make_event


@pytest.fixture(scope="module")
def policy() -> Iterator[LoadedPolicy]:
    loaded = load(RULES_DIR, datetime(2026, 1, 1, tzinfo=UTC))
    yield loaded
    loaded.close()


def _inline_tests() -> list[Any]:
    loaded = load(RULES_DIR, datetime(2026, 1, 1, tzinfo=UTC))
    try:
        return [
            pytest.param(name, index, id=f"{name}: {test.name}")
            for name, rs in loaded.rulesets.items()
            for index, test in enumerate(rs.ruleset.tests)
        ]
    finally:
        loaded.close()


@pytest.mark.parametrize(("ruleset", "index"), _inline_tests())
def test_inline_rule_tests(policy: LoadedPolicy, ruleset: str, index: int) -> None:
    test = policy.rulesets[ruleset].ruleset.tests[index]
    outcome = run_one(policy, ruleset, test, index)
    assert outcome.passed, outcome.failures


def test_every_default_rule_wins_at_least_one_test(policy: LoadedPolicy) -> None:
    assert run_tests(policy).uncovered["default"] == []


def _decide(client: FlaskClient, **overrides: Any) -> dict[str, Any]:
    response = client.post("/v1/decisions", json=make_event(**overrides))
    assert response.status_code == 200, response.get_json()
    body: dict[str, Any] = response.get_json()
    return body


def test_praise_from_a_fan_is_answered(client: FlaskClient) -> None:
    body = _decide(client, text="Love it!", signals={"tone": "positive"})
    assert (body["action"], body["rule"]) == ("reply_to_fans", "fan-praise")


def test_a_factual_customer_complaint_is_acknowledged(client: FlaskClient) -> None:
    signals = {"tone": "negative", "severity": 2, "constructive": False}
    body = _decide(client, text="Where is my order?", signals=signals)
    assert (body["action"], body["route"]) == ("acknowledge", "support")
    assert body["respond_within_seconds"] == 3600


def test_a_customer_question_is_acknowledged(client: FlaskClient) -> None:
    body = _decide(client, text="Do you ship to Belgium?", signals={"tone": "neutral"})
    assert (body["action"], body["rule"]) == ("acknowledge", "customer-question")


def test_constructive_criticism_goes_to_product(client: FlaskClient) -> None:
    body = _decide(client)
    assert (body["action"], body["route"]) == ("acknowledge", "product")


def test_an_emotional_non_customer_attack_is_not_confronted(client: FlaskClient) -> None:
    body = _decide(
        client,
        author={"id": "troll", "reach": 40, "is_customer": False},
        signals={"tone": "negative", "severity": 1, "constructive": False},
    )
    assert (body["action"], body["rule"]) == ("ignore", "emotional-non-customer")


@pytest.mark.parametrize(
    ("signals", "rule"),
    [
        ({"tone": "hostile", "severity": 2}, "insult"),
        ({"tone": "negative", "severity": 5}, "threat-or-hate"),
    ],
)
def test_insults_and_threats_are_escalated_without_public_answer(
    client: FlaskClient, signals: dict[str, Any], rule: str
) -> None:
    body = _decide(client, signals=signals)
    assert (body["action"], body["rule"]) == ("escalate", rule)
    assert "no public" in body["guidance"].lower() or "not answer publicly" in body["guidance"]


def test_a_negative_multiplier_is_escalated_to_the_crisis_team(client: FlaskClient) -> None:
    body = _decide(
        client,
        author={"id": "star", "reach": 10_000, "is_customer": True},
        signals={"tone": "negative", "severity": 2, "constructive": False},
    )
    assert (body["action"], body["route"]) == ("escalate", "crisis-team")


def test_a_stale_comment_is_ignored(client: FlaskClient) -> None:
    # The test clock reads 2026-11-25T10:30Z.
    body = _decide(client, occurred_at="2026-11-22T10:00:00Z", signals={"tone": "negative"})
    assert (body["action"], body["rule"]) == ("ignore", "stale-comment")
