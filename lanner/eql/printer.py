"""Canonical EQL text from a syntax tree: parsing the printed text gives back the same tree.

One `<node>_text` method per node class; a node without one is an error, not a silent guess.
Parentheses are written only where precedence needs them.
"""

from __future__ import annotations

import re

from lanner.eql import ast
from lanner.eql.tokens import KEYWORDS

# Binding strength, loosest first; mirrors the parser's tiers.
OR, AND, NOT, COMPARISON, ADDITIVE, MULTIPLICATIVE, UNARY, PREDICATE, PRIMARY = range(1, 10)
_ARITHMETIC_LEVEL = {
    ast.ArithmeticOp.ADD: ADDITIVE, ast.ArithmeticOp.SUB: ADDITIVE,
    ast.ArithmeticOp.MUL: MULTIPLICATIVE, ast.ArithmeticOp.DIV: MULTIPLICATIVE,
    ast.ArithmeticOp.MOD: MULTIPLICATIVE,
}
_IDENTIFIER = re.compile(r"[A-Za-z_@][A-Za-z0-9_]*\Z")
_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b",
            "\f": "\\f"}
_NEEDS_ESCAPE = re.compile(r'[\\"\x00-\x1f\x7f]')


def to_text(node: ast.Node) -> str:
    """The canonical text of a query, stage or expression."""
    return Printer().text(node)


def quote_string(value: str) -> str:
    """A double-quoted EQL string literal for any Python string."""
    def escape(m: re.Match[str]) -> str:
        char = m.group()
        return _ESCAPES.get(char) or f"\\u{{{ord(char):02x}}}"

    return '"' + _NEEDS_ESCAPE.sub(escape, value) + '"'


def quote_field(name: str) -> str:
    """A field name, with backticks around segments that are not plain identifiers."""
    parts = []
    for part in name.split("."):
        if _IDENTIFIER.match(part) and part not in KEYWORDS:
            parts.append(part)
        else:
            parts.append("`" + part.replace("`", "``") + "`")
    return ".".join(parts)


def _continued_operands(root: ast.Node) -> set[int]:
    """Arithmetic left operands that `arithmetic_text` prints inline in its loop: their own
    text is never needed, and making it would make printing `1 + 1 + …` quadratic."""
    continued = set()
    for node in root.walk():
        if type(node) is ast.Arithmetic:
            left = node.left
            if (type(left) is ast.Arithmetic
                    and _ARITHMETIC_LEVEL[left.op] >= _ARITHMETIC_LEVEL[node.op]):
                continued.add(id(left))
    return continued


def precedence(node: ast.Expr) -> int:
    if isinstance(node, ast.Or):
        return OR
    if isinstance(node, ast.And):
        return AND
    if isinstance(node, ast.Not):
        return NOT
    if isinstance(node, ast.Comparison):
        return COMPARISON
    if isinstance(node, ast.Arithmetic):
        return _ARITHMETIC_LEVEL[node.op]
    if isinstance(node, ast.Negate):
        return UNARY
    if isinstance(node, ast.Match | ast.In):
        return PREDICATE
    if type(node) is ast.Number and node.value < 0:
        return UNARY  # printed with a leading minus, so it is a unary expression
    return PRIMARY


