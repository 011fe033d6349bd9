"""Throughput and latency of POST /v1/decisions: the service against a bare Flask app.

The service runs with the memory store, with the Redis store (on a redis-server
of the benchmark's own), or both (--store). Each service target is compared to
a bare Flask app under exactly the same gunicorn settings, on loopback ports,
all loaded by wrk with bench/post_event.lua (realistic comments, a new event id
per request). Rounds alternate between the targets (A B C D A B C D ...) so that
a noisy neighbour slows every side alike; the report is the median of the
rounds, and the ratio of each service target's median requests/s to its
baseline's. For the Redis store it also counts, from the redis-server's INFO,
the round trips and the commands run inside scripts per decision.

    .venv/bin/python bench/decisions.py --duration 5

The results are also written to bench/results/decisions-<timestamp>.json.
Exit status: 0 measured cleanly, 1 the run measured errors (non-200 answers,
socket errors, duplicates, answers taken without state), 2 the benchmark could
not run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import redis
from bare_app import REDIS_URL_VARIABLE

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
RESULTS_DIR = BENCH_DIR / "results"
LUA_SCRIPT = BENCH_DIR / "post_event.lua"
RESULT_MARKER = "BENCH_RESULT "
MIN_ROUNDS = 3
WRK_HINT = (
    "install it with `apt-get install -y wrk` on Debian or Ubuntu, `brew install wrk` on macOS"
)
REDIS_HINT = (
    "install it with `apt-get install -y redis-server` on Debian or Ubuntu, "
    "`brew install redis` on macOS"
)
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
SERVICE_APP = "policy_service.app:create_app()"
# --worker-class names of our own: `service` is the class `policy-service serve`
# runs (gunicorn's sync worker that sends the Redis store's deferred records
# when it is idle and closes an answered connection at once,
# policy_service/gunicorn_worker.py); the bare app has no idle work, but its
# connections close at once under it too, not under `sync`.
WORKER_CLASSES = {"service": "policy_service.gunicorn_worker.SyncWorker"}
SINGLE_THREADED = ("sync", "service")
# Worker processes of the redis target and of its baseline: measured on a
# 2-core machine that also runs wrk and redis-server, see bench/README.md.
REDIS_WORKERS = 2
# The developer's own Redis usually listens here; the benchmark never touches it.
FORBIDDEN_REDIS_PORT = 6379
# A client runs a script with one of these; the commands the script calls are
# counted by the server too, under their own names.
SCRIPT_COMMANDS = frozenset({"eval", "evalsha", "eval_ro", "evalsha_ro", "fcall", "fcall_ro"})
# Goals for the Redis store (reported, not enforced).
GOAL_ROUND_TRIPS = 2.0
GOAL_RATIO = 0.5
# CPU that other processes took during a round, in cores, above which the
# report warns that the machine was shared: then the numbers say little.
OTHER_LOAD_WARNING = 0.2


class BenchError(Exception):
    """The benchmark cannot go on; the message says why."""


@dataclass(frozen=True)
class Target:
    """One server configuration to measure."""

    name: str
    app: str  # gunicorn's APP_MODULE
    env: dict[str, str] = field(default_factory=dict)
    pythonpath: tuple[str, ...] = ()
    workers: int = 1
    baseline: bool = False
    # The baseline this target is compared to: a baseline with the same workers.
    compare_to: str | None = None
    # State kept inside the worker (the memory store): more workers would each
    # keep their own and decide differently, so only one worker is allowed.
    single_process: bool = False
    # Uses the benchmark's redis-server, whose statistics are taken every round.
    redis: bool = False
    # gunicorn's worker class and threads per worker (a baseline runs alike).
    worker_class: str = "service"
    threads: int = 1
    # One part of the redis target's cost measured on its own (--parts): compared
    # with the baseline, but not a deployment, and no goal applies to it.
    part: bool = False


def class_suffix(worker_class: str, threads: int, several: bool) -> str:
    """The part of a target's name that says its worker class, when a run compares several."""
    if not several:
        return ""
    return f"-{worker_class}" + (f"{threads}" if worker_class == "gthread" else "")


def bare_target(
    workers: int, worker_class: str = "service", threads: int = 1, suffix: str = ""
) -> Target:
    return Target(
        name=f"bare-{workers}w{suffix}",
        app="bare_app:create_app()",
        pythonpath=(str(BENCH_DIR),),
        workers=workers,
        baseline=True,
        worker_class=worker_class,
        threads=threads,
    )


TOKEN = "bench-token-" + "0123456789abcdef"


def tokens_file() -> Path:
    """A tokens file with the benchmark's one token (decide scope), in a temporary place."""
    path = Path(tempfile.gettempdir()) / "policy-bench-tokens.yaml"
    # Written aside and renamed: another benchmark may be starting its servers
    # on this file right now, and must never read it half written.
    with tempfile.NamedTemporaryFile("w", dir=path.parent, suffix=".yaml", delete=False) as new:
        new.write(f"tokens:\n  - name: bench\n    token: {TOKEN}\n    scopes: [decide]\n")
    os.replace(new.name, path)
    return path


