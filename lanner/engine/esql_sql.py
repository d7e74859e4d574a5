"""ES|QL to DuckDB SQL: one pipeline stage, one CTE, over the events table.

The source command reads the events of the resolved indices that pass the request's filter
(the rule's time range and exceptions, a Query DSL filter compiled by `querydsl`, as Kibana's
`buildEsqlSearchRequest` sends them: OTHER-RULE-TYPES.md §5.1); each field the query names is
read through the search's compiler (the store's column resolution, ECS typing where an index
has no mapping). A name that is neither a field of the indices nor a column made earlier is
Elasticsearch's `verification_exception: Unknown column [x]`, and fails the query.

Values follow ES|QL's rules (ES docs `esql-null-values`, `esql-multivalued-fields`):

* a column may hold several values (a DuckDB LIST; one value is a list of one). Keyword, ip
  and version lists read deduplicated and sorted, numbers and dates sorted, as doc values give
  them; text as stored.
* functions and operators not documented as multivalue-aware see NULL on a multi-value (ES
  also warns); the `MV_*` functions, conversions and aggregations read every value;
* comparisons with NULL are NULL, and WHERE keeps TRUE rows only (SQL's logic);
* `STATS … BY` puts a row in the group of each value of a multi-valued key, and NULL is a key;
  COUNT_DISTINCT is exact (ES's HyperLogLog++ is exact below its precision threshold, 3,000
  by default, which no rule sets lower);
* SORT is ascending with nulls last, descending with nulls first; a multi-value sorts by its
  least value ascending, its greatest descending;
* LIKE is a whole-string wildcard (`*`, `?`, `\\` escapes), RLIKE a Lucene regular expression,
  both case-sensitive.

`KQL()`, `MATCH()` and the `:` operator are Lucene queries on the source documents (they are only
allowed where a WHERE reads them directly): each is a boolean column of the first stage, compiled
through Query DSL by `querydsl` (`kql_condition` for KQL). Elasticsearch evaluates `KQL()` with
its own KQL implementation (x-pack/plugin/kql), which mirrors Kibana's field queries
(OTHER-RULE-TYPES.md §5.7); Lanner uses Kibana's translation, the one its query rules use.

Where the spec (OTHER-RULE-TYPES.md) is silent or older than Elasticsearch's source, the source
wins: FROM patterns that match no index give an empty result, not `Unknown index` (ES PR
#139181, "ESQL: allow empty results"); TO_LOWER and TO_UPPER convert each value of a
multi-value (their function docs); RLIKE compiles its pattern with Lucene's `new
RegExp(pattern)` (RLikePattern), all syntax flags on, so `&` is intersection: Lanner refuses that
operator by name rather than guess.

DuckDB only; a Spark backend gets EsqlUnsupportedError.
"""

from __future__ import annotations

import datetime
import decimal
import re
from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass, field
from typing import Any

import duckdb

from lanner.engine.backends.sql import (
    QueryFailedError,
    SqlCompiler,
    UnknownFieldError,
    sql_literal,
)
from lanner.engine.esql_patterns import (
    dissect_regex,
    grok_regex,
    re2_regex,
    re2_replacement,
    wildcard_regex,
)
from lanner.engine.patterns import PatternError, lucene_to_re2
from lanner.engine.querydsl import filter_condition, kql_condition
from lanner.engine.values import cidr_key_range
from lanner.eql import ast as eql_ast
from lanner.errors import LannerError
from lanner.esql import ast
from lanner.esql.checks import dissect_columns, grok_columns
from lanner.esql.errors import EsqlVerificationError
from lanner.esql.functions import FUNCTIONS

_KEYWORD_TYPES = frozenset({"keyword", "constant_keyword", "wildcard"})
_TEXT_TYPES = frozenset({"text", "match_only_text"})
_LONG_TYPES = frozenset({"long", "integer", "short", "byte", "unsigned_long"})
_DOUBLE_TYPES = frozenset({"double", "float", "half_float", "scaled_float"})
_DATE_TYPES = frozenset({"date", "date_nanos"})
_STRINGS = frozenset({"keyword", "text", "ip", "version"})
_NUMBERS = frozenset({"long", "double"})
_SQL_TYPES = {"keyword": "VARCHAR", "text": "VARCHAR", "ip": "VARCHAR", "version": "VARCHAR",
              "long": "BIGINT", "double": "DOUBLE", "boolean": "BOOLEAN",
              "date": "TIMESTAMP_NS", "null": "VARCHAR", "geo_point": "VARCHAR"}
_INTERVAL_UNITS = {"millisecond": "millisecond", "second": "second", "minute": "minute",
                   "hour": "hour", "day": "day", "week": "week", "month": "month",
                   "quarter": "quarter", "year": "year"}
_DIFF_UNITS = {"year": "year", "years": "year", "yy": "year", "yyyy": "year",
               "quarter": "quarter", "quarters": "quarter", "qq": "quarter", "q": "quarter",
               "month": "month", "months": "month", "mm": "month", "m": "month",
               "week": "week", "weeks": "week", "wk": "week", "ww": "week",
               "day": "day", "days": "day", "dd": "day", "d": "day",
               "hour": "hour", "hours": "hour", "hh": "hour",
               "minute": "minute", "minutes": "minute", "mi": "minute", "n": "minute",
               "second": "second", "seconds": "second", "ss": "second", "s": "second",
               "millisecond": "millisecond", "milliseconds": "millisecond", "ms": "millisecond",
               "microsecond": "microsecond", "microseconds": "microsecond", "mcs": "microsecond",
               "nanosecond": "nanosecond", "nanoseconds": "nanosecond", "ns": "nanosecond"}
_COMPARISON_SQL = {"==": "=", "!=": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">="}

# The multivalue functions that reduce a list to one of its values (DuckDB list functions).
_MV_REDUCTIONS = {"MV_FIRST": "{}[1]", "MV_LAST": "{}[-1]", "MV_MIN": "list_min({})",
                  "MV_MAX": "list_max({})", "MV_SUM": "list_sum({})"}


class EsqlUnsupportedError(LannerError):
    """A query Lanner cannot translate (yet): names the construct and where it is."""


@dataclass(frozen=True, slots=True)
class Value:
    """A compiled expression: SQL text, its ES|QL type, and whether it may hold several
    values (then the SQL is a LIST)."""

    sql: str
    type: str
    multi: bool = False


@dataclass(frozen=True, slots=True)
class Col:
    alias: str
    type: str
    multi: bool

    @property
    def value(self) -> Value:
        return Value(self.alias, self.type, self.multi)


@dataclass(frozen=True, slots=True)
class Output:
    """An output column: its name, alias in the final SELECT, type."""

    name: str
    alias: str
    type: str


@dataclass(slots=True)
class Translation:
    """The SQL of a query: `columns` in the order ES|QL returns them; `doc` is true when each
    row is one source event (the `__doc` column holds its position)."""

    sql: str
    columns: list[Output]
    doc: bool
    expanded: list[str] = field(default_factory=list)  # MV_EXPAND-ed columns still present
    unmapped: list[str] = field(default_factory=list)  # fields read as null (see translate)


