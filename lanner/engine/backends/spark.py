"""The Spark backend: a plan's filters as Spark SQL, the shared matcher run per join key.

Events are typed once, by the EventStore's rules (explicit mapping, ECS schema, dynamic
mapping), and handed to Spark as Parquet with dates as BIGINT epoch nanoseconds (Spark's
TIMESTAMP stops at microseconds). The compiler is the DuckDB backend's, in the Spark dialect
(backends/spark_sql.py), so a filter means the same on both engines.

Sequences and samples: each stage's candidates are emitted once per join key, partitioned by
that key, and the shared matcher (lanner.engine.matcher) runs on every partition. Matching
is independent per key (pending sequences, `until`, missing events and samples are all per
key), and all events of a key land in one partition whatever their time, so `maxspan` never
meets a partition boundary. The driver merges the partitions' matches in ES result order.

Event queries: one ordered `LIMIT` job fetches the matching `_doc`s when there are at most
EVENT_PREFETCH of them, which gives the count and the window at once (a single-stage job,
where `count(*)` alone needs a shuffle); only above that are the count and the window
separate jobs. Most rules of a hunt match nothing, so this is most of a hunt's work.

The backend is safe to share between threads: searches of independent rules can run from
several driver threads at once, and Spark schedules their jobs side by side (the store,
whose DuckDB connection is not, is only touched under a lock).

pyspark is imported lazily: `pip install lanner` works without it, and asking for the Spark
engine then raises SparkUnavailableError naming the extra.
"""

from __future__ import annotations

import functools
import os
import shutil
import sys
import tempfile
import threading
import weakref
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lanner.engine.backends.duckdb import Document, DuckDBBackend, SearchScope
from lanner.engine.backends.spark_sql import SPARK, SPARK_FUNCTIONS, spark_identifier
from lanner.engine.backends.sql import SqlCompiler, positioned, scoped_column, shard_doc
from lanner.engine.matcher import (
    Event,
    SampleMatch,
    SequenceMatch,
    SequenceSpec,
    expand_keys,
    key_order,
    match_samples,
    match_sequences,
    ordinal,
    select_results,
)
from lanner.engine.plan import Plan, StageFilter
from lanner.engine.values import KEY_WRAPPERS, wrap_key
from lanner.eql import ast
from lanner.eql.schema import FieldSchema
from lanner.errors import LannerError
from lanner.store.events import EventStore, quote

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

DEFAULT_MASTER = "local[*]"
# An event query fetching at most this many `_doc`s answers count and window in one job.
EVENT_PREFETCH = 10_000
# Prefetched answers kept for the window() that follows their count() (one per search).
_PREFETCHED_KEPT = 64
_DATE_TYPES = frozenset({"date", "date_nanos"})
_NUMERIC_TYPES = frozenset({"long", "integer", "short", "byte", "unsigned_long", "double",
                            "float", "half_float", "scaled_float"})

# Settings a session needs for the compiler's SQL to mean what it means on DuckDB: NULL (not an
# error) for a failed cast or a zero divisor, dates printed in UTC, no Arrow (pandas-free).
REQUIRED_CONFIG: dict[str, str] = {
    "spark.sql.ansi.enabled": "false",
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.execution.pythonUDF.arrow.enabled": "false",
    "spark.sql.caseSensitive": "false",
}
# Defaults for a session Lanner starts itself: small, quiet, and sized for one machine.
DEFAULT_CONFIG: dict[str, str] = {
    "spark.ui.enabled": "false",
    "spark.sql.shuffle.partitions": "4",
    "spark.driver.memory": "1g",
    "spark.ui.showConsoleProgress": "false",
}


class SparkUnavailableError(LannerError):
    """The Spark engine was asked for, but pyspark is not installed."""

    def __init__(self) -> None:
        super().__init__("the Spark engine needs pyspark: pip install 'lanner[spark]'")


class SparkQueryError(LannerError):
    """Spark refused or failed a query Lanner generated (a bug to report, with the SQL)."""


