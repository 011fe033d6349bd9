"""Hot reload, several rule sets and shadow mode: never a broken policy live."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from policy_service.app import create_app
from policy_service.clock import FixedClock
from policy_service.services import Services
from tests.conftest import RULES_DIR, make_event

AIRLINE = """\
ruleset: airline
rules:
  - id: delay-complaint
    priority: 10
    when:
      all:
        - {signals.tone: {eq: negative}}
        - {event.text: {contains_any: [delay, delayed, late]}}
    then: {action: escalate, route: operations, respond_within: 30m}
  - id: anything-else
    priority: 100
    then: {action: acknowledge, route: support}
tests:
  - name: a delay complaint goes to operations
    event: {text: "Flight delayed again", signals: {tone: negative}}
    expect: {action: escalate, rule: delay-complaint}
"""


@pytest.fixture
def rules_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "rules"
    directory.mkdir()
    shutil.copy(RULES_DIR / "default.yaml", directory / "default.yaml")
    return directory


def _app(rules_dir: Path, clock: FixedClock, **config: Any) -> Flask:
    settings = {"rules_dir": rules_dir, "state_url": "memory://", "reload_interval": 0}
    return create_app({**settings, **config}, clock=clock)


@pytest.fixture
def app(rules_dir: Path, clock: FixedClock) -> Iterator[Flask]:
    app = _app(rules_dir, clock)
    yield app
    app.extensions["policy_service"].policies.current().close()


def _services(client: FlaskClient) -> Services:
    services: Services = client.application.extensions["policy_service"]
    return services


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def test_admin_reload_swaps_in_a_good_revision(client: FlaskClient, rules_dir: Path) -> None:
    before = client.get("/v1/rulesets").get_json()["revision"]
    _edit(
        rules_dir / "default.yaml",
        "respond_within: 4h\n      guidance: Thank them",
        "respond_within: 2h\n      guidance: Thank them",
    )
    answer = client.post("/v1/admin/reload")
    assert answer.status_code == 200, answer.get_json()
    after = answer.get_json()["revision"]
    assert after != before
    decision = client.post(
        "/v1/decisions", json=make_event(signals={"tone": "positive"})
    ).get_json()
    assert decision["ruleset"]["revision"] == after
    assert decision["respond_within_seconds"] == 2 * 3600


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("signals.severity: {gte: 5}", "signals.severity: {gte: high}", "is an integer"),
        ("ruleset: default", "ruleset: [", "invalid YAML"),
        # Valid rules whose own inline test now fails.
        (
            "action: reply_to_fans\n      route: community\n      respond_within: 4h",
            "action: acknowledge\n      route: community\n      respond_within: 4h",
            "failed: expected action 'reply_to_fans'",
        ),
    ],
)
def test_a_broken_revision_is_refused_and_the_last_good_one_serves(
    client: FlaskClient, rules_dir: Path, old: str, new: str, message: str
) -> None:
    good = client.get("/v1/rulesets").get_json()["revision"]
    _edit(rules_dir / "default.yaml", old, new)
    refused = client.post("/v1/admin/reload")
    assert refused.status_code == 422
    assert refused.mimetype == "application/problem+json"
    assert any(message in e for e in refused.get_json()["errors"]["rules"]), refused.get_json()
    listing = client.get("/v1/rulesets").get_json()
    assert listing["revision"] == good
    assert listing["last_reload"]["outcome"] == "refused"
    assert any(message in e for e in listing["last_reload"]["errors"])
    decision = client.post("/v1/decisions", json=make_event()).get_json()
    assert decision["ruleset"]["revision"] == good


def test_the_watcher_picks_up_a_change(rules_dir: Path, clock: FixedClock) -> None:
    app = _app(rules_dir, clock)
    services: Services = app.extensions["policy_service"]
    before = services.policies.current().revision
    _edit(rules_dir / "default.yaml", "No rule calls for a reaction.", "Nothing to do.")
    services.reloader.check()  # what the watcher thread does every interval
    assert services.policies.current().revision != before
    assert services.reloader.status.outcome == "loaded"
    services.reloader.check()  # nothing changed since: no new attempt
    assert services.reloader.status.outcome == "loaded"


def test_good_broken_good_under_concurrent_requests(client: FlaskClient, rules_dir: Path) -> None:
    path = rules_dir / "default.yaml"
    original = path.read_text()
    revisions = {client.get("/v1/rulesets").get_json()["revision"]}
    failures: list[str] = []
    answers: list[str] = []
    stop = threading.Event()

    def traffic(worker: int) -> None:
        local = client.application.test_client()
        i = 0
        while not stop.is_set():
            i += 1
            response = local.post("/v1/decisions", json=make_event(event_id=f"w{worker}-{i}"))
            if response.status_code != 200:
                failures.append(response.get_data(as_text=True))
            else:
                answers.append(response.get_json()["ruleset"]["revision"])

    threads = [threading.Thread(target=traffic, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    try:
        steps = [
            original.replace("No rule calls for a reaction.", "Nothing to do."),  # good
            original.replace("signals.severity: {gte: 5}", "signals.severity: {gte: x}"),  # broken
            original.replace("No rule calls for a reaction.", "Leave it."),  # good
        ]
        for text in steps:
            path.write_text(text)
            status = client.post("/v1/admin/reload").get_json()
            revisions.add(client.get("/v1/rulesets").get_json()["revision"])
            assert "revision" in status or status["status"] == 422
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    assert failures == []
    assert len(answers) > 0
    # Every answer names a revision that was active: the start and the two good ones.
    assert set(answers) <= revisions
    assert len(revisions) == 3


def test_accounts_map_to_their_rule_set(rules_dir: Path, clock: FixedClock) -> None:
    (rules_dir / "airline.yaml").write_text(AIRLINE)
    (rules_dir / "accounts.yaml").write_text("accounts:\n  acme-air: airline\n")
    client = _app(rules_dir, clock).test_client()
    event = make_event(
        account="acme-air", text="Flight delayed 3 hours", signals={"tone": "negative"}
    )
    decision = client.post("/v1/decisions", json=event).get_json()
    assert (decision["ruleset"]["name"], decision["rule"]) == ("airline", "delay-complaint")
    other = client.post("/v1/decisions", json=make_event(account="acme")).get_json()
    assert other["ruleset"]["name"] == "default"
    listing = client.get("/v1/rulesets").get_json()
    assert [r["name"] for r in listing["rulesets"]] == ["airline", "default"]
    assert listing["accounts"] == 1


def test_an_account_mapped_to_a_missing_rule_set_is_refused(
    client: FlaskClient, rules_dir: Path
) -> None:
    (rules_dir / "accounts.yaml").write_text("accounts:\n  acme-air: airlnie\n")
    refused = client.post("/v1/admin/reload").get_json()
    assert refused["status"] == 422
    assert "accounts.yaml:2:13: error: no rule set named 'airlnie'" in refused["errors"]["rules"][0]


def test_shadow_counts_what_a_candidate_would_change(
    rules_dir: Path, clock: FixedClock, tmp_path: Path
) -> None:
    candidate = tmp_path / "candidate"
    candidate.mkdir()
    text = (rules_dir / "default.yaml").read_text()
    # The candidate escalates constructive criticism instead of acknowledging it.
    text = text.replace(
        "      action: acknowledge\n      route: product",
        "      action: escalate\n      route: product",
    ).replace(
        "expect: {action: acknowledge, rule: constructive-criticism",
        "expect: {action: escalate, rule: constructive-criticism",
    )
    (candidate / "default.yaml").write_text(text)
    client = _app(rules_dir, clock, shadow_rules_dir=str(candidate)).test_client()
    for i in range(3):
        event = make_event(event_id=f"c{i}", author={"id": f"u{i}", "is_customer": True})
        live = client.post("/v1/decisions", json=event).get_json()
        assert live["action"] == "acknowledge"  # the live answer never changes
    client.post("/v1/decisions", json=make_event(event_id="fan", signals={"tone": "positive"}))
    # Readers see a summary: how many differ, not which rules would act otherwise.
    summary = client.get("/v1/rulesets").get_json()["shadow"]
    assert summary["revision"] != client.get("/v1/rulesets").get_json()["revision"]
    assert summary == {"revision": summary["revision"], "compared": 4, "differing": 3, "errors": 0}
    shadow = client.get("/v1/admin/shadow").get_json()
    assert shadow["enabled"] is True and shadow["revision"] == summary["revision"]
    assert shadow["last_reload"]["outcome"] == "initial"
    assert shadow["comparison"]["compared"] == 4
    assert shadow["comparison"]["differences"] == [
        {
            "from_action": "acknowledge",
            "to_action": "escalate",
            "rule": "constructive-criticism",
            "count": 3,
        }
    ]


def test_a_broken_policy_at_start_is_never_served(rules_dir: Path, clock: FixedClock) -> None:
    _edit(
        rules_dir / "default.yaml",
        "expect: {action: reply_to_fans, rule: fan-praise, route: community}",
        "expect: {action: ignore, rule: fan-praise}",
    )
    with pytest.raises(Exception, match="test 'praise from a fan gets a reply' failed"):
        _app(rules_dir, clock)
