"""The pages of the triage UI over a server's service (lanner.server.service.Service).

- `GET  /app/`               alerts: filters in the query string, paging, counts by rule
- `POST /app/alerts/status`  bulk workflow status with a reason (Kibana's signals/status logic)
- `GET  /app/alerts/{id}`    an alert: its investigation fields, its event (or its sequence's
                             events) and why each matched, the process ancestry, related
                             alerts, its guide with investigate links, tags, assignees, notes
- `POST /app/alerts/{id}/tags|assignees|notes`  change those
- `GET  /app/search`         an EQL or KQL query over the store (with a Query DSL filter and
                             a time range), results as a table
- rules, a rule's page, enabling, manual runs and the ATT&CK matrix: lanner.web.rule_pages
- `/app/static/…`            the stylesheet and the script, from the package

Every store read runs in the thread pool under the service's `write_lock`. Templates escape
everything (Jinja2 autoescape); the guide is Markdown rendered without raw HTML; responses
carry a Content-Security-Policy that lets the page load nothing but this server's assets.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Iterable, Mapping
from dataclasses import fields, replace
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import orjson
from jinja2 import Environment, PackageLoader, select_autoescape
from markdown_it import MarkdownIt
from markupsafe import Markup
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from lanner.detection.guide import render_guide
from lanner.errors import LannerError
from lanner.rules import Rule
from lanner.server import detection_api
from lanner.store.alerts import NOTES, SEVERITY_RANKS, WORKFLOW_STATUSES, AlertFilter
from lanner.store.documents import field_values
from lanner.store.mappings import coercer
from lanner.web import evidence
from lanner.web.investigate import investigate_queries, with_links

log = logging.getLogger(__name__)

PAGE_SIZE = 50
HISTOGRAM_BARS = 48
GROUPINGS = ("rule", "host")
SEARCH_SIZE = 100
LANGUAGES = ("eql", "kql")
SEVERITIES = tuple(SEVERITY_RANKS)
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
HEADERS = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff",
           "Referrer-Policy": "same-origin"}
# The fields of an event shown as the alert table's and search table's columns.
EVENT_COLUMNS = ("@timestamp", "event.category", "host.name", "user.name", "process.name")

_parse_time = coercer("date")
MARKDOWN = MarkdownIt("commonmark", {"html": False}).enable("table").enable("strikethrough")
_ENV = Environment(loader=PackageLoader("lanner.web", "templates"),
                   autoescape=select_autoescape(default=True, default_for_string=True),
                   trim_blocks=True, lstrip_blocks=True)


async def http_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, HTTPException)
    return page("error.html", status=error.status_code, title="Error",
                status_code=error.status_code, detail=str(error.detail))


def page(template: str, status: int = 200, **context: Any) -> HTMLResponse:
    html = _ENV.get_template(template).render(severities=SEVERITIES, **context)
    return HTMLResponse(html, status, headers=HEADERS)


class Pages:
    """The route handlers over one service."""

    def __init__(self, service: Any) -> None:
        self.service = service

    async def locked(self, call: Any, *args: Any, **kwargs: Any) -> Any:
        def run() -> Any:
            with self.service.write_lock:
                return call(*args, **kwargs)
        return await run_in_threadpool(run)

    # -- alerts ---------------------------------------------------------------------------

    async def alerts(self, request: Request) -> Response:
        params = request.query_params
        status = params.get("status", "open")
        if status not in (*WORKFLOW_STATUSES, "all"):
            status = "open"
        severity = params.get("severity", "")
        if severity not in SEVERITIES:
            severity = ""
        group = params.get("group", "rule")
        if group not in GROUPINGS:
            group = "rule"
        chosen = {name: params.get(name, "").strip() for name in (
            "rule", "host", "user", "tactic", "technique", "tag", "assignee", "from", "to",
            "q")}
        chosen.update(status=status, severity=severity,
                      group="" if group == "rule" else group)
        errors = []
        bounds: dict[str, str | None] = {}
        for name, field in (("from", "since"), ("to", "until")):
            bounds[field] = time_bound(chosen[name], end=name == "to") if chosen[name] else None
            if chosen[name] and bounds[field] is None:
                errors.append(f"“{chosen[name]}” is not a time (use 2026-11-20T10:01 or a date)")
        number = _page_number(params.get("page"))
        where = AlertFilter(status=None if status == "all" else status,
                            severity=severity or None, rule_id=chosen["rule"] or None,
                            host=chosen["host"] or None, user=chosen["user"] or None,
                            tactic=chosen["tactic"] or None,
                            technique=chosen["technique"] or None,
                            since=bounds["since"], until=bounds["until"],
                            text=chosen["q"] or None, tag=chosen["tag"] or None,
                            assignee=chosen["assignee"] or None)
        found = await self.locked(self._alerts, where, number, group)
        filters = {k: v for k, v in chosen.items() if v}
        if status == "open":  # the default
            del filters["status"]
        pages = max(1, -(-found["total"] // PAGE_SIZE))
        link = lambda **changes: _url("/app/", filters, **changes)  # noqa: E731
        return page("alerts.html", title="Alerts", nav="alerts", chosen=chosen,
                    rows=[_alert_row(alert) for alert in found["shown"]],
                    total=found["total"], groups=found["groups"], group=group,
                    by_status=found["by_status"],
                    histogram=_histogram(found["histogram"], link), errors=errors,
                    page=number, pages=pages, statuses=WORKFLOW_STATUSES,
                    here=_url("/app/", filters, page=number if number > 1 else None),
                    link=link)

    def _alerts(self, where: AlertFilter, number: int, group: str) -> dict[str, Any]:
        """One screen of alerts, every figure from one SQL statement of its own: the page
        (LIMIT/OFFSET), the groups, the counts by status (which give the total: one scan
        less), the histogram; free text is matched once for all of them."""
        store = self.service.alerts
        kwargs = {field.name: getattr(where, field.name) for field in fields(AlertFilter)}
        with store.matching_text(where.text):  # free text matched once for the four
            shown = store.find(**kwargs, limit=PAGE_SIZE, offset=(number - 1) * PAGE_SIZE)
            if group == "host":
                groups = [{"host": host, "name": host, "count": count}
                          for host, count in store.counts("host", where).items()]
            else:
                groups = store.rule_groups(where)
            by_status = store.counts("status", replace(where, status=None))
            histogram = store.histogram(where, HISTOGRAM_BARS)
        total = sum(count for status, count in by_status.items()
                    if where.status is None or status == where.status)
        return {"shown": shown, "total": total, "groups": groups,
                "by_status": {s: by_status.get(s, 0) for s in WORKFLOW_STATUSES},
                "histogram": histogram}

    async def status(self, request: Request) -> Response:
        check_same_origin(request)
        form = await read_form(request)
        ids = form.get("id", [])
        status = (form.get("status") or [""])[0]
        reason = (form.get("reason") or [""])[0].strip() or None
        back = (form.get("next") or ["/app/"])[0]
        if not back.startswith("/app/") or back.startswith("//"):
            back = "/app/"
        if not ids:
            raise HTTPException(400, "choose at least one alert")
        try:
            await run_in_threadpool(detection_api.set_alert_status, self.service, status,
                                    signal_ids=ids, reason=reason)
        except detection_api.ApiError as error:
            raise HTTPException(error.status_code, error.message) from None
        return RedirectResponse(back, 303, headers=HEADERS)

    # -- one alert ------------------------------------------------------------------------

    async def alert(self, request: Request) -> Response:
        alert_id = request.path_params["alert_id"]
        found = await self.locked(self._alert, alert_id)
        if found is None:
            raise HTTPException(404, f"no alert with id {alert_id}")
        alert, events, rule, extra = found
        note = rule.note if rule is not None else _text(alert, "kibana.alert.rule.note")
        transform = rule.transform if rule is not None else None
        guide = None
        if note:
            guide = with_links(Markup(MARKDOWN.render(render_guide(note, transform, alert))),
                               investigate_queries(note, transform, alert, extra["moment"]))
        related = extra["related"]
        return page("alert.html", title=_text(alert, "kibana.alert.rule.name") or "Alert",
                    nav="alerts", alert=alert, row=_alert_row(alert), guide=guide,
                    events=[(_source_fields(event), _text(event, "kibana.alert.uuid"))
                            for event in events],
                    alert_fields=[(name, value) for name, value in _flatten(alert)
                                  if name.startswith("kibana.")],
                    attack=_attack(alert), statuses=WORKFLOW_STATUSES,
                    here=f"/app/alerts/{alert_id}",
                    reason=_text(alert, "kibana.alert.workflow_reason"),
                    investigation=evidence.investigation_fields(rule, events[0]),
                    matched=extra["matched"], ancestry=extra["ancestry"],
                    related=None if related is None else {
                        **related, "rows": [_alert_row(a) for a in related["alerts"]],
                        "link": _url("/app/", {"status": "all", "host": related["hosts"][0],
                                               "from": _iso(related["since"]),
                                               "to": _iso(related["until"])})},
                    tags=_texts(alert, "kibana.alert.workflow_tags"),
                    assignees=_texts(alert, "kibana.alert.workflow_assignee_ids"),
                    notes=[note for note in alert.get(NOTES) or [] if isinstance(note, dict)])

    def _alert(self, alert_id: str) -> tuple[dict[str, Any], list[dict[str, Any]],
                                             Rule | None, dict[str, Any]] | None:
        found = self._alert_events(alert_id)
        if found is None:
            return None
        alert, events = found
        rule = self._rule(_text(alert, "kibana.alert.rule.rule_id"))
        original = _text(alert, "kibana.alert.original_time") or _text(alert, "@timestamp")
        moment = _moment(original)
        return alert, events, rule, {
            "moment": moment,
            "matched": evidence.why_matched(self.service, rule, events),
            "ancestry": evidence.ancestry(self.service, events[-1]),
            "related": evidence.related_alerts(self.service, alert, moment)}

    async def tags(self, request: Request) -> Response:
        return await self._change_list(request, self.service.alerts.change_tags)

    async def assignees(self, request: Request) -> Response:
        return await self._change_list(request, self.service.alerts.change_assignees)

    async def _change_list(self, request: Request, change: Any) -> Response:
        """Add (the `add` field, comma-separated) and remove (`remove`) tags or assignees."""
        check_same_origin(request)
        alert_id = request.path_params["alert_id"]
        form = await read_form(request)
        add = [v.strip() for text in form.get("add", []) for v in text.split(",") if v.strip()]
        remove = [v for v in form.get("remove", []) if v]
        await self.locked(change, [alert_id], add=add, remove=remove)
        return RedirectResponse(f"/app/alerts/{alert_id}", 303, headers=HEADERS)

    async def notes(self, request: Request) -> Response:
        check_same_origin(request)
        alert_id = request.path_params["alert_id"]
        form = await read_form(request)
        text = (form.get("text") or [""])[0].strip()
        author = (form.get("author") or [""])[0].strip() or None
        if not text:
            raise HTTPException(400, "a note needs some text")
        if not await self.locked(self.service.alerts.add_note, alert_id, text, author=author):
            raise HTTPException(404, f"no alert with id {alert_id}")
        return RedirectResponse(f"/app/alerts/{alert_id}#notes", 303, headers=HEADERS)

    def _alert_events(self, alert_id: str
                      ) -> tuple[dict[str, Any], list[dict[str, Any]]] | None:
        store = self.service.alerts
        alert = store.get(alert_id)
        if alert is None:
            return None
        group = _text(alert, "kibana.alert.group.id")
        if group and not _text(alert, "kibana.alert.building_block_type"):
            # A sequence's alert: its events are the building-block alerts of its group.
            members = [other for other in store.find(
                rule_uuid=_text(alert, "kibana.alert.rule.uuid"), building_blocks=True)
                if _text(other, "kibana.alert.group.id") == group
                and _text(other, "kibana.alert.building_block_type")]
            members.sort(key=lambda other: _first(other, "kibana.alert.group.index") or 0)
            if members:
                return alert, members
        return alert, [alert]

    def _rule(self, rule_id: str) -> Rule | None:
        return next((rule for rule in self.service.rules if rule.rule_id == rule_id), None)

    # -- events search --------------------------------------------------------------------

    async def search(self, request: Request) -> Response:
        params = request.query_params
        query = params.get("q", "")
        language = params.get("lang", "eql")
        if language not in LANGUAGES:
            language = "eql"
        index = params.get("index", "").strip() or "*"
        size = _page_number(params.get("size"), SEARCH_SIZE, most=10_000)
        chosen = {name: params.get(name, "").strip() for name in ("filter", "from", "to")}
        result: dict[str, Any] | None = None
        error: dict[str, Any] | None = None
        try:
            search_filter = _search_filter(chosen)
        except ValueError as failure:
            search_filter = None
            error = {"message": str(failure), "line": None, "col": None, "excerpt": None}
        wanted = query.strip() or (language == "kql" and search_filter is not None)
        if wanted and error is None:
            try:
                result = await self.locked(self._search, language, index, query, size,
                                           search_filter)
            except LannerError as failure:
                error = _error(failure, query)
            except Exception as failure:  # a search page shows why, whatever it was
                log.warning("%s search failed", language, exc_info=failure)
                error = {"message": f"{type(failure).__name__}: {failure}", "line": None,
                         "col": None, "excerpt": None}
        events, sequences, total = [], [], 0
        if result is not None:
            hits = result.get("hits", {})
            total = hits.get("total", {}).get("value", 0)
            events = [_hit_row(hit) for hit in hits.get("events", hits.get("hits", []))]
            sequences = [{"keys": sequence.get("join_keys") or [],
                          "events": [_hit_row(hit) for hit in sequence.get("events", [])]}
                         for sequence in hits.get("sequences", [])]
        return page("search.html", title="Events search", nav="search", query=query,
                    chosen=chosen, language=language, languages=LANGUAGES,
                    index=index, size=size, error=error, events=events, sequences=sequences,
                    total=total, ran=result is not None, columns=EVENT_COLUMNS,
                    took=None if result is None else result.get("took"))

    def _search(self, language: str, index: str, query: str, size: int,
                search_filter: dict[str, Any] | None) -> dict[str, Any]:
        """EQL through the EQL search API (`filter` beside the query); KQL through the
        search API, compiled as the detection engine compiles it, the filter ANDed."""
        client = self.service.client
        if language == "kql":
            return client.search(index, query=search_filter, kql=query.strip() or None,
                                 size=size)
        body: dict[str, Any] = {"query": query, "size": size}
        if search_filter is not None:
            body["filter"] = search_filter
        return client.eql.search(index, body=body)


# -- helpers ----------------------------------------------------------------------------------


def _search_filter(chosen: Mapping[str, str]) -> dict[str, Any] | None:
    """The search's Query DSL filter (JSON) and time range (on @timestamp) as one filter."""
    clauses: list[Any] = []
    if chosen["filter"]:
        try:
            clauses.append(orjson.loads(chosen["filter"]))
        except orjson.JSONDecodeError as error:
            raise ValueError(f"the filter is not JSON: {error}") from None
        if not isinstance(clauses[0], dict):
            raise ValueError("the filter must be a Query DSL object")
    bounds = {}
    for name, key in (("from", "gte"), ("to", "lte")):
        if chosen[name]:
            bound = time_bound(chosen[name], end=name == "to")
            if bound is None:
                raise ValueError(f"“{chosen[name]}” is not a time (use 2026-11-20T10:01)")
            bounds[key] = bound
    if bounds:
        clauses.append({"range": {"@timestamp": bounds}})
    if not clauses:
        return None
    return clauses[0] if len(clauses) == 1 else {"bool": {"filter": clauses}}


