"""EQL conditions compiled to DuckDB SQL with Elasticsearch's semantics.

What makes this more than a translation of operators (§3-§5 of ../shared/spec/EQL-SEMANTICS.md,
and docs/semantics-notes.md for where Lanner departs from that spec):

* A `where` clause has Query DSL's two-valued logic, as ES plans it: every predicate becomes
  one query (term, range, prefix, wildcard, terms, exists) or one null-safe script, true or
  false for each event, and `and`/`or`/`not` become a `bool` query over them. A predicate
  whose value is null (a missing field) is false, and `not` of it true: `x != "v"`,
  `not (x == "v")` and `x not in (…)` match events without `x`. Inside a predicate (a
  function's argument, `null == (x > 1)`) SQL's three-valued logic is the script's.
* What reads no mapped field is folded at planning time, as ES's optimizer folds it: `x == null`
  and `x != null` for a null-valued side become IS [NOT] NULL of the other side, and a clause
  that folds to null (`?unmapped : "v"`) makes its `and` null, drops out of its `or`, and stays
  null under `not`; a null `where` matches nothing.
* A multi-valued field matches when any of its values does. Every occurrence of a LIST column
  inside a predicate is bound to one element by a lambda (`list_bool_or(list_transform(…))`),
  as Elasticsearch's term/range queries and its multi-value-aware scripts do; a field without
  values is bound to NULL once. `not` negates the whole predicate, so `[a, b] != a` is false.
* Typed comparisons: dates at the field's resolution against ISO strings or epoch millis, `ip`
  by address (and CIDR blocks), `version` by semantic-version precedence, keywords by bytes.
* Functions follow the Java implementations; the helpers they need are SQL macros installed on
  the connection (`install_macros`), checked against the Python references in
  lanner.engine.values.

Literals are inlined through `sql_literal`, the one quoting function.
"""

from __future__ import annotations

import functools
import math
import re
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import TypeVar

import duckdb

from lanner.engine.patterns import PatternForm, lucene_to_re2, wildcard_form, wildcard_to_like
from lanner.engine.values import (
    DECIMAL_TEXT,
    LEGAL_BUILD,
    LEGAL_MAIN,
    LEGAL_PRERELEASE,
    cidr_key_range,
    ip_sort_key,
    java_string,
    parse_number,
    version_sort_key,
)
from lanner.eql import ast
from lanner.eql.errors import EqlSemanticError
from lanner.eql.printer import to_text
from lanner.eql.schema import FieldSchema, closest_names
from lanner.eql.types import Kind, kind_of_es_type, kind_of_value
from lanner.errors import LannerError
from lanner.store.columns import Column, FieldSource
from lanner.store.mappings import DUCKDB_TYPES, date_parser

_NS_PER_MS = 1_000_000
_OCTET = "(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_IPV4 = rf"(?:{_OCTET}\.){{3}}{_OCTET}"


class CompileError(EqlSemanticError):
    """A query Elasticsearch would refuse once it sees the mapping: a literal that cannot be
    read as its field's type, a pattern on a non-string, an invalid CIDR block."""

    def __init__(self, message: str, node: ast.Node | None = None) -> None:
        super().__init__(message, node.span if node is not None else None, code="compile")


class QueryFailedError(LannerError):
    """The engine failed a query Lanner generated: what the search reports instead of the
    engine's own exception."""


class UnknownFieldError(EqlSemanticError):
    """Fields the searched indices do not map, written without `?`: Elasticsearch's
    verification error, naming every such field (`Unknown column [x]`)."""

    def __init__(self, problems: list[tuple[ast.Field, list[str]]]) -> None:
        lines = []
        for node, close in problems:
            hint = f", did you mean {' or '.join(f'[{c}]' for c in close)}?" if close else ""
            where = f"line {node.span.line}:{node.span.col}: " if node.span else ""
            lines.append(f"{where}Unknown column [{node.name}]{hint}")
        count = len(problems)
        header = f"Found {count} problem{'s' if count > 1 else ''}"
        first = problems[0][0]
        super().__init__("\n".join([header, *lines]), first.span, code="unknown-field")
        self.fields = [node.name for node, _ in problems]

    def __str__(self) -> str:
        return self.message


