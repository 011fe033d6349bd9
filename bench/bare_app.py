"""The baseline of bench/decisions.py: Flask under gunicorn and nothing else.

It reads the request body as a Flask view usually does (`request.get_data`,
then orjson.loads) and answers a small JSON object, so the difference to the
service is the service's own work: validation, the rule engine, the state
store and the size of its answer. (The service reads a body of declared
length from the WSGI input directly, which costs less than werkzeug's
stream: see bench/README.md, "instructions.py".)
"""

from __future__ import annotations

import orjson
from flask import Flask, Response, jsonify, request


def create_app() -> Flask:
    app = Flask(__name__)

    @app.post("/v1/decisions")
    def decide() -> Response | tuple[Response, int]:
        event = orjson.loads(request.get_data(cache=False))
        if not isinstance(event, dict):
            return jsonify({"error": "an event must be a JSON object"}), 422
        return jsonify({"event_id": event.get("event_id"), "action": "ignore", "duplicate": False})

    return app
