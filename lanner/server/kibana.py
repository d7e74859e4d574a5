"""Kibana's detection engine API under `/api/detection_engine/`: the part scripts use.

The routes only read requests and shape responses; `lanner.server.detection_api` does the
work. Responses take Kibana's shapes; bad input gets Kibana's error body
(`{statusCode, error, message}`) and a 4xx, never a 500.

- `GET  /api/detection_engine/rules/_find`          rules, their status and last execution
- `POST /api/detection_engine/rules/_bulk_action`   enable, disable, run (manual run)
- `POST /api/detection_engine/signals/search`       Query DSL over the alerts
- `POST /api/detection_engine/signals/status`       set workflow_status by ids or query
- `POST /api/detection_engine/signals/tags`         add and remove workflow tags by ids
- `POST /api/detection_engine/signals/assignees`    add and remove assignees by ids
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from http import HTTPStatus
from typing import Any

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from lanner.errors import LannerError
from lanner.server import detection_api as api
from lanner.server.alert_workflow import ValidationErrors, set_alert_assignees, set_alert_tags
from lanner.server.detection_api import ApiError, Service

log = logging.getLogger(__name__)

PREFIX = "/api/detection_engine"
Handler = Callable[[Request], Awaitable[Response]]


def kibana_routes(service: Service) -> list[BaseRoute]:
    """The detection engine routes over a service (see lanner.server.service.Service)."""

    async def find(request: Request) -> Response:
        params = request.query_params
        page = _int_param(params.get("page"), "page", 1)
        per_page = _int_param(params.get("per_page"), "per_page", 20)
        result = await run_in_threadpool(
            api.find_rules, service, page=page, per_page=per_page,
            filter_=params.get("filter"), sort_field=params.get("sort_field"),
            sort_order=params.get("sort_order"))
        return _json({"page": result.page, "perPage": result.per_page,
                      "total": result.total, "data": result.data})

    async def bulk(request: Request) -> Response:
        body = await _body(request)
        action = body.get("action")
        if not isinstance(action, str):
            raise ApiError(400, "[request body]: action: Required")
        ids = body.get("ids")
        if ids is not None and (not isinstance(ids, list)
                                or not all(isinstance(i, str) for i in ids)):
            raise ApiError(400, "[request body]: ids: Expected array of strings")
        query = body.get("query")
        if query is not None and not isinstance(query, str):
            raise ApiError(400, "[request body]: query: Expected string")
        if request.query_params.get("dry_run") in ("true", "1"):
            raise ApiError(400, "dry_run is not supported by Lanner")
        outcome = await run_in_threadpool(api.bulk_action, service, action, ids=ids,
                                          query=query, run=body.get("run"))
        return _json(bulk_response(outcome), status=400 if outcome.failed else 200)

    async def search(request: Request) -> Response:
        body = await _body(request, empty_ok=True)
        parsed = api.parse_search(body)
        return _json(await run_in_threadpool(api.search_alerts, service, parsed))

    async def status(request: Request) -> Response:
        body = await _body(request)
        update = await run_in_threadpool(
            api.set_alert_status, service, body.get("status"),
            signal_ids=body.get("signal_ids"), query=body.get("query"),
            reason=body.get("reason"))
        return _json(update.as_kibana())

    async def tags(request: Request) -> Response:
        body = await _body(request)
        return _json((await run_in_threadpool(set_alert_tags, service, body)).as_kibana())

    async def assignees(request: Request) -> Response:
        body = await _body(request)
        return _json((await run_in_threadpool(set_alert_assignees, service, body)).as_kibana())

    return [
        Route(f"{PREFIX}/rules/_find", _guarded(find), methods=["GET"]),
        Route(f"{PREFIX}/rules/_bulk_action", _guarded(bulk), methods=["POST"]),
        Route(f"{PREFIX}/signals/search", _guarded(search), methods=["POST"]),
        Route(f"{PREFIX}/signals/status", _guarded(status), methods=["POST"]),
        Route(f"{PREFIX}/signals/tags", _guarded(tags), methods=["POST"]),
        Route(f"{PREFIX}/signals/assignees", _guarded(assignees), methods=["POST"]),
    ]


def bulk_response(outcome: api.BulkOutcome) -> dict[str, Any]:
    """Kibana's bulk action body: `success` and the results, or, when a rule failed, the
    message Kibana gives with the same attributes."""
    summary = {"failed": outcome.failed, "skipped": len(outcome.skipped),
               "succeeded": len(outcome.updated), "total": outcome.total}
    attributes: dict[str, Any] = {
        "results": {"updated": outcome.updated, "created": [], "deleted": [],
                    "skipped": outcome.skipped},
        "summary": summary,
    }
    if outcome.failed:
        attributes["errors"] = outcome.errors
        message = "Bulk edit partially failed" if outcome.updated else "Bulk edit failed"
        return {"message": message, "status_code": 400, "rules_count": outcome.total,
                "attributes": attributes}
    return {"success": True, "rules_count": outcome.total, "attributes": attributes}


def error_body(status_code: int, message: str) -> dict[str, Any]:
    return {"statusCode": status_code, "error": HTTPStatus(status_code).phrase,
            "message": message}


def _guarded(handler: Handler) -> Handler:
    """Errors as Kibana shapes them: a 4xx for bad input (ApiError, LannerError); any other
    exception is Lanner's own fault, answered as Kibana answers one (a 500, "An internal
    server error occurred.", the details in the server's log)."""

    async def guarded(request: Request) -> Response:
        try:
            return await handler(request)
        except ValidationErrors as error:
            return _json(error.body(), status=error.status_code)
        except ApiError as error:
            return _json(error_body(error.status_code, error.message),
                         status=error.status_code)
        except LannerError as error:
            return _json(error_body(400, str(error)), status=400)
        except Exception:
            log.exception("detection engine API: %s %s", request.method, request.url.path)
            return _json(error_body(500, "An internal server error occurred."), status=500)

    return guarded


async def _body(request: Request, *, empty_ok: bool = False) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        if empty_ok:
            return {}
        raise ApiError(400, "[request body]: Expected object, received nothing")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise ApiError(400, f"[request body]: invalid JSON: {error}") from None
    if not isinstance(body, Mapping):
        raise ApiError(400, f"[request body]: Expected object, received "
                            f"{type(body).__name__}")
    return dict(body)


def _int_param(text: str | None, name: str, default: int) -> int:
    if text is None or text == "":
        return default
    try:
        return int(text)
    except ValueError:
        raise ApiError(400, f"[request query]: {name}: Expected number, received "
                            f"{text!r}") from None


def _json(body: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(body, option=orjson.OPT_NON_STR_KEYS), status_code=status,
                    media_type="application/json; charset=utf-8")
