"""Rich renderables for problems and summaries: plain domain objects in, Text out, no I/O."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from rich.console import RenderableType
from rich.table import Table
from rich.text import Text

from lanner.eql import Issue, Severity, caret_view
from lanner.rules import Problem, RuleReport
from lanner.store.documents import field_values

SEVERITY_STYLES = {Severity.ERROR: "bold red", Severity.WARNING: "yellow"}


def problem_line(problem: Problem) -> Text:
    """`path:line:col: error: message`, one line, as compilers print it."""
    text = Text()
    text.append(f"{problem.path}:{problem.line}:{problem.col}:", style="bold")
    text.append(" ")
    text.append(problem.severity.value, style=SEVERITY_STYLES[problem.severity])
    text.append(f": {problem.message}")
    return text


def query_issue(query: str, issue: Issue, label: str = "<query>") -> Text:
    """An issue of a bare query: the position line, then the query line with a caret."""
    text = Text()
    text.append(f"{label}:{issue.line}:{issue.col}:", style="bold")
    text.append(" ")
    text.append(issue.severity.value, style=SEVERITY_STYLES[issue.severity])
    text.append(f": {issue.message}\n")
    width = 1
    if issue.span is not None and issue.span.line == issue.line:
        first_line_end = query.find("\n", issue.span.start)
        end = issue.span.end if first_line_end < 0 else min(issue.span.end, first_line_end)
        width = max(end - issue.span.start, 1)
    source, caret = caret_view(query, issue.line, issue.col, width).split("\n")
    text.append(f"  {source}\n")
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
    skipped = len(reports) - len(checked)
    if skipped:
        text.append(f" ({skipped} skipped: not EQL rules)")
    return text


SEVERITY_RANK = {"critical": 3, "high": 2, "medium": 1, "low": 0}
ALERT_SEVERITY_STYLES = {"critical": "bold white on red", "high": "bold red",
                         "medium": "yellow", "low": "cyan"}


def alerts_table(alerts: Sequence[Mapping[str, Any]]) -> RenderableType:
    """Alerts grouped by rule, most severe first: what an analyst reads first after a run.

    Building blocks are left out (they belong to the sequence alert above them)."""
    groups: dict[str, list[Mapping[str, Any]]] = {}
    for alert in alerts:
        if alert.get("kibana.alert.building_block_type") and alert.get("kibana.alert.group.id"):
            continue
        groups.setdefault(alert["kibana.alert.rule.uuid"], []).append(alert)
    if not groups:
        return Text("no alerts", style="green")
    table = Table(title=f"{sum(map(len, groups.values()))} alert(s) from {len(groups)} rule(s)",
                  title_justify="left", show_lines=False)
    table.add_column("severity", no_wrap=True)
    table.add_column("risk", justify="right", no_wrap=True)
    table.add_column("rule", ratio=3, overflow="fold")
    table.add_column("alerts", justify="right", no_wrap=True)
    table.add_column("hosts", ratio=1, overflow="fold")
    table.add_column("ATT&CK", max_width=18)
    table.add_column("first seen", no_wrap=True)
    rows = []
    for group in groups.values():
        first = group[0]
        severity = max((a["kibana.alert.severity"] for a in group), key=SEVERITY_RANK.get)
        times = sorted(str(a.get("kibana.alert.original_time") or "") for a in group)
        first_seen = times[0].replace("T", " ").removesuffix("Z").split(".")[0]
        hosts = sorted({str(h) for a in group for h in field_values(a, "host.name")})
        techniques = [t["id"] for threat in first.get("kibana.alert.rule.threat", [])
                      for t in threat.get("technique", [])]
        rows.append((SEVERITY_RANK[severity], max(a["kibana.alert.risk_score"] for a in group),
                     severity, first["kibana.alert.rule.name"], len(group),
                     ", ".join(hosts[:3]) + (f" +{len(hosts) - 3}" if len(hosts) > 3 else ""),
                     " ".join(dict.fromkeys(techniques)), first_seen))
    for _, risk, severity, name, count, hosts, techniques, first_seen in sorted(
            rows, key=lambda row: (-row[0], -row[1], row[3])):
        table.add_row(Text(severity, style=ALERT_SEVERITY_STYLES[severity]), str(risk), name,
                      str(count), hosts, techniques, first_seen)
    return table


def run_failures(reports: Iterable[Any]) -> RenderableType | None:
    """Rules that failed or warned, with Kibana's messages; None when all went well."""
    lines = Text()
    for report in reports:
        for message in ([report.error] if report.error else []) + list(report.warnings):
            lines.append(f"{report.status}: ", style="red" if report.error else "yellow")
            lines.append(f"{report.rule.name}: {message}\n")
    return lines if lines else None
