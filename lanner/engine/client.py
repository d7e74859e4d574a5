"""A client shaped like elasticsearch-py, so EQL code written for Elasticsearch runs on Lanner.

    es = lanner.connect()                       # or lanner.connect("events.duckdb")
    es = connect(engine="spark", spark_master="local[2]")   # the same, searched on Spark
    es = connect(engine="spark", paths=["s3a://lake/events/"])  # files Spark reads itself
    es.indices.create(index="logs", mappings={...})
    es.bulk(operations=[{"index": {"_index": "logs"}}, {...}, ...])
    resp = es.eql.search(index="logs*", query='process where process.name == "cmd.exe"')
    resp["hits"]["events"]

Methods take elasticsearch-py's keyword arguments; those that change nothing here (`refresh`,
`fetch_size`, `wait_for_completion_timeout`, …) are accepted and ignored. Responses have the
shape of Elasticsearch's. Errors are Lanner's typed errors (LannerError subclasses).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from lanner.engine.backends.base import Backend
from lanner.engine.backends.duckdb import Document, DuckDBBackend, SearchScope
from lanner.engine.plan import QueryKind
from lanner.engine.querydsl import filter_condition
from lanner.engine.search import SearchRequest, SearchResult, search
from lanner.errors import LannerError
from lanner.store import EventStore, IngestReport, StoreError

if TYPE_CHECKING:
    from lanner.engine.backends.spark_lake import SparkLakeBackend

ENGINES = ("duckdb", "spark")
DEFAULT_SPARK_MASTER = "local[*]"


class UnknownEngineError(LannerError):
    """An engine name other than those in ENGINES."""


class NotStoredError(LannerError):
    """A client that searches files Spark reads (a lake) was asked to store or map events."""

    def __init__(self, what: str) -> None:
        super().__init__(f"{what}: this client searches the files Spark reads; add files with "
                         "add_paths()")


class NoLakeError(LannerError):
    """A client over the store (made without `paths`) was asked to read paths with Spark."""


def make_backend(store: EventStore, engine: str = "duckdb",
                 spark_master: str = DEFAULT_SPARK_MASTER) -> Backend:
    """The backend that searches `store` on `engine` (see ENGINES)."""
    if engine == "duckdb":
        return DuckDBBackend(store)
    if engine == "spark":
        from lanner.engine.backends.spark import SparkBackend, spark_session

        return SparkBackend(store, spark_session(spark_master))
    raise UnknownEngineError(f"unknown engine {engine!r}: expected one of {', '.join(ENGINES)}")


def read_lake(paths: Iterable[str | Path], spark_master: str = DEFAULT_SPARK_MASTER, *,
              index: str | None = None, workdir: str | None = None) -> SparkLakeBackend:
    """A Spark backend over NDJSON/Parquet files or folders (any Hadoop URI), read and typed by
    Spark itself; its `report` tells what was read (events, bad lines with file and line)."""
    from lanner.engine.backends.spark import spark_session
    from lanner.engine.backends.spark_lake import SparkLakeBackend

    return SparkLakeBackend(spark_session(spark_master), [str(path) for path in paths],
                            index=index, workdir=workdir)


class Lanner:
    """An event store and the EQL search over it, spoken to like an Elasticsearch client.

    `engine` runs the searches: "duckdb" in this process, or "spark" on the Spark cluster at
    `spark_master` (events are typed by the store, then searched on Spark). With `paths`
    (Spark only), Spark reads and types NDJSON/Parquet files itself and the client searches
    those (a data lake): `add_paths` reads more; nothing is stored or mapped through it.
    """

    def __init__(self, path: str | Path | None = None, *, engine: str = "duckdb",
                 spark_master: str = DEFAULT_SPARK_MASTER,
                 paths: Iterable[str | Path] | None = None, index: str | None = None) -> None:
        if engine not in ENGINES:
            raise UnknownEngineError(f"unknown engine {engine!r}: expected one of "
                                     f"{', '.join(ENGINES)}")
        if paths is not None and engine != "spark":
            raise UnknownEngineError(f"the {engine} engine reads no paths itself: "
                                     "paths need engine='spark'")
        self.store = EventStore(path)
        self.lake = read_lake(paths, spark_master, index=index) if paths is not None else None
        self.backend: Backend = self.lake if self.lake is not None else make_backend(
            self.store, engine, spark_master)
        self.indices = IndicesClient(self)
        self.eql = EqlClient(self)

    def add_paths(self, paths: Iterable[str | Path], index: str | None = None) -> IngestReport:
        """Have Spark read more files into the lake this client searches (one ingest, after
        the files read before); the report tells what was read and every bad line."""
        if self.lake is None:
            raise NoLakeError("add_paths reads files with Spark: make the client with "
                              "connect(engine='spark', paths=[...]); a store-backed client "
                              "reads files with client.store.ingest_files()")
        return self.lake.add_paths([str(path) for path in paths], index)

    def _stored(self, what: str) -> EventStore:
        """The store, for a client that searches it."""
        if self.lake is not None:
            raise NotStoredError(what)
        return self.store

    def bulk(self, operations: Iterable[Any] | None = None, *, index: str | None = None,
             body: Iterable[Any] | None = None, **_ignored: Any) -> dict[str, Any]:
        """Index documents given as bulk action/document pairs (`operations`, or `body`)."""
        started = time.perf_counter()
        report = self._stored("bulk").bulk(operations if operations is not None else body or [],
                                           index)
        return _bulk_response(report, started)

    def index(self, index: str, document: Mapping[str, Any] | None = None, *,
              id: str | None = None, body: Mapping[str, Any] | None = None,
              **_ignored: Any) -> dict[str, Any]:
        """Index one document."""
        source = dict(document if document is not None else body or {})
        action: dict[str, Any] = {"_index": index, **({"_id": id} if id is not None else {})}
        report = self._stored("index").bulk([{"index": action}, source])
        if report.bad_lines:
            raise StoreError(str(report.bad_lines[0]))
        (stored_id,) = self.store.con.execute(
            "SELECT _id FROM events ORDER BY _doc DESC LIMIT 1").fetchone()
        return {"_index": index, "_id": stored_id,
                "result": "updated" if report.replaced else "created"}

    def ingest_file(self, path: str | Path, index: str | None = None) -> IngestReport:
        """Load a file of events (NDJSON, JSON array, ES export; gzip too). Not in
        elasticsearch-py: the report says what was loaded and which lines were bad."""
        return self._stored("ingest_file").ingest_file(path, index)

    def close(self) -> None:
        close_backend = getattr(self.backend, "close", None)
        if close_backend is not None:
            close_backend()
        self.store.close()

    def __enter__(self) -> Lanner:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class IndicesClient:
    """`es.indices`: mappings and index housekeeping."""

    def __init__(self, client: Lanner) -> None:
        self._client = client

    def create(self, index: str, mappings: Mapping[str, Any] | None = None, *,
               body: Mapping[str, Any] | None = None, **_ignored: Any) -> dict[str, Any]:
        """Create an index, with its explicit mapping if one is given."""
        mapping = mappings if mappings is not None else (body or {}).get("mappings")
        self._client._stored("indices.create").put_mapping(index, mapping or {})
        return {"acknowledged": True, "shards_acknowledged": True, "index": index}

    def put_mapping(self, index: str, properties: Mapping[str, Any] | None = None, *,
                    body: Mapping[str, Any] | None = None, **_ignored: Any) -> dict[str, Any]:
        """Add fields to an index's mapping."""
        mapping = {"properties": properties} if properties is not None else body or {}
        self._client._stored("indices.put_mapping").put_mapping(index, mapping)
        return {"acknowledged": True}

    def exists(self, index: str, **_ignored: Any) -> bool:
        """Whether any stored index (or mapping) matches the pattern."""
        return bool(self._client.backend.indices(index)) or any(
            self._client.store.mapping(name) is not None for name in index.split(","))

    def refresh(self, index: str | None = None, **_ignored: Any) -> dict[str, Any]:
        """Stored events are searchable at once; kept for code written against ES."""
        return {"_shards": {"total": 1, "successful": 1, "failed": 0}}


