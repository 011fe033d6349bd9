"""The `policy-service replay` command: recorded events through the rules, compared and reported."""

from __future__ import annotations

import contextlib
import hashlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import click
import orjson

from policy_service.analysis import Analyzer
from policy_service.config import Settings
from policy_service.errors import ConfigError, PolicyError
from policy_service.events import Event
from policy_service.reloader import RulesRefused
from policy_service.replay.analyzer import replay_analyzer
from policy_service.replay.compare import ExpectationError, ExpectCheck, Outcome, load_expectations
from policy_service.replay.cores import IdleSample
from policy_service.replay.files import Completion, atomic_output
from policy_service.replay.ordering import DEFAULT_CHUNK_BYTES, Invalid, open_events
from policy_service.replay.report import render_report
from policy_service.replay.runner import Replay, ReplayResult, Side, load_rules
from policy_service.replay.text import render_summary
from policy_service.state import StateStore
from policy_service.state.memory import MemoryStore

INVALID_SHOWN = 100
SIZE_SUFFIXES = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}


class TerminalProgress:
    """Two click progress bars on stderr: bytes read, then events decided."""

    def __init__(self) -> None:
        self._bar: Any = None
        self._done = 0

    def _switch(self, length: int, label: str) -> None:
        self.close()
        self._bar = click.progressbar(length=max(length, 1), label=label, file=sys.stderr)
        self._bar.__enter__()
        self._done = 0

    def reading(self, done: int, total: int) -> None:
        if self._bar is None:
            self._switch(total, "reading ")
        self._bar.update(done - self._done)
        self._done = done

    def deciding(self, total: int) -> None:
        self._switch(total, "deciding")

    def advance(self, count: int) -> None:
        if self._bar is not None and count:
            self._bar.update(count)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.__exit__(None, None, None)
            self._bar = None


def stderr_is_terminal() -> bool:
    """A bar only on a terminal: logs and pipes get no carriage-return noise."""
    return sys.stderr.isatty()


def parse_size(text: str) -> int:
    value = text.strip().upper().removesuffix("B")
    suffix = value[-1:] if value[-1:] in SIZE_SUFFIXES else ""
    number = value[: len(value) - len(suffix)]
    try:
        size = int(number) * SIZE_SUFFIXES[suffix]
    except ValueError:
        raise click.BadParameter(
            f"{text!r} is not a size such as 64M", param_hint="--sort-buffer"
        ) from None
    if size < 1:
        raise click.BadParameter("must be at least 1 byte", param_hint="--sort-buffer")
    return size


def run_id(events: Path, revisions: list[str]) -> str:
    """A stable id for a replay's Redis keys: the same file and rules give the same prefix."""
    stat = events.stat()
    text = "\0".join([str(events.resolve()), str(stat.st_size), str(stat.st_mtime_ns), *revisions])
    return hashlib.sha256(text.encode()).hexdigest()[:12]


@contextlib.contextmanager
def optional_output(path: Path | None) -> Iterator[tuple[IO[bytes] | None, Completion]]:
    """`path` written whole when the caller marks it done, or nothing when no path is given."""
    if path is None:
        yield None, Completion()
        return
    with atomic_output(path) as opened:
        yield opened


def _refused(directory: Path, refused: RulesRefused) -> click.ClickException:
    detail = "\n".join(f"  {e}" for e in refused.errors)
    hint = " (--allow-failing-tests replays a revision whose inline tests fail)"
    return click.ClickException(f"the rules in {directory} cannot be replayed:\n{detail}\n{hint}")


