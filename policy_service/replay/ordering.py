"""Event files in event-time order with bounded memory: sorted runs in temp files, then a merge.

Pass 1 reads the file once, keeps each line's raw bytes with its key
(occurred_at in UTC microseconds, then the line number) and spills a sorted
run to a temp file whenever the lines held reach `chunk_bytes`. Pass 2 merges
the runs with heapq.merge (in several rounds when there are many) and
validates each line with the API's schema on the way out. A file that fits in
one chunk never touches the disk.

Until the first run is spilled, pass 1 also validates each line in full and
keeps the Event beside its bytes (counted in the chunk's memory): a file that
fits in one chunk is decoded and validated once. Lines of a spilled run are
kept as bytes only and validated in pass 2, on their way out of the merge.
Either way a line that fails validation is reported where it falls in event
time, as in pass 2. `helper_events` runs both passes in a second process
while this one decides on the events it has already received.
"""

from __future__ import annotations

import contextlib
import heapq
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Generator, Iterable, Iterator, Mapping
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import IO, Any, Protocol

import orjson

from policy_service.analysis import SIGNAL_NAMES, Signal, caller_value
from policy_service.errors import PolicyError
from policy_service.events import Event
from policy_service.replay.codec import Decoder, SignalSets, event_fields, utc_micros
from policy_service.replay.collector import long_lived_kept_out_of_collections
from policy_service.replay.cores import IdleSample, spare_cores
from policy_service.replay.validation import check_event

DEFAULT_CHUNK_BYTES = 32 * 1024 * 1024
# Each held line also costs a tuple, an int and a bytes header.
LINE_OVERHEAD_BYTES = 120
# A held Event costs about its line again (the text, ids and times as objects),
# plus its dataclasses and their headers.
EVENT_OVERHEAD_BYTES = 600
FAN_IN = 64  # runs merged at once; more are merged in rounds
PROGRESS_EVERY_BYTES = 1 << 20
BATCH_ITEMS = 512
# The first batch is smaller (each next one twice as large): deciding starts
# after 32 events are validated and analyzed, not 512.
FIRST_BATCH_ITEMS = 32
# Below this size a second process costs more to start than it saves.
HELPER_MIN_BYTES = 4 * 1024 * 1024
# ... and only when others leave at least this much of a core idle besides this process's
# (measured now: cores.IdleSample).
SPARE_CORE = 0.5
# The API takes events up to 64 KiB; a longer line is not read whole (bounded memory).
MAX_LINE_BYTES = 1024 * 1024

Record = tuple[int, int, bytes]  # (UTC microseconds, line number, raw line)
# In memory before the first spill: a record with the line's verdict (Event or reason).
Held = tuple[int, int, bytes, Event | str]


class EventFileError(PolicyError):
    """An event file cannot be read (missing, unreadable, or its reader failed)."""


# Not frozen: one is built per event on the deciding side, and a frozen
# dataclass sets each field through object.__setattr__ (twice the cost).
@dataclass(slots=True)
class Ordered:
    """A valid event, in event-time order; with the signals it lacks when a reader computed them.

    `at_us` is its occurred_at in UTC microseconds (the sort key), which the
    bookkeeping needs too.
    """

    line: int
    at_us: int
    event: Event
    signals: Mapping[str, Signal] | None = None


@dataclass(frozen=True, slots=True)
class Invalid:
    """A line that is not an event the API would take, and why."""

    line: int
    reason: str


@dataclass(frozen=True, slots=True)
class ReadProgress:
    """Bytes of the file read so far in pass 1."""

    done: int
    total: int


@dataclass(frozen=True, slots=True)
class Scanned:
    """The end of pass 1: what the file holds, before any event is validated in full."""

    lines: int
    blank: int
    candidates: int  # lines with valid JSON and occurred_at, in order to be validated
    out_of_order: int  # lines older than a line above them in the file
    runs: int  # sorted runs spilled to temp files (0: sorted in memory)


