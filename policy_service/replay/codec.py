"""A compact encoding of validated events, for handing them between processes and temp files."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from policy_service.events import Author, CallerSignals, Event, Thread

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def utc_micros(at: datetime) -> int:
    """An aware datetime as integer microseconds since the epoch: a total order across zones."""
    return (at - _EPOCH) // _MICROSECOND


def _iso(at: datetime | None) -> str | None:
    return None if at is None else at.isoformat()


def _time(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def encode_event(event: Event) -> bytes:
    """The event as a flat JSON list; only `decode_event` reads it.

    The event was validated by `parse_event` already: decoding rebuilds it
    without validating again, which costs a fraction of marshmallow's load.
    Offsets are kept as given (isoformat), so the decoded event is equal to
    the original field by field.
    """
    author, thread, signals = event.author, event.thread, event.signals
    fields: list[Any] = [
        event.event_id,
        event.account,
        event.occurred_at.isoformat(),
        event.channel,
        event.text,
        event.lang,
        [author.id, author.reach, author.is_customer, author.verified],
        None if thread is None else [thread.id, _iso(thread.published_at), thread.by_brand],
        [
            signals.tone,
            signals.severity,
            signals.constructive,
            signals.arousal,
            None if signals.topics is None else list(signals.topics),
        ],
    ]
    return orjson.dumps(fields)


def decode_event(data: bytes) -> Event:
    """The event `encode_event` wrote."""
    event_id, account, occurred_at, channel, text, lang, author, thread, signals = orjson.loads(
        data
    )
    topics = signals[4]
    return Event(
        event_id=event_id,
        account=account,
        occurred_at=datetime.fromisoformat(occurred_at),
        author=Author(*author),
        channel=channel,
        text=text,
        lang=lang,
        thread=None if thread is None else Thread(thread[0], _time(thread[1]), thread[2]),
        signals=CallerSignals(
            signals[0],
            signals[1],
            signals[2],
            signals[3],
            None if topics is None else tuple(topics),
        ),
    )
