"""Why a rule does not fire: the first part of its query that no event gets past.

A detection engineer whose rule stays silent on events that should trigger it needs to know
*where* the events fall out. For one stage filter (an event query, or one stage of a sequence
or sample) the condition is cut into its top-level clauses: the event category first, then
each term of the `where` conjunction. Counting the events that satisfy each clause together
with every clause before it finds the first clause that leaves none: the failed clause. Its
parts (the alternatives of an `or`, the patterns of a `:`, the exclusions of a `not`) are
counted among the events that got that far, and the events meeting the most clauses are shown
with the values the failed clause read.

A sequence can also lose its candidates after the filters: events without the join key or a
timestamp, keys that no two stages share, stages never in order, `maxspan`, `until`, or a
missing-event stage. Each of those constraints is added in turn to the matching, and the first
that leaves no sequence is named. Every count is SQL compiled by the engine's SqlCompiler, so
the explanation agrees with the search to the event.

A KQL rule (query, threat_match: its event query) is cut the same way: each term of the
query's top-level `and`, then each of the rule's Kibana filters, compiled through the engine's
Query DSL compiler exactly as the rule's search compiles them (`kql_condition`).
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

import orjson

from lanner import eql, kql
from lanner.detection.query_rules import filters_clause
from lanner.detection.run import DEFAULT_INDEX
from lanner.engine.backends.duckdb import DuckDBBackend, SearchScope
from lanner.engine.backends.sql import SqlCompiler, sql_literal
from lanner.engine.matcher import (
    Event,
    SequenceMatch,
    SequenceSpec,
    match_samples,
    match_sequences,
)
from lanner.engine.plan import Plan, QueryKind, StageFilter
from lanner.engine.planner import plan as make_plan
from lanner.engine.querydsl import filter_condition, kql_condition
from lanner.eql import ast
from lanner.eql.printer import quote_string
from lanner.kql import ast as kql_ast
from lanner.rules import Rule
from lanner.store.documents import field_values


class BlockerKind(StrEnum):
    """What eliminated the last candidate."""

    NO_INDEX = "no index"  # no loaded event is in an index the rule searches
    CLAUSE = "clause"  # a clause of a stage filter leaves no event
    TIMESTAMP = "timestamp"  # a sequence stage's events have no timestamp
    JOIN_KEY = "join key"  # events lack the join key, or no key value is shared
    ORDER = "order"  # keys are shared, but never with the events in stage order
    MAXSPAN = "maxspan"
    UNTIL = "until"
    MISSING_EVENT = "missing event"  # a `![…]` stage's event is present in every sequence


class Connective(StrEnum):
    """How the failed clause relates to its parts, which says how to read their counts."""

    LEAF = "leaf"  # no parts
    ALL = "all"  # `and`: every part must hold
    ANY = "any"  # `or`, several patterns or values: one part must hold; none did
    EXCLUSION = "exclusion"  # `not`: the parts that held excluded the events


@dataclass(frozen=True, slots=True)
class ClauseCount:
    """A clause, the events meeting it on its own, and those meeting it and the clauses
    before it (for a part: it and the clauses before the failed one)."""

    text: str
    alone: int
    given_previous: int


@dataclass(frozen=True, slots=True)
class CloseEvent:
    """An event that met the most clauses of a failed stage: which clauses it missed, and the
    values it has for the fields the first of them reads."""

    index: str
    id: str
    label: str  # event.id when the event has one (readable), else the document _id
    timestamp: str | None
    satisfied: int
    failed: tuple[str, ...]
    values: tuple[tuple[str, tuple[Any, ...]], ...]


@dataclass(frozen=True, slots=True)
class StageAnalysis:
    """One stage filter of the query cut into clauses, counted over the searched events."""

    position: int  # the stage as written (0 for an event query)
    text: str
    clauses: tuple[ClauseCount, ...]
    failed: int | None = None  # index in `clauses` of the first one that leaves no event
    connective: Connective = Connective.LEAF
    parts: tuple[ClauseCount, ...] = ()
    closest: tuple[CloseEvent, ...] = ()
    is_until: bool = False
    is_missing: bool = False

    @property
    def matches(self) -> int:
        """Events meeting the whole filter."""
        return self.clauses[-1].given_previous


@dataclass(frozen=True, slots=True)
class Blocker:
    """The first constraint that left nothing, in words, and the stage it happened at."""

    kind: BlockerKind
    message: str
    stage: int | None = None  # index in Explanation.stages
    details: tuple[str, ...] = ()  # evidence: join-key values per stage, the shortest span


@dataclass(frozen=True, slots=True)
class Explanation:
    """What a rule's query finds over the loaded events, and where its candidates ran out."""

    kind: QueryKind
    indices: tuple[str, ...]
    events_in_scope: int
    matches: int  # events (event query) or sequences/samples found
    stages: tuple[StageAnalysis, ...] = ()
    blocker: Blocker | None = None

    @property
    def failed_stage(self) -> StageAnalysis | None:
        if self.blocker is None or self.blocker.stage is None:
            return None
        return self.stages[self.blocker.stage]


