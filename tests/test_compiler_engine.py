"""The compiler against the real engine: every operator, negated or not, on present and
missing fields, matches a plain Python reading of the rule."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from policy_service.engine import CompiledRules
from policy_service.ruleset.catalogue import engine_key, set_member_key
from policy_service.ruleset.compiler import compile_ruleset
from policy_service.ruleset.loader import parse_ruleset
from policy_service.ruleset.model import AllOf, AnyOf, Comparison, Condition, Not, RuleSet

# (rule id, condition as written in YAML)
CASES: list[tuple[str, str]] = [
    ("eq", "{signals.severity: {eq: 3}}"),
    ("ne", "{signals.severity: {ne: 3}}"),
    ("gt", "{signals.severity: {gt: 3}}"),
    ("gte", "{signals.severity: {gte: 3}}"),
    ("lt", "{signals.severity: {lt: 3}}"),
    ("lte", "{signals.severity: {lte: 3}}"),
    ("between", "{signals.severity: {between: [2, 4]}}"),
    ("in", "{signals.tone: {in: [negative, hostile]}}"),
    ("not_in", "{signals.tone: {not_in: [negative, hostile]}}"),
    ("bool-eq", "{author.is_customer: {eq: true}}"),
    ("bool-ne", "{author.is_customer: {ne: true}}"),
    ("minutes", "{time.minutes_since_post: {gte: 1h}}"),
    ("minutes-between", "{time.minutes_since_post: {between: [30, 90.5]}}"),
    ("contains", "{event.text: {contains_any: [refund, food poisoning, remboursé]}}"),
    ("contains-overlap", "{event.text: {contains_any: [late, delay, '#fail']}}"),
    ("topics", "{signals.topics: {contains_any: [safety, legal]}}"),
    ("matches", "{event.text: {matches: '(refund|rembours)\\w*|food\\s+poison'}}"),
    ("two-fields", "{signals.severity: {gte: 2}, author.is_customer: {eq: false}}"),
    ("all", "{all: [{signals.severity: {gte: 2}}, {signals.tone: {eq: negative}}]}"),
    ("any", "{any: [{signals.severity: {gte: 4}}, {author.is_customer: {eq: false}}]}"),
    ("any-contains", "{any: [{event.text: {contains_any: [scam]}}, {signals.severity: {eq: 5}}]}"),
]
CASES += [(f"not-{name}", f"{{not: {cond}}}") for name, cond in list(CASES)]
CASES += [
    ("not-not", "{not: {not: {signals.severity: {gte: 3}}}}"),
    (
        "not-all-mixed",
        "{not: {all: [{signals.tone: {in: [neutral]}}, {not: {author.is_customer: {eq: true}}}]}}",
    ),
]


def _ruleset_yaml() -> str:
    lines = ["ruleset: operators", "rules:"]
    for index, (name, condition) in enumerate(CASES):
        lines += [f"  - id: {name}", f"    priority: {index}", f"    when: {condition}"]
        lines += ["    then: {action: ignore}"]
    lines += ["  - id: default", "    priority: 9999", "    then: {action: ignore}"]
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def compiled() -> Iterator[tuple[RuleSet, CompiledRules]]:
    # Many of these rules shadow each other on purpose: only the form is checked.
    ruleset = parse_ruleset(_ruleset_yaml().encode(), "operators.yaml")
    rules = CompiledRules("operators", compile_ruleset(ruleset))
    yield ruleset, rules
    rules.close()


def holds(condition: Condition, values: dict[str, Any]) -> bool:
    """The rule language read plainly: a comparison on a missing field is false."""
    if isinstance(condition, Not):
        return not holds(condition.item, values)
    if isinstance(condition, AllOf):
        return all(holds(c, values) for c in condition.items)
    if isinstance(condition, AnyOf):
        return any(holds(c, values) for c in condition.items)
    assert isinstance(condition, Comparison)
    if condition.field not in values:
        return False
    value, operand = values[condition.field], condition.value
    match condition.op:
        case "eq":
            return bool(value == operand)
        case "ne":
            return bool(value != operand)
        case "gt":
            return bool(value > operand)
        case "gte":
            return bool(value >= operand)
        case "lt":
            return bool(value < operand)
        case "lte":
            return bool(value <= operand)
        case "between":
            return bool(operand[0] <= value <= operand[1])
        case "in":
            return value in operand
        case "not_in":
            return value not in operand
        case "contains_any" if isinstance(value, tuple):
            return any(member in value for member in operand)
        case "contains_any":
            text = " ".join(str(value).casefold().split())
            return any(word in text for word in operand)
        case "matches":
            text = " ".join(str(value).casefold().split())
            return re.search(operand, text, re.IGNORECASE) is not None
    raise AssertionError(condition.op)


def _maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.none(), strategy)


facts = st.fixed_dictionaries(
    {
        "signals.severity": _maybe(st.integers(0, 5)),
        "signals.tone": _maybe(st.sampled_from(["positive", "neutral", "negative", "hostile"])),
        "author.is_customer": _maybe(st.booleans()),
        "signals.topics": _maybe(
            st.sets(st.sampled_from(["safety", "legal", "refund", "outage"])).map(
                lambda s: tuple(sorted(s))
            )
        ),
        "time.minutes_since_post": _maybe(
            st.one_of(st.integers(0, 200), st.floats(0, 200, allow_nan=False))
        ),
        "event.text": _maybe(
            st.lists(
                st.sampled_from(
                    [
                        "I want a",
                        "REFUND",
                        "refund",
                        "food",
                        "poisoning",
                        "Remboursé",
                        "remboursé",
                        "scam",
                        "SCAM",
                        "hello",
                        "\n",
                        "  ",
                    ]
                ),
                max_size=6,
            ).map(" ".join)
        ),
    }
)


def _matches(rules: CompiledRules, values: dict[str, Any]) -> set[str]:
    fact = {engine_key(k): v for k, v in values.items() if not isinstance(v, tuple)}
    for member in values.get("signals.topics") or ():
        # The evaluator carries a set as one true key per member.
        fact[set_member_key(engine_key("signals.topics"), member)] = True
    # The text goes in as written: the engine folds it for its matchers.
    return rules.matching_rules(fact)


@settings(max_examples=400, deadline=None)
@given(facts)
def test_engine_agrees_with_the_plain_reading(
    compiled: tuple[RuleSet, CompiledRules], drawn: dict[str, Any]
) -> None:
    ruleset, rules = compiled
    values = {k: v for k, v in drawn.items() if v is not None}
    expected = {r.id for r in ruleset.rules if r.when is None or holds(r.when, values)}
    # Unknown values reach the engine as None (as the evaluator builds facts).
    assert _matches(rules, drawn) == expected


@pytest.mark.parametrize("minutes", [5e-324, 1e-5, 1.5e-4, 1e16, 3.5e20])
def test_floats_python_writes_with_an_exponent_reach_the_engine(
    compiled: tuple[RuleSet, CompiledRules], minutes: float
) -> None:
    # 1 ms after a comment is 1.7e-05 minutes: the engine must still decide.
    matched = _matches(compiled[1], {"time.minutes_since_post": minutes})
    assert ("minutes" in matched) is (minutes >= 60)


@pytest.mark.parametrize(
    ("values", "rule", "expected"),
    [
        ({"signals.severity": 3}, "eq", True),
        ({}, "ne", False),  # a comparison on a missing field is false ...
        ({}, "not-eq", True),  # ... and its negation is true
        ({}, "not-ne", True),
        ({"signals.severity": 3}, "between", True),
        ({"signals.severity": 5}, "not-between", True),
        ({"author.is_customer": False}, "bool-ne", True),
        ({"time.minutes_since_post": 60}, "minutes", True),
        ({"time.minutes_since_post": 59.9}, "minutes", False),
        ({"event.text": "Je veux être REMBOURSÉ"}, "contains", True),
        ({"event.text": "got food   poisoning"}, "contains", True),
        ({"event.text": "food and poison"}, "contains", False),
        # The engine's own regex misses this one; the text matchers do not.
        ({"event.text": "flight delayed again"}, "contains-overlap", True),
        ({"event.text": "so #Fail"}, "contains-overlap", True),
        ({"event.text": "flight delayed again"}, "not-contains-overlap", False),
        ({}, "not-contains", True),
        ({"signals.topics": ("legal", "refund")}, "topics", True),
        ({"signals.topics": ("refund",)}, "topics", False),
        ({"signals.topics": ("refund",)}, "not-topics", True),
        ({}, "not-topics", True),
        ({"event.text": "REMBOURSEZ moi"}, "matches", True),
        ({"event.text": "Food   Poisoning"}, "matches", True),
        ({"event.text": "food is poison"}, "matches", False),
        ({"event.text": "food is poison"}, "not-matches", True),
    ],
)
def test_operator_examples(
    compiled: tuple[RuleSet, CompiledRules], values: dict[str, Any], rule: str, expected: bool
) -> None:
    assert (rule in _matches(compiled[1], values)) is expected


def test_facts_leave_nothing_behind(compiled: tuple[RuleSet, CompiledRules]) -> None:
    _, rules = compiled
    first = _matches(rules, {"signals.severity": 5})
    for _ in range(2000):
        _matches(rules, {"signals.severity": 1})
    assert _matches(rules, {"signals.severity": 5}) == first
