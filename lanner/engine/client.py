"""A client shaped like elasticsearch-py, so EQL code written for Elasticsearch runs on Lanner.

    es = lanner.connect()                       # or lanner.connect("events.duckdb")
    es = connect(engine="spark", spark_master="local[2]")   # the same, searched on Spark
    es = connect(engine="spark", paths=["s3a://lake/events/"])  # files Spark reads itself
    es.indices.create(index="logs", mappings={...})
    es.bulk(operations=[{"index": {"_index": "logs"}}, {...}, ...])
    resp = es.eql.search(index="logs*", query='process where process.name == "cmd.exe"')
    resp["hits"]["events"]
    resp = es.search(index="logs*", query={"kql": {"query": "process.name:cmd.exe"}})
    resp = es.search(index="logs*", kql="process.name:cmd.exe and not user.name:*")

Methods take elasticsearch-py's keyword arguments; those that change nothing here (`refresh`,
`fetch_size`, `wait_for_completion_timeout`, …) are accepted and ignored. Responses have the
shape of Elasticsearch's. Errors are Lanner's typed errors (LannerError subclasses).
"""

from __future__ import annotations

import base64
import hashlib
import time
from collections.abc import Iterable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from lanner.cache import gc_paused
from lanner.engine.backends.base import Backend
from lanner.engine.backends.duckdb import Document, DuckDBBackend, SearchScope, on_a_thread
from lanner.engine.plan import QueryKind
from lanner.engine.querydsl import filter_condition, kql_condition
from lanner.engine.search import SearchRequest, SearchResult, search
from lanner.errors import LannerError
from lanner.store import EventStore, IngestReport, StoreError
from lanner.store.events import flatten
from lanner.store.indices import derive_index
from lanner.store.mappings import OutOfStoreRange, coercer
from lanner.store.readers import Record

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


def memory_backend_soon() -> Future[DuckDBBackend]:
    """The DuckDB backend of a new in-memory event store, made on a thread of its own:
    connecting and defining the compiler's macros take 70 ms that a caller with other work
    meanwhile (reading a thousand rules files) need not wait for. The caller closes the
    store, taken or not."""
    return on_a_thread(lambda: DuckDBBackend(EventStore()))


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

    @classmethod
    def over(cls, store: EventStore, backend: Backend | None = None) -> Lanner:
        """A client over a store already open (and the backend that searches it), as the
        HTTP server answers `_bulk` and `_eql/search` with; closing it closes the store."""
        client = cls.__new__(cls)
        client.store = store
        client.lake = None
        client.backend = backend if backend is not None else make_backend(store)
        client.indices = IndicesClient(client)
        client.eql = EqlClient(client)
        return client

    def search(self, index: str | list[str] = "*", query: Mapping[str, Any] | None = None, *,
               kql: str | None = None, size: int = 10, from_: int = 0,
               body: Mapping[str, Any] | None = None, **_ignored: Any) -> dict[str, Any]:
        """`POST <index>/_search` in filter context: the events `query` (Query DSL, including
        `query_string` and Elasticsearch's `kql` query) and `kql` (a KQL query, compiled as
        Kibana's detection engine compiles it) both match, oldest first, from the same
        filter compiler as EQL's `filter`. Scores are not computed (0.0, as in a filter)."""
        started = time.perf_counter()
        if body:
            query = body.get("query", query)
            size = body.get("size", size)
            from_ = body.get("from", from_)
        backend = self.backend
        scope = SearchScope(backend.indices(index))
        compiler = backend.compiler(scope)
        conditions = []
        if query:
            conditions.append(filter_condition(query, compiler))
        if kql is not None:
            conditions.append(kql_condition(kql, compiler))
        where = " AND ".join(f"({condition})" for condition in conditions) or "TRUE"
        total = backend.count(where, scope)
        documents = backend.window(where, scope, from_, size) if size > 0 else []
        hits = [{**_hit(document), "_score": 0.0} for document in documents]
        return {"took": _millis(started), "timed_out": False, "_shards": dict(_SHARDS),
                "hits": {"total": {"value": total, "relation": "eq"},
                         "max_score": 0.0 if hits else None, "hits": hits}}

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

    def bulk(self, operations: Iterable[Any] | str | bytes | None = None, *,
             index: str | None = None, body: Iterable[Any] | str | bytes | None = None,
             **_ignored: Any) -> dict[str, Any]:
        """Index documents given as bulk action/document pairs (`operations`, or `body`; an
        NDJSON text too). The response has one item per action, as Elasticsearch's: the id
        the store gave the document (derived from its content when the action has none), and
        `status` 201 created or 200 updated; 400 `document_parsing_exception` for a document
        with a value its field's type refuses (Lanner keeps the document, that field null, as
        its ingest does), 409 for `create` of an id already stored; `delete` and `update` are
        not supported (400)."""
        started = time.perf_counter()
        store = self._stored("bulk")
        given = operations if operations is not None else body or []
        request = given if isinstance(given, BulkRequest) else BulkRequest.parse(given, index)
        with gc_paused(kept=False):  # JSON values: no cycles
            return _bulk_response(_BulkRun(store, request.actions).run(),
                                  request.started or started)

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


