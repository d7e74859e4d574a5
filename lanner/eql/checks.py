"""Checks on a parsed query: what Elasticsearch's verifier rejects, and fields worth a look.

Each check is a pure pass over the tree that yields Issues; `check` runs them in order.
Errors mean Elasticsearch would refuse the query; warnings (unknown fields, unknown event
categories, type doubts from the schema) leave it runnable, since custom fields exist.
"""

from __future__ import annotations

import difflib
import ipaddress
from collections.abc import Callable, Iterator
from typing import Protocol

from lanner.eql import ast
from lanner.eql.errors import (
    EqlSemanticError,
    EqlUnsupportedError,
    Issue,
    Severity,
    unsupported_message,
)
from lanner.eql.functions import FUNCTIONS, FunctionSpec
from lanner.eql.printer import to_text
from lanner.eql.types import NUMERIC, Kind, accepts, kind_of_es_type, kind_of_value

# ECS 9.5 allowed values of the fields a rule may take its event category from.
CATEGORY_VALUES: dict[str, tuple[str, ...]] = {
    "event.category": (
        "api", "authentication", "configuration", "database", "driver", "email", "file",
        "host", "iam", "intrusion_detection", "library", "malware", "network", "package",
        "process", "registry", "session", "threat", "vulnerability", "web"),
    "event.type": (
        "access", "admin", "allowed", "change", "connection", "creation", "deletion", "denied",
        "end", "error", "group", "indicator", "info", "installation", "protocol", "start",
        "user"),
}
_ORDINALS = ("first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth")
_BOOLEAN_OK = frozenset({Kind.BOOLEAN, Kind.UNKNOWN, Kind.NULL})
_ORDERABLE = frozenset({*NUMERIC, Kind.STRING, Kind.DATE, Kind.IP, Kind.VERSION})


class Schema(Protocol):
    """What checks need from a field schema (lanner.eql.schema.FieldSchema provides it)."""

    def type_of(self, name: str) -> str | None: ...

    def closest(self, name: str, limit: int = 3) -> list[str]: ...


