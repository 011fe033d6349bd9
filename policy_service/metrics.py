"""Prometheus metrics of one process, in the text exposition format 0.0.4.

Written by hand: a handful of counters and one histogram do not need a
client library. Every value lives in this process: with several gunicorn
workers each worker reports its own numbers (whichever answers the scrape),
so sum them in Prometheus (`sum without (instance, pod)`), or scrape through
a per-worker port. One lock guards plain dict increments, so recording costs
well under a microsecond.
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Iterable

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# Decision latency in seconds: most decisions take well under 10 ms; the top
# buckets catch a slow state store (0.25 s timeouts, up to 2 retries).
DECISION_BUCKETS: tuple[float, ...] = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
)

_HELP: dict[str, tuple[str, str]] = {
    "policy_decisions_total": ("counter", "Decisions given, by action and winning rule."),
    "policy_requests_total": ("counter", "HTTP requests answered, by endpoint and status."),
    "policy_decision_seconds": ("histogram", "Time to decide one event, in seconds."),
    "policy_store_errors_total": ("counter", "State store failures seen while answering."),
    "policy_reload_total": ("counter", "Rule reload attempts, by outcome."),
    "policy_rules_revision_info": ("gauge", "The rules revision this process serves (value 1)."),
    "policy_degraded_total": ("counter", "Decisions given without the full account state."),
}


class Metrics:
    """The counters of one process; every method is thread-safe."""

    def __init__(self, buckets: Iterable[float] = DECISION_BUCKETS) -> None:
        self._lock = threading.Lock()
        self._buckets = tuple(sorted(buckets))
        self._decisions: dict[tuple[str, str], int] = {}
        self._requests: dict[tuple[str, int], int] = {}
        # One slot per bucket plus +Inf; cumulated only when exposed.
        self._latency_counts = [0] * (len(self._buckets) + 1)
        self._latency_sum = 0.0
        self._store_errors = 0
        self._degraded = 0
        self._reloads: dict[str, int] = {}
        self._last_reload: object = None

    def decision(self, action: str, rule: str, seconds: float, *, degraded: bool) -> None:
        """Count one decision and its latency."""
        slot = bisect.bisect_left(self._buckets, seconds)
        with self._lock:
            key = (action, rule)
            self._decisions[key] = self._decisions.get(key, 0) + 1
            self._latency_counts[slot] += 1
            self._latency_sum += seconds
            if degraded:
                self._degraded += 1

    def request(self, endpoint: str, status: int) -> None:
        """Count one answered request; `endpoint` is the route template (bounded)."""
        key = (endpoint, status)
        with self._lock:
            self._requests[key] = self._requests.get(key, 0) + 1

    def store_error(self) -> None:
        with self._lock:
            self._store_errors += 1

    def reload_seen(self, status: object, outcome: str) -> None:
        """Count a reload attempt once, however often its status object is looked at.

        The reloader keeps only its last status (a new object per attempt); it
        is read after each POST /v1/admin/reload and at each scrape, so watcher
        reloads between two looks are counted as one (the latest). The
        "initial" status (the load at start) is not a reload.
        """
        if outcome == "initial":
            return
        with self._lock:
            if self._last_reload is status:
                return
            self._last_reload = status
            self._reloads[outcome] = self._reloads.get(outcome, 0) + 1

    def render(self, revision: str) -> str:
        """The exposition text (format 0.0.4) of every metric."""
        with self._lock:
            decisions = dict(self._decisions)
            requests = dict(self._requests)
            counts = list(self._latency_counts)
            total_seconds = self._latency_sum
            store_errors = self._store_errors
            degraded = self._degraded
            reloads = dict(self._reloads)
        out: list[str] = []

        def header(name: str) -> None:
            kind, text = _HELP[name]
            out.append(f"# HELP {name} {text}")
            out.append(f"# TYPE {name} {kind}")

        header("policy_decisions_total")
        for (action, rule), n in sorted(decisions.items()):
            out.append(f"policy_decisions_total{_labels(action=action, rule=rule)} {n}")
        header("policy_requests_total")
        for (endpoint, status), n in sorted(requests.items()):
            labels = _labels(endpoint=endpoint, status=str(status))
            out.append(f"policy_requests_total{labels} {n}")
        header("policy_decision_seconds")
        running = 0
        for bound, n in zip(self._buckets, counts, strict=False):
            running += n
            out.append(f'policy_decision_seconds_bucket{{le="{_number(bound)}"}} {running}')
        running += counts[-1]
        out.append(f'policy_decision_seconds_bucket{{le="+Inf"}} {running}')
        out.append(f"policy_decision_seconds_sum {_number(total_seconds)}")
        out.append(f"policy_decision_seconds_count {running}")
        header("policy_store_errors_total")
        out.append(f"policy_store_errors_total {store_errors}")
        header("policy_reload_total")
        for outcome, n in sorted(reloads.items()):
            out.append(f"policy_reload_total{_labels(outcome=outcome)} {n}")
        header("policy_rules_revision_info")
        out.append(f"policy_rules_revision_info{_labels(revision=revision)} 1")
        header("policy_degraded_total")
        out.append(f"policy_degraded_total {degraded}")
        return "\n".join(out) + "\n"


def _labels(**values: str) -> str:
    inner = ",".join(f'{key}="{_escape(value)}"' for key, value in values.items())
    return "{" + inner + "}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: float) -> str:
    return repr(float(value))
