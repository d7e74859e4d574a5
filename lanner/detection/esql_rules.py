"""ES|QL rules, as Kibana's `esqlExecutor` runs them (OTHER-RULE-TYPES.md §5).

One window: the rule's query over the indices of its `FROM` (Kibana's
`getIndexListFromEsqlQuery`), the source documents filtered by the window on the rule's
timestamp and by its exceptions (Query DSL filters of the request, §5.1), `| limit
max_signals + 1` appended. A query is aggregating when it has a top-level STATS (§5.2):

* a non-aggregating row is one event (`METADATA _id` is injected when the query lacks it, as
  newest Kibana's `injectMetadataId` does): its alert is the source document with every column
  of the row written over it (`mergeEsqlResultInSource`: a column `a.b` unsets the nested
  `a.b`, then sets the dotted key), id `objectHash([_id, _version, _index, "<space>:<rule>",
  ...values of MV_EXPAND-ed columns])`, so overlapping runs de-duplicate per event (and value);
* an aggregating row (or one whose `_id` column was not kept) is a document of its non-null
  columns alone, id `objectHash([from ISO, to ISO, query, "<space>:<rule>", row number])`:
  the window is in the id, so each run alerts again; only suppression stops repeats.

Paging (§5.4): rows are fetched `max_signals + 1` at a time; rows whose alert the store holds
already do not count against `max_signals` (Kibana excludes their ids and queries again), and a
window with more new rows than `max_signals` is cut and says so. A hunt's window has no time
bounds: its aggregating ids use "" for a missing bound, so the same hunt over the same events
gives the same ids (rows come in group-key order).

Not runnable, by name: COMPLETION (an LLM). `_version` in ids is the row's `_version` column,
else 1 (the version of a document indexed once): not checked against a running Kibana.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import orjson

from lanner import esql
from lanner.detection.aggregating import object_hash
from lanner.detection.alerts import SPACE_ID, SourceEvent, event_alert, is_own_alert, iso
from lanner.detection.executors import UNLIMITED, WindowAlerts, WindowJob
from lanner.engine.esql_sql import Row, Translation, run
from lanner.engine.search import SearchRequest, SearchResult
from lanner.errors import LannerError
from lanner.esql import ast
from lanner.rules import Rule, place_issue

# Rounds of re-querying past rows already alerted on, before a window gives up (Kibana stops at
# the 100,000 excluded ids of its state; each round here at least doubles the rows read).
_MAX_PAGES = 16


class EsqlRuleError(LannerError):
    """An ES|QL rule's query failed: the message places it in the rule file."""


