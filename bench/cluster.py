"""POST /v1/decisions on a Redis Cluster with one and with three app instances; memory per account.

Three targets, loaded in interleaved rounds (redis-1i cluster-1i cluster-3i
redis-1i ...) by wrk with bench/post_event.lua, its comments spread over
--accounts accounts:

- redis-1i: one gunicorn instance on a single redis-server (the reference);
- cluster-1i: the same instance on a Redis Cluster of three primaries;
- cluster-3i: three such instances on that cluster, each loaded by its own wrk
  with a third of the connections, as a load balancer spreads them.

The report gives medians over the rounds and the ratios cluster-1i/redis-1i
(what the cluster client costs) and cluster-3i/cluster-1i (what more instances
gain on this machine), with round trips per decision from the nodes' INFO.
Then the cluster is emptied and --memory-accounts accounts get
--memory-events comments each (through the service in this process, over the
24 hours before now); MEMORY USAGE of every key and INFO memory give the keys
and bytes per account.

    .venv/bin/python bench/cluster.py --duration 5

Results go to bench/results/cluster-<timestamp>.json. Exit status: 0 measured
cleanly, 1 the run measured errors (non-200, socket errors, duplicates,
degraded answers), 2 the benchmark could not run.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from collections import Counter
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import redis
from decisions import (
    MIN_ROUNDS,
    REDIS_HINT,
    REDIS_WORKERS,
    RESULTS_DIR,
    ROOT,
    SERVICE_APP,
    TOKEN,
    WRK_HINT,
    BenchError,
    RedisCounts,
    RedisServer,
    Round,
    Server,
    Summary,
    Target,
    add_load_options,
    check_answers,
    cpu_seconds,
    difference,
    gunicorn_options,
    machine_busy_seconds,
    own_and_children_seconds,
    per_round_table,
    probe_event,
    ratio,
    redis_counts,
    run_wrk,
    service_env,
    summarize,
    table,
    to_round,
    tokens_file,
)

sys.path.insert(0, str(ROOT))  # the test suite's cluster: tests/redis_cluster.py
from policy_service.state.redis_codec import DEFAULT_PREFIX  # noqa: E402
from tests.redis_cluster import LocalCluster  # noqa: E402

INSTANCES = 3
KINDS = ("meta", "mult", "tr", "esc", "an", "aa", "tn", "ev")


@dataclass(frozen=True)
class Setup:
    """A target and how many gunicorn instances serve it, each with target.workers workers."""

    target: Target
    instances: int
    nodes: str  # "single" or "cluster": which Redis its rounds are counted on

    @property
    def name(self) -> str:
        return self.target.name


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="bench/cluster.py",
        description=(
            "Measure POST /v1/decisions with one and three app instances on a Redis Cluster "
            "of three primaries (started on free loopback ports), against one instance on a "
            "single redis-server; then the keys and memory per account. Needs wrk ("
            + WRK_HINT
            + ") and redis-server with redis-cli ("
            + REDIS_HINT
            + ")."
        ),
        epilog=(
            "Every instance runs --workers sync workers, as `policy-service serve` does. "
            "The three instances of cluster-3i share this machine's cores, so their sum "
            "shows what the cluster and the instances cost, not the gain of three machines; "
            "compare worker CPU us/req and redis CPU us/decision between the targets."
        ),
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=REDIS_WORKERS,
        help=f"gunicorn workers per instance [{REDIS_WORKERS}]",
    )
    add_load_options(
        parser.add_argument_group("load (wrk)"),
        9,
        "open connections in all, split evenly between the instances of a target [9]",
    )
    parser.add_argument(
        "--accounts", type=int, default=200, help="accounts the load spreads over [200]"
    )
    parser.add_argument(
        "--memory-accounts", type=int, default=100, help="accounts of the memory measure [100]"
    )
    parser.add_argument(
        "--memory-events",
        type=int,
        default=120,
        help="comments per account of the memory measure, over 24 hours [120]",
    )
    args = parser.parse_args(argv)
    if args.rounds < MIN_ROUNDS:
        parser.error(f"--rounds must be at least {MIN_ROUNDS}: a median needs several rounds")
    if args.connections < INSTANCES:
        parser.error(f"--connections must be at least {INSTANCES}, one per instance")
    for name in ("workers", "duration", "timeout", "accounts", "memory_accounts"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.memory_events < 61:
        parser.error("--memory-events must be at least 61: an hour of minutes, then the day")
    # What decisions.py's functions read: one wrk thread, no access log (the
    # targets run sync workers, Target's default).
    args.wrk_threads, args.access_log = 1, False
    args.results_dir = RESULTS_DIR
    return args


def setups(args: argparse.Namespace, single_url: str, cluster_url: str) -> list[Setup]:
    env = service_env()

    def target(name: str, url: str) -> Target:
        return Target(name, SERVICE_APP, {**env, "POLICY_STATE_URL": url}, workers=args.workers)

    return [
        Setup(target("redis-1i", single_url), 1, "single"),
        Setup(target("cluster-1i", cluster_url), 1, "cluster"),
        Setup(target(f"cluster-{INSTANCES}i", cluster_url), INSTANCES, "cluster"),
    ]


class Nodes:
    """The redis-servers a target's rounds are counted on: statistics reset, read, summed."""

    def __init__(self, ports: list[int], pids: list[int]) -> None:
        self.clients = [redis.Redis(port=p, decode_responses=True, socket_timeout=5) for p in ports]
        self.pids = pids

    def reset(self) -> None:
        for client in self.clients:
            client.config_resetstat()

    def cpu(self) -> float | None:
        return cpu_seconds(self.pids)

    def counts(self, cpu: float | None) -> RedisCounts:
        every = [redis_counts(client, None) for client in self.clients]
        commands: Counter[str] = Counter()
        for one in every:
            commands.update(one.commands)
        return RedisCounts(
            round_trips=sum(one.round_trips for one in every),
            script_runs=sum(one.script_runs for one in every),
            commands=dict(commands.most_common()),
            cpu_seconds=cpu,
        )

    def close(self) -> None:
        for client in self.clients:
            client.close()


