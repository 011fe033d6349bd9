"""`policy-service replay`: event-time order, determinism, comparison, expectations, reports, bad input."""

from __future__ import annotations

import contextlib
import random
import shutil
import subprocess
import sys
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
import redis
from click.testing import CliRunner, Result

from policy_service import cli_replay
from policy_service.analysis import Signal
from policy_service.cli_replay import replay
from policy_service.events import parse_event
from policy_service.replay import codec, ordering
from policy_service.replay.codec import Decoder, decode_event, encode_event, signal_fields
from policy_service.replay.ordering import Invalid, Ordered, Scanned, ordered_events
from tests.conftest import RULES_DIR

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def event(
    number: int,
    *,
    minutes: float = 0.0,
    account: str = "acme",
    tone: str = "negative",
    text: str = "my order has not arrived",
    **overrides: Any,
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "event_id": f"e{number}",
        "account": account,
        "occurred_at": (START + timedelta(minutes=minutes)).isoformat(),
        "channel": "x",
        "text": text,
        "lang": "en",
        "author": {"id": f"u{number}", "reach": 100, "is_customer": True},
        "signals": {"tone": tone, "severity": 1, "constructive": False},
    }
    data.update(overrides)
    return data


def write_lines(path: Path, lines: list[dict[str, Any] | str]) -> Path:
    with path.open("wb") as handle:
        for line in lines:
            handle.write(line.encode() if isinstance(line, str) else orjson.dumps(line))
            handle.write(b"\n")
    return path


def mixed_events(count: int = 40) -> list[dict[str, Any]]:
    tones = ["negative", "neutral", "positive", "negative", "hostile"]
    return [
        event(
            i,
            minutes=i * 1.5,
            account="acme" if i % 3 else "globex",
            tone=tones[i % len(tones)],
        )
        for i in range(count)
    ]


def run(*args: str | Path) -> Result:
    return CliRunner().invoke(replay, [str(a) for a in args])