class EsqlExecutor:
    """The executor of `type = "esql"` rules (registered in lanner.detection.run)."""

    def requests(self, job: WindowJob) -> list[SearchRequest]:
        return []  # the query runs in `alerts`, through the engine's ES|QL translation

    def refuses(self, rule: Rule) -> str | None:
        """Why the rule cannot run offline (COMPLETION), so hunts leave it out; a query that
        does not parse is not refused here: its run reports the error at its place."""
        try:
            why = esql.not_runnable(prepared(rule.query))
        except esql.EsqlError:
            return None
        return f"not runnable offline: {why}" if why else None

    def alerts(self, job: WindowJob, results: list[SearchResult]) -> WindowAlerts:
        try:
            return self._alerts(job)
        except esql.EsqlError as error:
            raise EsqlRuleError(str(place_issue(job.rule, error.as_issue()))) from None

    def _alerts(self, job: WindowJob) -> WindowAlerts:
        rule = job.rule
        query = prepared(rule.query)
        why = esql.not_runnable(query)
        if why:
            raise esql.EsqlNotRunnableError(f"ES|QL rule not runnable offline: {why}",
                                            _command_span(query))
        patterns = list(query.source.indices)
        scope = job.round.scope(patterns, job.event_filter())
        compiler = job.round.compiler(replace(scope, filter_sql=None))
        cap = job.window.max_signals
        limit = UNLIMITED if cap is None else cap + 1
        aggregating = query.is_aggregating
        alerts: list[dict[str, Any]] = []
        fresh = 0
        for _ in range(_MAX_PAGES):
            translation, rows = run(job.backend, query, scope.indices,
                                    filter_sql=scope.filter_sql, now=job.context.started_at,
                                    limit=limit, compiler=compiler)
            alerts = self._row_alerts(job, translation, rows, aggregating)
            known = job.known(a["kibana.alert.uuid"] for a in alerts) if alerts else set()
            fresh = len(alerts) - len(known)
            if cap is None or len(rows) < limit or fresh > cap or aggregating:
                break
            limit = UNLIMITED if limit > UNLIMITED // 2 else limit * 2
        hits = len(alerts)
        reached = cap is not None and fresh > cap  # alerts already stored do not count
        if reached:
            alerts = _first_new(alerts, job, cap)
        return WindowAlerts(hits, alerts, reached)

    def _row_alerts(self, job: WindowJob, translation: Translation, rows: list[Row],
                    aggregating: bool) -> list[dict[str, Any]]:
        kept_id = any(c.name == "_id" for c in translation.columns)
        events = translation.doc and kept_id and not aggregating
        documents = job.backend.documents([r.doc for r in rows]) if events else {}
        alerts: list[dict[str, Any]] = []
        seen: set[str] = set()
        for position, row in enumerate(rows):
            document = documents.get(row.doc) if events else None
            if document is not None:
                event = SourceEvent(document.index, document.id,
                                    merged_source(orjson.loads(document.source), row.values))
                if is_own_alert(event, job.rule):
                    continue
                expanded = [row.values.get(name) for name in translation.expanded]
                identity = [document.id, row.values.get("_version", 1), document.index,
                            f"{SPACE_ID}:{job.context.rule_uuid}", *expanded]
            else:
                event = SourceEvent("", "", dotted_row(row.values))
                window = job.window
                identity = [iso(window.start) if window.start else "",
                            iso(window.end) if window.end else "", job.rule.query,
                            f"{SPACE_ID}:{job.context.rule_uuid}", position]
            alert = event_alert(event, job.context)
            if alert.get("kibana.alert.original_time") is None:  # a row without @timestamp
                alert.pop("kibana.alert.original_time", None)
            alert["kibana.alert.uuid"] = object_hash(_hashable(identity))
            if alert["kibana.alert.uuid"] in seen:  # uniqBy within a page
                continue
            seen.add(alert["kibana.alert.uuid"])
            alerts.append(alert)
        return alerts


@functools.lru_cache(maxsize=512)
def prepared(text: str) -> ast.Query:
    """The rule's query, parsed once, with `METADATA _id` injected into a non-aggregating
    query that lacks it (Kibana's `injectMetadataId`)."""
    query = esql.parse(text)
    source = query.source
    if query.is_aggregating or "_id" in source.metadata:
        return query
    injected = replace(source, metadata=(*source.metadata, "_id"))
    return replace(query, commands=(injected, *query.commands[1:]))


def merged_source(source: dict[str, Any], columns: Mapping[str, Any]) -> dict[str, Any]:
    """Kibana's mergeEsqlResultInSource: each column (metadata aside) replaces the source's
    value at its path, written as a dotted key."""
    for name, value in columns.items():
        if name.startswith("_"):
            continue
        _unset(source, name)
        source[name] = value
    return source


def dotted_row(columns: Mapping[str, Any]) -> dict[str, Any]:
    """An id-less row's document: its non-null columns as dotted keys (`rowToDocument`)."""
    return {name: value for name, value in columns.items() if not name.startswith("_")}


def _unset(source: dict[str, Any], path: str) -> None:
    """lodash `unset`: remove the value at a dotted path, nested or dotted at any level."""
    if path in source:
        del source[path]
        return
    head, _, rest = path.partition(".")
    while rest:
        child = source.get(head)
        if isinstance(child, dict):
            _unset(child, rest)
        more, _, rest = rest.partition(".")
        head = f"{head}.{more}"


def _hashable(values: list[Any]) -> list[Any]:
    """Values object-hash takes: lists stay lists, others as the row gives them."""
    return [list(v) if isinstance(v, tuple) else v for v in values]


def _first_new(alerts: list[dict[str, Any]], job: WindowJob, cap: int) -> list[dict[str, Any]]:
    """The first `cap` alerts the store does not hold, and the known ones before them (which
    the run counts as duplicates): Kibana's `maxAlerts` cut."""
    known = job.known(a["kibana.alert.uuid"] for a in alerts)
    kept, new = [], 0
    for alert in alerts:
        if alert["kibana.alert.uuid"] not in known:
            if new == cap:
                break
            new += 1
        kept.append(alert)
    return kept


def _command_span(query: ast.Query) -> Any:
    for command in query.commands:
        if isinstance(command, ast.Completion):
            return command.span
    return None