def explain_rule(backend: DuckDBBackend, rule: Rule, *, closest: int = 3) -> Explanation:
    """Explain the rule's query over the events of its indices (Kibana's default indices when
    it names none), ordered and categorised as the rule's options say."""
    patterns = rule.index or DEFAULT_INDEX
    scope = SearchScope(backend.indices(list(patterns)), rule.timestamp_field or "@timestamp",
                        rule.tiebreaker_field, rule.category_field)
    return explain_query(backend, rule.query, scope, closest=closest, patterns=patterns)


def explain_query(backend: DuckDBBackend, query_text: str, scope: SearchScope, *,
                  closest: int = 3, patterns: Sequence[str] = ()) -> Explanation:
    """Explain one query over a scope; raises the EQL errors a search of it would raise.
    `patterns` are the index patterns the scope came from, to name them when none matched."""
    query = eql.parse(query_text)
    plan = make_plan(query)
    if not scope.indices:
        searched = f" ({', '.join(patterns)})" if patterns else ""
        return Explanation(plan.kind, (), 0, 0, blocker=Blocker(
            BlockerKind.NO_INDEX, f"no loaded event is in an index the rule searches{searched}"))
    compiler = backend.compiler(scope)
    compiler.verify([query])
    counter = _Counter(backend, compiler, scope)
    filters = plan.distinct_filters()
    stages = [counter.stage(stage, is_until=stage is plan.until) for stage in filters]
    events_in_scope = counter.total()
    if plan.kind is QueryKind.EVENT:
        return _event_explanation(plan, counter, stages, events_in_scope, closest)
    return _SequenceExplainer(plan, backend, compiler, scope, counter, closest).explain(
        stages, events_in_scope)


def _event_explanation(plan: Plan, counter: _Counter, stages: list[StageAnalysis],
                       events_in_scope: int, closest: int) -> Explanation:
    stage = stages[0]
    if stage.failed is None:
        return Explanation(plan.kind, counter.scope.indices, events_in_scope, stage.matches,
                           tuple(stages))
    analysed = counter.detail(plan.stages[0], stage, closest)
    return Explanation(plan.kind, counter.scope.indices, events_in_scope, 0, (analysed,),
                       Blocker(BlockerKind.CLAUSE, _clause_message(analysed), 0))


def _clause_message(stage: StageAnalysis) -> str:
    assert stage.failed is not None
    clause = stage.clauses[stage.failed]
    if stage.failed == 0:
        return f"no event satisfies {clause.text}"
    before = stage.clauses[stage.failed - 1].given_previous
    return (f"none of the {before} event(s) that satisfy the clauses before it "
            f"satisfies {clause.text}")


# ------------------------------------------------------------------------------------------
# Clauses of one stage filter, counted in SQL


@dataclass(frozen=True, slots=True)
class _Clause:
    text: str
    sql: str
    fields: tuple[str, ...]
    expr: ast.Expr | None  # None for the category clause and KQL clauses