Item = Ordered | Invalid | ReadProgress | Scanned
# Close it when stopping early: that ends the reader and removes temp files.
Items = Generator[Item, None, None]


def _decoded(raw: bytes) -> dict[str, Any] | str:
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        return f"not valid JSON: {exc.msg} (column {exc.colno})"
    return data if isinstance(data, dict) else "not a JSON object"


def _time_key(data: dict[str, Any]) -> int | None:
    value = data.get("occurred_at")
    if isinstance(value, str):
        # The schema parses occurred_at with the same function.
        try:
            at = datetime.fromisoformat(value)
        except ValueError:
            return None
        if at.utcoffset() is not None:
            return utc_micros(at)
    return None


def _unordered(data: dict[str, Any], verdict: Event | str | None = None) -> str:
    """Why a line without a usable occurred_at is invalid."""
    if verdict is None:
        verdict = check_event(data)
    # The schema refuses what fromisoformat refused; its message names the field.
    return verdict if isinstance(verdict, str) else "occurred_at: not a date and time with a zone"


def event_time(raw: bytes) -> int | str:
    """The key of a line (occurred_at in UTC microseconds), or why the line is invalid."""
    data = _decoded(raw)
    if isinstance(data, str):
        return data
    key = _time_key(data)
    return _unordered(data) if key is None else key


def validated(raw: bytes) -> tuple[int, Event | str] | str:
    """The key of a line with its verdict (the Event, or why the API refuses it),
    or why the line cannot be ordered at all: `event_time` and `check_event` in one decoding."""
    data = _decoded(raw)
    if isinstance(data, str):
        return data
    verdict = check_event(data)
    if isinstance(verdict, Event):
        return utc_micros(verdict.occurred_at), verdict
    key = _time_key(data)
    return _unordered(data, verdict) if key is None else (key, verdict)


def ordered_events(
    path: Path, chunk_bytes: int = DEFAULT_CHUNK_BYTES, decode_once: bool = True
) -> Items:
    """Every line of a JSONL event file as Invalid or Ordered, valid events by (occurred_at, line).

    Yields ReadProgress during pass 1, the Invalid lines pass 1 finds (in file
    order), one Scanned, then the events in order with the Invalid lines that
    fail validation among them. Close the iterator when stopping early: that
    removes its temp files.

    `decode_once` validates in pass 1 while the file fits in one chunk (the
    least work in all). Without it every line is validated in pass 2, as it
    leaves: the reader process does that, because its pass 2 runs beside the
    decisions while nothing can be decided during its pass 1.
    """
    try:
        total = path.stat().st_size
        handle = path.open("rb")
    except OSError as exc:
        raise EventFileError(f"cannot read {path}: {exc.strerror or exc}") from None
    with tempfile.TemporaryDirectory(prefix="policy-replay-") as tmp, handle:
        runs: list[Path] = []
        chunk: list[Held] = []
        spilled: list[Record] = []
        held = lines = blank = candidates = out_of_order = 0
        newest: int | None = None
        done = 0
        report_at = PROGRESS_EVERY_BYTES
        for line_no, line, length in _lines(handle):
            lines = line_no
            done += length
            if done >= report_at:
                report_at = done + PROGRESS_EVERY_BYTES
                yield ReadProgress(done, total)
            if line is None:
                yield Invalid(line_no, f"longer than {MAX_LINE_BYTES} bytes")
                continue
            raw = line.rstrip(b"\r\n")
            if not raw.strip():
                blank += 1
                continue
            if runs or not decode_once:
                # Bytes only, validated in pass 2.
                key = event_time(raw)
                if isinstance(key, str):
                    yield Invalid(line_no, key)
                    continue
                spilled.append((key, line_no, raw))
                held += len(raw) + LINE_OVERHEAD_BYTES
            else:
                found = validated(raw)
                if isinstance(found, str):
                    yield Invalid(line_no, found)
                    continue
                key = found[0]
                chunk.append((key, line_no, raw, found[1]))
                held += 2 * len(raw) + LINE_OVERHEAD_BYTES + EVENT_OVERHEAD_BYTES
            candidates += 1
            if newest is not None and key < newest:
                out_of_order += 1
            else:
                newest = key
            if held >= chunk_bytes:
                if chunk:  # the first spill of a file decoded once: its Events go
                    spilled, chunk = [record[:3] for record in chunk], []
                runs.append(_spill(spilled, Path(tmp), len(runs)))
                spilled, held = [], 0
        yield ReadProgress(total, total)
        if runs and spilled:
            runs.append(_spill(spilled, Path(tmp), len(runs)))
            spilled = []
        yield Scanned(lines, blank, candidates, out_of_order, len(runs))
        if not runs and chunk:
            chunk.sort()
            for key, line_no, _, verdict in chunk:
                yield (
                    Invalid(line_no, verdict)
                    if isinstance(verdict, str)
                    else Ordered(line_no, key, verdict)
                )
            return
        with ExitStack() as stack:
            if runs:
                records: Iterable[Record] = _merge(runs, Path(tmp), stack)
            else:
                spilled.sort()
                records = spilled
            for key, line_no, raw in records:
                verdict = check_event(orjson.loads(raw))
                if isinstance(verdict, str):
                    yield Invalid(line_no, verdict)
                else:
                    yield Ordered(line_no, key, verdict)


