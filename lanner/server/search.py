"""`_search`, `_count`, scroll and point in time over the events and the alerts index.

A search compiles its Query DSL with lanner.engine.querydsl (the EQL compiler), its `sort`
and `search_after` with lanner.engine.sorting and its `aggs` with
lanner.engine.aggregations, all over the same SqlCompiler, and answers in Elasticsearch's
response shape. The alerts index is searched the same way: its documents are copied into
a store of their own (kept up to date, see AlertsView), so every query, sort and
aggregation means there what it means over events.

Scroll and point-in-time contexts keep no hits: each holds the compiled search, the sort
values of the last hit it gave, and a snapshot bound (documents numbered from the store's
`next_doc` at opening on are not seen), so memory is bounded by the number of contexts
(`search.max_open_scroll_context`, 500, as in ES) and each expires after its keep-alive.
"""

from __future__ import annotations

import base64
import fnmatch
import re
import secrets
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from lanner.cache import gc_paused
from lanner.engine.aggregations import AggregationScope, aggregate
from lanner.engine.backends.duckdb import DuckDBBackend, SearchScope
from lanner.engine.backends.sql import sql_literal
from lanner.engine.querydsl import filter_condition
from lanner.engine.sorting import (
    DOC,
    SearchRequestError,
    SortKey,
    order_by,
    sort_keys,
)
from lanner.server.errors import ElasticError, parsing
from lanner.store import EventStore
from lanner.store.alerts import AlertStore

MAX_RESULT_WINDOW = 10_000
ALERTS_INDEX = ".alerts-security.alerts-default"
ALERT_ID = "kibana.alert.uuid"
MAX_OPEN_CONTEXTS = 500
DEFAULT_TRACK_TOTAL_HITS = 10_000
# Alert documents read (and held in memory) at once when the alerts index is copied.
BUILD_CHUNK = 500
# Mappings of the alerts index's dates and numbers (Kibana's alert mapping); the rest of an
# alert's fields are typed as their values are (keyword, long, boolean).
ALERT_MAPPING = {"properties": {
    **{name: {"type": "date"} for name in (
        "@timestamp", "kibana.alert.original_time", "kibana.alert.start",
        "kibana.alert.last_detected", "kibana.alert.workflow_status_updated_at",
        "kibana.alert.rule.created_at", "kibana.alert.rule.updated_at",
        "kibana.alert.suppression.start", "kibana.alert.suppression.end", "event.ingested")},
    "kibana.alert.risk_score": {"type": "float"},
    "kibana.alert.rule.risk_score": {"type": "float"},
    "kibana.alert.depth": {"type": "long"},
    "kibana.alert.suppression.docs_count": {"type": "long"},
}}
# Body keys a search takes; those after `aggregations` are accepted and have no effect here.
_BODY_KEYS = frozenset({
    "query", "size", "from", "sort", "_source", "aggs", "aggregations", "track_total_hits",
    "search_after", "pit", "post_filter", "timeout", "track_scores", "version",
    "seq_no_primary_term", "stored_fields", "explain", "profile", "min_score",
    "terminate_after", "runtime_mappings", "indices_boost"})
_UNITS = {"nanos": 1e-6, "micros": 1e-3, "ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000,
          "d": 86_400_000}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(nanos|micros|ms|s|m|h|d)\s*$")


def duration_ms(value: Any, name: str) -> int:
    """An ES time value ("2s", "100ms", "5d"; -1 is not accepted here) in milliseconds."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise parsing(f"[{name}] must be a time value such as [2s], not [{value}]")
    match = _DURATION.match(str(value))
    if match is None:
        raise ElasticError(400, "illegal_argument_exception",
                           f"failed to parse setting [{name}] with value [{value}] as a time "
                           f"value: unit is missing or unrecognized")
    return int(float(match.group(1)) * _UNITS[match.group(2)])


@dataclass(frozen=True, slots=True)
class Target:
    """What a search reads: a store and its backend, the concrete indices, the label hits
    carry for a document's index, and a snapshot bound (documents below it)."""

    backend: DuckDBBackend
    indices: tuple[str, ...]
    doc_bound: int | None = None

    def scope_sql(self) -> str:
        names = ", ".join(sql_literal(index) for index in self.indices) or "NULL"
        bound = f" AND {DOC} < {self.doc_bound}" if self.doc_bound is not None else ""
        return f"_index IN ({names}){bound}"

    def snapshot(self) -> Target:
        return Target(self.backend, self.indices, self.backend.store.next_doc)


