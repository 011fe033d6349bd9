"""A trainable tone model (hashed n-grams, logistic regression) and the analyzer that uses it."""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import math
import os
import random
import re
import zlib
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from policy_service.analysis.base import Analysis, TextAnalyzer
from policy_service.analysis.datasets import LABELS, UNKNOWN_LANG
from policy_service.errors import PolicyError

log = logging.getLogger(__name__)

MODEL_FORMAT = "policy-service/tone-model"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
WEIGHTS = "weights.tsv"

# Enough text to judge a comment: beyond it prediction time would grow for
# nothing (a pasted document is not a tweet).
MAX_CHARS = 5_000

# Rows of the weight table after the hashed buckets: the bias and the two
# lexicon scores, named in the weights file so that it stays readable.
_DENSE = ("bias", "lexicon_polarity", "lexicon_arousal")
_BIAS, _POLARITY, _AROUSAL = range(len(_DENSE))
# Weights keep 6 significant digits: the file stays compact and a loaded
# model predicts exactly what the trained one did (training rounds too).
_DIGITS = 6

_URL = re.compile(r"https?://\S+|www\.\S+")
_TOKEN = re.compile(r"@\w+|#\w+|\w+(?:['’]\w+)*|[!?]+|[^\s\w]")
# "soooo" and "sooo" are one word, "!!!!" and "!!!" one token; two letters
# stay ("cool", "Boot"), and so do numbers ("1000").
_ELONGATED = re.compile(r"(\D)\1{2,}")


class ModelError(PolicyError):
    """A model cannot be trained, or a model directory is missing, incomplete or corrupt."""


@dataclass(frozen=True, slots=True)
class FeatureSettings:
    """What the model sees of a text; recorded in the manifest, so a loaded model sees the same."""

    bucket_bits: int = 18  # 2**18 hashed buckets
    word_ngrams: int = 2  # word uni- and bigrams
    char_min: int = 1  # character n-grams inside words, with word boundaries
    char_max: int = 4  # 0: no character n-grams
    # The lexicon's polarity and arousal as two more features (when a lexicon
    # analyzer is given): the n-grams of a small training set miss much of
    # general English that the lexicon knows.
    lexicon_scale: float = 1.0

    def validate(self) -> None:
        if not 10 <= self.bucket_bits <= 24:
            raise ModelError(f"bucket_bits must be between 10 and 24, not {self.bucket_bits}")
        if not 1 <= self.word_ngrams <= 3:
            raise ModelError(f"word_ngrams must be 1, 2 or 3, not {self.word_ngrams}")
        if self.char_max and not 1 <= self.char_min <= self.char_max <= 8:
            raise ModelError(
                f"character n-grams must satisfy 1 <= min <= max <= 8, "
                f"not {self.char_min}..{self.char_max} (max 0 turns them off)"
            )
        if not 0 < self.lexicon_scale <= 100:
            raise ModelError(f"lexicon_scale must be in (0, 100], not {self.lexicon_scale}")


@dataclass(frozen=True, slots=True)
class TrainingSettings:
    """How the weights are fitted: AdaGrad passes over the data in a seeded order."""

    # Few passes: with more, the n-grams memorize the training set and
    # crowd out the lexicon's scores (English validation macro-F1 0.66 after
    # 3 passes, 0.60 after 8); without the lexicon 3 or 8 score alike.
    epochs: int = 3
    learning_rate: float = 0.2
    seed: int = 1

    def validate(self) -> None:
        if not 1 <= self.epochs <= 1000:
            raise ModelError(f"epochs must be between 1 and 1000, not {self.epochs}")
        if not 0 < self.learning_rate <= 100:
            raise ModelError(f"learning_rate must be in (0, 100], not {self.learning_rate}")


@dataclass(frozen=True, slots=True)
class LexiconFeature:
    """The analyzer whose scores the model was trained with: the same one must feed it later."""

    name: str
    version: str


