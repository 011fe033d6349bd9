"""utc_text writes what isoformat writes, with "Z" for UTC."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from policy_service.timefmt import utc_text

ZONES = st.sampled_from([UTC, None, timezone(timedelta(hours=2)), timezone.min])


@settings(max_examples=3000, deadline=None)
@given(st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31)), ZONES)
def test_utc_text_is_isoformat_with_z(at: datetime, zone: timezone | None) -> None:
    at = at.replace(tzinfo=zone)
    assert utc_text(at) == at.isoformat().replace("+00:00", "Z")


def test_utc_text_examples() -> None:
    assert utc_text(datetime(2026, 11, 25, 10, 0, tzinfo=UTC)) == "2026-11-25T10:00:00Z"
    at = datetime(2026, 1, 2, 3, 4, 5, 60, tzinfo=UTC)
    assert utc_text(at) == "2026-01-02T03:04:05.000060Z"
