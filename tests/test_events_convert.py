"""`events from-csv`: CSV exports to event files the API accepts, and clear messages for bad rows."""

from __future__ import annotations

import csv
from collections import Counter
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from policy_service.cli_events import events
from policy_service.events import parse_event
from policy_service.replay.convert import Conversion, ConvertError, parse_time, parse_zone, slug
from tests.shared_data import SHARED_DATA

AIRLINE_CSV = SHARED_DATA / "airline-tweets" / "Tweets.csv"
FREE_CSV = SHARED_DATA / "free-mobile-fr" / "free_tweet_export.csv"

AIRLINE_MAP = (
    "event_id=tweet_id,account=airline,occurred_at=tweet_created,text=text,"
    "author.id=name,author.reach=retweet_count,signals.tone=airline_sentiment"
)
HEADER = [
    "tweet_id",
    "airline_sentiment",
    "airline",
    "name",
    "retweet_count",
    "text",
    "tweet_created",
]


def write_csv(path: Path, rows: list[list[str]], header: list[str] = HEADER) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def sample_rows() -> list[list[str]]:
    return [
        ["570306133677760513", "neutral", "Virgin America", "cairdin", "0",
         "@VirginAmerica What @dhepburn said.", "2015-02-24 11:35:52 -0800"],
        ["570301031407624196", "negative", "Virgin America", "jnardino", "3",
         'it\'s really aggressive to blast "entertainment"\nin your guests\' faces',
         "2015-02-24 11:15:36 -0800"],
        ["569587242672398336", "positive", "US Airways", "MeeshBoss", "",
         "thanks!", "2015-02-22 12:00:00 -0800"],
    ]  # fmt: skip


def convert(
    tmp_path: Path, *args: str, rows: list[list[str]] | None = None
) -> tuple[int, str, list[dict[str, object]], Path]:
    source = write_csv(tmp_path / "in.csv", sample_rows() if rows is None else rows)
    out = tmp_path / "events.jsonl"
    result = CliRunner().invoke(
        events, ["from-csv", str(source), "--map", AIRLINE_MAP, "--out", str(out), *args]
    )
    lines = [orjson.loads(line) for line in out.read_bytes().splitlines()] if out.exists() else []
    return result.exit_code, result.output, lines, source


def test_every_row_becomes_a_valid_event_in_the_api_format(tmp_path: Path) -> None:
    code, output, lines, _ = convert(
        tmp_path, "--slug", "account,author.id", "--set", "channel=twitter", "--set", "lang=en"
    )
    assert code == 0, output
    assert len(lines) == 3
    for line in lines:
        parse_event(line)  # every produced line passes the API's validation
    first = lines[0]
    assert first == {
        "event_id": "570306133677760513",
        "account": "virgin-america",
        "occurred_at": "2015-02-24T11:35:52-08:00",
        "channel": "twitter",
        "text": "@VirginAmerica What @dhepburn said.",
        "lang": "en",
        "author": {"id": "cairdin", "reach": 0},
        "signals": {"tone": "neutral"},
    }
    assert (
        lines[1]["text"]
        == "it's really aggressive to blast \"entertainment\"\nin your guests' faces"
    )
    assert lines[1]["author"] == {"id": "jnardino", "reach": 3}
    # An empty cell leaves the field out rather than failing.
    assert lines[2]["author"] == {"id": "meeshboss"}
    assert lines[2]["account"] == "us-airways"
    assert "3 rows -> 3 events" in output


def test_value_map_renames_labels_and_an_empty_target_drops_the_field(tmp_path: Path) -> None:
    code, output, lines, _ = convert(
        tmp_path,
        "--slug",
        "account",
        "--value-map",
        "signals.tone:neutral=,positive=positive,negative=hostile",
    )
    assert code == 0, output
    assert "signals" not in lines[0]
    assert lines[1]["signals"] == {"tone": "hostile"}
    assert lines[2]["signals"] == {"tone": "positive"}


