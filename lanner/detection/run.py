"""One rule execution, as Kibana's EQL executor does it.

For each window of the run: one EQL search over the rule's indices with `size = max_signals`,
filtered to the window on the rule's timestamp (`timestamp_override`, falling back to
`@timestamp`) and by the rule's exceptions; each hit becomes an alert (a sequence: a shell and
its building blocks); suppression groups them; the alert store keeps the ones it has not seen.
A hunt is the same execution over all the data with no window and, unless asked, no cap.
"""

from __future__ import annotations

import datetime
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import orjson

from lanner.detection.alerts import (
    AlertContext,
    SourceEvent,
    event_alert,
    is_own_alert,
    iso,
    sequence_alerts,
)
from lanner.detection.exceptions import (
    ExceptionItem,
    ExceptionLists,
    exception_filter,
    load_rule_exceptions,
)
from lanner.detection.schedule import RuleWindow, rule_windows
from lanner.detection.suppression import SuppressionResult, suppress
from lanner.engine.backends.base import Backend
from lanner.engine.backends.duckdb import Document, SearchScope
from lanner.engine.plan import QueryKind
from lanner.engine.querydsl import filter_condition
from lanner.engine.search import SearchRequest, SearchResult, search
from lanner.errors import LannerError
from lanner.rules import Rule
from lanner.store.alerts import AlertStore

# Kibana's securitySolution:defaultIndex, for a rule that names no index.
DEFAULT_INDEX = ("apm-*-transaction*", "auditbeat-*", "endgame-*", "filebeat-*", "logs-*",
                 "packetbeat-*", "traces-apm*", "winlogbeat-*", "-*elastic-cloud-logs-*")
UNLIMITED = 2**31 - 1


@dataclass(slots=True)
class WindowResult:
    """What one search of a run found."""

    start: datetime.datetime | None
    end: datetime.datetime | None
    max_signals: int | None
    hits: int
    alerts: list[dict[str, Any]]
    took: float

    @property
    def reached_max_signals(self) -> bool:
        return self.max_signals is not None and self.hits >= self.max_signals


@dataclass(slots=True)
class RunReport:
    """The outcome of one rule execution, as Kibana's rule monitoring records it."""

    rule: Rule
    started_at: datetime.datetime
    execution_type: str
    windows: list[WindowResult] = field(default_factory=list)
    created: list[str] = field(default_factory=list)
    duplicates: int = 0
    suppressed: int = 0
    warnings: list[str] = field(default_factory=list)
    error: str | None = None
    took: float = 0.0

    @property
    def status(self) -> str:
        if self.error:
            return "failed"
        return "partial failure" if self.warnings else "succeeded"

    @property
    def alerts(self) -> list[dict[str, Any]]:
        """Every alert the run produced (before de-duplication against the store)."""
        return [alert for window in self.windows for alert in window.alerts]

    @property
    def created_alerts(self) -> list[dict[str, Any]]:
        """The alerts this run stored, each once (overlapping catch-up windows can see an
        alert twice)."""
        created = set(self.created)
        return list({a["kibana.alert.uuid"]: a for a in self.alerts
                     if a["kibana.alert.uuid"] in created}.values())