def decisions(path: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


# -- determinism and order -------------------------------------------------------------


def test_decisions_are_byte_identical_run_after_run(tmp_path: Path) -> None:
    source = write_lines(tmp_path / "events.jsonl", list(mixed_events()))
    outputs = []
    for i, extra in enumerate(
        [
            ["--reader", "inline"],
            ["--reader", "inline"],
            ["--reader", "process"],
            ["--reader", "inline", "--sort-buffer", "1K"],  # spills sorted runs to disk
        ]
    ):
        out = tmp_path / f"decisions-{i}.jsonl"
        summary = tmp_path / f"summary-{i}.json"
        result = run(source, "--rules", RULES_DIR, "--out", out, "--summary-json", summary, *extra)
        assert result.exit_code == 0, result.output
        outputs.append((out.read_bytes(), summary.read_bytes()))
    assert all(o == outputs[0] for o in outputs)
    first = decisions(tmp_path / "decisions-0.jsonl")
    assert len(first) == 40
    assert {d["decided_at"] for d in first} == {
        (START + timedelta(minutes=i * 1.5)).isoformat().replace("+00:00", "Z") for i in range(40)
    }
    assert all(d["duplicate"] is False for d in first)


def varied_events(count: int = 60) -> list[dict[str, Any] | str]:
    """Events with what the codec and the reader carry: roles, threads, caller
    signals of every kind, signals left to the analyzer, duplicates, bad lines."""
    texts = ["refund now, this is a scam", "love the new app!", "where is my parcel?", "meh"]
    found: list[dict[str, Any] | str] = []
    for i in range(count):
        data = event(i, minutes=(i * 17) % 45, account=("acme", "globex")[i % 2])
        data["text"] = texts[i % len(texts)]
        if i % 5 == 0:
            data["author"] = {"id": f"u{i}", "role": ("staff", "partner", "public")[i % 3]}
        if i % 4 == 0:
            data["thread"] = {"id": f"p{i % 3}", "published_at": START.isoformat()}
        if i % 3 == 0:
            data.pop("signals")  # all left to the analyzer
        elif i % 3 == 1:
            data["signals"] = {"tone": "negative", "arousal": 0.5, "topics": ["refund"]}
        found.append(data)
    found.append(dict(found[3]))  # a duplicate id
    found.append({**event(999), "signals": {"tone": "furious"}})
    return found


def test_every_output_is_the_same_whichever_reader_and_sort_buffer(tmp_path: Path) -> None:
    source = write_lines(tmp_path / "events.jsonl", varied_events())
    expect = tmp_path / "expect.csv"
    expect.write_text("event_id,action\ne0,acknowledge\ne1,escalate\ne7,ignore\n")
    against = strict_copy(tmp_path)
    outputs = []
    for i, extra in enumerate(
        [
            ["--reader", "inline"],
            ["--reader", "process"],
            ["--reader", "inline", "--sort-buffer", "2K"],
            ["--reader", "process", "--sort-buffer", "2K"],
        ]
    ):
        names = ("out.jsonl", "summary.json", "report.html", "diff.jsonl")
        paths = [tmp_path / f"{i}-{name}" for name in names]
        result = run(
            source,
            "--rules",
            RULES_DIR,
            "--against",
            against,
            "--allow-failing-tests",
            "--skip-invalid",
            "--expect",
            expect,
            *("--out", paths[0], "--summary-json", paths[1]),
            *("--report", paths[2], "--diff-out", paths[3]),
            *extra,
        )
        assert result.exit_code == 1, result.output  # the expectations are meant to fail
        assert "expectation(s) failed" in result.output
        outputs.append([p.read_bytes() for p in paths])
    assert all(o == outputs[0] for o in outputs)
    decided = decisions(tmp_path / "0-out.jsonl")
    assert len(decided) == 61 and sum(d["duplicate"] for d in decided) == 1
    sources = {s["source"] for d in decided for s in d["signals"].values()}
    assert "caller" in sources and any(s.startswith("analyzer:") for s in sources)


def test_events_are_decided_in_event_time_order_ties_by_line(tmp_path: Path) -> None:
    ordered = mixed_events()
    # Two events at the same time: the one on the earlier line is decided first.
    ordered.insert(5, event(900, minutes=5 * 1.5, account="acme", tone="positive"))
    shuffled = list(ordered)
    random.Random(7).shuffle(shuffled)
    tie_first, tie_second = ordered[5], ordered[6]
    shuffled.remove(tie_second)
    shuffled.insert(shuffled.index(tie_first), tie_second)  # the tie in the other line order
    sorted_out, shuffled_out = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    result = run(write_lines(tmp_path / "sorted.jsonl", list(ordered)), "--out", sorted_out)
    assert result.exit_code == 0, result.output
    result = run(write_lines(tmp_path / "shuffled.jsonl", list(shuffled)), "--out", shuffled_out)
    assert result.exit_code == 0, result.output
    assert "older than a line above them; all were decided in occurred_at order" in result.output
    by_id = {d["event_id"]: d for d in decisions(shuffled_out)}
    # The same events, in the same (event-time) order, with the same decisions except
    # the tie, whose order follows the lines.
    assert [d["event_id"] for d in decisions(sorted_out)] == [e["event_id"] for e in ordered]
    ids = [d["event_id"] for d in decisions(shuffled_out)]
    assert ids.index(tie_second["event_id"]) < ids.index(tie_first["event_id"])
    for d in decisions(sorted_out):
        if d["event_id"] not in (tie_first["event_id"], tie_second["event_id"]):
            assert by_id[d["event_id"]]["action"] == d["action"]


def test_duplicates_are_decided_once_and_marked(tmp_path: Path) -> None:
    lines: list[dict[str, Any] | str] = list(mixed_events(10))
    lines.append(dict(lines[3], text="the same id again"))  # type: ignore[arg-type]
    lines.append(dict(lines[4]))  # type: ignore[arg-type]
    out = tmp_path / "out.jsonl"
    result = run(write_lines(tmp_path / "events.jsonl", lines), "--out", out)
    assert result.exit_code == 0, result.output
    got = decisions(out)
    assert len(got) == 12
    dupes = [d for d in got if d["duplicate"]]
    assert len(dupes) == 2
    for dupe in dupes:
        first = next(d for d in got if d["event_id"] == dupe["event_id"] and not d["duplicate"])
        assert {k: v for k, v in dupe.items() if k != "duplicate"} == {
            k: v for k, v in first.items() if k != "duplicate"
        }
    assert "10 decided, 2 duplicates" in result.output


# -- bad input -------------------------------------------------------------------------


def test_invalid_lines_are_listed_with_line_numbers_and_stop_the_run(tmp_path: Path) -> None:
    lines: list[dict[str, Any] | str] = list(mixed_events(6))
    lines.insert(1, '{"event_id": "broken", ')
    lines.insert(3, dict(event(50), signals={"tone": "furious"}))
    lines.insert(4, "[1, 2]")
    lines.insert(5, dict(event(51), occurred_at="2026-03-02T09:00:00"))
    source = write_lines(tmp_path / "events.jsonl", lines)
    out = tmp_path / "out.jsonl"
    result = run(source, "--out", out)
    assert result.exit_code == 1
    assert f"{source}:2: not valid JSON" in result.output
    assert f"{source}:4: signals.tone: Must be one of: positive, neutral, negative, hostile" in (
        result.output
    )
    assert f"{source}:5: not a JSON object" in result.output
    assert f"{source}:6: occurred_at: Not a valid aware datetime" in result.output
    assert "replay incomplete: 4 invalid line(s)" in result.output
    assert "--skip-invalid" in result.output
    assert not out.exists()


def test_skip_invalid_replays_the_valid_lines(tmp_path: Path) -> None:
    lines: list[dict[str, Any] | str] = [*mixed_events(6), "not json", dict(event(60), author={})]
    out = tmp_path / "out.jsonl"
    result = run(write_lines(tmp_path / "events.jsonl", lines), "--out", out, "--skip-invalid")
    assert result.exit_code == 0, result.output
    assert len(decisions(out)) == 6
    assert "8 read, 2 invalid" in result.output
    assert ":8: author.id: Missing data for required field" in result.output


def test_an_empty_file_is_no_replay(tmp_path: Path) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n\n")
    result = run(empty)
    assert result.exit_code == 1
    assert "holds no events; nothing to replay" in result.output


def test_a_missing_file_is_a_usage_error(tmp_path: Path) -> None:
    result = run(tmp_path / "nope.jsonl")
    assert result.exit_code == 2
    assert "does not exist" in result.output


def test_an_overlong_line_is_invalid_without_being_read_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ordering, "MAX_LINE_BYTES", 2000)
    lines: list[dict[str, Any] | str] = [event(1), event(2, text="x" * 5000), event(3)]
    items = list(ordered_events(write_lines(tmp_path / "events.jsonl", lines)))
    assert Invalid(2, "longer than 2000 bytes") in items
    assert [i.event.event_id for i in items if isinstance(i, Ordered)] == ["e1", "e3"]


