"""The Redis store on a Redis Cluster: the same keys and scripts, routed by redis-py's cluster client.

Every key of an account carries the account as its hash tag, so each script
and command touches one slot, which one primary owns: the store sends it there
by the client's copy of the slot map; the client follows MOVED and ASK
redirections while slots move, and reads the map again when a node fails or a
replica takes over (docs/cluster.md).
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

import redis
from redis.backoff import NoBackoff
from redis.cluster import ClusterNode, RedisCluster
from redis.crc import key_slot
from redis.exceptions import (
    AskError,
    ClusterDownError,
    ClusterError,
    NoScriptError,
    RedisClusterException,
    TryAgainError,
)
from redis.retry import Retry

from policy_service.errors import ConfigError
from policy_service.state.redis_codec import DEFAULT_PREFIX
from policy_service.state.redis_permits import RedisPermits
from policy_service.state.redis_store import (
    HEALTH_CHECK_SECONDS,
    RETRIES,
    SOCKET_TIMEOUT_SECONDS,
    CircuitBreaker,
    RedisStore,
    _packed,
    _Script,
)

if TYPE_CHECKING:
    from redis.cluster import ClusterPipeline
    from redis.connection import AbstractConnection

SCHEME = "redis+cluster://"
SCRIPT_CALLS = frozenset({"EVALSHA", "EVAL"})  # their first key is the fourth argument
# While a slot migrates, a script whose keys are split between the two nodes
# (or not all created yet) is refused with TRYAGAIN until the move is done. The
# client retries a command 16 times (the last 8 after 50 ms each), then gives
# up; the store starts it again this many times, which bounds the wait at about
# 1.6 s: longer than moving a slot's keys takes, short of a request's patience.
MIGRATION_RETRIES = 3
RETRY_PAUSE_SECONDS = (0.01, 0.05)  # jittered pause before a command is sent again


@dataclass(frozen=True)
class ClusterAddress:
    """Where to find the cluster: some of its nodes (the client discovers the rest)."""

    nodes: tuple[tuple[str, int], ...]
    username: str | None = None
    password: str | None = None


def parse_cluster_url(url: str) -> ClusterAddress:
    """`redis+cluster://[user:password@]host:port[,host:port...][/0]` as a ClusterAddress."""
    if not url.startswith(SCHEME):
        raise ConfigError(f"a cluster URL starts with {SCHEME}, not {url!r}")
    rest = url[len(SCHEME) :]
    userinfo, _, rest = rest.rpartition("@")
    hosts, _, db = rest.partition("/")
    if db not in ("", "0") or "?" in rest:
        # A cluster has database 0 only; options are settings, not URL parts.
        raise ConfigError(f"a cluster URL names nodes only (database 0), not {url!r}")
    nodes = tuple(_node(part, url) for part in hosts.split(","))
    username = password = None
    if userinfo:
        user, colon, secret = userinfo.partition(":")
        username = unquote(user) or None
        password = unquote(secret) if colon else None
    return ClusterAddress(nodes, username, password)


def _node(part: str, url: str) -> tuple[str, int]:
    host, colon, port = part.strip().rpartition(":")
    host = host.removeprefix("[").removesuffix("]")  # an IPv6 address in brackets
    if not colon or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"a cluster URL lists host:port pairs; {part!r} in {url!r} is none")
    return host, int(port)


def connect(address: ClusterAddress) -> RedisCluster:
    """A cluster client with the single store's timeouts; it reads the slot map at once."""
    return RedisCluster(
        startup_nodes=[ClusterNode(host, port) for host, port in address.nodes],  # type: ignore[no-untyped-call]
        username=address.username,
        password=address.password,
        decode_responses=True,
        socket_timeout=SOCKET_TIMEOUT_SECONDS,
        socket_connect_timeout=SOCKET_TIMEOUT_SECONDS,
        health_check_interval=HEALTH_CHECK_SECONDS,
        client_name="policy-service",
        # The client would send a command again after a timeout too, and a
        # timed-out observe script may have run: the store retries what is
        # safe itself (ClusterStore._command).
        retry=Retry(NoBackoff(), 0),
    )


class _PinnedNodes(threading.local):
    """The connections a thread keeps, one per primary, and the client and process they belong to."""

    client: RedisCluster | None = None
    pid = 0
    connections: dict[str, AbstractConnection]

    def __init__(self) -> None:
        self.connections = {}


def _encoded(key: str | bytes | int) -> bytes:
    return key if isinstance(key, bytes) else str(key).encode()


class LazyCluster:
    """One cluster client, built on first use (it reads the slot map at once), closed and rebuilt.

    Built late so that a service started while the cluster is unreachable
    serves degraded decisions and recovers, as it does with a single Redis.
    """

    def __init__(self, connect_client: Callable[[], RedisCluster]) -> None:
        self._connect = connect_client
        self._lock = threading.Lock()
        self._client: RedisCluster | None = None

    @classmethod
    def from_url(cls, url: str) -> LazyCluster:
        address = parse_cluster_url(url)
        return cls(lambda: connect(address))

    def client(self) -> RedisCluster:
        client = self._client
        if client is None:
            with self._lock:
                if self._client is None:
                    self._client = self._connect()
                client = self._client
        return client

    def close(self) -> None:
        """Close the client's connections; the next call builds a new client."""
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()


# The cluster's own errors: it says it cannot serve (a primary is down and no
# replica took over yet), or no node could be reached to learn the slot map.
CLUSTER_UNREACHABLE = (ClusterDownError, RedisClusterException)


