"""Replay throughput on the airline tweets against durable_rules' raw `post` rate, in one process.

Targets, measured in interleaved rounds (A B C A B C ...) so that a busy
neighbour slows every side alike; the report is the median of the rounds:

- `replay`: what `policy-service replay EVENTS --out FILE` does after loading
  the rules: read, validate and order the file, decide every event through the
  Evaluator (memory store, virtual clock, the replay's analyzer for the signals
  the file leaves out), write every decision, keep the summary. With
  `--reader auto` (the command's default) a file of this size is read,
  validated and analyzed in a second process while this one decides, when
  others leave half a core idle (sampled from /proc/stat before each round; the
  report says in how many rounds, and how many of those readers were forks);
- `replay-inline`: the same in this process alone (`--reader inline`): every
  step, text analysis included, on one core;
- `replay-defaults`: the same with neutral defaults instead of text analysis
  (shows what the analyzer costs);
- `evaluator-only`: `Evaluator.decide` alone on events parsed beforehand, with
  the neutral defaults and a fresh memory store: no reading, ordering,
  validation, summary or output. No replay can be faster than this;
  `replay-defaults` against it is what the replay machinery costs;
- `raw-post`: durable_rules' own `Host.post` of one prebuilt fact per event
  into a rule set with the same rules (the compiled definitions of the
  rules directory's `default` rule set, so the same number and shape of
  conditions), with a no-op action, on a Host without its dispatch threads
  (QuietHost). No validation, no state, no signals, no output: the engine
  alone.

    .venv/bin/python bench/replay.py --rounds 5

`CPU us/event` is the median CPU time per event of the target's timed part,
the reader process's included (so for `replay` it is the sum of two
processes that run side by side, shown apart below the table): it grows less
than the wall-clock rate when a neighbour takes the cores.

Results also go to bench/results/replay-<timestamp>.json. The target of the
issue: replay >= 0.5 x raw-post.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import json
import os
import platform
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from durable.engine import Host

from policy_service.analysis import Analyzer, DefaultsAnalyzer, resolve_signals
from policy_service.clock import FixedClock
from policy_service.evaluator import Evaluator, build_fact, time_fields
from policy_service.events import Event, parse_event
from policy_service.loaded_policy import FixedPolicy, LoadedPolicy
from policy_service.replay.analyzer import replay_analyzer
from policy_service.replay.convert import Conversion, convert_csv
from policy_service.replay.ordering import fork_safe, helper_worthwhile, open_events
from policy_service.replay.runner import Replay, Side, load_rules
from policy_service.ruleset.catalogue import fold_text
from policy_service.ruleset.compiler import FACT_MARKER_KEY, FACT_MARKER_VALUE, compile_ruleset
from policy_service.state.memory import MemoryStore

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
RESULTS_DIR = BENCH_DIR / "results"
AIRLINE_CSV = ROOT.parent / "shared" / "data" / "airline-tweets" / "Tweets.csv"
GOAL_RATIO = 0.5
# A typical state snapshot for the raw engine's facts: the engine's cost hardly
# depends on the values, only on the keys it has to read.
STATE: dict[str, Any] = {
    "crisis_level": "watch",
    "volume_1h": 42,
    "negative_1h": 25,
    "hostile_1h": 1,
    "positive_1h": 6,
    "negative_share_1h": 0.595,
    "non_customer_share_1h": 0.0,
    "volume_24h": 380,
    "velocity": 2.8,
    "multipliers_1h": 0,
    "author_negative_24h": 1,
    "thread_negative_1h": 0,
}


def airline_events(csv_path: Path, target: Path) -> Path:
    """The airline tweets as an event file, converted as docs/replay.md says."""
    conversion = Conversion(
        columns={
            "event_id": "tweet_id",
            "account": "airline",
            "occurred_at": "tweet_created",
            "text": "text",
            "author.id": "name",
            "author.reach": "retweet_count",
            "signals.tone": "airline_sentiment",
        },
        constants={"channel": "twitter", "lang": "en"},
        slugs=frozenset({"account", "author.id"}),
    )
    with csv_path.open(encoding="utf-8-sig", newline="") as source, target.open("wb") as out:
        stats = convert_csv(source, conversion, out.write, lambda line, why: None)
    if stats.stopped_at is not None or not stats.written:
        raise SystemExit(f"cannot convert {csv_path} (line {stats.stopped_at})")
    return target


def cpu_seconds() -> tuple[float, float]:
    """CPU time of this process, and of its waited-for children (the reader process)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time(), children.ru_utime + children.ru_stime