class Stores:
    """The state stores of a replay; Redis keys live under a prefix of their own."""

    def __init__(self, url: str, prefix: str | None, keep: bool) -> None:
        self.url = url
        self.prefix = prefix
        self.keep = keep
        self.opened: list[Any] = []
        self._owned = False  # the prefix is this replay's: its keys may be deleted

    @property
    def is_redis(self) -> bool:
        return self.url.startswith(("redis://", "rediss://", "unix://"))

    def describe(self) -> str:
        if not self.is_redis:
            return "a fresh memory store per rules directory"
        where = self.url.split("@")[-1]
        return f"Redis {where} under the key prefix {self.prefix!r}"

    def prepare(self) -> None:
        """Make sure the prefix holds no earlier state: a replay starts from nothing.

        Only a `replay:` prefix is ever cleared (before and after the run): any
        other one may hold the live service's state, so it must be empty.
        """
        if not self.is_redis or self.prefix is None:
            return
        from policy_service.state.redis_capture import count_keys, delete_keys

        ours = self.prefix.startswith("replay:")
        if count_keys(self.url, self.prefix):
            if not ours:
                raise click.ClickException(
                    f"the key prefix {self.prefix!r} already holds keys; choose another --prefix "
                    "(prefixes starting with 'replay:' are cleared before a replay)"
                )
            delete_keys(self.url, self.prefix)
        self._owned = ours

    def open(self, suffix: str) -> StateStore:
        if not self.is_redis:
            return MemoryStore()
        from policy_service.state.redis_store import RedisStore

        store = RedisStore.from_url(self.url, prefix=f"{self.prefix}{suffix}")
        self.opened.append(store)
        if not store.ping():
            raise click.ClickException(f"Redis at {self.url.split('@')[-1]} does not answer")
        return store

    def close(self) -> None:
        for store in self.opened:
            store.close()
        if self._owned and self.prefix is not None and not self.keep:
            from policy_service.state.redis_capture import delete_keys

            with contextlib.suppress(PolicyError):
                delete_keys(self.url, self.prefix)


@click.command()
@click.argument(
    "events_file",
    metavar="EVENTS",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
)
@click.option(
    "--rules",
    "rules_dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Rules directory (default: POLICY_RULES_DIR, else ./rules).",
)
@click.option(
    "--against",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="A second rules directory: replay the same events against it and report differences.",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Write every decision (JSONL, as the API returns it) to this file.",
)
@click.option(
    "--expect",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Expected actions (JSONL or CSV: event_id,action[,rule]); exit 1 on a mismatch.",
)
@click.option(
    "--report",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Write a self-contained HTML report to this file.",
)
@click.option(
    "--diff-out",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="With --against: every differing event (JSONL) to this file.",
)
@click.option(
    "--summary-json",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="The summary as JSON to this file.",
)
@click.option(
    "--state",
    default="memory://",
    show_default=True,
    help="State store: memory:// (fresh, in this process) or redis://host:port/db.",
)
@click.option(
    "--prefix",
    help="Redis key prefix of the replay's state (default: replay:<id>: from the file and rules).",
)
@click.option("--keep-state", is_flag=True, help="Leave the replay's keys in Redis afterwards.")
@click.option(
    "--skip-invalid",
    is_flag=True,
    help="Skip lines that are not valid events (they are listed) instead of stopping.",
)
@click.option(
    "--allow-failing-tests",
    is_flag=True,
    help="Replay rules whose inline tests fail (the service would refuse them).",
)
@click.option(
    "--reader",
    type=click.Choice(["auto", "process", "inline"]),
    default="auto",
    show_default=True,
    help="Read and validate the file in a second process (overlapping with the decisions), "
    "in this one, or auto: a second process for files over 4 MiB when others leave at least "
    "half a core idle.",
)
@click.option(
    "--sort-buffer",
    default=f"{DEFAULT_CHUNK_BYTES >> 20}M",
    show_default=True,
    help="Memory for ordering by event time before sorted runs spill to temp files.",
)
def replay(
    events_file: Path,
    rules_dir: Path | None,
    against: Path | None,
    out: Path | None,
    expect: Path | None,
    report: Path | None,
    diff_out: Path | None,
    summary_json: Path | None,
    state: str,
    prefix: str | None,
    keep_state: bool,
    skip_invalid: bool,
    allow_failing_tests: bool,
    reader: str,
    sort_buffer: str,
) -> None:
    """Replay the events of EVENTS (JSONL, the API's request format) through the rules.

    Events are decided in event-time order (occurred_at, then line number) on
    a virtual clock that reads each event's own time, with a fresh state
    store: the same file and rules give byte-identical decisions every time.
    Accounts without a mapping in accounts.yaml are decided by the default
    rule set. A summary goes to stdout; exit 1 when the run is incomplete
    (invalid lines without --skip-invalid) or an expectation fails.
    """
    # Idle cores are sampled while the rules load (this process's work not
    # counted), so that `auto` costs no wait of its own.
    idle = IdleSample() if reader == "auto" else None
    chunk_bytes = parse_size(sort_buffer)
    if diff_out is not None and against is None:
        raise click.UsageError("--diff-out needs --against")
    if not (
        state.startswith("memory://") or state.startswith(("redis://", "rediss://", "unix://"))
    ):
        raise click.BadParameter("memory:// or redis://host:port/db", param_hint="--state")
    if rules_dir is None:
        try:
            rules_dir = Settings.from_env().rules_dir
        except ConfigError as exc:
            raise click.ClickException(str(exc)) from None
    expectations = None
    if expect is not None:
        try:
            expectations = ExpectCheck(load_expectations(expect))
        except ExpectationError as exc:
            raise click.BadParameter(str(exc), param_hint="--expect") from None

    try:
        analyzer, analyzer_name = replay_analyzer()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    warnings: list[str] = []
    policies = []
    try:
        for directory in [rules_dir, *([against] if against else [])]:
            try:
                policy, failed = load_rules(directory, allow_failing_tests)
            except RulesRefused as refused:
                raise _refused(directory, refused) from None
            policies.append(policy)
            warnings += [f"{directory}: {w} (replayed anyway)" for w in failed]
        for warning in warnings:
            click.echo(f"warning: {warning}", err=True)
        stores = Stores(
            state,
            prefix or f"replay:{run_id(events_file, [p.revision for p in policies])}:",
            keep_state,
        )
        try:
            stores.prepare()
            result = _run(
                (analyzer, analyzer_name),
                events_file,
                rules_dir,
                against,
                policies,
                stores,
                expectations,
                out,
                diff_out,
                skip_invalid,
                reader,
                idle,
                chunk_bytes,
                warnings,
            )
        finally:
            stores.close()
    except PolicyError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        for policy in policies:
            policy.close()

    if summary_json is not None:
        summary_json.write_bytes(
            orjson.dumps(result.to_json(), option=orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE)
        )
    if report is not None:
        report.write_text(render_report(result), encoding="utf-8")
    click.echo(render_summary(result))
    problems = []
    if result.primary.degraded:
        problems.append(f"{result.primary.degraded} decision(s) were taken without state")
    if result.expect is not None and result.expect.failed:
        problems.append(f"{result.expect.failed} expectation(s) failed")
    if problems:
        raise click.ClickException("; ".join(problems))