def service_env() -> dict[str, str]:
    """The settings of every service target (the store's URL aside)."""
    # The service runs as in production: with access control, so each request
    # pays the token check (wrk sends the same header to the bare app).
    # Rate limits far above what the load sends: their mechanism is paid (the
    # token's permit leases, the account's counter in the observe step) but
    # nothing is refused, though wrk sends thousands of comments a second to
    # a few accounts.
    return {
        "POLICY_RULES_DIR": str(ROOT / "rules"),
        "POLICY_TOKENS_FILE": str(tokens_file()),
        "POLICY_RATE_LIMIT_TOKEN": str(10**9),
        "POLICY_RATE_LIMIT_ACCOUNT": str(10**9),
    }


def build_targets(args: argparse.Namespace, redis_url: str | None) -> list[Target]:
    """What is measured, in the order of every round.

    Every service target names its baseline: the bare app under the same
    gunicorn settings (so with the same number of workers). Another service
    configuration (other rules, another store) is one more entry here.
    """
    rules = service_env()
    targets: list[Target] = []
    classes = args.worker_classes
    for worker_class in classes:
        # The sync worker ignores --threads only when it is 1: above, gunicorn
        # would turn it into gthread.
        threads = 1 if worker_class in SINGLE_THREADED else args.threads
        suffix = class_suffix(worker_class, threads, len(classes) > 1)
        alike = {"worker_class": worker_class, "threads": threads}
        if args.store in ("memory", "both"):
            targets += [
                Target(
                    name="memory" + suffix,
                    app=SERVICE_APP,
                    env={**rules, "POLICY_STATE_URL": "memory://"},
                    compare_to=f"bare-1w{suffix}",
                    single_process=True,
                    **alike,
                ),
                bare_target(1, worker_class, threads, suffix),
            ]
        if args.store in ("redis", "both"):
            if redis_url is None:
                raise AssertionError("the redis target needs the benchmark's redis-server")
            baseline = bare_target(args.redis_workers, worker_class, threads, suffix)
            service = Target(
                name="redis" + suffix,
                app=SERVICE_APP,
                env={**rules, "POLICY_STATE_URL": redis_url},
                workers=args.redis_workers,
                compare_to=baseline.name,
                redis=True,
                **alike,
            )
            targets.append(service)
            # The same service and workers with other settings, beside it in every round.
            targets += [
                replace(service, name=f"redis-{variant}{suffix}", env={**service.env, **settings})
                for variant, settings in args.redis_variants
            ]
            if args.parts:
                targets += part_targets(args.redis_workers, alike, suffix, rules, redis_url)
            if baseline not in targets:
                targets.append(baseline)
    return targets


def part_targets(
    workers: int, alike: dict[str, Any], suffix: str, rules: dict[str, str], redis_url: str
) -> list[Target]:
    """The two parts of the redis target's cost, each on the redis target's workers.

    `memory-Nw` is the service's own work without a shared store: the memory
    store under N workers, each with a state of its own (so not a deployment:
    its decisions see a part of the load each). `bare-rt-Nw` is the bare app
    plus one Redis round trip a request, the least a shared store costs.
    """
    compare_to = f"bare-{workers}w{suffix}"
    return [
        Target(
            name=f"memory-{workers}w{suffix}",
            app=SERVICE_APP,
            env={**rules, "POLICY_STATE_URL": "memory://"},
            workers=workers,
            compare_to=compare_to,
            part=True,
            **alike,
        ),
        Target(
            name=f"bare-rt-{workers}w{suffix}",
            app="bare_app:create_app_with_redis()",
            pythonpath=(str(BENCH_DIR),),
            env={REDIS_URL_VARIABLE: redis_url},
            workers=workers,
            compare_to=compare_to,
            redis=True,
            part=True,
            **alike,
        ),
    ]


def check_targets(targets: list[Target]) -> None:
    """A comparison is fair only between targets that run alike."""
    by_name = {t.name: t for t in targets}
    if len(by_name) != len(targets):
        raise AssertionError("target names must differ")
    for target in targets:
        if target.single_process and target.workers != 1:
            raise AssertionError(f"{target.name} keeps its state in the worker: one worker only")
        if target.baseline:
            continue
        base = by_name.get(target.compare_to or "")
        if base is None or not base.baseline or base.workers != target.workers:
            raise AssertionError(f"{target.name} needs a baseline with {target.workers} workers")
        if (base.worker_class, base.threads) != (target.worker_class, target.threads):
            raise AssertionError(f"{target.name} needs a baseline with its worker class")


