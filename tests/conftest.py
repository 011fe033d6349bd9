"""Shared fixtures: the real app on the real rule files, and helpers to build events."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from policy_service.app import create_app
from policy_service.clock import FixedClock

if TYPE_CHECKING:
    from tests.redis_cluster import LocalCluster

ROOT = Path(__file__).resolve().parent.parent
RULES_DIR = ROOT / "rules"
NOW = datetime(2026, 11, 25, 10, 30, tzinfo=UTC)


def make_event(**overrides: Any) -> dict[str, Any]:
    """The README's example event, with overrides (nested dicts replace whole)."""
    event: dict[str, Any] = {
        "event_id": "c-123",
        "account": "acme",
        "occurred_at": "2026-11-25T10:00:00Z",
        "channel": "instagram",
        "text": "The app logs me out every time I switch tabs, please fix",
        "lang": "en",
        "author": {"id": "u1", "reach": 1200, "is_customer": True, "verified": False},
        "thread": {"id": "p9", "published_at": "2026-11-25T08:00:00Z", "by_brand": True},
        "signals": {"tone": "negative", "severity": 2, "constructive": True},
    }
    event.update(overrides)
    return event


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


@pytest.fixture
def app(clock: FixedClock) -> Iterator[Flask]:
    app = create_app(
        {"rules_dir": RULES_DIR, "state_url": "memory://", "reload_interval": 0}, clock=clock
    )
    app.config["TESTING"] = True
    yield app
    app.extensions["policy_service"].policies.current().close()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """A Redis for the state tests: POLICY_TEST_REDIS_URL, or a redis-server of our own.

    Our own server listens on a free loopback port without persistence; a
    developer's Redis on the default port is never touched.
    """
    import os

    from tests.redis_server import RedisServer, refuse_default_redis

    given = os.environ.get("POLICY_TEST_REDIS_URL")
    if given:
        refuse_default_redis(given)
        yield given
        return
    with RedisServer() as server:
        yield server.url


@pytest.fixture
def clean_redis_url(redis_url: str) -> Iterator[str]:
    """`redis_url` with its database flushed before and after the test."""
    from tests.redis_server import flush

    flush(redis_url)
    yield redis_url
    flush(redis_url)


@pytest.fixture(scope="session")
def redis_cluster() -> Iterator[LocalCluster]:
    """A Redis Cluster of three primaries of our own, on free loopback ports, for the whole run."""
    from tests.redis_cluster import LocalCluster

    with LocalCluster(primaries=3) as cluster:
        yield cluster


@pytest.fixture
def clean_cluster_url(redis_cluster: LocalCluster) -> Iterator[str]:
    """The shared cluster's URL (redis+cluster://...), every primary flushed before and after."""
    redis_cluster.flush()
    yield redis_cluster.url
    redis_cluster.flush()
