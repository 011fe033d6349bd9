"""Validated rule sets: immutable data the compiler and the evaluator can trust."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from policy_service.errors import Problem
from policy_service.ruleset.source import Pos


@dataclass(frozen=True)
class Comparison:
    """`field op value`, e.g. signals.severity gte 4."""

    field: str
    op: str
    value: Any
    pos: Pos


@dataclass(frozen=True)
class AllOf:
    items: tuple[Condition, ...]
    pos: Pos


@dataclass(frozen=True)
class AnyOf:
    items: tuple[Condition, ...]
    pos: Pos


@dataclass(frozen=True)
class Not:
    item: Condition
    pos: Pos


Condition = Comparison | AllOf | AnyOf | Not


@dataclass(frozen=True)
class Outcome:
    """What a rule recommends."""

    action: str
    route: str | None = None
    respond_within_seconds: int | None = None
    guidance: str | None = None


@dataclass(frozen=True)
class Rule:
    id: str
    priority: int
    when: Condition | None  # None: the default rule, which always matches
    then: Outcome
    description: str | None
    order: int  # position in the file: breaks ties between equal priorities
    pos: Pos


@dataclass(frozen=True)
class RuleTest:
    """An inline test: an event (partial, filled with defaults), a given state, expectations."""

    name: str
    event: dict[str, Any]
    expect: dict[str, Any]
    state: dict[str, Any] = field(default_factory=dict)
    after_seconds: int = 0  # the clock reads occurred_at plus this
    pos: Pos = Pos(1, 1)
    # the rails' state before the event: escalations_1h (count), author_answered (seconds ago)
    rails: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Thresholds:
    multiplier_reach: int = 10_000
    stale_after_seconds: int = 2 * 86400


@dataclass(frozen=True)
class CrisisLevels:
    """When an account enters `watch` and `crisis`, and how long calm lasts before leaving."""

    watch: Condition | None = None
    crisis: Condition | None = None
    cool_down_seconds: int = 2 * 3600


@dataclass(frozen=True)
class Rails:
    """Safety rails: limits on automated actions that hold whatever the rules say.

    None / empty: that rail is off.
    """

    escalations_per_hour: int | None = None  # past it, escalations fold into the open one
    exempt_roles: frozenset[str] = frozenset()  # authors who only get ignore / acknowledge
    answer_author_once_within_seconds: int | None = None  # one reply / acknowledge per author


@dataclass(frozen=True)
class RuleSet:
    """One validated rule set (one file)."""

    name: str
    path: str
    description: str | None
    thresholds: Thresholds
    rules: tuple[Rule, ...]
    tests: tuple[RuleTest, ...]
    crisis: CrisisLevels = CrisisLevels()
    warnings: tuple[Problem, ...] = ()
    rails: Rails | None = None  # None: the rule set has no rails section

    def rule(self, rule_id: str) -> Rule:
        return self.rules_by_id[rule_id]

    @cached_property
    def rules_by_id(self) -> dict[str, Rule]:
        """Rule ids are unique (checked at load): looked up once per matched rule."""
        return {r.id: r for r in self.rules}


@dataclass(frozen=True)
class Policy:
    """Every rule set of a rules directory, under one revision (content hash)."""

    revision: str
    rulesets: dict[str, RuleSet]
    default_ruleset: str = "default"
    # account -> rule set name, from accounts.yaml; other accounts get the default
    accounts: dict[str, str] = field(default_factory=dict)

    def ruleset_for(self, account: str) -> str:
        return self.accounts.get(account, self.default_ruleset)
