"""Capture of live decisions to a Redis stream, its export as events, and replay keys in Redis.

Capture is opt-in (POLICY_CAPTURE_URL, POLICY_CAPTURE_STREAM,
POLICY_CAPTURE_MAXLEN; see docs/replay.md). The request thread only encodes
the entry and queues it; a writer thread sends queued entries in pipelined
batches with `XADD ... MAXLEN ~ n`. Nothing here ever raises into a decision:
a full queue drops the entry, a Redis failure drops the batch, and both are
counted and logged.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque
from collections.abc import Iterator, Mapping
from typing import Any

import orjson
import redis

from policy_service.errors import ConfigError, PolicyError
from policy_service.events import Event

log = logging.getLogger(__name__)

DEFAULT_STREAM = "policy:capture"
DEFAULT_MAXLEN = 100_000
QUEUE_SIZE = 10_000  # entries waiting for the writer; more are dropped (and counted)
BATCH_SIZE = 200  # entries per pipelined round trip
# The writer's budget per round trip; it never blocks a request, only its own queue.
SOCKET_TIMEOUT_SECONDS = 1.0
FAILURE_PAUSE_SECONDS = 1.0  # after a failed batch, before the next attempt
WARN_EVERY_SECONDS = 60.0  # repeated failures are logged at most this often
EXPORT_BATCH = 1000


class CaptureError(PolicyError):
    """A capture stream cannot be read (Redis unreachable, no such stream, wrong type)."""


def event_to_request(event: Event) -> dict[str, Any]:
    """The event in the API's request format (what parse_event reads back to an equal Event).

    Unset optional fields are left out; occurred_at keeps the offset it came with.
    """
    author = event.author
    data: dict[str, Any] = {
        "event_id": event.event_id,
        "account": event.account,
        "occurred_at": event.occurred_at.isoformat(),
    }
    if event.channel is not None:
        data["channel"] = event.channel
    data["text"] = event.text
    if event.lang is not None:
        data["lang"] = event.lang
    data["author"] = _present(
        {
            "id": author.id,
            "reach": author.reach,
            "is_customer": author.is_customer,
            "verified": author.verified,
        }
    )
    thread = event.thread
    if thread is not None:
        data["thread"] = _present(
            {
                "id": thread.id,
                "published_at": thread.published_at.isoformat() if thread.published_at else None,
                "by_brand": thread.by_brand,
            }
        )
    signals = event.signals
    caller = _present(
        {
            "tone": signals.tone,
            "severity": signals.severity,
            "constructive": signals.constructive,
            "arousal": signals.arousal,
            "topics": list(signals.topics) if signals.topics is not None else None,
        }
    )
    if caller:
        data["signals"] = caller
    return data


def _present(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


class RedisCapture:
    """A decision sink (callable(event, decision)) appending both to a bounded Redis stream.

    Each stream entry has two fields: `event` (the request, as JSON) and
    `decision` (the decision as the evaluator made it, without `duplicate`).
    The Evaluator calls sinks for fresh decisions only, so duplicates are not
    captured again.
    """

    def __init__(
        self,
        client: redis.Redis,
        stream: str = DEFAULT_STREAM,
        maxlen: int = DEFAULT_MAXLEN,
        *,
        queue_size: int = QUEUE_SIZE,
        batch_size: int = BATCH_SIZE,
    ) -> None:
        self._client = client
        self.stream = stream
        self.maxlen = maxlen
        self._queue_size = queue_size
        self._batch_size = batch_size
        self.captured = 0
        self.dropped = 0
        self.failed = 0
        self._last_warning = -WARN_EVERY_SECONDS
        self._closed = False
        self._start()

    def _start(self) -> None:
        # Also after a fork: the parent's lock may be held and its thread does not exist here.
        self._pid = os.getpid()
        self._lock = threading.Condition()
        self._queue: deque[dict[str, bytes]] = deque()
        self._pending = 0  # queued or being written
        self._thread: threading.Thread | None = None
        self._failing = False

    @classmethod
    def from_url(
        cls, url: str, stream: str = DEFAULT_STREAM, maxlen: int = DEFAULT_MAXLEN
    ) -> RedisCapture:
        """A capture on a new client for `url` (redis://host:port/db)."""
        client = redis.Redis.from_url(
            url,
            socket_timeout=SOCKET_TIMEOUT_SECONDS,
            socket_connect_timeout=SOCKET_TIMEOUT_SECONDS,
            health_check_interval=30,
            client_name="policy-service-capture",
        )
        return cls(client, stream, maxlen)

    def __call__(self, event: Event, decision: Mapping[str, Any]) -> None:
        """Queue one decision with its event; never raises, never waits for Redis."""
        try:
            # Encoded here: the caller may change the decision after this returns.
            entry = {
                "event": orjson.dumps(event_to_request(event)),
                "decision": orjson.dumps(decision),
            }
        except (TypeError, ValueError) as exc:  # orjson.JSONEncodeError is a TypeError
            self._count_failure(1, f"cannot encode the decision of {event.event_id}: {exc}")
            return
        if self._pid != os.getpid():
            self._start()
        with self._lock:
            if self._closed or len(self._queue) >= self._queue_size:
                self.dropped += 1
                dropped = self.dropped
            else:
                self._queue.append(entry)
                self._pending += 1
                if self._thread is None:
                    self._thread = threading.Thread(
                        target=self._write_loop, name="policy-capture", daemon=True
                    )
                    self._thread.start()
                self._lock.notify()
                return
        self._warn(f"capture queue full or closed: {dropped} decision(s) dropped so far")

    def _write_loop(self) -> None:
        while True:
            with self._lock:
                while not self._queue and not self._closed:
                    self._lock.wait()
                if not self._queue:
                    return
                count = min(len(self._queue), self._batch_size)
                batch = [self._queue.popleft() for _ in range(count)]
            written = self._write(batch)
            with self._lock:
                self._pending -= len(batch)
                if written:
                    self.captured += len(batch)
                self._lock.notify_all()
            if not written:
                time.sleep(FAILURE_PAUSE_SECONDS)

    def _write(self, batch: list[dict[str, bytes]]) -> bool:
        try:
            pipe = self._client.pipeline(transaction=False)
            for entry in batch:
                # MAXLEN ~ trims whole macro nodes: cheap, and the stream stays about maxlen long.
                pipe.xadd(self.stream, entry, maxlen=self.maxlen, approximate=True)  # type: ignore[arg-type]
            pipe.execute()
        except redis.RedisError as exc:
            self._count_failure(len(batch), f"{type(exc).__name__}: {exc}")
            self._failing = True
            return False
        except Exception as exc:  # a writer that dies would silently stop the capture
            log.exception("capture writer failed")
            self._count_failure(len(batch), f"{type(exc).__name__}: {exc}")
            return False
        if self._failing:
            self._failing = False
            log.warning("capture to Redis stream %s works again", self.stream)
        return True

    def _count_failure(self, count: int, reason: str) -> None:
        with self._lock:
            self.failed += count
            failed = self.failed
        self._warn(f"capture to Redis stream {self.stream} failed ({failed} so far): {reason}")

    def _warn(self, message: str) -> None:
        now = time.monotonic()
        if now - self._last_warning >= WARN_EVERY_SECONDS:
            self._last_warning = now
            log.warning("%s", message)

    def flush(self, timeout_seconds: float = 5.0) -> bool:
        """Wait until every queued entry was written or given up; False on timeout."""
        with self._lock:
            return self._lock.wait_for(lambda: self._pending == 0, timeout_seconds)

    def close(self, timeout_seconds: float = 5.0) -> None:
        """Write what is queued (up to the timeout), stop the writer and close the client."""
        self.flush(timeout_seconds)
        with self._lock:
            self._closed = True
            self._lock.notify_all()
            thread = self._thread
        if thread is not None:
            thread.join(timeout_seconds)
        self._client.close()

    def stats(self) -> dict[str, int]:
        """Counters for logs and status pages: captured, dropped, failed, pending."""
        with self._lock:
            return {
                "captured": self.captured,
                "dropped": self.dropped,
                "failed": self.failed,
                "pending": self._pending,
            }


def capture_from_settings(
    url: str | None,
    stream: str | None = DEFAULT_STREAM,
    maxlen: int | str | None = DEFAULT_MAXLEN,
) -> RedisCapture | None:
    """The capture sink configured by POLICY_CAPTURE_URL / _STREAM / _MAXLEN, or None when off.

    An empty URL turns capture off. ConfigError for a URL that is not
    redis://, rediss:// or unix://, an empty stream name or a length below 1.
    """
    if not url:
        return None
    if not url.startswith(("redis://", "rediss://", "unix://")):
        raise ConfigError(f"POLICY_CAPTURE_URL must be redis://host:port/db, not {url!r}")
    name = (stream or DEFAULT_STREAM).strip()
    if not name:
        raise ConfigError("POLICY_CAPTURE_STREAM must not be empty")
    try:
        length = DEFAULT_MAXLEN if maxlen in (None, "") else int(maxlen)
    except ValueError:
        raise ConfigError(f"POLICY_CAPTURE_MAXLEN must be a whole number, not {maxlen!r}") from None
    if length < 1:
        raise ConfigError(f"POLICY_CAPTURE_MAXLEN must be at least 1, not {length}")
    return RedisCapture.from_url(url, name, length)


def _client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=10, socket_connect_timeout=5)


