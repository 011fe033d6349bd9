"""The observe script's reply, read back: each number lands in its own field."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from policy_service.state.levels import derive
from policy_service.state.redis_codec import observed

counts = st.integers(min_value=0, max_value=10**9)


@given(st.lists(counts, min_size=10, max_size=10), st.sampled_from(["calm", "watch"]))
def test_the_counts_of_a_new_event_become_its_fields(numbers: list[int], level: str) -> None:
    volume, negative, hostile, positive, multiplier, non_customer, volume_24h = numbers[:7]
    reply = f"new {level} 0 " + " ".join(map(str, numbers))
    found = observed(reply)
    expected = derive(
        {
            "volume": volume,
            "negative": negative,
            "hostile": hostile,
            "positive": positive,
            "multiplier": multiplier,
            "non_customer": non_customer,
        },
        volume_24h,
    )
    expected.update(
        multipliers_1h=numbers[7],
        author_negative_24h=numbers[8],
        thread_negative_1h=numbers[9],
        crisis_level=level,
    )
    assert found.fields == expected
    assert found.crisis_since is None and found.rails is None
    assert found.previous is None and not found.pending and not found.retry


def test_a_crisis_reply_with_rails() -> None:
    start = int(datetime(2026, 12, 6, 20, 0, tzinfo=UTC).timestamp() * 1000)
    found = observed(f"new crisis {start} 9 6 1 2 1 0 30 2 3 4 5 d-abc 1796591486123")
    assert found.crisis_since == datetime(2026, 12, 6, 20, 0, tzinfo=UTC)
    assert found.fields["volume_1h"] == 9 and found.fields["negative_share_1h"] == 0.667
    assert found.fields["thread_negative_1h"] == 4
    assert found.rails is not None
    assert found.rails.escalations_1h == 5
    assert found.rails.open_escalation == "d-abc"
    assert found.rails.author_answered_ms == 1796591486123


def test_a_seen_event_gets_its_decision_back() -> None:
    found = observed('seen calm 0 1 0 0 0 0 0 1 0 0 0\n{"action":"ignore"}')
    assert found.previous == {"action": "ignore"}


def test_a_pending_event_is_marked_so() -> None:
    assert observed("seen watch 0 1 0 0 0 0 0 1 0 0 0\n").pending


def test_a_refused_event_says_when_to_come_back() -> None:
    assert observed("limited 1500").retry_after_ms == 1500


@pytest.mark.parametrize(
    "reply",
    [
        "new calm 0 1 2 3",  # counts missing
        "new calm 0 1 0 0 0 0 0 1 0 0 0 5 d-abc",  # the rails' part cut short
        "new calm 0 1 0 0 0 0 0 1 0 0 x",  # not a number
    ],
)
def test_a_reply_of_another_shape_is_refused(reply: str) -> None:
    with pytest.raises(ValueError):
        observed(reply)
