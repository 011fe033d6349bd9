"""The rule engine: the only module that talks to durable_rules.

We drive durable_rules' C core (`durable_rules_engine`) directly instead of
its `Host`: a Host starts background dispatch threads that would run our
pending actions concurrently with the request thread, and registers rule sets
on a name it can never release. Here one evaluation is synchronous:

    assert the fact -> drain the queued actions (one per matching rule) -> retract

Every matching rule queues exactly one action for an asserted fact, so the
drained action names are the matched rule ids. The C core is not thread-safe
and never releases the GIL, so calls are serialized by one lock per process.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import threading
from collections.abc import Mapping
from typing import Any

import durable_rules_engine as _core
import orjson

from policy_service.errors import PolicyError
from policy_service.ruleset.catalogue import (
    FLOAT_MAX_MAGNITUDE,
    FLOAT_MIN_MAGNITUDE,
    engine_readable,
    fold_text,
)
from policy_service.ruleset.compiler import FACT_MARKER_KEY, FACT_MARKER_VALUE, EngineRules
from policy_service.ruleset.patterns import compile_pattern

# One lock for the whole process: the C core keeps global tables shared by
# every rule set handle, so two handles cannot be used concurrently either.
_CORE_LOCK = threading.Lock()
_NAMES = itertools.count(1)
_SESSION = "0"
# Result codes of the C core's assert calls (see durable.engine.Ruleset).
_NOT_HANDLED = 1
_OBSERVED = 2


def engine_number(value: float) -> float:
    """`value` as a float the core can read: tiny magnitudes become 0, huge ones are capped."""
    if abs(value) < FLOAT_MIN_MAGNITUDE:
        return 0.0
    if abs(value) >= FLOAT_MAX_MAGNITUDE:
        return FLOAT_MAX_MAGNITUDE if value > 0 else -FLOAT_MAX_MAGNITUDE
    return value


def _rule_of(message: str) -> str:
    """The rule id of a queued action, `{"<rule id>": {...the fact...}}`.

    Rule ids are letters, digits and ._:- (checked at load), so the key needs no
    unescaping, and reading it directly spares parsing the whole fact again.
    """
    start = message.index('"') + 1
    return message[start : message.index('"', start)]


class EngineError(PolicyError):
    """The engine refused a rule set or failed while evaluating a fact."""


class CompiledRules:
    """One rule set loaded into the engine; evaluates facts, returns matching rule ids."""

    def __init__(self, label: str, rules: EngineRules) -> None:
        # Handle names must be unique per process: a reload builds a new
        # handle beside the old one before the swap.
        self.name = f"{label}#{next(_NAMES)}"
        self._ids = itertools.count(1)
        try:
            with _CORE_LOCK:
                self._handle = _core.create_ruleset(self.name, json.dumps(rules.definitions))
        except Exception as exc:  # the core reports only "error code: NNN"
            raise EngineError(f"the engine refused rule set {label!r}: {exc}") from exc
        self._closed = False
        self._fact_keys = rules.fact_keys
        self._matchers = [
            (m.key, m.field_key, m.words, compile_pattern(m.pattern) if m.pattern else None)
            for m in rules.text_matchers
        ]

    def matching_rules(self, fact: Mapping[str, Any]) -> set[str]:
        """Ids of every rule whose condition holds for `fact` (a flat mapping; None is unknown)."""
        # The fact is prepared outside the lock: only the core's calls need it.
        # Only the keys some condition tests reach the engine: it parses the
        # fact's JSON twice (assert, retract), and a comment's text is most of it.
        # A None value is an unknown one: absent from the engine's fact.
        keys = self._fact_keys
        payload: dict[str, Any] = {}
        for key, value in fact.items():
            if value is not None and key in keys:
                if type(value) is float and not engine_readable(value):
                    value = engine_number(value)
                payload[key] = value
        folded: dict[str, str] = {}
        for key, field_key, words, pattern in self._matchers:
            text = fact.get(field_key)
            if isinstance(text, str):
                # Folded once per field, as the rule words were at load.
                found = folded.get(field_key)
                if found is None:
                    found = folded[field_key] = fold_text(text)
                if pattern is not None:
                    payload[key] = pattern.search(found) is not None
                else:
                    payload[key] = any(word in found for word in words)
        payload[FACT_MARKER_KEY] = FACT_MARKER_VALUE
        with _CORE_LOCK:
            if self._closed:
                raise EngineError(f"rule set {self.name} was closed")
            payload["id"] = next(self._ids)
            text = orjson.dumps(payload).decode()
            try:
                return self._evaluate(text)
            except Exception as exc:
                # Never leave a half-evaluated fact behind for the next caller.
                with contextlib.suppress(Exception):
                    _core.delete_state(self._handle, _SESSION)
                raise EngineError(f"the engine failed on a fact: {exc}") from exc

    def _evaluate(self, text: str) -> set[str]:
        code, state_handle = _core.assert_fact(self._handle, text)
        if code == _NOT_HANDLED:
            return set()
        if code == _OBSERVED:
            raise EngineError("the engine saw an identical fact still pending")
        matched: set[str] = set()
        started = _core.start_action_for_state(self._handle, state_handle)
        message = started[1] if started else None
        while message:
            # A rule whose `$or` holds in two branches is queued twice: a set.
            matched.add(_rule_of(message))
            message = _core.complete_and_start_action(self._handle, state_handle)
        _core.retract_fact(self._handle, text)
        return matched

    def close(self) -> None:
        """Free the rule set in the engine; later evaluations raise EngineError."""
        with _CORE_LOCK:
            if not self._closed:
                self._closed = True
                # delete_ruleset alone leaves the session's state behind
                # (about 250 KiB each, measured in bench/reloads.py).
                with contextlib.suppress(Exception):
                    _core.delete_state(self._handle, _SESSION)
                _core.delete_ruleset(self._handle)
