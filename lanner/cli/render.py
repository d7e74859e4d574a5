"""Rich renderables for problems and summaries: plain domain objects in, Text out, no I/O."""

from __future__ import annotations

from rich.text import Text

from lanner.eql import Issue, Severity, caret_view
from lanner.rules import Problem, RuleReport

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
