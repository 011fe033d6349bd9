"""The window arithmetic and crisis-level machine, in Python (the Redis store's Lua mirrors it)."""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

# A crisis-level condition in a portable form that the memory store reads in
# Python and the Redis store reads in Lua:
#   ["all", [c, ...]] | ["any", [c, ...]] | ["not", c] | ["cmp", name, op, value]
# where `name` is a state window (volume_1h, ...) and op one of the rule operators.
PortableCondition = list[Any]

MIN_BASELINE_PER_HOUR = 1.0

COUNTERS = ("volume", "negative", "hostile", "positive", "multiplier", "non_customer")


Test = Callable[[Mapping[str, Any]], bool]

_MISSING = object()


_ORDER: dict[str, Callable[[Any, Any], Any]] = {
    "eq": operator.eq,
    "ne": operator.ne,
    "gt": operator.gt,
    "gte": operator.ge,
    "lt": operator.lt,
    "lte": operator.le,
}


def _comparison(name: str, op: str, x: Any) -> Test:
    """`fields[name] op x`, false when the field is missing."""
    if op in _ORDER:
        compare = _ORDER[op]
        return lambda f: (v := f.get(name, _MISSING)) is not _MISSING and bool(compare(v, x))
    if op == "between":
        low, high = x
        return lambda f: (v := f.get(name, _MISSING)) is not _MISSING and bool(low <= v <= high)
    if op == "in":
        return lambda f: (v := f.get(name, _MISSING)) is not _MISSING and v in x
    if op == "not_in":
        return lambda f: (v := f.get(name, _MISSING)) is not _MISSING and v not in x
    raise ValueError(f"unknown operator {op!r}")


def _all_of(parts: tuple[Test, ...]) -> Test:
    def test(fields: Mapping[str, Any]) -> bool:
        for part in parts:
            if not part(fields):
                return False
        return True

    return test


def _any_of(parts: tuple[Test, ...]) -> Test:
    def test(fields: Mapping[str, Any]) -> bool:
        for part in parts:
            if part(fields):
                return True
        return False

    return test


def compile_test(condition: PortableCondition | None) -> Test:
    """A portable condition as a Python function of the fields; None never holds.

    A comparison on a missing field is false, as in the rules. `all` and
    `any` loop over their parts and stop at the first that decides: no
    generator per call, and no depth that grows with the list.
    """
    if condition is None:
        return lambda fields: False
    kind = condition[0]
    if kind in ("all", "any"):
        parts = tuple(compile_test(c) for c in condition[1])
        if len(parts) == 1:
            return parts[0]
        return _all_of(parts) if kind == "all" else _any_of(parts)
    if kind == "not":
        inner = compile_test(condition[1])
        return lambda fields: not inner(fields)
    _, name, op, operand = condition
    return _comparison(name, op, operand)


def holds(condition: PortableCondition | None, fields: Mapping[str, Any]) -> bool:
    """Evaluate a portable condition once (stores use compiled tests on the hot path)."""
    return compile_test(condition)(fields)


def rounded(value: float) -> float:
    """Three decimals, rounded half up: the same in Python and in Redis' Lua."""
    return int(value * 1000 + 0.5) / 1000


def derive(counts_1h: Mapping[str, int], volume_24h: int) -> dict[str, Any]:
    """The derived window fields from raw counts."""
    return derive_counts(
        counts_1h["volume"],
        counts_1h["negative"],
        counts_1h["hostile"],
        counts_1h["positive"],
        counts_1h["non_customer"],
        volume_24h,
    )


def derive_counts(
    volume: int, negative: int, hostile: int, positive: int, non_customer: int, volume_24h: int
) -> dict[str, Any]:
    """`derive` from the counts themselves (the Redis store reads them as numbers)."""
    baseline = max(volume_24h - volume, 0) / 23
    return {
        "volume_1h": volume,
        "negative_1h": negative,
        "hostile_1h": hostile,
        "positive_1h": positive,
        "negative_share_1h": rounded(negative / volume) if volume else 0.0,
        "non_customer_share_1h": rounded(non_customer / volume) if volume else 0.0,
        "volume_24h": volume_24h,
        "velocity": rounded(volume / max(baseline, MIN_BASELINE_PER_HOUR)),
    }


@dataclass
class LevelState:
    """An account's level, when it was entered, and when its condition last held (ms)."""

    level: str = "calm"
    since_ms: int = 0
    last_hold_ms: int = 0
    crisis_started_ms: int = 0


def advance(
    state: LevelState,
    now_ms: int,
    fields: Mapping[str, Any],
    watch: Test,
    crisis: Test,
    cool_down_ms: int,
) -> list[tuple[str, str, int]]:
    """Move `state` for an event at `now_ms`; return the transitions (from, to, at_ms).

    Going up is immediate. Going down needs the level's condition to have been
    false for the cool-down: crisis -> recovery -> calm, watch -> calm. After
    a long silence both steps happen at once, each at the time it fell due.
    """
    moves: list[tuple[str, str, int]] = []

    def move(to: str, at_ms: int) -> None:
        moves.append((state.level, to, at_ms))
        state.level, state.since_ms, state.last_hold_ms = to, at_ms, at_ms
        if to == "crisis":
            state.crisis_started_ms = at_ms

    in_crisis = crisis(fields)
    in_watch = watch(fields)
    if in_crisis:
        if state.level != "crisis":
            move("crisis", now_ms)
        state.last_hold_ms = now_ms
        return moves
    if state.level == "calm":
        if in_watch:
            move("watch", now_ms)
        return moves
    # watch, recovery and crisis hold on their own condition; recovery is
    # the watchful level after a crisis and holds while `watch` does.
    holding = in_watch if state.level in ("watch", "recovery") else False
    if holding:
        state.last_hold_ms = now_ms
        return moves
    for _ in range(2):
        due = state.last_hold_ms + cool_down_ms
        if state.level == "calm" or due > now_ms:
            break
        move("recovery" if state.level == "crisis" else "calm", due)
        if state.level == "recovery" and in_watch:
            state.last_hold_ms = now_ms
            break
    return moves
