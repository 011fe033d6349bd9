"""The memory store's per-author and per-thread tables in a wave of more keys than their limit.

Stale entries (authors or threads silent for a day, answer marks past their
keep time) are dropped once a table is past its limit; a table of live
entries is looked through again only after it has doubled or a day later,
not with every event.
"""

from __future__ import annotations

from datetime import timedelta

from policy_service.state import RailsMarks
from policy_service.state.memory import (
    HOUR_MS,
    MAX_ANSWERED_AUTHORS,
    MAX_RECENT_KEYS,
    MemoryStore,
)
from tests.test_state_conformance import T0, observation


def negative_from(
    store: MemoryStore,
    keys: range,
    day: float,
    *,
    answer: bool = False,
    threads: bool = False,
) -> None:
    """One negative comment per key (its author, and its thread with `threads`),
    a tenth of a second apart, from `day` on."""
    start = T0 + timedelta(days=day)
    for n, i in enumerate(keys):
        obs = observation(
            start + timedelta(milliseconds=100 * n),
            "negative",
            author=f"a{i}",
            thread=f"t{i}" if threads else None,
            rails=answer,
        )
        store.observe(obs)
        marks = None
        if answer:
            marks = RailsMarks(
                obs.now_ms, f"d{i}", answered_author=f"a{i}", answered_keep_ms=HOUR_MS
            )
        store.record(obs.account, obs.event_id, {"action": "acknowledge"}, marks)


def test_authors_silent_for_a_day_are_dropped_once_many_pile_up() -> None:
    store = MemoryStore()
    many = MAX_RECENT_KEYS + 1000
    negative_from(store, range(many), day=0)
    negative_from(store, range(many, 2 * many), day=2)
    table = store._accounts["acme"].author_negative
    assert "a0" not in table and f"a{many - 1}" not in table
    assert f"a{2 * many - 1}" in table
    assert len(table) <= many


def test_a_wave_of_live_authors_is_looked_through_a_few_times_not_with_every_event() -> None:
    store = MemoryStore()
    wave = 3 * MAX_RECENT_KEYS  # within an hour: every author stays live
    negative_from(store, range(wave), day=0)
    account = store._accounts["acme"]
    assert len(account.author_negative) == wave
    # Past the limit at 10,001 and then at each doubling: 10,001 and 20,003.
    assert account.author_sweeps.looks == 2
    # The counts still see each author.
    last = observation(T0 + timedelta(hours=1), "negative", author="a7", thread=None)
    assert store.observe(last).fields["author_negative_24h"] == 2


def test_a_passed_wave_is_dropped_a_day_later_without_the_table_doubling() -> None:
    store = MemoryStore()
    wave = 3 * MAX_RECENT_KEYS
    negative_from(store, range(wave), day=0, threads=True)
    # A quiet day later: a handful of comments, far from doubling the tables.
    negative_from(store, range(wave, wave + 10), day=3, threads=True)
    account = store._accounts["acme"]
    assert len(account.author_negative) == 10
    assert len(account.thread_negative) == 10
    assert account.thread_sweeps.looks == 3


def test_answer_marks_past_their_keep_time_are_dropped_and_live_ones_kept() -> None:
    store = MemoryStore()
    many = MAX_ANSWERED_AUTHORS + 1000
    negative_from(store, range(many), day=0, answer=True)
    account = store._accounts["acme"]
    assert len(account.answered) == many  # all within the hour's keep time when looked at
    assert account.answered_sweeps.looks == 1
    negative_from(store, range(many, 2 * many), day=1, answer=True)
    assert "a0" not in account.answered
    assert f"a{2 * many - 1}" in account.answered
    assert len(account.answered) <= many
