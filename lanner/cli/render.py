"""Rich renderables for problems and summaries: plain domain objects in, Text out, no I/O."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from rich.console import RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from lanner.cli.report.model import SEVERITY_RANK as SEVERITY_RANK  # re-exported
from lanner.cli.report.model import (
    group_by_rule,
    most_specific,
    short_time,
    shown_count,
    tactic_counts,
    technique_counts,
)
from lanner.cli.terminal import data, visible
from lanner.eql import Issue, Severity, caret_view
from lanner.rules import Problem, RuleReport

SEVERITY_STYLES = {Severity.ERROR: "bold red", Severity.WARNING: "yellow"}


def problem_line(problem: Problem) -> Text:
    """`path:line:col: error: message`, one line, as compilers print it."""
    text = Text()
    text.append(f"{visible(problem.path)}:{problem.line}:{problem.col}:", style="bold")
    text.append(" ")
    text.append(problem.severity.value, style=SEVERITY_STYLES[problem.severity])
    text.append(f": {visible(problem.message)}")
    return text


def query_issue(query: str, issue: Issue, label: str = "<query>") -> Text:
    """An issue of a bare query: the position line, then the query line with a caret."""
    text = Text()
    text.append(f"{visible(label)}:{issue.line}:{issue.col}:", style="bold")
    text.append(" ")
    text.append(issue.severity.value, style=SEVERITY_STYLES[issue.severity])
    text.append(f": {visible(issue.message)}\n")
    width = 1
    if issue.span is not None and issue.span.line == issue.line:
        first_line_end = query.find("\n", issue.span.start)
        end = issue.span.end if first_line_end < 0 else min(issue.span.end, first_line_end)
        width = max(end - issue.span.start, 1)
    source, caret = caret_view(query, issue.line, issue.col, width).split("\n")
    text.append(f"  {visible(source)}\n")
    text.append(f"  {caret}", style=SEVERITY_STYLES[issue.severity])
    return text


def summary_line(reports: list[RuleReport]) -> Text:
    checked = [r for r in reports if r.skipped is None]
    errors = sum(r.has_errors for r in checked)
    warnings = sum(r.has_warnings for r in checked)
    text = Text()
    text.append(f"{len(checked)} rules, ")
    text.append(f"{len(checked) - errors} valid", style="green" if not errors else "")
    text.append(", ")
    text.append(f"{errors} with errors", style="bold red" if errors else "")
    text.append(", ")
    text.append(f"{warnings} with warnings", style="yellow" if warnings else "")
    reasons = Counter(r.skipped for r in reports if r.skipped is not None)
    if reasons:
        text.append(" (not checked: " + "; ".join(f"{count} {reason}" for reason, count
                                                  in sorted(reasons.items())) + ")")
    return text


ALERT_SEVERITY_STYLES = {"critical": "bold white on red", "high": "bold red",
                         "medium": "yellow", "low": "cyan"}
# Background of a heatmap cell, by share of the busiest tactic's alerts (none, then 1 to 4).
HEAT_STYLES = ("dim", "black on yellow", "black on dark_orange", "white on red3",
               "bold white on dark_red")


def alerts_table(alerts: Sequence[Mapping[str, Any]], *,
                 already_stored: int = 0) -> RenderableType:
    """Alerts grouped by rule, most severe (then riskiest) first: what an analyst reads first
    after a run. `already_stored`: alerts the run found again that an earlier run stored; the
    table then counts the new ones and says so.

    Building blocks of sequences are left out (they belong to the sequence alert above them)."""
    groups = group_by_rule(alerts)
    new = "new " if already_stored else ""
    stored = f", {already_stored} already stored" if already_stored else ""
    if not groups:
        return Text(f"no {new}alerts" + (f" ({already_stored} already stored)"
                                          if already_stored else ""), style="green")
    table = Table(title=f"{sum(len(g.alerts) for g in groups)} {new}alert(s) from "
                  f"{len(groups)} rule(s){stored}", title_justify="left", show_lines=False)
    table.add_column("severity", no_wrap=True)
    table.add_column("rule", ratio=1, min_width=10, overflow="fold")
    table.add_column("alerts", justify="right", no_wrap=True)
    table.add_column("hosts", min_width=8, max_width=16, overflow="fold")
    table.add_column("users", min_width=6, max_width=12, overflow="fold")
    table.add_column("ATT&CK", min_width=9, max_width=10)
    table.add_column("seen (UTC)", min_width=10, max_width=19)
    for group in groups:
        table.add_row(data(group.severity, ALERT_SEVERITY_STYLES.get(group.severity, "")),
                      data(group.name), str(len(group.alerts)), _few(group.hosts, 2),
                      _few(group.users, 2),
                      _few(most_specific(group.techniques), separator=" "),
                      data(_seen(group.first_seen, group.last_seen)))
    return table


def tactic_heatmap(alerts: Sequence[Mapping[str, Any]]) -> RenderableType | None:
    """ATT&CK tactics in kill-chain order, each cell shaded by its alerts, with the busiest
    techniques beside it; None when no alert maps to a tactic."""
    counts = tactic_counts(alerts)
    most = max((count for _, _, count in counts), default=0)
    if not most:
        return None
    by_tactic: dict[str, dict[str, int]] = {}
    for count in technique_counts(alerts):
        by_tactic.setdefault(count.tactic_id, {})[count.technique_id] = count.alerts
    techniques = {tactic_id: [f"{technique} ({found[technique]})"
                              for technique in most_specific(list(found))]
                  for tactic_id, found in by_tactic.items()}
    grid = Table.grid(padding=(0, 1))
    grid.add_column(justify="right", no_wrap=True)
    grid.add_column(width=5, justify="center", no_wrap=True)
    grid.add_column(overflow="fold")
    for tactic_id, name, count in counts:
        heat = _heat(count, most)
        grid.add_row(data(name, "" if count else "dim"),
                     Text(str(count) if count else "·", style=HEAT_STYLES[heat]),
                     _few(techniques.get(tactic_id, []), 4, separator=" "))
    return Panel(grid, title="ATT&CK tactics: alerts", title_align="left", expand=False)


def slowest_rules(reports: Iterable[Any], limit: int = 10) -> RenderableType:
    """The rules that took longest, with their time and alerts: where a hunt's time went."""
    ranked = sorted(reports, key=lambda report: report.took, reverse=True)[:limit]
    table = Table(title=f"slowest {len(ranked)} rule(s)", title_justify="left")
    table.add_column("seconds", justify="right", no_wrap=True)
    table.add_column("rule", overflow="fold")
    table.add_column("alerts", justify="right", no_wrap=True)
    for report in ranked:
        table.add_row(f"{report.took:.3f}", data(report.rule.name),
                      str(shown_count(report.created_alerts)))
    return table


def _heat(count: int, most: int) -> int:
    return 0 if not count else max(1, min(4, (4 * count + most - 1) // most))


def _seen(first: str, last: str) -> str:
    """`first – last`, the last without its date when the day is the same."""
    start, end = short_time(first), short_time(last)
    if start == end:
        return start
    return f"{start} – {end[11:] if start[:10] == end[:10] else end}"


def _few(items: Sequence[str], most: int = 3, separator: str = ", ") -> Text:
    shown = separator.join(map(str, items[:most]))
    return data(shown + (f" +{len(items) - most}" if len(items) > most else ""))


def run_failures(reports: Iterable[Any]) -> RenderableType | None:
    """Rules that failed or warned, with Kibana's messages; None when all went well."""
    lines = Text()
    for report in reports:
        for message in ([report.error] if report.error else []) + list(report.warnings):
            lines.append(f"{visible(report.status)}: ", style="red" if report.error else "yellow")
            lines.append(f"{visible(report.rule.name)}: {visible(message)}\n")
    return lines if lines else None
