"""The value classes of the decision path behave as values, compiled or not.

Their `__init__` is written out (mypyc compiles a written one, not a
generated one), so these tests hold what a generated one gave: keyword and
positional construction with the same defaults, equality by value, a readable
repr, and no attributes beside the declared ones.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any

import pytest

from policy_service.analysis import Signal
from policy_service.analysis.base import Analysis
from policy_service.evaluator import Match
from policy_service.event_model import Author, CallerSignals, Event, Thread
from policy_service.state import Observation, Observed, RailsMarks, RailsSeen

AT = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)

# Every class, with the arguments of one instance (positional order of the fields).
EXAMPLES: list[tuple[type[Any], tuple[Any, ...]]] = [
    (Author, ("u1", 1200, True, False, "journalist")),
    (Thread, ("p9", AT, True)),
    (CallerSignals, ("negative", 2, True, 0.5, ("delay",))),
    (Signal, ("negative", "caller")),
    (Analysis, ("en", "negative", 2, True, 0.4, ("safety",), -0.5)),
    (Match, ((), {"minutes_since_comment": 1.5})),
    (RailsSeen, (3, "d-1", 1000)),
    (RailsMarks, (1000, "d-1", 5, "u1", 60_000)),
    (Observed, ({"volume_1h": 1}, None, False, False, AT, False, ("x",), 0, RailsSeen())),
]


# A different value of the same type, for the last field of each example.
OTHER: dict[type[Any], Any] = {
    str: "other",
    bool: False,
    int: 7,
    float: 0.25,
    tuple: ("other",),
    dict: {},
    RailsSeen: RailsSeen(1),
}


@pytest.mark.parametrize(("cls", "args"), EXAMPLES, ids=lambda x: getattr(x, "__name__", ""))
def test_positional_and_keyword_construction_agree(cls: type[Any], args: tuple[Any, ...]) -> None:
    names = [f.name for f in dataclasses.fields(cls)]
    assert len(names) == len(args)
    by_position = cls(*args)
    by_keyword = cls(**dict(zip(names, args, strict=True)))
    assert by_position == by_keyword
    assert [getattr(by_keyword, n) for n in names] == list(args)
    # Equal by value, different when one field differs.
    assert by_position == cls(*args)
    last_changed = args[:-1] + (OTHER[type(args[-1])],)
    assert by_position != cls(*last_changed)
    assert repr(by_position).startswith(f"{cls.__name__}(")


@pytest.mark.parametrize(("cls", "args"), EXAMPLES, ids=lambda x: getattr(x, "__name__", ""))
def test_no_undeclared_attributes(cls: type[Any], args: tuple[Any, ...]) -> None:
    value = cls(*args)
    with pytest.raises(AttributeError):
        value.not_a_field = 1


def test_defaults_are_those_of_the_api() -> None:
    author = Author("u1")
    assert (author.reach, author.is_customer, author.verified, author.role) == (None,) * 4
    assert Thread() == Thread(None, None, None)
    assert CallerSignals() == CallerSignals(None, None, None, None, None)
    event = Event("c-1", "acme", AT, author)
    assert (event.channel, event.text, event.lang, event.thread) == (None, "", None, None)
    assert event.signals == CallerSignals()
    assert RailsSeen() == RailsSeen(0, None, None)
    assert Observed({}) == Observed({}, None, False, False, None, False, (), 0, None)
    assert Analysis("en", "neutral", 0, False, 0.0, ()).polarity == 0.0


def test_observation_defaults() -> None:
    from policy_service.state import CrisisRules

    observation = Observation("acme", "c-1", AT, "u1", "negative", False, None, None, CrisisRules())
    assert (observation.now_ms, observation.limit, observation.rails) == (0, None, False)
