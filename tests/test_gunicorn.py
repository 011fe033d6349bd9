"""The gunicorn configuration: a real master reloaded with HUP under load loses no request."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import redis

from policy_service import gunicorn_conf
from policy_service.evaluator import PENDING_WAIT_SECONDS
from policy_service.state.redis_store import RETRIES, SOCKET_TIMEOUT_SECONDS
from tests.conftest import RULES_DIR, make_event
from tests.redis_server import free_port

GUNICORN = Path(sys.executable).parent / "gunicorn"
START_SECONDS = 30.0


def test_the_worker_timeout_is_far_above_the_store_budget() -> None:
    # One decision at worst: observe and record, each with its retries at the
    # socket timeout, and the wait for a concurrent duplicate's decision.
    per_command = (RETRIES + 1) * SOCKET_TIMEOUT_SECONDS * 2  # connect + read
    budget = 2 * per_command + PENDING_WAIT_SECONDS
    assert gunicorn_conf.timeout > 5 * budget
    assert gunicorn_conf.graceful_timeout >= gunicorn_conf.timeout
    # Engine rule sets and watcher threads are built in each worker, after the fork.
    assert gunicorn_conf.preload_app is False
    assert gunicorn_conf.worker_class == "policy_service.gunicorn_worker.SyncWorker"
    assert gunicorn_conf.control_socket_disable is True


def _workers(master: int) -> set[int]:
    out = subprocess.run(
        ["ps", "-o", "pid=", "--ppid", str(master)], capture_output=True, text=True, check=False
    ).stdout
    return {int(pid) for pid in out.split()}


def _post(port: int, n: int) -> int:
    return _decide(port, n)[0]


def _decide(port: int, n: int) -> tuple[int, dict[str, Any]]:
    """The status and answer of a decision on event hup-<n>; -1 for a lost request."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        body = json.dumps(make_event(event_id=f"hup-{n}", author={"id": f"a{n}"}))
        connection.request(
            "POST", "/v1/decisions", body=body, headers={"Content-Type": "application/json"}
        )
        response = connection.getresponse()
        answer: dict[str, Any] = json.loads(response.read() or b"{}")
        return response.status, answer
    except OSError:
        return -1, {}  # refused, reset or timed out: a lost request
    finally:
        connection.close()


def _ready(port: int, master: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + START_SECONDS
    while _post(port, -1) != 200:
        if master.poll() is not None or time.monotonic() > deadline:
            pytest.fail("gunicorn did not start")
        time.sleep(0.1)


@pytest.fixture
def master(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    # the memory store: one worker, as `serve` runs it
    with _serving(tmp_path, {}, workers=1) as served:
        yield served


@pytest.fixture
def redis_master(
    tmp_path: Path, clean_redis_url: str
) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    with _serving(tmp_path, {"POLICY_STATE_URL": clean_redis_url}, workers=2) as served:
        yield served


@contextlib.contextmanager
def _serving(
    tmp_path: Path, settings: dict[str, str], workers: int
) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """A gunicorn master with `serve`'s configuration, and its port."""
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("POLICY_")},
        "POLICY_RULES_DIR": str(RULES_DIR),
        "POLICY_DEV_NO_AUTH": "true",
        "POLICY_RELOAD_INTERVAL": "0",
        **settings,
    }
    log = (tmp_path / "gunicorn.log").open("wb")
    process = subprocess.Popen(
        [
            str(GUNICORN),
            "--config",
            "python:policy_service.gunicorn_conf",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "policy_service.app:create_app()",
        ],
        env=env,
        stdout=log,
        stderr=log,
    )
    try:
        _ready(port, process)
        yield process, port
    finally:
        process.terminate()
        process.wait(timeout=60)
        log.close()


def test_hup_replaces_the_workers_without_losing_a_request(
    master: tuple[subprocess.Popen[bytes], int],
) -> None:
    process, port = master
    statuses: Counter[int] = Counter()
    stop = threading.Event()

    def load(offset: int) -> None:
        n = offset
        while not stop.is_set():
            statuses[_post(port, n)] += 1
            n += 2

    clients = [threading.Thread(target=load, args=(k,)) for k in range(2)]
    for client in clients:
        client.start()
    try:
        for _ in range(2):
            before = _workers(process.pid)
            sent = sum(statuses.values())
            process.send_signal(signal.SIGHUP)
            # until every old worker is gone and new ones serve
            deadline = time.monotonic() + START_SECONDS
            while _workers(process.pid) & before or not _workers(process.pid):
                assert time.monotonic() < deadline, "the workers were not replaced"
                time.sleep(0.05)
            while sum(statuses.values()) < sent + 20:
                time.sleep(0.05)
    finally:
        stop.set()
        for client in clients:
            client.join()
    assert process.poll() is None
    assert set(statuses) == {200}, statuses


def test_with_redis_every_decision_is_recorded_once_the_workers_are_idle(
    redis_master: tuple[subprocess.Popen[bytes], int], clean_redis_url: str
) -> None:
    # The worker defers each record to its next command; the last ones of a
    # burst are sent when the workers go idle, with no request after them.
    _, port = redis_master
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda n: _decide(port, n), range(40)))
    assert {status for status, _ in answers} == {200}
    raw = redis.Redis.from_url(clean_redis_url, decode_responses=True)
    try:
        deadline = time.monotonic() + 5
        recorded: list[str | None] = []
        while time.monotonic() < deadline:
            recorded = [raw.get(f"policy:{{acme}}:ev:hup-{n}") for n in range(40)]
            if all(recorded):  # "" marks a decision still pending
                break
            time.sleep(0.05)
        assert all(recorded), [n for n, value in enumerate(recorded) if not value]
    finally:
        raw.close()
    status, again = _decide(port, 7)
    assert status == 200
    assert again["duplicate"] is True
    assert again["decision_id"] == answers[7][1]["decision_id"]
