"""Signals of a comment (tone, severity, ...): what the caller sent, completed by an analyzer."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from policy_service.events import Event

SIGNAL_NAMES = ("tone", "severity", "constructive")


@dataclass(frozen=True, slots=True)
class Signal:
    """One signal value and where it came from: caller, default, or analyzer:<name>@<version>."""

    value: Any
    source: str


class Analyzer(Protocol):
    """Computes the signals a caller left out."""

    def complete(self, event: Event, missing: tuple[str, ...]) -> dict[str, Signal]:
        """A Signal for every name in `missing`."""
        ...


class DefaultsAnalyzer:
    """Fills a missing signal with its neutral default, and says so."""

    DEFAULTS: dict[str, Any] = {"tone": "neutral", "severity": 0, "constructive": False}

    def complete(self, event: Event, missing: tuple[str, ...]) -> dict[str, Signal]:
        return {name: Signal(self.DEFAULTS[name], "default") for name in missing}


def resolve_signals(event: Event, analyzer: Analyzer) -> dict[str, Signal]:
    """Every signal of `event`: the caller's values first, the analyzer for the rest."""
    resolved: dict[str, Signal] = {}
    missing: list[str] = []
    for name in SIGNAL_NAMES:
        value = getattr(event.signals, name)
        if value is None:
            missing.append(name)
        else:
            resolved[name] = Signal(value, "caller")
    if missing:
        resolved.update(analyzer.complete(event, tuple(missing)))
    return resolved
