"""Lanner's front end for ES|QL (`language = "esql"`): parse and check queries as
Elasticsearch's grammar and verifier read them.

    >>> from lanner import esql
    >>> query = esql.parse('FROM logs-* METADATA _id | WHERE event.code == "4625" | KEEP _id')
    >>> [type(c).__name__ for c in query.commands]
    ['From', 'Where', 'Keep']
    >>> print(esql.to_text(query))
    FROM logs-* METADATA _id
    | WHERE event.code == "4625"
    | KEEP _id
"""

from __future__ import annotations

from lanner.esql import ast
from lanner.esql.checks import check, not_runnable
from lanner.esql.errors import (
    EsqlError,
    EsqlNotRunnableError,
    EsqlSyntaxError,
    EsqlVerificationError,
    Issue,
    Severity,
)
from lanner.esql.fields import fields_read
from lanner.esql.parser import Parser
from lanner.esql.printer import to_text

__all__ = ["EsqlError", "EsqlNotRunnableError", "EsqlSyntaxError", "EsqlVerificationError",
           "Issue", "Parser", "Severity", "ast", "check", "fields_read", "not_runnable", "parse",
           "to_text", "validate"]


def parse(text: str) -> ast.Query:
    """Parse an ES|QL query; raises EsqlSyntaxError where Elasticsearch would fail to."""
    return Parser(text).parse_query()


def validate(text: str) -> list[Issue]:
    """The issues of a query as data, never raising: a syntax error becomes one Issue;
    COMPLETION gives a `not-runnable` warning naming the command."""
    try:
        query = parse(text)
    except EsqlError as error:
        return [error.as_issue()]
    return check(query)
