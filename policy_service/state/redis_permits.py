"""Rate-limit permits in Redis: one counter per key and window, leased with one INCRBY."""

from __future__ import annotations

from typing import TYPE_CHECKING

import redis

from policy_service.errors import StoreUnavailable
from policy_service.state.redis_codec import DEFAULT_PREFIX
from policy_service.state.redis_store import (
    SOCKET_TIMEOUT_SECONDS,
    CircuitBreaker,
)

if TYPE_CHECKING:
    from redis.client import Pipeline
    from redis.cluster import ClusterPipeline


class RedisPermits:
    """Every worker and instance leases from the same counters.

    A lease adds what it wants to the window's counter and keeps what was
    still below the limit, so the permits handed out never exceed the limit;
    the counter itself may go past it (refused leases), which is harmless.
    """

    def __init__(
        self,
        client: redis.Redis,
        prefix: str = DEFAULT_PREFIX,
        breaker: CircuitBreaker | None = None,
    ) -> None:
        self._client = client
        self._prefix = prefix
        # While Redis is down, leases fail at once instead of each waiting for a timeout.
        self._breaker = breaker or CircuitBreaker()

    @classmethod
    def from_url(cls, url: str, prefix: str = DEFAULT_PREFIX) -> RedisPermits:
        client = redis.Redis.from_url(
            url,
            decode_responses=True,
            socket_timeout=SOCKET_TIMEOUT_SECONDS,
            socket_connect_timeout=SOCKET_TIMEOUT_SECONDS,
            client_name="policy-service-permits",
        )
        return cls(client, prefix)

    def close(self) -> None:
        self._client.close()

    def key(self, key: str, window: int) -> str:
        # `key` is a digest (hex): it cannot reach into another hash tag.
        return f"{self._prefix}{{permits:{key}}}:rl:{window}"

    # What a failed lease raises (the cluster's client adds its own errors).
    FAILED: tuple[type[Exception], ...] = (redis.RedisError,)

    def _pipeline(self) -> Pipeline | ClusterPipeline:
        return self._client.pipeline(transaction=False)

    def lease(self, key: str, window: int, wanted: int, limit: int, ttl_ms: int) -> int:
        name = self.key(key, window)
        self._breaker.check()
        try:
            pipe = self._pipeline()
            pipe.incrby(name, wanted)
            pipe.pexpire(name, ttl_ms)
            total, _ = pipe.execute()
        except self.FAILED as exc:
            self._breaker.failed(f"{type(exc).__name__}: {exc}")
            raise StoreUnavailable(f"redis permits failed: {exc}") from exc
        self._breaker.succeeded()
        before = int(total) - wanted
        return max(0, min(wanted, limit - before))
