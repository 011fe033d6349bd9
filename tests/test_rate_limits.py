"""Rate limits per token and per account: 429 with Retry-After, others keep being answered."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from policy_service.app import create_app
from policy_service.clock import FixedClock
from policy_service.errors import StoreUnavailable
from policy_service.ratelimit import TokenLimiter
from policy_service.state.permits import MemoryPermits
from policy_service.state.redis_cluster import ClusterPermits
from policy_service.state.redis_permits import RedisPermits
from policy_service.state.redis_store import RedisStore
from tests.conftest import NOW, RULES_DIR, make_event
from tests.redis_server import RedisServer
from tests.test_metrics import scrape, value

FLOOD = "flood-token-0123456789abcdef"
CALM = "calm-token-0123456789abcdef"
TOKENS = f"""\
tokens:
  - {{name: flooder, token: "{FLOOD}", scopes: [decide, read]}}
  - {{name: calm, token: "{CALM}", scopes: [decide, read]}}
"""


def _headers(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _apps(
    tmp_path: Path, clock: FixedClock, count: int = 1, state_url: str = "memory://", **limits: int
) -> list[Flask]:
    tokens = tmp_path / "tokens.yaml"
    tokens.write_text(TOKENS)
    config = {
        "rules_dir": RULES_DIR,
        "state_url": state_url,
        "reload_interval": 0,
        "tokens_file": str(tokens),
        **limits,
    }
    return [create_app(config, clock=clock) for _ in range(count)]


@pytest.fixture
def limited(tmp_path: Path, clock: FixedClock) -> Iterator[Flask]:
    (app,) = _apps(tmp_path, clock, rate_limit_token=5, rate_limit_account=3)
    yield app
    app.extensions["policy_service"].policies.current().close()


def _close(apps: list[Flask]) -> None:
    for app in apps:
        services = app.extensions["policy_service"]
        services.policies.current().close()
        if isinstance(services.store, RedisStore):
            services.store.close()


def _event(n: int, account: str = "acme", **overrides: Any) -> dict[str, Any]:
    return make_event(
        event_id=f"e{n}", account=account, author={"id": f"a{n}"}, text="", **overrides
    )


def _assert_429(response: Any) -> dict[str, Any]:
    assert response.status_code == 429, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    assert int(response.headers["Retry-After"]) >= 1
    body: dict[str, Any] = response.get_json(force=True)
    assert body["status"] == 429 and body["title"] == "Too Many Requests"
    return body


def test_a_token_past_its_limit_gets_429_with_retry_after(
    limited: Flask, clock: FixedClock
) -> None:
    client = limited.test_client()
    for n in range(5):
        response = client.post(
            "/v1/decisions", json=_event(n, account=f"acct{n}"), headers=_headers(FLOOD)
        )
        assert response.status_code == 200
    body = _assert_429(client.get("/v1/rulesets", headers=_headers(FLOOD)))
    assert "token 'flooder'" in body["detail"]
    # NOW is 10:30:00: the minute's window ends in 60 s
    assert client.get("/v1/rulesets", headers=_headers(FLOOD)).headers["Retry-After"] == "60"
    # another token, the open endpoints: still answered
    assert client.get("/v1/rulesets", headers=_headers(CALM)).status_code == 200
    assert client.get("/healthz").status_code == 200
    assert client.get("/metrics").status_code == 200
    clock.set(NOW + timedelta(seconds=61))
    assert client.get("/v1/rulesets", headers=_headers(FLOOD)).status_code == 200


def test_an_account_past_its_limit_gets_429_and_nothing_is_counted(
    limited: Flask, clock: FixedClock
) -> None:
    client = limited.test_client()
    for n in range(3):
        assert (
            client.post("/v1/decisions", json=_event(n), headers=_headers(CALM)).status_code == 200
        )
    clock.set(NOW + timedelta(seconds=45))
    response = client.post("/v1/decisions", json=_event(3), headers=_headers(CALM))
    body = _assert_429(response)
    assert response.headers["Retry-After"] == "15"
    assert "account rate limit" in body["detail"]
    # (the other token from here: CALM spent 4 of its 5 permits)
    state = client.get("/v1/accounts/acme/state", headers=_headers(FLOOD)).get_json()
    assert state["windows"]["1h"]["volume"] == 3
    # a duplicate is still answered, and another account is not held back
    again = client.post("/v1/decisions", json=_event(0), headers=_headers(FLOOD)).get_json()
    assert again["duplicate"] is True
    other = client.post("/v1/decisions", json=_event(9, account="other"), headers=_headers(FLOOD))
    assert other.status_code == 200
    # the refused event was not remembered: decided normally in the next window
    clock.set(NOW + timedelta(seconds=61))
    later = client.post("/v1/decisions", json=_event(3), headers=_headers(FLOOD)).get_json()
    assert later["duplicate"] is False


def test_a_batch_pays_per_event_and_refused_events_get_their_own_429(
    limited: Flask,
) -> None:
    client = limited.test_client()
    events = [_event(n) for n in range(4)]
    response = client.post("/v1/decisions/batch", json={"events": events}, headers=_headers(CALM))
    assert response.status_code == 200
    results = response.get_json()["results"]
    assert [r.get("error", {}).get("status", 200) for r in results] == [200, 200, 200, 429]
    assert int(response.headers["Retry-After"]) >= 1
    # 4 of the token's 5 permits are spent: a batch of 2 is refused as a whole
    _assert_429(
        client.post(
            "/v1/decisions/batch",
            json={"events": [_event(7, "b"), _event(8, "b")]},
            headers=_headers(CALM),
        )
    )
    samples = scrape(client)
    assert value(samples, "policy_rate_limited_total", limit="account") == 1
    assert value(samples, "policy_rate_limited_total", limit="token") == 1


def test_with_access_control_off_every_caller_shares_one_budget(
    clock: FixedClock,
) -> None:
    app = create_app(
        {"rules_dir": RULES_DIR, "reload_interval": 0, "rate_limit_token": 2}, clock=clock
    )
    try:
        client = app.test_client()
        statuses = [client.get("/v1/rulesets").status_code for _ in range(3)]
        assert statuses == [200, 200, 429]
    finally:
        app.extensions["policy_service"].policies.current().close()


def test_limits_of_zero_are_off(tmp_path: Path, clock: FixedClock) -> None:
    (app,) = _apps(tmp_path, clock, rate_limit_token=0, rate_limit_account=0)
    try:
        services = app.extensions["policy_service"]
        assert services.token_limiter is None
        client = app.test_client()
        for n in range(20):
            response = client.post("/v1/decisions", json=_event(n), headers=_headers(FLOOD))
            assert response.status_code == 200
    finally:
        _close([app])


# The lease mechanism


@pytest.mark.parametrize("where", ["redis", "cluster"])
def test_leases_never_hand_out_more_than_the_limit_across_workers(
    where: str, request: pytest.FixtureRequest
) -> None:
    clock = FixedClock(NOW)
    pools: list[RedisPermits]
    if where == "cluster":
        url = request.getfixturevalue("clean_cluster_url")
        pools = [ClusterPermits.from_url(url) for _ in range(3)]
    else:
        pools = [
            RedisPermits.from_url(request.getfixturevalue("clean_redis_url")) for _ in range(3)
        ]
    try:
        limiters = [TokenLimiter(pool, clock, 1000, 60) for pool in pools]
        granted = sum(1 for n in range(1500) if limiters[n % 3].acquire("bot") == 0.0)
        # leases of 10 (1 %): at most two leases' worth stay unspent in other workers
        assert 1000 - 2 * 10 <= granted <= 1000
    finally:
        for pool in pools:
            pool.close()


class _DownPool:
    def lease(self, key: str, window: int, wanted: int, limit: int, ttl_ms: int) -> int:
        raise StoreUnavailable("redis permits failed: connection refused")


def test_the_token_limit_lets_requests_through_while_its_pool_is_down() -> None:
    limiter = TokenLimiter(_DownPool(), FixedClock(NOW), 3, 60)
    assert [limiter.acquire("bot") for _ in range(5)] == [0.0] * 5


def test_memory_permits_are_exact_per_window() -> None:
    clock = FixedClock(NOW)
    limiter = TokenLimiter(MemoryPermits(), clock, 250, 60)
    assert sum(limiter.acquire("bot") == 0.0 for _ in range(300)) == 250
    assert limiter.acquire("other") == 0.0
    clock.set(NOW + timedelta(minutes=1))
    assert limiter.acquire("bot") == 0.0


# A flood


def test_a_flood_is_held_at_the_limits_while_others_are_answered(
    tmp_path: Path, clean_redis_url: str
) -> None:
    """Two workers on one Redis; one token floods one account from two threads
    per worker while another token keeps sending to other accounts."""
    clock = FixedClock(NOW)
    apps = _apps(
        tmp_path,
        clock,
        count=2,
        state_url=clean_redis_url,
        rate_limit_token=300,
        rate_limit_account=120,
    )
    flood: Counter[int] = Counter()
    calm: Counter[int] = Counter()
    retry_after: set[str] = set()
    lock = threading.Lock()

    def flooder(app: Flask, thread: int) -> None:
        client = app.test_client()
        for n in range(150):
            event = _event(thread * 1000 + n, account="target", signals={"tone": "negative"})
            response = client.post("/v1/decisions", json=event, headers=_headers(FLOOD))
            with lock:
                flood[response.status_code] += 1
                if response.status_code == 429:
                    retry_after.add(response.headers["Retry-After"])

    def bystander(app: Flask) -> None:
        client = app.test_client()
        for n in range(100):
            event = _event(50_000 + n, account=f"brand{n % 5}")
            response = client.post("/v1/decisions", json=event, headers=_headers(CALM))
            with lock:
                calm[response.status_code] += 1

    threads = [
        threading.Thread(target=flooder, args=(app, 2 * i + k))
        for i, app in enumerate(apps)
        for k in range(2)
    ] + [threading.Thread(target=bystander, args=(apps[0],))]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sum(flood.values()) == 600
        # the account's limit is exact (counted in the observe script): 120 decided
        assert flood[200] == 120 and flood[429] == 480
        assert retry_after == {"60"}
        assert calm == {200: 100}
        client = apps[0].test_client()
        state = client.get("/v1/accounts/target/state", headers=_headers(CALM)).get_json()
        assert state["windows"]["1h"]["volume"] == 120
        # the token's limit (300) holds too: past it even new accounts are refused
        more = [
            client.post(
                "/v1/decisions", json=_event(90_000 + n, account=f"x{n}"), headers=_headers(FLOOD)
            ).status_code
            for n in range(20)
        ]
        assert more.count(200) == 0
    finally:
        _close(apps)


def test_redis_permits_fail_fast_while_redis_is_down() -> None:
    with RedisServer() as server:
        pool = RedisPermits.from_url(server.url)
        try:
            assert pool.lease("k", 1, 5, 10, 60_000) == 5
            server.stop()
            _fails_fast(pool)
        finally:
            pool.close()


def test_cluster_permits_fail_fast_while_the_cluster_is_unreachable() -> None:
    # Nothing listens on port 1 of the loopback interface.
    pool = ClusterPermits.from_url("redis+cluster://127.0.0.1:1")
    try:
        _fails_fast(pool)
    finally:
        pool.close()


def _fails_fast(pool: RedisPermits) -> None:
    with pytest.raises(StoreUnavailable):
        pool.lease("k", 1, 5, 10, 60_000)
    # the breaker is open: the next lease fails without trying the network
    with pytest.raises(StoreUnavailable, match="not retried yet"):
        pool.lease("k", 1, 5, 10, 60_000)
