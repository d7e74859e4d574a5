"""Kibana's indicator match executor (`type = "threat_match"`, OTHER-RULE-TYPES.md §6).

Indicators are documents of the store like events: the rule's `threat_index` patterns are
resolved as its `index` ones, and `threat_query` (KQL, date math counted from the execution's
start), `threat_filters`, "every field of some mapping group exists" and the rule's exceptions
select them, with no time window beyond what `threat_query` says. The events are then searched
as a query rule's, in each window, with one more filter built from the indicators
(`buildEntriesMappingFilter`): mapping groups ORed; a one-entry group a `terms` on the event
field with the first value of each indicator's field; a group of several entries one
`bool.filter` of `match` per indicator whose mapped fields each hold exactly one value. The
latest events come first (Kibana pages indicators and sorts the events descending).

Each alert gets `threat.enrichments` (kept and appended to): per matching indicator, at most
200, the object at `threat_indicator_path`, the feed's name and what matched
(`enrich_signal_threat_matches.ts`). The alert is otherwise a query rule's, with the same id.

Kibana chooses to page whichever side is smaller (§6.1), which changes only which array
values take part; Lanner always pages the indicators.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from lanner.detection.alerts import lookup
from lanner.detection.executors import UNLIMITED, WindowAlerts, WindowJob, event_alerts
from lanner.detection.query_rules import (
    EVERY_EVENT,
    filters_clause,
    query_clause,
    rule_filter,
    sort_fields,
)
from lanner.engine.search import SearchRequest, SearchResult, search
from lanner.rules import Rule
from lanner.rules.model import ThreatMappingEntry

MAX_MATCHES_PER_EVENT = 200  # Kibana's MAX_NUMBER_OF_SIGNAL_MATCHES
DEFAULT_INDICATOR_PATH = "threat.indicator"
MATCH_TYPE = "indicator_match_rule"


@dataclass(frozen=True, slots=True)
class Indicator:
    """An indicator document: where it lives and its source."""

    index: str
    id: str
    source: dict[str, Any]


class ThreatMatchExecutor:
    """`type = "threat_match"`: the rule's indicators once per round, then one event search
    per window filtered by their values."""

    def requests(self, job: WindowJob) -> list[SearchRequest]:
        rule = job.rule
        match = mapping_filter(rule.threat_mapping, self.indicators(job))
        if match is None:
            return []  # no indicator: nothing can match
        primary, secondary = sort_fields(rule)
        scope = job.round.scope(rule.index, job.event_filter(rule_filter(rule), match),
                                timestamp_field=primary, tiebreaker_field=secondary,
                                now=job.context.started_at)
        size = job.size if job.size == UNLIMITED else job.size + 1  # one more: the warning
        return [SearchRequest(EVERY_EVENT, scope, size, result_position="tail")]

    def alerts(self, job: WindowJob, results: list[SearchResult]) -> WindowAlerts:
        if not results:
            return WindowAlerts(0, [])
        (result,) = results
        indicators = self.indicators(job)
        reached = len(result.events) > job.size
        events = result.events[1:] if reached else result.events  # the latest max_signals
        alerts = event_alerts(events, job.context)
        for alert in alerts:
            enrich(alert, job.rule, indicators)
        return WindowAlerts(len(events), alerts, reached)

    def indicators(self, job: WindowJob) -> list[Indicator]:
        """The rule's indicators, searched once per round (every window shares them)."""
        rule = job.rule
        key = ("threat_match", rule, job.context.started_at)
        found = job.round.memo.get(key)
        if found is None:
            clauses = [query_clause(rule.threat_query or "", rule.threat_language),
                       filters_clause(rule.threat_filters),
                       indicator_exists_filter(rule.threat_mapping), job.exceptions]
            query_filter = {"bool": {"filter": [dict(c) for c in clauses if c]}}
            scope = job.round.scope(rule.threat_index, query_filter,
                                    now=job.context.started_at)
            hits = search(job.backend, SearchRequest(EVERY_EVENT, scope, UNLIMITED,
                                                     result_position="head")).events
            found = job.round.memo[key] = [
                Indicator(doc.index, doc.id, orjson.loads(doc.source)) for doc in hits]
        return found