def tokens(text: str) -> list[str]:
    """Lower-case tokens: words, #hashtags, "@user" for every mention, "http" for links,
    runs of "!" or "?", and any other symbol (emoji, punctuation) on its own."""
    text = text[:MAX_CHARS].lower().replace("\ufe0f", "")
    text = _URL.sub(" http ", text)
    text = _ELONGATED.sub(r"\1\1", text)
    # Handles name the brand or a person, not a tone: one token for all of them.
    return ["@user" if token[0] == "@" else token for token in _TOKEN.findall(text)]


def token_features(token: str, char_min: int, char_max: int) -> list[str]:
    """The features one token gives, before hashing: itself (and a hashtag's word) and the
    character n-grams of its word."""
    names = ["w" + token]
    word = token[1:] if token[0] == "#" else token
    if word is not token and word:
        names.append("w" + word)  # "#fail" also counts as "fail"
    if char_max and word and word[0].isalnum():
        # Character n-grams carry inflections and misspellings the word
        # itself misses ("énervée", "énervant"); boundaries mark prefixes.
        bounded = "<" + word + ">"
        for n in range(char_min, char_max + 1):
            names.extend("c" + bounded[i : i + n] for i in range(len(bounded) - n + 1))
    return names


def feature_names(text: str, settings: FeatureSettings) -> list[str]:
    """The features of `text` before hashing, one per occurrence: every token's, then the
    word n-grams (with sentence start and end)."""
    words = tokens(text)
    names: list[str] = []
    for token in words:
        names.extend(token_features(token, settings.char_min, settings.char_max))
    padded = ["<s>", *words, "</s>"]
    for n in range(2, settings.word_ngrams + 1):
        names.extend(f"{n}" + " ".join(padded[i : i + n]) for i in range(len(padded) - n + 1))
    return names


def _code(name: str) -> int:
    # crc32, not hash(): the string hash changes from one process to the next.
    return zlib.crc32(name.encode("utf-8", "surrogatepass"))


@functools.lru_cache(maxsize=1 << 12)
def _token_codes(token: str, char_min: int, char_max: int, mask: int) -> tuple[int, ...]:
    # Words recur from one comment to the next: their hashed n-grams are
    # computed once (most of the time spent on a comment otherwise). 4,096
    # words hold about 5 MB and serve 93% of the tokens of airline tweets.
    return tuple(_code(name) & mask for name in token_features(token, char_min, char_max))


def featurize(
    text: str, settings: FeatureSettings, analysis: Analysis | None = None
) -> list[tuple[int, float]]:
    """The sparse feature vector of `text` (the hashed `feature_names`): counts scaled to
    unit length, then the bias and, given the lexicon's analysis, its scores."""
    buckets = 1 << settings.bucket_bits
    mask = buckets - 1
    words = tokens(text)
    codes: list[int] = []
    for token in words:
        codes.extend(_token_codes(token, settings.char_min, settings.char_max, mask))
    padded = ["<s>", *words, "</s>"]
    for n in range(2, settings.word_ngrams + 1):
        codes.extend(
            _code(f"{n}" + " ".join(padded[i : i + n])) & mask for i in range(len(padded) - n + 1)
        )
    counts = Counter(codes)
    norm = math.sqrt(sum(c * c for c in counts.values())) or 1.0
    # Counter keeps first-seen order: the same text always gives the same
    # vector, hence the same sums to the last bit.
    vector = [(index, count / norm) for index, count in counts.items()]
    vector.append((buckets + _BIAS, 1.0))
    if analysis is not None:
        scale = settings.lexicon_scale
        vector.append((buckets + _POLARITY, _bounded(analysis.polarity, -1.0) * scale))
        vector.append((buckets + _AROUSAL, _bounded(analysis.arousal, 0.0) * scale))
    return vector