class EqlClient:
    """`es.eql`: the EQL search API."""

    def __init__(self, client: Lanner) -> None:
        self._client = client

    def search(self, index: str | list[str], query: str | None = None, *, size: int = 10,
               tiebreaker_field: str | None = None, timestamp_field: str = "@timestamp",
               event_category_field: str = "event.category", result_position: str = "tail",
               max_samples_per_key: int = 1, filter: Mapping[str, Any] | None = None,
               body: Mapping[str, Any] | None = None, **_ignored: Any) -> dict[str, Any]:
        """Run an EQL query; the response has the shape of `POST <index>/_eql/search`."""
        started = time.perf_counter()
        if body:  # the request body form: its keys are the same options
            query = body.get("query", query)
            size = body.get("size", size)
            tiebreaker_field = body.get("tiebreaker_field", tiebreaker_field)
            timestamp_field = body.get("timestamp_field", timestamp_field)
            event_category_field = body.get("event_category_field", event_category_field)
            result_position = body.get("result_position", result_position)
            max_samples_per_key = body.get("max_samples_per_key", max_samples_per_key)
            filter = body.get("filter", filter)
        if query is None:
            raise ValueError("eql.search needs a query")
        backend = self._client.backend
        scope = SearchScope(backend.indices(index), timestamp_field, tiebreaker_field,
                            event_category_field)
        if filter:
            compiler = backend.compiler(scope)
            scope = SearchScope(scope.indices, timestamp_field, tiebreaker_field,
                                event_category_field, filter_condition(filter, compiler))
        request = SearchRequest(query.strip(), scope, size, result_position, max_samples_per_key)
        return _response(search(backend, request), started)


