"""The replay summary as plain text for the terminal."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime

from policy_service.replay.compare import Comparison, ExpectCheck
from policy_service.replay.runner import ReplayResult
from policy_service.replay.summary import Summary
from policy_service.ruleset.catalogue import ACTIONS

TOP_RULES = 8
GROUPS_SHOWN = 15
MISMATCHES_SHOWN = 50
EXAMPLES_SHOWN = 3


def n(value: int) -> str:
    return f"{value:,}"


def pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "0%"


def when(at: datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M")


def action_mix(summary: Summary) -> str:
    parts = [
        f"{action} {n(summary.actions[action])} ({pct(summary.actions[action], summary.events)})"
        for action in ACTIONS
        if summary.actions[action]
    ]
    return ", ".join(parts) or "none"


def top_rules(summary: Summary, limit: int = TOP_RULES) -> str:
    common = summary.rules.most_common()
    parts = [f"{rule} {n(count)}" for rule, count in common[:limit]]
    if len(common) > limit:
        parts.append(f"{len(common) - limit} more")
    return ", ".join(parts) or "none"


def signal_sources(summary: Summary) -> str:
    """E.g. `caller: tone; default: lang, severity` or per signal when sources are mixed."""
    by_signal: dict[str, Counter[str]] = defaultdict(Counter)
    for (name, source), count in summary.signal_sources.items():
        by_signal[name][source] += count
    single: dict[str, list[str]] = defaultdict(list)
    mixed: list[str] = []
    for name, sources in by_signal.items():
        if len(sources) == 1:
            single[next(iter(sources))].append(name)
        else:
            detail = ", ".join(f"{s} {n(c)}" for s, c in sorted(sources.items()))
            mixed.append(f"{name} ({detail})")
    parts = [f"{source}: {', '.join(names)}" for source, names in sorted(single.items())]
    return "; ".join(parts + mixed) or "none"


def episodes_lines(summary: Summary) -> list[str]:
    end = summary.end_time()
    lines: list[str] = []
    width = max((len(a.account) for a in summary.accounts.values()), default=0)
    for account in summary.accounts_by_volume():
        if not account.episodes:
            lines.append(
                f"    {account.account:<{width}}  none (level at the end: {account.level})"
            )
            continue
        for i, episode in enumerate(account.episodes):
            name = account.account if i == 0 else ""
            until = (
                f"{when(episode.end)}" if episode.end else f"still open at {when(end)} (last event)"
            )
            neg = pct(episode.negative, episode.events)
            lines.append(
                f"    {name:<{width}}  {when(episode.start)} -> {until} UTC: "
                f"{episode.hours(end):.1f} h, {n(episode.events)} events, {neg} negative, "
                f"{n(episode.escalated)} escalated, up to {n(episode.peak_volume_1h)} per hour"
            )
    return lines


def accounts_line(summary: Summary) -> str:
    count = len(summary.accounts)
    unmapped = summary.unmapped_accounts()
    default = summary.default_ruleset
    if not unmapped:
        return f"{n(count)}, each named in accounts.yaml"
    if not summary.has_mapping:
        return (
            f"{n(count)}; no accounts.yaml, so every account was decided by the default "
            f"rule set {default!r}"
        )
    shown = ", ".join(unmapped[:10]) + (
        f" and {len(unmapped) - 10} more" if len(unmapped) > 10 else ""
    )
    return (
        f"{n(count)}; {len(unmapped)} without a mapping in accounts.yaml were decided by the "
        f"default rule set {default!r}: {shown}"
    )


def comparison_lines(comparison: Comparison, examples: int = EXAMPLES_SHOWN) -> list[str]:
    lines = [
        f"  differences  {n(comparison.differing)} of {n(comparison.compared)} events "
        f"({pct(comparison.differing, comparison.compared)}) differ in action, rule or route"
    ]
    groups = comparison.sorted_groups()
    for group in groups[:GROUPS_SHOWN]:
        ids = ", ".join(f"{e.account}/{e.event_id}" for e in group.examples[:examples])
        lines.append(f"    {group.label()}: {n(group.count)} events; e.g. {ids}")
    if len(groups) > GROUPS_SHOWN:
        rest = sum(g.count for g in groups[GROUPS_SHOWN:])
        lines.append(f"    ... {len(groups) - GROUPS_SHOWN} more groups ({n(rest)} events)")
    return lines


def expectation_lines(expect: ExpectCheck) -> list[str]:
    lines = [
        f"  expectations {n(len(expect))} expected, {n(expect.checked)} checked, "
        f"{n(expect.failed)} failed"
    ]
    for mismatch in expect.mismatches[:MISMATCHES_SHOWN]:
        lines.append(f"    {mismatch.describe()}")
    if expect.failed > MISMATCHES_SHOWN:
        lines.append(f"    ... {n(expect.failed - MISMATCHES_SHOWN)} more (see --summary-json)")
    return lines


def render_summary(result: ReplayResult, throughput: bool = True) -> str:
    """The summary printed after a replay; only the throughput line depends on the machine."""
    summary, outcomes = result.primary, result.outcomes
    scanned = outcomes.scanned
    lines = [f"replay of {result.events_path}"]
    lines.append(f"  rules        {result.primary_dir} (revision {summary.revision})")
    if result.against is not None:
        lines.append(f"  against      {result.against_dir} (revision {result.against.revision})")
    lines.append(f"  state        {result.state}; signals not in the events from {result.analyzer}")
    if scanned is not None:
        read = f"  lines        {n(scanned.lines)} read, {n(outcomes.invalid)} invalid"
        if scanned.blank:
            read += f", {n(scanned.blank)} blank"
        lines.append(read)
        if scanned.out_of_order:
            lines.append(
                f"  order        {n(scanned.out_of_order)} lines older than a line above them; "
                "all were decided in occurred_at order"
            )
    lines.append(
        f"  events       {n(summary.events)} decided, {n(summary.duplicates)} duplicates "
        "(answered with their first decision, counted once)"
    )
    if summary.degraded:
        lines.append(f"  degraded     {n(summary.degraded)} decisions taken without state")
    lines.append(f"  actions      {action_mix(summary)}")
    lines.append(f"  rules        {top_rules(summary)}")
    lines.append(f"  signals      {signal_sources(summary)}")
    lines.append(f"  accounts     {accounts_line(summary)}")
    lines.append(f"  crisis episodes ({summary.episodes}, from calm or watch to crisis and back):")
    lines.extend(episodes_lines(summary))
    if result.against is not None:
        other = result.against
        lines.append(f"  against: actions {action_mix(other)}")
        lines.append(f"  against: crisis episodes {other.episodes}")
    if result.comparison is not None:
        lines.extend(comparison_lines(result.comparison))
    if result.expect is not None:
        lines.extend(expectation_lines(result.expect))
    if throughput and outcomes.total_seconds > 0:
        rate = outcomes.decided / outcomes.total_seconds
        lines.append(
            f"  throughput   {n(outcomes.decided)} events in {outcomes.total_seconds:.2f} s: "
            f"{n(round(rate))} events/s (reading {outcomes.reading_seconds:.2f} s, "
            f"deciding {outcomes.deciding_seconds:.2f} s)"
        )
    return "\n".join(lines)
