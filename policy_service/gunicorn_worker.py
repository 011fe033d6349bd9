"""The worker class of `policy-service serve`: gunicorn's sync worker, told when it is idle.

Exactly gunicorn's sync worker (one request at a time, a process per
worker), plus the app's idle work (policy_service.worker_hooks): the worker
starts the hooks once the app is loaded, runs `request_done` after each
request, `idle` each time it has no connection to accept, just before it
waits for one, and once more when it stops. With the Redis store that sends
the records it deferred: under load a record rides with the next request's
observe step, and when the load stops it is sent at once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

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
