"""Measures the lexicon analyzer's tone on labelled data sets kept outside the package."""

from __future__ import annotations

import argparse
import csv
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from policy_service.analysis.base import TextAnalyzer
from policy_service.analysis.lexicon import LexiconAnalyzer

CLASSES = ("negative", "neutral", "positive")
# The airline tweets are split by airline: thresholds and vocabularies were
# only ever compared against the first three; the other three are held out.
TUNING_AIRLINES = ("Southwest", "United", "Virgin America")
HELD_OUT_AIRLINES = ("American", "Delta", "US Airways")
XLMT_LANGUAGES = {"en": "english", "fr": "french", "de": "german"}
_XLMT_LABELS = {"0": "negative", "1": "neutral", "2": "positive"}


@dataclass(frozen=True, slots=True)
class Scores:
    """Three-class figures on one data set; "hostile" counts as negative."""

    name: str
    size: int
    accuracy: float
    negative_recall: float
    macro_f1: float


@dataclass(frozen=True, slots=True)
class LabelledSet:
    """Texts with their gold tone, and the language to pass (None: detect it)."""

    name: str
    texts: tuple[str, ...]
    gold: tuple[str, ...]
    lang: str | None = None


def score(name: str, predicted: Sequence[str], gold: Sequence[str]) -> Scores:
    """Accuracy, recall of the negative class and macro-F1 of `predicted` against `gold`."""
    if len(predicted) != len(gold) or not gold:
        raise ValueError("predicted and gold must be non-empty and of equal length")
    folded = ["negative" if tone == "hostile" else tone for tone in predicted]
    f1s: list[float] = []
    recalls: dict[str, float] = {}
    for label in CLASSES:
        tp = sum(1 for p, g in zip(folded, gold, strict=True) if p == label and g == label)
        predicted_n = sum(1 for p in folded if p == label)
        gold_n = sum(1 for g in gold if g == label)
        precision = tp / predicted_n if predicted_n else 0.0
        recall = tp / gold_n if gold_n else 0.0
        recalls[label] = recall
        f1s.append(2 * precision * recall / (precision + recall) if precision + recall else 0.0)
    accuracy = sum(1 for p, g in zip(folded, gold, strict=True) if p == g) / len(gold)
    return Scores(name, len(gold), accuracy, recalls["negative"], sum(f1s) / len(f1s))


def airline_sets(data_dir: Path) -> list[LabelledSet]:
    """The airline tweets: held-out airlines, tuning airlines, then each airline."""
    by_airline: dict[str, tuple[list[str], list[str]]] = {}
    path = data_dir / "airline-tweets" / "Tweets.csv"
    with path.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            texts, gold = by_airline.setdefault(row["airline"], ([], []))
            texts.append(row["text"])
            gold.append(row["airline_sentiment"])

    def merged(name: str, airlines: Sequence[str]) -> LabelledSet:
        texts = tuple(t for a in airlines for t in by_airline.get(a, ([], []))[0])
        gold = tuple(g for a in airlines for g in by_airline.get(a, ([], []))[1])
        return LabelledSet(name, texts, gold)

    sets = [
        merged("airline held-out (American, Delta, US Airways)", HELD_OUT_AIRLINES),
        merged("airline tuning (Southwest, United, Virgin America)", TUNING_AIRLINES),
    ]
    sets += [merged(f"airline {airline}", (airline,)) for airline in sorted(by_airline)]
    return sets


def xlmt_set(data_dir: Path, lang: str, split: str, pass_lang: bool = False) -> LabelledSet:
    """One XLM-T split ("train" or "val") of `lang` ("en", "fr", "de")."""
    folder = data_dir / "sentiment-xlmt" / XLMT_LANGUAGES[lang]
    labels = (folder / f"{split}_labels.txt").read_text(encoding="utf-8").split()
    lines = (folder / f"{split}_text.txt").read_text(encoding="utf-8").split("\n")
    if len(lines) < len(labels):
        raise ValueError(f"{folder}: fewer texts than labels in {split}")
    name = f"XLM-T {lang} {split}" + (" (language given)" if pass_lang else "")
    return LabelledSet(
        name,
        tuple(lines[: len(labels)]),
        tuple(_XLMT_LABELS[label] for label in labels),
        lang if pass_lang else None,
    )


def evaluate(analyzer: TextAnalyzer, labelled: LabelledSet) -> Scores:
    """The analyzer's tone on every text of `labelled`, scored."""
    predicted = [analyzer.analyze(text, labelled.lang).tone for text in labelled.texts]
    return score(labelled.name, predicted, labelled.gold)


def held_out_sets(data_dir: Path) -> list[LabelledSet]:
    """The data never used for tuning: validation splits and held-out airlines."""
    return [airline_sets(data_dir)[0]] + [
        xlmt_set(data_dir, lang, "val") for lang in XLMT_LANGUAGES
    ]


def main(argv: list[str] | None = None) -> None:
    """`python -m policy_service.analysis.lexicon_eval ../shared/data`: prints every figure."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("data_dir", type=Path, help="the shared data directory")
    args = parser.parse_args(argv)
    analyzer = LexiconAnalyzer()
    sets = airline_sets(args.data_dir)
    for lang in XLMT_LANGUAGES:
        sets.append(xlmt_set(args.data_dir, lang, "val"))
        sets.append(xlmt_set(args.data_dir, lang, "val", pass_lang=True))
        sets.append(xlmt_set(args.data_dir, lang, "train"))
    print(f"| {'data set':<52} | {'n':>5} | accuracy | neg. recall | macro-F1 |")
    print(f"|{'-' * 54}|{'-' * 7}|----------|-------------|----------|")
    for labelled in sets:
        s = evaluate(analyzer, labelled)
        print(
            f"| {s.name:<52} | {s.size:>5} | {s.accuracy:8.3f} | {s.negative_recall:11.3f} "
            f"| {s.macro_f1:8.3f} |"
        )


if __name__ == "__main__":
    main()