def render_literal(value: object, *, wide_integer: str, special_doubles: tuple[str, str, str],
                   string: Callable[[str], str]) -> str:
    """A Python value as a SQL literal, in the words of a dialect: its type for integers
    beyond BIGINT, its spellings of NaN, +inf and -inf, and its string quoting."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        if -(2**63) <= value < 2**63:
            return f"CAST({value} AS BIGINT)"
        return f"CAST('{value}' AS {wide_integer})"
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            nan, positive, negative = special_doubles
            word = nan if math.isnan(value) else positive if value > 0 else negative
            return f"CAST('{word}' AS DOUBLE)"
        return f"CAST({value!r} AS DOUBLE)"
    if isinstance(value, str):
        return string(value)
    raise TypeError(f"no SQL literal for {type(value).__name__}")


def _duckdb_string(value: str) -> str:
    """Quotes doubled; NUL, which a DuckDB literal cannot hold, joined in with chr(0)."""
    quoted = ["'" + part.replace("'", "''") + "'" for part in value.split("\0")]
    return quoted[0] if len(quoted) == 1 else "(" + " || chr(0) || ".join(quoted) + ")"


def sql_literal(value: object) -> str:
    """A Python value as a DuckDB literal: the one place values enter SQL text."""
    return render_literal(value, wide_integer="HUGEINT", special_doubles=("nan", "inf", "-inf"),
                          string=_duckdb_string)


# ------------------------------------------------------------------------------------------
# Macros: the Java semantics of functions and ES value orders, once per connection.

_MACROS = (
    # A LIST column's values as ES sees them (nulls inside dropped), or [NULL] when it has
    # none: a lambda over it tests every value, or the missing value once.
    "eql_values(l) AS coalesce(nullif(list_filter(l, lambda e: e IS NOT NULL), []), [NULL])",
    # Java's Double.toString from DuckDB's shortest round-trip text.
    """eql_sci_text(ds, e) AS left(ds, 1) || '.'
        || CASE WHEN length(ds) > 1 THEN substr(ds, 2) ELSE '0' END || 'E' || CAST(e AS VARCHAR)""",
    "eql_sci_parts(digits, e) AS eql_sci_text(rtrim(ltrim(digits, '0'), '0'), e)",
    """eql_sci_decimal(w, f) AS CASE WHEN ltrim(w, '0') <> ''
        THEN eql_sci_parts(w || f, length(ltrim(w, '0')) - 1)
        ELSE eql_sci_parts(ltrim(f, '0'), length(ltrim(f, '0')) - length(f) - 1) END""",
    """eql_sci(s) AS CASE WHEN contains(s, 'e')
        THEN eql_sci_parts(replace(split_part(s, 'e', 1), '.', ''),
                           TRY_CAST(split_part(s, 'e', 2) AS INTEGER))
        ELSE eql_sci_decimal(split_part(s, '.', 1), split_part(s, '.', 2)) END""",
    """eql_double_str(d) AS CASE WHEN d IS NULL THEN NULL WHEN isnan(d) THEN 'NaN'
        WHEN isinf(d) THEN CASE WHEN d > 0 THEN 'Infinity' ELSE '-Infinity' END
        WHEN d = 0 THEN '0.0'
        WHEN abs(d) >= 0.001 AND abs(d) < 10000000 THEN CAST(CAST(d AS DOUBLE) AS VARCHAR)
        ELSE CASE WHEN d < 0 THEN '-' ELSE '' END
            || eql_sci(CAST(abs(CAST(d AS DOUBLE)) AS VARCHAR)) END""",
    # between(): StringUtils.between. `ms`, `ml`, `mr` are the texts searched (lowercased for
    # between~), `src` the one sliced; positions are 0-based like Java's.
    """eql_last_index(s, sub) AS CASE WHEN strpos(reverse(s), reverse(sub)) = 0 THEN -1
        ELSE length(s) - strpos(reverse(s), reverse(sub)) - length(sub) + 1 END""",
    "eql_slice(src, a, b) AS CASE WHEN b < a THEN '' ELSE substr(src, a + 1, b - a) END",
    """eql_between_at(src, ms, st, mr, greedy) AS CASE WHEN greedy
        THEN eql_slice(src, st, eql_last_index(ms, mr))
        WHEN strpos(substr(ms, st + 1), mr) = 0 THEN ''
        ELSE eql_slice(src, st, st + strpos(substr(ms, st + 1), mr) - 1) END""",
    """eql_between(src, ms, ml, mr, greedy) AS CASE WHEN src IS NULL THEN NULL
        WHEN src = '' OR coalesce(ml, '') = '' OR coalesce(mr, '') = '' THEN src
        WHEN strpos(ms, ml) = 0 THEN ''
        ELSE eql_between_at(src, ms, strpos(ms, ml) - 1 + length(ml), mr, coalesce(greedy, FALSE))
        END""",
    # indexOf(): Java String.indexOf(sub, from), null when not found.
    """eql_index_from(s, sub, st) AS CASE WHEN sub = '' THEN least(st, length(s))
        WHEN st >= length(s) OR strpos(substr(s, st + 1), sub) = 0 THEN NULL
        ELSE st + strpos(substr(s, st + 1), sub) - 1 END""",
    """eql_index_of(s, sub, st) AS CASE WHEN s IS NULL OR sub IS NULL THEN NULL
        ELSE eql_index_from(s, sub, greatest(coalesce(st, 0), 0)) END""",
    # substring(): Python slice semantics (StringUtils.substringSlice).
    "eql_substring_within(s, a, b) AS CASE WHEN a >= b THEN '' ELSE substr(s, a + 1, b - a) END",
    """eql_substring_end(s, a, b) AS eql_substring_within(s,
        CASE WHEN a < 0 THEN greatest(a + length(s), 0) ELSE a END,
        CASE WHEN b < 0 THEN greatest(b + length(s), 0) WHEN b > length(s) THEN length(s)
            ELSE b END)""",
    """eql_substring(s, a, b) AS CASE WHEN s = '' THEN s
        ELSE eql_substring_end(s, a, coalesce(b, length(s))) END""",
    # number(): integers in any base 2-36, decimals in base 10.
    """eql_radix_digits(t) AS list_transform(string_split(lower(t), ''),
        lambda c: strpos('0123456789abcdefghijklmnopqrstuvwxyz', c) - 1)""",
    """eql_radix_unsigned(t, base) AS CASE
        WHEN t = '' OR NOT list_bool_and(list_transform(eql_radix_digits(t),
            lambda d: d >= 0 AND d < base)) THEN NULL
        ELSE list_reduce(list_transform(eql_radix_digits(t), lambda d: CAST(d AS DOUBLE)),
            lambda acc, d: acc * base + d) END""",
    """eql_radix(t, base) AS CASE WHEN base < 2 OR base > 36 THEN NULL
        WHEN starts_with(t, '-') THEN -eql_radix_unsigned(substr(t, 2), base)
        WHEN starts_with(t, '+') THEN eql_radix_unsigned(substr(t, 2), base)
        ELSE eql_radix_unsigned(t, base) END""",
    f"""eql_number_text(t, base) AS CASE
        WHEN coalesce(base, CASE WHEN starts_with(t, '0x') THEN 16 ELSE 10 END) = 10
            THEN CASE WHEN regexp_full_match(t, {sql_literal(DECIMAL_TEXT)})
                THEN TRY_CAST(t AS DOUBLE) END
        WHEN coalesce(base, 16) = 16 AND starts_with(t, '0x') THEN eql_radix(substr(t, 3), 16)
        ELSE eql_radix(t, base) END""",
    "eql_number(s, base) AS eql_number_text(trim(s), base)",
    # ip: 32 hex digits of the IPv6 form (IPv4 mapped), the order of ES `ip` fields.
    # (the address as one number printed in hex: half the time of printing its four octets,
    # each split out of the text, with printf: 0.026 against 0.057 s for 76k addresses)
    f"""eql_ipv4_hex(v) AS CASE WHEN regexp_full_match(v, {sql_literal(_IPV4)})
        THEN '00000000000000000000ffff' || lower(lpad(hex(list_reduce(
            CAST(string_split(v, '.') AS UBIGINT[]), lambda a, b: a * 256 + b)), 8, '0')) END""",
    """eql_ipv6_join(g) AS CASE WHEN len(g) = 8
        AND list_bool_and(list_transform(g, lambda x: length(x) BETWEEN 1 AND 4))
        THEN array_to_string(list_transform(g, lambda x: lpad(x, 4, '0')), '') END""",
    "eql_hextets(p) AS CASE WHEN p = '' THEN CAST([] AS VARCHAR[]) ELSE string_split(p, ':') END",
    """eql_ipv6_expand(h, t) AS CASE WHEN len(h) + len(t) > 7 THEN NULL
        ELSE eql_ipv6_join(h || list_transform(range(8 - len(h) - len(t)), lambda i: '0') || t)
        END""",
    """eql_ipv6_hex(s) AS CASE WHEN NOT regexp_full_match(s, '[0-9a-f:]+') THEN NULL
        WHEN length(s) - length(replace(s, '::', '')) > 2 THEN NULL
        WHEN contains(s, '::') THEN eql_ipv6_expand(eql_hextets(split_part(s, '::', 1)),
                                                    eql_hextets(split_part(s, '::', 2)))
        ELSE eql_ipv6_join(string_split(s, ':')) END""",
    """eql_ipv6_tail(head, v4) AS head || substr(v4, 25, 4) || ':' || substr(v4, 29, 4)""",
    """eql_ipv6_embedded(s) AS CASE WHEN regexp_full_match(s, '.*:[0-9.]+') AND contains(s, '.')
        THEN eql_ipv6_tail(regexp_extract(s, '^(.*:)', 1),
                           eql_ipv4_hex(regexp_extract(s, '([0-9.]+)$', 1)))
        ELSE s END""",
    """eql_ip_key(s) AS CASE WHEN contains(s, ':')
        THEN eql_ipv6_hex(eql_ipv6_embedded(lower(split_part(s, '%', 1))))
        ELSE eql_ipv4_hex(s) END""",
    # version: the VersionEncoder order (see values.version_sort_key).
    """eql_digit_groups(t) AS array_to_string(list_transform(
        regexp_extract_all(t, '[0-9]+|[^0-9]+'), lambda g: CASE
            WHEN regexp_full_match(g, '[0-9]+')
                THEN chr(1) || chr(CAST(128 + length(g) AS INTEGER)) || g
            ELSE g END), '')""",
    f"""eql_version_encode(s, build, main, pre) AS CASE
        WHEN regexp_full_match(main, {sql_literal(LEGAL_MAIN)})
            AND (pre IS NULL OR regexp_full_match(pre, {sql_literal(LEGAL_PRERELEASE)}))
            AND (build = '' OR regexp_full_match(build, {sql_literal(LEGAL_BUILD)}))
        THEN eql_digit_groups(main) || CASE WHEN pre IS NULL THEN chr(3)
            ELSE chr(2) || '-' || array_to_string(list_transform(
                string_split(substr(pre, 2), '.'), lambda p: CASE
                    WHEN regexp_full_match(p, '[0-9]+') THEN eql_digit_groups(p) ELSE p END),
                '.') END || build
        WHEN s = '' THEN chr(3)
        ELSE s END""",
    """eql_version_rest(s, build, rest) AS eql_version_encode(s, build,
        CASE WHEN strpos(rest, '-') > 1 THEN substr(rest, 1, strpos(rest, '-') - 1) ELSE rest END,
        CASE WHEN strpos(rest, '-') > 1 THEN substr(rest, strpos(rest, '-')) END)""",
    """eql_version_key(s) AS eql_version_rest(s,
        CASE WHEN strpos(s, '+') > 1 THEN substr(s, strpos(s, '+')) ELSE '' END,
        CASE WHEN strpos(s, '+') > 1 THEN substr(s, 1, strpos(s, '+') - 1) ELSE s END)""",
)


_SIGNATURE = re.compile(r"(\w+)\(([^)]*)\) AS ")


def _definitions(macro: str) -> list[str]:
    """DuckDB expands a macro by copying each argument's expression wherever its parameter
    appears, so macros that call macros grow exponentially (eql_ip_key bound in seconds).
    A macro that uses a parameter twice is therefore split: `<name>_impl` holds the text, and
    `<name>` evaluates every argument once into a struct that a one-element lambda passes on.
    """
    match = _SIGNATURE.match(macro)
    if match is None:
        raise ValueError(f"not a macro definition: {macro[:40]}")
    name, params = match.group(1), [param.strip() for param in match.group(2).split(",")]
    body = macro[match.end():]
    if all(len(re.findall(rf"\b{param}\b", body)) <= 1 for param in params):
        return [macro]
    signature = ", ".join(params)
    fields = ", ".join(f"'{param}': {param}" for param in params)
    arguments = ", ".join(f"_a.{param}" for param in params)
    return [f"{name}_impl({signature}) AS {body}",
            f"{name}({signature}) AS "
            f"list_transform([{{{fields}}}], lambda _a: {name}_impl({arguments}))[1]"]


def install_macros(con: duckdb.DuckDBPyConnection) -> None:
    """Define the compiler's helper macros on a connection (temporary: nothing is stored)."""
    for macro in _MACROS:
        for definition in _definitions(macro):
            con.execute(f"CREATE OR REPLACE TEMP MACRO {definition}")


