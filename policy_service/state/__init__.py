"""Per-account state behind one protocol: deduplication, windows and the crisis level.

The semantics (windows, the level machine, late and duplicate events) are
described in docs/state.md; `MemoryStore` and `RedisStore` implement them
alike, proven by one conformance suite.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any, Protocol

from policy_service.state.levels import PortableCondition, compile_test

DEDUP_SECONDS = 7 * 86400  # a duplicate within a week gets the first answer
# What a store keeps for an event that was counted but whose decision failed:
# not JSON (decisions are objects), not empty (pending).
ABANDONED = "!"
PENDING_SECONDS = 30  # a decision in progress blocks duplicates this long at most
TRANSITIONS_KEPT = 50


@dataclass(frozen=True)
class CrisisRules:
    """The rule set's crisis levels, ready for a store."""

    watch: PortableCondition | None = None
    crisis: PortableCondition | None = None
    cool_down_seconds: int = 2 * 3600

    @cached_property
    def watch_test(self) -> Callable[[Mapping[str, Any]], bool]:
        """`watch` compiled once into a function of the state fields."""
        return compile_test(self.watch)

    @cached_property
    def crisis_test(self) -> Callable[[Mapping[str, Any]], bool]:
        """`crisis` compiled once into a function of the state fields."""
        return compile_test(self.crisis)

    @cached_property
    def as_json(self) -> str:
        """Compact JSON, computed once: the Redis store sends it with every event."""
        return json.dumps(
            {"watch": self.watch, "crisis": self.crisis, "cool_down": self.cool_down_seconds},
            separators=(",", ":"),
        )


@dataclass(frozen=True, slots=True)
class Observation:
    """What the store needs to know of one event."""

    account: str
    event_id: str
    at: datetime  # the event's own time (occurred_at), never the arrival time
    author_id: str
    tone: str
    is_multiplier: bool
    is_customer: bool | None
    thread_id: str | None
    crisis: CrisisRules


@dataclass(frozen=True, slots=True)
class Observed:
    """The store's answer to an observation.

    `previous` is the decision recorded for a duplicate event id; `pending`
    says another request is deciding the same event id right now; `retry`
    says the event was counted before but deciding it failed (see `abandon`).
    In these cases nothing was counted. `fields` are the `state.*` values.
    """

    fields: Mapping[str, Any]
    previous: Mapping[str, Any] | None = None
    pending: bool = False
    retry: bool = False
    crisis_since: datetime | None = None  # when the current crisis episode began
    degraded: bool = False
    problems: tuple[str, ...] = field(default_factory=tuple)


class StateStore(Protocol):
    """One atomic observe step per event, then the decision is recorded."""

    def observe(self, observation: Observation) -> Observed:
        """Deduplicate, count and update the level, then snapshot: atomically."""
        ...

    def record(self, account: str, event_id: str, decision: Mapping[str, Any]) -> None:
        """Keep the decision so a duplicate of the event gets the same answer."""
        ...

    def abandon(self, account: str, event_id: str) -> None:
        """Deciding a counted event failed: the next copy of it is decided, not counted."""
        ...

    def wait_for_decision(
        self, account: str, event_id: str, timeout_seconds: float
    ) -> Mapping[str, Any] | None:
        """The decision recorded for a pending event, waiting up to the timeout."""
        ...

    def account_state(self, account: str) -> dict[str, Any]:
        """Level, since when, windows and recent transitions, for people and dashboards."""
        ...

    def ping(self) -> bool:
        """True when the store answers."""
        ...