def translate(query: ast.Query, compiler: SqlCompiler, indices: Sequence[str], *,
              filter_sql: str | None, now: datetime.datetime, limit: int,
              templated: bool = False) -> Translation:
    """The SQL of `query` over `indices` (rows passing `filter_sql`), with Kibana's
    `| limit <limit>` appended.

    `templated`: some index has no explicit mapping, so it stands for an Elastic integration's
    data stream, whose index template maps the fields its rules read. A source field no event
    of the indices has is then read as null (named in `Translation.unmapped`) rather than
    failing as `Unknown column`, which ES does only where nothing maps the field."""
    return _Translator(query, compiler, indices, filter_sql, now, templated).run(limit)


def _refused(message: str, node: ast.Node | None) -> EsqlVerificationError:
    """What ES's verifier would refuse (or Lanner cannot run), at the node's position."""
    return EsqlVerificationError(message, getattr(node, "span", None))


class _Translator:
    def __init__(self, query: ast.Query, compiler: SqlCompiler, indices: Sequence[str],
                 filter_sql: str | None, now: datetime.datetime,
                 templated: bool = False) -> None:
        self.query = query
        self.templated = templated
        self.unmapped: list[str] = []
        self.compiler = compiler
        self.indices = tuple(indices)
        self.filter_sql = filter_sql
        self.now = now
        self.ctes: list[str] = []
        self.cols: dict[str, Col] = {}
        self.aliases = 0
        self.order: list[str] = ["__doc"]
        self.doc = True
        self.expanded: list[str] = []
        self.fulltext: dict[int, str] = {}  # id of a KQL/MATCH node -> its column alias

    # -- plumbing ---------------------------------------------------------------------------

    def alias(self) -> str:
        self.aliases += 1
        return f"c{self.aliases}"

    def stage(self, select: str, rest: str = "") -> str:
        name = f"s{len(self.ctes)}"
        source = f"s{len(self.ctes) - 1}"
        self.ctes.append(f"{name} AS (SELECT {select} FROM {source}{rest})")
        return name

    def carried(self, exclude: Set[str] = frozenset()) -> list[str]:
        """The columns a stage passes on: the row's position and full-text tests while rows
        are events, the SORT position, and every named column but `exclude`."""
        kept = [c.alias for n, c in self.cols.items() if n not in exclude]
        hidden = ["__doc", *self.fulltext.values()] if self.doc else []
        return hidden + (["__ord"] if "__ord" in self.order else []) + kept

    def run(self, limit: int) -> Translation:
        self.source(self.query.source)
        for command in self.query.commands[1:]:
            self.command(command)
        outputs = [Output(name, col.alias, col.type) for name, col in self.cols.items()]
        select = ", ".join((["__doc"] if self.doc else []) + [o.alias for o in outputs]) or "1"
        last = f"s{len(self.ctes) - 1}"
        sql = (f"WITH {', '.join(self.ctes)} SELECT {select} FROM {last} "
               f"ORDER BY {', '.join(self.order)} LIMIT {int(limit)}")
        expanded = [name for name in self.expanded if name in self.cols]
        return Translation(sql, outputs, self.doc, expanded, self.unmapped)

    # -- FROM -------------------------------------------------------------------------------

    def source(self, command: ast.From) -> None:
        select = ["_doc AS __doc"]
        reads = self.source_reads()
        for name in self.source_names():
            value = self.field(name)
            if value is None:
                if not self.templated or name not in reads:
                    continue
                value = Value("NULL", "null")  # DuckDB's NULL type: it casts to any
                self.unmapped.append(name)
            alias = self.alias()
            select.append(f"{value.sql} AS {alias}")
            self.cols[name] = Col(alias, value.type, value.multi)
        for name in command.metadata:
            alias = self.alias()
            sql, kind = {"_id": ("_id", "keyword"), "_index": ("_index", "keyword"),
                         "_version": ("CAST(1 AS BIGINT)", "long")}.get(
                name, ("CAST(NULL AS VARCHAR)", "keyword"))
            select.append(f"{sql} AS {alias}")
            self.cols[name] = Col(alias, kind, False)
        for node in self.query.walk():
            if (isinstance(node, ast.Call) and node.name in ("KQL", "MATCH")) \
                    or isinstance(node, ast.Match):
                alias = self.alias()
                select.append(f"coalesce({self.fulltext_sql(node)}, FALSE) AS {alias}")
                self.fulltext[id(node)] = alias
        indices = ", ".join(sql_literal(i) for i in self.indices) or "NULL"
        where = f"_index IN ({indices})"
        if self.filter_sql:
            where += f" AND ({self.filter_sql})"
        self.ctes.append(f"s0 AS (SELECT {', '.join(select)} FROM events WHERE {where})")

    def source_reads(self) -> set[str]:
        """The names the pipeline reads before any command of it makes them (EVAL, STATS,
        DISSECT, GROK, RENAME): those can only be source fields."""
        made: set[str] = set()
        read: set[str] = set()
        for command in self.query.commands[1:]:
            read.update(c.name for c in command.find_all(ast.Column) if c.name not in made)
            names: list[str] = []
            if isinstance(command, ast.MvExpand):
                names = [command.column]
            elif isinstance(command, ast.Rename):
                names = [old for old, _ in command.pairs]
            elif isinstance(command, ast.Keep | ast.Drop):
                names = [p for p in command.patterns if "*" not in p]
            read.update(n for n in names if n not in made)
            if isinstance(command, ast.Eval):
                made.update(a.name for a in command.assignments)
            elif isinstance(command, ast.Stats):
                made.update(a.name for a in command.aggregates)
                made.update(g.name for g in command.groups)
            elif isinstance(command, ast.Grok):
                made.update(grok_columns(command.pattern))
            elif isinstance(command, ast.Dissect):
                made.update(dissect_columns(command.pattern))
            elif isinstance(command, ast.Rename):
                made.update(new for _, new in command.pairs)
        return read

    def source_names(self) -> list[str]:
        """The fields the query may read from the source: every name it writes, and every
        field a KEEP/DROP pattern of the source columns matches."""
        names: dict[str, None] = {}
        for node in self.query.walk():
            if isinstance(node, ast.Column):
                names[node.name] = None
            elif isinstance(node, ast.MvExpand):
                names[node.column] = None
            elif isinstance(node, ast.Rename):
                names.update(dict.fromkeys(old for old, _ in node.pairs))
        for command in self.query.commands[1:]:
            if isinstance(command, ast.Stats) and not command.inline:
                break
            if isinstance(command, ast.Keep | ast.Drop):
                for pattern in command.patterns:
                    if "*" in pattern:
                        regex = _glob(pattern)
                        names.update(dict.fromkeys(
                            n for n in self.compiler.fields.columns()
                            if regex.fullmatch(n) and not n.startswith("_")))
                    else:
                        names[pattern] = None
                if isinstance(command, ast.Keep):
                    break
        return [n for n in names if not n.startswith("_")]

    def field(self, name: str) -> Value | None:
        """A source field as ES|QL reads it, None if the indices do not have it."""
        try:
            resolved = self.compiler.resolve(eql_ast.Field(name))
        except UnknownFieldError:
            return None
        es_type = resolved.es_type or "null"
        kind = _esql_type(es_type)
        if kind is None:
            return None  # an object, or a type ES|QL does not read: not a column
        if not resolved.is_list:
            sql = resolved.sql if kind != "null" else "CAST(NULL AS VARCHAR)"
            return Value(sql, kind)
        values = f"list_filter({resolved.sql}, lambda v: v IS NOT NULL)"
        if kind in ("keyword", "ip", "version"):
            values = f"list_sort(list_distinct({values}))"
        elif kind in ("long", "double", "date", "boolean"):
            values = f"list_sort({values})"
        return Value(f"nullif({values}, [])", kind, True)

    def fulltext_sql(self, node: ast.Node) -> str:
        """A KQL()/MATCH()/`:` node as SQL over the events table, through Query DSL."""
        if isinstance(node, ast.Call) and node.name == "KQL":
            text = _string_arg(node.args[0], node)
            try:
                return kql_condition(text, self.compiler, now=self.now)
            except UnknownFieldError as error:
                raise EsqlVerificationError(f"Unknown column [{', '.join(error.fields)}]",
                                            node.span) from None
        else:
            column, query = (node.args[0], node.args[1]) if isinstance(node, ast.Call) \
                else (node.column, node.query)  # type: ignore[attr-defined]
            while isinstance(column, ast.Cast):
                column = column.value
            if not isinstance(column, ast.Column):
                raise _refused("MATCH needs a field", node)
            options: dict[str, Any] = {"query": _constant_arg(query, node)}
            if isinstance(node, ast.Call) and len(node.args) > 2:
                third = node.args[2]
                if isinstance(third, ast.MapLiteral):
                    options.update(dict(third.entries))
            if "fuzziness" in options:
                return self.fuzzy_match(column.name, options, node)
            dsl = {"match": {column.name: options}}
        try:
            return filter_condition(dsl, self.compiler)
        except UnknownFieldError as error:
            raise EsqlVerificationError(
                f"Unknown column [{', '.join(error.fields)}]",
                getattr(node, "span", None)) from None

    def fuzzy_match(self, name: str, options: Mapping[str, Any], node: ast.Node) -> str:
        """MATCH with `fuzziness` on a keyword field: ES's match query, with the keyword
        analyzer, becomes one fuzzy term query: a value within that many edits of the query,
        transpositions counting as one (Damerau-Levenshtein; `AUTO` is 0, 1 or 2 edits by
        length). `max_expansions` caps how many index terms Lucene tries; Lanner tests every
        value. Fuzzy matching of analyzed text is refused by name."""
        try:
            resolved = self.compiler.resolve(eql_ast.Field(name))
        except UnknownFieldError:
            raise EsqlVerificationError(f"Unknown column [{name}]",
                                        getattr(node, "span", None)) from None
        if _esql_type(resolved.es_type or "") != "keyword":
            raise _refused(f"MATCH with fuzziness on [{name}] ({resolved.es_type}) is not "
                           "supported: only keyword fields", node)
        text = str(options["query"])
        fuzziness = str(options["fuzziness"]).upper()
        if fuzziness.startswith("AUTO"):
            edits = 0 if len(text) <= 2 else 1 if len(text) <= 5 else 2
        elif fuzziness.isdigit():
            edits = min(int(fuzziness), 2)  # Lucene's fuzzy queries stop at 2 edits
        else:
            raise _refused(f"fuzziness [{options['fuzziness']}] is not supported", node)
        def near(value: str) -> str:
            return f"damerau_levenshtein({value}, {sql_literal(text)}) <= {edits}"

        if resolved.is_list:
            return f"list_bool_or(list_transform({resolved.sql}, lambda v: {near('v')}))"
        return f"({near(resolved.sql)})"

    # -- commands ---------------------------------------------------------------------------

    def command(self, command: ast.Command) -> None:
        if isinstance(command, ast.Where):
            condition = self.boolean(command.condition)
            self.stage(", ".join(self.carried()), f" WHERE {condition}")
        elif isinstance(command, ast.Eval):
            for assignment in command.assignments:
                value = self.expr(assignment.value)
                self.assign({assignment.name: value})
        elif isinstance(command, ast.Stats):
            self.stats(command)
        elif isinstance(command, ast.Keep):
            self.keep(command)
        elif isinstance(command, ast.Drop):
            for name in [n for n in self.cols if any(_glob(p).fullmatch(n)
                                                     for p in command.patterns)]:
                del self.cols[name]
        elif isinstance(command, ast.Rename):
            for old, new in command.pairs:
                col = self.column(old, command)
                del self.cols[old]
                self.cols.pop(new, None)
                self.cols[new] = col
        elif isinstance(command, ast.Sort):
            self.sort(command)
        elif isinstance(command, ast.Limit):
            self.stage(", ".join(self.carried()),
                       f" ORDER BY {', '.join(self.order)} LIMIT {command.count}")
        elif isinstance(command, ast.MvExpand):
            self.mv_expand(command)
        elif isinstance(command, ast.Dissect | ast.Grok):
            self.extract(command)
        else:
            raise _refused(f"{type(command).__name__.upper()} cannot run offline", command)

    def assign(self, values: Mapping[str, Value]) -> None:
        """New or replaced columns computed from the current stage, in one stage."""
        select = self.carried(set(values))
        for name, value in values.items():
            alias = self.alias()
            select.append(f"{value.sql} AS {alias}")
            self.cols.pop(name, None)
            self.cols[name] = Col(alias, value.type, value.multi)
        self.stage(", ".join(select))

    def column(self, name: str, node: ast.Node) -> Col:
        col = self.cols.get(name)
        if col is None:
            raise _refused(f"Unknown column [{name}]", node)
        return col

    def keep(self, command: ast.Keep) -> None:
        kept: dict[str, Col] = {}
        for pattern in command.patterns:
            if "*" not in pattern:
                col = self.column(pattern, command)
                kept.pop(pattern, None)
                kept[pattern] = col
                continue
            regex = _glob(pattern)
            for name, col in self.cols.items():
                if regex.fullmatch(name) and name not in kept:
                    kept[name] = col
        self.cols = kept

    def sort(self, command: ast.Sort) -> None:
        terms = []
        for order in command.orders:
            value = self.expr(order.value)
            sql = value.sql
            if value.multi:
                sql = f"list_min({sql})" if order.ascending else f"list_max({sql})"
            nulls_first = (not order.ascending) if order.nulls_first is None \
                else order.nulls_first
            terms.append(f"{sql} {'ASC' if order.ascending else 'DESC'} "
                         f"NULLS {'FIRST' if nulls_first else 'LAST'}")
        terms.extend(self.order)  # ties keep the order they had
        select = [c for c in self.carried() if c != "__ord"]
        self.order = ["__ord"]
        select.append(f"row_number() OVER (ORDER BY {', '.join(terms)}) AS __ord")
        self.stage(", ".join(select))

    def mv_expand(self, command: ast.MvExpand) -> None:
        col = self.column(command.column, command)
        if not col.multi:
            return
        select = self.carried({command.column})
        alias = self.alias()
        select.append(f"unnest(coalesce({col.alias}, [NULL])) AS {alias}")
        self.cols.pop(command.column)
        self.cols[command.column] = Col(alias, col.type, False)
        self.expanded.append(command.column)
        self.stage(", ".join(select))

    def extract(self, command: ast.Dissect | ast.Grok) -> None:
        """DISSECT and GROK as one regular expression whose groups are the new columns; a
        value that does not match gives NULL to all of them."""
        if isinstance(command, ast.Grok):
            regex, names = grok_regex(command.pattern, command)
        else:
            regex, names = dissect_regex(command.pattern, command)
        subject = self.single(self.expr(command.value))
        if subject.type not in _STRINGS:
            raise _refused(f"{type(command).__name__.upper()} needs a string", command)
        groups = [f"g{i}" for i in range(len(names))]
        struct = (f"CASE WHEN regexp_matches({subject.sql}, {sql_literal(regex)}) THEN "
                  f"regexp_extract({subject.sql}, {sql_literal(regex)}, "
                  f"[{', '.join(sql_literal(g) for g in groups)}]) END")
        values: dict[str, Value] = {}
        holder = self.alias()
        self.stage(", ".join([*self.carried(), f"{struct} AS {holder}"]))
        for name, group in zip(names, groups, strict=True):
            values[name] = Value(f"{holder}.{group}", "keyword")
        self.assign(values)

    # -- STATS ------------------------------------------------------------------------------

    def stats(self, command: ast.Stats) -> None:
        keys: list[tuple[str, Value]] = [(g.name, self.expr(g.value)) for g in command.groups]
        if command.inline:  # rows stay rows: a multi-valued key is no key (ES: null)
            keys = [(name, self.single(value)) for name, value in keys]
        # the grouping keys as columns, multi-valued ones unnested (a row per value)
        key_aliases = []
        for _, value in keys:
            alias = self.alias()
            key_aliases.append(alias)
            self.stage(", ".join([*self.carried(), *key_aliases[:-1], f"{value.sql} AS {alias}"]))
            if value.multi:
                self.stage(", ".join([*self.carried(), *key_aliases[:-1],
                                      f"unnest(coalesce({alias}, [NULL])) AS {alias}"]))
        aggregates = [(a.name, self.alias(), self.aggregate(a)) for a in command.aggregates]
        group_by = f" GROUP BY {', '.join(key_aliases)}" if key_aliases else ""
        select = [f"{value.sql} AS {alias}" for _, alias, value in aggregates]
        made = {name: Col(alias, value.type, value.multi) for name, alias, value in aggregates}
        if not command.inline:
            for (name, value), alias in zip(keys, key_aliases, strict=True):
                made.pop(name, None)
                made[name] = Col(alias, value.type, False)
            # rows in group-key order, numbered: the order outlives KEEP and EVAL
            keys_order = ", ".join(f"{a} NULLS LAST" for a in key_aliases) or "1"
            self.stage(", ".join([*select, *key_aliases,
                                  f"row_number() OVER (ORDER BY {keys_order}) AS __ord"]),
                       group_by)
            self.cols = made
            self.doc = False
            self.order = ["__ord"]
            return
        # INLINE STATS: every row keeps its columns and gains its group's aggregates
        rows_stage = f"s{len(self.ctes) - 1}"
        grouped = self.stage(", ".join([*select, *key_aliases]) or "1", group_by)
        joined = " AND ".join(f"r.{a} IS NOT DISTINCT FROM g.{a}" for a in key_aliases) or "TRUE"
        columns = [f"r.{c}" for c in self.carried()]
        columns.extend(f"g.{alias} AS {alias}" for _, alias, _ in aggregates)
        for name, col in made.items():
            self.cols.pop(name, None)
            self.cols[name] = col
        self.ctes.append(f"s{len(self.ctes)} AS (SELECT {', '.join(columns)} FROM {rows_stage} r "
                         f"JOIN {grouped} g ON {joined})")

    def aggregate(self, aggregate: ast.Aggregate) -> Value:
        where = self.boolean(aggregate.where) if aggregate.where is not None else None
        return self.expr(aggregate.value, where=where, in_stats=True)

    def aggregation(self, node: ast.Call, where: str | None) -> Value:
        name = node.name
        keep = f" FILTER (WHERE {where})" if where else ""
        if name == "COUNT" and (not node.args or isinstance(node.args[0], ast.Star)):
            return Value(f"count(*){keep}", "long")
        arg = self.expr(node.args[0])
        if arg.type == "null":  # a field no index maps: no values to aggregate
            empty = name in ("COUNT", "COUNT_DISTINCT")
            return Value("CAST(0 AS BIGINT)" if empty else "NULL", "long" if empty else "null")
        values = self.list_of(arg)
        every = f"flatten(list({values}){keep})"
        if name == "COUNT":
            return Value(f"coalesce(sum(len({values})){keep}, 0)" if arg.multi
                         else f"count({arg.sql}){keep}", "long")
        if name == "COUNT_DISTINCT":
            return Value(f"coalesce(len(list_distinct({every})), 0)", "long")
        if name == "VALUES":
            return Value(f"nullif(list_sort(list_distinct({every})), [])", arg.type, True)
        if name in ("MIN", "MAX"):
            if arg.type not in _NUMBERS | _STRINGS | {"date", "boolean"}:
                raise _refused(f"[{name.lower()}] does not take [{arg.type}]", node)
            sql = f"list_{name.lower()}({arg.sql})" if arg.multi else arg.sql
            return Value(f"{name.lower()}({sql}){keep}", arg.type)
        if name in ("SUM", "AVG"):
            if arg.type not in _NUMBERS:
                raise _refused(f"[{name.lower()}] needs a number, not [{arg.type}]", node)
            if name == "SUM":
                return Value(f"list_sum({every})", arg.type)
            return Value(f"CAST(list_avg({every}) AS DOUBLE)", "double")
        if name == "TOP":
            count = _constant_arg(node.args[1], node)
            order = str(_constant_arg(node.args[2], node)).lower()
            direction = "DESC" if order == "desc" else "ASC"
            return Value(f"nullif(list_slice(list_sort({every}, '{direction}'), 1, {int(count)}),"
                         " [])", arg.type, True)
        if name in ("FIRST", "LAST"):
            sort = self.single(self.expr(node.args[1]))
            pick = "arg_min" if name == "FIRST" else "arg_max"
            return Value(f"{pick}({arg.sql}, {sort.sql}){keep}", arg.type, arg.multi)
        raise _refused(f"Unknown function [{name.lower()}]", node)

    # -- expressions ------------------------------------------------------------------------

    def boolean(self, expr: ast.Expr) -> str:
        value = self.expr(expr)
        if value.type not in ("boolean", "null"):
            raise _refused(f"Condition expression needs to be boolean, found [{value.type}]",
                           expr)
        return self.single(value).sql

    def single(self, value: Value) -> Value:
        """The value, or NULL where it holds several (ES: null and a warning)."""
        if not value.multi:
            return value
        return Value(f"(CASE WHEN len({value.sql}) = 1 THEN {value.sql}[1] END)", value.type)

    @staticmethod
    def list_of(value: Value) -> str:
        if value.multi:
            return f"coalesce({value.sql}, [])"
        return f"(CASE WHEN {value.sql} IS NULL THEN [] ELSE [{value.sql}] END)"

    def expr(self, node: ast.Expr, *, where: str | None = None,
             in_stats: bool = False) -> Value:
        method = getattr(self, f"expr_{type(node).__name__.lower()}")
        if isinstance(node, ast.Call | ast.Binary | ast.Unary | ast.Cast):
            return method(node, where, in_stats)
        return method(node)

    def sub(self, node: ast.Expr, where: str | None, in_stats: bool) -> Value:
        return self.expr(node, where=where, in_stats=in_stats)

    def expr_literal(self, node: ast.Literal) -> Value:
        value = node.value
        if value is None:
            return Value("NULL", "null")
        if isinstance(value, bool):
            return Value("TRUE" if value else "FALSE", "boolean")
        if isinstance(value, int):
            return Value(f"CAST({value} AS BIGINT)", "long")
        if isinstance(value, float):
            return Value(f"CAST({value!r} AS DOUBLE)", "double")
        if isinstance(value, tuple):
            raise _refused("list literals are not supported here", node)
        return Value(sql_literal(value), "keyword")

    def expr_timespan(self, node: ast.TimeSpan) -> Value:
        return Value(f"INTERVAL {node.amount} {_INTERVAL_UNITS[node.unit]}", "time_span")

    def expr_column(self, node: ast.Column) -> Value:
        return self.column(node.name, node).value

    def expr_star(self, node: ast.Star) -> Value:
        raise _refused("* is only allowed in COUNT(*)", node)

    def expr_mapliteral(self, node: ast.MapLiteral) -> Value:
        raise _refused("options are only allowed in a function", node)

    def expr_isnull(self, node: ast.IsNull) -> Value:
        value = self.expr(node.value)
        test = "IS NOT NULL" if node.negated else "IS NULL"
        return Value(f"({value.sql} {test})", "boolean")

    def expr_in(self, node: ast.In) -> Value:
        value = self.single(self.expr(node.value))
        items = [self.single(self.expr(item)) for item in node.items]
        for item in items:
            self.comparable(value, item, node)
        listed = ", ".join(self.coerce(item, value.type) for item in items)
        return Value(f"({self.coerce(value, value.type)} {'NOT ' if node.negated else ''}"
                     f"IN ({listed}))", "boolean")

    def expr_like(self, node: ast.Like) -> Value:
        value = self.single(self.expr(node.value))
        if value.type not in _STRINGS | {"null"}:
            raise _refused(f"[{'RLIKE' if node.regex else 'LIKE'}] needs a string, "
                           f"found [{value.type}]", node)
        tests = []
        for pattern in node.patterns:
            try:
                regex = lucene_to_re2(pattern) if node.regex else wildcard_regex(pattern)
            except PatternError as error:
                raise _refused(str(error), node) from None
            tests.append(f"regexp_full_match({value.sql}, {sql_literal(regex)})")
        test = " OR ".join(tests)
        return Value(f"(NOT ({test}))" if node.negated else f"({test})", "boolean")

    def expr_match(self, node: ast.Match) -> Value:
        return Value(self.fulltext[id(node)], "boolean")

    def expr_cast(self, node: ast.Cast, where: str | None, in_stats: bool) -> Value:
        target = {"string": "TO_STRING", "keyword": "TO_STRING", "text": "TO_STRING",
                  "double": "TO_DOUBLE", "long": "TO_LONG", "integer": "TO_INTEGER",
                  "int": "TO_INTEGER", "ip": "TO_IP", "datetime": "TO_DATETIME",
                  "date": "TO_DATETIME", "boolean": "TO_BOOLEAN", "bool": "TO_BOOLEAN"}.get(
            node.type)
        if target is None:
            raise _refused(f"Unsupported cast to [{node.type}]", node)
        return self.call(ast.Call(target, (node.value,), node.span), where, in_stats)

    def expr_unary(self, node: ast.Unary, where: str | None, in_stats: bool) -> Value:
        value = self.single(self.sub(node.operand, where, in_stats))
        if node.op == "not":
            return Value(f"(NOT {value.sql})", "boolean")
        if value.type not in _NUMBERS:
            raise _refused(f"[-] needs a number, found [{value.type}]", node)
        return Value(f"(- {value.sql})", value.type)

    def expr_binary(self, node: ast.Binary, where: str | None, in_stats: bool) -> Value:
        left = self.single(self.sub(node.left, where, in_stats))
        right = self.single(self.sub(node.right, where, in_stats))
        op = node.op
        if op in ("and", "or"):
            return Value(f"({left.sql} {op.upper()} {right.sql})", "boolean")
        if op in _COMPARISON_SQL:
            kind = self.comparable(left, right, node)
            return Value(f"({self.coerce(left, kind)} {_COMPARISON_SQL[op]} "
                         f"{self.coerce(right, kind)})", "boolean")
        return self.arithmetic(op, left, right, node)

    def arithmetic(self, op: str, left: Value, right: Value, node: ast.Node) -> Value:
        if left.type == "date" and right.type == "time_span" and op in "+-":
            return Value(f"CAST(({left.sql} {op} {right.sql}) AS TIMESTAMP_NS)", "date")
        if left.type == "time_span" and right.type == "date" and op == "+":
            return Value(f"CAST(({right.sql} + {left.sql}) AS TIMESTAMP_NS)", "date")
        types = {left.type, right.type} - {"null"}
        if not types <= _NUMBERS:
            raise _refused(f"[{op}] has arguments of incompatible types [{left.type}] and "
                           f"[{right.type}]", node)
        if "double" in types:
            return Value(f"(CAST({left.sql} AS DOUBLE) {op} CAST({right.sql} AS DOUBLE))",
                         "double")
        if op == "/":  # Java long division truncates; a zero divisor is null (and a warning)
            return Value(f"TRY({left.sql} // nullif({right.sql}, 0))", "long")
        if op == "%":
            return Value(f"TRY({left.sql} % nullif({right.sql}, 0))", "long")
        return Value(f"TRY({left.sql} {op} {right.sql})", "long")

    def comparable(self, left: Value, right: Value, node: ast.Node) -> str:
        """The type two values compare as; ES refuses a string against a number."""
        kinds = {left.type, right.type} - {"null"}
        if not kinds:
            return "null"
        if len(kinds) == 1:
            return kinds.pop()
        if kinds <= _NUMBERS:
            return "double"
        if kinds <= _STRINGS:
            return "keyword"
        if kinds <= {"date", "keyword", "text"}:
            return "date"  # a string literal against a date is read as a date
        if kinds <= {"ip", "keyword", "text"}:
            return "keyword"
        raise _refused(f"first argument of [{_text(node)}] is [{left.type}] so second "
                       f"argument must also be [{left.type}] but was [{right.type}]", node)

    @staticmethod
    def coerce(value: Value, kind: str) -> str:
        if value.type == "null":
            return f"CAST({value.sql} AS {_SQL_TYPES.get(kind, 'VARCHAR')})"
        if kind == "date" and value.type != "date":
            return f"TRY_CAST({value.sql} AS TIMESTAMP_NS)"
        if kind == "double" and value.type == "long":
            return f"CAST({value.sql} AS DOUBLE)"
        return value.sql

    def expr_call(self, node: ast.Call, where: str | None, in_stats: bool) -> Value:
        return self.call(node, where, in_stats)

    def call(self, node: ast.Call, where: str | None, in_stats: bool) -> Value:
        function = FUNCTIONS.get(node.name)
        if function is None:
            if node.name in ("TO_DATETIME", "TO_BOOLEAN"):
                return self.conversion(node, self.sub(node.args[0], where, in_stats))
            raise _refused(f"Unknown function [{node.name.lower()}]", node)
        if function.aggregate:
            if not in_stats:
                raise _refused(f"aggregate function [{node.name.lower()}] is only allowed "
                               "in STATS", node)
            return self.aggregation(node, where)
        if node.name in ("KQL", "MATCH"):
            return Value(self.fulltext[id(node)], "boolean")
        args = [self.sub(arg, where, in_stats) for arg in node.args]
        if node.name in _MV_REDUCTIONS:
            return self.mv_reduction(args[0], _MV_REDUCTIONS[node.name])
        handler = getattr(self, f"fn_{node.name.lower()}", None)
        if handler is not None:
            return handler(node, args)
        if node.name.startswith("TO_") and node.name not in ("TO_LOWER", "TO_UPPER"):
            return self.conversion(node, args[0])
        return self.scalar_function(node, args)

    # -- scalar functions -------------------------------------------------------------------

    def scalar_function(self, node: ast.Call, args: list[Value]) -> Value:
        name = node.name
        if name in ("TO_LOWER", "TO_UPPER") and args[0].multi:  # each value (ES docs)
            self.strings(args, node)
            function = "lower" if name == "TO_LOWER" else "upper"
            return Value(f"list_transform({args[0].sql}, lambda v: {function}(v))", "keyword",
                         True)
        one = [self.single(a) for a in args]
        simple = {"TO_LOWER": ("lower", "keyword"), "TO_UPPER": ("upper", "keyword"),
                  "LENGTH": ("length", "long"),
                  "STARTS_WITH": ("starts_with", "boolean"),
                  "ENDS_WITH": ("ends_with", "boolean"), "CONTAINS": ("contains", "boolean")}
        if name in simple:
            function, kind = simple[name]
            self.strings(one, node)
            sql = f"{function}({', '.join(a.sql for a in one)})"
            return Value(f"CAST({sql} AS BIGINT)" if kind == "long" else sql, kind)
        if name == "TRIM":  # leading and trailing whitespace, not only spaces
            self.strings(one, node)
            return Value(f"regexp_replace({one[0].sql}, '^\\s+|\\s+$', '', 'g')", "keyword")
        if name == "CONCAT":
            self.strings(one, node)
            return Value("(" + " || ".join(a.sql for a in one) + ")", "keyword")
        if name == "REPLACE":
            self.strings(one, node)
            regex, replacement = one[1].sql, one[2].sql
            if isinstance(node.args[1], ast.Literal):
                regex = sql_literal(re2_regex(str(node.args[1].value), node))
            if isinstance(node.args[2], ast.Literal):
                replacement = sql_literal(re2_replacement(str(node.args[2].value)))
            return Value(f"regexp_replace({one[0].sql}, {regex}, {replacement}, 'g')", "keyword")
        if name == "LOCATE":
            self.strings(one[:2], node)
            start = f", {one[2].sql}" if len(one) > 2 else ""
            if start:
                raise _refused("LOCATE with a start position is not supported", node)
            return Value(f"CAST(strpos({one[0].sql}, {one[1].sql}) AS BIGINT)", "long")
        if name == "SPLIT":
            self.strings(one, node)
            return Value(f"nullif(string_split({one[0].sql}, {one[1].sql}), [])", "keyword",
                         True)
        if name == "SPACE":
            return Value(f"repeat(' ', CAST({one[0].sql} AS INTEGER))", "keyword")
        if name == "URL_DECODE":  # Java's URLDecoder: `+` is a space, `%2B` a plus
            return Value(f"TRY(url_decode(replace({one[0].sql}, '+', ' ')))", "keyword")
        if name == "FROM_BASE64":
            return Value(f"TRY(decode(from_base64({one[0].sql})))", "keyword")
        if name == "JSON_EXTRACT":
            return Value(f"json_extract_string(TRY_CAST({one[0].sql} AS JSON), "
                         f"{self.json_path(node.args[1], one[1])})", "keyword")
        if name == "NOW":
            stamp = self.now.astimezone(datetime.UTC).replace(tzinfo=None).isoformat()
            return Value(f"CAST(TIMESTAMP '{stamp}' AS TIMESTAMP_NS)", "date")
        if name == "ROUND":
            digits = f"CAST({one[1].sql} AS INTEGER)" if len(one) > 1 else "0"
            kind = one[0].type
            if kind == "long":
                return Value(f"CAST(round({one[0].sql}, {digits}) AS BIGINT)", "long")
            return Value(f"round({one[0].sql}, {digits})", "double")
        if name == "CIDR_MATCH":
            return self.cidr(node, args)
        raise _refused(f"function [{name.lower()}] is not supported", node)

    def json_path(self, node: ast.Expr, value: Value) -> str:
        if isinstance(node, ast.Literal) and isinstance(node.value, str):
            path = node.value
            return sql_literal(path if path.startswith("$") else "$." + path)
        return f"('$.' || {value.sql})"

    def strings(self, args: Sequence[Value], node: ast.Node) -> None:
        for arg in args:
            if arg.type not in _STRINGS | {"null"}:
                raise _refused(f"[{node.name.lower()}] needs strings, "  # type: ignore[attr-defined]
                               f"found [{arg.type}]", node)

    def cidr(self, node: ast.Call, args: list[Value]) -> Value:
        ip = self.single(args[0])
        tests = []
        for block in node.args[1:]:
            text = _constant_arg(block, node)
            try:
                low, high = cidr_key_range(str(text))
            except ValueError:
                raise _refused(f"[{text}] is not a CIDR block", node) from None
            tests.append(f"(eql_ip_key({ip.sql}) BETWEEN {sql_literal(low)} AND "
                         f"{sql_literal(high)})")
        return Value("(" + " OR ".join(tests) + ")", "boolean")

    def fn_case(self, node: ast.Call, args: list[Value]) -> Value:
        pairs = [(args[i], args[i + 1]) for i in range(0, len(args) - 1, 2)]
        default = args[-1] if len(args) % 2 else Value("NULL", "null")
        results = [v for _, v in pairs] + [default]
        kind = self.common(results, node)
        branches = " ".join(f"WHEN {self.single(c).sql} THEN {self.cast_to(v, kind)}"
                            for c, v in pairs)
        multi = any(v.multi for v in results)
        if multi:
            branches = " ".join(f"WHEN {self.single(c).sql} THEN {self.list_of(v)}"
                                for c, v in pairs)
            return Value(f"nullif(CASE {branches} ELSE {self.list_of(default)} END, [])", kind,
                         True)
        return Value(f"CASE {branches} ELSE {self.cast_to(default, kind)} END", kind)

    def fn_coalesce(self, node: ast.Call, args: list[Value]) -> Value:
        kind = self.common(args, node)
        if any(a.multi for a in args):
            return Value(f"coalesce({', '.join(self.list_of_nullable(a) for a in args)})",
                         kind, True)
        return Value(f"coalesce({', '.join(self.cast_to(a, kind) for a in args)})", kind)

    def list_of_nullable(self, value: Value) -> str:
        return value.sql if value.multi else \
            f"(CASE WHEN {value.sql} IS NULL THEN NULL ELSE [{value.sql}] END)"

    def common(self, values: Sequence[Value], node: ast.Node) -> str:
        kinds = {v.type for v in values} - {"null"}
        if not kinds:
            return "null"
        if len(kinds) == 1:
            return kinds.pop()
        if kinds <= _STRINGS:
            return "keyword"
        if kinds <= _NUMBERS:
            return "double"
        raise _refused(f"[{node.name.lower()}] arguments must all have the same type, "  # type: ignore[attr-defined]
                       f"found {sorted(kinds)}", node)

    @staticmethod
    def cast_to(value: Value, kind: str) -> str:
        if value.type == "null" and kind != "null":
            return f"CAST(NULL AS {_SQL_TYPES.get(kind, 'VARCHAR')})"
        if kind == "double" and value.type == "long":
            return f"CAST({value.sql} AS DOUBLE)"
        return value.sql

    def fn_date_trunc(self, node: ast.Call, args: list[Value]) -> Value:
        span, date = node.args[0], self.single(args[1])
        if not isinstance(span, ast.TimeSpan):
            raise _refused("DATE_TRUNC needs a time span literal", node)
        if date.type != "date":
            raise _refused(f"DATE_TRUNC needs a date, found [{date.type}]", node)
        unit = _INTERVAL_UNITS[span.unit]
        if span.amount == 1:
            return Value(f"CAST(date_trunc('{unit}', {date.sql}) AS TIMESTAMP_NS)", "date")
        return Value(f"CAST(time_bucket(INTERVAL {span.amount} {unit}, CAST({date.sql} AS "
                     "TIMESTAMP), TIMESTAMP '1970-01-01') AS TIMESTAMP_NS)", "date")

    def fn_date_diff(self, node: ast.Call, args: list[Value]) -> Value:
        unit = _DIFF_UNITS.get(str(_constant_arg(node.args[0], node)).lower())
        if unit is None:
            raise _refused(f"DATE_DIFF does not know the unit [{node.args[0]}]", node)
        start, end = self.single(args[1]), self.single(args[2])
        return Value(f"CAST(date_sub('{unit}', {start.sql}, {end.sql}) AS BIGINT)", "long")

    def mv_reduction(self, value: Value, template: str) -> Value:
        """MV_FIRST/LAST/MIN/MAX/SUM: the list reduced to one value of the same type; a
        single value is its own reduction."""
        return Value(template.format(value.sql) if value.multi else value.sql, value.type)

    def fn_mv_count(self, node: ast.Call, args: list[Value]) -> Value:
        value = args[0]
        if value.multi:
            return Value(f"CAST(len({value.sql}) AS BIGINT)", "long")
        return Value(f"(CASE WHEN {value.sql} IS NULL THEN NULL ELSE CAST(1 AS BIGINT) END)",
                     "long")

    def fn_mv_concat(self, node: ast.Call, args: list[Value]) -> Value:
        value, separator = args[0], self.single(args[1])
        text = self.to_string(value)
        if not text.multi:
            return text
        return Value(f"array_to_string({text.sql}, {separator.sql})", "keyword")

    def fn_mv_dedupe(self, node: ast.Call, args: list[Value]) -> Value:
        value = args[0]
        if not value.multi:
            return value
        return Value(f"list_distinct({value.sql})", value.type, True)

    def fn_mv_slice(self, node: ast.Call, args: list[Value]) -> Value:
        """ES positions from 0, the end inclusive, negative ones from the end."""
        value = args[0]
        start = self.single(args[1]).sql
        end = self.single(args[2]).sql if len(args) > 2 else start
        values = self.list_of(value)
        first = f"(CASE WHEN {start} < 0 THEN len({values}) + {start} ELSE {start} END)"
        last = f"(CASE WHEN {end} < 0 THEN len({values}) + {end} ELSE {end} END)"
        return Value(f"nullif(list_slice({values}, {first} + 1, {last} + 1), [])", value.type,
                     True)

    def fn_mv_contains(self, node: ast.Call, args: list[Value]) -> Value:
        superset, subset = args
        return Value(f"(CASE WHEN {subset.sql} IS NULL THEN TRUE WHEN {superset.sql} IS NULL "
                     f"THEN FALSE ELSE list_has_all({self.list_of(superset)}, "
                     f"{self.list_of(subset)}) END)", "boolean")

    def fn_mv_intersection(self, node: ast.Call, args: list[Value]) -> Value:
        left, right = args
        return Value(f"nullif(list_intersect({self.list_of(left)}, {self.list_of(right)}), [])",
                     left.type, True)

    def fn_to_ip(self, node: ast.Call, args: list[Value]) -> Value:
        value = args[0]
        regex = sql_literal(r"^(?:(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}"
                            r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])$|^[0-9A-Fa-f:.]*:"
                            r"[0-9A-Fa-f:.]*$")
        if value.multi:
            return Value(f"nullif(list_filter({value.sql}, lambda v: regexp_matches(v, {regex})),"
                         " [])", "ip", True)
        return Value(f"(CASE WHEN regexp_matches({value.sql}, {regex}) THEN {value.sql} END)",
                     "ip")

    def fn_to_geopoint(self, node: ast.Call, args: list[Value]) -> Value:
        return Value(self.single(args[0]).sql, "geo_point")

    def fn_st_x(self, node: ast.Call, args: list[Value]) -> Value:
        return self.point_part(args[0], 1)

    def fn_st_y(self, node: ast.Call, args: list[Value]) -> Value:
        return self.point_part(args[0], 2)

    def point_part(self, value: Value, part: int) -> Value:
        """A coordinate of a WKT `POINT (x y)`."""
        text = self.single(value).sql
        return Value(f"TRY_CAST(regexp_extract({text}, "
                     rf"'(?i)POINT\s*\(\s*(\S+)\s+(\S+)\s*\)', {part}) AS DOUBLE)", "double")

    def fn_st_distance(self, node: ast.Call, args: list[Value]) -> Value:
        """Haversine distance in meters on ES's mean earth radius (6371008.7714 m)."""
        (x1, y1), (x2, y2) = ((self.point_part(a, 1).sql, self.point_part(a, 2).sql)
                              for a in args)
        return Value(f"(2 * 6371008.7714 * asin(sqrt(pow(sin(radians({y2} - {y1}) / 2), 2) + "
                     f"cos(radians({y1})) * cos(radians({y2})) * "
                     f"pow(sin(radians({x2} - {x1}) / 2), 2))))", "double")

    def conversion(self, node: ast.Call, value: Value) -> Value:
        """TO_* conversions: multivalue-aware, each value converted; a value that does not
        convert is NULL (ES: a warning)."""
        name = node.name
        if name == "TO_STRING":
            return self.to_string(value)
        casts = {"TO_DOUBLE": ("DOUBLE", "double"), "TO_LONG": ("BIGINT", "long"),
                 "TO_INTEGER": ("BIGINT", "long"), "TO_BOOLEAN": ("BOOLEAN", "boolean"),
                 "TO_DATETIME": ("TIMESTAMP_NS", "date")}
        if name not in casts:
            raise _refused(f"function [{name.lower()}] is not supported", node)
        sql_type, kind = casts[name]

        def one(sql: str) -> str:
            if value.type == "date" and kind in ("long", "double"):
                return f"CAST(epoch_ms({sql}) AS {sql_type})"
            if value.type == "double" and kind == "long":
                return f"TRY_CAST(trunc({sql}) AS BIGINT)"
            return f"TRY_CAST({sql} AS {sql_type})"

        if value.multi:
            return Value(f"nullif(list_filter(list_transform({value.sql}, lambda v: {one('v')}), "
                         "lambda v: v IS NOT NULL), [])", kind, True)
        return Value(one(value.sql), kind)

    def to_string(self, value: Value) -> Value:
        def one(sql: str) -> str:
            if value.type == "date":
                return f"strftime({sql}, '%Y-%m-%dT%H:%M:%S.%gZ')"
            if value.type == "double":
                return f"eql_double_str({sql})"
            if value.type == "boolean":
                return f"(CASE WHEN {sql} THEN 'true' WHEN NOT {sql} THEN 'false' END)"
            return f"CAST({sql} AS VARCHAR)"

        if value.multi:
            if value.type in _STRINGS:
                return Value(value.sql, "keyword", True)
            return Value(f"list_transform({value.sql}, lambda v: {one('v')})", "keyword", True)
        return Value(one(value.sql), "keyword")


