"""The cluster store's own parts: its URL, its two round trips, scripts a primary lost, one slot per account."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from policy_service.config import Settings
from policy_service.errors import ConfigError
from policy_service.state.redis_cluster import ClusterAddress, ClusterStore, parse_cluster_url
from tests.redis_cluster import LocalCluster
from tests.test_state_conformance import minutes, observation, send


@pytest.mark.parametrize(
    ("url", "address"),
    [
        ("redis+cluster://127.0.0.1:7000", ClusterAddress((("127.0.0.1", 7000),))),
        (
            "redis+cluster://r1:7000,r2:7001, r3:7002/0",
            ClusterAddress((("r1", 7000), ("r2", 7001), ("r3", 7002))),
        ),
        (
            "redis+cluster://svc:s%40cret@[::1]:7000,10.0.0.2:7000",
            ClusterAddress((("::1", 7000), ("10.0.0.2", 7000)), "svc", "s@cret"),
        ),
        (
            "redis+cluster://:only-a-password@r1:7000",
            ClusterAddress((("r1", 7000),), None, "only-a-password"),
        ),
    ],
)
def test_cluster_urls(url: str, address: ClusterAddress) -> None:
    assert parse_cluster_url(url) == address
    assert Settings.from_mapping({"state_url": url}).state_url == url


@pytest.mark.parametrize(
    "url",
    [
        "redis+cluster://",
        "redis+cluster://r1",
        "redis+cluster://r1:7000,",
        "redis+cluster://r1:70000",
        "redis+cluster://r1:7000/1",
        "redis+cluster://r1:7000?timeout=1",
    ],
)
def test_urls_that_name_no_cluster_are_refused(url: str) -> None:
    with pytest.raises(ConfigError, match="cluster URL"):
        parse_cluster_url(url)


def test_settings_refuse_an_unknown_store() -> None:
    with pytest.raises(ConfigError, match="redis\\+cluster://"):
        Settings.from_mapping({"state_url": "rediss+cluster://r1:7000"})


@pytest.fixture
def store(clean_cluster_url: str) -> Iterator[ClusterStore]:
    opened = ClusterStore.from_url(clean_cluster_url)
    yield opened
    opened.close()


def calls(cluster: LocalCluster) -> dict[str, int]:
    """Commands run since the last reset, summed over the primaries (scripts' own ones too)."""
    total: dict[str, int] = {}
    for port in cluster.primaries():
        node = cluster.node(port)
        try:
            for name, value in node.info("commandstats").items():
                total[name] = total.get(name, 0) + value["calls"]
        finally:
            node.close()
    return total


@pytest.mark.redis
def test_observe_and_record_cost_one_round_trip_each_on_the_cluster(
    redis_cluster: LocalCluster, store: ClusterStore
) -> None:
    send(store, minutes(0), "negative")  # connects, loads the script
    for port in redis_cluster.primaries():
        redis_cluster.call(port, "CONFIG", "RESETSTAT")
    obs = observation(minutes(1), "negative")
    store.observe(obs)
    store.record("acme", obs.event_id, {"action": "ignore"})
    sent = calls(redis_cluster)
    assert sent["cmdstat_evalsha"] == 1
    assert sent["cmdstat_set"] == 2  # the pending mark inside the script, and the record
    for other in ("eval", "script", "multi", "exec", "asking", "cluster", "command"):
        assert f"cmdstat_{other}" not in sent


@pytest.mark.redis
def test_a_primary_that_lost_its_scripts_runs_them_again(
    redis_cluster: LocalCluster, store: ClusterStore
) -> None:
    send(store, minutes(0), "negative")
    for port in redis_cluster.primaries():
        redis_cluster.call(port, "SCRIPT", "FLUSH")
    assert send(store, minutes(1), "negative").fields["volume_1h"] == 2
    obs = observation(minutes(2), event_id="abandoned")
    store.observe(obs)
    store.abandon(obs.account, obs.event_id)
    assert store.observe(obs).retry


@pytest.mark.redis
def test_an_accounts_keys_share_one_slot(redis_cluster: LocalCluster, store: ClusterStore) -> None:
    for n in range(12):
        send(store, minutes(n), "hostile", author="m1", multiplier=True, account="one.brand")
    owner = redis_cluster.owner(redis_cluster.keyslot("policy:{one.brand}:meta"))
    keys = redis_cluster.keys(owner)
    assert len(keys) > 12  # every kind of key, an event key per event
    assert {redis_cluster.keyslot(key) for key in keys} == {
        redis_cluster.keyslot("policy:{one.brand}:meta")
    }
    others = [port for port in redis_cluster.primaries() if port != owner]
    assert all(redis_cluster.keys(port) == [] for port in others)


@pytest.mark.redis
def test_serves_worker_starts_an_app_on_the_cluster(clean_cluster_url: str) -> None:
    """What serve's worker does once the app is loaded: records stay immediate, replies unpolled."""
    from policy_service.app import create_app
    from policy_service.clock import FixedClock
    from policy_service.worker_hooks import hooks_of
    from tests.conftest import NOW, RULES_DIR, make_event

    app = create_app(
        {"rules_dir": RULES_DIR, "state_url": clean_cluster_url, "reload_interval": 0},
        clock=FixedClock(NOW),
    )
    hooks = hooks_of(app)
    assert hooks is not None
    hooks.start()
    client = app.test_client()
    try:
        answer = client.post("/v1/decisions", json=make_event(event_id="cw-1"))
        assert answer.status_code == 200 and not answer.get_json().get("degraded")
        again = client.post("/v1/decisions", json=make_event(event_id="cw-1"))
        assert again.get_json()["duplicate"] is True  # recorded at once
        hooks.idle()
    finally:
        services = app.extensions["policy_service"]
        services.policies.current().close()
        services.store.close()
