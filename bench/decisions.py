"""Throughput and latency of POST /v1/decisions: the service against a bare Flask app.

Both run under gunicorn with the same settings on loopback ports and are loaded
by wrk with bench/post_event.lua (realistic comments, a new event id per
request). Rounds alternate between the targets (A B A B ...) so that a noisy
neighbour slows both sides alike; the report is the median of the rounds, and
the ratio of the service's median requests/s to the baseline's.

    .venv/bin/python bench/decisions.py --duration 5

The results are also written to bench/results/decisions-<timestamp>.json.
Exit status: 0 measured cleanly, 1 the run measured errors (non-200 answers,
socket errors, duplicates), 2 the benchmark could not run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
RESULTS_DIR = BENCH_DIR / "results"
LUA_SCRIPT = BENCH_DIR / "post_event.lua"
RESULT_MARKER = "BENCH_RESULT "
MIN_ROUNDS = 3
WRK_HINT = (
    "install it with `apt-get install -y wrk` on Debian or Ubuntu, `brew install wrk` on macOS"
)
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


class BenchError(Exception):
    """The benchmark cannot go on; the message says why."""


@dataclass(frozen=True)
class Target:
    """One server configuration to measure."""

    name: str
    app: str  # gunicorn's APP_MODULE
    env: dict[str, str] = field(default_factory=dict)
    pythonpath: tuple[str, ...] = ()
    baseline: bool = False
    # State kept inside the worker (the memory store): more workers would each
    # keep their own and decide differently, so only one worker is allowed.
    single_process: bool = False


def build_targets(args: argparse.Namespace) -> list[Target]:
    """What is measured, in the order of every round; exactly one baseline.

    Another service configuration (a Redis store, other rules) is one more
    entry here; the report compares every non-baseline target to the baseline.
    """
    return [
        Target(
            name="service",
            app="policy_service.app:create_app()",
            env={"POLICY_RULES_DIR": str(ROOT / "rules"), "POLICY_STATE_URL": "memory://"},
            single_process=True,
        ),
        Target(
            name="bare",
            app="bare_app:create_app()",
            pythonpath=(str(BENCH_DIR),),
            baseline=True,
        ),
    ]


@dataclass
class Round:
    """One wrk run against one target."""

    target: str
    round: int
    requests: int
    seconds: float
    requests_per_s: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    non_200: dict[str, int]
    socket_errors: dict[str, int]
    duplicates: int
    error_sample: str | None
    # CPU time of the gunicorn workers per request: less sensitive to other
    # load on the machine than requests/s, since waiting for a core costs none.
    worker_cpu_us_per_request: float | None
    rules: dict[str, int] = field(default_factory=dict)

    @property
    def problems(self) -> int:
        return sum(self.non_200.values()) + sum(self.socket_errors.values()) + self.duplicates


@dataclass
class Summary:
    target: str
    rounds: int
    requests_per_s: float
    requests_per_s_min: float
    requests_per_s_max: float
    p50_ms: float
    p99_ms: float
    worker_cpu_us_per_request: float | None
    non_200: dict[str, int]
    socket_errors: dict[str, int]
    duplicates: int


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="bench/decisions.py",
        description=(
            "Measure POST /v1/decisions of the policy service (memory store, the rules in "
            "rules/) against a bare Flask app (bench/bare_app.py) under identical gunicorn "
            "settings, with wrk and bench/post_event.lua. Needs wrk on PATH: " + WRK_HINT + "."
        ),
        epilog=(
            "Client defaults (-t1 -c8) suit a 2-core machine: wrk's one thread uses one core "
            "and leaves the other to the gunicorn worker, and 8 connections keep the worker "
            "busy without measuring mostly queueing. With more cores, raise --workers (only "
            "for targets that allow it), --wrk-threads and --connections together. "
            "--threads above 1 turns gunicorn's sync worker into gthread, which keeps "
            "connections alive; the sync worker closes every connection after one answer. "
            "The ratio service/bare of the median requests/s is the share of Flask+gunicorn's "
            "throughput that is left with the service's work on top (1.0: it costs nothing)."
        ),
    )
    gunicorn = parser.add_argument_group("gunicorn (the same for every target)")
    gunicorn.add_argument("--workers", type=int, default=1, help="worker processes [1]")
    gunicorn.add_argument(
        "--worker-class", default="sync", help="gunicorn worker class [sync, as `serve`]"
    )
    gunicorn.add_argument("--threads", type=int, default=1, help="threads per worker [1]")
    gunicorn.add_argument(
        "--access-log",
        action="store_true",
        help="format an access log line per request, as `policy-service serve` does "
        "(written to /dev/null) [off]",
    )
    load = parser.add_argument_group("load (wrk)")
    load.add_argument("--duration", type=int, default=10, help="seconds per round [10]")
    load.add_argument(
        "--rounds", type=int, default=3, help=f"rounds per target, at least {MIN_ROUNDS} [3]"
    )
    load.add_argument(
        "--warmup",
        type=int,
        default=2,
        help="seconds of unmeasured load per target first; also checks the answers [2]",
    )
    load.add_argument("--connections", type=int, default=8, help="open connections [8]")
    load.add_argument("--wrk-threads", type=int, default=1, help="wrk client threads [1]")
    load.add_argument("--timeout", type=int, default=5, help="wrk request timeout, seconds [5]")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="after the rounds, record each non-baseline target under load with py-spy "
        "(one more round, not counted) and print its hottest functions",
    )
    parser.add_argument(
        "--results-dir",
        type=Path,
        default=RESULTS_DIR,
        help="where the JSON results, server logs and profiles go [bench/results]",
    )
    args = parser.parse_args(argv)
    if args.rounds < MIN_ROUNDS:
        parser.error(f"--rounds must be at least {MIN_ROUNDS}: a median needs several rounds")
    for name in ("workers", "threads", "duration", "connections", "wrk_threads", "timeout"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.warmup < 0:
        parser.error("--warmup must be 0 or more")
    if args.connections < args.wrk_threads:
        parser.error("--connections must be at least --wrk-threads (wrk needs one per thread)")
    return args


def gunicorn_options(args: argparse.Namespace) -> list[str]:
    """The options every target shares, so that only the application differs."""
    options = [
        "--workers",
        str(args.workers),
        "--worker-class",
        args.worker_class,
        "--threads",
        str(args.threads),
        "--log-level",
        "warning",
        # Two masters would fight over the default control socket in ~/.gunicorn,
        # and so would a service the developer runs at the same time.
        "--no-control-socket",
    ]
    if args.access_log:
        options += ["--access-logfile", os.devnull]
    return options


def find_executable(name: str) -> str | None:
    """`name` from this virtualenv first, then from PATH."""
    return shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)


class Server:
    """A gunicorn master serving one target on a loopback port of its own."""

    def __init__(self, target: Target, options: list[str], log_path: Path) -> None:
        self.target = target
        self.log_path = log_path
        gunicorn = find_executable("gunicorn")
        if gunicorn is None:
            raise BenchError("gunicorn is not installed: pip install -e '.[dev]'")
        # The parent binds the socket and gunicorn inherits it: no window in
        # which another process could take a port found free a moment before.
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.bind(("127.0.0.1", 0))
        self._socket.set_inheritable(True)
        self.port: int = self._socket.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.argv = [gunicorn, "--bind", f"fd://{self._socket.fileno()}", *options]
        for path in target.pythonpath:
            self.argv += ["--pythonpath", path]
        self.argv.append(target.app)
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        # A POLICY_* variable left in the caller's shell would silently change
        # what is measured: every target gets exactly its own settings.
        env = {k: v for k, v in os.environ.items() if not k.startswith("POLICY_")}
        env.update(self.target.env)
        with self.log_path.open("wb") as log:
            self._process = subprocess.Popen(
                self.argv,
                cwd=ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                pass_fds=(self._socket.fileno(),),
            )

    def wait_ready(self, probe: dict[str, Any], timeout: float = 60.0) -> None:
        """Wait until a decision request is answered with 200; fail on anything else."""
        deadline = time.monotonic() + timeout
        body = json.dumps(probe).encode()
        while True:
            self._check_alive()
            request = urllib.request.Request(
                self.url + "/v1/decisions", body, {"Content-Type": "application/json"}
            )
            try:
                with urllib.request.urlopen(request, timeout=2) as response:
                    response.read()
                return
            except urllib.error.HTTPError as exc:
                detail = exc.read().decode(errors="replace")[:500]
                raise BenchError(
                    f"{self.target.name}: the probe request got HTTP {exc.code}: {detail}"
                    f" (server log: {self.log_path})"
                ) from None
            except (TimeoutError, urllib.error.URLError, ConnectionError):
                # The socket listens before the worker is up: requests queue.
                if time.monotonic() > deadline:
                    raise BenchError(
                        f"{self.target.name}: no answer after {timeout:.0f} s; see {self.log_path}"
                    ) from None
                time.sleep(0.2)

    def _check_alive(self) -> None:
        assert self._process is not None
        if self._process.poll() is not None:
            tail = self.log_path.read_text(errors="replace").splitlines()[-20:]
            raise BenchError(
                f"{self.target.name}: gunicorn exited with status {self._process.returncode}:\n"
                + "\n".join(tail)
            )

    def worker_pids(self) -> list[int]:
        assert self._process is not None
        self._check_alive()
        pid = self._process.pid
        children = Path(f"/proc/{pid}/task/{pid}/children")
        try:
            return [int(p) for p in children.read_text().split()]
        except OSError:
            return []  # not Linux: no CPU accounting, no profile

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.send_signal(signal.SIGTERM)
            try:
                self._process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._socket.close()


@contextmanager
def running(
    targets: list[Target], options: list[str], stamp: str, results_dir: Path
) -> Iterator[dict[str, Server]]:
    servers: dict[str, Server] = {}
    try:
        for target in targets:
            server = Server(target, options, results_dir / f"decisions-{stamp}-{target.name}.log")
            servers[target.name] = server
            server.start()
        for server in servers.values():
            server.wait_ready(probe_event(stamp))
        yield servers
    finally:
        for server in servers.values():
            server.stop()


def probe_event(stamp: str) -> dict[str, Any]:
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "event_id": f"probe-{stamp}",
        "account": "acme",
        "occurred_at": now,
        "text": "Is the shop open on Sunday?",
        "author": {"id": "probe", "is_customer": True},
        "signals": {"tone": "neutral"},
    }


def cpu_seconds(pids: list[int]) -> float | None:
    total = 0
    for pid in pids:
        try:
            # utime and stime follow the command name, which may hold spaces.
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            return None
        total += int(fields[11]) + int(fields[12])
    return total / CLOCK_TICKS


def run_wrk(
    wrk: str, server: Server, args: argparse.Namespace, seconds: int, tag: str, tally: bool
) -> tuple[dict[str, Any], float | None]:
    """wrk's result line, and the CPU seconds the workers spent meanwhile."""
    argv = [
        wrk,
        "-t",
        str(args.wrk_threads),
        "-c",
        str(args.connections),
        "-d",
        f"{seconds}s",
        "--timeout",
        f"{args.timeout}s",
        "-s",
        str(LUA_SCRIPT),
        server.url,
        "--",
        tag,
    ]
    if tally:
        argv.append("tally")
    pids = server.worker_pids()
    cpu_before = cpu_seconds(pids)
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    cpu_after = cpu_seconds(pids) if server.worker_pids() == pids else None
    if done.returncode != 0:
        raise BenchError(f"wrk failed ({done.returncode}): {done.stderr or done.stdout}")
    for line in done.stdout.splitlines():
        if line.startswith(RESULT_MARKER):
            result: dict[str, Any] = json.loads(line[len(RESULT_MARKER) :])
            cpu = None if cpu_before is None or cpu_after is None else cpu_after - cpu_before
            return result, cpu
    raise BenchError(f"wrk printed no {RESULT_MARKER.strip()} line:\n{done.stdout}{done.stderr}")


