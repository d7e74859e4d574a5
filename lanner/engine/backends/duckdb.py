"""The DuckDB backend: a plan's filters as SQL over the event store, candidates for the matcher.

Each distinct filter of a plan is one query. Event queries are ordered, counted and sliced in
SQL; sequence and sample filters return (doc, timestamp, tiebreaker, join-key values) rows that
become matcher Events, so all sequence logic stays in lanner.engine.matcher.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from lanner.engine.backends.sql import SqlCompiler, epoch_nanos, install_macros, sql_literal
from lanner.engine.matcher import Event, expand_keys
from lanner.engine.plan import StageFilter
from lanner.engine.values import KEY_WRAPPERS, wrap_key
from lanner.eql import ast
from lanner.eql.schema import FieldSchema
from lanner.store.events import Document, EventStore, quote

_DATE_TYPES = frozenset({"date", "date_nanos"})
_NUMERIC_TYPES = frozenset({"long", "integer", "short", "byte", "unsigned_long", "double",
                            "float", "half_float", "scaled_float"})


@dataclass(frozen=True, slots=True)
class SearchScope:
    """Where to search and which fields order and categorise events (the request's options).

    `indices` are concrete index names (see DuckDBBackend.indices); `filter_sql` is an extra
    SQL condition every event must meet (the request's Query DSL `filter`).
    """

    indices: tuple[str, ...]
    timestamp_field: str = "@timestamp"
    tiebreaker_field: str | None = None
    category_field: str = "event.category"
    filter_sql: str | None = None


class DuckDBBackend:
    """Runs plan filters over an EventStore's DuckDB table."""

    def __init__(self, store: EventStore) -> None:
        self.store = store
        self.con = store.con
        install_macros(self.con)

    # -- scope ------------------------------------------------------------------------------

    def indices(self, patterns: str | Sequence[str]) -> tuple[str, ...]:
        """Stored index names selected by ES multi-target syntax: comma lists, `*` wildcards,
        `_all`, and `-pattern` exclusions after an inclusion; none for an unknown name."""
        names = [row[0] for row in self.con.execute(
            "SELECT DISTINCT _index FROM events ORDER BY _index").fetchall()]
        if isinstance(patterns, str):
            patterns = patterns.split(",")
        selected: list[str] = []
        for raw in patterns:
            pattern = raw.strip()
            if not pattern:
                continue
            if pattern.startswith("-") and selected:
                excluded = _glob(pattern[1:])
                selected = [name for name in selected if not excluded(name)]
                continue
            included = _glob("*" if pattern == "_all" else pattern)
            selected.extend(name for name in names if included(name) and name not in selected)
        return tuple(selected)

    def compiler(self, scope: SearchScope) -> SqlCompiler:
        """A compiler for this scope: ECS types stand in for the templates of indices that
        have no explicit mapping."""
        schema = None
        if any(self.store.mapping(index) is None for index in scope.indices):
            schema = FieldSchema.default()
        return SqlCompiler(self.store, category_field=scope.category_field, schema=schema)

    # -- event queries ----------------------------------------------------------------------

    def count(self, where: str, scope: SearchScope) -> int:
        """Number of events of the scope meeting `where`."""
        sql = f"SELECT count(*) FROM events WHERE {self._where(where, scope)}"
        return self.con.execute(sql).fetchone()[0]

    def window(self, where: str, scope: SearchScope, offset: int, limit: int) -> list[Document]:
        """Events meeting `where` in ES order (timestamp, tiebreaker nulls last, doc), from
        `offset`, at most `limit` of them."""
        order = ", ".join(self._order(scope))
        sql = (f"SELECT _doc FROM events WHERE {self._where(where, scope)} ORDER BY {order} "
               f"LIMIT {int(limit)} OFFSET {int(offset)}")
        docs = [row[0] for row in self.con.execute(sql).fetchall()]
        found = self.store.documents(docs)
        return [found[doc] for doc in docs]

    # -- sequences and samples --------------------------------------------------------------

    def candidates(self, stage: StageFilter, compiler: SqlCompiler, scope: SearchScope, *,
                   timed: bool = True) -> list[Event]:
        """Matcher events for one stage: those meeting its filter, ordered, with their join
        keys expanded (an event whose non-optional key is missing gets none). `timed`: only
        events with a timestamp (sequences need one; samples do not)."""
        where = compiler.filter(stage.category, stage.condition)
        timestamp = self._timestamp(scope)
        if timed:
            where = f"({where}) AND ({timestamp}) IS NOT NULL"
        tiebreaker = self._tiebreaker(scope)
        keys = [self.key_sql(compiler, key) for key in stage.keys]
        columns = ", ".join(["_doc", f"coalesce({timestamp}, 0)", tiebreaker, *keys])
        order = ", ".join(self._order(scope))
        sql = f"SELECT {columns} FROM events WHERE {self._where(where, scope)} ORDER BY {order}"
        optional = [key.optional for key in stage.keys]
        wrappers = [KEY_WRAPPERS.get(compiler.resolve(key).es_type or "") for key in stage.keys]
        events = []
        for row in self.con.execute(sql).fetchall():
            values = [wrap_key(value, wrapper) for value, wrapper in zip(row[3:], wrappers,
                                                                       strict=True)]
            events.append(Event(row[0], row[1], row[2], expand_keys(values, optional)))
        return events

    def key_sql(self, compiler: SqlCompiler, key: ast.Field) -> str:
        """A join-key column as the matcher compares it: dates as epoch nanoseconds."""
        resolved = compiler.resolve(key)
        if resolved.es_type in _DATE_TYPES:
            if resolved.is_list:
                each = epoch_nanos("d", resolved.es_type)
                return f"list_transform({resolved.sql}, lambda d: {each})"
            return epoch_nanos(resolved.sql, resolved.es_type)
        return resolved.sql

    def documents(self, docs: Iterable[int]) -> dict[int, Document]:
        """The stored documents with these `_doc` numbers."""
        return self.store.documents(docs)

    # -- SQL pieces -------------------------------------------------------------------------

    def _where(self, where: str, scope: SearchScope) -> str:
        indices = ", ".join(sql_literal(index) for index in scope.indices) or "NULL"
        parts = [f"_index IN ({indices})", f"({where})"]
        if scope.filter_sql:
            parts.append(f"({scope.filter_sql})")
        return " AND ".join(parts)

    def _timestamp(self, scope: SearchScope) -> str:
        """Epoch nanoseconds of the timestamp field (the first value of a list)."""
        column = self.store.column(scope.timestamp_field)
        if column is None or column.physical is None:
            return "CAST(NULL AS BIGINT)"
        value = f"list_min({column.sql})" if column.is_list else column.sql
        if column.es_type in _DATE_TYPES:
            return epoch_nanos(value, column.es_type)
        if column.es_type in _NUMERIC_TYPES:  # epoch millis, as ES reads a number as a date
            return f"CAST({value} * 1000000 AS BIGINT)"
        return "CAST(NULL AS BIGINT)"

    def _tiebreaker(self, scope: SearchScope) -> str:
        if scope.tiebreaker_field is None:
            return "NULL"
        column = self.store.column(scope.tiebreaker_field)
        if column is None or column.physical is None:
            return "CAST(NULL AS BIGINT)"
        value = f"list_min({column.sql})" if column.is_list else column.sql
        return epoch_nanos(value, column.es_type) if column.es_type in _DATE_TYPES else value

    def _order(self, scope: SearchScope) -> list[str]:
        order = [f"{self._timestamp(scope)} NULLS LAST"]
        if scope.tiebreaker_field is not None:
            order.append(f"{self._tiebreaker(scope)} NULLS LAST")
        return [*order, quote("_doc")]


def _glob(pattern: str) -> Callable[[str], bool]:
    """A test for an ES index pattern, where only `*` is a wildcard."""
    regex = re.compile(".*".join(re.escape(part) for part in pattern.split("*")))
    return lambda name: regex.fullmatch(name) is not None