def _run(
    analysis: tuple[Analyzer, str],
    events_file: Path,
    rules_dir: Path,
    against: Path | None,
    policies: list[Any],
    stores: Stores,
    expectations: ExpectCheck | None,
    out: Path | None,
    diff_out: Path | None,
    skip_invalid: bool,
    reader: str,
    idle: IdleSample | None,
    chunk_bytes: int,
    warnings: list[str],
) -> ReplayResult:
    analyzer, analyzer_name = analysis
    primary = Side("rules", rules_dir, policies[0], stores.open(""), analyzer)
    second = (
        Side("against", against, policies[1], stores.open("against:"), analyzer)
        if against is not None
        else None
    )
    shown = [0]

    def on_invalid(item: Invalid) -> None:
        shown[0] += 1
        if shown[0] <= INVALID_SHOWN:
            click.echo(f"{events_file}:{item.line}: {item.reason}", err=True)

    progress = TerminalProgress() if stderr_is_terminal() else None
    helper = None if reader == "auto" else reader == "process"
    with (
        optional_output(out) as (out_file, out_done),
        optional_output(diff_out) as (diff_file, diff_done),
    ):

        def on_difference(line: int, event: Event, before: Outcome, after: Outcome) -> None:
            if diff_file is not None:
                record = {
                    "line": line,
                    "event_id": event.event_id,
                    "account": event.account,
                    "rules": before.to_json(),
                    "against": after.to_json(),
                }
                diff_file.write(orjson.dumps(record, option=orjson.OPT_APPEND_NEWLINE))

        run = Replay(
            primary,
            second,
            out=out_file,
            expect=expectations,
            skip_invalid=skip_invalid,
            progress=progress,
            on_invalid=on_invalid,
            on_difference=on_difference,
        )
        try:
            with contextlib.closing(
                open_events(events_file, chunk_bytes, helper, analyze=True, idle=idle)
            ) as items:
                outcomes = run.run(items)
        finally:
            if progress is not None:
                progress.close()
        if shown[0] > INVALID_SHOWN:
            click.echo(f"... {shown[0] - INVALID_SHOWN} more invalid lines not shown", err=True)
        if outcomes.stopped:
            raise click.ClickException(
                f"replay incomplete: {outcomes.invalid} invalid line(s) in {events_file} "
                "(listed above); no decisions were written. Fix them, or pass --skip-invalid "
                "to replay the valid lines only"
            )
        scanned = outcomes.scanned
        if scanned is None or outcomes.decided == 0:
            what = "no valid events" if outcomes.invalid else "no events"
            raise click.ClickException(f"{events_file} holds {what}; nothing to replay")
        out_done.done = diff_done.done = True
    return run.result(str(events_file), analyzer_name, stores.describe(), warnings)
