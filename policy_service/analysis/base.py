"""What an analyzer says about one comment text."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

TONES = ("positive", "neutral", "negative", "hostile")
TOPICS = ("safety", "legal", "data_leak", "discrimination", "outage", "refund")
LANGUAGES = ("en", "fr", "de")


@dataclass(slots=True, init=False)
class Analysis:
    """Every signal a text analyzer computes for one comment."""

    # One per comment: a written `__init__` is compiled, a generated one is
    # not, and a frozen one sets each field through object.__setattr__ (see
    # event_model); tests/test_value_classes.py holds it to value semantics.
    lang: str  # "en", "fr", "de", or "und" when it cannot tell
    tone: str  # one of TONES
    severity: int  # 0 harmless remark ... 5 threat, hate, safety or legal risk
    constructive: bool  # a concrete suggestion or a factual problem report
    arousal: float  # 0 calm and factual ... 1 shouting, insults, angry emoji
    topics: tuple[str, ...]  # crisis topics found, a subset of TOPICS, sorted
    # The tone before hostility is told apart: a number in [-1, 1] (negative
    # to positive) that a trained model may use as a feature.
    polarity: float

    def __init__(
        self,
        lang: str,
        tone: str,
        severity: int,
        constructive: bool,
        arousal: float,
        topics: tuple[str, ...],
        polarity: float = 0.0,
    ) -> None:
        self.lang = lang
        self.tone = tone
        self.severity = severity
        self.constructive = constructive
        self.arousal = arousal
        self.topics = topics
        self.polarity = polarity


class TextAnalyzer(Protocol):
    """Analyzes comment text offline; `name` and `version` mark the signals it fills."""

    name: str
    version: str

    def analyze(self, text: str, lang: str | None = None) -> Analysis:
        """All signals of `text`; `lang` is the caller's language code when known."""
        ...
