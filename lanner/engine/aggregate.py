"""Aggregations over a search's events, for the rule types that count or remember.

Kibana's threshold and new_terms executors ask Elasticsearch for aggregations over the events
their filter matches (OTHER-RULE-TYPES.md §3.1, §4.1): composite `terms` buckets with a
count, `min`/`max` of the aggregatable timestamp and a `cardinality`; or the first sighting of
each value combination. Here they are GROUP BY queries over the same events table the searches
read, with the same filter SQL (`querydsl.filter_condition` through the backend's compiler):

* a bucket's key is one value per group-by field; a multi-valued field gives the event to
  each of its values' buckets, several fields the cartesian product of their values, and an
  event missing any of the fields is in no bucket (no `missing_bucket`);
* a bucket's count is its number of events (an event counts once per bucket, as a terms
  bucket's `doc_count`), its cardinality the number of distinct values of a field across
  them (exact: Elasticsearch's HyperLogLog++ is exact below its precision threshold, 3,000);
* the aggregatable timestamp is the override, falling back to `@timestamp` where the event
  has none, unless the rule disables the fallback (`kibana.combined_timestamp`, §1);
* buckets come in composite order: by key, ascending.

DuckDB only: Spark gets AggregationUnsupportedError, naming the rule type's need.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import duckdb

from lanner.engine.backends.duckdb import Document, DuckDBBackend, SearchScope, timestamp_nanos
from lanner.engine.backends.sql import (
    QueryFailedError,
    Resolved,
    SqlCompiler,
    shard_doc,
    sql_literal,
)
from lanner.eql import ast
from lanner.errors import LannerError

_DATE_TYPES = frozenset({"date", "date_nanos"})


class AggregationUnsupportedError(LannerError):
    """The backend cannot run the aggregations a rule type needs (names backend and type)."""


@dataclass(frozen=True, slots=True)
class Timestamp:
    """The aggregatable timestamp: `field`, or `@timestamp` where the event lacks it when
    `fallback` is on."""

    field: str = "@timestamp"
    fallback: bool = False


@dataclass(frozen=True, slots=True)
class Bucket:
    """One group of events: its key (one value per field), event count, first and last
    timestamp (epoch nanoseconds), distinct values of the cardinality field, and in a hunt
    the index of the schedule window it belongs to."""

    key: tuple[Any, ...]
    count: int
    first: int | None
    last: int | None
    cardinality: int | None = None
    window: int | None = None


@dataclass(frozen=True, slots=True)
class KeyEvent:
    """One event of a bucket: its time (epoch nanoseconds), position, and the values of the
    cardinality field."""

    time: int
    position: int
    cards: tuple[Any, ...] = ()


@dataclass(frozen=True, slots=True)
class Sighting:
    """An event that shows a value combination: the combination, the event's position (for
    `DuckDBBackend.documents`) and its timestamp in epoch nanoseconds."""

    key: tuple[Any, ...]
    position: int
    time: int


@dataclass(frozen=True, slots=True)
class Schedule:
    """Windows `[origin + k*interval - lookback, origin + k*interval]`, k = 0, 1, ...: a
    rule's runs replayed over a range."""

    origin: int
    interval: int
    lookback: int


