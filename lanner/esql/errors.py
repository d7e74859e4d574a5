"""Errors of the ES|QL front end: Elasticsearch's `parsing_exception` and
`verification_exception`, with the line and column a person can act on.

Positions and issues are the EQL front end's own types, so tools report every language alike.
"""

from __future__ import annotations

from lanner.eql.errors import Issue, QueryError, Severity, Span

__all__ = ["EsqlError", "EsqlNotRunnableError", "EsqlSyntaxError", "EsqlVerificationError",
           "Issue", "Severity", "Span"]


class EsqlError(QueryError):
    """An ES|QL query that Lanner or Elasticsearch refuses."""

    code = "esql-error"


class EsqlSyntaxError(EsqlError):
    """The text does not follow ES|QL's grammar (Elasticsearch: `parsing_exception`)."""

    code = "syntax"


class EsqlVerificationError(EsqlError):
    """Well-formed, but Elasticsearch's verifier refuses it: an unknown column or function,
    a wrong number of arguments, an aggregate outside STATS (`verification_exception`)."""

    code = "verification"


class EsqlNotRunnableError(EsqlError):
    """A query that needs something outside Lanner: an LLM (`COMPLETION`) or an ML model."""

    code = "not-runnable"
