"""The DuckDB backend: a plan's filters as SQL over the event store, candidates for the matcher.

One search alone: each distinct filter of its plan is one query. Event queries are ordered,
counted and sliced in SQL; sequence and sample filters return (doc, timestamp, tiebreaker,
join-key values) rows that become matcher Events, so all sequence logic stays in
lanner.engine.matcher.

Many searches at once (`filter_many`, a hunt or a scheduled round of rules): the filters that
share an event category, a timestamp field and a request filter are evaluated in one pass over
the events, each tagging the rows it matches, so the table is read once per group rather than
once per rule.
"""

from __future__ import annotations

import itertools
import re
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

import duckdb

from lanner.engine.backends.sql import SqlCompiler, epoch_nanos, install_macros, sql_literal
from lanner.engine.matcher import Event, expand_keys
from lanner.engine.plan import StageFilter
from lanner.engine.values import KEY_WRAPPERS, wrap_key
from lanner.eql import ast
from lanner.eql.schema import FieldSchema
from lanner.store.events import Document, EventStore, quote

if TYPE_CHECKING:
    from lanner.engine.backends.base import FilterJob, FilterOutcome

_DATE_TYPES = frozenset({"date", "date_nanos"})
_NUMERIC_TYPES = frozenset({"long", "integer", "short", "byte", "unsigned_long", "double",
                            "float", "half_float", "scaled_float"})
# Filters evaluated in one statement: enough to share the scan, few enough that a statement
# stays a size DuckDB plans quickly (some corpus rules compile to 100k characters of SQL).
_FILTERS_PER_PASS = 128
_SQL_PER_PASS = 400_000


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

    def index_names(self) -> tuple[str, ...]:
        """Every stored index name, in order."""
        return tuple(row[0] for row in self.con.execute(
            "SELECT DISTINCT _index FROM events ORDER BY _index").fetchall())

    def indices(self, patterns: str | Sequence[str],
                names: Sequence[str] | None = None) -> tuple[str, ...]:
        """Stored index names selected by ES multi-target syntax: comma lists, `*` wildcards,
        `_all`, and `-pattern` exclusions after an inclusion; none for an unknown name.
        `names`: the stored names, when the caller read them once (index_names) for many
        pattern lists."""
        if names is None:
            names = self.index_names()
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

    # -- many filters at once ---------------------------------------------------------------

    def filter_many(self, jobs: Sequence[FilterJob]) -> list[FilterOutcome]:
        """Every job's documents or candidates, the same as one query each would find, from one
        pass per group of filters sharing a category, timestamp and request filter. Identical
        filters run once; a filter that does not compile, or whose pass fails, fails alone."""
        outcomes: list[FilterOutcome | None] = [None] * len(jobs)
        positions: dict[tuple[object, ...], list[int]] = {}
        for position, job in enumerate(jobs):
            positions.setdefault(job.identity(), []).append(position)
        groups: dict[tuple[object, ...], list[_Member]] = {}
        for shared in positions.values():
            try:
                member = self._member(jobs[shared[0]], shared)
            except Exception as error:  # handed to its own search, which raises it
                for position in shared:
                    outcomes[position] = error
                continue
            groups.setdefault(member.group, []).append(member)
        batches = [batch for members in groups.values() for batch in _batches(members)]
        for passed in self._passes(batches):
            for member, found in passed:
                for position in member.positions:
                    outcomes[position] = found
        return [outcome if outcome is not None else [] for outcome in outcomes]

    def _passes(self, batches: list[list[_Member]]) -> Iterator[list[tuple[_Member,
                                                                          FilterOutcome]]]:
        """Every batch's pass, on as many connections as DuckDB has threads: a pass over fewer
        rows than a row group, and the planning of any pass, use one core only."""
        workers = min(len(batches), self._threads())
        if workers <= 1:
            yield from (list(self._pass(batch, self.con)) for batch in batches)
            return
        local = threading.local()

        def run(batch: list[_Member]) -> list[tuple[_Member, FilterOutcome]]:
            con = getattr(local, "con", None)
            if con is None:
                con = local.con = self.con.cursor()
                install_macros(con)
            return list(self._pass(batch, con))

        with ThreadPoolExecutor(workers, thread_name_prefix="lanner-pass") as pool:
            yield from pool.map(run, batches)

    def _threads(self) -> int:
        return int(self.con.execute("SELECT current_setting('threads')").fetchone()[0])

    def _member(self, job: FilterJob, positions: list[int]) -> _Member:
        """A job compiled: the SQL telling its rows within its group's pass."""
        compiler, scope, stage = job.compiler, job.scope, job.stage
        category = compiler.category(stage.category) if stage.category is not None else None
        condition = [f"({compiler.condition(stage.condition)})"]
        if job.timed:
            condition.append(f"({self._timestamp(scope)}) IS NOT NULL")
        keys: tuple[str, ...] = ()
        optional: tuple[bool, ...] = ()
        wrappers: tuple[type[str] | None, ...] = ()
        scalar = True
        if job.keyed:
            resolved = [compiler.resolve(key) for key in stage.keys]
            keys = tuple(self.key_sql(compiler, key) for key in stage.keys)
            optional = tuple(key.optional for key in stage.keys)
            wrappers = tuple(KEY_WRAPPERS.get(r.es_type or "") for r in resolved)
            scalar = not any(r.is_list for r in resolved) and not any(wrappers)
        group = (scope.timestamp_field, scope.tiebreaker_field, scope.filter_sql, category)
        return _Member(positions, scope, group, " AND ".join(condition), job.keyed, keys,
                       optional, wrappers, scalar)

    def _pass(self, members: list[_Member],
              con: duckdb.DuckDBPyConnection) -> Iterator[tuple[_Member, FilterOutcome]]:
        """One statement for these members; if it fails, each member alone, so that the
        failure is the failing filter's."""
        keys = _key_columns(members)
        try:
            rows = con.execute(self._pass_sql(members, keys)).fetchall()
        except duckdb.Error as error:
            if len(members) == 1:
                yield members[0], error
                return
            for member in members:
                yield from self._pass([member], con)
            return
        by_tag = {tag: list(found) for tag, found in itertools.groupby(rows, lambda r: r[0])}
        for tag, member in enumerate(members):
            found = by_tag.get(tag, [])
            if not member.keyed:
                yield member, [row[1] for row in found]
                continue
            yield member, _events(member, [4 + keys[sql] for sql in member.keys], found)

    def _pass_sql(self, members: list[_Member], keys: dict[str, int]) -> str:
        """(tag, _doc, timestamp, tiebreaker, key columns…) for every member's rows, in ES
        order within each tag. One member is a plain WHERE; several tag each row with the
        members whose condition it meets, each condition evaluated once."""
        first = members[0]
        indices = tuple(dict.fromkeys(i for member in members for i in member.scope.indices))
        scope = SearchScope(indices, first.scope.timestamp_field, first.scope.tiebreaker_field,
                            first.scope.category_field, first.scope.filter_sql)
        category = first.group[3] or "TRUE"
        columns = ["_doc", f"{self._timestamp(scope)} AS _ts", f"{self._tiebreaker(scope)} AS _tb",
                   *(f"{sql} AS _k{position}" for sql, position in keys.items())]
        conditions = []
        for member in members:
            condition = member.condition
            if member.scope.indices != indices:
                within = ", ".join(sql_literal(index) for index in member.scope.indices)
                condition = f"_index IN ({within}) AND {condition}"
            conditions.append(condition)
        if len(members) == 1:
            where = self._where(f"{category} AND {conditions[0]}", scope)
            inner = f"SELECT 0 AS _tag, {', '.join(columns)} FROM events WHERE {where}"
        else:
            tags = ", ".join(f"CASE WHEN {condition} THEN {tag} END"
                             for tag, condition in enumerate(conditions))
            inner = (f"SELECT {', '.join(columns)}, unnest(list_filter([{tags}], "
                     f"lambda _t: _t IS NOT NULL)) AS _tag "
                     f"FROM events WHERE {self._where(category, scope)}")
        order = "_tag, _ts NULLS LAST, _tb NULLS LAST, _doc"
        outer = ", ".join(["_tag", "_doc", "_ts", "_tb", *(f"_k{p}" for p in keys.values())])
        return f"SELECT {outer} FROM ({inner}) ORDER BY {order}"

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