# ------------------------------------------------------------------------------------------
# Dialects: the few constructs in which SQL engines differ


class SqlDialect:
    """DuckDB's spelling of what the compiler emits, where SQL engines disagree.

    The EQL logic (what a predicate means) lives in SqlCompiler once; another engine subclasses
    this with its own spelling of lambdas over lists, regexes, LIKE escapes, dates (see
    backends/spark_sql.py), so both engines run the same translation.
    """

    text_type = "VARCHAR"
    # Whether regex_search runs in time linear in the value (RE2 does): long wildcard runs
    # then test as a regex rather than as LIKE, which costs value length x run length.
    linear_regex = True

    def literal(self, value: object) -> str:
        return sql_literal(value)

    def column(self, column: Column) -> str:
        return column.sql

    def typed_null(self, es_type: str) -> str:
        """A NULL of the SQL type a field of this ES type is stored as."""
        return f"CAST(NULL AS {_base_type(es_type)})"

    def any_value(self, variable: str, values: str, predicate: str) -> str:
        """TRUE when `predicate` holds for some value of the LIST `values` bound to `variable`
        (a list without values is tested once, with NULL)."""
        return f"list_bool_or(list_transform(eql_values({values}), lambda {variable}: {predicate}))"

    def list_contains(self, values: str, value: str) -> str:
        return f"list_contains({values}, {value})"

    def bind(self, variable: str, value: str, body: str) -> str:
        """`body` with `variable` standing for `value`, evaluated once."""
        return f"list_transform([{value}], lambda {variable}: {body})[1]"

    def regex_search(self, subject: str, regex: str) -> str:
        """Whether RE2 pattern `regex` (anchored by the caller) matches `subject`."""
        return f"regexp_matches({subject}, {self.literal(regex)})"

    def like(self, subject: str, pattern: str) -> str:
        """SQL LIKE with a backslash as the escape character (patterns.wildcard_to_like)."""
        return f"({subject} LIKE {pattern} ESCAPE '\\')"

    def epoch_nanos(self, sql: str, es_type: str) -> str:
        return epoch_nanos(sql, es_type)

    def date_text(self, sql: str) -> str:
        """A date as ES prints it: `2020-01-01T00:00:00.000Z`."""
        return f"strftime({sql}, '%Y-%m-%dT%H:%M:%S.%gZ')"

    def integer_arithmetic(self, op: ast.ArithmeticOp, left: str, right: str) -> str:
        """Java long arithmetic: `/` truncates, `%` takes the dividend's sign, as DuckDB's // and
        % do; no value where Java throws (a zero divisor)."""
        operator = "//" if op is ast.ArithmeticOp.DIV else op.value
        return f"TRY({left} {operator} {right})"

    def float_arithmetic(self, op: ast.ArithmeticOp, left: str, right: str) -> str:
        """IEEE double arithmetic: x / 0.0 is infinite, x % 0.0 is NaN."""
        return f"({left} {op.value} {right})"

    def call(self, name: str, *args: str) -> str:
        """A string function by its DuckDB name (starts_with, ends_with, contains)."""
        return f"{name}({', '.join(args)})"


DUCKDB = SqlDialect()


# ------------------------------------------------------------------------------------------
# Clauses: the bool query of a `where`, with the planner's constant folding

# A clause is SQL that is TRUE when an event matches (FALSE or NULL when it does not), or a
# constant the planner folded: True, False, or None for a clause that folds to null (a
# predicate on an unmapped optional field). ES's ConstantFolding is SQL's three-valued logic;
# where only some terms are constant, BooleanSimplification drops TRUE from an `and` and FALSE
# from an `or`, and PruneFilters makes an `and` with a null term null and drops null terms
# from an `or`. A null `where` matches nothing.
_Clause = str | bool | None


def _conjunction(terms: list[_Clause]) -> _Clause:
    if any(term is False for term in terms):
        return False
    if any(term is None for term in terms):
        return None
    queries = [term for term in terms if isinstance(term, str)]
    if not queries:
        return True
    return queries[0] if len(queries) == 1 else "(" + " AND ".join(queries) + ")"


