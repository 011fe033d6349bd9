"""The fields rule conditions may name, with their types; the single source for docs too."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from functools import cache


class Kind(Enum):
    """How a field's values look, which decides the operators it allows."""

    INTEGER = "integer"
    NUMBER = "number"
    MINUTES = "minutes"  # a number of minutes; rule values may be durations ("2h")
    BOOL = "bool"
    ENUM = "enum"
    STRING = "string"
    TEXT = "text"  # free comment text: matched by words, never compared whole
    SET = "set"  # a set of labels from `values` (e.g. crisis topics)


TONES = ("positive", "neutral", "negative", "hostile")
TOPICS = ("safety", "legal", "data_leak", "discrimination", "outage", "refund")
CRISIS_LEVELS = ("calm", "watch", "crisis", "recovery")
ACTIONS = ("ignore", "acknowledge", "reply_to_fans", "escalate")
# Who the author is to the brand, as the caller knows it: rails may exempt staff
# and verified partners from automated actions.
AUTHOR_ROLES = ("public", "staff", "partner")

# durable_rules' JSON reader refuses exponents (1e-05, 1E+2: "error code 204"),
# which Python writes for floats below 1e-4 or from 1e16 in magnitude: rule
# values must stay inside, and facts are brought inside by the engine module.
FLOAT_MIN_MAGNITUDE = 1e-4
FLOAT_MAX_MAGNITUDE = 1e15


def engine_readable(value: float) -> bool:
    """True when the engine reads `value` as written (Python writes it without an exponent)."""
    return value == 0 or FLOAT_MIN_MAGNITUDE <= abs(value) < FLOAT_MAX_MAGNITUDE


ORDERED_OPS = ("eq", "ne", "in", "not_in", "gt", "gte", "lt", "lte", "between")
OPERATORS: dict[Kind, tuple[str, ...]] = {
    Kind.INTEGER: ORDERED_OPS,
    Kind.NUMBER: ORDERED_OPS,
    Kind.MINUTES: ORDERED_OPS,
    Kind.BOOL: ("eq", "ne"),
    Kind.ENUM: ("eq", "ne", "in", "not_in"),
    Kind.STRING: ("eq", "ne", "in", "not_in"),
    Kind.TEXT: ("contains_any", "matches"),
    Kind.SET: ("contains_any",),
}
ALL_OPERATORS = tuple(sorted({op for ops in OPERATORS.values() for op in ops}))


@dataclass(frozen=True)
class Field:
    """One field of the decision fact."""

    name: str
    kind: Kind
    description: str
    values: tuple[str, ...] = ()  # allowed values of an ENUM
    minimum: float | None = None
    maximum: float | None = None


FIELDS: tuple[Field, ...] = (
    Field("event.channel", Kind.STRING, "where the comment was posted (instagram, x, ...)"),
    Field("event.text", Kind.TEXT, "the comment text, matched case-insensitively by words"),
    Field("event.text_length", Kind.INTEGER, "number of characters in the text", minimum=0),
    Field("author.reach", Kind.INTEGER, "followers or audience of the author", minimum=0),
    Field("author.is_customer", Kind.BOOL, "the author is a known customer"),
    Field("author.verified", Kind.BOOL, "the author's account is verified"),
    Field(
        "author.role",
        Kind.ENUM,
        "who the author is to the brand: public, staff or (verified) partner",
        values=AUTHOR_ROLES,
    ),
    Field(
        "author.is_multiplier",
        Kind.BOOL,
        "reach is at or above the rule set's thresholds.multiplier_reach",
    ),
    Field("thread.by_brand", Kind.BOOL, "the comment answers a post of the brand itself"),
    Field("signals.tone", Kind.ENUM, "emotional tone of the comment", values=TONES),
    Field(
        "signals.severity",
        Kind.INTEGER,
        "0 harmless remark ... 5 threat, hate, safety or legal risk",
        minimum=0,
        maximum=5,
    ),
    Field("signals.constructive", Kind.BOOL, "a concrete suggestion or factual problem report"),
    Field(
        "signals.arousal",
        Kind.NUMBER,
        "0 calm and factual ... 1 shouting, insults, angry emoji",
        minimum=0,
        maximum=1,
    ),
    Field("signals.topics", Kind.SET, "crisis topics found in the comment", values=TOPICS),
    Field("signals.lang", Kind.STRING, "language of the comment: the caller's, or detected"),
    Field("state.crisis_level", Kind.ENUM, "crisis level of the account", values=CRISIS_LEVELS),
    Field("state.volume_1h", Kind.INTEGER, "comments to the account in the last hour", minimum=0),
    Field("state.negative_1h", Kind.INTEGER, "negative or hostile comments, last hour", minimum=0),
    Field("state.hostile_1h", Kind.INTEGER, "hostile comments, last hour", minimum=0),
    Field("state.positive_1h", Kind.INTEGER, "positive comments, last hour", minimum=0),
    Field(
        "state.negative_share_1h",
        Kind.NUMBER,
        "negative_1h / volume_1h (0 without comments)",
        minimum=0,
        maximum=1,
    ),
    Field(
        "state.non_customer_share_1h",
        Kind.NUMBER,
        "share of last-hour comments from authors known not to be customers",
        minimum=0,
        maximum=1,
    ),
    Field(
        "state.multipliers_1h",
        Kind.INTEGER,
        "distinct multipliers who posted a negative comment in the last hour",
        minimum=0,
    ),
    Field("state.volume_24h", Kind.INTEGER, "comments in the last 24 hours", minimum=0),
    Field(
        "state.velocity",
        Kind.NUMBER,
        "volume_1h against the hourly baseline of the 23 hours before (baseline at least 1)",
        minimum=0,
    ),
    Field(
        "state.author_negative_24h",
        Kind.INTEGER,
        "negative comments of this author to the account in 24 hours, this one included",
        minimum=0,
    ),
    Field(
        "state.thread_negative_1h",
        Kind.INTEGER,
        "negative comments on this comment's thread in the last hour, this one included",
        minimum=0,
    ),
    Field(
        "time.minutes_since_comment",
        Kind.MINUTES,
        "minutes from the comment's occurred_at to now (0 when it is in the future)",
        minimum=0,
    ),
    Field(
        "time.minutes_since_post",
        Kind.MINUTES,
        "minutes from thread.published_at to now; absent when the post time is unknown",
        minimum=0,
    ),
    Field(
        "time.minutes_in_crisis",
        Kind.MINUTES,
        "minutes since the account entered crisis; absent unless in crisis or recovery",
        minimum=0,
    ),
    Field(
        "time.is_stale",
        Kind.BOOL,
        "the comment is older than the rule set's thresholds.stale_after",
    ),
)

BY_NAME: dict[str, Field] = {f.name: f for f in FIELDS}

# Crisis-level conditions may name only the numeric windows: the level itself
# (and anything per comment) would make the level depend on itself.
CRISIS_FIELDS: frozenset[str] = frozenset(
    f.name for f in FIELDS if f.name.startswith("state.") and f.kind is not Kind.ENUM
)


@cache
def fold_text(text: str) -> str:
    """Text as `contains_any` and `matches` read it: case-folded (in every
    alphabet), runs of white space as one space. Rule words and comment text
    are folded alike, so matching ignores case and spacing."""
    return " ".join(text.casefold().split())


def engine_key(name: str) -> str:
    """The key a catalogue field has in the flat fact handed to the engine."""
    return name.replace(".", "__")


def set_member_key(key: str, member: str) -> str:
    """The fact key saying that the set at engine key `key` holds `member`."""
    return f"{key}__{member}"
