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
* Python UDFs cannot run inside a higher-order function's lambda, which is where the compiler
  binds a multi-valued field. Inside `any_value` every `eql_*` call is therefore rewritten to
  a native Spark SQL version of the same helper (`native_helpers`): the DuckDB macros again,
  in Spark's functions, checked against the macros input by input.
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
from lanner.engine.values import (
    DECIMAL_TEXT,
    LEGAL_BUILD,
    LEGAL_MAIN,
    LEGAL_PRERELEASE,
    ip_sort_key,
    java_double,
    version_sort_key,
)
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

    linear_regex = False  # Java's regexes backtrack: LIKE keeps a bounded cost

    text_type = "STRING"

    def literal(self, value: object) -> str:
        return spark_literal(value)

    def column(self, column: Column) -> str:
        return spark_identifier(column.physical) if column.physical else "NULL"

    def typed_null(self, es_type: str) -> str:
        return f"CAST(NULL AS {SPARK_TYPES.get(es_type, 'STRING')})"

    def any_value(self, variable: str, values: str, predicate: str) -> str:
        """`exists` over the values; the predicate's helpers in native SQL, as Spark runs no
        Python UDF inside a lambda."""
        present = f"filter({values}, _e -> _e IS NOT NULL)"
        each = f"if(size({present}) > 0, {present}, array(NULL))"
        return f"exists({each}, {variable} -> {native_helpers(predicate, variable)})"

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
# The eql_* helpers in native Spark SQL, for inside lambdas: each is its DuckDB macro in
# Spark's functions (Java regexes anchored with \A…\z, RE2's `.` spelt [^\n]).

_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"
_OCTET = "(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_IPV4 = rf"(?:{_OCTET}\.){{3}}{_OCTET}"
# A call of a helper: its name, then its arguments up to the matching parenthesis.
_HELPER_CALL = re.compile(r"(?<![\w`])eql_(\w+)\(")
_LINE = r"[^\n]"  # RE2's `.`: Java's also stops at \r and other line terminators
_SPLIT_DOT = "'\\\\.'"  # the regex \. as a Spark literal
_EMBEDDED_V6 = f"{_LINE}*:[0-9.]+"
_V6_HEAD = r"\A(" + _LINE + "*:)"
_V4_TAIL = r"([0-9.]+)\z"
_FULL_MATCH = r"\A(?:{})\z"  # Java's `$` also matches before a final line break


