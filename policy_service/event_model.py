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


@dataclass(frozen=True, slots=True)
class Author:
    id: str
    reach: int | None = None
    is_customer: bool | None = None
    verified: bool | None = None
    role: str | None = None  # catalogue.AUTHOR_ROLES; None: not said (an ordinary author)


@dataclass(frozen=True, slots=True)
class Thread:
    id: str | None = None
    published_at: datetime | None = None
    by_brand: bool | None = None


@dataclass(frozen=True, slots=True)
class CallerSignals:
    """Signals the caller computed itself; what is None is filled by the analyzer."""

    tone: str | None = None
    severity: int | None = None
    constructive: bool | None = None
    arousal: float | None = None
    topics: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class Event:
    """One comment to decide on."""

    event_id: str
    account: str
    occurred_at: datetime
    author: Author
    channel: str | None = None
    text: str = ""
    lang: str | None = None
    thread: Thread | None = None
    signals: CallerSignals = CallerSignals()


def is_valid_id(value: str) -> bool:
    """Ids reach logs and store keys: letters, digits and ._:- only, 1 to 64 of them."""
    # fullmatch, not match: "$" alone would let a trailing newline through.
    return ID_PATTERN.fullmatch(value) is not None
