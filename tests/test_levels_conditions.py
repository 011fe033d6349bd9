"""Crisis-level conditions compiled for the memory store agree with their plain reading."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from policy_service.state.levels import PortableCondition, compile_test

_NAMES = ("volume_1h", "negative_share_1h", "velocity")
_NUMBERS = st.one_of(st.integers(-5, 50), st.floats(-1, 50, allow_nan=False))


def _reference(condition: PortableCondition, fields: dict[str, Any]) -> bool:
    """The documented meaning, written as plainly as possible."""
    kind = condition[0]
    if kind == "all":
        return all(_reference(c, fields) for c in condition[1])
    if kind == "any":
        return any(_reference(c, fields) for c in condition[1])
    if kind == "not":
        return not _reference(condition[1], fields)
    _, name, op, x = condition
    if name not in fields:
        return False
    v = fields[name]
    return bool(
        {
            "eq": lambda: v == x,
            "ne": lambda: v != x,
            "gt": lambda: v > x,
            "gte": lambda: v >= x,
            "lt": lambda: v < x,
            "lte": lambda: v <= x,
            "between": lambda: x[0] <= v <= x[1],
            "in": lambda: v in x,
            "not_in": lambda: v not in x,
        }[op]()
    )


_COMPARISONS = st.one_of(
    st.tuples(
        st.just("cmp"),
        st.sampled_from(_NAMES),
        st.sampled_from(["eq", "ne", "gt", "gte", "lt", "lte"]),
        _NUMBERS,
    ),
    st.tuples(
        st.just("cmp"),
        st.sampled_from(_NAMES),
        st.just("between"),
        st.tuples(_NUMBERS, _NUMBERS).map(sorted),
    ),
    st.tuples(
        st.just("cmp"),
        st.sampled_from(_NAMES),
        st.sampled_from(["in", "not_in"]),
        st.lists(st.integers(0, 5), max_size=3),
    ),
).map(list)

_CONDITIONS = st.recursive(
    _COMPARISONS,
    lambda inner: st.one_of(
        st.tuples(st.sampled_from(["all", "any"]), st.lists(inner, max_size=4)).map(list),
        st.tuples(st.just("not"), inner).map(list),
    ),
    max_leaves=8,
)
_FIELDS = st.dictionaries(st.sampled_from(_NAMES), st.integers(0, 5) | _NUMBERS)


@settings(max_examples=500, deadline=None)
@given(_CONDITIONS, _FIELDS)
def test_compiled_conditions_agree_with_the_plain_reading(
    condition: PortableCondition, fields: dict[str, Any]
) -> None:
    assert compile_test(condition)(fields) is _reference(condition, fields)


def test_no_condition_never_holds() -> None:
    assert compile_test(None)({"volume_1h": 1}) is False


def test_a_long_list_of_conditions_is_no_deeper_than_a_short_one() -> None:
    many = ["any", [["cmp", "volume_1h", "eq", n] for n in range(5000)]]
    assert compile_test(many)({"volume_1h": 4999}) is True
    assert compile_test(["all", many[1][:1]])({"volume_1h": 0}) is True