class _Counter:
    """Counts of clauses over the scope, one SQL aggregate per question."""

    def __init__(self, backend: DuckDBBackend, compiler: SqlCompiler,
                 scope: SearchScope) -> None:
        self.backend = backend
        self.compiler = compiler
        self.scope = scope
        indices = ", ".join(sql_literal(index) for index in scope.indices)
        self.scope_sql = f"_index IN ({indices})" + (
            f" AND ({scope.filter_sql})" if scope.filter_sql else "")

    def total(self) -> int:
        return self._aggregate(["count(*)"])[0]

    def clauses(self, stage: StageFilter) -> list[_Clause]:
        """The category, then each term of the condition's top-level `and`."""
        found = []
        if stage.category is not None:
            field = self.compiler.category_field
            found.append(_Clause(f'{field} == {quote_string(stage.category)}',
                                 self.compiler.category(stage.category), (field,), None))
        terms = stage.condition.terms if isinstance(stage.condition, ast.And) else (
            stage.condition,)
        found.extend(self._clause(term) for term in terms)
        return found

    def stage(self, stage: StageFilter, *, is_until: bool = False) -> StageAnalysis:
        clauses = self.clauses(stage)
        counts = self.cumulative(clauses)
        failed = next((i for i, count in enumerate(counts) if count.given_previous == 0), None)
        return StageAnalysis(stage.source, eql.to_text(ast.EventFilter(stage.category,
                                                                       stage.condition)),
                             tuple(counts), failed, is_until=is_until, is_missing=stage.missing)

    def detail(self, stage: StageFilter, analysis: StageAnalysis, closest: int) -> StageAnalysis:
        """The failed clause's parts, and the events closest to meeting the whole filter."""
        assert analysis.failed is not None
        clauses = self.clauses(stage)
        failed = clauses[analysis.failed]
        connective, parts = _parts(failed.expr) if failed.expr is not None else (
            Connective.LEAF, [])
        return self.detail_of(clauses, analysis, connective,
                              [self._clause(part) for part in parts], closest)

    def detail_of(self, clauses: Sequence[_Clause], analysis: StageAnalysis,
                  connective: Connective, compiled: Sequence[_Clause],
                  closest: int) -> StageAnalysis:
        """The failed clause's parts (compiled) counted, and the closest events."""
        assert analysis.failed is not None
        context = " AND ".join(_truth(c.sql) for c in clauses[:analysis.failed]) or "TRUE"
        counted = self._aggregate(
            [f"count(*) FILTER (WHERE {_truth(part.sql)})" for part in compiled]
            + [f"count(*) FILTER (WHERE {context} AND {_truth(part.sql)})" for part in compiled])
        part_counts = tuple(ClauseCount(part.text, counted[i], counted[len(compiled) + i])
                            for i, part in enumerate(compiled))
        return replace(analysis, connective=connective, parts=part_counts,
                       closest=tuple(self._closest(clauses, analysis.failed, closest)))

    def _clause(self, expr: ast.Expr) -> _Clause:
        return _Clause(eql.to_text(expr), self.compiler.condition(expr),
                       tuple(dict.fromkeys(f.name for f in expr.find_all(ast.Field))), expr)

    def cumulative(self, clauses: Sequence[_Clause]) -> list[ClauseCount]:
        truths = [_truth(clause.sql) for clause in clauses]
        alone = [f"count(*) FILTER (WHERE {truth})" for truth in truths]
        together = [f"count(*) FILTER (WHERE {' AND '.join(truths[:i + 1])})"
                    for i in range(len(truths))]
        counted = self._aggregate(alone + together)
        return [ClauseCount(clause.text, counted[i], counted[len(clauses) + i])
                for i, clause in enumerate(clauses)]

    def _closest(self, clauses: Sequence[_Clause], failed: int, limit: int) -> list[CloseEvent]:
        if limit <= 0:
            return []
        flags = [f"CAST({_truth(clause.sql)} AS INTEGER)" for clause in clauses]
        columns = ", ".join(f"{flag} AS _met{i}" for i, flag in enumerate(flags))
        score = " + ".join(flags)
        rows = self.backend.con.execute(
            f"SELECT _index, _id, _source, {columns} FROM events WHERE {self.scope_sql} "
            f"ORDER BY {score} DESC, _doc LIMIT {int(limit)}").fetchall()
        found = []
        for index, doc_id, source_text, *met in rows:
            source = orjson.loads(source_text)
            missed = [clause for clause, ok in zip(clauses, met, strict=True) if not ok]
            first = missed[0] if missed else clauses[failed]
            labels = field_values(source, "event.id")
            timestamps = field_values(source, self.scope.timestamp_field)
            found.append(CloseEvent(
                index, doc_id, str(labels[0]) if labels else doc_id,
                str(timestamps[0]) if timestamps else None, sum(met),
                tuple(clause.text for clause in missed),
                tuple((name, tuple(field_values(source, name))) for name in first.fields)))
        return found

    def _aggregate(self, expressions: Sequence[str]) -> tuple[int, ...]:
        if not expressions:
            return ()
        return tuple(self.backend.con.execute(
            f"SELECT {', '.join(expressions)} FROM events WHERE {self.scope_sql}").fetchone())


