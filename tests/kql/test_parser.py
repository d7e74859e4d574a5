"""The KQL parser reads each construct of Kibana's grammar as Kibana does, and fails where
Kibana fails, at the same place, with Kibana's "Expected … but … found." message."""

from __future__ import annotations

import pytest

from lanner import kql
from lanner.errors import LannerError
from lanner.kql.ast import (
    MATCH_ALL,
    And,
    FieldValue,
    Literal,
    Nested,
    Not,
    Or,
    Range,
    RangeOp,
    ValueAnd,
    ValueNot,
    ValueOr,
    Wildcard,
)


def lit(value: str | bool | None, quoted: bool = False) -> Literal:
    return Literal(value, quoted)


def fv(field: str, value: object) -> FieldValue:
    node = value if not isinstance(value, str) else lit(value)
    return FieldValue(lit(field), node)  # type: ignore[arg-type]


STAR = Wildcard(("", ""))


def test_field_value() -> None:
    assert kql.parse("process.name:cmd.exe") == fv("process.name", "cmd.exe")
    assert kql.parse("  process.name  :  cmd.exe  ") == fv("process.name", "cmd.exe")


def test_precedence_not_and_or() -> None:
    assert kql.parse("a:1 or b:2 and c:3") == Or((fv("a", "1"), And((fv("b", "2"), fv("c", "3")))))
    assert kql.parse("not a:1 and b:2") == And((Not(fv("a", "1")), fv("b", "2")))
    assert kql.parse("(a:1 or b:2) and c:3") == And(
        (Or((fv("a", "1"), fv("b", "2"))), fv("c", "3")))


def test_chains_are_flat() -> None:
    assert kql.parse("a:1 or b:2 or c:3") == Or((fv("a", "1"), fv("b", "2"), fv("c", "3")))


@pytest.mark.parametrize("text", ["a:1 OR b:2 AnD NOT c:3", "a:1 or b:2 and not c:3"])
def test_keywords_are_case_insensitive(text: str) -> None:
    assert kql.parse(text) == Or((fv("a", "1"), And((fv("b", "2"), Not(fv("c", "3"))))))


def test_quoted_values_are_phrases_never_wildcards() -> None:
    assert kql.parse('a:"foo bar*"') == fv("a", lit("foo bar*", True))
    assert kql.parse(r'a:"C:\Windows\\x \"q\" \t\u0041"') == fv(
        "a", lit('C:\\Windows\\x "q" \tA', True))


def test_quoted_field_name() -> None:
    assert kql.parse('"process.name":x') == FieldValue(lit("process.name", True), lit("x"))


def test_unquoted_values_keep_inner_whitespace_and_are_trimmed() -> None:
    assert kql.parse("message:foo bar  ") == fv("message", "foo bar")
    assert kql.parse("a:b or") == fv("a", "b or")  # no space after `or`: part of the value


def test_unquoted_escapes() -> None:
    assert kql.parse(r"a:C\:\\Windows\\\(x\)\<\>\"\*\{\}") == fv("a", 'C:\\Windows\\(x)<>"*{}')
    assert kql.parse(r"a:x \or y \and z \NOT w") == fv("a", "x or y and z NOT w")
    assert kql.parse(r"a:\u0041\tb") == fv("a", "A\tb")
    # `\n` is tried before the escaped keyword, so `\not` is a newline and "ot".
    assert kql.parse(r"a:x\not") == fv("a", "x\not")


def test_constants_and_numbers() -> None:
    assert kql.parse("a:true or b:false or c:null or d:42") == Or(
        (fv("a", lit(True)), fv("b", lit(False)), fv("c", lit(None)), fv("d", "42")))
    assert kql.parse('a:"true"') == fv("a", lit("true", True))


def test_wildcards() -> None:
    assert kql.parse("a:*foo*") == fv("a", Wildcard(("", "foo", "")))
    assert kql.parse(r"a:foo\*bar*") == fv("a", Wildcard(("foo*bar", "")))
    assert kql.parse("a:* curl*") == fv("a", Wildcard(("", " curl", "")))


def test_exists() -> None:
    node = kql.parse("a:*")
    assert node == fv("a", STAR)
    assert isinstance(node, FieldValue) and node.is_exists
    assert kql.parse("not a:*") == Not(fv("a", STAR))


def test_field_name_wildcard() -> None:
    assert kql.parse("file.hash.*:abc") == FieldValue(Wildcard(("file.hash.", "")), lit("abc"))


@pytest.mark.parametrize(("text", "op"), [("a < 5", RangeOp.LT), ("a<=5", RangeOp.LTE),
                                          ("a > 5", RangeOp.GT), ("a >= 5", RangeOp.GTE)])
def test_ranges(text: str, op: RangeOp) -> None:
    assert kql.parse(text) == Range(lit("a"), op, lit("5"))


