"""The DuckDB backend: a plan's filters as SQL over the event store, candidates for the matcher.

One search alone: each distinct filter of its plan is one query. Event queries are ordered,
counted and sliced in SQL; sequence and sample filters return (doc, timestamp, tiebreaker,
join-key values) rows that become matcher Events, so all sequence logic stays in
lanner.engine.matcher.

Many searches at once (`filter_many`, a hunt or a scheduled round of rules): the filters that
share an event category and a timestamp field are evaluated in one pass over the events, each
tagging the rows it matches, so the table is read once per group rather than once per rule.
A pass returns document numbers only; join keys and matcher Events are read afterwards
(`key_events`) for the stages of the sequences that can still match, which in a round of
corpus rules are few.
"""

from __future__ import annotations

import functools
import queue
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import duckdb

from lanner.engine.backends.sql import (
    QueryFailedError,
    SqlCompiler,
    conjoined,
    epoch_nanos,
    install_macros,
    positioned,
    scoped_column,
    shard_doc,
    sql_literal,
    stored_doc,
)
from lanner.engine.matcher import Event, expand_keys
from lanner.engine.plan import StageFilter
from lanner.engine.sqlcache import CompiledConditions
from lanner.engine.values import KEY_WRAPPERS, wrap_key
from lanner.eql import ast
from lanner.eql.schema import FieldSchema
from lanner.store.events import Document, EventStore

if TYPE_CHECKING:
    from lanner.engine.backends.base import FilterJob, FilterOutcome

_DATE_TYPES = frozenset({"date", "date_nanos"})
_NUMERIC_TYPES = frozenset({"long", "integer", "short", "byte", "unsigned_long", "double",
                            "float", "half_float", "scaled_float"})
# Filters evaluated in one statement: enough to share the scan, few enough that a statement
# stays a size DuckDB plans quickly (some corpus rules compile to 100k characters of SQL).
_FILTERS_PER_PASS = 128
_SQL_PER_PASS = 400_000
# Calls on one column that a pass's conditions repeat (`lower("process.name")` in hundreds of
# them): DuckDB does not share them between CASE branches, so a pass computes each once per
# row. Pure functions of one value only, so computing them for every row changes nothing.
_HOISTED_CALL = re.compile(r'\b(lower|eql_ip_key)\(("(?:[^"]|"")+")\)')
_SQL_STRING = re.compile(r"('(?:[^']|'')*')")
_COLUMN_ALIAS = re.compile(r'"_lanner_\w+"')
# Rounds with at least this many distinct filters keep their compiled conditions on disk (a
# hunt or a scheduled round of many rules); a single search compiles in milliseconds.
_CACHED_ROUND = 32
# A round over at most this many events first screens its filters: one pass evaluates the short
# terms of their conditions' top-level `and`s (each alone necessary), and only the filters
# whose every screened term holds for some event run whole. Over few events a pass costs what
# DuckDB takes to parse and bind its SQL, and most of a thousand rules' filters fail on a short
# term (`host.os.type == "linux"`, `process.name in (...)`); over many, few would.
_SCREENED_EVENTS = 10_000
_SCREEN_TERM = 120  # characters: longer terms are left to the whole condition
# Over few events a statement costs DuckDB's parsing, binding and planning of its SQL (about
# 1 ms per kilobyte), on one core: the screen's and the passes' statements run side by side on
# two connections, the passes in smaller batches so that both stay busy.
_SMALL_WORKERS = 2
_SMALL_FILTERS_PER_PASS = 32
# A round over more events screens its filters by their terms on one column each, evaluated
# over that column's distinct values per index instead of over the rows: a term that holds for
# none of them holds for no event, and its filter is left out (all corpus rules over the
# 1M-event benchmark: 984 filters, 473 left out). Columns with more distinct values than this
# are not screened (their terms cost more over the values than they would spare the passes),
# nor floating-point ones (DISTINCT makes one value of -0.0 and 0.0).
_DOMAIN_VALUES = 2_000
_DOMAIN_TERMS = 256
_INEXACT_DISTINCT = re.compile(r"FLOAT|DOUBLE|REAL")
_QUOTED_NAME = re.compile(r'"((?:[^"]|"")+)"')

