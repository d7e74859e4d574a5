"""How each rule type searches: the engine requests of one window, and the alerts of their
results.

A rule execution (lanner.detection.run) cuts the rule's schedule into windows; for each window
it hands a `WindowJob` to the executor of the rule's type, which says which searches the window
needs (`requests`). The round sends every request of every rule to the engine at once
(search_many), then gives each executor its results back (`alerts`). De-duplication against
the alert store, suppression and storage are the run's, the same for every type.

A type that aggregates (threshold, new_terms, esql) may return no request and do its own work
in `alerts` through `job.backend` and `job.scope(...)`; its alerts go through the same
de-duplication and storage. To add a type: write a class with these two methods and register
it in `lanner.detection.run.EXECUTORS` under the rule's `type`.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol, runtime_checkable

import orjson

from lanner.detection.alerts import (
    AlertContext,
    SourceEvent,
    event_alert,
    is_own_alert,
    iso,
    sequence_alerts,
)
from lanner.detection.schedule import RuleWindow
from lanner.engine.backends.base import Backend, IndexNames
from lanner.engine.backends.duckdb import Document, SearchScope
from lanner.engine.backends.sql import SqlCompiler
from lanner.engine.plan import QueryKind
from lanner.engine.querydsl import filter_condition
from lanner.engine.search import SearchRequest, SearchResult
from lanner.rules import Rule, known
from lanner.store.alerts import AlertStore

# Kibana's securitySolution:defaultIndex, for a rule that names no index.
DEFAULT_INDEX = ("apm-*-transaction*", "auditbeat-*", "endgame-*", "filebeat-*", "logs-*",
                 "packetbeat-*", "traces-apm*", "winlogbeat-*", "-*elastic-cloud-logs-*")
UNLIMITED = 2**31 - 1


@dataclass(frozen=True, slots=True)
class HuntWindow:
    """A hunt's window: everything, or what lies after `start` and before `end`."""

    start: datetime.datetime | None
    end: datetime.datetime | None
    max_signals: int | None


Window = RuleWindow | HuntWindow


