"""Regular expressions of rule files, compiled with RE2: linear time on any comment text.

Python's `re` backtracks (`^(\\w+\\s?)*$` takes seconds on a short comment) and
the engine's own regex automaton misses matches, so `matches` runs here.
"""

from __future__ import annotations

from typing import Any

import re2

MAX_PATTERN_CHARS = 500


def _options() -> Any:
    options = re2.Options()
    options.case_sensitive = False  # the text is case-folded anyway; patterns need not be
    options.never_capture = True
    options.log_errors = False  # errors are reported to the rule author, not to stderr
    return options


_OPTIONS = _options()


def compile_pattern(pattern: str) -> Any:
    """A compiled RE2 pattern; raises ValueError with RE2's reason when it does not compile."""
    if not pattern or len(pattern) > MAX_PATTERN_CHARS:
        raise ValueError(f"a pattern has 1 to {MAX_PATTERN_CHARS} characters")
    try:
        return re2.compile(pattern, _OPTIONS)
    except re2.error as exc:
        reason = exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else exc
        raise ValueError(f"regular expression does not compile: {reason}") from None
