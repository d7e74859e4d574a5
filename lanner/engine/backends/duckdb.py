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
corpus rules are few. Before the passes, the filters that cannot match any event are left out
(lanner.engine.backends.screens).
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

from lanner.engine.backends.pass_sql import (
    computed_columns,
    shared_terms,
    with_columns,
)
from lanner.engine.backends.rounds import PassRounds
from lanner.engine.backends.screens import SCREEN_WORKERS, screen_rows, screen_values
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
    from lanner.engine.backends.base import FilterJob, FilterOutcome, Together

_DATE_TYPES = frozenset({"date", "date_nanos"})
_NUMERIC_TYPES = frozenset({"long", "integer", "short", "byte", "unsigned_long", "double",
                            "float", "half_float", "scaled_float"})
# Filters evaluated in one statement: enough to share the scan and the terms they repeat, few
# enough that a statement stays a size DuckDB plans quickly (some corpus rules compile to 100k
# characters of SQL) and that the passes keep both pass workers busy to the end (the screened
# all-rules 1M hunt: filter_many 6.6-7.1 s with 64, 7.6-7.8 s with 128, 8.0-8.3 s with 256).
_FILTERS_PER_PASS = 64
_SQL_PER_PASS = 400_000
# Rounds with at least this many distinct filters keep their compiled conditions on disk (a
# hunt or a scheduled round of many rules); a single search compiles in milliseconds.
_CACHED_ROUND = 32
# A round over at most this many events screens its filters over the rows (screens.screen_rows),
# passes them in smaller batches and runs the screen's and the passes' statements side by side
# on two connections; over more, it screens them over the values of their columns
# (screens.screen_values).
_SCREENED_EVENTS = 10_000
_SCREEN_TERM = 120  # characters: longer terms are left to the whole condition
_SMALL_FILTERS_PER_PASS = 32

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
        return self.rows(self.con, sql)[0][0]

    def window(self, where: str, scope: SearchScope, offset: int, limit: int) -> list[Document]:
        """Events meeting `where` in ES order (timestamp, tiebreaker nulls last, doc), from
        `offset`, at most `limit` of them."""
        order = ", ".join(self._order(scope))
        sql = (f"SELECT _doc FROM events WHERE {self._where(where, scope)} ORDER BY {order} "
               f"LIMIT {int(limit)} OFFSET {int(offset)}")
        docs = [row[0] for row in self.rows(self.con, sql)]
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
        for row in self.rows(self.con, sql):
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

    def filter_many(self, jobs: Sequence[FilterJob],
                    together: Sequence[Together] = ()) -> list[FilterOutcome]:
        """Every job's documents or candidates, the same as one query each would find, from one
        pass per group of filters sharing a category and timestamp. Identical
        filters run once; a filter that does not compile, or whose pass fails, fails alone.
        A keyed job with `keys_later` gets its documents; key_events makes them Events.
        The stages of searches in `together` pass in two rounds (lanner.engine.backends.rounds):
        those of a search that cannot match after the first come back empty."""
        try:
            return self._filter_many(jobs, together)
        finally:
            wait(self._spares)  # a spare connection still being made is not left busy

    def _filter_many(self, jobs: Sequence[FilterJob],
                     together: Sequence[Together]) -> list[FilterOutcome]:
        outcomes: list[FilterOutcome | None] = [None] * len(jobs)
        small = self._small()
        screened = small and len(jobs) >= _CACHED_ROUND
        if screened:
            self._connections(SCREEN_WORKERS)  # made while the members compile
        members = self._members(jobs, outcomes)
        rounds = PassRounds(together)
        rounds.learn(position for position, outcome in enumerate(outcomes)
                     if outcome is not None)  # failed to compile
        if len(members) >= _CACHED_ROUND:
            kept = (screen_rows if screened else screen_values)(self, members)
            passing = set(map(id, kept))
            rounds.learn(position for member in members if id(member) not in passing
                         for position in member.positions)
            members = kept
        first, second = rounds.split(members)
        found = self._passes(first, screened, small)
        rounds.learn(position for member, docs in found
                     if not docs or isinstance(docs, Exception) for position in member.positions)
        found += self._passes([member for member in second if rounds.needed(member.positions)],
                              screened, small)
        keyed_now: list[tuple[Member, list[int]]] = []
        for member, docs in found:
            if member.keyed and not member.later and isinstance(docs, list):
                keyed_now.append((member, docs))
                continue
            for position in member.positions:
                outcomes[position] = docs
        events = self._member_events([member for member, _ in keyed_now],
                                     [docs for _, docs in keyed_now])
        for (member, _), made in zip(keyed_now, events, strict=True):
            for position in member.positions:
                outcomes[position] = made
        return [outcome if outcome is not None else [] for outcome in outcomes]

    def _passes(self, members: list[Member], screened: bool,
                small: bool) -> list[tuple[Member, FilterOutcome]]:
        """Each member's documents (or the failure of its pass), from passes over the events
        of each group, the largest first, on as many connections as help."""
        groups: dict[tuple[object, ...], list[Member]] = {}
        for member in members:
            groups.setdefault(member.group, []).append(member)
        per_pass = _SMALL_FILTERS_PER_PASS if screened else _FILTERS_PER_PASS
        batches = [batch for members in groups.values() for batch in _batches(members, per_pass)]
        batches.sort(key=lambda batch: -sum(len(member.condition) for member in batch))
        workers = SCREEN_WORKERS if screened else 1 if small else self._threads()
        return [found for passed in self.side_by_side(self._pass, batches, workers)
                for found in passed]

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
                 outcomes: list[FilterOutcome | None]) -> list[Member]:
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

    def side_by_side(self, run: Callable[[duckdb.DuckDBPyConnection, _Item], _Result],
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

    def _small(self) -> bool:
        """Whether the store holds few enough events to screen filters and pass them on one
        connection."""
        return self.rows(self.con, "SELECT count(*) FROM events")[0][0] <= _SCREENED_EVENTS

    def _threads(self) -> int:
        return int(self.con.execute("SELECT current_setting('threads')").fetchone()[0])

    def _member(self, job: FilterJob, positions: list[int],
                cached: CompiledConditions | None = None, text: str | None = None) -> Member:
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
        return Member(positions, scope, group, " AND ".join(condition), job.keyed,
                       job.keyed and job.keys_later, keys, optional, wrappers, scalar, screen,
                       conjuncts)

    def _pass(self, con: duckdb.DuckDBPyConnection,
              members: list[Member]) -> list[tuple[Member, FilterOutcome]]:
        """One statement for these members' documents; if it fails, each member alone, so
        that the failure is the failing filter's."""
        sql, tags = self._pass_sql(members)
        try:
            found = dict(self.rows(con, sql))
        except QueryFailedError as error:
            if len(members) == 1:
                return [(members[0], error)]
            return [passed for member in members for passed in self._pass(con, [member])]
        return [(member, found.get(tag, [])) for member, tag in zip(members, tags, strict=True)]

    def _pass_sql(self, members: list[Member]) -> tuple[str, list[int]]:
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
        rewritten, hoisted, shared = shared_terms([*conditions])
        source = with_columns([*computed_columns(hoisted), *computed_columns(filter_columns)])
        if shared:
            source = with_columns(computed_columns(shared), source)
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

    def _member_events(self, members: list[Member],
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

    def _rows_events(self, members: list[Member],
                     docs: list[list[int]]) -> list[list[Event] | Exception]:
        keys = _key_columns(members)
        scope = members[0].scope
        columns = ", ".join([self._position(), self._timestamp(scope), self._tiebreaker(scope),
                             *keys])
        wanted = sorted({stored_doc(position) for found in docs for position in found})
        sql = f"SELECT {columns} FROM events WHERE _doc IN (SELECT unnest($docs))"
        try:
            rows = {row[0]: row for row in self.rows(self.con, sql, {"docs": wanted})}
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
    def rows(con: duckdb.DuckDBPyConnection, sql: str,
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

    def within(self, indices: tuple[str, ...], where: str) -> str:
        """`where` over the events of these indices."""
        return self._where(where, SearchScope(indices))

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
class Member:
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


def _events(member: Member, columns: list[int], rows: list[tuple]) -> list[Event]:
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


def on_a_thread(make: Callable[[], _Result]) -> Future[_Result]:
    """`make()` begun on a thread of its own, for a caller with other work meanwhile."""
    pool = ThreadPoolExecutor(1, thread_name_prefix="lanner-soon")
    made = pool.submit(make)
    pool.shutdown(wait=False)  # the thread ends with `make`
    return made


def _with_macros(cursor: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    install_macros(cursor)
    return cursor


def _batches(members: list[Member], per_pass: int) -> Iterator[list[Member]]:
    """Members in passes of bounded size: at most `per_pass` filters and, past the first,
    _SQL_PER_PASS characters of conditions."""
    batch: list[Member] = []
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


def _key_columns(members: list[Member]) -> dict[str, int]:
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
