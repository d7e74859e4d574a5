"""ES|QL syntax trees back to query text: one command a line, so that
`parse(to_text(query)) == query` (positions aside)."""

from __future__ import annotations

import json
import re
from typing import Any

from lanner.esql import ast

_PLAIN_NAME = re.compile(r"[A-Za-z_@][A-Za-z0-9_@]*")
_PRECEDENCE = {"or": 1, "and": 2, "not": 3, "==": 4, "!=": 4, "<": 4, "<=": 4, ">": 4,
               ">=": 4, "+": 5, "-": 5, "*": 6, "/": 6, "%": 6}
_PREDICATE = 4  # IN, LIKE, IS NULL and `:` sit with the comparisons
_UNIT_TEXT = {"millisecond": "milliseconds", "second": "seconds", "minute": "minutes",
              "hour": "hours", "day": "days", "week": "weeks", "month": "months",
              "quarter": "quarters", "year": "years"}


def to_text(query: ast.Query) -> str:
    return "\n| ".join(_command(command) for command in query.commands)


def name_text(name: str) -> str:
    """A column name, backquoted where a part is not a plain identifier."""
    return ".".join(part if _PLAIN_NAME.fullmatch(part) and part.lower() not in _KEYWORDS
                    else "`" + part.replace("`", "``") + "`" for part in name.split("."))


_KEYWORDS = frozenset({"and", "or", "not", "in", "like", "rlike", "is", "null", "true", "false",
                       "by", "as", "asc", "desc", "nulls", "first", "last", "with", "where",
                       "metadata"})


def _command(command: ast.Command) -> str:
    if isinstance(command, ast.From):
        text = "FROM " + ", ".join(_source(i) for i in command.indices)
        if command.metadata:
            text += " METADATA " + ", ".join(name_text(m) for m in command.metadata)
        return text
    if isinstance(command, ast.Where):
        return "WHERE " + expr_text(command.condition)
    if isinstance(command, ast.Eval):
        return "EVAL " + ", ".join(_assignment(a) for a in command.assignments)
    if isinstance(command, ast.Stats):
        text = "INLINE STATS" if command.inline else "STATS"
        if command.aggregates:
            text += " " + ", ".join(_aggregate(a) for a in command.aggregates)
        if command.groups:
            text += " BY " + ", ".join(_assignment(g) for g in command.groups)
        return text
    if isinstance(command, ast.Keep | ast.Drop):
        word = "KEEP" if isinstance(command, ast.Keep) else "DROP"
        return f"{word} " + ", ".join(_pattern(p) for p in command.patterns)
    if isinstance(command, ast.Rename):
        return "RENAME " + ", ".join(f"{name_text(old)} AS {name_text(new)}"
                                     for old, new in command.pairs)
    if isinstance(command, ast.Sort):
        return "SORT " + ", ".join(_order(o) for o in command.orders)
    if isinstance(command, ast.Limit):
        return f"LIMIT {command.count}"
    if isinstance(command, ast.MvExpand):
        return "MV_EXPAND " + name_text(command.column)
    if isinstance(command, ast.Dissect):
        text = f"DISSECT {expr_text(command.value, 9)} {_string(command.pattern)}"
        if command.separator:
            text += f" APPEND_SEPARATOR={_string(command.separator)}"
        return text
    if isinstance(command, ast.Grok):
        return f"GROK {expr_text(command.value, 9)} {_string(command.pattern)}"
    assert isinstance(command, ast.Completion)
    text = f"COMPLETION {name_text(command.name)} = {expr_text(command.prompt)}"
    if command.options is not None:
        text += " WITH " + expr_text(command.options)
    return text


def _source(index: str) -> str:
    return index if re.fullmatch(r'[^\s,|"`]+', index) and index.lower() != "metadata" \
        else _string(index)


def _pattern(pattern: str) -> str:
    return ".".join(part if part == "*" or ("*" in part and _PLAIN_NAME.fullmatch(
        part.replace("*", "a"))) else name_text(part) for part in pattern.split("."))


