"""The printer writes canonical KQL that parses back to the same tree."""

from __future__ import annotations

import pytest

from lanner import kql
from lanner.kql.ast import FieldValue, Literal, Wildcard


@pytest.mark.parametrize(("text", "printed"), [
    ("a:b", "a:b"),
    ("A:b  OR  c:d", "A:b or c:d"),
    ("(a:1 or b:2) and not (c:3 and d:4)", "(a:1 or b:2) and not (c:3 and d:4)"),
    ("((a:1))", "a:1"),
    ("not (not a:1)", "not (not a:1)"),
    ("a:(b or (c and d) or not e)", "a:(b or c and d or not e)"),
    ("a:((b or c) and d)", "a:((b or c) and d)"),
    ("a:(not (not b))", "a:(not (not b))"),
    ('a:"x \\"y\\" \\\\ z\\n"', 'a:"x \\"y\\" \\\\ z\\n"'),
    ("a:C\\:\\\\x*", "a:C\\:\\\\x*"),
    ("a:*", "a:*"),
    ("a >= 5", "a >= 5"),
    ("x:{y:1}", "x:{ y:1 }"),
    ("foo bar", "foo bar"),
    ("", "*:*"),
    ("a:b or", "a:b \\or"),
    ("a:x \\or y \\and z", "a:x \\or y \\and z"),
    ("a:\\not", "a:ot"),  # `\\n` then "ot", and the newline is trimmed
])
def test_canonical_text(text: str, printed: str) -> None:
    query = kql.parse(text)
    assert kql.to_text(query) == printed
    assert kql.parse(printed) == query


@pytest.mark.parametrize("value", [
    "not x", "a or b", "a and b", "x not", "x or", "NOT y", "Or", "cannot", "a\tb\nc", "(x)",
    'q"', "a:b", "{}", "<>", "\\", "*", "", "a\u00a0or\u00a0b",
])
def test_unquoted_values_that_need_escapes(value: str) -> None:
    for query in (FieldValue(Literal("f"), Literal(value)),
                  FieldValue(Literal(value or "g"), Literal("v")),
                  FieldValue(Literal("f"), Wildcard((value, value)))):
        text = kql.to_text(query)
        assert kql.parse(text) == query, text
    listed = kql.parse(f"f:({kql.to_text(Literal(value))} or {kql.to_text(Literal(value))})")
    assert kql.parse(kql.to_text(listed)) == listed


def test_unrepresentable_literals_are_refused() -> None:
    for value in (" x", "x ", "null", "true"):
        with pytest.raises(ValueError):
            kql.to_text(FieldValue(Literal("f"), Literal(value)))