_Item = TypeVar("_Item")
_Result = TypeVar("_Result")


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
        self.compiled = CompiledConditions()
        install_macros(self.con)
        self._spares: list[Future[duckdb.DuckDBPyConnection]] = []

    # -- scope ------------------------------------------------------------------------------

    def index_names(self) -> tuple[str, ...]:
        """Every stored index name, in order."""
        return self.store.index_names()

    def indices(self, patterns: str | Sequence[str],
                names: Sequence[str] | None = None) -> tuple[str, ...]:
        """Stored index names selected by ES multi-target syntax: comma lists, `*` wildcards,
        `_all`, and `-pattern` exclusions after an inclusion; none for an unknown name.
        `names`: the stored names, when the caller read them once (index_names) for many
        pattern lists."""
        return select_indices(patterns, self.index_names() if names is None else names)

    def compiler(self, scope: SearchScope) -> SqlCompiler:
        """A compiler for this scope: ECS types stand in for the templates of indices that
        have no explicit mapping."""
        schema = None
        if any(self.store.mapping(index) is None for index in scope.indices):
            schema = FieldSchema.default()
        return SqlCompiler(self.store.fields_in(scope.indices), category_field=scope.category_field,
                           schema=schema)

    # -- event queries ----------------------------------------------------------------------

    def count(self, where: str, scope: SearchScope) -> int:
        """Number of events of the scope meeting `where`."""
        sql = f"SELECT count(*) FROM events WHERE {self._where(where, scope)}"
        return self._rows(self.con, sql)[0][0]

    def window(self, where: str, scope: SearchScope, offset: int, limit: int) -> list[Document]:
        """Events meeting `where` in ES order (timestamp, tiebreaker nulls last, doc), from
        `offset`, at most `limit` of them."""
        order = ", ".join(self._order(scope))
        sql = (f"SELECT _doc FROM events WHERE {self._where(where, scope)} ORDER BY {order} "
               f"LIMIT {int(limit)} OFFSET {int(offset)}")
        docs = [row[0] for row in self._rows(self.con, sql)]
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
        columns = ", ".join([self._position(), f"coalesce({timestamp}, 0)", tiebreaker, *keys])
        order = ", ".join(self._order(scope))
        sql = f"SELECT {columns} FROM events WHERE {self._where(where, scope)} ORDER BY {order}"
        optional = [key.optional for key in stage.keys]
        wrappers = [KEY_WRAPPERS.get(compiler.resolve(key).es_type or "") for key in stage.keys]
        events = []
        for row in self._rows(self.con, sql):
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
        """The stored documents at these positions (a matcher Event's `doc`, shard_doc)."""
        return positioned(self.store.documents, docs)

    # -- many filters at once ---------------------------------------------------------------

    def filter_many(self, jobs: Sequence[FilterJob]) -> list[FilterOutcome]:
        """Every job's documents or candidates, the same as one query each would find, from one
        pass per group of filters sharing a category and timestamp. Identical
        filters run once; a filter that does not compile, or whose pass fails, fails alone.
        A keyed job with `keys_later` gets its documents; key_events makes them Events."""
        try:
            return self._filter_many(jobs)
        finally:
            wait(self._spares)  # a spare connection still being made is not left busy

    def _filter_many(self, jobs: Sequence[FilterJob]) -> list[FilterOutcome]:
        outcomes: list[FilterOutcome | None] = [None] * len(jobs)
        groups: dict[tuple[object, ...], list[_Member]] = {}
        small = self._small()
        screened = small and len(jobs) >= _CACHED_ROUND
        if screened:
            self._connections(_SMALL_WORKERS)  # made while the members compile
        members = self._members(jobs, outcomes)
        if screened:
            members = self._screened(members)
        elif len(members) >= _CACHED_ROUND:
            members = self._domain_screened(members)
        for member in members:
            groups.setdefault(member.group, []).append(member)
        per_pass = _SMALL_FILTERS_PER_PASS if screened else _FILTERS_PER_PASS
        batches = [batch for members in groups.values() for batch in _batches(members, per_pass)]
        batches.sort(key=lambda batch: -sum(len(member.condition) for member in batch))
        workers = _SMALL_WORKERS if screened else 1 if small else self._threads()
        keyed_now: list[tuple[_Member, list[int]]] = []
        for passed in self._side_by_side(self._pass, batches, workers):
            for member, found in passed:
                if member.keyed and not member.later and isinstance(found, list):
                    keyed_now.append((member, found))
                    continue
                for position in member.positions:
                    outcomes[position] = found
        events = self._member_events([member for member, _ in keyed_now],
                                     [docs for _, docs in keyed_now])
        for (member, _), found in zip(keyed_now, events, strict=True):
            for position in member.positions:
                outcomes[position] = found
        return [outcome if outcome is not None else [] for outcome in outcomes]

    def key_events(self, jobs: Sequence[FilterJob],
                   docs: Sequence[list[int]]) -> list[list[Event] | Exception]:
        """Each keyed job's matcher Events for its documents (found by filter_many with
        `keys_later`, in ES order): the rows of every document read once, with only the join
        keys these jobs use."""
        outcomes: list[list[Event] | Exception | None] = [None] * len(jobs)
        members = self._members(jobs, outcomes)
        found = self._member_events(members, [docs[member.positions[0]] for member in members])
        for member, events in zip(members, found, strict=True):
            for position in member.positions:
                outcomes[position] = events
        return [outcome if outcome is not None else [] for outcome in outcomes]

    def _members(self, jobs: Sequence[FilterJob],
                 outcomes: list[FilterOutcome | None]) -> list[_Member]:
        """The distinct jobs compiled (identical ones share a member); a job that does not
        compile gets its error in `outcomes`, handed to its own search, which raises it."""
        positions: dict[tuple[object, ...], list[int]] = {}
        texts: dict[tuple[object, ...], str | None] = {}
        for position, job in enumerate(jobs):
            try:
                text: str | None = repr(job.stage.condition)
            except RecursionError:  # too deep to name: compiled alone (or refused), not cached
                text = None
            identity = job.identity(text if text is not None else f"#{position}")
            positions.setdefault(identity, []).append(position)
            texts.setdefault(identity, text)
        # A round's later steps (key_events) find what its filters put in the cache.
        cached = (self.compiled if len(positions) >= _CACHED_ROUND or self.compiled.loaded
                  else None)
        members = []
        for identity, shared in positions.items():
            try:
                members.append(self._member(jobs[shared[0]], shared, cached, texts[identity]))
            except Exception as error:
                for position in shared:
                    outcomes[position] = error
        if cached is not None:
            cached.save()
        return members

    def _side_by_side(self, run: Callable[[duckdb.DuckDBPyConnection, _Item], _Result],
                      items: list[_Item], workers: int) -> list[_Result]:
        """`run(connection, item)` for every item, in order, on up to `workers` connections at
        once: DuckDB parses, binds and plans a statement on one core, and runs one over fewer
        rows than a row group on one core too. The longest items should come first; the
        caller (filter_many) waits for the spare connections before it returns."""
        workers = min(workers, len(items))
        if workers <= 1:
            return [run(self.con, item) for item in items]
        free: queue.SimpleQueue[duckdb.DuckDBPyConnection] = queue.SimpleQueue()
        free.put(self.con)

        def ready(made: Future[duckdb.DuckDBPyConnection]) -> None:
            if made.exception() is None:  # else the items run on the other connections
                free.put(made.result())

        for spare in self._connections(workers)[:workers - 1]:
            spare.add_done_callback(ready)

        def task(item: _Item) -> _Result:
            con = free.get()
            try:
                return run(con, item)
            finally:
                free.put(con)

        with ThreadPoolExecutor(workers, thread_name_prefix="lanner-pass") as pool:
            return list(pool.map(task, items))

    def _connections(self, count: int) -> list[Future[duckdb.DuckDBPyConnection]]:
        """Cursors of this database with the compiler's macros, beside the backend's own
        connection, `count - 1` of them: made once (installing the macros takes 30 ms), each
        on a thread of its own so that the caller goes on meanwhile, and kept."""
        while len(self._spares) < count - 1:
            cursor = self.con.cursor()  # on this thread: the connection is not shared yet
            self._spares.append(on_a_thread(functools.partial(_with_macros, cursor)))
        return self._spares

    def _screened(self, members: list[_Member]) -> list[_Member]:
        """The members that can match some event: over a small store, those whose screened
        terms each hold for some event of their category in their group's indices (a superset
        of the events their pass reads); a member left out finds nothing, as its pass would."""
        if len(members) < _CACHED_ROUND or not any(member.screen for member in members):
            return members
        terms: dict[tuple[object, ...], dict[str, int]] = {}
        indices: dict[tuple[object, ...], dict[str, None]] = {}
        for member in members:
            within = terms.setdefault(member.group[2:], {})
            for term in member.screen:
                within.setdefault(term, len(within))
            indices.setdefault(member.group[2:], {}).update(dict.fromkeys(member.scope.indices))
        screens: list[tuple[tuple[object, ...], list[str]]] = []
        for group, within in terms.items():
            listed = list(within)
            screens += [(group, listed[start:start + _FILTERS_PER_PASS])
                        for start in range(0, len(listed), _FILTERS_PER_PASS)]

        def screen(con: duckdb.DuckDBPyConnection,
                   batch: tuple[tuple[object, ...], list[str]]) -> list[tuple[object, str]]:
            group, listed = batch
            hoisted, written = _hoist(listed)
            cases = ", ".join(f"CASE WHEN {term} THEN {number} END"
                              for number, term in enumerate(written))
            scope = SearchScope(tuple(indices[group]))
            sql = (f"SELECT DISTINCT unnest(list_filter([{cases}], lambda _t: _t IS NOT "
                   f"NULL)) FROM {_source(_columns(hoisted))} "
                   f"WHERE {self._where(str(group[0] or 'TRUE'), scope)}")
            try:
                return [(group, listed[row[0]]) for row in self._rows(con, sql)]
            except QueryFailedError:  # no screen: the whole conditions decide
                return [(group, term) for term in listed]

        screens.sort(key=lambda batch: -sum(map(len, batch[1])))
        held = {pair for found in self._side_by_side(screen, screens, _SMALL_WORKERS)
                for pair in found}
        return [member for member in members
                if all((member.group[2:], term) in held for term in member.screen)]

    def _domain_screened(self, members: list[_Member]) -> list[_Member]:
        """The members whose terms on one column each hold for some distinct value of that
        column in one of their indices (with that value, some event's row would meet the
        term); a member left out finds nothing, as its pass would. Columns with many distinct
        values are not screened (_DOMAIN_VALUES)."""
        types = {row[0]: row[1] for row in self._rows(self.con, "DESCRIBE events")}
        by_column: dict[str, dict[str, None]] = {}
        for member in members:
            for term in member.terms:
                column = _only_column(term)
                if column is not None and not _INEXACT_DISTINCT.search(types.get(column, "FLOAT")):
                    by_column.setdefault(column, {})[term] = None
        if not by_column:
            return members
        counts = ", ".join(f"approx_count_distinct({_quoted(column)})" for column in by_column)
        try:
            found = self._rows(self.con, f"SELECT {counts} FROM events")[0]
        except QueryFailedError:  # no screen: the whole conditions decide
            return members
        few = [column for column, count in zip(by_column, found, strict=True)
               if count <= _DOMAIN_VALUES]
        batches = [(column, terms[start:start + _DOMAIN_TERMS]) for column in few
                   for terms in [list(by_column[column])]
                   for start in range(0, len(terms), _DOMAIN_TERMS)]
        batches.sort(key=lambda batch: -sum(map(len, batch[1])))

        def screen(con: duckdb.DuckDBPyConnection,
                   batch: tuple[str, list[str]]) -> list[tuple[str, str | None]]:
            column, terms = batch
            cases = ", ".join(f"CASE WHEN {term} THEN {number} END"
                              for number, term in enumerate(terms))
            sql = (f"SELECT DISTINCT unnest(list_filter([{cases}], lambda _t: _t IS NOT "
                   f"NULL)), _index FROM (SELECT DISTINCT _index, {_quoted(column)} FROM events)")
            try:
                return [(terms[number], index) for number, index in self._rows(con, sql)]
            except QueryFailedError:  # no screen: the whole conditions decide
                return [(term, None) for term in terms]

        held: dict[str, set[str | None]] = {}
        for found in self._side_by_side(screen, batches, _SMALL_WORKERS):
            for term, index in found:
                held.setdefault(term, set()).add(index)
        screened = set(few)
        return [member for member in members
                if all(None in within or not within.isdisjoint(member.scope.indices)
                       for term in member.terms if _only_column(term) in screened
                       for within in [held.get(term, set())])]

    def _small(self) -> bool:
        """Whether the store holds few enough events to screen filters and pass them on one
        connection."""
        return self._rows(self.con, "SELECT count(*) FROM events")[0][0] <= _SCREENED_EVENTS

    def _threads(self) -> int:
        return int(self.con.execute("SELECT current_setting('threads')").fetchone()[0])

    def _member(self, job: FilterJob, positions: list[int],
                cached: CompiledConditions | None = None, text: str | None = None) -> _Member:
        """A job compiled: the SQL telling its rows within its group's pass, and its join-key
        columns (compiled even when read later, so that a bad key fails the search). `cached`:
        the conditions compiled before, on disk; `text`: the condition's repr (None for a tree
        too deep to have one, which is never cached)."""
        compiler, scope, stage = job.compiler, job.scope, job.stage
        category = compiler.category(stage.category) if stage.category is not None else None
        terms = (cached.terms(compiler, stage.condition, text, job.fields)
                 if cached is not None and text is not None
                 else compiler.condition_terms(stage.condition))
        condition = [f"({conjoined(terms)})"]
        conjuncts = terms
        if job.timed:
            condition.append(f"({self._timestamp(scope)}) IS NOT NULL")
            conjuncts = (*terms, condition[-1])
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
        group = (scope.timestamp_field, scope.tiebreaker_field, category)
        screen = tuple(term for term in terms if len(term) <= _SCREEN_TERM and term != "TRUE")
        return _Member(positions, scope, group, " AND ".join(condition), job.keyed,
                       job.keyed and job.keys_later, keys, optional, wrappers, scalar, screen,
                       conjuncts)

    def _pass(self, con: duckdb.DuckDBPyConnection,
              members: list[_Member]) -> list[tuple[_Member, FilterOutcome]]:
        """One statement for these members' documents; if it fails, each member alone, so
        that the failure is the failing filter's."""
        sql, tags = self._pass_sql(members)
        try:
            found = dict(self._rows(con, sql))
        except QueryFailedError as error:
            if len(members) == 1:
                return [(members[0], error)]
            return [passed for member in members for passed in self._pass(con, [member])]
        return [(member, found.get(tag, [])) for member, tag in zip(members, tags, strict=True)]

    def _pass_sql(self, members: list[_Member]) -> tuple[str, list[int]]:
        """(tag, documents in ES order) for every distinct condition of the members, and each
        member's tag. One condition is a plain WHERE; several tag each row with the conditions
        it meets, each evaluated once. Request filters (a round's time windows and exceptions)
        shared by all are part of the WHERE; otherwise each is a column computed once per row,
        which its members' conditions read."""
        first = members[0]
        indices = tuple(dict.fromkeys(i for member in members for i in member.scope.indices))
        filters = list(dict.fromkeys(member.scope.filter_sql for member in members))
        shared_filter = filters[0] if len(filters) == 1 else None
        scope = SearchScope(indices, first.scope.timestamp_field, first.scope.tiebreaker_field,
                            first.scope.category_field, shared_filter)
        filter_columns = {} if len(filters) == 1 else {
            sql: f'"_lanner_filter_{number}"' for number, sql in enumerate(filters) if sql}
        category = first.group[2] or "TRUE"
        columns = [f"{self._position()} AS _pos", f"{self._timestamp(scope)} AS _ts",
                   f"{self._tiebreaker(scope)} AS _tb"]
        conditions: dict[tuple[str, ...], int] = {}
        tags = []
        for member in members:
            terms = member.terms or (member.condition,)
            if member.scope.indices != indices:
                within = ", ".join(sql_literal(index) for index in member.scope.indices)
                terms = (f"_index IN ({within})", *terms)
            if member.scope.filter_sql in filter_columns:
                terms = (filter_columns[member.scope.filter_sql], *terms)
            tags.append(conditions.setdefault(terms, len(conditions)))
        rewritten, hoisted, shared = _shared_terms([*conditions])
        source = _source([*_columns(hoisted), *_columns(filter_columns)])
        if shared:
            source = _source(_columns(shared), source)
        if filter_columns and None not in filters:  # no row outside every filter
            category = f"{category} AND ({' OR '.join(filter_columns.values())})"
        if len(rewritten) == 1:
            where = self._where(f"{category} AND {rewritten[0]}", scope)
            inner = f"SELECT 0 AS _tag, {', '.join(columns)} FROM {source} WHERE {where}"
        else:
            cases = ", ".join(f"CASE WHEN {condition} THEN {tag} END"
                              for tag, condition in enumerate(rewritten))
            inner = (f"SELECT {', '.join(columns)}, unnest(list_filter([{cases}], "
                     f"lambda _t: _t IS NOT NULL)) AS _tag "
                     f"FROM {source} WHERE {self._where(category, scope)}")
        docs = "list(_pos ORDER BY _ts NULLS LAST, _tb NULLS LAST, _pos)"
        return f"SELECT _tag, {docs} FROM ({inner}) GROUP BY _tag", tags

    def _member_events(self, members: list[_Member],
                       docs: list[list[int]]) -> list[list[Event] | Exception]:
        """Matcher Events of keyed members for their documents: per timestamp and tiebreaker
        field, one statement reads each document's row once with every key column needed.
        If it fails, each member alone, so that the failure is the failing key's."""
        outcomes: list[list[Event] | Exception] = [[] for _ in members]
        groups: dict[tuple[str, str | None], list[int]] = {}
        for number, (member, found) in enumerate(zip(members, docs, strict=True)):
            if found:
                groups.setdefault((member.scope.timestamp_field, member.scope.tiebreaker_field),
                                  []).append(number)
        for numbers in groups.values():
            chosen = [members[number] for number in numbers]
            for number, events in zip(numbers, self._rows_events(chosen, [docs[n]
                                                                          for n in numbers]),
                                      strict=True):
                outcomes[number] = events
        return outcomes

    def _rows_events(self, members: list[_Member],
                     docs: list[list[int]]) -> list[list[Event] | Exception]:
        keys = _key_columns(members)
        scope = members[0].scope
        columns = ", ".join([self._position(), self._timestamp(scope), self._tiebreaker(scope),
                             *keys])
        wanted = sorted({stored_doc(position) for found in docs for position in found})
        sql = f"SELECT {columns} FROM events WHERE _doc IN (SELECT unnest($docs))"
        try:
            rows = {row[0]: row for row in self._rows(self.con, sql, {"docs": wanted})}
        except QueryFailedError as error:
            if len(members) == 1:
                return [error]
            return [self._rows_events([member], [found])[0]
                    for member, found in zip(members, docs, strict=True)]
        return [_events(member, [3 + keys[sql] for sql in member.keys],
                        [rows[doc] for doc in found])
                for member, found in zip(members, docs, strict=True)]

    # -- SQL pieces -------------------------------------------------------------------------

    @staticmethod
    def _rows(con: duckdb.DuckDBPyConnection, sql: str,
              parameters: object = None) -> list[tuple[Any, ...]]:
        """The rows of a generated query; DuckDB's failure becomes the search's typed error
        (a rule's, which its run reports while the other rules go on)."""
        try:
            return con.execute(sql, parameters).fetchall()
        except duckdb.Error as error:
            raise QueryFailedError(f"DuckDB failed the search: {error}") from None

    def _where(self, where: str, scope: SearchScope) -> str:
        indices = ", ".join(sql_literal(index) for index in scope.indices) or "NULL"
        parts = [f"_index IN ({indices})", f"({where})"]
        if scope.filter_sql:
            parts.append(f"({scope.filter_sql})")
        return " AND ".join(parts)

    def _timestamp(self, scope: SearchScope) -> str:
        """Epoch nanoseconds of the timestamp field (the first value of a list)."""
        column = scoped_column(self.store.fields_in(scope.indices), scope.timestamp_field)
        if column is None or column.physical is None:
            return "CAST(NULL AS BIGINT)"
        return timestamp_nanos(column.sql, column.is_list, column.es_type)

    def _tiebreaker(self, scope: SearchScope) -> str:
        if scope.tiebreaker_field is None:
            return "NULL"
        column = scoped_column(self.store.fields_in(scope.indices), scope.tiebreaker_field)
        if column is None or column.physical is None:
            return "CAST(NULL AS BIGINT)"
        value = f"list_min({column.sql})" if column.is_list else column.sql
        return epoch_nanos(value, column.es_type) if column.es_type in _DATE_TYPES else value

    def _order(self, scope: SearchScope) -> list[str]:
        order = [f"{self._timestamp(scope)} NULLS LAST"]
        if scope.tiebreaker_field is not None:
            order.append(f"{self._tiebreaker(scope)} NULLS LAST")
        return [*order, self._position()]

    def _position(self) -> str:
        """SQL of the implicit tiebreaker (shard_doc): what a matcher Event's `doc` holds."""
        return shard_doc(self.index_names(), sql_literal)