# -- bulk: one response item per action, as Elasticsearch gives --------------------------------

_SHARDS = {"total": 1, "successful": 1, "failed": 0}  # one copy of each index
_BULK_ACTIONS = ("index", "create", "delete", "update")


class BulkRequest:
    """A bulk body parsed, each document's (_index, _id) told as the store will give them:
    all that needs no store, so that a server does it before it takes the store's lock.
    `Lanner.bulk` takes one as `operations`."""

    def __init__(self, actions: list[_BulkAction], started: float | None = None) -> None:
        self.actions = actions
        self.started = started

    @classmethod
    def parse(cls, operations: Iterable[Any] | str | bytes, index: str | None = None
              ) -> BulkRequest:
        started = time.perf_counter()
        with gc_paused(kept=False):  # JSON values: no cycles
            actions = _bulk_actions(operations, index)
        return cls(actions, started)

    @property
    def indices(self) -> set[str]:
        """The indices the request writes documents to."""
        return {action.key[0] for action in self.actions if action.record is not None}


@dataclass
class _BulkAction:
    """One action of a bulk request: its name, the record to store (index and create), and
    its item in the response once known."""

    name: str
    record: Record | None = None
    item: dict[str, Any] | None = None
    key: tuple[str, str | None] = ("", None)  # (_index, _id) as predicted before the ingest


def _bulk_actions(operations: Iterable[Any] | str | bytes, index: str | None
                  ) -> list[_BulkAction]:
    """The actions of a bulk body, each with its document; malformed ones with their error."""
    values = _bulk_values(operations)
    actions: list[_BulkAction] = []
    occurrences: dict[bytes, int] = {}  # identical id-less documents so far, by digest
    position = 0
    while position < len(values):
        value = values[position]
        position += 1
        action = _bulk_action(value)
        if action is None:
            actions.append(_failed("index", 400, "illegal_argument_exception",
                                   f"Malformed action/metadata line [{position}], expected an "
                                   "object with one of index, create, delete, update"))
            continue
        name, metadata = action
        target = _text(metadata.get("_index")) or index
        doc_id = _text(metadata.get("_id"))
        if name == "delete":
            actions.append(_failed(name, 400, "illegal_argument_exception",
                                   "bulk action [delete] is not supported by Lanner",
                                   target, doc_id))
            continue
        if position >= len(values):
            actions.append(_failed(name, 400, "action_request_validation_exception",
                                   f"Validation Failed: 1: the [{name}] action on line "
                                   f"[{position}] has no document;", target, doc_id))
            continue
        document = values[position]
        position += 1
        if name == "update":
            actions.append(_failed(name, 400, "illegal_argument_exception",
                                   "bulk action [update] is not supported by Lanner",
                                   target, doc_id))
        elif not isinstance(document, dict):
            actions.append(_failed(name, 400, "document_parsing_exception",
                                   f"[{position}:1] failed to parse: the document on line "
                                   f"[{position}] is not a JSON object", target, doc_id))
        else:
            # The (_index, _id) the store will give the document, told now: the record
            # carries them, so that the store does not derive them again.
            target = target or derive_index(flatten(document).get) or ""
            if doc_id is None:
                canonical = orjson.dumps(document, option=orjson.OPT_SORT_KEYS)
                digest = hashlib.sha1(target.encode() + b"\n" + canonical).digest()
                seen = occurrences.get(digest, 0)
                occurrences[digest] = seen + 1
                if seen:
                    digest = hashlib.sha1(digest + b"#%d" % seen).digest()
                doc_id = base64.urlsafe_b64encode(digest).decode()[:20]  # as derived_id
            actions.append(_BulkAction(name, Record(document, target or None, doc_id, None,
                                                    len(actions) + 1), key=(target, doc_id)))
    return actions


def _bulk_values(operations: Iterable[Any] | str | bytes) -> list[Any]:
    """The JSON values of a bulk body (objects, or NDJSON text), as JSON reads them; a value
    JSON cannot hold becomes a string, which no action or document is."""
    if isinstance(operations, str | bytes):
        lines = [line for line in operations.splitlines() if line.strip()]
        values = []
        for line in lines:
            try:
                values.append(orjson.loads(line))
            except orjson.JSONDecodeError as error:
                values.append(f"not JSON: {error}")
        return values
    values = []
    for value in operations:
        try:
            values.append(orjson.loads(orjson.dumps(value)))
        except (TypeError, orjson.JSONEncodeError) as error:
            values.append(f"not JSON-serializable: {error}")
    return values


def _bulk_action(value: Any) -> tuple[str, dict[str, Any]] | None:
    if isinstance(value, dict) and len(value) == 1:
        ((name, metadata),) = value.items()
        if name in _BULK_ACTIONS and isinstance(metadata, dict):
            return name, metadata
    return None


def _text(value: Any) -> str | None:
    return value if value is None or isinstance(value, str) else str(value)


