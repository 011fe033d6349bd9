"""Evaluator.decide: signals -> observe -> match -> record, the same for API, replay and tests."""

from __future__ import annotations

import contextlib
import hashlib
import logging
from collections.abc import Callable, Iterable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from policy_service.analysis import SIGNAL_NAMES, Analyzer, Signal, resolve_signals
from policy_service.clock import Clock
from policy_service.errors import EventError, RateLimited, StoreUnavailable
from policy_service.events import Event
from policy_service.loaded_policy import LoadedPolicy, LoadedRuleSet
from policy_service.rails import apply_rails
from policy_service.ruleset.catalogue import BY_NAME, engine_key, set_member_key
from policy_service.ruleset.model import Rule, Thresholds
from policy_service.state import AccountLimit, Observation, Observed, StateStore, fold
from policy_service.timefmt import utc_text

log = logging.getLogger(__name__)

# Clocks of callers and of the service drift a little; beyond this an event
# from the future is refused rather than counted in windows not yet open.
FUTURE_TOLERANCE = timedelta(minutes=5)
PENDING_WAIT_SECONDS = 1.0


def decision_json(
    event: Event,
    found: Match,
    loaded: LoadedRuleSet,
    revision: str,
    signals: dict[str, Signal],
    state: dict[str, Any],
    decided_at: datetime,
    degraded: bool,
) -> dict[str, Any]:
    """The recommended action for one event, and why, as the API returns it
    (without the `duplicate` flag)."""
    # Dictionaries, not mappings: the compiled code walks a dict's items
    # directly, a mapping's through a method call.
    # Built as JSON data directly: a decision is made for every request, and
    # an intermediate object costs as much again as the dictionary.
    winner = found.rules[0]
    then = winner.then
    return {
        "decision_id": decision_id(event.account, event.event_id),
        "event_id": event.event_id,
        "account": event.account,
        "action": then.action,
        "rule": winner.id,
        "matched_rules": [r.id for r in found.rules],
        "route": then.route,
        "respond_within_seconds": then.respond_within_seconds,
        "guidance": then.guidance,
        "ruleset": {"name": loaded.ruleset.name, "revision": revision},
        "signals": {k: {"value": s.value, "source": s.source} for k, s in signals.items()},
        "state": dict(state),
        "time": {k: round(v, 1) if type(v) is float else v for k, v in found.times.items()},
        "decided_at": utc_text(decided_at),
        "degraded": degraded,
    }


def decision_id(account: str, event_id: str) -> str:
    """A stable id: the same event of the same account always has the same decision id."""
    return "d-" + hashlib.sha256(f"{account}\0{event_id}".encode()).hexdigest()[:24]


class PolicySource(Protocol):
    """Where the evaluator takes its policy: once per decision, held to the end."""

    def use(self) -> AbstractContextManager[LoadedPolicy]: ...


@dataclass(slots=True, init=False)
class Match:
    """What the rules say about one fact: every matching rule, winner first."""

    # One per decision: a written `__init__` is compiled (see event_model).
    rules: tuple[Rule, ...]
    times: dict[str, Any]

    def __init__(self, rules: tuple[Rule, ...], times: dict[str, Any]) -> None:
        self.rules = rules
        self.times = times

    @property
    def winner(self) -> Rule:
        return self.rules[0]


def match(
    loaded: LoadedRuleSet,
    event: Event,
    signals: Mapping[str, Signal],
    state: Mapping[str, Any],
    now: datetime,
    crisis_since: datetime | None,
) -> Match:
    """Evaluate one event, with its signals and state, against one loaded rule set."""
    thresholds = loaded.ruleset.thresholds
    times = time_fields(event, now, thresholds, crisis_since, state.get("crisis_level"))
    fact = build_fact(event, signals, state, times, thresholds)
    ids = loaded.compiled.matching_rules(fact)
    if not ids:
        # The loader requires a default rule, so this means the engine and the
        # rule set disagree: fail loudly rather than answer `ignore`.
        raise EventError(f"no rule of {loaded.ruleset.name!r} matched, not even the default")
    by_id = loaded.ruleset.rules_by_id
    rules = sorted((by_id[i] for i in ids), key=_precedence)
    return Match(tuple(rules), times)


def _precedence(rule: Rule) -> tuple[int, int]:
    # Lower priority numbers win; equal ones go by their order in the file.
    return (rule.priority, rule.order)


