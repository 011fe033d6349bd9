"""Property tests: the bucketed windows against a plain list of timestamps, in both stores."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from policy_service.state import CrisisRules, Observation, StateStore, memory
from policy_service.state.levels import COUNTERS
from policy_service.state.memory import MemoryStore
from policy_service.state.redis_store import RedisStore

T0 = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
MINUTE_MS, HOUR_MS = 60_000, 3_600_000
SPAN_MS = 30 * HOUR_MS
TONES = ("positive", "neutral", "negative", "hostile")
RULES = CrisisRules(
    watch=["all", [["cmp", "negative_share_1h", "gte", 0.3], ["cmp", "volume_1h", "gte", 3]]],
    crisis=["all", [["cmp", "negative_share_1h", "gte", 0.5], ["cmp", "velocity", "gte", 2]]],
    cool_down_seconds=1800,
)
_accounts = itertools.count()


@dataclass(frozen=True)
class Comment:
    offset_ms: int
    tone: str
    multiplier: bool
    customer: bool | None
    event_id: str


@dataclass
class Ring:
    """The model of one window: every counted comment, and the ring's drop rule."""

    size: int
    width_ms: int
    kept: list[tuple[int, Comment]] = field(default_factory=list)

    def add(self, at_ms: int, watermark_ms: int, comment: Comment) -> None:
        # The ring drops what is already older than the window when it arrives.
        if at_ms // self.width_ms > watermark_ms // self.width_ms - self.size:
            self.kept.append((at_ms, comment))

    def totals(self, watermark_ms: int) -> dict[str, int]:
        newest = watermark_ms // self.width_ms
        inside = [c for at, c in self.kept if newest - self.size < at // self.width_ms <= newest]
        return {
            "volume": len(inside),
            "negative": sum(c.tone in ("negative", "hostile") for c in inside),
            "hostile": sum(c.tone == "hostile" for c in inside),
            "positive": sum(c.tone == "positive" for c in inside),
            "multiplier": sum(c.multiplier for c in inside),
            "non_customer": sum(c.customer is False for c in inside),
        }


# Offsets near bucket edges find off-by-one errors that uniform ones rarely hit.
offsets = st.one_of(
    st.integers(0, SPAN_MS),
    st.builds(
        lambda minute, jitter: max(0, minute * MINUTE_MS + jitter),
        st.integers(0, SPAN_MS // MINUTE_MS),
        st.sampled_from([-1, 0, 1]),
    ),
)


def comment_lists(offset: st.SearchStrategy[int], size: int) -> st.SearchStrategy[list[Comment]]:
    return st.lists(
        st.builds(
            Comment,
            offset_ms=offset,
            tone=st.sampled_from(TONES),
            multiplier=st.booleans(),
            customer=st.sampled_from([True, False, None]),
            event_id=st.sampled_from([f"e{n}" for n in range(size)]),  # repeats are duplicates
        ),
        max_size=size,
    )


comments = comment_lists(offsets, 40)
# Dense traffic over a few hours, so that levels move up and down.
dense = comment_lists(st.integers(0, 4 * HOUR_MS), 60)


def observation(account: str, comment: Comment, rules: CrisisRules = RULES) -> Observation:
    return Observation(
        account=account,
        event_id=comment.event_id,
        at=T0 + timedelta(milliseconds=comment.offset_ms),
        author_id="u1" if comment.multiplier else "u2",
        tone=comment.tone,
        is_multiplier=comment.multiplier,
        is_customer=comment.customer,
        thread_id="p1",
        crisis=rules,
    )


def check_windows(store: StateStore, events: list[Comment]) -> None:
    account = f"acct-{next(_accounts)}"
    minutes, hours = Ring(60, MINUTE_MS), Ring(24, HOUR_MS)
    watermark = 0
    seen: set[str] = set()
    t0 = int(T0.timestamp() * 1000)
    for comment in events:
        observed = store.observe(observation(account, comment))
        if comment.event_id in seen:
            assert observed.pending or observed.previous is not None
        else:
            seen.add(comment.event_id)
            at = t0 + comment.offset_ms
            watermark = max(watermark, at)
            minutes.add(at, watermark, comment)
            hours.add(at, watermark, comment)
            store.record(account, comment.event_id, {"n": len(seen)})
        expected_1h = minutes.totals(watermark)
        assert observed.fields["volume_1h"] == expected_1h["volume"]
        assert observed.fields["negative_1h"] == expected_1h["negative"]
        assert observed.fields["hostile_1h"] == expected_1h["hostile"]
        assert observed.fields["positive_1h"] == expected_1h["positive"]
        assert observed.fields["volume_24h"] == hours.totals(watermark)["volume"]
    if events:
        windows = store.account_state(account)["windows"]
        assert windows == {"1h": minutes.totals(watermark), "24h": hours.totals(watermark)}
        assert set(windows["1h"]) == set(COUNTERS)


@pytest.fixture(scope="module")
def redis_store(redis_url: str) -> Iterator[RedisStore]:
    # One store for all examples: each example writes its own account, so the
    # module shares the database without flushing between examples.
    from tests.redis_server import flush

    flush(redis_url)
    store = RedisStore.from_url(redis_url)
    yield store
    store.close()
    flush(redis_url)


@settings(max_examples=300, deadline=None)
@given(events=comments)
def test_memory_windows_match_the_model(events: list[Comment]) -> None:
    check_windows(MemoryStore(), events)


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(events=comments)
def test_redis_windows_match_the_model(redis_store: RedisStore, events: list[Comment]) -> None:
    check_windows(redis_store, events)


thresholds = st.fixed_dictionaries(
    {
        "watch_share": st.sampled_from([0.25, 0.3, 0.333, 0.5]),
        "watch_volume": st.integers(1, 5),
        "crisis_share": st.sampled_from([0.5, 0.667, 0.75, 1.0]),
        "velocity": st.sampled_from([1, 1.5, 2, 2.5, 3]),
        "cool_down": st.sampled_from([60, 600, 3600, 7200]),
    }
)


def crisis_rules(t: dict[str, Any]) -> CrisisRules:
    return CrisisRules(
        watch=[
            "all",
            [
                ["cmp", "negative_share_1h", "gte", t["watch_share"]],
                ["cmp", "volume_1h", "gte", t["watch_volume"]],
            ],
        ],
        crisis=[
            "any",
            [
                ["cmp", "negative_share_1h", "gte", t["crisis_share"]],
                ["all", [["cmp", "velocity", "gte", t["velocity"]], ["cmp", "volume_1h", "gt", 4]]],
            ],
        ],
        cool_down_seconds=t["cool_down"],
    )


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(events=dense, limits=thresholds, in_order=st.booleans())
def test_redis_answers_as_the_memory_store_does(
    redis_store: RedisStore, events: list[Comment], limits: dict[str, Any], in_order: bool
) -> None:
    rules = crisis_rules(limits)
    memory = MemoryStore()
    account = f"acct-{next(_accounts)}"
    if in_order:
        events = sorted(events, key=lambda c: c.offset_ms)
    for comment in events:
        expected = memory.observe(observation(account, comment, rules))
        got = redis_store.observe(observation(account, comment, rules))
        assert dict(got.fields) == dict(expected.fields)
        assert (got.previous, got.pending, got.crisis_since) == (
            expected.previous,
            expected.pending,
            expected.crisis_since,
        )
        if not expected.pending and expected.previous is None:
            for store in (memory, redis_store):
                store.record(account, comment.event_id, {"first": comment.offset_ms})
    state = redis_store.account_state(account)
    assert state == memory.account_state(account)
    event(f"{len(state['transitions'])} transitions, ending {state['crisis_level']}")


def test_window_totals_are_named_in_the_order_of_the_counters() -> None:
    ring = memory._Ring(60, memory.MINUTE_MS)
    ring.advance(0)
    for index in range(len(COUNTERS)):
        ring.add(0, [index] * (index + 1))
    totals = ring.total()
    assert list(totals) == list(COUNTERS)
    assert totals == dict(zip(COUNTERS, range(1, len(COUNTERS) + 1), strict=True))
