"""The `aggs` of a `_search` over the events, as SQL (DuckDB's dialect), in ES's response shape.

Bucket aggregations `terms` and `date_histogram`, and the metrics `min`, `max`, `avg`, `sum`,
`value_count` and `cardinality`; aggregations nest under buckets (each bucket's sub-aggs run
over the documents of that bucket). Fields resolve through the same SqlCompiler as the
query, so a field is typed as the search's indices type it. Elasticsearch's rules kept
(the aggregations reference and `TermsAggregationBuilder`, `DateHistogramAggregationBuilder`):

* a document counts once per distinct value: a multi-valued field puts it in several buckets;
* `terms`: top `size` (default 10) by `_count` descending, ties by key ascending; `order`
  by `_count` or `_key`; `min_doc_count` (default 1; 0 adds the scope's other values with a
  zero count); `missing` puts documents without a value into a bucket of that key;
  `sum_other_doc_count` counts what the top buckets leave out; date keys are epoch
  millis with `key_as_string`, booleans 0/1 with "true"/"false";
* `date_histogram`: `fixed_interval` (ms, s, m, h, d) or `calendar_interval` (minute, hour,
  day, week from Monday, month, quarter, year, or 1m..1y); buckets keyed by their start in
  epoch millis, ascending; `min_doc_count` defaults to 0, so the empty buckets between the
  first and last (and `extended_bounds`) are there; `format` (Java date pattern) for
  `key_as_string`; `time_zone` UTC only;
* past `search.max_buckets` (65,536) buckets, too_many_buckets_exception.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import duckdb

from lanner.engine.backends.sql import SqlCompiler, sql_literal
from lanner.engine.sorting import SearchRequestError, fielddata_refused, value_sql
from lanner.eql import ast

MAX_BUCKETS = 65_536
_TEXT_TYPES = frozenset({"text", "match_only_text"})
_DATE_TYPES = frozenset({"date", "date_nanos"})
_INTEGER_TYPES = frozenset({"long", "integer", "short", "byte", "unsigned_long"})
_METRICS = {"min": "min", "max": "max", "avg": "avg", "sum": "sum", "value_count": "count",
            "cardinality": "count(DISTINCT"}
_FIXED_UNITS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
_CALENDAR_UNITS = {"minute": "minute", "1m": "minute", "hour": "hour", "1h": "hour",
                   "day": "day", "1d": "day", "week": "week", "1w": "week",
                   "month": "month", "1M": "month", "quarter": "quarter", "1q": "quarter",
                   "year": "year", "1y": "year"}
_UTC_NAMES = frozenset({"UTC", "Z", "+00:00", "-00:00", "Etc/UTC", "GMT", "+00", "00:00"})
# Java date pattern letters -> strftime, longest first (DateTimeFormatter's, the common ones)
_JAVA_PATTERN = re.compile(r"'[^']*'|yyyy|uuuu|yy|MMMM|MMM|MM|dd|HH|mm|ss|SSS|XXX|xxx|EEE|Z|X|.")
_JAVA_TO_STRFTIME = {"yyyy": "%Y", "uuuu": "%Y", "yy": "%y", "MMMM": "%B", "MMM": "%b",
                     "MM": "%m", "dd": "%d", "HH": "%H", "mm": "%M", "ss": "%S", "EEE": "%a",
                     "XXX": "Z", "xxx": "+00:00", "Z": "+0000", "X": "Z"}
_NAMED_FORMATS = {"strict_date_optional_time": "yyyy-MM-dd'T'HH:mm:ss.SSSXXX",
                  "date_optional_time": "yyyy-MM-dd'T'HH:mm:ss.SSSXXX",
                  "strict_date_time": "yyyy-MM-dd'T'HH:mm:ss.SSSXXX",
                  "date_time": "yyyy-MM-dd'T'HH:mm:ss.SSSXXX",
                  "strict_date": "yyyy-MM-dd", "date": "yyyy-MM-dd",
                  "yyyy-MM-dd": "yyyy-MM-dd"}


@dataclass(frozen=True, slots=True)
class AggregationScope:
    """Where aggregations read: `con` the store's connection, `where` the SQL every counted
    document meets (its indices and the query), `scope` the SQL of the indices alone (what a
    `min_doc_count: 0` terms aggregation lists keys from)."""

    con: duckdb.DuckDBPyConnection
    compiler: SqlCompiler
    where: str
    scope: str

    def narrowed(self, condition: str) -> AggregationScope:
        return AggregationScope(self.con, self.compiler, f"({self.where}) AND ({condition})",
                                self.scope)

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        try:
            return self.con.execute(sql).fetchall()
        except duckdb.Error as error:
            raise SearchRequestError(f"the aggregation failed: {error}",
                                     shard_failure=True) from None


def aggregate(aggs: Any, scope: AggregationScope) -> dict[str, Any]:
    """The `aggregations` of a response: each named aggregation of `aggs` over `scope`."""
    if not isinstance(aggs, Mapping):
        raise SearchRequestError("[aggs] must be an object", "parsing_exception")
    results: dict[str, Any] = {}
    for name, spec in aggs.items():
        if not isinstance(spec, Mapping):
            raise SearchRequestError(f"Expected [START_OBJECT] under [{name}], but got a "
                                     f"value", "parsing_exception")
        sub = spec.get("aggs", spec.get("aggregations"))
        kinds = [key for key in spec if key not in ("aggs", "aggregations", "meta")]
        if len(kinds) != 1:
            raise SearchRequestError(f"Expected one aggregation type in [{name}], found "
                                     f"{kinds or 'none'}", "parsing_exception")
        kind = kinds[0]
        body = spec[kind]
        if not isinstance(body, Mapping):
            raise SearchRequestError(f"[{kind}] in [{name}] must be an object",
                                     "parsing_exception")
        if kind == "terms":
            results[name] = _Terms(name, body, scope).result(sub)
        elif kind == "date_histogram":
            results[name] = _DateHistogram(name, body, scope).result(sub)
        elif kind in _METRICS:
            if sub:
                raise SearchRequestError(f"Aggregator [{name}] of type [{kind}] cannot accept "
                                         "sub-aggregations", "aggregation_initialization_exception")
            results[name] = _metric(name, kind, body, scope)
        else:
            raise SearchRequestError(f"the [{kind}] aggregation is not supported by Lanner: "
                                     "terms, date_histogram, min, max, avg, sum, value_count, "
                                     "cardinality", "parsing_exception")
        if "meta" in spec:
            results[name]["meta"] = spec["meta"]
    return results


@dataclass(frozen=True, slots=True)
class _Field:
    """A field as aggregations read it: SQL of its values as a list (one element a value),
    its ES type (None: unmapped)."""

    name: str
    values: str
    es_type: str | None
    scalar: str | None = None  # the value's SQL when the field holds one value, not a list


def _field(name: str, body: Mapping[str, Any], scope: AggregationScope) -> _Field:
    field = body.get("field")
    if not isinstance(field, str) or not field:
        raise SearchRequestError(f"Required one of fields [field, script], but none were "
                                 f"specified in [{name}]", "illegal_argument_exception")
    if field == "_index":  # a metadata field Kibana groups by
        return _Field(field, "[_index]", "keyword", "_index")
    resolved = scope.compiler.resolve(ast.Field(field, optional=True))
    if resolved.es_type in _TEXT_TYPES:
        raise fielddata_refused(field)
    if resolved.es_type is None or resolved.es_type == "object" or resolved.sql == "NULL":
        return _Field(field, "CAST([] AS VARCHAR[])", None)
    values = resolved.sql if resolved.is_list else f"[{resolved.sql}]"
    return _Field(field, f"list_filter({values}, lambda _v: _v IS NOT NULL)", resolved.es_type,
                  None if resolved.is_list else resolved.sql)


def _number(value: Any, what: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise SearchRequestError(f"[{what}] must be greater than or equal to {minimum}. "
                                 f"Found [{value}]", "illegal_argument_exception")
    return value


class _Buckets:
    """What terms and date_histogram share: each document's distinct keys (`keys_sql`), a
    bucket's condition, sub-aggregations under each bucket."""

    def __init__(self, name: str, body: Mapping[str, Any], scope: AggregationScope) -> None:
        self.name = name
        self.body = body
        self.scope = scope
        self.field = _field(name, body, scope)

    def key_sql(self, value: str) -> str:
        raise NotImplementedError

    def keys_sql(self) -> str:
        return f"list_distinct(list_transform({self.field.values}, lambda _v: " \
               f"{self.key_sql('_v')}))"

    def grouped_sql(self, where: str) -> str:
        """SQL of (_k, _c): each key and how many documents meeting `where` have it."""
        scalar = self.field.scalar
        if scalar is not None:  # one value a document: a plain GROUP BY, many times faster
            return (f"SELECT {self.key_sql(scalar)} AS _k, count(*) AS _c FROM events "
                    f"WHERE ({where}) AND {scalar} IS NOT NULL GROUP BY _k")
        return (f"SELECT _k, count(*) AS _c FROM (SELECT unnest({self.keys_sql()}) AS _k "
                f"FROM events WHERE {where}) GROUP BY _k")

    def counts(self, where: str) -> list[tuple[Any, int]]:
        return [(key, count) for key, count in self.scope.rows(self.grouped_sql(where))]

    def bucket(self, key: Any, count: int, sub: Any, condition: str) -> dict[str, Any]:
        bucket: dict[str, Any] = {**self.key_fields(key), "doc_count": count}
        if sub:
            bucket.update(aggregate(sub, self.scope.narrowed(condition)))
        return bucket

    def key_fields(self, key: Any) -> dict[str, Any]:
        raise NotImplementedError

    def has_key(self, key: Any) -> str:
        if self.field.scalar is not None:
            return f"coalesce({self.key_sql(self.field.scalar)} = {sql_literal(key)}, FALSE)"
        return f"list_contains({self.keys_sql()}, {sql_literal(key)})"