@dataclass(slots=True)
class Compiled:
    """A search compiled over a target: its conditions and sort keys."""

    target: Target
    matched: str  # scope, query and post_filter
    aggregated: str  # scope and query (post_filter does not narrow aggregations)
    keys: list[SortKey]
    compiler: Any

    @classmethod
    def of(cls, target: Target, body: Mapping[str, Any]) -> Compiled:
        compiler = target.backend.compiler(SearchScope(target.indices))
        scope = target.scope_sql()
        query, post_filter = body.get("query"), body.get("post_filter")
        query_sql = _condition(query, compiler, "query")
        post_sql = _condition(post_filter, compiler, "post_filter")
        return cls(target, f"{scope} AND {query_sql} AND {post_sql}",
                   f"{scope} AND {query_sql}", sort_keys(body.get("sort"), compiler), compiler)

    def count(self) -> int:
        return self._rows(f"SELECT count(*) FROM events WHERE {self.matched}")[0][0]

    def page(self, offset: int, size: int, after: str | None = None
             ) -> list[tuple[Any, ...]]:
        """(_doc, sort values...) of the hits from `offset`, at most `size`."""
        where = self.matched if after is None else f"{self.matched} AND {after}"
        values = "".join(f", {key.sql}" for key in self.keys)
        return self._rows(f"SELECT {DOC}{values} FROM events WHERE {where} ORDER BY "
                          f"{order_by(self.keys)} LIMIT {int(size)} OFFSET {int(offset)}")

    def aggregations(self, aggs: Any) -> dict[str, Any]:
        scope = AggregationScope(self.target.backend.con, self.compiler, self.aggregated,
                                 self.target.scope_sql())
        return aggregate(aggs, scope)

    def _rows(self, sql: str) -> list[tuple[Any, ...]]:
        try:
            return self.target.backend.con.execute(sql).fetchall()
        except Exception as error:  # duckdb.Error: a query the engine cannot run
            raise SearchRequestError(f"the search failed: {error}", shard_failure=True) from None


def _condition(query: Any, compiler: Any, name: str) -> str:
    if query is None:
        return "TRUE"
    if not isinstance(query, Mapping):
        raise parsing(f"[{name}] must be an object")
    return f"({filter_condition(query, compiler)})"


@dataclass(slots=True)
class SearchRequest:
    """A search's options, read from its body and URL as ES reads them."""

    body: dict[str, Any]
    size: int
    offset: int
    source: Any
    track_total_hits: Any
    total_as_int: bool

    @classmethod
    def read(cls, body: dict[str, Any], params: Mapping[str, str]) -> SearchRequest:
        for key in body:
            if key not in _BODY_KEYS:
                raise parsing(f"Unknown key for a {_token(body[key])} in [{key}].")
        body = dict(body)
        if "q" in params:
            raise ElasticError(400, "illegal_argument_exception",
                               "the [q] parameter (Lucene query syntax) is not supported by "
                               "Lanner: send a Query DSL body")
        if "sort" in params:
            body["sort"] = [part for part in params["sort"].split(",") if part]
        size = _whole(params.get("size", body.get("size", 10)), "size")
        offset = _whole(params.get("from", body.get("from", 0)), "from")
        source = body.get("_source", True)
        if "_source" in params:
            text = params["_source"]
            source = {"true": True, "false": False}.get(text.lower(), text.split(","))
        if "_source_includes" in params or "_source_excludes" in params:
            source = {"includes": _list(params.get("_source_includes")),
                      "excludes": _list(params.get("_source_excludes"))}
        track = body.get("track_total_hits", DEFAULT_TRACK_TOTAL_HITS)
        if "track_total_hits" in params:
            text = params["track_total_hits"].lower()
            track = {"true": True, "false": False}.get(text, text)
        if not isinstance(track, bool):
            try:
                track = int(track)
            except (TypeError, ValueError):
                raise parsing(f"[track_total_hits] must be a boolean or a number, not "
                              f"[{track}]") from None
            if track < 0:
                raise ElasticError(400, "illegal_argument_exception",
                                   f"[track_total_hits] parameter must be positive or equals "
                                   f"to -1, got {track}")
        return cls(body, size, offset, source, track,
                   params.get("rest_total_hits_as_int", "false").lower() == "true")

    def check_window(self, index: str) -> None:
        if self.offset + self.size > MAX_RESULT_WINDOW:
            reason = (f"Result window is too large, from + size must be less than or equal "
                      f"to: [{MAX_RESULT_WINDOW}] but was [{self.offset + self.size}]. See "
                      "the scroll api for a more efficient way to request large data sets. "
                      "This limit can be set by changing the [index.max_result_window] "
                      "index level setting.")
            raise shard_failure(index, "illegal_argument_exception", reason)


