"""A parser that reads KQL exactly as Kibana's grammar (`kuery/grammar/grammar.peggy`) does.

The grammar is a PEG: ordered choice with backtracking, and no tokenizer (an unquoted value may
hold whitespace and ends only at a special character or a keyword). So each grammar rule is a
method from a position to a (node, end) pair or None. Errors are reported as Peggy reports them:
at the farthest position any rule reached, with everything that could have been read there.
Named rules (field name, value, literal, whitespace, OR, AND, NOT) report their name, not their
insides.

Recursion happens only at `(` and `{`, so MAX_DEPTH of those bounds the Python stack: deeper
input is a KqlLimitError, never a RecursionError. `a or b or …` and value lists are loops.
"""

from __future__ import annotations

from bisect import bisect_right
from typing import NamedTuple

from lanner.kql import ast
from lanner.kql.errors import END_OF_INPUT, KqlLimitError, KqlSyntaxError, Span
from lanner.kql.tokens import SPACE, Scanned, scan_quoted, scan_unquoted

# Levels of `(` and `{` a query may open. The rule corpus needs a handful; each level costs
# about five Python frames, so the parser stays far inside the default recursion limit.
MAX_DEPTH = 64

# Peggy's descriptions of what it expected, and the words Kibana shows for them.
_NAMES = {"fieldName": "field name", "value": "value", "literal": "literal",
          "whitespace": "whitespace"}
_RANGE_OPERATORS = (("<=", ast.RangeOp.LTE), (">=", ast.RangeOp.GTE), ("<", ast.RangeOp.LT),
                    (">", ast.RangeOp.GT))


class _Result(NamedTuple):
    node: ast.Node
    end: int


class Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.n = len(text)
        self.fail_pos = 0
        self.expected: set[str] = set()
        self.depth = 0
        self._literals: dict[int, Scanned | None] = {}
        self._line_starts = [0] + [i + 1 for i, char in enumerate(text) if char == "\n"]

    # -- positions and failures ----------------------------------------------------------------

    def span(self, start: int, end: int) -> Span:
        line = bisect_right(self._line_starts, start)
        return Span(start, end, line, start - self._line_starts[line - 1] + 1)

    def fail(self, pos: int, description: str) -> None:
        if pos < self.fail_pos:
            return
        if pos > self.fail_pos:
            self.fail_pos = pos
            self.expected = set()
        self.expected.add(description)

    def error(self) -> KqlSyntaxError:
        pos = self.fail_pos
        expected: list[str] = []
        for description in sorted(self.expected):
            word = _NAMES.get(description, description)
            if word not in expected:
                expected.append(word)
        found = self.text[pos] if pos < self.n else None
        return KqlSyntaxError(tuple(expected), found, self.span(pos, min(pos + 1, self.n)),
                              text=self.text)

    def enter(self, pos: int) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise KqlLimitError(
                f"the query nests more than {MAX_DEPTH} levels of parentheses or braces",
                self.span(pos, pos + 1), text=self.text)

    # -- terminals -----------------------------------------------------------------------------

    def char(self, pos: int, char: str) -> int | None:
        if self.text.startswith(char, pos):
            return pos + len(char)
        self.fail(pos, f'"{char}"')
        return None

    def spaces(self, pos: int) -> int:
        """`Space*`; each `Space` that does not match is a failure named whitespace."""
        while pos < self.n and self.text[pos] in SPACE:
            pos += 1
        self.fail(pos, "whitespace")
        return pos

    def keyword(self, pos: int, word: str, *, space_before: bool) -> int | None:
        """`Space+ 'or'i Space+` (or `and`), or `'not'i Space+` without space before."""
        i = pos
        if space_before:
            while i < self.n and self.text[i] in SPACE:
                i += 1
            if i == pos:
                return self._keyword_failed(pos, word)
        if self.text[i:i + len(word)].lower() != word:
            return self._keyword_failed(pos, word)
        i += len(word)
        start = i
        while i < self.n and self.text[i] in SPACE:
            i += 1
        if i == start:
            return self._keyword_failed(pos, word)
        return i

    def _keyword_failed(self, pos: int, word: str) -> None:
        self.fail(pos, word.upper())
        return None

    def scan(self, pos: int) -> Scanned | None:
        """`Literal = QuotedString / UnquotedLiteral`, remembered per position (the grammar
        reads a field name up to four times while it chooses between its alternatives)."""
        if pos not in self._literals:
            self._literals[pos] = scan_quoted(self.text, pos) or (
                None if self.text.startswith('"', pos) else scan_unquoted(self.text, pos))
        return self._literals[pos]

    def literal(self, pos: int, name: str) -> _Result | None:
        scanned = self.scan(pos)
        if scanned is None:
            self.fail(pos, name)
            return None
        span = self.span(pos, scanned.end)
        if scanned.quoted:
            node: ast.Node = ast.Literal(scanned.segments[0], True, span=span)
        elif scanned.is_wildcard:
            node = ast.Wildcard(scanned.segments, span=span)
        else:
            text = scanned.segments[0]
            value: str | bool | None = {"null": None, "true": True, "false": False}.get(text, text)
            node = ast.Literal(value, span=span)
        return _Result(node, scanned.end)

    # -- the grammar ---------------------------------------------------------------------------

    def parse_query(self) -> ast.Query:
        """`start = Space* OrQuery? Space*`; the empty query is `*:*`."""
        pos = self.spaces(0)
        result = self.or_query(pos)
        node = ast.MATCH_ALL
        if result is not None:
            node, pos = result.node, result.end  # type: ignore[assignment]
        pos = self.spaces(pos)
        if pos < self.n:
            self.fail(pos, END_OF_INPUT)
            raise self.error()
        return node  # type: ignore[return-value]

    def _chain(self, pos: int, item, word: str, cls) -> _Result | None:
        """`item (Keyword item)*`: one node, or a flat `cls` of all of them."""
        first = item(pos)
        if first is None:
            return None
        items = [first.node]
        end = first.end
        while True:
            after = self.keyword(end, word, space_before=True)
            if after is None:
                break
            following = item(after)
            if following is None:
                break
            items.append(following.node)
            end = following.end
        if len(items) == 1:
            return first
        return _Result(cls(tuple(items), span=self.span(pos, end)), end)

    def or_query(self, pos: int) -> _Result | None:
        return self._chain(pos, self.and_query, "or", ast.Or)

    def and_query(self, pos: int) -> _Result | None:
        return self._chain(pos, self.not_query, "and", ast.And)

    def not_query(self, pos: int) -> _Result | None:
        after = self.keyword(pos, "not", space_before=False)
        if after is not None:
            result = self.sub_query(after)
            if result is not None:
                return _Result(ast.Not(result.node, span=self.span(pos, result.end)), result.end)
        return self.sub_query(pos)

    def sub_query(self, pos: int) -> _Result | None:
        after = self.char(pos, "(")
        if after is not None:
            result = self._group(pos, after, self.or_query, ")")
            if result is not None:
                return result
        return self.nested_query(pos)

    def _group(self, pos: int, after: int, inner, close: str) -> _Result | None:
        """`Space* inner Space* close` after an opening bracket; the node of inner."""
        self.enter(pos)
        try:
            result = inner(self.spaces(after))
            if result is None:
                return None
            end = self.char(self.spaces(result.end), close)
            return None if end is None else _Result(result.node, end)
        finally:
            self.depth -= 1

    def nested_query(self, pos: int) -> _Result | None:
        field = self.literal(pos, "fieldName")
        if field is not None:
            colon = self.char(self.spaces(field.end), ":")
            if colon is not None:
                brace = self.spaces(colon)
                after = self.char(brace, "{")
                if after is not None:
                    result = self._group(brace, after, self.or_query, "}")
                    if result is not None:
                        node = ast.Nested(field.node, result.node,  # type: ignore[arg-type]
                                          span=self.span(pos, result.end))
                        return _Result(node, result.end)
        return self.expression(pos)

    def expression(self, pos: int) -> _Result | None:
        return self.field_range(pos) or self.field_value(pos) or self.value_expression(pos)

    def field_range(self, pos: int) -> _Result | None:
        field = self.literal(pos, "fieldName")
        if field is None:
            return None
        at = self.spaces(field.end)
        found = next(((after, op) for written, op in _RANGE_OPERATORS
                      if (after := self.char(at, written)) is not None), None)
        if found is None:
            return None
        after, op = found
        value = self.literal(self.spaces(after), "literal")
        if value is None:
            return None
        node = ast.Range(field.node, op, value.node,  # type: ignore[arg-type]
                         span=self.span(pos, value.end))
        return _Result(node, value.end)

    def field_value(self, pos: int) -> _Result | None:
        field = self.literal(pos, "fieldName")
        if field is None:
            return None
        colon = self.char(self.spaces(field.end), ":")
        if colon is None:
            return None
        values = self.list_of_values(self.spaces(colon))
        if values is None:
            return None
        node = ast.FieldValue(field.node, values.node,  # type: ignore[arg-type]
                              span=self.span(pos, values.end))
        return _Result(node, values.end)

    def value_expression(self, pos: int) -> _Result | None:
        value = self.literal(pos, "value")
        if value is None:
            return None
        node = ast.FieldValue(None, value.node,  # type: ignore[arg-type]
                              span=self.span(pos, value.end))
        return _Result(node, value.end)

    def list_of_values(self, pos: int) -> _Result | None:
        after = self.char(pos, "(")
        if after is not None:
            result = self._group(pos, after, self.or_values, ")")
            if result is not None:
                return result
        return self.literal(pos, "value")

    def or_values(self, pos: int) -> _Result | None:
        return self._chain(pos, self.and_values, "or", ast.ValueOr)

    def and_values(self, pos: int) -> _Result | None:
        return self._chain(pos, self.not_values, "and", ast.ValueAnd)

    def not_values(self, pos: int) -> _Result | None:
        after = self.keyword(pos, "not", space_before=False)
        if after is not None:
            result = self.list_of_values(after)
            if result is not None:
                node = ast.ValueNot(result.node, span=self.span(pos, result.end))  # type: ignore[arg-type]
                return _Result(node, result.end)
        return self.list_of_values(pos)