class _Terms(_Buckets):
    def key_sql(self, value: str) -> str:
        return value_sql(value, self.field.es_type or "keyword")

    def key_fields(self, key: Any) -> dict[str, Any]:
        es_type = self.field.es_type
        if es_type in _DATE_TYPES:
            return {"key": key, "key_as_string": _iso_millis(key)}
        if es_type == "boolean":
            return {"key": key, "key_as_string": "true" if key else "false"}
        if es_type in ("double", "float", "half_float", "scaled_float") and key is not None:
            return {"key": float(key)}
        return {"key": key}

    def result(self, sub: Any) -> dict[str, Any]:
        body = self.body
        for option in body:
            if option not in ("field", "size", "order", "min_doc_count", "missing",
                              "shard_size", "show_term_doc_count_error", "format"):
                raise SearchRequestError(f"[terms] unknown field [{option}]",
                                         "parsing_exception")
        size = _number(body.get("size", 10), f"size] in [{self.name}", 1)
        min_count = _number(body.get("min_doc_count", 1), "min_doc_count", 0)
        if size > MAX_BUCKETS:
            raise _too_many_buckets()
        missing = body.get("missing")
        missing_condition = f"coalesce(len({self.field.values}), 0) = 0"
        absent = 0
        if missing is not None:
            absent = self.scope.rows(f"SELECT count(*) FROM events WHERE ({self.scope.where}) "
                                     f"AND {missing_condition}")[0][0]
        missing_key = self._missing_key(missing) if absent else None
        top, total = self._top(size, min_count, missing_key, absent)
        buckets = []
        for key, count in top:
            condition = self.has_key(key)
            if absent and key == missing_key:
                condition = f"({condition} OR {missing_condition})"
            buckets.append(self.bucket(key, count, sub, condition))
        return {"doc_count_error_upper_bound": 0,
                "sum_other_doc_count": total - sum(count for _, count in top),
                "buckets": buckets}

    def _top(self, size: int, min_count: int, missing_key: Any, absent: int
             ) -> tuple[list[tuple[Any, int]], int]:
        """The top `size` (key, count) with at least `min_count`, the documents without a
        value counted under `missing_key`; and the count of every key kept. Ordered and cut
        in SQL, so a field with millions of values is not read into Python."""
        if min_count == 0:  # every key of the scope, the unmatched ones at zero
            counts = dict(self.counts(self.scope.where))
            for key, _ in self.counts(self.scope.scope):
                counts.setdefault(key, 0)
            if absent:
                counts[missing_key] = counts.get(missing_key, 0) + absent
            ordered = sorted(counts.items(), key=self._order())
            return ordered[:size], sum(counts.values())
        grouped = self.grouped_sql(self.scope.where)
        candidates = dict(self.scope.rows(
            f"SELECT _k, _c FROM ({grouped}) WHERE _c >= {min_count} "
            f"ORDER BY {self._order_sql()} LIMIT {size}"))
        total = self.scope.rows(f"SELECT coalesce(sum(_c), 0) FROM ({grouped}) "
                                f"WHERE _c >= {min_count}")[0][0]
        if absent:
            found = self.scope.rows(f"SELECT _c FROM ({grouped}) WHERE _k = "
                                    f"{sql_literal(missing_key)}")
            before = found[0][0] if found else 0
            after = before + absent
            total += (after if after >= min_count else 0) - (
                before if before >= min_count else 0)
            candidates[missing_key] = after
        ordered = sorted(((key, count) for key, count in candidates.items()
                          if count >= min_count), key=self._order())
        return ordered[:size], int(total)

    def _missing_key(self, missing: Any) -> Any:
        es_type = self.field.es_type
        if es_type in _INTEGER_TYPES or es_type in _DATE_TYPES:
            try:
                return int(missing)
            except (TypeError, ValueError):
                raise SearchRequestError(f"[missing] value [{missing}] is not a number for "
                                         f"[{self.field.name}]") from None
        if es_type in ("double", "float", "half_float", "scaled_float"):
            return float(missing)
        if es_type == "boolean":
            return 1 if missing in (True, "true") else 0
        return str(missing)

    def _order(self) -> Callable[[tuple[Any, int]], Any]:
        criteria = self._criteria()

        def sort_key(item: tuple[Any, int]) -> Any:
            key, count = item
            return tuple(_Reversible(count if what == "_count" else _comparable(key), desc)
                         for what, desc in criteria)
        return sort_key

    def _order_sql(self) -> str:
        return ", ".join(f"{'_c' if what == '_count' else '_k'} {'DESC' if desc else 'ASC'}"
                         for what, desc in self._criteria())

    def _criteria(self) -> list[tuple[str, bool]]:
        """(_count or _key, descending) in turn; count ties broken by key ascending."""
        order = self.body.get("order", {"_count": "desc"})
        items = order if isinstance(order, list) else [order]
        criteria: list[tuple[str, bool]] = []
        for item in items:
            if not isinstance(item, Mapping) or len(item) != 1:
                raise SearchRequestError(f"[order] of [{self.name}] must be an object like "
                                         '{"_count": "desc"}', "parsing_exception")
            ((what, direction),) = item.items()
            if what not in ("_count", "_key", "_term"):
                raise SearchRequestError(f"Invalid aggregator order path [{what}]: Lanner "
                                         "orders terms by _count or _key")
            if direction not in ("asc", "desc"):
                raise SearchRequestError(f"Unknown terms order direction [{direction}]",
                                         "parsing_exception")
            criteria.append(("_key" if what == "_term" else what, direction == "desc"))
        if not any(what == "_key" for what, _ in criteria):
            criteria.append(("_key", False))  # ES breaks count ties by key ascending
        return criteria