def _token(value: Any) -> str:
    if isinstance(value, Mapping):
        return "START_OBJECT"
    if isinstance(value, list):
        return "START_ARRAY"
    return "VALUE_STRING" if isinstance(value, str) else "VALUE_NUMBER"


def _whole(value: Any, name: str) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise parsing(f"[{name}] must be a whole number, not [{value}]") from None
    if isinstance(value, float) and value != number:
        raise parsing(f"[{name}] must be a whole number, not [{value}]")
    if number < 0:
        raise ElasticError(400, "illegal_argument_exception",
                           f"[{name}] parameter cannot be negative, found [{number}]")
    return number


def _list(text: str | None) -> list[str]:
    return [part for part in (text or "").split(",") if part]


class ShardFailure(ElasticError):
    """ES's search_phase_execution_exception: the shard's failure as root cause."""

    def __init__(self, index: str, kind: str, reason: str, status: int = 400) -> None:
        super().__init__(status, kind, reason)
        self.index = index

    def body(self) -> dict[str, Any]:
        cause = {"type": self.kind, "reason": self.reason}
        return {"error": {
            "root_cause": [cause], "type": "search_phase_execution_exception",
            "reason": "all shards failed", "phase": "query", "grouped": True,
            "failed_shards": [{"shard": 0, "index": self.index, "node": "bGFubmVyLW5vZGU",
                               "reason": cause}],
            "caused_by": cause}, "status": self.status}


def shard_failure(index: str, kind: str, reason: str, status: int = 400) -> ShardFailure:
    return ShardFailure(index, kind, reason, status)


def from_request_error(error: SearchRequestError, index: str) -> ElasticError:
    if error.shard_failure:
        return shard_failure(index, error.kind, str(error))
    return ElasticError(400, error.kind, str(error))


# -- responses --------------------------------------------------------------------------------

def total_hits(count: int, track: Any, as_int: bool) -> Any:
    """`hits.total` as ES gives it: exact, capped at `track_total_hits` ("gte"), or none."""
    if track is False:
        return None
    if track is True or count <= track:
        total = {"value": count, "relation": "eq"}
    else:
        total = {"value": track, "relation": "gte"}
    return total["value"] if as_int else total


def hits(compiled: Compiled, rows: list[tuple[Any, ...]], source: Any, *,
         sorted_: bool, tiebreaker: bool) -> list[dict[str, Any]]:
    """Hits of a page's rows, their `_source` filtered, with `sort` values when sorted."""
    store = compiled.target.backend.store
    documents = store.documents(row[0] for row in rows)
    out = []
    for row in rows:
        document = documents[row[0]]
        hit: dict[str, Any] = {"_index": document.index, "_id": document.id,
                               "_score": None if sorted_ else 1.0}
        kept = filter_source(orjson.loads(document.source), source)
        if kept is not None:
            hit["_source"] = kept
        if sorted_ or tiebreaker:
            hit["sort"] = [_sort_value(value) for value in row[1:]]
            if tiebreaker:
                hit["sort"].append(row[0])
        out.append(hit)
    return out


def _sort_value(value: Any) -> Any:
    if isinstance(value, float) and value in (float("inf"), float("-inf")):
        return None
    return value


