"""The HTTP application: Elasticsearch's REST API, the part shippers and clients use, over a
Service (see lanner.server.service for the contract). Starlette routes; every blocking call
runs in the thread pool under the service's lock; every response carries
`X-Elastic-Product: Elasticsearch` and every error has Elasticsearch's shape."""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from lanner.engine.field_caps import IndexField, index_fields
from lanner.engine.querydsl import QueryDslError
from lanner.engine.sorting import DOC, SearchRequestError, after_condition
from lanner.eql.errors import EqlSemanticError
from lanner.errors import LannerError
from lanner.server.bodies import filter_path, read_body
from lanner.server.errors import ElasticError, error_body, from_lanner, index_not_found, parsing
from lanner.server.kibana import kibana_routes
from lanner.server.search import (
    ALERTS_INDEX,
    Compiled,
    Context,
    Contexts,
    SearchRequest,
    Target,
    duration_ms,
    from_request_error,
    hits,
    now_ms,
    shard_failure,
    total_hits,
)
from lanner.server.service import Service

log = logging.getLogger(__name__)

VERSION = {
    "number": "8.17.0", "build_flavor": "default", "build_type": "docker",
    "build_hash": "lanner", "build_date": "2024-12-11T12:08:05.663969764Z",
    "build_snapshot": False, "lucene_version": "9.12.0",
    "minimum_wire_compatibility_version": "7.17.0",
    "minimum_index_compatibility_version": "7.0.0",
}
PRODUCT = {"X-Elastic-Product": "Elasticsearch"}
CLUSTER_UUID = "bGFubmVyLWNsdXN0ZXI"


def respond(body: Any = None, status: int = 200, headers: dict[str, str] | None = None,
            request: Request | None = None) -> Response:
    """A JSON response (filtered by the request's `filter_path`), with the product header."""
    if request is not None and isinstance(body, dict):
        body = filter_path(body, request.query_params.get("filter_path"))
    content = b"" if body is None else orjson.dumps(body)
    return Response(content, status, {**PRODUCT, **(headers or {})},
                    media_type="application/json")


def _json(body: bytes) -> dict[str, Any]:
    if not body.strip():
        return {}
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise parsing(f"request body is not valid JSON: {error}") from None
    if not isinstance(value, dict):
        raise parsing("request body must be a JSON object")
    return value


