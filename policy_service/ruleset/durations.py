"""Durations written by people ("15m", "2h", "1d12h") turned into seconds."""

from __future__ import annotations

import re

_PART = re.compile(r"(\d+)([smhd])")
_WHOLE = re.compile(r"(?:\d+[smhd])+")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
MAX_SECONDS = 366 * 86400


def parse_duration(value: object) -> int:
    """Seconds in `value`: a duration string like "1h30m", or a whole number of seconds.

    Raises ValueError with a message meant for a rule author.
    """
    if isinstance(value, bool):
        raise ValueError(f"expected a duration such as 15m, 2h or 1d, not {value!r}")
    if isinstance(value, int):
        seconds = value
    elif isinstance(value, str) and _WHOLE.fullmatch(value.strip()):
        seconds = sum(int(n) * _UNIT_SECONDS[u] for n, u in _PART.findall(value))
    else:
        raise ValueError(f"expected a duration such as 15m, 2h or 1d, not {value!r}")
    if seconds < 0 or seconds > MAX_SECONDS:
        raise ValueError(f"duration {value!r} is outside 0s..366d")
    return seconds
