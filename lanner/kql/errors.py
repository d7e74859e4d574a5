"""Errors of the KQL front end, with the line and column a person can act on.

Positions, issues and severities are the EQL front end's own types, so that tools report both
languages the same way.
"""

from __future__ import annotations

from lanner.eql.errors import Issue, QueryError, Severity, Span, caret_view

__all__ = [
    "Issue", "KqlCompileError", "KqlError", "KqlLimitError", "KqlSyntaxError", "Severity", "Span",
    "caret_view", "expected_text",
]

END_OF_INPUT = "end of input"


class KqlError(QueryError):
    """A KQL query that Kibana would refuse; carries the position and a stable code."""

    code = "kql-error"


class KqlSyntaxError(KqlError):
    """The text does not follow Kibana's KQL grammar.

    `expected` lists what the grammar could have read at the farthest position it reached, in
    Kibana's words (`"("`, `NOT`, `field name`, `value`, `whitespace`, `end of input`); `found`
    is the character there, None at the end of the text. The message is Kibana's:
    `Expected "(", NOT, field name, value but ")" found.`
    """

    code = "syntax"

    def __init__(self, expected: tuple[str, ...], found: str | None, span: Span | None = None,
                 *, text: str | None = None) -> None:
        super().__init__(f"Expected {expected_text(expected)} but "
                         f"{END_OF_INPUT if found is None else repr_found(found)} found.",
                         span, text=text)
        self.expected = expected
        self.found = found


class KqlLimitError(KqlError):
    """Well-formed so far, but nested deeper than Lanner parses (a guard against stack overflow)."""

    code = "limit"


class KqlCompileError(KqlError):
    """Well-formed, but Kibana would refuse to turn it into Query DSL (a field in a nested
    group that is not nested, a nested field outside one, ...), or Lanner does not (Lucene)."""

    code = "compile"


def expected_text(expected: tuple[str, ...]) -> str:
    return ", ".join(expected)


def repr_found(found: str) -> str:
    return f'"{found}"'
