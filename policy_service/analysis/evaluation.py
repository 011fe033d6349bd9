"""Tone quality on labelled data: accuracy, macro-F1, negative recall, confusion, cross-validation."""

from __future__ import annotations

import zlib
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from policy_service.analysis.base import TextAnalyzer
from policy_service.analysis.datasets import LABELS, UNKNOWN_LANG, LabelledText
from policy_service.analysis.trained import FeatureSettings, TrainedToneModel, TrainingSettings
from policy_service.errors import PolicyError

ALL = "all"

# Predicts the label of one text in a language ("und" when unknown).
Predict = Callable[[str, str], str]


class EvaluationError(PolicyError):
    """An evaluation cannot run as asked (e.g. more folds than examples)."""


@dataclass(frozen=True, slots=True)
class Scores:
    """Three-class figures from a confusion matrix: rows gold, columns predicted, LABELS order."""

    confusion: tuple[tuple[int, ...], ...]

    @property
    def total(self) -> int:
        return sum(sum(row) for row in self.confusion)

    @property
    def accuracy(self) -> float:
        total = self.total
        return sum(self.confusion[i][i] for i in range(len(LABELS))) / total if total else 0.0

    def precision(self, label: str) -> float | None:
        """Share of the texts predicted `label` that are; None when none was predicted."""
        i = LABELS.index(label)
        predicted = sum(row[i] for row in self.confusion)
        return self.confusion[i][i] / predicted if predicted else None

    def recall(self, label: str) -> float | None:
        """Share of the texts labelled `label` that were found; None when there are none."""
        i = LABELS.index(label)
        gold = sum(self.confusion[i])
        return self.confusion[i][i] / gold if gold else None

    def f1(self, label: str) -> float | None:
        """Harmonic mean of precision and recall; None when `label` is neither in the gold
        labels nor predicted (it then says nothing of the analyzer)."""
        precision, recall = self.precision(label), self.recall(label)
        if precision is None and recall is None:
            return None
        p, r = precision or 0.0, recall or 0.0
        return 2 * p * r / (p + r) if p + r else 0.0

    @property
    def macro_f1(self) -> float:
        """Mean F1 of the labels present in the gold labels or the predictions."""
        values = [f for f in (self.f1(label) for label in LABELS) if f is not None]
        return sum(values) / len(values) if values else 0.0

    @property
    def negative_recall(self) -> float | None:
        """Share of the negative texts the analyzer called negative (or hostile)."""
        return self.recall("negative")


@dataclass(frozen=True, slots=True)
class Report:
    """Scores over every text, and per language (sorted by code)."""

    overall: Scores
    by_lang: dict[str, Scores]


def tone_label(tone: str) -> str:
    """The three-class label of an analyzer's tone: hostile is negative."""
    return "negative" if tone == "hostile" else tone


def score(gold: Sequence[str], predicted: Sequence[str]) -> Scores:
    """The scores of `predicted` labels against `gold` ones (hostile counts as negative)."""
    if len(gold) != len(predicted):
        raise EvaluationError(f"{len(gold)} gold label(s) but {len(predicted)} prediction(s)")
    matrix = [[0] * len(LABELS) for _ in LABELS]
    for g, p in zip(gold, predicted, strict=True):
        try:
            matrix[LABELS.index(tone_label(g))][LABELS.index(tone_label(p))] += 1
        except ValueError:
            raise EvaluationError(
                f"unknown label {g!r} or {p!r}; expected one of {', '.join(LABELS)} or hostile"
            ) from None
    return Scores(tuple(tuple(row) for row in matrix))


def report(examples: Sequence[LabelledText], predicted: Sequence[str]) -> Report:
    """Scores of `predicted` (one label per example) overall and per language."""
    if len(examples) != len(predicted):
        raise EvaluationError(f"{len(examples)} example(s) but {len(predicted)} prediction(s)")
    by_lang: dict[str, tuple[list[str], list[str]]] = defaultdict(lambda: ([], []))
    for example, label in zip(examples, predicted, strict=True):
        gold, pred = by_lang[example.lang]
        gold.append(example.label)
        pred.append(label)
    return Report(
        overall=score([e.label for e in examples], predicted),
        by_lang={lang: score(*by_lang[lang]) for lang in sorted(by_lang)},
    )


def evaluate(analyzer: TextAnalyzer, examples: Sequence[LabelledText]) -> Report:
    """How well `analyzer` tells the tone of `examples`; each is analyzed with its language."""
    predicted = [
        tone_label(analyzer.analyze(e.text, None if e.lang == UNKNOWN_LANG else e.lang).tone)
        for e in examples
    ]
    return report(examples, predicted)


def folds(examples: Sequence[LabelledText], k: int) -> list[int]:
    """The fold (0 .. k-1) of every example: deterministic, stratified by label, and with
    every copy of a text in the same fold, so that no duplicate is scored on its own copy."""
    if k < 2:
        raise EvaluationError(f"cross-validation needs at least 2 folds, not {k}")
    distinct = {e.text for e in examples}
    if len(distinct) < k:
        raise EvaluationError(
            f"{k} folds need at least {k} distinct texts; there are {len(distinct)}"
        )
    first_label: dict[str, str] = {}
    for example in examples:
        first_label.setdefault(example.text, example.label)
    # Within each label, texts in an order fixed by their content (a checksum,
    # then the text) and dealt out in turn: the same data always gives the
    # same folds, whatever order the file lists it in.
    assigned: dict[str, int] = {}
    turn = 0
    for label in LABELS:
        texts = sorted(
            (t for t, lbl in first_label.items() if lbl == label),
            key=lambda t: (zlib.crc32(t.encode("utf-8", "surrogatepass")), t),
        )
        for text in texts:
            assigned[text] = turn % k
            turn += 1
    return [assigned[e.text] for e in examples]


def cross_validate(
    examples: Sequence[LabelledText],
    k: int,
    fit: Callable[[Sequence[LabelledText]], Predict],
) -> Report:
    """Train with `fit` on k-1 folds and predict the remaining one, k times; the report
    scores every example once, by the model that did not see it."""
    assignment = folds(examples, k)
    predicted: list[str] = [""] * len(examples)
    for fold in range(k):
        train = [e for e, f in zip(examples, assignment, strict=True) if f != fold]
        predict = fit(train)
        for i, (example, f) in enumerate(zip(examples, assignment, strict=True)):
            if f == fold:
                predicted[i] = predict(example.text, example.lang)
    return report(examples, predicted)


def cross_validate_model(
    examples: Sequence[LabelledText],
    k: int = 5,
    *,
    lexicon: TextAnalyzer | None = None,
    features: FeatureSettings | None = None,
    training: TrainingSettings | None = None,
) -> Report:
    """k-fold cross-validation of a fresh TrainedToneModel on `examples`."""

    def fit(train: Sequence[LabelledText]) -> Predict:
        model = TrainedToneModel.train(
            [e.text for e in train],
            [e.label for e in train],
            langs=[e.lang for e in train],
            lexicon=lexicon,
            features=features,
            training=training,
        )

        def predict(text: str, lang: str) -> str:
            return model.predict(text, None if lang == UNKNOWN_LANG else lang)[0]

        return predict

    return cross_validate(examples, k, fit)
