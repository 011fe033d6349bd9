"""What the app asks of the server process that runs it: work to do when it goes idle.

The Redis store can send a decision's record together with the worker's next
command instead of on its own (RedisStore.defer_records), if someone sends
what is left whenever the worker has no request to serve. The app offers
that work here; policy_service.gunicorn_worker, the worker class of `serve`,
takes it. Under any other server (a test client, another worker class) the
hooks are never started and every record is sent at once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

# The key in the app's `extensions`; without Flask here, so that a worker can read it.
EXTENSION_KEY = "policy_service.worker_hooks"


@dataclass(frozen=True)
class WorkerHooks:
    # Called once by a worker that promises to call `idle` and serves one request at a
    # time per process; the app may defer work from then on (and the Redis store polls
    # for its replies instead of sleeping at once).
    start: Callable[[], None]
    # Called by that worker before it waits for a connection, and when it stops.
    idle: Callable[[], None]
    # Called by that worker after each request.
    request_done: Callable[[], None]


def hooks_of(app: Any) -> WorkerHooks | None:
    """The hooks an app offers, or None (another app, or a store with nothing to defer)."""
    extensions = getattr(app, "extensions", None)
    hooks = extensions.get(EXTENSION_KEY) if isinstance(extensions, dict) else None
    return hooks if isinstance(hooks, WorkerHooks) else None