def _esql_type(es_type: str) -> str | None:
    if es_type in _KEYWORD_TYPES:
        return "keyword"
    if es_type in _TEXT_TYPES:
        return "text"
    if es_type in _LONG_TYPES:
        return "long"
    if es_type in _DOUBLE_TYPES:
        return "double"
    if es_type in _DATE_TYPES:
        return "date"
    if es_type in ("ip", "version", "boolean", "null", "geo_point"):
        return es_type
    return None


def _glob(pattern: str) -> re.Pattern[str]:
    return re.compile(".*".join(re.escape(part) for part in pattern.split("*")))


def _text(node: ast.Node) -> str:
    span = getattr(node, "span", None)
    return f"{type(node).__name__} at {span.line}:{span.col}" if span else type(node).__name__


def _string_arg(node: ast.Expr, call: ast.Node) -> str:
    value = _constant_arg(node, call)
    if not isinstance(value, str):
        raise _refused("expected a string constant", call)
    return value


def _constant_arg(node: ast.Expr, call: ast.Node) -> Any:
    if not isinstance(node, ast.Literal):
        raise _refused("expected a constant", call)
    return node.value


@dataclass(frozen=True, slots=True)
class Row:
    """One row of a result: its non-null cells as ES|QL returns them (`drop_null_columns`,
    and `rowToDocument` skips nulls; one value is a scalar, several a list, dates ISO
    strings), and the position of its source event when it is one."""

    values: dict[str, Any]
    doc: int | None = None