@dataclass
class RedisCounts:
    """What the redis-server did during one round: INFO after CONFIG RESETSTAT."""

    # Replies written to clients (INFO stats: total_writes_processed): one per
    # round trip, since a client waits for the answer before it sends again.
    round_trips: int
    # EVALSHA, EVAL, FCALL and their _ro forms: the client's script runs.
    script_runs: int
    # INFO commandstats: calls by command, sent by clients or called by scripts.
    commands: dict[str, int]
    cpu_seconds: float | None  # the redis-server's CPU time

    @property
    def script_commands(self) -> int:
        """Commands called inside scripts.

        Every command a client sends without a pipeline is one round trip, so
        the calls the round trips do not account for ran inside scripts. A
        command sent in front of another in the same write is counted here
        too: under the `service` worker class that is the deferred record, one
        a decision (docs/state.md, "Deferred records").
        """
        return sum(self.commands.values()) - self.round_trips


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
    # 200 answers that are neither duplicates nor taken without state.
    decisions: int = 0
    # Answers marked "degraded": the store failed, the rules decided without state.
    degraded: int = 0
    rules: dict[str, int] = field(default_factory=dict)
    redis: RedisCounts | None = None
    # CPU time of everything else on the machine during the round (other
    # processes, the hypervisor's steal), per second: 1.0 is one core.
    other_cpu_cores: float | None = None

    @property
    def problems(self) -> int:
        return (
            sum(self.non_200.values())
            + sum(self.socket_errors.values())
            + self.duplicates
            + self.degraded
        )


@dataclass
class RedisSummary:
    """Per decision, over all measured rounds of a redis target."""

    decisions: int
    round_trips_per_decision: float
    script_runs_per_decision: float
    script_commands_per_decision: float
    redis_cpu_us_per_decision: float | None
    commands_per_decision: dict[str, float]


