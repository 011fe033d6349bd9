"""Hot reload: build a new revision aside, test it, swap it in; never serve a broken one."""

from __future__ import annotations

import hashlib
import logging
import threading
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from policy_service.clock import Clock
from policy_service.errors import PolicyError, RuleFileError
from policy_service.loaded_policy import LoadedPolicy, PolicyHolder, load
from policy_service.ruleset.loader import policy_files
from policy_service.ruletests import run_tests

log = logging.getLogger(__name__)


@dataclass
class ReloadStatus:
    """What the last reload attempt did, for GET /v1/rulesets and the logs."""

    attempted_at: datetime | None = None
    outcome: str = "initial"  # initial | unchanged | loaded | refused
    refused_revision: str | None = None
    errors: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "attempted_at": self.attempted_at.isoformat() if self.attempted_at else None,
            "outcome": self.outcome,
            "refused_revision": self.refused_revision,
            "errors": list(self.errors),
        }


def fingerprint(directory: Path) -> str:
    """A cheap digest of the policy files' names, sizes and modification times."""
    digest = hashlib.sha256()
    try:
        for path in policy_files(directory):
            stat = path.stat()
            digest.update(f"{path.name}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    except OSError as exc:
        digest.update(str(exc).encode())
    return digest.hexdigest()


class RulesRefused(PolicyError):
    """A revision failed validation, compilation or its inline tests."""

    def __init__(self, revision: str | None, errors: list[str]) -> None:
        self.revision = revision
        self.errors = errors
        super().__init__("\n".join(errors))


def load_checked(directory: Path, now: datetime) -> LoadedPolicy:
    """Load and compile a rules directory; RulesRefused (with every problem) when invalid."""
    try:
        return load(directory, now)
    except RuleFileError as exc:
        raise RulesRefused(None, [str(p) for p in exc.problems]) from None
    except (PolicyError, OSError) as exc:
        raise RulesRefused(None, [str(exc)]) from None


def failed_tests(policy: LoadedPolicy) -> list[str]:
    """The inline tests of `policy` that fail, one message each."""
    return [
        f"{o.location}: test {o.test.name!r} failed: {'; '.join(o.failures)}"
        for o in run_tests(policy).failed
    ]


def load_tested(directory: Path, now: datetime) -> LoadedPolicy:
    """Load a rules directory and run its inline tests; raise RulesRefused on any failure."""
    candidate = load_checked(directory, now)
    failures = failed_tests(candidate)
    if failures:
        candidate.close()
        raise RulesRefused(candidate.revision, failures)
    return candidate


class Reloader:
    """Keeps a PolicyHolder on the newest good revision of a rules directory."""

    def __init__(self, directory: Path, holder: PolicyHolder, clock: Clock) -> None:
        self._directory = directory
        self._holder = holder
        self._clock = clock
        self._lock = threading.Lock()  # one reload at a time
        self._seen = fingerprint(directory)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.status = ReloadStatus()

    def reload(self) -> ReloadStatus:
        """Validate, compile and test the directory's rules; swap them in when all pass."""
        with self._lock:
            self._seen = fingerprint(self._directory)
            status = ReloadStatus(attempted_at=self._clock.now())
            try:
                candidate = load_tested(self._directory, self._clock.now())
            except RulesRefused as refused:
                return self._refuse(status, refused.revision, refused.errors)
            if candidate.revision == self._holder.current().revision:
                candidate.close()
                status.outcome = "unchanged"
                self.status = status
                return status
            old = self._holder.swap(candidate)
            status.outcome = "loaded"
            self.status = status
            log.info("rules revision %s replaces %s", candidate.revision, old.revision)
            return status

    def _refuse(
        self, status: ReloadStatus, revision: str | None, errors: list[str]
    ) -> ReloadStatus:
        status.outcome = "refused"
        status.refused_revision = revision
        status.errors = errors
        self.status = status
        log.error(
            "rules change refused, revision %s keeps serving: %s",
            self._holder.current().revision,
            " | ".join(errors),
        )
        return status

    def check(self) -> None:
        """Reload when the directory's files changed since the last attempt."""
        if fingerprint(self._directory) != self._seen:
            self.reload()

    def watch(self, interval_seconds: float) -> None:
        """Check the directory every `interval_seconds` in a daemon thread."""
        if self._thread is not None:
            return

        def loop() -> None:
            while not self._stop.wait(interval_seconds):
                try:
                    self.check()
                except Exception:  # a watcher that dies would silently stop reloads
                    log.exception("rules watcher failed; it keeps watching")

        self._thread = threading.Thread(target=loop, name="rules-watcher", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
