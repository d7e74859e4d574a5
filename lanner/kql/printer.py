"""Canonical KQL text from a syntax tree: parsing the printed text gives back the same tree.

Keywords are lower case, one space around them; parentheses only where precedence needs them
(`not` binds tighter than `and`, `and` than `or`; `not` applies to a group or a single clause,
so `not` of a boolean is written `not (…)`). Values keep their form: quoted values are printed
quoted, unquoted ones unquoted with the escapes Kibana's grammar needs.
"""

from __future__ import annotations

from lanner.kql import ast
from lanner.kql.tokens import JS_WHITESPACE, SPACE, SPECIAL

OR, AND, NOT, LEAF = range(4)
_QUOTED_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}
_UNQUOTED_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
_CONSTANTS = {None: "null", True: "true", False: "false"}


def to_text(node: ast.Node) -> str:
    """The canonical text of a query, a value expression or a literal."""
    if isinstance(node, ast.Or | ast.And | ast.Not | ast.FieldValue | ast.Range | ast.Nested):
        return _query(node, OR)
    if isinstance(node, ast.ValueOr | ast.ValueAnd | ast.ValueNot):
        return _values(node, OR)
    if isinstance(node, ast.Literal | ast.Wildcard):
        return _leaf(node)
    raise TypeError(f"not a KQL node: {type(node).__name__}")


def _level(node: ast.Node) -> int:
    if isinstance(node, ast.Or | ast.ValueOr):
        return OR
    if isinstance(node, ast.And | ast.ValueAnd):
        return AND
    if isinstance(node, ast.Not | ast.ValueNot):
        return NOT
    return LEAF


def _query(node: ast.Query, context: int) -> str:
    text = _query_bare(node)
    return f"({text})" if _level(node) < context else text


def _query_bare(node: ast.Query) -> str:
    if isinstance(node, ast.Or):
        return " or ".join(_query(item, AND) for item in node.items)
    if isinstance(node, ast.And):
        return " and ".join(_query(item, NOT) for item in node.items)
    if isinstance(node, ast.Not):
        # `not not x` is a syntax error in Kibana: the operand of `not` is a group or a clause.
        return "not " + _query(node.item, LEAF)
    if isinstance(node, ast.FieldValue):
        if node.field is None:
            if not isinstance(node.value, ast.Literal | ast.Wildcard):
                raise ValueError("free text is a single value, not a value list")
            return _leaf(node.value)
        return f"{_leaf(node.field)}:{_values(node.value, LEAF)}"
    if isinstance(node, ast.Range):
        return f"{_leaf(node.field)} {node.op.value} {_leaf(node.value)}"
    if isinstance(node, ast.Nested):
        return f"{_leaf(node.path)}:{{ {_query(node.query, OR)} }}"
    raise TypeError(f"not a KQL query node: {type(node).__name__}")


def _values(node: ast.ValueExpr, context: int) -> str:
    if isinstance(node, ast.ValueOr):
        text = " or ".join(_values(item, AND) for item in node.items)
    elif isinstance(node, ast.ValueAnd):
        text = " and ".join(_values(item, NOT) for item in node.items)
    elif isinstance(node, ast.ValueNot):
        text = "not " + _values(node.item, LEAF)
    else:
        return _leaf(node)
    return f"({text})" if _level(node) < context else text


def _leaf(node: ast.Literal | ast.Wildcard) -> str:
    if isinstance(node, ast.Wildcard):
        segments = node.segments
        _check_edges(segments[0], segments[-1])
        return "*".join(_unquoted(segment) for segment in segments)
    if node.quoted:
        if not isinstance(node.value, str):
            raise ValueError("a quoted literal is a string")
        return '"' + "".join(_QUOTED_ESCAPES.get(char, char) for char in node.value) + '"'
    if not isinstance(node.value, str):
        return _CONSTANTS[node.value]
    if node.value in ("null", "true", "false"):
        raise ValueError(f"the string {node.value!r} can only be written quoted")
    if node.value == "":
        return "\\t"  # an escaped tab, trimmed away: the empty unquoted value
    _check_edges(node.value, node.value)
    return _unquoted(node.value)


def _check_edges(first: str, last: str) -> None:
    if (first[:1] in JS_WHITESPACE and first) or (last[-1:] in JS_WHITESPACE and last):
        raise ValueError("an unquoted literal cannot start or end with whitespace (it is trimmed)")


def _unquoted(text: str) -> str:
    """Escape specials and whitespace escapes, and break up whatever would read as a keyword:
    `or`/`and` after whitespace become `\\or`/`\\and`; `not` before whitespace or at the end
    gets its `n` as `\\u006e` (`\\not` would read as a newline and `ot`)."""
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if char in SPECIAL:
            out.append("\\" + char)
            i += 1
            continue
        if char in _UNQUOTED_ESCAPES:
            out.append(_UNQUOTED_ESCAPES[char])
            i += 1
            continue
        word = text[i:i + 3].lower()
        if word == "not" and (i + 3 == n or text[i + 3] in SPACE):
            out.append(f"\\u{ord(char):04x}" + text[i + 1:i + 3])
            i += 3
            continue
        if i > 0 and text[i - 1] in SPACE:
            for keyword in ("or", "and"):
                end = i + len(keyword)
                if text[i:end].lower() == keyword and (end == n or text[end] in SPACE):
                    out.append("\\" + text[i:end])
                    i = end
                    break
            else:
                out.append(char)
                i += 1
            continue
        out.append(char)
        i += 1
    return "".join(out)