def _disjunction(terms: list[_Clause]) -> _Clause:
    if any(term is True for term in terms):
        return True
    queries = [term for term in terms if isinstance(term, str)]
    if queries:
        return queries[0] if len(queries) == 1 else "(" + " OR ".join(queries) + ")"
    return None if any(term is None for term in terms) else False


def conjoined(terms: Sequence[str]) -> str:
    """The SQL conjunction of compiled terms (SqlCompiler.condition_terms), as `and` joins
    them."""
    return terms[0] if len(terms) == 1 else "(" + " AND ".join(terms) + ")"


def _negation(clause: _Clause) -> _Clause:
    """must_not: TRUE for every event the clause does not match, a missing value included;
    a folded null stays null."""
    if clause is None or isinstance(clause, bool):
        return None if clause is None else not clause
    return f"(NOT coalesce({clause}, FALSE))"


_FOLDING = threading.Lock()


@functools.cache
def _folding_connection() -> duckdb.DuckDBPyConnection:
    """A private connection with the macros, where constants are evaluated while planning."""
    con = duckdb.connect()
    install_macros(con)
    return con


@functools.lru_cache(maxsize=4096)
def re2_refusal(regex: str) -> str | None:
    """Why RE2, the engine's regex library, refuses `regex` (syntax, or its limits: a repeat
    above 1000, a program too large), or None: every engine runs only what it accepts."""
    with _FOLDING:
        try:
            _folding_connection().execute("SELECT regexp_full_match('', ?)", [regex])
        except duckdb.Error as error:
            return str(error).partition("Error: ")[2] or str(error)
    return None


def _fold(sql: str, node: ast.Node) -> object:
    """The value of a constant expression (SQL reading no column), as ES folds it."""
    with _FOLDING:
        try:
            return _folding_connection().execute(f"SELECT {sql}").fetchone()[0]
        except duckdb.Error as error:
            raise CompileError(f"cannot evaluate [{to_text(node)}]: {error}", node) from None


# ------------------------------------------------------------------------------------------
# The compiler


# The implicit tiebreaker: Elasticsearch's `_shard_doc`, shards in ShardId order (shard number,
# then index name; Lanner's indices are one shard each), then the document's order in its shard.
# A store's `_doc` numbers stay below 2**DOC_BITS; an index's rank among the stored names, in
# name order, is added above them, so that ordering by the sum is ordering by (index, _doc).
DOC_BITS = 40
_DOC_MASK = (1 << DOC_BITS) - 1
_Found = TypeVar("_Found")


def shard_doc(index_names: Sequence[str], literal: Callable[[str], str]) -> str:
    """SQL of an event's position in Elasticsearch's order of equal timestamps (and
    tiebreakers): index name, then ingest order. `index_names`: every stored name, sorted."""
    if len(index_names) <= 1:
        return "_doc"
    ranks = " ".join(f"WHEN {literal(name)} THEN {rank << DOC_BITS}"
                     for rank, name in enumerate(index_names) if rank)
    return f"(_doc + CASE _index {ranks} ELSE 0 END)"


def stored_doc(position: int) -> int:
    """The `_doc` number of a position that shard_doc gave."""
    return position & _DOC_MASK


def positioned(fetch: Callable[[list[int]], dict[int, _Found]],
               positions: Iterable[int]) -> dict[int, _Found]:
    """What `fetch` finds for stored `_doc` numbers, keyed by the positions asked for."""
    wanted = list(positions)
    found = fetch([stored_doc(position) for position in wanted])
    return {position: found[stored_doc(position)] for position in wanted
            if stored_doc(position) in found}


def scoped_column(fields: FieldSource, name: str, node: ast.Node | None = None) -> Column | None:
    """`fields.column(name)`, refusing a field the searched indices type incompatibly, as
    Elasticsearch's verifier does."""
    column = fields.column(name)
    if column is not None and column.conflict is not None:
        raise CompileError(f"Cannot use field [{name}] due to ambiguities being "
                           f"{column.conflict}", node)
    return column


_FLIPPED = {
    ast.ComparisonOp.LT: ast.ComparisonOp.GT, ast.ComparisonOp.GT: ast.ComparisonOp.LT,
    ast.ComparisonOp.LTE: ast.ComparisonOp.GTE, ast.ComparisonOp.GTE: ast.ComparisonOp.LTE,
    ast.ComparisonOp.EQ: ast.ComparisonOp.EQ, ast.ComparisonOp.NEQ: ast.ComparisonOp.NEQ,
}
_EQUALITIES = (ast.ComparisonOp.EQ, ast.ComparisonOp.NEQ)
_SQL_OPS = {
    ast.ComparisonOp.EQ: "=", ast.ComparisonOp.NEQ: "<>", ast.ComparisonOp.LT: "<",
    ast.ComparisonOp.LTE: "<=", ast.ComparisonOp.GT: ">", ast.ComparisonOp.GTE: ">=",
}
_DEFAULT_DATES = date_parser(None)
# Types whose comparisons go through a sort key or a parsed value, never the stored text.
_KEYED_TYPES = frozenset({"ip", "version", "date", "date_nanos"})


@dataclass(frozen=True, slots=True)
class Resolved:
    """A field as SQL reads it: its column (or NULL), its ES type (None: not mapped at all)."""

    name: str
    sql: str
    es_type: str | None
    is_list: bool = False

    @property
    def kind(self) -> Kind:
        return Kind.NULL if self.es_type is None else kind_of_es_type(self.es_type)


@dataclass(frozen=True, slots=True)
class _Value:
    """A compiled scalar: SQL text, its kind, and for a field read directly its ES type."""

    sql: str
    kind: Kind
    es_type: str | None = None


@dataclass(slots=True)
class _Scope:
    """The LIST columns a predicate reads, each bound to one element by a lambda variable."""

    bindings: list[tuple[str, str]] = field(default_factory=list)

    def wrap(self, predicate: str, dialect: SqlDialect) -> str:
        for variable, values in reversed(self.bindings):
            predicate = dialect.any_value(variable, values, predicate)
        return predicate

    def wrap_present(self, predicate: str) -> str:
        """DuckDB: `predicate` for some present value, for a predicate that is NULL on a
        NULL value (so testing a list without values once, with NULL, is not needed)."""
        for variable, values in reversed(self.bindings):
            predicate = f"list_bool_or(list_transform({values}, lambda {variable}: {predicate}))"
        return predicate


