"""A compact encoding of validated events, for handing them between processes and temp files."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Generic, TypeVar

import orjson

from policy_service.analysis import Signal
from policy_service.events import Author, CallerSignals, Event, Thread

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
# Interned values are few (authors, signal values); past this the tables start afresh,
# so a file of millions of distinct authors cannot grow them without bound.
INTERNED_MAX = 1 << 16
T = TypeVar("T")


def utc_micros(at: datetime) -> int:
    """An aware datetime as integer microseconds since the epoch: a total order across zones."""
    return (at - _EPOCH) // _MICROSECOND


def _iso(at: datetime | None) -> str | None:
    return None if at is None else at.isoformat()


def _time(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def event_fields(event: Event) -> list[Any]:
    """The event as a flat JSON-ready list; only `Decoder.event` reads it.

    The event was validated by `parse_event` already: decoding rebuilds it
    without validating again, which costs a fraction of marshmallow's load.
    Offsets are kept as given (isoformat), so the decoded event is equal to
    the original field by field.
    """
    author, thread, signals = event.author, event.thread, event.signals
    return [
        event.event_id,
        event.account,
        event.occurred_at.isoformat(),
        event.channel,
        event.text,
        event.lang,
        [author.id, author.reach, author.is_customer, author.verified, author.role],
        None if thread is None else [thread.id, _iso(thread.published_at), thread.by_brand],
        [
            signals.tone,
            signals.severity,
            signals.constructive,
            signals.arousal,
            None if signals.topics is None else list(signals.topics),
        ],
    ]


def signal_fields(signals: Mapping[str, Signal]) -> list[list[Any]]:
    """Signals as `[name, value, source]` lists (topics as a list), for `Decoder.signals`."""
    return [
        [name, list(s.value) if name == "topics" else s.value, s.source]
        for name, s in signals.items()
    ]


class _Shared(Generic[T]):
    """Objects built once per key and handed out again (they are immutable)."""

    def __init__(self, make: Callable[..., T], most: int = INTERNED_MAX) -> None:
        self._make = make
        self._most = most
        self._found: dict[Hashable, T] = {}

    def get(self, key: Hashable, *args: Any) -> T:
        found = self._found.get(key)
        if found is None:
            if len(self._found) >= self._most:
                self._found.clear()
            found = self._found[key] = self._make(*args)
        return found


class Decoder:
    """Rebuilds events and signals from their fields, sharing equal immutable parts.

    Authors, caller signals and analyzer signals repeat across a file (the
    same author, the same severity); a frozen object built once and shared
    costs a dictionary lookup instead of a dataclass construction.
    """

    def __init__(self, most: int = INTERNED_MAX) -> None:
        self._authors = _Shared(Author, most)
        self._callers = _Shared(CallerSignals, most)
        self._signals = _Shared(Signal, most)
        self._sets: dict[int, dict[str, Signal]] = {}

    def event(self, fields: list[Any]) -> Event:
        """The event `event_fields` described."""
        event_id, account, occurred_at, channel, text, lang, author, thread, signals = fields
        topics = signals[4]
        if topics is not None:
            signals[4] = tuple(topics)
        return Event(
            event_id,
            account,
            datetime.fromisoformat(occurred_at),
            self._authors.get(tuple(author), *author),
            channel,
            text,
            lang,
            None if thread is None else Thread(thread[0], _time(thread[1]), thread[2]),
            # Validated fields have one type each (severity int, arousal float), so
            # unlike in `signals` equal values cannot encode differently.
            self._callers.get(tuple(signals), *signals),
        )

    def signal_set(self, number: int, fields: list[list[Any]] | None) -> dict[str, Signal]:
        """The set `SignalSets.number` numbered: defined by `fields` when given, else known.

        The set is shared between events: the evaluator copies what it takes.
        """
        if fields is not None:
            self._sets[number] = self.signals(fields)
        return self._sets[number]

    def signals(self, fields: list[list[Any]]) -> dict[str, Signal]:
        """The signals `signal_fields` described."""
        shared = self._signals.get
        found: dict[str, Signal] = {}
        for name, value, source in fields:
            if type(value) is list:
                value = tuple(value)
            # The type is part of the key: 1 == 1.0 == True, but they encode differently.
            found[name] = shared((name, type(value), value, source), value, source)
        return found


class SignalSets:
    """Numbers for the distinct sets of analyzer signals, for the reader's side of the pipe.

    Many events get the same signals (the same severity, topics, arousal); the
    reader sends each distinct set once with its number, then the number alone,
    so the deciding process looks a set up instead of rebuilding it. At most
    INTERNED_MAX numbers: past that they are given out afresh (each set is sent
    again, before it is used, under its new number).
    """

    def __init__(self, most: int = INTERNED_MAX) -> None:
        self._most = most
        self._numbers: dict[tuple[Any, ...], int] = {}

    def number(self, signals: Mapping[str, Signal]) -> tuple[int, list[list[Any]] | None]:
        """The set's number, and its fields when the other side does not know it yet."""
        # The type is part of the key: 1 == 1.0 == True, but they encode differently.
        key = tuple((n, type(s.value), s.value, s.source) for n, s in signals.items())
        found = self._numbers.get(key)
        if found is not None:
            return found, None
        if len(self._numbers) >= self._most:
            self._numbers.clear()
        number = self._numbers[key] = len(self._numbers)
        return number, signal_fields(signals)


def encode_event(event: Event) -> bytes:
    """The event as a flat JSON list; only `decode_event` reads it."""
    return orjson.dumps(event_fields(event))


def decode_event(data: bytes) -> Event:
    """The event `encode_event` wrote."""
    return Decoder().event(orjson.loads(data))
