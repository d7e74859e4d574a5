"""Elasticsearch's async EQL search: `POST /{index}/_eql/search` with
`wait_for_completion_timeout` / `keep_on_completion` / `keep_alive`, then
`GET /_eql/search/{id}`, `GET /_eql/search/status/{id}` and `DELETE /_eql/search/{id}`.

As in ES: a search that completes within `wait_for_completion_timeout` answers with its
result, and carries an `id` only when `keep_on_completion` is true; one that does not
answers `is_running: true` with an `id`, and goes on in the background. Without
`wait_for_completion_timeout` the search is synchronous. Kept searches live in this process's
memory until `keep_alive` (default 5d) passes or they are deleted: unlike ES, which keeps them
in its `.async-search` index, a restart forgets them."""

from __future__ import annotations

import asyncio
import base64
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from lanner.server.app import Api, _json, respond
from lanner.server.errors import ElasticError, parsing
from lanner.server.search import duration_ms

# The body keys the engine's EQL search takes; the async ones are read here.
OPTIONS = ("query", "size", "tiebreaker_field", "timestamp_field", "event_category_field",
           "result_position", "max_samples_per_key", "filter")
DEFAULT_KEEP_ALIVE = 5 * 24 * 3600 * 1000
def _flag(value: Any, name: str) -> bool:
    if isinstance(value, bool):
        return value
    if value in ("true", ""):
        return True
    if value == "false":
        return False
    raise parsing(f"[{name}] must be true or false, not [{value}]")


@dataclass
class Kept:
    """One async search: its task while it runs, then its result or its error."""

    task: asyncio.Future[dict[str, Any]]
    started_ms: int
    expires_ms: int


def _now_ms() -> int:
    return int(time.time() * 1000)


class AsyncEql:
    """The EQL search routes over an Api: sync, async and the kept searches."""

    def __init__(self, api: Api) -> None:
        self.api = api
        self._searches: dict[str, Kept] = {}
        self._lock = threading.Lock()

    # -- POST /{index}/_eql/search --------------------------------------------------------------

    async def search(self, request: Request) -> Response:
        index = request.path_params["index"]
        body = _json(await self.api.body(request))
        if not isinstance(body.get("query"), str):
            raise parsing("[eql/search] needs a [query] string")
        params = {**body, **request.query_params}
        options = {k: v for k, v in body.items() if k in OPTIONS}
        wait = params.get("wait_for_completion_timeout")
        keep = _flag(params.get("keep_on_completion", False), "keep_on_completion")
        keep_alive = duration_ms(params["keep_alive"], "keep_alive") \
            if "keep_alive" in params else DEFAULT_KEEP_ALIVE
        if wait is None and not keep:  # the synchronous search
            result = await self.api.locked(self.api.eql_search, index, options)
            return respond(result, request=request)
        # without a timeout, a search asked to be kept runs to completion first
        timeout = duration_ms(wait, "wait_for_completion_timeout") / 1000 \
            if wait is not None else None
        task = asyncio.ensure_future(self.api.locked(self.api.eql_search, index, options))
        started = _now_ms()
        await asyncio.wait({task}, timeout=timeout)
        if task.done() and not keep:
            return respond(task.result(), request=request)  # raises the search's error
        if task.done() and task.exception() is not None:
            task.result()  # a failed search answers its error, kept or not
        search_id = _new_id()
        kept = Kept(task, started, started + keep_alive)
        with self._lock:
            self._expire()
            self._searches[search_id] = kept
        return respond(self._body(search_id, kept), request=request)

    # -- GET / DELETE /_eql/search/{id}, GET /_eql/search/status/{id} ---------------------------

    async def get(self, request: Request) -> Response:
        search_id = request.path_params["id"]
        kept = self._find(search_id)
        wait = request.query_params.get("wait_for_completion_timeout")
        if wait is not None and not kept.task.done():
            await asyncio.wait({kept.task}, timeout=duration_ms(
                wait, "wait_for_completion_timeout") / 1000)
        if "keep_alive" in request.query_params:
            kept.expires_ms = _now_ms() + duration_ms(request.query_params["keep_alive"],
                                                      "keep_alive")
        if kept.task.done() and kept.task.exception() is not None:
            kept.task.result()
        return respond(self._body(search_id, kept), request=request)

    async def status(self, request: Request) -> Response:
        search_id = request.path_params["id"]
        kept = self._find(search_id)
        running = not kept.task.done()
        body: dict[str, Any] = {"id": search_id, "is_running": running, "is_partial": running,
                                "start_time_in_millis": kept.started_ms,
                                "expiration_time_in_millis": kept.expires_ms}
        if not running:
            error = kept.task.exception()
            body["completion_status"] = error.status if isinstance(error, ElasticError) \
                else (500 if error is not None else 200)
        return respond(body, request=request)

    async def delete(self, request: Request) -> Response:
        search_id = request.path_params["id"]
        kept = self._find(search_id)
        with self._lock:
            self._searches.pop(search_id, None)
        if not kept.task.done():
            kept.task.cancel()  # what runs in the thread pool finishes, its result is dropped
        return respond({"acknowledged": True}, request=request)

    # -- helpers ----------------------------------------------------------------------------

    def _find(self, search_id: str) -> Kept:
        with self._lock:
            self._expire()
            kept = self._searches.get(search_id)
        if kept is None:
            raise ElasticError(404, "resource_not_found_exception", search_id)
        return kept

    def _expire(self) -> None:
        now = _now_ms()
        for search_id in [i for i, k in self._searches.items() if k.expires_ms <= now]:
            kept = self._searches.pop(search_id)
            if not kept.task.done():
                kept.task.cancel()

    @staticmethod
    def _body(search_id: str, kept: Kept) -> dict[str, Any]:
        if kept.task.done():
            return {"id": search_id, **kept.task.result()}
        return {"id": search_id, "is_partial": True, "is_running": True,
                "took": _now_ms() - kept.started_ms, "timed_out": False,
                "hits": {"total": {"value": 0, "relation": "eq"}}}


def _new_id() -> str:
    """An opaque id in the alphabet ES's async ids use (URL-safe base64)."""
    return base64.urlsafe_b64encode(uuid.uuid4().bytes + uuid.uuid4().bytes[:6]).decode() \
        .rstrip("=")
