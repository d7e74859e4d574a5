"""What Elasticsearch's ES|QL verifier refuses before running a query, as far as it can be told
without the indices' mappings: unknown functions, wrong argument counts, aggregations outside
STATS, columns a pipeline no longer has (dropped by STATS, KEEP, DROP or RENAME), and
commands that cannot run offline (COMPLETION calls an LLM)."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from lanner.esql import ast
from lanner.esql.errors import EsqlNotRunnableError, EsqlVerificationError, Issue, Severity
from lanner.esql.functions import FUNCTIONS

METADATA_FIELDS = frozenset({"_id", "_index", "_version", "_source", "_score", "_ignored",
                             "_index_mode"})
_GROK_NAME = re.compile(r"%\{\w+:([\w.@]+)(?::\w+)?\}|\(\?<([\w.@]+)>")
_DISSECT_KEY = re.compile(r"%\{([^}]*)\}")


@dataclass(slots=True)
class Columns:
    """The columns a pipeline has at one point: named ones, plus the source fields that still
    pass (any, at first; only those matching KEEP's patterns after a KEEP; none after STATS)."""

    named: dict[str, None] = field(default_factory=dict)
    source_patterns: list[str] = field(default_factory=lambda: ["*"])
    dropped: list[str] = field(default_factory=list)

    def has(self, name: str) -> bool:
        if name in self.named:
            return True
        return (any(fnmatch.fnmatchcase(name, p) for p in self.source_patterns)
                and not any(fnmatch.fnmatchcase(name, p) for p in self.dropped))

    def add(self, name: str) -> None:
        self.named.pop(name, None)
        self.named[name] = None


def grok_columns(pattern: str) -> list[str]:
    """The columns a GROK pattern writes: `%{SYNTAX:name}` and `(?<name>…)`."""
    return [a or b for a, b in _GROK_NAME.findall(pattern)]


def dissect_columns(pattern: str) -> list[str]:
    """The columns a DISSECT pattern writes: `%{name}`, `%{+name}`; not `%{}` nor `%{?name}`."""
    names = []
    for key in _DISSECT_KEY.findall(pattern):
        key = key.split("->")[0].strip()
        if not key or key.startswith(("?", "*", "&")):
            continue
        names.append(key.lstrip("+").split("/")[0])
    return list(dict.fromkeys(names))


def check(query: ast.Query) -> list[Issue]:
    """Every issue of a parsed query: errors, and a `not-runnable` warning for COMPLETION
    (the query is valid; Lanner cannot run it)."""
    return list(_issues(query))


def _issues(query: ast.Query) -> Iterator[Issue]:
    columns = Columns()
    for name in query.source.metadata:
        if name not in METADATA_FIELDS:
            yield _error(f"unknown metadata field [{name}]", query.source)
        columns.add(name)
    for command in query.commands[1:]:
        yield from _command_issues(command, columns)


def _error(message: str, node: ast.Node) -> Issue:
    return EsqlVerificationError(message, getattr(node, "span", None)).as_issue()


def _expression_issues(expr: ast.Node, columns: Columns, *, in_stats: bool) -> Iterator[Issue]:
    for node in expr.walk():
        if isinstance(node, ast.Column) and not columns.has(node.name):
            yield _error(f"Unknown column [{node.name}]", node)
        elif isinstance(node, ast.Call):
            function = FUNCTIONS.get(node.name)
            if function is None:
                yield _error(f"Unknown function [{node.name.lower()}]", node)
                continue
            if not function.min_args <= len(node.args) <= function.max_args:
                yield _error(f"function [{node.name.lower()}] does not take "
                             f"{len(node.args)} arguments", node)
            if function.aggregate and not in_stats:
                yield _error(f"aggregate function [{node.name.lower()}] is only allowed in "
                             "STATS", node)
            if any(isinstance(a, ast.Star) for a in node.args) and node.name != "COUNT":
                yield _error(f"[{node.name.lower()}] does not take *", node)


def _command_issues(command: ast.Command, columns: Columns) -> Iterator[Issue]:
    if isinstance(command, ast.Where):
        yield from _expression_issues(command.condition, columns, in_stats=False)
    elif isinstance(command, ast.Eval):
        for assignment in command.assignments:
            yield from _expression_issues(assignment.value, columns, in_stats=False)
            columns.add(assignment.name)
    elif isinstance(command, ast.Stats):
        yield from _stats_issues(command, columns)
    elif isinstance(command, ast.Keep | ast.Drop):
        yield from _projection_issues(command, columns)
    elif isinstance(command, ast.Rename):
        for old, new in command.pairs:
            if not columns.has(old):
                yield _error(f"Unknown column [{old}]", command)
            columns.named.pop(old, None)
            columns.dropped.append(old)
            columns.add(new)
    elif isinstance(command, ast.Sort):
        for order in command.orders:
            yield from _expression_issues(order.value, columns, in_stats=False)
    elif isinstance(command, ast.MvExpand):
        if not columns.has(command.column):
            yield _error(f"Unknown column [{command.column}]", command)
        columns.add(command.column)
    elif isinstance(command, ast.Dissect | ast.Grok):
        yield from _expression_issues(command.value, columns, in_stats=False)
        names = grok_columns(command.pattern) if isinstance(command, ast.Grok) \
            else dissect_columns(command.pattern)
        for name in names:
            columns.add(name)
    elif isinstance(command, ast.Completion):  # valid ES|QL: a warning that names why
        yield Issue(Severity.WARNING, EsqlNotRunnableError.code,
                    "not runnable offline: COMPLETION calls an LLM inference endpoint",
                    command.span)
        columns.add(command.name)


def _stats_issues(command: ast.Stats, columns: Columns) -> Iterator[Issue]:
    for group in command.groups:
        yield from _expression_issues(group.value, columns, in_stats=False)
    for aggregate in command.aggregates:
        yield from _expression_issues(aggregate.value, columns, in_stats=True)
        if aggregate.where is not None:
            yield from _expression_issues(aggregate.where, columns, in_stats=False)
        calls = [c for c in aggregate.value.find_all(ast.Call)
                 if c.name in FUNCTIONS and FUNCTIONS[c.name].aggregate]
        if not calls:
            yield _error(f"expected an aggregate function in [{aggregate.name}]", aggregate)
    names = [a.name for a in command.aggregates] + [g.name for g in command.groups]
    if command.inline:
        for name in names:
            columns.add(name)
        return
    columns.named = dict.fromkeys(names)
    columns.source_patterns, columns.dropped = [], []


def _projection_issues(command: ast.Keep | ast.Drop, columns: Columns) -> Iterator[Issue]:
    for pattern in command.patterns:
        if "*" not in pattern and not columns.has(pattern):
            yield _error(f"Unknown column [{pattern}]", command)
    if isinstance(command, ast.Drop):
        for name in list(columns.named):
            if any(fnmatch.fnmatchcase(name, p) for p in command.patterns):
                del columns.named[name]
        columns.dropped.extend(command.patterns)
        return
    kept = {name: None for name in columns.named
            if any(fnmatch.fnmatchcase(name, p) for p in command.patterns)}
    for pattern in command.patterns:
        if "*" not in pattern and columns.has(pattern):
            kept[pattern] = None
    columns.named = kept
    columns.source_patterns = [p for p in command.patterns if columns.source_patterns]


def not_runnable(query: ast.Query) -> str | None:
    """Why a query cannot run offline, or None."""
    for command in query.commands:
        if isinstance(command, ast.Completion):
            return "it calls an LLM inference endpoint (COMPLETION)"
    return None
