"""HTTP endpoints: thin adapters from requests to the Evaluator and back."""

from __future__ import annotations

import logging
import time
from typing import Any

import marshmallow as ma
import orjson
from flask import Blueprint, Flask, Request, Response, current_app, g, jsonify, request
from werkzeug.exceptions import RequestEntityTooLarge

from policy_service.api.auth import Access, AuthError
from policy_service.api.openapi import build_spec
from policy_service.api.problems import (
    ApiProblem,
    problem_response,
    too_many_requests,
    validation_problem,
)
from policy_service.api.schemas import BatchRequestSchema
from policy_service.errors import EventError, RateLimited, StoreUnavailable
from policy_service.events import is_valid_id, parse_event
from policy_service.loaded_policy import PolicyHolder
from policy_service.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from policy_service.ratelimit import retry_after_header
from policy_service.reloader import Reloader
from policy_service.services import Services

MAX_EVENT_BYTES = 64 * 1024
MAX_BATCH_BYTES = 4 * 1024 * 1024
# Whom the per-token rate limit counts when access control is off (development).
OPEN_CALLER = "(no token)"

log = logging.getLogger(__name__)
bp = Blueprint("api", __name__)
_BATCH_SCHEMA = BatchRequestSchema()


# Where create_app keeps the process's services and access rules in app.extensions.
SERVICES_KEY = "policy_service"
ACCESS_KEY = "policy_service.access"


def app_extensions() -> dict[str, Any]:
    """The current app's extensions, read from the app object itself.

    An attribute read through the `current_app` proxy first fails on the
    proxy (Python builds an AttributeError and its message), then the proxy's
    `__getattr__` looks the app up: several microseconds, twice per decision.
    """
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    return app.extensions


def services() -> Services:
    found: Services = app_extensions()[SERVICES_KEY]
    return found


def access() -> Access:
    found: Access = app_extensions()[ACCESS_KEY]
    return found


def current_request() -> Request:
    """The request object itself, for a function that reads several of its attributes.

    Every attribute read through the `request` proxy looks the request up in
    its context again (about half a microsecond each): the decision
    endpoint's hooks and view read it once.
    """
    found: Request = request._get_current_object()  # type: ignore[attr-defined]
    return found


@bp.before_request
def _authorize() -> Response | None:
    """401 without a valid bearer token, 403 when its scope does not cover the view;
    then the token's rate limit (429)."""
    extensions = app_extensions()
    guard: Access = extensions[ACCESS_KEY]
    req = current_request()
    endpoint = req.endpoint
    scope: str | None = None
    try:
        scope = guard.required_scope(endpoint)
        if scope is None:
            return None
        caller = OPEN_CALLER
        if guard.registry is not None:
            # The environ's entry is what req.headers.get("Authorization") reads.
            header = req.environ.get("HTTP_AUTHORIZATION")
            caller = guard.registry.authorize(header, scope).name
    except AuthError as exc:
        title = "Unauthorized" if exc.status == 401 else "Forbidden"
        response = problem_response(ApiProblem(exc.status, title, exc.detail))
        challenge = 'Bearer realm="policy-service"'
        if exc.status == 403:
            challenge += ', error="insufficient_scope"'
            if scope is not None:
                challenge += f', scope="{scope}"'
        response.headers["WWW-Authenticate"] = challenge
        return response
    if endpoint == "api.decide_batch":
        g.caller = caller  # a batch pays one permit per event, once its size is known
    else:
        _spend_token_permits(extensions[SERVICES_KEY], caller, 1)
    return None


def _spend_token_permits(svc: Services, caller: str, permits: int) -> None:
    """429 when the caller's token has no permits left in this window."""
    limiter = svc.token_limiter
    if limiter is None:
        return
    wait = limiter.acquire(caller, permits)
    if wait:
        svc.metrics.rate_limited("token")
        raise too_many_requests(RateLimited(f"token {caller!r}", wait))


@bp.after_app_request
def _count_request(response: Response) -> Response:
    # The route template, not the path: one series per endpoint, whatever the account.
    url_rule = current_request().url_rule
    rule = url_rule.rule if url_rule is not None else "unmatched"
    services().metrics.request(rule, response.status_code)
    return response


def _json_body(limit: int) -> Any:
    """The request's JSON document; 415, 413 or 400 problems otherwise."""
    req = current_request()
    # The header as callers send it is taken as it is; anything else (with
    # parameters, other case) is parsed by werkzeug.
    if req.environ.get("CONTENT_TYPE") != "application/json" and req.mimetype != "application/json":
        raise ApiProblem(
            415,
            "Unsupported Media Type",
            f"Send the body as application/json, not {req.mimetype or 'nothing'}.",
        )
    raw = _body_bytes(req, limit)
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ApiProblem(
            400,
            "Bad Request",
            f"The body is not valid JSON (UTF-8): {exc.msg} at line {exc.lineno} "
            f"column {exc.colno}.",
        ) from None