def _moment(text: str) -> datetime.datetime | None:
    """An ES date string as an aware datetime (UTC), or None."""
    try:
        nanos = _parse_time(text) if text else None
    except ValueError:
        return None
    if nanos is None:
        return None
    return datetime.datetime.fromtimestamp(nanos / 1e9, datetime.UTC)


def check_same_origin(request: Request) -> None:
    """Refuse a form posted from another site (a browser sends Origin on every POST)."""
    origin = request.headers.get("origin")
    if origin is not None and origin != "null":
        if urlsplit(origin).netloc != request.headers.get("host"):
            raise HTTPException(403, "cross-site form posts are refused")
    elif origin == "null":
        raise HTTPException(403, "cross-site form posts are refused")


async def read_form(request: Request) -> dict[str, list[str]]:
    """A urlencoded form (what the pages post), without python-multipart."""
    if not request.headers.get("content-type", "").startswith(
            "application/x-www-form-urlencoded"):
        raise HTTPException(415, "expected a form (application/x-www-form-urlencoded)")
    body = await request.body()
    if len(body) > 1 << 20:
        raise HTTPException(413, "the form is too large")
    return parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)


def _page_number(value: str | None, default: int = 1, most: int = 1_000_000) -> int:
    try:
        number = int(value) if value is not None else default
    except ValueError:
        return default
    return min(max(number, 1), most)


