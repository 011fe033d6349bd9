"""Turn a validated RuleSet into the engine's rule definitions (plain JSON-able data).

Every condition is translated into durable_rules' JSON condition language over
a flat fact whose keys come from `catalogue.engine_key`. Three engine facts
shape this translation (see ENGINE-NOTES.md and docs/architecture.md):

- the engine asserts each session's own state as a fact too, so every rule is
  anchored on a marker key that only our facts carry;
- a comparison on a missing key is false, and the engine has no general
  negation, so `not` is pushed down to the comparisons (De Morgan), and a
  negated comparison also holds when the field is missing;
- its regular expressions (`$mt`) give wrong answers: `.*(late|delay).*`
  does not match "delayed". So `contains_any` is not handed to the engine as
  a regex: each one becomes a text matcher, run in Python (a plain substring
  test on the case-folded text) before the fact is asserted, and the rule
  tests the matcher's boolean key like any other field.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from policy_service.ruleset.catalogue import BY_NAME, Kind, engine_key, set_member_key
from policy_service.ruleset.model import AllOf, AnyOf, Comparison, Condition, Not, RuleSet

FACT_MARKER_KEY = "policy__fact"
FACT_MARKER_VALUE = "comment"

# The complement of each operator on a present value; "outside" exists only as
# the complement of "between".
_COMPLEMENT = {
    "eq": "ne",
    "ne": "eq",
    "gt": "lte",
    "gte": "lt",
    "lt": "gte",
    "lte": "gt",
    "in": "not_in",
    "not_in": "in",
    "between": "outside",
}
_ENGINE_OP = {"ne": "$neq", "gt": "$gt", "gte": "$gte", "lt": "$lt", "lte": "$lte"}

EngineCondition = dict[str, Any]


@dataclass(frozen=True)
class TextMatcher:
    """Sets `key` in the fact to whether the text at `field_key` contains one of
    `words`, or (for `matches`) has a match of the RE2 `pattern`."""

    key: str
    field_key: str
    words: tuple[str, ...] = ()
    pattern: str | None = None


@dataclass(frozen=True)
class EngineRules:
    """A rule set ready for the engine: rule definitions and the text matchers they test."""

    definitions: dict[str, Any]
    text_matchers: tuple[TextMatcher, ...]
    # Every fact key a condition tests (matchers' keys, the marker included):
    # the engine is given only these, since no rule can see any other.
    fact_keys: frozenset[str]


def compile_ruleset(ruleset: RuleSet) -> EngineRules:
    """Engine definitions for every rule of `ruleset`, keyed by rule id."""
    compiler = _Compiler()
    definitions: dict[str, Any] = {}
    for rule in ruleset.rules:
        parts: list[EngineCondition] = [{FACT_MARKER_KEY: FACT_MARKER_VALUE}]
        if rule.when is not None:
            parts.append(compiler.condition(rule.when))
        definitions[rule.id] = {"all": [{"m": {"$and": parts}}]}
    return EngineRules(
        definitions,
        tuple(compiler.matchers.values()),
        frozenset(compiler.keys | {FACT_MARKER_KEY}),
    )


def portable_condition(condition: Condition | None) -> list[Any] | None:
    """A crisis-level condition in the state stores' portable form (see state.PortableCondition).

    The stores evaluate it themselves (the Redis store in Lua), so that the
    level moves inside the same atomic step that counts the event.
    """
    if condition is None:
        return None
    if isinstance(condition, Not):
        return ["not", portable_condition(condition.item)]
    if isinstance(condition, AllOf | AnyOf):
        kind = "all" if isinstance(condition, AllOf) else "any"
        return [kind, [portable_condition(c) for c in condition.items]]
    value = list(condition.value) if isinstance(condition.value, tuple) else condition.value
    return ["cmp", condition.field.removeprefix("state."), condition.op, value]


class _Compiler:
    def __init__(self) -> None:
        # (field, words) -> matcher: rules testing the same words share one key
        self.matchers: dict[tuple[str, str, Any], TextMatcher] = {}
        self.keys: set[str] = set()

    def condition(self, condition: Condition, negate: bool = False) -> EngineCondition:
        """One condition in the engine's language; `negate` compiles its negation."""
        if isinstance(condition, Not):
            return self.condition(condition.item, not negate)
        if isinstance(condition, AllOf | AnyOf):
            conjunctive = isinstance(condition, AllOf) != negate
            items = [self.condition(c, negate) for c in condition.items]
            if len(items) == 1:
                return items[0]
            return {"$and" if conjunctive else "$or": items}
        return self.comparison(condition, negate)

    def comparison(self, c: Comparison, negate: bool) -> EngineCondition:
        key = engine_key(c.field)
        if BY_NAME[c.field].kind is Kind.SET:
            # A set is carried as one true key per member (see set_member_key).
            members = [set_member_key(key, v) for v in c.value]
            self.keys.update(members)
            if negate:
                return _either([{"$nex": {m: 1}} for m in members], "$and")
            return _either([{m: True} for m in members], "$or")
        if c.op in ("contains_any", "matches"):
            words, pattern = (c.value, None) if c.op == "contains_any" else ((), c.value)
            matcher = self.matchers.setdefault(
                (key, c.op, c.value),
                TextMatcher(f"match__{len(self.matchers)}", key, words, pattern),
            )
            key, op, value = matcher.key, "eq", True
        else:
            op, value = c.op, c.value
        self.keys.add(key)
        if not negate:
            return _present(key, op, value)
        # A comparison on a missing field is false, so its negation is true there.
        return {"$or": [{"$nex": {key: 1}}, _present(key, _COMPLEMENT[op], value)]}


def _present(key: str, op: str, value: Any) -> EngineCondition:
    """`op` for a fact that has the field."""
    if op == "in":
        return _either([{key: v} for v in value], "$or")
    if op == "not_in":
        return _either([{"$neq": {key: v}} for v in value], "$and")
    if op == "between":
        return {"$and": [{"$gte": {key: value[0]}}, {"$lte": {key: value[1]}}]}
    if op == "outside":
        return {"$or": [{"$lt": {key: value[0]}}, {"$gt": {key: value[1]}}]}
    if op == "eq":
        return {key: value}
    return {_ENGINE_OP[op]: {key: value}}


def _either(items: list[EngineCondition], joiner: str) -> EngineCondition:
    return items[0] if len(items) == 1 else {joiner: items}
