"""New terms rules, as Kibana's new_terms executor runs them (OTHER-RULE-TYPES.md §4).

One run, per window `[from, to]`: among the events the rule's filter matches between the
history window's start (`history_window_start`, date math against the window's end) and `to`,
a value of `new_terms_fields` (1-3 fields: the combination of one value of each, every value of
a multi-valued field its own term) is new when its first sighting (aggregatable timestamp) is
after `from`. Each new term gives one alert, on the earliest event of the window that shows it
(`buildDocFetchAgg`'s top hit, sorted by time ascending): the whole event, plus
`kibana.alert.new_terms` (the term's values in field order). The rule filter and exceptions
apply to the history too. Terms come in composite order (by value); `max_signals` caps the
alerts created, duplicates of stored alerts not counting.

Ids (`wrapNewTermsAlerts` in wrap_new_terms_alerts.ts, read at kibana 59720dc):
objectHash([event _index, _id, String(_version), "default:" + rule uuid, newTerms]), so one
event gives one alert per new term, and the same (event, term) found by overlapping windows is
stored once.

A hunt replays the schedule over the hunted range in closed form (issue 20): an event alerts
when its term was not seen, among the matched events, within the history window's span
(`to` minus `history_window_start`) before it; events before the range's start count as seen.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from typing import Any

import orjson

from lanner.detection import datemath
from lanner.detection.aggregating import (
    RunMemory,
    aggregator,
    is_hunt,
    nanos,
    object_hash,
    parameter_issues,
    span_nanos,
)
from lanner.detection.alerts import SPACE_ID, AlertContext, SourceEvent, event_alert, is_own_alert
from lanner.detection.executors import WindowAlerts, WindowJob
from lanner.engine.aggregate import Aggregator, Sighting
from lanner.engine.search import SearchRequest, SearchResult
from lanner.errors import LannerError
from lanner.rules import Rule

# Kibana wraps and creates new terms alerts in chunks of 5 x max_signals
# (`ALERT_CHUNK_MULTIPLIER`), stopping once max_signals are created.
_CHUNK_MULTIPLIER = 5


class NewTermsRuleError(LannerError):
    """A new_terms rule without its fields or history window."""


class NewTermsExecutor:
    """Kibana's new_terms executor: no event search; the window's new terms are found here,
    through the engine (lanner.engine.aggregate), then their events read."""

    def __init__(self) -> None:
        self._created = RunMemory[set[str]](set)  # ids of the run's earlier windows

    def requests(self, job: WindowJob) -> list[SearchRequest]:
        return []

    def alerts(self, job: WindowJob, results: list[SearchResult]) -> WindowAlerts:
        rule, window = job.rule, job.window
        fields, history_start = _parameters(rule)
        search = aggregator(job)
        end = None if window.end is None else nanos(window.end)
        if is_hunt(job):
            span = span_nanos(history_span(rule, window.end or job.context.started_at))
            sightings = search.renewed_terms(
                fields, span=span, start=None if window.start is None else nanos(window.start),
                end=end)
        else:
            assert window.start is not None and window.end is not None
            begins = datemath.parse(history_start, now=window.end)
            sightings = search.new_terms(fields, history_start=nanos(begins),
                                         start=nanos(window.start), end=end)
        created = self._created.of(job)
        kept: list[dict[str, Any]] = []
        fresh, unread = 0, False
        cap = window.max_signals
        chunk = len(sightings) if cap is None else _CHUNK_MULTIPLIER * max(cap, 1)
        for first in range(0, len(sightings), max(chunk, 1)):  # Kibana's chunks of 5 x cap
            alerts = [a for a in _alerts(job, search, sightings[first:first + chunk])
                      if a["kibana.alert.uuid"] not in created]
            known = job.known(a["kibana.alert.uuid"] for a in alerts) if alerts else set()
            alerts = [a for a in alerts if a["kibana.alert.uuid"] not in known]
            fresh += len(alerts)
            kept.extend(alerts if cap is None else alerts[:cap - len(kept)])
            if cap is not None and len(kept) >= cap:
                unread = first + chunk < len(sightings)
                break
        created.update(a["kibana.alert.uuid"] for a in kept)
        return WindowAlerts(fresh, kept, len(kept) < fresh or unread)


def new_terms_alert(event: SourceEvent, terms: Sequence[Any],
                    context: AlertContext) -> dict[str, Any]:
    """The alert of one (event, new term)."""
    alert = event_alert(event, context)
    alert["kibana.alert.uuid"] = object_hash(
        [event.index, event.id, "1", f"{SPACE_ID}:{context.rule_uuid}", list(terms)])
    alert["kibana.alert.new_terms"] = list(terms)
    return alert


def _alerts(job: WindowJob, search: Aggregator,
            sightings: list[Sighting]) -> list[dict[str, Any]]:
    documents = search.documents(s.position for s in sightings)
    alerts = []
    for sighting in sightings:
        document = documents.get(sighting.position)
        if document is None:
            continue
        event = SourceEvent(document.index, document.id, orjson.loads(document.source))
        if not is_own_alert(event, job.rule):
            alerts.append(new_terms_alert(event, sighting.key, job.context))
    return alerts


def _parameters(rule: Rule) -> tuple[tuple[str, ...], str]:
    """The fields and history window start; refused as Kibana's `validateHistoryWindowStart`
    (new_terms/utils.ts) refuses a history window that does not start before `from`."""
    if not rule.new_terms_fields:
        raise NewTermsRuleError(f"new_terms rule {rule.rule_id} has no new_terms_fields")
    if not rule.history_window_start:
        raise NewTermsRuleError(f"new_terms rule {rule.rule_id} has no history_window_start")
    problems = parameter_issues(rule)
    if problems:
        raise NewTermsRuleError(problems[0].message)
    return rule.new_terms_fields, rule.history_window_start


def history_span(rule: Rule, now: datetime.datetime) -> datetime.timedelta:
    """How far back the history window reaches from a run's end."""
    return datemath.to_instant(now) - datemath.parse(rule.history_window_start or "now",
                                                     now=now)
