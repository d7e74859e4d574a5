"""Spark SQL's spelling of the compiler's output, and the helpers DuckDB gets as macros.

The compiler (backends/sql.py) is the same for both engines; this dialect changes only how
things are written. Spark-side differences it absorbs:

* String literals: Spark reads backslash escapes in '…', so `\\` and `'` are escaped.
* Identifiers: back-quoted. Lists: `exists`/`filter`/`transform` higher-order functions.
* Dates: Spark's TIMESTAMP stops at microseconds, so the Spark backend holds every date as
  BIGINT epoch nanoseconds (what DuckDB's `epoch_ns` gives): a `date` is floored to
  milliseconds here exactly as `epoch_nanos` does in DuckDB.
* Regexes run on Java's engine: the RE2 anchors `^…$` become `\\A…\\z` (Java's `$` also matches
  before a final line break), `(?i)` becomes Unicode-aware `(?iu)` as RE2's is.
* Arithmetic: Spark's `/` gives NULL on a zero divisor where DuckDB follows IEEE (±Infinity,
  NaN), so doubles spell that out; longs use the `try_*` functions (NULL on overflow, as DuckDB's
  TRY).
* The `eql_*` helpers (Java-faithful between/indexOf/substring/number, ip and version order,
  Java's Double.toString) are Python functions registered as UDFs (SPARK_FUNCTIONS), written
  after the DuckDB macros and checked against them by tests/engine/spark/.
* A Query DSL `nested` filter reads the objects of `_source` in one UDF per event
  (`eql_nested_<depth>`): Spark runs no Python UDF inside a lambda, so the values every inner
  leaf tests are extracted up front, per object, and the leaves are native lambdas over them.
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import orjson

from lanner.engine.backends.sql import SqlDialect, render_literal
from lanner.engine.values import DECIMAL_TEXT, ip_sort_key, java_double, version_sort_key
from lanner.eql import ast
from lanner.store.events import Column

_NS_PER_MS = 1_000_000
_DATE_FORMAT = "yyyy-MM-dd'T'HH:mm:ss.SSS'Z'"

# ES type -> Spark type of the value as the Spark backend stores it (dates: epoch nanoseconds)
SPARK_TYPES: dict[str, str] = {
    **dict.fromkeys(("long", "integer", "short", "byte", "date", "date_nanos"), "BIGINT"),
    "unsigned_long": "DECIMAL(38,0)",
    **dict.fromkeys(("double", "float", "half_float", "scaled_float"), "DOUBLE"),
    "boolean": "BOOLEAN",
}

_TRY_FUNCTIONS = {
    ast.ArithmeticOp.ADD: "try_add", ast.ArithmeticOp.SUB: "try_subtract",
    ast.ArithmeticOp.MUL: "try_multiply", ast.ArithmeticOp.MOD: "try_mod",
}
_FUNCTION_NAMES = {"starts_with": "startswith", "ends_with": "endswith"}


def spark_identifier(name: str) -> str:
    """A Spark SQL identifier, back-quoted: field names hold dots and `@`."""
    return "`" + name.replace("`", "``") + "`"


def spark_literal(value: object) -> str:
    """A Python value as a Spark SQL literal."""
    return render_literal(value, wide_integer="DECIMAL(38,0)",
                          special_doubles=("NaN", "Infinity", "-Infinity"), string=_spark_string)


def _spark_string(value: str) -> str:
    """Backslash escapes, as Spark SQL reads string literals."""
    escaped = value.replace("\\", "\\\\").replace("'", "\\'").replace("\0", "\\u0000")
    return f"'{escaped}'"


class SparkDialect(SqlDialect):
    """Spark SQL (3.5+, run with ANSI mode off and the session time zone UTC)."""

    text_type = "STRING"

    def literal(self, value: object) -> str:
        return spark_literal(value)

    def column(self, column: Column) -> str:
        return spark_identifier(column.physical) if column.physical else "NULL"

    def typed_null(self, es_type: str) -> str:
        return f"CAST(NULL AS {SPARK_TYPES.get(es_type, 'STRING')})"

    def any_value(self, variable: str, values: str, predicate: str) -> str:
        present = f"filter({values}, _e -> _e IS NOT NULL)"
        each = f"if(size({present}) > 0, {present}, array(NULL))"
        return f"exists({each}, {variable} -> {predicate})"

    def list_contains(self, values: str, value: str) -> str:
        return f"array_contains({values}, {value})"

    def bind(self, variable: str, value: str, body: str) -> str:
        return f"transform(array({value}), {variable} -> {body})[0]"

    def regex_search(self, subject: str, regex: str) -> str:
        flags = ""
        if regex.startswith("(?i)"):
            flags, regex = "(?iu)", regex[len("(?i)"):]
        if regex.startswith("^") and regex.endswith("$"):
            regex = "\\A" + regex[1:-1] + "\\z"
        return f"({subject} RLIKE {self.literal(flags + regex)})"

    def like(self, subject: str, pattern: str) -> str:
        return f"({subject} LIKE {pattern} ESCAPE {self.literal(chr(92))})"

    def epoch_nanos(self, sql: str, es_type: str) -> str:
        if es_type == "date":  # Instant.toEpochMilli floors
            return f"({sql} - pmod({sql}, {_NS_PER_MS}))"
        return sql

    def date_text(self, sql: str) -> str:
        millis = f"timestamp_millis(({sql} - pmod({sql}, {_NS_PER_MS})) div {_NS_PER_MS})"
        return f"date_format({millis}, {self.literal(_DATE_FORMAT)})"

    def integer_arithmetic(self, op: ast.ArithmeticOp, left: str, right: str) -> str:
        if op is ast.ArithmeticOp.DIV:  # `div` truncates; NULL for a zero divisor (ANSI off)
            return f"({left} div {right})"
        return f"{_TRY_FUNCTIONS[op]}({left}, {right})"

    def float_arithmetic(self, op: ast.ArithmeticOp, left: str, right: str) -> str:
        if op is ast.ArithmeticOp.DIV:
            return self.bind("_d", f"named_struct('a', {left}, 'b', {right})",
                             "CASE WHEN _d.a IS NULL OR _d.b IS NULL THEN NULL "
                             "WHEN _d.b <> 0 OR isnan(_d.b) THEN _d.a / _d.b "
                             "WHEN _d.a = 0 OR isnan(_d.a) THEN CAST('NaN' AS DOUBLE) "
                             "WHEN (_d.a > 0) = (CAST(_d.b AS STRING) = '0.0') "
                             "THEN CAST('Infinity' AS DOUBLE) "
                             "ELSE CAST('-Infinity' AS DOUBLE) END")
        if op is ast.ArithmeticOp.MOD:
            return self.bind("_d", f"named_struct('a', {left}, 'b', {right})",
                             "CASE WHEN _d.b = 0 THEN CAST('NaN' AS DOUBLE) "
                             "ELSE _d.a % _d.b END")
        return f"({left} {op.value} {right})"

    def call(self, name: str, *args: str) -> str:
        return f"{_FUNCTION_NAMES.get(name, name)}({', '.join(args)})"


SPARK = SparkDialect()


# ------------------------------------------------------------------------------------------
# The eql_* helpers, as Python: each mirrors its DuckDB macro in sql.py (NULL handling too).


def eql_between(src: str | None, searched: str | None, left: str | None, right: str | None,
                greedy: bool | None) -> str | None:
    """StringUtils.between: `searched` is `src` or its lowercase (between~)."""
    if src is None or searched is None:
        return None
    if src == "" or not left or not right:
        return src
    found = searched.find(left)
    if found < 0:
        return ""
    start = found + len(left)
    if greedy:
        end = searched.rfind(right)
    else:
        end = searched.find(right, start)
        if end < 0:
            return ""
    return "" if end < start else src[start:end]


def eql_index_of(text: str | None, sub: str | None, start: int | None) -> int | None:
    """Java String.indexOf(sub, from), None when not found."""
    if text is None or sub is None:
        return None
    start = max(start or 0, 0)
    if sub == "":
        return min(start, len(text))
    if start >= len(text):
        return None
    found = text.find(sub, start)
    return None if found < 0 else found


def eql_substring(text: str | None, start: int | None, end: int | None) -> str | None:
    """Python slice semantics (StringUtils.substringSlice). As in the macro, a negative bound
    of a NULL text counts as 0 (SQL's greatest skips NULL), so it can give ''."""
    if text == "":
        return text
    length = None if text is None else len(text)
    start = _from_end(start, length) if start is not None and start < 0 else start
    end = length if end is None else end
    if end is not None and end < 0:
        end = _from_end(end, length)
    elif end is not None and length is not None:
        end = min(end, length)
    if start is not None and end is not None and start >= end:
        return ""
    if text is None or start is None or end is None:
        return None
    return text[start:end]


def _from_end(position: int, length: int | None) -> int:
    """greatest(position + length, 0), NULL skipped as SQL's greatest skips it."""
    return 0 if length is None else max(position + length, 0)


_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"
_DECIMAL = re.compile(DECIMAL_TEXT)


def _radix_unsigned(text: str, base: int) -> float | None:
    digits = [_DIGITS.find(char) for char in text.lower()]
    if not digits or not all(0 <= digit < base for digit in digits):
        return None
    total = 0.0
    for digit in digits:
        total = total * base + digit
    return total


def _radix(text: str, base: int) -> float | None:
    if base < 2 or base > 36:
        return None
    if text.startswith("-"):
        value = _radix_unsigned(text[1:], base)
        return None if value is None else -value
    if text.startswith("+"):
        return _radix_unsigned(text[1:], base)
    return _radix_unsigned(text, base)


def eql_number(text: str | None, base: int | None) -> float | None:
    """number(): integers in any base 2-36, decimals in base 10 (as the eql_number macro)."""
    if text is None:
        return None
    text = text.strip(" ")
    hexadecimal = text.startswith("0x")
    if (base if base is not None else 16 if hexadecimal else 10) == 10:
        return float(text) if _DECIMAL.fullmatch(text) else None
    if (base if base is not None else 16) == 16 and hexadecimal:
        return _radix(text[2:], 16)
    return _radix(text, base) if base is not None else None


def eql_double_str(value: float | None) -> str | None:
    """Java's Double.toString (zero of either sign prints as 0.0, as the macro does)."""
    if value is None:
        return None
    return "0.0" if value == 0 else java_double(value)


def eql_ip_key(text: str | None) -> str | None:
    return None if text is None else ip_sort_key(text)


def eql_version_key(text: str | None) -> str | None:
    return None if text is None else version_sort_key(text)


# -- nested objects of `_source`, for the Query DSL `nested` query (engine/querydsl.py) ------

# How deeply `nested` queries may nest on Spark: one UDF per depth, each with its row type.
MAX_NESTED_DEPTH = 4
_DIGITS_ONLY = re.compile("[0-9]+")


def nested_function(depth: int) -> str:
    """The UDF that extracts objects for a `nested` query with `depth` levels of nesting."""
    return f"eql_nested_{depth}"


def _nested_type(depth: int) -> str:
    """Objects, each a struct of `v` (per requested field, its values as text) and, below
    the innermost level, `n` (per inner `nested` query, its objects)."""
    values = "v: array<array<string>>"
    if depth == 1:
        return f"array<struct<{values}>>"
    return f"array<struct<{values}, n: array<{_nested_type(depth - 1)}>>>"


@functools.lru_cache(maxsize=256)
def _nested_spec(text: str) -> dict[str, Any]:
    return json.loads(text)


def _at_pointer(value: Any, pointer: str) -> Any:
    """The value at a JSON pointer, as DuckDB's json_extract reads it (digits index arrays)."""
    for raw in pointer.split("/")[1:]:
        key = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(value, dict):
            value = value.get(key)
        elif isinstance(value, list) and _DIGITS_ONLY.fullmatch(key):
            index = int(key)
            value = value[index] if index < len(value) else None
        else:
            return None
        if value is None:
            return None
    return value


def _first_at(value: Any, pointers: list[str]) -> Any:
    """The first non-null value under any of the pointers (every spelling of a dotted path)."""
    for pointer in pointers:
        found = _at_pointer(value, pointer)
        if found is not None:
            return found
    return None


def _json_text(value: Any) -> str:
    """A JSON value's text as DuckDB's json_extract_string gives it (objects and arrays
    compact, as orjson writes them)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _float_text(value)
    return orjson.dumps(value).decode()


def _float_text(value: float) -> str:
    """A double as DuckDB's yyjson writes it: the shortest digits, in plain notation from
    1e-6 up to 1e21 (`100.0`, `0.0000025`), else as `1.5e300`, `1e-7`."""
    if value == 0 or not math.isfinite(value):
        return repr(value)
    shortest = repr(value)
    if 1e-6 <= abs(value) < 1e21:
        plain = format(Decimal(shortest), "f")
        return plain if "." in plain else plain + ".0"
    mantissa, exponent = shortest.split("e")
    return f"{mantissa}e{int(exponent)}"


def _objects_at(value: Any, pointers: list[str]) -> list[dict[str, Any]]:
    found = _first_at(value, pointers)
    if isinstance(found, list):
        return [item for item in found if isinstance(item, dict)]
    return [found] if isinstance(found, dict) else []


def _values_at(value: Any, pointers: list[str], keyed: bool) -> list[str | None]:
    """The non-null values of a field of one object (an array's elements), as text; `keyed`:
    as ip sort keys (None where a value is no address)."""
    found = _first_at(value, pointers)
    items = found if isinstance(found, list) else [found]
    texts = [_json_text(item) for item in items if item is not None]
    return [ip_sort_key(text) for text in texts] if keyed else texts


def _nested_row(document: dict[str, Any], spec: dict[str, Any], depth: int) -> tuple:
    values = [_values_at(document, pointers, keyed) for pointers, keyed in spec["fields"]]
    if depth == 1:
        return (values,)
    inner = [[_nested_row(item, child, depth - 1) for item in _objects_at(document, child["path"])]
             for child in spec["nested"]]
    return (values, inner)


def eql_nested(depth: int, source: str | None, spec: str) -> list[tuple] | None:
    """The objects at a path of `_source` with the values a `nested` query's leaves test.
    `spec` (JSON): {"path": [pointers], "fields": [[pointers, keyed], …], "nested": [spec, …]},
    the path and fields spelled as every JSON pointer of their dotted names."""
    if source is None:
        return None
    parsed = _nested_spec(spec)
    return [_nested_row(item, parsed, depth) for item in _objects_at(json.loads(source),
                                                                     parsed["path"])]


# name -> (function, Spark return type): registered on the session by backends/spark.py
SPARK_FUNCTIONS: dict[str, tuple[Callable[..., object], str]] = {
    **{nested_function(depth): (functools.partial(eql_nested, depth), _nested_type(depth))
       for depth in range(1, MAX_NESTED_DEPTH + 1)},
    "eql_between": (eql_between, "string"),
    "eql_index_of": (eql_index_of, "bigint"),
    "eql_substring": (eql_substring, "string"),
    "eql_number": (eql_number, "double"),
    "eql_double_str": (eql_double_str, "string"),
    "eql_ip_key": (eql_ip_key, "string"),
    "eql_version_key": (eql_version_key, "string"),
}
