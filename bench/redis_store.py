"""What the Redis store costs per decision by itself: one observe and one record.

Without HTTP, Flask or the rule engine: the store's own CPU in this process
and the redis-server's, per decision, and the commands the scripts run. The
events follow bench/post_event.lua (three accounts, the same tones, authors
and threads), with the default rules' crisis conditions and rails, and a rate
limit that refuses nothing. Two spreads of event times:

- `dense`: 10 ms apart, so a run fills a few minute buckets, as a short run
  of decisions.py does;
- `spread`: 700 ms apart, so the hour's 60 minute buckets fill, as real
  traffic does.

    .venv/bin/python bench/redis_store.py [--events 5000] [--rounds 3]

Rounds alternate between the spreads, each on a fresh database; the report is
the median over rounds. Needs redis-server on PATH (started on a free port).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from decisions import RedisServer, cpu_seconds

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from policy_service.loaded_policy import load  # noqa: E402
from policy_service.state import AccountLimit, Observation, RailsMarks  # noqa: E402
from policy_service.state.redis_store import RedisStore  # noqa: E402

T0 = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
SPREADS_MS = {"dense": 10, "spread": 700}
WARMUP = 300
# bench/post_event.lua's comments: account, tone, multiplier, customer, thread
COMMENTS = [
    ("acme", "negative", False, True, "p9"),
    ("acme", "positive", False, True, "p9"),
    ("globex", "hostile", False, False, None),
    ("acme", "hostile", True, True, "v-launch"),
    ("initech", "neutral", False, True, None),
    ("globex", "negative", False, None, None),
    ("initech", "negative", False, False, None),
    ("globex", "negative", True, True, "p-summer"),
    ("acme", "neutral", False, None, "p12"),
]
# A decision of the usual size, with the text the record step may fold.
DECISION = {
    "decision_id": "d",
    "action": "reply_to_fans",
    "folded": False,
    "rail": None,
    "route": "community",
    "guidance": "Thank them by name and keep it short. " * 8,
    "matched_rules": ["fan-praise", "crisis-fan-support"],
    "state": {"volume_1h": 120, "negative_share_1h": 0.5, "crisis_level": "crisis"},
}


def decide_all(store: RedisStore, spread_ms: int, numbers: Iterable[int]) -> None:
    """Decision `n` for every n of `numbers`: the observe step and the record, as the service does."""
    crisis = load(ROOT / "rules", T0).rulesets["default"].crisis
    limit = AccountLimit(per_window=10**9, window_ms=60_000)
    for n in numbers:
        account, tone, multiplier, customer, thread = COMMENTS[n % len(COMMENTS)]
        at = T0 + timedelta(milliseconds=n * spread_ms)
        now_ms = int(at.timestamp() * 1000)
        author = f"u{n % 997}"
        obs = Observation(
            account, f"e{n}", at, author, tone, multiplier, customer, thread,
            crisis, now_ms, limit, rails=True,
        )  # fmt: skip
        store.observe(obs)
        # escalations for the hostile ones, answers for praise and questions
        marks = None
        if tone == "hostile":
            marks = RailsMarks(now_ms, f"d{n}", escalation_cap=5)
        elif tone in ("positive", "neutral"):
            marks = RailsMarks(now_ms, f"d{n}", answered_author=author, answered_keep_ms=3_600_000)
        store.record(account, f"e{n}", DECISION, marks)


def run(spread_ms: int, events: int) -> dict[str, float]:
    """One round on a fresh redis-server: µs per decision and commands per decision."""
    with tempfile.TemporaryDirectory() as tmp:
        server = RedisServer(Path(tmp) / "redis-server.log")
        server.start()
        store = RedisStore.from_url(server.url)
        try:
            decide_all(store, spread_ms, range(WARMUP))
            server.reset_stats()
            server_before = cpu_seconds([server.pid])
            own_before = os.times()
            decide_all(store, spread_ms, range(WARMUP, WARMUP + events))
            own_after = os.times()
            server_after = cpu_seconds([server.pid])
            counts = server.counts((server_after or 0.0) - (server_before or 0.0))
        finally:
            store.close()
            server.close()
    own = own_after.user - own_before.user + own_after.system - own_before.system
    return {
        "client CPU us": own * 1e6 / events,
        "redis-server CPU us": (counts.cpu_seconds or 0.0) * 1e6 / events,
        "round trips": counts.round_trips / events,
        "commands in scripts": counts.script_commands / events,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=5000, help="decisions per round [5000]")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per spread [3]")
    args = parser.parse_args()
    results: dict[str, list[dict[str, float]]] = {name: [] for name in SPREADS_MS}
    for _ in range(args.rounds):
        for name, spread in SPREADS_MS.items():
            results[name].append(run(spread, args.events))
    columns = list(results["dense"][0])
    print(f"{'per decision':<12}  " + "  ".join(f"{c:>19}" for c in columns))
    for name, rounds in results.items():
        medians = [statistics.median(r[c] for r in rounds) for c in columns]
        print(f"{name:<12}  " + "  ".join(f"{m:>19.2f}" for m in medians))


if __name__ == "__main__":
    main()