def test_accounts_without_a_mapping_get_the_default_rule_set(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    shutil.copy(RULES_DIR / "default.yaml", rules / "default.yaml")
    (rules / "airline.yaml").write_text(
        "ruleset: airline\n"
        "rules:\n"
        "  - id: airline-default\n"
        "    priority: 1000\n"
        "    then: {action: acknowledge}\n"
    )
    (rules / "accounts.yaml").write_text("accounts:\n  acme-air: airline\n")
    lines: list[dict[str, Any] | str] = [
        event(1, account="acme-air"),
        event(2, account="unknown-brand"),
    ]
    out = tmp_path / "out.jsonl"
    result = run(write_lines(tmp_path / "events.jsonl", lines), "--rules", rules, "--out", out)
    assert result.exit_code == 0, result.output
    assert [d["ruleset"]["name"] for d in decisions(out)] == ["airline", "default"]
    assert (
        "1 without a mapping in accounts.yaml were decided by the default rule set "
        "'default': unknown-brand"
    ) in result.output


def test_rules_that_do_not_load_are_reported(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "default.yaml").write_text("ruleset: default\nrules: []\n")
    result = run(write_lines(tmp_path / "events.jsonl", [event(1)]), "--rules", rules)
    assert result.exit_code == 1
    assert f"the rules in {rules} cannot be replayed" in result.output


# -- what a replay finds ---------------------------------------------------------------


def wave(account: str = "acme") -> list[dict[str, Any]]:
    """60 complaints in 30 minutes (a crisis at the 50th), then one calm comment 6 h later."""
    lines = [event(i, minutes=i * 0.5, account=account) for i in range(60)]
    lines.append(event(99, minutes=6 * 60, account=account, tone="neutral"))
    return lines


def test_a_wave_of_complaints_is_a_crisis_episode(tmp_path: Path) -> None:
    summary_path = tmp_path / "summary.json"
    result = run(
        write_lines(tmp_path / "events.jsonl", list(wave())), "--summary-json", summary_path
    )
    assert result.exit_code == 0, result.output
    summary = orjson.loads(summary_path.read_bytes())["summary"]
    episodes = summary["accounts"]["acme"]["crisis_episodes"]
    assert len(episodes) == 1
    # Crisis at the 50th complaint; the last one held it, and after the 2 h
    # cool-down twice (crisis -> recovery -> calm) the episode ended.
    assert episodes[0]["start"] == "2026-03-02T09:24:30Z"
    assert episodes[0]["end"] == "2026-03-02T13:29:30Z"
    assert episodes[0]["events"] == 11
    assert summary["crisis_episodes"] == 1
    assert "acme  2026-03-02 09:24 -> 2026-03-02 13:29 UTC" in result.output


def strict_copy(tmp_path: Path) -> Path:
    """The shipped rules with customer complaints escalated instead of acknowledged."""
    rules = tmp_path / "strict"
    rules.mkdir()
    text = (RULES_DIR / "default.yaml").read_text()
    marker = "  - id: customer-complaint\n"
    head, tail = text.split(marker)
    tail = tail.replace("action: acknowledge", "action: escalate", 1)
    (rules / "default.yaml").write_text(head + marker + tail)
    return rules


def test_rules_whose_tests_fail_are_refused_unless_allowed(tmp_path: Path) -> None:
    source = write_lines(tmp_path / "events.jsonl", list(mixed_events(5)))
    strict = strict_copy(tmp_path)
    result = run(source, "--rules", strict)
    assert result.exit_code == 1
    assert "a factual complaint from a customer is acknowledged" in result.output
    result = run(source, "--rules", strict, "--allow-failing-tests")
    assert result.exit_code == 0, result.output
    assert "replayed anyway" in result.output


def test_against_reports_differences_grouped_with_examples(tmp_path: Path) -> None:
    lines = list(mixed_events(30))
    source = write_lines(tmp_path / "events.jsonl", list(lines))
    diff = tmp_path / "diff.jsonl"
    summary_path = tmp_path / "summary.json"
    result = run(
        source,
        "--against",
        strict_copy(tmp_path),
        "--allow-failing-tests",
        "--diff-out",
        diff,
        "--summary-json",
        summary_path,
    )
    assert result.exit_code == 0, result.output
    body = orjson.loads(summary_path.read_bytes())
    groups = body["comparison"]["groups"]
    assert [(g["from"]["action"], g["to"]["action"]) for g in groups] == [
        ("acknowledge", "escalate")
    ]
    group = groups[0]
    assert group["from"]["rule"] == group["to"]["rule"] == "customer-complaint"
    assert group["count"] == body["summary"]["rules"]["customer-complaint"]
    assert len(group["examples"]) == min(group["count"], 5)
    assert f"acknowledge -> escalate (rule customer-complaint): {group['count']} events" in (
        result.output
    )
    assert group["examples"][0]["account"] + "/" + group["examples"][0]["event_id"] in (
        result.output
    )
    differing = decisions(diff)
    assert len(differing) == group["count"]
    assert differing[0]["rules"]["action"] == "acknowledge"
    assert differing[0]["against"]["action"] == "escalate"


def expectations_file(tmp_path: Path, kind: str) -> Path:
    if kind == "csv":
        path = tmp_path / "expect.csv"
        path.write_text(
            "event_id,action,rule\n"
            "e1,acknowledge,customer-complaint\n"
            "e2,ignore\n"  # e2 is praise: a reply to fans
            "e-missing,ignore\n"
        )
    else:
        path = tmp_path / "expect.jsonl"
        path.write_text(
            '{"event_id": "e1", "action": "acknowledge", "rule": "customer-complaint"}\n'
            '{"event_id": "e2", "action": "ignore", "account": "acme"}\n'
            '{"event_id": "e-missing", "action": "ignore"}\n'
        )
    return path


@pytest.mark.parametrize("kind", ["csv", "jsonl"])
def test_expectations_are_checked_and_mismatches_listed(tmp_path: Path, kind: str) -> None:
    lines: list[dict[str, Any] | str] = [
        event(1),
        event(2, tone="positive", text="love it"),
        event(3, tone="neutral"),
    ]
    source = write_lines(tmp_path / "events.jsonl", lines)
    result = run(source, "--expect", expectations_file(tmp_path, kind))
    assert result.exit_code == 1
    assert "expectations 3 expected, 2 checked, 2 failed" in result.output
    assert "expected ignore, got reply_to_fans (rule fan-praise)" in result.output
    assert "event e-missing: expected ignore, but no such event was decided" in result.output
    assert "2 expectation(s) failed" in result.output


def test_met_expectations_exit_0(tmp_path: Path) -> None:
    source = write_lines(tmp_path / "events.jsonl", [event(1)])
    expect = tmp_path / "expect.csv"
    expect.write_text("e1,acknowledge\n")
    result = run(source, "--expect", expect)
    assert result.exit_code == 0, result.output
    assert "1 checked, 0 failed" in result.output


def test_a_bad_expectations_file_names_its_line(tmp_path: Path) -> None:
    source = write_lines(tmp_path / "events.jsonl", [event(1)])
    expect = tmp_path / "expect.csv"
    expect.write_text("event_id,action\ne1,acknowledge\ne2,shout\n")
    result = run(source, "--expect", expect)
    assert result.exit_code == 2
    assert f"{expect}:3: unknown action 'shout'" in result.output


def test_the_report_is_self_contained_and_escapes_event_text(tmp_path: Path) -> None:
    hostile_text = "<script>alert('x')</script><img src=x onerror=alert(1)>"
    lines: list[dict[str, Any] | str] = [
        event(i, minutes=i, text=hostile_text if i == 0 else "late again") for i in range(8)
    ]
    lines += wave("globex")
    report = tmp_path / "report.html"
    result = run(
        write_lines(tmp_path / "events.jsonl", lines),
        "--against",
        strict_copy(tmp_path),
        "--allow-failing-tests",
        "--report",
        report,
    )
    assert result.exit_code == 0, result.output
    page = report.read_text()
    assert page.startswith("<!DOCTYPE html>")
    assert "<script" not in page
    assert "onerror=alert(1)>" not in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page
    assert "http://" not in page and "https://" not in page and "@import" not in page
    assert page.count("<svg") == 4  # two charts per account
    assert "id='acct-globex'" in page and "Differences between the rule sets" in page
    assert "crisis episode" in page
    # The same run gives the same report.
    again = tmp_path / "again.html"
    result = run(
        tmp_path / "events.jsonl",
        "--against",
        tmp_path / "strict",
        "--allow-failing-tests",
        "--report",
        again,
    )
    assert again.read_text() == page


def test_no_progress_bar_when_stderr_is_not_a_terminal(tmp_path: Path) -> None:
    result = run(write_lines(tmp_path / "events.jsonl", list(mixed_events(5))))
    assert result.exit_code == 0, result.output
    assert result.stderr == ""


def test_a_terminal_gets_a_progress_bar_on_stderr(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cli_replay, "stderr_is_terminal", lambda: True)
    result = run(write_lines(tmp_path / "events.jsonl", list(mixed_events(5))))
    assert result.exit_code == 0, result.output
    assert "reading" in result.stderr and "deciding" in result.stderr
    assert "replay of" not in result.stderr  # the summary stays on stdout


# -- ordering with bounded memory ------------------------------------------------------


def test_many_sorted_runs_merge_in_rounds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ordering, "FAN_IN", 3)
    times = list(range(200))
    random.Random(3).shuffle(times)
    lines: list[dict[str, Any] | str] = [event(i, minutes=t) for i, t in enumerate(times)]
    path = write_lines(tmp_path / "events.jsonl", lines)
    items = list(ordered_events(path, chunk_bytes=2000))
    scanned = next(i for i in items if isinstance(i, Scanned))
    assert scanned.runs > 9  # more than FAN_IN squared: two merge rounds
    got = [i.event for i in items if isinstance(i, Ordered)]
    assert [e.occurred_at for e in got] == sorted(e.occurred_at for e in got)
    assert len(got) == 200