# ------------------------------------------------------------------------------------------
# KQL rules: the top-level clauses of the query, then the rule's filters


def explain_kql_rule(backend: DuckDBBackend, rule: Rule, *, closest: int = 3,
                     now: datetime.datetime | None = None) -> Explanation:
    """Explain a KQL rule's event query (and its Kibana filters) over the events of its
    indices; raises the KQL errors its search would raise. `now` anchors date math."""
    patterns = rule.index or DEFAULT_INDEX
    scope = SearchScope(backend.indices(list(patterns)))  # only counts: no order
    if not scope.indices:
        return Explanation(QueryKind.EVENT, (), 0, 0, blocker=Blocker(
            BlockerKind.NO_INDEX, "no loaded event is in an index the rule searches "
            f"({', '.join(patterns)})"))
    compiler = backend.compiler(scope)
    counter = _Counter(backend, compiler, scope)
    tree = kql.parse(rule.query)
    clauses = [_kql_clause(node, compiler, now) for node in _kql_terms(tree)]
    for item in rule.filters:
        clause = filters_clause([item])
        if clause is not None:
            clauses.append(_Clause(f"filter {orjson.dumps(clause).decode()}",
                                   filter_condition(clause, compiler, now=now),
                                   tuple(_dsl_names(clause)), None))
    counts = counter.cumulative(clauses)
    failed = next((i for i, count in enumerate(counts) if count.given_previous == 0), None)
    analysis = StageAnalysis(0, kql.to_text(tree), tuple(counts), failed)
    total = counter.total()
    if failed is None:
        return Explanation(QueryKind.EVENT, scope.indices, total, analysis.matches,
                           (analysis,))
    nodes = _kql_terms(tree)
    connective, parts = (_kql_parts(nodes[failed]) if failed < len(nodes)
                         else (Connective.LEAF, []))
    analysed = counter.detail_of(clauses, analysis, connective,
                                 [_kql_clause(part, compiler, now) for part in parts], closest)
    return Explanation(QueryKind.EVENT, scope.indices, total, 0, (analysed,),
                       Blocker(BlockerKind.CLAUSE, _clause_message(analysed), 0))


def _kql_terms(tree: kql_ast.Query) -> list[kql_ast.Query]:
    return list(tree.items) if isinstance(tree, kql_ast.And) else [tree]


def _kql_clause(node: kql_ast.Query, compiler: SqlCompiler,
                now: datetime.datetime | None) -> _Clause:
    names = [n.field.value for n in node.walk()
             if isinstance(n, kql_ast.FieldValue | kql_ast.Range)
             and isinstance(n.field, kql_ast.Literal) and isinstance(n.field.value, str)]
    return _Clause(kql.to_text(node), kql_condition(node, compiler, now=now),
                   tuple(dict.fromkeys(names)), None)


def _kql_parts(node: kql_ast.Query) -> tuple[Connective, list[kql_ast.Query]]:
    """What a failed KQL clause is made of, one level down (a value list as its values)."""
    if isinstance(node, kql_ast.FieldValue) and not isinstance(
            node.value, kql_ast.Literal | kql_ast.Wildcard):
        node = node.expand()
    if isinstance(node, kql_ast.Not):
        inner = node.item
        if isinstance(inner, kql_ast.FieldValue) and not isinstance(
                inner.value, kql_ast.Literal | kql_ast.Wildcard):
            inner = inner.expand()
        items = inner.items if isinstance(inner, kql_ast.And | kql_ast.Or) else (inner,)
        return Connective.EXCLUSION, list(items)
    if isinstance(node, kql_ast.And):
        return Connective.ALL, list(node.items)
    if isinstance(node, kql_ast.Or):
        return Connective.ANY, list(node.items)
    return Connective.LEAF, []


def _dsl_names(clause: Any) -> list[str]:
    """Field names a Query DSL clause names (for the closest events' values)."""
    found: list[str] = []
    if isinstance(clause, dict):
        for key, body in clause.items():
            if key == "exists" and isinstance(body, dict):
                found.append(str(body.get("field")))
            elif key in ("term", "terms", "match", "match_phrase", "wildcard", "prefix",
                         "range") and isinstance(body, dict):
                found.extend(body)
            else:
                found.extend(_dsl_names(body))
    elif isinstance(clause, list):
        for item in clause:
            found.extend(_dsl_names(item))
    return found


