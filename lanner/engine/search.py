"""One EQL search from query text to results: parse, plan, run filters, match, select.

The backend evaluates filters; ordering, matching and selection are the matcher's, and the
join keys are rendered here the way Elasticsearch prints them (§8.2, §9 of the spec).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

from lanner import eql
from lanner.engine.backends.base import Backend, KeyedMatching, LocalMatching
from lanner.engine.backends.duckdb import Document, SearchScope
from lanner.engine.backends.sql import SqlCompiler
from lanner.engine.matcher import (
    Event,
    SampleMatch,
    SequenceMatch,
    SequenceSpec,
    match_samples,
    match_sequences,
    select_results,
)
from lanner.engine.plan import Plan, QueryKind, StageFilter
from lanner.engine.planner import plan as make_plan

_DATE_TYPES = frozenset({"date", "date_nanos"})
_NS_PER_MS = 1_000_000
_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)


@dataclass(frozen=True, slots=True)
class SearchRequest:
    """What `_eql/search` is asked: the query and the request options that change results."""

    query: str
    scope: SearchScope
    size: int = 10
    result_position: str = "tail"
    max_samples_per_key: int = 1


@dataclass(frozen=True, slots=True)
class SequenceHit:
    """A sequence or a sample: its join keys as ES prints them and its events, None standing
    for a missing-event stage."""

    join_keys: list[object]
    events: list[Document | None]


@dataclass(frozen=True, slots=True)
class SearchResult:
    kind: QueryKind
    events: list[Document] = field(default_factory=list)
    sequences: list[SequenceHit] = field(default_factory=list)


def search(backend: Backend, request: SearchRequest) -> SearchResult:
    """Run one request; raises the EQL errors (syntax, verification) Elasticsearch raises."""
    if request.result_position not in ("head", "tail"):
        raise ValueError(f"result_position must be head or tail, not {request.result_position!r}")
    query = eql.parse(request.query)
    plan = make_plan(query)
    scope = request.scope
    if not scope.indices:  # a pattern that matches no index: no hits, as in ES
        return SearchResult(plan.kind)
    compiler = backend.compiler(scope)
    compiler.verify([query])
    if plan.kind is QueryKind.EVENT:
        return _events(backend, compiler, plan, request)
    if plan.kind is QueryKind.SEQUENCE:
        return _sequences(backend, compiler, plan, request)
    return _samples(backend, compiler, plan, request)


def _events(backend: Backend, compiler: SqlCompiler, plan: Plan,
            request: SearchRequest) -> SearchResult:
    """Count, pick the window size/pipes select (always contiguous), read only that window."""
    stage = plan.stages[0]
    where = compiler.filter(stage.category, stage.condition)
    total = backend.count(where, request.scope)
    picked = select_results(range(total), request.size, request.result_position, plan.pipes)
    if not picked:
        return SearchResult(plan.kind)
    return SearchResult(plan.kind,
                        events=backend.window(where, request.scope, picked[0], len(picked)))


def _candidates(backend: LocalMatching, compiler: SqlCompiler, plan: Plan,
                request: SearchRequest, *, timed: bool) -> dict[int, list[Event]]:
    """Candidates per stage as written (runs share their stage's query)."""
    return {stage.source: backend.candidates(stage, compiler, request.scope, timed=timed)
            for stage in plan.distinct_filters()}


def _sequences(backend: Backend, compiler: SqlCompiler, plan: Plan,
               request: SearchRequest) -> SearchResult:
    spec = SequenceSpec(len(plan.stages), tuple(stage.missing for stage in plan.stages),
                        plan.maxspan_ns, plan.until is not None)
    matches = _sequence_matches(backend, compiler, plan, request, spec)
    selected = select_results(matches, request.size, request.result_position, plan.pipes)
    render = _KeyRenderer(compiler, plan.stages, sample=False)
    documents = backend.documents(e.doc for match in selected for e in match.events if e)
    return SearchResult(plan.kind, sequences=[
        SequenceHit(render(match.key),
                    [documents[e.doc] if e is not None else None for e in match.events])
        for match in selected
    ])


def _samples(backend: Backend, compiler: SqlCompiler, plan: Plan,
             request: SearchRequest) -> SearchResult:
    matches = _sample_matches(backend, compiler, plan, request)
    render = _KeyRenderer(compiler, plan.stages, sample=True)
    documents = backend.documents(e.doc for match in matches for e in match.events)
    return SearchResult(plan.kind, sequences=[
        SequenceHit(render(match.key), [documents[e.doc] for e in match.events])
        for match in matches
    ])


def _sequence_matches(backend: Backend, compiler: SqlCompiler, plan: Plan,
                      request: SearchRequest, spec: SequenceSpec) -> list[SequenceMatch]:
    """Completed sequences in result order: matched here, or per join key by the backend."""
    if isinstance(backend, KeyedMatching):
        direction = plan.pipes[0][0] if plan.pipes else request.result_position
        return backend.sequence_matches(plan, compiler, request.scope, spec, request.size,
                                        direction)
    if not isinstance(backend, LocalMatching):
        raise TypeError(f"{type(backend).__name__} cannot match sequences")
    found = _candidates(backend, compiler, plan, request, timed=True)
    until = found[plan.until.source] if plan.until is not None else ()
    return match_sequences(spec, [found[stage.source] for stage in plan.stages], until)


def _sample_matches(backend: Backend, compiler: SqlCompiler, plan: Plan,
                    request: SearchRequest) -> list[SampleMatch]:
    """Samples in key order, at most `size`: matched here, or per join key by the backend."""
    if isinstance(backend, KeyedMatching):
        return backend.sample_matches(plan, compiler, request.scope,
                                      request.max_samples_per_key, request.size)
    if not isinstance(backend, LocalMatching):
        raise TypeError(f"{type(backend).__name__} cannot match samples")
    found = _candidates(backend, compiler, plan, request, timed=False)
    return match_samples([found[stage.source] for stage in plan.stages],
                         request.max_samples_per_key, limit=request.size)


class _KeyRenderer:
    """Join keys as ES returns them: dates formatted in sequences, epoch millis in samples
    (composite aggregation keys), ip and version values as text, the rest as they are."""

    def __init__(self, compiler: SqlCompiler, stages: tuple[StageFilter, ...], *,
                 sample: bool) -> None:
        width = len(stages[0].keys) if stages else 0
        self.types: list[str | None] = []
        for position in range(width):
            types = (compiler.resolve(stage.keys[position]).es_type for stage in stages)
            self.types.append(next((t for t in types if t is not None), None))
        self.sample = sample

    def __call__(self, key: tuple) -> list[object]:
        return [self._render(value, es_type) for value, es_type in zip(key, self.types,
                                                                         strict=True)]

    def _render(self, value: object, es_type: str | None) -> object:
        if value is None:
            return None
        if es_type in _DATE_TYPES and isinstance(value, int):
            if self.sample:
                return value // _NS_PER_MS
            return _format_date(value, nanos=es_type == "date_nanos")
        if isinstance(value, str):
            return str(value)  # IpValue / VersionValue print as their text
        return value


def _format_date(value: int, *, nanos: bool) -> str:
    """ES's default date format, `1970-01-01T00:00:00.000Z` (nanosecond digits where a
    date_nanos value has them)."""
    seconds, fraction = divmod(value, 1_000_000_000)
    moment = _EPOCH + datetime.timedelta(seconds=seconds)
    if nanos and fraction % _NS_PER_MS:
        digits = f"{fraction:09d}"
    else:
        digits = f"{fraction // _NS_PER_MS:03d}"
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{digits}Z"