def test_ordering_memory_stays_bounded(tmp_path: Path) -> None:
    path = tmp_path / "big.jsonl"
    with path.open("wb") as handle:
        for i in range(6000):
            handle.write(orjson.dumps(event(i, minutes=(i * 7919) % 6000, text="z" * 400)) + b"\n")
    size = path.stat().st_size
    tracemalloc.start()
    try:
        count = 0
        with contextlib.closing(ordered_events(path, chunk_bytes=64 * 1024)) as items:
            for item in items:
                count += isinstance(item, Ordered)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == 6000
    # A few chunks' worth, not the file (about 3.5 MB) held in memory.
    assert peak < size / 4, (peak, size)


def test_the_codec_rebuilds_an_equal_event() -> None:
    full = parse_event(
        {
            **event(1, text="with\nnewline and ünïcode"),
            "occurred_at": "2026-03-02T09:00:00.123456+05:30",
            "thread": {"id": "p1", "published_at": "2026-03-01T08:00:00Z", "by_brand": True},
            "signals": {
                "tone": "negative",
                "severity": 3,
                "constructive": True,
                "arousal": 0.5,
                "topics": ["refund", "outage"],
            },
        }
    )
    decoded = decode_event(encode_event(full))
    assert decoded == full
    staff = parse_event({**event(3), "author": {"id": "u3", "role": "staff"}})
    assert decode_event(encode_event(staff)).author.role == "staff"
    assert decoded.occurred_at.utcoffset() == full.occurred_at.utcoffset()
    bare = parse_event({k: v for k, v in event(2).items() if k not in ("signals", "lang")})
    assert decode_event(encode_event(bare)) == bare


