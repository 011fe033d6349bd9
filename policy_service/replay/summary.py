"""What a replay decided, per account and over time, gathered while it runs (bounded memory)."""

from __future__ import annotations

import operator
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from policy_service.events import Event
from policy_service.loaded_policy import LoadedPolicy
from policy_service.replay.codec import utc_micros
from policy_service.ruleset.catalogue import ACTIONS

NEGATIVE_TONES = frozenset({"negative", "hostile"})
# The order levels are drawn and ranked in a bucket: the most alarming wins.
LEVEL_RANK = {"calm": 0, "watch": 1, "recovery": 2, "crisis": 3}
LEVELS = tuple(LEVEL_RANK)
# Bucket widths in seconds, each a multiple of the one before, so a timeline
# can always be coarsened (and two timelines brought to a common width).
WIDTHS = (
    60,
    5 * 60,
    15 * 60,
    3600,
    3 * 3600,
    6 * 3600,
    12 * 3600,
    86400,
    7 * 86400,
    28 * 86400,
    364 * 86400,
)
MAX_BUCKETS = 2000
ACTION_INDEX = {action: i for i, action in enumerate(ACTIONS)}

# Columns of a decision timeline bucket.
VOLUME, NEGATIVE, LEVEL = 0, 1, 2
FIRST_ACTION = 3


class Timeline:
    """Counters per time bucket; the buckets grow wider when there are too many (bounded memory).

    Every column is summed when buckets merge, except those in `max_columns`.
    """

    __slots__ = ("_width_index", "buckets", "columns", "max_columns", "max_buckets", "width")

    def __init__(
        self,
        columns: int,
        max_columns: frozenset[int] = frozenset(),
        max_buckets: int = MAX_BUCKETS,
    ) -> None:
        self._width_index = 0
        self.width = WIDTHS[0]  # seconds per bucket; an attribute, read for every event
        self.columns = columns
        self.max_columns = max_columns
        self.max_buckets = max_buckets
        self.buckets: dict[int, list[int]] = {}

    def bucket(self, at_seconds: int) -> list[int]:
        """The counters of the bucket holding `at_seconds` (UTC epoch seconds), created empty."""
        index = at_seconds // self.width
        found = self.buckets.get(index)
        if found is None:
            if len(self.buckets) >= self.max_buckets and self._width_index + 1 < len(WIDTHS):
                self._coarsen(self._width_index + 1)
                return self.bucket(at_seconds)
            found = self.buckets[index] = [0] * self.columns
        return found

    def _coarsen(self, width_index: int) -> None:
        self.buckets = self.resampled(WIDTHS[width_index])
        self._width_index = width_index
        self.width = WIDTHS[width_index]

    def resampled(self, width: int) -> dict[int, list[int]]:
        """The buckets at `width` seconds (a multiple of this timeline's width)."""
        if width == self.width:
            return {k: list(v) for k, v in self.buckets.items()}
        if width % self.width:
            raise ValueError(f"{width} s is not a multiple of {self.width} s")
        merged: dict[int, list[int]] = {}
        for index, counts in self.buckets.items():
            target = (index * self.width) // width
            into = merged.get(target)
            if into is None:
                merged[target] = list(counts)
                continue
            for i, value in enumerate(counts):
                into[i] = max(into[i], value) if i in self.max_columns else into[i] + value
        return merged


@dataclass
class Episode:
    """A crisis episode: from calm or watch into crisis, until back to calm (or the end)."""

    start: datetime
    end: datetime | None = None
    events: int = 0
    negative: int = 0
    escalated: int = 0
    peak_volume_1h: int = 0
    peak_negative_share_1h: float = 0.0
    reentries: int = 0  # recovery -> crisis again within the episode

    def hours(self, until: datetime) -> float:
        return ((self.end or until) - self.start).total_seconds() / 3600

    def to_json(self) -> dict[str, Any]:
        return {
            "start": iso(self.start),
            "end": iso(self.end) if self.end else None,
            "events": self.events,
            "negative": self.negative,
            "escalated": self.escalated,
            "peak_volume_1h": self.peak_volume_1h,
            "peak_negative_share_1h": self.peak_negative_share_1h,
            "reentries": self.reentries,
        }


def iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


