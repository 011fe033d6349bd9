"""Decision logs: one JSON line per decision, ids and outcome only, never the comment text."""

from __future__ import annotations

import json
import logging

import pytest
from flask.testing import FlaskClient

from policy_service.logs import JsonFormatter, install_json_handler
from tests.conftest import make_event


def test_one_json_line_per_decision_without_the_text(
    client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="policy_service")
    text = 'my secret complaint\n{"forged": true}'
    client.post("/v1/decisions", json=make_event(event_id="e1", text=text))
    records = [r for r in caplog.records if r.getMessage() == "decision"]
    assert len(records) == 1
    line = JsonFormatter().format(records[0])
    assert "\n" not in line
    logged = json.loads(line)
    assert logged["event_id"] == "e1" and logged["account"] == "acme"
    assert {"action", "rule", "revision", "latency_ms", "duplicate", "degraded"} <= set(logged)
    assert "secret" not in line and "forged" not in line


def test_newlines_in_any_value_cannot_forge_a_line() -> None:
    record = logging.makeLogRecord(
        {"msg": "decision\nlevel=error", "event_id": "a\nb", "levelname": "INFO", "name": "x"}
    )
    line = JsonFormatter().format(record)
    assert "\n" not in line
    assert json.loads(line)["event_id"] == "a\nb"


def test_installing_the_handler_twice_writes_each_line_once(
    capsys: pytest.CaptureFixture[str],
) -> None:
    service = logging.getLogger("policy_service")
    saved = (list(service.handlers), service.level, service.propagate)
    try:
        install_json_handler("info")
        install_json_handler("info")
        logging.getLogger("policy_service.test").info("once", extra={"event_id": "x"})
        lines = capsys.readouterr().err.splitlines()
        assert [json.loads(line)["msg"] for line in lines] == ["once"]
    finally:
        service.handlers[:] = saved[0]
        service.setLevel(saved[1])
        service.propagate = saved[2]
