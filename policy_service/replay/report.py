"""The replay report: one self-contained HTML file with inline SVG charts (no scripts, no network).

Everything that comes from events or rule files is escaped: comment texts
and ids are untrusted. The report depends only on the replay's findings, not
on the wall clock, so the same run gives the same file.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta

from policy_service.replay.compare import Comparison, ExpectCheck
from policy_service.replay.runner import ReplayResult
from policy_service.replay.summary import (
    FIRST_ACTION,
    LEVEL,
    LEVELS,
    NEGATIVE,
    VOLUME,
    WIDTHS,
    AccountSummary,
    Episode,
    Summary,
    from_us,
)
from policy_service.ruleset.catalogue import ACTIONS

MAX_BARS = 400
ZOOM_BARS = 240
SHARE_MIN_VOLUME = 3
ZOOM_MARGIN_SECONDS = 6 * 3600
# The charts leave out a thin early tail (a few old comments before the real
# traffic) when that shortens the time axis by more than half.
TAIL_SHARE = 0.005
ACCOUNT_SECTIONS = 12
RULES_SHOWN = 12
GROUPS_SHOWN = 30
MISMATCHES_SHOWN = 200
INVALID_SHOWN = 100

ACTION_COLORS = {
    "ignore": "#a3acb9",
    "acknowledge": "#3b82f6",
    "reply_to_fans": "#16a34a",
    "escalate": "#dc2626",
}
LEVEL_COLORS = {"calm": "#e2e8f0", "watch": "#f59e0b", "recovery": "#fdba74", "crisis": "#dc2626"}
VOLUME_COLOR = "#94a3b8"
NEGATIVE_COLOR = "#be123c"
EPISODE_FILL = "#fee2e2"
DIFF_COLOR = "#7c3aed"

# Chart geometry (SVG user units; the SVG scales to the page width).
WIDTH = 960
LEFT, RIGHT = 56, 56
PLOT_W = WIDTH - LEFT - RIGHT

TICK_STEPS = (
    3600,
    3 * 3600,
    6 * 3600,
    12 * 3600,
    86400,
    2 * 86400,
    7 * 86400,
    14 * 86400,
)
MONTH_STEPS = (1, 3, 6, 12, 24, 60)
MAX_TICKS = 9

CSS = """
:root { --fg:#1e293b; --muted:#64748b; --line:#e2e8f0; --bg:#f8fafc; --card:#fff; }
* { box-sizing: border-box; }
body { margin:0; background:var(--bg); color:var(--fg);
  font:14px/1.55 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif; }
main { max-width:1080px; margin:0 auto; padding:32px 24px 72px; }
h1 { font-size:26px; margin:0 0 4px; letter-spacing:-0.01em; }
h2 { font-size:19px; margin:44px 0 14px; padding-bottom:6px; border-bottom:1px solid var(--line); }
h3 { font-size:16px; margin:0 0 2px; }
p { margin:6px 0; }
.muted { color:var(--muted); }
.small { font-size:12.5px; }
code, .mono { font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace; font-size:12.5px; }
.cards { display:grid; grid-template-columns:repeat(auto-fit,minmax(160px,1fr)); gap:12px; margin:18px 0; }
.card { background:var(--card); border:1px solid var(--line); border-radius:10px; padding:12px 14px; }
.card .k { color:var(--muted); font-size:12px; text-transform:uppercase; letter-spacing:.04em; }
.card .v { font-size:24px; font-weight:650; font-variant-numeric:tabular-nums; }
.card .s { color:var(--muted); font-size:12px; }
.panel { background:var(--card); border:1px solid var(--line); border-radius:12px; padding:18px 20px;
  margin:16px 0; }
table { border-collapse:collapse; width:100%; font-size:13.5px; }
th { text-align:left; font-weight:600; color:var(--muted); font-size:12px; text-transform:uppercase;
  letter-spacing:.04em; }
th, td { padding:7px 10px; border-bottom:1px solid var(--line); vertical-align:top; }
tr:last-child td { border-bottom:none; }
td.num, th.num { text-align:right; font-variant-numeric:tabular-nums; white-space:nowrap; }
.legend { display:flex; flex-wrap:wrap; gap:6px 16px; font-size:12.5px; color:var(--muted);
  margin:10px 0 4px; }
.sw { display:inline-block; width:11px; height:11px; border-radius:3px; margin-right:6px;
  vertical-align:-1px; }
.sw.line { height:3px; border-radius:2px; vertical-align:3px; }
.chip { display:inline-block; padding:0 8px; border-radius:999px; font-size:12px; color:#fff;
  white-space:nowrap; }
.stack { display:flex; height:16px; border-radius:5px; overflow:hidden; background:#eef2f7;
  min-width:120px; }
.stack > span { display:block; height:100%; }
.meter { height:8px; border-radius:4px; background:#eef2f7; overflow:hidden; min-width:80px; }
.meter > span { display:block; height:100%; background:#64748b; }
svg { display:block; width:100%; height:auto; }
svg text { font:11px system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif; fill:#64748b; }
svg .grid { stroke:#eef2f7; }
svg .axis { stroke:#cbd5e1; }
.chart-title { font-weight:600; font-size:13px; margin:14px 0 0; }
details summary { cursor:pointer; color:var(--muted); }
.example { margin:4px 0; }
.example .text { color:var(--fg); }
.ok { color:#15803d; } .bad { color:#b91c1c; }
.diag { color:var(--muted); }
.nowrap { white-space:nowrap; }
.off { background:#faf5ff; font-weight:600; }
nav.toc { font-size:13px; color:var(--muted); }
nav.toc a { color:inherit; margin-right:12px; }
a { color:#2563eb; text-decoration:none; } a:hover { text-decoration:underline; }
footer { margin-top:48px; color:var(--muted); font-size:12.5px; }
"""


def e(value: object) -> str:
    """Escape for HTML text and attribute values (quotes included)."""
    return html.escape(str(value), quote=True)


def num(value: int) -> str:
    return f"{value:,}"


def pct(part: float, whole: float, digits: int = 0) -> str:
    return f"{100 * part / whole:.{digits}f}%" if whole else "–"


def fmt_time(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M")


def fmt_width(seconds: int) -> str:
    if seconds % 86400 == 0:
        days = seconds // 86400
        return "day" if days == 1 else ("week" if days == 7 else f"{days} days")
    if seconds % 3600 == 0:
        hours = seconds // 3600
        return "hour" if hours == 1 else f"{hours} hours"
    return f"{seconds // 60} minutes"


def chip(action: str) -> str:
    color = ACTION_COLORS.get(action, "#64748b")
    return f'<span class="chip" style="background:{color}">{e(action)}</span>'


def swatch(color: str, label: str, line: bool = False) -> str:
    cls = "sw line" if line else "sw"
    return f'<span><span class="{cls}" style="background:{color}"></span>{e(label)}</span>'


def nice_ceiling(value: float) -> float:
    """The smallest of 1, 1.5, 2, 2.5, 5 x 10^k at or above `value` (1 for nothing)."""
    if value <= 1:
        return 1.0
    power = 10.0 ** math.floor(math.log10(value))
    for step in (1.0, 1.5, 2.0, 2.5, 5.0, 10.0):
        if step * power >= value:
            return step * power
    return 10 * power


def fmt_tick(value: float) -> str:
    return f"{value:,.0f}" if value == int(value) else f"{value:,.1f}"


# -- the time axis ---------------------------------------------------------------------


class Axis:
    """The shared time domain of every chart: whole buckets of one width, in UTC."""

    def __init__(
        self, first_us: int, last_us: int, min_width: int, max_bars: int = MAX_BARS
    ) -> None:
        first, last = first_us // 1_000_000, last_us // 1_000_000
        for width in WIDTHS:
            if width < min_width:
                continue
            self.width = width
            self.start_index = first // width
            self.count = last // width - self.start_index + 1
            if self.count <= max_bars:
                break
        self.start = self.start_index * self.width
        self.end = self.start + self.count * self.width

    @property
    def bar_width(self) -> float:
        return PLOT_W / self.count

    def x(self, seconds: float) -> float:
        """The x of a time (UTC epoch seconds)."""
        return LEFT + (seconds - self.start) / (self.end - self.start) * PLOT_W

    def bucket_span(self, index: int) -> tuple[datetime, datetime]:
        start = datetime.fromtimestamp(index * self.width, UTC)
        return start, start + timedelta(seconds=self.width)

    def ticks(self) -> list[tuple[float, str]]:
        """(x, label) of readable ticks: hours, days, weeks or months, at most MAX_TICKS."""
        span = self.end - self.start
        for step in TICK_STEPS:
            if span / step <= MAX_TICKS:
                return self._regular_ticks(step)
        for months in MONTH_STEPS:
            if span / (months * 30.4 * 86400) <= MAX_TICKS:
                return self._month_ticks(months)
        return self._month_ticks(MONTH_STEPS[-1])

    def _regular_ticks(self, step: int) -> list[tuple[float, str]]:
        # Weeks start on Mondays (1970-01-05 was one); days and hours at UTC midnight.
        offset = 4 * 86400 if step % (7 * 86400) == 0 else 0
        first = ((self.start - offset) // step + 1) * step + offset
        ticks: list[tuple[float, str]] = []
        previous_day = None
        at = first
        while at < self.end:
            moment = datetime.fromtimestamp(at, UTC)
            if step < 86400:
                day = moment.date()
                label = moment.strftime("%H:%M")
                if day != previous_day:
                    label = moment.strftime("%b %d %H:%M")
                previous_day = day
            else:
                label = moment.strftime("%b %d")
            ticks.append((self.x(at), label))
            at += step
        return ticks

    def _month_ticks(self, months: int) -> list[tuple[float, str]]:
        start = datetime.fromtimestamp(self.start, UTC)
        year, month = start.year, start.month
        ticks: list[tuple[float, str]] = []
        while True:
            month += 1
            if month > 12:
                year, month = year + 1, 1
            if (month - 1) % months:
                continue
            moment = datetime(year, month, 1, tzinfo=UTC)
            at = moment.timestamp()
            if at >= self.end:
                return ticks
            label = moment.strftime("%Y") if months >= 12 else moment.strftime("%b %Y")
            ticks.append((self.x(at), label))


def _x_axis(axis: Axis, y: float, height: float) -> list[str]:
    parts = [f'<line class="axis" x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}"/>']
    for x, label in axis.ticks():
        parts.append(
            f'<line class="axis" x1="{x:.1f}" y1="{y:.1f}" x2="{x:.1f}" y2="{y + 4:.1f}"/>'
        )
        parts.append(
            f'<text x="{x:.1f}" y="{y + height:.1f}" text-anchor="middle">{e(label)}</text>'
        )
    return parts


# -- charts ----------------------------------------------------------------------------


def volume_chart(
    account: AccountSummary,
    axis: Axis,
    episodes: Sequence[Episode],
    end: datetime,
) -> str:
    """Bars of comments per bucket, the negative share as a line, the crisis level as a strip."""
    top, plot_h = 14, 170
    strip_y = top + plot_h + 8
    axis_y = strip_y + 12
    height = axis_y + 26
    buckets = account.timeline.resampled(axis.width)
    shown = range(axis.start_index, axis.start_index + axis.count)
    peak = max((b[VOLUME] for i, b in buckets.items() if i in shown), default=0)
    y_max = nice_ceiling(peak)
    bar_w = axis.bar_width
    gap = bar_w * 0.18 if bar_w > 4 else 0.0
    parts = [
        f'<svg viewBox="0 0 {WIDTH} {height}" role="img" '
        f'aria-label="{e(account.account)}: volume, negative share and crisis level">'
    ]
    for episode in episodes:
        x1 = max(axis.x(episode.start.timestamp()), LEFT)
        x2 = min(axis.x((episode.end or end).timestamp()), WIDTH - RIGHT)
        if x2 <= LEFT or x1 >= WIDTH - RIGHT:
            continue
        parts.append(
            f'<rect x="{x1:.1f}" y="{top}" width="{max(x2 - x1, 1.5):.1f}" height="{plot_h}" '
            f'fill="{EPISODE_FILL}"><title>crisis episode {e(fmt_time(episode.start))} to '
            f"{e(fmt_time(episode.end) if episode.end else 'the end')} UTC</title></rect>"
        )
    for i in range(5):
        value = y_max * i / 4
        y = top + plot_h - plot_h * i / 4
        parts.append(
            f'<line class="grid" x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}"/>'
        )
        parts.append(
            f'<text x="{LEFT - 8}" y="{y + 4:.1f}" text-anchor="end">{fmt_tick(value)}</text>'
        )
        parts.append(
            f'<text x="{WIDTH - RIGHT + 8}" y="{y + 4:.1f}" fill="{NEGATIVE_COLOR}">{25 * i}%</text>'
        )
    line: list[str] = []
    # The level carried in from before the axis starts (the level holds between comments).
    before = [i for i in buckets if i < axis.start_index]
    level = buckets[max(before)][LEVEL] if before else 0
    previous_had_volume = False
    # A share of one or two comments is noise on a busy chart: such bars get no point.
    min_share_volume = SHARE_MIN_VOLUME if peak >= 20 else 1
    ends = [ep.end.timestamp() for ep in episodes if ep.end is not None]
    last_seen = -math.inf
    for i in range(axis.count):
        index = axis.start_index + i
        bucket = buckets.get(index)
        x = LEFT + i * bar_w
        volume = bucket[VOLUME] if bucket else 0
        if bucket:
            level = bucket[LEVEL]
            last_seen = index * axis.width
        elif any(last_seen < t <= (index + 1) * axis.width for t in ends):
            level = 0  # the episode ended in this silence: the level fell back to calm
        plotted = False
        if volume:
            # At least a sliver, so a lone comment on a busy account's scale stays visible.
            h = max(plot_h * volume / y_max, 1.0)
            start, stop = axis.bucket_span(index)
            share = bucket[NEGATIVE] / volume if bucket else 0.0
            tip = (
                f"{fmt_time(start)} to {fmt_time(stop)} UTC: {num(volume)} comments, "
                f"{share:.0%} negative, level {LEVELS[level]}"
            )
            parts.append(
                f'<rect x="{x + gap / 2:.2f}" y="{top + plot_h - h:.2f}" '
                f'width="{max(bar_w - gap, 0.8):.2f}" height="{h:.2f}" fill="{VOLUME_COLOR}">'
                f"<title>{e(tip)}</title></rect>"
            )
            if volume >= min_share_volume:
                plotted = True
                cx, cy = x + bar_w / 2, top + plot_h - plot_h * share
                line.append(f"{'L' if previous_had_volume else 'M'}{cx:.2f},{cy:.2f}")
                if axis.count <= 80:
                    parts.append(
                        f'<circle cx="{cx:.2f}" cy="{cy:.2f}" r="2.2" fill="{NEGATIVE_COLOR}"/>'
                    )
        previous_had_volume = plotted
        if (
            account.first_us is not None
            and index * axis.width >= account.first_us // 1_000_000 - axis.width
        ):
            parts.append(
                f'<rect x="{x:.2f}" y="{strip_y}" width="{bar_w + 0.3:.2f}" height="8" '
                f'fill="{LEVEL_COLORS[LEVELS[level]]}"/>'
            )
    if line:
        parts.append(
            f'<path d="{" ".join(line)}" fill="none" stroke="{NEGATIVE_COLOR}" '
            'stroke-width="1.6" stroke-linejoin="round"/>'
        )
    parts.append(
        f'<line class="axis" x1="{LEFT}" y1="{top + plot_h}" x2="{WIDTH - RIGHT}" y2="{top + plot_h}"/>'
    )
    parts.append(f'<text x="{LEFT - 8}" y="{strip_y + 8}" text-anchor="end">level</text>')
    parts += _x_axis(axis, axis_y, 16)
    parts.append("</svg>")
    return "".join(parts)


def action_chart(
    account: AccountSummary, axis: Axis, differences: dict[int, list[int]] | None
) -> str:
    """The share of each action per bucket (100% stacked), and the differences when comparing."""
    top, plot_h = 10, 110
    diff_h = 26 if differences is not None else 0
    diff_y = top + plot_h + 6
    axis_y = top + plot_h + (diff_h + 10 if differences is not None else 0)
    height = axis_y + 26
    buckets = account.timeline.resampled(axis.width)
    bar_w = axis.bar_width
    gap = bar_w * 0.18 if bar_w > 4 else 0.0
    parts = [
        f'<svg viewBox="0 0 {WIDTH} {height}" role="img" '
        f'aria-label="{e(account.account)}: action mix over time">'
    ]
    for i, label in enumerate(("0%", "50%", "100%")):
        y = top + plot_h - plot_h * i / 2
        parts.append(
            f'<line class="grid" x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}"/>'
        )
        parts.append(f'<text x="{LEFT - 8}" y="{y + 4:.1f}" text-anchor="end">{label}</text>')
    diff_peak = max((c[0] for c in differences.values()), default=0) if differences else 0
    for i in range(axis.count):
        index = axis.start_index + i
        bucket = buckets.get(index)
        x = LEFT + i * bar_w + gap / 2
        w = max(bar_w - gap, 0.8)
        if bucket and bucket[VOLUME]:
            volume = bucket[VOLUME]
            start, stop = axis.bucket_span(index)
            counts = [bucket[FIRST_ACTION + a] for a in range(len(ACTIONS))]
            tip = f"{fmt_time(start)} to {fmt_time(stop)} UTC: " + ", ".join(
                f"{action} {num(c)}" for action, c in zip(ACTIONS, counts, strict=True) if c
            )
            y = top + plot_h
            group = [f"<g><title>{e(tip)}</title>"]
            for action, count in zip(ACTIONS, counts, strict=True):
                if not count:
                    continue
                h = plot_h * count / volume
                y -= h
                group.append(
                    f'<rect x="{x:.2f}" y="{y:.2f}" width="{w:.2f}" height="{h:.2f}" '
                    f'fill="{ACTION_COLORS[action]}"/>'
                )
            group.append("</g>")
            parts.append("".join(group))
        if differences is not None:
            count = differences.get(index, [0])[0]
            if count:
                h = max(diff_h * count / max(diff_peak, 1), 1.5)
                start, stop = axis.bucket_span(index)
                parts.append(
                    f'<rect x="{x:.2f}" y="{diff_y + diff_h - h:.2f}" width="{w:.2f}" '
                    f'height="{h:.2f}" fill="{DIFF_COLOR}"><title>{e(fmt_time(start))} to '
                    f"{e(fmt_time(stop))} UTC: {num(count)} events decided differently</title></rect>"
                )
    if differences is not None:
        parts.append(
            f'<text x="{LEFT - 8}" y="{diff_y + diff_h - 4}" text-anchor="end">diff.</text>'
        )
        parts.append(
            f'<line class="grid" x1="{LEFT}" y1="{diff_y + diff_h}" x2="{WIDTH - RIGHT}" '
            f'y2="{diff_y + diff_h}"/>'
        )
    parts += _x_axis(axis, axis_y, 16)
    parts.append("</svg>")
    return "".join(parts)


# -- sections --------------------------------------------------------------------------


def stack_bar(counts: Iterable[tuple[str, int]], total: int) -> str:
    spans = [
        f'<span style="width:{100 * c / total:.3f}%;background:{ACTION_COLORS.get(a, "#64748b")}" '
        f'title="{e(a)}: {num(c)} ({pct(c, total, 1)})"></span>'
        for a, c in counts
        if c and total
    ]
    return f'<div class="stack">{"".join(spans)}</div>'


def action_mix_panel(summaries: Sequence[tuple[str, Summary]]) -> str:
    rows = []
    for label, summary in summaries:
        counts = [(a, summary.actions[a]) for a in ACTIONS]
        cells = "".join(
            f'<td class="num">{num(c)}<br><span class="muted small">{pct(c, summary.events, 1)}</span></td>'
            for _, c in counts
        )
        rows.append(
            f"<tr><td>{e(label)}</td><td style='width:40%'>{stack_bar(counts, summary.events)}</td>"
            f"{cells}</tr>"
        )
    head = "".join(f'<th class="num">{chip(a)}</th>' for a in ACTIONS)
    return (
        '<div class="panel"><table><thead><tr><th>rules</th><th>mix</th>'
        f"{head}</tr></thead><tbody>{''.join(rows)}</tbody></table></div>"
    )


def rules_panel(primary: Summary, against: Summary | None) -> str:
    names = [rule for rule, _ in primary.rules.most_common()]
    if against is not None:
        names += [r for r, _ in against.rules.most_common() if r not in primary.rules]
    names = names[:RULES_SHOWN]
    peak = max([primary.rules[r] for r in names] + [1])
    head = "<th>rule</th><th>action</th><th class='num'>events</th><th>share</th>"
    if against is not None:
        head += "<th class='num'>against</th><th class='num'>change</th>"
    rows = []
    for rule in names:
        count = primary.rules[rule]
        action = primary.rule_actions.get(rule) or (
            against.rule_actions.get(rule, "") if against else ""
        )
        row = (
            f"<tr><td class='mono'>{e(rule)}</td><td>{chip(action) if action else ''}</td>"
            f"<td class='num'>{num(count)}</td><td style='width:30%'><div class='meter'>"
            f"<span style='width:{100 * count / peak:.2f}%'></span></div>"
            f"<span class='muted small'>{pct(count, primary.events, 1)}</span></td>"
        )
        if against is not None:
            other = against.rules[rule]
            delta = other - count
            cls = "bad" if delta > 0 else ("ok" if delta < 0 else "muted")
            row += f"<td class='num'>{num(other)}</td><td class='num {cls}'>{delta:+,}</td>"
        rows.append(row + "</tr>")
    more = len(primary.rules) - len(names)
    note = f"<p class='muted small'>{more} more rules won fewer events.</p>" if more > 0 else ""
    return (
        f"<div class='panel'><table><thead><tr>{head}</tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>{note}</div>"
    )


def accounts_panel(summary: Summary, sections: set[str]) -> str:
    end = summary.end_time()
    rows = []
    for account in summary.accounts_by_volume():
        name = e(account.account)
        link = f"<a href='#acct-{name}'>{name}</a>" if account.account in sections else name
        crisis_hours = sum(ep.hours(end) for ep in account.episodes)
        ruleset = e(account.ruleset) + (
            "" if account.mapped else " <span class='muted small'>(default: no mapping)</span>"
        )
        counts = [(a, account.actions[a]) for a in ACTIONS]
        rows.append(
            f"<tr><td class='mono'>{link}</td><td>{ruleset}</td><td class='num'>{num(account.events)}</td>"
            f"<td class='num'>{pct(account.negative, account.events)}</td>"
            f"<td class='num'>{len(account.episodes)}</td><td class='num'>{crisis_hours:.1f} h</td>"
            f"<td style='width:28%'>{stack_bar(counts, account.events)}</td></tr>"
        )
    return (
        "<div class='panel'><table><thead><tr><th>account</th><th>rule set</th>"
        "<th class='num'>events</th><th class='num'>negative</th><th class='num'>episodes</th>"
        "<th class='num'>in crisis</th><th>actions</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )


def episodes_table(accounts: Iterable[AccountSummary], end: datetime, with_account: bool) -> str:
    rows = []
    for account in accounts:
        for episode in account.episodes:
            stop = fmt_time(episode.end) if episode.end else "open at the end"
            first = f"<td class='mono'>{e(account.account)}</td>" if with_account else ""
            rows.append(
                f"<tr>{first}<td>{e(fmt_time(episode.start))}</td><td>{e(stop)}</td>"
                f"<td class='num'>{episode.hours(end):.1f} h</td>"
                f"<td class='num'>{num(episode.events)}</td>"
                f"<td class='num'>{pct(episode.negative, episode.events)}</td>"
                f"<td class='num'>{num(episode.escalated)}</td>"
                f"<td class='num'>{num(episode.peak_volume_1h)}</td>"
                f"<td class='num'>{num(episode.reentries)}</td></tr>"
            )
    if not rows:
        return "<p class='muted'>No crisis episode: the level never reached crisis.</p>"
    first_head = "<th>account</th>" if with_account else ""
    return (
        f"<table><thead><tr>{first_head}<th>start (UTC)</th><th>end (UTC)</th>"
        "<th class='num'>duration</th><th class='num'>events</th><th class='num'>negative</th>"
        "<th class='num'>escalated</th><th class='num'>peak per hour</th>"
        "<th class='num'>re-entries</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def account_section(
    account: AccountSummary, summary: Summary, axis: Axis, comparison: Comparison | None
) -> str:
    end = summary.end_time()
    name = e(account.account)
    differences = None
    if comparison is not None:
        timeline = comparison.timelines.get(account.account)
        differences = timeline.resampled(axis.width) if timeline is not None else {}
    mapping = (
        f"rule set <b>{e(account.ruleset)}</b>"
        if account.mapped
        else f"rule set <b>{e(account.ruleset)}</b> (the default: no mapping in accounts.yaml)"
    )
    facts = (
        f"{num(account.events)} events, {pct(account.negative, account.events)} negative, "
        f"{num(account.duplicates)} duplicates; {mapping}; level at the end: {e(account.level)}"
    )
    if comparison is not None:
        facts += f"; {num(comparison.per_account[account.account])} decided differently"
    level_legend = "".join(swatch(LEVEL_COLORS[level], level) for level in LEVELS)
    volume_legend = (
        swatch(VOLUME_COLOR, f"comments per {fmt_width(axis.width)}")
        + swatch(NEGATIVE_COLOR, "negative share (right axis; bars of 3+ comments)", line=True)
        + swatch(EPISODE_FILL, "crisis episode")
        + level_legend
    )
    action_legend = "".join(swatch(ACTION_COLORS[a], a) for a in ACTIONS)
    if comparison is not None:
        action_legend += swatch(DIFF_COLOR, "events decided differently (against)")
    top = account.rules.most_common(6)
    rules = ", ".join(f"<span class='mono'>{e(r)}</span> {num(c)}" for r, c in top)
    zooms = []
    for number, episode in enumerate(account.episodes, 1):
        start_us = int(episode.start.timestamp() * 1e6) - ZOOM_MARGIN_SECONDS * 1_000_000
        stop = (episode.end or end).timestamp() + ZOOM_MARGIN_SECONDS
        stop_us = min(int(stop * 1e6), account.last_us or int(stop * 1e6))
        zoom = Axis(start_us, max(stop_us, start_us), account.timeline.width, ZOOM_BARS)
        if zoom.width >= axis.width:
            continue  # no closer look than the main chart
        until = fmt_time(episode.end) if episode.end else "still open at the end"
        zooms.append(
            f"<p class='chart-title'>Crisis episode {number}: {e(fmt_time(episode.start))} to "
            f"{e(until)} UTC, with 6 h before and after (comments per "
            f"{e(fmt_width(zoom.width))})</p>{volume_chart(account, zoom, [episode], end)}"
        )
    return (
        f"<section class='panel' id='acct-{name}'><h3 class='mono'>{name}</h3>"
        f"<p class='muted small'>{facts}</p>"
        f"<p class='chart-title'>Volume, negative share and crisis level</p>"
        f"<div class='legend'>{volume_legend}</div>{volume_chart(account, axis, account.episodes, end)}"
        f"<p class='chart-title'>Action mix</p><div class='legend'>{action_legend}</div>"
        f"{action_chart(account, axis, differences)}"
        f"{''.join(zooms)}"
        f"<p class='small'><b>Top rules:</b> {rules}</p>"
        f"{episodes_table([account], end, with_account=False)}</section>"
    )


def comparison_section(result: ReplayResult, comparison: Comparison) -> str:
    rows = []
    for group in comparison.sorted_groups()[:GROUPS_SHOWN]:
        before, after = group.before, group.after
        rule = (
            f"<span class='mono'>{e(before.rule)}</span> → <span class='mono'>{e(after.rule)}</span>"
            if before.rule != after.rule
            else f"<span class='mono'>{e(before.rule)}</span>"
        )
        route = (
            f"<br><span class='muted small'>route {e(before.route or '–')} → {e(after.route or '–')}</span>"
            if before.route != after.route
            else ""
        )
        accounts = ", ".join(f"{e(a)} {num(c)}" for a, c in group.accounts.most_common(4))
        examples = "".join(
            f"<div class='example'><span class='mono'>{e(x.account)}/{e(x.event_id)}</span> "
            f"<span class='muted small'>line {x.line}</span><br>"
            f"<span class='text'>{e(x.text)}</span></div>"
            for x in group.examples
        )
        rows.append(
            f"<tr><td class='nowrap'>{chip(before.action)} → {chip(after.action)}</td>"
            f"<td>{rule}{route}</td>"
            f"<td class='num'>{num(group.count)}</td><td class='small'>{accounts}</td>"
            f"<td><details><summary>{len(group.examples)} examples</summary>{examples}</details></td></tr>"
        )
    more = len(comparison.groups) - GROUPS_SHOWN
    note = f"<p class='muted small'>{more} smaller groups not shown.</p>" if more > 0 else ""
    matrix_head = "".join(f"<th class='num'>{chip(a)}</th>" for a in ACTIONS)
    matrix_rows = []
    for old in ACTIONS:
        cells = []
        for new in ACTIONS:
            count = comparison.actions[(old, new)]
            cls = "num diag" if old == new else ("num off" if count else "num")
            cells.append(f"<td class='{cls}'>{num(count) if count else '·'}</td>")
        matrix_rows.append(f"<tr><td>{chip(old)}</td>{''.join(cells)}</tr>")
    against = result.against
    assert against is not None
    return (
        "<h2 id='differences'>Differences between the rule sets</h2>"
        f"<p><b>{num(comparison.differing)}</b> of {num(comparison.compared)} events "
        f"({pct(comparison.differing, comparison.compared, 1)}) get another action, rule or route "
        f"from <span class='mono'>{e(result.against_dir)}</span> (revision "
        f"<span class='mono'>{e(against.revision)}</span>) than from "
        f"<span class='mono'>{e(result.primary_dir)}</span>. Each rule set ran on its own "
        "fresh state, so crisis levels may differ too: "
        f"{result.primary.episodes} episodes against {against.episodes}.</p>"
        "<div class='panel'><p class='chart-title'>Actions: rows are the rules, columns the "
        f"candidate</p><table><thead><tr><th></th>{matrix_head}</tr></thead>"
        f"<tbody>{''.join(matrix_rows)}</tbody></table></div>"
        "<div class='panel'><table><thead><tr><th>change</th><th>rule</th>"
        "<th class='num'>events</th><th>accounts</th><th>examples</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>{note}</div>"
    )


def expectations_section(expect: ExpectCheck) -> str:
    status = (
        "<span class='ok'>all met</span>"
        if not expect.failed
        else f"<span class='bad'>{num(expect.failed)} failed</span>"
    )
    rows = "".join(
        f"<tr><td class='num'>{m.expected.line}</td><td class='mono'>{e(m.expected.event_id)}</td>"
        f"<td>{chip(m.expected.action)} <span class='mono small'>{e(m.expected.rule or '')}</span></td>"
        f"<td>{chip(m.got.action) + ' <span class=mono>' + e(m.got.rule) + '</span>' if m.got else '<span class=muted>not in the events</span>'}</td></tr>"
        for m in expect.mismatches[:MISMATCHES_SHOWN]
    )
    table = (
        "<div class='panel'><table><thead><tr><th class='num'>line</th><th>event</th>"
        f"<th>expected</th><th>got</th></tr></thead><tbody>{rows}</tbody></table></div>"
        if rows
        else ""
    )
    return (
        "<h2 id='expectations'>Expectations</h2>"
        f"<p>{num(len(expect))} expected, {num(expect.checked)} checked: {status}.</p>{table}"
    )


def invalid_section(result: ReplayResult) -> str:
    outcomes = result.outcomes
    rows = "".join(
        f"<tr><td class='num'>{i.line}</td><td>{e(i.reason)}</td></tr>"
        for i in outcomes.invalid_lines[:INVALID_SHOWN]
    )
    more = outcomes.invalid - min(len(outcomes.invalid_lines), INVALID_SHOWN)
    note = f"<p class='muted small'>{num(more)} more not shown.</p>" if more > 0 else ""
    return (
        f"<h2 id='invalid'>Invalid lines ({num(outcomes.invalid)}, skipped)</h2>"
        "<div class='panel'><table><thead><tr><th class='num'>line</th><th>why</th></tr></thead>"
        f"<tbody>{rows}</tbody></table>{note}</div>"
    )


def focus_start(summary: Summary, first_us: int, last_us: int) -> int:
    """Where the charts start: after a thin early tail, when leaving it out halves the axis."""
    volumes: list[tuple[int, int]] = []
    for account in summary.accounts.values():
        width = account.timeline.width
        volumes += [(i * width, b[VOLUME]) for i, b in account.timeline.buckets.items()]
    volumes.sort()
    total = sum(v for _, v in volumes)
    seen = 0
    for at, volume in volumes:
        seen += volume
        if seen > total * TAIL_SHARE:
            start_us = at * 1_000_000
            if last_us - start_us < (last_us - first_us) / 2:
                return start_us
            break
    return first_us


def card(label: str, value: str, sub: str = "") -> str:
    return (
        f"<div class='card'><div class='k'>{e(label)}</div><div class='v'>{value}</div>"
        f"<div class='s'>{sub}</div></div>"
    )


def render_report(result: ReplayResult) -> str:
    """The whole report as one HTML document."""
    summary, outcomes = result.primary, result.outcomes
    scanned = outcomes.scanned
    first = summary.first_us or 0
    last = summary.last_us or first
    min_width = max(
        [a.timeline.width for a in summary.accounts.values()]
        + ([t.width for t in result.comparison.timelines.values()] if result.comparison else [])
        + [WIDTHS[0]]
    )
    focus = focus_start(summary, first, last)
    axis = Axis(focus, last, min_width)
    end = summary.end_time()
    shown = summary.accounts_by_volume()[:ACCOUNT_SECTIONS]
    sections = {a.account for a in shown}
    title = f"Replay of {result.events_path}"
    span = f"{fmt_time(from_us(first))} to {fmt_time(from_us(last))} UTC" if summary.events else "–"
    cards = [
        card(
            "events decided", num(summary.events), f"{num(scanned.lines if scanned else 0)} lines"
        ),
        card("duplicates", num(summary.duplicates), "answered with the first decision"),
        card("invalid lines", num(outcomes.invalid), "skipped" if outcomes.invalid else "none"),
        card(
            "accounts",
            num(len(summary.accounts)),
            f"{len(summary.unmapped_accounts())} on the default rule set",
        ),
        card("crisis episodes", num(summary.episodes), "calm or watch → crisis → back"),
    ]
    if result.comparison is not None:
        cards.append(
            card(
                "decided differently",
                num(result.comparison.differing),
                pct(result.comparison.differing, result.comparison.compared, 1) + " of events",
            )
        )
    if result.expect is not None:
        cards.append(
            card("expectations failed", num(result.expect.failed), f"of {num(len(result.expect))}")
        )
    mixes: list[tuple[str, Summary]] = [(result.primary_dir, summary)]
    if result.against is not None and result.against_dir is not None:
        mixes.append((result.against_dir, result.against))
    toc = ["<a href='#overview'>overview</a>", "<a href='#accounts'>accounts</a>"]
    if result.comparison is not None:
        toc.append("<a href='#differences'>differences</a>")
    if result.expect is not None:
        toc.append("<a href='#expectations'>expectations</a>")
    if outcomes.invalid:
        toc.append("<a href='#invalid'>invalid lines</a>")
    unmapped_note = ""
    if summary.unmapped_accounts():
        unmapped_note = (
            f"<p class='muted small'>Accounts without a mapping in accounts.yaml are decided by the "
            f"default rule set <b>{e(summary.default_ruleset)}</b>.</p>"
        )
    body = [
        f"<header><h1>{e(title)}</h1>",
        f"<p class='muted'>Rules <span class='mono'>{e(result.primary_dir)}</span> (revision "
        f"<span class='mono'>{e(summary.revision)}</span>)"
        + (
            f", compared with <span class='mono'>{e(result.against_dir)}</span> (revision "
            f"<span class='mono'>{e(result.against.revision)}</span>)"
            if result.against is not None
            else ""
        )
        + f". Events from {e(span)}; state: {e(result.state)}; signals the events leave out "
        f"come from {e(result.analyzer)}.</p>",
        f"<nav class='toc'>{''.join(toc)}</nav></header>",
        "<h2 id='overview'>Overview</h2>",
        f"<div class='cards'>{''.join(cards)}</div>",
        "<p class='chart-title'>Action mix</p>",
        action_mix_panel(mixes),
        "<p class='chart-title'>Top rules (winning rule of each decision)</p>",
        rules_panel(summary, result.against),
        "<p class='chart-title'>Crisis episodes</p>",
        f"<div class='panel'>{episodes_table(summary.accounts_by_volume(), end, with_account=True)}</div>",
        "<h2 id='accounts'>Accounts</h2>",
        unmapped_note,
        accounts_panel(summary, sections),
    ]
    if axis.start > first // 1_000_000:
        hidden = sum(
            b[VOLUME]
            for a in summary.accounts.values()
            for i, b in a.timeline.buckets.items()
            if (i + 1) * a.timeline.width <= axis.start
        )
        body.append(
            f"<p class='muted small'>The charts start on {e(fmt_time(from_us(axis.start * 1_000_000)))} "
            f"UTC: the {num(hidden)} earlier comments (a thin tail since "
            f"{e(fmt_time(from_us(first)))}) are counted everywhere else.</p>"
        )
    if len(summary.accounts) > len(shown):
        body.append(
            f"<p class='muted small'>Timelines for the {len(shown)} accounts with the most events.</p>"
        )
    body += [account_section(a, summary, axis, result.comparison) for a in shown]
    if result.comparison is not None:
        body.append(comparison_section(result, result.comparison))
    if result.expect is not None:
        body.append(expectations_section(result.expect))
    if outcomes.invalid:
        body.append(invalid_section(result))
    body.append(
        "<footer>Times are UTC. Each bar covers one "
        f"{e(fmt_width(axis.width))}; the level strip shows the highest crisis level a decision "
        "in the bar saw, held over bars without comments (the level only moves when a comment "
        "arrives). Duplicates are not counted in volumes or mixes. Decisions were taken on a "
        "virtual clock reading each comment's own time.</footer>"
    )
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{e(title)}</title><style>{CSS}</style></head><body><main>"
        + "\n".join(body)
        + "</main></body></html>\n"
    )