class SqlCompiler:
    """Compiles the conditions of one search; fields resolve against `fields`.

    `schema` stands in for index templates: when some searched index has no explicit
    mapping, a field the ECS schema knows is mapped (null where no event has it), as it would
    be in an Elastic data stream. `dialect` is the SQL engine's spelling (DuckDB by default).
    """

    def __init__(self, fields: FieldSource, *, category_field: str = "event.category",
                 schema: FieldSchema | None = None, dialect: SqlDialect = DUCKDB) -> None:
        self.fields = fields
        self.category_field = category_field
        self.schema = schema
        self.dialect = dialect
        self._variables = 0
        # Each field looked up once: a round of a thousand rules asks about the same few
        # dozen fields thousands of times, and the store does not change while it compiles.
        self._resolved: dict[str, Resolved | None] = {}
        self._states: dict[str, tuple[object, ...]] = {}

    def _folder(self) -> SqlCompiler:
        """A DuckDB twin of this compiler: constants fold on DuckDB whatever the engine."""
        if self.dialect is DUCKDB:
            return self
        return SqlCompiler(self.fields, category_field=self.category_field, schema=self.schema)

    # -- fields -----------------------------------------------------------------------------

    def resolve(self, node: ast.Field) -> Resolved:
        """The column of a field; raises UnknownFieldError for an unmapped non-optional one
        and CompileError for one the searched indices type incompatibly."""
        resolved = self._lookup(node.name, node)
        if resolved is not None:
            return resolved
        if node.optional:
            return Resolved(node.name, "NULL", None)
        raise UnknownFieldError([(node, self._closest(node.name))])

    def verify(self, nodes: Iterable[ast.Node]) -> None:
        """Raise one UnknownFieldError naming every unknown non-optional field, in order."""
        self.verify_fields(found for node in nodes for found in node.find_all(ast.Field))

    def verify_fields(self, fields: Iterable[ast.Field]) -> None:
        """`verify` of the nodes these field nodes were found in, in walk order (a Plan's
        field_nodes)."""
        problems: list[tuple[ast.Field, list[str]]] = []
        seen: set[str] = set()
        for found in fields:
            if found.optional or found.name in seen:
                continue
            seen.add(found.name)
            if self._lookup(found.name, found) is None:
                problems.append((found, self._closest(found.name)))
        if problems:
            raise UnknownFieldError(problems)

    def _lookup(self, name: str, node: ast.Node | None = None) -> Resolved | None:
        if name in self._resolved:
            return self._resolved[name]
        column = scoped_column(self.fields, name, node)  # a conflict raises, every time
        resolved = None
        if column is not None:
            if column.physical is None:
                resolved = Resolved(name, self.dialect.typed_null(column.es_type),
                                    column.es_type)
            else:
                resolved = Resolved(name, self.dialect.column(column), column.es_type,
                                    column.is_list)
        elif self.fields.has_field(name):  # an object: it has no value of its own
            resolved = Resolved(name, "NULL", "object")
        else:
            es_type = self.schema.type_of(name) if self.schema is not None else None
            if es_type is not None:
                resolved = Resolved(name, self.dialect.typed_null(es_type), es_type)
        self._resolved[name] = resolved
        return resolved

    def field_state(self, name: str) -> tuple[object, ...]:
        """All that compiling a read of `name` asks about it (what `_lookup` reads): two
        compilers that agree on every field of a condition compile it alike, which the cache
        of compiled conditions (lanner.engine.sqlcache) keys on."""
        state = self._states.get(name)
        if state is None:
            column = self.fields.column(name)
            if column is not None:
                state = ("column", column.name, column.es_type, column.duckdb_type,
                         column.is_list, column.alias_path, column.physical, column.conflict,
                         column.normalized, column.index_guard)
            elif self.fields.has_field(name):
                state = ("object",)
            else:
                state = ("schema", self.schema.type_of(name) if self.schema is not None
                         else None)
            self._states[name] = state
        return state

    def _closest(self, name: str) -> list[str]:
        known = [known for known in self.fields.columns() if not known.startswith("_")]
        return closest_names(name, known, limit=1)

    # -- filters ----------------------------------------------------------------------------

    def filter(self, category: str | None, condition: ast.Expr) -> str:
        """SQL that is TRUE for events of `category` (None: any) matching `condition`."""
        where = self.condition(condition)
        if category is None:
            return where
        return f"({self.category(category)} AND {where})"

    def category(self, name: str) -> str:
        """Exact, case-sensitive match of the event category field, any of its values."""
        column = scoped_column(self.fields, self.category_field)
        if column is None or column.physical is None:
            return "FALSE"
        if column.is_list:
            return self.dialect.list_contains(self.dialect.column(column),
                                              self.dialect.literal(name))
        return f"{self.dialect.column(column)} = {self.dialect.literal(name)}"

    def condition(self, expr: ast.Expr) -> str:
        """SQL that is TRUE exactly for the events `expr` matches (FALSE or NULL otherwise):
        a bool query over one query or script per predicate, as Elasticsearch plans it."""
        return conjoined(self.condition_terms(expr))

    def condition_terms(self, expr: ast.Expr) -> tuple[str, ...]:
        """`condition(expr)` as the terms of its conjunction (`conjoined` joins them): those of
        a top-level `and`, each one alone a necessary condition of the whole (a pass over
        few events first screens with the short ones), or the one condition."""
        try:
            if isinstance(expr, ast.And):
                terms = [self._clause(term) for term in expr.terms]
                clause = _conjunction(terms)
                if isinstance(clause, str):
                    return tuple(term for term in terms if isinstance(term, str))
            else:
                clause = self._clause(expr)
        except RecursionError:  # a flat chain of thousands of operators nests the tree
            raise CompileError("the expression is too large to compile: Elasticsearch, too, "
                               "refuses statements whose parse tree is this deep", expr) from None
        if isinstance(clause, str):
            return (clause,)
        return ("TRUE" if clause else "FALSE",)

    def _clause(self, expr: ast.Expr) -> _Clause:
        if isinstance(expr, ast.And):
            return _conjunction([self._clause(term) for term in expr.terms])
        if isinstance(expr, ast.Or):
            return _disjunction([self._clause(term) for term in expr.terms])
        if isinstance(expr, ast.Not):
            return _negation(self._clause(expr.expr))
        planned = self._planned(expr)
        if planned is not None:
            return self._clause(planned)
        return self._leaf(expr)

    def _planned(self, expr: ast.Expr) -> ast.Expr | None:
        """The shape ES's optimizer and translators give a predicate, where it is not the one
        written: the negation of a positive query (`x != v` is must_not of term `x == v`,
        `x not in` must_not of terms, `x != null` must_not of IsNull), and `f(…) == true` /
        `f(…) == false` as `f(…)` / `not f(…)` (BooleanFunctionEqualsElimination)."""
        if isinstance(expr, ast.In) and expr.negated:
            return ast.Not(replace(expr, negated=False), span=expr.span)
        if not isinstance(expr, ast.Comparison) or expr.op not in _EQUALITIES:
            return None
        left, right = expr.left, expr.right
        if isinstance(left, ast.Literal) and not isinstance(right, ast.Literal):
            left, right = right, left
        if isinstance(right, ast.Boolean) and not isinstance(left, ast.Field | ast.Literal):
            keeps = right.value == (expr.op is ast.ComparisonOp.EQ)
            return left if keeps else ast.Not(left, span=expr.span)
        if expr.op is ast.ComparisonOp.NEQ and (
                (isinstance(left, ast.Field) and isinstance(right, ast.Literal))
                or self._folds_to_null(left) or self._folds_to_null(right)):
            return ast.Not(replace(expr, op=ast.ComparisonOp.EQ), span=expr.span)
        return None

    def _leaf(self, expr: ast.Expr) -> _Clause:
        """One query or script: TRUE when some binding of its fields' values makes the
        predicate true, else FALSE, NULL included (left as NULL here: `_negation` and the
        WHERE clause both read NULL as FALSE). Folded when it reads no mapped field."""
        membership = self._list_membership(expr)
        if membership is not None:
            return membership
        scope = _Scope()
        predicate = self._predicate(expr, scope)
        if self.dialect is DUCKDB and self._tests_one_string(expr):
            predicate = scope.wrap_present(predicate)
        else:
            predicate = scope.wrap(predicate, self.dialect)
        if not self._reads_no_field(expr):
            return predicate
        if self.dialect is not DUCKDB:
            folder = self._folder()
            constant = _Scope()
            predicate = constant.wrap(folder._predicate(expr, constant), DUCKDB)
        value = _fold(predicate, expr)
        return None if value is None else bool(value)

    def _list_membership(self, expr: ast.Expr) -> str | None:
        """`f == "v"` and `f in ("v", …)` on a list of strings as a search of the list: the
        same events as a lambda over its values (a leaf's NULL reads as FALSE), spelt in a
        fraction of the SQL, which DuckDB binds and runs much faster. None: not that shape."""
        if isinstance(expr, ast.Comparison) and expr.op is ast.ComparisonOp.EQ:
            field_, value = expr.left, expr.right
            if isinstance(field_, ast.Literal):
                field_, value = value, field_
            values: tuple[ast.Expr, ...] = (value,)
        elif isinstance(expr, ast.In) and not expr.negated and not expr.insensitive:
            field_, values = expr.expr, expr.values
        else:
            return None
        if not isinstance(field_, ast.Field) or not values or not all(
                isinstance(v, ast.Literal) and v.value is not None for v in values):
            return None
        resolved = self.resolve(field_)
        if (not resolved.is_list or resolved.kind is not Kind.STRING
                or resolved.es_type in _KEYED_TYPES):
            return None
        tests = [self.dialect.list_contains(resolved.sql,
                                            self.dialect.literal(java_string(v.value)))
                 for v in values if isinstance(v, ast.Literal)]
        return tests[0] if len(tests) == 1 else "(" + " OR ".join(tests) + ")"

    def _tests_one_string(self, expr: ast.Expr) -> bool:
        """A comparison, match or membership of one string field against literals: NULL
        whenever the field's value is NULL, so a list's missing and null values need no
        testing (they could only give NULL, which a leaf reads as FALSE)."""
        if isinstance(expr, ast.Comparison):
            operands = (expr.left, expr.right)
            field_ = next((o for o in operands if isinstance(o, ast.Field)), None)
            literals = [o for o in operands if o is not field_]
        elif isinstance(expr, ast.Match):
            field_, literals = expr.expr, list(expr.patterns)
        elif isinstance(expr, ast.In) and not expr.negated:
            field_, literals = expr.expr, list(expr.values)
        else:
            return False
        if not isinstance(field_, ast.Field) or not all(
                isinstance(v, ast.Literal) and v.value is not None for v in literals):
            return False
        resolved = self.resolve(field_)
        return resolved.kind is Kind.STRING and resolved.es_type not in _KEYED_TYPES

    def _reads_no_field(self, expr: ast.Expr) -> bool:
        """Nothing but literals and unmapped optional fields: ES folds it to a constant."""
        return all(self.resolve(node).es_type is None for node in expr.find_all(ast.Field))

    def _folds_to_null(self, expr: ast.Expr) -> bool:
        """A side ES's ReplaceNullChecks sees as null: `x == <null>` is IsNull(x)."""
        if isinstance(expr, ast.Literal):
            return expr.value is None
        if isinstance(expr, ast.Field):
            return self.resolve(expr).es_type is None
        if not self._reads_no_field(expr):
            return False
        return _fold(self._folder()._scalar(expr, _Scope()).sql, expr) is None

    # -- predicates -------------------------------------------------------------------------

    def _predicate(self, expr: ast.Expr, scope: _Scope) -> str:
        if isinstance(expr, ast.Comparison):
            return self._comparison(expr, scope)
        if isinstance(expr, ast.Match):
            return self._match(expr, scope)
        if isinstance(expr, ast.In):
            found = self._in(expr, scope)
            return f"(NOT {found})" if expr.negated else found
        if isinstance(expr, ast.And | ast.Or):
            joiner = " AND " if isinstance(expr, ast.And) else " OR "
            return "(" + joiner.join(self._predicate(term, scope) for term in expr.terms) + ")"
        if isinstance(expr, ast.Not):
            return f"(NOT {self._predicate(expr.expr, scope)})"
        value = self._scalar(expr, scope)
        if value.kind in (Kind.BOOLEAN, Kind.NULL, Kind.UNKNOWN):
            return value.sql
        if value.kind is Kind.OBJECT:
            return "NULL"
        raise CompileError(f"a condition must be boolean, found [{to_text(expr)}] of type "
                           f"[{value.kind.value}]", expr)

    def _comparison(self, node: ast.Comparison, scope: _Scope) -> str:
        op, left, right = node.op, node.left, node.right
        if op in _EQUALITIES:  # ReplaceNullChecks: `x == <null>` is IsNull(x), `?x == "v"` too
            for side, other in ((right, left), (left, right)):
                if self._folds_to_null(side):
                    value = self._scalar(other, scope)
                    negated = "NOT " if op is ast.ComparisonOp.NEQ else ""
                    return f"({value.sql} IS {negated}NULL)"
        if isinstance(right, ast.Field) and _is_value(left):
            op, left, right = _FLIPPED[op], right, left
        if isinstance(left, ast.Field) and isinstance(right, ast.Literal):
            value = self._scalar(left, scope)
            if value.kind is Kind.NULL:  # an unmapped ?field ordered against a value
                return "NULL"
            return self._typed(op, value, right, node)
        left_value, right_value = self._scalar(left, scope), self._scalar(right, scope)
        if Kind.NULL in (left_value.kind, right_value.kind):  # `?x < f(y)`, `x > null`
            return "NULL"
        left_sql, right_sql = _comparable(left_value, right_value, self.dialect)
        return f"({left_sql} {_SQL_OPS[op]} {right_sql})"

    def _typed(self, op: ast.ComparisonOp, value: _Value, literal: ast.Literal,
               node: ast.Node) -> str:
        """A field compared with a literal, the way ES queries its mapped type."""
        es_type = value.es_type or ""
        sql_op = _SQL_OPS[op]
        if es_type in ("date", "date_nanos"):
            nanos = _date_literal(literal, node)
            if es_type == "date":  # ES parses the literal to millis too
                nanos = nanos // _NS_PER_MS * _NS_PER_MS
            return (f"({self.dialect.epoch_nanos(value.sql, es_type)} {sql_op} "
                    f"{self.dialect.literal(nanos)})")
        if es_type == "ip":
            text = _string_literal(literal, node)
            if "/" in text:
                if op is not ast.ComparisonOp.EQ:
                    raise CompileError(f"a CIDR block [{text}] can only be compared with ==",
                                       node)
                return self._cidr(value.sql, [text], node)
            key = ip_sort_key(text)
            if key is None:
                raise CompileError(f"[{text}] is not an IP string literal", literal)
            return f"(eql_ip_key({value.sql}) {sql_op} {self.dialect.literal(key)})"
        if es_type == "version":
            key = version_sort_key(_string_literal(literal, node))
            return f"(eql_version_key({value.sql}) {sql_op} {self.dialect.literal(key)})"
        if value.kind is Kind.STRING:
            return f"({value.sql} {sql_op} {self.dialect.literal(java_string(literal.value))})"
        if value.kind.is_numeric:
            return f"({value.sql} {sql_op} {self.dialect.literal(_number_literal(literal, node))})"
        if value.kind is Kind.BOOLEAN:
            return f"({value.sql} {sql_op} {self.dialect.literal(_boolean_literal(literal, node))})"
        return "NULL"

    def _match(self, node: ast.Match, scope: _Scope) -> str:
        subject = self._string(self._scalar(node.expr, scope))
        value = f"lower({subject})" if node.kind.insensitive else subject
        tests = []
        equal = []  # plain patterns: one IN list
        for pattern in node.patterns:
            if not isinstance(pattern, ast.String):
                raise CompileError(f"the pattern of '{node.kind.value}' must be a string",
                                   pattern)
            text = pattern.value
            if node.kind.is_regex:
                regex = ("(?i)" if node.kind.insensitive else "") + lucene_to_re2(text)
                refusal = re2_refusal(regex)
                if refusal is not None:
                    raise CompileError(f"invalid regular expression [{text}]: {refusal}",
                                       pattern)
                tests.append(self.dialect.regex_search(subject, regex))
                continue
            form = wildcard_form(text)
            if (form.kind is PatternForm.REGEX and self.dialect.linear_regex
                    and (not node.kind.insensitive or text.isascii())):
                regex = form.text.lower() if node.kind.insensitive else form.text
                if re2_refusal(regex) is None:  # a run too long for RE2 stays LIKE
                    tests.append(self.dialect.regex_search(value, regex))
                    continue
            like = text if form.kind is PatternForm.EQUAL else wildcard_to_like(text)
            literal = self._lowered(like) if node.kind.insensitive else self.dialect.literal(like)
            if form.kind is PatternForm.EQUAL:
                equal.append(literal)
            else:
                tests.append(self.dialect.like(value, literal))
        if equal:
            tests.insert(0, f"({value} = {equal[0]})" if len(equal) == 1
                         else f"({value} IN ({', '.join(equal)}))")
        return tests[0] if len(tests) == 1 else "(" + " OR ".join(tests) + ")"

    def _lowered(self, text: str) -> str:
        """A literal folded to lower case as the engine's lower() folds it: ASCII here (the
        same in every engine), anything else by the engine."""
        if text.isascii():
            return self.dialect.literal(text.lower())
        return f"lower({self.dialect.literal(text)})"

    def _in(self, node: ast.In, scope: _Scope) -> str:
        """Membership, never wildcards; `in~` folds case. The caller applies `not`."""
        value = self._scalar(node.expr, scope)
        if value.kind is Kind.NULL:
            return "NULL"
        if node.insensitive:
            subject = f"lower({self._string(value)})"
            members = [self._lowered(java_string(v.value))
                       for v in node.values if not isinstance(v, ast.Null)]
        elif isinstance(node.expr, ast.Field) and value.es_type in ("ip", "version", "date",
                                                                     "date_nanos"):
            tests = [self._typed(ast.ComparisonOp.EQ, value, v, node)
                     for v in node.values if not isinstance(v, ast.Null)]
            return "(" + " OR ".join(tests) + ")" if tests else "NULL"
        elif isinstance(node.expr, ast.Field):
            subject = value.sql
            members = [self._member(value, v, node) for v in node.values
                       if not isinstance(v, ast.Null)]
        else:  # a computed value: text against text, as == compares it
            textual = value.kind is Kind.STRING or any(
                isinstance(v, ast.String) for v in node.values)
            subject = _as_text(value, self.dialect) if textual else value.sql
            members = [self.dialect.literal(java_string(v.value) if textual else v.value)
                       for v in node.values if not isinstance(v, ast.Null)]
        if any(isinstance(v, ast.Null) for v in node.values):
            members.append("NULL")
        return f"({subject} IN ({', '.join(members)}))" if members else "NULL"

    def _member(self, value: _Value, literal: ast.Literal, node: ast.Node) -> str:
        if value.kind is Kind.STRING:
            return self.dialect.literal(java_string(literal.value))
        if value.kind.is_numeric:
            return self.dialect.literal(_number_literal(literal, node))
        if value.kind is Kind.BOOLEAN:
            return self.dialect.literal(_boolean_literal(literal, node))
        return self.dialect.literal(literal.value)

    def _cidr(self, ip_sql: str, blocks: list[str], node: ast.Node) -> str:
        """The address (keyed once per row) in any of the blocks."""
        tests = []
        for block in blocks:
            try:
                low, high = cidr_key_range(block)
            except ValueError:
                raise CompileError(f"[{block}] is not an IP address or CIDR block", node) from None
            bounds = f"{self.dialect.literal(low)} AND {self.dialect.literal(high)}"
            tests.append(f"(_ip BETWEEN {bounds})")
        if not tests:
            return "NULL"
        return self.dialect.bind("_ip", f"eql_ip_key({ip_sql})", " OR ".join(tests))

    # -- scalars ----------------------------------------------------------------------------

    def _scalar(self, expr: ast.Expr, scope: _Scope) -> _Value:
        if isinstance(expr, ast.Literal):
            return _Value(self.dialect.literal(expr.value), kind_of_value(expr.value))
        if isinstance(expr, ast.Field):
            resolved = self.resolve(expr)
            sql = resolved.sql
            if resolved.is_list:
                self._variables += 1
                sql = f"_v{self._variables}"
                scope.bindings.append((sql, resolved.sql))
            return _Value(sql, resolved.kind, resolved.es_type)
        if isinstance(expr, ast.FunctionCall):
            return self._call(expr, scope)
        if isinstance(expr, ast.Arithmetic):
            return self._arithmetic(expr.op, self._scalar(expr.left, scope),
                                    self._scalar(expr.right, scope), expr)
        if isinstance(expr, ast.Negate):
            inner = self._scalar(expr.expr, scope)
            _require_number(inner, expr)
            return _Value(f"(-{inner.sql})", inner.kind)
        return _Value(self._predicate(expr, scope), Kind.BOOLEAN)

    def _arithmetic(self, op: ast.ArithmeticOp, left: _Value, right: _Value,
                    node: ast.Node) -> _Value:
        if Kind.NULL in (left.kind, right.kind):
            kind = right.kind if left.kind is Kind.NULL else left.kind
            return _Value("NULL", kind if kind.is_numeric else Kind.NUMBER)
        _require_number(left, node)
        _require_number(right, node)
        if left.kind is Kind.INTEGER and right.kind is Kind.INTEGER:
            a, b = f"CAST({left.sql} AS BIGINT)", f"CAST({right.sql} AS BIGINT)"
            return _Value(self.dialect.integer_arithmetic(op, a, b), Kind.INTEGER)
        a, b = f"CAST({left.sql} AS DOUBLE)", f"CAST({right.sql} AS DOUBLE)"
        return _Value(self.dialect.float_arithmetic(op, a, b), Kind.FLOAT)

    def _string(self, value: _Value) -> str:
        """A value as ES prints it in string functions (Java's toString)."""
        kind = value.kind
        if kind is Kind.INTEGER or kind is Kind.BOOLEAN:
            return f"CAST({value.sql} AS {self.dialect.text_type})"
        if kind in (Kind.FLOAT, Kind.NUMBER):
            return f"eql_double_str({value.sql})"
        if kind is Kind.DATE:
            return self.dialect.date_text(value.sql)
        if kind in (Kind.NULL, Kind.OBJECT):
            return f"CAST(NULL AS {self.dialect.text_type})"
        return value.sql

    def _call(self, node: ast.FunctionCall, scope: _Scope) -> _Value:
        name = node.name.lower()
        args = node.args
        if name in _MATH_OPS:
            return self._arithmetic(_MATH_OPS[name], self._scalar(args[0], scope),
                                    self._scalar(args[1], scope), node)
        if name == "cidrmatch":
            blocks = []
            for arg in args[1:]:
                if isinstance(arg, ast.Null):
                    continue
                if not isinstance(arg, ast.String):
                    raise CompileError("cidrMatch() takes string literals as blocks", arg)
                blocks.append(arg.value)
            ip = self._scalar(args[0], scope)
            return _Value(self._cidr(self._string(ip), blocks, node), Kind.BOOLEAN)
        if name == "number":
            return self._number(node, scope)
        if name == "concat":
            parts = [self._string(self._scalar(arg, scope)) for arg in args]
            return _Value("(" + " || ".join(parts) + ")", Kind.STRING)
        if name == "string":
            return _Value(self._string(self._scalar(args[0], scope)), Kind.STRING)
        if name == "length":
            return _Value(f"length({self._string(self._scalar(args[0], scope))})", Kind.INTEGER)
        if name == "substring":
            text = self._string(self._scalar(args[0], scope))
            start = self._integer(args[1], scope)
            end = self._integer(args[2], scope) if len(args) > 2 else "NULL"
            return _Value(f"eql_substring({text}, {start}, {end})", Kind.STRING)
        texts = [self._string(self._scalar(arg, scope)) for arg in args[:3]]
        folded = [f"lower({text})" for text in texts] if node.insensitive else texts
        if name == "between":
            greedy = self._scalar(args[3], scope).sql if len(args) > 3 else "FALSE"
            return _Value(
                f"eql_between({texts[0]}, {folded[0]}, {folded[1]}, {folded[2]}, {greedy})",
                Kind.STRING)
        if name == "indexof":
            start = self._integer(args[2], scope) if len(args) > 2 else "0"
            return _Value(f"eql_index_of({folded[0]}, {folded[1]}, {start})", Kind.INTEGER)
        if name == "startswith":
            return _Value(self.dialect.call("starts_with", folded[0], folded[1]), Kind.BOOLEAN)
        if name == "endswith":
            return _Value(self.dialect.call("ends_with", folded[0], folded[1]), Kind.BOOLEAN)
        if name == "stringcontains":
            source, sub = folded[0], folded[1]
            return _Value(f"(CASE WHEN {source} = '' OR {sub} = '' THEN FALSE "
                          f"ELSE {self.dialect.call('contains', source, sub)} END)", Kind.BOOLEAN)
        raise CompileError(f"function {node.name}() is not supported", node)

    def _integer(self, expr: ast.Expr, scope: _Scope) -> str:
        value = self._scalar(expr, scope)
        if value.kind is Kind.NULL:
            return "CAST(NULL AS BIGINT)"
        _require_number(value, expr)
        return f"CAST({value.sql} AS BIGINT)"

    def _number(self, node: ast.FunctionCall, scope: _Scope) -> _Value:
        source = node.args[0]
        base = node.args[1] if len(node.args) > 1 else None
        if isinstance(source, ast.Literal) and (base is None or isinstance(base, ast.Literal)):
            if source.value is None:
                return _Value("NULL", Kind.NUMBER)
            base_value = base.value if base is not None else None
            if not isinstance(source.value, str) or (
                    base_value is not None and type(base_value) is not int):
                raise CompileError(f"number() takes a string and an integer base, found "
                                   f"[{to_text(node)}]", node)
            number = parse_number(source.value, base_value)
            if number is None:
                raise CompileError(f"unable to convert [{source.value}] to a number", node)
            return _Value(self.dialect.literal(number), kind_of_value(number))
        text = self._string(self._scalar(source, scope))
        radix = self._integer(base, scope) if base is not None else "NULL"
        return _Value(f"eql_number({text}, {radix})", Kind.NUMBER)


