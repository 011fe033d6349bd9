"""The `policy-service events` commands: event files from CSV exports and from captured streams."""

from __future__ import annotations

import contextlib
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import click
import orjson

from policy_service.replay.convert import (
    Conversion,
    ConvertError,
    convert_csv,
    parse_pairs,
    parse_value_maps,
    parse_zone,
)
from policy_service.replay.files import Completion, atomic_output
from policy_service.replay.validation import check_event

BAD_SHOWN = 100


@click.group()
def events() -> None:
    """Make event files: JSONL, one event per line, in the API's request format."""


@contextlib.contextmanager
def output(path: Path | None) -> Iterator[tuple[IO[bytes], Completion]]:
    """stdout, or `path` written whole only when the caller marks the output done."""
    if path is None:
        yield sys.stdout.buffer, Completion()
        return
    with atomic_output(path) as opened:
        yield opened


def _split(values: tuple[str, ...]) -> list[str]:
    return [v.strip() for spec in values for v in spec.split(",") if v.strip()]


@events.command("from-csv")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--map",
    "maps",
    multiple=True,
    required=True,
    metavar="FIELD=COLUMN,...",
    help="Event fields from CSV columns, e.g. author.id=name,signals.tone=airline_sentiment.",
)
@click.option(
    "--set",
    "sets",
    multiple=True,
    metavar="FIELD=VALUE",
    help="A constant field for every event, e.g. channel=twitter (repeat for more).",
)
@click.option(
    "--value-map",
    "value_maps",
    multiple=True,
    metavar="FIELD:FROM=TO,...",
    help="Replace values of a field, e.g. signals.tone:neg=negative,pos=positive; "
    "an empty TO leaves the field out.",
)
@click.option(
    "--slug",
    "slugs",
    multiple=True,
    metavar="FIELD,...",
    help="Turn names into ids (Virgin America -> virgin-america), e.g. --slug account.",
)
@click.option(
    "--timezone", metavar="ZONE", help="Zone of timestamps that have none (UTC, Europe/Paris)."
)
@click.option(
    "--time-format",
    metavar="FORMAT",
    help="strptime format of the timestamps, or epoch / epoch_ms "
    "(default: ISO 8601 or '2015-02-24 11:35:52 -0800').",
)
@click.option(
    "--skip-if",
    multiple=True,
    metavar="COLUMN=VALUE",
    help="Leave out rows whose column equals the value (repeat for more).",
)
@click.option(
    "--skip-if-match",
    multiple=True,
    metavar="COLUMN=REGEX",
    help="Leave out rows whose column matches the regular expression (repeat for more).",
)
@click.option("--skip-bad", is_flag=True, help="Report rows that cannot be converted and go on.")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Write the events here (default: stdout).",
)
@click.option("--delimiter", default=",", show_default=True, help="The CSV delimiter.")
@click.option("--encoding", default="utf-8-sig", show_default=True, help="The file's encoding.")
def from_csv(
    file: Path,
    maps: tuple[str, ...],
    sets: tuple[str, ...],
    value_maps: tuple[str, ...],
    slugs: tuple[str, ...],
    timezone: str | None,
    time_format: str | None,
    skip_if: tuple[str, ...],
    skip_if_match: tuple[str, ...],
    skip_bad: bool,
    out: Path | None,
    delimiter: str,
    encoding: str,
) -> None:
    """Convert a CSV export (with a header row) into an event file.

    Every row becomes one event that passes the API's validation; a row that
    cannot is reported as FILE:LINE: reason, and stops the conversion (exit 1,
    nothing written to --out) unless --skip-bad.
    """
    try:
        matches = []
        for column, pattern in parse_pairs(skip_if_match, "--skip-if-match", split_commas=False):
            try:
                matches.append((column, re.compile(pattern)))
            except re.error as exc:
                raise ConvertError(f"--skip-if-match {column}={pattern}: {exc}") from None
        conversion = Conversion(
            columns=dict((f, c) for f, c in parse_pairs(maps, "--map")),
            constants=dict(parse_pairs(sets, "--set", split_commas=False)),
            values=parse_value_maps(value_maps),
            slugs=frozenset(_split(slugs)),
            zone=parse_zone(timezone),
            time_format=time_format,
            skip_equal=tuple(parse_pairs(skip_if, "--skip-if", split_commas=False)),
            skip_match=tuple(matches),
        )
    except ConvertError as exc:
        raise click.UsageError(str(exc)) from None
    if len(delimiter) != 1:
        raise click.BadParameter("one character", param_hint="--delimiter")

    shown = [0]

    def on_bad(line: int, reason: str) -> None:
        shown[0] += 1
        if shown[0] <= BAD_SHOWN:
            click.echo(f"{file}:{line}: {reason}", err=True)

    try:
        with (
            file.open(encoding=encoding, newline="") as source,
            output(out) as (sink, complete),
        ):
            stats = convert_csv(
                source, conversion, sink.write, on_bad, skip_bad=skip_bad, delimiter=delimiter
            )
            complete.done = stats.stopped_at is None
    except ConvertError as exc:
        raise click.ClickException(f"{file}: {exc}") from None
    except (LookupError, OSError) as exc:
        raise click.ClickException(f"{file}: {exc}") from None
    if shown[0] > BAD_SHOWN:
        click.echo(f"... {shown[0] - BAD_SHOWN} more bad rows not shown", err=True)
    if stats.stopped_at is not None:
        raise click.ClickException(
            f"stopped at line {stats.stopped_at}: the row cannot become a valid event. "
            "Fix the mapping, or pass --skip-bad to leave such rows out"
            + ("" if out is None else f"; {out} was not written")
        )
    skipped = sum(stats.skipped.values())
    detail = ", ".join(f"{reason}: {count:,}" for reason, count in stats.skipped.most_common())
    click.echo(
        f"{file}: {stats.rows:,} rows -> {stats.written:,} events"
        + (f" in {out}" if out else "")
        + (f"; {skipped:,} left out on purpose ({detail})" if skipped else "")
        + (f"; {stats.bad:,} bad rows skipped" if stats.bad else ""),
        err=True,
    )


