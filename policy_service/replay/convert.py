"""CSV exports to event files: column and value mappings, time zones, ids from names, constants."""

from __future__ import annotations

import csv
import difflib
import math
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from typing import Any, TextIO
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import marshmallow as ma
import orjson

from policy_service.errors import PolicyError
from policy_service.events import EVENT_SCHEMA
from policy_service.replay.validation import check_event

REQUIRED = ("event_id", "account", "occurred_at", "author.id")
# Tried in turn when --time-format is not given and the value is not ISO 8601.
TIME_FORMATS = (
    "%Y-%m-%d %H:%M:%S %z",  # 2015-02-24 11:35:52 -0800 (Twitter exports)
    "%Y-%m-%d %H:%M:%S.%f %z",
    "%Y-%m-%dT%H:%M:%S %z",
    "%a %b %d %H:%M:%S %z %Y",  # Tue Feb 24 11:35:52 +0000 2015 (Twitter API)
)
TRUE = frozenset({"true", "t", "yes", "y", "1"})
FALSE = frozenset({"false", "f", "no", "n", "0"})
_NOT_ID = re.compile(r"[^a-z0-9._:-]+")
_LIST_SEPARATORS = re.compile(r"[|,;]")


class ConvertError(PolicyError):
    """The conversion itself is wrong (unknown field or column, bad option); no row can pass."""


class RowError(Exception):
    """One row cannot become a valid event; the message says why."""


def _kind(f: ma.fields.Field[Any]) -> str:
    if isinstance(f, ma.fields.DateTime):
        return "time"
    if isinstance(f, ma.fields.Boolean):
        return "bool"
    if isinstance(f, ma.fields.Integer):
        return "int"
    if isinstance(f, ma.fields.Float):
        return "float"
    if isinstance(f, ma.fields.List):
        return "list"
    return "str"


def event_fields(schema: ma.Schema = EVENT_SCHEMA, prefix: str = "") -> dict[str, str]:
    """Every dotted field of the event schema and its kind (str, int, float, bool, time, list)."""
    found: dict[str, str] = {}
    for name, f in schema.fields.items():
        if isinstance(f, ma.fields.Nested):
            nested = f.schema
            found.update(event_fields(nested, f"{prefix}{name}."))
        else:
            found[f"{prefix}{name}"] = _kind(f)
    return found


FIELDS = event_fields()


def slug(value: str) -> str:
    """A name as an id: `Virgin America` -> `virgin-america` (accents dropped, at most 64)."""
    ascii_text = unicodedata.normalize("NFKD", value).encode("ascii", "ignore").decode()
    return _NOT_ID.sub("-", ascii_text.strip().lower()).strip("-")[:64].rstrip("-")


def parse_pairs(
    specs: Iterable[str], option: str, split_commas: bool = True
) -> list[tuple[str, str]]:
    """`a=b,c=d` (or repeated options) as pairs; ConvertError names the option when malformed."""
    pairs: list[tuple[str, str]] = []
    for spec in specs:
        for part in spec.split(",") if split_commas else [spec]:
            if not part.strip():
                continue
            name, sep, value = part.partition("=")
            if not sep or not name.strip():
                raise ConvertError(f"{option} {part!r}: expected NAME=VALUE")
            pairs.append((name.strip(), value.strip() if split_commas else value))
    return pairs


def parse_value_maps(specs: Iterable[str]) -> dict[str, dict[str, str]]:
    """`FIELD:FROM=TO,FROM=TO` options as {field: {from: to}}."""
    maps: dict[str, dict[str, str]] = {}
    for spec in specs:
        target, sep, rest = spec.partition(":")
        if not sep:
            raise ConvertError(f"--value-map {spec!r}: expected FIELD:FROM=TO[,FROM=TO...]")
        maps.setdefault(target.strip(), {}).update(parse_pairs([rest], "--value-map"))
    return maps


def parse_zone(name: str | None) -> tzinfo | None:
    if not name:
        return None
    if name.upper() in ("UTC", "Z"):
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConvertError(
            f"--timezone {name!r}: not a time zone (e.g. UTC, Europe/Paris)"
        ) from None


