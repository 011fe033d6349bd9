"""The reader process: forked where safe, a new interpreter otherwise; its events decided."""

from __future__ import annotations

import random
import subprocess
import sys
import threading
from datetime import timedelta
from pathlib import Path

import pytest

from policy_service.analysis import SIGNAL_NAMES, DefaultsAnalyzer, Signal
from policy_service.events import Event, parse_event
from policy_service.replay import ordering
from policy_service.replay.runner import Side, load_rules
from policy_service.state.memory import MemoryStore
from tests.conftest import ROOT, RULES_DIR
from tests.test_replay import event, write_lines

# Run in a new interpreter: a fork is only safe (and only chosen) in a process
# with one thread, which the test process need not be.
ITEMS = """
import sys
from pathlib import Path
from policy_service.replay import ordering
from policy_service.replay.ordering import Invalid, Ordered, helper_events, ordered_events

def items(found):
    out = []
    for item in found:
        if isinstance(item, Ordered):
            signals = None if item.signals is None else sorted(item.signals.items())
            out.append((item.line, item.at_us, item.event, signals))
        elif isinstance(item, Invalid):
            out.append((item.line, item.reason))
    return out

path = Path(sys.argv[1])
print("fork safe:", ordering.fork_safe())
inline = items(ordered_events(path))
forked = items(helper_events(path, 1 << 20, analyze=True, fork=True))
spawned = items(helper_events(path, 1 << 20, analyze=True, fork=False))
spilled = items(helper_events(path, 2000, analyze=True, fork=True))
assert len(inline) == 301, len(inline)
assert [i[:2] for i in forked] == [i[:2] for i in inline]
assert forked == spawned == spilled
assert sum(i[-1] is not None for i in forked if len(i) == 4) > 250  # the reader's signals
if len(sys.argv) > 2:
    def broken(*args):
        raise RuntimeError("the reader broke")
    ordering.serve_items = broken
    try:
        list(helper_events(path, 1 << 20, fork=True))
    except ordering.EventFileError as exc:
        print("error:", exc)
print("same items")
"""


def _events(tmp_path: Path) -> Path:
    order = list(range(300))
    random.Random(7).shuffle(order)
    lines: list[dict[str, object] | str] = [
        {k: v for k, v in event(i, minutes=n, text=f"late again {i}").items() if k != "signals"}
        for i, n in enumerate(order)
    ]
    lines.insert(40, "not json")
    return write_lines(tmp_path / "events.jsonl", lines)


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    code = [sys.executable, "-c", ITEMS, *args]
    return subprocess.run(code, capture_output=True, text=True, cwd=ROOT, timeout=120)


@pytest.mark.skipif(sys.platform != "linux", reason="the reader is forked on Linux only")
def test_a_forked_and_a_spawned_reader_give_the_items_read_inline(tmp_path: Path) -> None:
    done = _run(str(_events(tmp_path)))
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["fork safe: True", "same items"]


@pytest.mark.skipif(sys.platform != "linux", reason="the reader is forked on Linux only")
def test_a_forked_reader_that_fails_is_reported_with_its_traceback(tmp_path: Path) -> None:
    done = _run(str(_events(tmp_path)), "break")
    assert done.returncode == 0, done.stderr
    assert "ended unexpectedly (exit code 1)" in done.stdout
    assert "RuntimeError: the reader broke" in done.stderr


def test_no_fork_while_another_thread_runs() -> None:
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        assert ordering.fork_safe() is False
    finally:
        stop.set()
        other.join()


class Refusing:
    """An analyzer that must not be asked: the reader's signals are there."""

    def complete(self, event: Event, missing: tuple[str, ...]) -> dict[str, Signal]:
        raise AssertionError(f"analyzer asked for {missing} of {event.event_id}")


def test_an_event_with_an_offset_is_decided_at_its_instant_with_the_reader_signals() -> None:
    policy, _ = load_rules(RULES_DIR)
    try:
        data = event(1, text="late again")
        del data["signals"]
        local = parse_event({**data, "occurred_at": "2026-03-02T14:30:00+05:30"})
        utc = parse_event({**data, "occurred_at": "2026-03-02T09:00:00Z"})
        prepared = DefaultsAnalyzer().complete(local, SIGNAL_NAMES)
        got = [
            Side("rules", RULES_DIR, policy, MemoryStore(), Refusing()).decide(e, prepared)
            for e in (local, utc)
        ]
    finally:
        policy.close()
    assert got[0] == got[1]
    assert got[0]["decided_at"] == "2026-03-02T09:00:00Z"
    assert got[0]["time"]["minutes_since_comment"] == 0.0
    assert local.occurred_at.utcoffset() == timedelta(hours=5, minutes=30)  # left as it was