@events.command("export")
@click.option(
    "--from", "url", required=True, metavar="URL", help="The Redis holding the capture stream."
)
@click.option(
    "--stream",
    default=None,
    metavar="NAME",
    help="The capture stream (default: POLICY_CAPTURE_STREAM's default, policy:capture).",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Write the events here (default: stdout).",
)
def export(url: str, stream: str | None, out: Path | None) -> None:
    """Write the events of a capture stream as an event file, oldest first, ready to replay."""
    # Imported here: only this command needs the Redis client.
    from policy_service.state.redis_capture import DEFAULT_STREAM, CaptureError, read_capture

    if not url.startswith(("redis://", "rediss://", "unix://")):
        raise click.BadParameter("a redis://host:port/db URL", param_hint="--from")
    name = stream or DEFAULT_STREAM
    written = bad = 0
    try:
        with output(out) as (sink, complete):
            for entry_id, raw in read_capture(url, name):
                try:
                    data = orjson.loads(raw)
                except orjson.JSONDecodeError:
                    data = None
                verdict = check_event(data) if data is not None else "no event in the entry"
                if isinstance(verdict, str):
                    bad += 1
                    click.echo(f"{name} entry {entry_id}: skipped: {verdict}", err=True)
                    continue
                sink.write(orjson.dumps(data, option=orjson.OPT_APPEND_NEWLINE))
                written += 1
            complete.done = True
    except CaptureError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(
        f"{name}: {written:,} events"
        + (f" in {out}" if out else "")
        + (f"; {bad:,} entries skipped" if bad else ""),
        err=True,
    )
    if not written:
        raise click.ClickException(f"stream {name!r} holds no events")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(events())