def _assignment(assignment: ast.Assignment) -> str:
    value = expr_text(assignment.value)
    if assignment.name == value or (isinstance(assignment.value, ast.Column)
                                    and assignment.value.name == assignment.name):
        return value
    return f"{name_text(assignment.name)} = {value}"


def _aggregate(aggregate: ast.Aggregate) -> str:
    text = _assignment(ast.Assignment(aggregate.name, aggregate.value))
    if aggregate.where is not None:
        text += " WHERE " + expr_text(aggregate.where)
    return text


def _order(order: ast.Order) -> str:
    text = expr_text(order.value) + ("" if order.ascending else " DESC")
    if order.nulls_first is not None:
        text += " NULLS FIRST" if order.nulls_first else " NULLS LAST"
    return text


def _string(text: str) -> str:
    """A plain string literal, or a raw (triple-quoted) one for text with backslashes or
    quotes, so regexes read as written."""
    if not any(c in text for c in '\\"\n\r\t'):
        return f'"{text}"'
    if "\n" not in text and '"""' not in text and not text.endswith('"'):
        return f'"""{text}"""'
    escaped = (text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
               .replace("\r", "\\r").replace("\t", "\\t"))
    return f'"{escaped}"'


def _constant(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, tuple):
        return "[" + ", ".join(_constant(v) for v in value) + "]"
    return _string(str(value))


def expr_text(node: ast.Node, context: int = 0) -> str:
    """An expression, parenthesised where the surrounding operator binds tighter."""
    text, level = _expr(node)
    return f"({text})" if level < context else text


def _expr(node: ast.Node) -> tuple[str, int]:
    if isinstance(node, ast.Literal):
        return _constant(node.value), 9
    if isinstance(node, ast.TimeSpan):
        return f"{node.amount} {_UNIT_TEXT[node.unit]}", 9
    if isinstance(node, ast.Column):
        return name_text(node.name), 9
    if isinstance(node, ast.Star):
        return "*", 9
    if isinstance(node, ast.MapLiteral):
        return "{" + ", ".join(f"{json.dumps(k)}: {_constant(v)}"
                               for k, v in node.entries) + "}", 9
    if isinstance(node, ast.Call):
        return f"{node.name}({', '.join(expr_text(a) for a in node.args)})", 9
    if isinstance(node, ast.Cast):
        return f"{expr_text(node.value, 9)}::{node.type}", 9
    if isinstance(node, ast.Unary):
        if node.op == "not":
            return f"NOT {expr_text(node.operand, 3)}", 3
        return f"-{expr_text(node.operand, 7)}", 7
    if isinstance(node, ast.Binary):
        level = _PRECEDENCE[node.op]
        op = node.op.upper() if node.op in ("and", "or") else node.op
        # left-associative: a right operand of the same level needs parentheses; comparisons
        # do not chain at all
        left = expr_text(node.left, level + 1 if level == _PREDICATE else level)
        return f"{left} {op} {expr_text(node.right, level + 1)}", level
    if isinstance(node, ast.In):
        items = ", ".join(expr_text(i) for i in node.items)
        word = "NOT IN" if node.negated else "IN"
        return f"{expr_text(node.value, 5)} {word} ({items})", _PREDICATE
    if isinstance(node, ast.Like):
        word = ("NOT " if node.negated else "") + ("RLIKE" if node.regex else "LIKE")
        patterns = [_string(p) for p in node.patterns]
        target = patterns[0] if len(patterns) == 1 else "(" + ", ".join(patterns) + ")"
        return f"{expr_text(node.value, 5)} {word} {target}", _PREDICATE
    if isinstance(node, ast.IsNull):
        return (f"{expr_text(node.value, 5)} IS {'NOT ' if node.negated else ''}NULL",
                _PREDICATE)
    assert isinstance(node, ast.Match)
    return f"{expr_text(node.column, 5)} : {expr_text(node.query, 5)}", _PREDICATE
