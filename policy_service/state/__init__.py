"""Per-account state behind one protocol: deduplication, windows and the crisis level."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class Observation:
    """What the store needs to know of one event."""

    account: str
    event_id: str
    at: datetime  # the event's own time (occurred_at), never the arrival time
    author_id: str
    tone: str


@dataclass(frozen=True, slots=True)
class Observed:
    """The store's answer to an observation.

    `previous` is the decision recorded for a duplicate event id (the event
    was not counted again); `fields` are the `state.*` values for the rules.
    """

    fields: Mapping[str, Any]
    previous: Mapping[str, Any] | None = None
    degraded: bool = False
    problems: tuple[str, ...] = field(default_factory=tuple)


class StateStore(Protocol):
    """One atomic observe step per event, then the decision is recorded."""

    def observe(self, observation: Observation) -> Observed:
        """Deduplicate, count and snapshot the account's state, atomically."""
        ...

    def record(self, account: str, event_id: str, decision: Mapping[str, Any]) -> None:
        """Keep the decision so a duplicate of the event gets the same answer."""
        ...

    def account_state(self, account: str) -> dict[str, Any]:
        """The account's current state for people and dashboards."""
        ...

    def ping(self) -> bool:
        """True when the store answers."""
        ...