_MATH_OPS = {
    "add": ast.ArithmeticOp.ADD, "subtract": ast.ArithmeticOp.SUB,
    "multiply": ast.ArithmeticOp.MUL, "divide": ast.ArithmeticOp.DIV,
    "modulo": ast.ArithmeticOp.MOD,
}


def epoch_nanos(sql: str, es_type: str) -> str:
    """Epoch nanoseconds of a stored date as ES holds it: a `date` floored to milliseconds
    (Instant.toEpochMilli; DuckDB's epoch_ms rounds), a `date_nanos` exact."""
    if es_type == "date":
        return f"epoch_ns(date_trunc('millisecond', {sql}))"
    return f"epoch_ns({sql})"


def _base_type(es_type: str) -> str:
    return DUCKDB_TYPES.get(es_type, "VARCHAR")


def _is_value(expr: ast.Expr) -> bool:
    """A literal operand (what ES folds before it builds a query)."""
    return isinstance(expr, ast.Literal)


def _comparable(left: _Value, right: _Value, dialect: SqlDialect) -> tuple[str, str]:
    """Two scalars in SQL types that compare the way ES compares them."""
    if (left.kind is Kind.STRING) != (right.kind is Kind.STRING) and Kind.UNKNOWN not in (
            left.kind, right.kind):
        return _as_text(left, dialect), _as_text(right, dialect)
    return left.sql, right.sql


