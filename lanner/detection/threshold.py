"""Threshold rules, as Kibana's `thresholdExecutor` runs them (OTHER-RULE-TYPES.md §3).

One run, per window `[from, to]`: the events the rule's filter matches are grouped by the
threshold fields (0-3; none: one group of all events), and each group with at least
`threshold.value` events (and `cardinality.value` distinct values of the cardinality field)
becomes one alert built from a synthetic document (`transformBucketIntoHit`): `@timestamp` the
group's latest event time, the field values, and `threshold_result` (terms, count, from =
earliest event time, cardinality), moved to `kibana.alert.threshold_result`. At most
`max_signals` groups, in key order.

Signal history keeps a group from alerting twice for the same events (§3.3): an alert's group
and `original_time` (its latest event) exclude that group's events up to that time from later
searches, until `original_time` is no longer after a window's start (`getSignalHistory` keeps
entries with `lastSignalTimestamp > tuple.from`). Kibana keeps it in rule state and rebuilds it
from the alerts index on a first run; Lanner reads it from the alert store every run (the
rule's alerts with `original_time > from`), so a restart keeps it, plus the alerts of the
run's earlier windows.

Ids (`calculateThresholdSignalUuid` in threshold/utils.ts and `transformBucketIntoHit` in
bulk_create_threshold_signals.ts, read at kibana 2dce4c5): the synthetic hit's `_id` is
uuidv5(rule_id + startedAt ISO + fields joined by ',' + the bucket's values sorted as strings,
joined by ','), namespace 0684ec03-…; the alert's id is `wrapHits`'s sha256(index patterns
joined by ',' + that uuid + "undefined" (a synthetic hit has no `_version`) + "default:" +
rule uuid). The start time in the id makes each run's alert new: repeats are prevented by the
history, not by ids.

A hunt replays the rule's schedule over the hunted range: windows `[T - lookback, T]` every
`interval` from the first event, each group alerting in the first window where it reaches the
threshold, its events then excluded from the overlapping next windows as the history does.
A window's alerts take its end as their run's start (ids and `@timestamp`), so a hunt gives
the same alerts every time.
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import uuid
from bisect import bisect_right
from collections import Counter
from typing import Any

from lanner.detection.aggregating import (
    RunMemory,
    aggregator,
    index_patterns,
    is_hunt,
    js_number,
    lookback,
    moment,
    nanos,
    span_nanos,
)
from lanner.detection.alerts import SPACE_ID, AlertContext, SourceEvent, event_alert, iso
from lanner.detection.datemath import parse_duration
from lanner.detection.executors import WindowAlerts, WindowJob
from lanner.engine.aggregate import Aggregator, Bucket, KeyEvent, Schedule
from lanner.engine.search import SearchRequest, SearchResult
from lanner.errors import LannerError
from lanner.rules.model import Threshold
from lanner.store.alert_history import rule_alert_documents

_SIGNAL_NAMESPACE = uuid.UUID("0684ec03-7201-4ee0-8ee0-3a3f6b2479b2")
# Without fields Kibana compares `hits.total`, which Elasticsearch counts up to 10,000 when
# `track_total_hits` is not set (§3.1; inferred).
_TOTAL_HITS_CAP = 10_000

History = dict[tuple[Any, ...], int]  # group key -> epoch nanos of its last alerted event


class ThresholdRuleError(LannerError):
    """A threshold rule without a usable `threshold`."""


class ThresholdExecutor:
    """Kibana's threshold executor: no event search; the window's buckets are aggregated
    here, through the engine (lanner.engine.aggregate)."""

    def __init__(self) -> None:
        self._earlier = RunMemory[History](dict)  # alerts of the run's earlier windows

    def requests(self, job: WindowJob) -> list[SearchRequest]:
        return []

    def alerts(self, job: WindowJob, results: list[SearchResult]) -> WindowAlerts:
        threshold = job.rule.threshold
        if threshold is None:
            raise ThresholdRuleError(f"threshold rule {job.rule.rule_id} has no threshold")
        if job.rule.alert_suppression is not None:  # 0 active corpus rules use it (§3.4)
            raise ThresholdRuleError(
                "alert suppression of threshold rules (by the threshold fields, Kibana's "
                "bulkCreateSuppressedThresholdAlerts) is not run by Lanner yet")
        search = aggregator(job)
        if is_hunt(job):
            return _hunt(job, search, threshold)
        return _window(job, search, threshold, self._earlier.of(job))


def threshold_alert(bucket: Bucket, threshold: Threshold, context: AlertContext,
                    patterns: str, window_start: datetime.datetime | None) -> dict[str, Any]:
    """The alert of one bucket, from its synthetic hit as Kibana builds it."""
    rule = context.rule
    fields = list(threshold.field)
    values = ",".join(sorted(_js_text(value) for value in bucket.key))
    signal_id = str(uuid.uuid5(_SIGNAL_NAMESPACE, f"{rule.rule_id}{iso(context.started_at)}"
                                                  f"{','.join(fields)}{values}"))
    result: dict[str, Any] = {
        "terms": [{"field": f, "value": v} for f, v in zip(fields, bucket.key, strict=True)],
        "count": min(bucket.count, _TOTAL_HITS_CAP) if not fields else bucket.count,
        "from": (iso(moment(bucket.first)) if bucket.first is not None
                 else iso(window_start) if window_start is not None else None),
    }
    if threshold.cardinality:
        result["cardinality"] = [{"field": threshold.cardinality[0].field,
                                  "value": bucket.cardinality}]
    last = iso(moment(bucket.last)) if bucket.last is not None else None
    source: dict[str, Any] = {"@timestamp": last, **dict(zip(fields, bucket.key, strict=True)),
                              "threshold_result": result}
    alert = event_alert(SourceEvent(patterns, signal_id, source), context)
    alert["kibana.alert.uuid"] = hashlib.sha256(
        f"{patterns}{signal_id}undefined{SPACE_ID}:{context.rule_uuid}".encode()).hexdigest()
    alert["kibana.alert.threshold_result"] = alert.pop("threshold_result")
    return alert


# -- one scheduled window ----------------------------------------------------------------

def _window(job: WindowJob, search: Aggregator, threshold: Threshold,
            earlier: History) -> WindowAlerts:
    window = job.window
    start = None if window.start is None else nanos(window.start)
    end = None if window.end is None else nanos(window.end)
    history = _stored_history(job, threshold, start)
    for key, last in earlier.items():
        history[key] = max(last, history.get(key, last))
    history = {key: last for key, last in history.items() if start is None or last > start}
    buckets = _buckets(search, threshold, start, end, history)
    kept = buckets if window.max_signals is None else buckets[:window.max_signals]
    alerts = [threshold_alert(bucket, threshold, job.context, index_patterns(job.rule),
                              window.start) for bucket in kept]
    earlier.update((bucket.key, bucket.last) for bucket in kept if bucket.last is not None)
    return WindowAlerts(len(buckets), alerts, len(kept) < len(buckets))


def _stored_history(job: WindowJob, threshold: Threshold, start: int | None) -> History:
    """Kibana's signal history from the rule's stored alerts of the same threshold fields."""
    if job.alerts is None:
        return {}
    history: History = {}
    fields = list(threshold.field)
    for document in rule_alert_documents(job.alerts, job.context.rule_uuid,
                                         original_after=start):
        result = document.get("kibana.alert.threshold_result")
        original = document.get("kibana.alert.original_time")
        if not isinstance(result, dict) or not isinstance(original, str):
            continue
        terms = {t.get("field"): t.get("value") for t in result.get("terms") or []
                 if isinstance(t, dict)}
        if sorted(terms) != sorted(fields):
            continue
        key = tuple(terms[f] for f in fields)
        last = nanos(datetime.datetime.fromisoformat(original))
        history[key] = max(last, history.get(key, last))
    return history


def _buckets(search: Aggregator, threshold: Threshold, start: int | None, end: int | None,
             history: History) -> list[Bucket]:
    if not threshold.field and threshold.value > _TOTAL_HITS_CAP:
        return []
    cardinality = ((threshold.cardinality[0].field, threshold.cardinality[0].value)
                   if threshold.cardinality else None)
    return search.buckets(threshold.field, start=start, end=end, minimum=threshold.value,
                          cardinality=cardinality, history=list(history.items()))


# -- a hunt: the schedule replayed --------------------------------------------------------

def _hunt(job: WindowJob, search: Aggregator, threshold: Threshold) -> WindowAlerts:
    window = job.window
    since = None if window.start is None else nanos(window.start)
    until = None if window.end is None else nanos(window.end)
    bounds = search.time_bounds()
    if bounds is None or (not threshold.field and threshold.value > _TOTAL_HITS_CAP):
        return WindowAlerts(0, [])
    rule = job.rule
    schedule = Schedule(since if since is not None else bounds[0],
                        span_nanos(parse_duration(rule.interval)),
                        span_nanos(lookback(rule, job.context.started_at)))
    cardinality = ((threshold.cardinality[0].field, threshold.cardinality[0].value)
                   if threshold.cardinality else None)
    candidates = search.window_buckets(threshold.field, schedule, start=since, end=until,
                                       minimum=threshold.value, cardinality=cardinality)
    repeated = [key for key, count in Counter(c.key for c in candidates).items() if count > 1]
    events = search.key_events(threshold.field, repeated, start=since, end=until,
                               cardinality=cardinality and cardinality[0])
    fired: list[tuple[int, Bucket]] = []
    last_alerted: History = {}
    for candidate in candidates:  # by key, then window
        run = candidate.window or 0
        end = schedule.origin + run * schedule.interval
        start = end - schedule.lookback
        last = last_alerted.get(candidate.key)
        bucket: Bucket | None = candidate
        if last is not None and last > start:  # the history still excludes earlier events
            bucket = _recount(candidate.key, events.get(candidate.key, []), threshold,
                              _later(start, since), _earlier(end, until), last)
        if bucket is not None:
            fired.append((run, bucket))
            if bucket.last is not None:
                last_alerted[bucket.key] = bucket.last
    fired.sort(key=lambda found: found[0])  # stable: key order within a run
    alerts: list[dict[str, Any]] = []
    per_run: dict[int, int] = {}
    for run, bucket in fired:
        per_run[run] = per_run.get(run, 0) + 1
        if window.max_signals is not None and per_run[run] > window.max_signals:
            continue
        end = schedule.origin + run * schedule.interval
        context = dataclasses.replace(job.context, started_at=moment(end))
        alerts.append(threshold_alert(bucket, threshold, context, index_patterns(rule),
                                      moment(end - schedule.lookback)))
    return WindowAlerts(len(fired), alerts, len(alerts) < len(fired))


def _recount(key: tuple[Any, ...], events: list[KeyEvent], threshold: Threshold, start: int,
             end: int, last: int) -> Bucket | None:
    """The bucket of `key` in `[start, end]` without its events up to `last` (the signal
    history's exclusion), if it still reaches the threshold."""
    times = [event.time for event in events]
    kept = events[bisect_right(times, max(last, start - 1)):bisect_right(times, end)]
    count = len({event.position for event in kept})
    if not kept or count < threshold.value:
        return None
    distinct = None
    if threshold.cardinality:
        distinct = len({value for event in kept for value in event.cards if value is not None})
        if distinct < threshold.cardinality[0].value:
            return None
    return Bucket(key, count, kept[0].time, kept[-1].time, distinct)


def _later(moment_: int, bound: int | None) -> int:
    return moment_ if bound is None else max(moment_, bound)


def _earlier(moment_: int, bound: int | None) -> int:
    return moment_ if bound is None else min(moment_, bound)


def _js_text(value: Any) -> str:
    """A bucket key value as JavaScript's String() writes it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return js_number(value)
    return str(value)
