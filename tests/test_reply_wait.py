"""Polling for a Redis reply: the adaptive budget, and the store's waits on a real redis-server."""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator

import pytest
import redis

from policy_service.state import redis_store
from policy_service.state.redis_store import RedisStore
from policy_service.state.reply_wait import (
    MAX_POLL_SECONDS,
    MISSES_BEFORE_PROBING,
    PROBE_POLLS,
    RETRY_EVERY,
    PollBudget,
    SocketPoller,
    poll_until,
    pollable,
    wait_for_reply,
)
from tests.test_state_conformance import minutes, observation

POLLS = 300


def test_a_budget_is_cut_to_the_probe_after_some_waits_in_a_row_that_blocked() -> None:
    budget = PollBudget(POLLS)
    seen = []
    for _ in range(MISSES_BEFORE_PROBING + 2):
        budget.spent(found=False)
        seen.append(budget.polls)
    assert seen == [POLLS] * (MISSES_BEFORE_PROBING - 1) + [PROBE_POLLS] * 3
    # every RETRY_EVERY-th wait polls the whole budget again, then the probe
    while budget.misses % RETRY_EVERY != RETRY_EVERY - 2:
        budget.spent(found=False)
        assert budget.polls == PROBE_POLLS
    budget.spent(found=False)
    assert budget.polls == POLLS
    budget.spent(found=False)
    assert budget.polls == PROBE_POLLS


def test_a_reply_found_by_polling_restores_the_whole_budget_and_forgets_misses() -> None:
    budget = PollBudget(POLLS)
    for _ in range(MISSES_BEFORE_PROBING):
        budget.spent(found=False)
    budget.spent(found=True)
    assert budget.polls == POLLS
    # late replies now and then, between fast ones, never cut it
    for _ in range(10):
        for _ in range(MISSES_BEFORE_PROBING - 1):
            budget.spent(found=False)
        budget.spent(found=True)
    assert budget.polls == POLLS


def test_a_budget_of_zero_never_polls_and_a_negative_one_is_refused() -> None:
    off = PollBudget(0)
    off.spent(found=False)
    assert off.polls == 0
    small = PollBudget(3)
    for _ in range(MISSES_BEFORE_PROBING):
        small.spent(found=False)
    assert small.polls == 3  # the probe is never more than the whole budget
    with pytest.raises(ValueError, match="0 \\(off\\) or more"):
        PollBudget(-1)


def test_polling_stops_when_ready_and_pauses_only_between_polls() -> None:
    answers = iter([False, False, True, True])
    pauses: list[int] = []
    assert poll_until(lambda: next(answers), 10, lambda: pauses.append(1)) is True
    assert len(pauses) == 2
    calls: list[int] = []
    pauses.clear()
    assert poll_until(lambda: bool(calls.append(1)), 4, lambda: pauses.append(1)) is False
    assert (len(calls), len(pauses)) == (4, 3)
    assert poll_until(lambda: True, 0, lambda: None) is False


def test_polling_ends_when_its_time_is_up_whatever_polls_are_left() -> None:
    polls: list[int] = []
    ticks = iter(range(100))
    found = poll_until(lambda: bool(polls.append(1)), 1000, lambda: None, lambda: next(ticks) >= 3)
    assert found is False
    assert len(polls) == 5  # the fourth pause found the time up; then one more look


def test_a_reply_that_came_during_the_last_pause_is_found() -> None:
    ready = iter([False, False, True])
    times_up = iter([False, True])
    assert poll_until(lambda: next(ready), 1000, lambda: None, lambda: next(times_up))


def test_a_wait_for_a_reply_that_never_comes_ends_at_its_time_limit() -> None:
    ours, theirs = socket.socketpair()
    with ours, theirs:
        now = [0.0]

        def clock() -> float:
            now[0] += MAX_POLL_SECONDS / 10  # every reading a tenth of the limit later
            return now[0]

        budget = PollBudget(10**9)  # far more polls than the time allows
        wait_for_reply(SocketPoller(ours), budget, clock)
        assert budget.misses == 1
        assert now[0] <= MAX_POLL_SECONDS * 1.2
        theirs.sendall(b"+OK\r\n")
        wait_for_reply(SocketPoller(ours), budget, clock)
        assert budget.misses == 0