def indicator_exists_filter(
        mapping: Sequence[Sequence[ThreatMappingEntry]]) -> dict[str, Any] | None:
    """Kibana's `getMappingFilters` on the indicator side: some group whose every indicator
    field exists (negated entries left out)."""
    groups = [[{"exists": {"field": e.value}} for e in group if not e.negate]
              for group in mapping]
    groups = [g for g in groups if g]
    if not groups:
        return None
    return {"bool": {"should": [{"bool": {"must": g}} for g in groups],
                     "minimum_should_match": 1}}


def mapping_filter(mapping: Sequence[Sequence[ThreatMappingEntry]],
                   indicators: Sequence[Indicator]) -> dict[str, Any] | None:
    """The events filter the indicators make (`buildEntriesMappingFilter`); None when no
    indicator can match any event."""
    should: list[dict[str, Any]] = []
    for group in mapping:
        entries = [e for e in group if not e.negate]
        if len(entries) == 1:
            (entry,) = entries
            values = list(dict.fromkeys(
                value for value in (_first(i.source, entry.value) for i in indicators)
                if value is not None))
            if values:
                should.append({"terms": {entry.field: values}})
            continue
        for indicator in indicators:
            values = [_single(indicator.source, e.value) for e in entries]
            if entries and all(v is not None for v in values):
                should.append({"bool": {"filter": [
                    {"match": {e.field: {"query": v}}}
                    for e, v in zip(entries, values, strict=True)]}})
    if not should:
        return None
    return {"bool": {"should": should, "minimum_should_match": 1}}


def enrich(alert: dict[str, Any], rule: Rule, indicators: Sequence[Indicator]) -> None:
    """Add to the alert's `threat.enrichments` one object per indicator that matches it."""
    path = rule.threat_indicator_path or DEFAULT_INDICATOR_PATH
    found: list[dict[str, Any]] = []
    for group in rule.threat_mapping:
        entries = [e for e in group if not e.negate]
        if not entries:
            continue
        for indicator in indicators:
            matched = _matched_value(alert, indicator, entries)
            if matched is None:
                continue
            entry, atomic = matched
            found.append(_enrichment(indicator, path, entry, atomic))
            if len(found) >= MAX_MATCHES_PER_EVENT:
                break
    if not found:
        return
    existing = lookup(alert, "threat.enrichments")
    enrichments = [*(existing if isinstance(existing, list) else []), *found]
    threat = alert.get("threat")
    if isinstance(threat, Mapping):
        alert["threat"] = {**threat, "enrichments": enrichments}
    else:
        alert["threat.enrichments"] = enrichments


def _matched_value(alert: Mapping[str, Any], indicator: Indicator,
                   entries: Sequence[ThreatMappingEntry]) -> tuple[ThreatMappingEntry, Any] | None:
    """The first entry and its value when the indicator matches the event on every entry of
    the group (as the event search's filter matched it)."""
    first: tuple[ThreatMappingEntry, Any] | None = None
    for entry in entries:
        wanted = (_first(indicator.source, entry.value) if len(entries) == 1
                  else _single(indicator.source, entry.value))
        if wanted is None or not any(_same(value, wanted)
                                     for value in _values(alert, entry.field)):
            return None
        first = first or (entry, wanted)
    return first


def _enrichment(indicator: Indicator, path: str, entry: ThreatMappingEntry,
                atomic: Any) -> dict[str, Any]:
    found = lookup(indicator.source, path)
    if isinstance(found, list):
        found = found[0] if found else None
    feed = lookup(indicator.source, "threat.feed.name")
    return {"indicator": found if isinstance(found, Mapping) else {},
            "feed": {"name": feed} if feed else {},
            "matched": {"atomic": atomic, "field": entry.field, "id": indicator.id,
                        "index": indicator.index, "type": MATCH_TYPE}}


def _values(source: Mapping[str, Any], path: str) -> list[Any]:
    value = lookup(source, path)
    if value is None:
        return []
    return [v for v in value if v is not None] if isinstance(value, list) else [value]


def _first(source: Mapping[str, Any], path: str) -> Any:
    """The terms path: the first value of the indicator's field."""
    values = _values(source, path)
    return values[0] if values else None


def _single(source: Mapping[str, Any], path: str) -> Any:
    """The match path: the indicator's value only when the field holds exactly one."""
    values = _values(source, path)
    return values[0] if len(values) == 1 else None


def _same(event_value: Any, indicator_value: Any) -> bool:
    """Equality as a term query on a keyword or ip field sees it: the indexed text."""
    return str(event_value) == str(indicator_value)
