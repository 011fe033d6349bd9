"""Three app instances on a Redis Cluster: 10,000 events for 200 accounts, each counted once."""

from __future__ import annotations

import random
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

ACCOUNTS = 200
DISTINCT = 9_000
TWICE, THRICE = 600, 200  # 9000 + 600 + 2 * 200 = 10,000 requests


@pytest.fixture
def instances(clean_cluster_url: str) -> Iterator[list[Flask]]:
    with app_instances(clean_cluster_url, 3) as apps:
        yield apps


def account(n: int) -> str:
    return account_of(n, ACCOUNTS)


def event(n: int) -> dict[str, Any]:
    return numbered_event(n, ACCOUNTS)


def test_many_accounts_on_three_instances_count_every_event_once_on_every_primary(
    redis_cluster: LocalCluster, instances: list[Flask]
) -> None:
    sends = with_copies(range(DISTINCT), TWICE, THRICE, random.Random(8))
    assert len(sends) == 10_000
    answers = send_all(instances, sends, event)
    assert sorted(answers) == list(range(DISTINCT))
    assert_first_answers_repeated(answers)
    assert_windows(instances, range(DISTINCT), event)

    # Every primary holds accounts, and each account lives on one primary
    # (beside them: the callers' rate-limit permits, under tags of their own).
    held = {
        port: {
            tag
            for key in redis_cluster.keys(port)
            if not (tag := key.split("{", 1)[1].split("}", 1)[0]).startswith("permits:")
        }
        for port in redis_cluster.primaries()
    }
    assert len(held) == 3
    assert all(held.values())
    assert sum(len(accounts) for accounts in held.values()) == ACCOUNTS
    assert set().union(*held.values()) == {account(a) for a in range(ACCOUNTS)}
