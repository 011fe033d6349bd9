"""`policy-service serve` as an operator starts it: from the environment, under a real gunicorn."""

from __future__ import annotations

import http.client
import inspect
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gunicorn.util  # type: ignore[import-untyped]
import pytest

from tests.conftest import RULES_DIR, make_event
from tests.redis_server import free_port

SERVE = [str(Path(sys.executable).parent / "policy-service"), "serve"]
START_SECONDS = 30.0
# How long gunicorn's graceful close waits for a client to close its side.
LINGER = inspect.signature(gunicorn.util.close_graceful).parameters["timeout"].default
SECRET_TEXT = "my very private words about the flight"


def _env(**values: str) -> dict[str, str]:
    """The test's environment without any POLICY_ setting of the shell, plus `values`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("POLICY_")}
    return {**env, "POLICY_RULES_DIR": str(RULES_DIR), "POLICY_RELOAD_INTERVAL": "0", **values}


def _serve_once(**values: str) -> subprocess.CompletedProcess[str]:
    """`serve` run to its end: for starts that must be refused before gunicorn runs."""
    return subprocess.run(
        SERVE,
        env=_env(POLICY_PORT=str(free_port()), **values),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_serve_refuses_to_start_without_tokens_from_the_environment() -> None:
    done = _serve_once()
    assert done.returncode == 1
    assert "no POLICY_TOKENS_FILE" in done.stderr
    assert "POLICY_DEV_NO_AUTH=true" in done.stderr  # says how to start it for development
    assert "serving on" not in done.stderr  # gunicorn never started


def test_serve_warns_of_a_misspelt_setting_and_names_the_one_meant() -> None:
    # Three workers make it stop before gunicorn, after the settings are read.
    done = _serve_once(
        POLICY_DEV_NO_AUTH="true", POLICY_WORKERS="3", POLICY_STATE_ULR="redis://127.0.0.1:1/0"
    )
    warnings = [json.loads(line) for line in done.stderr.splitlines() if "POLICY_STATE_ULR" in line]
    assert len(warnings) == 1
    assert warnings[0]["level"] == "warning"
    assert "did you mean POLICY_STATE_URL?" in warnings[0]["msg"]
    assert "the memory store serves one worker" in done.stderr  # the default store applied


def test_serve_refuses_several_workers_with_the_memory_store() -> None:
    done = _serve_once(POLICY_DEV_NO_AUTH="true", POLICY_WORKERS="3")
    assert done.returncode == 1
    assert "the memory store serves one worker" in done.stderr


@dataclass
class Served:
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    def lines(self) -> list[str]:
        return self.log.read_text(errors="replace").splitlines()


def _status(port: int, method: str, path: str, body: Any = None, **headers: str) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        data = None if body is None else json.dumps(body)
        if data is not None:
            headers["Content-Type"] = "application/json"
        connection.request(method, path, body=data, headers=headers)
        return connection.getresponse().status
    except OSError:
        return -1
    finally:
        connection.close()


def _children(pid: int) -> set[int]:
    out = subprocess.run(
        ["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True, check=False
    ).stdout
    return {int(p) for p in out.split()}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """`serve` in development mode on the memory store, with the automatic worker count."""
    port = free_port()
    log = tmp_path_factory.mktemp("serve") / "stderr.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            SERVE,
            env=_env(POLICY_PORT=str(port), POLICY_DEV_NO_AUTH="true", POLICY_WORKERS="0"),
            stdout=out,
            stderr=out,
        )
    try:
        deadline = time.monotonic() + START_SECONDS
        while _status(port, "GET", "/healthz") != 200:
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail("serve did not start:\n" + log.read_text(errors="replace"))
            time.sleep(0.1)
        yield Served(process, port, log)
    finally:
        process.terminate()
        process.wait(timeout=60)


def test_serve_runs_one_worker_with_the_memory_store(served: Served) -> None:
    # POLICY_WORKERS=0 is one per core with Redis; the memory store lives in one process.
    assert len(_children(served.process.pid)) == 1
    assert any("with 1 worker(s)" in line for line in served.lines())


def _json_lines(served: Served) -> list[dict[str, Any]]:
    """The service's lines (gunicorn's own start with '[' or are its banner)."""
    found = []
    for line in served.lines():
        if line.startswith("{"):
            found.append(json.loads(line))
    return found


def test_the_service_logs_json_from_its_first_line(served: Served) -> None:
    lines = served.lines()
    # Every line of the service's own loggers, also those written before the
    # worker was ready (the serve check, create_app), is a JSON object.
    for line in lines:
        if "ACCESS CONTROL IS OFF" in line or "policy-service ready" in line:
            assert line.startswith("{"), line
    logged = _json_lines(served)
    warnings = [x for x in logged if "ACCESS CONTROL IS OFF" in x["msg"]]
    # Once by `serve` before gunicorn starts, once by the worker building the app.
    assert len(warnings) == 2 and all(w["level"] == "warning" for w in warnings)
    assert any(x["msg"].startswith("policy-service ready") for x in logged)


def test_a_worker_logs_each_decision_as_json_without_the_text(served: Served) -> None:
    event = make_event(event_id="serve-log-1", text=SECRET_TEXT + '\n{"forged": true}')
    assert _status(served.port, "POST", "/v1/decisions", event) == 200
    deadline = time.monotonic() + 10
    while not [x for x in _json_lines(served) if x.get("event_id") == "serve-log-1"]:
        assert time.monotonic() < deadline, "no decision line"
        time.sleep(0.05)
    (line,) = [x for x in _json_lines(served) if x.get("event_id") == "serve-log-1"]
    assert line["msg"] == "decision" and line["account"] == "acme"
    assert {"action", "rule", "revision", "latency_ms", "duplicate", "degraded"} <= set(line)
    text = served.log.read_text(errors="replace")
    assert SECRET_TEXT not in text and "forged" not in text


def _raw(port: int, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        return sock.recv(4096)


def _until_closed(sock: socket.socket) -> bytes:
    """Everything the server sends on `sock` until it closes its side."""
    received = b""
    while chunk := sock.recv(4096):
        received += chunk
    return received


def test_a_client_that_keeps_its_socket_open_does_not_hold_the_worker(served: Served) -> None:
    # One worker. gunicorn's graceful close would wait (up to LINGER seconds) for
    # the first client to close its side before the worker took the next request.
    with socket.create_connection(("127.0.0.1", served.port), timeout=10) as first:
        first.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert _until_closed(first).startswith(b"HTTP/1.1 200 ")
        started = time.monotonic()
        assert _status(served.port, "GET", "/healthz") == 200
        # A bound on a wait, not a speed: the next answer does not wait out the linger.
        assert time.monotonic() - started < LINGER / 2


def test_an_answer_to_a_request_whose_body_was_not_read_arrives_whole(served: Served) -> None:
    # /healthz reads no body: the bytes left unread go to gunicorn's graceful close.
    body = b"x" * 20_000
    request = b"GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body)
    with socket.create_connection(("127.0.0.1", served.port), timeout=10) as sock:
        sock.sendall(request + body)
        answer = _until_closed(sock)
    head, _, content = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 ")
    assert json.loads(content)["status"] == "ok"


def test_a_body_still_arriving_after_the_answer_is_drained_not_reset(served: Served) -> None:
    # /healthz reads no body. The rest of it arrives after the answer, when the
    # receive buffer was empty for a while: the connection must not be reset.
    request = b"GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 40000\r\n\r\n"
    with socket.create_connection(("127.0.0.1", served.port), timeout=10) as sock:
        sock.sendall(request)
        answer = sock.recv(4096)
        assert answer.startswith(b"HTTP/1.1 200 ")
        time.sleep(0.2)  # the server has answered and decided how to close
        sock.sendall(b"x" * 40000)
        sock.shutdown(socket.SHUT_WR)
        while sock.recv(4096):  # after a reset, OSError here or in the lines above
            pass


def test_gunicorn_answers_431_for_a_too_large_header_field(served: Served) -> None:
    big = b"X-Big: " + b"a" * 9000 + b"\r\n"
    answer = _raw(served.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + big + b"\r\n")
    assert answer.startswith(b"HTTP/1.1 431 "), answer[:80]
    many = b"".join(b"X-H%d: v\r\n" % n for n in range(60))
    answer = _raw(served.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + many + b"\r\n")
    assert answer.startswith(b"HTTP/1.1 431 "), answer[:80]
    line = b"GET /healthz?" + b"q" * 5000 + b" HTTP/1.1\r\nHost: x\r\n\r\n"
    assert _raw(served.port, line).startswith(b"HTTP/1.1 414 ")
    # Within the limits the same request is answered.
    assert _status(served.port, "GET", "/healthz", **{"X-Big": "a" * 8000}) == 200


def _chunked(port: int, body: bytes) -> int:
    """POST /v1/decisions with a chunked body (no Content-Length), as streaming clients send it."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        pieces = [body[i : i + 1000] for i in range(0, len(body), 1000)]
        connection.request(
            "POST",
            "/v1/decisions",
            body=iter(pieces),
            headers={"Content-Type": "application/json", "Transfer-Encoding": "chunked"},
            encode_chunked=True,
        )
        return connection.getresponse().status
    finally:
        connection.close()


def test_gunicorn_gives_a_chunked_body_whole_and_holds_it_to_the_limit(served: Served) -> None:
    event = make_event(event_id="serve-chunked-1")
    assert _chunked(served.port, json.dumps(event).encode()) == 200
    too_big = make_event(event_id="serve-chunked-2", padding="y" * (70 * 1024))
    assert _chunked(served.port, json.dumps(too_big).encode()) == 413


def _sent_then_closed(port: int, request: bytes) -> bytes:
    """Send `request`, close our side of the connection, read the whole answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        sock.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := sock.recv(4096):
            answer += chunk
        return answer


@pytest.mark.parametrize(
    "chunks",
    [b'10\r\n{"event_id": "c-\r\n', b"zz\r\n{}\r\n0\r\n\r\n"],
    ids=["cut-off", "bad-framing"],
)
def test_gunicorn_a_broken_chunked_body_is_a_400(served: Served, chunks: bytes) -> None:
    head = (
        b"POST /v1/decisions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n"
    )
    answer = _sent_then_closed(served.port, head + chunks)
    assert answer.startswith(b"HTTP/1.1 400 "), answer[:200]
    assert b"application/problem+json" in answer
    assert _status(served.port, "GET", "/healthz") == 200