def _lines(handle: IO[bytes]) -> Iterator[tuple[int, bytes | None, int]]:
    """(line number, line or None when too long, bytes read) for every line of `handle`."""
    line_no = 0
    while True:
        line = handle.readline(MAX_LINE_BYTES + 1)
        if not line:
            return
        line_no += 1
        if len(line) <= MAX_LINE_BYTES or line.endswith(b"\n"):
            yield line_no, line, len(line)
            continue
        length = len(line)
        while not line.endswith(b"\n"):  # skip the rest of the long line in pieces
            line = handle.readline(MAX_LINE_BYTES)
            if not line:
                break
            length += len(line)
        yield line_no, None, length


def _spill(chunk: list[Record], tmp: Path, index: int) -> Path:
    chunk.sort()
    path = tmp / f"run-{index:06d}"
    with path.open("wb") as out:
        _write_records(out, chunk)
    return path


def _write_records(out: IO[bytes], records: Iterable[Record]) -> None:
    # Raw lines hold no newline (they were split on it), so one record is one line.
    out.writelines(b"%d %d %b\n" % record for record in records)


def _read_run(handle: IO[bytes]) -> Iterator[Record]:
    for line in handle:
        key, line_no, raw = line.split(b" ", 2)
        yield int(key), int(line_no), raw[:-1]


def _merge(runs: list[Path], tmp: Path, stack: ExitStack) -> Iterator[Record]:
    """The records of every run in key order, opening at most FAN_IN files at once."""
    generation = 0
    while len(runs) > FAN_IN:
        merged: list[Path] = []
        for start in range(0, len(runs), FAN_IN):
            group = runs[start : start + FAN_IN]
            target = tmp / f"merge-{generation:03d}-{start // FAN_IN:06d}"
            with ExitStack() as files, target.open("wb") as out:
                handles = [files.enter_context(p.open("rb")) for p in group]
                _write_records(out, heapq.merge(*(_read_run(h) for h in handles)))
            for used in group:
                used.unlink()
            merged.append(target)
        runs = merged
        generation += 1
    handles = [stack.enter_context(p.open("rb")) for p in runs]
    return heapq.merge(*(_read_run(h) for h in handles))


# -- the same items from a second process ----------------------------------------------


def helper_worthwhile(path: Path, idle: IdleSample | None = None) -> bool:
    """Whether reading and validating in a second process pays off for this file here.

    Only with a core to spare: the second process adds the pipe's encoding and
    decoding to the work, which pays off when it runs beside the decisions, and
    slows the replay down when it takes turns with them on a busy machine
    (bench/README.md). The outputs are the same bytes either way. `idle` is a
    sample of the cores' idle time taken earlier (see cores.IdleSample); without
    one, a sample is taken now (about 0.1 s).
    """
    try:
        size = path.stat().st_size
    except OSError:
        return False
    if size < HELPER_MIN_BYTES:
        return False
    sample = IdleSample() if idle is None else idle
    return sample.cores >= 2 and spare_cores(sample) >= SPARE_CORE