def test_the_decoder_shares_equal_parts_but_keeps_types_apart() -> None:
    decoder = Decoder()
    signals = {"severity": Signal(1, "a"), "arousal": Signal(1.0, "a"), "topics": Signal((), "a")}
    wire = orjson.loads(orjson.dumps(signal_fields(signals)))
    first, second = decoder.signals(wire), decoder.signals(orjson.loads(orjson.dumps(wire)))
    assert first == signals and second == signals
    assert first["severity"] is second["severity"]
    assert type(first["severity"].value) is int and type(first["arousal"].value) is float
    assert first["topics"].value == ()
    assert orjson.dumps(first["arousal"].value) == b"1.0"


def test_signal_sets_cross_by_number_also_when_the_numbers_start_afresh() -> None:
    sent, decoder = codec.SignalSets(most=3), Decoder(most=3)
    sets = [
        {"severity": Signal(i % 5, "analyzer:x@1"), "arousal": Signal(0.5, "a")} for i in range(20)
    ]
    for signals in sets:
        number, fields = sent.number(signals)
        wire = orjson.loads(orjson.dumps([number, fields]))
        assert decoder.signal_set(*wire) == signals


def test_files_in_one_chunk_or_spilled_give_the_same_items(tmp_path: Path) -> None:
    # Parsed once in pass 1 when the file fits, validated in pass 2 when it spills:
    # the same events, the same invalid lines, in the same places.
    lines: list[dict[str, Any] | str] = [event(i, minutes=(i * 37) % 50) for i in range(50)]
    lines[7] = "{not json"
    lines[11] = {**event(11, minutes=3), "signals": {"tone": "furious"}}
    lines[12] = {**event(12), "occurred_at": "yesterday"}
    path = write_lines(tmp_path / "events.jsonl", lines)

    def items(chunk: int, decode_once: bool = True) -> list[Any]:
        found = []
        for item in ordered_events(path, chunk, decode_once):
            if isinstance(item, Ordered):
                found.append((item.line, item.at_us, item.event))
            elif isinstance(item, Invalid):
                found.append((item.line, item.reason))
        return found

    whole, spilled = items(1 << 20), items(1500)
    assert whole == spilled
    # As the reader process reads: every line validated in pass 2.
    assert items(1 << 20, decode_once=False) == items(1500, decode_once=False) == whole
    # Lines 8 and 13 cannot be ordered (pass 1, file order); line 12 fails
    # validation where its time falls, among the events.
    invalid = [n for n, (line, *rest) in enumerate(whole) if isinstance(rest[0], str)]
    assert [whole[n][0] for n in invalid] == [8, 13, 12]
    assert invalid[2] > 2


