"""Rate-limit permits: a count per key and window, shared by every worker that leases from it."""

from __future__ import annotations

import threading
from typing import Protocol


class PermitPool(Protocol):
    """Hands out at most `limit` permits per key and window, in leases."""

    def lease(self, key: str, window: int, wanted: int, limit: int, ttl_ms: int) -> int:
        """Take up to `wanted` of the window's permits for `key`; how many were granted.

        `ttl_ms`: how long the window's count must be kept at least.
        Raises StoreUnavailable when the pool cannot be reached.
        """
        ...


class MemoryPermits:
    """The pool of one process (with the memory store): exact, nothing shared."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._used: dict[str, tuple[int, int]] = {}  # key -> (window, permits taken)

    def lease(self, key: str, window: int, wanted: int, limit: int, ttl_ms: int) -> int:
        with self._lock:
            seen, used = self._used.get(key, (window, 0))
            if seen != window:
                used = 0
            granted = max(0, min(wanted, limit - used))
            self._used[key] = (window, used + granted)
        return granted
