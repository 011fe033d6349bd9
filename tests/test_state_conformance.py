"""The state semantics of docs/state.md, held against both stores alike (memory and Redis)."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis

from policy_service.config import Settings
from policy_service.state import (
    AccountLimit,
    CrisisRules,
    Observation,
    Observed,
    RailsMarks,
    StateStore,
)
from policy_service.state.memory import MemoryStore
from policy_service.state.redis_cluster import ClusterStore
from policy_service.state.redis_store import RedisStore

T0 = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
RULES = CrisisRules(
    watch=["all", [["cmp", "negative_share_1h", "gte", 0.3], ["cmp", "volume_1h", "gte", 4]]],
    crisis=["all", [["cmp", "negative_share_1h", "gte", 0.5], ["cmp", "volume_1h", "gte", 10]]],
    cool_down_seconds=2 * 3600,
)
_ids = itertools.count()


@pytest.fixture(params=["memory", "redis", "redis-deferred", "cluster"])
def store(request: pytest.FixtureRequest) -> Iterator[StateStore]:
    if request.param == "memory":
        yield MemoryStore()
        return
    redis_store: RedisStore
    if request.param == "cluster":
        redis_store = ClusterStore.from_url(request.getfixturevalue("clean_cluster_url"))
    else:
        redis_store = RedisStore.from_url(request.getfixturevalue("clean_redis_url"))
        if request.param == "redis-deferred":
            # As the service's gunicorn worker runs it: records go with the next
            # command, replies are polled for.
            redis_store.defer_records()
            redis_store.poll_for_replies(Settings().redis_reply_polls)
    yield redis_store
    redis_store.close()


def idle(store: StateStore) -> None:
    """What the service's worker does when it has no request: send deferred records."""
    if isinstance(store, RedisStore):
        store.flush()


def minutes(n: float) -> datetime:
    return T0 + timedelta(minutes=n)


def observation(
    at: datetime,
    tone: str = "neutral",
    *,
    event_id: str | None = None,
    account: str = "acme",
    author: str = "u1",
    multiplier: bool = False,
    customer: bool | None = True,
    thread: str | None = "p1",
    crisis: CrisisRules = RULES,
    now: datetime | None = None,
    limit: AccountLimit | None = None,
    rails: bool = False,
) -> Observation:
    return Observation(
        account=account,
        event_id=event_id or f"e{next(_ids)}",
        at=at,
        author_id=author,
        tone=tone,
        is_multiplier=multiplier,
        is_customer=customer,
        thread_id=thread,
        crisis=crisis,
        now_ms=ms(now or at),
        limit=limit,
        rails=rails,
    )


def ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


def send(store: StateStore, at: datetime, tone: str = "neutral", **kwargs: Any) -> Observed:
    """Observe one new event and record a decision for it, as the evaluator does."""
    obs = observation(at, tone, **kwargs)
    observed = store.observe(obs)
    if observed.previous is None and not observed.pending:
        store.record(obs.account, obs.event_id, {"event_id": obs.event_id, "action": "ignore"})
    return observed


def level(observed: Observed) -> str:
    return str(observed.fields["crisis_level"])