@dataclass
class Summary:
    target: str
    workers: int
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
    degraded: int
    other_cpu_cores_max: float | None
    redis: RedisSummary | None = None


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="bench/decisions.py",
        description=(
            "Measure POST /v1/decisions of the policy service (the rules in rules/, the "
            "memory store, the Redis store or both) against a bare Flask app "
            "(bench/bare_app.py) under identical gunicorn settings, with wrk and "
            "bench/post_event.lua. Needs wrk on PATH: " + WRK_HINT + "; the Redis store "
            "needs redis-server on PATH (the benchmark starts its own on a free loopback "
            "port): " + REDIS_HINT + "."
        ),
        epilog=(
            "Client defaults (-t1 -c8) suit a 2-core machine: wrk's one thread uses one core "
            "and leaves the other to the gunicorn worker(s), and 8 connections keep the "
            "workers busy without measuring mostly queueing. With more cores, raise "
            "--redis-workers, --wrk-threads and --connections together (the memory store "
            "serves one worker only). --threads above 1 turns gunicorn's sync worker into "
            "gthread, which keeps connections alive; the sync worker closes every connection "
            "after one answer. The ratio service/bare of the median requests/s is the share "
            "of Flask+gunicorn's throughput that is left with the service's work on top "
            "(1.0: it costs nothing). For the Redis store, round trips and commands run "
            "inside scripts per decision are read from the redis-server's INFO."
        ),
    )
    parser.add_argument(
        "--store",
        choices=("memory", "redis", "both"),
        default="both",
        help="the service's state store: targets `memory` (memory://, one worker) and/or "
        "`redis` (redis://, --redis-workers workers), each with its own bare baseline [both]",
    )
    gunicorn = parser.add_argument_group(
        "gunicorn (the same for a service target and its baseline)"
    )
    gunicorn.add_argument(
        "--redis-workers",
        type=int,
        default=REDIS_WORKERS,
        help=f"worker processes of the redis target and of its baseline [{REDIS_WORKERS}]; "
        "the memory target and its baseline always run one",
    )
    gunicorn.add_argument(
        "--worker-class",
        dest="worker_classes",
        type=lambda text: [c.strip() for c in text.split(",") if c.strip()],
        default=["service"],
        help="gunicorn worker class, or several separated by commas (service,sync,gthread): "
        "each class gets its own service targets and baselines, all interleaved in every "
        "round; `service` is the class `serve` runs, gunicorn's sync worker that sends the "
        "Redis store's deferred records when it is idle [service]",
    )
    gunicorn.add_argument(
        "--threads",
        type=int,
        default=1,
        help="threads per worker of the classes other than service and sync (which keep 1) [1]",
    )
    gunicorn.add_argument(
        "--access-log",
        action="store_true",
        help="format an access log line per request (written to /dev/null), as gunicorn "
        "does with an access log; `policy-service serve` keeps it off [off]",
    )
    load = parser.add_argument_group("load (wrk)")
    add_load_options(load, 8, "open connections [8]")
    load.add_argument("--wrk-threads", type=int, default=1, help="wrk client threads [1]")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="after the rounds, record each non-baseline target under load with py-spy "
        "(one more round, not counted) and print its hottest functions",
    )
    parser.add_argument(
        "--parts",
        action="store_true",
        help="with the redis target, measure the two parts of its cost apart, on its "
        "workers: `memory-Nw` (the service with the memory store, one state per worker: "
        "its own work, not a deployment) and `bare-rt-Nw` (the bare app plus one Redis "
        "round trip a request); the report adds what they leave for the goal",
    )
    parser.add_argument(
        "--redis-variant",
        dest="redis_variants",
        action="append",
        type=redis_variant,
        default=[],
        metavar="NAME:POLICY_X=V[,POLICY_Y=W]",
        help="one more redis target, `redis-NAME`, with these settings on top of the redis "
        "target's, against the same baseline in the same rounds (e.g. "
        "`block:POLICY_REDIS_REPLY_POLLS=0`); may be given several times",
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
    for name in ("redis_workers", "threads", "duration", "connections", "wrk_threads", "timeout"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.warmup < 0:
        parser.error("--warmup must be 0 or more")
    if args.connections < args.wrk_threads:
        parser.error("--connections must be at least --wrk-threads (wrk needs one per thread)")
    if args.redis_variants and args.store == "memory":
        parser.error("--redis-variant adds redis targets: use --store redis or both")
    if len({name for name, _ in args.redis_variants}) != len(args.redis_variants):
        parser.error("--redis-variant names must differ")
    if args.parts and args.store == "memory":
        parser.error("--parts measures the parts of the redis target: use --store redis or both")
    if not args.worker_classes or len(set(args.worker_classes)) != len(args.worker_classes):
        parser.error("--worker-class needs one or more different classes")
    return args


def redis_variant(text: str) -> tuple[str, dict[str, str]]:
    """`NAME:POLICY_X=V,...` as the variant's name and its settings."""
    name, colon, assignments = text.partition(":")
    if not colon or not name.replace("-", "").isalnum():
        raise argparse.ArgumentTypeError(
            f"{text!r}: a variant is NAME:POLICY_X=V[,...], NAME of letters, digits and -"
        )
    settings: dict[str, str] = {}
    for assignment in assignments.split(","):
        key, equals, value = assignment.partition("=")
        if not equals or not key.startswith("POLICY_") or key == "POLICY_STATE_URL":
            raise argparse.ArgumentTypeError(
                f"{assignment!r}: each setting is POLICY_NAME=VALUE (the store's URL is the "
                "redis target's)"
            )
        settings[key] = value
    # A misspelt name would be ignored by the service: the "variant" would run
    # the redis target's settings and its difference would be noise.
    from policy_service.config import Settings

    unknown = Settings.unknown_names(settings)
    if unknown:
        raise argparse.ArgumentTypeError(f"not a setting of the service: {', '.join(unknown)}")
    return name, settings


def add_load_options(
    group: argparse._ArgumentGroup, connections: int, connections_help: str
) -> None:
    """The options of the rounds and of wrk that every benchmark of the service takes."""
    group.add_argument("--duration", type=int, default=10, help="seconds per round [10]")
    group.add_argument(
        "--rounds", type=int, default=3, help=f"rounds per target, at least {MIN_ROUNDS} [3]"
    )
    group.add_argument(
        "--warmup",
        type=int,
        default=2,
        help="seconds of unmeasured load per target first; also checks the answers [2]",
    )
    group.add_argument("--connections", type=int, default=connections, help=connections_help)
    group.add_argument("--timeout", type=int, default=5, help="wrk request timeout, seconds [5]")


def gunicorn_options(args: argparse.Namespace, target: Target) -> list[str]:
    """The options a target and its baseline share, so that only the application differs."""
    options = [
        "--workers",
        str(target.workers),
        "--worker-class",
        WORKER_CLASSES.get(target.worker_class, target.worker_class),
        "--threads",
        str(target.threads),
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
                self.url + "/v1/decisions",
                body,
                {"Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}"},
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


class RedisServer:
    """A redis-server of the benchmark's own: loopback, a free port, no persistence.

    Never the developer's Redis (port 6379): the benchmark resets its
    statistics and fills it with state.
    """

    def __init__(self, log_path: Path, wrapper: Sequence[str] = ()) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise BenchError(f"redis-server is not on PATH; {REDIS_HINT}")
        self.binary = binary
        self.log_path = log_path
        # A command that runs the server (valgrind, say): its arguments first.
        self.wrapper = list(wrapper)
        self.port = 0
        self._dir = Path(tempfile.mkdtemp(prefix="policy-bench-redis-"))
        self._process: subprocess.Popen[bytes] | None = None
        self._client: redis.Redis | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def pid(self) -> int:
        assert self._process is not None
        return self._process.pid

    def start(self, timeout: float = 10.0) -> None:
        # The port is found free, then redis-server binds it: another process
        # may take it in between, so a failed start is tried on another port.
        for _ in range(3):
            self.port = free_port()
            self._process = subprocess.Popen(
                [
                    *self.wrapper,
                    self.binary,
                    "--port",
                    str(self.port),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--dir",
                    str(self._dir),
                    "--logfile",
                    str(self.log_path),
                ],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            self._client = redis.Redis(
                host="127.0.0.1", port=self.port, socket_timeout=5, decode_responses=True
            )
            deadline = time.monotonic() + timeout
            while self._process.poll() is None and time.monotonic() < deadline:
                try:
                    self._client.ping()
                    return
                except redis.ConnectionError:
                    time.sleep(0.05)
            self.stop()
        raise BenchError(f"redis-server did not start; see {self.log_path}")

    def _redis(self) -> redis.Redis:
        assert self._client is not None and self._process is not None
        if self._process.poll() is not None:
            raise BenchError(
                f"redis-server exited with status {self._process.returncode}; see {self.log_path}"
            )
        return self._client

    def reset_stats(self) -> None:
        """Zero INFO's counters (CONFIG RESETSTAT) before a measured round."""
        self._redis().config_resetstat()

    def counts(self, cpu_seconds: float | None) -> RedisCounts:
        """What the server did since reset_stats, less the benchmark's own CONFIG RESETSTAT."""
        return redis_counts(self._redis(), cpu_seconds)

    def describe(self) -> dict[str, Any]:
        """Version, memory and keys, for the JSON results."""
        info = self._redis().info("server", "memory", "keyspace")
        return {
            "version": info.get("redis_version"),
            "used_memory_human": info.get("used_memory_human"),
            "keys": info.get("db0", {}).get("keys", 0),
        }

    def stop(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=15 if not self.wrapper else 120)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self._dir, ignore_errors=True)


def redis_counts(client: redis.Redis, cpu_seconds: float | None) -> RedisCounts:
    """What one redis-server did since CONFIG RESETSTAT, less that command itself."""
    info = client.info("stats", "commandstats")
    commands = {
        key.removeprefix("cmdstat_"): int(value["calls"])
        for key, value in info.items()
        if key.startswith("cmdstat_")
    }
    # CONFIG RESETSTAT is counted, and its reply written, after it reset
    # the counters; INFO is counted only after it wrote its own output.
    own = commands.pop("config|resetstat", 0)
    return RedisCounts(
        round_trips=int(info["total_writes_processed"]) - own,
        script_runs=sum(n for name, n in commands.items() if name in SCRIPT_COMMANDS),
        commands=dict(sorted(commands.items(), key=lambda item: (-item[1], item[0]))),
        cpu_seconds=cpu_seconds,
    )


def free_port() -> int:
    """A loopback port nobody listens on right now, never Redis's default."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", 0))
            port: int = sock.getsockname()[1]
        if port != FORBIDDEN_REDIS_PORT:
            return port


@contextmanager
def redis_server(needed: bool, log_path: Path) -> Iterator[RedisServer | None]:
    if not needed:
        yield None
        return
    server = RedisServer(log_path)
    try:
        server.start()
        yield server
    finally:
        server.close()


@contextmanager
def running(
    targets: list[Target], args: argparse.Namespace, stamp: str
) -> Iterator[dict[str, Server]]:
    servers: dict[str, Server] = {}
    try:
        for target in targets:
            log_path = args.results_dir / f"decisions-{stamp}-{target.name}.log"
            server = Server(target, gunicorn_options(args, target), log_path)
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


def machine_busy_seconds() -> float | None:
    """CPU time the whole machine spent busy so far (all cores; steal counts as busy)."""
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()
    except OSError:
        return None
    # user nice system idle iowait irq softirq steal (guest time is within user)
    times = [int(n) for n in fields[1:9]]
    return (sum(times) - times[3] - times[4]) / CLOCK_TICKS


def difference(before: float | None, after: float | None) -> float | None:
    return None if before is None or after is None else after - before


def own_and_children_seconds() -> float:
    """CPU time of this process and its waited-for children (wrk)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def run_wrk(
    wrk: str,
    server: Server,
    args: argparse.Namespace,
    seconds: int,
    tag: str,
    tally: bool,
    accounts: int = 0,
) -> tuple[dict[str, Any], float | None]:
    """wrk's result line, and the CPU seconds the workers spent meanwhile.

    `accounts`: spread the comments over that many accounts (BENCH_ACCOUNTS in
    post_event.lua); 0 keeps the script's three.
    """
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
    done = subprocess.run(
        argv,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "BENCH_TOKEN": TOKEN, "BENCH_ACCOUNTS": str(accounts)},
    )
    cpu_after = cpu_seconds(pids) if server.worker_pids() == pids else None
    if done.returncode != 0:
        raise BenchError(f"wrk failed ({done.returncode}): {done.stderr or done.stdout}")
    for line in done.stdout.splitlines():
        if line.startswith(RESULT_MARKER):
            result: dict[str, Any] = json.loads(line[len(RESULT_MARKER) :])
            cpu = None if cpu_before is None or cpu_after is None else cpu_after - cpu_before
            return result, cpu
    raise BenchError(f"wrk printed no {RESULT_MARKER.strip()} line:\n{done.stdout}{done.stderr}")


def to_round(
    target: str,
    number: int,
    raw: dict[str, Any],
    cpu: float | None,
    redis_counts: RedisCounts | None = None,
) -> Round:
    requests = int(raw["requests"])
    seconds = raw["duration_us"] / 1e6
    latency = raw["latency_us"]
    duplicates, degraded = int(raw["duplicates"]), int(raw["degraded"])
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
        duplicates=duplicates,
        error_sample=raw["error_sample"],
        worker_cpu_us_per_request=(
            round(cpu * 1e6 / requests, 1) if cpu is not None and requests else None
        ),
        decisions=requests - sum(raw["non_200"].values()) - duplicates - degraded,
        degraded=degraded,
        rules=raw["rules"],
        redis=redis_counts,
    )


def per_decision(value: float, decisions: int, digits: int = 2) -> float:
    return round(value / decisions, digits) if decisions else 0.0


def summarize_redis(rounds: list[Round]) -> RedisSummary | None:
    """Totals over the rounds, per decision wrk saw answered."""
    counted = [(r, r.redis) for r in rounds if r.redis is not None]
    if not counted:
        return None
    decisions = sum(r.decisions for r, _ in counted)
    commands: Counter[str] = Counter()
    for _, c in counted:
        commands.update(c.commands)
    cpu = [c.cpu_seconds for _, c in counted]
    return RedisSummary(
        decisions=decisions,
        round_trips_per_decision=per_decision(sum(c.round_trips for _, c in counted), decisions),
        script_runs_per_decision=per_decision(sum(c.script_runs for _, c in counted), decisions),
        script_commands_per_decision=per_decision(
            sum(c.script_commands for _, c in counted), decisions
        ),
        redis_cpu_us_per_decision=(
            per_decision(sum(c for c in cpu if c is not None) * 1e6, decisions, 1)
            if all(c is not None for c in cpu)
            else None
        ),
        commands_per_decision={
            name: per_decision(n, decisions, 3) for name, n in commands.most_common()
        },
    )


def summarize(target: Target, rounds: list[Round]) -> Summary:
    rps = [r.requests_per_s for r in rounds]
    cpu = [r.worker_cpu_us_per_request for r in rounds]
    non_200: Counter[str] = Counter()
    errors: Counter[str] = Counter()
    for r in rounds:
        non_200.update(r.non_200)
        errors.update(r.socket_errors)
    return Summary(
        target=target.name,
        workers=target.workers,
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
        degraded=sum(r.degraded for r in rounds),
        other_cpu_cores_max=max(
            (r.other_cpu_cores for r in rounds if r.other_cpu_cores is not None), default=None
        ),
        redis=summarize_redis(rounds),
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
    if raw["degraded"]:
        raise BenchError(
            f"{target.name} answered {raw['degraded']} times without state (degraded): "
            "the store fails; see the server log"
        )


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
    run_wrk(wrk, server, args, args.duration + 1, f"{stamp}-{server.target.name}-p", tally=False)
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


def per_round_table(names: list[str], rounds: list[Round]) -> str:
    """Every round of every target, to show drift: the service's store grows from round to round."""
    per_round = [
        ["round", *(f"{name} {column}" for name in names for column in ROUND_COLUMNS)]
        + ["other load max"]
    ]
    for number in sorted({r.round for r in rounds}):
        by_target = {r.target: r for r in rounds if r.round == number}
        cells = [str(number)]
        for name in names:
            r = by_target[name]
            cells += [f"{r.requests_per_s:.0f}", f"{r.p50_ms:.2f}", f"{r.p99_ms:.2f}"]
        others = [r.other_cpu_cores for r in by_target.values() if r.other_cpu_cores is not None]
        cells.append(f"{max(others):.2f}" if others else "-")
        per_round.append(cells)
    return table(per_round)


def counts(values: dict[str, int]) -> str:
    return ", ".join(f"{k}: {v}" for k, v in sorted(values.items())) or "0"


def report(targets: list[Target], summaries: dict[str, Summary], rounds: list[Round]) -> str:
    rows = [
        [
            "target",
            "workers",
            "req/s (median)",
            "req/s min-max",
            "p50 ms",
            "p99 ms",
            "worker CPU us/req",
            "non-200",
            "socket errors",
            "duplicates",
            "degraded",
            "other load max",
        ]
    ]
    for target in targets:
        s = summaries[target.name]
        rows.append(
            [
                target.name
                + (" (baseline)" if target.baseline else " (part)" if target.part else ""),
                str(s.workers),
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
                str(s.degraded),
                "-" if s.other_cpu_cores_max is None else f"{s.other_cpu_cores_max:.2f}",
            ]
        )
    lines = [table(rows), "", per_round_table([t.name for t in targets], rounds), ""]
    redis_rows = [
        [
            "per decision",
            "decisions",
            "round trips",
            "script runs",
            "commands in scripts",
            "redis-server CPU us",
        ]
    ]
    commands: list[str] = []
    for target in targets:
        found = summaries[target.name].redis
        if found is None:
            continue
        redis_rows.append(
            [
                target.name,
                str(found.decisions),
                f"{found.round_trips_per_decision:.2f}",
                f"{found.script_runs_per_decision:.2f}",
                f"{found.script_commands_per_decision:.2f}",
                "-"
                if found.redis_cpu_us_per_decision is None
                else f"{found.redis_cpu_us_per_decision:.0f}",
            ]
        )
        by_name = ", ".join(f"{k} {v:.2f}" for k, v in found.commands_per_decision.items())
        commands.append(f"{target.name}: commands per decision (clients and scripts): {by_name}")
    if len(redis_rows) > 1:
        lines += [table(redis_rows), *commands, ""]
    for target in targets:
        if target.baseline:
            continue
        s, base = summaries[target.name], summaries[target.compare_to or ""]
        lines.append(
            f"ratio {target.name}/{base.target}: req/s {ratio(s.requests_per_s, base.requests_per_s)}"
            f"  (p50 latency x{ratio(s.p50_ms, base.p50_ms)},"
            f" p99 latency x{ratio(s.p99_ms, base.p99_ms)})"
        )
    for target in targets:
        s = summaries[target.name]
        if s.redis is None or target.compare_to is None or target.part:
            continue
        base = summaries[target.compare_to]
        trips = s.redis.round_trips_per_decision
        share = s.requests_per_s / base.requests_per_s if base.requests_per_s else 0.0
        lines.append(
            f"goals for {target.name}: round trips per decision {trips:.2f} "
            f"(at most {GOAL_ROUND_TRIPS:g}: {met(trips <= GOAL_ROUND_TRIPS)}), "
            f"req/s ratio {share:.2f} (at least {GOAL_RATIO:g}: {met(share >= GOAL_RATIO)})"
        )
    lines += parts_report(targets, summaries)
    busiest = max((r.other_cpu_cores or 0.0 for r in rounds), default=0.0)
    if busiest > OTHER_LOAD_WARNING:
        lines.append(
            f"WARNING: other processes took up to {busiest:.2f} cores during a round "
            "(column `other load max`): the machine was shared, these numbers are disturbed"
        )
    return "\n".join(lines)


def parts_report(targets: list[Target], summaries: dict[str, Summary]) -> list[str]:
    """What the parts (--parts) say of the redis target's ratio, in bare requests.

    A part's ratio r to the bare app means it costs 1/r - 1 bare requests on
    top of one. The service's own work S and one round trip R add up, so a
    service with both reaches at best 1/(1 + S + R) of the bare app; the goal
    needs S + R <= 1/goal - 1. Each redis target's own cost W is printed
    beside them: what W has beyond S + R is what the two cost together and
    neither alone (on a shared machine, the wait's cost to the service's code
    around it: bench/README.md, "A third host").
    """
    lines = []
    by_baseline: dict[str, list[Target]] = {}
    for target in targets:
        if target.part:
            by_baseline.setdefault(target.compare_to or "", []).append(target)
    for baseline, parts in by_baseline.items():
        service, round_trip = parts  # in part_targets' order
        base = summaries[baseline].requests_per_s
        own = summaries[service.name].requests_per_s
        trip = summaries[round_trip.name].requests_per_s
        if not (base and own and trip):
            continue
        s_cost, r_cost = base / own - 1, base / trip - 1
        lines.append(
            f"parts, in bare requests: the service's own work {s_cost:.2f} ({service.name}), "
            f"one round trip {r_cost:.2f} ({round_trip.name}); together "
            f"{s_cost + r_cost:.2f}, so at best {1 / (1 + s_cost + r_cost):.2f} of {baseline} "
            f"(the goal {GOAL_RATIO:g} allows {1 / GOAL_RATIO - 1:.2f})"
        )
        for target in targets:
            if not target.redis or target.part or target.compare_to != baseline:
                continue
            summary = summaries.get(target.name)
            if summary is not None and summary.requests_per_s:
                w_cost = base / summary.requests_per_s - 1
                lines.append(
                    f"  {target.name} itself: {w_cost:.2f} bare requests, "
                    f"{w_cost - s_cost - r_cost:+.2f} beyond its parts"
                )
    return lines


def met(ok: bool) -> str:
    return "met" if ok else "MISSED"


def ratio(value: float, base: float) -> str:
    return f"{value / base:.2f}" if base else "n/a"


def quotient(value: float, base: float) -> float | None:
    return round(value / base, 3) if base else None


@dataclass
class Run:
    """Everything one invocation measured."""

    stamp: str
    rounds: list[Round] = field(default_factory=list)
    warmup_rules: dict[str, dict[str, int]] = field(default_factory=dict)
    profiles: dict[str, Any] = field(default_factory=dict)
    gunicorn: dict[str, list[str]] = field(default_factory=dict)
    redis: dict[str, Any] = field(default_factory=dict)


def measure(
    wrk: str,
    targets: list[Target],
    args: argparse.Namespace,
    run: Run,
    store: RedisServer | None,
) -> None:
    with running(targets, args, run.stamp) as servers:
        for target in targets:
            server = servers[target.name]
            run.gunicorn[target.name] = server.argv[1:]
            print(f"{target.name}: {' '.join(server.argv[1:])}  ({server.url})")
            if args.warmup:
                # Tags name the target: two targets on the same redis-server must
                # not send each other's event ids (they would be duplicates).
                tag = f"{run.stamp}-{target.name}-w"
                raw, _ = run_wrk(wrk, server, args, args.warmup, tag, tally=True)
                check_answers(target, raw)
                run.warmup_rules[target.name] = raw["rules"]
                if not target.baseline:
                    print(f"  warm-up answers by winning rule: {counts(raw['rules'])}")
        for number in range(1, args.rounds + 1):
            for target in targets:
                tag = f"{run.stamp}-{target.name}-{number}"
                counting = store if target.redis else None
                if counting is not None:
                    counting.reset_stats()
                redis_before = cpu_seconds([store.pid]) if store is not None else 0.0
                busy_before, ours_before = machine_busy_seconds(), own_and_children_seconds()
                raw, cpu = run_wrk(wrk, servers[target.name], args, args.duration, tag, False)
                busy = difference(busy_before, machine_busy_seconds())
                ours = own_and_children_seconds() - ours_before
                redis_after = cpu_seconds([store.pid]) if store is not None else 0.0
                redis_cpu = difference(redis_before, redis_after)
                found = counting.counts(redis_cpu) if counting is not None else None
                result = to_round(target.name, number, raw, cpu, found)
                # Everything but the benchmark, wrk, the workers and redis-server.
                if busy is not None and cpu is not None and redis_cpu is not None:
                    others = busy - ours - cpu - redis_cpu
                    result.other_cpu_cores = round(max(others, 0.0) / result.seconds, 2)
                run.rounds.append(result)
                trips = (
                    f", {per_decision(found.round_trips, result.decisions)} round trips/decision"
                    if found is not None
                    else ""
                )
                other = (
                    f", other load {result.other_cpu_cores:.2f} cores"
                    if result.other_cpu_cores is not None
                    else ""
                )
                print(
                    f"round {number} {target.name}: {result.requests_per_s:.0f} req/s, "
                    f"p50 {result.p50_ms:.2f} ms, p99 {result.p99_ms:.2f} ms"
                    + trips
                    + other
                    + (f", {result.problems} PROBLEMS" if result.problems else "")
                )
        if args.profile:
            for target in targets:
                if not target.baseline:
                    run.profiles[target.name] = profile(wrk, servers[target.name], args, run.stamp)
        if store is not None:
            run.redis = store.describe()


def document(
    targets: list[Target],
    args: argparse.Namespace,
    run: Run,
    summaries: dict[str, Summary],
    machine: dict[str, Any],
) -> dict[str, Any]:
    """The JSON results: settings, every round, the summaries and the ratios."""
    return {
        "machine": machine,
        "settings": {
            "store": args.store,
            "gunicorn": run.gunicorn,
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
        "redis_server": run.redis or None,
        "warmup_rules": run.warmup_rules,
        "rounds": [asdict(r) for r in run.rounds],
        "summary": {name: asdict(s) for name, s in summaries.items()},
        "ratios": {
            f"{t.name}/{t.compare_to}": {
                "requests_per_s": quotient(
                    summaries[t.name].requests_per_s, summaries[b].requests_per_s
                ),
                "p50": quotient(summaries[t.name].p50_ms, summaries[b].p50_ms),
                "p99": quotient(summaries[t.name].p99_ms, summaries[b].p99_ms),
            }
            for t in targets
            if (b := t.compare_to) is not None
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
    args.results_dir.mkdir(parents=True, exist_ok=True)
    started = datetime.now(UTC)
    machine: dict[str, Any] = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "loadavg_before": os.getloadavg(),
    }
    run = Run(stamp=started.strftime("%Y%m%dT%H%M%SZ"))
    redis_log = args.results_dir / f"decisions-{run.stamp}-redis-server.log"
    try:
        with redis_server(args.store in ("redis", "both"), redis_log) as store:
            targets = build_targets(args, store.url if store else None)
            check_targets(targets)
            measure(wrk, targets, args, run, store)
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    machine["loadavg_after"] = os.getloadavg()
    summaries = {
        t.name: summarize(t, [r for r in run.rounds if r.target == t.name]) for t in targets
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
            "WARNING: some requests failed (non-200, socket errors, duplicates or answers "
            "without state); these numbers do not measure decisions",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
