"""The fast path accepts only what the schema accepts, and builds the same Event."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from policy_service.event_fast_path import fast_event
from policy_service.events import load_event, parse_event
from policy_service.ruleset.catalogue import AUTHOR_ROLES, TONES, TOPICS
from tests.conftest import make_event

# Per field: values the schema accepts, and near misses (wrong types, out of
# range, bad formats, null where null is refused).
_IDS = (["u1", "c-123", "a.b:c_d", "x" * 64], ["x" * 65, "", "a b", "a\n", "{acme}", 7])
_TIMES = (
    [
        "2026-11-25T10:00:00Z",
        "2026-11-25T10:00:00.123456+02:00",
        "2026-11-25T10:00:00-05:30",
        "2026-11-25 10:00:00+00:00",
    ],
    [
        "2026-11-25T10:00:00",
        "2026-11-25",
        "yesterday",
        "",
        1764064800,
        "2026-11-25T10:00:00Z\x00",
        None,
    ],
)
_OPTIONAL_BOOL = ([None, True, False], [1, 0, "yes", "true"])
_FIELDS: dict[tuple[str, ...], tuple[list[Any], list[Any]]] = {
    ("event_id",): _IDS,
    ("account",): _IDS,
    ("occurred_at",): _TIMES,
    ("channel",): ([None, "instagram", "x" * 64], ["x" * 65, 3]),
    ("text",): (["", "Love it!", "é\n\u0000"], ["x" * 10_001, None, 5]),
    ("lang",): ([None, "en", "fr", "pt-BR"], ["EN", "english", "", 1]),
    ("author", "id"): _IDS,
    ("author", "reach"): ([None, 0, 1200, 10**10], [10**10 + 1, -1, 1.5, True, "5"]),
    ("author", "is_customer"): _OPTIONAL_BOOL,
    ("author", "verified"): _OPTIONAL_BOOL,
    ("author", "role"): ([None, *AUTHOR_ROLES], ["admin", "Staff", "staff\n", 1]),
    ("thread", "id"): ([None, *_IDS[0]], _IDS[1]),
    ("thread", "published_at"): ([None, *_TIMES[0]], _TIMES[1][:-1]),
    ("thread", "by_brand"): _OPTIONAL_BOOL,
    ("signals", "tone"): ([None, *TONES], ["angry", "Positive", 1]),
    ("signals", "severity"): ([None, 0, 3, 5], [6, -1, 2.0, False]),
    ("signals", "constructive"): _OPTIONAL_BOOL,
    ("signals", "arousal"): ([None, 0, 1, 0.5, 0.0, 1.0], [1.01, -0.1, True, "0.5"]),
    ("signals", "topics"): (
        [None, [], list(TOPICS), ["refund", "refund"]],
        [["weather"], [3], "refund", {}],
    ),
}
_REQUIRED = {("event_id",), ("account",), ("occurred_at",), ("author", "id")}
_JUNK = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**12), max_value=10**12),
    st.floats(),
    st.text(max_size=5),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)


@st.composite
def _valid_events(draw: st.DrawFn) -> dict[str, Any]:
    """Events of valid values only; optional fields and sections are left out at random."""
    event: dict[str, Any] = {}
    for path, (valid, _) in _FIELDS.items():
        if path not in _REQUIRED and draw(st.booleans()):
            continue
        section = event
        for key in path[:-1]:
            section = section.setdefault(key, {})
        section[path[-1]] = draw(st.sampled_from(valid))
    if "thread" in event and draw(st.booleans()):
        event["thread"] = None
    return event


@st.composite
def _near_misses(draw: st.DrawFn) -> dict[str, Any]:
    """A valid event with one thing wrong: a bad value, junk, a missing or an unknown key."""
    event = draw(_valid_events())
    path = draw(st.sampled_from(sorted(_FIELDS)))
    section = event
    for key in path[:-1]:
        if not isinstance(section.get(key), dict):
            section[key] = {}
        section = section[key]
    how = draw(st.sampled_from(["bad", "junk", "drop", "unknown", "section"]))
    if how == "bad":
        section[path[-1]] = draw(st.sampled_from(_FIELDS[path][1]))
    elif how == "junk":
        section[path[-1]] = draw(_JUNK)
    elif how == "drop":
        section.pop(path[-1], None)
    elif how == "unknown":
        section[path[-1] + "_x"] = 1
    elif len(path) > 1:
        event[path[0]] = draw(_JUNK)  # the whole section replaced
    return event


def _schema_verdict(data: Any) -> Any:
    try:
        return load_event(data)
    except ma.ValidationError:
        return None


@settings(max_examples=1000, deadline=None)
@given(_near_misses())
def test_the_fast_path_accepts_only_what_the_schema_accepts_and_builds_the_same_event(
    data: dict[str, Any],
) -> None:
    fast = fast_event(data)
    if fast is not None:
        assert _schema_verdict(data) == fast


@settings(max_examples=500, deadline=None)
@given(_valid_events())
def test_every_valid_event_takes_the_fast_path_to_the_schemas_event(
    data: dict[str, Any],
) -> None:
    fast = fast_event(data)
    assert fast is not None
    assert fast == load_event(data)


_PLAIN = make_event(
    signals={
        "tone": "negative",
        "severity": 2,
        "constructive": True,
        "arousal": 0.4,
        "topics": ["refund", "outage", "refund"],
    }
)


@pytest.mark.parametrize(
    "data",
    [
        _PLAIN,
        {
            "event_id": "e",
            "account": "a",
            "occurred_at": "2026-11-25T10:00:00+01:00",
            "author": {"id": "u"},
        },
        {**_PLAIN, "thread": None, "signals": {}, "channel": None, "lang": None},
        {**_PLAIN, "thread": {}, "signals": {"tone": None, "arousal": 1}},
    ],
)
def test_plainly_valid_events_take_the_fast_path(data: dict[str, Any]) -> None:
    fast = fast_event(data)
    assert fast is not None
    assert fast == load_event(data)


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({**_PLAIN, "author": {"id": "u1", "reach": True}}, "author"),
        ({**_PLAIN, "occurred_at": "2026-11-25T10:00:00"}, "occurred_at"),
        ({**_PLAIN, "signals": None}, "signals"),
        ({**_PLAIN, "colour": "red"}, "colour"),
    ],
)
def test_what_the_fast_path_declines_gets_the_schemas_error(
    data: dict[str, Any], field: str
) -> None:
    assert fast_event(data) is None
    with pytest.raises(ma.ValidationError) as raised:
        parse_event(data)
    assert field in raised.value.messages


@pytest.mark.parametrize("arousal", [10**400, float("nan"), float("inf")])
def test_numbers_no_float_holds_are_refused_by_the_schema(arousal: Any) -> None:
    # orjson never produces these, but rule tests in YAML can (`.nan`, `.inf`).
    data = make_event(signals={"arousal": arousal})
    assert fast_event(data) is None
    with pytest.raises(ma.ValidationError) as raised:
        load_event(data)
    assert "arousal" in raised.value.messages["signals"]