class Checker:
    """Runs the checks of one query, with an optional schema for field names and types."""

    def __init__(self, schema: Schema | None = None,
                 category_field: str = "event.category") -> None:
        self.schema = schema
        self.category_field = category_field

    # ------------------------------------------------------------------ kinds

    def kind(self, expr: ast.Expr) -> Kind:
        """The kind an expression yields, as far as literals, functions and schema tell.

        Computed with a stack of its own, operands first: `1 + 1 + …` of any length is a
        tree as deep as it is long, and must not exhaust Python's.
        """
        kinds: dict[int, Kind] = {}
        stack: list[tuple[ast.Expr, bool]] = [(expr, False)]
        while stack:
            node, ready = stack.pop()
            operands = _operands(node)
            if operands and not ready:
                stack.append((node, True))
                stack.extend((operand, False) for operand in operands)
                continue
            kinds[id(node)] = self._kind_of(node, [kinds[id(operand)] for operand in operands])
        return kinds[id(expr)]

    def _kind_of(self, expr: ast.Expr, operands: list[Kind]) -> Kind:
        """The kind of one node, given the kinds of its `_operands`."""
        if isinstance(expr, ast.Literal):
            return kind_of_value(expr.value)
        if isinstance(expr, ast.Field):
            if self.schema is None:
                return Kind.UNKNOWN
            return kind_of_es_type(self.schema.type_of(expr.name))
        if isinstance(expr, ast.FunctionCall):
            if operands:
                return _arithmetic_kind(*operands)
            return FUNCTIONS[expr.name.lower()].returns
        if isinstance(expr, ast.Arithmetic):
            return _arithmetic_kind(*operands)
        if isinstance(expr, ast.Negate):
            return operands[0] if operands[0].is_numeric else Kind.NUMBER
        return Kind.BOOLEAN

    # ------------------------------------------------------------------ the passes

    def check(self, query: ast.Query) -> list[Issue]:
        nodes = list(query.walk())  # one walk, shared by every pass
        issues: list[Issue] = []
        for check in self.passes():
            issues.extend(check(nodes))
        return issues

    def passes(self) -> tuple[Callable[[list[ast.Node]], Iterator[Issue]], ...]:
        return (self.check_functions, self.check_operands, self.check_conditions,
                self.check_fields, self.check_categories)

    def check_functions(self, nodes: list[ast.Node]) -> Iterator[Issue]:
        """Arity, `~` forms, argument kinds and constant arguments of every call."""
        for call in nodes:
            if not isinstance(call, ast.FunctionCall):
                continue
            spec = FUNCTIONS[call.name.lower()]
            count = len(call.args)
            if count < spec.min_args or (spec.max_args is not None and count > spec.max_args):
                yield _error(
                    "arity",
                    f"{spec.name}() takes {spec.arity_text()} argument"
                    f"{'' if spec.arity_text().endswith(' 1') else 's'}, found {count} in "
                    f"[{to_text(call)}]", call)
                continue
            if call.insensitive and not spec.case_insensitive:
                yield _error("case-insensitive",
                             f"{spec.name}() has no case-insensitive form {spec.name}~()", call)
            for index, arg in enumerate(call.args):
                yield from self._check_argument(call, spec, index, arg)

    def _check_argument(self, call: ast.FunctionCall, spec: FunctionSpec, index: int,
                        arg: ast.Expr) -> Iterator[Issue]:
        param = spec.param_for(index)

        def where() -> str:
            return f"{_ordinal(index)} argument of [{to_text(call)}]"

        if param.constant and not isinstance(arg, ast.Literal):
            yield _error("argument-constant",
                         f"{where()} must be a constant, found [{to_text(arg)}]", arg)
            return
        actual = self.kind(arg)
        if not accepts(param.kinds, actual):
            expected = " or ".join(sorted(kind.value for kind in param.kinds - {Kind.NUMBER}))
            found = (f"value [{to_text(arg)}] type [{actual.value}]")
            severity = Severity.WARNING if isinstance(arg, ast.Field) else Severity.ERROR
            yield Issue(severity, "argument-type", f"{where()} must be [{expected}], found {found}",
                        arg.span)
        if spec.name == "cidrMatch" and index > 0 and isinstance(arg, ast.String):
            try:
                ipaddress.ip_network(arg.value, strict=False)
            except ValueError:
                yield _error("cidr", f"{where()} is not an IP address or CIDR block: "
                             f"[{arg.value}]", arg)

    def check_operands(self, nodes: list[ast.Node]) -> Iterator[Issue]:
        """Comparisons and patterns: no field against field, patterns are strings."""
        for node in nodes:
            if isinstance(node, ast.Comparison):
                yield from self._check_comparison(node)
            elif isinstance(node, ast.Match):
                for pattern in node.patterns:
                    if not isinstance(pattern, ast.String):
                        yield _error("pattern-type",
                                     f"the pattern of '{node.kind.value}' must be a string, "
                                     f"found [{to_text(pattern)}]", pattern)
                subject = self.kind(node.expr)
                if subject not in (Kind.STRING, Kind.UNKNOWN, Kind.NULL):
                    yield _issue(Severity.ERROR if _is_constant(node.expr) else Severity.WARNING,
                                 "argument-type",
                                 f"'{node.kind.value}' compares strings, but "
                                 f"[{to_text(node.expr)}] is of type [{subject.value}]",
                                 node.expr)

    def _check_comparison(self, node: ast.Comparison) -> Iterator[Issue]:
        if _references_field(node.left) and _references_field(node.right):
            yield _error("unsupported", unsupported_message(
                f"comparing a field to another field ([{to_text(node)}])",
                "compare each field with a literal"), node)
            return
        left, right = self.kind(node.left), self.kind(node.right)
        if Kind.UNKNOWN in (left, right) or Kind.NULL in (left, right):
            return
        ordering = node.op not in (ast.ComparisonOp.EQ, ast.ComparisonOp.NEQ)
        compatible = left == right or (left.is_numeric and right.is_numeric) or (
            Kind.STRING in (left, right) and {left, right} & {Kind.DATE, Kind.IP, Kind.VERSION})
        if ordering and (left not in _ORDERABLE or right not in _ORDERABLE):
            compatible = False
        if not compatible:
            constant = _is_constant(node.left) and _is_constant(node.right)
            yield _issue(Severity.ERROR if constant else Severity.WARNING, "type-mismatch",
                         f"[{to_text(node)}] compares a [{left.value}] with a [{right.value}]",
                         node)

    def check_conditions(self, nodes: list[ast.Node]) -> Iterator[Issue]:
        """`where` clauses and the operands of and/or/not must be boolean."""
        for node in nodes:
            if isinstance(node, ast.EventFilter):
                operands: tuple[ast.Expr, ...] = (node.condition,)
            elif isinstance(node, ast.And | ast.Or):
                operands = node.terms
            elif isinstance(node, ast.Not):
                operands = (node.expr,)
            else:
                continue
            for operand in operands:
                kind = self.kind(operand)
                if kind not in _BOOLEAN_OK:
                    yield _issue(Severity.ERROR if _is_constant(operand) else Severity.WARNING,
                                 "condition-type",
                                 f"a condition must be boolean, found [{to_text(operand)}] of "
                                 f"type [{kind.value}]", operand)

    def check_fields(self, nodes: list[ast.Node]) -> Iterator[Issue]:
        """Fields the schema does not know: a warning with the closest known names."""
        if self.schema is None:
            return
        seen: set[str] = set()
        for field in nodes:
            if not isinstance(field, ast.Field) or field.optional or field.name in seen:
                continue
            seen.add(field.name)
            if self.schema.type_of(field.name) is not None:
                continue
            yield unknown_field(field, self.schema, Severity.WARNING, "unknown field")

    def check_categories(self, nodes: list[ast.Node]) -> Iterator[Issue]:
        """Event categories outside ECS are legal but often typos: `proces where`."""
        values = CATEGORY_VALUES.get(self.category_field)
        if self.schema is None or values is None:
            return
        for event_filter in nodes:
            if not isinstance(event_filter, ast.EventFilter):
                continue
            category = event_filter.category
            if category is None or category in values:
                continue
            close = difflib.get_close_matches(category, values, n=1)
            hint = f"; did you mean {close[0]}?" if close else ""
            yield Issue(Severity.WARNING, "unknown-category",
                        f"event category '{category}' is not an ECS {self.category_field} "
                        f"value{hint}", event_filter.span)