def _url(path: str, filters: Mapping[str, str], **changes: Any) -> str:
    merged = {**filters, **{k: v for k, v in changes.items()}}
    query = {k: v for k, v in merged.items() if v not in (None, "")}
    return path + ("?" + urlencode(query) if query else "")


def time_bound(text: str, *, end: bool = False) -> str | None:
    """A time filter as the store reads it (ISO 8601, a date, a `datetime-local` value), or
    None when it is not one; a bare date as the end of a range means its whole day."""
    if end and len(text) == 10:
        text += "T23:59:59.999Z"
    try:
        _parse_time(text)
    except ValueError:
        return None
    return text


def _histogram(buckets: list[tuple[datetime.datetime, datetime.datetime, int]],
               link: Any) -> dict[str, Any] | None:
    """The histogram's bars as SVG geometry (no inline style: the CSP forbids it), each a
    link that narrows the time range to its interval."""
    if not buckets:
        return None
    most = max(count for _, _, count in buckets) or 1
    width, height = 720, 64
    step = width / len(buckets)
    bars = []
    for number, (start, end, count) in enumerate(buckets):
        tall = round(height * count / most, 1) if count else 0
        bars.append({"x": round(number * step, 1), "w": max(round(step - 1, 1), 1),
                     "y": round(height - tall, 1), "h": tall, "count": count,
                     "start": short_time(start), "end": short_time(end),
                     "href": link(**{"from": _iso(start), "to": _iso(end), "page": None})})
    return {"bars": bars, "width": width, "height": height,
            "total": sum(count for _, _, count in buckets),
            "first": short_time(buckets[0][0]), "last": short_time(buckets[-1][1])}


