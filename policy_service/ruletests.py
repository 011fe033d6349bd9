"""Run the inline tests of rule files through the same Evaluator as the service."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cache
from typing import Any

import marshmallow as ma

from policy_service.analysis import Analyzer, TextSignals
from policy_service.analysis.lexicon import LexiconAnalyzer
from policy_service.clock import FixedClock
from policy_service.evaluator import Evaluator
from policy_service.events import Event, parse_event
from policy_service.loaded_policy import FixedPolicy, LoadedPolicy
from policy_service.ruleset.model import RuleTest
from policy_service.state import RailsMarks
from policy_service.state.memory import MemoryStore

# What a test event gets when it does not say: rule authors write only what
# matters to the case.
EVENT_DEFAULTS: Mapping[str, Any] = {
    "account": "rule-test",
    "occurred_at": "2026-01-01T12:00:00Z",
    "author": {"id": "test-author"},
}


@dataclass
class TestOutcome:
    ruleset: str
    path: str
    test: RuleTest
    passed: bool
    failures: list[str] = field(default_factory=list)
    decision: dict[str, Any] | None = None

    @property
    def location(self) -> str:
        return f"{self.path}:{self.test.pos.line}"


@dataclass
class TestReport:
    outcomes: list[TestOutcome]
    # rule set name -> ids of rules that no test made the winner
    uncovered: dict[str, list[str]]

    @property
    def failed(self) -> list[TestOutcome]:
        return [o for o in self.outcomes if not o.passed]


@cache
def test_analyzer() -> Analyzer:
    """What fills the signals a test event leaves out: always the built-in lexicon
    analyzer, whatever the service runs with, so a rule file's tests mean the same
    on every machine and in every configuration."""
    return TextSignals(LexiconAnalyzer())


def run_tests(policy: LoadedPolicy, analyzer: Analyzer | None = None) -> TestReport:
    """Run every inline test of every rule set of `policy` (`analyzer`: see test_analyzer)."""
    outcomes: list[TestOutcome] = []
    uncovered: dict[str, list[str]] = {}
    for name, loaded in sorted(policy.rulesets.items()):
        won: set[str] = set()
        for index, test in enumerate(loaded.ruleset.tests):
            outcome = run_one(policy, name, test, index, analyzer)
            outcomes.append(outcome)
            if outcome.decision is not None:
                won.add(outcome.decision["rule"])
        uncovered[name] = [r.id for r in loaded.ruleset.rules if r.id not in won]
    return TestReport(outcomes, uncovered)


def run_one(
    policy: LoadedPolicy,
    ruleset: str,
    test: RuleTest,
    index: int,
    analyzer: Analyzer | None = None,
) -> TestOutcome:
    """One test on a fresh memory store, with the clock at occurred_at + after."""
    path = policy.rulesets[ruleset].ruleset.path
    data = {**EVENT_DEFAULTS, "event_id": f"test-{index + 1}", **test.event}
    try:
        event = parse_event(data)
    except ma.ValidationError as exc:
        return TestOutcome(ruleset, path, test, False, [f"invalid test event: {exc.messages}"])
    clock = FixedClock(event.occurred_at + timedelta(seconds=test.after_seconds))
    store = MemoryStore()
    if test.rails:
        given_rails(store, event, test.rails, int(clock.now().timestamp() * 1000))
    evaluator = Evaluator(FixedPolicy(policy), store, clock, analyzer or test_analyzer())
    decision, _ = evaluator.decide(event, ruleset=ruleset, given_state=test.state)
    failures = [
        f"expected {key} {want!r}, got {decision.get(key)!r}"
        for key, want in test.expect.items()
        if decision.get(key) != want
    ]
    return TestOutcome(ruleset, path, test, not failures, failures, decision)


def given_rails(store: MemoryStore, event: Event, given: Mapping[str, int], now_ms: int) -> None:
    """Put a test's rails state into the store the way decisions would have left it."""
    escalations = given.get("escalations_1h", 0)
    for n in range(escalations):
        marks = RailsMarks(now_ms, f"d-earlier-escalation-{n + 1}", escalation_cap=escalations)
        store.record(event.account, f"earlier-escalation-{n + 1}", {}, marks)
    if "author_answered" in given:
        ago_ms = given["author_answered"] * 1000
        marks = RailsMarks(
            now_ms - ago_ms,
            "d-earlier-answer",
            answered_author=event.author.id,
            answered_keep_ms=ago_ms + 1,
        )
        store.record(event.account, "earlier-answer", {}, marks)
