"""The OpenAPI document, generated from the same marshmallow schemas that validate."""

from __future__ import annotations

from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin

from policy_service import __version__
from policy_service.api import schemas
from policy_service.events import EventSchema


def _problem(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/problem+json": {"schema": "Problem"}},
    }


def build_spec() -> dict[str, Any]:
    spec = APISpec(
        title="policy-service",
        version=__version__,
        openapi_version="3.0.3",
        plugins=[MarshmallowPlugin()],
        info={"description": "Decides what to do with each social-media comment, and why."},
    )
    spec.components.schema("Event", schema=EventSchema)
    spec.components.schema("Decision", schema=schemas.DecisionSchema)
    spec.components.schema("Problem", schema=schemas.ProblemSchema)
    spec.components.schema("BatchRequest", schema=schemas.BatchRequestSchema)
    spec.components.schema("BatchResponse", schema=schemas.BatchResponseSchema)
    spec.components.schema("BatchItemError", schema=schemas.BatchItemErrorSchema)
    bad_input = {
        "400": _problem("malformed JSON"),
        "413": _problem("body too large"),
        "415": _problem("content type is not application/json"),
        "422": _problem("invalid fields"),
    }
    spec.path(
        path="/v1/decisions",
        operations={
            "post": {
                "summary": "Decide on one comment event",
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": "Event"}},
                },
                "responses": {
                    "200": {
                        "description": "the decision",
                        "content": {"application/json": {"schema": "Decision"}},
                    },
                    **bad_input,
                },
            }
        },
    )
    spec.path(
        path="/v1/decisions/batch",
        operations={
            "post": {
                "summary": f"Decide on up to {schemas.MAX_BATCH_EVENTS} events, in order",
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": "BatchRequest"}},
                },
                "responses": {
                    "200": {
                        "description": "one result per event: a Decision or a BatchItemError",
                        "content": {"application/json": {"schema": "BatchResponse"}},
                    },
                    **bad_input,
                },
            }
        },
    )
    spec.path(
        path="/v1/accounts/{account}/state",
        operations={
            "get": {
                "summary": "The account's crisis level and windows",
                "parameters": [
                    {
                        "name": "account",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string"},
                    }
                ],
                "responses": {
                    "200": {"description": "the account state"},
                    "422": _problem("invalid account id"),
                },
            }
        },
    )
    spec.path(
        path="/v1/rulesets",
        operations={
            "get": {"summary": "Loaded rule sets", "responses": {"200": {"description": "ok"}}}
        },
    )
    for probe in ("/healthz", "/readyz"):
        spec.path(
            path=probe,
            operations={"get": {"summary": "Probe", "responses": {"200": {"description": "ok"}}}},
        )
    return spec.to_dict()
