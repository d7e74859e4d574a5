"""The plan: the contract between the planner, the backends and the matcher.

A backend reads only this: per stage, a filter (category + condition) to run as a query and
the join-key fields whose values it hands to the matcher; and, for the matcher, the shape of
the sequence or sample. `with runs=N` is already expanded here, so nobody else repeats it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from lanner.eql import ast


class QueryKind(StrEnum):
    EVENT = "event"
    SEQUENCE = "sequence"
    SAMPLE = "sample"


@dataclass(frozen=True, slots=True)
class StageFilter:
    """One filter to run: events of `category` (None: any) for which `condition` is true.

    `keys` is the full positional join key (query-level `by` fields, then the stage's own);
    `source` is the stage's position in the query as written, before runs were expanded.
    """

    position: int
    category: str | None
    condition: ast.Expr
    keys: tuple[ast.Field, ...] = ()
    missing: bool = False
    source: int = 0


@dataclass(frozen=True, slots=True)
class Plan:
    query: ast.Query
    kind: QueryKind
    stages: tuple[StageFilter, ...]
    until: StageFilter | None = None
    maxspan_ns: int | None = None  # the matcher compares nanosecond timestamps
    pipes: tuple[tuple[str, int], ...] = ()

    @property
    def fields(self) -> frozenset[str]:
        """Every field the query reads: the columns a backend must load, and no others."""
        return frozenset(node.name for node in self.query.find_all(ast.Field))

    @property
    def optional_fields(self) -> frozenset[str]:
        return frozenset(node.name for node in self.query.find_all(ast.Field) if node.optional)

    def distinct_filters(self) -> tuple[StageFilter, ...]:
        """One filter per stage as written: runs repeat a stage, not its query."""
        seen: set[int] = set()
        unique = []
        for stage in (*self.stages, *((self.until,) if self.until else ())):
            if stage.source not in seen:
                seen.add(stage.source)
                unique.append(stage)
        return tuple(unique)
