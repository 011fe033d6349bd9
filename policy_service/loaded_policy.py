"""A validated policy together with its rule sets compiled into the engine."""

from __future__ import annotations

import threading
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

    def ruleset_for(self, account: str) -> LoadedRuleSet:
        """The rule set deciding for `account` (accounts.yaml, or the default)."""
        return self.rulesets[self.policy.ruleset_for(account)]

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
    """The active policy of a process: swapped as a whole, closed when its last user is done.

    A request takes the policy once (`use`) and decides with it to the end, so
    a reload in the middle never mixes two revisions in one answer, and a
    replaced policy is freed in the engine only when no request holds it.
    """

    def __init__(self, initial: LoadedPolicy) -> None:
        self._lock = threading.Lock()
        self._current = initial
        self._users: dict[int, int] = {}
        self._retired: dict[int, LoadedPolicy] = {}

    def current(self) -> LoadedPolicy:
        return self._current

    def use(self) -> _Use:
        """The active policy, held until the `with` block ends."""
        return _Use(self)

    def _acquire(self) -> LoadedPolicy:
        with self._lock:
            policy = self._current
            self._users[id(policy)] = self._users.get(id(policy), 0) + 1
            return policy

    def _release(self, policy: LoadedPolicy) -> None:
        with self._lock:
            left = self._users[id(policy)] - 1
            if left:
                self._users[id(policy)] = left
                return
            del self._users[id(policy)]
            retired = self._retired.pop(id(policy), None)
        if retired is not None:
            retired.close()

    def swap(self, new: LoadedPolicy) -> LoadedPolicy:
        """Make `new` active; the replaced policy is closed once no request uses it."""
        with self._lock:
            old, self._current = self._current, new
            if id(old) in self._users:
                self._retired[id(old)] = old
            else:
                old.close()
        return old


class _Use:
    """A plain context manager (cheaper than a generator on every decision)."""

    __slots__ = ("_holder", "_policy")

    def __init__(self, holder: PolicyHolder) -> None:
        self._holder = holder

    def __enter__(self) -> LoadedPolicy:
        self._policy = self._holder._acquire()
        return self._policy

    def __exit__(self, *_: object) -> None:
        self._holder._release(self._policy)


class FixedPolicy:
    """A policy source that never changes (rule tests, replays).

    It is its own context manager: holding a policy that is never swapped
    needs no state, and a replay enters it for every event, where a
    generator-based one cost a generator and a wrapper each time.
    """

    __slots__ = ("_policy",)

    def __init__(self, policy: LoadedPolicy) -> None:
        self._policy = policy

    def current(self) -> LoadedPolicy:
        return self._policy

    def use(self) -> FixedPolicy:
        return self

    def __enter__(self) -> LoadedPolicy:
        return self._policy

    def __exit__(self, *_: object) -> None:
        return None