def to_round(target: str, number: int, raw: dict[str, Any], cpu: float | None) -> Round:
    requests = int(raw["requests"])
    seconds = raw["duration_us"] / 1e6
    latency = raw["latency_us"]
    return Round(
        target=target,
        round=number,
        requests=requests,
        seconds=round(seconds, 3),
        requests_per_s=round(requests / seconds, 1),
        p50_ms=latency["p50"] / 1000,
        p90_ms=latency["p90"] / 1000,
        p99_ms=latency["p99"] / 1000,
        max_ms=latency["max"] / 1000,
        non_200=raw["non_200"],
        socket_errors={k: v for k, v in raw["socket_errors"].items() if v},
        duplicates=int(raw["duplicates"]),
        error_sample=raw["error_sample"],
        worker_cpu_us_per_request=(
            round(cpu * 1e6 / requests, 1) if cpu is not None and requests else None
        ),
        rules=raw["rules"],
    )


def summarize(name: str, rounds: list[Round]) -> Summary:
    rps = [r.requests_per_s for r in rounds]
    cpu = [r.worker_cpu_us_per_request for r in rounds]
    non_200: Counter[str] = Counter()
    errors: Counter[str] = Counter()
    for r in rounds:
        non_200.update(r.non_200)
        errors.update(r.socket_errors)
    return Summary(
        target=name,
        rounds=len(rounds),
        requests_per_s=round(statistics.median(rps), 1),
        requests_per_s_min=min(rps),
        requests_per_s_max=max(rps),
        p50_ms=round(statistics.median(r.p50_ms for r in rounds), 3),
        p99_ms=round(statistics.median(r.p99_ms for r in rounds), 3),
        worker_cpu_us_per_request=(
            round(statistics.median(c for c in cpu if c is not None), 1)
            if all(c is not None for c in cpu)
            else None
        ),
        non_200=dict(non_200),
        socket_errors=dict(errors),
        duplicates=sum(r.duplicates for r in rounds),
    )