# -- Redis state -----------------------------------------------------------------------


@pytest.mark.redis
def test_redis_state_gives_the_memory_decisions_and_cleans_up(
    tmp_path: Path, clean_redis_url: str
) -> None:
    source = write_lines(tmp_path / "events.jsonl", list(wave()))
    memory_out, redis_out = tmp_path / "memory.jsonl", tmp_path / "redis.jsonl"
    assert run(source, "--out", memory_out).exit_code == 0
    client = redis.Redis.from_url(clean_redis_url)
    try:
        client.set("policy:{acme}:meta", "live state, not the replay's")
        for _ in range(2):  # the second run starts from nothing again
            result = run(
                source, "--state", clean_redis_url, "--out", redis_out, "--prefix", "replay:t1:"
            )
            assert result.exit_code == 0, result.output
            assert redis_out.read_bytes() == memory_out.read_bytes()
            assert client.keys("replay:*") == []  # deleted after the run
        result = run(source, "--state", clean_redis_url, "--keep-state", "--prefix", "replay:t2:")
        assert result.exit_code == 0, result.output
        assert "under the key prefix 'replay:t2:'" in result.output
        assert client.keys("replay:t2:{acme}:*")
        assert client.get("policy:{acme}:meta") == b"live state, not the replay's"
        result = run(source, "--state", clean_redis_url, "--prefix", "policy:")
        assert result.exit_code == 1
        assert "already holds keys" in result.output
        assert client.get("policy:{acme}:meta") == b"live state, not the replay's"
    finally:
        client.close()


def test_the_replay_modules_do_not_import_flask() -> None:
    code = (
        "import sys, policy_service.cli_replay, policy_service.cli_events, "
        "policy_service.replay.report; print('flask' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