class ClusterPermits(RedisPermits):
    """The rate-limit permits on the cluster: the same counters, each in the slot of its hash tag."""

    FAILED = (*RedisPermits.FAILED, RedisClusterException)

    def __init__(self, cluster: LazyCluster, prefix: str = DEFAULT_PREFIX) -> None:
        # Not RedisPermits.__init__, which takes a single-node client.
        self._cluster = cluster
        self._prefix = prefix
        self._breaker = CircuitBreaker()

    @classmethod
    def from_url(cls, url: str, prefix: str = DEFAULT_PREFIX) -> ClusterPermits:
        return cls(LazyCluster.from_url(url), prefix)

    def close(self) -> None:
        self._cluster.close()

    def _pipeline(self) -> ClusterPipeline:
        pipe: ClusterPipeline = self._cluster.client().pipeline(transaction=False)  # type: ignore[no-untyped-call]
        return pipe


class ClusterStore(RedisStore):
    """RedisStore's semantics on a Redis Cluster, through one cluster client per process.

    The client is built on first use (LazyCluster). The pinned connection of
    the single store becomes one per primary and thread.
    """

    UNREACHABLE = (*RedisStore.UNREACHABLE, *CLUSTER_UNREACHABLE)

    def __init__(
        self,
        cluster: LazyCluster,
        prefix: str = DEFAULT_PREFIX,
        breaker: CircuitBreaker | None = None,
    ) -> None:
        # Not RedisStore.__init__: that one takes a single-node client, which
        # this store replaces by its own, connected later.
        self._cluster = cluster
        self._nodes = _PinnedNodes()
        self._init_state(prefix, breaker)

    @classmethod
    def from_url(cls, url: str, prefix: str = DEFAULT_PREFIX) -> ClusterStore:
        """A store for `url` (redis+cluster://host:port,...); nothing is connected yet."""
        return cls(LazyCluster.from_url(url), prefix)

    def close(self) -> None:
        """Close the client's connections; the next call builds a new client."""
        self._cluster.close()

    def defer_records(self) -> None:
        """Records are sent at once here: each goes to its key's primary, which the
        thread's next command may not reach."""

    def poll_for_replies(self, polls: int) -> None:
        """Replies are read at once here: the commands go over the cluster's connections
        (_direct), not the single store's exchange that polls."""

    def _command(self, *args: str | bytes | int) -> Any:
        """One command on the primary that owns its key.

        Straight to that primary's connection pinned to this thread, while the
        slot map is right; a redirection or a lost connection hands the command
        to the client's own path, which follows it (see _routed).
        """
        client = self._cluster.client()
        try:
            return self._direct(client, args)
        except (AskError, TryAgainError, redis.ConnectionError):
            # MOVED (an AskError too), ASK and TRYAGAIN came before the command
            # ran; a lost connection is retried as the client's path would.
            return self._routed(client, args)

    def _direct(self, client: RedisCluster, args: tuple[str | bytes | int, ...]) -> Any:
        # redis-py's per-command path (command policies, its slot lookup
        # through the command's key specification, borrowing a connection,
        # metrics) costs as much client CPU as the command: the single store
        # pins its connection for the same reason.
        key = args[3] if args[0] in SCRIPT_CALLS else args[1]
        node = client.nodes_manager.get_node_from_slot(key_slot(_encoded(key)))
        connection = self._pinned_connection(client, node)
        connection.send_packed_command((_packed(args),))  # type: ignore[no-untyped-call]
        return connection.read_response()

    def _pinned_connection(self, client: RedisCluster, node: ClusterNode) -> AbstractConnection:
        pinned = self._nodes
        if pinned.client is not client or pinned.pid != os.getpid():
            # A new client (after close), a new thread or a forked child.
            pinned.client, pinned.pid, pinned.connections = client, os.getpid(), {}
        connection = pinned.connections.get(node.name)
        if connection is None:
            # Kept, never given back: a connection that lost its socket
            # connects again when it next sends.
            pool = client.get_redis_connection(node).connection_pool
            connection = pool.get_connection()
            pinned.connections[node.name] = connection
        return connection

    def _routed(self, client: RedisCluster, args: tuple[str | bytes | int, ...]) -> Any:
        """The command through the client's own path, sent again while that is safe.

        The client follows MOVED and ASK and waits out TRYAGAIN. Sent again:
        after a connection error (the client has read the slot map again, so
        a replica that took over is found), and after the client's own
        redirections ran out on TRYAGAIN (a slot in migration). Never after a
        timeout: the command may have run.
        """
        connection_retries, migration_retries = RETRIES, MIGRATION_RETRIES
        while True:
            try:
                return client.execute_command(*args)  # type: ignore[no-untyped-call]
            except redis.ConnectionError:
                if connection_retries == 0:
                    raise
                connection_retries -= 1
            except ClusterError as exc:
                if isinstance(exc, ClusterDownError) or migration_retries == 0:
                    raise
                migration_retries -= 1
            time.sleep(random.uniform(*RETRY_PAUSE_SECONDS))

    def _evalsha(self, script: _Script, keys: list[str], args: list[bytes | str | int]) -> Any:
        try:
            return self._command("EVALSHA", script.sha, len(keys), *keys, *args)
        except NoScriptError:
            # This primary has not run the script yet (new, restarted, or a
            # replica that took over): EVAL runs it and keeps it for EVALSHA.
            return self._command("EVAL", script.source, len(keys), *keys, *args)

    def _pipeline(self) -> ClusterPipeline:
        # A transaction on one slot: the account's keys as of one moment.
        pipe: ClusterPipeline = self._cluster.client().pipeline(transaction=True)  # type: ignore[no-untyped-call]
        return pipe

    def _ping(self) -> object:
        # Every primary: an account on any of them would be decided without state.
        return self._cluster.client().ping(target_nodes=RedisCluster.PRIMARIES)