def _body_bytes(req: Request, limit: int) -> bytes:
    """The request body, at most `limit` bytes; 413 beyond."""
    environ = req.environ
    declared = environ.get("CONTENT_LENGTH")
    stream = environ["wsgi.input"]
    # Read straight from the server's input where PEP 3333 allows it: exactly
    # CONTENT_LENGTH bytes, or to the end when the server marks the input as
    # terminated (gunicorn does, for chunked bodies). werkzeug's stream around
    # it costs about 4 % of a decision (bench/README.md), and for a chunked
    # body over the limit it returns the first `limit` bytes, not a 413.
    if declared:
        if len(declared) <= 9 and declared.isascii() and declared.isdigit():
            length = int(declared)
            if length > limit:
                raise RequestEntityTooLarge()
            body = _read(stream, length)
            if len(body) < length:
                raise _cut_off(f"{len(body)} of the {length} bytes its Content-Length declares")
            return body
    elif environ.get("wsgi.input_terminated"):
        body = _read(stream, limit + 1)
        if len(body) > limit:
            raise RequestEntityTooLarge()
        return body
    # A length that is not a plain number, or no body at all: werkzeug's
    # reading (400 or 413, or an empty body).
    req.max_content_length = limit
    return req.get_data(cache=False)


def _read(stream: Any, size: int) -> bytes:
    """Up to `size` bytes of the body; a 400 when the client's body breaks off."""
    try:
        body: bytes = stream.read(size)
    except Exception as exc:
        # Only the client's side can fail here: a connection closed in the
        # middle of the body, or chunked framing the server cannot parse
        # (gunicorn raises its own errors for both). werkzeug's stream made
        # the first a 400 too.
        raise _cut_off(f"it could not be read ({type(exc).__name__})") from None
    return body


def _cut_off(why: str) -> ApiProblem:
    return ApiProblem(400, "Bad Request", f"The request body is incomplete: {why}.")