def helper_events(
    path: Path,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    analyze: bool = False,
    fork: bool | None = None,
) -> Items:
    """`ordered_events` run in a second process, which validates while this one decides.

    The reader writes to a pipe of its own. Where it is safe (Linux, and this
    process runs no other thread: `fork` None) it is a fork of this process,
    which has the package imported and the analyzer built already: it starts
    at once, where a new interpreter takes about 0.2 s to import (marshmallow,
    the lexicon) before it reads a line, and nothing can be decided meanwhile.
    Otherwise it is a plain subprocess (`python -m policy_service.replay.reader`):
    unlike multiprocessing's spawn it never re-imports the caller's main module.
    Events cross the pipe in the compact codec, in batches; the pipe's buffer
    bounds how far the reader runs ahead. With `analyze` the reader also
    computes the signals each event leaves out, with `replay_analyzer()`: text
    analysis then runs beside the decisions too.
    """
    read_fd, write_fd = os.pipe()
    try:
        if fork_safe() if fork is None else fork:
            process: _Process = _forked(read_fd, write_fd, path, chunk_bytes, analyze)
        else:
            process = _spawned(write_fd, path, chunk_bytes, analyze)
    except OSError as exc:
        os.close(read_fd)
        raise EventFileError(f"cannot start the reader process: {exc}") from None
    finally:
        os.close(write_fd)  # only the child writes; EOF then means it is gone
    receiver = Connection(read_fd, writable=False)
    decoder = Decoder()
    try:
        while True:
            try:
                message = receiver.recv()
            except EOFError:
                code = process.wait()
                raise EventFileError(
                    f"the reader process for {path} ended unexpectedly (exit code {code})"
                ) from None
            kind = message[0]
            if kind == "events":
                for line, at_us, fields, number, signals in orjson.loads(message[1]):
                    yield Ordered(
                        line,
                        at_us,
                        decoder.event(fields),
                        None if number is None else decoder.signal_set(number, signals),
                    )
            elif kind == "item":
                yield _from_wire(message[1])
            elif kind == "error":
                raise EventFileError(message[1])
            else:
                return
    finally:
        receiver.close()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.terminate()
            process.wait(timeout=5)


def fork_safe() -> bool:
    """Whether the reader may be a fork of this process.

    Only on Linux, and only while this process runs no other thread, Python's
    or a library's (counted by the kernel): a fork copies one thread, and a
    lock another thread held stays locked in the copy.
    """
    if sys.platform != "linux" or threading.active_count() != 1:
        return False
    try:
        return len(os.listdir("/proc/self/task")) == 1
    except OSError:
        return False


class _Process(Protocol):
    def wait(self, timeout: float | None = None) -> int: ...

    def terminate(self) -> None: ...


def _spawned(write_fd: int, path: Path, chunk_bytes: int, analyze: bool) -> _Process:
    package_root = str(Path(__file__).resolve().parents[2])
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "policy_service.replay.reader",
            str(path),
            str(chunk_bytes),
            str(write_fd),
            "analyze" if analyze else "-",
        ],
        pass_fds=(write_fd,),
        stdin=subprocess.DEVNULL,
        env=env,
    )


def _forked(read_fd: int, write_fd: int, path: Path, chunk_bytes: int, analyze: bool) -> _Process:
    # What this process buffered would otherwise be written a second time by the child.
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid:
        return _Forked(pid)
    # The child: serve the items, then leave at once. It must never return into
    # the caller's code, nor run its cleanup (buffered output, temp files).
    code = 1
    try:
        os.close(read_fd)
        serve_items(str(path), chunk_bytes, Connection(write_fd, readable=False), analyze)
        code = 0
    except BaseException:
        traceback.print_exc()
    finally:
        with contextlib.suppress(BaseException):
            sys.stderr.flush()
        os._exit(code)