@dataclass
class AccountSummary:
    """One account's decisions: counts, crisis episodes and a timeline."""

    account: str
    ruleset: str
    mapped: bool  # named in accounts.yaml; otherwise the default rule set decided
    events: int = 0
    duplicates: int = 0
    negative: int = 0
    degraded: int = 0
    actions: Counter[str] = field(default_factory=Counter)
    rules: Counter[str] = field(default_factory=Counter)
    first_us: int | None = None
    last_us: int | None = None
    level: str = "calm"
    transitions: int = 0
    last_transition: tuple[str, str, str] | None = None
    episodes: list[Episode] = field(default_factory=list)
    open_episode: Episode | None = None
    timeline: Timeline = field(
        default_factory=lambda: Timeline(FIRST_ACTION + len(ACTIONS), frozenset({LEVEL}))
    )

    def to_json(self) -> dict[str, Any]:
        return {
            "ruleset": self.ruleset,
            "mapped": self.mapped,
            "events": self.events,
            "duplicates": self.duplicates,
            "negative": self.negative,
            "degraded": self.degraded,
            "actions": dict(sorted(self.actions.items())),
            "rules": dict(self.rules.most_common()),
            "crisis_episodes": [e.to_json() for e in self.episodes],
            "level_at_end": self.level,
        }


AccountState = Callable[[str], Mapping[str, Any]]


# What `Summary.add` counts per fresh decision, settled into the counters on demand:
# (account, action, rule, route, negative, signal names, their sources).
Tally = tuple[str, str, str, str | None, bool, tuple[str, ...], tuple[str, ...]]
_SOURCE = operator.itemgetter("source")


