"""A cluster that is not there yet, or a frozen primary: the service decides degraded and recovers."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

from policy_service.app import create_app
from policy_service.clock import FixedClock
from tests.conftest import NOW, RULES_DIR
from tests.redis_cluster import LocalCluster
from tests.test_state_redis_faults import BOUND_SECONDS, INSULT, decide, eventually

pytestmark = pytest.mark.redis


def app_on(url: str) -> Flask:
    return create_app(
        {"rules_dir": RULES_DIR, "state_url": url, "reload_interval": 0}, clock=FixedClock(NOW)
    )


@pytest.fixture
def closing() -> Iterator[Callable[[Flask], Flask]]:
    """Close the apps a test makes: their engine and store connections."""
    apps: list[Flask] = []
    yield lambda app: apps.append(app) or app
    for app in apps:
        services = app.extensions["policy_service"]
        services.policies.current().close()
        services.store.close()


def test_a_service_started_before_its_cluster_decides_degraded_then_recovers(
    closing: Callable[[Flask], Flask],
) -> None:
    cluster = LocalCluster(primaries=3)  # ports chosen, nothing started
    try:
        client = closing(app_on(cluster.url)).test_client()
        decision, elapsed = decide(client, "early", signals=INSULT)
        assert elapsed < BOUND_SECONDS
        assert decision["degraded"] is True and decision["rule"] == "insult"
        assert client.get("/readyz").status_code == 503

        cluster.start()
        assert eventually(lambda: client.get("/readyz").status_code == 200)
        decision, _ = decide(client, "later", signals=INSULT)
        assert not decision["degraded"]
        assert decision["state"]["volume_1h"] == 1
    finally:
        cluster.close()


def test_a_frozen_primary_costs_a_bounded_wait_and_the_service_recovers(
    redis_cluster: LocalCluster, clean_cluster_url: str, closing: Callable[[Flask], Flask]
) -> None:
    client: FlaskClient = closing(app_on(clean_cluster_url)).test_client()
    assert not decide(client, "before")[0]["degraded"]
    owner = redis_cluster.owner(redis_cluster.keyslot("policy:{acme}:meta"))
    frozen = next(server for server in redis_cluster.servers if server.port == owner)
    frozen.pause()
    try:
        # Shorter than the cluster's node timeout: the others do not fail it.
        decision, elapsed = decide(client, "frozen", signals=INSULT)
        assert elapsed < BOUND_SECONDS
        assert decision["degraded"] is True and decision["rule"] == "insult"
        assert client.get("/readyz").status_code == 503
    finally:
        frozen.resume()
    assert eventually(lambda: client.get("/readyz").status_code == 200)
    thawed, _ = decide(client, "thawed")
    assert not thawed["degraded"]
    # The frozen primary ran the script it had received once it was thawed:
    # an answer degraded by a timeout may still have counted its event.
    assert thawed["state"]["volume_1h"] in (2, 3)
    # Its copy is counted only if the first was not: once in all.
    decide(client, "frozen", signals=INSULT)
    state = client.get("/v1/accounts/acme/state").get_json()
    assert state["windows"]["1h"]["volume"] == 3
    redis_cluster.wait_until_stable()