def spark_session(master: str = DEFAULT_MASTER,
                  config: Mapping[str, str] | None = None) -> SparkSession:
    """The Spark session Lanner runs on: an existing one is reused (Spark allows one per
    process), else one is started on `master` with DEFAULT_CONFIG and `config` over it."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise SparkUnavailableError() from None
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = SparkSession.builder.master(master).appName("lanner")
    for name, value in {**DEFAULT_CONFIG, **(config or {}), **REQUIRED_CONFIG}.items():
        builder = builder.config(name, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return session


def _prepare(session: SparkSession) -> None:
    """The settings and eql_* functions compiled SQL relies on, on a session given to us."""
    for name, value in REQUIRED_CONFIG.items():
        session.conf.set(name, value)
    for name, (function, return_type) in SPARK_FUNCTIONS.items():
        session.udf.register(name, function, return_type)


class SparkBackend:
    """Runs plan filters over an EventStore's events on Spark.

    The store's typed table is exported to Parquet (in `workdir`, a temporary folder by
    default) when a search finds it changed since the last export; `partitions` is how many
    groups of join keys the matcher runs as (default: the session's shuffle partitions).
    """

    def __init__(self, store: EventStore, session: SparkSession, *,
                 workdir: str | Path | None = None, partitions: int | None = None) -> None:
        self.store = store
        self.session = session
        self.partitions = partitions or int(session.conf.get("spark.sql.shuffle.partitions")
                                            or 4)
        self._dir = Path(workdir) if workdir is not None else Path(
            tempfile.mkdtemp(prefix="lanner-spark-"))
        # the exports of a temporary folder go with the backend, closed or not
        self._remove_dir = weakref.finalize(self, shutil.rmtree, self._dir, True) \
            if workdir is None else None
        self._view = f"lanner_events_{id(self):x}"
        self._exported: tuple[object, ...] | None = None
        self._exports = 0
        self._store_lock = threading.RLock()
        self._prefetched: OrderedDict[tuple[str, SearchScope], list[int]] = OrderedDict()
        _prepare(session)

    @classmethod
    def from_paths(cls, session: SparkSession, paths: Iterable[str], *,
                   index: str | None = None, workdir: str | None = None,
                   partitions: int | None = None) -> SparkBackend:
        """A backend over NDJSON and Parquet files (or folders, any Hadoop URI) that Spark
        reads and types itself, on its executors: see backends/spark_lake.py."""
        from lanner.engine.backends.spark_lake import SparkLakeBackend

        return SparkLakeBackend(session, paths, index=index, workdir=workdir,
                                partitions=partitions)

    @functools.cached_property
    def _local(self) -> DuckDBBackend:
        """Index names of the store: metadata, not events (made on first use)."""
        return DuckDBBackend(self.store)

    def close(self) -> None:
        """Forget the exported events (the session stays: it may be shared)."""
        self.session.catalog.dropTempView(self._view)
        if self._remove_dir is not None:
            self._remove_dir()

    # -- scope ------------------------------------------------------------------------------

    def indices(self, patterns: str | Sequence[str],
                names: Sequence[str] | None = None) -> tuple[str, ...]:
        """Stored index names selected by ES multi-target syntax (see DuckDBBackend)."""
        with self._store_lock:
            return self._local.indices(patterns, names)

    def compiler(self, scope: SearchScope) -> SqlCompiler:
        """The DuckDB backend's compiler for this scope, writing Spark SQL."""
        schema = None
        if any(self.store.mapping(index) is None for index in scope.indices):
            schema = FieldSchema.default()
        return SqlCompiler(self.store.fields_in(scope.indices), category_field=scope.category_field,
                           schema=schema,
                           dialect=SPARK)

    # -- event queries ----------------------------------------------------------------------

    def count(self, where: str, scope: SearchScope) -> int:
        """How many events meet `where`: the first EVENT_PREFETCH of them in ES order are
        fetched, and kept for window(), unless there are more (then counted apart)."""
        docs = self._ordered_docs(where, scope, 0, EVENT_PREFETCH + 1)
        if len(docs) <= EVENT_PREFETCH:
            if docs:
                self._keep_prefetched((where, scope), docs)
            return len(docs)
        sql = f"SELECT count(*) FROM {self._events()} WHERE {self._where(where, scope)}"
        return int(self._collect(sql)[0][0])

    def window(self, where: str, scope: SearchScope, offset: int, limit: int) -> list[Document]:
        """Events meeting `where` in ES order, from `offset`, at most `limit` of them."""
        self._events()  # a changed store drops what was prefetched before the change
        with self._store_lock:
            prefetched = self._prefetched.pop((where, scope), None)
        if prefetched is not None:
            docs = prefetched[offset:offset + limit]
        else:
            docs = self._ordered_docs(where, scope, offset, limit)
        found = self.documents(docs)
        return [found[doc] for doc in docs]

    def documents(self, docs: Iterable[int]) -> dict[int, Document]:
        """The stored documents at these positions (shard_doc), told by the store as on
        DuckDB."""
        with self._store_lock:
            return positioned(self.store.documents, docs)

    def index_names(self) -> tuple[str, ...]:
        """Every stored index name, in order."""
        with self._store_lock:
            return self._local.index_names()

    def _ordered_docs(self, where: str, scope: SearchScope, offset: int,
                      limit: int) -> list[int]:
        order = ", ".join(self._order(scope))
        sql = (f"SELECT {self._position()} FROM {self._events()} "
               f"WHERE {self._where(where, scope)} "
               f"ORDER BY {order} LIMIT {int(limit)} OFFSET {int(offset)}")
        return [row[0] for row in self._collect(sql)]

    def _keep_prefetched(self, key: tuple[str, SearchScope], docs: list[int]) -> None:
        """Keep a count's documents for its window(); the oldest go first (a search whose
        pipes select nothing never asks for its window)."""
        with self._store_lock:
            self._prefetched[key] = docs
            while len(self._prefetched) > _PREFETCHED_KEPT:
                self._prefetched.popitem(last=False)

    # -- sequences and samples, matched per join key ------------------------------------------

    def sequence_matches(self, plan: Plan, compiler: SqlCompiler, scope: SearchScope,
                         spec: SequenceSpec, size: int, direction: str) -> list[SequenceMatch]:
        """Every sequence the shared matcher completes, in ES result order (ordinal of the last
        event, then key); at most `size` per partition in `direction`, which is all the
        first slice of select_results can keep."""
        if not self._every_stage_found(plan, compiler, scope, timed=True):
            return []
        sources = tuple(stage.source for stage in plan.stages)
        until = plan.until.source if plan.until is not None else None
        run = functools.partial(_match_sequences, spec, sources, until, size, direction)
        matches = self._keyed(plan, compiler, scope, timed=True).mapPartitions(run).collect()
        return sorted(matches, key=_sequence_order)

    def sample_matches(self, plan: Plan, compiler: SqlCompiler, scope: SearchScope,
                       max_samples_per_key: int, limit: int) -> list[SampleMatch]:
        """Samples in ascending key order, at most `limit` (each partition returns its first
        `limit`, which holds every sample of its keys that can be among the first `limit`)."""
        if limit <= 0 or not self._every_stage_found(plan, compiler, scope, timed=False):
            return []
        sources = tuple(stage.source for stage in plan.stages)
        run = functools.partial(_match_samples, sources, max_samples_per_key, limit)
        matches = self._keyed(plan, compiler, scope, timed=False).mapPartitions(run).collect()
        return sorted(matches, key=lambda match: key_order(match.key))[:limit]

    def _every_stage_found(self, plan: Plan, compiler: SqlCompiler, scope: SearchScope, *,
                           timed: bool) -> bool:
        """Whether every stage that must match (all but missing-event stages) has some
        candidate: one small aggregate, where the keyed match is a Python job with a shuffle.
        Most rules of a hunt match nothing, and most of those fail here."""
        needed = {stage.source: stage for stage in plan.stages if not stage.missing}
        if not needed:
            return True
        found = ", ".join(
            f"max(CASE WHEN {self._candidate_where(stage, compiler, scope, timed=timed)} "
            f"THEN 1 ELSE 0 END)" for stage in needed.values())
        (row,) = self._collect(f"SELECT {found} FROM {self._events()} "
                               f"WHERE {self._where('TRUE', scope)}")
        return all(row)

    def _keyed(self, plan: Plan, compiler: SqlCompiler, scope: SearchScope, *,
               timed: bool) -> Any:
        """(key, (source, doc, timestamp, tiebreaker)) for every candidate of every distinct
        filter and each of its join keys, partitioned by key."""
        keyed = []
        for stage in plan.distinct_filters():
            frame = self._candidate_frame(stage, compiler, scope, timed=timed)
            optional = tuple(key.optional for key in stage.keys)
            wrappers = tuple(KEY_WRAPPERS.get(compiler.resolve(key).es_type or "")
                             for key in stage.keys)
            emit = functools.partial(_emit_keys, stage.source, optional, wrappers)
            keyed.append(frame.rdd.mapPartitions(emit))
        union = self.session.sparkContext.union(keyed)
        return union.partitionBy(self.partitions)

    def _candidate_frame(self, stage: StageFilter, compiler: SqlCompiler, scope: SearchScope,
                         *, timed: bool) -> DataFrame:
        where = self._candidate_where(stage, compiler, scope, timed=timed)
        keys = [f"{self.key_sql(compiler, key)} AS _k{index}"
                for index, key in enumerate(stage.keys)]
        columns = ", ".join([f"{self._position()} AS _pos",
                             f"coalesce({self._timestamp(scope)}, 0) AS _ts",
                             f"{self._tiebreaker(scope)} AS _tb", *keys])
        return self._sql(f"SELECT {columns} FROM {self._events()} "
                         f"WHERE {self._where(where, scope)}")

    def _candidate_where(self, stage: StageFilter, compiler: SqlCompiler, scope: SearchScope,
                         *, timed: bool) -> str:
        """A stage's filter; a sequence's events need a timestamp besides."""
        where = compiler.filter(stage.category, stage.condition)
        if timed:
            where = f"({where}) AND ({self._timestamp(scope)}) IS NOT NULL"
        return where

    def key_sql(self, compiler: SqlCompiler, key: ast.Field) -> str:
        """A join-key column as the matcher compares it: dates as epoch nanoseconds."""
        resolved = compiler.resolve(key)
        if resolved.es_type in _DATE_TYPES and resolved.is_list:
            return f"transform({resolved.sql}, _d -> {SPARK.epoch_nanos('_d', resolved.es_type)})"
        if resolved.es_type in _DATE_TYPES:
            return SPARK.epoch_nanos(resolved.sql, resolved.es_type)
        return resolved.sql

    # -- SQL pieces -------------------------------------------------------------------------

    def _where(self, where: str, scope: SearchScope) -> str:
        indices = ", ".join(SPARK.literal(index) for index in scope.indices) or "NULL"
        parts = [f"_index IN ({indices})", f"({where})"]
        if scope.filter_sql:
            parts.append(f"({scope.filter_sql})")
        return " AND ".join(parts)

    def _field(self, name: str, scope: SearchScope) -> tuple[str, str] | None:
        """(Spark SQL of the field's first value, its ES type), or None if it has no values."""
        column = scoped_column(self.store.fields_in(scope.indices), name)
        if column is None or column.physical is None:
            return None
        sql = spark_identifier(column.physical)
        return (f"array_min({sql})" if column.is_list else sql), column.es_type

    def _timestamp(self, scope: SearchScope) -> str:
        """Epoch nanoseconds of the timestamp field (the first value of a list)."""
        found = self._field(scope.timestamp_field, scope)
        if found is None:
            return "CAST(NULL AS BIGINT)"
        value, es_type = found
        if es_type in _DATE_TYPES:
            return SPARK.epoch_nanos(value, es_type)
        if es_type in _NUMERIC_TYPES:  # epoch millis, as ES reads a number as a date
            return f"CAST({value} * 1000000 AS BIGINT)"
        return "CAST(NULL AS BIGINT)"

    def _tiebreaker(self, scope: SearchScope) -> str:
        if scope.tiebreaker_field is None:
            return "NULL"
        found = self._field(scope.tiebreaker_field, scope)
        if found is None:
            return "CAST(NULL AS BIGINT)"
        value, es_type = found
        return SPARK.epoch_nanos(value, es_type) if es_type in _DATE_TYPES else value

    def _order(self, scope: SearchScope) -> list[str]:
        order = [f"{self._timestamp(scope)} ASC NULLS LAST"]
        if scope.tiebreaker_field is not None:
            order.append(f"{self._tiebreaker(scope)} ASC NULLS LAST")
        return [*order, self._position()]

    def _position(self) -> str:
        """Spark SQL of the implicit tiebreaker (shard_doc), a matcher Event's `doc`."""
        return shard_doc(self.index_names(), SPARK.literal)

    def _events(self) -> str:
        """The view of the events, exported again first if the store changed (which also
        forgets prefetched answers)."""
        with self._store_lock:
            con = self.store.con
            count, last = con.execute("SELECT count(*), max(_doc) FROM events").fetchone()
            described = tuple(con.execute("DESCRIBE events").fetchall())
            state = (count, last, described)
            if state != self._exported:
                self._export(described)
                self._exported = state
                self._prefetched.clear()
            return self._view

    def _export(self, described: tuple[tuple[Any, ...], ...]) -> None:
        """Write the events table as Parquet Spark reads with the same values: dates as epoch
        nanoseconds, unsigned longs as DECIMAL(38,0); every other type as stored."""
        selects = []
        for name, sql_type, *_ in described:
            column = quote(name)
            if sql_type == "TIMESTAMP_NS":
                value = f"epoch_ns({column})"
            elif sql_type == "TIMESTAMP_NS[]":
                value = f"list_transform({column}, lambda d: epoch_ns(d))"
            elif sql_type.startswith("HUGEINT"):
                value = f"CAST({column} AS {sql_type.replace('HUGEINT', 'DECIMAL(38,0)')})"
            else:
                value = column
            selects.append(f"{value} AS {column}")
        self._exports += 1
        path = self._dir / f"events-{self._exports}.parquet"
        self.store.con.execute(f"COPY (SELECT {', '.join(selects)} FROM events ORDER BY _doc) "
                               f"TO '{path}' (FORMAT parquet)")
        self.session.read.parquet(str(path)).createOrReplaceTempView(self._view)

    def _sql(self, sql: str) -> DataFrame:
        from pyspark.errors import PySparkException

        try:
            return self.session.sql(sql)
        except PySparkException as error:
            raise SparkQueryError(f"Spark refused a generated query: {error}\n{sql}") from None

    def _collect(self, sql: str) -> list[Any]:
        from pyspark.errors import PySparkException

        frame = self._sql(sql)
        try:
            return frame.collect()
        except PySparkException as error:
            raise SparkQueryError(f"Spark failed a generated query: {error}\n{sql}") from None


# ------------------------------------------------------------------------------------------
# What runs on the executors: module-level, so Spark ships them by reference.


def _plain(value: object) -> object:
    """Python values as DuckDB hands them over: Spark's DECIMAL(38,0) becomes an int."""
    if isinstance(value, Decimal):
        return int(value)
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


def _emit_keys(source: int, optional: tuple[bool, ...], wrappers: tuple[type[str] | None, ...],
               rows: Iterable[Any]) -> Iterator[tuple[tuple, tuple]]:
    for row in rows:
        values = [wrap_key(_plain(value), wrapper)
                  for value, wrapper in zip(row[3:], wrappers, strict=True)]
        candidate = (source, row[0], row[1], _plain(row[2]))
        for key in expand_keys(values, optional):
            yield key, candidate


def _regroup(rows: Iterable[tuple[tuple, tuple]]) -> dict[int, list[Event]]:
    """A partition's candidates per distinct filter, each event with the keys it has here."""
    keys_of: dict[tuple, list[tuple]] = {}
    for key, candidate in rows:
        keys_of.setdefault(candidate, []).append(key)
    events: dict[int, list[Event]] = {}
    for (source, doc, timestamp, tiebreaker), keys in keys_of.items():
        events.setdefault(source, []).append(Event(doc, timestamp, tiebreaker, tuple(keys)))
    return events


def _match_sequences(spec: SequenceSpec, sources: tuple[int, ...], until: int | None,
                     size: int, direction: str,
                     rows: Iterable[tuple[tuple, tuple]]) -> Iterator[SequenceMatch]:
    events = _regroup(rows)
    candidates = [events.get(source, []) for source in sources]
    until_events = events.get(until, []) if until is not None else ()
    matches = match_sequences(spec, candidates, until_events)
    yield from select_results(matches, size, direction)


def _match_samples(sources: tuple[int, ...], max_samples_per_key: int, limit: int,
                   rows: Iterable[tuple[tuple, tuple]]) -> Iterator[SampleMatch]:
    events = _regroup(rows)
    yield from match_samples([events.get(source, []) for source in sources],
                             max_samples_per_key, limit=limit)


def _sequence_order(match: SequenceMatch) -> tuple:
    """ES result order: the ordinal of the last (positive) event, then the key."""
    last = next(event for event in reversed(match.events) if event is not None)
    return (ordinal(last), key_order(match.key))
