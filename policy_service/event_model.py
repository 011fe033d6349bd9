"""What an event is once validated, and the limits every validator of it applies.

`events` (the marshmallow schemas: the one definition, with its error
messages and OpenAPI document) and `event_fast_path` (the plainly valid
event, without marshmallow) both take their limits from here, so they cannot
drift apart.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

ID_REGEX = r"^[A-Za-z0-9._:-]{1,64}$"
ID_PATTERN = re.compile(ID_REGEX)
LANG_PATTERN = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$")
MAX_TEXT_CHARS = 10_000
MAX_CHANNEL_CHARS = 64
MAX_REACH = 10**10
MAX_SEVERITY = 5


# The value classes of an event are built for every request and every replayed
# event. Their `__init__` is written out rather than generated: mypyc compiles
# a written one (about 40 ns) but leaves a generated one to the interpreter
# (about 500 ns when frozen). They are not frozen for the same reason (a
# frozen class cannot assign in its own `__init__`); nothing changes them after
# validation, and tests/test_event_model.py keeps them equal by value.


@dataclass(slots=True, init=False)
class Author:
    id: str
    reach: int | None
    is_customer: bool | None
    verified: bool | None
    role: str | None  # catalogue.AUTHOR_ROLES; None: not said (an ordinary author)

    def __init__(
        self,
        id: str,
        reach: int | None = None,
        is_customer: bool | None = None,
        verified: bool | None = None,
        role: str | None = None,
    ) -> None:
        self.id = id
        self.reach = reach
        self.is_customer = is_customer
        self.verified = verified
        self.role = role


@dataclass(slots=True, init=False)
class Thread:
    id: str | None
    published_at: datetime | None
    by_brand: bool | None

    def __init__(
        self,
        id: str | None = None,
        published_at: datetime | None = None,
        by_brand: bool | None = None,
    ) -> None:
        self.id = id
        self.published_at = published_at
        self.by_brand = by_brand


@dataclass(slots=True, init=False)
class CallerSignals:
    """Signals the caller computed itself; what is None is filled by the analyzer."""

    tone: str | None
    severity: int | None
    constructive: bool | None
    arousal: float | None
    topics: tuple[str, ...] | None

    def __init__(
        self,
        tone: str | None = None,
        severity: int | None = None,
        constructive: bool | None = None,
        arousal: float | None = None,
        topics: tuple[str, ...] | None = None,
    ) -> None:
        self.tone = tone
        self.severity = severity
        self.constructive = constructive
        self.arousal = arousal
        self.topics = topics


# The signals of an event that brings none: one shared value (nothing changes it).
NO_SIGNALS = CallerSignals()


@dataclass(slots=True, init=False)
class Event:
    """One comment to decide on."""

    event_id: str
    account: str
    occurred_at: datetime
    author: Author
    channel: str | None
    text: str
    lang: str | None
    thread: Thread | None
    signals: CallerSignals

    def __init__(
        self,
        event_id: str,
        account: str,
        occurred_at: datetime,
        author: Author,
        channel: str | None = None,
        text: str = "",
        lang: str | None = None,
        thread: Thread | None = None,
        signals: CallerSignals = NO_SIGNALS,
    ) -> None:
        self.event_id = event_id
        self.account = account
        self.occurred_at = occurred_at
        self.author = author
        self.channel = channel
        self.text = text
        self.lang = lang
        self.thread = thread
        self.signals = signals


def is_valid_id(value: str) -> bool:
    """Ids reach logs and store keys: letters, digits and ._:- only, 1 to 64 of them."""
    # fullmatch, not match: "$" alone would let a trailing newline through.
    return ID_PATTERN.fullmatch(value) is not None