def timed(events: int, started: float, cpu_started: tuple[float, float]) -> dict[str, float]:
    elapsed = time.perf_counter() - started
    own, children = (now - then for now, then in zip(cpu_seconds(), cpu_started, strict=True))
    return {
        "events": events,
        "seconds": elapsed,
        "rate": events / elapsed,
        "cpu_us_per_event": (own + children) / events * 1e6,
        "deciding_cpu_us_per_event": own / events * 1e6,
        "reader_cpu_us_per_event": children / events * 1e6,
    }


def measure_replay(
    events: Path, policy: LoadedPolicy, analyzer: Analyzer, reader: bool | None, analyze: bool
) -> dict[str, float]:
    """One replay from the file to the decisions file, timed; the rules are loaded already."""
    side = Side("rules", ROOT / "rules", policy, MemoryStore(), analyzer)
    # As the command decides `--reader auto`, recorded: it depends on the machine's load.
    process = helper_worthwhile(events) if reader is None else reader
    forked = fork_safe()  # as open_events will decide, with no thread beside this one
    with tempfile.TemporaryFile() as out:
        started, cpu_started = time.perf_counter(), cpu_seconds()
        with contextlib.closing(open_events(events, helper=process, analyze=analyze)) as items:
            outcomes = Replay(side, out=out).run(items)
        found = timed(outcomes.decided, started, cpu_started)
    found["deciding_rate"] = outcomes.decided / max(outcomes.deciding_seconds, 1e-9)
    found["reader_process"] = float(process)
    found["reader_forked"] = float(process and forked)
    return found


def measure_evaluator(events: list[Event], policy: LoadedPolicy) -> dict[str, float]:
    """Evaluator.decide alone, as a replay calls it (virtual clock, fresh memory store)."""
    clock = FixedClock(events[0].occurred_at)
    evaluator = Evaluator(FixedPolicy(policy), MemoryStore(), clock, DefaultsAnalyzer())
    started, cpu_started = time.perf_counter(), cpu_seconds()
    for event in events:
        clock.set(event.occurred_at.astimezone(UTC))
        evaluator.decide(event)
    return timed(len(events), started, cpu_started)


def raw_facts(events: Path, policy: LoadedPolicy) -> list[dict[str, Any]]:
    """One flat fact per event, as the service builds them (built before timing)."""
    loaded = policy.rulesets["default"]
    thresholds = loaded.ruleset.thresholds
    analyzer = DefaultsAnalyzer()
    facts = []
    for number, line in enumerate(events.read_bytes().splitlines()):
        event = parse_event(orjson.loads(line))
        signals = resolve_signals(event, analyzer)
        times = time_fields(event, event.occurred_at, thresholds, None, STATE["crisis_level"])
        built = build_fact(event, signals, STATE, times, thresholds)
        # Unknown (None) values left out and the text folded, as the engine does
        # before matching: the raw engine gets every field the service knows.
        fact = {k: v for k, v in built.items() if v is not None}
        fact["event__text"] = fold_text(event.text)
        fact[FACT_MARKER_KEY] = FACT_MARKER_VALUE
        fact["id"] = number
        facts.append(fact)
    return facts


class QuietHost(Host):
    """durable_rules' Host without its dispatch threads.

    A Host starts two timer threads that dispatch queued actions and timers
    every 0.2 s, and never stop: left running they would take turns with
    every other target for the rest of the run, and the replay would no
    longer fork its reader (safe only with one thread, ordering.fork_safe).
    `post` runs a matching rule's action itself; these rules queue nothing
    and set no timers, so the threads have nothing to do here.
    """

    def _run(self) -> None:
        return None


