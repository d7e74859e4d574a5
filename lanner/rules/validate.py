"""Validate rules: parse and check each EQL or KQL query, placing problems in the rule file."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from lanner import eql, kql
from lanner.eql import Issue, Severity
from lanner.rules.loader import RuleLoadError
from lanner.rules.model import Rule


@dataclass(frozen=True, slots=True)
class Problem:
    """One problem, placed in a file: what `rules validate` prints as `path:line:col: …`."""

    path: str
    line: int
    col: int
    severity: Severity
    code: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.col}: {self.severity.value}: {self.message}"


@dataclass(slots=True)
class RuleReport:
    """The outcome for one rule file: the rule (None if it failed to load) and its problems."""

    path: str
    rule: Rule | None
    problems: list[Problem] = field(default_factory=list)
    skipped: str | None = None  # why the rule was not checked (not an EQL rule)

    @property
    def has_errors(self) -> bool:
        return any(p.severity is Severity.ERROR for p in self.problems)

    @property
    def has_warnings(self) -> bool:
        return any(p.severity is Severity.WARNING for p in self.problems)


EngineCheck = Callable[[Rule], list[Issue]]


def validate_rule(rule: Rule, schema: eql.Schema | None = None,
                  engine_check: EngineCheck | None = None) -> RuleReport:
    """The language's issues with the rule's query; then, if it has no error, what
    `engine_check` (the engine, compiling it: lanner.detection.checks) refuses."""
    path = rule.path or "<rule>"
    report = RuleReport(path, rule)
    if rule.language == "kuery":  # the language front end; KQL rules do not run yet
        report.problems = [place_issue(rule, issue) for issue in kql.validate(rule.query or "")]
        return report
    if not rule.is_eql:
        report.skipped = (f"type {rule.type}, language {rule.language}: not an EQL or KQL "
                          "rule")
        return report
    issues = eql.validate(rule.query, schema, rule.category_field)
    if engine_check is not None and not any(i.severity is Severity.ERROR for i in issues):
        issues += engine_check(rule)
    report.problems = [place_issue(rule, issue) for issue in issues]
    return report


def validate_rules(rules: Iterable[Rule], load_errors: Iterable[RuleLoadError] = (),
                   schema: eql.Schema | None = None,
                   engine_check: EngineCheck | None = None) -> list[RuleReport]:
    """Reports for loaded rules and for files that failed to load, sorted by path."""
    reports = [validate_rule(rule, schema, engine_check) for rule in rules]
    for error in load_errors:
        location = error.location
        problem = Problem(location.path or "<rule>", location.line or 1, location.col or 1,
                          Severity.ERROR, "load", error.message)
        reports.append(RuleReport(problem.path, None, [problem]))
    return sorted(reports, key=lambda report: report.path)


def place_issue(rule: Rule, issue: Issue) -> Problem:
    """An issue of the rule's query, placed in the rule's file: the one way `rules validate`,
    and a hunt whose rule fails, say where a problem is."""
    line, col = rule.origin.to_file(issue.line, issue.col)
    return Problem(rule.path or "<rule>", line, col, issue.severity, issue.code, issue.message)
