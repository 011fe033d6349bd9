"""Per-account state behind one protocol: deduplication, windows and the crisis level.

The semantics (windows, the level machine, late and duplicate events) are
described in docs/state.md; `MemoryStore` and `RedisStore` implement them
alike, proven by one conformance suite.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass
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
ESCALATION_WINDOW_MS = 3_600_000  # the escalation cap counts the hour before the clock's now
# Written as the decision's first "folded" value, so that the record step can
# fold a stored decision by replacing this one text (see `folded`).
UNFOLDED = '"folded":false'


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
class AccountLimit:
    """At most `per_window` new events per account in each window of the service's clock."""

    per_window: int
    window_ms: int


@dataclass(slots=True, init=False)
class RailsSeen:
    """What the safety rails need to know of the account, read by the observe step."""

    escalations_1h: int  # escalations that were not folded, in the hour before now
    open_escalation: str | None  # the newest of them: where further ones are folded
    author_answered_ms: int | None  # when this author was last answered (clock time)

    # Made for every event, like Observation below: a written `__init__`.
    def __init__(
        self,
        escalations_1h: int = 0,
        open_escalation: str | None = None,
        author_answered_ms: int | None = None,
    ) -> None:
        self.escalations_1h = escalations_1h
        self.open_escalation = open_escalation
        self.author_answered_ms = author_answered_ms


@dataclass(slots=True, init=False)
class RailsMarks:
    """What the record step updates for the rails, atomically with storing the decision.

    With `escalation_cap`, the decision escalates: it is counted in the
    account's hour, unless `escalation_cap` escalations already are; then it
    is stored and returned folded into the newest of them. `answered_author`
    marks that the decision answers its author (for `answer_author_once_within`).
    """

    now_ms: int
    decision_id: str
    escalation_cap: int
    answered_author: str | None
    answered_keep_ms: int

    def __init__(
        self,
        now_ms: int,
        decision_id: str,
        escalation_cap: int = 0,
        answered_author: str | None = None,
        answered_keep_ms: int = 0,
    ) -> None:
        self.now_ms = now_ms
        self.decision_id = decision_id
        self.escalation_cap = escalation_cap
        self.answered_author = answered_author
        self.answered_keep_ms = answered_keep_ms


def fold(decision: MutableMapping[str, Any], into: str | None) -> None:
    """Fold the decision into the open escalation `into`: still escalate, paged once."""
    decision["folded"] = True
    decision["folded_into"] = into


# Observation and Observed are made for every event: their `__init__` is
# written out, which is about twice as fast as a frozen dataclass's generated
# one (and compiled where the module is, see event_model). Nothing changes
# them after they are made.


@dataclass(slots=True, init=False)
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
    now_ms: int  # the service's clock: rate-limit windows and rails
    limit: AccountLimit | None  # None: no per-account rate limit
    rails: bool  # read the rails' state (RailsSeen) too

    def __init__(
        self,
        account: str,
        event_id: str,
        at: datetime,
        author_id: str,
        tone: str,
        is_multiplier: bool,
        is_customer: bool | None,
        thread_id: str | None,
        crisis: CrisisRules,
        now_ms: int = 0,
        limit: AccountLimit | None = None,
        rails: bool = False,
    ) -> None:
        self.account = account
        self.event_id = event_id
        self.at = at
        self.author_id = author_id
        self.tone = tone
        self.is_multiplier = is_multiplier
        self.is_customer = is_customer
        self.thread_id = thread_id
        self.crisis = crisis
        self.now_ms = now_ms
        self.limit = limit
        self.rails = rails


@dataclass(slots=True, init=False)
class Observed:
    """The store's answer to an observation.

    `previous` is the decision recorded for a duplicate event id; `pending`
    says another request is deciding the same event id right now; `retry`
    says the event was counted before but deciding it failed (see `abandon`).
    In these cases nothing was counted. `fields` are the `state.*` values.
    `retry_after_ms` > 0: the account's rate limit refused the event (nothing
    counted, no fields); it may come back after that long.
    """

    fields: Mapping[str, Any]
    previous: Mapping[str, Any] | None
    pending: bool
    retry: bool
    crisis_since: datetime | None  # when the current crisis episode began
    degraded: bool
    problems: tuple[str, ...]
    retry_after_ms: int
    rails: RailsSeen | None

    def __init__(
        self,
        fields: Mapping[str, Any],
        previous: Mapping[str, Any] | None = None,
        pending: bool = False,
        retry: bool = False,
        crisis_since: datetime | None = None,
        degraded: bool = False,
        problems: tuple[str, ...] = (),
        retry_after_ms: int = 0,
        rails: RailsSeen | None = None,
    ) -> None:
        self.fields = fields
        self.previous = previous
        self.pending = pending
        self.retry = retry
        self.crisis_since = crisis_since
        self.degraded = degraded
        self.problems = problems
        self.retry_after_ms = retry_after_ms
        self.rails = rails


class StateStore(Protocol):
    """One atomic observe step per event, then the decision is recorded."""

    def observe(self, observation: Observation) -> Observed:
        """Deduplicate, count and update the level, then snapshot: atomically."""
        ...

    def record(
        self,
        account: str,
        event_id: str,
        decision: Mapping[str, Any],
        marks: RailsMarks | None = None,
    ) -> str | None:
        """Keep the decision so a duplicate of the event gets the same answer.

        With `marks`, update the rails' state in the same step; returns the open
        escalation the decision was folded into (stored folded), or None.
        """
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
