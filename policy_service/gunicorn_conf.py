"""gunicorn settings of `policy-service serve` (bind and workers come from the command line).

Why these values:
- sync workers: the rule engine's C core holds the GIL and is serialized per
  process, so threads of one worker never decide in parallel; processes do.
  Measured against gthread (4 threads) on 2 cores, interleaved rounds
  (bench/README.md, "Worker class"): with Redis, gthread took 26 % more
  worker CPU per request for no more requests a second (915 against 958),
  so sync. With the memory store's single worker gthread answered 22 % more
  while a core was idle, at 19 % more CPU per request; one class for both
  stores keeps production's the one the tests run. With the memory store
  there is exactly one worker (the state lives in it); with Redis, one per
  core measured best on 2 cores (bench/README.md).
- the worker class is gunicorn's sync worker plus the app's idle work
  (policy_service.gunicorn_worker): with Redis a decision's record rides with
  the worker's next command, one wait for Redis a decision instead of two,
  and is sent as soon as no request is waiting (docs/state.md). It also
  closes a connection once answered when the request was read whole, instead
  of waiting up to 2 s for the client to close first.
- no preload: every worker builds its own engine rule sets and watcher thread
  after the fork (threads and the engine's handles do not survive a fork).
- timeout 30 s: far above the state store's budget (0.25 s socket timeouts, at
  most 2 retries, then a degraded answer), so a worker is only killed when it
  is truly stuck; graceful_timeout lets in-flight requests finish on HUP and
  TERM. On HUP the master starts new workers on the same listening socket
  before it stops the old ones, so no request is refused or cut
  (tests/test_gunicorn.py reloads a real master under load). With the memory
  store a HUP starts the state afresh: it lives in the worker.
- request line and header limits: callers are services, not browsers; 8 KiB
  of headers is plenty and bounds what a hostile client can make us parse.
"""

from __future__ import annotations

from typing import Any

from policy_service.logs import install_json_handler

# gunicorn's sync worker that tells the app when it is idle and closes answered
# connections at once (see gunicorn_worker).
worker_class = "policy_service.gunicorn_worker.SyncWorker"
preload_app = False
timeout = 30
graceful_timeout = 30
keepalive = 2
limit_request_line = 4094
limit_request_fields = 50
limit_request_field_size = 8190
# No control socket: the service is driven by signals (HUP, TERM), and the
# default socket (~/.gunicorn/gunicorn.ctl) is one per user, so two masters
# of the same user (instances, test runs) would take it from each other.
control_socket_disable = True
# Decisions are logged by the service itself (one JSON line each); the access
# log would repeat them without the decision.
accesslog = None


def post_fork(server: Any, worker: Any) -> None:
    """JSON lines on stderr for the service's own loggers, in each worker.

    In the worker before it loads the app: create_app's first lines (the
    access-control warning, "ready") are JSON too, which post_worker_init,
    called after the app is loaded, would miss. (gunicorn's `logconfig_dict`
    would also turn its access log on, which repeats every decision without
    saying what was decided.)
    """
    install_json_handler(server.cfg.loglevel)