class TrainedToneModel:
    """Negative, neutral or positive from a text: multinomial logistic regression on hashed
    word and character n-grams, optionally with a lexicon analyzer's scores as features."""

    def __init__(
        self,
        weights: Mapping[int, tuple[float, float, float]],
        *,
        features: FeatureSettings,
        lexicon: LexiconFeature | None,
        lexicon_analyzer: TextAnalyzer | None = None,
        training: Mapping[str, Any] | None = None,
        trained_at: str | None = None,
    ) -> None:
        if lexicon is not None and lexicon_analyzer is None:
            raise ModelError(
                f"this model takes the scores of the {lexicon.name!r} analyzer; pass that analyzer"
            )
        self.features = features
        self.lexicon = lexicon
        self.lexicon_analyzer = lexicon_analyzer if lexicon is not None else None
        self._weights = dict(weights)
        self._table = _weights_table(self._weights, features)
        self.version = hashlib.sha256(self._table.encode("utf-8")).hexdigest()[:12]
        self.training: dict[str, Any] = dict(training or {})  # what it was trained on, and how
        self.trained_at = trained_at

    # -- training -------------------------------------------------------------

    @classmethod
    def train(
        cls,
        texts: Sequence[str],
        labels: Sequence[str],
        *,
        langs: Sequence[str] | None = None,
        lexicon: TextAnalyzer | None = None,
        features: FeatureSettings | None = None,
        training: TrainingSettings | None = None,
        description: str = "",
        trained_at: datetime | None = None,
    ) -> TrainedToneModel:
        """Fit a model on `texts` and their `labels` (negative, neutral or positive).

        `langs` (one code per text) are passed to the `lexicon` analyzer, whose
        polarity and arousal become features when it is given. Deterministic:
        the same data and settings give the same weights. `description` and
        `trained_at` only go into the manifest.
        """
        features = features or FeatureSettings()
        training = training or TrainingSettings()
        features.validate()
        training.validate()
        if len(texts) != len(labels):
            raise ModelError(f"{len(texts)} text(s) but {len(labels)} label(s)")
        if langs is not None and len(langs) != len(texts):
            raise ModelError(f"{len(texts)} text(s) but {len(langs)} language code(s)")
        if not texts:
            raise ModelError("no training data")
        targets: list[int] = []
        for number, label in enumerate(labels, start=1):
            if label not in LABELS:
                raise ModelError(
                    f"label {number} is {label!r}; expected one of {', '.join(LABELS)}"
                )
            targets.append(LABELS.index(label))
        vectors = []
        for i, text in enumerate(texts):
            analysis = None
            if lexicon is not None:
                lang = langs[i] if langs is not None else None
                analysis = lexicon.analyze(text, None if lang == UNKNOWN_LANG else lang)
            vectors.append(featurize(text, features, analysis))
        weights = _fit(vectors, targets, features, training)
        feature = LexiconFeature(lexicon.name, lexicon.version) if lexicon is not None else None
        per_lang = Counter(langs) if langs is not None else Counter({UNKNOWN_LANG: len(texts)})
        return cls(
            weights,
            features=features,
            lexicon=feature,
            lexicon_analyzer=lexicon,
            training={
                "description": description,
                "examples": len(texts),
                "labels": {label: labels.count(label) for label in LABELS},
                "languages": dict(sorted(per_lang.items())),
                **asdict(training),
            },
            trained_at=trained_at.isoformat() if trained_at is not None else None,
        )

    # -- prediction -------------------------------------------------------------

    def probabilities(
        self, text: str, lang: str | None = None, analysis: Analysis | None = None
    ) -> tuple[float, float, float]:
        """Probability of negative, neutral and positive.

        A model trained with lexicon features takes `analysis` (the lexicon's
        own, when the caller has it already) or asks its lexicon analyzer.
        """
        if self.lexicon_analyzer is None:
            analysis = None
        elif analysis is None:
            analysis = self.lexicon_analyzer.analyze(text, lang)
        neg = neu = pos = 0.0
        weights = self._weights
        for index, value in featurize(text, self.features, analysis):
            row = weights.get(index)
            if row is not None:
                neg += row[0] * value
                neu += row[1] * value
                pos += row[2] * value
        return _softmax(neg, neu, pos)

    def predict(
        self, text: str, lang: str | None = None, analysis: Analysis | None = None
    ) -> tuple[str, float]:
        """The most likely label of `text` and its probability."""
        probs = self.probabilities(text, lang, analysis)
        best = max(range(len(LABELS)), key=probs.__getitem__)
        return LABELS[best], probs[best]

    # -- files -------------------------------------------------------------------

    def to_manifest(self) -> dict[str, Any]:
        """The manifest written beside the weights."""
        return {
            "format": MODEL_FORMAT,
            "format_version": FORMAT_VERSION,
            "version": self.version,
            "labels": list(LABELS),
            "features": {
                **asdict(self.features),
                "lexicon": asdict(self.lexicon) if self.lexicon is not None else None,
            },
            "training": self.training,
            "trained_at": self.trained_at,
            "weights": {
                "file": WEIGHTS,
                "rows": len(self._weights),
                "sha256": hashlib.sha256(self._table.encode("utf-8")).hexdigest(),
            },
        }

    def save(self, directory: Path) -> None:
        """Write the weights and the manifest into `directory` (created when missing)."""
        try:
            directory.mkdir(parents=True, exist_ok=True)
            # Weights first, manifest last, each replaced whole: a service
            # loading the directory meanwhile sees the old model or the new
            # one, or a checksum mismatch it reports, never a silent mix.
            _write_atomically(directory / WEIGHTS, self._table)
            manifest = json.dumps(self.to_manifest(), indent=2, ensure_ascii=False) + "\n"
            _write_atomically(directory / MANIFEST, manifest)
        except OSError as exc:
            raise ModelError(f"cannot write the model to {directory}: {exc.strerror}") from None

    @classmethod
    def load(cls, directory: Path, lexicon: TextAnalyzer | None = None) -> TrainedToneModel:
        """Read a model saved by `save`.

        A model trained with lexicon features needs that analyzer: `lexicon`
        when given, else the built-in lexicon analyzer.
        """
        manifest = _read_manifest(directory)
        features = _manifest_features(manifest, directory)
        feature = _manifest_lexicon(manifest, directory)
        text = _read_file(directory / WEIGHTS)
        expected = manifest["weights"].get("sha256")
        if hashlib.sha256(text.encode("utf-8")).hexdigest() != expected:
            raise ModelError(
                f"{directory / WEIGHTS} does not match its manifest (checksum); "
                "the model is corrupt or half-written: train or copy it again"
            )
        weights = _parse_weights(text, features, directory / WEIGHTS)
        analyzer = None
        if feature is not None:
            analyzer = lexicon if lexicon is not None else _default_lexicon(feature)
            if analyzer.name != feature.name:
                raise ModelError(
                    f"{directory} was trained with the {feature.name!r} analyzer's scores, "
                    f"not {analyzer.name!r}'s"
                )
            if analyzer.version != feature.version:
                # Still usable: the scores mean the same, their calibration may have moved.
                log.warning(
                    "tone model %s was trained with %s version %s; running with version %s",
                    manifest.get("version"),
                    feature.name,
                    feature.version,
                    analyzer.version,
                )
        training = manifest.get("training")
        trained_at = manifest.get("trained_at")
        model = cls(
            weights,
            features=features,
            lexicon=feature,
            lexicon_analyzer=analyzer,
            training=training if isinstance(training, dict) else None,
            trained_at=trained_at if isinstance(trained_at, str) else None,
        )
        if model.version != manifest.get("version"):
            raise ModelError(f"{directory / MANIFEST}: version does not match the weights")
        return model