def filter_source(source: Any, spec: Any) -> Any:
    """`_source` as ES's source filtering leaves it: `false` none; a string or list of
    patterns, or {includes, excludes}; `*` matches any characters, dots too; a pattern that
    names an object keeps all below it. Empty objects left by includes are dropped."""
    if spec is False:
        return None
    if spec is True or spec is None:
        return source
    if isinstance(spec, str):
        includes, excludes = [spec], []
    elif isinstance(spec, list):
        includes, excludes = [str(item) for item in spec], []
    elif isinstance(spec, Mapping):
        includes = _patterns(spec.get("includes", spec.get("include")))
        excludes = _patterns(spec.get("excludes", spec.get("exclude")))
    else:
        raise parsing(f"[_source] must be a boolean, a string, an array or an object, "
                      f"not [{spec}]")
    kept = _filter(source, "", includes, excludes)
    return {} if kept is _DROP else kept


_DROP = object()


def _patterns(value: Any) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else [str(item) for item in value]


def _filter(value: Any, path: str, includes: list[str], excludes: list[str]) -> Any:
    if isinstance(value, list):
        items = [_filter(item, path, includes, excludes) for item in value]
        return [item for item in items if item is not _DROP]
    if not isinstance(value, Mapping):
        return value
    out = {}
    for key, item in value.items():
        name = f"{path}.{key}" if path else key
        if any(fnmatch.fnmatchcase(name, pattern) for pattern in excludes):
            continue
        if not includes or any(fnmatch.fnmatchcase(name, pattern) for pattern in includes):
            kept = _filter(item, name, [], excludes)
        elif isinstance(item, (Mapping, list)) and any(_below(name, p) for p in includes):
            kept = _filter(item, name, includes, excludes)
            if kept == {} or kept == []:
                kept = _DROP
        else:
            kept = _DROP
        if kept is not _DROP:
            out[key] = kept
    return out if out or not path or not includes else _DROP


def _below(path: str, pattern: str) -> bool:
    """Whether `pattern` may match something below `path`."""
    prefix = pattern.split("*", 1)[0]
    return prefix.startswith(path + ".") or (path + ".").startswith(prefix) or \
        ("*" in pattern and fnmatch.fnmatchcase(path + ".", pattern.split("*", 1)[0] + "*"))


# -- scroll and point in time -------------------------------------------------------------------

@dataclass(slots=True)
class Context:
    """An open scroll or point in time: what it searches and until when."""

    target: Target
    expires_ms: int
    compiled: Compiled | None = None  # a scroll's search
    source: Any = True
    size: int = 10
    last: list[Any] | None = None  # a scroll's last hit: sort values and _doc
    sorted_: bool = False
    total: Any = None


class Contexts:
    """Open scrolls and points in time by id, at most MAX_OPEN_CONTEXTS, each dropped once
    its keep-alive passes without use."""

    def __init__(self) -> None:
        self._open: dict[str, Context] = {}
        self._lock = threading.Lock()

    def add(self, context: Context, kind: str) -> str:
        with self._lock:
            self._expire()
            if len(self._open) >= MAX_OPEN_CONTEXTS:
                raise ElasticError(
                    429, "exception" if kind == "scroll" else "illegal_argument_exception",
                    f"Trying to create too many {kind} contexts. Must be less than or equal "
                    f"to: [{MAX_OPEN_CONTEXTS}]. This limit can be set by changing the "
                    "[search.max_open_scroll_context] setting.")
            context_id = base64.urlsafe_b64encode(
                kind.encode() + b":" + secrets.token_bytes(18)).decode().rstrip("=")
            self._open[context_id] = context
            return context_id

    def get(self, context_id: Any, keep_alive_ms: int | None) -> Context:
        with self._lock:
            self._expire()
            context = self._open.get(context_id) if isinstance(context_id, str) else None
            if context is None:
                raise shard_failure("", "search_context_missing_exception",
                                    f"No search context found for id [{context_id}]", 404)
            if keep_alive_ms is not None:
                context.expires_ms = now_ms() + keep_alive_ms
            return context

    def remove(self, ids: list[str] | None) -> int:
        """Closes these contexts (None: every one); how many there were."""
        with self._lock:
            self._expire()
            if ids is None:
                freed = len(self._open)
                self._open.clear()
                return freed
            return sum(self._open.pop(context_id, None) is not None for context_id in ids)

    def __len__(self) -> int:
        with self._lock:
            self._expire()
            return len(self._open)

    def _expire(self) -> None:
        now = now_ms()
        for context_id in [i for i, c in self._open.items() if c.expires_ms <= now]:
            del self._open[context_id]


