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
    "policy_store_seconds": ("histogram", "Time of one state store step, by operation."),
    "policy_analyzer_seconds": ("histogram", "Time to fill the signals a caller left out."),
    "policy_rate_limited_total": ("counter", "Requests or events refused by a rate limit."),
    "policy_rails_total": ("counter", "Events whose decision a safety rail changed, by rail."),
    "policy_folded_total": (
        "counter",
        "Escalations folded into the open one (duplicates not counted).",
    ),
}


class _Histogram:
    """Counts per bucket plus +Inf (cumulated only when exposed), and the sum."""

    __slots__ = ("buckets", "counts", "total")

    def __init__(self, buckets: tuple[float, ...]) -> None:
        self.buckets = buckets
        self.counts = [0] * (len(buckets) + 1)
        self.total = 0.0

    def observe(self, seconds: float) -> None:
        self.counts[bisect.bisect_left(self.buckets, seconds)] += 1
        self.total += seconds

    def copy(self) -> _Histogram:
        other = _Histogram(self.buckets)
        other.counts, other.total = list(self.counts), self.total
        return other

    def lines(self, name: str, labels: dict[str, str]) -> list[str]:
        out: list[str] = []
        running = 0
        for bound, n in zip((*map(_number, self.buckets), "+Inf"), self.counts, strict=True):
            running += n
            out.append(f"{name}_bucket{_labels(**labels, le=bound)} {running}")
        suffix = _labels(**labels) if labels else ""
        out.append(f"{name}_sum{suffix} {_number(self.total)}")
        out.append(f"{name}_count{suffix} {running}")
        return out


class Metrics:
    """The counters of one process; every method is thread-safe."""

    def __init__(self, buckets: Iterable[float] = DECISION_BUCKETS) -> None:
        self._lock = threading.Lock()
        self._buckets = tuple(sorted(buckets))
        self._decisions: dict[tuple[str, str], int] = {}
        self._requests: dict[tuple[str, int], int] = {}
        self._latency = _Histogram(self._buckets)
        self._store_latency: dict[str, _Histogram] = {}
        self._analyzer_latency = _Histogram(self._buckets)
        self._rate_limited: dict[str, int] = {}
        self._rails: dict[str, int] = {}
        self._folded = 0
        self._store_errors = 0
        self._degraded = 0
        self._reloads: dict[str, int] = {}
        self._last_reload: object = None

    def decision(
        self,
        action: str,
        rule: str,
        seconds: float,
        *,
        degraded: bool,
        rail: str | None = None,
        folded: bool = False,
    ) -> None:
        """Count one decision, its latency, and what the rails did to it."""
        with self._lock:
            key = (action, rule)
            self._decisions[key] = self._decisions.get(key, 0) + 1
            self._latency.observe(seconds)
            if degraded:
                self._degraded += 1
            if rail is not None:
                self._rails[rail] = self._rails.get(rail, 0) + 1
            if folded:
                self._folded += 1

    def store_time(self, operation: str, seconds: float) -> None:
        """The latency of one store step (observe, record)."""
        with self._lock:
            histogram = self._store_latency.get(operation)
            if histogram is None:
                histogram = self._store_latency[operation] = _Histogram(self._buckets)
            histogram.observe(seconds)

    def analyzer_time(self, seconds: float) -> None:
        with self._lock:
            self._analyzer_latency.observe(seconds)

    def rate_limited(self, limit: str) -> None:
        """One request (limit "token") or event (limit "account") refused."""
        with self._lock:
            self._rate_limited[limit] = self._rate_limited.get(limit, 0) + 1

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
            latency = self._latency.copy()
            store_latency = {op: h.copy() for op, h in self._store_latency.items()}
            analyzer_latency = self._analyzer_latency.copy()
            rate_limited = dict(self._rate_limited)
            rails = dict(self._rails)
            folded = self._folded
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
        out += latency.lines("policy_decision_seconds", {})
        header("policy_store_seconds")
        for operation, histogram in sorted(store_latency.items()):
            out += histogram.lines("policy_store_seconds", {"operation": operation})
        header("policy_analyzer_seconds")
        out += analyzer_latency.lines("policy_analyzer_seconds", {})
        header("policy_rate_limited_total")
        for limit, n in sorted(rate_limited.items()):
            out.append(f"policy_rate_limited_total{_labels(limit=limit)} {n}")
        header("policy_rails_total")
        for rail, n in sorted(rails.items()):
            out.append(f"policy_rails_total{_labels(rail=rail)} {n}")
        header("policy_folded_total")
        out.append(f"policy_folded_total {folded}")
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