class TrainedAnalyzer:
    """Tone from a trained model, every other signal from the analyzer it wraps.

    The base analyzer (the lexicon in production) tells hostile from
    negative: when it says hostile and the model says negative, the comment
    stays hostile. Without a base, the other signals are neutral defaults.
    """

    name = "trained"

    def __init__(self, model: TrainedToneModel, base: TextAnalyzer | None = None) -> None:
        self.model = model
        self.base = base
        self.version = model.version

    @classmethod
    def from_directory(cls, directory: Path, base: TextAnalyzer | None = None) -> TrainedAnalyzer:
        """Load the model in `directory`; `base` also feeds it when it is the model's lexicon."""
        feature = _manifest_lexicon(_read_manifest(directory), directory)
        shared = (
            base if base is not None and feature is not None and base.name == feature.name else None
        )
        return cls(TrainedToneModel.load(directory, lexicon=shared), base)

    def analyze(self, text: str, lang: str | None = None) -> Analysis:
        """All signals of `text`; `lang` is the caller's language code when known."""
        if self.base is None:
            probs = self.model.probabilities(text, lang)
            return Analysis(
                lang=lang or UNKNOWN_LANG,
                tone=LABELS[max(range(len(LABELS)), key=probs.__getitem__)],
                severity=0,
                constructive=False,
                arousal=0.0,
                topics=(),
                polarity=round(probs[2] - probs[0], 4),
            )
        base = self.base.analyze(text, lang)
        # The base's analysis is the lexicon's when the model uses that same
        # analyzer: no need to analyze the text twice.
        shared = base if self.model.lexicon_analyzer is self.base else None
        label, _ = self.model.predict(text, lang, shared)
        tone = "hostile" if label == "negative" and base.tone == "hostile" else label
        return Analysis(
            lang=base.lang,
            tone=tone,
            severity=base.severity,
            constructive=base.constructive,
            arousal=base.arousal,
            topics=base.topics,
            polarity=base.polarity,
        )