class Api:
    """The route handlers over one service."""

    def __init__(self, service: Service) -> None:
        self.service = service
        self.contexts = Contexts()  # open scrolls and points in time

    async def locked(self, call: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        def run() -> Any:
            with self.service.write_lock:
                try:
                    return call(*args, **kwargs)
                except LannerError as error:
                    raise from_lanner(error) from error
        return await run_in_threadpool(run)

    async def body(self, request: Request) -> bytes:
        return await read_body(request, self.service.max_body_bytes)

    # -- what clients and shippers ask first --------------------------------------------------

    async def root(self, request: Request) -> Response:
        return respond({"name": "lanner", "cluster_name": "lanner",
                        "cluster_uuid": CLUSTER_UUID, "version": VERSION,
                        "tagline": "You Know, for Search"},
                       request=request) if request.method == "GET" else respond(None)

    async def license(self, request: Request) -> Response:
        return respond({"license": {
            "status": "active", "uid": "00000000-0000-0000-0000-000000000000",
            "type": "basic", "issue_date": "2024-01-01T00:00:00.000Z",
            "issue_date_in_millis": 1704067200000, "max_nodes": 1000,
            "max_resource_units": None, "issued_to": "lanner", "issuer": "elasticsearch",
            "start_date_in_millis": -1}}, request=request)

    async def xpack(self, request: Request) -> Response:
        features = {name: {"available": name in ("ilm", "eql", "data_streams"),
                           "enabled": name in ("ilm", "eql", "data_streams")}
                    for name in ("eql", "ilm", "data_streams", "security", "ml", "watcher")}
        return respond({"build": {"hash": "lanner", "date": VERSION["build_date"]},
                        "license": {"uid": "00000000-0000-0000-0000-000000000000",
                                    "type": "basic", "mode": "basic", "status": "active"},
                        "features": features}, request=request)

    async def health(self, request: Request) -> Response:
        return respond({"cluster_name": "lanner", "status": "green", "timed_out": False,
                        "number_of_nodes": 1, "number_of_data_nodes": 1,
                        "active_primary_shards": 1, "active_shards": 1,
                        "relocating_shards": 0, "initializing_shards": 0,
                        "unassigned_shards": 0, "delayed_unassigned_shards": 0,
                        "number_of_pending_tasks": 0, "number_of_in_flight_fetch": 0,
                        "task_max_waiting_in_queue_millis": 0,
                        "active_shards_percent_as_number": 100.0}, request=request)

    async def nodes(self, request: Request) -> Response:
        node = {"name": "lanner", "transport_address": "127.0.0.1:9300", "host": "127.0.0.1",
                "ip": "127.0.0.1", "version": VERSION["number"], "build_flavor": "default",
                "build_type": "docker", "build_hash": "lanner",
                "roles": ["data", "ingest", "master"], "ingest": {"processors": []},
                "http": {"publish_address": "127.0.0.1:9200"}}
        return respond({"_nodes": {"total": 1, "successful": 1, "failed": 0},
                        "cluster_name": "lanner", "nodes": {"bGFubmVyLW5vZGU": node}},
                       request=request)

    # -- ingest -------------------------------------------------------------------------------

    async def bulk(self, request: Request) -> Response:
        index = request.path_params.get("index")
        with self.service.bulk_slot():  # a full queue: 429 with Retry-After
            body = await self.body(request)
            if not body.strip():
                raise ElasticError(400, "action_request_validation_exception",
                                   "Validation Failed: 1: no requests added;")
            response = await run_in_threadpool(self.service.bulk, body, index)
        return respond(response, headers=_pipeline_warning(request), request=request)

    async def doc(self, request: Request) -> Response:
        index = request.path_params["index"]
        doc_id = request.path_params.get("id")
        action = "create" if request.url.path.rstrip("/").split("/")[-2] == "_create" or \
            request.query_params.get("op_type") == "create" else "index"
        document = _json(await self.body(request))
        metadata = {"_index": index, **({"_id": doc_id} if doc_id else {})}
        with self.service.bulk_slot():
            response = await run_in_threadpool(self.service.bulk, [{action: metadata},
                                                                   document])
        ((_, item),) = response["items"][0].items()
        if "error" in item:
            error = item["error"]
            raise ElasticError(item["status"], error["type"], error["reason"],
                               **{k: v for k, v in error.items() if k not in ("type", "reason")})
        item.pop("status")
        return respond(item, status=201 if item["result"] == "created" else 200,
                       headers=_pipeline_warning(request), request=request)

    # -- indices and mappings -----------------------------------------------------------------

    async def index_head(self, request: Request) -> Response:
        exists = await self.locked(self._exists, request.path_params["index"])
        return respond(None, status=200 if exists else 404)

    def _exists(self, index: str) -> bool:
        """Whether the index exists; the alerts index always does (Kibana creates it with
        the space, before any alert)."""
        return _alerts(index) or self.service.client.indices.exists(index)

    async def index_put(self, request: Request) -> Response:
        index = request.path_params["index"]
        _valid_index(index)
        body = _json(await self.body(request))
        if await self.locked(self._exists, index):
            raise ElasticError(400, "resource_already_exists_exception",
                               f"index [{index}/{CLUSTER_UUID}] already exists", index=index)
        await self.locked(self.service.store.put_mapping, index, body.get("mappings") or {})
        return respond({"acknowledged": True, "shards_acknowledged": True, "index": index},
                       request=request)

    async def index_get(self, request: Request) -> Response:
        mappings = await self.locked(self._mappings, request.path_params["index"])
        return respond({name: {"aliases": {}, "mappings": mapping, "settings": {
            "index": {"number_of_shards": "1", "number_of_replicas": "0"}}}
            for name, mapping in mappings.items()}, request=request)

    def _mappings(self, pattern: str) -> dict[str, Any]:
        """Each index's mapping as ES gives it: dotted names nested as objects with
        `properties`, multi-fields under their parent's `fields`, aliases with their `path`."""
        if _alerts(pattern):
            target = self._target(pattern, {})
            alerts = index_fields(target.backend.store, target.indices)
            return {ALERTS_INDEX: _nested_mapping(alerts.get(ALERTS_INDEX, {}))}
        store = self.service.store
        names = list(self.service.detector.backend.indices(pattern))
        names += [name for name in pattern.split(",") if "*" not in name and name not in names
                  and store.mapping(name) is not None]
        if not names and "*" not in pattern and pattern not in ("_all", ""):
            raise index_not_found(pattern)
        by_index = index_fields(store, names)
        return {name: _nested_mapping(by_index[name]) for name in names}

    async def mapping_get(self, request: Request) -> Response:
        mappings = await self.locked(self._mappings, request.path_params.get("index", "_all"))
        return respond({name: {"mappings": mapping} for name, mapping in mappings.items()},
                       request=request)

    async def mapping_put(self, request: Request) -> Response:
        index = request.path_params["index"]
        body = _json(await self.body(request))
        await self.locked(self.service.store.put_mapping, index, body)
        return respond({"acknowledged": True}, request=request)

    # -- what shippers install, kept and given back ---------------------------------------------

    def objects(self, kind: str, key: str) -> tuple[Callable[[Request], Awaitable[Response]], ...]:
        """GET, PUT and DELETE handlers for stored objects of a kind; GET answers as ES
        does: a list under `key` of {name, <kind>} for templates, a map by name otherwise."""
        service = self.service

        async def put(request: Request) -> Response:
            name = request.path_params["name"]
            body = _json(await self.body(request))
            await run_in_threadpool(service.put_object, kind, name, body)
            if kind == "data_stream":
                return respond({"acknowledged": True})
            return respond({"acknowledged": True})

        async def get(request: Request) -> Response:
            name = request.path_params.get("name", "*")
            stored = await run_in_threadpool(service.objects, kind)
            found = {n: b for n, b in stored.items()
                     if any(_glob(p, n) for p in name.split(","))}
            if not found and "*" not in name:
                raise ElasticError(404, "resource_not_found_exception",
                                   f"{kind.replace('_', ' ')} [{name}] not found")
            if kind in ("index_template", "component_template"):
                return respond({key: [{"name": n, kind: b} for n, b in found.items()]},
                               request=request)
            if kind == "data_stream":
                return respond({key: [{"name": n, "timestamp_field": {"name": "@timestamp"},
                                       "indices": [], "generation": 1, "status": "GREEN",
                                       "template": b.get("template", "")}
                                      for n, b in found.items()]}, request=request)
            if kind == "ilm_policy":
                return respond({n: {"version": 1, "modified_date": "2024-01-01T00:00:00.000Z",
                                    "policy": b.get("policy", b)} for n, b in found.items()},
                               request=request)
            return respond(found, request=request)

        async def delete(request: Request) -> Response:
            name = request.path_params["name"]
            if not await run_in_threadpool(service.delete_object, kind, name):
                raise ElasticError(404, "resource_not_found_exception",
                                   f"{kind.replace('_', ' ')} [{name}] not found")
            return respond({"acknowledged": True})

        async def head(request: Request) -> Response:
            stored = await run_in_threadpool(service.objects, kind)
            return respond(None, 200 if request.path_params["name"] in stored else 404)

        return put, get, delete, head

    # -- search -------------------------------------------------------------------------------

    def eql_search(self, index: str, options: dict[str, Any]) -> dict[str, Any]:
        """An EQL search's response (run under the lock: see AsyncEql)."""
        self._require(index)
        return self.service.client.eql.search(index, body=options)

    def _require(self, index: str) -> tuple[str, ...]:
        found = self.service.detector.backend.indices(index)
        if not found:
            missing = [name for name in index.split(",")
                       if "*" not in name and not name.startswith("-") and name != "_all"]
            if missing:
                raise index_not_found(missing[0])
        return found

    # -- _search, _count, scroll, point in time -------------------------------------------------

    def _target(self, index: str, params: Mapping[str, str]) -> Target:
        """The indices a request names, as ES resolves them: a missing concrete name is
        index_not_found unless `ignore_unavailable`; nothing at all is one only with
        `allow_no_indices=false`. The alerts index is searched on its own."""
        if _alerts(index):
            return self.service.alerts_view.target(self.service.alerts)
        backend = self.service.detector.backend
        found = backend.indices(index)
        store = self.service.store
        if params.get("ignore_unavailable", "false").lower() != "true":
            for name in index.split(","):
                name = name.strip()
                if (name and "*" not in name and not name.startswith("-")
                        and name != "_all" and not backend.indices(name)
                        and store.mapping(name) is None):
                    raise index_not_found(name)
        if not found and params.get("allow_no_indices", "true").lower() == "false":
            raise index_not_found(index)
        return Target(backend, found)

    async def search(self, request: Request) -> Response:
        index = request.path_params.get("index")
        params = request.query_params
        search = SearchRequest.read(_json(await self.body(request)), params)
        scroll = params.get("scroll")
        keep_ms = duration_ms(scroll, "scroll") if scroll else None
        started = time.perf_counter()
        response = await self.searching(index, self._search, index, search, params, keep_ms)
        response["took"] = int((time.perf_counter() - started) * 1000)
        return respond(response, request=request)

    async def searching(self, index: str | None, call: Callable[..., Any], *args: Any) -> Any:
        """`call` under the lock, a search's bad input answered as ES answers it."""
        try:
            return await self.locked(call, *args)
        except ElasticError as error:
            if isinstance(error.__cause__, SearchRequestError):
                raise from_request_error(error.__cause__, index or "_all") from None
            if isinstance(error.__cause__, EqlSemanticError):
                raise shard_failure(index or "_all", "query_shard_exception",
                                    f"failed to create query: {error.reason}") from None
            if isinstance(error.__cause__, QueryDslError):
                raise parsing(error.reason) from None
            raise

    def _search(self, index: str | None, search: SearchRequest, params: Mapping[str, str],
                keep_ms: int | None) -> dict[str, Any]:
        body = search.body
        pit = body.get("pit")
        if pit is not None:
            if index is not None:
                raise ElasticError(400, "action_request_validation_exception",
                                   "Validation Failed: 1: [indices] cannot be used with point "
                                   "in time. Do not specify any index with point in time.;")
            if not isinstance(pit, Mapping) or not isinstance(pit.get("id"), str):
                raise parsing("[pit] must be an object with an [id]")
            pit_keep = duration_ms(pit["keep_alive"], "keep_alive") \
                if "keep_alive" in pit else None
            target = self.contexts.get(pit["id"], pit_keep).target
        else:
            target = self._target(index or "_all", params)
        search.check_window(index or "_all")
        if keep_ms is not None:
            if search.offset:
                raise ElasticError(400, "illegal_argument_exception", "Using [from] is not "
                                   "allowed in a scroll context")
            if pit is not None:
                raise ElasticError(400, "action_request_validation_exception",
                                   "Validation Failed: 1: using [point in time] is not "
                                   "allowed in a scroll context;")
            target = target.snapshot()
        compiled = Compiled.of(target, body)
        tiebreaker = pit is not None and not any(key.sql == DOC for key in compiled.keys)
        after = None
        if "search_after" in body:
            if search.offset:
                raise ElasticError(400, "illegal_argument_exception", "[from] parameter must "
                                   "be set to 0 when [search_after] is used")
            if not compiled.keys and not tiebreaker:
                raise ElasticError(400, "illegal_argument_exception",
                                   "Sort must contain at least one field.")
            after = after_condition(compiled.keys, body["search_after"], tiebreaker=tiebreaker)
        rows = compiled.page(search.offset, search.size, after)
        sorted_ = "sort" in body and body["sort"] is not None
        response: dict[str, Any] = {
            "took": 0, "timed_out": False,
            "_shards": {"total": 1, "successful": 1, "skipped": 0, "failed": 0},
            "hits": {"max_score": None if sorted_ or not rows else 1.0,
                     "hits": hits(compiled, rows, search.source, sorted_=sorted_,
                                  tiebreaker=tiebreaker)}}
        total = total_hits(compiled.count(), search.track_total_hits, search.total_as_int)
        if total is not None:
            response["hits"] = {"total": total, **response["hits"]}
        aggs = body.get("aggs", body.get("aggregations"))
        if aggs is not None:
            response["aggregations"] = compiled.aggregations(aggs)
        if pit is not None:
            response = {"pit_id": pit["id"], **response}
        if keep_ms is not None:
            context = Context(compiled.target, now_ms() + keep_ms, compiled, search.source,
                              search.size, _last(rows), sorted_, total)
            response = {"_scroll_id": self.contexts.add(context, "scroll"), **response}
        return response

    async def scroll(self, request: Request) -> Response:
        body = _json(await self.body(request))
        params = request.query_params
        scroll_id = (request.path_params.get("scroll_id") or params.get("scroll_id")
                     or body.get("scroll_id"))
        if not scroll_id:
            raise ElasticError(400, "action_request_validation_exception",
                               "Validation Failed: 1: scrollId is missing;")
        keep = params.get("scroll", body.get("scroll"))
        keep_ms = duration_ms(keep, "scroll") if keep else None
        started = time.perf_counter()
        response = await self.searching(None, self._scroll_page, scroll_id, keep_ms,
                                        params.get("rest_total_hits_as_int") == "true")
        response["took"] = int((time.perf_counter() - started) * 1000)
        return respond(response, request=request)

    def _scroll_page(self, scroll_id: str, keep_ms: int | None, as_int: bool
                     ) -> dict[str, Any]:
        context = self.contexts.get(scroll_id, keep_ms)
        compiled = context.compiled
        assert compiled is not None
        rows: list[tuple[Any, ...]] = []
        if context.last is not None:  # None: the search had no (more) hits
            rows = compiled.page(0, context.size, after_condition(
                compiled.keys, context.last, tiebreaker=True))
            context.last = _last(rows) or context.last
        total = context.total
        if as_int and isinstance(total, dict):
            total = total["value"]
        page = {"max_score": None if context.sorted_ or not rows else 1.0,
                "hits": hits(compiled, rows, context.source, sorted_=context.sorted_,
                             tiebreaker=False)}
        return {"_scroll_id": scroll_id, "took": 0, "timed_out": False,
                "_shards": {"total": 1, "successful": 1, "skipped": 0, "failed": 0},
                "hits": {"total": total, **page} if total is not None else page}

    async def clear_scroll(self, request: Request) -> Response:
        """`{"succeeded": true, "num_freed": n}`, a 404 when none was open, as ES answers
        (elastic/elasticsearch #5865, #13835); `_all` closes every one."""
        body = _json(await self.body(request))
        given = request.path_params.get("scroll_id") or body.get("scroll_id") or \
            request.query_params.get("scroll_id")
        ids = given.split(",") if isinstance(given, str) else given
        if not isinstance(ids, list):
            raise ElasticError(400, "action_request_validation_exception",
                               "Validation Failed: 1: no scroll ids specified;")
        freed = self.contexts.remove(None if ids == ["_all"] else [str(i) for i in ids])
        return respond({"succeeded": True, "num_freed": freed}, 200 if freed else 404,
                       request=request)

    async def open_pit(self, request: Request) -> Response:
        index = request.path_params["index"]
        params = request.query_params
        if "keep_alive" not in params:
            raise ElasticError(400, "action_request_validation_exception",
                               "Validation Failed: 1: [keep_alive] is not specified;")
        keep_ms = duration_ms(params["keep_alive"], "keep_alive")
        target = await self.searching(index, self._target, index, params)
        context_id = self.contexts.add(Context(target.snapshot(), now_ms() + keep_ms), "pit")
        return respond({"id": context_id, "_shards": {"total": 1, "successful": 1,
                                                       "skipped": 0, "failed": 0}},
                       request=request)

    async def close_pit(self, request: Request) -> Response:
        body = _json(await self.body(request))
        if not isinstance(body.get("id"), str):
            raise ElasticError(400, "action_request_validation_exception",
                               "Validation Failed: 1: point in time id is missing;")
        freed = self.contexts.remove([body["id"]])
        return respond({"succeeded": True, "num_freed": freed}, 200 if freed else 404,
                       request=request)

    async def count(self, request: Request) -> Response:
        index = request.path_params.get("index")
        body = _json(await self.body(request))
        for key in body:
            if key != "query":
                raise parsing(f"request does not support [{key}]")
        params = request.query_params
        if "q" in params:
            raise ElasticError(400, "illegal_argument_exception",
                               "the [q] parameter (Lucene query syntax) is not supported by "
                               "Lanner: send a Query DSL body")
        total = await self.searching(index, self._count, index, body, params)
        return respond({"count": total, "_shards": {"total": 1, "successful": 1,
                                                    "skipped": 0, "failed": 0}},
                       request=request)

    def _count(self, index: str | None, body: dict[str, Any], params: Mapping[str, str]) -> int:
        return Compiled.of(self._target(index or "_all", params), body).count()

    # -- field capabilities -------------------------------------------------------------------

    async def field_caps(self, request: Request) -> Response:
        index = request.path_params.get("index", "_all")
        body = _json(await self.body(request))
        params = request.query_params
        fields = params.get("fields") or body.get("fields")
        if isinstance(fields, str):
            fields = fields.split(",")
        if not fields:
            raise ElasticError(400, "action_request_validation_exception",
                               "Validation Failed: 1: no fields specified;")
        response = await self.searching(index, self._field_caps, index, [str(f) for f in fields],
                                        params)
        return respond(response, request=request)

    def _field_caps(self, index: str, patterns: list[str], params: Mapping[str, str]
                    ) -> dict[str, Any]:
        target = self._target(index, params)
        by_index = index_fields(target.backend.store, target.indices)
        wanted = [p.strip() for p in patterns if p.strip()]
        caps: dict[str, dict[str, dict[str, Any]]] = {}
        types: dict[tuple[str, str], list[str]] = {}
        for name_index, fields in by_index.items():
            for name, found in fields.items():
                if not any(_glob(p, name) for p in wanted):
                    continue
                kind = found.type
                types.setdefault((name, kind), []).append(name_index)
                caps.setdefault(name, {})[kind] = {
                    "type": kind, "metadata_field": False, "searchable": found.searchable,
                    "aggregatable": found.aggregatable}
        for (name, kind), indices in types.items():
            if len(caps[name]) > 1:
                caps[name][kind]["indices"] = indices
        for name, kind, searchable, aggregatable in _METADATA_FIELDS:
            if target.indices and any(_glob(p, name) for p in wanted):
                caps[name] = {kind: {"type": kind, "metadata_field": True,
                                     "searchable": searchable, "aggregatable": aggregatable}}
        return {"indices": list(target.indices), "fields": dict(sorted(caps.items()))}

    async def cat_indices(self, request: Request) -> Response:
        rows = await self.locked(self._cat_rows)
        if request.query_params.get("format") == "json":
            return respond(rows)
        text = "".join(f"{r['health']} {r['status']} {r['index']} {r['uuid']} {r['pri']} "
                       f"{r['rep']} {r['docs.count']} 0 0b 0b\n" for r in rows)
        return Response(text, headers=PRODUCT, media_type="text/plain")

    def _cat_rows(self) -> list[dict[str, Any]]:
        counts = dict(self.service.store.con.execute(
            "SELECT _index, count(*) FROM events GROUP BY _index ORDER BY _index").fetchall())
        counts[ALERTS_INDEX] = len(self.service.alerts)
        return [{"health": "green", "status": "open", "index": name,
                 "uuid": hashlib.sha1(name.encode()).hexdigest()[:22], "pri": "1", "rep": "0",
                 "docs.count": str(count), "docs.deleted": "0"}
                for name, count in sorted(counts.items())]


def _alerts(index: str) -> bool:
    return any(_glob(part, ALERTS_INDEX) and part not in ("*", "_all")
               for part in index.split(","))


def _glob(pattern: str, name: str) -> bool:
    import fnmatch

    return fnmatch.fnmatchcase(name, pattern)


def _nested_mapping(fields: dict[str, IndexField]) -> dict[str, Any]:
    """ES's `mappings` of flat fields: {"properties": {name: {...}}}, objects nested."""
    root: dict[str, Any] = {}
    for name in sorted(fields):
        found = fields[name]
        if found.multi_field_of is not None:
            parent = _mapping_node(root, found.multi_field_of)
            sub = name[len(found.multi_field_of) + 1:]
            parent.setdefault("fields", {})[sub] = {"type": found.type}
            continue
        node = _mapping_node(root, name)
        if found.type == "alias":
            node.update({"type": "alias", "path": found.alias_of})
        elif found.type == "object":
            node.setdefault("properties", {})
        else:
            node["type"] = found.type
    return {"properties": root} if root else {}


def _mapping_node(root: dict[str, Any], name: str) -> dict[str, Any]:
    """The mapping object of a dotted name, made with its parents' `properties`."""
    properties = root
    parts = name.split(".")
    for part in parts[:-1]:
        properties = properties.setdefault(part, {}).setdefault("properties", {})
    return properties.setdefault(parts[-1], {})


def _last(rows: list[tuple[Any, ...]]) -> list[Any] | None:
    """The sort values and _doc of a page's last hit, where a scroll goes on from."""
    return [*rows[-1][1:], rows[-1][0]] if rows else None


# Metadata fields field_caps lists: (name, type, searchable, aggregatable).
_METADATA_FIELDS = (("_id", "_id", True, False), ("_index", "_index", True, True),
                    ("_source", "_source", False, False))


def _valid_index(index: str) -> None:
    if index.startswith(("_", "-", "+")) or index != index.lower() or any(
            c in index for c in '\\/*?"<>| ,#:'):
        raise ElasticError(400, "invalid_index_name_exception",
                           f"Invalid index name [{index}]", index=index)


def _pipeline_warning(request: Request) -> dict[str, str]:
    pipeline = request.query_params.get("pipeline")
    if not pipeline:
        return {}
    return {"Warning": f'299 Elasticsearch-{VERSION["number"]} "ingest pipeline '
                       f'[{pipeline}] was not run: Lanner stores documents as sent"'}


# -- authentication ------------------------------------------------------------------------------

class Credentials:
    """Basic users and API keys; empty means none are asked for (loopback only)."""

    def __init__(self, users: dict[str, str] | None = None,
                 api_keys: list[str] | None = None) -> None:
        self.users = dict(users or {})
        self.api_keys = list(api_keys or [])

    def __bool__(self) -> bool:
        return bool(self.users or self.api_keys)

    def accepts(self, header: str | None) -> bool:
        if not self:
            return True
        if not header:
            return False
        scheme, _, token = header.partition(" ")
        token = token.strip()
        if scheme.lower() == "basic":
            try:
                user, _, password = base64.b64decode(token).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                return False
            expected = self.users.get(user)
            return expected is not None and hmac.compare_digest(expected, password)
        if scheme.lower() == "apikey":
            decoded = _b64(token)
            return any(hmac.compare_digest(key, token) or (
                decoded is not None and hmac.compare_digest(key, decoded))
                for key in self.api_keys)
        return False


def _b64(token: str) -> str | None:
    try:
        return base64.b64decode(token, validate=True).decode()
    except (ValueError, UnicodeDecodeError):
        return None


class Guard:
    """ASGI middleware: the credentials on every request, and the product header on every
    response (those the handlers did not build too)."""

    def __init__(self, app: ASGIApp, credentials: Credentials) -> None:
        self.app = app
        self.credentials = credentials

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1")
                   for k, v in scope.get("headers", [])}
        if not self.credentials.accepts(headers.get("authorization")):
            path = scope.get("path", "/")
            challenge = 'Basic realm="security" charset="UTF-8", ApiKey'
            body = error_body(401, "security_exception",
                              f"missing authentication credentials for REST request [{path}]",
                              header={"WWW-Authenticate": [challenge]})
            await respond(body, 401, {"WWW-Authenticate": challenge})(scope, receive, send)
            return

        async def send_with_product(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                raw = list(message.get("headers", []))
                if not any(k.lower() == b"x-elastic-product" for k, _ in raw):
                    raw.append((b"x-elastic-product", b"Elasticsearch"))
                message = {**message, "headers": raw}
            await send(message)

        await self.app(scope, receive, send_with_product)


# -- the application -------------------------------------------------------------------------------

async def _elastic_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, ElasticError)
    headers = getattr(error, "headers", None)  # Retry-After of a 429
    if request.method == "HEAD":
        return respond(None, error.status, headers)
    return respond(error.body(), error.status, headers)


