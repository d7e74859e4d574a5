"""The `filter` of an EQL search: a Query DSL object, as SQL through the EQL compiler.

Each leaf query becomes the EQL predicate with the same meaning (term -> `==`, terms -> `in`,
range -> comparisons, exists -> `!= null`, wildcard -> `like`), so field types behave as in
EQL. Query DSL has two-valued logic: a leaf that cannot be evaluated is false, and `must_not`
of it true. Fields are looked up as `?field`: the DSL ignores unmapped fields.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lanner.engine.backends.sql import SqlCompiler
from lanner.eql import ast
from lanner.errors import LannerError

_RANGE_OPS = {"gt": ast.ComparisonOp.GT, "gte": ast.ComparisonOp.GTE,
              "lt": ast.ComparisonOp.LT, "lte": ast.ComparisonOp.LTE}


class QueryDslError(LannerError):
    """A filter Lanner cannot run: names the query type or the part it does not support."""


def filter_condition(query: Mapping[str, Any], compiler: SqlCompiler) -> str:
    """SQL that is TRUE exactly for the events the Query DSL `query` matches."""
    return _Translator(compiler).query(query)


class _Translator:
    def __init__(self, compiler: SqlCompiler) -> None:
        self.compiler = compiler

    def query(self, query: Mapping[str, Any]) -> str:
        if not isinstance(query, Mapping) or len(query) != 1:
            raise QueryDslError(f"a query must be an object with one query type, found {query!r}")
        ((kind, body),) = query.items()
        if kind == "match_all":
            return "TRUE"
        if kind == "match_none":
            return "FALSE"
        if kind == "bool":
            return self._bool(body)
        if kind == "constant_score":
            return self.query(body["filter"])
        if kind == "exists":
            return self._leaf(ast.Comparison(ast.ComparisonOp.NEQ, _field(body["field"]),
                                             ast.Null()))
        field, options = self._field_body(kind, body)
        if kind in ("term", "match", "match_phrase"):
            value = options.get("value", options.get("query"))
            if options.get("case_insensitive"):
                return self._leaf(ast.In(field, (_literal(value),), insensitive=True))
            return self._leaf(ast.Comparison(ast.ComparisonOp.EQ, field, _literal(value)))
        if kind == "terms":
            values = options["value"]
            if not isinstance(values, list):
                raise QueryDslError("terms takes a list of values")
            if not values:
                return "FALSE"
            return self._leaf(ast.In(field, tuple(_literal(value) for value in values)))
        if kind == "range":
            return self._range(field, options)
        if kind in ("wildcard", "prefix"):
            value = str(options.get("value", options.get("wildcard")))
            if kind == "prefix":
                call = ast.FunctionCall("startsWith", (field, ast.String(value)),
                                        insensitive=bool(options.get("case_insensitive")))
                return self._leaf(call)
            like = ast.MatchKind.LIKE_I if options.get("case_insensitive") else ast.MatchKind.LIKE
            return self._leaf(ast.Match(like, field, (ast.String(value),)))
        raise QueryDslError(f"the [{kind}] query is not supported in a filter")

    def _field_body(self, kind: str, body: Any) -> tuple[ast.Field, dict[str, Any]]:
        """`{"field": value}` or `{"field": {"value": …, options}}` -> field, options."""
        if not isinstance(body, Mapping):
            raise QueryDslError(f"[{kind}] takes an object")
        fields = [(name, value) for name, value in body.items() if name != "boost"]
        if len(fields) != 1:
            raise QueryDslError(f"[{kind}] takes exactly one field")
        ((name, value),) = fields
        if kind == "range":
            return _field(name), dict(value)
        if isinstance(value, Mapping):
            return _field(name), dict(value)
        return _field(name), {"value": value}

    def _range(self, field: ast.Field, options: dict[str, Any]) -> str:
        terms: list[ast.Expr] = []
        for key, value in options.items():
            if key in _RANGE_OPS:
                if value is not None:
                    terms.append(ast.Comparison(_RANGE_OPS[key], field, _literal(value)))
            elif key not in ("format", "time_zone", "boost"):
                raise QueryDslError(f"range option [{key}] is not supported")
        if not terms:
            return self._leaf(ast.Comparison(ast.ComparisonOp.NEQ, field, ast.Null()))
        return self._leaf(terms[0] if len(terms) == 1 else ast.And(tuple(terms)))

    def _bool(self, body: Mapping[str, Any]) -> str:
        def clauses(name: str) -> list[str]:
            value = body.get(name, [])
            return [self.query(q) for q in (value if isinstance(value, list) else [value])]

        required = clauses("must") + clauses("filter")
        should = clauses("should")
        parts = list(required)
        minimum = body.get("minimum_should_match", 0 if required else 1)
        if should and int(minimum) > 0:
            if int(minimum) > 1:
                raise QueryDslError("minimum_should_match above 1 is not supported")
            parts.append("(" + " OR ".join(should) + ")")
        parts.extend(f"(NOT {clause})" for clause in clauses("must_not"))
        return "(" + " AND ".join(parts) + ")" if parts else "TRUE"

    def _leaf(self, expr: ast.Expr) -> str:
        return f"coalesce({self.compiler.condition(expr)}, FALSE)"


def _field(name: object) -> ast.Field:
    if not isinstance(name, str):
        raise QueryDslError(f"a field name must be a string, found {name!r}")
    return ast.Field(name, optional=True)


def _literal(value: object) -> ast.Literal:
    if value is None:
        return ast.Null()
    if isinstance(value, bool):
        return ast.Boolean(value)
    if isinstance(value, int | float):
        return ast.Number(value)
    if isinstance(value, str):
        return ast.String(value)
    raise QueryDslError(f"unsupported value {value!r}")
