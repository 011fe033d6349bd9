"""The store and the analyzer as the evaluator sees them, timed for /metrics.

Wrappers rather than timers inside the evaluator: the decision path stays as
it is, and replays or rule tests (which use the bare objects) pay nothing.
`perf_counter` measures durations only; no decision depends on it.
"""

from __future__ import annotations

from collections.abc import Mapping
from time import perf_counter
from typing import Any

from policy_service.analysis import Analyzer, Signal
from policy_service.events import Event
from policy_service.metrics import Metrics
from policy_service.state import Observation, Observed, RailsMarks, StateStore


class TimedStore:
    """A StateStore whose observe and record steps are timed."""

    def __init__(self, store: StateStore, metrics: Metrics) -> None:
        self._store = store
        self._metrics = metrics

    def observe(self, observation: Observation) -> Observed:
        started = perf_counter()
        try:
            return self._store.observe(observation)
        finally:
            self._metrics.store_time("observe", perf_counter() - started)

    def record(
        self,
        account: str,
        event_id: str,
        decision: Mapping[str, Any],
        marks: RailsMarks | None = None,
    ) -> str | None:
        started = perf_counter()
        try:
            return self._store.record(account, event_id, decision, marks)
        finally:
            self._metrics.store_time("record", perf_counter() - started)

    def abandon(self, account: str, event_id: str) -> None:
        self._store.abandon(account, event_id)

    def wait_for_decision(
        self, account: str, event_id: str, timeout_seconds: float
    ) -> Mapping[str, Any] | None:
        return self._store.wait_for_decision(account, event_id, timeout_seconds)

    def account_state(self, account: str) -> dict[str, Any]:
        return self._store.account_state(account)

    def ping(self) -> bool:
        return self._store.ping()


class TimedAnalyzer:
    """An Analyzer whose work (filling missing signals) is timed."""

    def __init__(self, analyzer: Analyzer, metrics: Metrics) -> None:
        self._analyzer = analyzer
        self._metrics = metrics

    def complete(self, event: Event, missing: tuple[str, ...]) -> dict[str, Signal]:
        started = perf_counter()
        try:
            return self._analyzer.complete(event, missing)
        finally:
            self._metrics.analyzer_time(perf_counter() - started)
