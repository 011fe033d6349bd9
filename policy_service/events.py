"""Comment events: the request format shared by the API, the replay tool and rule tests.

The marshmallow schemas here are the one definition of an event: the API
validates requests with them and builds its OpenAPI document from them, and
the command line validates event files with them without importing Flask.
"""

from __future__ import annotations

import math
from typing import Any

import marshmallow as ma

from policy_service.event_fast_path import fast_event
from policy_service.event_model import (
    ID_REGEX,
    LANG_PATTERN,
    MAX_CHANNEL_CHARS,
    MAX_REACH,
    MAX_SEVERITY,
    MAX_TEXT_CHARS,
    NO_SIGNALS,
    Author,
    CallerSignals,
    Event,
    Thread,
    is_valid_id,
)
from policy_service.ruleset.catalogue import AUTHOR_ROLES, TONES, TOPICS

__all__ = [
    "EVENT_SCHEMA",
    "ID_REGEX",
    "Author",
    "CallerSignals",
    "Event",
    "EventSchema",
    "Thread",
    "is_valid_id",
    "load_event",
    "parse_event",
]


def _validate_id(value: str) -> None:
    if not is_valid_id(value):
        raise ma.ValidationError("must be 1-64 letters, digits or the characters . _ : -")


def _validate_lang(value: str) -> None:
    if LANG_PATTERN.fullmatch(value) is None:
        raise ma.ValidationError("not a language tag such as en, fr or pt-BR")


class _DirectValidation(ma.fields.Field[Any]):
    """Calls the field's validators directly.

    marshmallow composes them into a new `And` on every value it validates,
    which for an event's twenty fields costs as much as the checks themselves.
    Errors are combined exactly as `And` combines them.
    """

    def _validate(self, value: Any) -> None:
        if not self.validators:
            return
        errors: list[Any] = []
        for validator in self.validators:
            try:
                validator(value)
            except ma.ValidationError as error:
                messages = error.messages
                errors.extend([messages] if isinstance(messages, dict) else messages)
        if errors:
            raise ma.ValidationError(errors)


class String(_DirectValidation, ma.fields.String):
    pass


class Integer(_DirectValidation, ma.fields.Integer):
    pass


class AwareDateTime(_DirectValidation, ma.fields.AwareDateTime):
    """An ISO 8601 time with a zone, and nothing around it.

    The parser stops at what it understands: a trailing NUL or control
    character would otherwise pass unnoticed.
    """

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if isinstance(value, str) and not value.isprintable():
            raise self.make_error("invalid", input=value, obj_type=self.OBJ_TYPE)
        return super()._deserialize(value, attr, data, **kwargs)


class Nested(_DirectValidation, ma.fields.Nested):
    pass


class Number(_DirectValidation, ma.fields.Float):
    """A JSON number (an integer is fine); strings and booleans are refused."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.make_error("invalid")
        try:
            number = float(value)
        except OverflowError:
            raise self.make_error("invalid") from None
        # NaN passes every range check: a rule test in YAML can write `.nan`.
        if not math.isfinite(number):
            raise self.make_error("invalid")
        return number


class List(_DirectValidation, ma.fields.List[Any]):
    pass


def _ident(description: str = "", **kwargs: Any) -> String:
    metadata = {"pattern": ID_REGEX, "maxLength": 64, "description": description}
    return String(validate=_validate_id, metadata=metadata, **kwargs)


class StrictBoolean(_DirectValidation, ma.fields.Boolean):
    """JSON true or false only: 1, "yes" or "true" are refused, not guessed."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise self.make_error("invalid")
        return value


class _StrictSchema(ma.Schema):
    class Meta:
        unknown = ma.RAISE


class AuthorSchema(_StrictSchema):
    id = _ident("author id on the channel", required=True)
    reach = Integer(
        strict=True,
        validate=ma.validate.Range(min=0, max=MAX_REACH),
        allow_none=True,
        metadata={"description": "followers or audience size"},
    )
    is_customer = StrictBoolean(allow_none=True)
    verified = StrictBoolean(allow_none=True)
    role = String(
        validate=ma.validate.OneOf(AUTHOR_ROLES),
        allow_none=True,
        metadata={"description": "public, staff or partner (a verified partner account)"},
    )


class ThreadSchema(_StrictSchema):
    id = _ident(allow_none=True)
    published_at = AwareDateTime(format="iso", allow_none=True)
    by_brand = StrictBoolean(allow_none=True)


class SignalsSchema(_StrictSchema):
    tone = String(validate=ma.validate.OneOf(TONES), allow_none=True)
    severity = Integer(
        strict=True, validate=ma.validate.Range(min=0, max=MAX_SEVERITY), allow_none=True
    )
    constructive = StrictBoolean(allow_none=True)
    arousal = Number(validate=ma.validate.Range(min=0, max=1), allow_none=True)
    topics = List(String(validate=ma.validate.OneOf(TOPICS)), allow_none=True)


class EventSchema(_StrictSchema):
    event_id = _ident("unique per account", required=True)
    account = _ident("brand, page or channel owner", required=True)
    occurred_at = AwareDateTime(
        format="iso", required=True, metadata={"description": "when the comment was posted"}
    )
    channel = String(validate=ma.validate.Length(max=MAX_CHANNEL_CHARS), allow_none=True)
    text = String(validate=ma.validate.Length(max=MAX_TEXT_CHARS), load_default="")
    lang = String(
        validate=_validate_lang, metadata={"pattern": LANG_PATTERN.pattern}, allow_none=True
    )
    author = Nested(AuthorSchema, required=True)
    thread = Nested(ThreadSchema, allow_none=True)
    signals = Nested(SignalsSchema)


EVENT_SCHEMA = EventSchema()


def parse_event(data: Any) -> Event:
    """Validate `data` (decoded JSON) into an Event; raises ma.ValidationError."""
    # Most events are plainly valid: the fast path takes those at a tenth of
    # marshmallow's cost, and leaves everything else (errors and their
    # messages included) to the schema. Both give equal Events (tested).
    return fast_event(data) or load_event(data)


def load_event(data: Any) -> Event:
    """`data` validated by the schema itself; raises ma.ValidationError."""
    # Built here rather than in post_load hooks: marshmallow's processor
    # machinery costs more than the validation of a whole event.
    loaded: dict[str, Any] = EVENT_SCHEMA.load(data)
    loaded["author"] = Author(**loaded["author"])
    if loaded.get("thread") is not None:
        loaded["thread"] = Thread(**loaded["thread"])
    signals = loaded.get("signals")
    if signals and signals.get("topics") is not None:
        signals["topics"] = tuple(sorted(set(signals["topics"])))
    loaded["signals"] = CallerSignals(**signals) if signals else NO_SIGNALS
    return Event(**loaded)
