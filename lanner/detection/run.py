"""One rule execution, as Kibana's executors do it.

For each window of the run, the executor of the rule's type (lanner.detection.executors) says
which engine searches it needs: for EQL, one EQL search over the rule's indices with
`size = max_signals`; for a query rule, the engine's event search with the KQL filter, earliest
first. Each search is filtered to the window on the rule's timestamp (`timestamp_override`,
falling back to `@timestamp`) and by the rule's exceptions; the executor turns the hits into
alerts; suppression groups them; the alert store keeps the ones it has not seen. A hunt is the
same execution over all the data with no window and, unless asked, no cap.

Rule types register in `EXECUTORS`, keyed by the rule's `type`: one line,
`"threshold": ThresholdExecutor(),` with its import. A type without an executor fails its run
with a clear message; an ML rule never runs (`NEEDS_ML`).
"""

from __future__ import annotations

import datetime
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from lanner import eql
from lanner.cache import gc_paused
from lanner.detection.alerts import AlertContext
from lanner.detection.esql_rules import EsqlExecutor
from lanner.detection.exceptions import (
    ExceptionItem,
    ExceptionLists,
    exception_filter,
    load_rule_exceptions,
)
from lanner.detection.executors import (
    DEFAULT_INDEX,
    EqlExecutor,
    Executor,
    HuntWindow,
    Refusing,
    Round,
    Window,
    WindowAlerts,
    WindowJob,
)
from lanner.detection.new_terms import NewTermsExecutor
from lanner.detection.query_rules import QueryExecutor
from lanner.detection.schedule import rule_windows
from lanner.detection.suppression import SuppressionResult, suppress
from lanner.detection.threat_match import ThreatMatchExecutor
from lanner.detection.threshold import ThresholdExecutor
from lanner.engine.backends.base import Backend
from lanner.engine.backends.sql import UnknownFieldError
from lanner.engine.search import SearchRequest, SearchResult, search_many
from lanner.eql import Issue, Severity, ast
from lanner.eql.checks import unknown_field
from lanner.eql.schema import FieldSchema
from lanner.errors import LannerError
from lanner.rules import Rule, known, place_issue
from lanner.rules.model import NEEDS_ML
from lanner.store.alerts import AlertStore

__all__ = ["DEFAULT_INDEX", "EXECUTORS", "Detector", "Invocation", "RunReport", "WindowResult"]

# The executor of each rule type Lanner runs, by the rule's `type` (see the module docstring).
EXECUTORS: dict[str, Executor] = {
    "eql": EqlExecutor(),
    "query": QueryExecutor(),
    "threat_match": ThreatMatchExecutor(),
    "threshold": ThresholdExecutor(),
    "new_terms": NewTermsExecutor(),
    "esql": EsqlExecutor(),
}
# The executors that can refuse a rule before any search, told once: a runtime protocol check
# costs 15 us, paid by every rule of every round.
_REFUSING: dict[str, Refusing] = {kind: executor for kind, executor in EXECUTORS.items()
                                  if isinstance(executor, Refusing)}


class RuleTypeError(LannerError):
    """A rule whose type (or language) Lanner does not run."""


def executor_for(rule: Rule) -> Executor:
    """The executor of the rule's type; RuleTypeError names what cannot run and why."""
    if rule.needs_ml:
        raise RuleTypeError(f"type machine_learning: {NEEDS_ML}")
    if rule.type == "eql" and not rule.is_eql:
        raise RuleTypeError(f"type eql with language {rule.language}: not run")
    if rule.type != "eql" and rule.type != "esql" and not rule.is_kql:
        raise RuleTypeError(f"type {rule.type} with language {rule.language}: not run")
    executor = EXECUTORS.get(rule.type)
    if executor is None:
        raise RuleTypeError(f"type {rule.type}: not run by Lanner yet")
    refusing = _REFUSING.get(rule.type)
    refusal = refusing.refuses(rule) if refusing is not None else None
    if refusal:
        raise RuleTypeError(f"type {rule.type}: {refusal}")
    return executor


