"""The per-token rate limit: permits leased in blocks from a shared pool, spent locally.

Checking a shared counter on every request would cost a Redis round trip per
request. Instead each worker leases a block of permits (1 % of the limit, at
least one) from the window's counter with one INCRBY and spends them without
asking again; when they are gone it leases the next block. The pool never
hands out more than the limit per window, so a token never gets more than
its limit. It may get less: permits a worker leased but did not spend before
the window ended are lost, so with W workers a token can be refused up to
(W - 1) blocks before its limit when its traffic moves between workers.

Windows are fixed (the service's clock, in ms, divided by the window), read
from the injected clock. When the pool cannot be reached the limiter lets
the request through (a lease's worth at a time): the store being down must
not stop the service.
"""

from __future__ import annotations

import hashlib
import logging
import math
import threading
from dataclasses import dataclass

from policy_service.clock import Clock
from policy_service.errors import StoreUnavailable
from policy_service.state.permits import PermitPool

log = logging.getLogger(__name__)

LEASE_SHARE = 100  # a lease is 1/100 of the limit


@dataclass
class _Budget:
    window: int = -1
    left: int = 0
    exhausted: bool = False  # the pool refused this window: no more leases until it ends


class TokenLimiter:
    """At most `per_window` requests per caller in each window of `window_seconds`."""

    def __init__(
        self, pool: PermitPool, clock: Clock, per_window: int, window_seconds: int
    ) -> None:
        self._pool = pool
        self._clock = clock
        self._limit = per_window
        self._window_ms = window_seconds * 1000
        self._lease = max(1, per_window // LEASE_SHARE)
        self._lock = threading.Lock()
        self._budgets: dict[str, _Budget] = {}
        self._keys: dict[str, str] = {}

    def acquire(self, caller: str, permits: int = 1) -> float:
        """Spend `permits` of the caller's window: 0.0, or seconds until the window ends."""
        now_ms = int(self._clock.now().timestamp() * 1000)
        window = now_ms // self._window_ms
        until_end = ((window + 1) * self._window_ms - now_ms) / 1000
        with self._lock:
            budget = self._budgets.get(caller)
            if budget is None:
                budget = self._budgets[caller] = _Budget()
            if budget.window != window:
                budget.window, budget.left, budget.exhausted = window, 0, False
            if budget.left < permits and not budget.exhausted:
                budget.left += self._take(caller, window, max(self._lease, permits - budget.left))
                budget.exhausted = budget.left < permits
            if budget.left < permits:
                return until_end
            budget.left -= permits
            return 0.0

    def _take(self, caller: str, window: int, wanted: int) -> int:
        key = self._keys.get(caller)
        if key is None:
            # Names come from the tokens file: a digest keeps them out of key syntax.
            key = self._keys[caller] = hashlib.sha256(caller.encode()).hexdigest()[:16]
        try:
            return self._pool.lease(key, window, wanted, self._limit, 2 * self._window_ms)
        except StoreUnavailable as exc:
            log.warning("rate limit not enforced for this lease: %s", exc)
            return wanted


def retry_after_header(seconds: float) -> str:
    """`Retry-After` in whole seconds, rounded up, at least 1."""
    return str(max(1, math.ceil(seconds)))