def _iso(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.UTC).isoformat(timespec="milliseconds").replace(
        "+00:00", "Z")


def _first(document: Any, path: str) -> Any:
    found = field_values(document, path)
    return found[0] if found else None


def _text(document: Any, path: str) -> str:
    value = _first(document, path)
    return "" if value is None else str(value)


def _texts(document: Any, path: str) -> list[str]:
    return list(dict.fromkeys(str(value) for value in field_values(document, path)))


def short_time(moment: datetime.datetime | str | None) -> str:
    if moment is None or moment == "":
        return ""
    if isinstance(moment, datetime.datetime):
        moment = moment.astimezone(datetime.UTC).isoformat()
    text = str(moment).replace("T", " ")
    return text[:19] + ("Z" if len(text) > 19 else "")


def _alert_row(alert: Mapping[str, Any]) -> dict[str, Any]:
    severity = _text(alert, "kibana.alert.severity")
    return {
        "id": _text(alert, "kibana.alert.uuid"),
        "severity": severity if severity in SEVERITIES else "unknown",
        "severity_text": severity,
        "risk": _first(alert, "kibana.alert.risk_score"),
        "rule": _text(alert, "kibana.alert.rule.name"),
        "rule_id": _text(alert, "kibana.alert.rule.rule_id"),
        "hosts": _texts(alert, "host.name"),
        "users": _texts(alert, "user.name"),
        "reason": _text(alert, "kibana.alert.reason"),
        "time": short_time(_text(alert, "kibana.alert.original_time")
                           or _text(alert, "@timestamp")),
        "status": _text(alert, "kibana.alert.workflow_status"),
        "tags": _texts(alert, "kibana.alert.workflow_tags"),
    }


