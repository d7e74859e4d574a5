"""The tokenizer: kinds, decoded values, positions, and errors that point at the problem."""

from __future__ import annotations

import pytest

from lanner.eql import EqlSyntaxError, EqlUnsupportedError, TokenKind, tokenize

K = TokenKind


def kinds(text: str) -> list[TokenKind]:
    return [token.kind for token in tokenize(text)][:-1]


def values(text: str) -> list[object]:
    return [token.value for token in tokenize(text)][:-1]


def test_keywords_are_lowercase_only() -> None:
    assert kinds("and AND sequence Sequence") == [K.AND, K.IDENT, K.SEQUENCE, K.IDENT]


def test_operators_longest_first() -> None:
    assert kinds("== != <= >= < > : = ![ [ ? |") == [
        K.EQ, K.NEQ, K.LTE, K.GTE, K.LT, K.GT, K.COLON, K.ASSIGN, K.MISSING_OPEN, K.LBRACKET,
        K.QUESTION, K.PIPE]


def test_tilde_forms() -> None:
    assert kinds("in~ like~ regex~ startsWith~ in like regex") == [
        K.IN_I, K.LIKE_I, K.REGEX_I, K.TILDE_IDENT, K.IN, K.LIKE, K.REGEX]
    assert values("startsWith~")[0] == "startsWith"


def test_numbers() -> None:
    assert values("1 1.5 .5 1e3 2.5E-1 10") == [1, 1.5, 0.5, 1000.0, 0.25, 10]
    assert kinds("1 1.5 1e3") == [K.INTEGER, K.DECIMAL, K.DECIMAL]


def test_time_span_lexes_as_number_then_unit() -> None:
    assert [(t.kind, t.value) for t in tokenize("5m 100ms")][:-1] == [
        (K.INTEGER, 5), (K.IDENT, "m"), (K.INTEGER, 100), (K.IDENT, "ms")]


def test_string_escapes() -> None:
    assert values(r'"a\"b" "c\\d" "\n\r\t\b\f" "\u{41}\u{1F600}\u{00e9}" "\'"') == [
        'a"b', "c\\d", "\n\r\t\b\f", "A😀é", "'"]


def test_raw_strings_keep_backslashes_and_allow_trailing_quotes() -> None:
    assert values(r'"""C:\Windows\*""" """a"b""" """x""""') == [r"C:\Windows\*", 'a"b', 'x"']


def test_identifiers_backticks_and_at() -> None:
    assert values("@timestamp `my-field` `a``b` _x") == ["@timestamp", "my-field", "a`b", "_x"]
    assert kinds("`my-field`") == [K.QUOTED_IDENT]


def test_comments_are_skipped_and_block_comments_nest() -> None:
    assert kinds("a // comment\n/* x /* nested */ y */ b") == [K.IDENT, K.IDENT]


def test_positions_are_line_and_column() -> None:
    tokens = tokenize("process where\n  x == 1")
    assert [(t.text, t.span.line, t.span.col) for t in tokens[:-1]] == [
        ("process", 1, 1), ("where", 1, 9), ("x", 2, 3), ("==", 2, 5), ("1", 2, 8)]
    assert tokens[-1].kind is K.EOF and tokens[-1].span.line == 2


@pytest.mark.parametrize(("text", "line", "col", "expected"), [
    ('x == "abc', 1, 6, "closing '\"'"),
    ('x == "a\\qb"', 1, 6, "the escape \\q"),
    ('x == "\\u{1}"', 1, 6, "2 to 8 hex digits"),
    ('x == "\\u{110000}"', 1, 6, "valid Unicode code point"),
    ('x == "\\u41"', 1, 6, "'{' after \\u"),
    ("x == 1 /* open", 1, 8, "'*/'"),
    ("x ==\n  #", 2, 3, "unexpected character '#'"),
])
def test_token_errors_have_positions(text: str, line: int, col: int, expected: str) -> None:
    with pytest.raises(EqlSyntaxError) as info:
        tokenize(text)
    assert (info.value.line, info.value.col) == (line, col)
    assert expected in info.value.message


@pytest.mark.parametrize(("text", "construct"), [
    ("x == 'abc'", "a single-quoted string"),
    ('x == ?"abc"', 'the raw string prefix ?"'),
    ("x == ?'abc'", "the raw string prefix ?'"),
])
def test_foreign_string_forms_are_unsupported(text: str, construct: str) -> None:
    with pytest.raises(EqlUnsupportedError) as info:
        tokenize(text)
    assert info.value.construct == construct
    assert "not supported in Elasticsearch EQL" in str(info.value)
    assert info.value.col == 6