def default_lexicon() -> TextAnalyzer:
    """The built-in lexicon analyzer, imported only when a model needs it."""
    try:
        from policy_service.analysis.lexicon import LexiconAnalyzer
    except ImportError as exc:
        raise ModelError(f"the lexicon analyzer is not available: {exc}") from None
    return LexiconAnalyzer()


def _default_lexicon(feature: LexiconFeature) -> TextAnalyzer:
    if feature.name != "lexicon":
        raise ModelError(
            f"this model takes the scores of the {feature.name!r} analyzer; pass that analyzer"
        )
    return default_lexicon()


def _fit(
    vectors: Sequence[list[tuple[int, float]]],
    targets: Sequence[int],
    features: FeatureSettings,
    training: TrainingSettings,
) -> dict[int, tuple[float, float, float]]:
    """AdaGrad on the softmax loss; the pass order comes from the seed alone."""
    size = (1 << features.bucket_bits) + len(_DENSE)
    weights = [[0.0] * size for _ in LABELS]
    # A tiny start keeps the first step finite when a gradient is exactly 0.
    squares = [[1e-8] * size for _ in LABELS]
    rate = training.learning_rate
    order = list(range(len(vectors)))
    rng = random.Random(training.seed)
    for _ in range(training.epochs):
        rng.shuffle(order)
        for j in order:
            vector = vectors[j]
            scores = [sum(w[i] * v for i, v in vector) for w in weights]
            probs = _softmax(*scores)
            for label, (w, g2) in enumerate(zip(weights, squares, strict=True)):
                error = probs[label] - (1.0 if label == targets[j] else 0.0)
                if error == 0.0:
                    continue
                for i, v in vector:
                    grad = error * v
                    g2[i] += grad * grad
                    w[i] -= rate * grad / math.sqrt(g2[i])
    rounded: dict[int, tuple[float, float, float]] = {}
    for index in range(size):
        row = (
            _round(weights[0][index]),
            _round(weights[1][index]),
            _round(weights[2][index]),
        )
        if row != (0.0, 0.0, 0.0):
            rounded[index] = row
    return rounded


def _bounded(value: float, low: float) -> float:
    # A score out of its range (or NaN) from some other analyzer must not
    # swamp the n-grams or poison every sum.
    return min(max(value, low), 1.0) if math.isfinite(value) else 0.0


def _softmax(neg: float, neu: float, pos: float) -> tuple[float, float, float]:
    top = max(neg, neu, pos)
    a, b, c = math.exp(neg - top), math.exp(neu - top), math.exp(pos - top)
    total = a + b + c
    return a / total, b / total, c / total


def _round(value: float) -> float:
    return float(f"{value:.{_DIGITS}g}") + 0.0  # + 0.0 turns -0.0 into 0.0


def _row_name(index: int, buckets: int) -> str:
    return str(index) if index < buckets else _DENSE[index - buckets]


