"""A validated policy together with its rule sets compiled into the engine."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from policy_service.engine import CompiledRules
from policy_service.ruleset.compiler import compile_ruleset, portable_condition
from policy_service.ruleset.loader import load_policy
from policy_service.ruleset.model import Policy, RuleSet
from policy_service.state import CrisisRules


@dataclass(frozen=True)
class LoadedRuleSet:
    ruleset: RuleSet
    compiled: CompiledRules
    crisis: CrisisRules


@dataclass(frozen=True)
class LoadedPolicy:
    """Everything a decision needs from the rules, under one revision."""

    policy: Policy
    rulesets: dict[str, LoadedRuleSet]
    loaded_at: datetime

    @property
    def revision(self) -> str:
        return self.policy.revision

    def close(self) -> None:
        """Free the engine's copies; only once no request uses this policy any more."""
        for loaded in self.rulesets.values():
            loaded.compiled.close()


def crisis_rules(ruleset: RuleSet) -> CrisisRules:
    """The rule set's crisis levels in the form the state stores evaluate."""
    levels = ruleset.crisis
    return CrisisRules(
        watch=portable_condition(levels.watch),
        crisis=portable_condition(levels.crisis),
        cool_down_seconds=levels.cool_down_seconds,
    )


def load(directory: Path, loaded_at: datetime) -> LoadedPolicy:
    """Validate and compile every rule file of `directory`.

    Raises RuleFileError (invalid files) or EngineError (engine refused them).
    """
    policy = load_policy(directory)
    loaded: dict[str, LoadedRuleSet] = {}
    try:
        for name, ruleset in policy.rulesets.items():
            compiled = CompiledRules(f"{name}@{policy.revision}", compile_ruleset(ruleset))
            loaded[name] = LoadedRuleSet(ruleset, compiled, crisis_rules(ruleset))
    except BaseException:
        for done in loaded.values():
            done.compiled.close()
        raise
    return LoadedPolicy(policy, loaded, loaded_at)


class PolicyHolder:
    """The active policy of a process; swapped as a whole, read without locks."""

    def __init__(self, initial: LoadedPolicy) -> None:
        self._current = initial

    def current(self) -> LoadedPolicy:
        return self._current

    def swap(self, new: LoadedPolicy) -> LoadedPolicy:
        """Make `new` active and return the policy it replaced."""
        old, self._current = self._current, new
        return old
