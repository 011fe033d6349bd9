"""The memory store's per-author tables in a wave of more authors than their limit.

Stale entries (authors silent for a day, answer marks past their keep time)
are dropped once a table is past its limit; a table of live entries is not
looked through again with every event, only after it has doubled.
"""

from __future__ import annotations

from datetime import timedelta

from policy_service.state import RailsMarks
from policy_service.state.memory import MAX_ANSWERED_AUTHORS, MAX_RECENT_KEYS, MemoryStore
from tests.test_state_conformance import T0, observation

HOUR_MS = 3_600_000


def negative_from(store: MemoryStore, authors: range, day: int, answer: bool = False) -> None:
    """One negative comment from each author, a tenth of a second apart, on `day`."""
    start = T0 + timedelta(days=day)
    for n, i in enumerate(authors):
        obs = observation(
            start + timedelta(milliseconds=100 * n),
            "negative",
            author=f"a{i}",
            thread=None,
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


def test_a_wave_of_live_authors_is_not_looked_through_with_every_event() -> None:
    store = MemoryStore()
    wave = 3 * MAX_RECENT_KEYS
    negative_from(store, range(wave), day=0)
    account = store._accounts["acme"]
    # Every author is live (within the day): all kept, and the next look is
    # only due once the table has grown again, not with the next event.
    assert len(account.author_negative) == wave
    assert account.author_sweeps.next_at > wave
    # The counts still see each author.
    last = observation(T0 + timedelta(hours=1), "negative", author="a7", thread=None)
    assert store.observe(last).fields["author_negative_24h"] == 2


def test_answer_marks_past_their_keep_time_are_dropped_and_live_ones_kept() -> None:
    store = MemoryStore()
    many = MAX_ANSWERED_AUTHORS + 1000
    negative_from(store, range(many), day=0, answer=True)
    account = store._accounts["acme"]
    assert len(account.answered) == many  # all within the hour's keep time when looked at
    assert account.answered_sweeps.next_at > many
    negative_from(store, range(many, 2 * many), day=1, answer=True)
    assert "a0" not in account.answered
    assert f"a{2 * many - 1}" in account.answered
    assert len(account.answered) <= many