class Printer:
    """Dispatches on the node's class name to a `<name>_text` method.

    `text` prints children before their parents, in a loop over the tree, and a method finds
    its children's text already made: printing takes no stack however deep the tree is.
    """

    indent = "  "

    def __init__(self) -> None:
        self._texts: dict[int, str] = {}

    def text(self, node: ast.Node) -> str:
        outer, self._texts = self._texts, {}
        try:
            skipped = _continued_operands(node)
            for each in reversed(list(node.walk())):
                if id(each) not in skipped:
                    self._texts[id(each)] = self._render(each)
            return self._texts[id(node)]
        finally:
            self._texts = outer

    def _render(self, node: ast.Node) -> str:
        method = getattr(self, f"{type(node).__name__.lower()}_text", None)
        if method is None:
            raise TypeError(f"no printer for {type(node).__name__}")
        return method(node)

    def _child(self, node: ast.Node) -> str:
        """A child's text: made already by `text`, or now when a method is called directly."""
        text = self._texts.get(id(node))
        return self._render(node) if text is None else text

    def _wrap(self, node: ast.Expr, minimum: int) -> str:
        """A child's text, in parentheses if it binds looser than `minimum`."""
        text = self._child(node)
        return f"({text})" if precedence(node) < minimum else text

    def _each(self, nodes: tuple[ast.Expr, ...], minimum: int) -> list[str]:
        return [self._wrap(node, minimum) for node in nodes]

    # ------------------------------------------------------------------ literals and fields

    def string_text(self, node: ast.String) -> str:
        return quote_string(node.value)

    def number_text(self, node: ast.Number) -> str:
        return repr(node.value)

    def boolean_text(self, node: ast.Boolean) -> str:
        return "true" if node.value else "false"

    def null_text(self, node: ast.Null) -> str:
        return "null"

    def field_text(self, node: ast.Field) -> str:
        return ("?" if node.optional else "") + quote_field(node.name)

    # ------------------------------------------------------------------ operators

    def functioncall_text(self, node: ast.FunctionCall) -> str:
        args = ", ".join(self._each(node.args, OR))
        return f"{node.name}{'~' if node.insensitive else ''}({args})"

    def comparison_text(self, node: ast.Comparison) -> str:
        left = self._wrap(node.left, ADDITIVE)
        right = self._wrap(node.right, ADDITIVE)
        return f"{left} {node.op.value} {right}"

    def match_text(self, node: ast.Match) -> str:
        subject = self._wrap(node.expr, PRIMARY)
        patterns = self._each(node.patterns, OR)
        rhs = patterns[0] if len(patterns) == 1 else "(" + ", ".join(patterns) + ")"
        return f"{subject} {node.kind.value} {rhs}"

    def in_text(self, node: ast.In) -> str:
        subject = self._wrap(node.expr, PRIMARY)
        op = ("not " if node.negated else "") + ("in~" if node.insensitive else "in")
        values = ", ".join(self._each(node.values, OR))
        return f"{subject} {op} ({values})"

    def arithmetic_text(self, node: ast.Arithmetic) -> str:
        """Walks down the left operands in a loop: `1 + 1 + …` of any length takes no stack."""
        rights: list[str] = []
        left: ast.Expr = node
        while type(left) is ast.Arithmetic:
            level = _ARITHMETIC_LEVEL[left.op]
            rights.append(f" {left.op.value} {self._wrap(left.right, level + 1)}")
            left = left.left
            if type(left) is ast.Arithmetic and _ARITHMETIC_LEVEL[left.op] < level:
                break  # a looser operation on the left needs its own parentheses
        rights.append(self._wrap(left, level))
        return "".join(reversed(rights))

    def negate_text(self, node: ast.Negate) -> str:
        """The operand is printed once (printing it twice made nested minus exponential)."""
        if isinstance(node.expr, ast.Number):
            return f"-({self._wrap(node.expr, OR)})"  # `-(5)`, not the literal `-5`
        if isinstance(node.expr, ast.Negate):
            return f"- {self._wrap(node.expr, UNARY)}"  # `- -x`: no group, no extra nesting
        return f"-{self._wrap(node.expr, UNARY)}"

    def not_text(self, node: ast.Not) -> str:
        return f"not {self._wrap(node.expr, NOT)}"

    def and_text(self, node: ast.And) -> str:
        return " and ".join(self._each(node.terms, NOT))

    def or_text(self, node: ast.Or) -> str:
        return " or ".join(self._each(node.terms, AND))

    # ------------------------------------------------------------------ queries

    def eventfilter_text(self, node: ast.EventFilter) -> str:
        if node.category is None:
            category = "any"
        elif _IDENTIFIER.match(node.category) and node.category not in KEYWORDS:
            category = node.category
        else:
            category = quote_string(node.category)
        return f"{category} where {self._wrap(node.condition, OR)}"

    def timespan_text(self, node: ast.TimeSpan) -> str:
        return f"{node.value}{node.unit}"

    def pipe_text(self, node: ast.Pipe) -> str:
        return f"| {node.kind.value} {node.count}"

    def _keys(self, keys: tuple[ast.Field, ...]) -> str:
        return " by " + ", ".join(self._child(key) for key in keys) if keys else ""

    def stage_text(self, node: ast.Stage) -> str:
        text = ("![" if node.missing else "[") + self._child(node.filter) + "]"
        text += self._keys(node.keys)
        if node.runs != 1:
            text += f" with runs={node.runs}"
        return text

    def _pipes(self, query: ast.Query, separator: str) -> str:
        return "".join(separator + self._child(pipe) for pipe in query.pipes)

    def eventquery_text(self, node: ast.EventQuery) -> str:
        return self._child(node.filter) + self._pipes(node, " ")

    def sequence_text(self, node: ast.Sequence) -> str:
        head = "sequence" + self._keys(node.keys)
        if node.maxspan is not None:
            head += f" with maxspan={self._child(node.maxspan)}"
        lines = [head, *(self.indent + self._child(stage) for stage in node.stages)]
        if node.until is not None:
            lines.append("until " + self._child(node.until))
        return "\n".join(lines) + self._pipes(node, "\n")

    def sample_text(self, node: ast.Sample) -> str:
        lines = ["sample" + self._keys(node.keys),
                 *(self.indent + self._child(stage) for stage in node.stages)]
        return "\n".join(lines)
