"""Exception root of the package; every expected failure derives from PolicyError."""

from __future__ import annotations

from dataclasses import dataclass


class PolicyError(Exception):
    """Root of every error this package raises on purpose."""


@dataclass(frozen=True, order=True)
class Problem:
    """One problem found in a rule file, with its position (1-based line and column)."""

    path: str
    line: int
    column: int
    message: str
    severity: str = "error"
    hint: str | None = None

    def __str__(self) -> str:
        text = f"{self.path}:{self.line}:{self.column}: {self.severity}: {self.message}"
        if self.hint:
            text += f" (hint: {self.hint})"
        return text


class RuleFileError(PolicyError):
    """A rule file or rule set is invalid; carries every problem found, not just the first."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class ConfigError(PolicyError):
    """The service's configuration (environment) is invalid."""


class EventError(PolicyError):
    """An event cannot be decided (e.g. an account without a rule set)."""


class RateLimited(PolicyError):
    """A rate limit refused the request or event; it may be sent again after a while."""

    def __init__(self, limit: str, retry_after_seconds: float) -> None:
        super().__init__(f"the {limit} rate limit is reached; retry in {retry_after_seconds:g} s")
        self.limit = limit  # "token" or "account"
        self.retry_after_seconds = retry_after_seconds


class StoreUnavailable(PolicyError):
    """The state store could not be reached within its time budget."""