class _Native:
    """Writes native helper calls; lambda variables are `<prefix>n<count>`, unique within the
    predicate (the prefix is the compiler's variable, unique within the query)."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.count = 0

    def name(self) -> str:
        self.count += 1
        return f"{self.prefix}n{self.count}"

    def let(self, values: list[str], body: Callable[..., str]) -> str:
        """`body` of the values, each evaluated once (a one-element lambda over a struct)."""
        variable = self.name()
        fields = ", ".join(f"'a{index}', {value}" for index, value in enumerate(values))
        refs = [f"{variable}.a{index}" for index in range(len(values))]
        return f"transform(array(named_struct({fields})), {variable} -> {body(*refs)})[0]"

    def full_match(self, subject: str, regex: str) -> str:
        return f"({subject} RLIKE {spark_literal(_FULL_MATCH.format(regex))})"

    # -- the helpers, by name: arguments are SQL evaluated once each ------------------------

    def index_of(self, text: str, sub: str, start: str) -> str:
        def found(start: str) -> str:
            at = f"locate({sub}, {text}, CAST({start} + 1 AS INT))"
            return (f"CASE WHEN {sub} = '' THEN least({start}, CAST(length({text}) AS BIGINT)) "
                    f"WHEN {start} >= length({text}) OR {at} = 0 THEN NULL "
                    f"ELSE CAST({at} - 1 AS BIGINT) END")
        return (f"CASE WHEN {text} IS NULL OR {sub} IS NULL THEN CAST(NULL AS BIGINT) "
                f"ELSE {self.let([f'greatest(coalesce({start}, 0), 0)'], found)} END")

    def substring(self, text: str, start: str, end: str) -> str:
        def within(start: str, end: str) -> str:
            return (f"CASE WHEN {start} >= {end} THEN '' "
                    f"ELSE substr({text}, CAST({start} + 1 AS INT), CAST({end} - {start} AS INT))"
                    " END")

        def bounded(length: str, end: str) -> str:
            start_at = (f"CASE WHEN {start} < 0 THEN greatest({start} + {length}, 0) "
                        f"ELSE {start} END")
            end_at = (f"CASE WHEN {end} < 0 THEN greatest({end} + {length}, 0) "
                      f"WHEN {end} > {length} THEN {length} ELSE {end} END")
            return self.let([start_at, end_at], within)
        sliced = self.let([f"CAST(length({text}) AS BIGINT)",
                           f"coalesce({end}, CAST(length({text}) AS BIGINT))"], bounded)
        return f"CASE WHEN {text} = '' THEN {text} ELSE {sliced} END"

    def between(self, source: str, searched: str, left: str, right: str, greedy: str) -> str:
        def slice_(start: str, end: str) -> str:
            return (f"CASE WHEN {end} < {start} THEN '' "
                    f"ELSE substr({source}, {start} + 1, {end} - {start}) END")

        def last_index(text: str, sub: str) -> str:
            at = f"instr(reverse({text}), reverse({sub}))"
            return (f"CASE WHEN {at} = 0 THEN -1 "
                    f"ELSE length({text}) - {at} - length({sub}) + 1 END")

        def after(start: str) -> str:
            at = f"instr(substr({searched}, {start} + 1), {right})"
            return (f"CASE WHEN coalesce({greedy}, FALSE) "
                    f"THEN {slice_(start, last_index(searched, right))} "
                    f"WHEN {at} = 0 THEN '' ELSE {slice_(start, f'{start} + {at} - 1')} END")
        start = f"instr({searched}, {left}) - 1 + length({left})"
        return (f"CASE WHEN {source} IS NULL THEN NULL "
                f"WHEN {source} = '' OR coalesce({left}, '') = '' OR coalesce({right}, '') = '' "
                f"THEN {source} WHEN instr({searched}, {left}) = 0 THEN '' "
                f"ELSE {self.let([start], after)} END")

    def number(self, text: str, base: str) -> str:
        def parsed(text: str) -> str:
            hexadecimal = f"startswith({text}, '0x')"
            decimal = (f"CASE WHEN {self.full_match(text, DECIMAL_TEXT)} "
                       f"THEN CAST({text} AS DOUBLE) END")
            return (f"CASE WHEN coalesce({base}, CASE WHEN {hexadecimal} THEN 16 ELSE 10 END) = 10"
                    f" THEN {decimal} WHEN coalesce({base}, 16) = 16 AND {hexadecimal} "
                    f"THEN {self._radix(f'substr({text}, 3)', '16')} "
                    f"ELSE {self._radix(text, base)} END")
        return self.let([f"trim({text})"], parsed)

    def _radix(self, text: str, base: str) -> str:
        def signed(text: str) -> str:
            unsigned = self._unsigned(f"substr({text}, 2)", base)
            return (f"CASE WHEN {base} < 2 OR {base} > 36 THEN CAST(NULL AS DOUBLE) "
                    f"WHEN startswith({text}, '-') THEN -{unsigned} "
                    f"WHEN startswith({text}, '+') THEN {unsigned} "
                    f"ELSE {self._unsigned(text, base)} END")
        return self.let([text], signed)

    def _unsigned(self, text: str, base: str) -> str:
        char, digit, total = self.name(), self.name(), self.name()
        characters = f"regexp_extract_all(lower({text}), {spark_literal('(?s).')}, 0)"
        digits = (f"transform({characters}, "
                  f"{char} -> instr({spark_literal(_ALPHABET)}, {char}) - 1)")

        def value(text: str, digits: str) -> str:
            valid = f"forall({digits}, {digit} -> {digit} >= 0 AND {digit} < {base})"
            return (f"CASE WHEN {text} = '' OR NOT {valid} THEN CAST(NULL AS DOUBLE) "
                    f"ELSE aggregate({digits}, CAST(0 AS DOUBLE), "
                    f"({total}, {digit}) -> {total} * {base} + {digit}) END")
        return self.let([text, digits], value)

    def double_str(self, value: str) -> str:
        """Java's Double.toString from the shortest `%.<p>e` text that reads back as the value
        (Spark's own cast prints the JVM's digits, which before Java 19 are not the shortest)."""
        precision, text = self.name(), self.name()
        candidates = (f"transform(sequence(0, 16), {precision} -> format_string("
                      f"concat('%.', {precision}, 'e'), abs({value})))")
        shortest = f"filter({candidates}, {text} -> CAST({text} AS DOUBLE) = abs({value}))[0]"

        def printed(digits: str, exponent: str) -> str:
            whole = (f"rpad(substr({digits}, 1, {exponent} + 1), {exponent} + 1, '0') || '.' || "
                     f"coalesce(nullif(substr({digits}, {exponent} + 2), ''), '0')")
            fraction = f"'0.' || repeat('0', -{exponent} - 1) || {digits}"
            scientific = (f"substr({digits}, 1, 1) || '.' || "
                          f"coalesce(nullif(substr({digits}, 2), ''), '0') || 'E' || "
                          f"CAST({exponent} AS STRING)")
            return (f"CASE WHEN {exponent} < -3 OR {exponent} > 6 THEN {scientific} "
                    f"WHEN {exponent} >= 0 THEN {whole} ELSE {fraction} END")
        parts = self.let([shortest], lambda found: self.let(
            [f"replace(split_part({found}, 'e', 1), '.', '')",
             f"CAST(split_part({found}, 'e', 2) AS INT)"], printed))
        return (f"CASE WHEN {value} IS NULL THEN CAST(NULL AS STRING) "
                f"WHEN isnan({value}) THEN 'NaN' "
                f"WHEN {value} = CAST('Infinity' AS DOUBLE) THEN 'Infinity' "
                f"WHEN {value} = CAST('-Infinity' AS DOUBLE) THEN '-Infinity' "
                f"WHEN {value} = 0 THEN '0.0' "
                f"ELSE CASE WHEN {value} < 0 THEN '-' ELSE '' END || {parts} END")

    def ip_key(self, text: str) -> str:
        address = self._embedded(f"lower(split_part({text}, '%', 1))")
        return (f"CASE WHEN contains({text}, ':') THEN {self._ipv6(address)} "
                f"ELSE {self._ipv4(text)} END")

    def _ipv4(self, text: str) -> str:
        octet = self.name()

        def hexadecimal(text: str) -> str:
            octets = (f"transform(split({text}, {_SPLIT_DOT}), "
                      f"{octet} -> format_string('%02x', CAST({octet} AS INT)))")
            return (f"CASE WHEN {self.full_match(text, _IPV4)} "
                    f"THEN '00000000000000000000ffff' || array_join({octets}, '') END")
        return self.let([text], hexadecimal)

    def _embedded(self, text: str) -> str:
        """An IPv6 address ending in dotted IPv4, its last 32 bits as two hextets."""
        def tail(text: str) -> str:
            head = f"regexp_extract({text}, {spark_literal(_V6_HEAD)}, 1)"
            v4 = self._ipv4(f"regexp_extract({text}, {spark_literal(_V4_TAIL)}, 1)")
            hextets = self.let([v4], lambda v4: (f"substr({v4}, 25, 4) || ':' || "
                                                 f"substr({v4}, 29, 4)"))
            return (f"CASE WHEN {self.full_match(text, _EMBEDDED_V6)} "
                    f"AND contains({text}, '.') THEN {head} || {hextets} ELSE {text} END")
        return self.let([text], tail)

    def _ipv6(self, text: str) -> str:
        def hexadecimal(text: str) -> str:
            def hextets(part: str) -> str:
                return (f"CASE WHEN {part} = '' THEN CAST(array() AS ARRAY<STRING>) "
                        f"ELSE split({part}, ':') END")
            expanded = self.let([hextets(f"split_part({text}, '::', 1)"),
                                 hextets(f"split_part({text}, '::', 2)")], self._expand)
            return (f"CASE WHEN NOT {self.full_match(text, '[0-9a-f:]+')} THEN NULL "
                    f"WHEN length({text}) - length(replace({text}, '::', '')) > 2 THEN NULL "
                    f"WHEN contains({text}, '::') THEN {expanded} "
                    f"ELSE {self._join(f'split({text}, {chr(39)}:{chr(39)})')} END")
        return self.let([text], hexadecimal)

    def _expand(self, head: str, tail: str) -> str:
        zeros = f"array_repeat('0', 8 - size({head}) - size({tail}))"
        return (f"CASE WHEN size({head}) + size({tail}) > 7 THEN NULL "
                f"ELSE {self._join(f'concat({head}, {zeros}, {tail})')} END")

    def _join(self, groups: str) -> str:
        group = self.name()

        def joined(groups: str) -> str:
            return (f"CASE WHEN size({groups}) = 8 AND forall({groups}, "
                    f"{group} -> length({group}) BETWEEN 1 AND 4) THEN array_join(transform("
                    f"{groups}, {group} -> lpad({group}, 4, '0')), '') END")
        return self.let([groups], joined)

    def version_key(self, text: str) -> str:
        def split_build(text: str, plus: str) -> str:
            build = f"CASE WHEN {plus} > 1 THEN substr({text}, {plus}) ELSE '' END"
            rest = f"CASE WHEN {plus} > 1 THEN substr({text}, 1, {plus} - 1) ELSE {text} END"
            return self.let([build, rest], lambda build, rest: self.let(
                [f"instr({rest}, '-')"], lambda dash: self.let(
                    [f"CASE WHEN {dash} > 1 THEN substr({rest}, 1, {dash} - 1) ELSE {rest} END",
                     f"CASE WHEN {dash} > 1 THEN substr({rest}, {dash}) END"],
                    lambda main, pre: self._encode(text, build, main, pre))))
        return self.let([text, f"instr({text}, '+')"], split_build)

    def _encode(self, text: str, build: str, main: str, pre: str) -> str:
        part = self.name()
        pre_parts = (f"array_join(transform(split(substr({pre}, 2), {_SPLIT_DOT}),"
                     f" {part} -> CASE WHEN {self.full_match(part, '[0-9]+')} "
                     f"THEN {self._digit_groups(part)} ELSE {part} END), '.')")
        legal = (f"{self.full_match(main, LEGAL_MAIN)} AND ({pre} IS NULL OR "
                 f"{self.full_match(pre, LEGAL_PRERELEASE)}) AND ({build} = '' OR "
                 f"{self.full_match(build, LEGAL_BUILD)})")
        return (f"CASE WHEN {legal} THEN {self._digit_groups(main)} || CASE WHEN {pre} IS NULL "
                f"THEN chr(3) ELSE chr(2) || '-' || {pre_parts} END || {build} "
                f"WHEN {text} = '' THEN chr(3) ELSE {text} END")

    def _digit_groups(self, text: str) -> str:
        """Each run of digits prefixed by its length, so that numbers order by value."""
        group = self.name()
        runs = f"regexp_extract_all({text}, {spark_literal('[0-9]+|[^0-9]+')}, 0)"
        return (f"array_join(transform({runs}, {group} -> CASE WHEN "
                f"{self.full_match(group, '[0-9]+')} THEN chr(1) || "
                f"format_string('%c', 128 + length({group})) || {group} ELSE {group} END), '')")


# helper name -> (the Spark types of its arguments, its writer)
_NATIVE_HELPERS: dict[str, tuple[tuple[str, ...], Callable[..., str]]] = {
    "between": (("STRING", "STRING", "STRING", "STRING", "BOOLEAN"), _Native.between),
    "index_of": (("STRING", "STRING", "BIGINT"), _Native.index_of),
    "substring": (("STRING", "BIGINT", "BIGINT"), _Native.substring),
    "number": (("STRING", "BIGINT"), _Native.number),
    "double_str": (("DOUBLE",), _Native.double_str),
    "ip_key": (("STRING",), _Native.ip_key),
    "version_key": (("STRING",), _Native.version_key),
}


def native_call(name: str, args: list[str], prefix: str = "_h") -> str:
    """The native Spark SQL of helper `eql_<name>` applied to `args` (SQL, each read once)."""
    types, write = _NATIVE_HELPERS[name]
    if len(args) != len(types):
        raise ValueError(f"eql_{name} takes {len(types)} arguments, not {len(args)}")
    native = _Native(prefix)
    typed = [f"CAST({arg} AS {sql_type})" for arg, sql_type in zip(args, types, strict=True)]
    return native.let(typed, lambda *refs: write(native, *refs))


def native_helpers(sql: str, prefix: str) -> str:
    """`sql` with every eql_* helper call written natively (inner calls first). String
    literals and quoted identifiers are skipped; `prefix` keeps the lambda variables apart
    from the predicate's own."""
    out: list[str] = []
    position = 0
    calls = 0
    while position < len(sql):
        char = sql[position]
        if char in "'`":
            end = _quoted_end(sql, position)
            out.append(sql[position:end])
            position = end
            continue
        found = _HELPER_CALL.match(sql, position)
        if found is None or found.group(1) not in _NATIVE_HELPERS:
            out.append(char)
            position += 1
            continue
        args, position = _arguments(sql, found.end())
        calls += 1
        inner = f"{prefix}c{calls}"
        out.append(native_call(found.group(1), [native_helpers(arg, inner) for arg in args],
                               inner))
    return "".join(out)


