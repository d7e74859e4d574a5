"""The ES|QL functions Lanner knows: name → arity and whether it aggregates. One registry for
the checks and the SQL translation (ES's `EsqlFunctionRegistry`; arities from the function docs
under `docs/reference/query-languages/esql/`)."""

from __future__ import annotations

from dataclasses import dataclass

MANY = 1 << 16


@dataclass(frozen=True, slots=True)
class Function:
    name: str
    min_args: int
    max_args: int
    aggregate: bool = False


def _registry(*items: tuple[str, int, int] | tuple[str, int, int, bool]) -> dict[str, Function]:
    return {item[0]: Function(*item) for item in items}  # type: ignore[arg-type]


FUNCTIONS = _registry(
    # aggregations
    ("AVG", 1, 1, True), ("COUNT", 0, 1, True), ("COUNT_DISTINCT", 1, 2, True),
    ("MAX", 1, 1, True), ("MIN", 1, 1, True), ("SUM", 1, 1, True), ("VALUES", 1, 1, True),
    ("TOP", 3, 3, True), ("FIRST", 2, 2, True), ("LAST", 2, 2, True),
    # conditional
    ("CASE", 1, MANY), ("COALESCE", 1, MANY),
    # strings
    ("CONCAT", 2, MANY), ("CONTAINS", 2, 2), ("ENDS_WITH", 2, 2), ("FROM_BASE64", 1, 1),
    ("LENGTH", 1, 1), ("LOCATE", 2, 3), ("REPLACE", 3, 3), ("SPACE", 1, 1), ("SPLIT", 2, 2),
    ("STARTS_WITH", 2, 2), ("TO_LOWER", 1, 1), ("TO_UPPER", 1, 1), ("TRIM", 1, 1),
    ("URL_DECODE", 1, 1), ("JSON_EXTRACT", 2, 2),
    # dates and numbers
    ("DATE_DIFF", 3, 3), ("DATE_TRUNC", 2, 2), ("NOW", 0, 0), ("ROUND", 1, 2),
    # conversions
    ("TO_DOUBLE", 1, 1), ("TO_INTEGER", 1, 1), ("TO_IP", 1, 2), ("TO_LONG", 1, 1),
    ("TO_STRING", 1, 1), ("TO_GEOPOINT", 1, 1),
    # ip and geo
    ("CIDR_MATCH", 2, MANY), ("ST_DISTANCE", 2, 2), ("ST_X", 1, 1), ("ST_Y", 1, 1),
    # multi-values
    ("MV_CONCAT", 2, 2), ("MV_CONTAINS", 2, 2), ("MV_COUNT", 1, 1), ("MV_DEDUPE", 1, 1),
    ("MV_FIRST", 1, 1), ("MV_INTERSECTION", 2, 2), ("MV_LAST", 1, 1), ("MV_MIN", 1, 1),
    ("MV_MAX", 1, 1), ("MV_SLICE", 2, 3), ("MV_SUM", 1, 1),
    # full text
    ("KQL", 1, 1), ("MATCH", 2, 3),
)
