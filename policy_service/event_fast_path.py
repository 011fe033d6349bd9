"""The plainly valid event, validated without marshmallow.

Validating an event with the marshmallow schema costs more than the rule
engine's whole evaluation of it. Nearly every event a service sends is valid,
so this module accepts exactly the events that are plainly valid, by the same
limits (`event_model`), and builds the same `Event`. Anything it is not sure
of (an error, an unknown key, a type it does not expect) it declines with
None, and the schema decides, with its error messages. It never accepts an
event the schema would refuse: tests/test_event_fast_path.py holds the two
against each other on generated events, valid and invalid.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from policy_service.event_model import (
    ID_PATTERN,
    LANG_PATTERN,
    MAX_CHANNEL_CHARS,
    MAX_REACH,
    MAX_SEVERITY,
    MAX_TEXT_CHARS,
    NO_SIGNALS,
    Author,
    CallerSignals,
    Event,
    Thread,
)
from policy_service.ruleset.catalogue import AUTHOR_ROLES, TONES, TOPICS

_EVENT_KEYS = frozenset(
    ("event_id", "account", "occurred_at", "channel", "text", "lang", "author", "thread", "signals")
)
_AUTHOR_KEYS = frozenset(("id", "reach", "is_customer", "verified", "role"))
_THREAD_KEYS = frozenset(("id", "published_at", "by_brand"))
_SIGNAL_KEYS = frozenset(("tone", "severity", "constructive", "arousal", "topics"))
_TONES = frozenset(TONES)
_ROLES = frozenset(AUTHOR_ROLES)
_TOPICS = frozenset(TOPICS)
_FULLMATCH_ID = ID_PATTERN.fullmatch
_FULLMATCH_LANG = LANG_PATTERN.fullmatch


class _Declined(Exception):
    """Not plainly valid: the schema decides."""


def fast_event(data: Any) -> Event | None:
    """The Event for `data` when it is plainly valid; None leaves it to the schema."""
    if type(data) is not dict or not data.keys() <= _EVENT_KEYS:
        return None
    try:
        return Event(
            event_id=_id(data["event_id"]),
            account=_id(data["account"]),
            occurred_at=_aware(data["occurred_at"]),
            author=_author(data["author"]),
            channel=_channel(data.get("channel")),
            text=_text(data.get("text", "")),
            lang=_lang(data.get("lang")),
            thread=_thread(data["thread"]) if "thread" in data else None,
            signals=_signals(data["signals"]) if "signals" in data else NO_SIGNALS,
        )
    except (_Declined, KeyError):
        return None


def _id(value: Any) -> str:
    if type(value) is not str or _FULLMATCH_ID(value) is None:
        raise _Declined
    return value


def _optional_id(value: Any) -> str | None:
    return None if value is None else _id(value)


def _aware(value: Any) -> datetime:
    # Control characters around a time are the schema's to refuse.
    if type(value) is not str or not value.isprintable():
        raise _Declined
    try:
        # The function marshmallow's "iso" format calls: the same datetimes.
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise _Declined from None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise _Declined
    return parsed


def _optional_bool(value: Any) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    raise _Declined


def _optional_int(value: Any, highest: int) -> int | None:
    if value is None:
        return None
    if type(value) is not int or not 0 <= value <= highest:
        raise _Declined
    return value


def _channel(value: Any) -> str | None:
    if value is None:
        return None
    if type(value) is not str or len(value) > MAX_CHANNEL_CHARS:
        raise _Declined
    return value


def _text(value: Any) -> str:
    if type(value) is not str or len(value) > MAX_TEXT_CHARS:
        raise _Declined
    return value


def _lang(value: Any) -> str | None:
    if value is None:
        return None
    if type(value) is not str or _FULLMATCH_LANG(value) is None:
        raise _Declined
    return value


def _author(value: Any) -> Author:
    if type(value) is not dict or not value.keys() <= _AUTHOR_KEYS:
        raise _Declined
    return Author(
        id=_id(value["id"]),
        reach=_optional_int(value.get("reach"), MAX_REACH),
        is_customer=_optional_bool(value.get("is_customer")),
        verified=_optional_bool(value.get("verified")),
        role=_role(value.get("role")),
    )


def _role(value: Any) -> str | None:
    if value is None or (type(value) is str and value in _ROLES):
        return value
    raise _Declined


def _thread(value: Any) -> Thread | None:
    if value is None:
        return None
    if type(value) is not dict or not value.keys() <= _THREAD_KEYS:
        raise _Declined
    published = value.get("published_at")
    return Thread(
        id=_optional_id(value.get("id")),
        published_at=None if published is None else _aware(published),
        by_brand=_optional_bool(value.get("by_brand")),
    )


def _signals(value: Any) -> CallerSignals:
    if type(value) is not dict or not value.keys() <= _SIGNAL_KEYS:
        raise _Declined
    tone = value.get("tone")
    if tone is not None and (type(tone) is not str or tone not in _TONES):
        raise _Declined
    return CallerSignals(
        tone=tone,
        severity=_optional_int(value.get("severity"), MAX_SEVERITY),
        constructive=_optional_bool(value.get("constructive")),
        arousal=_arousal(value.get("arousal")),
        topics=_topics(value.get("topics")),
    )


def _arousal(value: Any) -> float | None:
    if value is None:
        return None
    kind = type(value)
    # A float outside [0, 1] (NaN and infinities included) fails the range test.
    if (kind is not float and kind is not int) or not 0 <= value <= 1:
        raise _Declined
    return float(value)


def _topics(value: Any) -> tuple[str, ...] | None:
    if value is None:
        return None
    if type(value) is not list:
        raise _Declined
    for topic in value:
        if type(topic) is not str or topic not in _TOPICS:
            raise _Declined
    return tuple(sorted(set(value)))