@dataclass(slots=True)
class WindowResult:
    """What one search of a run found."""

    start: datetime.datetime | None
    end: datetime.datetime | None
    max_signals: int | None
    hits: int
    alerts: list[dict[str, Any]]
    took: float

    reached_max_signals: bool = False


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
        window = HuntWindow(since, until, max_signals)
        return self._execute([_Execution(rule, (window,), started_at, "manual")
                              for rule in rules])

    # -- one round of executions ------------------------------------------------------------

    def _execute(self, executions: Sequence[_Execution]) -> list[RunReport]:
        """Searches of every execution in one call to the backend, then each rule's alerts,
        de-duplication, suppression and storage, as Kibana's executor does for one."""
        round_ = Round(self.backend)
        requests: list[SearchRequest] = []
        for execution in executions:
            clock = time.perf_counter()
            execution.first_request = len(requests)
            self._plan(execution, round_)
            requests.extend(r for window in execution.requests if not isinstance(window,
                                                                                 LannerError)
                            for r in window)
            execution.took += time.perf_counter() - clock
        # Parsed queries, documents and alerts are acyclic and kept to the end: collections
        # would only walk them again and again (gc_paused).
        with gc_paused():
            clock = time.perf_counter()
            known.read_queries(request.query for request in requests)  # the cached ones
            outcomes = search_many(self.backend, requests)
            share = (time.perf_counter() - clock) / max(len(requests), 1)
            return [self._finish(execution, outcomes, share) for execution in executions]

    def _plan(self, execution: _Execution, round_: Round) -> None:
        """The execution's window jobs and their searches, in order, up to the first window
        whose searches cannot be made (its error)."""
        rule, report = execution.rule, execution.report
        try:
            executor = executor_for(rule)
            exceptions = self._exception_query(rule, execution.started_at, report)
        except LannerError as error:
            execution.requests.append(error)
            return
        execution.executor = executor
        for window in execution.windows:
            job = WindowJob(rule, window, execution.context, exceptions, round_, self._known,
                            self.alerts)
            try:
                requests = executor.requests(job)
            except LannerError as error:
                execution.requests.append(error)
                return
            execution.jobs.append(job)
            execution.requests.append(requests)

    def _known(self, ids: Iterable[str]) -> set[str]:
        """The ids the alert store already holds (none without a store)."""
        return set(self.alerts.existing(ids)) if self.alerts is not None else set()

    def _finish(self, execution: _Execution, outcomes: list[SearchResult | Exception],
                share: float) -> RunReport:
        clock = time.perf_counter()
        rule, report = execution.rule, execution.report
        position = execution.first_request
        for job, requests in zip(execution.jobs, execution.requests, strict=False):
            if isinstance(requests, LannerError):
                break
            results = outcomes[position:position + len(requests)]
            position += len(requests)
            failed = next((o for o in results if isinstance(o, Exception)), None)
            if isinstance(failed, LannerError):
                report.error = rule_error(rule, failed)
                break
            if failed is not None:
                raise failed
            try:
                report.windows.append(self._window(job, execution.executor, results, share))
            except LannerError as error:
                report.error = rule_error(rule, error)
                break
        failure = next((r for r in execution.requests if isinstance(r, LannerError)), None)
        if failure is not None and report.error is None:
            report.error = rule_error(rule, failure)
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
        searched = share * sum(len(r) for r in execution.requests if isinstance(r, list))
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

    def _window(self, job: WindowJob, executor: Executor | None, results: list[SearchResult],
                searched: float) -> WindowResult:
        """The alerts of one window's results, by the rule type's executor."""
        clock = time.perf_counter()
        assert executor is not None  # a job exists only once its executor is known
        made: WindowAlerts = executor.alerts(job, results)
        window = job.window
        return WindowResult(window.start, window.end, window.max_signals, made.hits,
                            made.alerts, searched * len(results) + time.perf_counter() - clock,
                            made.reached_max_signals)


@dataclass(slots=True)
class _Execution:
    """One rule execution of a round, from its windows to its report."""

    rule: Rule
    windows: Sequence[Window]
    started_at: datetime.datetime
    execution_type: str
    plan_warnings: Sequence[str] = ()
    gap_message: str | None = None
    # per window: its searches, or the error that kept them from being made (the last entry)
    requests: list[list[SearchRequest] | LannerError] = field(default_factory=list)
    jobs: list[WindowJob] = field(default_factory=list)
    executor: Executor | None = None
    first_request: int = 0
    took: float = 0.0
    report: RunReport = field(init=False)
    context: AlertContext = field(init=False)

    def __post_init__(self) -> None:
        self.report = RunReport(self.rule, self.started_at, self.execution_type)
        self.context = AlertContext(self.rule, self.started_at, self.execution_type,
                                    str(uuid.uuid4()))


def rule_error(rule: Rule, error: LannerError) -> str:
    """The message of an error a rule's run met. A query error is placed in the rule file
    as `rules validate` places its problems (`path:line:col: error: message`), an unknown
    field with the suggestions validate makes; other errors say what they say."""
    if not rule.is_eql:
        return str(error)
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
