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

from lanner import eql
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
from lanner.engine.backends.base import Backend, IndexNames
from lanner.engine.backends.duckdb import Document, SearchScope
from lanner.engine.backends.sql import SqlCompiler, UnknownFieldError
from lanner.engine.plan import QueryKind
from lanner.engine.querydsl import filter_condition
from lanner.engine.search import SearchRequest, SearchResult, search_many
from lanner.eql import Issue, Severity, ast
from lanner.eql.checks import unknown_field
from lanner.eql.schema import FieldSchema
from lanner.errors import LannerError
from lanner.rules import Rule, place_issue
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
    known: set[str] = field(default_factory=set)  # ids the alert store already held
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
        return self._each_once(set(self.created))

    @property
    def known_alerts(self) -> list[dict[str, Any]]:
        """The alerts this run found that the store held already (an earlier run's), each
        once."""
        return self._each_once(self.known)

    def _each_once(self, ids: set[str]) -> list[dict[str, Any]]:
        return list({a["kibana.alert.uuid"]: a for a in self.alerts
                     if a["kibana.alert.uuid"] in ids}.values())


@dataclass(frozen=True, slots=True)
class Invocation:
    """One scheduled execution of a rule: when it starts, and when its previous run did."""

    rule: Rule
    started_at: datetime.datetime
    previous_started_at: datetime.datetime | None = None
    execution_type: str = "scheduled"


class Detector:
    """Runs rules over an event store and keeps their alerts.

    `backend` searches the events; `alerts` (optional) de-duplicates and keeps alerts across
    runs; `exceptions` holds the exception lists rules refer to, `value_lists` the values of
    the value lists their items use.

    Many rules run as one round (`hunt_many`, `run_many`): every search of the round goes to
    the backend at once, which may evaluate them in a few passes over the events; each rule's
    report is the one it would get running alone.
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
        (report,) = self.run_many([Invocation(rule, started_at, previous_started_at,
                                              execution_type)])
        return report

    def run_many(self, invocations: Sequence[Invocation]) -> list[RunReport]:
        """Scheduled executions of many rules as one round; one report each, in order."""
        executions = []
        for invocation in invocations:
            rule = invocation.rule
            plan = rule_windows(from_=rule.from_, to=rule.to, interval=rule.interval,
                                max_signals=rule.max_signals, started_at=invocation.started_at,
                                previous_started_at=invocation.previous_started_at)
            executions.append(_Execution(rule, plan.windows, invocation.started_at,
                                         invocation.execution_type, plan.warnings,
                                         plan.gap_message))
        return self._execute(executions)

    def hunt(self, rule: Rule, *, started_at: datetime.datetime | None = None,
             max_signals: int | None = None, since: datetime.datetime | None = None,
             until: datetime.datetime | None = None) -> RunReport:
        """All the data at once: no time window unless `since`/`until` bound one, and no cap
        unless one is given."""
        (report,) = self.hunt_many([rule], started_at=started_at, max_signals=max_signals,
                                   since=since, until=until)
        return report

    def hunt_many(self, rules: Sequence[Rule], *, started_at: datetime.datetime | None = None,
                  max_signals: int | None = None, since: datetime.datetime | None = None,
                  until: datetime.datetime | None = None) -> list[RunReport]:
        """`hunt` for many rules as one round; one report per rule, in order."""
        started_at = started_at or datetime.datetime.now(datetime.UTC)
        window = _Window(since, until, max_signals)
        return self._execute([_Execution(rule, (window,), started_at, "manual")
                              for rule in rules])

    # -- one round of executions ------------------------------------------------------------

    def _execute(self, executions: Sequence[_Execution]) -> list[RunReport]:
        """Searches of every execution in one call to the backend, then each rule's alerts,
        de-duplication, suppression and storage, as Kibana's executor does for one."""
        round_ = _Round(self.backend)
        requests: list[SearchRequest] = []
        for execution in executions:
            clock = time.perf_counter()
            execution.first_request = len(requests)
            execution.requests = self._requests(execution, round_)
            requests.extend(r for r in execution.requests if isinstance(r, SearchRequest))
            execution.took += time.perf_counter() - clock
        clock = time.perf_counter()
        outcomes = search_many(self.backend, requests)
        share = (time.perf_counter() - clock) / max(len(requests), 1)
        return [self._finish(execution, outcomes, share) for execution in executions]

    def _requests(self, execution: _Execution,
                  round_: _Round) -> list[SearchRequest | LannerError]:
        """The execution's search per window, in order, up to the first that cannot be made
        (its error)."""
        rule, report = execution.rule, execution.report
        requests: list[SearchRequest | LannerError] = []
        try:
            exceptions = self._exception_query(rule, execution.started_at, report)
            for window in execution.windows:
                filters = [f for f in (_time_filter(rule, window), exceptions) if f]
                size = window.max_signals if window.max_signals is not None else UNLIMITED
                query_filter = {"bool": {"filter": filters}} if filters else None
                requests.append(SearchRequest(rule.query, round_.scope(rule, query_filter),
                                              size))
        except LannerError as error:
            requests.append(error)
        return requests

    def _finish(self, execution: _Execution, outcomes: list[SearchResult | Exception],
                share: float) -> RunReport:
        clock = time.perf_counter()
        rule, report = execution.rule, execution.report
        position = execution.first_request
        for window, request in zip(execution.windows, execution.requests, strict=False):
            if isinstance(request, LannerError):
                report.error = rule_error(rule, request)
                break
            outcome = outcomes[position]
            position += 1
            if isinstance(outcome, LannerError):
                report.error = rule_error(rule, outcome)
                break
            if isinstance(outcome, Exception):
                raise outcome
            try:
                report.windows.append(self._window(rule, window, outcome, execution.context,
                                                   share))
            except LannerError as error:
                report.error = str(error)
                break
        for result in report.windows:
            if result.reached_max_signals:
                report.warnings.append(
                    "This rule reached the maximum alert limit for the rule execution. "
                    "Some alerts were not created.")
                break
        fresh = report.alerts
        if self.alerts is not None and fresh:  # known alerts are dropped first, as Kibana does
            known = self.alerts.existing(a["kibana.alert.uuid"] for a in fresh)
            report.known = set(known)
            fresh = [a for a in fresh if a["kibana.alert.uuid"] not in known]
            report.duplicates = len(report.alerts) - len(fresh)
        windows = execution.windows
        outcome = suppress(rule, fresh, self.alerts, execution.started_at,
                           windows[0].start if windows else None)
        self._store(report, outcome)
        report.warnings.extend(execution.plan_warnings)
        if execution.gap_message:
            report.error = execution.gap_message
        searched = share * sum(isinstance(r, SearchRequest) for r in execution.requests)
        report.took = execution.took + searched + time.perf_counter() - clock
        return report

    def _store(self, report: RunReport, outcome: SuppressionResult) -> None:
        """Keep the new alerts; a run without any (most of a round's) asks the store nothing."""
        report.suppressed = outcome.suppressed
        if self.alerts is None or not outcome.alerts:
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

    def _window(self, rule: Rule, window: RuleWindow | _Window, result: SearchResult,
                context: AlertContext, searched: float) -> WindowResult:
        """The alerts of one window's hits (a rule never fires on its own alerts)."""
        clock = time.perf_counter()
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
                            searched + time.perf_counter() - clock)


