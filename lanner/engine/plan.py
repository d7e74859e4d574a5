"""The plan: the contract between the planner, the backends and the matcher.

A backend reads only this: per stage, a filter (category + condition) to run as a query and
the join-key fields whose values it hands to the matcher; and, for the matcher, the shape of
the sequence or sample. `with runs=N` is already expanded here, so nobody else repeats it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
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
    # Every field node of the query, in walk order, found once: reading the fields, verifying
    # them and keying compiled conditions each walked the tree (a tenth of a thousand-rule
    # hunt's start).
    field_nodes: tuple[ast.Field, ...] = field(init=False, repr=False, compare=False)
    fields: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        nodes = tuple(self.query.find_all(ast.Field))
        object.__setattr__(self, "field_nodes", nodes)
        object.__setattr__(self, "fields", frozenset(node.name for node in nodes))

    @property
    def optional_fields(self) -> frozenset[str]:
        return frozenset(node.name for node in self.field_nodes if node.optional)

    def distinct_filters(self) -> tuple[StageFilter, ...]:
        """One filter per stage as written: runs repeat a stage, not its query."""
        seen: set[int] = set()
        unique = []
        for stage in (*self.stages, *((self.until,) if self.until else ())):
            if stage.source not in seen:
                seen.add(stage.source)
                unique.append(stage)
        return tuple(unique)
