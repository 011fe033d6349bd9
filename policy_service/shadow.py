"""Shadow mode: evaluate each live decision against a candidate policy and count differences."""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from policy_service.analysis import Signal
from policy_service.errors import PolicyError
from policy_service.evaluator import PolicySource, match
from policy_service.events import Event

log = logging.getLogger(__name__)


class Shadow:
    """Runs the candidate on the live decision's inputs; never changes the answer."""

    def __init__(self, candidate: PolicySource) -> None:
        self._candidate = candidate
        self._lock = threading.Lock()
        self.compared = 0
        self.errors = 0
        # (live action, candidate action, candidate rule) -> count, for differences only
        self.differences: Counter[tuple[str, str, str]] = Counter()

    def observe(
        self,
        event: Event,
        signals: Mapping[str, Signal],
        state: Mapping[str, Any],
        now: datetime,
        crisis_since: datetime | None,
        decision: Mapping[str, Any],
    ) -> None:
        try:
            with self._candidate.use() as policy:
                loaded = policy.ruleset_for(event.account)
                found = match(loaded, event, signals, state, now, crisis_since)
                revision = policy.revision
        except (PolicyError, KeyError) as exc:
            with self._lock:
                self.errors += 1
            log.warning("shadow evaluation of %s failed: %s", event.event_id, exc)
            return
        winner = found.winner
        # The rules' own answer: safety rails (rails.py) act after the rules, alike
        # for both revisions, so what they changed is no difference between them.
        live_action = decision.get("rule_action", decision["action"])
        differs = (winner.then.action, winner.id, winner.then.route) != (
            live_action,
            decision["rule"],
            decision["route"],
        )
        with self._lock:
            self.compared += 1
            if differs:
                self.differences[(str(live_action), winner.then.action, winner.id)] += 1
        if differs:
            log.info(
                "shadow %s differs on %s: %s/%s -> %s/%s",
                revision,
                event.event_id,
                decision["action"],
                decision["rule"],
                winner.then.action,
                winner.id,
            )

    def report(self) -> dict[str, Any]:
        with self._lock:
            return {
                "compared": self.compared,
                "errors": self.errors,
                "differences": [
                    {"from_action": a, "to_action": b, "rule": r, "count": n}
                    for (a, b, r), n in self.differences.most_common()
                ],
            }
