"""A throwaway redis-server on a free loopback port, in a temporary directory, for tests."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import NoReturn
from urllib.parse import urlsplit

import pytest
import redis

READY_TIMEOUT_SECONDS = 10.0
# The developer's own Redis usually listens here; tests must never touch it.
FORBIDDEN_PORT = 6379


def redis_binary(name: str = "redis-server") -> str:
    """A Redis executable (redis-server, redis-cli); skips the test (fails it on CI) without it."""
    found = shutil.which(name)
    if found is None:
        cannot_run(f"{name} is not installed (apt-get install redis-server)")
    return found


def cannot_run(message: str) -> NoReturn:
    """Skip a test that needs a real Redis where there is none; on CI that is a failure."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", 0))
            port: int = sock.getsockname()[1]
        if port != FORBIDDEN_PORT:
            return port


def answers_ping(port: int, timeout: float = 0.2) -> bool:
    """True when a Redis on `port` answers PING (raw protocol: no client state to clean up)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


class ClosedOnExit:
    """Leaving a `with` block closes the server(s): no process or directory is left behind."""

    def close(self) -> None:
        raise NotImplementedError

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class RedisServer(ClosedOnExit):
    """One redis-server process without persistence; can be stopped and started on its port."""

    def __init__(self, binary: str | None = None, options: Sequence[str] = ()) -> None:
        self.binary = binary or redis_binary("redis-server")
        self.port = free_port()
        self.options = tuple(options)  # more redis-server options, e.g. --cluster-enabled yes
        self._dir = Path(tempfile.mkdtemp(prefix="policy-redis-"))
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def pid(self) -> int | None:
        """The running server's process id (its CPU time is in /proc/<pid>/stat)."""
        return None if self._process is None else self._process.pid

    def start(self) -> None:
        """Start the server (again, on the same port) and wait until it answers PING."""
        if self._process is not None:
            return
        command = [
            self.binary,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(self._dir),
            "--logfile",
            str(self._dir / "redis.log"),
            *self.options,
        ]
        self._process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        while not answers_ping(self.port):
            if self._process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                log = self._dir / "redis.log"
                tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
                raise RuntimeError(f"redis-server did not start on port {self.port}:\n{tail}")
            time.sleep(0.02)

    def stop(self) -> None:
        """Stop the server and wait for it to exit; its data is gone (no persistence)."""
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            process.send_signal(signal.SIGCONT)  # a paused server cannot handle SIGTERM
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def pause(self) -> None:
        """Freeze the server (SIGSTOP): connections open but nothing answers."""
        if self._process is not None:
            self._process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        """Undo `pause`."""
        if self._process is not None:
            self._process.send_signal(signal.SIGCONT)

    def close(self) -> None:
        """Stop the server and remove its directory."""
        self.stop()
        shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self) -> RedisServer:
        self.start()
        return self


def refuse_default_redis(url: str) -> None:
    """Fail when `url` names the Redis on the default loopback port: tests flush their database."""
    parsed = urlsplit(url)
    if (
        parsed.hostname in ("127.0.0.1", "localhost", "::1")
        and (parsed.port or 6379) == FORBIDDEN_PORT
    ):
        pytest.fail(
            f"POLICY_TEST_REDIS_URL={url} is the default Redis; use a dedicated test server"
        )


def flush(url: str) -> None:
    """Empty the database of `url`."""
    client = redis.Redis.from_url(url, socket_timeout=5)
    try:
        client.flushdb()
    finally:
        client.close()