def _quoted_end(sql: str, start: int) -> int:
    """The position after the literal ('…', backslash escapes) or identifier (`…`, doubled
    back-quotes) that starts at `start`."""
    quote_char = sql[start]
    position = start + 1
    while position < len(sql):
        if quote_char == "'" and sql[position] == "\\":
            position += 2
            continue
        if sql[position] == quote_char:
            if quote_char == "`" and sql.startswith("``", position):
                position += 2
                continue
            return position + 1
        position += 1
    raise ValueError(f"unterminated {quote_char} in generated SQL")


def _arguments(sql: str, start: int) -> tuple[list[str], int]:
    """The top-level, comma-separated arguments of a call whose `(` ends before `start`,
    and the position after its `)`."""
    args: list[str] = []
    depth = 0
    begin = position = start
    while position < len(sql):
        char = sql[position]
        if char in "'`":
            position = _quoted_end(sql, position)
            continue
        if char == "(":
            depth += 1
        elif char == ")":
            if depth == 0:
                args.append(sql[begin:position].strip())
                return [arg for arg in args if arg], position + 1
            depth -= 1
        elif char == "," and depth == 0:
            args.append(sql[begin:position].strip())
            begin = position + 1
        position += 1
    raise ValueError("unbalanced parentheses in generated SQL")


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