def check_answers(target: Target, raw: dict[str, Any]) -> None:
    """Refuse to measure a target that answers errors: their speed means nothing."""
    if raw["non_200"]:
        raise BenchError(
            f"{target.name} answered {raw['non_200']} during the warm-up; first: "
            f"{raw['error_sample']}"
        )
    if raw["duplicates"]:
        raise BenchError(f"{target.name} saw {raw['duplicates']} duplicate event ids")


def profile(
    wrk: str, server: Server, args: argparse.Namespace, stamp: str
) -> dict[str, Any] | None:
    """py-spy samples of the loaded workers: the hottest functions, and the raw stacks."""
    py_spy = find_executable("py-spy")
    if py_spy is None:
        raise BenchError("--profile needs py-spy: .venv/bin/pip install py-spy")
    pids = server.worker_pids()
    if not pids:
        return None
    out = args.results_dir / f"decisions-{stamp}-{server.target.name}.folded"
    # One worker is enough to see where a request's time goes.
    record = subprocess.Popen(
        [
            py_spy,
            "record",
            "--pid",
            str(pids[0]),
            "--duration",
            str(args.duration),
            "--rate",
            "200",
            "--nolineno",
            "--format",
            "raw",
            "--output",
            str(out),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    run_wrk(wrk, server, args, args.duration + 1, f"{stamp}-profile", tally=False)
    _, stderr = record.communicate()
    if record.returncode != 0 or not out.exists():
        raise BenchError(f"py-spy failed ({record.returncode}): {stderr.strip()}")
    return {"stacks": str(out), **hottest(out.read_text())}


PROJECT_PACKAGE = "policy_service"
ROUND_COLUMNS = ("req/s", "p50 ms", "p99 ms")
# py-spy does not always see a background thread sleeping in these (the rule
# reloader's timer) as idle; they do no work, so they are left out.
SLEEPING = frozenset({"Condition.wait (threading.py)", "Event.wait (threading.py)"})
PROFILE_VIEWS = (
    ("own", "running function"),
    ("by_package", "running package"),
    ("project_inclusive", "service function, with its callees"),
)


def package(frame: str) -> str:
    """The module group of a py-spy frame "function (path/to/file.py)"."""
    path = frame.rpartition(" (")[2].rstrip(")")
    parts = path.removesuffix(".py").split("/")
    if parts[0] == PROJECT_PACKAGE:
        return ".".join(parts)
    return parts[0] or path


def hottest(folded: str, top: int = 12) -> dict[str, Any]:
    """Shares of the samples in py-spy's folded stacks.

    own: the function that was running; by_package: the same summed by
    package, which separates gunicorn, Flask, marshmallow and the service;
    project_inclusive: the service's own functions with everything they call,
    which shows what each step of a decision costs.
    """
    own: Counter[str] = Counter()
    packages: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    samples = waiting = 0
    for line in folded.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack:
            continue
        count = int(count_text)
        frames = stack.split(";")
        if frames[-1] in SLEEPING:
            waiting += count
            continue
        samples += count
        own[frames[-1]] += count
        packages[package(frames[-1])] += count
        # A recursive function counts once per sample.
        for frame in set(frames):
            if package(frame).startswith(PROJECT_PACKAGE):
                inclusive[frame] += count

    def shares(counter: Counter[str]) -> list[list[Any]]:
        return [[name, round(n / samples, 3)] for name, n in counter.most_common(top)]

    return {
        "samples": samples,
        "waiting_samples_left_out": waiting,
        "own": shares(own) if samples else [],
        "by_package": shares(packages) if samples else [],
        "project_inclusive": shares(inclusive) if samples else [],
    }


def table(rows: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for number, row in enumerate(rows):
        cells = [row[0].ljust(widths[0])] + [
            c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)
        ]
        lines.append("  ".join(cells))
        if number == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def counts(values: dict[str, int]) -> str:
    return ", ".join(f"{k}: {v}" for k, v in sorted(values.items())) or "0"


def report(targets: list[Target], summaries: dict[str, Summary], rounds: list[Round]) -> str:
    baseline = next(t.name for t in targets if t.baseline)
    base = summaries[baseline]
    rows = [
        [
            "target",
            "req/s (median)",
            "req/s min-max",
            "p50 ms",
            "p99 ms",
            "worker CPU us/req",
            "non-200",
            "socket errors",
            "duplicates",
        ]
    ]
    for target in targets:
        s = summaries[target.name]
        rows.append(
            [
                target.name + (" (baseline)" if target.baseline else ""),
                f"{s.requests_per_s:.0f}",
                f"{s.requests_per_s_min:.0f}-{s.requests_per_s_max:.0f}",
                f"{s.p50_ms:.2f}",
                f"{s.p99_ms:.2f}",
                "-"
                if s.worker_cpu_us_per_request is None
                else f"{s.worker_cpu_us_per_request:.0f}",
                counts(s.non_200),
                counts(s.socket_errors),
                str(s.duplicates),
            ]
        )
    # Per round, to show drift: the service's store grows from round to round.
    per_round = [["round", *(f"{t.name} {column}" for t in targets for column in ROUND_COLUMNS)]]
    for number in sorted({r.round for r in rounds}):
        by_target = {r.target: r for r in rounds if r.round == number}
        cells = [str(number)]
        for target in targets:
            r = by_target[target.name]
            cells += [f"{r.requests_per_s:.0f}", f"{r.p50_ms:.2f}", f"{r.p99_ms:.2f}"]
        per_round.append(cells)
    lines = [table(rows), "", table(per_round), ""]
    for target in targets:
        if target.baseline:
            continue
        s = summaries[target.name]
        lines.append(
            f"ratio {target.name}/{baseline}: req/s {ratio(s.requests_per_s, base.requests_per_s)}"
            f"  (p50 latency x{ratio(s.p50_ms, base.p50_ms)},"
            f" p99 latency x{ratio(s.p99_ms, base.p99_ms)})"
        )
    return "\n".join(lines)


def ratio(value: float, base: float) -> str:
    return f"{value / base:.2f}" if base else "n/a"


def quotient(value: float, base: float) -> float | None:
    return round(value / base, 3) if base else None


@dataclass
class Run:
    """Everything one invocation measured."""

    stamp: str
    options: list[str]
    rounds: list[Round] = field(default_factory=list)
    warmup_rules: dict[str, dict[str, int]] = field(default_factory=dict)
    profiles: dict[str, Any] = field(default_factory=dict)


def measure(wrk: str, targets: list[Target], args: argparse.Namespace, run: Run) -> None:
    with running(targets, run.options, run.stamp, args.results_dir) as servers:
        for target in targets:
            server = servers[target.name]
            print(f"{target.name}: {' '.join(server.argv[1:])}  ({server.url})")
            if args.warmup:
                raw, _ = run_wrk(wrk, server, args, args.warmup, f"{run.stamp}-w", tally=True)
                check_answers(target, raw)
                run.warmup_rules[target.name] = raw["rules"]
                if not target.baseline:
                    print(f"  warm-up answers by winning rule: {counts(raw['rules'])}")
        for number in range(1, args.rounds + 1):
            for target in targets:
                tag = f"{run.stamp}-{number}"
                raw, cpu = run_wrk(wrk, servers[target.name], args, args.duration, tag, False)
                result = to_round(target.name, number, raw, cpu)
                run.rounds.append(result)
                print(
                    f"round {number} {target.name}: {result.requests_per_s:.0f} req/s, "
                    f"p50 {result.p50_ms:.2f} ms, p99 {result.p99_ms:.2f} ms"
                    + (f", {result.problems} PROBLEMS" if result.problems else "")
                )
        if args.profile:
            for target in targets:
                if not target.baseline:
                    run.profiles[target.name] = profile(wrk, servers[target.name], args, run.stamp)


def document(
    targets: list[Target],
    args: argparse.Namespace,
    run: Run,
    summaries: dict[str, Summary],
    machine: dict[str, Any],
) -> dict[str, Any]:
    """The JSON results: settings, every round, the summaries and the ratios."""
    base = summaries[next(t.name for t in targets if t.baseline)]
    return {
        "machine": machine,
        "settings": {
            "gunicorn": run.options,
            "wrk": {
                "threads": args.wrk_threads,
                "connections": args.connections,
                "duration_s": args.duration,
                "timeout_s": args.timeout,
                "warmup_s": args.warmup,
                "script": str(LUA_SCRIPT.relative_to(ROOT)),
            },
            "rounds": args.rounds,
        },
        "targets": [asdict(t) for t in targets],
        "warmup_rules": run.warmup_rules,
        "rounds": [asdict(r) for r in run.rounds],
        "summary": {name: asdict(s) for name, s in summaries.items()},
        "ratios": {
            f"{t.name}/{base.target}": {
                "requests_per_s": quotient(summaries[t.name].requests_per_s, base.requests_per_s),
                "p50": quotient(summaries[t.name].p50_ms, base.p50_ms),
                "p99": quotient(summaries[t.name].p99_ms, base.p99_ms),
            }
            for t in targets
            if not t.baseline
        },
        "profiles": run.profiles,
        "clean": not any(r.problems for r in run.rounds),
    }


def print_profiles(profiles: dict[str, Any]) -> None:
    for name, found in profiles.items():
        if found:
            print(
                f"\n{name}: py-spy, share of {found['samples']} working samples "
                f"(idle and {found['waiting_samples_left_out']} waiting ones left out)"
            )
            for key, title in PROFILE_VIEWS:
                print()
                print(table([[title, "share"], *([f, f"{v:.1%}"] for f, v in found[key])]))
            print(f"\nstacks (speedscope.app, flamegraph.pl): {found['stacks']}")


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    wrk = shutil.which("wrk")
    if wrk is None:
        print(f"error: wrk is not on PATH; {WRK_HINT}", file=sys.stderr)
        return 2
    targets = build_targets(args)
    if sum(t.baseline for t in targets) != 1:
        raise AssertionError("build_targets must name exactly one baseline")
    for target in targets:
        if target.single_process and args.workers > 1:
            print(
                f"error: {target.name} keeps its state in the worker (memory store); "
                "it serves one worker only, so --workers must be 1",
                file=sys.stderr,
            )
            return 2
    args.results_dir.mkdir(parents=True, exist_ok=True)
    started = datetime.now(UTC)
    machine: dict[str, Any] = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "loadavg_before": os.getloadavg(),
    }
    run = Run(stamp=started.strftime("%Y%m%dT%H%M%SZ"), options=gunicorn_options(args))
    try:
        measure(wrk, targets, args, run)
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    machine["loadavg_after"] = os.getloadavg()
    summaries = {
        t.name: summarize(t.name, [r for r in run.rounds if r.target == t.name]) for t in targets
    }
    print()
    print(report(targets, summaries, run.rounds))
    print_profiles(run.profiles)
    results = {
        "started_at": started.isoformat(),
        "finished_at": datetime.now(UTC).isoformat(),
        **document(targets, args, run, summaries, machine),
    }
    path = args.results_dir / f"decisions-{run.stamp}.json"
    path.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nresults: {path}")
    if not results["clean"]:
        print(
            "WARNING: some requests failed (non-200, socket errors or duplicates); "
            "these numbers do not measure decisions",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
