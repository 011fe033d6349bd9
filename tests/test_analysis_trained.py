"""The trainable tone model: data readers, training, model files, evaluation and its commands."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from policy_service import cli_analyzer
from policy_service.analysis.base import Analysis
from policy_service.analysis.datasets import (
    LabelledDataError,
    LabelledText,
    read_airline,
    read_csv,
    read_labelled,
    read_xlmt,
)
from policy_service.analysis.evaluation import (
    EvaluationError,
    cross_validate,
    evaluate,
    folds,
    report,
    score,
)
from policy_service.analysis.trained import (
    MANIFEST,
    WEIGHTS,
    FeatureSettings,
    ModelError,
    TrainedAnalyzer,
    TrainedToneModel,
    TrainingSettings,
)
from policy_service.cli_analyzer import analyzer
from tests.conftest import ROOT
from tests.shared_data import SHARED_DATA

# ../shared/data beside the checkout by default (Path(__file__).parents[2]).
DATA = SHARED_DATA
TRAINED_AT = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)

POSITIVE = ["good service", "great app, thanks", "love it", "good job team", "really great"]
NEGATIVE = ["bad service", "awful app, broken", "hate it", "bad job team", "really awful"]
NEUTRAL = ["the app opens", "service at noon", "it is an app", "team meeting today", "what time"]


def small_set() -> tuple[list[str], list[str]]:
    texts = POSITIVE + NEGATIVE + NEUTRAL
    labels = ["positive"] * 5 + ["negative"] * 5 + ["neutral"] * 5
    return texts, labels


@dataclass
class FakeLexicon:
    """A stand-in for the lexicon analyzer: polarity from two words, hostile on an insult."""

    name: str = "lexicon"
    version: str = "test-1"
    calls: list[str] = field(default_factory=list)

    def analyze(self, text: str, lang: str | None = None) -> Analysis:
        self.calls.append(text)
        polarity = 0.8 if "good" in text else -0.8 if "bad" in text else 0.0
        hostile = "idiots" in text
        tone = "hostile" if hostile else "neutral"
        return Analysis(
            lang=lang or "en",
            tone=tone,
            severity=3 if hostile else 1,
            constructive=True,
            arousal=0.9 if hostile else 0.1,
            topics=("refund",),
            polarity=polarity,
        )


def train_small(
    *,
    lexicon: FakeLexicon | None = None,
    training: TrainingSettings | None = None,
    description: str = "",
) -> TrainedToneModel:
    texts, labels = small_set()
    return TrainedToneModel.train(
        texts,
        labels,
        lexicon=lexicon,
        training=training,
        description=description,
        trained_at=TRAINED_AT,
    )


# -- readers -----------------------------------------------------------------------


def test_csv_reads_words_numbers_hostile_and_languages(tmp_path: Path) -> None:
    path = tmp_path / "data.csv"
    path.write_text(
        "\ufefftext,label,lang\n"
        "Great app,positive,en\n"
        '"Nul, vraiment",0,fr\n'
        "You idiots,Hostile,\n"
        '"two\nlines",1,de\n',
        encoding="utf-8",
    )
    examples = read_csv(path, lang="en")
    assert examples == [
        LabelledText("Great app", "positive", "en"),
        LabelledText("Nul, vraiment", "negative", "fr"),
        LabelledText("You idiots", "negative", "en"),
        LabelledText("two\nlines", "neutral", "de"),
    ]


def test_csv_language_defaults_to_und(tmp_path: Path) -> None:
    path = tmp_path / "data.csv"
    path.write_text("label,text\n2,fine\n")
    assert read_csv(path) == [LabelledText("fine", "positive", "und")]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("text,label\nok,positive\nbad one,angry\n", "data.csv:3: label must be"),
        ('text,label\n"a\nb",1\nx,7\n', "data.csv:4: label must be"),
        ("text,label\nok,positive\n,negative\n", "data.csv:3: empty text"),
        ("text,label\nok,positive,extra\n", "data.csv:2: 3 field(s) where the header has 2"),
        ("text,polarity\nok,1\n", "data.csv:1: missing column(s) label"),
        ("text,label,lang\nok,1,english!\n", "data.csv:2: language must be a code"),
        ("text,label\n", "holds no labelled text"),
        ("", "is empty"),
    ],
)
def test_csv_bad_rows_name_the_line(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "data.csv"
    path.write_text(content)
    with pytest.raises(LabelledDataError, match=message.replace("(", r"\(").replace(")", r"\)")):
        read_csv(path)


def test_csv_missing_or_binary_file(tmp_path: Path) -> None:
    with pytest.raises(LabelledDataError, match="does not exist"):
        read_csv(tmp_path / "nope.csv")
    binary = tmp_path / "bin.csv"
    binary.write_bytes(b"text,label\n\xff\xfe,1\n")
    with pytest.raises(LabelledDataError, match="not UTF-8"):
        read_csv(binary)


def write_xlmt(directory: Path, split: str, texts: list[str], labels: str) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / f"{split}_text.txt").write_text("\n".join(texts), encoding="utf-8")
    (directory / f"{split}_labels.txt").write_text(labels)


def test_xlmt_pair_from_directory_or_file(tmp_path: Path) -> None:
    french = tmp_path / "french"
    # The last line has no newline; a tweet may hold a Unicode line separator.
    write_xlmt(french, "train", ["Super\u2028merci", "Bof", "Nul"], "2\n1\n0")
    write_xlmt(french, "val", ["Génial"], "2\n")
    expected = [
        LabelledText("Super\u2028merci", "positive", "fr"),
        LabelledText("Bof", "neutral", "fr"),
        LabelledText("Nul", "negative", "fr"),
    ]
    assert read_xlmt(french) == expected
    assert read_xlmt(french / "train_labels.txt") == expected
    assert read_xlmt(french, split="val") == [LabelledText("Génial", "positive", "fr")]
    assert read_labelled(french / "val_text.txt", "xlmt", lang="de")[0].lang == "de"


def test_xlmt_errors(tmp_path: Path) -> None:
    data = tmp_path / "data"
    write_xlmt(data, "train", ["a", "b"], "0\n3\n")
    with pytest.raises(LabelledDataError, match=r"train_labels.txt:2: label must be 0, 1 or 2"):
        read_xlmt(data)
    write_xlmt(data, "train", ["a", "b", "c"], "0\n1\n")
    with pytest.raises(LabelledDataError, match="has 3 line.s. but .* has 2"):
        read_xlmt(data)
    write_xlmt(data, "test", ["a"], "0")
    with pytest.raises(
        LabelledDataError, match="no 'val' split; pass one of its files: test, train"
    ):
        read_xlmt(data, split="val")
    with pytest.raises(LabelledDataError, match="holds no XLM-T pair"):
        read_xlmt(tmp_path)
    (tmp_path / "lonely_text.txt").write_text("x")
    with pytest.raises(LabelledDataError, match="lonely_labels.txt does not exist"):
        read_xlmt(tmp_path / "lonely_text.txt")


def test_airline_csv(tmp_path: Path) -> None:
    path = tmp_path / "Tweets.csv"
    path.write_text(
        "tweet_id,airline_sentiment,airline,text\n"
        "1,negative,United,@united lost my bag\n"
        "2,positive,Delta,@delta thanks!\n"
        "3,mixed,Delta,@delta hmm\n"
    )
    with pytest.raises(LabelledDataError, match="Tweets.csv:4: airline_sentiment must be"):
        read_airline(path)
    path.write_text(path.read_text().replace("mixed", "neutral"))
    assert [(e.label, e.lang) for e in read_labelled(path, "airline")] == [
        ("negative", "en"),
        ("positive", "en"),
        ("neutral", "en"),
    ]


def test_unknown_format(tmp_path: Path) -> None:
    with pytest.raises(LabelledDataError, match="unknown format 'tsv'"):
        read_labelled(tmp_path, "tsv")


# -- training and model files ---------------------------------------------------------


def test_training_learns_the_small_set() -> None:
    model = train_small()
    texts, labels = small_set()
    assert [model.predict(text)[0] for text in texts] == labels
    label, confidence = model.predict("good good")
    assert label == "positive" and 1 / 3 < confidence <= 1


def test_training_is_deterministic(tmp_path: Path) -> None:
    train_small().save(tmp_path / "a")
    train_small().save(tmp_path / "b")
    for name in (MANIFEST, WEIGHTS):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    train_small(training=TrainingSettings(seed=2)).save(tmp_path / "c")
    assert (tmp_path / "c" / WEIGHTS).read_bytes() != (tmp_path / "a" / WEIGHTS).read_bytes()


def test_training_does_not_depend_on_the_string_hash_seed(tmp_path: Path) -> None:
    script = (
        "import sys; from pathlib import Path; from tests.test_analysis_trained import train_small; "
        "train_small().save(Path(sys.argv[1]))"
    )
    for seed, out in (("1", "x"), ("2", "y")):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        subprocess.run(
            [sys.executable, "-c", script, str(tmp_path / out)], cwd=ROOT, env=env, check=True
        )
    assert (tmp_path / "x" / WEIGHTS).read_bytes() == (tmp_path / "y" / WEIGHTS).read_bytes()


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    model = train_small(description="hand-written set")
    model.save(tmp_path / "model")
    loaded = TrainedToneModel.load(tmp_path / "model")
    assert loaded.version == model.version
    for text in [*small_set()[0], "unseen words here", "", "😡😡 !!!"]:
        assert loaded.probabilities(text) == model.probabilities(text)
    manifest = json.loads((tmp_path / "model" / MANIFEST).read_text())
    assert manifest["version"] == model.version
    assert manifest["trained_at"] == "2026-11-25T12:00:00+00:00"
    assert manifest["training"]["description"] == "hand-written set"
    assert manifest["training"]["labels"] == {"negative": 5, "neutral": 5, "positive": 5}
    assert manifest["features"]["bucket_bits"] == 18
    assert manifest["features"]["lexicon"] is None


def test_training_refuses_bad_input() -> None:
    with pytest.raises(ModelError, match="2 text.s. but 1 label"):
        TrainedToneModel.train(["a", "b"], ["positive"])
    with pytest.raises(ModelError, match="label 2 is 'hostile'"):
        TrainedToneModel.train(["a", "b"], ["positive", "hostile"])
    with pytest.raises(ModelError, match="no training data"):
        TrainedToneModel.train([], [])
    with pytest.raises(ModelError, match="epochs must be"):
        TrainedToneModel.train(["a"], ["positive"], training=TrainingSettings(epochs=0))
    with pytest.raises(ModelError, match="bucket_bits must be"):
        TrainedToneModel.train(["a"], ["positive"], features=FeatureSettings(bucket_bits=40))


@pytest.fixture
def saved(tmp_path: Path) -> Path:
    directory = tmp_path / "model"
    train_small().save(directory)
    return directory


def test_missing_model_directory_and_files(tmp_path: Path, saved: Path) -> None:
    with pytest.raises(ModelError, match="model directory .*nope does not exist"):
        TrainedToneModel.load(tmp_path / "nope")
    (saved / WEIGHTS).unlink()
    with pytest.raises(ModelError, match="weights.tsv is missing"):
        TrainedToneModel.load(saved)
    (saved / MANIFEST).unlink()
    with pytest.raises(ModelError, match="manifest.json is missing"):
        TrainedToneModel.load(saved)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda m: "{not json", r"manifest.json:1: not valid JSON"),
        (lambda m: json.dumps([1]), "is not a tone model manifest"),
        (
            lambda m: m.replace('"format_version": 1', '"format_version": 9'),
            "version 9 is not supported",
        ),
        (lambda m: m.replace('"bucket_bits": 18', '"bucket_bits": "x"'), "bad feature settings"),
        (
            lambda m: m.replace('"version": "', '"version": "0'),
            "version does not match the weights",
        ),
        (lambda m: m.replace('"lexicon": null', '"lexicon": 3'), "bad lexicon entry"),
    ],
)
def test_corrupt_manifest(saved: Path, change: Callable[[str], str], message: str) -> None:
    path = saved / MANIFEST
    path.write_text(change(path.read_text()))
    with pytest.raises(ModelError, match=message):
        TrainedToneModel.load(saved)


def test_corrupt_or_truncated_weights(saved: Path) -> None:
    path = saved / WEIGHTS
    original = path.read_text()
    path.write_text(original[: len(original) // 2])
    with pytest.raises(ModelError, match="does not match its manifest .checksum."):
        TrainedToneModel.load(saved)
    # A bad row whose checksum was updated too (a hand edit) is still caught, by line.
    lines = original.split("\n")
    lines[3] = "12\tabc\t1\t2"
    bad = "\n".join(lines)
    path.write_text(bad)
    manifest = json.loads((saved / MANIFEST).read_text())
    manifest["weights"]["sha256"] = hashlib.sha256(bad.encode()).hexdigest()
    (saved / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(ModelError, match=r"weights.tsv:4: bad weights row"):
        TrainedToneModel.load(saved)


# -- the lexicon feature and the analyzer ------------------------------------------------


def test_lexicon_scores_are_features(tmp_path: Path) -> None:
    lexicon = FakeLexicon()
    model = train_small(lexicon=lexicon)
    assert len(lexicon.calls) == 15
    assert model.lexicon is not None and model.lexicon.version == "test-1"
    # Words never seen in training: the lexicon's polarity alone decides.
    assert model.predict("xyz good")[0] == "positive"
    assert model.predict("xyz bad")[0] == "negative"
    model.save(tmp_path / "m")
    manifest = json.loads((tmp_path / "m" / MANIFEST).read_text())
    assert manifest["features"]["lexicon"] == {"name": "lexicon", "version": "test-1"}
    loaded = TrainedToneModel.load(tmp_path / "m", lexicon=FakeLexicon())
    assert loaded.probabilities("xyz good") == model.probabilities("xyz good")


def test_lexicon_model_needs_its_analyzer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    train_small(lexicon=FakeLexicon()).save(tmp_path / "m")
    with pytest.raises(
        ModelError, match="trained with the 'lexicon' analyzer's scores, not 'other'"
    ):
        TrainedToneModel.load(tmp_path / "m", lexicon=FakeLexicon(name="other"))

    def unavailable() -> FakeLexicon:
        raise ModelError("the lexicon analyzer is not available: test")

    monkeypatch.setattr("policy_service.analysis.trained.default_lexicon", unavailable)
    with pytest.raises(ModelError, match="not available"):
        TrainedToneModel.load(tmp_path / "m")
    monkeypatch.setattr(
        "policy_service.analysis.trained.default_lexicon", lambda: FakeLexicon(version="2")
    )
    with caplog.at_level(logging.WARNING):
        TrainedToneModel.load(tmp_path / "m")
    assert "trained with lexicon version test-1; running with version 2" in caplog.text


def test_trained_analyzer_takes_tone_from_the_model_and_the_rest_from_its_base(
    tmp_path: Path,
) -> None:
    train_small(lexicon=FakeLexicon()).save(tmp_path / "m")
    base = FakeLexicon()
    analyzer_ = TrainedAnalyzer.from_directory(tmp_path / "m", base)
    assert analyzer_.name == "trained"
    assert analyzer_.version == json.loads((tmp_path / "m" / MANIFEST).read_text())["version"]
    result = analyzer_.analyze("good service", "en")
    assert result.tone == "positive"
    assert (result.severity, result.constructive, result.topics) == (1, True, ("refund",))
    assert base.calls == ["good service"]  # the base's analysis fed the model too
    assert analyzer_.analyze("bad service, idiots", "en").tone == "hostile"
    # Hostile is kept only when the model agrees the comment is negative.
    assert analyzer_.analyze("good service, idiots", "en").tone == "positive"


def test_trained_analyzer_without_base() -> None:
    result = TrainedAnalyzer(train_small()).analyze("bad job", "en")
    assert result.tone == "negative" and result.polarity < 0
    assert (result.lang, result.severity, result.topics) == ("en", 0, ())


# -- evaluation ----------------------------------------------------------------------------


def test_scores_on_a_hand_made_example() -> None:
    gold = ["negative", "negative", "negative", "neutral", "positive", "positive"]
    predicted = ["negative", "hostile", "neutral", "positive", "positive", "neutral"]
    scores = score(gold, predicted)
    assert scores.confusion == ((2, 1, 0), (0, 0, 1), (0, 1, 1))
    assert scores.total == 6
    assert scores.accuracy == pytest.approx(3 / 6)
    assert scores.precision("negative") == 1.0
    assert scores.recall("negative") == pytest.approx(2 / 3)
    assert scores.f1("negative") == pytest.approx(0.8)
    assert scores.f1("neutral") == 0.0
    assert scores.f1("positive") == pytest.approx(0.5)
    assert scores.macro_f1 == pytest.approx((0.8 + 0.0 + 0.5) / 3)
    assert scores.negative_recall == pytest.approx(2 / 3)


def test_absent_labels_do_not_count_in_macro_f1() -> None:
    scores = score(["positive", "positive"], ["positive", "positive"])
    assert scores.macro_f1 == 1.0
    assert scores.negative_recall is None
    with pytest.raises(EvaluationError, match="unknown label 'angry'"):
        score(["angry"], ["positive"])


def test_report_per_language_and_evaluate() -> None:
    examples = [
        LabelledText("good", "positive", "en"),
        LabelledText("bad", "negative", "en"),
        LabelledText("bon", "positive", "fr"),
        LabelledText("idiots", "negative", "und"),
    ]
    result = evaluate(FakeLexicon(), examples)  # always neutral or hostile
    assert list(result.by_lang) == ["en", "fr", "und"]
    assert result.by_lang["en"].confusion == ((0, 1, 0), (0, 0, 0), (0, 1, 0))
    assert result.by_lang["und"].accuracy == 1.0
    assert result.overall.accuracy == 0.25
    assert report(examples, ["positive"] * 4).by_lang["fr"].accuracy == 1.0


def test_folds_are_deterministic_stratified_and_keep_copies_together() -> None:
    examples = [LabelledText(f"text {i}", ("negative", "positive")[i % 2]) for i in range(20)]
    examples.append(LabelledText("text 3", "positive"))
    assignment = folds(examples, 4)
    assert assignment == folds(list(reversed(examples)), 4)[::-1]
    assert assignment[3] == assignment[20]
    for fold in range(4):
        members = [e.label for e, f in zip(examples[:20], assignment, strict=False) if f == fold]
        assert members.count("negative") in (2, 3) and members.count("positive") in (2, 3)
    with pytest.raises(EvaluationError, match="at least 2 folds"):
        folds(examples, 1)
    with pytest.raises(EvaluationError, match="need at least 30 distinct texts"):
        folds(examples, 30)


def test_cross_validate_scores_each_example_once() -> None:
    examples = [LabelledText(f"t{i}", ("negative", "neutral", "positive")[i % 3]) for i in range(9)]
    seen: list[int] = []

    def fit(train: Sequence[LabelledText]) -> Callable[[str, str], str]:
        seen.append(len(train))
        return lambda text, lang: "neutral"

    result = cross_validate(examples, 3, fit)
    assert seen == [6, 6, 6]
    assert result.overall.confusion == ((0, 3, 0), (0, 3, 0), (0, 3, 0))


# -- command line ---------------------------------------------------------------------------


@pytest.fixture
def labelled_csv(tmp_path: Path) -> Path:
    texts, labels = small_set()
    rows = ["text,label,lang"] + [f'"{t}",{lbl},en' for t, lbl in zip(texts, labels, strict=True)]
    path = tmp_path / "labelled.csv"
    path.write_text("\n".join(rows) + "\n")
    return path


def test_cli_train_then_evaluate(tmp_path: Path, labelled_csv: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "model"
    trained = runner.invoke(
        analyzer, ["train", str(labelled_csv), "--out", str(out), "--no-lexicon"]
    )
    assert trained.exit_code == 0, trained.output
    assert "trained on 15 texts (en 15)" in trained.output
    assert "lexicon features: off" in trained.output
    manifest = json.loads((out / MANIFEST).read_text())
    assert manifest["training"]["description"] == f"{labelled_csv} (csv)"
    assert manifest["training"]["epochs"] == TrainingSettings().epochs

    scored = runner.invoke(analyzer, ["evaluate", str(labelled_csv), "--model", str(out)])
    assert scored.exit_code == 0, scored.output
    assert f"trained@{manifest['version']} on 15 texts" in scored.output
    assert "en: 15 texts" in scored.output
    assert "accuracy         1.000" in scored.output
    assert "macro-F1         1.000" in scored.output
    assert "negative recall  1.000" in scored.output
    assert "    negative           5         0         0" in scored.output


def test_cli_cross_validation(labelled_csv: Path) -> None:
    result = CliRunner().invoke(
        analyzer, ["evaluate", str(labelled_csv), "--folds", "3", "--no-lexicon", "--epochs", "2"]
    )
    assert result.exit_code == 0, result.output
    assert "3-fold cross-validation of a fresh trained model on 15 texts" in result.output
    assert "macro-F1" in result.output and "confusion" in result.output


def test_cli_lexicon_analyzer_and_features(
    tmp_path: Path, labelled_csv: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cli_analyzer, "default_lexicon", FakeLexicon)
    monkeypatch.setattr("policy_service.analysis.trained.default_lexicon", FakeLexicon)
    runner = CliRunner()
    scored = runner.invoke(analyzer, ["evaluate", str(labelled_csv)])
    assert scored.exit_code == 0, scored.output
    assert "lexicon@test-1 on 15 texts" in scored.output
    trained = runner.invoke(analyzer, ["train", str(labelled_csv), "--out", str(tmp_path / "m")])
    assert "lexicon features: lexicon@test-1" in trained.output
    scored = runner.invoke(
        analyzer, ["evaluate", str(labelled_csv), "--model", str(tmp_path / "m")]
    )
    assert scored.exit_code == 0, scored.output


def test_cli_without_the_lexicon(
    tmp_path: Path, labelled_csv: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unavailable() -> FakeLexicon:
        raise ModelError("the lexicon analyzer is not available: test")

    monkeypatch.setattr(cli_analyzer, "default_lexicon", unavailable)
    runner = CliRunner()
    auto = runner.invoke(analyzer, ["train", str(labelled_csv), "--out", str(tmp_path / "m")])
    assert auto.exit_code == 0 and "lexicon features: off" in auto.output
    forced = runner.invoke(
        analyzer, ["train", str(labelled_csv), "--out", str(tmp_path / "n"), "--with-lexicon"]
    )
    assert forced.exit_code == 1
    assert "Error: the lexicon analyzer is not available" in forced.output
    scored = runner.invoke(analyzer, ["evaluate", str(labelled_csv), "--analyzer", "lexicon"])
    assert scored.exit_code == 1 and "not available" in scored.output


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["evaluate", "{csv}", "--analyzer", "trained"], 2, "--analyzer trained needs --model"),
        (["evaluate", "{csv}", "--folds", "3", "--model", "{tmp}"], 2, "takes neither --model"),
        (["evaluate", "{csv}", "--folds", "1"], 2, "Invalid value for '--folds'"),
        (["evaluate", "{tmp}/nope.csv"], 2, "does not exist"),
        (["evaluate", "{csv}", "--model", "{tmp}/nope"], 1, "model directory"),
        (["evaluate", "{csv}", "--format", "xlmt", "--model", "{tmp}"], 1, "XLM-T file is named"),
        (["train", "{csv}"], 2, "Missing option '--out'"),
        (["train", "{bad}", "--out", "{tmp}/m"], 1, "bad.csv:3: label must be"),
        (["evaluate", "{small}", "--folds", "9", "--no-lexicon"], 1, "need at least 9 distinct"),
    ],
)
def test_cli_errors(
    tmp_path: Path, labelled_csv: Path, args: list[str], code: int, message: str
) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("text,label\nfine,positive\nhmm,maybe\n")
    small = tmp_path / "small.csv"
    small.write_text("text,label\n" + "".join(f"t{i},{i % 3}\n" for i in range(6)))
    values = {"csv": str(labelled_csv), "tmp": str(tmp_path), "bad": str(bad), "small": str(small)}
    result = CliRunner().invoke(analyzer, [a.format(**values) for a in args])
    assert result.exit_code == code, result.output
    assert message in result.output
    assert "Traceback" not in result.output


# -- quality on the public data sets -----------------------------------------------------------


@pytest.mark.parametrize(("language", "target"), [("french", 0.60), ("german", 0.60)])
def test_validation_macro_f1_stays_at_target(language: str, target: float) -> None:
    directory = DATA / "sentiment-xlmt" / language
    if not directory.is_dir():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{directory} is missing; CI must have the shared data sets")
        pytest.skip(f"{directory} is missing")
    train = read_xlmt(directory, split="train")
    model = TrainedToneModel.train([e.text for e in train], [e.label for e in train])
    validation = read_xlmt(directory, split="val")
    result = report(validation, [model.predict(e.text)[0] for e in validation])
    assert result.overall.macro_f1 >= target, result.overall
