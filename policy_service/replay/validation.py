"""Event validation for files: parse_event's verdict as one readable line."""

from __future__ import annotations

from typing import Any

import marshmallow as ma

from policy_service.events import Event, parse_event


def describe_errors(messages: Any, path: str = "") -> str:
    """marshmallow's nested error messages as `field.path: message; ...`, in field order."""
    parts: list[str] = []
    _flatten(messages, path, parts)
    return "; ".join(parts)


def _flatten(messages: Any, path: str, parts: list[str]) -> None:
    if isinstance(messages, dict):
        for key, value in messages.items():
            name = "" if key == "_schema" else str(key)
            _flatten(value, f"{path}.{name}" if path and name else path or name, parts)
    elif isinstance(messages, list | tuple):
        texts = [m for m in messages if not isinstance(m, dict | list | tuple)]
        if texts:
            label = f"{path}: " if path else ""
            parts.append(label + " ".join(str(t).rstrip(".") for t in texts))
        for nested in messages:
            if isinstance(nested, dict | list | tuple):
                _flatten(nested, path, parts)
    else:
        parts.append(f"{path}: {messages}" if path else str(messages))


def check_event(data: Any) -> Event | str:
    """The validated event, or why the API would refuse it (one line)."""
    if not isinstance(data, dict):
        return "not a JSON object"
    try:
        return parse_event(data)
    except ma.ValidationError as exc:
        return describe_errors(exc.messages)