def _as_text(value: _Value, dialect: SqlDialect) -> str:
    if value.kind is Kind.STRING:
        return value.sql
    if value.kind in (Kind.FLOAT, Kind.NUMBER):
        return f"eql_double_str({value.sql})"
    return f"CAST({value.sql} AS {dialect.text_type})"


def _require_number(value: _Value, node: ast.Node) -> None:
    if not (value.kind.is_numeric or value.kind in (Kind.NULL, Kind.UNKNOWN)):
        raise CompileError(f"[{to_text(node)}] needs numbers, found a [{value.kind.value}]", node)


def _date_literal(literal: ast.Literal, node: ast.Node) -> int:
    """Epoch nanoseconds of a date literal: an ISO string or epoch millis (number or text)."""
    value = literal.value
    if isinstance(value, bool) or value is None:
        raise CompileError(f"cannot compare a date with [{java_string(value)}]", node)
    if isinstance(value, int):
        return value * _NS_PER_MS
    if isinstance(value, float):
        return int(value * _NS_PER_MS)
    try:
        return _DEFAULT_DATES(value)
    except ValueError:
        raise CompileError(f"failed to parse date [{value}]", literal) from None


def _string_literal(literal: ast.Literal, node: ast.Node) -> str:
    if not isinstance(literal.value, str):
        raise CompileError(f"expected a string, found [{java_string(literal.value)}]", node)
    return literal.value


def _number_literal(literal: ast.Literal, node: ast.Node) -> int | float:
    value = literal.value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        number = parse_number(value, 10)
        if number is not None:
            return number
    raise CompileError(f"cannot compare a number with [{java_string(value)}]", node)


def _boolean_literal(literal: ast.Literal, node: ast.Node) -> bool:
    value = literal.value
    if isinstance(value, bool):
        return value
    if value in ("true", "false"):
        return value == "true"
    raise CompileError(f"cannot compare a boolean with [{java_string(value)}]", node)
