"""Instructions the redis-server spends per decision of the Redis store, counted by valgrind.

The redis-server's CPU time per decision (decisions.py, redis_store.py) moves
with whatever else the machine does; the instructions it executes do not.
This script runs redis_store.py's decisions (an observe and a record each,
bench/post_event.lua's comments, the default rules' crisis conditions and
rails) against a redis-server under `valgrind --tool=callgrind`, twice per
version of the observe script (the warm-up alone, then the warm-up and
--events more): the difference divided by --events is what one decision
costs the server, its reading, writing and scripts included. With --against
REV the observe script of another revision (policy_service/state/redis_lua.py
at REV, built for the same rules) is counted in the same run, so that a
change of the script is measured side by side with what it replaces.

    .venv/bin/python bench/redis_script.py [--events 1000] [--against HEAD~1]

Needs valgrind and redis-server on PATH; takes about half a minute per
version and spread.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import types
from collections.abc import Callable
from pathlib import Path

from decisions import RedisServer
from redis_store import SPREADS_MS, WARMUP, decide_all

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from policy_service.state import CrisisRules, redis_lua, redis_store  # noqa: E402

ScriptBuilder = Callable[[CrisisRules], str]


def script_of(revision: str) -> ScriptBuilder:
    """observe_script as policy_service/state/redis_lua.py had it at `revision`."""
    source = subprocess.run(
        ["git", "-C", str(ROOT), "show", f"{revision}:policy_service/state/redis_lua.py"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    module = types.ModuleType(f"redis_lua_at_{revision}")
    exec(compile(source, f"{revision}:redis_lua.py", "exec"), module.__dict__)
    builder: ScriptBuilder = module.observe_script
    return builder


def instructions(builder: ScriptBuilder, spread_ms: int, decisions: int) -> int:
    """What a fresh redis-server under callgrind executes for its start, `decisions` and its end."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "callgrind.out"
        wrapper = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}"]
        server = RedisServer(Path(tmp) / "redis-server.log", wrapper)
        try:
            server.start(timeout=60)
            # The store builds its observe script with the observe_script it imported.
            setattr(redis_store, "observe_script", builder)  # noqa: B010
            store = redis_store.RedisStore.from_url(server.url)
            try:
                decide_all(store, spread_ms, range(decisions))
            finally:
                store.close()
        finally:
            setattr(redis_store, "observe_script", redis_lua.observe_script)  # noqa: B010
            server.close()  # SIGTERM: the server exits and callgrind writes its counts
        found = re.search(r"^(?:summary|totals): (\d+)", out.read_text(), re.M)
        if found is None:
            raise SystemExit(f"callgrind counted nothing: see {server.log_path}")
        return int(found.group(1))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1000, help="measured decisions [1000]")
    parser.add_argument(
        "--against",
        metavar="REV",
        help="also count the observe script of this git revision, in the same run",
    )
    args = parser.parse_args()
    for tool in ("valgrind", "redis-server"):
        if shutil.which(tool) is None:
            print(f"{tool} is needed: apt-get install {tool}", file=sys.stderr)
            return 2
    if args.events < 1:
        parser.error("--events must be at least 1")
    versions: dict[str, ScriptBuilder] = {"this checkout": redis_lua.observe_script}
    if args.against:
        versions[args.against] = script_of(args.against)
    print(f"{'k instructions per decision':<28}" + "".join(f"{s:>10}" for s in SPREADS_MS))
    for name, builder in versions.items():
        row = []
        for spread in SPREADS_MS.values():
            low = instructions(builder, spread, WARMUP)
            high = instructions(builder, spread, WARMUP + args.events)
            row.append((high - low) / args.events / 1000)
        print(f"{name:<28}" + "".join(f"{k:>10.1f}" for k in row), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