def test_a_socket_is_readable_once_bytes_or_its_end_arrived() -> None:
    ours, theirs = socket.socketpair()
    with ours, theirs:
        poller = SocketPoller(ours)
        assert not poller.readable()
        theirs.sendall(b"+OK\r\n")
        assert poller.readable()
        assert ours.recv(16) == b"+OK\r\n"
        assert not poller.readable()
        theirs.close()
        assert poller.readable()  # the read reports the end


def test_only_plain_sockets_are_polled() -> None:
    plain = socket.socket()
    with (
        plain,
        ssl.create_default_context().wrap_socket(
            socket.socket(), server_hostname="redis.invalid"
        ) as tls,
    ):
        assert pollable(plain)
        assert not pollable(tls)
    assert not pollable(None)


@pytest.fixture
def polling(clean_redis_url: str) -> Iterator[RedisStore]:
    store = RedisStore.from_url(clean_redis_url)
    store.poll_for_replies(POLLS)
    yield store
    store.close()


def _thread_state(store: RedisStore) -> tuple[SocketPoller | None, PollBudget | None]:
    pinned = store._pinned
    return pinned.poller, pinned.budget


def test_replies_of_a_local_redis_are_found_by_polling(polling: RedisStore) -> None:
    found = 0
    for n in range(20):
        seen = polling.observe(observation(minutes(n / 10), event_id=f"p-{n}"))
        assert seen.fields["volume_1h"] == n + 1
        polling.record("acme", f"p-{n}", {"n": n})
        poller, budget = _thread_state(polling)
        assert poller is not None and budget is not None
        connection = polling._pinned.connection
        assert connection is not None and poller.sock is connection._sock
        found += budget.misses == 0
    # (a busy machine may make a wait miss now and then, not every one)
    assert found > 0
    assert polling.observe(observation(minutes(3), event_id="p-1")).previous == {"n": 1}


def test_replies_later_than_the_budget_are_read_whole_and_cut_it_in_the_end(
    polling: RedisStore, clean_redis_url: str
) -> None:
    polling.observe(observation(minutes(0), event_id="s-0"))  # connected, script loaded
    admin = redis.Redis.from_url(clean_redis_url)
    try:
        for n in range(1, MISSES_BEFORE_PROBING + 1):
            # The server holds every client's commands for 100 ms: far longer
            # than a wait polls, within the store's socket timeout.
            admin.client_pause(100)
            seen = polling.observe(observation(minutes(n), event_id=f"s-{n}"))
            assert seen.fields["volume_1h"] == n + 1
            _, budget = _thread_state(polling)
            assert budget is not None and budget.misses == n
    finally:
        admin.close()
    assert budget.polls == PROBE_POLLS
    # Fast replies again: the next wait that polls the whole budget finds one.
    for n in range(5 * RETRY_EVERY):
        polling.observe(observation(minutes(10), event_id=f"f-{n}"))
        if budget.misses == 0:
            break
    assert budget.polls == POLLS and budget.misses == 0


def test_a_wait_cut_short_leaves_no_reply_for_the_next_command(
    polling: RedisStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    polling.observe(observation(minutes(0), event_id="x-0"))
    stopped: list[bool] = []

    def stop(*_: object) -> None:
        stopped.append(True)
        raise SystemExit(1)  # as gunicorn stops a worker that ran out of time

    monkeypatch.setattr(redis_store, "wait_for_reply", stop)
    with pytest.raises(SystemExit):
        polling.observe(observation(minutes(1), event_id="x-1"))
    monkeypatch.undo()
    connection = polling._pinned.connection
    assert stopped and connection is not None and connection._sock is None
    # The next command connects again and reads its own reply, not x-1's.
    again = polling.observe(observation(minutes(1), event_id="x-1"))
    assert again.pending and again.fields["volume_1h"] == 2


def test_a_connection_made_again_is_polled_on_its_new_socket(
    polling: RedisStore, clean_redis_url: str
) -> None:
    polling.observe(observation(minutes(0), event_id="k-0"))
    first, _ = _thread_state(polling)
    assert first is not None
    admin = redis.Redis.from_url(clean_redis_url)
    try:
        admin.client_kill_filter(_type="normal", skipme=True)
    finally:
        admin.close()
    seen = polling.observe(observation(minutes(1), event_id="k-1"))
    assert seen.fields["volume_1h"] == 2
    again, _ = _thread_state(polling)
    connection = polling._pinned.connection
    assert again is not None and connection is not None
    assert again is not first and again.sock is connection._sock
