"""Kibana's custom query executor (`type = "query"`): the rule's KQL, as Query DSL, filters the
events of each window, earliest first (OTHER-RULE-TYPES.md §2).

The search is the engine's event search, `any where true`, with the rule filter in the
request's `filter`: the KQL query (Elasticsearch's `kql` query, which the engine compiles as
Kibana's `toElasticsearchQuery` would, typed by the searched indices' fields), the rule's
Kibana `filters`, the window and the exceptions, all ANDed (`getFilter`, `buildEventsQuery`).
Hits come sorted on the primary timestamp, then `@timestamp` when the override may fall back,
then the shard-doc order: the engine's timestamp and tiebreaker fields. Kibana pages past
alerts that already exist (they do not use up `max_signals`), so a full page whose alerts the
store already holds is searched again, larger, until `max_signals` new alerts or the end.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from lanner.detection.executors import (
    UNLIMITED,
    WindowAlerts,
    WindowJob,
    event_alerts,
)
from lanner.engine.search import SearchRequest, SearchResult, search
from lanner.kql.dsl import lucene_to_query_dsl
from lanner.rules import Rule

# The engine's event search for "every event": the filter does the selecting.
EVERY_EVENT = "any where true"


def query_clause(query: str, language: str | None) -> dict[str, Any]:
    """The Query DSL of a rule's query text in its language (KQL by default)."""
    if (language or "kuery") == "lucene":
        return lucene_to_query_dsl(query)
    return {"kql": {"query": query}}


def filters_clause(filters: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
    """Kibana's `buildQueryFromFilters` for a rule's `filters`: each enabled filter's `query`
    (or, in the older shape, the filter without its `meta` and `$state`), a negated one under
    `must_not`."""
    kept: list[dict[str, Any]] = []
    negated: list[dict[str, Any]] = []
    for item in filters:
        meta = item.get("meta") or {}
        if meta.get("disabled"):
            continue
        query = item.get("query")
        if not isinstance(query, Mapping):
            query = {k: v for k, v in item.items() if k not in ("meta", "$state", "query")}
        if not query:
            continue
        (negated if meta.get("negate") else kept).append(dict(query))
    if not kept and not negated:
        return None
    return {"bool": {"filter": kept, "must_not": negated}}


def rule_filter(rule: Rule) -> dict[str, Any]:
    """The rule's `getFilter`: its query and its filters, ANDed."""
    clauses = [query_clause(rule.query, rule.language), filters_clause(rule.filters)]
    return {"bool": {"filter": [c for c in clauses if c]}}


def sort_fields(rule: Rule) -> tuple[str, str | None]:
    """Kibana's sort of the events search: the primary timestamp, and `@timestamp` second when
    an override may fall back to it."""
    primary = rule.timestamp_override or "@timestamp"
    if primary == "@timestamp" or rule.timestamp_override_fallback_disabled:
        return primary, None
    return primary, "@timestamp"


class QueryExecutor:
    """`type = "query"`: one event search per window, earliest events first."""

    def requests(self, job: WindowJob) -> list[SearchRequest]:
        return [self._request(job, _first_size(job))]

    def alerts(self, job: WindowJob, results: list[SearchResult]) -> WindowAlerts:
        (result,) = results
        size = _first_size(job)
        if size == UNLIMITED:
            return WindowAlerts(len(result.events), event_alerts(result.events, job.context))
        cap = job.size
        while True:
            alerts = event_alerts(result.events, job.context)
            known = job.known(a["kibana.alert.uuid"] for a in alerts)
            fresh = [a for a in alerts if a["kibana.alert.uuid"] not in known]
            if len(result.events) < size or len(fresh) > cap:
                break
            # a full page whose alerts partly exist already: Kibana pages on past them
            size += len(result.events) - len(fresh)
            result = search(job.backend, self._request(job, size))
        kept = {a["kibana.alert.uuid"] for a in fresh[:cap]} | known
        return WindowAlerts(len(result.events),
                            [a for a in alerts if a["kibana.alert.uuid"] in kept],
                            reached_max_signals=len(fresh) > cap)

    def _request(self, job: WindowJob, size: int) -> SearchRequest:
        rule = job.rule
        primary, secondary = sort_fields(rule)
        scope = job.round.scope(rule.index, job.event_filter(rule_filter(rule)),
                                timestamp_field=primary, tiebreaker_field=secondary,
                                now=job.context.started_at)
        return SearchRequest(EVERY_EVENT, scope, size, result_position="head")


def _first_size(job: WindowJob) -> int:
    """One more than the cap, so that a window with more new alerts than it allows shows it
    (Kibana's max-signals warning); suppression groups every event of the window."""
    if job.size == UNLIMITED or job.rule.alert_suppression is not None:
        return UNLIMITED
    return job.size + 1
