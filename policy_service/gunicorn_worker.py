"""The worker class of `policy-service serve`: gunicorn's sync worker, told when it is idle,
closing an answered connection at once.

Exactly gunicorn's sync worker (one request at a time, a process per
worker), plus the app's idle work (policy_service.worker_hooks): the worker
starts the hooks once the app is loaded, runs `request_done` after each
request, `idle` each time it has no connection to accept, just before it
waits for one, and once more when it stops. With the Redis store that sends
the records it deferred: under load a record rides with the next request's
observe step, and when the load stops it is sent at once. Since it serves one
request at a time, the store also polls for its replies from then on
(docs/state.md, "Polling for the reply").

One change to the end of a connection. gunicorn closes every connection
gracefully (RFC 9112, section 9.6): it half-closes, then waits, up to two
seconds, for the client to close its side, so that request bytes it never
read cannot make the kernel reset the connection over the end of the
answer. That wait holds a sync worker, which serves one connection at a
time, for a round trip to the client after every answer: across a network,
one RTT per request; on the benchmark's two cores, until the load generator
is scheduled (bench/README.md, "Closing at once"). When the request was read
whole nothing is left to cause a reset, so this worker closes at once; when
bytes are left unread, or it cannot tell (a chunked body, TLS), gunicorn's
graceful close stays.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Callable
from typing import Any

from gunicorn.http.body import LengthReader  # type: ignore[import-untyped]
from gunicorn.workers import sync  # type: ignore[import-untyped]

from policy_service.worker_hooks import WorkerHooks, hooks_of


class SyncWorker(sync.SyncWorker):  # type: ignore[misc]  # gunicorn has no types
    _hooks: WorkerHooks | None = None

    def load_wsgi(self) -> None:
        super().load_wsgi()
        self._hooks = hooks_of(self.wsgi)
        if self._hooks is not None:
            self._hooks.start()

    def wait(self, timeout: float) -> Any:
        self._idle()
        return super().wait(timeout)

    def handle(self, listener: Any, client: Any, addr: Any) -> None:
        try:
            super().handle(listener, client, addr)
        finally:
            if self._hooks is not None:
                self._call(self._hooks.request_done)

    def handle_request(self, listener: Any, req: Any, client: Any, addr: Any) -> None:
        super().handle_request(listener, req, client, addr)
        # Answered: gunicorn's graceful close of a closed socket returns at once.
        if body_read_whole(req):
            close_unless_unread(client)

    def run(self) -> None:
        try:
            super().run()
        finally:
            self._idle()

    def _idle(self) -> None:
        if self._hooks is not None:
            self._call(self._hooks.idle)

    def _call(self, work: Callable[[], None]) -> None:
        try:
            work()
        except Exception:
            # The work is the app's; it must never stop the worker.
            self.log.exception("the app's %s work failed", work.__name__)


def body_read_whole(req: Any) -> bool:
    """Whether the request's body was read to its end (a request without one: at once).

    Only a body of declared length can tell (gunicorn gives a request without
    a body a length of 0); a chunked one cannot, nor anything this does not
    recognize, and then the graceful close stays. Without this check a body
    still on its way (a slow client whose upload the app refused unread)
    would find the receive buffer empty for a moment and be reset.
    """
    reader = getattr(getattr(req, "body", None), "reader", None)
    return isinstance(reader, LengthReader) and getattr(reader, "length", None) == 0


def close_unless_unread(client: socket.socket) -> None:
    """Close `client` now when its receive buffer is empty; otherwise leave it open.

    Called once the answer is written and the body was read to its end: an
    empty buffer then means nothing is left of the request, and closing sends
    a plain FIN. Bytes still there (a request sent behind this one) would make
    the kernel answer the close with a reset, so that connection is left to
    gunicorn's graceful close, which drains them first. Only bytes that have
    arrived can be seen: any sent after this look get a reset, as they would
    have from gunicorn's sync worker before version 27 (every answer says
    `Connection: close`, so a client has no reason to send more). A TLS
    socket, which this cannot look into, is left open too.
    """
    if isinstance(client, ssl.SSLSocket):
        return
    try:
        unread = client.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
    except BlockingIOError:
        unread = b""  # nothing to read: the request was consumed whole
    except (OSError, ValueError):
        return
    if unread:
        return
    client.close()
