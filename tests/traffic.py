"""Traffic through several app instances on one shared store, and what their answers must show."""

from __future__ import annotations

import random
import threading
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from flask import Flask

from policy_service.app import create_app
from policy_service.clock import FixedClock
from policy_service.state.redis_store import RedisStore
from tests.conftest import NOW, RULES_DIR, make_event

THREADS = 8
MULTIPLIER_REACH = 10_000  # rules/default.yaml
NEGATIVE = frozenset({"negative", "hostile"})
TONES = ("positive", "neutral", "negative", "hostile")


def account_of(n: int, accounts: int) -> str:
    """The account of the n-th event among `accounts` accounts (0: all for acme)."""
    return f"brand-{n % accounts:03d}" if accounts else "acme"


def numbered_event(n: int, accounts: int = 0) -> dict[str, Any]:
    """The n-th distinct comment: its account, author, thread, tone and time follow from n.

    The times are spread out of order over the 50 minutes before the clock's
    now; every tenth author is a multiplier, every third no customer.
    """
    at = NOW - timedelta(seconds=(n * 7919) % 3000)
    return make_event(
        event_id=f"c-{n:06d}",
        account=account_of(n, accounts),
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


@contextmanager
def app_instances(state_url: str, count: int) -> Iterator[list[Flask]]:
    """`count` apps as `count` processes would have them: own store client, own engine, one store."""
    clock = FixedClock(NOW)
    config = {"rules_dir": RULES_DIR, "state_url": state_url, "reload_interval": 0}
    apps = [create_app(config, clock=clock) for _ in range(count)]
    try:
        yield apps
    finally:
        for app in apps:
            services = app.extensions["policy_service"]
            services.policies.current().close()
            assert isinstance(services.store, RedisStore)
            services.store.close()


def send_all(
    apps: list[Flask],
    sends: Iterable[int],
    event: Callable[[int], dict[str, Any]],
    threads: int = THREADS,
) -> dict[int, list[dict[str, Any]]]:
    """POST `event(n)` for every n of `sends` from `threads` threads, each to a random instance.

    The threads take the numbers in turn, so copies of one event placed side
    by side arrive while the first is being decided. `sends` may be a
    generator that ends when the caller says so. Returns every answer by n;
    any answer but 200 fails.
    """
    numbers = iter(sends)
    answers: dict[int, list[dict[str, Any]]] = defaultdict(list)
    lock = threading.Lock()
    failures: list[BaseException] = []

    def worker(seed: int) -> None:
        # The Flask test client is not meant to be shared between threads.
        clients = [app.test_client() for app in apps]
        pick = random.Random(seed)
        try:
            while True:
                with lock:
                    n = None if failures else next(numbers, None)
                if n is None:
                    return
                response = pick.choice(clients).post("/v1/decisions", json=event(n))
                assert response.status_code == 200, response.get_json()
                with lock:
                    answers[n].append(response.get_json())
        except BaseException as exc:
            with lock:
                failures.append(exc)

    workers = [threading.Thread(target=worker, args=(k,)) for k in range(threads)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    if failures:
        raise failures[0]
    return answers


def with_copies(numbers: Iterable[int], twice: int, thrice: int, rng: random.Random) -> list[int]:
    """`numbers` shuffled, `thrice` of them three times in a row, `twice` others again anywhere."""
    distinct = list(numbers)
    rng.shuffle(distinct)
    tripled = set(rng.sample(distinct, thrice))
    sends: list[int] = []
    for n in distinct:
        sends += [n, n, n] if n in tripled else [n]
    for n in rng.sample(sorted(set(distinct) - tripled), twice):
        sends.insert(rng.randrange(len(sends) + 1), n)
    return sends


def assert_first_answers_repeated(answers: dict[int, list[dict[str, Any]]]) -> None:
    """Each event got one first answer, not degraded; its copies got that answer again."""
    for n, given in answers.items():
        firsts = [a for a in given if not a["duplicate"]]
        assert len(firsts) == 1, f"event {n}: {len(firsts)} answers not marked duplicate"
        first = {k: v for k, v in firsts[0].items() if k != "duplicate"}
        assert not first["degraded"], f"event {n}: {first.get('state_problems')}"
        for again in given:
            assert {k: v for k, v in again.items() if k != "duplicate"} == first


def assert_windows(
    apps: list[Flask],
    counted: Iterable[int],
    event: Callable[[int], dict[str, Any]],
) -> None:
    """Every instance shows each account's windows counting the events `counted`, once each."""
    by_account: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for n in counted:
        one = event(n)
        by_account[one["account"]].append(one)
    clients = [app.test_client() for app in apps]
    for account, events in by_account.items():
        expected = windows_of(events)
        for client in clients:
            state = client.get(f"/v1/accounts/{account}/state").get_json()
            assert state["windows"] == {"1h": expected, "24h": expected}, account


def windows_of(events: Iterable[dict[str, Any]]) -> dict[str, int]:
    """The counters docs/state.md defines, for these events counted once each."""
    counts = Counter[str]()
    for event in events:
        tone = event["signals"]["tone"]
        counts["volume"] += 1
        counts["negative"] += tone in NEGATIVE
        counts["hostile"] += tone == "hostile"
        counts["positive"] += tone == "positive"
        counts["multiplier"] += event["author"]["reach"] >= MULTIPLIER_REACH
        counts["non_customer"] += event["author"]["is_customer"] is False
    names = ("volume", "negative", "hostile", "positive", "multiplier", "non_customer")
    return {name: counts[name] for name in names}