class ShadowObserver(Protocol):
    """Sees every fresh decision and the inputs that made it (shadow evaluation)."""

    def observe(
        self,
        event: Event,
        signals: Mapping[str, Signal],
        state: Mapping[str, Any],
        now: datetime,
        crisis_since: datetime | None,
        decision: Mapping[str, Any],
    ) -> None: ...


DecisionSink = Callable[[Event, Mapping[str, Any]], None]


class Evaluator:
    """Decides on events with the active policy, a state store, a clock and an analyzer."""

    def __init__(
        self,
        policies: PolicySource,
        store: StateStore,
        clock: Clock,
        analyzer: Analyzer,
        shadow: ShadowObserver | None = None,
        sink: DecisionSink | None = None,
        account_limit: AccountLimit | None = None,
    ) -> None:
        # `sink` sees every fresh decision with its event (e.g. capture for replays).
        # `account_limit`: the API's per-account rate limit (replays and tests have none).
        self._account_limit = account_limit
        self._policies = policies
        self._store = store
        self._clock = clock
        self._analyzer = analyzer
        self._shadow = shadow
        self._sink = sink

    def decide(
        self,
        event: Event,
        ruleset: str | None = None,
        given_state: Mapping[str, Any] | None = None,
    ) -> tuple[dict[str, Any], bool]:
        """The decision (as JSON data) for `event`, and whether it is a duplicate.

        `ruleset` forces a rule set (rule tests); `given_state` overrides the
        store's `state.*` values (rule tests describe the state they need).
        """
        with self._policies.use() as policy:
            return self._decide(policy, event, ruleset, given_state)

    def _decide(
        self,
        policy: LoadedPolicy,
        event: Event,
        ruleset: str | None,
        given_state: Mapping[str, Any] | None,
    ) -> tuple[dict[str, Any], bool]:
        loaded = self._ruleset_for(policy, event, ruleset)
        now = self._clock.now()
        if event.occurred_at - now > FUTURE_TOLERANCE:
            raise EventError(
                f"occurred_at {event.occurred_at.isoformat()} is more than "
                f"{int(FUTURE_TOLERANCE.total_seconds())} s ahead of the service's clock"
            )
        signals = resolve_signals(event, self._analyzer)
        now_ms = int(now.timestamp() * 1000)
        observed = self._observe(event, signals, loaded, now_ms)
        if observed.retry_after_ms:
            raise RateLimited("account", observed.retry_after_ms / 1000)
        if observed.previous is not None:
            return dict(observed.previous), True
        duplicate = False
        if observed.pending:
            # Another request is deciding this very event: give its answer.
            try:
                previous = self._store.wait_for_decision(
                    event.account, event.event_id, PENDING_WAIT_SECONDS
                )
            except StoreUnavailable:
                previous = None
            if previous is not None:
                return dict(previous), True
            # It did not finish in time: answer from the snapshot, count nothing.
            duplicate = True
        state = dict(observed.fields)
        if given_state:
            state.update(given_state)
        try:
            found = match(loaded, event, signals, state, now, observed.crisis_since)
        except BaseException:
            if not duplicate and not observed.degraded:
                # The event is counted but gets no decision: its next copy must be
                # decided without being counted again, not wait for this one.
                with contextlib.suppress(StoreUnavailable):
                    self._store.abandon(event.account, event.event_id)
            raise
        decision = decision_json(
            event, found, loaded, policy.revision, signals, state, now, observed.degraded
        )
        if observed.problems:
            decision["state_problems"] = list(observed.problems)
        marks = apply_rails(loaded.ruleset.rails, event, decision, observed.rails, now_ms)
        if not duplicate and not observed.degraded:
            try:
                into = self._store.record(event.account, event.event_id, decision, marks)
                if into is not None:
                    fold(decision, into)
            except StoreUnavailable as exc:
                # The answer stands; only its replay for a duplicate is lost.
                log.warning("decision for %s not recorded: %s", event.event_id, exc)
                decision["degraded"] = True
                decision["state_problems"] = [f"decision not recorded: {exc}"]
        if self._shadow is not None and not duplicate:
            self._shadow.observe(event, signals, state, now, observed.crisis_since, decision)
        if self._sink is not None and not duplicate:
            self._sink(event, decision)
        return decision, duplicate

    def _observe(
        self, event: Event, signals: Mapping[str, Signal], loaded: LoadedRuleSet, now_ms: int
    ) -> Observed:
        observation = Observation(
            account=event.account,
            event_id=event.event_id,
            at=event.occurred_at,
            author_id=event.author.id,
            tone=str(signals["tone"].value),
            is_multiplier=bool(is_multiplier(event, loaded.ruleset.thresholds)),
            is_customer=event.author.is_customer,
            thread_id=event.thread.id if event.thread else None,
            crisis=loaded.crisis,
            now_ms=now_ms,
            limit=self._account_limit,
            rails=loaded.ruleset.rails is not None,
        )
        try:
            return self._store.observe(observation)
        except StoreUnavailable as exc:
            # The rules still decide, without state: every state.* field is
            # unknown (comparisons on it are false) and the answer says so.
            log.warning("state unavailable for %s: %s", event.event_id, exc)
            return Observed({}, degraded=True, problems=(f"state not read: {exc}",))

    @staticmethod
    def _ruleset_for(policy: LoadedPolicy, event: Event, name: str | None) -> LoadedRuleSet:
        wanted = name or policy.policy.ruleset_for(event.account)
        try:
            return policy.rulesets[wanted]
        except KeyError:
            raise EventError(f"no rule set named {wanted!r} is loaded") from None


