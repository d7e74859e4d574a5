"""The consoles a command writes to, and its exit codes: decided once, passed down."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from rich.console import Console


class ExitCode(IntEnum):
    OK = 0
    PROBLEMS = 1  # the input has errors (or warnings, with --strict)
    USAGE = 2  # bad arguments, as click reports them
    FAILURE = 3  # Lanner could not do the job (unreadable input, internal error)


@dataclass(frozen=True, slots=True)
class CliEnv:
    """stdout carries results (problem lines, JSON); stderr carries people-facing notes."""

    out: Console
    err: Console

    @classmethod
    def default(cls) -> CliEnv:
        return cls(out=Console(highlight=False, soft_wrap=True),
                   err=Console(stderr=True, highlight=False, soft_wrap=True))
