"""Signals of a comment: what the caller sent, completed by an analyzer (see the package)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from policy_service.analysis.base import TextAnalyzer
from policy_service.events import Event

SIGNAL_NAMES = ("lang", "tone", "severity", "constructive", "arousal", "topics")


@dataclass(slots=True, init=False)
class Signal:
    """One signal value and where it came from: caller, default, or analyzer:<name>@<version>."""

    # Six per decision: a written `__init__` is compiled, a generated one is
    # not (see event_model); not frozen for the same reason.
    value: Any
    source: str

    def __init__(self, value: Any, source: str) -> None:
        self.value = value
        self.source = source


class Analyzer(Protocol):
    """Computes the signals a caller left out."""

    def complete(self, event: Event, missing: tuple[str, ...]) -> dict[str, Signal]:
        """A Signal for every name in `missing`."""
        ...


class DefaultsAnalyzer:
    """Fills a missing signal with its neutral default, and says so (no text analysis)."""

    DEFAULTS: dict[str, Any] = {
        "lang": "und",
        "tone": "neutral",
        "severity": 0,
        "constructive": False,
        "arousal": 0.0,
        "topics": (),
    }

    def complete(self, event: Event, missing: tuple[str, ...]) -> dict[str, Signal]:
        return {name: Signal(self.DEFAULTS[name], "default") for name in missing}


class TextSignals:
    """Fills missing signals from a text analyzer, marked analyzer:<name>@<version>."""

    def __init__(self, analyzer: TextAnalyzer) -> None:
        self._analyzer = analyzer
        self._source = f"analyzer:{analyzer.name}@{analyzer.version}"

    def complete(self, event: Event, missing: tuple[str, ...]) -> dict[str, Signal]:
        analysis = self._analyzer.analyze(event.text, event.lang)
        return {name: Signal(getattr(analysis, name), self._source) for name in missing}


def caller_value(event: Event, name: str) -> Any:
    """The caller's value of a signal, or None; the language is the event's `lang`."""
    return event.lang if name == "lang" else getattr(event.signals, name)


def resolve_signals(event: Event, analyzer: Analyzer) -> dict[str, Signal]:
    """Every signal of `event`: the caller's values first, the analyzer for the rest."""
    resolved: dict[str, Signal] = {}
    missing: list[str] = []
    for name in SIGNAL_NAMES:
        value = caller_value(event, name)
        if value is None:
            missing.append(name)
        else:
            resolved[name] = Signal(value, "caller")
    if missing:
        resolved.update(analyzer.complete(event, tuple(missing)))
    return {name: resolved[name] for name in SIGNAL_NAMES}