def measure_raw(
    facts: list[dict[str, Any]], definitions: dict[str, Any], name: str
) -> dict[str, float]:
    """durable_rules' Host.post of every fact into a rule set with the same rules."""
    actions = [0]

    def action(_: Any) -> None:
        actions[0] += 1

    rules = copy.deepcopy(definitions)
    for rule in rules.values():
        rule["run"] = action
    # A rule set name can never be released from a host: a new name per round.
    host = QuietHost({name: rules})
    started, cpu_started = time.perf_counter(), cpu_seconds()
    for fact in facts:
        host.post(name, fact)
    found = timed(len(facts), started, cpu_started)
    found["actions"] = actions[0]
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=5, help="rounds per target (default 5)")
    parser.add_argument("--csv", type=Path, default=AIRLINE_CSV, help="the airline Tweets.csv")
    parser.add_argument(
        "--reader",
        choices=["auto", "process", "inline"],
        default="auto",
        help="where the replay reads and validates the file (as replay --reader)",
    )
    args = parser.parse_args(argv)
    if not args.csv.exists():
        print(f"no airline data at {args.csv}", file=sys.stderr)
        return 2
    reader = None if args.reader == "auto" else args.reader == "process"
    analyzer, analyzer_name = replay_analyzer()
    policy, _ = load_rules(ROOT / "rules")
    definitions = compile_ruleset(policy.rulesets["default"].ruleset).definitions
    with tempfile.TemporaryDirectory() as tmp:
        events = airline_events(args.csv, Path(tmp) / "airline.jsonl")
        facts = raw_facts(events, policy)
        parsed = sorted(
            (parse_event(orjson.loads(line)) for line in events.read_bytes().splitlines()),
            key=lambda event: event.occurred_at,
        )
        targets: dict[str, Callable[[int], dict[str, float]]] = {
            # As the command runs it: a reader process also fills the signals.
            "replay": lambda _: measure_replay(events, policy, analyzer, reader, True),
            "replay-inline": lambda _: measure_replay(events, policy, analyzer, False, True),
            "replay-defaults": lambda _: measure_replay(
                events, policy, DefaultsAnalyzer(), reader, False
            ),
            "evaluator-only": lambda _: measure_evaluator(parsed, policy),
            "raw-post": lambda r: measure_raw(facts, definitions, f"bench{r}"),
        }
        # One uncounted round first: imports, caches and the page cache warm up.
        for measure in targets.values():
            measure(-1)
        rounds: dict[str, list[dict[str, float]]] = {name: [] for name in targets}
        for r in range(args.rounds):
            for name, measure in targets.items():
                rounds[name].append(measure(r))
    policy.close()

    median = {name: statistics.median(x["rate"] for x in found) for name, found in rounds.items()}
    raw = median["raw-post"]
    print(
        f"airline tweets: {len(facts):,} events, rule set 'default' with {len(definitions)} rules"
    )
    print(f"replay analyzer: {analyzer_name}; reader: {args.reader}; rounds: {args.rounds}\n")
    print(
        f"{'target':<16} {'events/s (median)':>18} {'min-max':>17} {'ratio to raw':>13}"
        f" {'CPU us/event':>13}"
    )
    for name, found in rounds.items():
        rates = [x["rate"] for x in found]
        span = f"{min(rates):,.0f}-{max(rates):,.0f}"
        cpu = statistics.median(x["cpu_us_per_event"] for x in found)
        print(
            f"{name:<16} {median[name]:>18,.0f} {span:>17} {median[name] / raw:>13.2f} {cpu:>13.1f}"
        )
    ratio = median["replay"] / raw
    verdict = "met" if ratio >= GOAL_RATIO else "NOT met"
    print(f"\nreplay / raw-post = {ratio:.2f} (target >= {GOAL_RATIO}: {verdict})")
    deciding = statistics.median(x["deciding_rate"] for x in rounds["replay"])
    print(f"replay's deciding phase alone: {deciding:,.0f} events/s")
    for name in ("replay", "replay-defaults"):
        own = statistics.median(x["deciding_cpu_us_per_event"] for x in rounds[name])
        reader_cpu = statistics.median(x["reader_cpu_us_per_event"] for x in rounds[name])
        with_process = sum(int(x["reader_process"]) for x in rounds[name])
        forked = sum(int(x["reader_forked"]) for x in rounds[name])
        print(
            f"{name}: a reader process in {with_process} of {len(rounds[name])} rounds"
            f" ({forked} forked); "
            f"CPU us/event: deciding process {own:.1f}, reader process {reader_cpu:.1f}"
        )

    RESULTS_DIR.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    result = {
        "timestamp": stamp,
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "events": len(facts),
        "rules": len(definitions),
        "analyzer": analyzer_name,
        "reader": args.reader,
        "rounds": rounds,
        "median": median,
        "ratio": ratio,
        "goal_ratio": GOAL_RATIO,
    }
    path = RESULTS_DIR / f"replay-{stamp}.json"
    path.write_text(json.dumps(result, indent=2))
    print(f"results: {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
