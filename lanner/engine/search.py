"""EQL searches from query text to results: parse, plan, run filters, match, select.

The backend evaluates filters; ordering, matching and selection are the matcher's, and the
join keys are rendered here the way Elasticsearch prints them (§8.2, §9 of the spec).

`search_many` answers many requests as `search` answers each alone. A backend that evaluates
many filters at once (ManyFilters) gets every filter of every request in one call, so a hunt
with a thousand rules reads the events a few times rather than a thousand; any other backend
runs one request after the other. One that reads join keys later (KeyedLater) first finds the
documents of every stage, and reads candidates only for the sequences and samples whose every
required stage found some.
"""

from __future__ import annotations

import datetime
import functools
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from lanner import eql
from lanner.engine.backends.base import (
    Backend,
    FilterJob,
    FilterOutcome,
    KeyedLater,
    KeyedMatching,
    LocalMatching,
    ManyFilters,
    Together,
)
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


@functools.lru_cache(maxsize=4096)
def prepare(query: str) -> Plan:
    """The plan of a query text, parsed and planned once: scheduled rules run the same text
    again and again. Raises the syntax and verification errors of the parser."""
    return make_plan(eql.parse(query))


def search(backend: Backend, request: SearchRequest) -> SearchResult:
    """Run one request; raises the EQL errors (syntax, verification) Elasticsearch raises."""
    (outcome,) = search_many(backend, [request])
    if isinstance(outcome, Exception):
        raise outcome
    return outcome


def search_many(backend: Backend,
                requests: Sequence[SearchRequest]) -> list[SearchResult | Exception]:
    """Each request's result, or the error that `search` would raise for it, in order: one
    failing request fails alone."""
    if not isinstance(backend, ManyFilters):
        return [_attempt(backend, request) for request in requests]
    keyed_later = backend if isinstance(backend, KeyedLater) else None
    compilers: dict[tuple[object, ...], SqlCompiler] = {}
    searches: list[_Search | SearchResult | Exception] = []
    jobs: list[FilterJob] = []
    for request in requests:
        try:
            prepared = _prepare(backend, request, compilers)
        except Exception as error:  # the request's own failure, as search() raises it
            searches.append(error)
            continue
        if isinstance(prepared, _Search):
            prepared.first_job = len(jobs)
            jobs.extend(prepared.jobs(keys_later=keyed_later is not None))
        searches.append(prepared)
    together = [item.together() for item in searches
                if isinstance(item, _Search) and item.plan.kind is not QueryKind.EVENT]
    found = backend.filter_many(jobs, together) if jobs else []
    if keyed_later is not None:
        _read_keys(keyed_later, [item for item in searches if isinstance(item, _Search)], jobs,
                   found)
    selected = [_select(item, found) if isinstance(item, _Search) else item
                for item in searches]
    documents = backend.documents(doc for item in selected if isinstance(item, _Selected)
                                  for doc in item.docs())
    return [item.result(documents) if isinstance(item, _Selected) else item
            for item in selected]


def _attempt(backend: Backend, request: SearchRequest) -> SearchResult | Exception:
    try:
        return _search_one(backend, request)
    except Exception as error:  # the request's own failure, as search() raises it
        return error