class Detector:
    """Runs rules over an event store and keeps their alerts.

    `backend` searches the events; `alerts` (optional) de-duplicates and keeps alerts across
    runs; `exceptions` holds the exception lists rules refer to, `value_lists` the values of
    the value lists their items use.
    """

    def __init__(self, backend: Backend, alerts: AlertStore | None = None,
                 exceptions: ExceptionLists | None = None,
                 value_lists: Mapping[str, Sequence[str]] | None = None) -> None:
        self.backend = backend
        self.alerts = alerts
        self.exceptions = exceptions
        self.value_lists = value_lists
        self._rule_exceptions: dict[str, list[ExceptionItem]] = {}

    def run(self, rule: Rule, *, started_at: datetime.datetime,
            previous_started_at: datetime.datetime | None = None,
            execution_type: str = "scheduled") -> RunReport:
        """A scheduled execution: the main window and Kibana's catch-up windows."""
        plan = rule_windows(from_=rule.from_, to=rule.to, interval=rule.interval,
                            max_signals=rule.max_signals, started_at=started_at,
                            previous_started_at=previous_started_at)
        report = self._execute(rule, plan.windows, started_at, execution_type)
        report.warnings.extend(plan.warnings)
        if plan.gap_message:
            report.error = plan.gap_message
        return report

    def hunt(self, rule: Rule, *, started_at: datetime.datetime | None = None,
             max_signals: int | None = None, since: datetime.datetime | None = None,
             until: datetime.datetime | None = None) -> RunReport:
        """All the data at once: no time window unless `since`/`until` bound one, and no cap
        unless one is given."""
        started_at = started_at or datetime.datetime.now(datetime.UTC)
        window = _Window(since, until, max_signals)
        return self._execute(rule, [window], started_at, "manual")

    # -- one execution ----------------------------------------------------------------------

    def _execute(self, rule: Rule, windows: Sequence[RuleWindow | _Window],
                 started_at: datetime.datetime, execution_type: str) -> RunReport:
        clock = time.perf_counter()
        report = RunReport(rule, started_at, execution_type)
        context = AlertContext(rule, started_at, execution_type, str(uuid.uuid4()))
        try:
            exceptions = self._exception_query(rule, started_at, report)
            for window in windows:
                report.windows.append(self._window(rule, window, exceptions, context))
        except LannerError as error:
            report.error = str(error)
        for result in report.windows:
            if result.reached_max_signals:
                report.warnings.append(
                    "This rule reached the maximum alert limit for the rule execution. "
                    "Some alerts were not created.")
                break
        fresh = report.alerts
        if self.alerts is not None:  # known alerts are dropped first, as Kibana does
            known = self.alerts.existing(a["kibana.alert.uuid"] for a in fresh)
            fresh = [a for a in fresh if a["kibana.alert.uuid"] not in known]
            report.duplicates = len(report.alerts) - len(fresh)
        outcome = suppress(rule, fresh, self.alerts, started_at,
                           windows[0].start if windows else None)
        self._store(report, outcome)
        report.took = time.perf_counter() - clock
        return report

    def _store(self, report: RunReport, outcome: SuppressionResult) -> None:
        report.suppressed = outcome.suppressed
        if self.alerts is None:
            report.created = [a["kibana.alert.uuid"] for a in outcome.alerts]
            return
        added = self.alerts.add(outcome.alerts)
        report.created = list(added.created)
        report.duplicates += added.duplicates

    def _exception_query(self, rule: Rule, now: datetime.datetime,
                         report: RunReport) -> dict[str, Any] | None:
        """The must_not filter of the rule's exceptions: the items of the lists it refers to,
        and those written in its own TOML file."""
        items = []
        if rule.exceptions_list:
            if self.exceptions is None:
                report.warnings.append(
                    "The rule refers to exception lists, but none were loaded: "
                    + ", ".join(ref.list_id for ref in rule.exceptions_list))
            else:
                items.extend(self.exceptions.items_for(rule.exceptions_list))
                unknown = self.exceptions.unknown_lists(rule.exceptions_list)
                if unknown:
                    report.warnings.append("No items were loaded for the exception lists: "
                                           + ", ".join(unknown))
        if rule.path and rule.path.endswith(".toml"):
            items.extend(self._own_exceptions(rule.path))
        if not items:
            return None
        built = exception_filter(items, now, value_lists=self.value_lists)
        report.warnings.extend(built.warnings)
        return built.query

    def _own_exceptions(self, path: str) -> list[ExceptionItem]:
        if path not in self._rule_exceptions:
            self._rule_exceptions[path] = load_rule_exceptions(path)
        return self._rule_exceptions[path]

    def _window(self, rule: Rule, window: RuleWindow | _Window,
                exceptions: Mapping[str, Any] | None, context: AlertContext) -> WindowResult:
        clock = time.perf_counter()
        filters = [f for f in (_time_filter(rule, window), exceptions) if f]
        size = window.max_signals if window.max_signals is not None else UNLIMITED
        result = self._search(rule, {"bool": {"filter": filters}} if filters else None, size)
        alerts: list[dict[str, Any]] = []
        if result.kind is QueryKind.EVENT:
            for document in result.events:
                event = _source_event(document)
                if not is_own_alert(event, rule):
                    alerts.append(event_alert(event, context))
            hits = len(result.events)
        else:
            for sequence in result.sequences:
                events = [_source_event(d) for d in sequence.events if d is not None]
                if events and not any(is_own_alert(e, rule) for e in events):
                    alerts.extend(sequence_alerts(events, context))
            hits = len(result.sequences)
        return WindowResult(window.start, window.end, window.max_signals, hits, alerts,
                            time.perf_counter() - clock)

    def _search(self, rule: Rule, query_filter: Mapping[str, Any] | None,
                size: int) -> SearchResult:
        scope = SearchScope(self.backend.indices(list(rule.index or DEFAULT_INDEX)),
                            rule.timestamp_field or "@timestamp", rule.tiebreaker_field,
                            rule.category_field)
        if query_filter and scope.indices:
            scope = replace(scope, filter_sql=filter_condition(
                query_filter, self.backend.compiler(scope)))
        return search(self.backend, SearchRequest(rule.query, scope, size))


@dataclass(frozen=True, slots=True)
class _Window:
    """A hunt's window: everything, or what lies after `start` and before `end`."""

    start: datetime.datetime | None
    end: datetime.datetime | None
    max_signals: int | None


def _time_filter(rule: Rule, window: RuleWindow | _Window) -> dict[str, Any] | None:
    """Kibana's buildTimeRangeFilter: the primary timestamp in range, or, when an override
    may fall back, `@timestamp` in range for events without the override field."""
    if window.start is None and window.end is None:
        return None
    bounds: dict[str, str] = {"format": "strict_date_optional_time"}
    if window.start is not None:
        bounds["gte"] = iso(window.start)
    if window.end is not None:
        bounds["lte"] = iso(window.end)
    primary = rule.timestamp_override or "@timestamp"
    if primary == "@timestamp" or rule.timestamp_override_fallback_disabled:
        return {"range": {primary: bounds}}
    return {"bool": {"minimum_should_match": 1, "should": [
        {"range": {primary: bounds}},
        {"bool": {"filter": [{"range": {"@timestamp": bounds}}],
                  "must_not": [{"exists": {"field": primary}}]}},
    ]}}


def _source_event(document: Document) -> SourceEvent:
    return SourceEvent(document.index, document.id, orjson.loads(document.source))
