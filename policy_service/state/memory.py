"""The in-memory state store: the embedded default, for one process."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from policy_service.state import (
    DEDUP_SECONDS,
    TRANSITIONS_KEPT,
    Observation,
    Observed,
)
from policy_service.state.levels import COUNTERS, LevelState, advance, derive

MINUTE_MS = 60_000
HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
MAX_EVENTS_PER_ACCOUNT = 200_000
MAX_PER_AUTHOR = 100
MAX_PER_THREAD = 1000
_PENDING: Mapping[str, Any] = {}


def to_ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


def from_ms(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def iso(ms: int) -> str:
    return from_ms(ms).isoformat().replace("+00:00", "Z")


class _Ring:
    """Counters in `size` buckets of `width_ms`, reused in a circle: bounded memory."""

    def __init__(self, size: int, width_ms: int) -> None:
        self.size = size
        self.width_ms = width_ms
        self.index: list[int] = [-1] * size
        self.counts: list[dict[str, int]] = [dict.fromkeys(COUNTERS, 0) for _ in range(size)]

    def add(self, at_ms: int, watermark_ms: int, counters: list[str]) -> None:
        bucket = at_ms // self.width_ms
        if bucket <= watermark_ms // self.width_ms - self.size:
            return  # older than the window: the window no longer covers it
        slot = bucket % self.size
        if self.index[slot] != bucket:
            self.index[slot] = bucket
            self.counts[slot] = dict.fromkeys(COUNTERS, 0)
        for name in counters:
            self.counts[slot][name] += 1

    def totals(self, watermark_ms: int) -> dict[str, int]:
        newest = watermark_ms // self.width_ms
        total = dict.fromkeys(COUNTERS, 0)
        for bucket, counts in zip(self.index, self.counts, strict=True):
            if newest - self.size < bucket <= newest:
                for name in COUNTERS:
                    total[name] += counts[name]
        return total


@dataclass
class _Account:
    minutes: _Ring = field(default_factory=lambda: _Ring(60, MINUTE_MS))
    hours: _Ring = field(default_factory=lambda: _Ring(24, HOUR_MS))
    watermark_ms: int = 0
    level: LevelState = field(default_factory=LevelState)
    transitions: list[dict[str, str]] = field(default_factory=list)
    # author -> time of their last negative comment, for distinct multipliers
    multipliers: dict[str, int] = field(default_factory=dict)
    author_negative: dict[str, list[int]] = field(default_factory=dict)
    thread_negative: dict[str, list[int]] = field(default_factory=dict)
    # event id -> (event time, decision or _PENDING), oldest first
    events: OrderedDict[str, tuple[int, Mapping[str, Any]]] = field(default_factory=OrderedDict)


class MemoryStore:
    """Keeps every account's state in this process; one lock makes each step atomic."""

    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._accounts: dict[str, _Account] = {}

    def observe(self, observation: Observation) -> Observed:
        at_ms = to_ms(observation.at)
        with self._lock:
            account = self._accounts.setdefault(observation.account, _Account())
            seen = account.events.get(observation.event_id)
            if seen is not None:
                fields = self._snapshot(account, observation)
                if seen[1] is _PENDING:
                    return Observed(fields, pending=True)
                return Observed(fields, previous=seen[1])
            account.events[observation.event_id] = (at_ms, _PENDING)
            self._forget_old_events(account)
            self._count(account, observation, at_ms)
            fields = self._snapshot(account, observation)
            crisis = observation.crisis
            moves = advance(
                account.level,
                account.watermark_ms,
                fields,
                crisis.watch,
                crisis.crisis,
                crisis.cool_down_seconds * 1000,
            )
            for before, after, moved_ms in moves:
                account.transitions.append({"from": before, "to": after, "at": iso(moved_ms)})
            del account.transitions[:-TRANSITIONS_KEPT]
            fields["crisis_level"] = account.level.level
            return Observed(fields, crisis_since=self._crisis_since(account))

    def _count(self, account: _Account, obs: Observation, at_ms: int) -> None:
        account.watermark_ms = max(account.watermark_ms, at_ms)
        negative = obs.tone in ("negative", "hostile")
        counters = ["volume"]
        if negative:
            counters.append("negative")
        if obs.tone == "hostile":
            counters.append("hostile")
        if obs.tone == "positive":
            counters.append("positive")
        if obs.is_multiplier:
            counters.append("multiplier")
        if obs.is_customer is False:
            counters.append("non_customer")
        account.minutes.add(at_ms, account.watermark_ms, counters)
        account.hours.add(at_ms, account.watermark_ms, counters)
        if not negative:
            return
        if obs.is_multiplier:
            last = account.multipliers.get(obs.author_id, at_ms)
            account.multipliers[obs.author_id] = max(last, at_ms)
        _append_recent(account.author_negative, obs.author_id, at_ms, MAX_PER_AUTHOR)
        if obs.thread_id is not None:
            _append_recent(account.thread_negative, obs.thread_id, at_ms, MAX_PER_THREAD)

    def _snapshot(self, account: _Account, obs: Observation) -> dict[str, Any]:
        now = account.watermark_ms
        hour_ago, day_ago = now - HOUR_MS, now - DAY_MS
        account.multipliers = {a: t for a, t in account.multipliers.items() if t > day_ago}
        fields = derive(account.minutes.totals(now), account.hours.totals(now)["volume"])
        fields["multipliers_1h"] = sum(1 for t in account.multipliers.values() if t > hour_ago)
        authored = account.author_negative.get(obs.author_id, [])
        fields["author_negative_24h"] = sum(1 for t in authored if t > day_ago)
        on_thread = account.thread_negative.get(obs.thread_id or "", [])
        fields["thread_negative_1h"] = sum(1 for t in on_thread if t > hour_ago)
        fields["crisis_level"] = account.level.level
        return fields

    @staticmethod
    def _crisis_since(account: _Account) -> datetime | None:
        if account.level.level in ("crisis", "recovery"):
            return from_ms(account.level.crisis_started_ms)
        return None

    @staticmethod
    def _forget_old_events(account: _Account) -> None:
        horizon = account.watermark_ms - DEDUP_SECONDS * 1000
        events = account.events
        while events:
            oldest_id, (oldest_ms, _) = next(iter(events.items()))
            if oldest_ms >= horizon and len(events) <= MAX_EVENTS_PER_ACCOUNT:
                break
            del events[oldest_id]

    def record(self, account: str, event_id: str, decision: Mapping[str, Any]) -> None:
        with self._lock:
            state = self._accounts.setdefault(account, _Account())
            at_ms = state.events.get(event_id, (state.watermark_ms, _PENDING))[0]
            state.events[event_id] = (at_ms, decision)
            self._lock.notify_all()

    def wait_for_decision(
        self, account: str, event_id: str, timeout_seconds: float
    ) -> Mapping[str, Any] | None:
        def recorded() -> Mapping[str, Any] | None:
            state = self._accounts.get(account)
            seen = state.events.get(event_id) if state else None
            return None if seen is None or seen[1] is _PENDING else seen[1]

        with self._lock:
            self._lock.wait_for(lambda: recorded() is not None, timeout_seconds)
            return recorded()

    def account_state(self, account: str) -> dict[str, Any]:
        with self._lock:
            state = self._accounts.get(account)
            if state is None:
                return empty_account_state(account)
            now = state.watermark_ms
            return {
                "account": account,
                "crisis_level": state.level.level,
                "since": iso(state.level.since_ms) if state.level.since_ms else None,
                "as_of": iso(now),
                "windows": {
                    "1h": state.minutes.totals(now),
                    "24h": state.hours.totals(now),
                },
                "transitions": list(reversed(state.transitions)),
            }

    def ping(self) -> bool:
        return True


def empty_account_state(account: str) -> dict[str, Any]:
    """The state of an account no event was seen for."""
    zero = dict.fromkeys(COUNTERS, 0)
    return {
        "account": account,
        "crisis_level": "calm",
        "since": None,
        "as_of": None,
        "windows": {"1h": dict(zero), "24h": dict(zero)},
        "transitions": [],
    }


def _append_recent(table: dict[str, list[int]], key: str, at_ms: int, keep: int) -> None:
    """Add a time to a key's newest `keep` times; drop keys silent for a day when many."""
    times = table.setdefault(key, [])
    times.append(at_ms)
    times.sort()
    del times[:-keep]
    if len(table) > 10_000:
        day_ago = max(t[-1] for t in table.values()) - DAY_MS
        for stale in [k for k, t in table.items() if t[-1] <= day_ago]:
            del table[stale]
