"""Lanner's front end for Kibana's query language (KQL, `language = "kuery"`): parse, validate
and print queries, reading them exactly as Kibana's grammar does.

    >>> from lanner import kql
    >>> query = kql.parse('process.name:(cmd.exe or "power shell.exe") and not user.name:*')
    >>> kql.to_text(query)
    'process.name:(cmd.exe or "power shell.exe") and not user.name:*'
"""

from __future__ import annotations

from lanner.kql import ast
from lanner.kql.dsl import lucene_to_query_dsl, to_query_dsl
from lanner.kql.errors import (
    Issue,
    KqlCompileError,
    KqlError,
    KqlLimitError,
    KqlSyntaxError,
    Severity,
    Span,
    caret_view,
)
from lanner.kql.parser import MAX_DEPTH, Parser
from lanner.kql.printer import to_text

__all__ = [
    "MAX_DEPTH", "Issue", "KqlCompileError", "KqlError", "KqlLimitError", "KqlSyntaxError",
    "Parser", "Severity", "Span", "ast", "caret_view", "lucene_to_query_dsl", "parse",
    "to_query_dsl", "to_text", "validate",
]


def parse(text: str) -> ast.Query:
    """Parse a KQL query; raises KqlSyntaxError (or KqlLimitError) where Kibana would fail."""
    return Parser(text).parse_query()


def validate(text: str) -> list[Issue]:
    """The issues of a query as data, never raising: a syntax error becomes one Issue."""
    try:
        parse(text)
    except KqlError as error:
        return [error.as_issue()]
    return []
