"""The analyzer a service or a tool is configured with."""

from __future__ import annotations

from pathlib import Path

from policy_service.analysis import Analyzer, DefaultsAnalyzer, TextSignals
from policy_service.analysis.base import TextAnalyzer
from policy_service.analysis.lexicon import LexiconAnalyzer
from policy_service.analysis.trained import TrainedAnalyzer


def analyzer_from_settings(name: str, model_dir: str = "") -> Analyzer:
    """`lexicon` (the default) analyzes the text offline; a trained tone model,
    when given, takes the tone and leaves every other signal to the lexicon;
    `none` fills missing signals with neutral defaults, marked as such."""
    if name == "none":
        return DefaultsAnalyzer()
    text_analyzer: TextAnalyzer = LexiconAnalyzer()
    if model_dir:
        text_analyzer = TrainedAnalyzer.from_directory(Path(model_dir), base=text_analyzer)
    return TextSignals(text_analyzer)
