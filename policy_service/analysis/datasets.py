"""Readers of labelled comment data: text,label CSV, XLM-T text/label pairs, airline tweets."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from policy_service.errors import PolicyError

# The three classes tone is judged on: hostile is a kind of negative here,
# since none of the public data sets tells the two apart.
LABELS = ("negative", "neutral", "positive")
FORMATS = ("csv", "xlmt", "airline")
UNKNOWN_LANG = "und"

_LABEL_NAMES = {
    "negative": "negative",
    "hostile": "negative",
    "neutral": "neutral",
    "positive": "positive",
    "0": "negative",
    "1": "neutral",
    "2": "positive",
}
_XLMT_LABELS = {"0": "negative", "1": "neutral", "2": "positive"}
# XLM-T names its directories after the language.
_LANG_DIRS = {"english": "en", "french": "fr", "german": "de", "en": "en", "fr": "fr", "de": "de"}
_LANG_CODE = re.compile(r"^[a-z]{2,3}$")


class LabelledDataError(PolicyError):
    """A labelled data file is missing or has a bad row; the message names the file and line."""


@dataclass(frozen=True, slots=True)
class LabelledText:
    """One comment text with its gold tone label (one of LABELS) and language code."""

    text: str
    label: str
    lang: str = UNKNOWN_LANG


def read_labelled(
    path: Path, format: str = "csv", *, lang: str | None = None, split: str = "train"
) -> list[LabelledText]:
    """Read `path` in `format` (one of FORMATS); `split` picks the XLM-T pair in a directory."""
    if format == "csv":
        return read_csv(path, lang=lang)
    if format == "xlmt":
        return read_xlmt(path, lang=lang, split=split)
    if format == "airline":
        return read_airline(path)
    raise LabelledDataError(f"unknown format {format!r}; expected one of {', '.join(FORMATS)}")


def read_csv(path: Path, *, lang: str | None = None) -> list[LabelledText]:
    """A `text,label` CSV with a header row and an optional `lang` column.

    Labels are negative, neutral, positive (hostile counts as negative) or 0, 1, 2.
    `lang` is used for rows without a language of their own.
    """
    default_lang = _check_lang(lang, path, 0) if lang else UNKNOWN_LANG
    examples: list[LabelledText] = []
    for line, row in _csv_rows(path, required=("text", "label")):
        label = _LABEL_NAMES.get(row["label"].strip().lower())
        if label is None:
            raise LabelledDataError(
                f"{path}:{line}: label must be negative, neutral, positive, hostile or 0, 1, 2, "
                f"not {row['label']!r}"
            )
        row_lang = (row.get("lang") or "").strip().lower()
        examples.append(
            LabelledText(
                _check_text(row["text"], path, line),
                label,
                _check_lang(row_lang, path, line) if row_lang else default_lang,
            )
        )
    return _non_empty(examples, path)


def read_airline(path: Path) -> list[LabelledText]:
    """The Twitter US Airline Sentiment CSV (columns text, airline_sentiment, airline); English."""
    examples: list[LabelledText] = []
    for line, row in _csv_rows(path, required=("text", "airline_sentiment", "airline")):
        value = row["airline_sentiment"].strip().lower()
        if value not in LABELS:
            raise LabelledDataError(
                f"{path}:{line}: airline_sentiment must be negative, neutral or positive, "
                f"not {row['airline_sentiment']!r}"
            )
        examples.append(LabelledText(_check_text(row["text"], path, line), value, "en"))
    return _non_empty(examples, path)


def read_xlmt(path: Path, *, lang: str | None = None, split: str = "train") -> list[LabelledText]:
    """An XLM-T pair: `<split>_text.txt` and `<split>_labels.txt`, one tweet or label per line.

    `path` is either file of the pair or the directory holding it (then `split`
    picks the pair when there are several). Labels: 0 negative, 1 neutral, 2
    positive. The language is `lang`, else guessed from the directory name
    (english, french, german).
    """
    text_path, labels_path = _xlmt_pair(path, split)
    if lang:
        code = _check_lang(lang, path, 0)
    else:
        code = _LANG_DIRS.get(text_path.parent.name.lower(), UNKNOWN_LANG)
    texts = _lines(text_path)
    labels = _lines(labels_path)
    if len(texts) != len(labels):
        raise LabelledDataError(
            f"{text_path} has {len(texts)} line(s) but {labels_path} has {len(labels)}"
        )
    examples: list[LabelledText] = []
    for number, (text, raw) in enumerate(zip(texts, labels, strict=True), start=1):
        label = _XLMT_LABELS.get(raw.strip())
        if label is None:
            raise LabelledDataError(f"{labels_path}:{number}: label must be 0, 1 or 2, not {raw!r}")
        examples.append(LabelledText(_check_text(text, text_path, number), label, code))
    return _non_empty(examples, text_path)


def _xlmt_pair(path: Path, split: str) -> tuple[Path, Path]:
    if path.is_dir():
        pairs = sorted(p.name[: -len("_text.txt")] for p in path.glob("*_text.txt"))
        if not pairs:
            raise LabelledDataError(f"{path} holds no XLM-T pair (<split>_text.txt)")
        if split in pairs:
            chosen = split
        elif len(pairs) == 1:
            chosen = pairs[0]
        else:
            raise LabelledDataError(
                f"{path} has no {split!r} split; pass one of its files: {', '.join(pairs)}"
            )
        text_path = path / f"{chosen}_text.txt"
    elif path.name.endswith("_text.txt"):
        text_path = path
    elif path.name.endswith("_labels.txt"):
        text_path = path.with_name(path.name[: -len("_labels.txt")] + "_text.txt")
    else:
        raise LabelledDataError(
            f"{path}: an XLM-T file is named <split>_text.txt or <split>_labels.txt"
        )
    labels_path = text_path.with_name(text_path.name[: -len("_text.txt")] + "_labels.txt")
    for needed in (text_path, labels_path):
        if not needed.is_file():
            raise LabelledDataError(f"{needed} does not exist")
    return text_path, labels_path


def _lines(path: Path) -> list[str]:
    content = _read_text(path)
    # Split on newlines only: str.splitlines would also break a tweet at the
    # Unicode separators (U+2028, U+0085 ...) some tweets contain.
    lines = content.split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # a final newline ends the last line; it does not start another
    return [line.removesuffix("\r") for line in lines]


def _csv_rows(path: Path, required: Iterable[str]) -> Iterator[tuple[int, dict[str, str]]]:
    """Rows of a CSV with a header, each with the line it starts on; checks the columns."""
    content = _read_text(path)
    # newline="": the csv module handles line ends itself, quoted ones included.
    reader = csv.reader(io.StringIO(content, newline=""))
    try:
        header = next(reader, None)
    except csv.Error as exc:
        raise LabelledDataError(f"{path}:1: {exc}") from None
    if header is None:
        raise LabelledDataError(f"{path} is empty")
    columns = [name.strip().lower() for name in header]
    missing = [name for name in required if name not in columns]
    if missing:
        raise LabelledDataError(
            f"{path}:1: missing column(s) {', '.join(missing)} (header: {', '.join(columns)})"
        )
    previous_end = reader.line_num
    while True:
        start = previous_end + 1
        try:
            row = next(reader, None)
        except csv.Error as exc:
            raise LabelledDataError(f"{path}:{start}: {exc}") from None
        if row is None:
            return
        previous_end = reader.line_num
        if not any(cell.strip() for cell in row):
            continue  # blank lines carry nothing
        if len(row) != len(columns):
            raise LabelledDataError(
                f"{path}:{start}: {len(row)} field(s) where the header has {len(columns)}"
            )
        yield start, dict(zip(columns, row, strict=True))


def _read_text(path: Path) -> str:
    try:
        # utf-8-sig: spreadsheet exports often start with a byte order mark.
        return path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise LabelledDataError(f"{path} does not exist") from None
    except IsADirectoryError:
        raise LabelledDataError(f"{path} is a directory, not a file") from None
    except UnicodeDecodeError as exc:
        raise LabelledDataError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise LabelledDataError(f"{path}: {exc.strerror}") from None


def _check_text(text: str, path: Path, line: int) -> str:
    if not text.strip():
        raise LabelledDataError(f"{path}:{line}: empty text")
    return text


def _check_lang(lang: str, path: Path, line: int) -> str:
    code = lang.strip().lower()
    if not _LANG_CODE.match(code):
        where = f"{path}:{line}" if line else str(path)
        raise LabelledDataError(f"{where}: language must be a code like en, fr, de, not {lang!r}")
    return code


def _non_empty(examples: list[LabelledText], path: Path) -> list[LabelledText]:
    if not examples:
        raise LabelledDataError(f"{path} holds no labelled text")
    return examples
