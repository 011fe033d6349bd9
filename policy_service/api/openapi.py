"""The OpenAPI document, generated from the same marshmallow schemas that validate."""

from __future__ import annotations

from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin

from policy_service import __version__
from policy_service.api import schemas
from policy_service.events import ID_REGEX, EventSchema


def _problem(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/problem+json": {"schema": "Problem"}},
    }


def _limited(description: str) -> dict[str, Any]:
    return {
        **_problem(description),
        "headers": {
            "Retry-After": {
                "description": "seconds until the limit's window ends",
                "schema": {"type": "integer", "minimum": 1},
            }
        },
    }


# Operations that need a bearer token with a scope (see api/auth.py); each
# takes a permit of the token's rate limit.
_SECURED: dict[str, Any] = {"security": [{"bearer": []}]}
_AUTH = {
    "401": _problem("no token, or a wrong one"),
    "403": _problem("the token lacks the scope"),
    "429": _limited("the token's rate limit is reached"),
}
_BAD_INPUT = {
    **_AUTH,
    "400": _problem("malformed JSON"),
    "413": _problem("body too large"),
    "415": _problem("content type is not application/json"),
    "422": _problem("invalid fields"),
    "429": _limited("a rate limit (of the token, or of the event's account) is reached"),
}


def _post(spec: APISpec, path: str, summary: str, body: str, answer: str, schema: str) -> None:
    """A POST operation taking JSON `body` and answering `schema`, with the bad-input problems."""
    spec.path(
        path=path,
        operations={
            "post": {
                "summary": summary,
                **_SECURED,
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": body}},
                },
                "responses": {
                    "200": {
                        "description": answer,
                        "content": {"application/json": {"schema": schema}},
                    },
                    **_BAD_INPUT,
                },
            }
        },
    )


def _admin_get(spec: APISpec, path: str, summary: str, schema: str) -> None:
    spec.path(
        path=path,
        operations={
            "get": {
                "summary": summary + " (admin)",
                **_SECURED,
                "responses": {
                    "200": {
                        "description": summary,
                        "content": {"application/json": {"schema": schema}},
                    },
                    **_AUTH,
                },
            }
        },
    )


def build_spec() -> dict[str, Any]:
    spec = APISpec(
        title="policy-service",
        version=__version__,
        openapi_version="3.0.3",
        plugins=[MarshmallowPlugin()],
        info={"description": "Decides what to do with each social-media comment, and why."},
    )
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    spec.components.schema("Event", schema=EventSchema)
    spec.components.schema("Decision", schema=schemas.DecisionSchema)
    spec.components.schema("Problem", schema=schemas.ProblemSchema)
    spec.components.schema("BatchRequest", schema=schemas.BatchRequestSchema)
    spec.components.schema("BatchResponse", schema=schemas.BatchResponseSchema)
    spec.components.schema("BatchItemError", schema=schemas.BatchItemErrorSchema)
    spec.components.schema("ShadowReport", schema=schemas.ShadowReportSchema)
    spec.components.schema("CaptureStatus", schema=schemas.CaptureStatusSchema)
    _post(spec, "/v1/decisions", "Decide on one comment event", "Event", "the decision", "Decision")
    _post(
        spec,
        "/v1/decisions/batch",
        f"Decide on up to {schemas.MAX_BATCH_EVENTS} events, in order",
        "BatchRequest",
        "one result per event: a Decision or a BatchItemError",
        "BatchResponse",
    )
    spec.path(
        path="/v1/accounts/{account}/state",
        operations={
            "get": {
                "summary": "The account's crisis level and windows",
                **_SECURED,
                "parameters": [
                    {
                        "name": "account",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string", "pattern": ID_REGEX, "maxLength": 64},
                    }
                ],
                "responses": {
                    "200": {"description": "the account state"},
                    "422": _problem("invalid account id"),
                    **_AUTH,
                },
            }
        },
    )
    spec.path(
        path="/v1/rulesets",
        operations={
            "get": {
                "summary": "Loaded rule sets",
                **_SECURED,
                "responses": {"200": {"description": "ok"}, **_AUTH},
            }
        },
    )
    spec.path(
        path="/v1/admin/reload",
        operations={
            "post": {
                "summary": "Reload the rules now: validate, compile, test, then swap",
                **_SECURED,
                "responses": {
                    **_AUTH,
                    "200": {"description": "the active revision and the reload outcome"},
                    "422": _problem("the new revision was refused; the last good one serves"),
                },
            }
        },
    )
    _admin_get(spec, "/v1/admin/shadow", "The shadow comparison in full", "ShadowReport")
    _admin_get(
        spec, "/v1/admin/capture", "The capture: stream, length and counters", "CaptureStatus"
    )
    spec.path(
        path="/metrics",
        operations={
            "get": {
                "summary": "Prometheus metrics of this worker (text format 0.0.4)",
                # Open by default; with POLICY_METRICS_PUBLIC=false it needs `read`.
                "security": [{}, {"bearer": []}],
                "responses": {"200": {"description": "the metrics"}, **_AUTH},
            }
        },
    )
    for probe in ("/healthz", "/readyz"):
        spec.path(
            path=probe,
            operations={"get": {"summary": "Probe", "responses": {"200": {"description": "ok"}}}},
        )
    return spec.to_dict()
