"""Validate rules: parse and check each rule's queries and its type's parameters, placing
problems in the rule file.

EQL goes through lanner.eql (and the engine's check), KQL through lanner.kql; a language
front end that lives elsewhere registers in `LANGUAGE_CHECKS` (ES|QL: lanner.esql, once it
exists, adds `"esql": <its validate>` there, or the caller passes it). An ML rule is not
an error: it is reported as not runnable (`NEEDS_ML`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from lanner import eql, esql, kql
from lanner.eql import Issue, Severity
from lanner.rules.loader import RuleLoadError
from lanner.rules.model import NEEDS_ML, Rule

LanguageCheck = Callable[[str], list[Issue]]
# Query languages other than EQL, by the rule's `language`: text in, issues out.
LANGUAGE_CHECKS: dict[str, LanguageCheck] = {"kuery": kql.validate, "esql": esql.validate}


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
    skipped: str | None = None  # why the rule was not checked (an ML rule, say)

    @property
    def has_errors(self) -> bool:
        return any(p.severity is Severity.ERROR for p in self.problems)

    @property
    def has_warnings(self) -> bool:
        return any(p.severity is Severity.WARNING for p in self.problems)


EngineCheck = Callable[[Rule], list[Issue]]


def validate_rule(rule: Rule, schema: eql.Schema | None = None,
                  engine_check: EngineCheck | None = None,
                  language_checks: Mapping[str, LanguageCheck] | None = None) -> RuleReport:
    """The language's issues with the rule's query and the type's parameters; then, if there
    is no error, what `engine_check` (the engine, compiling it: lanner.detection.checks)
    refuses."""
    path = rule.path or "<rule>"
    report = RuleReport(path, rule)
    if rule.needs_ml:
        report.skipped = NEEDS_ML
        return report
    checks = {**LANGUAGE_CHECKS, **(language_checks or {})}
    if rule.is_eql:
        issues = eql.validate(rule.query, schema, rule.category_field)
    else:
        language = rule.language or ("kuery" if rule.is_kql else rule.type)
        check = checks.get(language)
        if check is None:
            report.skipped = (f"type {rule.type}, language {language}: no front end for this "
                              "language yet")
            return report
        issues = check(rule.query)
        report.problems.extend(_parameter_problems(rule, checks))
    if engine_check is not None and not any(i.severity is Severity.ERROR for i in issues) \
            and not report.has_errors:
        issues += engine_check(rule)
    report.problems[:0] = [place_issue(rule, issue) for issue in issues]
    return report


def _parameter_problems(rule: Rule, checks: Mapping[str, LanguageCheck]) -> list[Problem]:
    """What the type needs besides its query (Kibana's rule schema refuses a rule without
    them), and the issues of the indicator query of a threat_match rule."""
    missing = []
    if rule.type == "threshold" and rule.threshold is None:
        missing.append("threshold")
    if rule.type == "new_terms":
        if not 1 <= len(rule.new_terms_fields) <= 3:
            missing.append("new_terms_fields (1 to 3 fields)")
        if rule.history_window_start is None:
            missing.append("history_window_start")
    problems = [_rule_problem(rule, "parameter", f"a {rule.type} rule needs {name}")
                for name in missing]
    if rule.type == "threat_match":
        for name, value in (("threat_index", rule.threat_index),
                            ("threat_mapping", rule.threat_mapping),
                            ("threat_query", rule.threat_query)):
            if not value:
                problems.append(_rule_problem(rule, "parameter",
                                              f"a threat_match rule needs {name}"))
        check = checks.get(rule.threat_language or "kuery")
        if rule.threat_query and check is not None:
            problems.extend(_rule_problem(rule, issue.code,
                                          f"threat_query {issue.line}:{issue.col}: "
                                          f"{issue.message}", issue.severity)
                            for issue in check(rule.threat_query))
    return problems


def _rule_problem(rule: Rule, code: str, message: str,
                  severity: Severity = Severity.ERROR) -> Problem:
    """A problem of the rule as a whole, placed at the rule's query."""
    return Problem(rule.path or "<rule>", rule.origin.line, 1, severity, code, message)


def validate_rules(rules: Iterable[Rule], load_errors: Iterable[RuleLoadError] = (),
                   schema: eql.Schema | None = None,
                   engine_check: EngineCheck | None = None,
                   language_checks: Mapping[str, LanguageCheck] | None = None
                   ) -> list[RuleReport]:
    """Reports for loaded rules and for files that failed to load, sorted by path."""
    reports = [validate_rule(rule, schema, engine_check, language_checks) for rule in rules]
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