@dataclass(slots=True)
class _Search:
    """A request planned and verified, and its filters (jobs from `first_job` on)."""

    request: SearchRequest
    plan: Plan
    compiler: SqlCompiler
    filters: tuple[StageFilter, ...]
    first_job: int = 0

    def jobs(self, *, keys_later: bool = False) -> list[FilterJob]:
        kind = self.plan.kind
        keyed = kind is not QueryKind.EVENT
        return [FilterJob(stage, self.compiler, self.request.scope, keyed=keyed,
                          timed=kind is QueryKind.SEQUENCE, keys_later=keyed and keys_later,
                          fields=self.plan.fields)
                for stage in self.filters]

    def together(self) -> Together:
        """Its jobs, and those that must each find something for it to match: a sequence's
        positive stages, a sample's every stage (none for one with `max_samples_per_key`
        below 1, which goes on to fail as it fails alone)."""
        jobs = range(self.first_job, self.first_job + len(self.filters))
        if self.plan.kind is QueryKind.SEQUENCE:
            positive = {stage.source for stage in self.plan.stages if not stage.missing}
            required = [job for job, stage in zip(jobs, self.filters, strict=True)
                        if stage.source in positive]
        else:
            required = [] if self.request.max_samples_per_key < 1 else list(jobs)
        return Together(tuple(jobs), tuple(required))

    def can_match(self, outcomes: Sequence[FilterOutcome]) -> bool:
        """Whether stages with these documents (its jobs' outcomes, in order) can make a
        match: each required one found something."""
        return all(outcomes[job - self.first_job] for job in self.together().required)


@dataclass(slots=True)
class _Selected:
    """A request's results before its documents are read: the picked event documents, or the
    matches."""

    search: _Search
    events: list[int] = field(default_factory=list)
    matches: Sequence[SequenceMatch | SampleMatch] = ()

    def docs(self) -> list[int]:
        if self.search.plan.kind is QueryKind.EVENT:
            return self.events
        return [event.doc for match in self.matches for event in match.events if event]

    def result(self, documents: dict[int, Document]) -> SearchResult:
        plan = self.search.plan
        if plan.kind is QueryKind.EVENT:
            return SearchResult(plan.kind, events=[documents[doc] for doc in self.events])
        return _sequence_result(plan, self.search.compiler, self.matches, documents)


def _prepare(backend: Backend, request: SearchRequest,
             compilers: dict[tuple[object, ...], SqlCompiler]) -> _Search | SearchResult:
    """Plan and verify a request, with one compiler per scope; a scope without indices has
    no hits, as in ES."""
    if request.result_position not in ("head", "tail"):
        raise ValueError(f"result_position must be head or tail, not {request.result_position!r}")
    plan = prepare(request.query)
    scope = request.scope
    if not scope.indices:
        return SearchResult(plan.kind)
    key = (scope.indices, scope.category_field)
    compiler = compilers.get(key)
    if compiler is None:
        compiler = compilers[key] = backend.compiler(scope)
    compiler.verify_fields(plan.field_nodes)
    filters = plan.stages if plan.kind is QueryKind.EVENT else plan.distinct_filters()
    return _Search(request, plan, compiler, filters)


def _read_keys(backend: KeyedLater, searches: list[_Search], jobs: list[FilterJob],
               found: list[FilterOutcome]) -> None:
    """Turn, in `found`, the documents of each sequence or sample stage into matcher Events:
    read for the searches that can still match, none for the others. A search with a failed
    filter keeps its error."""
    wanted: list[int] = []
    for search in searches:
        if search.plan.kind is QueryKind.EVENT:
            continue
        span = range(search.first_job, search.first_job + len(search.filters))
        outcomes = [found[position] for position in span]
        if any(isinstance(outcome, Exception) for outcome in outcomes):
            continue
        if search.can_match(outcomes):
            wanted.extend(span)
        else:
            for position in span:
                found[position] = []
    if not wanted:
        return
    docs = [found[position] for position in wanted]
    events = backend.key_events([replace(jobs[position], keys_later=False)
                                 for position in wanted], docs)
    for position, outcome in zip(wanted, events, strict=True):
        found[position] = outcome


def _select(search: _Search, found: list[FilterOutcome]) -> _Selected | Exception:
    """What the request keeps of its filters' outcomes (the first failed filter's error if
    one failed, as the filters run in order one by one)."""
    outcomes = found[search.first_job:search.first_job + len(search.filters)]
    for outcome in outcomes:
        if isinstance(outcome, Exception):
            return outcome
    plan, request = search.plan, search.request
    if plan.kind is QueryKind.EVENT:
        docs = outcomes[0]
        return _Selected(search, events=select_results(docs, request.size,
                                                       request.result_position, plan.pipes))
    candidates = {stage.source: outcome for stage, outcome in zip(search.filters, outcomes,
                                                                   strict=True)}
    if plan.kind is QueryKind.SEQUENCE:
        return _Selected(search, matches=_match_sequences(plan, request, candidates))
    return _Selected(search, matches=_match_samples(plan, request, candidates))


