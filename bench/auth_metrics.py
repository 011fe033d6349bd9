"""What access control and metrics cost per request, in one process.

Two apps of the same build on the same rules and the memory store:

- `plain`: no tokens (POLICY_DEV_NO_AUTH), metrics recording replaced by no-ops
  and the evaluator on the bare store and analyzer (no latency timing);
- `guarded`: a tokens file of several tokens (the caller's is the last one
  compared, not that it matters: every token is compared) and metrics recorded.

Rate limits are off in both: this measures access control and metrics only.
Both are called through the WSGI interface with the Flask test client, in
interleaved rounds (the order alternates), so drift of the machine affects
both alike. Reported: the median over rounds of the mean µs per request, and
the relative cost of `guarded` over `plain`. The test client's own work is in
both, so the relative cost is for a request as the app sees it, not as a
client behind gunicorn sees it (there it is smaller still).

    .venv/bin/python bench/auth_metrics.py [--rounds 15] [--requests 300]
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from policy_service.analysis.factory import analyzer_from_settings
from policy_service.app import create_app
from policy_service.clock import WallClock
from policy_service.evaluator import Evaluator
from policy_service.metrics import Metrics

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "bench-token-0123456789abcdef-last"
TARGET_PERCENT = 10.0


class NullMetrics(Metrics):
    """Records nothing: the `plain` build."""

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
        return None

    def request(self, endpoint: str, status: int) -> None:
        return None

    def store_error(self) -> None:
        return None

    def rate_limited(self, limit: str) -> None:
        return None


def _event(n: int) -> dict[str, Any]:
    return {
        "event_id": f"b-{n}",
        "account": "acme",
        "occurred_at": "2026-11-25T10:00:00Z",
        "channel": "instagram",
        "text": "The app logs me out every time, please fix",
        "lang": "en",
        "author": {"id": "u1", "reach": 1200, "is_customer": True, "verified": False},
        "thread": {"id": "p9", "published_at": "2026-11-25T08:00:00Z", "by_brand": True},
        "signals": {"tone": "negative", "severity": 2, "constructive": True},
    }


def _tokens_file(directory: Path, count: int) -> Path:
    lines = ["tokens:"]
    for n in range(count - 1):
        lines += [f"  - name: other-{n}", f'    token: "other-token-{n:04d}-0123456789"']
        lines += ["    scopes: [decide, read]"]
    lines += ["  - name: bench", f'    token: "{TOKEN}"', "    scopes: [decide, read]"]
    path = directory / "tokens.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def _build(tokens_file: Path | None) -> Flask:
    config: dict[str, object] = {
        "rules_dir": ROOT / "rules",
        "state_url": "memory://",
        "reload_interval": 0,
        "rate_limit_token": 0,
        "rate_limit_account": 0,
    }
    if tokens_file is not None:
        config["tokens_file"] = str(tokens_file)
    app = create_app(config)
    if tokens_file is None:
        services = app.extensions["policy_service"]
        # The same evaluator without the timing wrappers the factory puts around
        # the store and the analyzer for the latency histograms.
        settings = services.settings
        bare = Evaluator(
            services.policies,
            services.store,
            WallClock(),
            analyzer_from_settings(settings.analyzer, settings.analyzer_model),
        )
        app.extensions["policy_service"] = dataclasses.replace(
            services, metrics=NullMetrics(), evaluator=bare
        )
    return app


def _round(call: Callable[[int], int], start: int, requests: int) -> float:
    began = time.perf_counter()
    for n in range(start, start + requests):
        status = call(n)
        if status != 200:
            raise SystemExit(f"unexpected status {status}")
    return (time.perf_counter() - began) / requests * 1e6


def _measure(
    name: str,
    calls: dict[str, Callable[[int], int]],
    rounds: int,
    requests: int,
) -> tuple[float, float]:
    per_round: dict[str, list[float]] = {key: [] for key in calls}
    counter = 0
    # Warm-up: imports, caches, the first allocations of the stores.
    for call in calls.values():
        _round(call, 10_000_000 + counter, requests // 3 or 1)
        counter += requests
    for r in range(rounds):
        order = list(calls) if r % 2 == 0 else list(reversed(calls))
        for key in order:
            per_round[key].append(_round(calls[key], counter, requests))
            counter += requests
    plain = statistics.median(per_round["plain"])
    guarded = statistics.median(per_round["guarded"])
    print(
        f"{name:<22} plain {plain:8.1f} µs/req   guarded {guarded:8.1f} µs/req   "
        f"cost {guarded - plain:+7.1f} µs ({(guarded / plain - 1) * 100:+5.1f} %)"
    )
    return plain, guarded


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--requests", type=int, default=300, help="requests per round and app")
    parser.add_argument("--tokens", type=int, default=5, help="tokens in the file")
    args = parser.parse_args(argv)
    # The decision log line is the same in both builds; keep it off the terminal.
    logging.getLogger("policy_service").setLevel(logging.ERROR)
    with tempfile.TemporaryDirectory() as tmp:
        apps = {"plain": _build(None), "guarded": _build(_tokens_file(Path(tmp), args.tokens))}
    clients: dict[str, FlaskClient] = {key: app.test_client() for key, app in apps.items()}
    headers = {"Authorization": f"Bearer {TOKEN}"}

    def decide(client: FlaskClient) -> Callable[[int], int]:
        return lambda n: client.post("/v1/decisions", json=_event(n), headers=headers).status_code

    def rulesets(client: FlaskClient) -> Callable[[int], int]:
        return lambda n: client.get("/v1/rulesets", headers=headers).status_code

    print(
        f"{args.rounds} interleaved rounds of {args.requests} requests per app, "
        f"{args.tokens} tokens, median of the per-round means"
    )
    worst = 0.0
    for name, make in (("POST /v1/decisions", decide), ("GET /v1/rulesets", rulesets)):
        plain, guarded = _measure(
            name, {key: make(client) for key, client in clients.items()}, args.rounds, args.requests
        )
        worst = max(worst, (guarded / plain - 1) * 100)
    guard = apps["guarded"].extensions["policy_service.access"].registry
    metrics = apps["guarded"].extensions["policy_service"].metrics
    header = headers["Authorization"]
    loops = 20_000
    began = time.perf_counter()
    for _ in range(loops):
        guard.authorize(header, "decide")
    check = (time.perf_counter() - began) / loops * 1e6
    began = time.perf_counter()
    for _ in range(loops):
        metrics.request("/v1/decisions", 200)
        metrics.decision("ignore", "nothing-to-do", 0.001, degraded=False)
    record = (time.perf_counter() - began) / loops * 1e6
    print(f"in isolation: token check {check:.2f} µs, metrics of one decision {record:.2f} µs")
    verdict = "met" if worst < TARGET_PERCENT else "MISSED"
    print(
        f"target: under {TARGET_PERCENT:.0f} % on every endpoint: {verdict} (worst {worst:+.1f} %)"
    )
    for app in apps.values():
        app.extensions["policy_service"].policies.current().close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