class _Reversible:
    """A sort component that may compare in reverse (mixed directions in one key)."""

    __slots__ = ("descending", "value")

    def __init__(self, value: Any, descending: bool) -> None:
        self.value = value
        self.descending = descending

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Reversible) and self.value == other.value

    def __lt__(self, other: _Reversible) -> bool:
        return other.value < self.value if self.descending else self.value < other.value


def _comparable(key: Any) -> tuple[int, Any]:
    if isinstance(key, (int, float)) and not isinstance(key, bool):
        return (0, key)
    return (1, str(key))


class _DateHistogram(_Buckets):
    def __init__(self, name: str, body: Mapping[str, Any], scope: AggregationScope) -> None:
        super().__init__(name, body, scope)
        for option in body:
            if option not in ("field", "fixed_interval", "calendar_interval", "min_doc_count",
                              "extended_bounds", "format", "time_zone", "keyed", "order"):
                raise SearchRequestError(f"[date_histogram] unknown field [{option}]",
                                         "parsing_exception")
        zone = body.get("time_zone", "UTC")
        if str(zone) not in _UTC_NAMES:
            raise SearchRequestError(f"time_zone [{zone}] is not supported by Lanner: its "
                                     "date histograms are in UTC")
        fixed, calendar = body.get("fixed_interval"), body.get("calendar_interval")
        if (fixed is None) == (calendar is None):
            raise SearchRequestError("Required one of fields [fixed_interval, "
                                     "calendar_interval], but none were specified."
                                     if fixed is None else
                                     "Cannot use [fixed_interval] with [calendar_interval] "
                                     "configuration option.")
        self.fixed_ms = _fixed_ms(str(fixed)) if fixed is not None else None
        self.unit = None
        if calendar is not None:
            self.unit = _CALENDAR_UNITS.get(str(calendar))
            if self.unit is None:
                raise SearchRequestError(f"The supplied interval [{calendar}] could not be "
                                         "parsed as a calendar interval.")
        es_type = self.field.es_type
        if es_type is not None and es_type not in _DATE_TYPES and es_type not in _INTEGER_TYPES:
            raise SearchRequestError(f"Field [{self.field.name}] of type [{es_type}] is not "
                                     "supported for aggregation [date_histogram]",
                                     shard_failure=True)
        self.pattern = _strftime(str(body.get("format", "strict_date_optional_time")))

    def key_sql(self, value: str) -> str:
        if self.field.es_type in _DATE_TYPES:
            moment = value
        else:  # a number is epoch millis to a date histogram
            moment = f"make_timestamp(CAST({value} AS BIGINT) * 1000)"
        if self.unit is not None:
            return f"epoch_ms(date_trunc('{self.unit}', {moment}))"
        millis = value_sql(moment, "date")
        width = self.fixed_ms
        return f"({millis} - ((({millis}) % {width}) + {width}) % {width})"

    def key_fields(self, key: Any) -> dict[str, Any]:
        return {"key_as_string": _format_millis(key, self.pattern), "key": key}

    def result(self, sub: Any) -> dict[str, Any]:
        min_count = _number(self.body.get("min_doc_count", 0), "min_doc_count", 0)
        counts = dict(self.scope.rows(  # at most one past the limit: never millions
            f"{self.grouped_sql(self.scope.where)} LIMIT {MAX_BUCKETS + 1}"))
        if len(counts) > MAX_BUCKETS:
            raise _too_many_buckets()
        keys = set(counts)
        if min_count == 0:
            bounds = self.body.get("extended_bounds")
            if bounds is not None:
                if not isinstance(bounds, Mapping):
                    raise SearchRequestError("[extended_bounds] must be an object",
                                             "parsing_exception")
                keys.update(self._bucket_of(bounds[end]) for end in ("min", "max")
                            if bounds.get(end) is not None)
            if keys:
                keys = set(self._every_key(min(keys), max(keys)))
        ordered = sorted(key for key in keys if counts.get(key, 0) >= min_count)
        if len(ordered) > MAX_BUCKETS:
            raise _too_many_buckets()
        buckets = [self.bucket(key, counts.get(key, 0), sub, self.has_key(key))
                   for key in ordered]
        if self.body.get("keyed"):
            return {"buckets": {bucket["key_as_string"]: bucket for bucket in buckets}}
        return {"buckets": buckets}

    def _bucket_of(self, bound: Any) -> int:
        """The key of the bucket holding an extended bound (epoch millis or a date)."""
        if isinstance(bound, (int, float)) and not isinstance(bound, bool):
            millis = int(bound)
        else:
            try:
                moment = datetime.datetime.fromisoformat(str(bound).replace("Z", "+00:00"))
            except ValueError:
                raise SearchRequestError(f"failed to parse date field [{bound}] of "
                                         "[extended_bounds]", "parsing_exception") from None
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=datetime.UTC)
            millis = int(moment.timestamp() * 1000)
        return self.scope.rows(f"SELECT {self.key_sql(f'make_timestamp({millis} * 1000)')}")[0][0]

    def _every_key(self, first: int, last: int) -> list[int]:
        if self.fixed_ms is not None:
            if (last - first) // self.fixed_ms >= MAX_BUCKETS:
                raise _too_many_buckets()
            return list(range(first, last + 1, self.fixed_ms))
        keys = []
        moment = _from_millis(first)
        while True:
            millis = int(moment.timestamp() * 1000)
            if millis > last:
                return keys
            keys.append(millis)
            if len(keys) > MAX_BUCKETS:
                raise _too_many_buckets()
            moment = _next(moment, self.unit or "day")


