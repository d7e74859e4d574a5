"""What search() needs from a backend, and what a distributed one offers besides."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from lanner.engine.backends.duckdb import Document, SearchScope
from lanner.engine.backends.sql import SqlCompiler
from lanner.engine.matcher import Event, SampleMatch, SequenceMatch, SequenceSpec
from lanner.engine.plan import Plan, StageFilter


class Backend(Protocol):
    """Filters evaluated by an engine; DuckDBBackend and SparkBackend both are one."""

    def indices(self, patterns: str | Sequence[str]) -> tuple[str, ...]: ...

    def compiler(self, scope: SearchScope) -> SqlCompiler: ...

    def count(self, where: str, scope: SearchScope) -> int: ...

    def window(self, where: str, scope: SearchScope, offset: int,
               limit: int) -> list[Document]: ...

    def documents(self, docs: Iterable[int]) -> dict[int, Document]: ...


@runtime_checkable
class LocalMatching(Protocol):
    """A backend that hands every candidate to this process, where the matcher runs once."""

    def candidates(self, stage: StageFilter, compiler: SqlCompiler, scope: SearchScope, *,
                   timed: bool = True) -> list[Event]: ...


@runtime_checkable
class KeyedMatching(Protocol):
    """A backend that runs the shared matcher itself, once per group of join keys (so on many
    machines), and returns the matches in result order; `size` in the direction of the first
    slice bounds what each group must return."""

    def sequence_matches(self, plan: Plan, compiler: SqlCompiler, scope: SearchScope,
                         spec: SequenceSpec, size: int, direction: str) -> list[SequenceMatch]:
        ...

    def sample_matches(self, plan: Plan, compiler: SqlCompiler, scope: SearchScope,
                       max_samples_per_key: int, limit: int) -> list[SampleMatch]: ...


@dataclass(frozen=True, slots=True)
class FilterJob:
    """One stage filter of one search, handed with many others to a backend that can evaluate
    them together (ManyFilters).

    `keyed`: the stage's candidates as matcher Events with their join keys (sequences and
    samples); otherwise the numbers of the matching documents. `timed`: only events with a
    timestamp (sequences need one). Either way in ES order: timestamp, tiebreaker, `_doc`.
    `keys_later` (only for a KeyedLater backend): a keyed job's join keys are checked, but
    the documents' numbers come back, and their Events only when asked (`key_events`).
    `fields`: the fields of the stage's query (a superset of the stage's own), when its Plan
    gave them, so that a backend keying compiled conditions need not walk the tree again.
    """

    stage: StageFilter
    compiler: SqlCompiler
    scope: SearchScope
    keyed: bool = False
    timed: bool = False
    keys_later: bool = False
    fields: frozenset[str] | None = None

    def identity(self, condition_text: str) -> tuple[object, ...]:
        """What makes two jobs one: rules often repeat a stage (`process where event.type ==
        "start"`), and positions in their queries do not change what it finds.
        `condition_text`: the condition's repr (positions are not in it), which is equal for
        equal trees and cheaper than hashing one (each hash walks the tree)."""
        return (id(self.compiler), self.scope, self.stage.category, condition_text,
                self.stage.keys if self.keyed else (), self.keyed, self.timed, self.keys_later)


FilterOutcome = list[int] | list[Event] | Exception


@dataclass(frozen=True, slots=True)
class Together:
    """The jobs (positions in a filter_many call) of one search that can match only if each
    of `required` finds something: the positive stages of a sequence, every stage of a
    sample."""

    jobs: tuple[int, ...]
    required: tuple[int, ...]


@runtime_checkable
class ManyFilters(Protocol):
    """A backend that evaluates the filters of many searches at once (one pass over the events
    for many of them), instead of one query per filter; a failing filter fails alone: its
    outcome is the exception, the others' are their results. A job whose every search in
    `together` cannot match (a required job found nothing or failed) may come back empty
    without being evaluated, which is what such a search makes of it anyway."""

    def filter_many(self, jobs: Sequence[FilterJob],
                    together: Sequence[Together] = ()) -> list[FilterOutcome]: ...


@runtime_checkable
class KeyedLater(Protocol):
    """A ManyFilters backend that reads join keys in a second step: most stages of a round's
    sequences match nothing or belong to a sequence with an empty stage, so only the stages of
    searches that can still match pay for their candidates' keys and matcher Events."""

    def key_events(self, jobs: Sequence[FilterJob],
                   docs: Sequence[list[int]]) -> list[list[Event] | Exception]:
        """Each keyed job's Events for its documents (as `filter_many` found them, in ES
        order), as filter_many would have returned them."""
        ...


@runtime_checkable
class IndexNames(Protocol):
    """A backend whose stored index names can be read once and resolved against many pattern
    lists (a round of rules has hundreds of them)."""

    def index_names(self) -> tuple[str, ...]: ...

    def indices(self, patterns: str | Sequence[str],
                names: Sequence[str] | None = None) -> tuple[str, ...]: ...