def iso(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


# Counting


def test_each_counter_counts_its_comments(store: StateStore) -> None:
    send(store, minutes(0), "positive")
    send(store, minutes(1), "negative", customer=False)
    send(store, minutes(2), "hostile", multiplier=True)
    send(store, minutes(3), "neutral", customer=None)
    last = send(store, minutes(4), "negative", multiplier=True, customer=False)

    assert {k: last.fields[k] for k in ("volume_1h", "negative_1h", "hostile_1h")} == {
        "volume_1h": 5,
        "negative_1h": 3,
        "hostile_1h": 1,
    }
    assert last.fields["positive_1h"] == 1
    assert last.fields["volume_24h"] == 5
    assert last.fields["negative_share_1h"] == 0.6
    assert last.fields["non_customer_share_1h"] == 0.4
    expected = {
        "volume": 5,
        "negative": 3,
        "hostile": 1,
        "positive": 1,
        "multiplier": 2,
        "non_customer": 2,
    }
    windows = store.account_state("acme")["windows"]
    assert windows == {"1h": expected, "24h": expected}


def test_accounts_are_counted_apart(store: StateStore) -> None:
    send(store, minutes(0), "negative", account="acme")
    other = send(store, minutes(1), "positive", account="other.brand:eu")
    assert other.fields["volume_1h"] == 1
    assert other.fields["negative_1h"] == 0
    assert store.account_state("acme")["windows"]["1h"]["volume"] == 1


def test_negative_share_is_rounded_to_three_decimals_half_up(store: StateStore) -> None:
    send(store, minutes(0), "negative")
    send(store, minutes(1))
    assert send(store, minutes(2)).fields["negative_share_1h"] == 0.333
    send(store, minutes(3), "hostile")
    send(store, minutes(4), "negative")
    assert send(store, minutes(5)).fields["negative_share_1h"] == 0.5
    assert send(store, minutes(6), "negative").fields["negative_share_1h"] == 0.571
    assert send(store, minutes(7), "negative").fields["negative_share_1h"] == 0.625
    first = send(store, minutes(0), account="fresh")
    assert first.fields["negative_share_1h"] == 0.0
    assert first.fields["non_customer_share_1h"] == 0.0


def test_velocity_compares_the_last_hour_with_the_hourly_baseline(store: StateStore) -> None:
    # two comments in each of the 23 hours before the last: a baseline of 2 per hour
    for hour in range(23, 0, -1):
        send(store, minutes(-60 * hour))
        send(store, minutes(-60 * hour + 10))
    for n in range(5):
        last = send(store, minutes(30 + n))
    assert last.fields["volume_1h"] == 5
    assert last.fields["volume_24h"] == 46 + 5
    assert last.fields["velocity"] == 2.5
    last = send(store, minutes(36))
    assert last.fields["velocity"] == 3.0
    # 7 / 2 = 3.5; then 8 / 2 = 4
    send(store, minutes(37))
    assert send(store, minutes(38)).fields["velocity"] == 4.0


def test_velocity_without_history_divides_by_one(store: StateStore) -> None:
    for n in range(3):
        last = send(store, minutes(n))
    assert last.fields["velocity"] == 3.0
    # a baseline of 1/23 per hour is less than one comment: the floor is 1
    send(store, minutes(-120), account="b")
    for n in range(2):
        last = send(store, minutes(n), account="b")
    assert last.fields["velocity"] == 2.0


def test_velocity_is_rounded_to_three_decimals(store: StateStore) -> None:
    for hour in range(23, 0, -1):
        for k in range(3):
            send(store, minutes(-60 * hour + k))
    for n in range(5):
        last = send(store, minutes(n))
    # 5 against 69 / 23 = 3 per hour
    assert last.fields["velocity"] == 1.667


def test_multipliers_are_distinct_authors_with_a_negative_comment_in_the_hour(
    store: StateStore,
) -> None:
    send(store, minutes(0), "negative", author="m1", multiplier=True)
    send(store, minutes(5), "hostile", author="m1", multiplier=True)
    send(store, minutes(10), "negative", author="m2", multiplier=True)
    send(store, minutes(11), "positive", author="m3", multiplier=True)
    last = send(store, minutes(12), "negative", author="u9")
    assert last.fields["multipliers_1h"] == 2
    # m2's comment is exactly an hour old at 11:10: out; m1's last one (10:05) too
    assert send(store, minutes(70)).fields["multipliers_1h"] == 0
    # out of order: the snapshot is still taken at the 11:10 watermark
    assert send(store, minutes(64)).fields["multipliers_1h"] == 0
    # a late, older negative comment does not make m1's last one older
    send(store, minutes(66), "negative", author="m1", multiplier=True)
    send(store, minutes(20), "negative", author="m1", multiplier=True)
    assert send(store, minutes(71)).fields["multipliers_1h"] == 1


def test_author_negative_counts_this_authors_negative_comments_in_24_hours(
    store: StateStore,
) -> None:
    assert send(store, minutes(0), "negative", author="a1").fields["author_negative_24h"] == 1
    send(store, minutes(10), "hostile", author="a1")
    send(store, minutes(20), "negative", author="a2")
    assert send(store, minutes(30), "positive", author="a1").fields["author_negative_24h"] == 2
    assert send(store, minutes(40), "negative", author="a1").fields["author_negative_24h"] == 3
    # at 24 h after the first one exactly, the first one is out of the window
    day = 24 * 60
    assert send(store, minutes(day), author="a1").fields["author_negative_24h"] == 2
    assert send(store, minutes(day + 40), author="a1").fields["author_negative_24h"] == 0


def test_author_negative_keeps_the_newest_hundred(store: StateStore) -> None:
    for n in range(105):
        last = send(store, minutes(n), "negative", author="a1")
    assert last.fields["author_negative_24h"] == 100


def test_thread_negative_counts_the_threads_negative_comments_in_the_hour(
    store: StateStore,
) -> None:
    assert send(store, minutes(0), "negative", thread="p1").fields["thread_negative_1h"] == 1
    send(store, minutes(1), "hostile", thread="p1", author="u2")
    send(store, minutes(2), "negative", thread="p2")
    send(store, minutes(3), "positive", thread="p1")
    assert send(store, minutes(4), thread="p1").fields["thread_negative_1h"] == 2
    assert send(store, minutes(5), "negative", thread=None).fields["thread_negative_1h"] == 0
    # exactly an hour after the first one: out
    assert send(store, minutes(60), thread="p1").fields["thread_negative_1h"] == 1
    assert send(store, minutes(62), thread="p1").fields["thread_negative_1h"] == 0


# Windows and time


def test_the_hour_window_is_sixty_minute_buckets(store: StateStore) -> None:
    send(store, T0)
    send(store, T0 + timedelta(minutes=59, seconds=59, milliseconds=999))
    state = send(store, T0 + timedelta(minutes=59, seconds=59, milliseconds=999), "negative")
    assert state.fields["volume_1h"] == 3
    # at 11:00:00 the 10:00 bucket leaves the window: exactly 60 minutes
    assert send(store, minutes(60)).fields["volume_1h"] == 3
    assert store.account_state("acme")["windows"]["24h"]["volume"] == 4


def test_a_bucket_leaves_the_window_as_a_whole(store: StateStore) -> None:
    send(store, T0 + timedelta(seconds=50))
    # 59 min 40 s later, but the comment's minute bucket is 60 buckets back
    assert send(store, minutes(60) + timedelta(seconds=30)).fields["volume_1h"] == 1


def test_the_day_window_is_twenty_four_hour_buckets(store: StateStore) -> None:
    send(store, T0)
    send(store, T0 + timedelta(hours=23, minutes=59, seconds=59))
    assert store.account_state("acme")["windows"]["24h"]["volume"] == 2
    assert send(store, T0 + timedelta(hours=24)).fields["volume_24h"] == 2
    assert store.account_state("acme")["windows"]["24h"]["volume"] == 2


def test_out_of_order_events_are_counted_in_their_bucket_while_a_window_covers_it(
    store: StateStore,
) -> None:
    send(store, minutes(120))
    late = send(store, minutes(90), "negative")
    assert late.fields["volume_1h"] == 2
    assert late.fields["negative_1h"] == 1
    # older than the hour but within the day: only the 24 h window counts it
    older = send(store, minutes(60), "negative")
    assert older.fields["volume_1h"] == 2
    assert older.fields["volume_24h"] == 3
    assert older.fields["negative_1h"] == 1
    state = store.account_state("acme")
    assert state["as_of"] == iso(minutes(120))  # the watermark did not move back
    assert state["windows"]["24h"]["negative"] == 2


def test_far_past_events_are_deduplicated_but_not_counted(store: StateStore) -> None:
    send(store, minutes(0))
    stale = observation(minutes(-25 * 60), "negative", event_id="old-1")
    first = store.observe(stale)
    assert first.previous is None and not first.pending
    assert first.fields["volume_1h"] == 1
    assert first.fields["volume_24h"] == 1
    assert first.fields["author_negative_24h"] == 0
    store.record("acme", "old-1", {"action": "ignore", "rule": "stale-comment"})
    again = store.observe(stale)
    assert again.previous == {"action": "ignore", "rule": "stale-comment"}
    assert store.account_state("acme")["windows"]["24h"]["volume"] == 1


# Duplicates


def test_a_duplicate_gets_the_first_decision_and_is_not_counted(store: StateStore) -> None:
    decision = {
        "decision_id": "d-1",
        "action": "acknowledge",
        "matched_rules": ["customer-complaint", "nothing-to-do"],
        "state": {"negative_share_1h": 0.333, "velocity": 1.0, "crisis_level": "calm"},
        "route": None,
        "degraded": False,
        "text": 'é ✓ "quoted"',
    }
    obs = observation(minutes(0), "negative", event_id="c-1")
    first = store.observe(obs)
    assert first.previous is None and not first.pending
    store.record("acme", "c-1", decision)
    again = store.observe(observation(minutes(0), "negative", event_id="c-1"))
    assert again.previous == decision
    assert not again.pending
    assert again.crisis_since is None
    assert again.fields["volume_1h"] == 1
    assert store.account_state("acme")["windows"]["1h"]["negative"] == 1


def test_a_duplicate_of_an_event_still_deciding_is_pending_and_not_counted(
    store: StateStore,
) -> None:
    store.observe(observation(minutes(0), "negative", event_id="c-1"))
    again = store.observe(observation(minutes(0), "negative", event_id="c-1"))
    assert again.pending
    assert again.previous is None
    assert again.fields["volume_1h"] == 1
    assert store.wait_for_decision("acme", "c-1", 0.05) is None


def test_waiting_for_a_pending_decision_returns_it_once_recorded(store: StateStore) -> None:
    store.observe(observation(minutes(0), event_id="c-1"))

    def another_worker() -> None:
        store.record("acme", "c-1", {"action": "ignore"})
        idle(store)

    timer = threading.Timer(0.1, another_worker)
    timer.start()
    started = time.monotonic()
    try:
        assert store.wait_for_decision("acme", "c-1", 5.0) == {"action": "ignore"}
        # Woken by the record, not found when the wait ran out.
        assert time.monotonic() - started < 2.5
    finally:
        timer.join()


def test_the_same_event_id_in_another_account_is_another_event(store: StateStore) -> None:
    send(store, minutes(0), event_id="c-1", account="a")
    other = send(store, minutes(0), event_id="c-1", account="b")
    assert other.previous is None
    assert other.fields["volume_1h"] == 1


def test_a_duplicate_snapshot_is_taken_at_the_watermark(store: StateStore) -> None:
    send(store, minutes(0), "negative", event_id="c-1")
    send(store, minutes(30), "negative")
    again = store.observe(observation(minutes(0), "negative", event_id="c-1"))
    assert again.fields["volume_1h"] == 2
    assert again.fields["author_negative_24h"] == 2


# Crisis levels


def burst(store: StateStore, start: float, tones: str) -> Observed:
    """One event a minute from `start`: n neutral, - negative, h hostile, + positive."""
    names = {"n": "neutral", "-": "negative", "h": "hostile", "+": "positive"}
    for offset, code in enumerate(tones):
        last = send(store, minutes(start + offset), names[code])
    return last


def transitions(store: StateStore) -> list[tuple[str, str, str]]:
    return [(t["from"], t["to"], t["at"]) for t in store.account_state("acme")["transitions"]]


def test_calm_watch_crisis_recovery_calm(store: StateStore) -> None:
    assert level(burst(store, 0, "nnn-")) == "calm"
    entered = burst(store, 4, "-")  # 2 of 5 negative
    assert level(entered) == "watch"
    assert entered.crisis_since is None
    assert level(burst(store, 5, "----")) == "watch"  # 6 of 9: not 10 comments yet
    crisis = burst(store, 9, "-")
    assert level(crisis) == "crisis"
    assert crisis.crisis_since == minutes(9)
    assert level(burst(store, 10, "h")) == "crisis"  # held last at 10:10
    # the hour empties: the condition is false, but the cool-down has not passed
    quiet = send(store, minutes(75))
    assert level(quiet) == "crisis"
    assert quiet.fields["volume_1h"] == 1
    # falls due at 10:10 + 2 h = 12:10: recovery, stamped at 12:10
    recovering = send(store, minutes(131))
    assert level(recovering) == "recovery"
    assert recovering.crisis_since == minutes(9)
    assert level(send(store, minutes(200))) == "recovery"
    calm = send(store, minutes(251))
    assert level(calm) == "calm"
    assert calm.crisis_since is None
    assert transitions(store) == [
        ("recovery", "calm", iso(minutes(250))),
        ("crisis", "recovery", iso(minutes(130))),
        ("watch", "crisis", iso(minutes(9))),
        ("calm", "watch", iso(minutes(4))),
    ]
    state = store.account_state("acme")
    assert state["crisis_level"] == "calm"
    assert state["since"] == iso(minutes(250))


def test_a_condition_flickering_within_the_cool_down_keeps_the_level(store: StateStore) -> None:
    burst(store, 0, "----------")  # watch at the 4th comment, crisis at the 10th
    assert transitions(store) == [
        ("watch", "crisis", iso(minutes(9))),
        ("calm", "watch", iso(minutes(3))),
    ]
    assert level(send(store, minutes(75))) == "crisis"  # false
    assert level(burst(store, 100, "----------")) == "crisis"  # true again: held at 11:49
    assert level(send(store, minutes(200))) == "crisis"  # false, 71 min after the last hold
    assert level(send(store, minutes(228))) == "crisis"
    assert level(send(store, minutes(230))) == "recovery"  # 11:49 + 2 h
    assert transitions(store)[0] == ("crisis", "recovery", iso(minutes(229)))
    assert len(transitions(store)) == 3


def test_watch_falls_back_to_calm_after_the_cool_down(store: StateStore) -> None:
    assert level(burst(store, 0, "nnn--")) == "watch"  # held at 10:04
    assert level(send(store, minutes(100))) == "watch"
    assert level(burst(store, 110, "nn--")) == "watch"  # 2 of 5 again: held at 11:53
    assert level(send(store, minutes(200))) == "watch"
    assert level(send(store, minutes(234))) == "calm"
    assert transitions(store)[0] == ("watch", "calm", iso(minutes(233)))


def test_recovery_holds_while_watch_does(store: StateStore) -> None:
    burst(store, 0, "----------")  # crisis, held at 10:09
    # within the cool-down, watch holds but crisis does not: still crisis
    assert level(burst(store, 100, "nnn--")) == "crisis"
    # at 12:10 the crisis falls due (12:09) while watch holds: recovery, held now
    assert level(send(store, minutes(130))) == "recovery"
    assert level(send(store, minutes(140))) == "recovery"
    # watch last held at 12:10 (4 of 6 neutral ... 2 negative); calm at 14:10
    assert level(send(store, minutes(249))) == "recovery"
    assert level(send(store, minutes(251))) == "calm"
    assert transitions(store)[:2] == [
        ("recovery", "calm", iso(minutes(250))),
        ("crisis", "recovery", iso(minutes(129))),
    ]


def test_after_a_long_silence_both_steps_are_taken_each_at_its_time(store: StateStore) -> None:
    burst(store, 0, "----------")  # crisis, held at 10:09
    after = send(store, minutes(600))
    assert level(after) == "calm"
    assert after.crisis_since is None
    assert transitions(store) == [
        ("recovery", "calm", iso(minutes(249))),
        ("crisis", "recovery", iso(minutes(129))),
        ("watch", "crisis", iso(minutes(9))),
        ("calm", "watch", iso(minutes(3))),
    ]


def test_crisis_is_entered_at_once_from_recovery(store: StateStore) -> None:
    burst(store, 0, "----------")
    assert level(send(store, minutes(130))) == "recovery"
    # the 10th comment of the hour (the one at 12:10 counts) comes at 12:28
    assert level(burst(store, 140, "---------")) == "crisis"
    assert transitions(store)[0] == ("recovery", "crisis", iso(minutes(148)))
    assert store.observe(observation(minutes(150))).crisis_since == minutes(148)


def test_out_of_order_events_move_the_level_at_the_watermark(store: StateStore) -> None:
    send(store, minutes(60))
    burst(store, 10, "---------")  # late, but within the hour of the 11:00 watermark
    assert transitions(store) == [
        ("watch", "crisis", iso(minutes(60))),
        ("calm", "watch", iso(minutes(60))),
    ]


def test_transitions_keep_the_newest_fifty(store: StateStore) -> None:
    rules = CrisisRules(
        watch=None,
        crisis=["cmp", "negative_1h", "gte", 1],
        cool_down_seconds=60,
    )
    # each pair: crisis, then an hour without negative comments: recovery and calm
    for n in range(20):
        send(store, minutes(140 * n), "negative", crisis=rules)
        send(store, minutes(140 * n + 70), crisis=rules)
    moves = transitions(store)
    assert len(moves) == 50
    assert moves[0] == ("recovery", "calm", iso(minutes(140 * 19 + 2)))
    assert moves[-1] == ("crisis", "recovery", iso(minutes(140 * 3 + 1)))


def test_missing_conditions_never_hold(store: StateStore) -> None:
    rules = CrisisRules(watch=None, crisis=None)
    for n in range(20):
        last = send(store, minutes(n), "hostile", crisis=rules)
    assert level(last) == "calm"
    assert transitions(store) == []


def test_every_operator_and_combinator(store: StateStore) -> None:
    ops: list[list[Any]] = [
        ["cmp", "volume_1h", "eq", 3],
        ["cmp", "volume_1h", "ne", 4],
        ["cmp", "negative_share_1h", "gt", 0.666],
        ["cmp", "negative_share_1h", "lt", 0.668],
        ["cmp", "negative_share_1h", "lte", 0.667],
        ["cmp", "velocity", "between", [3, 3]],
        ["cmp", "hostile_1h", "in", [0, 1]],
        ["cmp", "positive_1h", "not_in", [1, 2]],
        ["any", [["cmp", "volume_1h", "gt", 100], ["cmp", "thread_negative_1h", "eq", 2]]],
        ["not", ["cmp", "multipliers_1h", "gte", 1]],
        ["not", ["cmp", "no_such_window", "eq", 0]],
    ]
    rules = CrisisRules(crisis=["all", ops])
    send(store, minutes(0), "negative", crisis=rules)
    assert level(send(store, minutes(1), crisis=rules)) == "calm"
    assert level(send(store, minutes(2), "hostile", crisis=rules)) == "crisis"


@pytest.mark.parametrize(
    ("crisis", "expected"),
    [
        (["cmp", "volume_1h", "eq", 'x"]] end error("no") --\n'], "calm"),
        (["cmp", "velocity", "lt", float("inf")], "crisis"),
        (["cmp", "volume_1h", "gt", float("-inf")], "crisis"),
        (["cmp", "volume_1h", "in", []], "calm"),
        (["not", ["all", []]], "calm"),
        (["any", []], "calm"),
    ],
)
def test_conditions_with_unusual_values_are_read_alike(
    store: StateStore, crisis: list[Any], expected: str
) -> None:
    # The Redis store writes the conditions into its script: values must stay values.
    assert level(send(store, minutes(0), crisis=CrisisRules(crisis=crisis))) == expected


@pytest.mark.parametrize(
    ("tones", "threshold"),
    [("-nn", 0.333), ("--n", 0.667), ("-nnnnn", 0.167), ("---nnnn", 0.429)],
)
def test_conditions_see_the_rounded_share(store: StateStore, tones: str, threshold: float) -> None:
    rules = CrisisRules(crisis=["cmp", "negative_share_1h", "eq", threshold])
    names = {"n": "neutral", "-": "negative"}
    for n, code in enumerate(tones):
        last = send(store, minutes(n), names[code], crisis=rules)
    assert last.fields["negative_share_1h"] == threshold
    assert level(last) == "crisis"


def test_conditions_see_the_rounded_velocity(store: StateStore) -> None:
    rules = CrisisRules(crisis=["cmp", "velocity", "eq", 1.667])
    for hour in range(23, 0, -1):
        for k in range(3):
            send(store, minutes(-60 * hour + k), crisis=rules)
    for n in range(5):
        last = send(store, minutes(n), crisis=rules)
    assert level(last) == "crisis"


# Account state


def test_account_state_of_an_unknown_account(store: StateStore) -> None:
    zero = dict.fromkeys(
        ("volume", "negative", "hostile", "positive", "multiplier", "non_customer"), 0
    )
    assert store.account_state("nobody") == {
        "account": "nobody",
        "crisis_level": "calm",
        "since": None,
        "as_of": None,
        "windows": {"1h": zero, "24h": zero},
        "transitions": [],
    }


def test_account_state_shape(store: StateStore) -> None:
    burst(store, 0, "nnn--")
    send(store, minutes(30) + timedelta(milliseconds=250), "positive", multiplier=True)
    state = store.account_state("acme")
    assert state == {
        "account": "acme",
        "crisis_level": "watch",
        "since": iso(minutes(4)),
        "as_of": "2026-11-25T10:30:00.250000Z",
        "windows": {
            "1h": {
                "volume": 6,
                "negative": 2,
                "hostile": 0,
                "positive": 1,
                "multiplier": 1,
                "non_customer": 0,
            },
            "24h": {
                "volume": 6,
                "negative": 2,
                "hostile": 0,
                "positive": 1,
                "multiplier": 1,
                "non_customer": 0,
            },
        },
        "transitions": [{"from": "calm", "to": "watch", "at": iso(minutes(4))}],
    }


def test_the_snapshot_fields(store: StateStore) -> None:
    observed = send(store, minutes(0), "negative")
    assert dict(observed.fields) == {
        "volume_1h": 1,
        "negative_1h": 1,
        "hostile_1h": 0,
        "positive_1h": 0,
        "negative_share_1h": 1.0,
        "non_customer_share_1h": 0.0,
        "volume_24h": 1,
        "velocity": 1.0,
        "multipliers_1h": 0,
        "author_negative_24h": 1,
        "thread_negative_1h": 1,
        "crisis_level": "calm",
    }
    assert not observed.degraded
    assert observed.problems == ()


def test_ping(store: StateStore) -> None:
    assert store.ping() is True


# Redis layout (docs/state.md)


@pytest.fixture
def redis_store(clean_redis_url: str) -> Iterator[RedisStore]:
    store = RedisStore.from_url(clean_redis_url)
    yield store
    store.close()


@pytest.fixture
def raw(clean_redis_url: str) -> Iterator[redis.Redis[str]]:
    client = redis.Redis.from_url(clean_redis_url, decode_responses=True)
    yield client
    client.close()


def test_every_key_has_the_prefix_the_account_tag_and_a_ttl(
    redis_store: RedisStore, raw: redis.Redis[str]
) -> None:
    burst(redis_store, 0, "----------")  # every kind of key, transitions included
    send(redis_store, minutes(1), "negative", author="m1", multiplier=True)
    redis_store.observe(observation(minutes(2), event_id="pending-1"))
    keys = sorted(raw.scan_iter("*"))
    kinds = {key.split(":", 2)[2].split(":")[0] for key in keys}
    assert kinds == {"meta", "mult", "an", "tn", "ev", "tr"}  # the rings are fields of meta
    for key in keys:
        assert key.startswith("policy:{acme}:")
        assert raw.ttl(key) > 0, key
    day = 86400
    assert 29 * day < raw.ttl("policy:{acme}:meta") <= 30 * day
    assert 29 * day < raw.ttl("policy:{acme}:tr") <= 30 * day
    assert 24 * 3600 < raw.ttl("policy:{acme}:mult") <= 25 * 3600
    assert 24 * 3600 < raw.ttl("policy:{acme}:an:u1") <= 25 * 3600
    assert 24 * 3600 < raw.ttl("policy:{acme}:tn:p1") <= 25 * 3600
    assert raw.get("policy:{acme}:ev:pending-1") == ""
    assert 0 < raw.ttl("policy:{acme}:ev:pending-1") <= 30
    recorded = [k for k in keys if ":ev:" in k and not k.endswith("pending-1")]
    assert 6 * day < raw.ttl(recorded[0]) <= 7 * day


def test_a_key_prefix_keeps_stores_apart(clean_redis_url: str, raw: redis.Redis[str]) -> None:
    one, two = RedisStore.from_url(clean_redis_url), RedisStore.from_url(clean_redis_url, "t2:")
    try:
        send(one, minutes(0))
        assert send(two, minutes(0)).fields["volume_1h"] == 1
        assert raw.exists("t2:{acme}:meta") == 1
    finally:
        one.close()
        two.close()


def test_observe_and_record_cost_one_round_trip_each(
    redis_store: RedisStore, raw: redis.Redis[str]
) -> None:
    send(redis_store, minutes(0), "negative")  # loads the script
    raw.config_resetstat()
    obs = observation(minutes(1), "negative")
    redis_store.observe(obs)
    redis_store.record("acme", obs.event_id, {"action": "ignore"})
    stats = raw.info("commandstats")
    sent = {name: value["calls"] for name, value in stats.items() if name.startswith("cmdstat_")}
    # Commands a script calls are counted too; the client sent one EVALSHA and one SET.
    assert sent["cmdstat_evalsha"] == 1
    assert sent["cmdstat_set"] == 2  # the pending mark inside the script, and the record
    for other in ("eval", "script", "multi", "exec", "watch", "exists"):
        assert f"cmdstat_{other}" not in sent


def test_ttls_are_refreshed_once_they_have_run_down_and_never_lost(
    redis_store: RedisStore, raw: redis.Redis[str]
) -> None:
    burst(redis_store, 0, "----------")  # meta, transitions and the author's keys
    send(redis_store, minutes(10), "negative", author="m1", multiplier=True)
    raw.config_resetstat()
    send(redis_store, minutes(11))
    stats = raw.info("commandstats")
    assert "cmdstat_pexpire" not in stats  # a fresh TTL is left alone
    for key in ("policy:{acme}:meta", "policy:{acme}:tr", "policy:{acme}:mult"):
        raw.pexpire(key, 60_000)  # as if an hour and more had passed
    send(redis_store, minutes(12))
    day = 86400
    assert 29 * day < raw.ttl("policy:{acme}:meta") <= 30 * day
    assert 29 * day < raw.ttl("policy:{acme}:tr") <= 30 * day
    assert 24 * 3600 < raw.ttl("policy:{acme}:mult") <= 25 * 3600
    assert all(raw.ttl(key) > 0 for key in raw.scan_iter("*"))


def test_a_neutral_event_costs_the_script_few_commands(
    redis_store: RedisStore, raw: redis.Redis[str]
) -> None:
    burst(redis_store, 0, "nn-nn")
    raw.config_resetstat()
    redis_store.observe(observation(minutes(70), thread=None))  # the window moved: buckets left
    stats = raw.info("commandstats")
    calls = {name: value["calls"] for name, value in stats.items() if name.startswith("cmdstat_")}
    calls.pop("cmdstat_evalsha")
    calls.pop("cmdstat_config|resetstat")
    # meta read and written once, the pending mark, the author's count, the TTL check
    assert calls == {
        "cmdstat_hmget": 1,
        "cmdstat_set": 1,
        "cmdstat_zcount": 1,
        "cmdstat_hset": 1,
        "cmdstat_pttl": 1,
    }


@pytest.mark.parametrize(
    "kwargs",
    [
        {"account": "a{b}"},
        {"account": "x" * 65},
        {"event_id": "e\n1"},
        {"author": "u 1"},
        {"thread": "p}1"},
    ],
)
def test_ids_that_are_no_valid_ids_never_reach_a_key(
    redis_store: RedisStore, raw: redis.Redis[str], kwargs: dict[str, Any]
) -> None:
    with pytest.raises(ValueError, match="invalid"):
        redis_store.observe(observation(minutes(0), **kwargs))
    assert list(raw.scan_iter("*")) == []


def test_invalid_ids_are_refused_by_every_method(redis_store: RedisStore) -> None:
    with pytest.raises(ValueError):
        redis_store.record("a}", "e1", {})
    with pytest.raises(ValueError):
        redis_store.record("acme", "", {})
    with pytest.raises(ValueError):
        redis_store.wait_for_decision("acme", "e 1", 0.0)
    with pytest.raises(ValueError):
        redis_store.account_state("{acme}")


def test_an_abandoned_event_is_decided_again_but_not_counted_again(store: StateStore) -> None:
    obs = observation(minutes(1), "negative", event_id="fails-once")
    first = store.observe(obs)
    assert first.fields["volume_1h"] == 1
    store.abandon(obs.account, obs.event_id)  # deciding it failed
    retry = store.observe(obs)
    assert retry.retry and retry.previous is None and not retry.pending
    assert retry.fields["volume_1h"] == 1
    store.record(obs.account, obs.event_id, {"event_id": obs.event_id, "action": "escalate"})
    again = store.observe(obs)
    assert again.previous == {"event_id": obs.event_id, "action": "escalate"}
    assert again.fields["volume_1h"] == 1


def test_abandon_never_replaces_a_recorded_decision(store: StateStore) -> None:
    obs = observation(minutes(1), event_id="decided")
    store.observe(obs)
    store.record(obs.account, obs.event_id, {"event_id": obs.event_id, "action": "ignore"})
    store.abandon(obs.account, obs.event_id)
    assert store.observe(obs).previous == {"event_id": obs.event_id, "action": "ignore"}


# Rate limit per account (the observe step)

PER_MINUTE = AccountLimit(per_window=3, window_ms=60_000)


def test_the_account_limit_refuses_new_events_past_it_and_counts_none_of_them(
    store: StateStore,
) -> None:
    now = minutes(0) + timedelta(seconds=15)
    for n in range(3):
        assert not send(store, minutes(n), limit=PER_MINUTE, now=now).retry_after_ms
    refused = store.observe(observation(minutes(3), "negative", limit=PER_MINUTE, now=now))
    assert refused.retry_after_ms == 45_000  # until the clock's minute ends
    assert refused.previous is None and dict(refused.fields) == {}
    assert store.account_state("acme")["windows"]["1h"]["volume"] == 3
    # refused events are not remembered: the same event id is new in the next window
    later = store.observe(
        observation(minutes(3), event_id="again", limit=PER_MINUTE, now=minutes(1))
    )
    assert not later.retry_after_ms and later.fields["volume_1h"] == 4
    # other accounts have their own count
    assert not send(store, minutes(0), account="other", limit=PER_MINUTE, now=now).retry_after_ms


def test_a_duplicate_gets_its_first_decision_even_past_the_account_limit(
    store: StateStore,
) -> None:
    now = minutes(0)
    send(store, minutes(0), event_id="first", limit=PER_MINUTE, now=now)
    send(store, minutes(0), limit=PER_MINUTE, now=now)
    send(store, minutes(0), limit=PER_MINUTE, now=now)
    again = store.observe(observation(minutes(0), event_id="first", limit=PER_MINUTE, now=now))
    assert again.previous == {"event_id": "first", "action": "ignore"}
    assert not again.retry_after_ms


# Safety rails' state (observe reads it, record writes it)


def escalate(
    store: StateStore, now: datetime, cap: int = 2, event_id: str | None = None
) -> tuple[Observed, str | None]:
    """Observe an event and record an escalation for it, as the evaluator does."""
    obs = observation(minutes(0), event_id=event_id, now=now, rails=True)
    observed = store.observe(obs)
    decision = {"decision_id": f"d-{obs.event_id}", "action": "escalate", "folded": False}
    marks = RailsMarks(ms(now), f"d-{obs.event_id}", escalation_cap=cap)
    return observed, store.record(obs.account, obs.event_id, decision, marks)


def test_escalations_are_counted_until_the_cap_then_folded_into_the_newest(
    store: StateStore,
) -> None:
    first, into = escalate(store, minutes(0), event_id="x1")
    assert first.rails is not None and first.rails.escalations_1h == 0 and into is None
    escalate(store, minutes(10), event_id="x2")
    seen, into = escalate(store, minutes(20), event_id="x3")
    assert seen.rails is not None
    assert (seen.rails.escalations_1h, seen.rails.open_escalation) == (2, "d-x2")
    assert into == "d-x2"
    # the folded one is stored folded (its duplicate gets it) and is not counted
    again = store.observe(observation(minutes(0), event_id="x3", rails=True))
    assert again.previous == {
        "decision_id": "d-x3",
        "action": "escalate",
        "folded": True,
        "folded_into": "d-x2",
    }
    # an hour after the first, one slot is free again (the hour before the clock's now)
    seen, into = escalate(store, minutes(60), event_id="x4")
    assert seen.rails is not None and seen.rails.escalations_1h == 1 and into is None
    seen, _ = escalate(store, minutes(61), event_id="x5")
    assert seen.rails is not None
    assert (seen.rails.escalations_1h, seen.rails.open_escalation) == (2, "d-x4")


def test_the_cap_holds_under_concurrent_escalations(store: StateStore) -> None:
    folded: list[str | None] = []
    lock = threading.Lock()

    def worker(n: int) -> None:
        for k in range(5):
            _, into = escalate(store, minutes(0), cap=3, event_id=f"w{n}-{k}")
            with lock:
                folded.append(into)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(folded) == 40
    assert folded.count(None) == 3  # exactly three paged, whatever the interleaving


def test_an_answered_author_is_seen_by_the_next_observe(store: StateStore) -> None:
    obs = observation(minutes(0), author="fan1", now=minutes(5), rails=True)
    assert store.observe(obs).rails.author_answered_ms is None  # type: ignore[union-attr]
    marks = RailsMarks(ms(minutes(5)), "d-a", answered_author="fan1", answered_keep_ms=3_600_000)
    assert store.record("acme", obs.event_id, {"action": "reply_to_fans"}, marks) is None
    later = store.observe(observation(minutes(1), author="fan1", now=minutes(30), rails=True))
    assert later.rails is not None and later.rails.author_answered_ms == ms(minutes(5))
    other = store.observe(observation(minutes(1), author="fan2", now=minutes(30), rails=True))
    assert other.rails is not None and other.rails.author_answered_ms is None
    assert store.observe(observation(minutes(2), author="fan1")).rails is None  # not asked


def test_rate_limit_and_rails_keys_carry_the_account_tag_and_a_ttl(
    redis_store: RedisStore, raw: redis.Redis[str]
) -> None:
    escalate(redis_store, minutes(0), event_id="k1")
    obs = observation(minutes(0), event_id="k2", now=minutes(0), limit=PER_MINUTE, rails=True)
    redis_store.observe(obs)
    marks = RailsMarks(ms(minutes(0)), "d-k2", answered_author="u1", answered_keep_ms=600_000)
    redis_store.record("acme", "k2", {"action": "acknowledge"}, marks)
    keys = {key.split(":", 2)[2].split(":")[0]: key for key in raw.scan_iter("*")}
    assert {"esc", "aa"} <= set(keys)
    for kind in ("esc", "aa"):
        assert keys[kind].startswith("policy:{acme}:")
    # the account's rate-limit window and its count are fields of meta, under its TTL
    assert raw.hmget("policy:{acme}:meta", ["rl_end", "rl_used"]) == [str(ms(minutes(1))), "1"]
    assert 3_599_000 < raw.pttl(keys["esc"]) <= 3_601_000
    assert 599_000 < raw.pttl(keys["aa"]) <= 601_000


def test_observe_and_record_with_limit_and_rails_still_cost_one_round_trip_each(
    redis_store: RedisStore, raw: redis.Redis[str]
) -> None:
    escalate(redis_store, minutes(0), event_id="warm")  # loads both scripts
    raw.config_resetstat()
    obs = observation(minutes(1), now=minutes(1), limit=PER_MINUTE, rails=True)
    redis_store.observe(obs)
    marks = RailsMarks(ms(minutes(1)), "d-1", escalation_cap=5)
    redis_store.record("acme", obs.event_id, {"action": "escalate", "folded": False}, marks)
    stats = raw.info("commandstats")
    sent = {name: value["calls"] for name, value in stats.items() if name.startswith("cmdstat_")}
    assert sent["cmdstat_evalsha"] == 2
    for other in ("eval", "script", "multi", "exec", "incrby"):
        assert f"cmdstat_{other}" not in sent
