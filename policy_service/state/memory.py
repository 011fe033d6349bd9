"""The in-memory state store: the embedded default, for one process."""

from __future__ import annotations

import bisect
import heapq
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

import orjson

from policy_service.state import (
    ABANDONED,
    DEDUP_SECONDS,
    ESCALATION_WINDOW_MS,
    TRANSITIONS_KEPT,
    Observation,
    Observed,
    RailsMarks,
    RailsSeen,
    fold,
)
from policy_service.state.levels import COUNTERS, LevelState, advance, derive
from policy_service.timefmt import utc_text

MINUTE_MS = 60_000
HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
MAX_EVENTS_PER_ACCOUNT = 200_000
MAX_PER_AUTHOR = 100
MAX_PER_THREAD = 1000
# Beyond these sizes a table is looked through for stale entries (see _Sweeps):
MAX_ANSWERED_AUTHORS = 10_000  # answer marks past their keep time
MAX_RECENT_KEYS = 10_000  # authors or threads silent for a day

V = TypeVar("V")


class _Sweeps:
    """When a table past its limit is next looked through for stale entries.

    After a look, the next one comes once the table has doubled, or a day (of
    the table's clock) later. Without the doubling, a wave of more live
    entries than the limit (ten thousand critics in a day) would rescan the
    whole table with every event; without the day, the entries of a wave that
    has passed would stay until the table doubled again. A table so holds at
    most about twice its live entries, or a day's worth beyond them.
    """

    __slots__ = ("limit", "next_at", "last_ms", "looks")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.next_at = limit
        self.last_ms = 0
        self.looks = 0  # how many times the table was looked through

    def due(self, size: int, now_ms: int) -> bool:
        if size <= self.limit:
            return False
        return size > self.next_at or now_ms - self.last_ms >= DAY_MS

    def drop(self, table: dict[str, V], stale: Callable[[V], bool], now_ms: int) -> None:
        """Look through `table` (when `due` says so) and drop its stale entries."""
        for key in [k for k, v in table.items() if stale(v)]:
            del table[key]
        size = len(table)
        self.next_at = max(self.limit, 2 * size)
        self.last_ms = now_ms
        self.looks += 1


def to_ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


