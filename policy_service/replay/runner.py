"""The replay loop: ordered events through one or two Evaluators on a virtual clock."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Protocol

import orjson

from policy_service.analysis import Analyzer, Signal
from policy_service.clock import FixedClock
from policy_service.errors import EventError
from policy_service.evaluator import Evaluator
from policy_service.events import Event
from policy_service.loaded_policy import FixedPolicy, LoadedPolicy
from policy_service.reloader import failed_tests, load_checked, load_tested
from policy_service.replay.collector import long_lived_kept_out_of_collections
from policy_service.replay.compare import Comparison, ExpectCheck, Outcome
from policy_service.replay.ordering import Invalid, Item, Ordered, ReadProgress, Scanned
from policy_service.replay.summary import Summary
from policy_service.state import StateStore

INVALID_KEPT = 1000
# Events between progress updates, and between writes of the decisions held meanwhile.
PROGRESS_EVERY = 256
# Before any event the virtual clock reads the epoch; every decision sets it first.
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class Progress(Protocol):
    """Where the loop reports how far it is (a terminal bar, or nothing)."""

    def reading(self, done: int, total: int) -> None: ...

    def deciding(self, total: int) -> None: ...

    def advance(self, count: int) -> None: ...


class NoProgress:
    """Reports nothing (output is not a terminal, or a test)."""

    def reading(self, done: int, total: int) -> None:
        pass

    def deciding(self, total: int) -> None:
        pass

    def advance(self, count: int) -> None:
        pass


def load_rules(
    directory: Path, allow_failing_tests: bool = False
) -> tuple[LoadedPolicy, list[str]]:
    """A rules directory as the service would load it, and the inline tests that failed.

    Without `allow_failing_tests` a failing test refuses the revision, as a
    reload would (RulesRefused); with it the revision is replayed anyway and
    the failures come back as warnings. Invalid files are always refused.
    """
    # The load time never reaches a decision (decisions carry the revision only).
    if not allow_failing_tests:
        return load_tested(directory, _EPOCH), []
    policy = load_checked(directory, _EPOCH)
    return policy, failed_tests(policy)


class PreparedSignals:
    """An analyzer that answers with signals computed elsewhere (the reader process) when given.

    The reader ran the same analyzer on the same event, so the decision is the
    one the wrapped analyzer would have led to; without prepared signals it
    asks the wrapped analyzer.
    """

    def __init__(self, analyzer: Analyzer) -> None:
        self._analyzer = analyzer
        self._event: Event | None = None
        self._signals: Mapping[str, Signal] = {}

    def prepare(self, event: Event, signals: Mapping[str, Signal] | None) -> None:
        self._event = event if signals is not None else None
        self._signals = signals or {}

    def complete(self, event: Event, missing: tuple[str, ...]) -> dict[str, Signal]:
        if event is self._event:
            signals = self._signals
            try:
                return {name: signals[name] for name in missing}
            except KeyError:
                pass  # the reader left one out: the analyzer answers for all of them
        return self._analyzer.complete(event, missing)


class Side:
    """One rules directory in a replay: its policy, its own store and clock, its summary."""

    def __init__(
        self,
        label: str,
        directory: Path,
        policy: LoadedPolicy,
        store: StateStore,
        analyzer: Analyzer,
    ) -> None:
        self.label = label
        self.directory = directory
        self.policy = policy
        self.store = store
        self.clock = FixedClock(_EPOCH)
        self.signals = PreparedSignals(analyzer)
        self.evaluator = Evaluator(FixedPolicy(policy), store, self.clock, self.signals)
        self.summary = Summary(label, policy, store.account_state)

    def decide(
        self,
        event: Event,
        signals: Mapping[str, Signal] | None = None,
        at_us: int | None = None,
    ) -> dict[str, Any]:
        """The decision as the API returns it, `duplicate` included, at the event's own time.

        `signals` are the ones the event leaves out, when the reader computed them;
        `at_us` is occurred_at in UTC microseconds, when the caller knows it.
        """
        # "Now" is the comment's own time, in UTC like the service's clock.
        at = event.occurred_at
        now = at.astimezone(UTC)
        if now is not at:
            # Decided as the same instant in UTC: the evaluator's arithmetic between
            # the comment's time and the clock's (its age, whether it is ahead, its
            # window in the store) then converts no zone. Nothing a replay writes
            # shows the offset; the decisions are the same bytes.
            event = Event(
                event.event_id,
                event.account,
                now,
                event.author,
                event.channel,
                event.text,
                event.lang,
                event.thread,
                event.signals,
            )
        self.clock.set(now)
        self.signals.prepare(event, signals)
        decision, duplicate = self.evaluator.decide(event)
        decision["duplicate"] = duplicate
        self.summary.add(event, decision, duplicate, at_us)
        return decision


@dataclass
class Outcomes:
    """How a replay went, beyond the summaries."""

    scanned: Scanned | None = None
    invalid: int = 0
    invalid_lines: list[Invalid] = field(default_factory=list)
    decided: int = 0
    stopped: bool = False  # an invalid line without skip_invalid: the run is incomplete
    reading_seconds: float = 0.0
    total_seconds: float = 0.0

    @property
    def deciding_seconds(self) -> float:
        return max(self.total_seconds - self.reading_seconds, 0.0)

    def to_json(self) -> dict[str, Any]:
        scanned = self.scanned
        return {
            "lines": scanned.lines if scanned else 0,
            "blank_lines": scanned.blank if scanned else 0,
            "out_of_order": scanned.out_of_order if scanned else 0,
            "invalid": self.invalid,
            "invalid_lines": [{"line": i.line, "reason": i.reason} for i in self.invalid_lines],
            "decided": self.decided,
            "complete": not self.stopped,
        }


DiffSink = Callable[[int, Event, Outcome, Outcome], None]


@dataclass
class ReplayResult:
    """Everything a replay found, for the text summary, the JSON summary and the report."""

    events_path: str
    primary: Summary
    primary_dir: str
    outcomes: Outcomes
    analyzer: str
    state: str
    against: Summary | None = None
    against_dir: str | None = None
    comparison: Comparison | None = None
    expect: ExpectCheck | None = None
    warnings: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """A JSON summary; like the decisions, it does not depend on the wall clock."""
        body: dict[str, Any] = {
            "events_file": self.events_path,
            "rules": self.primary_dir,
            "analyzer": self.analyzer,
            "state": self.state,
            **self.outcomes.to_json(),
            "summary": self.primary.to_json(),
        }
        if self.against is not None:
            body["against"] = self.against_dir
            body["against_summary"] = self.against.to_json()
        if self.comparison is not None:
            body["comparison"] = self.comparison.to_json()
        if self.expect is not None:
            body["expectations"] = self.expect.to_json()
        return body


class Replay:
    """Feeds ordered items to the sides; writes decisions; compares and checks expectations."""

    def __init__(
        self,
        primary: Side,
        against: Side | None = None,
        *,
        out: IO[bytes] | None = None,
        expect: ExpectCheck | None = None,
        skip_invalid: bool = False,
        progress: Progress | None = None,
        on_invalid: Callable[[Invalid], None] | None = None,
        on_difference: DiffSink | None = None,
    ) -> None:
        self.primary = primary
        self.against = against
        self.comparison = Comparison() if against is not None else None
        self.expect = expect
        self._out = out
        self._skip_invalid = skip_invalid
        self._progress = progress or NoProgress()
        self._on_invalid = on_invalid
        self._on_difference = on_difference
        self.outcomes = Outcomes()

    def run(self, items: Iterator[Item]) -> Outcomes:
        """Decide every event of `items`; on an invalid line without skip_invalid, stop deciding
        but read on, so that every invalid line is reported."""
        with long_lived_kept_out_of_collections():
            return self._run(items)

    def _run(self, items: Iterator[Item]) -> Outcomes:
        outcomes = self.outcomes
        started = time.perf_counter()
        out = self._out
        # Decisions are written in batches: one call per batch instead of one per event.
        written: list[bytes] = []
        encode, newline = orjson.dumps, orjson.OPT_APPEND_NEWLINE
        primary, against, comparison, expect = (
            self.primary,
            self.against,
            self.comparison,
            self.expect,
        )
        pending = 0
        for item in items:
            if type(item) is Ordered:
                if outcomes.stopped:
                    continue
                event, at_us = item.event, item.at_us
                try:
                    decision = primary.decide(event, item.signals, at_us)
                    other = (
                        against.decide(event, item.signals, at_us) if against is not None else None
                    )
                except EventError as exc:
                    self._invalid(Invalid(item.line, f"not decided: {exc}"))
                    continue
                outcomes.decided += 1
                if out is not None:
                    written.append(encode(decision, option=newline))
                if not decision["duplicate"]:
                    if other is not None and comparison is not None:
                        moved = comparison.add(item.line, event, decision, other, at_us)
                        if moved is not None and self._on_difference is not None:
                            self._on_difference(item.line, event, *moved)
                    if expect is not None:
                        expect.check(event, decision)
                pending += 1
                if pending >= PROGRESS_EVERY:
                    self._progress.advance(pending)
                    pending = 0
                    if out is not None:
                        out.writelines(written)
                        written.clear()
            elif isinstance(item, Invalid):
                self._invalid(item)
            elif isinstance(item, ReadProgress):
                self._progress.reading(item.done, item.total)
            elif isinstance(item, Scanned):
                outcomes.scanned = item
                outcomes.reading_seconds = time.perf_counter() - started
                self._progress.deciding(item.candidates)
        self._progress.advance(pending)
        if out is not None:
            out.writelines(written)
        if expect is not None and not outcomes.stopped:
            expect.finish()
        outcomes.total_seconds = time.perf_counter() - started
        return outcomes

    def result(
        self, events_path: str, analyzer: str, state: str, warnings: list[str] | None = None
    ) -> ReplayResult:
        """The findings of `run`, with what the caller knows about the run."""
        against = self.against
        return ReplayResult(
            events_path=events_path,
            primary=self.primary.summary,
            primary_dir=str(self.primary.directory),
            outcomes=self.outcomes,
            analyzer=analyzer,
            state=state,
            against=against.summary if against is not None else None,
            against_dir=str(against.directory) if against is not None else None,
            comparison=self.comparison,
            expect=self.expect,
            warnings=list(warnings or []),
        )

    def _invalid(self, item: Invalid) -> None:
        outcomes = self.outcomes
        outcomes.invalid += 1
        if len(outcomes.invalid_lines) < INVALID_KEPT:
            outcomes.invalid_lines.append(item)
        if self._on_invalid is not None:
            self._on_invalid(item)
        if not self._skip_invalid:
            outcomes.stopped = True
