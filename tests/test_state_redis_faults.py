"""Redis stops, freezes and comes back: the service keeps deciding, degraded, and recovers by itself."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient

from policy_service.app import create_app, open_store
from policy_service.clock import FixedClock
from policy_service.errors import StoreUnavailable
from policy_service.state.redis_store import CircuitBreaker, RedisStore
from tests.conftest import NOW, RULES_DIR, make_event
from tests.redis_server import RedisServer

# A fault bound, not a performance target: an answer must not wait for Redis indefinitely.
BOUND_SECONDS = 5.0
INSULT = {"tone": "hostile", "severity": 3}


@pytest.fixture
def server() -> Iterator[RedisServer]:
    """A redis-server of this test's own: it is stopped and started (never an outside one)."""
    with RedisServer() as running:
        yield running


@pytest.fixture
def app(server: RedisServer) -> Iterator[Flask]:
    config = {"rules_dir": RULES_DIR, "state_url": server.url, "reload_interval": 0}
    app = create_app(config, clock=FixedClock(NOW))
    yield app
    services = app.extensions["policy_service"]
    services.policies.current().close()
    assert isinstance(services.store, RedisStore)
    services.store.close()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def decide(client: FlaskClient, event_id: str, **overrides: Any) -> tuple[dict[str, Any], float]:
    started = time.monotonic()
    response = client.post("/v1/decisions", json=make_event(event_id=event_id, **overrides))
    elapsed = time.monotonic() - started
    assert response.status_code == 200, response.get_json()
    body: dict[str, Any] = response.get_json()
    return body, elapsed


def eventually(check: Callable[[], bool], within: float = 10.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return check()


def test_with_redis_stopped_the_rules_still_decide_degraded(
    server: RedisServer, client: FlaskClient
) -> None:
    healthy, _ = decide(client, "before")
    assert not healthy["degraded"]
    assert healthy["state"]["volume_1h"] == 1

    server.stop()
    for n in range(3):  # the first finds Redis gone; the others fail fast
        decision, elapsed = decide(client, f"during-{n}", signals=INSULT)
        assert elapsed < BOUND_SECONDS
        assert decision["degraded"] is True
        assert decision["state_problems"]
        assert decision["state"] == {}
        assert (decision["action"], decision["rule"]) == ("escalate", "insult")
        assert decision["duplicate"] is False
    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.get_json()["checks"]["store"] == "down"


def test_after_redis_restarts_the_service_recovers_by_itself(
    server: RedisServer, client: FlaskClient
) -> None:
    decide(client, "before")
    server.stop()
    assert decide(client, "during")[0]["degraded"]
    assert client.get("/readyz").status_code == 503

    server.start()  # the same port; its data is gone (no persistence)
    assert eventually(lambda: client.get("/readyz").status_code == 200)
    after, _ = decide(client, "after", signals=INSULT)
    assert not after["degraded"]
    assert "state_problems" not in after
    assert after["state"]["volume_1h"] == 1
    again, _ = decide(client, "after", signals=INSULT)
    assert again["duplicate"] is True
    assert {k: v for k, v in again.items() if k != "duplicate"} == {
        k: v for k, v in after.items() if k != "duplicate"
    }


def test_a_frozen_redis_costs_a_bounded_wait_not_a_hang(
    server: RedisServer, client: FlaskClient
) -> None:
    decide(client, "before")
    server.pause()
    try:
        decision, elapsed = decide(client, "frozen", signals=INSULT)
        assert elapsed < BOUND_SECONDS
        assert decision["degraded"] is True
        assert decision["rule"] == "insult"
        assert client.get("/readyz").status_code == 503
    finally:
        server.resume()
    assert eventually(lambda: client.get("/readyz").status_code == 200)
    assert not decide(client, "thawed")[0]["degraded"]


def test_the_store_fails_fast_while_the_breaker_is_open(server: RedisServer) -> None:
    now = [100.0]
    breaker = CircuitBreaker(pause_seconds=1.0, clock=lambda: now[0])
    client = redis.Redis.from_url(server.url, decode_responses=True, socket_timeout=0.25)
    store = RedisStore(client, breaker=breaker)
    try:
        assert store.ping()
        server.stop()
        with pytest.raises(StoreUnavailable, match="redis"):
            store.account_state("acme")
        assert breaker.is_open()
        server.start()
        # Redis is back, but the pause is not over: no attempt is made.
        with pytest.raises(StoreUnavailable, match="not retried yet"):
            store.account_state("acme")
        assert store.ping() is False
        now[0] += 1.5
        assert store.ping() is True
        assert store.account_state("acme")["crisis_level"] == "calm"
        assert not breaker.is_open()
    finally:
        store.close()


# Nothing listens on port 1 of the loopback interface.
@pytest.mark.parametrize("url", ["redis://127.0.0.1:1/0", "redis+cluster://127.0.0.1:1"])
def test_store_errors_are_store_unavailable_and_ping_never_raises(url: str) -> None:
    store = open_store(url)
    try:
        assert store.ping() is False
        calls: list[Callable[[], object]] = [
            lambda: store.account_state("acme"),
            lambda: store.record("acme", "e1", {"action": "ignore"}),
            lambda: store.abandon("acme", "e1"),
            lambda: store.wait_for_decision("acme", "e1", 0.1),
        ]
        for call in calls:
            with pytest.raises(StoreUnavailable):
                call()
    finally:
        store.close()


def test_account_state_with_redis_stopped_is_503(server: RedisServer, client: FlaskClient) -> None:
    decide(client, "before")
    server.stop()
    response = client.get("/v1/accounts/acme/state")
    assert response.status_code == 503
    assert response.mimetype == "application/problem+json"
    assert "state store is unavailable" in response.get_json()["detail"]
