"""Tokens of Elasticsearch EQL and the tokenizer that makes them.

One compiled regular expression finds the next token; strings are decoded here, so the parser
sees values, not escapes. Keywords are lowercase only, as in Elasticsearch's grammar.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from enum import StrEnum

from lanner.eql.errors import EqlSemanticError, EqlSyntaxError, EqlUnsupportedError, Span


class TokenKind(StrEnum):
    IDENT = "identifier"
    QUOTED_IDENT = "escaped identifier"
    TILDE_IDENT = "function name with ~"
    STRING = "string"
    INTEGER = "integer"
    DECIMAL = "number"
    # keywords
    AND = "and"
    ANY = "any"
    BY = "by"
    FALSE = "false"
    IN = "in"
    IN_I = "in~"
    JOIN = "join"
    LIKE = "like"
    LIKE_I = "like~"
    MAXSPAN = "maxspan"
    NOT = "not"
    NULL = "null"
    OF = "of"
    OR = "or"
    REGEX = "regex"
    REGEX_I = "regex~"
    SAMPLE = "sample"
    SEQUENCE = "sequence"
    TRUE = "true"
    UNTIL = "until"
    WHERE = "where"
    WITH = "with"
    # operators and punctuation
    EQ = "=="
    NEQ = "!="
    LT = "<"
    LTE = "<="
    GT = ">"
    GTE = ">="
    COLON = ":"
    ASSIGN = "="
    PLUS = "+"
    MINUS = "-"
    STAR = "*"
    SLASH = "/"
    PERCENT = "%"
    DOT = "."
    COMMA = ","
    LBRACKET = "["
    RBRACKET = "]"
    LPAREN = "("
    RPAREN = ")"
    PIPE = "|"
    MISSING_OPEN = "!["
    QUESTION = "?"
    EOF = "end of query"


_WORD_KINDS = (
    TokenKind.AND, TokenKind.ANY, TokenKind.BY, TokenKind.FALSE, TokenKind.IN, TokenKind.IN_I,
    TokenKind.JOIN, TokenKind.LIKE, TokenKind.LIKE_I, TokenKind.MAXSPAN, TokenKind.NOT,
    TokenKind.NULL, TokenKind.OF, TokenKind.OR, TokenKind.REGEX, TokenKind.REGEX_I,
    TokenKind.SAMPLE, TokenKind.SEQUENCE, TokenKind.TRUE, TokenKind.UNTIL, TokenKind.WHERE,
    TokenKind.WITH,
)
KEYWORDS: dict[str, TokenKind] = {kind.value: kind for kind in _WORD_KINDS}

_OPERATORS: dict[str, TokenKind] = {
    kind.value: kind for kind in TokenKind if not kind.value[0].isalpha()
}


class Token:
    """A token with its decoded value (strings unescaped, numbers converted) and its span."""

    __slots__ = ("kind", "span", "text", "value")

    def __init__(self, kind: TokenKind, text: str, value: object, span: Span) -> None:
        self.kind = kind
        self.text = text
        self.value = value
        self.span = span

    def __repr__(self) -> str:
        return f"Token({self.kind.name}, {self.text!r}, {self.span.line}:{self.span.col})"


_TOKEN_RE = re.compile(
    r"""
    [ \t\r\n\f]*
    (?:
    (?P<line_comment>//[^\r\n]*)
  | (?P<block_comment>/\*)
  | (?P<raw>\"\"\"[^\r\n]*?\"\"\"\"{0,2})
  | (?P<string>"(?:[^"\\\r\n]|\\.)*")
  | (?P<single>'(?:[^'\\\r\n]|\\.)*'?)
  | (?P<qraw>\?["'])
  | (?P<decimal>\d+\.\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?|\d+[eE][+-]?\d+)
  | (?P<integer>\d+)
  | (?P<tilde>[A-Za-z][A-Za-z0-9_]*~)
  | (?P<ident>[A-Za-z_@][A-Za-z0-9_]*)
  | (?P<quoted>`(?:[^`]|``)*`)
  | (?P<op>==|!=|<=|>=|!\[|[<>:=+\-*/%.,\[\]()|?])
  | (?P<end>$)
    )
    """,
    re.VERBOSE,
)

# Lone surrogates: not Unicode characters, so no UTF-8 text (a rule file, a request to
# Elasticsearch, a SQL literal) can carry them.
_SURROGATE = re.compile("[\ud800-\udfff]")
# Integers of more significant digits than this may be beyond the largest double (1.8e308).
_DOUBLE_DIGITS = 308

_SIMPLE_ESCAPES = {"b": "\b", "t": "\t", "n": "\n", "f": "\f", "r": "\r", '"': '"', "'": "'",
                   "\\": "\\"}
_ESCAPE_RE = re.compile(r"\\(u\{([^}]*)\}|u|.)", re.DOTALL)


def tokenize(text: str) -> list[Token]:
    """Split a query into tokens, ending with EOF; raise EqlSyntaxError at the first bad one."""
    return list(Tokenizer(text))


class Tokenizer:
    """Iterates tokens of one query, counting lines between tokens as it goes."""

    def __init__(self, text: str) -> None:
        self.text = text

    def _span(self, start: int, end: int) -> Span:
        line_start = self.text.rfind("\n", 0, start) + 1
        return Span(start, end, self.text.count("\n", 0, start) + 1, start - line_start + 1)

    def __iter__(self) -> Iterator[Token]:
        text = self.text
        pos = last = line_start = 0
        line = 1
        length = len(text)
        multiline = "\n" in text
        match = _TOKEN_RE.match
        ident, keywords, operators = TokenKind.IDENT, KEYWORDS, _OPERATORS
        surrogate = _SURROGATE.search(text)
        if surrogate is not None:
            start = surrogate.start()
            raise EqlSyntaxError("a valid Unicode code point",
                                 f"the lone surrogate \\u{{{ord(text[start]):04x}}}",
                                 self._span(start, start + 1), text=text)
        while pos < length:
            m = match(text, pos)
            if m is None:
                raise self._bad_character(len(text) - len(text[pos:].lstrip(" \t\r\n\f")))
            group = m.lastgroup
            end = m.end()
            if group == "line_comment" or group == "end":
                pos = end
                continue
            lexeme = m.group(group)  # type: ignore[arg-type]
            pos = end - len(lexeme)
            if multiline:  # hot loop: inline line counting rather than a call per token
                newline = text.rfind("\n", last, pos)
                if newline >= 0:
                    line += text.count("\n", last, pos)
                    line_start = newline + 1
                last = pos
            span = Span(pos, end, line, pos - line_start + 1)
            if group == "ident":
                yield Token(keywords.get(lexeme, ident), lexeme, lexeme, span)
            elif group == "op":
                yield Token(operators[lexeme], lexeme, lexeme, span)
            elif group == "block_comment":
                end = self._skip_block_comment(pos)
            else:
                yield self._literal_token(group, lexeme, span)  # type: ignore[arg-type]
            pos = end
        yield Token(TokenKind.EOF, "", None, self._span(length, length))

    def _bad_character(self, pos: int) -> EqlSyntaxError:
        where = self._span(pos, pos + 1)
        if self.text[pos] == '"':
            return EqlSyntaxError("a closing '\"' on the same line", "end of line", where,
                                  text=self.text)
        return EqlSyntaxError("a token", f"unexpected character {self.text[pos]!r}", where,
                              text=self.text)

    def _literal_token(self, group: str, lexeme: str, span: Span) -> Token:
        if group == "string":
            return Token(TokenKind.STRING, lexeme, self._unescape(lexeme[1:-1], span), span)
        if group == "raw":
            return Token(TokenKind.STRING, lexeme, lexeme[3:-3], span)
        if group == "integer":
            return Token(TokenKind.INTEGER, lexeme, self._integer(lexeme, span), span)
        if group == "decimal":
            value = float(lexeme)
            if math.isinf(value):
                raise self._too_large(lexeme, span)
            return Token(TokenKind.DECIMAL, lexeme, value, span)
        if group == "tilde":
            kind = KEYWORDS.get(lexeme)
            if kind is None:
                return Token(TokenKind.TILDE_IDENT, lexeme, lexeme[:-1], span)
            return Token(kind, lexeme, lexeme, span)
        if group == "quoted":
            return Token(TokenKind.QUOTED_IDENT, lexeme, lexeme[1:-1].replace("``", "`"), span)
        if group == "single":
            raise EqlUnsupportedError(
                "a single-quoted string", 'use double quotes: "…"', span, text=self.text)
        raise EqlUnsupportedError(
            f"the raw string prefix {lexeme}", 'write raw strings as """…"""', span,
            text=self.text)

    def _integer(self, lexeme: str, span: Span) -> int:
        """Integers stay exact beyond a long (Elasticsearch reads those as doubles); beyond
        the range of a double Elasticsearch rejects the number, and so does Lanner."""
        digits = lexeme.lstrip("0") or "0"
        if len(digits) > _DOUBLE_DIGITS and math.isinf(float(digits)):
            raise self._too_large(lexeme, span)
        return int(digits)  # at most 309 digits here, far below int()'s 4300-digit limit

    def _too_large(self, lexeme: str, span: Span) -> EqlSemanticError:
        shown = lexeme if len(lexeme) <= 40 else f"{lexeme[:20]}…({len(lexeme)} characters)"
        return EqlSemanticError(f"Number [{shown}] is too large", span, code="number-range",
                                text=self.text)

    def _skip_block_comment(self, start: int) -> int:
        """Block comments nest, as in Elasticsearch's grammar; returns the offset after it."""
        text = self.text
        depth = 0
        pos = start
        while pos < len(text):
            if text.startswith("/*", pos):
                depth += 1
                pos += 2
            elif text.startswith("*/", pos):
                depth -= 1
                pos += 2
                if depth == 0:
                    return pos
            else:
                pos += 1
        raise EqlSyntaxError("'*/' to close the comment", "end of query",
                             self._span(start, start + 2), text=text)

    def _unescape(self, body: str, span: Span) -> str:
        if "\\" not in body:
            return body

        def replace(m: re.Match[str]) -> str:
            escape = m.group(1)
            if escape.startswith("u"):
                digits = m.group(2)
                if digits is None:
                    raise EqlSyntaxError("'{' after \\u, as in \\u{00e9}", repr(m.group()), span,
                                         text=self.text)
                if not (2 <= len(digits) <= 8) or not all(
                        c in "0123456789abcdefABCDEF" for c in digits):
                    raise EqlSyntaxError(
                        "2 to 8 hex digits in a \\u{…} escape", f"\\u{{{digits}}}", span,
                        text=self.text)
                code = int(digits, 16)
                if code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
                    raise EqlSyntaxError("a valid Unicode code point", f"\\u{{{digits}}}", span,
                                         text=self.text)
                return chr(code)
            if escape in _SIMPLE_ESCAPES:
                return _SIMPLE_ESCAPES[escape]
            raise EqlSyntaxError(
                "one of the escapes \\n \\r \\t \\b \\f \\\" \\' \\\\ \\u{…} "
                '(or a raw string """…""")',
                f"the escape \\{escape}", span, text=self.text)

        return _ESCAPE_RE.sub(replace, body)
