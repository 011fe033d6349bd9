"""Differences between two rule sets' decisions, and decisions checked against expected actions."""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from policy_service.errors import PolicyError
from policy_service.events import Event
from policy_service.replay.codec import utc_micros
from policy_service.replay.summary import Timeline
from policy_service.ruleset.catalogue import ACTIONS

EXAMPLES_PER_GROUP = 5
EXAMPLE_TEXT_CHARS = 160
MISMATCHES_KEPT = 10_000


@dataclass(frozen=True, slots=True)
class Example:
    """One event of a group of differences, to look at."""

    line: int
    account: str
    event_id: str
    text: str

    def to_json(self) -> dict[str, Any]:
        return {
            "line": self.line,
            "account": self.account,
            "event_id": self.event_id,
            "text": self.text,
        }


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a rule set answered: the fields a comparison looks at."""

    action: str
    rule: str
    route: str | None

    @classmethod
    def of(cls, decision: Mapping[str, Any]) -> Outcome:
        return cls(decision["action"], decision["rule"], decision["route"])

    def to_json(self) -> dict[str, Any]:
        return {"action": self.action, "rule": self.rule, "route": self.route}


@dataclass
class DiffGroup:
    """Events whose outcome moved the same way between the two rule sets."""

    before: Outcome
    after: Outcome
    count: int = 0
    accounts: Counter[str] = field(default_factory=Counter)
    examples: list[Example] = field(default_factory=list)

    def label(self) -> str:
        """E.g. `acknowledge -> escalate (customer-complaint -> crisis-negative)`."""
        text = f"{self.before.action} -> {self.after.action}"
        if self.before.rule != self.after.rule:
            text += f" (rule {self.before.rule} -> {self.after.rule})"
        else:
            text += f" (rule {self.before.rule})"
        if self.before.route != self.after.route:
            text += f", route {self.before.route or '-'} -> {self.after.route or '-'}"
        return text

    def to_json(self) -> dict[str, Any]:
        return {
            "from": self.before.to_json(),
            "to": self.after.to_json(),
            "count": self.count,
            "accounts": dict(self.accounts.most_common()),
            "examples": [e.to_json() for e in self.examples],
        }


class Comparison:
    """Every fresh event decided by both rule sets; groups those whose action, rule or route differ."""

    def __init__(self, examples: int = EXAMPLES_PER_GROUP) -> None:
        self._examples = examples
        self.compared = 0
        self.differing = 0
        self.groups: dict[tuple[Outcome, Outcome], DiffGroup] = {}
        self.per_account: Counter[str] = Counter()
        # (action before, action after) -> events, the matrix of the report
        self.actions: Counter[tuple[str, str]] = Counter()
        self.timelines: dict[str, Timeline] = {}

    def add(
        self,
        line: int,
        event: Event,
        first: Mapping[str, Any],
        second: Mapping[str, Any],
        at_us: int | None = None,
    ) -> tuple[Outcome, Outcome] | None:
        """Compare one event's two decisions; the two outcomes when they differ.

        `at_us` is the event's time in UTC microseconds, when the caller knows it.
        """
        self.compared += 1
        action, rule, route = first["action"], first["rule"], first["route"]
        other_action = second["action"]
        self.actions[(action, other_action)] += 1
        # Most events do not differ: their outcomes are compared without being built.
        if action == other_action and rule == second["rule"] and route == second["route"]:
            return None
        before, after = Outcome(action, rule, route), Outcome.of(second)
        self.differing += 1
        self.per_account[event.account] += 1
        group = self.groups.get((before, after))
        if group is None:
            group = self.groups[(before, after)] = DiffGroup(before, after)
        group.count += 1
        group.accounts[event.account] += 1
        if len(group.examples) < self._examples:
            group.examples.append(Example(line, event.account, event.event_id, snippet(event.text)))
        timeline = self.timelines.get(event.account)
        if timeline is None:
            timeline = self.timelines[event.account] = Timeline(1)
        if at_us is None:
            at_us = utc_micros(event.occurred_at)
        timeline.bucket(at_us // 1_000_000)[0] += 1
        return before, after

    def sorted_groups(self) -> list[DiffGroup]:
        """Largest groups first; ties in a stable order."""
        return sorted(
            self.groups.values(),
            key=lambda g: (-g.count, g.before.action, g.after.action, g.before.rule, g.after.rule),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "compared": self.compared,
            "differing": self.differing,
            "accounts": dict(self.per_account.most_common()),
            "groups": [g.to_json() for g in self.sorted_groups()],
        }


def snippet(text: str, limit: int = EXAMPLE_TEXT_CHARS) -> str:
    """The start of a comment on one line (untrusted text: whoever shows it escapes it)."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


# -- expectations ----------------------------------------------------------------------


class ExpectationError(PolicyError):
    """An expectations file is missing or has a bad row; the message names the line."""


@dataclass(frozen=True, slots=True)
class Expectation:
    """The action (and maybe rule) an event must get; `account` narrows the event id."""

    line: int
    event_id: str
    action: str
    rule: str | None = None
    account: str | None = None