def test_range_with_quoted_value() -> None:
    assert kql.parse('@timestamp >= "2024-01-01"') == Range(lit("@timestamp"), RangeOp.GTE,
                                                            lit("2024-01-01", True))


def test_value_lists() -> None:
    assert kql.parse("a:(b or c and not d)") == fv(
        "a", ValueOr((lit("b"), ValueAnd((lit("c"), ValueNot(lit("d")))))))
    assert kql.parse("a:((b or c) and d)") == fv(
        "a", ValueAnd((ValueOr((lit("b"), lit("c"))), lit("d"))))
    assert kql.parse("a:(b)") == fv("a", "b")
    assert kql.parse("a:(not (b or c))") == fv("a", ValueNot(ValueOr((lit("b"), lit("c")))))


def test_value_list_expands_as_kibana_does() -> None:
    node = kql.parse("a:(b or not c)")
    assert isinstance(node, FieldValue)
    assert node.expand() == Or((fv("a", "b"), Not(fv("a", "c"))))


def test_nested() -> None:
    assert kql.parse("x:{ y:1 and z:{ w < 2 } }") == Nested(
        lit("x"), And((fv("y", "1"), Nested(lit("z"), Range(lit("w"), RangeOp.LT, lit("2"))))))


def test_free_text() -> None:
    assert kql.parse("foo bar") == FieldValue(None, lit("foo bar"))
    assert kql.parse('"foo" or *bar') == Or(
        (FieldValue(None, lit("foo", True)), FieldValue(None, Wildcard(("", "bar")))))


def test_empty_query_is_match_all() -> None:
    assert kql.parse("") == MATCH_ALL
    assert kql.parse(" \n ") == MATCH_ALL
    assert kql.parse("*:*") == MATCH_ALL


def test_spans_point_at_the_text() -> None:
    node = kql.parse("a:1 and\n  b:2")
    assert isinstance(node, And)
    second = node.items[1]
    assert second.span is not None
    assert (second.span.line, second.span.col, second.span.start, second.span.end) == (2, 3, 10, 13)


@pytest.mark.parametrize(("text", "line", "col", "message"), [
    ("not(a:b)", 1, 4,
     'Expected ":", "<", "<=", ">", ">=", AND, OR, end of input, whitespace but "(" found.'),
    ("a:b and(c:d)", 1, 8, 'Expected AND, OR, end of input, whitespace but "(" found.'),
    ("message:cannot find", 1, 12, 'Expected AND, OR, end of input, whitespace but "n" found.'),
    ('a:"abc', 1, 3, 'Expected "(", "{", value, whitespace but """ found.'),
    ("a:", 1, 3, 'Expected "(", "{", value, whitespace but end of input found.'),
    ("a:(b or c", 1, 10, 'Expected ")", AND, OR, whitespace but end of input found.'),
    ("a:b and\n  (c:d", 2, 7, 'Expected ")", AND, OR, whitespace but end of input found.'),
    ("not not a", 1, 5, 'Expected "(", field name, value but "n" found.'),
    ("a:{ b:1", 1, 8, 'Expected "}", AND, OR, whitespace but end of input found.'),
    ("a < ", 1, 5, "Expected literal, whitespace but end of input found."),
    ("a:b)", 1, 4, 'Expected AND, OR, end of input, whitespace but ")" found.'),
    (r"a:b\x", 1, 4, 'Expected AND, OR, end of input, whitespace but "\\" found.'),
])
def test_syntax_errors(text: str, line: int, col: int, message: str) -> None:
    with pytest.raises(kql.KqlSyntaxError) as raised:
        kql.parse(text)
    error = raised.value
    assert isinstance(error, LannerError)
    assert (error.line, error.col, error.message) == (line, col, message)
    assert error.found == (None if "end of input found" in message else text[error.span.start])


def test_depth_limit_is_a_typed_error() -> None:
    depth = kql.MAX_DEPTH + 1
    for text in ("(" * depth + "a:b" + ")" * depth, "a:" + "(" * depth + "b" + ")" * depth,
                 "a:{" * depth + "b:c" + "}" * depth, "(" * 100_000):
        with pytest.raises(kql.KqlLimitError):
            kql.parse(text)
    ok = kql.MAX_DEPTH
    assert kql.parse("(" * ok + "a:b" + ")" * ok) == fv("a", "b")


def test_long_flat_chains_have_no_limit() -> None:
    text = " or ".join(f"a:{i}" for i in range(5_000))
    node = kql.parse(text)
    assert isinstance(node, Or) and len(node.items) == 5_000
    assert kql.parse("a:(" + " or ".join(str(i) for i in range(5_000)) + ")") is not None


def test_validate_never_raises() -> None:
    assert kql.validate("a:b") == []
    [issue] = kql.validate("a:b and ")
    assert (issue.severity, issue.code, issue.line, issue.col) == (
        kql.Severity.ERROR, "syntax", 1, 9)
    [issue] = kql.validate("(" * 1000)
    assert issue.code == "limit"