@dataclass(frozen=True, slots=True)
class _Member:
    """A distinct filter compiled for a pass: `positions` are the jobs it answers, `group`
    what the filters of one pass share."""

    positions: list[int]
    scope: SearchScope
    group: tuple[object, ...]
    condition: str
    keyed: bool
    keys: tuple[str, ...]
    optional: tuple[bool, ...]
    wrappers: tuple[type[str] | None, ...]
    scalar: bool = True  # every join key one plain value: no list to expand, no wrapper


def _events(member: _Member, columns: list[int], rows: list[tuple]) -> list[Event]:
    """Matcher Events from a member's rows (doc, timestamp, tiebreaker at 1-3; its keys at
    `columns`). Plain scalar keys take a short way to the tuples expand_keys would give: one
    key tuple, or none when a non-optional key is missing."""
    if not member.scalar:
        return [Event(row[1], 0 if row[2] is None else row[2], row[3],
                      expand_keys([wrap_key(row[column], wrapper) for column, wrapper
                                   in zip(columns, member.wrappers, strict=True)],
                                  member.optional))
                for row in rows]
    required = [column for column, optional in zip(columns, member.optional, strict=True)
                if not optional]
    events = []
    for row in rows:
        keys = () if any(row[column] is None for column in required) else (
            tuple(row[column] for column in columns),)
        events.append(Event(row[1], 0 if row[2] is None else row[2], row[3], keys))
    return events


def _batches(members: list[_Member]) -> Iterator[list[_Member]]:
    """Members in passes of bounded size: at most _FILTERS_PER_PASS filters and, past the
    first, _SQL_PER_PASS characters of conditions."""
    batch: list[_Member] = []
    size = 0
    for member in members:
        if batch and (len(batch) == _FILTERS_PER_PASS
                      or size + len(member.condition) > _SQL_PER_PASS):
            yield batch
            batch, size = [], 0
        batch.append(member)
        size += len(member.condition)
    if batch:
        yield batch


def _key_columns(members: list[_Member]) -> dict[str, int]:
    """Each distinct join-key expression of a pass and its column number among the keys."""
    return {sql: position for position, sql in
            enumerate(dict.fromkeys(sql for member in members for sql in member.keys))}


def _glob(pattern: str) -> Callable[[str], bool]:
    """A test for an ES index pattern, where only `*` is a wildcard."""
    regex = re.compile(".*".join(re.escape(part) for part in pattern.split("*")))
    return lambda name: regex.fullmatch(name) is not None
