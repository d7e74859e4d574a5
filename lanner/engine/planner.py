"""Turn a parsed query into a Plan: stage filters with their join keys, runs expanded."""

from __future__ import annotations

from lanner.engine.plan import Plan, QueryKind, StageFilter
from lanner.eql import ast


def plan(query: ast.Query) -> Plan:
    pipes = tuple((pipe.kind.value, pipe.count) for pipe in query.pipes)
    if isinstance(query, ast.EventQuery):
        stage = StageFilter(0, query.filter.category, query.filter.condition)
        return Plan(query, QueryKind.EVENT, (stage,), pipes=pipes)
    if isinstance(query, ast.Sequence):
        stages = _expand(query.keys, query.stages)
        until = None
        if query.until is not None:
            until = _stage(len(stages), len(query.stages), query.keys, query.until)
        maxspan = query.maxspan.millis * 1_000_000 if query.maxspan else None
        return Plan(query, QueryKind.SEQUENCE, stages, until, maxspan, pipes)
    if isinstance(query, ast.Sample):
        return Plan(query, QueryKind.SAMPLE, _expand(query.keys, query.stages))
    raise TypeError(f"cannot plan {type(query).__name__}")


def _expand(keys: tuple[ast.Field, ...], stages: tuple[ast.Stage, ...]) -> tuple[StageFilter, ...]:
    expanded: list[StageFilter] = []
    for source, stage in enumerate(stages):
        for _ in range(stage.runs):
            expanded.append(_stage(len(expanded), source, keys, stage))
    return tuple(expanded)


def _stage(position: int, source: int, keys: tuple[ast.Field, ...],
           stage: ast.Stage) -> StageFilter:
    return StageFilter(position, stage.filter.category, stage.filter.condition,
                       keys + stage.keys, stage.missing, source)