def run(backend: object, query: ast.Query, indices: Sequence[str], *, filter_sql: str | None,
        now: datetime.datetime, limit: int,
        compiler: SqlCompiler | None = None) -> tuple[Translation, list[Row]]:
    """Translate and run `query` on a DuckDB backend (Kibana appends `| limit <limit>`)."""
    from lanner.engine.backends.duckdb import DuckDBBackend, SearchScope

    if not isinstance(backend, DuckDBBackend):
        raise EsqlUnsupportedError(
            f"ES|QL rules are not on Spark yet ({type(backend).__name__}): they run on DuckDB")
    if not indices:  # patterns that match no index: an empty result (ES PR #139181)
        return Translation("", [], False), []
    if compiler is None:
        compiler = backend.compiler(SearchScope(tuple(indices)))
    templated = any(backend.store.mapping(index) is None for index in indices)
    translation = translate(query, compiler, indices, filter_sql=filter_sql, now=now,
                            limit=limit, templated=templated)
    try:
        rows = backend.con.execute(translation.sql).fetchall()
    except duckdb.Error as error:
        raise QueryFailedError(f"DuckDB failed the ES|QL query: {error}") from None
    found = []
    for row in rows:
        doc = row[0] if translation.doc else None
        cells = row[1:] if translation.doc else row
        values = {}
        for output, cell in zip(translation.columns, cells, strict=True):
            value = _json_value(cell)
            if value is not None:
                values[output.name] = value
        found.append(Row(values, doc))
    return translation, found


def _json_value(cell: Any) -> Any:
    if cell is None:
        return None
    if isinstance(cell, list):
        values = [v for v in (_json_value(c) for c in cell) if v is not None]
        if not values:
            return None
        return values[0] if len(values) == 1 else values
    if isinstance(cell, datetime.datetime):
        if cell.tzinfo is not None:
            cell = cell.astimezone(datetime.UTC).replace(tzinfo=None)
        return cell.strftime("%Y-%m-%dT%H:%M:%S.") + f"{cell.microsecond // 1000:03d}Z"
    if isinstance(cell, decimal.Decimal):
        return float(cell)
    return cell


__all__ = ["EsqlUnsupportedError", "Output", "Row", "Translation",
           "grok_columns", "run", "translate"]