@dataclass(frozen=True, slots=True)
class _Member:
    """A distinct filter compiled for a pass: `positions` are the jobs it answers, `group`
    what the filters of one pass share (timestamp, tiebreaker, category)."""

    positions: list[int]
    scope: SearchScope
    group: tuple[object, ...]
    condition: str
    keyed: bool
    later: bool  # keyed, but its documents now and its Events from key_events
    keys: tuple[str, ...]
    optional: tuple[bool, ...]
    wrappers: tuple[type[str] | None, ...]
    scalar: bool = True  # every join key one plain value: no list to expand, no wrapper
    screen: tuple[str, ...] = ()  # short terms of the condition's `and`, each one necessary
    terms: tuple[str, ...] = ()  # the terms `condition` conjoins (its timestamp test included)


def _events(member: _Member, columns: list[int], rows: list[tuple]) -> list[Event]:
    """Matcher Events from a member's rows (doc, timestamp, tiebreaker at 0-2; its keys at
    `columns`). Plain scalar keys take a short way to the tuples expand_keys would give: one
    key tuple, or none when a non-optional key is missing."""
    if not member.scalar:
        return [Event(row[0], 0 if row[1] is None else row[1], row[2],
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
        events.append(Event(row[0], 0 if row[1] is None else row[1], row[2], keys))
    return events


def _columns(computed: dict[str, str]) -> list[str]:
    """Computed columns (SQL -> alias) as select-list items."""
    return [f"({sql}) AS {alias}" for sql, alias in computed.items()]


def _source(columns: list[str], table: str = "events") -> str:
    """The table with these computed columns beside its own."""
    return f"(SELECT *, {', '.join(columns)} FROM {table})" if columns else table


def _only_column(term: str) -> str | None:
    """The one column a term reads (quoted names outside its string literals), if one."""
    names = {name for code in _SQL_STRING.split(term)[::2] for name in _QUOTED_NAME.findall(code)}
    if len(names) != 1:
        return None
    return next(iter(names)).replace('""', '"')


def _quoted(column: str) -> str:
    return '"' + column.replace('"', '""') + '"'


def on_a_thread(make: Callable[[], _Result]) -> Future[_Result]:
    """`make()` begun on a thread of its own, for a caller with other work meanwhile."""
    pool = ThreadPoolExecutor(1, thread_name_prefix="lanner-soon")
    made = pool.submit(make)
    pool.shutdown(wait=False)  # the thread ends with `make`
    return made


def _with_macros(cursor: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    install_macros(cursor)
    return cursor


def _batches(members: list[_Member], per_pass: int) -> Iterator[list[_Member]]:
    """Members in passes of bounded size: at most `per_pass` filters and, past the first,
    _SQL_PER_PASS characters of conditions."""
    batch: list[_Member] = []
    size = 0
    for member in members:
        if batch and (len(batch) == per_pass
                      or size + len(member.condition) > _SQL_PER_PASS):
            yield batch
            batch, size = [], 0
        batch.append(member)
        size += len(member.condition)
    if batch:
        yield batch


def _shared_terms(conditions: list[tuple[str, ...]]
                  ) -> tuple[list[str], dict[str, str], dict[str, str]]:
    """Distinct conditions (each as the terms it conjoins) as SQL that computes once per row
    what several of them repeat: (the conditions, the hoisted calls with their aliases, the
    terms of two or more conditions with the aliases of their columns). DuckDB evaluates each
    CASE branch of a pass alone, so `host.os.type == "linux"` or an index guard that 30 of a
    pass's 128 conditions start with was evaluated 30 times per row (a pass of corpus rules:
    15-25% less CPU). A term computed for every row, where its condition's earlier terms
    stopped it before, can at worst fail the pass, which then runs each filter alone."""
    counts: dict[str, int] = {}
    for terms in conditions:
        for term in dict.fromkeys(terms):
            counts[term] = counts.get(term, 0) + 1
    hoisted, rewritten = _hoist([*counts])
    written = dict(zip(counts, rewritten, strict=True))
    shared = {term: f'"_lanner_term_{number}"' for number, term in
              enumerate(term for term, count in counts.items()
                        if count > 1 and not _COLUMN_ALIAS.fullmatch(term))}
    joined = [" AND ".join(shared.get(term) or f"({written[term]})" for term in terms)
              for terms in conditions]
    return joined, hoisted, {written[term]: alias for term, alias in shared.items()}


def _hoist(conditions: list[str]) -> tuple[dict[str, str], list[str]]:
    """The column calls repeated among these conditions (outside string literals), each with
    the alias of a column computed once per row, and the conditions reading the aliases."""
    counts: dict[str, int] = {}
    pieces = [_SQL_STRING.split(condition) for condition in conditions]
    for parts in pieces:
        for code in parts[::2]:
            for call in _HOISTED_CALL.finditer(code):
                counts[call.group(0)] = counts.get(call.group(0), 0) + 1
    hoisted = {call: f'"_lanner_hoisted_{number}"' for number, call in
               enumerate(call for call, count in counts.items() if count > 1)}
    if not hoisted:
        return {}, conditions

    def alias(call: re.Match[str]) -> str:
        return hoisted.get(call.group(0), call.group(0))

    rewritten = ["".join(_HOISTED_CALL.sub(alias, part) if number % 2 == 0 else part
                         for number, part in enumerate(parts))
                 for parts in pieces]
    return hoisted, rewritten


def _key_columns(members: list[_Member]) -> dict[str, int]:
    """Each distinct join-key expression of a pass and its column number among the keys."""
    return {sql: position for position, sql in
            enumerate(dict.fromkeys(sql for member in members for sql in member.keys))}


def timestamp_nanos(sql: str, is_list: bool, es_type: str) -> str:
    """Epoch nanoseconds of a timestamp field's first value: a date as ES holds it, a number
    as epoch millis (ES reads a number as a date so), anything else NULL."""
    value = f"list_min({sql})" if is_list else sql
    if es_type in _DATE_TYPES:
        return epoch_nanos(value, es_type)
    if es_type in _NUMERIC_TYPES:
        return f"CAST({value} * 1000000 AS BIGINT)"
    return "CAST(NULL AS BIGINT)"


def select_indices(patterns: str | Sequence[str], names: Sequence[str]) -> tuple[str, ...]:
    """The `names` that ES multi-target syntax selects: comma lists, `*` wildcards, `_all`,
    and `-pattern` exclusions after an inclusion; none for an unknown name."""
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


@functools.lru_cache(maxsize=1024)
def _glob(pattern: str) -> Callable[[str], bool]:
    """A test for an ES index pattern, where only `*` is a wildcard (made once per pattern:
    a round of a thousand rules names a few hundred patterns a thousand times)."""
    regex = re.compile(".*".join(re.escape(part) for part in pattern.split("*")))
    return lambda name: regex.fullmatch(name) is not None