def _hit(document: Document) -> dict[str, Any]:
    return {"_index": document.index, "_id": document.id, "_source": orjson.loads(document.source)}


_MISSING = {"_index": "", "_id": "", "missing": True}


def _response(result: SearchResult, started: float) -> dict[str, Any]:
    hits: dict[str, Any]
    if result.kind is QueryKind.EVENT:
        hits = {"total": {"value": len(result.events), "relation": "eq"},
                "events": [_hit(document) for document in result.events]}
    else:
        sequences = []
        for sequence in result.sequences:
            entry: dict[str, Any] = {}
            if sequence.join_keys:
                entry["join_keys"] = sequence.join_keys
            entry["events"] = [_hit(document) if document is not None else dict(_MISSING)
                               for document in sequence.events]
            sequences.append(entry)
        hits = {"total": {"value": len(sequences), "relation": "eq"}, "sequences": sequences}
    return {"is_partial": False, "is_running": False, "took": _millis(started),
            "timed_out": False, "hits": hits}


def _bulk_response(report: IngestReport, started: float) -> dict[str, Any]:
    """ES's bulk response; `items` holds only the failures (with where they happened)."""
    items = [{"index": {"status": 400, "error": {"type": "parse_exception", "reason": str(bad)}}}
             for bad in report.bad_lines]
    return {"took": _millis(started), "errors": bool(items), "items": items}


def _millis(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)


def connect(path: str | Path | None = None, *, engine: str = "duckdb",
            spark_master: str = DEFAULT_SPARK_MASTER,
            paths: Iterable[str | Path] | None = None, index: str | None = None) -> Lanner:
    """A client over an in-memory store, or over a DuckDB file that keeps events across runs;
    `engine="spark"` searches them on Spark (`spark_master`, default all local cores). With
    `paths` (NDJSON/Parquet files or folders, any Hadoop URI), Spark reads and types the
    files itself and the client searches those; `index` puts documents without one there."""
    return Lanner(path, engine=engine, spark_master=spark_master, paths=paths, index=index)
