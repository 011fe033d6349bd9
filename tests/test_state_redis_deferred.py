"""Deferred records: a decision's record goes out with the thread's next command, or on flush."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
import redis

from policy_service.errors import StoreUnavailable
from policy_service.state import RailsMarks
from policy_service.state.redis_cluster import ClusterStore
from policy_service.state.redis_store import CircuitBreaker, RedisStore, _packed
from tests.redis_server import RedisServer
from tests.test_state_conformance import minutes, observation

DECISION = {"event_id": "c-1", "action": "acknowledge"}
EVENT_KEY = "policy:{acme}:ev:c-1"


@pytest.fixture
def raw(clean_redis_url: str) -> Iterator[redis.Redis[str]]:
    client = redis.Redis.from_url(clean_redis_url, decode_responses=True)
    yield client
    client.close()


@pytest.fixture
def deferring(clean_redis_url: str) -> Iterator[RedisStore]:
    store = RedisStore.from_url(clean_redis_url)
    store.defer_records()
    yield store
    store.close()


def test_a_deferred_record_goes_out_in_front_of_the_next_command(
    deferring: RedisStore, raw: redis.Redis[str]
) -> None:
    deferring.observe(observation(minutes(0), event_id="c-1"))
    deferring.record("acme", "c-1", DECISION)
    assert raw.get(EVENT_KEY) == ""  # still pending: nothing was sent
    # The same event again, on the same thread: its record is executed first.
    again = deferring.observe(observation(minutes(1), event_id="c-1"))
    assert again.previous == DECISION
    assert raw.get(EVENT_KEY) is not None
    assert raw.ttl(EVENT_KEY) > 0


def test_flush_sends_what_was_deferred(deferring: RedisStore, raw: redis.Redis[str]) -> None:
    for n in range(3):
        deferring.observe(observation(minutes(n), event_id=f"c-{n}"))
        deferring.record("acme", f"c-{n}", {"action": "ignore", "n": n})
    deferring.flush()
    assert [raw.get(f"policy:{{acme}}:ev:c-{n}") for n in range(3)] == [
        f'{{"action":"ignore","n":{n}}}' for n in range(3)
    ]
    raw.config_resetstat()
    deferring.flush()  # nothing left: no command at all
    assert set(raw.info("commandstats")) == {"cmdstat_config|resetstat"}


def test_records_with_the_rails_marks_are_never_deferred(
    deferring: RedisStore, raw: redis.Redis[str]
) -> None:
    deferring.observe(observation(minutes(0), event_id="c-1", rails=True))
    marks = RailsMarks(now_ms=0, decision_id="d-1", escalation_cap=2, answered_author=None)
    # Their reply can change the decision (folded into an open escalation): sent at once.
    assert deferring.record("acme", "c-1", {**DECISION, "folded": False}, marks) is None
    assert raw.get(EVENT_KEY) == '{"event_id":"c-1","action":"acknowledge","folded":false}'


def test_a_record_redis_refuses_is_logged_and_the_connection_stays_in_step(
    deferring: RedisStore, caplog: pytest.LogCaptureFixture
) -> None:
    # A record Redis answers with an error (an expiry of 0 is refused), then a good one.
    deferring._defer_record("bad-1", _packed(("SET", "policy:{acme}:ev:bad-1", "x", "EX", 0)))
    deferring.observe(observation(minutes(0), event_id="c-1"))
    deferring.record("acme", "c-1", DECISION)
    with caplog.at_level(logging.WARNING, logger="policy_service.state.redis_store"):
        observed = deferring.observe(observation(minutes(1), event_id="c-2", tone="negative"))
    assert "decision for bad-1 not recorded" in caplog.text
    # Each reply was read as its own command's: the observe step got its own.
    assert observed.previous is None and not observed.pending
    assert observed.fields["volume_1h"] == 2
    assert deferring.observe(observation(minutes(2), event_id="c-1")).previous == DECISION


def test_deferred_records_survive_a_lost_connection(
    deferring: RedisStore, raw: redis.Redis[str]
) -> None:
    deferring.observe(observation(minutes(0), event_id="c-1"))
    deferring.record("acme", "c-1", DECISION)
    # Redis drops the store's connection: the next command connects again and
    # sends the record with it.
    assert raw.client_kill_filter(_type="normal", skipme=True) >= 1
    observed = deferring.observe(observation(minutes(1), event_id="c-2"))
    assert observed.fields["volume_1h"] == 2
    assert raw.get(EVENT_KEY) == '{"event_id":"c-1","action":"acknowledge"}'


def test_records_lost_with_redis_are_logged_by_event(caplog: pytest.LogCaptureFixture) -> None:
    with RedisServer() as server:
        store = RedisStore(
            redis.Redis.from_url(server.url, decode_responses=True, socket_timeout=0.25),
            breaker=CircuitBreaker(pause_seconds=0.0),
        )
        store.defer_records()
        store.observe(observation(minutes(0), event_id="c-1"))
        store.record("acme", "c-1", DECISION)
        server.stop()
        with (
            caplog.at_level(logging.WARNING, logger="policy_service.state.redis_store"),
            pytest.raises(StoreUnavailable),
        ):
            store.observe(observation(minutes(1), event_id="c-2"))
        assert "1 decision(s) not recorded (c-1)" in caplog.text
        # Logged once and dropped: the next command after Redis returns sends only itself.
        server.start()
        assert store.observe(observation(minutes(2), event_id="c-3")).fields["volume_1h"] == 1
        raw = redis.Redis.from_url(server.url, decode_responses=True)
        assert raw.get(EVENT_KEY) is None  # the restarted server holds nothing else
        raw.close()
        store.close()


def test_the_cluster_store_sends_its_records_at_once(clean_cluster_url: str) -> None:
    store = ClusterStore.from_url(clean_cluster_url)
    try:
        store.defer_records()
        store.observe(observation(minutes(0), event_id="c-1"))
        store.record("acme", "c-1", DECISION)
        other = ClusterStore.from_url(clean_cluster_url)
        try:
            assert other.wait_for_decision("acme", "c-1", 0.0) == DECISION
        finally:
            other.close()
    finally:
        store.close()


def test_records_in_front_of_a_command_redis_refuses_are_stored(
    deferring: RedisStore, raw: redis.Redis[str], caplog: pytest.LogCaptureFixture
) -> None:
    deferring.observe(observation(minutes(0), event_id="c-1"))
    deferring.record("acme", "c-1", DECISION)
    raw.script_flush()  # the observe script is gone: its EVALSHA is refused, then loaded
    with caplog.at_level(logging.WARNING, logger="policy_service.state.redis_store"):
        observed = deferring.observe(observation(minutes(1), event_id="c-2"))
    assert observed.fields["volume_1h"] == 2
    assert raw.get(EVENT_KEY) == '{"event_id":"c-1","action":"acknowledge"}'
    assert "not recorded" not in caplog.text


def test_flush_never_raises_and_logs_what_it_lost(caplog: pytest.LogCaptureFixture) -> None:
    with RedisServer() as server:
        store = RedisStore(redis.Redis.from_url(server.url, decode_responses=True))
        store.defer_records()
        store.observe(observation(minutes(0), event_id="c-1"))
        store.record("acme", "c-1", DECISION)
        server.stop()
        with caplog.at_level(logging.WARNING, logger="policy_service.state.redis_store"):
            store.flush()  # idle work: a worker must not stop for it
        assert "1 decision(s) not recorded (c-1)" in caplog.text
        store.record("acme", "c-2", DECISION)
        store.flush()  # the breaker is open now: nothing is tried, nothing raised
        store.close()


def test_a_record_waits_for_one_more_request_at_most(
    deferring: RedisStore, raw: redis.Redis[str]
) -> None:
    deferring.observe(observation(minutes(0), event_id="c-1"))
    deferring.record("acme", "c-1", DECISION)
    deferring.request_done()  # the request that decided it
    assert raw.get(EVENT_KEY) == ""
    deferring.request_done()  # one more, that sent no command (a refused event, say)
    assert raw.get(EVENT_KEY) == '{"event_id":"c-1","action":"acknowledge"}'


def test_a_decision_after_a_deferred_one_sends_it(
    deferring: RedisStore, raw: redis.Redis[str]
) -> None:
    deferring.observe(observation(minutes(0), event_id="c-0"))  # connected, script loaded
    raw.config_resetstat()
    for n in range(3):
        deferring.observe(observation(minutes(n), event_id=f"c-{n}"))
        deferring.record("acme", f"c-{n}", {"n": n})
        deferring.request_done()
    # Each observe step carried the record before it: one write a decision.
    assert raw.info("stats")["total_writes_processed"] == 1 + 3  # with CONFIG RESETSTAT's
    assert raw.get("policy:{acme}:ev:c-1") == '{"n":1}'
    assert raw.get("policy:{acme}:ev:c-2") == ""  # waits for the next request


def test_the_app_offers_its_worker_the_deferred_records(
    clean_redis_url: str, raw: redis.Redis[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from policy_service.app import create_app
    from policy_service.clock import FixedClock
    from policy_service.worker_hooks import hooks_of
    from tests.conftest import NOW, RULES_DIR, make_event

    polls: list[int] = []
    poll_for_replies = RedisStore.poll_for_replies

    def recorded(store: RedisStore, count: int) -> None:
        polls.append(count)
        poll_for_replies(store, count)

    monkeypatch.setattr(RedisStore, "poll_for_replies", recorded)
    app = create_app(
        {
            "rules_dir": RULES_DIR,
            "state_url": clean_redis_url,
            "reload_interval": 0,
            "redis_reply_polls": 40,
        },
        clock=FixedClock(NOW),
    )
    hooks = hooks_of(app)
    assert hooks is not None
    client = app.test_client()
    key = "policy:{acme}:ev:w-1"
    assert client.post("/v1/decisions", json=make_event(event_id="w-1")).status_code == 200
    assert raw.get(key) != ""  # not started: recorded at once
    assert polls == []
    hooks.start()  # what serve's worker does once the app is loaded
    assert polls == [40]  # and from then on it polls for replies
    key = "policy:{acme}:ev:w-2"
    assert client.post("/v1/decisions", json=make_event(event_id="w-2")).status_code == 200
    assert raw.get(key) == ""
    hooks.idle()
    assert '"event_id":"w-2"' in (raw.get(key) or "")
    services = app.extensions["policy_service"]
    services.policies.current().close()
    services.store.close()