def test_a_bad_row_stops_with_its_line_and_reason_and_nothing_is_written(tmp_path: Path) -> None:
    rows = sample_rows()
    rows[1][4] = "lots"  # retweet_count is not a number
    code, output, lines, source = convert(tmp_path, "--slug", "account", rows=rows)
    assert code == 1
    # Row 2 starts on line 3 of the file (after the header and row 1).
    assert (
        f"{source}:3: author.reach (column retweet_count): 'lots' is not a whole number" in output
    )
    assert "--skip-bad" in output
    assert lines == []
    assert not (tmp_path / "events.jsonl").exists()
    assert list(tmp_path.glob(".events.jsonl*")) == []  # no partial file left behind


def test_skip_bad_reports_each_bad_row_and_goes_on(tmp_path: Path) -> None:
    rows = sample_rows()
    rows[0][6] = "yesterday"
    rows[2][0] = ""  # no event id
    code, output, lines, source = convert(tmp_path, "--slug", "account", "--skip-bad", rows=rows)
    assert code == 0, output
    assert [line["event_id"] for line in lines] == ["570301031407624196"]
    assert (
        f"{source}:2: occurred_at (column tweet_created): 'yesterday' is not a timestamp" in output
    )
    # The multi-line text of row 2 shifts row 3 to line 5.
    assert f"{source}:5: event_id (column tweet_id): Missing data for required field" in output
    assert "2 bad rows skipped" in output


def test_names_that_are_not_ids_get_a_hint_to_slug_them(tmp_path: Path) -> None:
    code, output, _, source = convert(tmp_path)
    assert code == 1
    assert f"{source}:2: account (column airline): must be 1-64 letters" in output
    assert "(hint: --slug account turns names into ids)" in output


def test_unknown_fields_and_columns_are_named(tmp_path: Path) -> None:
    source = write_csv(tmp_path / "in.csv", sample_rows())
    runner = CliRunner()
    result = runner.invoke(
        events, ["from-csv", str(source), "--map", AIRLINE_MAP + ",signals.tonne=text"]
    )
    assert result.exit_code == 2
    assert "unknown event field(s) 'signals.tonne' (did you mean 'signals.tone'?)" in result.output
    result = runner.invoke(
        events, ["from-csv", str(source), "--map", AIRLINE_MAP.replace("=name", "=nmae")]
    )
    assert result.exit_code == 1
    assert "no column 'nmae' (did you mean 'name'?)" in result.output
    result = runner.invoke(events, ["from-csv", str(source), "--map", "text=text"])
    assert result.exit_code == 2
    assert "required field(s) event_id, account, occurred_at, author.id" in result.output


def test_timestamps_without_a_zone_need_one(tmp_path: Path) -> None:
    rows = sample_rows()
    rows[0][6] = "2015-02-24 11:35:52"
    code, output, _, _ = convert(tmp_path, "--slug", "account", rows=rows)
    assert code == 1
    assert "has no time zone (hint: --timezone" in output
    code, output, lines, _ = convert(
        tmp_path, "--slug", "account", "--timezone", "America/Los_Angeles", rows=rows
    )
    assert code == 0, output
    assert lines[0]["occurred_at"] == "2015-02-24T11:35:52-08:00"


def test_rows_left_out_on_purpose_are_counted_not_reported_as_bad(tmp_path: Path) -> None:
    code, output, lines, _ = convert(
        tmp_path,
        "--slug",
        "account",
        "--skip-if",
        "name=cairdin",
        "--skip-if-match",
        "text=^thanks",
    )
    assert code == 0, output
    assert [line["author"]["id"] for line in lines] == ["jnardino"]  # type: ignore[index]
    assert "2 left out on purpose (name=cairdin: 1, text matches ^thanks: 1)" in output


def test_output_goes_to_stdout_without_out(tmp_path: Path) -> None:
    source = write_csv(tmp_path / "in.csv", sample_rows())
    result = CliRunner().invoke(
        events, ["from-csv", str(source), "--map", AIRLINE_MAP, "--slug", "account"]
    )
    assert result.exit_code == 0, result.output
    produced = [orjson.loads(line) for line in result.stdout.splitlines()]
    assert [e["event_id"] for e in produced] == [r[0] for r in sample_rows()]


