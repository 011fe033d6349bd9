"""The app factory: wiring only."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from flask import Flask

from policy_service.analysis import DefaultsAnalyzer
from policy_service.api.problems import register_error_handlers
from policy_service.api.views import MAX_BATCH_BYTES, bp
from policy_service.clock import Clock, WallClock
from policy_service.config import Settings
from policy_service.errors import ConfigError
from policy_service.evaluator import Evaluator
from policy_service.loaded_policy import PolicyHolder, load
from policy_service.services import Services
from policy_service.state import StateStore
from policy_service.state.memory import MemoryStore

log = logging.getLogger(__name__)


def create_app(
    test_config: Mapping[str, Any] | None = None,
    *,
    clock: Clock | None = None,
    store: StateStore | None = None,
) -> Flask:
    """Build the Flask app. Settings come from POLICY_* variables unless `test_config` is given."""
    app = Flask(__name__)
    settings = (
        Settings.from_mapping(test_config) if test_config is not None else Settings.from_env()
    )
    # The largest body any endpoint takes; single events are held to less in the view.
    app.config["MAX_CONTENT_LENGTH"] = MAX_BATCH_BYTES
    clock = clock or WallClock()
    store = store or open_store(settings.state_url)
    holder = PolicyHolder(load(settings.rules_dir, clock.now()))
    evaluator = Evaluator(holder.current, store, clock, DefaultsAnalyzer())
    app.extensions["policy_service"] = Services(settings, holder, store, evaluator)
    app.register_blueprint(bp)
    register_error_handlers(app)
    log.info(
        "policy-service ready: revision %s, rule sets %s, store %s",
        holder.current().revision,
        ",".join(sorted(holder.current().rulesets)),
        settings.state_url.split("@")[-1],
    )
    return app


def open_store(url: str) -> StateStore:
    """The state store named by POLICY_STATE_URL."""
    if url.startswith("memory://"):
        return MemoryStore()
    raise ConfigError(f"state store {url!r} is not supported yet")
