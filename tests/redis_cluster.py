"""A throwaway Redis Cluster on free loopback ports, for tests: slots can be moved and primaries failed over."""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Callable

import redis

from tests.redis_server import (
    READY_TIMEOUT_SECONDS,
    ClosedOnExit,
    RedisServer,
    cannot_run,
    free_port,
    redis_binary,
)

# Short, so that a failed primary is noticed soon; long enough for a loaded machine.
NODE_TIMEOUT_MS = 3000
MIN_VERSION = (7, 0)  # the bus port of a node is set apart (--cluster-port) since 7.0


def server_version(binary: str) -> tuple[int, ...]:
    """redis-server's version: "Redis server v=7.0.15 sha=..." -> (7, 0, 15)."""
    done = subprocess.run([binary, "--version"], capture_output=True, text=True, check=False)
    found = re.search(r"v=(\d+)\.(\d+)\.(\d+)", done.stdout)
    return tuple(int(n) for n in found.groups()) if found else (0,)


class LocalCluster(ClosedOnExit):
    """`primaries` redis-servers in cluster mode, each with `replicas` replicas.

    The cluster bus of each node gets a free port of its own (`--cluster-port`)
    rather than the port + 10000 that Redis picks by default, which may be
    taken or beyond 65535.
    """

    def __init__(self, primaries: int = 3, replicas: int = 0) -> None:
        self.replicas = replicas
        self.cli = redis_binary("redis-cli")
        server = redis_binary("redis-server")
        if server_version(server) < MIN_VERSION:
            cannot_run(f"{server} is older than Redis 7.0, which brought --cluster-port")
        self.servers = [
            RedisServer(
                options=(
                    "--cluster-enabled",
                    "yes",
                    "--cluster-config-file",
                    "nodes.conf",
                    "--cluster-port",
                    str(free_port()),
                    "--cluster-node-timeout",
                    str(NODE_TIMEOUT_MS),
                    # A replica's first sync at once, not after the default 5 s wait.
                    "--repl-diskless-sync-delay",
                    "0",
                    # A replica is listed in CLUSTER SLOTS (and known to the clients)
                    # once its offset moved: the primary's pings move it, every 10 s
                    # by default.
                    "--repl-ping-replica-period",
                    "1",
                )
            )
            for _ in range(primaries * (1 + replicas))
        ]

    @property
    def ports(self) -> list[int]:
        return [server.port for server in self.servers]

    @property
    def url(self) -> str:
        """Two of the nodes: the client learns the others from them."""
        return "redis+cluster://" + ",".join(f"127.0.0.1:{port}" for port in self.ports[:2])

    def start(self) -> None:
        for server in self.servers:
            server.start()
        addresses = [f"127.0.0.1:{port}" for port in self.ports]
        command = [self.cli, "--cluster", "create", *addresses]
        command += ["--cluster-replicas", str(self.replicas), "--cluster-yes"]
        done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"redis-cli --cluster create failed:\n{done.stdout}{done.stderr}")
        self.wait_until_stable()

    def node(self, port: int) -> redis.Redis[str]:
        """A plain client of one node (no redirections followed); close it after use."""
        return redis.Redis(port=port, decode_responses=True, socket_timeout=5)

    def call(self, port: int, *args: str | int) -> object:
        client = self.node(port)
        try:
            return client.execute_command(*args)
        finally:
            client.close()

    def node_ids(self) -> dict[int, str]:
        return {port: str(self.call(port, "CLUSTER", "MYID")) for port in self.ports}

    def primaries(self) -> list[int]:
        """The ports of the nodes that are primaries now."""
        return [port for port in self.ports if self._role(port) == "master"]

    def owner(self, slot: int) -> int:
        """The port of the primary that serves `slot`, as the nodes agree (see wait_until_stable)."""
        for start, end, primary, *_ in self._slots(self.ports[0]):
            if start <= slot <= end:
                return int(primary[1])
        raise LookupError(f"slot {slot} is not served")

    def replica_of(self, primary: int) -> int:
        for port in self.ports:
            if self._replication(port).get("master_port") == primary:
                return port
        raise LookupError(f"the primary on {primary} has no replica")

    def keyslot(self, key: str) -> int:
        return int(str(self.call(self.ports[0], "CLUSTER", "KEYSLOT", key)))

    def keys(self, port: int) -> list[str]:
        client = self.node(port)
        try:
            return list(client.scan_iter(count=1000))
        finally:
            client.close()

    def flush(self) -> None:
        """Empty every primary (their replicas follow)."""
        for port in self.primaries():
            self.call(port, "FLUSHALL")

    def migrate_slot(self, slot: int, target: int) -> int:
        """Move `slot` and its keys to the primary on `target`, as redis-cli --cluster reshard does.

        Returns the number of keys moved.
        """
        source = self.owner(slot)
        ids = self.node_ids()
        self.call(target, "CLUSTER", "SETSLOT", slot, "IMPORTING", ids[source])
        self.call(source, "CLUSTER", "SETSLOT", slot, "MIGRATING", ids[target])
        moved = 0
        while True:
            keys = self.call(source, "CLUSTER", "GETKEYSINSLOT", slot, 100)
            assert isinstance(keys, list)
            if not keys:
                break
            self.call(source, "MIGRATE", "127.0.0.1", target, "", 0, 5000, "KEYS", *keys)
            moved += len(keys)
        # The new owner first, then the old one: no node sends clients back and forth.
        for port in [target, source, *(p for p in self.primaries() if p not in (target, source))]:
            self.call(port, "CLUSTER", "SETSLOT", slot, "NODE", ids[target])
        self.wait_until_stable()
        return moved

    def fail_over(self, replica: int) -> None:
        """Promote `replica` with a manual failover: its primary hands over once it caught up."""
        self.call(replica, "CLUSTER", "FAILOVER")
        self._wait(lambda: self._role(replica) == "master", f"{replica} to become a primary")
        self.wait_until_stable()

    def wait_until_stable(self) -> None:
        """Until every node is up, serves all slots, and agrees with the others on who owns them."""

        def stable() -> bool:
            views = []
            for port in self.ports:
                info = str(self.call(port, "CLUSTER", "INFO"))
                if (
                    "cluster_state:ok" not in info
                    or f"cluster_known_nodes:{len(self.ports)}" not in info
                ):
                    return False
                # Each range with its primary and replicas: a primary that does not
                # know its replica yet refuses it a manual failover.
                view = sorted((s[0], s[1], *(n[1] for n in s[2:])) for s in self._slots(port))
                if any(len(entry) != 3 + self.replicas for entry in view):
                    return False
                views.append(view)
                if self._role(port) == "slave" and not self._linked(port):
                    return False
            return all(view == views[0] for view in views)

        self._wait(stable, "the cluster to agree on its slots")

    def _slots(self, port: int) -> list[list[object]]:
        slots = self.node(port)
        try:
            reply = slots.execute_command("CLUSTER", "SLOTS")
        finally:
            slots.close()
        return [list(entry) for entry in reply]

    def _role(self, port: int) -> str:
        return str(self.call(port, "ROLE")[0])  # type: ignore[index]

    def _linked(self, port: int) -> bool:
        return self._replication(port).get("master_link_status") == "up"

    def _replication(self, port: int) -> dict[str, object]:
        client = self.node(port)
        try:
            return dict(client.info("replication"))
        finally:
            client.close()

    def _wait(self, done: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + 6 * READY_TIMEOUT_SECONDS
        while not done():
            if time.monotonic() > deadline:
                raise RuntimeError(f"timed out waiting for {what}")
            time.sleep(0.05)

    def close(self) -> None:
        for server in self.servers:
            server.close()

    def __enter__(self) -> LocalCluster:
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self
