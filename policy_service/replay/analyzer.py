"""The analyzer replays use for signals an event leaves out: the one place to switch it."""

from __future__ import annotations

from datetime import UTC, datetime

from policy_service.analysis import Analyzer, DefaultsAnalyzer
from policy_service.analysis.factory import analyzer_from_settings
from policy_service.config import Settings
from policy_service.events import Author, Event


def replay_analyzer(settings: Settings | None = None) -> tuple[Analyzer, str]:
    """The analyzer the service is configured with (POLICY_ANALYZER, POLICY_ANALYZER_MODEL),
    and its name as decisions show it (`analyzer:<name>@<version>`, or `default`).

    A replay decides like the service it stands for; every filled signal also
    names its source in the decision.
    """
    settings = settings or Settings.from_env()
    analyzer = analyzer_from_settings(settings.analyzer, settings.analyzer_model)
    if isinstance(analyzer, DefaultsAnalyzer):
        return analyzer, "default (POLICY_ANALYZER=none: no text analysis)"
    probe = Event("probe", "probe", datetime(2026, 1, 1, tzinfo=UTC), Author("probe"), text="ok")
    return analyzer, analyzer.complete(probe, ("tone",))["tone"].source
