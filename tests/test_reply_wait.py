"""Polling for a Redis reply: the adaptive budget, and the store's waits on a real redis-server."""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Iterator

import pytest
import redis

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
    assert len(polls) == 4  # the fourth pause found the time up


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


BUSY_SCRIPT = """
local t = redis.call('TIME')
local stop = t[1] * 1e6 + t[2] + 100000
repeat t = redis.call('TIME') until t[1] * 1e6 + t[2] >= stop
return 1
"""


def _until_busy(url: str) -> None:
    """Return once the server runs a script: a PING then gets no answer in time."""
    probe = redis.Redis.from_url(url, socket_timeout=0.005)
    try:
        for _ in range(100):
            try:
                probe.ping()
            except redis.TimeoutError:
                return
    finally:
        probe.close()
    raise AssertionError("the busy script never ran")


def _thread_state(store: RedisStore) -> tuple[SocketPoller | None, PollBudget | None]:
    pinned = store._pinned
    return pinned.poller, pinned.budget


def test_replies_of_a_local_redis_are_found_by_polling(polling: RedisStore) -> None:
    for n in range(5):
        seen = polling.observe(observation(minutes(n), event_id=f"p-{n}"))
        assert seen.fields["volume_1h"] == n + 1
        polling.record("acme", f"p-{n}", {"n": n})
    poller, budget = _thread_state(polling)
    assert poller is not None and budget is not None
    assert budget.polls == POLLS
    assert polling.observe(observation(minutes(6), event_id="p-1")).previous == {"n": 1}


def test_replies_later_than_the_budget_are_read_whole_and_cut_it_in_the_end(
    polling: RedisStore, clean_redis_url: str
) -> None:
    polling.observe(observation(minutes(0), event_id="s-0"))  # connected, script loaded
    busy = redis.Redis.from_url(clean_redis_url)
    try:
        for n in range(1, MISSES_BEFORE_PROBING + 1):
            # Redis runs one script at a time: the observe step waits behind this
            # one (100 ms, within the store's socket timeout).
            blocker = threading.Thread(target=busy.eval, args=(BUSY_SCRIPT, 0))
            blocker.start()
            try:
                _until_busy(clean_redis_url)
                seen = polling.observe(observation(minutes(n), event_id=f"s-{n}"))
            finally:
                blocker.join()
            assert seen.fields["volume_1h"] == n + 1
            _, budget = _thread_state(polling)
            assert budget is not None and budget.misses == n
    finally:
        busy.close()
    assert budget.polls == PROBE_POLLS
    # Fast replies again: the next wait that polls the whole budget finds one.
    for n in range(5 * RETRY_EVERY):
        polling.observe(observation(minutes(10), event_id=f"f-{n}"))
        if budget.misses == 0:
            break
    assert budget.polls == POLLS and budget.misses == 0


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