@dataclass(frozen=True, slots=True)
class Mismatch:
    """An expectation that failed; `got` is None when the event was never decided."""

    expected: Expectation
    got: Outcome | None

    def describe(self) -> str:
        want = self.expected
        who = f"{want.account}/{want.event_id}" if want.account else want.event_id
        wanted = want.action + (f" (rule {want.rule})" if want.rule else "")
        if self.got is None:
            return (
                f"line {want.line}: event {who}: expected {wanted}, but no such event was decided"
            )
        return (
            f"line {want.line}: event {who}: expected {wanted}, "
            f"got {self.got.action} (rule {self.got.rule})"
        )


def load_expectations(path: Path) -> list[Expectation]:
    """Read JSONL (objects with event_id, action, rule?, account?) or CSV (event_id,action[,rule]).

    CSV may have a header row naming the columns (event_id, action, rule,
    account in any order); without one the columns are event_id, action, rule.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ExpectationError(f"cannot read {path}: {exc}") from None
    first = text.lstrip()[:1]
    rows = _jsonl_rows(path, text) if first == "{" else _csv_rows(path, text)
    found: list[Expectation] = []
    for line, row in rows:
        found.append(_expectation(path, line, row))
    if not found:
        raise ExpectationError(f"{path}: no expectations in the file")
    return found


def _jsonl_rows(path: Path, text: str) -> Iterator[tuple[int, dict[str, Any]]]:
    for line, raw in enumerate(text.splitlines(), 1):
        if not raw.strip():
            continue
        try:
            row = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise ExpectationError(f"{path}:{line}: not valid JSON: {exc.msg}") from None
        if not isinstance(row, dict):
            raise ExpectationError(f"{path}:{line}: not a JSON object")
        yield line, row


def _csv_rows(path: Path, text: str) -> Iterator[tuple[int, dict[str, Any]]]:
    reader = csv.reader(io.StringIO(text))
    names: list[str] | None = None
    for row in reader:
        line = reader.line_num
        cells = [c.strip() for c in row]
        if not any(cells):
            continue
        if names is None and "event_id" in cells:
            names = cells
            continue
        columns = names or ["event_id", "action", "rule"]
        if len(cells) > len(columns):
            raise ExpectationError(
                f"{path}:{line}: {len(cells)} columns, expected at most {len(columns)} "
                f"({', '.join(columns)})"
            )
        yield line, {k: v for k, v in zip(columns, cells, strict=False) if v}


def _expectation(path: Path, line: int, row: Mapping[str, Any]) -> Expectation:
    unknown = sorted(set(row) - {"event_id", "action", "rule", "account"})
    if unknown:
        raise ExpectationError(
            f"{path}:{line}: unknown field(s) {', '.join(unknown)}; "
            "expected event_id, action, rule, account"
        )
    values: dict[str, str | None] = {}
    for name in ("event_id", "action", "rule", "account"):
        value = row.get(name)
        if value is not None and not isinstance(value, str):
            raise ExpectationError(f"{path}:{line}: {name} must be a string")
        values[name] = value or None
    event_id, action = values["event_id"], values["action"]
    if event_id is None or action is None:
        raise ExpectationError(f"{path}:{line}: event_id and action are required")
    if action not in ACTIONS:
        raise ExpectationError(
            f"{path}:{line}: unknown action {action!r} (one of {', '.join(ACTIONS)})"
        )
    return Expectation(line, event_id, action, values["rule"], values["account"])


class ExpectCheck:
    """Checks each event's first decision against its expectation."""

    def __init__(self, expectations: list[Expectation]) -> None:
        # Held in memory: the expectations file is a curated list, not the event stream.
        self._by_key: dict[tuple[str | None, str], Expectation] = {}
        for expectation in expectations:
            self._by_key[(expectation.account, expectation.event_id)] = expectation
        self._seen: set[tuple[str | None, str]] = set()
        self.checked = 0
        self.failed = 0
        self.mismatches: list[Mismatch] = []

    def __len__(self) -> int:
        return len(self._by_key)

    def check(self, event: Event, decision: Mapping[str, Any]) -> None:
        key: tuple[str | None, str] = (event.account, event.event_id)
        expectation = self._by_key.get(key)
        if expectation is None:
            key = (None, event.event_id)
            expectation = self._by_key.get(key)
            if expectation is None:
                return
        self._seen.add(key)
        self.checked += 1
        got = Outcome.of(decision)
        if got.action != expectation.action or (
            expectation.rule is not None and got.rule != expectation.rule
        ):
            self._fail(Mismatch(expectation, got))

    def _fail(self, mismatch: Mismatch) -> None:
        self.failed += 1
        if len(self.mismatches) < MISMATCHES_KEPT:
            self.mismatches.append(mismatch)

    def finish(self) -> None:
        """Count the expected events that never came as mismatches."""
        for key, expectation in sorted(self._by_key.items(), key=lambda kv: kv[1].line):
            if key not in self._seen:
                self._fail(Mismatch(expectation, None))
        self.mismatches.sort(key=lambda m: m.expected.line)

    def to_json(self) -> dict[str, Any]:
        return {
            "expected": len(self._by_key),
            "checked": self.checked,
            "failed": self.failed,
            "mismatches": [
                {
                    "line": m.expected.line,
                    "event_id": m.expected.event_id,
                    "account": m.expected.account,
                    "expected": {"action": m.expected.action, "rule": m.expected.rule},
                    "got": m.got.to_json() if m.got else None,
                }
                for m in self.mismatches
            ],
        }