class _Forked:
    """A forked child as `subprocess.Popen` would show it: wait for it, or stop it."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.returncode is None:
            pid, status = os.waitpid(self.pid, 0 if deadline is None else os.WNOHANG)
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
            elif deadline is not None and time.monotonic() >= deadline:
                raise subprocess.TimeoutExpired(f"reader {self.pid}", timeout or 0.0)
            else:
                time.sleep(0.01)
        return self.returncode

    def terminate(self) -> None:
        if self.returncode is None:
            os.kill(self.pid, signal.SIGTERM)


def _to_wire(item: Invalid | ReadProgress | Scanned) -> tuple[Any, ...]:
    if isinstance(item, Invalid):
        return ("i", item.line, item.reason)
    if isinstance(item, ReadProgress):
        return ("p", item.done, item.total)
    return ("s", item.lines, item.blank, item.candidates, item.out_of_order, item.runs)


def _from_wire(wire: tuple[Any, ...]) -> Item:
    kind = wire[0]
    if kind == "i":
        return Invalid(wire[1], wire[2])
    if kind == "p":
        return ReadProgress(wire[1], wire[2])
    return Scanned(*wire[1:])


def serve_items(path: str, chunk_bytes: int, sender: Connection, analyze: bool = False) -> None:
    """The reader process: every item of `ordered_events`, events in batches through the pipe.

    A batch of events is one JSON document (`codec.event_fields` per event,
    the analyzer's signals as a numbered set, `codec.SignalSets`): decoding it
    is a single orjson call in the deciding process, where every microsecond
    is on the critical path.
    """
    # Imported here: only a reader that analyzes needs the analyzer (and its tables).
    from policy_service.replay.analyzer import replay_analyzer

    analyzer = replay_analyzer()[0] if analyze else None
    sets = SignalSets()
    batch: list[list[Any]] = []
    limit = FIRST_BATCH_ITEMS

    def flush() -> None:
        nonlocal limit
        if batch:
            sender.send(("events", orjson.dumps(batch)))
            batch.clear()
            limit = min(limit * 2, BATCH_ITEMS)

    try:
        with (
            long_lived_kept_out_of_collections(),
            contextlib.closing(ordered_events(Path(path), chunk_bytes, False)) as items,
        ):
            for item in items:
                if not isinstance(item, Ordered):
                    # Anything else goes at once (after the events before it), for a
                    # prompt progress bar and the order of invalid lines among events.
                    flush()
                    sender.send(("item", _to_wire(item)))
                    continue
                event = item.event
                number, signals = None, None
                if analyzer is not None:
                    missing = tuple(n for n in SIGNAL_NAMES if caller_value(event, n) is None)
                    if missing:
                        number, signals = sets.number(analyzer.complete(event, missing))
                batch.append([item.line, item.at_us, event_fields(event), number, signals])
                if len(batch) >= limit:
                    flush()
        flush()
        sender.send(("done",))
    except (BrokenPipeError, KeyboardInterrupt):
        return  # the replay stopped reading: nothing left to do
    except (PolicyError, OSError) as exc:
        with contextlib.suppress(OSError):
            sender.send(("error", str(exc)))
    finally:
        sender.close()


def open_events(
    path: Path,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    helper: bool | None = None,
    analyze: bool = False,
    idle: IdleSample | None = None,
) -> Items:
    """The ordered items of `path`, from a second process when `helper` (None: when worthwhile).

    `analyze` asks that process to fill the signals events leave out with
    `replay_analyzer()`; inline, the Evaluator's analyzer does it as usual.
    `idle`: a sample of idle cores taken earlier, for `helper_worthwhile`.
    """
    use_helper = helper_worthwhile(path, idle) if helper is None else helper
    if use_helper:
        return helper_events(path, chunk_bytes, analyze)
    return ordered_events(path, chunk_bytes)
