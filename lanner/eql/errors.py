"""Errors and issues of the EQL front end, with positions a person can act on.

Messages are plain text: the command line adds the caret view and colour.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import NamedTuple

from lanner.errors import LannerError


class Span(NamedTuple):
    """Where a token or node sits in the query text: offsets [start, end), 1-based line/col.

    A named tuple, because the tokenizer makes one per token and it must be cheap.
    """

    start: int
    end: int
    line: int
    col: int


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


class Positioned:
    """Line and column of anything with an optional span (1:1 when it has none)."""

    __slots__ = ()
    span: Span | None

    @property
    def line(self) -> int:
        return self.span.line if self.span else 1

    @property
    def col(self) -> int:
        return self.span.col if self.span else 1


@dataclass(frozen=True, slots=True)
class Issue(Positioned):
    """One finding about a query: errors make it unrunnable, warnings only need a look."""

    severity: Severity
    code: str
    message: str
    span: Span | None = None


class QueryError(Positioned, LannerError):
    """A query in any of Lanner's languages that it refuses, with the position and a stable
    code: EQL's and KQL's errors alike."""

    code = "query-error"

    def __init__(self, message: str, span: Span | None = None, *, text: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.span = span
        self.text = text

    def as_issue(self) -> Issue:
        return Issue(Severity.ERROR, self.code, self.message, self.span)

    def __str__(self) -> str:
        return f"line {self.line}, column {self.col}: {self.message}"


class EqlError(QueryError):
    """A query that Elasticsearch would reject; carries the position and a stable code."""

    code = "eql-error"

    @classmethod
    def from_issue(cls, issue: Issue, text: str | None = None) -> EqlError:
        """The error for an Issue found by a check pass, keeping its code and position."""
        error = cls.__new__(cls)
        EqlError.__init__(error, issue.message, issue.span, text=text)
        error.code = issue.code
        return error


class EqlSyntaxError(EqlError):
    """The text does not follow the EQL grammar: says what was expected and what was found."""

    code = "syntax"

    def __init__(
        self, expected: str, found: str, span: Span | None = None, *, text: str | None = None
    ) -> None:
        super().__init__(f"expected {expected}, found {found}", span, text=text)
        self.expected = expected
        self.found = found


class EqlUnsupportedError(EqlError):
    """Valid in other EQL dialects (the endgame `eql` package) but not in Elasticsearch."""

    code = "unsupported"

    def __init__(
        self, construct: str, hint: str = "", span: Span | None = None, *, text: str | None = None
    ) -> None:
        super().__init__(unsupported_message(construct, hint), span, text=text)
        self.construct = construct


class EqlSemanticError(EqlError):
    """Well-formed text that Elasticsearch's verifier rejects: arity, types, limits."""

    code = "semantic"

    def __init__(
        self, message: str, span: Span | None = None, *, code: str = "semantic",
        text: str | None = None,
    ) -> None:
        super().__init__(message, span, text=text)
        self.code = code


def unsupported_message(construct: str, hint: str = "") -> str:
    """The one wording for constructs Elasticsearch does not have."""
    message = f"{construct} is not supported in Elasticsearch EQL"
    return f"{message}; {hint}" if hint else message


def caret_view(text: str, line: int, col: int, width: int = 1) -> str:
    """The offending line with a caret under the column, as compilers show it."""
    lines = text.splitlines() or [""]
    source = lines[min(max(line, 1), len(lines)) - 1].expandtabs(1)
    marker = " " * (max(col, 1) - 1) + "^" * max(width, 1)
    return f"{source}\n{marker}"
