"""Log lines as JSON objects: one per line, whatever the values hold (no forged lines)."""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime
from typing import Any

import orjson

# Attributes every LogRecord has; anything else passed in `extra` is a field.
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """`{"ts", "level", "logger", "msg", ...extra}`: newlines in values stay escaped."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                line[key] = value
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(line, default=str).decode()


def install_json_handler(level: str) -> None:
    """The service's loggers (`policy_service.*`) write JSON lines on stderr from now on.

    Called by `policy-service serve` before its own start checks and by
    gunicorn's `post_fork` in each worker before the app is built, so even the
    first lines (the access-control warning, "ready") are JSON. Calling it
    again replaces the handler instead of doubling every line.
    """
    service = logging.getLogger("policy_service")
    for handler in list(service.handlers):
        if isinstance(handler.formatter, JsonFormatter):
            service.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    service.addHandler(handler)
    service.setLevel(level.upper())
    # gunicorn's own loggers keep their format; ours are not repeated through the root.
    service.propagate = False
