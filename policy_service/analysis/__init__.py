"""Signals of a comment (tone, severity, ...): what the caller sent, completed by an analyzer.

The implementation lives in `signals` (a module the native build compiles;
a package's own `__init__` cannot be); this is its public face.
"""

from __future__ import annotations

from policy_service.analysis.signals import (
    SIGNAL_NAMES,
    Analyzer,
    DefaultsAnalyzer,
    Signal,
    TextSignals,
    caller_value,
    resolve_signals,
)

__all__ = [
    "SIGNAL_NAMES",
    "Analyzer",
    "DefaultsAnalyzer",
    "Signal",
    "TextSignals",
    "caller_value",
    "resolve_signals",
]
