"""One error shape for every HTTP error: application/problem+json (RFC 9457)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import marshmallow as ma
from flask import Flask, Response, json
from werkzeug.exceptions import HTTPException

from policy_service.errors import RateLimited
from policy_service.ratelimit import retry_after_header

log = logging.getLogger(__name__)

PROBLEM_TYPE = "application/problem+json"


class ApiProblem(Exception):
    """An error to answer with a problem document."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str,
        errors: Mapping[str, list[str]] | None = None,
        retry_after_seconds: float | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.title = title
        self.detail = detail
        self.errors = dict(errors or {})
        self.retry_after_seconds = retry_after_seconds  # a 429's Retry-After

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": "about:blank",
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if self.errors:
            body["errors"] = self.errors
        return body


def validation_problem(error: ma.ValidationError, what: str = "event") -> ApiProblem:
    """A 422 problem naming every offending field by its dotted path."""
    errors = flatten_messages(error.messages)
    fields = ", ".join(sorted(errors))
    return ApiProblem(422, "Invalid " + what, f"The {what} has invalid fields: {fields}", errors)


def flatten_messages(messages: Any, prefix: str = "") -> dict[str, list[str]]:
    """marshmallow's nested messages as {"author.id": ["..."]}."""
    if isinstance(messages, Mapping):
        flat: dict[str, list[str]] = {}
        for key, value in messages.items():
            path = f"{prefix}.{key}" if prefix else str(key)
            flat.update(flatten_messages(value, path))
        return flat
    if isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        return {prefix or "_body": list(messages)}
    return {prefix or "_body": [str(messages)]}


def problem_response(problem: ApiProblem) -> Response:
    response = Response(json.dumps(problem.to_json()), problem.status, mimetype=PROBLEM_TYPE)
    if problem.retry_after_seconds is not None:
        response.headers["Retry-After"] = retry_after_header(problem.retry_after_seconds)
    return response


def too_many_requests(exc: RateLimited) -> ApiProblem:
    """The 429 problem of a refused request or event."""
    return ApiProblem(
        429, "Too Many Requests", str(exc) + ".", retry_after_seconds=exc.retry_after_seconds
    )


def register_error_handlers(app: Flask) -> None:
    """Every error, expected or not, leaves as a problem document."""

    @app.errorhandler(ApiProblem)
    def _api_problem(problem: ApiProblem) -> Response:
        return problem_response(problem)

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> Response:
        status = exc.code or 500
        detail = exc.description or exc.name
        if status == 413:
            detail = "The request body is larger than this endpoint accepts."
        response = problem_response(ApiProblem(status, exc.name, detail))
        if status == 405 and exc.get_response().headers.get("Allow"):
            response.headers["Allow"] = exc.get_response().headers["Allow"]
        return response

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        log.exception("unexpected error")
        return problem_response(
            ApiProblem(500, "Internal Server Error", "The service failed; the error is logged.")
        )
