"""The consoles a command writes to, and its exit codes: decided once, passed down."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from rich.console import Console

from lanner.cli.terminal import SafeConsole


class ExitCode(IntEnum):
    OK = 0
    PROBLEMS = 1  # the input has errors (or warnings, with --strict)
    USAGE = 2  # bad arguments, as click reports them
    FAILURE = 3  # Lanner could not do the job (unreadable input, internal error)


@dataclass(frozen=True, slots=True)
class CliEnv:
    """stdout carries results (problem lines, JSON); stderr carries people-facing notes. Both
    show control characters in what they print rather than send them (lanner.cli.terminal)."""

    out: Console
    err: Console

    @classmethod
    def default(cls) -> CliEnv:
        return cls(out=SafeConsole(highlight=False, soft_wrap=True),
                   err=SafeConsole(stderr=True, highlight=False, soft_wrap=True))