@dataclass(slots=True)
class _Execution:
    """One rule execution of a round, from its windows to its report."""

    rule: Rule
    windows: Sequence[RuleWindow | _Window]
    started_at: datetime.datetime
    execution_type: str
    plan_warnings: Sequence[str] = ()
    gap_message: str | None = None
    requests: list[SearchRequest | LannerError] = field(default_factory=list)
    first_request: int = 0
    took: float = 0.0
    report: RunReport = field(init=False)
    context: AlertContext = field(init=False)

    def __post_init__(self) -> None:
        self.report = RunReport(self.rule, self.started_at, self.execution_type)
        self.context = AlertContext(self.rule, self.started_at, self.execution_type,
                                    str(uuid.uuid4()))


class _Round:
    """What the searches of one round share: the store does not change during a round, so
    each index pattern list is resolved, each scope's compiler built and each request filter
    compiled once."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self._names = backend.index_names() if isinstance(backend, IndexNames) else None
        self._indices: dict[tuple[str, ...], tuple[str, ...]] = {}
        self._compilers: dict[tuple[object, ...], SqlCompiler] = {}
        self._filters: dict[tuple[object, ...], str] = {}

    def scope(self, rule: Rule, query_filter: Mapping[str, Any] | None) -> SearchScope:
        patterns = tuple(rule.index or DEFAULT_INDEX)
        indices = self._indices.get(patterns)
        if indices is None:
            indices = self._indices[patterns] = self._resolve(list(patterns))
        scope = SearchScope(indices, rule.timestamp_field or "@timestamp",
                            rule.tiebreaker_field, rule.category_field)
        if not query_filter or not scope.indices:
            return scope
        compiled = (indices, scope.category_field)
        key = (*compiled, orjson.dumps(query_filter))
        sql = self._filters.get(key)
        if sql is None:
            compiler = self._compilers.get(compiled)
            if compiler is None:
                compiler = self._compilers[compiled] = self.backend.compiler(scope)
            sql = self._filters[key] = filter_condition(query_filter, compiler)
        return replace(scope, filter_sql=sql)

    def _resolve(self, patterns: list[str]) -> tuple[str, ...]:
        if isinstance(self.backend, IndexNames):
            return self.backend.indices(patterns, self._names)
        return self.backend.indices(patterns)


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


def rule_error(rule: Rule, error: LannerError) -> str:
    """The message of an error a rule's run met. A query error is placed in the rule file
    as `rules validate` places its problems (`path:line:col: error: message`), an unknown
    field with the suggestions validate makes; other errors say what they say."""
    if isinstance(error, UnknownFieldError):
        issues = _unknown_columns(rule, error.fields)
    elif isinstance(error, eql.EqlError):
        issues = [error.as_issue()]
    else:
        return str(error)
    return "\n".join(str(place_issue(rule, issue)) for issue in issues)


def _unknown_columns(rule: Rule, names: Sequence[str]) -> list[Issue]:
    """One error per field the searched indices do not have, at its first use."""
    first: dict[str, ast.Field] = {}
    for node in eql.parse(rule.query).find_all(ast.Field):
        if node.name in names and not node.optional:
            first.setdefault(node.name, node)
    schema = FieldSchema.default()
    return [unknown_field(first[name], schema, Severity.ERROR, "unknown column")
            if name in first else Issue(Severity.ERROR, "unknown-field",
                                        f"unknown column {name}")
            for name in names]


def _source_event(document: Document) -> SourceEvent:
    return SourceEvent(document.index, document.id, orjson.loads(document.source))