def test_a_file_with_no_header_is_refused(tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    result = CliRunner().invoke(events, ["from-csv", str(empty), "--map", AIRLINE_MAP])
    assert result.exit_code == 1
    assert "the file is empty (no header row)" in result.output


def test_slug_makes_ids_from_names() -> None:
    assert slug("Virgin America") == "virgin-america"
    assert slug("  Crème Brûlée & Co. ") == "creme-brulee-co."
    assert slug("✈✈") == ""
    assert len(slug("x" * 100)) == 64


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2015-02-24 11:35:52 -0800", datetime(2015, 2, 24, 11, 35, 52, tzinfo=timezone(timedelta(hours=-8)))),
        ("2020-12-28 07:26:23+00:00", datetime(2020, 12, 28, 7, 26, 23, tzinfo=UTC)),
        ("2026-11-25T10:00:00Z", datetime(2026, 11, 25, 10, tzinfo=UTC)),
        ("Tue Feb 24 11:35:52 +0000 2015", datetime(2015, 2, 24, 11, 35, 52, tzinfo=UTC)),
    ],
)  # fmt: skip
def test_timestamps_in_common_export_formats(raw: str, expected: datetime) -> None:
    parsed = parse_time(raw, None, None)
    assert parsed == expected
    assert parsed.utcoffset() == expected.utcoffset()


def test_epoch_and_explicit_formats() -> None:
    assert parse_time("1424806552", "epoch", None) == datetime(2015, 2, 24, 19, 35, 52, tzinfo=UTC)
    paris = parse_time("24/02/2015 11:35", "%d/%m/%Y %H:%M", parse_zone("Europe/Paris"))
    assert paris.isoformat() == "2015-02-24T11:35:00+01:00"


def test_a_conversion_refuses_to_slug_numbers() -> None:
    with pytest.raises(ConvertError, match="--slug applies to text fields"):
        Conversion(
            columns={"event_id": "a", "account": "b", "occurred_at": "c", "author.id": "d"},
            slugs=frozenset({"author.reach"}),
        )


@pytest.mark.skipif(not AIRLINE_CSV.exists(), reason="shared airline data not present")
def test_the_airline_file_converts_whole(tmp_path: Path) -> None:
    out = tmp_path / "airline.jsonl"
    result = CliRunner().invoke(
        events,
        [
            "from-csv", str(AIRLINE_CSV), "--map", AIRLINE_MAP, "--slug", "account,author.id",
            "--set", "channel=twitter", "--set", "lang=en", "--out", str(out),
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    lines = [orjson.loads(line) for line in out.read_bytes().splitlines()]
    assert len(lines) == 14_640
    for line in lines:
        parse_event(line)
    ids = Counter(line["event_id"] for line in lines)
    assert sum(1 for count in ids.values() if count > 1) == 155
    assert {line["account"] for line in lines} == {
        "virgin-america", "united", "southwest", "delta", "us-airways", "american",
    }  # fmt: skip


@pytest.mark.skipif(not FREE_CSV.exists(), reason="shared Free data not present")
def test_the_free_file_without_the_brand_and_its_retweets(tmp_path: Path) -> None:
    out = tmp_path / "free.jsonl"
    args = [
        "from-csv", str(FREE_CSV), "--map", "event_id=tweet_id,author.id=author,text=text,occurred_at=date",
        "--set", "account=free", "--set", "channel=twitter", "--set", "lang=fr",
        "--skip-if", "author=Freebox", "--skip-if", "author=free", "--skip-if", "author=Free_1337",
        "--skip-if", "author=GroupeIliad", "--skip-if-match", "text=^rt :", "--out", str(out),
    ]  # fmt: skip
    result = CliRunner().invoke(events, args)
    assert result.exit_code == 0, result.output
    lines = [orjson.loads(line) for line in out.read_bytes().splitlines()]
    assert len(lines) == 3764 - 651 - 56 - 18 - 4
    assert not any(str(line["text"]).startswith("rt :") for line in lines)
    assert all("signals" not in line for line in lines)  # tone comes from the analyzer
