"""Checks on a rule set's meaning: conditions that can never hold, rules that can never win.

The analysis is exact for what it understands, a conjunction of comparisons
(`all`, several fields in one mapping), and silent about the rest (`any`,
`not`): it reports no false alarm, and may miss a shadowed rule hidden
behind an `any`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from policy_service.errors import Problem
from policy_service.ruleset.model import AllOf, Comparison, Condition, Rule, RuleSet


@dataclass
class _Range:
    """What a conjunction allows for one field: bounds, an allowed set, excluded values."""

    low: Any = None
    low_open: bool = False
    high: Any = None
    high_open: bool = False
    allowed: set[Any] | None = None
    excluded: set[Any] = field(default_factory=set)

    def narrow(self, op: str, value: Any) -> None:
        if op == "eq":
            self.allow({value})
        elif op == "in":
            self.allow(set(value))
        elif op == "ne":
            self.excluded.add(value)
        elif op == "not_in":
            self.excluded.update(value)
        elif op in ("gt", "gte"):
            self.raise_low(value, op == "gt")
        elif op in ("lt", "lte"):
            self.lower_high(value, op == "lt")
        elif op == "between":
            self.raise_low(value[0], False)
            self.lower_high(value[1], False)

    def allow(self, values: set[Any]) -> None:
        self.allowed = values if self.allowed is None else self.allowed & values

    def raise_low(self, value: Any, open_: bool) -> None:
        if self.low is None or value > self.low or (value == self.low and open_):
            self.low, self.low_open = value, open_

    def lower_high(self, value: Any, open_: bool) -> None:
        if self.high is None or value < self.high or (value == self.high and open_):
            self.high, self.high_open = value, open_

    def admits(self, value: Any) -> bool:
        if value in self.excluded:
            return False
        if self.allowed is not None and value not in self.allowed:
            return False
        if self.low is not None and (value < self.low or (value == self.low and self.low_open)):
            return False
        return not (
            self.high is not None and (value > self.high or (value == self.high and self.high_open))
        )

    def empty(self) -> bool:
        if self.allowed is not None:
            return not any(self.admits(v) for v in self.allowed)
        if self.low is None or self.high is None:
            return False
        return self.low > self.high or (self.low == self.high and (self.low_open or self.high_open))

    def within(self, other: _Range) -> bool:
        """True when every value this range admits, `other` admits too (sufficient test)."""
        if self.allowed is not None:
            return all(other.admits(v) for v in self.allowed if self.admits(v))
        if other.allowed is not None or not other.excluded <= self.excluded:
            return False
        if other.low is not None:
            if self.low is None or self.low < other.low:
                return False
            if self.low == other.low and other.low_open and not self.low_open:
                return False
        if other.high is not None:
            if self.high is None or self.high > other.high:
                return False
            if self.high == other.high and other.high_open and not self.high_open:
                return False
        return True


def _conjunction(condition: Condition | None) -> dict[str, _Range] | None:
    """Per-field ranges when `condition` is a plain conjunction of comparisons, else None."""
    ranges: dict[str, _Range] = {}
    if condition is None:
        return ranges
    stack = [condition]
    while stack:
        item = stack.pop()
        if isinstance(item, AllOf):
            stack.extend(item.items)
        elif isinstance(item, Comparison) and item.op not in ("contains_any", "matches"):
            ranges.setdefault(item.field, _Range()).narrow(item.op, item.value)
        else:
            return None
    return ranges


def check(ruleset: RuleSet) -> list[Problem]:
    """Errors for impossible conditions and shadowed rules; warnings for priority ties."""
    problems: list[Problem] = []
    path = ruleset.path

    def report(rule: Rule, message: str, severity: str = "error") -> None:
        problems.append(Problem(path, rule.pos.line, rule.pos.column, message, severity))

    conjunctions = {rule.id: _conjunction(rule.when) for rule in ruleset.rules}
    impossible: set[str] = set()
    for rule in ruleset.rules:
        ranges = conjunctions[rule.id]
        for name, allowed in (ranges or {}).items():
            if allowed.empty():
                report(
                    rule,
                    f"rule {rule.id!r} can never match: its conditions on {name} exclude each other",
                )
                impossible.add(rule.id)
                break
    ranked = sorted(ruleset.rules, key=lambda r: (r.priority, r.order))
    for index, rule in enumerate(ranked):
        mine = conjunctions[rule.id]
        if mine is None or rule.id in impossible:
            continue
        for earlier in ranked[:index]:
            theirs = conjunctions[earlier.id]
            if theirs is None or earlier.id in impossible:
                continue
            # `earlier` matches whenever `rule` does if each of its field
            # ranges contains the rule's range for that field.
            if all(name in mine and mine[name].within(r) for name, r in theirs.items()):
                report(
                    rule,
                    f"rule {rule.id!r} can never win: {earlier.id!r} (priority "
                    f"{earlier.priority}) matches every comment it matches",
                )
                break
    seen: dict[int, Rule] = {}
    for rule in ruleset.rules:
        if rule.priority in seen:
            first = seen[rule.priority]
            report(
                rule,
                f"rules {first.id!r} and {rule.id!r} share priority {rule.priority}; "
                "the order in the file decides",
                "warning",
            )
        seen.setdefault(rule.priority, rule)
    return problems