def _weights_table(
    weights: Mapping[int, tuple[float, float, float]], features: FeatureSettings
) -> str:
    buckets = 1 << features.bucket_bits
    lines = ["row\t" + "\t".join(LABELS)]
    for index in sorted(weights):
        row = weights[index]
        lines.append(f"{_row_name(index, buckets)}\t" + "\t".join(f"{w:.{_DIGITS}g}" for w in row))
    return "\n".join(lines) + "\n"


def _parse_weights(
    text: str, features: FeatureSettings, path: Path
) -> dict[int, tuple[float, float, float]]:
    buckets = 1 << features.bucket_bits
    dense = {name: buckets + offset for offset, name in enumerate(_DENSE)}
    lines = text.split("\n")
    if lines[0] != "row\t" + "\t".join(LABELS):
        raise ModelError(f"{path}:1: not a weights table (header {lines[0][:40]!r})")
    weights: dict[int, tuple[float, float, float]] = {}
    for number, line in enumerate(lines[1:], start=2):
        if not line:
            continue
        fields = line.split("\t")
        try:
            if len(fields) != 4:
                raise ValueError
            key = fields[0]
            index = dense[key] if key in dense else int(key)
            if not 0 <= index < buckets + len(_DENSE):
                raise ValueError
            row = (float(fields[1]), float(fields[2]), float(fields[3]))
            if not all(math.isfinite(w) for w in row):
                raise ValueError
        except ValueError:
            raise ModelError(f"{path}:{number}: bad weights row {line[:60]!r}") from None
        weights[index] = row
    return weights


def _read_file(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ModelError(
            f"{path} is missing; is this a directory written by `analyzer train`?"
        ) from None
    except UnicodeDecodeError:
        raise ModelError(f"{path} is not UTF-8 text; the model is corrupt") from None
    except OSError as exc:
        raise ModelError(f"cannot read {path}: {exc.strerror}") from None


def _read_manifest(directory: Path) -> dict[str, Any]:
    if not directory.is_dir():
        raise ModelError(f"model directory {directory} does not exist")
    path = directory / MANIFEST
    try:
        manifest = json.loads(_read_file(path))
    except json.JSONDecodeError as exc:
        raise ModelError(
            f"{path}:{exc.lineno}: not valid JSON ({exc.msg}); the model is corrupt"
        ) from None
    if not isinstance(manifest, dict) or manifest.get("format") != MODEL_FORMAT:
        raise ModelError(f"{path} is not a tone model manifest")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise ModelError(
            f"{path}: model format version {manifest.get('format_version')!r} is not supported "
            f"(this service reads version {FORMAT_VERSION}); train the model again"
        )
    if not isinstance(manifest.get("weights"), dict) or not isinstance(
        manifest.get("version"), str
    ):
        raise ModelError(f"{path} lacks its weights entry or version")
    return manifest


def _manifest_features(manifest: Mapping[str, Any], directory: Path) -> FeatureSettings:
    raw = manifest.get("features")
    try:
        if not isinstance(raw, dict):
            raise TypeError
        settings = FeatureSettings(
            bucket_bits=int(raw["bucket_bits"]),
            word_ngrams=int(raw["word_ngrams"]),
            char_min=int(raw["char_min"]),
            char_max=int(raw["char_max"]),
            lexicon_scale=float(raw["lexicon_scale"]),
        )
        settings.validate()
    except (KeyError, TypeError, ValueError, ModelError) as exc:
        detail = f": {exc}" if isinstance(exc, ModelError) else ""
        raise ModelError(f"{directory / MANIFEST}: bad feature settings{detail}") from None
    return settings


def _manifest_lexicon(manifest: Mapping[str, Any], directory: Path) -> LexiconFeature | None:
    features = manifest.get("features")
    raw = features.get("lexicon") if isinstance(features, dict) else None
    if raw is None:
        return None
    if not isinstance(raw, dict) or not all(
        isinstance(raw.get(k), str) for k in ("name", "version")
    ):
        raise ModelError(f"{directory / MANIFEST}: bad lexicon entry in the feature settings")
    return LexiconFeature(raw["name"], raw["version"])


def _write_atomically(path: Path, text: str) -> None:
    # A sibling temporary file (created like any other file, so with the
    # umask's permissions) then renamed over the target in one step.
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
