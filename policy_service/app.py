"""The app factory: wiring only."""

from __future__ import annotations

import atexit
import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from flask import Flask, Request, Response
from flask.sessions import NullSession, SessionInterface, SessionMixin

from policy_service.analysis.factory import analyzer_from_settings

# Imported for its views: they join the API blueprint before it is registered.
from policy_service.api import admin as _admin_views  # noqa: F401
from policy_service.api.auth import Access, check_classified, registry_from_settings
from policy_service.api.problems import register_error_handlers
from policy_service.api.views import ACCESS_KEY, MAX_BATCH_BYTES, SERVICES_KEY, bp
from policy_service.clock import Clock, WallClock
from policy_service.config import Settings
from policy_service.errors import ConfigError
from policy_service.evaluator import Evaluator
from policy_service.instrumented import TimedAnalyzer, TimedStore
from policy_service.loaded_policy import PolicyHolder
from policy_service.metrics import Metrics
from policy_service.ratelimit import TokenLimiter
from policy_service.reloader import Reloader, load_tested
from policy_service.services import Services
from policy_service.shadow import Shadow
from policy_service.state import AccountLimit, StateStore
from policy_service.state.memory import MemoryStore
from policy_service.state.permits import MemoryPermits, PermitPool
from policy_service.state.redis_capture import capture_from_settings
from policy_service.state.redis_cluster import SCHEME as CLUSTER_SCHEME
from policy_service.state.redis_cluster import ClusterPermits, ClusterStore
from policy_service.state.redis_permits import RedisPermits
from policy_service.state.redis_store import RedisStore
from policy_service.worker_hooks import EXTENSION_KEY as WORKER_HOOKS_KEY
from policy_service.worker_hooks import WorkerHooks

log = logging.getLogger(__name__)


def create_app(
    test_config: Mapping[str, Any] | None = None,
    *,
    clock: Clock | None = None,
    store: StateStore | None = None,
) -> Flask:
    """Build the Flask app. Settings come from POLICY_* variables unless `test_config` is given."""
    # No static files: every route is one of the API's views, each with an access rule.
    app = Flask(__name__, static_folder=None)
    app.session_interface = NoSessions()
    settings = (
        Settings.from_mapping(test_config) if test_config is not None else Settings.from_env()
    )
    # Before anything is built: an open API in production is refused outright.
    access = Access(
        registry_from_settings(settings.tokens_file, settings.dev_no_auth, settings.rules_dir),
        metrics_public=settings.metrics_public,
    )
    # The largest body any endpoint takes; single events are held to less in the view.
    app.config["MAX_CONTENT_LENGTH"] = MAX_BATCH_BYTES
    clock = clock or WallClock()
    store = store or open_store(settings.state_url)
    analyzer = analyzer_from_settings(settings.analyzer, settings.analyzer_model)
    # A policy whose inline tests fail is never served, not even at start.
    holder = PolicyHolder(load_tested(settings.rules_dir, clock.now()))
    reloader = Reloader(settings.rules_dir, holder, clock)
    shadow = shadow_policies = shadow_reloader = None
    if settings.shadow_rules_dir:
        shadow_dir = Path(settings.shadow_rules_dir)
        shadow_policies = PolicyHolder(load_tested(shadow_dir, clock.now()))
        shadow_reloader = Reloader(shadow_dir, shadow_policies, clock)
        shadow = Shadow(shadow_policies)
    capture = capture_from_settings(
        settings.capture_url, settings.capture_stream, settings.capture_maxlen
    )
    if capture is not None:
        # Entries still queued when the worker exits are written, not dropped.
        atexit.register(capture.close)
    metrics = Metrics()
    account_limit = None
    if settings.rate_limit_account:
        account_limit = AccountLimit(settings.rate_limit_account, settings.rate_limit_window * 1000)
    evaluator = Evaluator(
        holder,
        TimedStore(store, metrics),
        clock,
        TimedAnalyzer(analyzer, metrics),
        shadow,
        capture,
        account_limit=account_limit,
    )
    token_limiter = None
    if settings.rate_limit_token:
        token_limiter = TokenLimiter(
            open_permits(settings.state_url),
            clock,
            settings.rate_limit_token,
            settings.rate_limit_window,
        )
    if settings.reload_interval > 0:
        # Threads do not survive a fork: gunicorn calls this factory in each
        # worker, so every worker watches the directory itself.
        reloader.watch(settings.reload_interval)
        if shadow_reloader is not None:
            shadow_reloader.watch(settings.reload_interval)
    app.extensions[SERVICES_KEY] = Services(
        settings,
        holder,
        store,
        evaluator,
        reloader,
        shadow,
        shadow_policies,
        shadow_reloader,
        capture,
        metrics,
        token_limiter,
    )
    app.extensions[ACCESS_KEY] = access
    if isinstance(store, RedisStore):
        # The service's worker serves one request at a time and sends deferred
        # records whenever it is idle.
        app.extensions[WORKER_HOOKS_KEY] = WorkerHooks(
            start=_worker_start(store, settings.redis_reply_polls),
            idle=store.flush,
            request_done=store.request_done,
        )
    app.register_blueprint(bp)
    # Deny by default: a route that no access rule names is a mistake, found at start.
    check_classified(rule.endpoint for rule in app.url_map.iter_rules())
    register_error_handlers(app)
    log.info(
        "policy-service ready: revision %s, rule sets %s, store %s",
        holder.current().revision,
        ",".join(sorted(holder.current().rulesets)),
        settings.state_url.split("@")[-1],
    )
    return app


class _RequestNullSession(NullSession):
    """Flask's null session, one per request, without the change callback it never calls.

    (A null session refuses every write, so nothing would ever call it.)
    """

    def __init__(self) -> None:
        dict.__init__(self)


class NoSessions(SessionInterface):
    """The API keeps no cookie sessions: each request gets a null session at once.

    Flask's default first looks for a signing key to read a session cookie
    with, on every request, then builds a null session with a change
    callback; a null session refuses every write and is never saved.
    """

    def open_session(self, app: Flask, request: Request) -> SessionMixin | None:
        return None

    def make_null_session(self, app: Flask) -> NullSession:
        return _RequestNullSession()

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        return None


def _worker_start(store: RedisStore, reply_polls: int) -> Callable[[], None]:
    """What the Redis store does differently under the service's worker (WorkerHooks.start)."""

    def start() -> None:
        store.defer_records()
        store.poll_for_replies(reply_polls)

    return start


def open_store(url: str) -> StateStore:
    """The state store named by POLICY_STATE_URL."""
    if url.startswith("memory://"):
        return MemoryStore()
    if url.startswith("redis://"):
        return RedisStore.from_url(url)
    if url.startswith(CLUSTER_SCHEME):
        return ClusterStore.from_url(url)
    raise ConfigError(f"state store {url!r} is not supported yet")


def open_permits(url: str) -> PermitPool:
    """Where the per-token rate limit counts: beside the state (one process or Redis)."""
    if url.startswith("redis://"):
        return RedisPermits.from_url(url)
    if url.startswith(CLUSTER_SCHEME):
        return ClusterPermits.from_url(url)
    return MemoryPermits()