def _next(moment: datetime.datetime, unit: str) -> datetime.datetime:
    """The start of the calendar unit after the one starting at `moment`."""
    if unit in ("month", "quarter", "year"):
        months = {"month": 1, "quarter": 3, "year": 12}[unit]
        total = moment.year * 12 + moment.month - 1 + months
        return moment.replace(year=total // 12, month=total % 12 + 1)
    step = {"minute": datetime.timedelta(minutes=1), "hour": datetime.timedelta(hours=1),
            "day": datetime.timedelta(days=1), "week": datetime.timedelta(weeks=1)}[unit]
    return moment + step


def _fixed_ms(interval: str) -> int:
    match = re.fullmatch(r"(\d+)(ms|s|m|h|d)", interval.strip())
    if match is None or int(match.group(1)) == 0:
        raise SearchRequestError(f"failed to parse setting [date_histogram.fixedInterval] "
                                 f"with value [{interval}] as a time value: unit is missing "
                                 "or unrecognized")
    return int(match.group(1)) * _FIXED_UNITS[match.group(2)]


def _metric(name: str, kind: str, body: Mapping[str, Any], scope: AggregationScope
            ) -> dict[str, Any]:
    field = _field(name, body, scope)
    call = _METRICS[kind]
    value_of = value_sql("_m", field.es_type or "keyword")
    aggregate_sql = f"{call} {value_of})" if kind == "cardinality" else f"{call}({value_of})"
    if field.es_type is None:
        value = None
    else:
        if kind in ("avg", "sum") and field.es_type not in _INTEGER_TYPES | {
                "double", "float", "half_float", "scaled_float"}:
            raise SearchRequestError(f"Field [{field.name}] of type [{field.es_type}] is not "
                                     f"supported for aggregation [{kind}]", shard_failure=True)
        value = scope.rows(f"SELECT {aggregate_sql} FROM (SELECT unnest({field.values}) AS _m "
                           f"FROM events WHERE {scope.where})")[0][0]
    if kind in ("value_count", "cardinality"):
        return {"value": value or 0}
    if kind == "sum":
        return {"value": float(value or 0)}
    if value is None or isinstance(value, str):
        return {"value": None}
    result: dict[str, Any] = {"value": float(value)}
    if field.es_type in _DATE_TYPES and kind in ("min", "max"):
        result["value_as_string"] = _iso_millis(int(value))
    return result


def _too_many_buckets() -> SearchRequestError:
    return SearchRequestError(
        f"Trying to create too many buckets. Must be less than or equal to: [{MAX_BUCKETS}]. "
        "This limit can be set by changing the [search.max_buckets] cluster level setting.",
        "too_many_buckets_exception", shard_failure=True)


def _from_millis(millis: int) -> datetime.datetime:
    return datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC) + datetime.timedelta(
        milliseconds=millis)


def _iso_millis(millis: int) -> str:
    """ES's default rendering of a date: strict_date_optional_time in UTC, milliseconds."""
    return _format_millis(millis, _strftime("strict_date_optional_time"))


def _strftime(java_format: str) -> str:
    """A Java date pattern (or a named ES format) as a strftime pattern; `%f3` stands for
    milliseconds. `epoch_millis` stays as it is."""
    first = java_format.split("||")[0]
    if first in ("epoch_millis", "epoch_second"):
        return first
    pattern = _NAMED_FORMATS.get(first, first)
    out = []
    for token in _JAVA_PATTERN.findall(pattern):
        if token.startswith("'"):
            out.append(token[1:-1].replace("%", "%%") or "'")
        elif token == "SSS":
            out.append("%f3")
        else:
            out.append(_JAVA_TO_STRFTIME.get(token, token.replace("%", "%%")))
    return "".join(out)


def _format_millis(millis: int, pattern: str) -> str:
    if pattern == "epoch_millis":
        return str(millis)
    if pattern == "epoch_second":
        return str(millis // 1000)
    moment = _from_millis(millis)
    return moment.strftime(pattern.replace("%f3", f"{moment.microsecond // 1000:03d}"))
