"""Opening a store file from a command, with the one error a user can act on said plainly.

DuckDB lets one process write a database file at a time and refuses to open one another
process holds: while `lanner serve` keeps its store, `lanner alerts` or `lanner hunt --store`
on the same file fail with DuckDB's lock error. Until a server API answers queries from other
processes, the command says what holds the file and what to do.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import typer

from lanner.cli.env import CliEnv, ExitCode
from lanner.cli.terminal import data
from lanner.store import StoreError

# DuckDB's words when another process holds the file ("IO Error: Could not set lock on file
# "x": Conflicting lock is held in /usr/bin/python3 (PID 12754)").
_LOCK_MESSAGES = ("Could not set lock on file", "Conflicting lock is held")


def in_use_message(path: str | Path) -> str:
    return (f"the store {path} is in use by another Lanner process (lanner serve?); "
            "stop it or query a copy")


def held_by_another_process(error: StoreError) -> bool:
    """Whether opening a store failed because another process holds its file."""
    return any(message in str(error) for message in _LOCK_MESSAGES)


@contextlib.contextmanager
def opening_store(path: str | Path | None) -> Iterator[None]:
    """Around the opening of the store at `path`: a file another process holds ends the
    command with that said in one sentence (exit 3); any other error goes on as it was."""
    try:
        yield
    except StoreError as error:
        if path is None or not held_by_another_process(error):
            raise
        CliEnv.default().err.print(data(f"lanner: {in_use_message(path)}"), highlight=False)
        raise typer.Exit(ExitCode.FAILURE) from None
