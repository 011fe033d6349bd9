"""Instructions per request of the service and of the bare app, counted by valgrind.

On a shared machine a timing moves with the neighbours; an instruction count
does not (callgrind counts the same for the same binary and inputs). This
script calls both WSGI apps in-process (no gunicorn, no sockets) with the
nine comments of bench/post_event.lua, under `valgrind --tool=callgrind`,
twice per app (N1 and N2 requests): the difference divided by N2 - N1 is
the cost of one request without the start-up. The service runs with the
settings of decisions.py: a bearer token on every request (both apps get the
header) and rate limits that are paid but never reached. It complements
bench/decisions.py, which measures what matters (requests per second under
gunicorn) but needs a quiet machine.

    .venv/bin/python bench/instructions.py [--requests 50 550] [--analyzer lexicon|none]

Needs valgrind (apt-get install valgrind); takes about a minute per app.
The load is post_event.lua's: thousands of comments a minute to three
accounts, so most escalations are folded by the rule set's escalation cap, as
in bench/decisions.py.
"""

from __future__ import annotations

import argparse
import io
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
sys.path.insert(0, str(BENCH_DIR))

from decisions import TOKEN, service_env  # noqa: E402  (bench/ is no package)

LUA = BENCH_DIR / "post_event.lua"


def lua_templates() -> list[str]:
    """The request bodies of post_event.lua, with their %s placeholders."""
    source = LUA.read_text()
    start = source.index("local templates = {")
    block = source[start : source.index("\n}\n", start)]
    items = re.split(r"\n  -- [^\n]*", block)[1:]
    return ["".join(re.findall(r"\[\[(.*?)\]\]", item, re.S)) for item in items if "[[" in item]


def bodies(count: int) -> list[bytes]:
    """`count` bodies as wrk sends them: new event ids, authors cycling, times of now."""
    templates = lua_templates()
    now = datetime.now(UTC)
    occurred = (now - timedelta(seconds=90)).strftime("%Y-%m-%dT%H:%M:%SZ")
    posted = (now - timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    out = []
    for i in range(count):
        template = templates[i % len(templates)]
        body = template
        # post_event.lua's order: event id, occurred_at, author id, the post's time.
        for value in (f"b-instr-1-{i}", occurred, f"u{i % 997}", posted):
            body = body.replace("%s", value, 1)
        out.append(body.encode())
    return out


def call_all(
    app: Callable[..., Iterable[bytes]], payloads: list[bytes], authorization: str | None = None
) -> None:
    for payload in payloads:
        environ = {
            "REQUEST_METHOD": "POST",
            "PATH_INFO": "/v1/decisions",
            "SERVER_NAME": "bench",
            "SERVER_PORT": "80",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(payload),
            "wsgi.errors": sys.stderr,
            "CONTENT_TYPE": "application/json",
            "CONTENT_LENGTH": str(len(payload)),
        }
        if authorization is not None:
            environ["HTTP_AUTHORIZATION"] = authorization
        status: list[str] = []
        body = b"".join(app(environ, lambda s, h, seen=status: seen.append(s)))
        if not status[0].startswith("200"):
            raise SystemExit(f"{status[0]}: {body[:300]!r}")


def run_child(target: str, count: int, analyzer: str) -> None:
    """In the process valgrind watches: build one app, call it `count` (+50 warm-up) times."""
    payloads = bodies(count + 50)
    app: Any
    if target == "bare":
        from bare_app import create_app as create_bare

        app = create_bare()
    else:
        from policy_service.app import create_app

        # As decisions.py runs it: with access control and rate limits that
        # are paid but never reached.
        settings = {
            "POLICY_RULES_DIR": str(ROOT / "rules"),
            "POLICY_STATE_URL": "memory://",
            "POLICY_RELOAD_INTERVAL": "0",
            "POLICY_ANALYZER": analyzer,
            **service_env(),
        }
        os.environ.update(settings)
        app = create_app()
    # Both sides get the header, as wrk sends it to both (the bare app ignores it).
    call_all(app, payloads, f"Bearer {TOKEN}")


def instructions(target: str, count: int, analyzer: str) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "callgrind.out"
        done = subprocess.run(
            [
                "valgrind",
                "--tool=callgrind",
                f"--callgrind-out-file={out}",
                sys.executable,
                __file__,
                "--child",
                target,
                str(count),
                analyzer,
            ],
            capture_output=True,
            text=True,
            # A fixed hash seed: string hashing is randomized per process,
            # which moves the count by a few tenths of a percent.
            env={
                **{k: v for k, v in os.environ.items() if not k.startswith("POLICY_")},
                "PYTHONHASHSEED": "0",
            },
            check=False,
        )
        found = re.search(r"Collected : (\d+)", done.stderr)
        if done.returncode != 0 or found is None:
            raise SystemExit(f"valgrind failed for {target}:\n{done.stderr[-2000:]}")
        return int(found.group(1))


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        run_child(sys.argv[2], int(sys.argv[3]), sys.argv[4])
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, nargs=2, default=(50, 550), metavar=("N1", "N2"))
    parser.add_argument("--analyzer", choices=("lexicon", "none"), default="lexicon")
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        print("valgrind is needed: apt-get install valgrind", file=sys.stderr)
        return 2
    low, high = args.requests
    from policy_service import native

    compiled = native.compiled()
    build = (
        "native"
        if all(compiled.values())
        else "pure Python"
        if not any(compiled.values())
        else "mixed"
    )
    print(f"build: {build}" + (f" (stale: {', '.join(native.stale())})" if native.stale() else ""))
    per_request = {}
    for target in ("service", "bare"):
        counts = [instructions(target, n, args.analyzer) for n in (low, high)]
        per_request[target] = (counts[1] - counts[0]) / (high - low)
        print(f"{target:8s} {per_request[target] / 1000:10.1f} k instructions per request")
    share = per_request["bare"] / per_request["service"]
    print(f"bare/service: {share:.2f} (in-process; gunicorn adds the same cost to both sides)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