class Round:
    """What the searches of one round share: the store does not change during a round, so
    each index pattern list is resolved, each scope's compiler built and each request filter
    compiled once. `memo` keeps what an executor computes once per round for all the windows
    of a rule (threat_match: the rule's indicators)."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.memo: dict[object, Any] = {}
        self._names = backend.index_names() if isinstance(backend, IndexNames) else None
        self._indices: dict[tuple[str, ...], tuple[str, ...]] = {}
        self._compilers: dict[tuple[object, ...], SqlCompiler] = {}
        self._filters: dict[tuple[object, ...], str] = {}

    def indices(self, patterns: Sequence[str]) -> tuple[str, ...]:
        """The stored indices the patterns select (Kibana's default ones for none)."""
        key = tuple(patterns or DEFAULT_INDEX)
        found = self._indices.get(key)
        if found is None:
            found = self._indices[key] = self._resolve(list(key))
        return found

    def scope(self, patterns: Sequence[str], query_filter: Mapping[str, Any] | None, *,
              timestamp_field: str = "@timestamp", tiebreaker_field: str | None = None,
              category_field: str = "event.category",
              now: datetime.datetime | None = None) -> SearchScope:
        """A search scope over the patterns' indices, its Query DSL filter compiled to SQL;
        `now` is the instant its date math (`now-30d/d`) counts from: the execution's start."""
        scope = SearchScope(self.indices(patterns), timestamp_field, tiebreaker_field,
                            category_field)
        if not query_filter or not scope.indices:
            return scope
        compiled = (scope.indices, scope.category_field)
        key = (*compiled, now, orjson.dumps(query_filter))
        sql = self._filters.get(key)
        if sql is None:
            sql = self._filters[key] = filter_condition(query_filter, self.compiler(scope),
                                                        now=now)
        return replace(scope, filter_sql=sql)

    def compiler(self, scope: SearchScope) -> SqlCompiler:
        """The scope's SQL compiler (its indices' fields and types), built once per round."""
        key = (scope.indices, scope.category_field)
        compiler = self._compilers.get(key)
        if compiler is None:
            compiler = self._compilers[key] = self.backend.compiler(scope)
        return compiler

    def _resolve(self, patterns: list[str]) -> tuple[str, ...]:
        if isinstance(self.backend, IndexNames):
            return self.backend.indices(patterns, self._names)
        return self.backend.indices(patterns)


@dataclass(frozen=True, slots=True)
class WindowJob:
    """One window of one rule execution, as its executor sees it.

    `exceptions` is the rule's exception filter (a Query DSL clause, or None); `known` says
    which alert ids the alert store holds already (an executor that pages past them, as
    Kibana's query executor does, asks it)."""

    rule: Rule
    window: Window
    context: AlertContext
    exceptions: Mapping[str, Any] | None
    round: Round
    known: Callable[[Iterable[str]], set[str]]
    alerts: AlertStore | None = None  # earlier runs' alerts, for types that keep state

    @property
    def backend(self) -> Backend:
        return self.round.backend

    @property
    def size(self) -> int:
        """The window's cap on alerts (a hunt's may be unlimited)."""
        return self.window.max_signals if self.window.max_signals is not None else UNLIMITED

    def event_filter(self, *clauses: Mapping[str, Any] | None) -> dict[str, Any] | None:
        """The clauses, the window on the rule's timestamp and the exceptions, ANDed."""
        filters = [dict(c) for c in (*clauses, time_filter(self.rule, self.window),
                                     self.exceptions) if c]
        return {"bool": {"filter": filters}} if filters else None


@dataclass(slots=True)
class WindowAlerts:
    """What an executor made of one window: how many hits, their alerts, and whether the
    window's cap cut them short."""

    hits: int
    alerts: list[dict[str, Any]]
    reached_max_signals: bool = False


class Executor(Protocol):
    """How one rule type runs a window."""

    def requests(self, job: WindowJob) -> list[SearchRequest]:
        """The engine searches the window needs (none for a type that searches itself)."""
        ...

    def alerts(self, job: WindowJob, results: list[SearchResult]) -> WindowAlerts:
        """The window's alerts from the results of its requests, in order."""
        ...


@runtime_checkable
class Refusing(Protocol):
    """An executor that can tell, before any search, that a rule of its type cannot run
    offline (an ES|QL rule calling an LLM): hunts then leave the rule out with the reason
    instead of failing it."""

    def refuses(self, rule: Rule) -> str | None:
        """Why the rule cannot run, or None."""
        ...


class EqlExecutor:
    """Kibana's EQL executor: one EQL search, `size = max_signals`, the latest matches
    (result_position tail); an event becomes an alert, a sequence a shell and its blocks."""

    def requests(self, job: WindowJob) -> list[SearchRequest]:
        rule = job.rule
        scope = job.round.scope(rule.index, job.event_filter(),
                                timestamp_field=rule.timestamp_field or "@timestamp",
                                tiebreaker_field=rule.tiebreaker_field,
                                category_field=rule.category_field)
        if not scope.indices and known.query_fields(rule.query) is not None:
            return []  # nothing to search, and the query parses: the search would find nothing
        return [SearchRequest(rule.query, scope, job.size)]

    def alerts(self, job: WindowJob, results: list[SearchResult]) -> WindowAlerts:
        rule, context = job.rule, job.context
        alerts: list[dict[str, Any]] = []
        if not results:  # no index to search (requests)
            hits = 0
        elif (result := results[0]).kind is QueryKind.EVENT:
            alerts = event_alerts(result.events, context)
            hits = len(result.events)
        else:
            for sequence in result.sequences:
                events = [source_event(d) for d in sequence.events if d is not None]
                if events and not any(is_own_alert(e, rule) for e in events):
                    alerts.extend(sequence_alerts(events, context))
            hits = len(result.sequences)
        reached = job.window.max_signals is not None and hits >= job.window.max_signals
        return WindowAlerts(hits, alerts, reached)


def event_alerts(documents: Iterable[Document], context: AlertContext) -> list[dict[str, Any]]:
    """One alert per event, but none for the rule's own alerts (Kibana's guard)."""
    alerts = []
    for document in documents:
        event = source_event(document)
        if not is_own_alert(event, context.rule):
            alerts.append(event_alert(event, context))
    return alerts


def source_event(document: Document) -> SourceEvent:
    """The event of a fetched document, parsed once: alerts copy what they change."""
    parsed = document.parsed
    return SourceEvent(document.index, document.id,
                       parsed if parsed is not None else orjson.loads(document.source))


def time_filter(rule: Rule, window: Window) -> dict[str, Any] | None:
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