# -- one request at a time ------------------------------------------------------------------


def _search_one(backend: Backend, request: SearchRequest) -> SearchResult:
    prepared = _prepare(backend, request, {})
    if isinstance(prepared, SearchResult):
        return prepared
    plan, compiler = prepared.plan, prepared.compiler
    if plan.kind is QueryKind.EVENT:
        return _events(backend, compiler, plan, request)
    if plan.kind is QueryKind.SEQUENCE:
        matches: Sequence[SequenceMatch | SampleMatch] = _sequence_matches(
            backend, compiler, plan, request)
    else:
        matches = _sample_matches(backend, compiler, plan, request)
    documents = backend.documents(e.doc for match in matches for e in match.events if e)
    return _sequence_result(plan, compiler, matches, documents)


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


def _sequence_matches(backend: Backend, compiler: SqlCompiler, plan: Plan,
                      request: SearchRequest) -> list[SequenceMatch]:
    """Completed sequences, selected by size and pipes, in result order: matched here, or
    per join key by the backend."""
    if isinstance(backend, KeyedMatching):
        direction = plan.pipes[0][0] if plan.pipes else request.result_position
        matches = backend.sequence_matches(plan, compiler, request.scope, _spec(plan),
                                           request.size, direction)
        return select_results(matches, request.size, request.result_position, plan.pipes)
    if not isinstance(backend, LocalMatching):
        raise TypeError(f"{type(backend).__name__} cannot match sequences")
    return _match_sequences(plan, request,
                            _candidates(backend, compiler, plan, request, timed=True))


def _sample_matches(backend: Backend, compiler: SqlCompiler, plan: Plan,
                    request: SearchRequest) -> list[SampleMatch]:
    """Samples in key order, at most `size`: matched here, or per join key by the backend."""
    if isinstance(backend, KeyedMatching):
        return backend.sample_matches(plan, compiler, request.scope,
                                      request.max_samples_per_key, request.size)
    if not isinstance(backend, LocalMatching):
        raise TypeError(f"{type(backend).__name__} cannot match samples")
    return _match_samples(plan, request,
                          _candidates(backend, compiler, plan, request, timed=False))


# -- matching and results, whichever way the candidates came ---------------------------------


def _spec(plan: Plan) -> SequenceSpec:
    return SequenceSpec(len(plan.stages), tuple(stage.missing for stage in plan.stages),
                        plan.maxspan_ns, plan.until is not None)


def _match_sequences(plan: Plan, request: SearchRequest,
                     found: dict[int, list[Event]]) -> list[SequenceMatch]:
    """Completed sequences, selected by size and pipes, in result order."""
    until = found[plan.until.source] if plan.until is not None else ()
    matches = match_sequences(_spec(plan), [found[stage.source] for stage in plan.stages],
                              until)
    return select_results(matches, request.size, request.result_position, plan.pipes)


def _match_samples(plan: Plan, request: SearchRequest,
                   found: dict[int, list[Event]]) -> list[SampleMatch]:
    return match_samples([found[stage.source] for stage in plan.stages],
                         request.max_samples_per_key, limit=request.size)


def _sequence_result(plan: Plan, compiler: SqlCompiler,
                     matches: Sequence[SequenceMatch | SampleMatch],
                     documents: dict[int, Document]) -> SearchResult:
    """Sequences or samples with their join keys as ES prints them and their documents
    (None for a missing-event stage)."""
    render = _KeyRenderer(compiler, plan.stages, sample=plan.kind is QueryKind.SAMPLE)
    return SearchResult(plan.kind, sequences=[
        SequenceHit(render(match.key),
                    [documents[e.doc] if e is not None else None for e in match.events])
        for match in matches
    ])


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
