"""The `analyzer` commands: train a tone model and evaluate analyzers on labelled data."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import click

from policy_service.analysis.base import TextAnalyzer
from policy_service.analysis.datasets import FORMATS, LABELS, LabelledText, read_labelled
from policy_service.analysis.evaluation import (
    ALL,
    Report,
    Scores,
    cross_validate_model,
    evaluate,
)
from policy_service.analysis.trained import (
    ModelError,
    TrainedAnalyzer,
    TrainedToneModel,
    TrainingSettings,
    default_lexicon,
)
from policy_service.errors import PolicyError

_LABELLED = click.argument(
    "labelled", type=click.Path(exists=True, path_type=Path), metavar="LABELLED"
)
_FORMAT = click.option(
    "--format",
    "data_format",
    type=click.Choice(FORMATS),
    default="csv",
    show_default=True,
    help="csv: text,label[,lang] with a header; xlmt: <split>_text.txt + <split>_labels.txt "
    "(a file of the pair or their directory); airline: the airline tweets CSV.",
)
_LANG = click.option(
    "--lang", default=None, help="Language code of texts that carry none (csv, xlmt)."
)
_SPLIT = click.option(
    "--split",
    default=None,
    help="Pair to read from an xlmt directory [train for training and --folds, val otherwise].",
)
_LEXICON = click.option(
    "--with-lexicon/--no-lexicon",
    "with_lexicon",
    default=None,
    help="Give the model the lexicon analyzer's polarity and arousal as features "
    "[default: when the lexicon analyzer is available].",
)
_EPOCHS = click.option(
    "--epochs",
    type=click.IntRange(1, 1000),
    default=TrainingSettings().epochs,
    show_default=True,
    help="Passes over the training data.",
)


@click.group("analyzer")
def analyzer() -> None:
    """Train a tone model and measure analyzers on labelled comments."""


@analyzer.command("train")
@_LABELLED
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    metavar="MODEL_DIR",
    help="Directory to write the model to (manifest.json and weights.tsv).",
)
@_FORMAT
@_LEXICON
@_EPOCHS
@_LANG
@_SPLIT
@click.option(
    "--description", default=None, help="What the model was trained on, for the manifest."
)
def train(
    labelled: Path,
    out: Path,
    data_format: str,
    with_lexicon: bool | None,
    epochs: int,
    lang: str | None,
    split: str | None,
    description: str | None,
) -> None:
    """Train a tone model on LABELLED and write it to MODEL_DIR.

    The service loads it from POLICY_ANALYZER_MODEL. Do not ship a model trained
    on data whose licence forbids it (the public sets are for evaluation only).
    """
    examples = _read(labelled, data_format, lang, split or "train")
    lexicon = _lexicon(with_lexicon)
    training = TrainingSettings(epochs=epochs)
    what = description or _describe(labelled, data_format, split or "train")
    started = time.perf_counter()
    try:
        model = TrainedToneModel.train(
            [e.text for e in examples],
            [e.label for e in examples],
            langs=[e.lang for e in examples],
            lexicon=lexicon,
            training=training,
            description=what,
            trained_at=datetime.now(UTC).replace(microsecond=0),
        )
        elapsed = time.perf_counter() - started
        model.save(out)
    except PolicyError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"trained on {len(examples)} texts ({_counts(examples)}) in {elapsed:.1f} s")
    click.echo(f"lexicon features: {_lexicon_note(lexicon)}")
    click.echo(f"model {model.version} written to {out}")


@analyzer.command("evaluate")
@_LABELLED
@click.option(
    "--analyzer",
    "analyzer_name",
    type=click.Choice(["lexicon", "trained"]),
    default=None,
    help="Analyzer to score [trained with --model, else lexicon].",
)
@click.option(
    "--model",
    type=click.Path(file_okay=False, path_type=Path),
    metavar="MODEL_DIR",
    default=None,
    help="Model directory for --analyzer trained.",
)
@_FORMAT
@click.option(
    "--folds",
    type=click.IntRange(2, 100),
    default=None,
    help="Cross-validate a fresh trained model on LABELLED in K folds instead of scoring a saved one.",
)
@_LEXICON
@_EPOCHS
@_LANG
@_SPLIT
def evaluate_command(
    labelled: Path,
    analyzer_name: str | None,
    model: Path | None,
    data_format: str,
    folds: int | None,
    with_lexicon: bool | None,
    epochs: int,
    lang: str | None,
    split: str | None,
) -> None:
    """Accuracy, macro-F1, negative recall and confusion matrix per language on LABELLED.

    Hostile counts as negative. --with-lexicon and --epochs apply to --folds.
    """
    if folds is not None:
        if model is not None or analyzer_name is not None:
            raise click.BadParameter(
                "--folds trains fresh models; it takes neither --model nor --analyzer",
                param_hint="--folds",
            )
        examples = _read(labelled, data_format, lang, split or "train")
        lexicon = _lexicon(with_lexicon)
        started = time.perf_counter()
        try:
            result = cross_validate_model(
                examples, folds, lexicon=lexicon, training=TrainingSettings(epochs=epochs)
            )
        except PolicyError as exc:
            raise click.ClickException(str(exc)) from None
        elapsed = time.perf_counter() - started
        click.echo(
            f"{folds}-fold cross-validation of a fresh trained model on {len(examples)} texts "
            f"({elapsed:.1f} s); lexicon features: {_lexicon_note(lexicon)}"
        )
        click.echo(format_report(result))
        return

    name = analyzer_name or ("trained" if model is not None else "lexicon")
    if name == "trained" and model is None:
        raise click.BadParameter("--analyzer trained needs --model MODEL_DIR", param_hint="--model")
    if name == "lexicon" and model is not None:
        raise click.BadParameter("--model goes with --analyzer trained", param_hint="--model")
    examples = _read(labelled, data_format, lang, split or "val")
    try:
        scorer: TextAnalyzer
        if model is not None:
            # Tone alone is scored: the model on its own (with the lexicon only
            # when it was trained with its scores) is all that is needed.
            scorer = TrainedAnalyzer(TrainedToneModel.load(model))
        else:
            scorer = default_lexicon()
        started = time.perf_counter()
        result = evaluate(scorer, examples)
        elapsed = time.perf_counter() - started
    except PolicyError as exc:
        raise click.ClickException(str(exc)) from None
    rate = len(examples) / elapsed if elapsed > 0 else float("inf")
    click.echo(
        f"{scorer.name}@{scorer.version} on {len(examples)} texts: "
        f"{elapsed:.2f} s ({rate:,.0f} texts/s)"
    )
    click.echo(format_report(result))


def format_report(result: Report) -> str:
    """The report as text: one block per language, then all languages together."""
    blocks = [_format_scores(lang, scores) for lang, scores in result.by_lang.items()]
    if len(result.by_lang) > 1:
        blocks.append(_format_scores(ALL, result.overall))
    return "\n\n".join(blocks)


def _format_scores(lang: str, scores: Scores) -> str:
    recall = scores.negative_recall
    lines = [
        f"{lang}: {scores.total} texts",
        f"  accuracy         {scores.accuracy:.3f}",
        f"  macro-F1         {scores.macro_f1:.3f}",
        f"  negative recall  {'n/a' if recall is None else f'{recall:.3f}'}",
        "  confusion (rows: gold, columns: predicted)",
        "    " + " " * 10 + "".join(f"{label:>10}" for label in LABELS),
    ]
    for label, row in zip(LABELS, scores.confusion, strict=True):
        lines.append(f"    {label:<10}" + "".join(f"{count:>10}" for count in row))
    return "\n".join(lines)


def _read(path: Path, data_format: str, lang: str | None, split: str) -> list[LabelledText]:
    try:
        return read_labelled(path, data_format, lang=lang, split=split)
    except PolicyError as exc:
        raise click.ClickException(str(exc)) from None


def _lexicon(wanted: bool | None) -> TextAnalyzer | None:
    """The lexicon analyzer for the model's features: required, refused, or when available."""
    if wanted is False:
        return None
    try:
        return default_lexicon()
    except ModelError as exc:
        if wanted:
            raise click.ClickException(str(exc)) from None
        return None


def _lexicon_note(lexicon: TextAnalyzer | None) -> str:
    return f"{lexicon.name}@{lexicon.version}" if lexicon is not None else "off"


def _describe(path: Path, data_format: str, split: str) -> str:
    if data_format == "xlmt" and path.is_dir():
        return f"{path} ({data_format}, {split} split)"
    return f"{path} ({data_format})"


def _counts(examples: Sequence[LabelledText]) -> str:
    langs: dict[str, int] = {}
    for example in examples:
        langs[example.lang] = langs.get(example.lang, 0) + 1
    return ", ".join(f"{lang} {count}" for lang, count in sorted(langs.items()))