class Summary:
    """Counts of one rule set's decisions in a replay; `add` is called once per decision.

    `add` runs for every event, so it counts one key per decision (the tally)
    and leaves the action, rule, route, source and per-account counters to
    `_settle`, which folds the tally in whenever they are read. The tally
    holds one entry per distinct outcome, not per event; as it is folded in
    the order its keys first appeared, ties in `most_common` fall as if every
    counter had been updated event by event.
    """

    def __init__(self, label: str, policy: LoadedPolicy, account_state: AccountState) -> None:
        # `account_state` reads the store's transitions when an account's level
        # changes, for the exact times of a crisis' start and end.
        self.label = label
        self.revision = policy.revision
        self.default_ruleset = policy.policy.default_ruleset
        self._mapping = policy.policy.accounts
        self.has_mapping = bool(self._mapping)
        self._account_state = account_state
        self.events = 0
        self.duplicates = 0
        self.degraded = 0
        self._actions: Counter[str] = Counter()
        self._rules: Counter[str] = Counter()
        self._routes: Counter[str] = Counter()
        self._rule_actions: dict[str, str] = {}
        self._signal_sources: Counter[tuple[str, str]] = Counter()
        self._accounts: dict[str, AccountSummary] = {}
        self._tally: Counter[Tally] = Counter()
        self.first_us: int | None = None
        self.last_us: int | None = None

    @property
    def actions(self) -> Counter[str]:
        self._settle()
        return self._actions

    @property
    def rules(self) -> Counter[str]:
        self._settle()
        return self._rules

    @property
    def routes(self) -> Counter[str]:
        self._settle()
        return self._routes

    @property
    def rule_actions(self) -> dict[str, str]:
        """The action of each rule's first decision."""
        self._settle()
        return self._rule_actions

    @property
    def signal_sources(self) -> Counter[tuple[str, str]]:
        self._settle()
        return self._signal_sources

    @property
    def accounts(self) -> dict[str, AccountSummary]:
        self._settle()
        return self._accounts

    def _settle(self) -> None:
        if not self._tally:
            return
        accounts = self._accounts
        for (name, action, rule, route, negative, signals, sources), count in self._tally.items():
            account = accounts[name]
            account.events += count
            account.negative += negative * count
            account.actions[action] += count
            account.rules[rule] += count
            self._actions[action] += count
            self._rules[rule] += count
            self._rule_actions.setdefault(rule, action)
            if route is not None:
                self._routes[route] += count
            for pair in zip(signals, sources, strict=True):
                # analyzer:<name>@<version> is kept whole: it says which analyzer filled it.
                self._signal_sources[pair] += count
        self._tally.clear()

    def add(
        self,
        event: Event,
        decision: Mapping[str, Any],
        duplicate: bool,
        at_us: int | None = None,
    ) -> None:
        """Count one decision; `at_us` is the event's time in UTC microseconds, when known."""
        account = self._accounts.get(event.account)
        if account is None:
            account = self._accounts[event.account] = AccountSummary(
                event.account,
                decision["ruleset"]["name"],
                event.account in self._mapping,
            )
        if duplicate:
            # The first decision again; nothing was counted for it.
            self.duplicates += 1
            account.duplicates += 1
            return
        if at_us is None:
            at_us = utc_micros(event.occurred_at)
        if self.first_us is None or at_us < self.first_us:
            self.first_us = at_us
        if self.last_us is None or at_us > self.last_us:
            self.last_us = at_us
        if account.first_us is None or at_us < account.first_us:
            account.first_us = at_us
        if account.last_us is None or at_us > account.last_us:
            account.last_us = at_us
        action = decision["action"]
        signals = decision["signals"]
        negative = signals["tone"]["value"] in NEGATIVE_TONES
        self.events += 1
        self._tally[
            (
                event.account,
                action,
                decision["rule"],
                decision["route"],
                negative,
                tuple(signals),
                tuple(map(_SOURCE, signals.values())),
            )
        ] += 1
        if decision.get("degraded"):
            self.degraded += 1
            account.degraded += 1
        state = decision["state"]
        level = state.get("crisis_level")
        if level is not None and level != account.level:
            self._follow_transitions(account)
            account.level = level
        episode = account.open_episode
        if episode is not None:
            episode.events += 1
            episode.negative += negative
            episode.escalated += action == "escalate"
            episode.peak_volume_1h = max(episode.peak_volume_1h, state.get("volume_1h", 0))
            episode.peak_negative_share_1h = max(
                episode.peak_negative_share_1h, state.get("negative_share_1h", 0.0)
            )
        counts = account.timeline.bucket(at_us // 1_000_000)
        counts[VOLUME] += 1
        counts[NEGATIVE] += negative
        counts[LEVEL] = max(counts[LEVEL], LEVEL_RANK.get(account.level, 0))
        counts[FIRST_ACTION + ACTION_INDEX[action]] += 1

    def _follow_transitions(self, account: AccountSummary) -> None:
        """Open and close episodes from the store's transitions since the last ones seen."""
        recent = self._account_state(account.account).get("transitions", [])
        new: list[Mapping[str, str]] = []
        for transition in recent:  # newest first
            key = (transition["from"], transition["to"], transition["at"])
            if key == account.last_transition:
                break
            new.append(transition)
        for transition in reversed(new):
            account.last_transition = (transition["from"], transition["to"], transition["at"])
            account.transitions += 1
            at = datetime.fromisoformat(transition["at"])
            episode = account.open_episode
            if transition["to"] == "crisis":
                if episode is None:
                    account.open_episode = Episode(at)
                    account.episodes.append(account.open_episode)
                else:
                    episode.reentries += 1
            elif transition["to"] in ("calm", "watch") and episode is not None:
                episode.end = at
                account.open_episode = None

    @property
    def episodes(self) -> int:
        return sum(len(a.episodes) for a in self.accounts.values())

    def unmapped_accounts(self) -> list[str]:
        """Accounts decided by the default rule set because accounts.yaml does not name them."""
        return sorted(a.account for a in self.accounts.values() if not a.mapped)

    def accounts_by_volume(self) -> list[AccountSummary]:
        return sorted(self.accounts.values(), key=lambda a: (-a.events, a.account))

    def end_time(self) -> datetime:
        """The newest event time seen (open episodes are measured up to it)."""
        return from_us(self.last_us or 0)

    def to_json(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "revision": self.revision,
            "events": self.events,
            "duplicates": self.duplicates,
            "degraded": self.degraded,
            "first_event": iso(from_us(self.first_us)) if self.first_us is not None else None,
            "last_event": iso(from_us(self.last_us)) if self.last_us is not None else None,
            "actions": {a: self.actions[a] for a in ACTIONS if self.actions[a]},
            "rules": dict(self.rules.most_common()),
            "routes": dict(self.routes.most_common()),
            "signal_sources": _nested(self.signal_sources.items()),
            "crisis_episodes": self.episodes,
            "default_ruleset": self.default_ruleset,
            "unmapped_accounts": self.unmapped_accounts(),
            "accounts": {a.account: a.to_json() for a in self.accounts_by_volume()},
        }


def _nested(items: Iterable[tuple[tuple[str, str], int]]) -> dict[str, dict[str, int]]:
    nested: dict[str, dict[str, int]] = {}
    for (name, source), count in sorted(items):
        nested.setdefault(name, {})[source] = count
    return nested


def from_us(micros: int) -> datetime:
    return datetime.fromtimestamp(micros // 1_000_000, UTC).replace(microsecond=micros % 1_000_000)
