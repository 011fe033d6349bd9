"""The in-memory state store: the embedded default, one process only."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

from policy_service.state import Observation, Observed

MAX_REMEMBERED_EVENTS = 200_000
_PENDING: Mapping[str, Any] = {}


class MemoryStore:
    """Keeps state in this process; safe for the threads of one worker."""

    def __init__(self, max_events: int = MAX_REMEMBERED_EVENTS) -> None:
        self._lock = threading.Lock()
        self._max_events = max_events
        # (account, event_id) -> the decision given, oldest first.
        self._decisions: OrderedDict[tuple[str, str], Mapping[str, Any]] = OrderedDict()

    def observe(self, observation: Observation) -> Observed:
        key = (observation.account, observation.event_id)
        with self._lock:
            previous = self._decisions.get(key)
            if previous is None:
                self._decisions[key] = _PENDING
                while len(self._decisions) > self._max_events:
                    self._decisions.popitem(last=False)
            fields = {"crisis_level": "calm"}
        if previous is not None and previous is not _PENDING:
            return Observed(fields, previous=previous)
        return Observed(fields)

    def record(self, account: str, event_id: str, decision: Mapping[str, Any]) -> None:
        with self._lock:
            self._decisions[(account, event_id)] = decision

    def account_state(self, account: str) -> dict[str, Any]:
        return {"account": account, "crisis_level": "calm"}

    def ping(self) -> bool:
        return True