def from_ms(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def iso(ms: int) -> str:
    return utc_text(from_ms(ms))


class _Ring:
    """Counters in `size` buckets of `width_ms`, reused in a circle: bounded memory.

    The window's totals are kept up to date as buckets enter and leave it, so
    a snapshot costs nothing whatever the traffic.
    """

    def __init__(self, size: int, width_ms: int) -> None:
        self.size = size
        self.width_ms = width_ms
        self.newest = -1  # bucket index of the watermark
        self.index: list[int] = [-1] * size
        self.counts: list[list[int]] = [[0] * len(COUNTERS) for _ in range(size)]
        self.totals = [0] * len(COUNTERS)

    def advance(self, watermark_ms: int) -> None:
        """Move the window's end to the watermark's bucket, dropping what leaves it."""
        newest = watermark_ms // self.width_ms
        if newest <= self.newest:
            return
        if newest - self.newest >= self.size:
            self.index = [-1] * self.size
            self.counts = [[0] * len(COUNTERS) for _ in range(self.size)]
            self.totals = [0] * len(COUNTERS)
        else:
            for bucket in range(self.newest - self.size + 1, newest - self.size + 1):
                slot = bucket % self.size
                if self.index[slot] == bucket:
                    for i, count in enumerate(self.counts[slot]):
                        self.totals[i] -= count
                    self.index[slot] = -1
                    self.counts[slot] = [0] * len(COUNTERS)
        self.newest = newest

    def add(self, at_ms: int, counters: list[int]) -> None:
        bucket = at_ms // self.width_ms
        if bucket <= self.newest - self.size:
            return  # older than the window: the window no longer covers it
        slot = bucket % self.size
        if self.index[slot] != bucket:
            # The slot's earlier bucket left the window (advance emptied it).
            self.index[slot] = bucket
        for i in counters:
            self.counts[slot][i] += 1
            self.totals[i] += 1

    def total(self) -> dict[str, int]:
        # Read for every event: a literal is built in one step, zip and dict in many.
        t = self.totals
        return {
            "volume": t[0],
            "negative": t[1],
            "hostile": t[2],
            "positive": t[3],
            "multiplier": t[4],
            "non_customer": t[5],
        }


@dataclass
class _Account:
    minutes: _Ring = field(default_factory=lambda: _Ring(60, MINUTE_MS))
    hours: _Ring = field(default_factory=lambda: _Ring(24, HOUR_MS))
    watermark_ms: int = 0
    level: LevelState = field(default_factory=LevelState)
    transitions: list[dict[str, str]] = field(default_factory=list)
    # multiplier author -> time of their last negative comment, while within the
    # hour, and a heap of (time, author) to drop them as the hour moves on
    multipliers: dict[str, int] = field(default_factory=dict)
    multiplier_times: list[tuple[int, str]] = field(default_factory=list)
    # author or thread -> sorted times of their recent negative comments
    author_negative: dict[str, list[int]] = field(default_factory=dict)
    thread_negative: dict[str, list[int]] = field(default_factory=dict)
    # event id -> (event time, the decision as JSON, or None while pending), oldest
    # first; JSON text rather than dicts keeps the garbage collector's work small.
    events: OrderedDict[str, tuple[int, str | None]] = field(default_factory=OrderedDict)
    # the rate limit's current window (of the service's clock) and its new events
    limit_window: int = -1
    limit_used: int = 0
    # rails: (clock time, decision id) of the escalations not folded, newest last,
    # at most the cap; author -> (clock time answered, until when the mark counts)
    escalations: list[tuple[int, str]] = field(default_factory=list)
    answered: dict[str, tuple[int, int]] = field(default_factory=dict)
    answered_sweeps: _Sweeps = field(default_factory=lambda: _Sweeps(MAX_ANSWERED_AUTHORS))
    author_sweeps: _Sweeps = field(default_factory=lambda: _Sweeps(MAX_RECENT_KEYS))
    thread_sweeps: _Sweeps = field(default_factory=lambda: _Sweeps(MAX_RECENT_KEYS))


_VOLUME, _NEGATIVE, _HOSTILE, _POSITIVE, _MULTIPLIER, _NON_CUSTOMER = range(len(COUNTERS))


class MemoryStore:
    """Keeps every account's state in this process; one lock makes each step atomic."""

    def __init__(self) -> None:
        # A plain lock for every step (a Condition's own `with` runs Python code
        # on each use), and a condition on the same lock for the rare request
        # that waits for another's decision; `_waiting` spares the notify
        # when nobody waits.
        self._lock = threading.Lock()
        self._recorded = threading.Condition(self._lock)
        self._waiting = 0
        self._accounts: dict[str, _Account] = {}

    def _account(self, name: str) -> _Account:
        account = self._accounts.get(name)
        if account is None:
            account = self._accounts[name] = _Account()
        return account

    def observe(self, observation: Observation) -> Observed:
        at_ms = to_ms(observation.at)
        with self._lock:
            account = self._account(observation.account)
            seen = account.events.get(observation.event_id)
            rails = _rails_seen(account, observation) if observation.rails else None
            if seen is not None:
                fields = self._snapshot(account, observation)
                since = self._crisis_since(account)
                if seen[1] is None:
                    return Observed(fields, pending=True, crisis_since=since, rails=rails)
                if seen[1] == ABANDONED:
                    return Observed(fields, retry=True, crisis_since=since, rails=rails)
                return Observed(fields, previous=orjson.loads(seen[1]))
            if observation.limit is not None:
                retry_after_ms = _take_permit(account, observation)
                if retry_after_ms:
                    return Observed({}, retry_after_ms=retry_after_ms)
            account.events[observation.event_id] = (at_ms, None)
            self._count(account, observation, at_ms)
            self._forget_old_events(account)
            fields = self._snapshot(account, observation)
            crisis = observation.crisis
            moves = advance(
                account.level,
                account.watermark_ms,
                fields,
                crisis.watch_test,
                crisis.crisis_test,
                crisis.cool_down_seconds * 1000,
            )
            for before, after, moved_ms in moves:
                account.transitions.append({"from": before, "to": after, "at": iso(moved_ms)})
            del account.transitions[:-TRANSITIONS_KEPT]
            fields["crisis_level"] = account.level.level
            return Observed(fields, crisis_since=self._crisis_since(account), rails=rails)

    def _count(self, account: _Account, obs: Observation, at_ms: int) -> None:
        account.watermark_ms = max(account.watermark_ms, at_ms)
        negative = obs.tone in ("negative", "hostile")
        counters = [_VOLUME]
        if negative:
            counters.append(_NEGATIVE)
        if obs.tone == "hostile":
            counters.append(_HOSTILE)
        if obs.tone == "positive":
            counters.append(_POSITIVE)
        if obs.is_multiplier:
            counters.append(_MULTIPLIER)
        if obs.is_customer is False:
            counters.append(_NON_CUSTOMER)
        for ring in (account.minutes, account.hours):
            ring.advance(account.watermark_ms)
            ring.add(at_ms, counters)
        if not negative:
            return
        day_ago = account.watermark_ms - DAY_MS
        if obs.is_multiplier:
            multipliers = account.multipliers
            multipliers[obs.author_id] = max(multipliers.get(obs.author_id, at_ms), at_ms)
            heapq.heappush(account.multiplier_times, (at_ms, obs.author_id))
        _append_recent(
            account.author_negative,
            account.author_sweeps,
            obs.author_id,
            at_ms,
            MAX_PER_AUTHOR,
            day_ago,
        )
        if obs.thread_id is not None:
            _append_recent(
                account.thread_negative,
                account.thread_sweeps,
                obs.thread_id,
                at_ms,
                MAX_PER_THREAD,
                day_ago,
            )

    def _snapshot(self, account: _Account, obs: Observation) -> dict[str, Any]:
        now = account.watermark_ms
        hour_ago, day_ago = now - HOUR_MS, now - DAY_MS
        fields = derive(account.minutes.total(), account.hours.totals[_VOLUME])
        fields["multipliers_1h"] = _distinct_since(account, hour_ago)
        fields["author_negative_24h"] = _count_after(
            account.author_negative.get(obs.author_id), day_ago
        )
        fields["thread_negative_1h"] = _count_after(
            account.thread_negative.get(obs.thread_id or ""), hour_ago
        )
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

    def record(
        self,
        account: str,
        event_id: str,
        decision: Mapping[str, Any],
        marks: RailsMarks | None = None,
    ) -> str | None:
        # Encoded outside the lock, unless the rails may still fold the decision.
        text = orjson.dumps(decision).decode() if marks is None else ""
        with self._lock:
            state = self._account(account)
            into = None
            if marks is not None:
                into = _mark_rails(state, marks)
                if into is not None:
                    decision = dict(decision)
                    fold(decision, into)
                text = orjson.dumps(decision).decode()
            at_ms = state.events.get(event_id, (state.watermark_ms, None))[0]
            state.events[event_id] = (at_ms, text)
            if self._waiting:
                self._recorded.notify_all()
        return into

    def abandon(self, account: str, event_id: str) -> None:
        with self._lock:
            state = self._accounts.get(account)
            seen = state.events.get(event_id) if state else None
            if state is not None and seen is not None and seen[1] is None:
                state.events[event_id] = (seen[0], ABANDONED)

    def wait_for_decision(
        self, account: str, event_id: str, timeout_seconds: float
    ) -> Mapping[str, Any] | None:
        def recorded() -> str | None:
            state = self._accounts.get(account)
            seen = state.events.get(event_id) if state else None
            return None if seen is None or seen[1] == ABANDONED else seen[1]

        with self._lock:
            self._waiting += 1
            try:
                self._recorded.wait_for(lambda: recorded() is not None, timeout_seconds)
            finally:
                self._waiting -= 1
            text = recorded()
        return None if text is None else dict(orjson.loads(text))

    def account_state(self, account: str) -> dict[str, Any]:
        with self._lock:
            state = self._accounts.get(account)
            if state is None:
                return empty_account_state(account)
            return {
                "account": account,
                "crisis_level": state.level.level,
                "since": iso(state.level.since_ms) if state.level.since_ms else None,
                "as_of": iso(state.watermark_ms) if state.watermark_ms else None,
                "windows": {"1h": state.minutes.total(), "24h": state.hours.total()},
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


def _take_permit(account: _Account, obs: Observation) -> int:
    """Count a new event in the account's rate-limit window: 0, or ms until the window ends."""
    assert obs.limit is not None
    window = obs.now_ms // obs.limit.window_ms
    if window != account.limit_window:
        account.limit_window, account.limit_used = window, 0
    if account.limit_used >= obs.limit.per_window:
        return (window + 1) * obs.limit.window_ms - obs.now_ms
    account.limit_used += 1
    return 0


def _recent_escalations(account: _Account, now_ms: int) -> list[tuple[int, str]]:
    """The escalations of the hour before `now_ms`, oldest first (older ones are dropped)."""
    hour_ago = now_ms - ESCALATION_WINDOW_MS
    account.escalations = [e for e in account.escalations if e[0] > hour_ago]
    return account.escalations


def _rails_seen(account: _Account, obs: Observation) -> RailsSeen:
    recent = _recent_escalations(account, obs.now_ms)
    answered = account.answered.get(obs.author_id)
    return RailsSeen(
        escalations_1h=len(recent),
        open_escalation=recent[-1][1] if recent else None,
        author_answered_ms=answered[0] if answered else None,
    )


def _mark_rails(account: _Account, marks: RailsMarks) -> str | None:
    """Count an escalation or fold it (returns the open one's id), and mark an answer."""
    into = None
    if marks.escalation_cap:
        recent = _recent_escalations(account, marks.now_ms)
        if len(recent) >= marks.escalation_cap:
            into = recent[-1][1]
        else:
            recent.append((marks.now_ms, marks.decision_id))
            # Sorted by time like the Redis sorted set, the newest `cap` kept.
            recent.sort()
            del recent[: -marks.escalation_cap]
    if marks.answered_author is not None:
        answered = account.answered
        answered[marks.answered_author] = (marks.now_ms, marks.now_ms + marks.answered_keep_ms)
        sweeps, now_ms = account.answered_sweeps, marks.now_ms
        if sweeps.due(len(answered), now_ms):
            sweeps.drop(answered, lambda mark: mark[1] <= now_ms, now_ms)
    return into


def _distinct_since(account: _Account, after_ms: int) -> int:
    """Distinct multipliers whose last negative comment is after `after_ms`."""
    times, last = account.multiplier_times, account.multipliers
    while times and times[0][0] <= after_ms:
        at_ms, author = heapq.heappop(times)
        if last.get(author) == at_ms:
            del last[author]
    return len(last)


def _count_after(times: list[int] | None, after_ms: int) -> int:
    return 0 if not times else len(times) - bisect.bisect_right(times, after_ms)


def _append_recent(
    table: dict[str, list[int]],
    sweeps: _Sweeps,
    key: str,
    at_ms: int,
    keep: int,
    day_ago: int,
) -> None:
    """Add a time to a key's sorted times, keeping the newest `keep` within a day;
    when many keys pile up, drop those silent for a day."""
    times = table.get(key)
    if times is None:
        times = table[key] = []
    bisect.insort(times, at_ms)
    # Older than a day never counts again: the watermark only moves forward.
    del times[: max(len(times) - keep, bisect.bisect_right(times, day_ago))]
    now_ms = day_ago + DAY_MS
    if sweeps.due(len(table), now_ms):
        sweeps.drop(table, lambda t: not t or t[-1] <= day_ago, now_ms)
