"""Lanner's front end for Elasticsearch EQL: tokenize, parse, check and print queries.

    >>> from lanner import eql
    >>> query = eql.parse('process where process.name : "cmd.exe"')
    >>> eql.to_text(query)
    'process where process.name : "cmd.exe"'
"""

from __future__ import annotations

from collections.abc import Callable

from lanner.eql import ast
from lanner.eql.checks import Schema, check, raise_errors
from lanner.eql.errors import (
    EqlError,
    EqlSemanticError,
    EqlSyntaxError,
    EqlUnsupportedError,
    Issue,
    Severity,
    Span,
    caret_view,
)
from lanner.eql.parser import Parser, parse_expression
from lanner.eql.printer import to_text
from lanner.eql.tokens import Token, TokenKind, tokenize

__all__ = [
    "EqlError", "EqlSemanticError", "EqlSyntaxError", "EqlUnsupportedError", "Issue", "Schema",
    "Severity", "Span", "Token", "TokenKind", "ast", "caret_view", "check", "parse",
    "parse_expression", "remember", "to_text", "tokenize", "validate",
]


_REMEMBERED: dict[str, ast.Query | Callable[[], ast.Query]] = {}


def parse(text: str) -> ast.Query:
    """Parse a query and reject what Elasticsearch would reject; raises an EqlError subclass."""
    known = _REMEMBERED.get(text)
    if known is not None:
        if not isinstance(known, ast.Query):  # remembered lazily: made now, once
            known = _REMEMBERED[text] = known()
        return known
    query = Parser(text).parse_query()
    raise_errors(query, text)
    return query


def remember(text: str, query: ast.Query | Callable[[], ast.Query]) -> None:
    """Take `query` as what `parse(text)` gives: it was parsed and checked before, by this
    version of Lanner (the rules cache, lanner.rules.cache, hands its queries over here).
    A callable makes it when first asked: a hunt needs few of a thousand cached queries."""
    _REMEMBERED[text] = query


def validate(text: str, schema: Schema | None = None,
             category_field: str = "event.category") -> list[Issue]:
    """Every issue of a query as data, never raising: a syntax error becomes one Issue.

    `category_field` is the field the rule takes event categories from (a rule's
    `event_category_override`), so that category names are checked against its values.
    """
    try:
        query = Parser(text).parse_query()
    except EqlError as error:
        return [error.as_issue()]
    return check(query, schema, category_field)