def _truth(sql: str) -> str:
    """A compiled clause as a plain boolean: its NULL (no value) is false, as in a WHERE."""
    return f"coalesce({sql}, FALSE)"


def _parts(expr: ast.Expr) -> tuple[Connective, list[ast.Expr]]:
    """What a failed clause is made of, one level down."""
    if isinstance(expr, ast.Not) or (isinstance(expr, ast.In) and expr.negated):
        excluded = expr.expr if isinstance(expr, ast.Not) else replace(expr, negated=False)
        if isinstance(excluded, ast.And):
            return Connective.EXCLUSION, list(excluded.terms)
        return Connective.EXCLUSION, _alternatives(excluded) or [excluded]
    if isinstance(expr, ast.And):
        return Connective.ALL, list(expr.terms)
    alternatives = _alternatives(expr)
    return (Connective.ANY, alternatives) if alternatives else (Connective.LEAF, [])


def _alternatives(expr: ast.Expr) -> list[ast.Expr]:
    """The alternatives of an `or`, or of a predicate with several patterns or values (any
    value of a field matching any pattern is one pattern's match or another's)."""
    if isinstance(expr, ast.Or):
        return list(expr.terms)
    if isinstance(expr, ast.Match) and len(expr.patterns) > 1:
        return [replace(expr, patterns=(pattern,)) for pattern in expr.patterns]
    if isinstance(expr, ast.In) and not expr.negated and len(expr.values) > 1:
        return [replace(expr, values=(value,)) for value in expr.values]
    return []


def _few(keys: set[tuple], limit: int = 3) -> str:
    """Some join-key values, sorted, as text."""
    shown = sorted(", ".join(map(str, key)) for key in keys)
    more = f" (+{len(shown) - limit} more)" if len(shown) > limit else ""
    return "; ".join(shown[:limit]) + more


def _shortest_span(sequences: Sequence[SequenceMatch]) -> str:
    """The shortest first-to-last span of the sequences found without maxspan."""
    nanos = min(match.events[-1].timestamp - match.events[0].timestamp
                for match in sequences if match.events[0] and match.events[-1])
    return f"the shortest sequence without maxspan spans {nanos / 1e9:g}s"


# ------------------------------------------------------------------------------------------
# Sequences and samples: the constraints after the filters, added one at a time