@contextmanager
def serving(
    setups_: list[Setup], args: argparse.Namespace, stamp: str
) -> Iterator[dict[str, list[Server]]]:
    servers: dict[str, list[Server]] = {}
    try:
        for setup in setups_:
            servers[setup.name] = []
            for k in range(setup.instances):
                log = args.results_dir / f"cluster-{stamp}-{setup.name}-{k}.log"
                server = Server(setup.target, gunicorn_options(args, setup.target), log)
                servers[setup.name].append(server)
                server.start()
        for group in servers.values():
            for server in group:
                server.wait_ready(probe_event(f"{stamp}-{server.port}"))
        yield servers
    finally:
        for group in servers.values():
            for server in group:
                server.stop()


def load(
    wrk: str, group: list[Server], args: argparse.Namespace, seconds: int, tag: str, tally: bool
) -> tuple[dict[str, Any], float | None]:
    """One wrk per instance at once, the connections split evenly; their results as one."""
    share = replace_namespace(args, connections=args.connections // len(group))
    with ThreadPoolExecutor(len(group)) as pool:
        done = list(
            pool.map(
                lambda s: run_wrk(wrk, s, share, seconds, f"{tag}-{s.port}", tally, args.accounts),
                group,
            )
        )
    raws = [raw for raw, _ in done]
    cpus = [cpu for _, cpu in done]
    return merged(raws), None if None in cpus else sum(c for c in cpus if c is not None)


def replace_namespace(args: argparse.Namespace, **changes: Any) -> argparse.Namespace:
    return argparse.Namespace(**{**vars(args), **changes})


def merged(raws: list[dict[str, Any]]) -> dict[str, Any]:
    """Several wrk results as one: counts added; p50 weighted by requests, p90/p99/max the worst."""
    if len(raws) == 1:
        return raws[0]
    requests = sum(int(r["requests"]) for r in raws)

    def added(key: str) -> dict[str, int]:
        total: Counter[str] = Counter()
        for r in raws:
            total.update(r[key])
        return dict(total)

    p50 = sum(r["latency_us"]["p50"] * int(r["requests"]) for r in raws) / max(requests, 1)
    worst = {q: max(r["latency_us"][q] for r in raws) for q in ("p90", "p99", "max")}
    return {
        "requests": requests,
        "duration_us": max(r["duration_us"] for r in raws),
        "latency_us": {"p50": p50, **worst},
        "socket_errors": added("socket_errors"),
        "non_200": added("non_200"),
        "duplicates": sum(r["duplicates"] for r in raws),
        "degraded": sum(r["degraded"] for r in raws),
        "rules": added("rules"),
        "error_sample": next((r["error_sample"] for r in raws if r["error_sample"]), None),
    }


def measure(
    wrk: str,
    args: argparse.Namespace,
    stamp: str,
    plan: list[Setup],
    nodes: dict[str, Nodes],
) -> list[Round]:
    rounds: list[Round] = []
    with serving(plan, args, stamp) as servers:
        for setup in plan:
            if args.warmup:
                raw, _ = load(wrk, servers[setup.name], args, args.warmup, f"{stamp}-w", True)
                check_answers(setup.target, raw)
        for number in range(1, args.rounds + 1):
            for setup in plan:
                counted = nodes[setup.nodes]
                counted.reset()
                redis_before, busy_before = counted.cpu(), machine_busy_seconds()
                ours_before = own_and_children_seconds()
                group = servers[setup.name]
                raw, cpu = load(wrk, group, args, args.duration, f"{stamp}-{number}", False)
                busy = difference(busy_before, machine_busy_seconds())
                ours = own_and_children_seconds() - ours_before
                redis_cpu = difference(redis_before, counted.cpu())
                result = to_round(setup.name, number, raw, cpu, counted.counts(redis_cpu))
                if busy is not None and cpu is not None and redis_cpu is not None:
                    others = busy - ours - cpu - redis_cpu
                    result.other_cpu_cores = round(max(others, 0.0) / result.seconds, 2)
                rounds.append(result)
                print(
                    f"round {number} {setup.name}: {result.requests_per_s:.0f} req/s, "
                    f"p50 {result.p50_ms:.2f} ms, p99 {result.p99_ms:.2f} ms"
                    + (f", {result.problems} PROBLEMS" if result.problems else "")
                )
    return rounds


def memory_events(account: str, count: int, now: datetime) -> Iterator[dict[str, Any]]:
    """`count` comments for one account: one a minute in the last hour, the rest over the 23 before."""
    tones = ("negative", "neutral", "positive", "hostile", "neutral")
    spread = (23 * 3600) // (count - 60)
    for k in range(count):
        back = timedelta(minutes=k) if k < 60 else timedelta(hours=1, seconds=(k - 60) * spread)
        yield {
            "event_id": f"m-{account}-{k}",
            "account": account,
            "occurred_at": (now - back).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "text": f"comment {k} about the last order",
            "lang": "en",
            "author": {"id": f"u{k % 40}", "reach": 50_000 if k % 25 == 0 else 300},
            "thread": {"id": f"p{k % 5}", "by_brand": True},
            "signals": {"tone": tones[k % len(tones)], "severity": 1 + k % 3},
        }


def measure_memory(cluster: LocalCluster, args: argparse.Namespace) -> dict[str, Any]:
    """Keys and bytes per account after --memory-events comments for each of --memory-accounts."""
    from policy_service.app import create_app

    cluster.flush()
    before = sum(used_memory(cluster, port) for port in cluster.primaries())
    settings = {"rules_dir": ROOT / "rules", "state_url": cluster.url, "reload_interval": 0}
    app = create_app({**settings, "tokens_file": str(tokens_file())})
    client = app.test_client()
    headers = {"Authorization": f"Bearer {TOKEN}"}
    now = datetime.now(UTC)
    try:
        for a in range(args.memory_accounts):
            for event in memory_events(f"size-{a:04d}", args.memory_events, now):
                response = client.post("/v1/decisions", json=event, headers=headers)
                answer = response.get_json()
                if response.status_code != 200 or answer["degraded"]:
                    raise BenchError(f"the memory measure got {response.status_code}: {answer}")
    finally:
        services = app.extensions["policy_service"]
        services.policies.current().close()
        services.store.close()
    after = sum(used_memory(cluster, port) for port in cluster.primaries())
    keys: Counter[str] = Counter()
    usage: Counter[str] = Counter()
    for port in cluster.primaries():
        node = cluster.node(port)
        try:
            for key in node.scan_iter(count=1000):
                if key.startswith(f"{DEFAULT_PREFIX}{{permits:"):
                    continue  # a caller's rate-limit permits, not an account's
                kind = kind_of(key)
                keys[kind] += 1
                usage[kind] += int(node.memory_usage(key, samples=0) or 0)
        finally:
            node.close()
    accounts = args.memory_accounts
    return {
        "accounts": accounts,
        "events_per_account": args.memory_events,
        "keys_per_account": round(sum(keys.values()) / accounts, 1),
        "bytes_per_account_memory_usage": round(sum(usage.values()) / accounts),
        "bytes_per_account_used_memory": round((after - before) / accounts),
        "by_kind": {
            kind: {
                "keys_per_account": round(keys[kind] / accounts, 2),
                "bytes_per_key": round(usage[kind] / keys[kind]) if keys[kind] else 0,
                "bytes_per_account": round(usage[kind] / accounts),
            }
            for kind in KINDS
        },
    }


def kind_of(key: str) -> str:
    """policy:{acct}:meta -> meta; policy:{acct}:ev:<id> -> ev."""
    return key.split("}:", 1)[1].split(":", 1)[0]


def used_memory(cluster: LocalCluster, port: int) -> int:
    node = cluster.node(port)
    try:
        return int(node.info("memory")["used_memory"])
    finally:
        node.close()


def report(plan: list[Setup], summaries: dict[str, Summary], rounds: list[Round]) -> str:
    rows = [
        [
            "target",
            "instances x workers",
            "req/s (median)",
            "req/s min-max",
            "p50 ms",
            "p99 ms",
            "worker CPU us/req",
            "redis CPU us/decision",
            "round trips/decision",
            "problems",
            "other load max",
        ]
    ]
    for setup in plan:
        s = summaries[setup.name]
        found = s.redis
        rows.append(
            [
                setup.name,
                f"{setup.instances} x {setup.target.workers}",
                f"{s.requests_per_s:.0f}",
                f"{s.requests_per_s_min:.0f}-{s.requests_per_s_max:.0f}",
                f"{s.p50_ms:.2f}",
                f"{s.p99_ms:.2f}",
                optional(s.worker_cpu_us_per_request),
                optional(found.redis_cpu_us_per_decision if found else None),
                f"{found.round_trips_per_decision:.2f}" if found else "-",
                str(sum(r.problems for r in rounds if r.target == setup.name)),
                optional(s.other_cpu_cores_max, "{:.2f}"),
            ]
        )
    one, many, single = (summaries[s.name] for s in (plan[1], plan[2], plan[0]))
    lines = [
        table(rows),
        "",
        per_round_table([setup.name for setup in plan], rounds),
        "",
        f"ratio {plan[1].name}/{plan[0].name}: req/s {ratio(one.requests_per_s, single.requests_per_s)}",
        f"ratio {plan[2].name}/{plan[1].name}: req/s {ratio(many.requests_per_s, one.requests_per_s)}",
    ]
    return "\n".join(lines)


def optional(value: float | None, form: str = "{:.0f}") -> str:
    return "-" if value is None else form.format(value)


def memory_report(memory: dict[str, Any]) -> str:
    rows = [["key", "keys/account", "bytes/key", "bytes/account"]]
    for kind, found in memory["by_kind"].items():
        rows.append(
            [
                kind,
                f"{found['keys_per_account']:.2f}",
                str(found["bytes_per_key"]),
                str(found["bytes_per_account"]),
            ]
        )
    return "\n".join(
        [
            f"memory: {memory['accounts']} accounts, {memory['events_per_account']} comments each "
            "over 24 h (MEMORY USAGE ... SAMPLES 0 per key)",
            table(rows),
            f"per account: {memory['keys_per_account']} keys, "
            f"{memory['bytes_per_account_memory_usage']} bytes by MEMORY USAGE, "
            f"{memory['bytes_per_account_used_memory']} bytes by INFO memory (used_memory)",
        ]
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    wrk = shutil.which("wrk")
    missing = [name for name in ("redis-server", "redis-cli") if shutil.which(name) is None]
    if wrk is None or missing:
        print(f"error: {'wrk' if wrk is None else missing[0]} is not on PATH", file=sys.stderr)
        return 2
    args.results_dir.mkdir(parents=True, exist_ok=True)
    started = datetime.now(UTC)
    stamp = started.strftime("%Y%m%dT%H%M%SZ")
    try:
        with ExitStack() as stack:
            single = RedisServer(args.results_dir / f"cluster-{stamp}-redis-server.log")
            stack.callback(single.close)
            single.start()
            cluster = stack.enter_context(LocalCluster(primaries=3))
            pids = [s.pid for s in cluster.servers if s.pid is not None]
            nodes = {
                "single": Nodes([single.port], [single.pid]),
                "cluster": Nodes(cluster.primaries(), pids),
            }
            for counted in nodes.values():
                stack.callback(counted.close)
            plan = setups(args, single.url, cluster.url)
            rounds = measure(wrk, args, stamp, plan, nodes)
            print(f"measuring memory: {args.memory_accounts} accounts ...")
            memory = measure_memory(cluster, args)
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    summaries = {
        s.name: summarize(s.target, [r for r in rounds if r.target == s.name]) for s in plan
    }
    print()
    print(report(plan, summaries, rounds))
    print()
    print(memory_report(memory))
    clean = not any(r.problems for r in rounds)
    results = {
        "started_at": started.isoformat(),
        "finished_at": datetime.now(UTC).isoformat(),
        "settings": {k: str(v) for k, v in vars(args).items()},
        "targets": [{**asdict(s.target), "instances": s.instances} for s in plan],
        "rounds": [asdict(r) for r in rounds],
        "summary": {name: asdict(s) for name, s in summaries.items()},
        "memory": memory,
        "clean": clean,
    }
    path = args.results_dir / f"cluster-{stamp}.json"
    path.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nresults: {path}")
    if not clean:
        print(
            "WARNING: some requests failed; these numbers do not measure decisions", file=sys.stderr
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