def time_fields(
    event: Event,
    now: datetime,
    thresholds: Thresholds,
    crisis_since: datetime | None,
    crisis_level: str | None,
) -> dict[str, Any]:
    """The `time.*` values, from the injected clock's `now`; absent where unknown."""

    def minutes_since(then: datetime) -> float:
        return max(0.0, (now - then).total_seconds() / 60)

    since_comment = minutes_since(event.occurred_at)
    values: dict[str, Any] = {
        "minutes_since_comment": since_comment,
        "is_stale": since_comment * 60 > thresholds.stale_after_seconds,
    }
    if event.thread is not None and event.thread.published_at is not None:
        values["minutes_since_post"] = minutes_since(event.thread.published_at)
    if crisis_since is not None:
        values["minutes_in_crisis"] = minutes_since(crisis_since)
    elif crisis_level in ("crisis", "recovery"):
        # A rule test that gives the level without a start: the crisis starts now.
        values["minutes_in_crisis"] = 0.0
    return values


def is_multiplier(event: Event, thresholds: Thresholds) -> bool | None:
    reach = event.author.reach
    return None if reach is None else reach >= thresholds.multiplier_reach


def _prefixed(prefix: str, names: Iterable[str]) -> dict[str, str]:
    return {name: engine_key(f"{prefix}.{name}") for name in names}


# Engine keys of the signal, state and time fields, looked up rather than built
# for every fact.
_SIGNAL_KEYS = _prefixed("signals", SIGNAL_NAMES)
_STATE_KEYS = _prefixed(
    "state", (f.removeprefix("state.") for f in BY_NAME if f.startswith("state."))
)
_TIME_KEYS = _prefixed("time", (f.removeprefix("time.") for f in BY_NAME if f.startswith("time.")))


def build_fact(
    event: Event,
    signals: Mapping[str, Signal],
    state: Mapping[str, Any],
    times: Mapping[str, Any],
    thresholds: Thresholds,
) -> dict[str, Any]:
    """The flat fact the engine matches: catalogue fields, None where unknown.

    The engine reads only the keys its rules test and treats None as absent;
    the text is given as written (the engine folds it for its text matchers,
    only when a rule matches on it).
    """
    author = event.author
    values: dict[str, Any] = {
        "event__channel": event.channel,
        "event__text": event.text,
        "event__text_length": len(event.text),
        "author__reach": author.reach,
        "author__is_customer": author.is_customer,
        "author__verified": author.verified,
        "author__role": author.role,
        "author__is_multiplier": is_multiplier(event, thresholds),
        "thread__by_brand": event.thread.by_brand if event.thread else None,
    }
    for name, signal in signals.items():
        if name == "topics":
            # A set reaches the engine as one true key per member.
            for topic in signal.value:
                values[set_member_key(_SIGNAL_KEYS[name], topic)] = True
        else:
            values[_SIGNAL_KEYS[name]] = signal.value
    for name, value in state.items():
        # Only catalogue fields reach the engine; a store may keep more.
        key = _STATE_KEYS.get(name)
        if key is not None:
            values[key] = value
    for name, value in times.items():
        values[_TIME_KEYS[name]] = value
    return values