class _SequenceExplainer:
    def __init__(self, plan: Plan, backend: DuckDBBackend, compiler: SqlCompiler,
                 scope: SearchScope, counter: _Counter, closest: int) -> None:
        self.plan = plan
        self.backend = backend
        self.compiler = compiler
        self.scope = scope
        self.counter = counter
        self.closest = closest

    def explain(self, stages: list[StageAnalysis], events_in_scope: int) -> Explanation:
        plan = self.plan
        filters = plan.distinct_filters()
        for number, (stage, analysis) in enumerate(zip(filters, stages, strict=True)):
            if analysis.failed is not None and not (analysis.is_until or analysis.is_missing):
                stages[number] = self.counter.detail(stage, analysis, self.closest)
                message = f"stage {stage.source + 1}: {_clause_message(stages[number])}"
                return self._result(stages, events_in_scope, 0,
                                     Blocker(BlockerKind.CLAUSE, message, number))
        timed = plan.kind is QueryKind.SEQUENCE
        found = {stage.source: self.backend.candidates(stage, self.compiler, self.scope,
                                                       timed=timed) for stage in filters}
        for number, (stage, analysis) in enumerate(zip(filters, stages, strict=True)):
            if analysis.is_until or analysis.is_missing:
                continue
            blocker = self._unusable(stage, analysis, found[stage.source], number)
            if blocker is not None:
                return self._result(stages, events_in_scope, 0, blocker)
        if plan.kind is QueryKind.SAMPLE:
            samples = match_samples([found[stage.source] for stage in plan.stages])
            blocker = None if samples else Blocker(
                BlockerKind.JOIN_KEY, f"no {self._key_names()} value is shared by events of "
                "every stage (each stage needs a distinct event)")
            return self._result(stages, events_in_scope, len(samples), blocker)
        return self._sequence(stages, events_in_scope, found)

    def _unusable(self, stage: StageFilter, analysis: StageAnalysis, events: list[Event],
                  number: int) -> Blocker | None:
        """Events that meet a stage's filter but cannot be part of a sequence or sample."""
        label = f"stage {stage.source + 1}"
        if not events:
            return Blocker(BlockerKind.TIMESTAMP,
                           f"{label}: none of its {analysis.matches} event(s) has a timestamp "
                           f"({self.scope.timestamp_field})", number)
        if all(not event.keys for event in events):
            return Blocker(BlockerKind.JOIN_KEY,
                           f"{label}: none of its {len(events)} event(s) has the join key "
                           f"{self._key_names(stage)}", number)
        return None

    def _sequence(self, stages: list[StageAnalysis], events_in_scope: int,
                  found: dict[int, list[Event]]) -> Explanation:
        plan = self.plan
        positive = [stage for stage in plan.stages if not stage.missing]
        matched: set[tuple] = set()
        for length in range(1, len(positive) + 1):
            prefix = positive[:length]
            spec = SequenceSpec(length, (False,) * length, None, False)
            sequences = match_sequences(spec, [found[stage.source] for stage in prefix])
            if not sequences:
                stage = prefix[-1]
                keys = {key for event in found[stage.source] for key in event.keys}
                number = self._number(stage)
                if not keys & matched:
                    before = (f"stage {prefix[0].source + 1}" if length == 2 else
                              f"stages {prefix[0].source + 1}-{prefix[-2].source + 1}")
                    details = (f"{before}: {_few(matched)}",
                               f"stage {stage.source + 1}: {_few(keys)}")
                    return self._result(stages, events_in_scope, 0, Blocker(
                        BlockerKind.JOIN_KEY,
                        f"stage {stage.source + 1}: none of its events shares a "
                        f"{self._key_names()} value with the events of the stages before it",
                        number, details))
                return self._result(stages, events_in_scope, 0, Blocker(
                    BlockerKind.ORDER,
                    f"stage {stage.source + 1}: its events with a shared "
                    f"{self._key_names()} value all come before the events of the stage "
                    "before it", number))
            matched = {sequence.key for sequence in sequences}
            unbounded = sequences
        steps = [(BlockerKind.MAXSPAN, SequenceSpec(len(positive), (False,) * len(positive),
                                                    plan.maxspan_ns, False), False)]
        if plan.until is not None:
            steps.append((BlockerKind.UNTIL, SequenceSpec(
                len(positive), (False,) * len(positive), plan.maxspan_ns, True), True))
        for kind, spec, with_until in steps:
            until = found[plan.until.source] if with_until and plan.until is not None else ()
            if not match_sequences(spec, [found[stage.source] for stage in positive], until):
                details = (_shortest_span(unbounded),) if kind is BlockerKind.MAXSPAN else ()
                return self._result(stages, events_in_scope, 0,
                                    Blocker(kind, self._message(kind), details=details))
        full = SequenceSpec(len(plan.stages), tuple(s.missing for s in plan.stages),
                            plan.maxspan_ns, plan.until is not None)
        until = found[plan.until.source] if plan.until is not None else ()
        sequences = match_sequences(full, [found[stage.source] for stage in plan.stages], until)
        blocker = None if sequences else Blocker(BlockerKind.MISSING_EVENT,
                                                 self._message(BlockerKind.MISSING_EVENT))
        return self._result(stages, events_in_scope, len(sequences), blocker)

    def _message(self, kind: BlockerKind) -> str:
        if kind is BlockerKind.MAXSPAN:
            query = self.plan.query
            span = eql.to_text(query.maxspan) if isinstance(query, ast.Sequence) and \
                query.maxspan else "maxspan"
            return (f"the stages match in order with a shared {self._key_names()}, but never "
                    f"within maxspan={span}")
        if kind is BlockerKind.UNTIL:
            return ("every sequence is cut short by an event of the until stage with the "
                    f"same {self._key_names()} before it completes")
        return "an event that a missing-event stage ![…] requires to be absent is present " \
               "in every sequence"

    def _number(self, stage: StageFilter) -> int:
        return next(i for i, f in enumerate(self.plan.distinct_filters())
                    if f.source == stage.source)

    def _key_names(self, stage: StageFilter | None = None) -> str:
        keys = (stage or self.plan.stages[0]).keys
        return ", ".join(eql.to_text(key) for key in keys) or "join key"

    def _result(self, stages: list[StageAnalysis], events_in_scope: int, matches: int,
                blocker: Blocker | None) -> Explanation:
        return Explanation(self.plan.kind, self.scope.indices, events_in_scope, matches,
                           tuple(stages), blocker)
