"""What an ingest tells its caller: counts, and every problem with where it happened."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, NamedTuple

from lanner.store.readers import BadLine

# Example failures kept per field in a report (the counts are always complete).
MAX_EXAMPLES = 5


class CoercionFailure(NamedTuple):
    """A value ES would not index as its field's type; stored as NULL."""

    path: str | None
    line: int | None
    item: int
    value: Any
    message: str
    store_limit: bool = False  # Elasticsearch indexes it; only the store cannot hold it

    def __str__(self) -> str:
        where = f":{self.line}" if self.line else f" (document {self.item})"
        return f"{self.path or '<input>'}{where}: {self.message}"


@dataclass(slots=True)
class FieldFailures:
    """Every coercion failure of one field: the exact count and the first few examples."""

    es_type: str
    count: int = 0
    examples: list[CoercionFailure] = field(default_factory=list)


@dataclass(slots=True)
class IngestReport:
    """What one ingest did: counts, and every problem with where it happened."""

    events: int = 0
    bad_lines: list[BadLine] = field(default_factory=list)
    coercions: dict[str, FieldFailures] = field(default_factory=dict)
    without_index: int = 0
    replaced: int = 0  # stored documents replaced by one with the same _index and _id
    files: list[str] = field(default_factory=list)

    @property
    def coercion_failures(self) -> int:
        """Values stored as NULL because ES would not index them as their field's type."""
        return sum(failures.count for failures in self.coercions.values())

    def __add__(self, other: IngestReport) -> IngestReport:
        coercions = {
            name: replace(failures, examples=list(failures.examples))
            for name, failures in self.coercions.items()
        }
        for name, theirs in other.coercions.items():
            mine = coercions.setdefault(name, FieldFailures(theirs.es_type))
            mine.count += theirs.count
            mine.examples = (mine.examples + theirs.examples)[:MAX_EXAMPLES]
        return IngestReport(
            events=self.events + other.events,
            bad_lines=self.bad_lines + other.bad_lines,
            coercions=coercions,
            without_index=self.without_index + other.without_index,
            replaced=self.replaced + other.replaced,
            files=self.files + other.files,
        )

    def add_failure(self, field_name: str, es_type: str, failure: CoercionFailure) -> None:
        """Count one coercion failure of a field, keeping the first few as examples."""
        failures = self.coercions.get(field_name)
        if failures is None:
            failures = self.coercions[field_name] = FieldFailures(es_type)
        failures.count += 1
        if len(failures.examples) < MAX_EXAMPLES:
            failures.examples.append(failure)
