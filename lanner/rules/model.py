"""The rule as Lanner sees it: what detection needs, plus where its query sits in its file."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class QueryOrigin:
    """Where the query text starts in the rule file, to turn query positions into file ones.

    `line` and `col` are those of the query's first character; `escaped` is true for a TOML
    basic string, where escapes make later columns approximate.
    """

    line: int = 1
    col: int = 1
    escaped: bool = False

    def to_file(self, line: int, col: int) -> tuple[int, int]:
        """File position of a 1-based position inside the query text."""
        if line == 1:
            return self.line, self.col + col - 1
        return self.line + line - 1, col


@dataclass(frozen=True, slots=True)
class Rule:
    """One detection rule; `raw` keeps every key of the `[rule]` table for later stages."""

    name: str
    rule_id: str
    type: str
    language: str | None
    query: str
    index: tuple[str, ...] = ()
    severity: str | None = None
    risk_score: int | None = None
    path: str | None = None
    origin: QueryOrigin = QueryOrigin()
    maturity: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def is_eql(self) -> bool:
        return self.type == "eql" and (self.language or "eql") == "eql"