def read_capture(url: str, stream: str, batch: int = EXPORT_BATCH) -> Iterator[tuple[str, bytes]]:
    """(entry id, event JSON) of every entry of a capture stream, oldest first.

    Entries without an `event` field come as (id, b""). CaptureError when Redis
    cannot be read or the key is not a stream.
    """
    client = _client(url)
    try:
        kind = client.type(stream)
        if kind in (b"none", "none"):
            raise CaptureError(f"no stream {stream!r} in {_safe(url)}")
        if kind not in (b"stream", "stream"):
            raise CaptureError(f"{stream!r} in {_safe(url)} is a {kind!r}, not a stream")
        start = "-"
        while True:
            entries = client.xrange(stream, min=start, max="+", count=batch)
            if not entries:
                return
            for entry_id, fields in entries:
                value = (fields or {}).get(b"event", b"")
                yield _text(entry_id), value if isinstance(value, bytes) else value.encode()
            start = "(" + _text(entries[-1][0])
    except redis.RedisError as exc:
        raise CaptureError(f"cannot read stream {stream!r} from {_safe(url)}: {exc}") from None
    finally:
        client.close()


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _safe(url: str) -> str:
    """The URL without a password, for messages."""
    return url.split("@")[-1] if "@" in url else url


def _match(prefix: str) -> str:
    # Glob characters in the prefix must match themselves.
    return "".join("\\" + c if c in "*?[]\\" else c for c in prefix) + "*"


def count_keys(url: str, prefix: str) -> int:
    """How many keys start with `prefix` (a replay's state), counted with SCAN."""
    client = _client(url)
    try:
        return sum(1 for _ in client.scan_iter(match=_match(prefix), count=1000))
    except redis.RedisError as exc:
        raise CaptureError(f"cannot scan {_safe(url)}: {exc}") from None
    finally:
        client.close()


def delete_keys(url: str, prefix: str) -> int:
    """Delete every key starting with `prefix` (a replay's state); the number deleted."""
    client = _client(url)
    deleted = 0
    try:
        batch: list[Any] = []
        for key in client.scan_iter(match=_match(prefix), count=1000):
            batch.append(key)
            if len(batch) >= 500:
                deleted += int(client.unlink(*batch))
                batch = []
        if batch:
            deleted += int(client.unlink(*batch))
    except redis.RedisError as exc:
        raise CaptureError(f"cannot delete replay keys in {_safe(url)}: {exc}") from None
    finally:
        client.close()
    return deleted