def _attack(alert: Mapping[str, Any]) -> dict[str, list[str]]:
    techniques = [f"{tid} {name}" for tid, name in zip(
        field_values(alert, "kibana.alert.rule.threat.technique.id"),
        field_values(alert, "kibana.alert.rule.threat.technique.name"), strict=False)]
    return {"tactics": _texts(alert, "kibana.alert.rule.threat.tactic.name"),
            "techniques": list(dict.fromkeys(techniques))}


def _flatten(value: Any, prefix: str = "") -> Iterable[tuple[str, str]]:
    """A document's fields as (dotted name, text), sorted; arrays of scalars as JSON."""
    if isinstance(value, Mapping):
        for key in sorted(value, key=str):
            yield from _flatten(value[key], f"{prefix}.{key}" if prefix else str(key))
        return
    if isinstance(value, list) and value and all(isinstance(item, Mapping) for item in value):
        for number, item in enumerate(value):
            yield from _flatten(item, f"{prefix}[{number}]")
        return
    if isinstance(value, (list, dict)):
        yield prefix, orjson.dumps(value).decode()
    elif value is None:
        yield prefix, "null"
    else:
        yield prefix, str(value)


def _source_fields(document: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The event's own fields of an alert (without the `kibana.*` ones), sorted."""
    original = _text(document, "kibana.alert.original_time")  # the alert's @timestamp is
    return [(name, original if name == "@timestamp" and original else text)  # its creation
            for name, text in _flatten(document)
            if not name.startswith(("kibana.", "kibana["))]


def _hit_row(hit: Mapping[str, Any]) -> dict[str, Any]:
    source = hit.get("_source") or {}
    return {"index": hit.get("_index", ""), "id": hit.get("_id", ""),
            "columns": [", ".join(_texts(source, column)) for column in EVENT_COLUMNS],
            "fields": list(_flatten(source))}


def _error(failure: LannerError, query: str) -> dict[str, Any]:
    span = getattr(failure, "span", None)
    line = getattr(span, "line", None)
    col = getattr(span, "col", None)
    message = getattr(failure, "message", None) or str(failure)
    excerpt = None
    if line is not None:
        lines = query.splitlines() or [""]
        if 1 <= line <= len(lines):
            excerpt = {"text": lines[line - 1], "caret": " " * max((col or 1) - 1, 0) + "^"}
    return {"message": message, "line": line, "col": col, "excerpt": excerpt}
