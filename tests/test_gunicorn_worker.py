"""The serve worker's end of a connection: closed at once when the request was read whole."""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator
from typing import Any

import pytest
from gunicorn.config import Config  # type: ignore[import-untyped]
from gunicorn.http.parser import RequestParser  # type: ignore[import-untyped]
from gunicorn.workers import sync  # type: ignore[import-untyped]

from policy_service.gunicorn_worker import SyncWorker, body_read_whole, close_unless_unread


@pytest.fixture
def connection() -> Iterator[tuple[socket.socket, socket.socket]]:
    """A real loopback TCP connection: (the client's end, the server's end)."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        client = socket.create_connection(listener.getsockname(), timeout=5)
        server, _ = listener.accept()
    server.setblocking(True)  # as gunicorn's sync worker keeps it
    with client, server:
        yield client, server


def test_a_connection_whose_request_was_read_whole_is_closed(
    connection: tuple[socket.socket, socket.socket],
) -> None:
    client, server = connection
    client.sendall(b"GET / HTTP/1.1\r\n\r\n")
    assert server.recv(4096) == b"GET / HTTP/1.1\r\n\r\n"
    server.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
    close_unless_unread(server)
    assert server.fileno() == -1
    # The client reads the whole answer, then the end: a FIN, not a reset.
    assert client.recv(4096).startswith(b"HTTP/1.1 200 OK")
    assert client.recv(4096) == b""


def test_a_connection_that_the_client_already_closed_is_closed(
    connection: tuple[socket.socket, socket.socket],
) -> None:
    client, server = connection
    client.shutdown(socket.SHUT_WR)
    close_unless_unread(server)
    assert server.fileno() == -1


def test_a_connection_with_unread_bytes_is_left_for_the_graceful_close(
    connection: tuple[socket.socket, socket.socket],
) -> None:
    client, server = connection
    client.sendall(b"POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello")
    server.recv(len(b"POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\n"))
    close_unless_unread(server)
    assert server.fileno() != -1
    # Nothing was consumed: the graceful close still finds every byte to drain.
    server.settimeout(5)
    assert server.recv(4096) == b"hello"


def test_a_socket_it_cannot_look_into_is_left_open() -> None:
    class Wrapped(socket.socket):
        """Reads refuse flags, as an ssl.SSLSocket's do."""

        def recv(self, bufsize: int, flags: int = 0) -> bytes:
            if flags:
                raise ValueError("non-zero flags not allowed in calls to recv()")
            return super().recv(bufsize)

    with Wrapped(socket.AF_INET, socket.SOCK_STREAM) as sock:
        close_unless_unread(sock)
        assert sock.fileno() != -1


def _request(raw: bytes) -> object:
    """gunicorn's own parse of `raw`, as the sync worker gets it."""
    return next(RequestParser(Config(), [raw], ("127.0.0.1", 1)))


def test_a_request_without_a_body_counts_as_read_whole() -> None:
    assert body_read_whole(_request(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"))


def test_a_body_of_declared_length_counts_once_read_to_its_end() -> None:
    req: Any = _request(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello")
    assert not body_read_whole(req)
    assert req.body.read() == b"hello"
    assert body_read_whole(req)
    # A body read in part (gunicorn reads ahead, but not to the end of 9000 bytes).
    long: Any = _request(
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 9000\r\n\r\n" + b"x" * 9000
    )
    assert long.body.read(3) == b"xxx"
    assert not body_read_whole(long)


def test_a_chunked_body_or_an_unknown_request_never_counts() -> None:
    chunked: Any = _request(
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
    )
    assert chunked.body.read() == b"hello"
    assert not body_read_whole(chunked)
    assert not body_read_whole(object())


def test_a_tls_socket_is_left_to_the_graceful_close() -> None:
    context = ssl.create_default_context()
    with context.wrap_socket(
        socket.socket(), server_hostname="localhost", do_handshake_on_connect=False
    ) as sock:
        close_unless_unread(sock)
        assert sock.fileno() != -1


class _Answered(Exception):
    """What the stub of gunicorn's handle_request raises, when told to."""


@pytest.mark.parametrize("fails", [False, True])
def test_only_an_answered_request_closes_its_connection_at_once(
    monkeypatch: pytest.MonkeyPatch,
    connection: tuple[socket.socket, socket.socket],
    fails: bool,
) -> None:
    client, server = connection

    def handle_request(
        self: object, listener: object, req: object, sock: object, addr: object
    ) -> None:
        if fails:
            raise _Answered  # gunicorn's error paths close the connection themselves

    monkeypatch.setattr(sync.SyncWorker, "handle_request", handle_request)
    worker = object.__new__(SyncWorker)  # no master, no sockets: only the method is used
    req = _request(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    if fails:
        with pytest.raises(_Answered):
            worker.handle_request(None, req, server, ("127.0.0.1", 1))
        assert server.fileno() != -1
    else:
        worker.handle_request(None, req, server, ("127.0.0.1", 1))
        assert server.fileno() == -1
