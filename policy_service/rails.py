"""Safety rails: limits on automated actions that hold whatever the rules decide.

A rule set's optional `rails:` section (docs/rules.md) is applied to the
winning rule's outcome, in this order:

1. exempt authors (`exempt_roles`, from the event's `author.role`) get no
   automated action other than `ignore` or `acknowledge`: anything else
   becomes `ignore`;
2. an author answered (`reply_to_fans` or `acknowledge`) within
   `answer_author_once_within` is not answered again: `ignore`;
3. past `escalations_per_hour` escalations of the account in the hour before
   now, a further escalation stays `escalate` but is folded (`folded: true`,
   `folded_into` the open escalation's decision id): the crisis team is paged
   once, and the folded comments join the open case.

The state they need (escalations of the hour, when the author was last
answered) is read by the store's observe step and written by its record step
(`RailsMarks`), so rails cost no extra round trip. The record step decides the
fold again atomically, so concurrent escalations never exceed the cap.
"""

from __future__ import annotations

from typing import Any

from policy_service.events import Event
from policy_service.ruleset.model import Rails
from policy_service.state import RailsMarks, RailsSeen, fold

# What an exempt author may get, and what counts as answering an author.
EXEMPT_ACTIONS = frozenset({"ignore", "acknowledge"})
ANSWERS = frozenset({"reply_to_fans", "acknowledge"})

RAILS = ("exempt_author", "author_answered")  # the rails that change an action
_GUIDANCE = {
    "exempt_author": "The author is exempt from automated actions ({role}); leave it to people.",
    "author_answered": "This author was answered recently; do not answer again yet.",
}


def apply_rails(
    rails: Rails | None,
    event: Event,
    decision: dict[str, Any],
    seen: RailsSeen | None,
    now_ms: int,
) -> RailsMarks | None:
    """Apply the rails to `decision` in place; what the record step must update, or None.

    `seen` is None when the store could not be read: the rails that need state
    then stand aside (an escalation pages rather than being lost).
    """
    decision["folded"] = False
    decision["rail"] = None
    if rails is None:
        return None
    role = event.author.role
    if role in rails.exempt_roles and decision["action"] not in EXEMPT_ACTIONS:
        _override(decision, "exempt_author", _GUIDANCE["exempt_author"].format(role=role))
    within = rails.answer_author_once_within_seconds
    if (
        within
        and decision["action"] in ANSWERS
        and seen is not None
        and seen.author_answered_ms is not None
        and now_ms - seen.author_answered_ms < within * 1000
    ):
        _override(decision, "author_answered", _GUIDANCE["author_answered"])
    cap = rails.escalations_per_hour
    if decision["action"] == "escalate" and cap:
        if seen is not None and seen.escalations_1h >= cap:
            fold(decision, seen.open_escalation)
            return None
        return RailsMarks(now_ms, decision["decision_id"], escalation_cap=cap)
    if within and decision["action"] in ANSWERS:
        return RailsMarks(
            now_ms,
            decision["decision_id"],
            answered_author=event.author.id,
            answered_keep_ms=within * 1000,
        )
    return None


def _override(decision: dict[str, Any], rail: str, guidance: str) -> None:
    if decision["rail"] is None:
        decision["rule_action"] = decision["action"]
    decision["rail"] = rail
    decision["action"] = "ignore"
    # The route stays: who would have handled it, for the people reading the log.
    decision["respond_within_seconds"] = None
    decision["guidance"] = guidance
