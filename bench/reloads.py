"""Resident memory and threads across many rule reloads in one process.

durable_rules' own Host starts timer threads per host and never releases a
registered rule set; this service drives the engine core directly and frees
each replaced revision. This script reloads two alternating revisions N
times through the service's Reloader (validate, compile, inline tests, swap)
with traffic in between, and prints RSS and thread counts as it goes.

    .venv/bin/python bench/reloads.py --reloads 200
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import tempfile
import threading
from datetime import UTC, datetime
from pathlib import Path

from policy_service.analysis import DefaultsAnalyzer
from policy_service.clock import FixedClock
from policy_service.evaluator import Evaluator
from policy_service.events import parse_event
from policy_service.loaded_policy import PolicyHolder
from policy_service.reloader import Reloader, load_tested
from policy_service.state.memory import MemoryStore

ROOT = Path(__file__).resolve().parent.parent


def rss_kib() -> int:
    """Current resident set size (VmRSS) of this process, in KiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reloads", type=int, default=200)
    parser.add_argument("--events-between", type=int, default=20)
    args = parser.parse_args()

    clock = FixedClock(datetime(2026, 11, 25, 12, tzinfo=UTC))
    with tempfile.TemporaryDirectory() as tmp:
        rules = Path(tmp) / "rules"
        rules.mkdir()
        source = (ROOT / "rules" / "default.yaml").read_text()
        shutil.copy(ROOT / "rules" / "default.yaml", rules / "default.yaml")
        holder = PolicyHolder(load_tested(rules, clock.now()))
        reloader = Reloader(rules, holder, clock)
        evaluator = Evaluator(holder, MemoryStore(), clock, DefaultsAnalyzer())
        samples: list[dict[str, int]] = []
        counter = 0
        for n in range(args.reloads + 1):
            if n:
                # Two revisions that differ by one guidance text, alternately.
                text = (
                    source
                    if n % 2 == 0
                    else source.replace("No rule calls for a reaction.", "Nothing to do.")
                )
                (rules / "default.yaml").write_text(text)
                status = reloader.reload()
                assert status.outcome == "loaded", status
            for _ in range(args.events_between):
                counter += 1
                event = parse_event(
                    {
                        "event_id": f"e{counter}",
                        "account": "bench",
                        "occurred_at": "2026-11-25T11:59:00Z",
                        "author": {"id": f"a{counter % 50}"},
                        "signals": {"tone": "negative"},
                    }
                )
                evaluator.decide(event)
            if n % 25 == 0:
                samples.append(
                    {"reloads": n, "rss_kib": rss_kib(), "threads": threading.active_count()}
                )
                print(
                    f"reloads {n:4d}  rss {samples[-1]['rss_kib']:7d} KiB  threads {samples[-1]['threads']}"
                )
        growth = samples[-1]["rss_kib"] - samples[1]["rss_kib"]
        print(
            json.dumps(
                {
                    "reloads": args.reloads,
                    "rss_kib_after_first_25": samples[1]["rss_kib"],
                    "rss_kib_at_end": samples[-1]["rss_kib"],
                    "rss_growth_kib": growth,
                    "threads_at_end": samples[-1]["threads"],
                }
            )
        )


if __name__ == "__main__":
    main()
