"""Capture of live decisions to a Redis stream, its export as events, and the replay of the export."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
import redis
from click.testing import CliRunner
from flask.testing import FlaskClient

from policy_service.app import create_app
from policy_service.cli_events import events
from policy_service.cli_replay import replay
from policy_service.clock import FixedClock
from policy_service.errors import ConfigError
from policy_service.evaluator import Evaluator
from policy_service.events import parse_event
from policy_service.loaded_policy import FixedPolicy, LoadedPolicy, load
from policy_service.replay.analyzer import replay_analyzer
from policy_service.state.memory import MemoryStore
from policy_service.state.redis_capture import (
    RedisCapture,
    capture_from_settings,
    event_to_request,
)
from tests.conftest import RULES_DIR, make_event
from tests.redis_server import free_port

START = datetime(2026, 5, 4, 8, 0, tzinfo=UTC)
pytestmark = pytest.mark.redis


def request(number: int, minutes: float, tone: str | None = "negative") -> dict[str, Any]:
    data: dict[str, Any] = {
        "event_id": f"c{number}",
        "account": "acme" if number % 4 else "globex",
        "occurred_at": (START + timedelta(minutes=minutes)).isoformat(),
        "channel": "instagram",
        "text": "the parcel never came" if tone != "positive" else "great help, thanks",
        "author": {"id": f"a{number % 7}", "reach": 20_000 if number % 9 == 0 else 50},
    }
    if tone is not None:
        data["signals"] = {"tone": tone}
    return data


@pytest.fixture
def policy() -> Iterator[LoadedPolicy]:
    loaded = load(RULES_DIR, START)
    yield loaded
    loaded.close()


def live_decisions(
    policy: LoadedPolicy, sink: Any, requests: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Decide like the service would, with the clock at each comment's own time."""
    clock = FixedClock(START)
    analyzer, _ = replay_analyzer()
    evaluator = Evaluator(FixedPolicy(policy), MemoryStore(), clock, analyzer, sink=sink)
    answers = []
    for data in requests:
        event = parse_event(data)
        clock.set(event.occurred_at.astimezone(UTC))
        decision, duplicate = evaluator.decide(event)
        # As the API sends it: JSON (a tuple of topics becomes a list).
        answers.append(orjson.loads(orjson.dumps({**decision, "duplicate": duplicate})))
    return answers


def traffic() -> list[dict[str, Any]]:
    tones = ["negative", "neutral", "positive", None, "hostile"]
    found = [request(i, i * 0.7, tones[i % len(tones)]) for i in range(80)]
    found.append(dict(found[10]))  # a retry of the same comment: a duplicate
    return found


def test_event_to_request_reads_back_to_an_equal_event() -> None:
    full = {
        **request(1, 0),
        "lang": "en",
        "occurred_at": "2026-05-04T10:00:00.5+02:00",
        "author": {"id": "a1", "reach": 10, "is_customer": False, "verified": True},
        "thread": {"id": "p1", "published_at": "2026-05-04T07:00:00Z", "by_brand": True},
        "signals": {
            "tone": "negative",
            "severity": 2,
            "constructive": True,
            "arousal": 0.25,
            "topics": ["refund"],
        },
    }
    for data in (full, request(2, 0, tone=None)):
        event = parse_event(data)
        back = event_to_request(event)
        assert parse_event(orjson.loads(orjson.dumps(back))) == event
    assert "signals" not in event_to_request(parse_event(request(2, 0, tone=None)))


def test_capture_settings() -> None:
    assert capture_from_settings("") is None
    assert capture_from_settings(None) is None
    with pytest.raises(ConfigError, match="POLICY_CAPTURE_URL"):
        capture_from_settings("http://localhost:6379")
    with pytest.raises(ConfigError, match="POLICY_CAPTURE_MAXLEN must be a whole number"):
        capture_from_settings("redis://127.0.0.1:1/0", "s", "lots")
    with pytest.raises(ConfigError, match="at least 1"):
        capture_from_settings("redis://127.0.0.1:1/0", "s", 0)
    with pytest.raises(ConfigError, match="POLICY_CAPTURE_STREAM"):
        capture_from_settings("redis://127.0.0.1:1/0", " ", 10)
    capture = capture_from_settings("redis://127.0.0.1:1/0", "decisions", "50")
    assert capture is not None
    assert (capture.stream, capture.maxlen) == ("decisions", 50)
    capture.close()


def test_capture_export_replay_round_trip(
    tmp_path: Path, clean_redis_url: str, policy: LoadedPolicy
) -> None:
    capture = RedisCapture.from_url(clean_redis_url, "test:capture", 10_000)
    try:
        live = live_decisions(policy, capture, traffic())
        assert capture.flush(10)
        assert capture.stats() == {"captured": 80, "dropped": 0, "failed": 0, "pending": 0}
    finally:
        capture.close()
    client = redis.Redis.from_url(clean_redis_url)
    try:
        assert client.xlen("test:capture") == 80  # the duplicate is not captured again
        first = client.xrange("test:capture", count=1)[0][1]
        assert set(first) == {b"event", b"decision"}
        assert orjson.loads(first[b"decision"])["event_id"] == "c0"
    finally:
        client.close()

    exported = tmp_path / "captured.jsonl"
    result = CliRunner().invoke(
        events,
        ["export", "--from", clean_redis_url, "--stream", "test:capture", "--out", str(exported)],
    )
    assert result.exit_code == 0, result.output
    assert "test:capture: 80 events" in result.output
    lines = exported.read_bytes().splitlines()
    assert [orjson.loads(line)["event_id"] for line in lines] == [f"c{i}" for i in range(80)]

    replayed = tmp_path / "replayed.jsonl"
    result = CliRunner().invoke(
        replay, [str(exported), "--rules", str(RULES_DIR), "--out", str(replayed)]
    )
    assert result.exit_code == 0, result.output
    again = {
        orjson.loads(line)["event_id"]: orjson.loads(line)
        for line in replayed.read_bytes().splitlines()
    }
    # The replay of what was captured gives exactly the live decisions.
    for decision in live[:80]:
        assert again[decision["event_id"]] == decision