@dataclass
class Conversion:
    """How one CSV row becomes one event in the API's request format."""

    columns: dict[str, str]  # event field -> CSV column
    constants: dict[str, str] = field(default_factory=dict)  # event field -> raw value
    values: dict[str, dict[str, str]] = field(default_factory=dict)  # field -> {from: to}
    slugs: frozenset[str] = frozenset()
    zone: tzinfo | None = None
    time_format: str | None = None
    skip_equal: tuple[tuple[str, str], ...] = ()  # (column, value): skip such rows
    skip_match: tuple[tuple[str, re.Pattern[str]], ...] = ()  # (column, pattern)
    _order: list[str] = field(init=False, default_factory=list)

    def __post_init__(self) -> None:
        named = [*self.columns, *self.constants, *self.values, *self.slugs]
        unknown = sorted({f for f in named if f not in FIELDS})
        if unknown:
            hints = []
            for name in unknown:
                close = difflib.get_close_matches(name, FIELDS, n=1)
                hints.append(f"{name!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
            raise ConvertError(
                f"unknown event field(s) {', '.join(hints)}; the fields are {', '.join(FIELDS)}"
            )
        missing = [f for f in REQUIRED if f not in self.columns and f not in self.constants]
        if missing:
            raise ConvertError(
                f"no column (--map) or constant (--set) for the required field(s) "
                f"{', '.join(missing)}"
            )
        not_text = sorted(f for f in self.slugs if FIELDS[f] != "str")
        if not_text:
            raise ConvertError(f"--slug applies to text fields, not {', '.join(not_text)}")
        # Fields in the schema's order, so every output line has the same layout.
        self._order = [f for f in FIELDS if f in self.columns or f in self.constants]

    def columns_used(self) -> list[str]:
        used = list(self.columns.values())
        used += [c for c, _ in self.skip_equal] + [c for c, _ in self.skip_match]
        return list(dict.fromkeys(used))

    def check_header(self, header: Sequence[str]) -> None:
        """ConvertError when a mapped column is not in the file's header."""
        missing = [c for c in self.columns_used() if c not in header]
        if missing:
            hints = []
            for column in missing:
                close = difflib.get_close_matches(column, header, n=1)
                hints.append(f"{column!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
            raise ConvertError(
                f"no column {', '.join(hints)} in the file; its columns are {', '.join(header)}"
            )

    def skip_reason(self, row: Mapping[str, str]) -> str | None:
        """Why a row is left out on purpose (--skip-if, --skip-if-match), or None."""
        for column, value in self.skip_equal:
            if row.get(column) == value:
                return f"{column}={value}"
        for column, pattern in self.skip_match:
            if pattern.search(row.get(column) or ""):
                return f"{column} matches {pattern.pattern}"
        return None

    def convert(self, row: Mapping[str, str]) -> dict[str, Any]:
        """The event for one row; RowError when it cannot pass parse_event."""
        event: dict[str, Any] = {}
        for name in self._order:
            constant = name in self.constants
            raw = self.constants[name] if constant else row.get(self.columns[name]) or ""
            where = "--set" if constant else f"column {self.columns[name]}"
            value = self._value(name, raw, where)
            if value is None:
                continue
            target = event
            *parents, leaf = name.split(".")
            for parent in parents:
                target = target.setdefault(parent, {})
            target[leaf] = value
        verdict = check_event(event)
        if isinstance(verdict, str):
            raise RowError(self._explain(verdict))
        return event

    def _value(self, name: str, raw: str, where: str) -> Any:
        kind = FIELDS[name]
        if kind != "str" or name != "text":
            raw = raw.strip()
        mapping = self.values.get(name)
        if mapping is not None and raw in mapping:
            raw = mapping[raw]
        if raw == "":
            return None  # an empty cell leaves the field out
        if name in self.slugs:
            made = slug(raw)
            if not made:
                raise RowError(f"{name} ({where}): cannot make an id of {raw!r}")
            return made
        try:
            return self._typed(kind, raw)
        except ValueError as exc:
            raise RowError(f"{name} ({where}): {exc}") from None

    def _typed(self, kind: str, raw: str) -> Any:
        if kind == "int":
            try:
                return int(raw)
            except ValueError:
                number = float(raw) if _is_number(raw) else math.nan
                if number.is_integer():
                    return int(number)
                raise ValueError(f"{raw!r} is not a whole number") from None
        if kind == "float":
            if not _is_number(raw):
                raise ValueError(f"{raw!r} is not a number")
            return float(raw)
        if kind == "bool":
            lowered = raw.lower()
            if lowered in TRUE:
                return True
            if lowered in FALSE:
                return False
            raise ValueError(f"{raw!r} is not true or false")
        if kind == "time":
            return parse_time(raw, self.time_format, self.zone).isoformat()
        if kind == "list":
            return [part.strip() for part in _LIST_SEPARATORS.split(raw) if part.strip()]
        return raw

    def _explain(self, verdict: str) -> str:
        parts = []
        for part in verdict.split("; "):
            name, sep, message = part.partition(": ")
            if sep and name in self.columns:
                part = f"{name} (column {self.columns[name]}): {message}"
            if sep and "1-64 letters" in message and name not in self.slugs:
                part += f" (hint: --slug {name} turns names into ids)"
            parts.append(part)
        return "; ".join(parts)


def _is_number(raw: str) -> bool:
    try:
        return math.isfinite(float(raw))
    except ValueError:
        return False


def parse_time(raw: str, time_format: str | None, zone: tzinfo | None) -> datetime:
    """A timestamp with its zone: ISO 8601, one of TIME_FORMATS, `time_format`, or epoch seconds.

    A timestamp without a zone takes `zone`; without one it is refused rather
    than guessed.
    """
    if time_format in ("epoch", "epoch_ms"):
        if not _is_number(raw):
            raise ValueError(f"{raw!r} is not a number of seconds")
        seconds = float(raw) / (1000 if time_format == "epoch_ms" else 1)
        return datetime.fromtimestamp(seconds, UTC)
    at: datetime | None = None
    if time_format:
        try:
            at = datetime.strptime(raw, time_format)
        except ValueError:
            raise ValueError(f"{raw!r} does not match the format {time_format!r}") from None
    else:
        try:
            at = datetime.fromisoformat(raw)
        except ValueError:
            for candidate in TIME_FORMATS:
                try:
                    at = datetime.strptime(raw, candidate)
                    break
                except ValueError:
                    continue
        if at is None:
            raise ValueError(
                f"{raw!r} is not a timestamp this tool reads (hint: --time-format, e.g. "
                "'%d/%m/%Y %H:%M %z')"
            )
    if at.utcoffset() is None:
        if zone is None:
            raise ValueError(f"{raw!r} has no time zone (hint: --timezone UTC or Europe/Paris)")
        at = at.replace(tzinfo=zone)
    return at


@dataclass
class ConvertStats:
    """What a conversion did with the rows."""

    rows: int = 0
    written: int = 0
    bad: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    stopped_at: int | None = None  # line of the bad row that stopped it (without skip_bad)


def convert_csv(
    source: TextIO,
    conversion: Conversion,
    write: Callable[[bytes], Any],
    on_bad: Callable[[int, str], None],
    *,
    skip_bad: bool = False,
    delimiter: str = ",",
) -> ConvertStats:
    """Convert every row of a CSV file (with a header) into one JSONL event line each.

    A bad row goes to `on_bad` with its line number (where the row starts) and
    stops the conversion unless `skip_bad`.
    """
    stats = ConvertStats()
    reader = csv.reader(source, delimiter=delimiter)
    try:
        header = next(reader, None)
        if header is None:
            raise ConvertError("the file is empty (no header row)")
        conversion.check_header(header)
        width = len(header)
        start = reader.line_num + 1
        for cells in reader:
            line, start = start, reader.line_num + 1
            if not cells:
                continue  # a blank line is no row
            stats.rows += 1
            try:
                if len(cells) != width:
                    raise RowError(f"{len(cells)} fields, the header has {width}")
                row = dict(zip(header, cells, strict=True))
                reason = conversion.skip_reason(row)
                if reason is not None:
                    stats.skipped[reason] += 1
                    continue
                event = conversion.convert(row)
            except RowError as exc:
                stats.bad += 1
                on_bad(line, str(exc))
                if not skip_bad:
                    stats.stopped_at = line
                    return stats
                continue
            write(orjson.dumps(event, option=orjson.OPT_APPEND_NEWLINE))
            stats.written += 1
    except csv.Error as exc:
        raise ConvertError(f"line {reader.line_num}: not valid CSV: {exc}") from None
    except UnicodeDecodeError as exc:
        raise ConvertError(
            f"after line {reader.line_num}: not {exc.encoding} text (hint: --encoding)"
        ) from None
    return stats