def _decide(svc: Services, data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise ApiProblem(422, "Invalid event", "An event must be a JSON object.")
    try:
        event = parse_event(data)
    except ma.ValidationError as exc:
        raise validation_problem(exc) from None
    try:
        decision, duplicate = svc.evaluator.decide(event)
    except RateLimited as exc:
        svc.metrics.rate_limited("account")
        raise too_many_requests(exc) from None
    except EventError as exc:
        raise ApiProblem(422, "Cannot decide", str(exc)) from None
    decision["duplicate"] = duplicate
    return decision


def _json_response(body: Any) -> Response:
    # orjson: the answer's encoding is a visible share of a decision's cost.
    return Response(orjson.dumps(body), mimetype="application/json")


def _log_decision(svc: Services, decision: dict[str, Any], started: float) -> None:
    elapsed = time.perf_counter() - started
    metrics = svc.metrics
    # What the rails did is counted once per event: a duplicate repeats it.
    fresh = not decision["duplicate"]
    metrics.decision(
        decision["action"],
        decision["rule"],
        elapsed,
        degraded=bool(decision["degraded"]),
        rail=decision.get("rail") if fresh else None,
        folded=fresh and bool(decision.get("folded")),
    )
    if decision.get("state_problems"):
        metrics.store_error()
    if not log.isEnabledFor(logging.INFO):
        return
    # Ids, outcome and timing only: never the comment text (people's words)
    # nor anything from the request headers (the bearer token).
    log.info(
        "decision",
        extra={
            "event_id": decision["event_id"],
            "account": decision["account"],
            "action": decision["action"],
            "rule": decision["rule"],
            "revision": decision["ruleset"]["revision"],
            "duplicate": decision["duplicate"],
            "degraded": decision["degraded"],
            "rail": decision.get("rail"),
            "folded": decision.get("folded"),
            "latency_ms": round(elapsed * 1000, 3),
        },
    )


@bp.post("/v1/decisions")
def decide_one() -> Response:
    started = time.perf_counter()
    svc = services()
    decision = _decide(svc, _json_body(MAX_EVENT_BYTES))
    _log_decision(svc, decision, started)
    return _json_response(decision)


@bp.post("/v1/decisions/batch")
def decide_batch() -> Response:
    body = _json_body(MAX_BATCH_BYTES)
    if not isinstance(body, dict):
        raise ApiProblem(422, "Invalid batch", 'A batch must be a JSON object: {"events": [...]}.')
    try:
        events = _BATCH_SCHEMA.load(body)["events"]
    except ma.ValidationError as exc:
        raise validation_problem(exc, "batch") from None
    svc = services()
    _spend_token_permits(svc, g.get("caller", OPEN_CALLER), len(events))
    results: list[dict[str, Any]] = []
    retry_after: float | None = None
    for item in events:
        started = time.perf_counter()
        try:
            decision = _decide(svc, item)
        except ApiProblem as problem:
            results.append({"error": problem.to_json()})
            if problem.retry_after_seconds is not None:
                retry_after = max(retry_after or 0.0, problem.retry_after_seconds)
            continue
        _log_decision(svc, decision, started)
        results.append(decision)
    response = _json_response({"results": results})
    if retry_after is not None:
        # Some events were refused by their account's rate limit: when to send them again.
        response.headers["Retry-After"] = retry_after_header(retry_after)
    return response


@bp.get("/v1/accounts/<account>/state")
def account_state(account: str) -> Response:
    if not is_valid_id(account):
        raise ApiProblem(
            422,
            "Invalid account",
            "An account id is 1-64 letters, digits or the characters . _ : -",
            {"account": ["invalid id"]},
        )
    try:
        return jsonify(services().store.account_state(account))
    except StoreUnavailable as exc:
        services().metrics.store_error()
        raise ApiProblem(
            503, "Service Unavailable", f"The state store is unavailable: {exc}"
        ) from None


def policy_json(holder: PolicyHolder, reloader: Reloader | None) -> dict[str, Any]:
    active = holder.current()
    body: dict[str, Any] = {
        "revision": active.revision,
        "loaded_at": active.loaded_at.isoformat(),
        "default": active.policy.default_ruleset,
        "accounts": len(active.policy.accounts),
        "rulesets": [
            {
                "name": name,
                "path": loaded.ruleset.path,
                "revision": active.revision,
                "loaded_at": active.loaded_at.isoformat(),
                "rules": len(loaded.ruleset.rules),
                "tests": len(loaded.ruleset.tests),
                "warnings": [str(w) for w in loaded.ruleset.warnings],
            }
            for name, loaded in sorted(active.rulesets.items())
        ],
    }
    if reloader is not None:
        body["last_reload"] = reloader.status.to_json()
    return body


@bp.get("/v1/rulesets")
def rulesets() -> Response:
    svc = services()
    body = policy_json(svc.policies, svc.reloader)
    if svc.shadow is not None and svc.shadow_policies is not None:
        # A summary: which rules would act otherwise is for admins
        # (GET /v1/admin/shadow, api/admin.py says why).
        report = svc.shadow.report()
        body["shadow"] = {
            "revision": svc.shadow_policies.current().revision,
            "compared": report["compared"],
            "differing": sum(d["count"] for d in report["differences"]),
            "errors": report["errors"],
        }
    return jsonify(body)


@bp.post("/v1/admin/reload")
def reload_rules() -> Response:
    """Reload the rules now (the watcher also does it when files change)."""
    svc = services()
    status = svc.reloader.reload()
    svc.metrics.reload_seen(status, status.outcome)
    if svc.shadow_reloader is not None:
        svc.shadow_reloader.reload()
    if status.outcome == "refused":
        raise ApiProblem(
            422,
            "Rules refused",
            f"The new rules were refused; revision {svc.policies.current().revision} keeps serving.",
            {"rules": status.errors},
        )
    return jsonify({"revision": svc.policies.current().revision, **status.to_json()})


@bp.get("/healthz")
def healthz() -> Response:
    return jsonify({"status": "ok"})


@bp.get("/readyz")
def readyz() -> Response:
    svc = services()
    checks = {
        "rules": svc.policies.current().revision,
        "store": "up" if svc.store.ping() else "down",
    }
    ready = checks["store"] == "up"
    response = jsonify({"status": "ready" if ready else "not ready", "checks": checks})
    response.status_code = 200 if ready else 503
    return response


@bp.get("/openapi.json")
def openapi() -> Response:
    cache = app_extensions().setdefault("policy_service.openapi", build_spec())
    return jsonify(cache)


@bp.get("/metrics")
def metrics() -> Response:
    """Prometheus text format 0.0.4; this process's numbers only (see policy_service/metrics.py)."""
    svc = services()
    status = svc.reloader.status
    svc.metrics.reload_seen(status, status.outcome)
    text = svc.metrics.render(svc.policies.current().revision)
    return Response(text, content_type=METRICS_CONTENT_TYPE)
