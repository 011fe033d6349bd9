"""Two app instances on one Redis, eight threads: each event counted once, duplicates answered alike."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask

from tests.traffic import (
    app_instances,
    assert_first_answers_repeated,
    assert_windows,
    numbered_event,
    send_all,
    with_copies,
)

DISTINCT = 4000
TWICE, THRICE = 700, 150  # 4000 + 700 + 2 * 150 = 5000 requests


@pytest.fixture
def instances(clean_redis_url: str) -> Iterator[list[Flask]]:
    with app_instances(clean_redis_url, 2) as apps:
        yield apps


def event(n: int) -> dict[str, Any]:
    """The n-th distinct comment: all within the 50 minutes before the clock's now."""
    return numbered_event(n)


def test_every_event_is_counted_once_and_every_duplicate_gets_the_first_answer(
    instances: list[Flask],
) -> None:
    sends = with_copies(range(DISTINCT), TWICE, THRICE, random.Random(20261125))
    assert len(sends) == 5000

    answers = send_all(instances, sends, event)

    assert sorted(answers) == list(range(DISTINCT))
    assert Counter(len(a) for a in answers.values()) == {
        1: DISTINCT - TWICE - THRICE,
        2: TWICE,
        3: THRICE,
    }
    assert_first_answers_repeated(answers)
    assert_windows(instances, range(DISTINCT), event)
