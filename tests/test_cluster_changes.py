"""A slot moves and a primary hands over to its replica while events flow: none lost, none counted twice.

docs/cluster.md says what a failover may cost; a slot migration and a manual
failover (CLUSTER FAILOVER, the replica takes over once it has caught up)
cost nothing: every event is counted once and every copy answered alike.
"""

from __future__ import annotations

import itertools
import random
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask

from tests.redis_cluster import LocalCluster
from tests.traffic import (
    account_of,
    app_instances,
    assert_first_answers_repeated,
    assert_windows,
    numbered_event,
    send_all,
    with_copies,
)

pytestmark = pytest.mark.redis

ACCOUNTS = 12
BEFORE = 1200  # events 0..1199 before the changes, the same number after them
DURING = 100_000  # events from here on are sent while the cluster changes
AFTER = 200_000
FLOWING = 300  # events sent during the changes before each change starts


@pytest.fixture(scope="module")
def cluster() -> Iterator[LocalCluster]:
    """A cluster of this module's own, three primaries with one replica each: it is changed."""
    with LocalCluster(primaries=3, replicas=1) as changing:
        yield changing


@pytest.fixture
def instances(cluster: LocalCluster) -> Iterator[list[Flask]]:
    cluster.flush()
    with app_instances(cluster.url, 3) as apps:
        yield apps


def account(n: int) -> str:
    return account_of(n, ACCOUNTS)


def event(n: int) -> dict[str, Any]:
    return numbered_event(n, ACCOUNTS)


class Flow:
    """Events from DURING on, each fifth one twice in a row, until `stop`; counts what it gave."""

    def __init__(self) -> None:
        self.given = 0
        self.stopped = threading.Event()
        self.progress = threading.Condition()

    def __iter__(self) -> Iterator[int]:
        for n in itertools.count(DURING):
            if self.stopped.is_set():
                return
            for _ in range(2 if n % 5 == 0 else 1):
                with self.progress:
                    self.given += 1
                    self.progress.notify_all()
                yield n

    def wait_for(self, more: int) -> None:
        """Until `more` events were handed out after now (they are in flight, or answered)."""
        with self.progress:
            target = self.given + more
            self.progress.wait_for(lambda: self.given >= target)


def key_of(name: str) -> str:
    return f"policy:{{{name}}}:meta"


def test_a_slot_migration_and_a_failover_while_events_flow_lose_and_repeat_nothing(
    cluster: LocalCluster, instances: list[Flask]
) -> None:
    rng = random.Random(3)
    before = with_copies(range(BEFORE), 100, 50, rng)
    answers = send_all(instances, before, event)

    # The slot of one live account moves to another primary; the primary of
    # another account (on a third primary) hands over to its replica.
    moving = account(0)
    slot = cluster.keyslot(key_of(moving))
    source = cluster.owner(slot)
    target = next(p for p in cluster.primaries() if p != source)
    staying = next(
        account(a)
        for a in range(ACCOUNTS)
        if cluster.owner(cluster.keyslot(key_of(account(a)))) not in (source, target)
    )
    failing = cluster.owner(cluster.keyslot(key_of(staying)))
    replica = cluster.replica_of(failing)

    flow = Flow()
    during: dict[int, list[dict[str, Any]]] = {}
    sender = threading.Thread(target=lambda: during.update(send_all(instances, flow, event)))
    sender.start()
    try:
        flow.wait_for(FLOWING)
        moved = cluster.migrate_slot(slot, target)
        flow.wait_for(FLOWING)
        cluster.fail_over(replica)
        flow.wait_for(FLOWING)
    finally:
        flow.stopped.set()
        sender.join()
    assert moved > 0  # the slot held the account's keys
    assert cluster.owner(slot) == target
    assert replica in cluster.primaries() and failing not in cluster.primaries()

    # Afterwards: new events, and copies of events from before and during.
    after = list(range(AFTER, AFTER + BEFORE))
    again = rng.sample(before, 200) + rng.sample(sorted(during), 200)
    later = send_all(instances, after + again, event)

    for n, given in [*during.items(), *later.items()]:
        answers.setdefault(n, []).extend(given)
    assert_first_answers_repeated(answers)
    assert_windows(instances, answers, event)
    assert any(key_of(moving) == key for key in cluster.keys(target))