def unknown_field(field: ast.Field, schema: Schema, severity: Severity,
                  what: str) -> Issue:
    """The one wording of a field that is not known (to the schema, when validating; to the
    searched indices, when a rule runs), with the schema's closest names as suggestions."""
    close = schema.closest(field.name)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    return Issue(severity, "unknown-field", f"{what} {field.name}{hint} (write ?{field.name} "
                 "if it may be absent from the index)", field.span)


def check(query: ast.Query, schema: Schema | None = None,
          category_field: str = "event.category") -> list[Issue]:
    """All issues of a parsed query, errors and warnings, in the order they appear in the text."""
    issues = Checker(schema, category_field).check(query)
    return sorted(issues, key=lambda issue: issue.span.start if issue.span else 0)


def raise_errors(query: ast.Query, text: str | None = None) -> None:
    """Raise the first error Elasticsearch's verifier would raise; warnings are ignored."""
    for issue in Checker().check(query):
        if issue.severity is Severity.ERROR:
            kind = EqlUnsupportedError if issue.code == "unsupported" else EqlSemanticError
            raise kind.from_issue(issue, text)


def _operands(expr: ast.Expr) -> tuple[ast.Expr, ...]:
    """The operands whose kinds decide an expression's kind: arithmetic's and negation's."""
    if isinstance(expr, ast.Arithmetic):
        return (expr.left, expr.right)
    if isinstance(expr, ast.Negate):
        return (expr.expr,)
    if isinstance(expr, ast.FunctionCall) and len(expr.args) == 2:
        spec = FUNCTIONS[expr.name.lower()]
        if spec.arithmetic:
            return expr.args
    return ()


def _arithmetic_kind(left: Kind, right: Kind) -> Kind:
    kinds = {left, right}
    if kinds <= {Kind.INTEGER, Kind.NULL}:
        return Kind.INTEGER
    if Kind.FLOAT in kinds:
        return Kind.FLOAT
    return Kind.NUMBER


def _issue(severity: Severity, code: str, message: str, node: ast.Node) -> Issue:
    return Issue(severity, code, message, node.span)


def _error(code: str, message: str, node: ast.Node) -> Issue:
    return Issue(Severity.ERROR, code, message, node.span)


def _ordinal(index: int) -> str:
    return _ORDINALS[index] if index < len(_ORDINALS) else f"#{index + 1}"


def _references_field(expr: ast.Expr) -> bool:
    """A non-optional field inside: `?x == ?y` stays legal, as Elasticsearch's tests show."""
    return any(isinstance(node, ast.Field) and not node.optional for node in expr.walk())


def _is_constant(expr: ast.Expr) -> bool:
    return not any(isinstance(node, ast.Field) for node in expr.walk())
