"""Two app instances on one Redis, eight threads: each event counted once, duplicates answered alike."""

from __future__ import annotations

import random
import threading
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask

from policy_service.app import create_app
from policy_service.clock import FixedClock
from policy_service.state.redis_store import RedisStore
from tests.conftest import NOW, RULES_DIR, make_event

THREADS = 8
DISTINCT = 4000
TWICE, THRICE = 700, 150  # 4000 + 700 + 2 * 150 = 5000 requests
TONES = ("positive", "neutral", "negative", "hostile")


@pytest.fixture
def instances(clean_redis_url: str) -> Iterator[list[Flask]]:
    """Two apps as two processes would have them: own store client, own engine, one Redis."""
    clock = FixedClock(NOW)
    config = {"rules_dir": RULES_DIR, "state_url": clean_redis_url, "reload_interval": 0}
    apps = [create_app(config, clock=clock) for _ in range(2)]
    yield apps
    for app in apps:
        services = app.extensions["policy_service"]
        services.policies.current().close()
        assert isinstance(services.store, RedisStore)
        services.store.close()


def event(n: int) -> dict[str, Any]:
    """The n-th distinct comment: all within the 50 minutes before the clock's now."""
    at = NOW - timedelta(seconds=(n * 7919) % 3000)
    return make_event(
        event_id=f"c-{n:04d}",
        occurred_at=at.isoformat().replace("+00:00", "Z"),
        text=f"comment {n}",
        author={
            "id": f"a{n % 50}",
            "reach": 50_000 if n % 10 == 0 else 100,
            "is_customer": n % 3 != 0,
        },
        thread={"id": f"p{n % 7}", "by_brand": True},
        signals={"tone": TONES[n % 4], "severity": 1 + n % 3},
    )


def test_every_event_is_counted_once_and_every_duplicate_gets_the_first_answer(
    instances: list[Flask],
) -> None:
    rng = random.Random(20261125)
    base = list(range(DISTINCT))
    rng.shuffle(base)
    thrice = set(rng.sample(base, THRICE))
    sends: list[int] = []
    for n in base:
        # Neighbours go to different threads at the same time: these copies
        # arrive while the first is still being decided.
        sends += [n, n, n] if n in thrice else [n]
    for n in rng.sample(sorted(set(base) - thrice), TWICE):
        sends.insert(rng.randrange(len(sends) + 1), n)
    assert len(sends) == 5000
    answers: dict[int, list[dict[str, Any]]] = defaultdict(list)
    lock = threading.Lock()
    failures: list[BaseException] = []

    def worker(share: list[int], seed: int) -> None:
        # The Flask test client is not meant to be shared between threads.
        clients = [app.test_client() for app in instances]
        pick = random.Random(seed)
        try:
            for n in share:
                response = pick.choice(clients).post("/v1/decisions", json=event(n))
                assert response.status_code == 200, response.get_json()
                with lock:
                    answers[n].append(response.get_json())
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=worker, args=(sends[k::THREADS], k)) for k in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise failures[0]

    assert sorted(answers) == list(range(DISTINCT))
    assert Counter(len(a) for a in answers.values()) == {
        1: DISTINCT - TWICE - THRICE,
        2: TWICE,
        3: THRICE,
    }
    for n, given in answers.items():
        firsts = [a for a in given if not a["duplicate"]]
        assert len(firsts) == 1, f"event {n}: {len(firsts)} answers not marked duplicate"
        first = {k: v for k, v in firsts[0].items() if k != "duplicate"}
        assert not first["degraded"]
        for again in given:
            assert {k: v for k, v in again.items() if k != "duplicate"} == first

    tones = Counter(TONES[n % 4] for n in range(DISTINCT))
    expected = {
        "volume": DISTINCT,
        "negative": tones["negative"] + tones["hostile"],
        "hostile": tones["hostile"],
        "positive": tones["positive"],
        "multiplier": sum(1 for n in range(DISTINCT) if n % 10 == 0),
        "non_customer": sum(1 for n in range(DISTINCT) if n % 3 == 0),
    }
    for app in instances:
        state = app.test_client().get("/v1/accounts/acme/state").get_json()
        assert state["windows"] == {"1h": expected, "24h": expected}
