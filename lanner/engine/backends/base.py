"""What search() needs from a backend, and what a distributed one offers besides."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
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
