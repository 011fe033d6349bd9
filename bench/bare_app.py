"""The baselines of bench/decisions.py: Flask under gunicorn and nothing else, or with one Redis round trip.

`create_app` reads the request body as a Flask view usually does
(`request.get_data`, then orjson.loads) and answers a small JSON object, so
the difference to the service is the service's own work: validation, the rule
engine, the state store and the size of its answer. (The service reads a body
of declared length from the WSGI input directly, which costs less than
werkzeug's stream: see bench/README.md, "instructions.py".)

`create_app_with_redis` does the same plus the least a shared store costs a
decision: one command and its reply, the event id's `SET ... NX` that
deduplicates, on a connection the worker keeps (as the service's Redis store
keeps one). It is a part of the Redis target's cost measured on its own
(decisions.py --parts), not a baseline.
"""

from __future__ import annotations

import os
import threading

import orjson
import redis
from flask import Flask, Response, jsonify, request

# The variable decisions.py sets for create_app_with_redis: the benchmark's redis-server.
REDIS_URL_VARIABLE = "BARE_REDIS_URL"


def create_app() -> Flask:
    app = Flask(__name__)

    @app.post("/v1/decisions")
    def decide() -> Response | tuple[Response, int]:
        event = orjson.loads(request.get_data(cache=False))
        if not isinstance(event, dict):
            return jsonify({"error": "an event must be a JSON object"}), 422
        return jsonify({"event_id": event.get("event_id"), "action": "ignore", "duplicate": False})

    return app


def create_app_with_redis() -> Flask:
    app = Flask(__name__)
    client = redis.Redis.from_url(
        os.environ[REDIS_URL_VARIABLE], socket_timeout=0.25, socket_connect_timeout=0.25
    )
    pinned = threading.local()

    def first_seen(event_id: str) -> bool:
        connection = getattr(pinned, "connection", None)
        if connection is None or pinned.pid != os.getpid():
            connection = pinned.connection = client.connection_pool.get_connection()
            pinned.pid = os.getpid()
        key = f"bare:ev:{event_id}"
        connection.send_command("SET", key, "", "PX", 60_000, "NX")
        return connection.read_response() is not None

    @app.post("/v1/decisions")
    def decide() -> Response | tuple[Response, int]:
        event = orjson.loads(request.get_data(cache=False))
        if not isinstance(event, dict):
            return jsonify({"error": "an event must be a JSON object"}), 422
        event_id = str(event.get("event_id"))
        duplicate = not first_seen(event_id)
        return jsonify({"event_id": event_id, "action": "ignore", "duplicate": duplicate})

    return app