class Aggregator:
    """Aggregations over the events of one scope (indices and filter SQL)."""

    def __init__(self, backend: object, scope: SearchScope, compiler: SqlCompiler,
                 timestamp: Timestamp, rule_type: str) -> None:
        if not isinstance(backend, DuckDBBackend):
            raise AggregationUnsupportedError(
                f"{rule_type} rules need aggregations that the {type(backend).__name__} "
                "backend does not run yet (DuckDB does)")
        self.backend = backend
        self.scope = scope
        self.compiler = compiler
        self.timestamp_sql = self._timestamp(timestamp)

    # -- threshold ------------------------------------------------------------------------

    def buckets(self, fields: Sequence[str], *, start: int | None, end: int | None,
                minimum: int, cardinality: tuple[str, int] | None = None,
                history: Sequence[tuple[tuple[Any, ...], int]] = ()) -> list[Bucket]:
        """Buckets of the events in `[start, end]` with at least `minimum` events (and
        `cardinality[1]` distinct values of `cardinality[0]`), in key order. `history`:
        (key, last) pairs whose events up to `last` do not count (threshold signal history)."""
        names = [f"k{i}" for i in range(len(fields))]
        matched = self._matched(fields, start, end, cardinality and cardinality[0])
        where = ["TRUE"]
        joins = ""
        if history:
            rows = ", ".join("(" + ", ".join([*(sql_literal(_text(v)) for v in key),
                                             str(int(last))]) + ")" for key, last in history)
            columns = ", ".join([*(f"h{i}" for i in range(len(fields))), "h_last"])
            on = " AND ".join(f"CAST(m.{n} AS VARCHAR) = h.h{i}" for i, n in enumerate(names))
            joins = f" LEFT JOIN (VALUES {rows}) AS h({columns}) ON {on or 'TRUE'}"
            where.append("(h.h_last IS NULL OR m._ts > h.h_last)")
        selected = [f"m.{n}" for n in names]
        having, measures = self._measures(minimum, cardinality)
        group = f" GROUP BY {', '.join(selected)}" if selected else ""
        order = f" ORDER BY {', '.join(selected)}" if selected else ""
        sql = (f"WITH m AS ({matched}) SELECT {', '.join([*selected, *measures])} FROM m{joins}"
               f" WHERE {' AND '.join(where)}{group} HAVING {having}{order}")
        return [_bucket(row, len(names), cardinality is not None) for row in self._rows(sql)]

    def window_buckets(self, fields: Sequence[str], schedule: Schedule, *,
                       start: int | None, end: int | None, minimum: int,
                       cardinality: tuple[str, int] | None = None) -> list[Bucket]:
        """`buckets` of every window of `schedule` at once (each event in every window that
        holds it), for the windows and keys that qualify, by key then window."""
        names = [f"k{i}" for i in range(len(fields))]
        matched = self._matched(fields, start, end, cardinality and cardinality[0])
        since = f"(m._ts - {schedule.origin})"  # >= 0: no event precedes the origin
        first = f"({since} + {schedule.interval - 1}) // {schedule.interval}"
        last = f"({since} + {schedule.lookback}) // {schedule.interval}"
        windows = f"unnest(range(greatest({first}, 0), {last} + 1)) AS w(_window)"
        selected = [*(f"m.{n}" for n in names), "w._window"]
        having, measures = self._measures(minimum, cardinality)
        sql = (f"WITH m AS ({matched}) SELECT {', '.join([*selected, *measures])} "
               f"FROM m, {windows} GROUP BY {', '.join(selected)} HAVING {having} "
               f"ORDER BY {', '.join(selected)}")
        return [_bucket(row[:len(names)] + row[len(names) + 1:], len(names),
                        cardinality is not None, window=row[len(names)])
                for row in self._rows(sql)]

    def key_events(self, fields: Sequence[str], keys: Sequence[tuple[Any, ...]], *,
                   start: int | None, end: int | None,
                   cardinality: str | None = None) -> dict[tuple[Any, ...], list[KeyEvent]]:
        """The events of these buckets in `[start, end]`, each bucket's by time: what a
        replay needs to count a bucket again past its signal history."""
        if not keys:
            return {}
        names = [f"k{i}" for i in range(len(fields))]
        matched = self._matched(fields, start, end, cardinality)
        wanted = ", ".join("(" + ", ".join(sql_literal(_text(v)) for v in key) + ")"
                           for key in keys)
        columns = ", ".join(f"w{i}" for i in range(len(fields)))
        on = " AND ".join(f"CAST(m.{n} AS VARCHAR) = w.w{i}" for i, n in enumerate(names))
        join = f" JOIN (VALUES {wanted}) AS w({columns}) ON {on}" if names else ""
        cards = "m._cards" if cardinality is not None else "NULL"
        selected = ", ".join([*(f"m.{n}" for n in names), "m._ts", "m._pos", cards])
        sql = f"WITH m AS ({matched}) SELECT {selected} FROM m{join} ORDER BY m._ts, m._pos"
        found: dict[tuple[Any, ...], list[KeyEvent]] = {}
        width = len(names)
        for row in self._rows(sql):
            found.setdefault(tuple(row[:width]), []).append(
                KeyEvent(row[width], row[width + 1], tuple(row[width + 2] or ())))
        return found

    # -- new terms ------------------------------------------------------------------------

    def new_terms(self, fields: Sequence[str], *, history_start: int | None, start: int,
                  end: int | None) -> list[Sighting]:
        """Value combinations first seen after `start` among the events of
        `[history_start, end]`, each with its earliest event, in key order."""
        names = ", ".join(f"k{i}" for i in range(len(fields)))
        matched = self._matched(fields, history_start, end, None)
        sql = (f"WITH m AS ({matched}) SELECT {names}, _pos, _ts FROM (SELECT *, row_number() "
               f"OVER (PARTITION BY {names} ORDER BY _ts, _pos) AS _rank, min(_ts) OVER "
               f"(PARTITION BY {names}) AS _first FROM m) WHERE _rank = 1 AND _first > {start} "
               f"ORDER BY {names}")
        return [Sighting(tuple(row[:-2]), row[-2], row[-1]) for row in self._rows(sql)]

    def renewed_terms(self, fields: Sequence[str], *, span: int, start: int | None,
                      end: int | None) -> list[Sighting]:
        """Every event in `[start, end]` that shows a combination not seen in the `span`
        nanoseconds before it (events before `start` count as seen), in time order."""
        names = ", ".join(f"k{i}" for i in range(len(fields)))
        matched = self._matched(fields, None if start is None else start - span, end, None)
        since = "" if start is None else f" AND _ts >= {start}"
        sql = (f"WITH m AS ({matched}) SELECT {names}, _pos, _ts FROM (SELECT *, lag(_ts) "
               f"OVER (PARTITION BY {names} ORDER BY _ts, _pos) AS _previous FROM m) "
               f"WHERE (_previous IS NULL OR _ts - _previous > {span}){since} "
               f"ORDER BY _ts, _pos, {names}")
        return [Sighting(tuple(row[:-2]), row[-2], row[-1]) for row in self._rows(sql)]

    def documents(self, positions: Iterable[int]) -> dict[int, Document]:
        """The events at these positions (a Sighting's), by position."""
        return self.backend.documents(positions)

    def count(self, fields: Sequence[str] = ()) -> int:
        """How many of the scope's events have a value for each of `fields`."""
        sql = f"SELECT count(DISTINCT _pos) FROM ({self._matched(fields, None, None, None)})"
        return self._rows(sql)[0][0]

    def time_bounds(self) -> tuple[int, int] | None:
        """Earliest and latest aggregatable timestamp of the scope's events, if any."""
        sql = f"SELECT min(_ts), max(_ts) FROM ({self._matched((), None, None, None)})"
        low, high = self._rows(sql)[0]
        return None if low is None else (low, high)

    # -- SQL pieces -----------------------------------------------------------------------

    def _matched(self, fields: Sequence[str], start: int | None, end: int | None,
                 cardinality: str | None) -> str:
        """One row per (event, key) of the scope's events in `[start, end]`: `_ts`, `_pos`,
        `_doc`, `k0..kn` and `_cards` (the cardinality field's values, a list)."""
        indices = ", ".join(sql_literal(index) for index in self.scope.indices) or "NULL"
        where = [f"_index IN ({indices})", f"({self.timestamp_sql}) IS NOT NULL"]
        if self.scope.filter_sql:
            where.append(f"({self.scope.filter_sql})")
        if start is not None:
            where.append(f"({self.timestamp_sql}) >= {int(start)}")
        if end is not None:
            where.append(f"({self.timestamp_sql}) <= {int(end)}")
        position = shard_doc(self.backend.index_names(), sql_literal)
        columns = [f"({self.timestamp_sql}) AS _ts", f"{position} AS _pos", "_doc"]
        sources = ["events"]
        for i, name in enumerate(fields):
            resolved = self._resolve(name)
            if resolved.is_list:
                sources.append(f"unnest({resolved.sql}) AS u{i}(v{i})")
                columns.append(f"{_key_value(f'u{i}.v{i}', resolved)} AS k{i}")
                where.append(f"u{i}.v{i} IS NOT NULL")
            else:
                columns.append(f"{_key_value(resolved.sql, resolved)} AS k{i}")
                where.append(f"({resolved.sql}) IS NOT NULL")
        if cardinality is not None:
            resolved = self._resolve(cardinality)
            values = resolved.sql if resolved.is_list else f"[{resolved.sql}]"
            columns.append(f"{values} AS _cards")
        return f"SELECT {', '.join(columns)} FROM {', '.join(sources)} WHERE {' AND '.join(where)}"

    @staticmethod
    def _measures(minimum: int, cardinality: tuple[str, int] | None) -> tuple[str, list[str]]:
        measures = ["count(DISTINCT m._pos)", "min(m._ts)", "max(m._ts)"]
        having = f"count(DISTINCT m._pos) >= {int(minimum)}"
        if cardinality is not None:
            distinct = "len(list_distinct(flatten(list(m._cards) FILTER (m._cards IS NOT NULL))))"
            measures.append(distinct)
            having += f" AND {distinct} >= {int(cardinality[1])}"
        return having, measures

    def _resolve(self, name: str) -> Resolved:
        return self.compiler.resolve(ast.Field(name, optional=True))

    def _timestamp(self, timestamp: Timestamp) -> str:
        primary = _epoch(self._resolve(timestamp.field))
        if timestamp.fallback and timestamp.field != "@timestamp":
            return f"coalesce({primary}, {_epoch(self._resolve('@timestamp'))})"
        return primary

    def _rows(self, sql: str) -> list[tuple[Any, ...]]:
        try:
            return self.backend.con.execute(sql).fetchall()
        except duckdb.Error as error:
            raise QueryFailedError(f"DuckDB failed the aggregation: {error}") from None


def _epoch(resolved: Resolved) -> str:
    """Epoch nanoseconds of a timestamp field (its first value), NULL when it has none."""
    if resolved.es_type is None or resolved.sql == "NULL":
        return "CAST(NULL AS BIGINT)"
    return timestamp_nanos(resolved.sql, resolved.is_list, resolved.es_type)


def _key_value(sql: str, resolved: Resolved) -> str:
    """A bucket key as Elasticsearch gives it: dates as epoch milliseconds, others as stored."""
    if resolved.es_type in _DATE_TYPES:
        return f"CAST(epoch_ms({sql}) AS BIGINT)"
    return sql


def _text(value: object) -> str:
    """A key value as the text SQL compares (CAST(... AS VARCHAR))."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _bucket(row: tuple[Any, ...], width: int, has_cardinality: bool,
            window: int | None = None) -> Bucket:
    key, measures = tuple(row[:width]), row[width:]
    return Bucket(key, measures[0], measures[1], measures[2],
                  measures[3] if has_cardinality else None, window)
