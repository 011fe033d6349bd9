"""Evaluator.decide: signals -> observe -> match -> record, the same for API, replay and tests."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from policy_service.analysis import Analyzer, Signal, resolve_signals
from policy_service.clock import Clock
from policy_service.errors import EventError
from policy_service.events import Event
from policy_service.loaded_policy import LoadedPolicy, LoadedRuleSet
from policy_service.ruleset.catalogue import engine_key
from policy_service.ruleset.model import Rule
from policy_service.state import Observation, StateStore


@dataclass(frozen=True)
class Decision:
    """The recommended action for one event, and why."""

    decision_id: str
    event_id: str
    account: str
    action: str
    rule: str
    matched_rules: tuple[str, ...]
    route: str | None
    respond_within_seconds: int | None
    guidance: str | None
    ruleset: str
    revision: str
    signals: Mapping[str, Signal]
    state: Mapping[str, Any]
    decided_at: datetime
    degraded: bool = False

    def to_json(self) -> dict[str, Any]:
        """The decision as the API returns it (without the `duplicate` flag)."""
        return {
            "decision_id": self.decision_id,
            "event_id": self.event_id,
            "account": self.account,
            "action": self.action,
            "rule": self.rule,
            "matched_rules": list(self.matched_rules),
            "route": self.route,
            "respond_within_seconds": self.respond_within_seconds,
            "guidance": self.guidance,
            "ruleset": {"name": self.ruleset, "revision": self.revision},
            "signals": {k: {"value": s.value, "source": s.source} for k, s in self.signals.items()},
            "state": dict(self.state),
            "decided_at": self.decided_at.isoformat().replace("+00:00", "Z"),
            "degraded": self.degraded,
        }


def decision_id(account: str, event_id: str) -> str:
    """A stable id: the same event of the same account always has the same decision id."""
    return "d-" + hashlib.sha256(f"{account}\0{event_id}".encode()).hexdigest()[:24]


class Evaluator:
    """Decides on events with the active policy, a state store, a clock and an analyzer."""

    def __init__(
        self,
        policy: Callable[[], LoadedPolicy],
        store: StateStore,
        clock: Clock,
        analyzer: Analyzer,
    ) -> None:
        # `policy` is called once per decision so a reload can swap it at any time.
        self._policy = policy
        self._store = store
        self._clock = clock
        self._analyzer = analyzer

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
        policy = self._policy()
        loaded = self._ruleset_for(policy, event, ruleset)
        signals = resolve_signals(event, self._analyzer)
        observed = self._store.observe(
            Observation(
                account=event.account,
                event_id=event.event_id,
                at=event.occurred_at,
                author_id=event.author.id,
                tone=str(signals["tone"].value),
            )
        )
        if observed.previous is not None:
            return dict(observed.previous), True
        state = dict(observed.fields)
        if given_state:
            state.update(given_state)
        now = self._clock.now()
        fact = build_fact(event, signals, state, now, loaded)
        matched = self._ranked(loaded, loaded.compiled.matching_rules(fact))
        winner = matched[0]
        decision = Decision(
            decision_id=decision_id(event.account, event.event_id),
            event_id=event.event_id,
            account=event.account,
            action=winner.then.action,
            rule=winner.id,
            matched_rules=tuple(r.id for r in matched),
            route=winner.then.route,
            respond_within_seconds=winner.then.respond_within_seconds,
            guidance=winner.then.guidance,
            ruleset=loaded.ruleset.name,
            revision=policy.revision,
            signals=signals,
            state=state,
            decided_at=now,
            degraded=observed.degraded,
        ).to_json()
        self._store.record(event.account, event.event_id, decision)
        return decision, False

    @staticmethod
    def _ruleset_for(policy: LoadedPolicy, event: Event, name: str | None) -> LoadedRuleSet:
        wanted = name or policy.policy.default_ruleset
        try:
            return policy.rulesets[wanted]
        except KeyError:
            raise EventError(f"no rule set named {wanted!r} is loaded") from None

    @staticmethod
    def _ranked(loaded: LoadedRuleSet, ids: set[str]) -> list[Rule]:
        rules = [loaded.ruleset.rule(rule_id) for rule_id in ids]
        if not rules:
            # The loader requires a default rule, so this means the engine and
            # the rule set disagree: fail loudly rather than answer `ignore`.
            raise EventError(f"no rule of {loaded.ruleset.name!r} matched, not even the default")
        return sorted(rules, key=lambda r: (r.priority, r.order))


def build_fact(
    event: Event,
    signals: Mapping[str, Signal],
    state: Mapping[str, Any],
    now: datetime,
    loaded: LoadedRuleSet,
) -> dict[str, Any]:
    """The flat fact the engine matches: catalogue fields, absent where unknown."""
    thresholds = loaded.ruleset.thresholds
    author = event.author
    minutes_since_comment = max(0.0, (now - event.occurred_at).total_seconds() / 60)
    values: dict[str, Any] = {
        "event.channel": event.channel,
        "event.lang": event.lang,
        # Case-folded with white space collapsed: the engine's case-insensitive
        # match knows only ASCII, and rule words are folded the same way.
        "event.text": " ".join(event.text.casefold().split()),
        "event.text_length": len(event.text),
        "author.reach": author.reach,
        "author.is_customer": author.is_customer,
        "author.verified": author.verified,
        "author.is_multiplier": (
            None if author.reach is None else author.reach >= thresholds.multiplier_reach
        ),
        "time.minutes_since_comment": minutes_since_comment,
        "time.is_stale": minutes_since_comment * 60 > thresholds.stale_after_seconds,
    }
    if event.thread is not None:
        values["thread.by_brand"] = event.thread.by_brand
        if event.thread.published_at is not None:
            since_post = (now - event.thread.published_at).total_seconds() / 60
            values["time.minutes_since_post"] = max(0.0, since_post)
    for name, signal in signals.items():
        values[f"signals.{name}"] = signal.value
    for name, value in state.items():
        values[f"state.{name}"] = value
    return {engine_key(k): v for k, v in values.items() if v is not None}