def test_the_stream_stays_about_maxlen_long(clean_redis_url: str, policy: LoadedPolicy) -> None:
    capture = RedisCapture.from_url(clean_redis_url, "test:bounded", 10)
    try:
        live_decisions(policy, capture, [request(i, i * 0.1) for i in range(600)])
        assert capture.flush(10)
    finally:
        capture.close()
    client = redis.Redis.from_url(clean_redis_url)
    try:
        # MAXLEN ~ trims whole nodes (100 entries by default): about the bound, never all.
        assert 10 <= client.xlen("test:bounded") <= 200
    finally:
        client.close()


def test_a_failing_redis_never_breaks_a_decision(policy: LoadedPolicy) -> None:
    capture = RedisCapture.from_url(f"redis://127.0.0.1:{free_port()}/0", "test:nowhere", 100)
    try:
        answers = live_decisions(policy, capture, [request(i, i) for i in range(20)])
        assert len(answers) == 20
        assert capture.flush(10)
        stats = capture.stats()
        assert stats["failed"] + stats["dropped"] == 20
        assert stats["captured"] == 0
    finally:
        capture.close()


def test_a_full_queue_drops_and_counts(policy: LoadedPolicy) -> None:
    release = threading.Event()

    class Stalled(RedisCapture):
        def _write(self, batch: list[dict[str, bytes]]) -> bool:
            release.wait(10)
            return True

    capture = Stalled(redis.Redis(port=free_port()), "test:stalled", 100, queue_size=5)
    try:
        live_decisions(policy, capture, [request(i, i) for i in range(30)])
        stats = capture.stats()
        # At most one batch (all the queue held) is with the stalled writer, 5 more wait.
        assert stats["dropped"] >= 30 - 2 * 5
        assert stats["dropped"] + stats["pending"] == 30
    finally:
        release.set()
        capture.close()


def test_export_reports_a_missing_stream_and_skips_bad_entries(
    tmp_path: Path, clean_redis_url: str
) -> None:
    runner = CliRunner()
    result = runner.invoke(events, ["export", "--from", clean_redis_url, "--stream", "nothing"])
    assert result.exit_code == 1
    assert "no stream 'nothing'" in result.output
    client = redis.Redis.from_url(clean_redis_url)
    try:
        client.set("plain", "x")
        client.xadd("mixed", {"event": orjson.dumps(request(1, 0))})
        client.xadd("mixed", {"event": b"{not json"})
        client.xadd("mixed", {"other": b"1"})
        client.xadd("mixed", {"event": orjson.dumps({**request(2, 1), "extra": 1})})
    finally:
        client.close()
    result = runner.invoke(events, ["export", "--from", clean_redis_url, "--stream", "plain"])
    assert result.exit_code == 1
    assert "is a b'string', not a stream" in result.output
    out = tmp_path / "mixed.jsonl"
    result = runner.invoke(
        events, ["export", "--from", clean_redis_url, "--stream", "mixed", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "3 entries skipped" in result.output
    assert "extra: Unknown field" in result.output
    assert [orjson.loads(line)["event_id"] for line in out.read_bytes().splitlines()] == ["c1"]


def test_admin_capture_shows_the_stream_and_its_counters(
    clean_redis_url: str, clock: FixedClock
) -> None:
    app = create_app(
        {
            "rules_dir": RULES_DIR,
            "state_url": "memory://",
            "reload_interval": 0,
            "capture_url": clean_redis_url,
            "capture_stream": "admin:capture",
            "capture_maxlen": 1000,
        },
        clock=clock,
    )
    client = app.test_client()
    services = app.extensions["policy_service"]
    try:
        for n in range(3):
            client.post("/v1/decisions", json=make_event(event_id=f"cap{n}"))
        client.post("/v1/decisions", json=make_event(event_id="cap0"))  # a duplicate: not captured
        assert services.capture.flush(10)
        status = client.get("/v1/admin/capture")
    finally:
        services.capture.close()
        services.policies.current().close()
    assert status.status_code == 200
    assert status.get_json() == {
        "enabled": True,
        "stream": "admin:capture",
        "maxlen": 1000,
        "captured": 3,
        "dropped": 0,
        "failed": 0,
        "pending": 0,
    }


def test_admin_capture_and_shadow_say_when_they_are_off(client: FlaskClient) -> None:
    assert client.get("/v1/admin/capture").get_json() == {"enabled": False}
    assert client.get("/v1/admin/shadow").get_json() == {"enabled": False}
