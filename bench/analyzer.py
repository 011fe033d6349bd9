"""Comments per second of the lexicon analyzer, one comment at a time, beside a trivial baseline.

Both analyzers get the same comments in the same process, in interleaved
rounds (lexicon, baseline, lexicon, ...), so that a busy machine slows both
alike; the report gives the median over the rounds. Comments come from
../shared/data (airline tweets, French and German XLM-T tweets) when present,
else from a small built-in set.

    .venv/bin/python bench/analyzer.py
    .venv/bin/python bench/analyzer.py --rounds 9 --comments 5000 --lang-given
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from policy_service.analysis.base import Analysis, TextAnalyzer
from policy_service.analysis.lexicon import LexiconAnalyzer

ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = ROOT.parent / "shared" / "data"
TARGET_RATE = 5_000  # comments/s on one core: at most 200 µs a comment

BUILT_IN = [
    ("en", "@airline my flight was cancelled and nobody answers the phone, 3 hours on hold!!!"),
    ("en", "Thanks for the quick help yesterday, great service 👍"),
    ("en", "The app crashes when I upload a photo. Please fix it."),
    ("en", "You idiots lost my bag AGAIN 😡 I want a refund"),
    ("en", "What time does the store open on Sundays?"),
    ("fr", "Internet en panne depuis 3 jours, toujours pas de réponse du service client"),
    ("fr", "Merci beaucoup, livraison rapide et produit parfait !"),
    ("fr", "Vous devriez ajouter un mode sombre, ce serait bien."),
    ("de", "Die App stürzt ab, wenn ich ein Foto hochlade. Bitte behebt das!"),
    ("de", "Vielen Dank, alles hat super geklappt :)"),
    ("de", "Seit Tagen Störung und niemand ist erreichbar. Eine Frechheit!"),
]


class TrivialAnalyzer:
    """The baseline: lower-case, split on spaces, count two words, build the answer."""

    name = "trivial"
    version = "0"
    _NEGATIVE = frozenset({"bad", "worst"})

    def analyze(self, text: str, lang: str | None = None) -> Analysis:
        hits = sum(1 for word in text.lower().split() if word in self._NEGATIVE)
        return Analysis(
            lang=lang or "und",
            tone="negative" if hits else "neutral",
            severity=min(hits, 5),
            constructive=False,
            arousal=0.0,
            topics=(),
            polarity=-1.0 if hits else 0.0,
        )


def load_comments(count: int, seed: int) -> list[tuple[str, str]]:
    """(language, text) pairs: real tweets when the shared data is there, else built-in."""
    comments: list[tuple[str, str]] = []
    airline = DATA_DIR / "airline-tweets" / "Tweets.csv"
    if airline.is_file():
        with airline.open(encoding="utf-8", newline="") as handle:
            comments += [("en", row["text"]) for row in csv.DictReader(handle)]
        for lang, folder in (("fr", "french"), ("de", "german")):
            path = DATA_DIR / "sentiment-xlmt" / folder / "train_text.txt"
            if path.is_file():
                lines = path.read_text(encoding="utf-8").split("\n")
                comments += [(lang, line) for line in lines if line]
    if not comments:
        comments = list(BUILT_IN)
    rng = random.Random(seed)
    return [rng.choice(comments) for _ in range(count)]


def one_round(
    analyzer: TextAnalyzer, comments: Sequence[tuple[str, str]], lang_given: bool
) -> list[int]:
    """Nanoseconds per call, one comment at a time."""
    clock = time.perf_counter_ns
    durations: list[int] = []
    for lang, text in comments:
        hint = lang if lang_given else None
        start = clock()
        analyzer.analyze(text, hint)
        durations.append(clock() - start)
    return durations


def percentile(values: Sequence[int], share: float) -> float:
    ordered = sorted(values)
    return float(ordered[min(len(ordered) - 1, int(share * len(ordered)))])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="rounds per analyzer (>= 3)")
    parser.add_argument("--comments", type=int, default=3_000, help="comments per round")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--lang-given", action="store_true", help="pass the language instead of detecting it"
    )
    parser.add_argument(
        "--cpu", type=int, default=0, help="pin the process to this core (-1: do not pin)"
    )
    args = parser.parse_args()
    if args.rounds < 3:
        parser.error("--rounds must be at least 3")
    if args.cpu >= 0 and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {args.cpu})

    comments = load_comments(args.comments, args.seed)
    started = time.perf_counter()
    lexicon = LexiconAnalyzer()
    load_ms = (time.perf_counter() - started) * 1000
    targets: list[tuple[str, TextAnalyzer]] = [
        ("lexicon", lexicon),
        ("baseline (trivial)", TrivialAnalyzer()),
    ]
    for _, analyzer in targets:  # warm-up: caches, branch predictors, lazy imports
        one_round(analyzer, comments[:500], args.lang_given)

    rates: dict[str, list[float]] = {name: [] for name, _ in targets}
    calls: dict[str, list[int]] = {name: [] for name, _ in targets}
    for _ in range(args.rounds):
        for name, analyzer in targets:
            durations = one_round(analyzer, comments, args.lang_given)
            rates[name].append(len(durations) / (sum(durations) / 1e9))
            calls[name] += durations

    long_text = ("The app crashes and nobody answers!!! " * 300)[:10_000]
    long_us = (
        statistics.median(one_round(lexicon, [("en", long_text)] * 20, args.lang_given)) / 1000
    )

    source = "shared data" if (DATA_DIR / "airline-tweets").is_dir() else "built-in"
    print(
        f"{len(comments)} comments ({source}), {args.rounds} rounds, language "
        f"{'given' if args.lang_given else 'detected'}, one core, Python {sys.version.split()[0]}"
    )
    print(f"lexicon tables loaded in {load_ms:.0f} ms (once per process)\n")
    header = (
        f"{'analyzer':<20} {'comments/s (median)':>20} {'min-max':>15} {'µs p50':>8} {'µs p99':>8}"
    )
    print(header)
    print("-" * len(header))
    for name, _ in targets:
        low, high = min(rates[name]), max(rates[name])
        print(
            f"{name:<20} {statistics.median(rates[name]):>20,.0f} "
            f"{f'{low:,.0f}-{high:,.0f}':>15} "
            f"{percentile(calls[name], 0.5) / 1000:>8.1f} {percentile(calls[name], 0.99) / 1000:>8.1f}"
        )
    median = statistics.median(rates["lexicon"])
    baseline = statistics.median(rates["baseline (trivial)"])
    print(f"\nratio lexicon/baseline: {median / baseline:.3f}")
    print(f"one 10,000-character comment: {long_us:,.0f} µs")
    verdict = "meets" if median >= TARGET_RATE else "MISSES"
    print(f"target {TARGET_RATE:,} comments/s: {verdict} ({median:,.0f})")
    return 0 if median >= TARGET_RATE else 1


if __name__ == "__main__":
    sys.exit(main())