async def _http_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, HTTPException)
    if error.status_code == 404:
        body = error_body(400, "illegal_argument_exception",
                          f"request [{request.url.path}] contains unrecognized parameters or "
                          f"is not supported by Lanner: no handler found for uri "
                          f"[{request.url.path}] and method [{request.method}]")
        return respond(body, 400)
    if error.status_code == 405:
        return respond(error_body(405, "method_not_allowed", f"Incorrect HTTP method for uri "
                                  f"[{request.url.path}] and method [{request.method}]"), 405)
    return respond(error_body(error.status_code, "status_exception", str(error.detail)),
                   error.status_code)


async def _unexpected(request: Request, error: Exception) -> Response:
    log.error("unexpected error answering %s %s", request.method, request.url.path,
              exc_info=error)
    return respond(error_body(500, "exception", f"Lanner failed on this request: "
                              f"{type(error).__name__}: {error}"), 500)


def create_app(service: Service, credentials: Credentials | None = None,
               mounts: Sequence[BaseRoute] = ()) -> Starlette:
    """The application over `service`; with `credentials`, every route asks for them.
    `mounts`: other interfaces served beside the APIs (the triage UI at /app/), composed by
    the caller so that the server knows none of them."""
    from lanner.server.async_eql import AsyncEql  # it builds on Api

    api = Api(service)
    eql = AsyncEql(api)
    routes: list[BaseRoute] = [
        Route("/_eql/search/status/{id}", eql.status, methods=["GET"]),
        Route("/_eql/search/{id}", eql.get, methods=["GET"]),
        Route("/_eql/search/{id}", eql.delete, methods=["DELETE"]),
        Route("/", api.root, methods=["GET", "HEAD"]),
        Route("/_license", api.license, methods=["GET"]),
        Route("/_xpack", api.xpack, methods=["GET"]),
        Route("/_cluster/health", api.health, methods=["GET"]),
        Route("/_cluster/health/{index}", api.health, methods=["GET"]),
        Route("/_nodes", api.nodes, methods=["GET"]),
        Route("/_nodes/{rest:path}", api.nodes, methods=["GET"]),
        Route("/_bulk", api.bulk, methods=["POST", "PUT"]),
        Route("/_cat/indices", api.cat_indices, methods=["GET"]),
        Route("/_cat/indices/{index}", api.cat_indices, methods=["GET"]),
        Route("/_search/scroll", api.scroll, methods=["GET", "POST"]),
        Route("/_search/scroll", api.clear_scroll, methods=["DELETE"]),
        Route("/_search/scroll/{scroll_id}", api.scroll, methods=["GET", "POST"]),
        Route("/_search/scroll/{scroll_id}", api.clear_scroll, methods=["DELETE"]),
        Route("/_search", api.search, methods=["GET", "POST"]),
        Route("/_count", api.count, methods=["GET", "POST"]),
        Route("/_pit", api.close_pit, methods=["DELETE"]),
        Route("/_field_caps", api.field_caps, methods=["GET", "POST"]),
        Route("/_mapping", api.mapping_get, methods=["GET"]),
    ]
    for kind, prefix, key in (
            ("index_template", "/_index_template", "index_templates"),
            ("component_template", "/_component_template", "component_templates"),
            ("ilm_policy", "/_ilm/policy", "policies"),
            ("ingest_pipeline", "/_ingest/pipeline", "pipelines"),
            ("data_stream", "/_data_stream", "data_streams")):
        put, get, delete, head = api.objects(kind, key)
        routes += [Route(prefix, get, methods=["GET"]),
                   Route(prefix + "/{name}", put, methods=["PUT", "POST"]),
                   Route(prefix + "/{name}", get, methods=["GET"]),
                   Route(prefix + "/{name}", delete, methods=["DELETE"]),
                   Route(prefix + "/{name}", head, methods=["HEAD"])]
    routes += kibana_routes(service)
    routes += mounts
    routes += [
        Route("/{index}/_bulk", api.bulk, methods=["POST", "PUT"]),
        Route("/{index}/_doc", api.doc, methods=["POST"]),
        Route("/{index}/_doc/{id}", api.doc, methods=["POST", "PUT"]),
        Route("/{index}/_create/{id}", api.doc, methods=["POST", "PUT"]),
        Route("/{index}/_eql/search", eql.search, methods=["GET", "POST"]),
        Route("/{index}/_search", api.search, methods=["GET", "POST"]),
        Route("/{index}/_count", api.count, methods=["GET", "POST"]),
        Route("/{index}/_pit", api.open_pit, methods=["POST"]),
        Route("/{index}/_field_caps", api.field_caps, methods=["GET", "POST"]),
        Route("/{index}/_mapping", api.mapping_get, methods=["GET"]),
        Route("/{index}/_mapping", api.mapping_put, methods=["PUT", "POST"]),
        Route("/{index}", api.index_head, methods=["HEAD"]),
        Route("/{index}", api.index_put, methods=["PUT"]),
        Route("/{index}", api.index_get, methods=["GET"]),
    ]
    app = Starlette(routes=routes, exception_handlers={
        ElasticError: _elastic_error, HTTPException: _http_error, Exception: _unexpected})
    app.add_middleware(Guard, credentials=credentials or Credentials())
    return app