def now_ms() -> int:
    return int(time.time() * 1000)


# -- the alerts index ------------------------------------------------------------------------------

class AlertsView:
    """The alert documents in a store of their own, searched like events, kept up to date
    with the alert store: new alerts and alerts whose document changed (a workflow status,
    tags, a suppression count) are written again under their id (the store replaces a
    document of the same `_id`); an alert gone makes it start afresh.

    Cheap when nothing changed: the alert store counts its writes (AlertStore.writes), and
    what changed is told by AlertStore.versions (a hash per alert computed in SQL), so no
    document is read to find out. Ingesting an alert document costs milliseconds (they are
    wide, ~20 KB), so only the changes are written, the service refreshes the view after
    each scheduler round (the alerts a round wrote are copied before anyone searches) and
    builds it at start-up in the background (`build`), outside its lock. A scroll or point
    in time over the alerts does not see alerts added after it opened; one changed since is
    seen in its new version only if it is read again. `target` and `refresh` are used under
    the service's lock."""

    def __init__(self, index: str) -> None:
        self.index = index
        self._versions: dict[str, int] = {}  # alert id -> version of the document held
        self._backend: DuckDBBackend | None = None
        self._writes: tuple[AlertStore, int] | None = None  # the store's count when current

    @property
    def built(self) -> bool:
        return self._backend is not None

    def target(self, alerts: AlertStore) -> Target:
        """The view, brought up to date with `alerts`, as a search target."""
        backend = self.refresh(alerts)
        return Target(backend, (self.index,) if self._versions else ())

    def refresh(self, alerts: AlertStore) -> DuckDBBackend:
        """Copy what changed in `alerts` since the last refresh. Under the service's lock."""
        if self._backend is not None and self._writes == (alerts, alerts.writes):
            return self._backend
        versions = alerts.versions()
        if self._backend is None or not self._versions.keys() <= versions.keys():
            self._backend, self._versions = self._new_backend(), {}
        changed = [alert_id for alert_id, version in versions.items()
                   if self._versions.get(alert_id) != version]
        for start in range(0, len(changed), BUILD_CHUNK):
            self._copy(self._backend, alerts.documents(changed[start:start + BUILD_CHUNK]))
        self._versions = versions
        self._writes = (alerts, alerts.writes)
        return self._backend

    def build(self, alerts: AlertStore, lock: threading.Lock,
              stop: threading.Event | None = None) -> None:
        """Copy every alert into a new store, reading documents under `lock` a chunk at a
        time and ingesting them outside it, then put it in place (a later `refresh` copies
        what changed meanwhile). Start-up work: searches and ingest are not held up. Gives
        up when `stop` is set."""
        with lock:
            if self._backend is not None:
                return
            versions = alerts.versions()
        backend = self._new_backend()
        ids = list(versions)
        for start in range(0, len(ids), BUILD_CHUNK):
            if stop is not None and stop.is_set():
                return
            with lock:
                documents = alerts.documents(ids[start:start + BUILD_CHUNK])
            self._copy(backend, documents)
        with lock:
            if self._backend is None:
                self._backend, self._versions = backend, versions
                self._writes = None  # what changed during the build is found by versions

    def _new_backend(self) -> DuckDBBackend:
        store = EventStore()
        store.put_mapping(self.index, ALERT_MAPPING)
        return DuckDBBackend(store)

    def _copy(self, backend: DuckDBBackend, documents: list[dict[str, Any]]) -> None:
        operations: list[dict[str, Any]] = []
        for document in documents:
            operations += [{"index": {"_index": self.index,
                                      "_id": str(document.get(ALERT_ID))}}, document]
        if operations:
            # as the service's bulk: the cyclic GC would traverse every wide document held
            with gc_paused(kept=False):
                backend.store.bulk(operations)
