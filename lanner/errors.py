"""The root of Lanner's typed errors, and where an error happened."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Location:
    """A place in a file or a query: 1-based line and column; path is None for bare text."""

    path: str | None = None
    line: int | None = None
    col: int | None = None

    def __str__(self) -> str:
        parts = [self.path or "<query>"]
        if self.line is not None:
            parts.append(str(self.line))
            if self.col is not None:
                parts.append(str(self.col))
        return ":".join(parts)


class LannerError(Exception):
    """Every error Lanner raises on purpose derives from this; the CLI renders it, nothing else."""
