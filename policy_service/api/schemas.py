"""Schemas of the API's answers (and of the batch request), for validation and OpenAPI."""

from __future__ import annotations

import marshmallow as ma

from policy_service.rails import RAILS
from policy_service.ruleset.catalogue import ACTIONS

MAX_BATCH_EVENTS = 500


class SignalValueSchema(ma.Schema):
    value = ma.fields.Raw(required=True)
    source = ma.fields.String(
        required=True, metadata={"description": "caller, default or analyzer:<name>@<version>"}
    )


class RulesetRefSchema(ma.Schema):
    name = ma.fields.String(required=True)
    revision = ma.fields.String(required=True, metadata={"description": "content hash"})


class DecisionSchema(ma.Schema):
    decision_id = ma.fields.String(required=True)
    event_id = ma.fields.String(required=True)
    account = ma.fields.String(required=True)
    action = ma.fields.String(required=True, validate=ma.validate.OneOf(ACTIONS))
    rule = ma.fields.String(required=True, metadata={"description": "the winning rule"})
    matched_rules = ma.fields.List(
        ma.fields.String(), required=True, metadata={"description": "every match, winner first"}
    )
    route = ma.fields.String(allow_none=True)
    respond_within_seconds = ma.fields.Integer(allow_none=True)
    guidance = ma.fields.String(allow_none=True)
    ruleset = ma.fields.Nested(RulesetRefSchema, required=True)
    signals = ma.fields.Dict(
        keys=ma.fields.String(), values=ma.fields.Nested(SignalValueSchema), required=True
    )
    state = ma.fields.Dict(required=True, metadata={"description": "state.* values used"})
    time = ma.fields.Dict(
        required=True, metadata={"description": "time.* values used (minutes, rounded)"}
    )
    state_problems = ma.fields.List(
        ma.fields.String(), metadata={"description": "why the state is missing, when degraded"}
    )
    decided_at = ma.fields.String(required=True)
    degraded = ma.fields.Boolean(required=True)
    duplicate = ma.fields.Boolean(required=True)
    folded = ma.fields.Boolean(
        required=True,
        metadata={"description": "an escalation past the rule set's cap, folded into the open one"},
    )
    folded_into = ma.fields.String(
        allow_none=True, metadata={"description": "decision id of the open escalation, if folded"}
    )
    rail = ma.fields.String(
        allow_none=True,
        validate=ma.validate.OneOf(RAILS),
        metadata={"description": "the safety rail that changed the rule's action, if any"},
    )
    rule_action = ma.fields.String(
        validate=ma.validate.OneOf(ACTIONS),
        metadata={"description": "the winning rule's own action, when a rail changed it"},
    )


class ProblemSchema(ma.Schema):
    type = ma.fields.String()
    title = ma.fields.String(required=True)
    status = ma.fields.Integer(required=True)
    detail = ma.fields.String(required=True)
    errors = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.List(ma.fields.String()),
        metadata={"description": "messages per field, by dotted path"},
    )


class BatchRequestSchema(ma.Schema):
    class Meta:
        unknown = ma.RAISE

    # Items are validated one by one (EventSchema) so one bad event gets its
    # own error without sinking the others.
    events = ma.fields.List(
        # Any JSON value: a null or malformed item gets its own error entry.
        ma.fields.Raw(allow_none=True),
        required=True,
        validate=ma.validate.Length(min=1, max=MAX_BATCH_EVENTS),
    )


class BatchItemErrorSchema(ma.Schema):
    error = ma.fields.Nested(ProblemSchema, required=True)


class BatchResponseSchema(ma.Schema):
    results = ma.fields.List(
        ma.fields.Raw(),
        required=True,
        metadata={"description": "a Decision or a BatchItemError per event, in request order"},
    )


class ShadowDifferenceSchema(ma.Schema):
    from_action = ma.fields.String(required=True, metadata={"description": "the live rule's"})
    to_action = ma.fields.String(required=True, metadata={"description": "the candidate's"})
    rule = ma.fields.String(required=True, metadata={"description": "the candidate's winner"})
    count = ma.fields.Integer(required=True)


class ShadowComparisonSchema(ma.Schema):
    compared = ma.fields.Integer(required=True)
    errors = ma.fields.Integer(required=True)
    differences = ma.fields.List(ma.fields.Nested(ShadowDifferenceSchema), required=True)


class ShadowReportSchema(ma.Schema):
    enabled = ma.fields.Boolean(
        required=True, metadata={"description": "false without POLICY_SHADOW_RULES_DIR"}
    )
    revision = ma.fields.String(metadata={"description": "the candidate's revision"})
    comparison = ma.fields.Nested(ShadowComparisonSchema)


class CaptureStatusSchema(ma.Schema):
    enabled = ma.fields.Boolean(
        required=True, metadata={"description": "false without POLICY_CAPTURE_URL"}
    )
    stream = ma.fields.String(metadata={"description": "the Redis stream's key"})
    maxlen = ma.fields.Integer(metadata={"description": "the stream keeps about this many"})
    captured = ma.fields.Integer(metadata={"description": "entries written to the stream"})
    dropped = ma.fields.Integer(metadata={"description": "entries dropped: queue full"})
    failed = ma.fields.Integer(metadata={"description": "entries Redis did not take"})
    pending = ma.fields.Integer(metadata={"description": "entries queued, not yet written"})
