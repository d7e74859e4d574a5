"""ES|QL's tokens, read as Elasticsearch's lexer (`EsqlBaseLexer.g4`) reads them.

Two lexer modes matter to the rules: the default one, and FROM's, where an index pattern such as
`logs-endpoint.events.process-*` or `.alerts-security.*` is one token (`UNQUOTED_SOURCE`) up to
`METADATA` or the next pipe. Keywords are identifiers the parser recognises case-insensitively.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from lanner.esql.errors import EsqlSyntaxError, Span


class Kind(StrEnum):
    IDENT = "identifier"
    QUOTED_IDENT = "quoted identifier"
    STRING = "string"
    INTEGER = "integer"
    DECIMAL = "decimal"
    SOURCE = "index pattern"
    OP = "operator"
    PIPE = "|"
    EOF = "end of input"


# Longest first, so `::` wins over `:` and `==` over `=`.
OPERATORS = ("::", "==", "!=", "<=", ">=", "=~", "<", ">", "=", "+", "-", "*", "/", "%", "(",
             ")", ",", ".", ":", "[", "]", "{", "}")
_SOURCE_STOP = frozenset(' \t\r\n,|"`')
_ESCAPES = {"t": "\t", "n": "\n", "r": "\r", '"': '"', "\\": "\\"}


@dataclass(frozen=True, slots=True)
class Token:
    kind: Kind
    text: str  # as written (for strings: the decoded value)
    span: Span

    def is_word(self, *words: str) -> bool:
        """An unquoted identifier that is one of the keywords `words` (lower case)."""
        return self.kind is Kind.IDENT and self.text.lower() in words

    def is_op(self, *ops: str) -> bool:
        return self.kind is Kind.OP and self.text in ops


class Lexer:
    """Tokens on demand: the parser asks for the next one, in the mode it needs."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.line = 1
        self.line_start = 0

    def span(self, start: int, line: int, col: int) -> Span:
        return Span(start, self.pos, line, col)

    def _advance_to(self, end: int) -> None:
        newlines = self.text.count("\n", self.pos, end)
        if newlines:
            self.line += newlines
            self.line_start = self.text.rindex("\n", self.pos, end) + 1
        self.pos = end

    def skip_space(self) -> None:
        text = self.text
        while self.pos < len(text):
            char = text[self.pos]
            if char in " \t\r\n":
                self._advance_to(self.pos + 1)
            elif text.startswith("//", self.pos):
                end = text.find("\n", self.pos)
                self._advance_to(len(text) if end < 0 else end)
            elif text.startswith("/*", self.pos):
                end = text.find("*/", self.pos + 2)
                if end < 0:
                    raise self.error("unterminated comment")
                self._advance_to(end + 2)
            else:
                return

    def error(self, message: str) -> EsqlSyntaxError:
        col = self.pos - self.line_start + 1
        return EsqlSyntaxError(message, Span(self.pos, self.pos + 1, self.line, col),
                               text=self.text)

    def next(self, *, source_mode: bool = False) -> Token:
        self.skip_space()
        text, start = self.text, self.pos
        line, col = self.line, start - self.line_start + 1
        if start >= len(text):
            return Token(Kind.EOF, "", Span(start, start, line, col))
        char = text[start]
        if char == "|":
            self._advance_to(start + 1)
            return Token(Kind.PIPE, "|", self.span(start, line, col))
        if char == '"':
            value = self._string()
            return Token(Kind.STRING, value, self.span(start, line, col))
        if source_mode and char not in ",":
            end = start
            while end < len(text) and text[end] not in _SOURCE_STOP:
                end += 1
            self._advance_to(end)
            return Token(Kind.SOURCE, text[start:end], self.span(start, line, col))
        if char == "`":
            end = start + 1
            parts = []
            while True:
                close = text.find("`", end)
                if close < 0:
                    raise self.error("unterminated quoted identifier")
                parts.append(text[end:close])
                if text.startswith("``", close):  # a doubled backquote is one backquote
                    parts.append("`")
                    end = close + 2
                    continue
                break
            self._advance_to(close + 1)
            return Token(Kind.QUOTED_IDENT, "".join(parts), self.span(start, line, col))
        if char.isdigit() or (char == "." and start + 1 < len(text) and text[start + 1].isdigit()):
            return self._number(start, line, col)
        if char.isalpha() or char in "_@":
            end = start + 1
            while end < len(text) and (text[end].isalnum() or text[end] in "_@"):
                end += 1
            self._advance_to(end)
            return Token(Kind.IDENT, text[start:end], self.span(start, line, col))
        for op in OPERATORS:
            if text.startswith(op, start):
                self._advance_to(start + len(op))
                return Token(Kind.OP, op, self.span(start, line, col))
        raise self.error(f"unexpected character {char!r}")

    def _number(self, start: int, line: int, col: int) -> Token:
        text, end = self.text, start
        while end < len(text) and text[end].isdigit():
            end += 1
        kind = Kind.INTEGER
        if end < len(text) and text[end] == "." and end + 1 < len(text) and text[end + 1].isdigit():
            kind, end = Kind.DECIMAL, end + 1
            while end < len(text) and text[end].isdigit():
                end += 1
        if end < len(text) and text[end] in "eE":
            exp = end + 1
            if exp < len(text) and text[exp] in "+-":
                exp += 1
            if exp < len(text) and text[exp].isdigit():
                kind, end = Kind.DECIMAL, exp
                while end < len(text) and text[end].isdigit():
                    end += 1
        self._advance_to(end)
        return Token(kind, text[start:end], self.span(start, line, col))

    def _string(self) -> str:
        """A `"…"` string with ES|QL's escapes (`\\t \\n \\r \\" \\\\`, and `\\u`-less), or a
        `\"\"\"…\"\"\"` raw string, which has none."""
        text, start = self.text, self.pos
        if text.startswith('"""', start):
            end = text.find('"""', start + 3)
            if end < 0:
                raise self.error("unterminated string")
            while text.startswith('"', end + 3):  # """a"""" ends at the last quotes
                end += 1
            self._advance_to(end + 3)
            return text[start + 3:end]
        out, pos = [], start + 1
        while True:
            if pos >= len(text) or text[pos] == "\n":
                raise self.error("unterminated string")
            char = text[pos]
            if char == '"':
                break
            if char == "\\":
                escaped = text[pos + 1:pos + 2]
                if escaped not in _ESCAPES:
                    self._advance_to(pos)
                    raise self.error(f"invalid escape sequence \\{escaped}")
                out.append(_ESCAPES[escaped])
                pos += 2
                continue
            out.append(char)
            pos += 1
        self._advance_to(pos + 1)
        return "".join(out)
