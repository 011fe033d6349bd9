"""GET /metrics: Prometheus text format 0.0.4, and the counters move with the traffic."""

from __future__ import annotations

import re
import shutil
import threading
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient

from policy_service.app import create_app
from policy_service.clock import FixedClock
from policy_service.metrics import Metrics
from policy_service.state import StateStore
from policy_service.state.redis_store import RedisStore
from tests.conftest import RULES_DIR, make_event
from tests.redis_server import free_port

_NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
_LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*"'
_SAMPLE = re.compile(
    rf"^(?P<name>{_NAME})(?P<labels>\{{(?:{_LABEL})(?:,{_LABEL})*\}})? "
    r"(?P<value>[-+]?(?:[0-9.]+(?:[eE][-+]?[0-9]+)?|Inf|NaN))$"
)
_LABEL_PAIR = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\.)*)"')


def parse(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Samples by (name, labels); asserts every line follows the exposition format."""
    assert text.endswith("\n")
    samples: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
    types: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("# HELP "):
            assert re.match(rf"^# HELP {_NAME} \S", line), line
            continue
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            assert kind in ("counter", "gauge", "histogram"), line
            assert name not in types, f"{name} typed twice"
            types[name] = kind
            continue
        match = _SAMPLE.match(line)
        assert match, f"not a sample line: {line!r}"
        name = match["name"]
        family = re.sub(r"_(bucket|sum|count)$", "", name)
        assert name in types or family in types, f"{name} has no TYPE"
        labels = frozenset(_LABEL_PAIR.findall(match["labels"] or ""))
        key = (name, labels)
        assert key not in samples, f"duplicate sample {line!r}"
        samples[key] = float(match["value"])
    return samples


def value(
    samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str
) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def total(samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str) -> float:
    return sum(v for (n, _), v in samples.items() if n == name)


def scrape(client: FlaskClient) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    return parse(response.get_data(as_text=True))


def test_the_exposition_parses_and_names_every_metric(client: FlaskClient) -> None:
    samples = scrape(client)
    names = {name for name, _ in samples}
    assert {
        "policy_store_errors_total",
        "policy_degraded_total",
        "policy_rules_revision_info",
        "policy_decision_seconds_count",
        "policy_decision_seconds_sum",
        "policy_decision_seconds_bucket",
    } <= names
    revision = client.get("/v1/rulesets").get_json()["revision"]
    assert value(samples, "policy_rules_revision_info", revision=revision) == 1


def test_decisions_and_requests_move_the_counters(client: FlaskClient) -> None:
    before = scrape(client)
    for n in range(3):
        answer = client.post("/v1/decisions", json=make_event(event_id=f"m{n}")).get_json()
    client.post("/v1/decisions/batch", json={"events": [make_event(event_id="mb")]})
    client.post("/v1/decisions", data="{", content_type="application/json")
    client.get("/v1/accounts/acme/state")
    client.get("/v1/accounts/other/state")
    after = scrape(client)

    assert total(after, "policy_decisions_total") - total(before, "policy_decisions_total") == 4
    assert value(after, "policy_decisions_total", action=answer["action"], rule=answer["rule"]) >= 1
    assert value(after, "policy_requests_total", endpoint="/v1/decisions", status="200") == 3
    assert value(after, "policy_requests_total", endpoint="/v1/decisions", status="400") == 1
    assert value(after, "policy_requests_total", endpoint="/v1/decisions/batch", status="200") == 1
    # One series for every account: the route template, not the path.
    assert (
        value(after, "policy_requests_total", endpoint="/v1/accounts/<account>/state", status="200")
        == 2
    )
    assert value(after, "policy_decision_seconds_count") == 4
    assert value(after, "policy_decision_seconds_bucket", le="+Inf") == 4
    assert value(after, "policy_decision_seconds_sum") > 0
    buckets = sorted(
        (float(dict(labels)["le"]), v)
        for (name, labels), v in after.items()
        if name == "policy_decision_seconds_bucket"
    )
    counts = [v for _, v in buckets]
    assert counts == sorted(counts), "buckets are cumulative"


def test_reloads_are_counted_by_outcome(client: FlaskClient) -> None:
    assert value(scrape(client), "policy_reload_total", outcome="unchanged") == 0
    client.post("/v1/admin/reload")
    client.post("/v1/admin/reload")
    samples = scrape(client)
    # A scrape after the reloads does not count the last one again.
    assert value(samples, "policy_reload_total", outcome="unchanged") == 2
    assert value(scrape(client), "policy_reload_total", outcome="unchanged") == 2


def test_store_errors_degraded_and_label_escaping() -> None:
    metrics = Metrics(buckets=(0.1, 1.0))
    metrics.decision("escalate", 'odd "rule"\\\n', 0.5, degraded=True)
    metrics.decision("ignore", "nothing-to-do", 5.0, degraded=False)
    metrics.store_error()
    samples = parse(metrics.render("abc"))
    assert value(samples, "policy_degraded_total") == 1
    assert value(samples, "policy_store_errors_total") == 1
    assert value(samples, "policy_decision_seconds_bucket", le="0.1") == 0
    assert value(samples, "policy_decision_seconds_bucket", le="1.0") == 1
    assert value(samples, "policy_decision_seconds_bucket", le="+Inf") == 2
    assert (
        value(samples, "policy_decisions_total", action="escalate", rule='odd \\"rule\\"\\\\\\n')
        == 1
    )


def test_counting_from_many_threads_loses_nothing() -> None:
    metrics = Metrics()

    def work() -> None:
        for _ in range(2000):
            metrics.request("/v1/decisions", 200)
            metrics.decision("ignore", "r", 0.001, degraded=False)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    samples = parse(metrics.render("r1"))
    assert value(samples, "policy_requests_total", endpoint="/v1/decisions", status="200") == 16000
    assert value(samples, "policy_decision_seconds_count") == 16000


def _app_on(clock: FixedClock, rules_dir: Path, store: StateStore | None = None) -> Flask:
    app = create_app(
        {"rules_dir": rules_dir, "state_url": "memory://", "reload_interval": 0},
        clock=clock,
        store=store,
    )
    app.config["TESTING"] = True
    return app


def test_store_errors_and_degraded_answers_are_counted_through_the_api(
    clock: FixedClock,
) -> None:
    # A real Redis store on a port nothing listens on: every call fails with
    # StoreUnavailable, as when Redis is down.
    down = RedisStore.from_url(f"redis://127.0.0.1:{free_port()}/0")
    app = _app_on(clock, RULES_DIR, down)
    client = app.test_client()
    try:
        before = scrape(client)
        answers = [
            client.post("/v1/decisions", json=make_event(event_id=f"down{n}")) for n in range(2)
        ]
        batch = client.post("/v1/decisions/batch", json={"events": [make_event(event_id="down-b")]})
        state = client.get("/v1/accounts/acme/state")
        after = scrape(client)
    finally:
        app.extensions["policy_service"].policies.current().close()
    assert [a.status_code for a in answers] == [200, 200] and batch.status_code == 200
    assert all(a.get_json()["degraded"] for a in answers)
    assert batch.get_json()["results"][0]["degraded"] is True
    assert state.status_code == 503
    assert value(before, "policy_degraded_total") == 0
    assert value(after, "policy_degraded_total") == 3
    # Three decisions without state, and the state read that failed.
    assert value(after, "policy_store_errors_total") == 4
    assert (
        value(after, "policy_requests_total", endpoint="/v1/accounts/<account>/state", status="503")
        == 1
    )


def test_loaded_and_refused_reloads_are_counted(clock: FixedClock, tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    shutil.copy(RULES_DIR / "default.yaml", rules / "default.yaml")
    app = _app_on(clock, rules)
    client = app.test_client()
    source = rules / "default.yaml"
    good = source.read_text()
    try:
        assert value(scrape(client), "policy_reload_total", outcome="loaded") == 0
        source.write_text(good + "\n# a new revision: the same rules, other bytes\n")
        assert client.post("/v1/admin/reload").status_code == 200
        samples = scrape(client)
        assert value(samples, "policy_reload_total", outcome="loaded") == 1
        assert value(samples, "policy_reload_total", outcome="refused") == 0
        revision = client.get("/v1/rulesets").get_json()["revision"]
        assert value(samples, "policy_rules_revision_info", revision=revision) == 1
        source.write_text(good.replace("ruleset: default", "ruleset: [", 1))
        assert client.post("/v1/admin/reload").status_code == 422
        samples = scrape(client)
        assert value(samples, "policy_reload_total", outcome="refused") == 1
        assert value(samples, "policy_reload_total", outcome="loaded") == 1
        # The refused revision is not served: the gauge still names the last good one.
        assert value(samples, "policy_rules_revision_info", revision=revision) == 1
    finally:
        app.extensions["policy_service"].policies.current().close()
