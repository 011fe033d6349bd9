"""The long-lived objects of one process, built by the app factory and shared by views."""

from __future__ import annotations

from dataclasses import dataclass, field

from policy_service.config import Settings
from policy_service.evaluator import Evaluator
from policy_service.loaded_policy import PolicyHolder
from policy_service.metrics import Metrics
from policy_service.ratelimit import TokenLimiter
from policy_service.reloader import Reloader
from policy_service.shadow import Shadow
from policy_service.state import StateStore
from policy_service.state.redis_capture import RedisCapture


@dataclass(frozen=True)
class Services:
    settings: Settings
    policies: PolicyHolder
    store: StateStore
    evaluator: Evaluator
    reloader: Reloader
    shadow: Shadow | None = None
    shadow_policies: PolicyHolder | None = None
    shadow_reloader: Reloader | None = None
    capture: RedisCapture | None = None
    metrics: Metrics = field(default_factory=Metrics)
    token_limiter: TokenLimiter | None = None  # None: no per-token rate limit