def _failed(name: str, status: int, kind: str, reason: str, index: str | None = None,
            doc_id: str | None = None, **more: Any) -> _BulkAction:
    item: dict[str, Any] = {"_index": index or "", **({"_id": doc_id} if doc_id else {}),
                            "status": status, "error": {"type": kind, "reason": reason, **more}}
    return _BulkAction(name, item=item)


class _BulkRun:
    """Store the documents of a bulk request in one ingest and tell each action's outcome:
    ids from the stored rows, created or updated from what was stored before, and the values
    the ingest refused, placed by document."""

    def __init__(self, store: EventStore, actions: list[_BulkAction]) -> None:
        self.store = store
        self.actions = actions

    def run(self) -> list[dict[str, Any]]:
        pending = [action for action in self.actions if action.record is not None]
        existing = self.store.stored(action.key for action in pending
                                     if action.key[1] is not None)
        seen: dict[tuple[str, str | None], int] = {}  # writes of a key in this request
        stored: list[_BulkAction] = []
        for action in pending:
            assert action.record is not None
            written = seen.get(action.key, 0) + (action.key in existing)
            if action.name == "create" and action.record.id is not None and written:
                index, doc_id = action.key
                action.item = {"_index": index, "_id": doc_id, "status": 409, "error": {
                    "type": "version_conflict_engine_exception",
                    "reason": f"[{doc_id}]: version conflict, document already exists "
                              f"(current version [{written}])",
                    "index": index, "shard": "0"}}
                continue
            seen[action.key] = seen.get(action.key, 0) + 1
            stored.append(action)
        if stored:
            # Nothing stored and no key twice: the store need not look for what to replace.
            replaces = bool(existing) or len(seen) < len(stored)
            self._store(stored, existing, replaces)
        return [{action.name: action.item} for action in self.actions]

    def _store(self, stored: list[_BulkAction], existing: set[tuple[str, str]],
               replaces: bool) -> None:
        # The store numbers the documents of an ingest in order from its next number, and
        # gives them the (_index, _id) the records carry (BulkRequest.parse told them).
        first = self.store.next_doc
        report = self.store.ingest_items([action.record for action in stored],  # type: ignore[misc]
                                         replaces=replaces)
        refused = self._refused(stored, report) if report.coercions else {}
        versions: dict[tuple[str, str | None], int] = {}
        for number, action in enumerate(stored):
            doc = first + number
            key = action.key
            index, doc_id = key
            version = versions[key] = versions.get(key, int(key in existing)) + 1
            failures = refused.get(id(action))
            if failures:
                name, es_type, value, message = failures[0]
                preview = str(value)[:20]
                action.item = {"_index": index, "_id": doc_id, "status": 400, "error": {
                    "type": "document_parsing_exception",
                    "reason": f"failed to parse field [{name}] of type [{es_type}] in document "
                              f"with id '{doc_id}'. Preview of field's value: '{preview}'",
                    "caused_by": {"type": "illegal_argument_exception",
                                  "reason": f"{message} (Lanner stored the document with "
                                            f"[{name}] null)"}}}
                continue
            updated = version > 1
            action.item = {"_index": index, "_id": doc_id, "_version": version,
                           "result": "updated" if updated else "created", "_shards": _SHARDS,
                           "_seq_no": doc - 1, "_primary_term": 1,
                           "status": 200 if updated else 201}

    def _refused(self, stored: list[_BulkAction], report: IngestReport
                 ) -> dict[int, list[tuple[str, str, Any, str]]]:
        """The values the ingest stored as null, by action: from the report's examples, or,
        for a field with more failures than the report keeps, by coercing its values again."""
        by_item = {action.record.item: action for action in stored if action.record}
        refused: dict[int, list[tuple[str, str, Any, str]]] = {}
        for name, failures in report.coercions.items():
            if failures.count <= len(failures.examples):
                for failure in failures.examples:
                    action = by_item.get(failure.item)
                    if action is not None and not failure.store_limit:
                        refused.setdefault(id(action), []).append(
                            (name, failures.es_type, failure.value, failure.message))
                continue
            for action in stored:
                assert action.record is not None
                problem = self._recoerce(action.key[0], action.record.source, name,
                                         failures.es_type)
                if problem is not None:
                    refused.setdefault(id(action), []).append(
                        (name, failures.es_type, *problem))
        return refused

    def _recoerce(self, index: str, source: Mapping[str, Any], name: str, es_type: str
                  ) -> tuple[Any, str] | None:
        """(value, why) when the field's type refuses a value of this document."""
        value = flatten(source).get(name)
        if value is None:
            return None
        mapped = (self.store.mapping(index) or {}).get(name)
        coerce = coercer(es_type, mapped.format if mapped is not None else None)
        for element in value if isinstance(value, list) else [value]:
            if element is None:
                continue
            try:
                coerce(element)
            except OutOfStoreRange:
                continue  # Elasticsearch would index it: not the document's error
            except ValueError as error:
                return element, str(error)
        return None


def _bulk_response(items: list[dict[str, Any]], started: float) -> dict[str, Any]:
    """ES's bulk response: `errors` when any action failed, then one item per action."""
    errors = any(item["status"] >= 300 for entry in items for item in entry.values())
    return {"took": _millis(started), "errors": errors, "items": items}


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
