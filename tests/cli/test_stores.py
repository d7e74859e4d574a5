"""A store another process holds (`lanner serve`) is refused in one plain sentence (issue 17)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lanner.cli.app import app
from lanner.store import EventStore
from tests.conftest import EXAMPLES, ROOT

runner = CliRunner(env={"COLUMNS": "300"})
HOLD = ("import sys, time\nfrom lanner.store import EventStore\nstore = EventStore(sys.argv[1])\n"
        "print('holding', flush=True)\ntime.sleep(120)\n")


@pytest.fixture
def held_store(tmp_path: Path) -> Iterator[Path]:
    """A store file a second process keeps open, as `lanner serve` does."""
    path = tmp_path / "served.duckdb"
    EventStore(path).close()
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(path)], cwd=ROOT,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "holding\n"
        yield path
    finally:
        holder.kill()
        holder.wait()


def test_commands_on_a_store_another_process_holds_say_so(held_store: Path) -> None:
    expected = (f"lanner: the store {held_store} is in use by another Lanner process "
                "(lanner serve?); stop it or query a copy\n")
    events = EXAMPLES.parent / "events" / "update_orchestrator_hijack.ndjson"
    for arguments in (["alerts", "list", "--store", str(held_store)],
                      ["alerts", "show", "abc", "--store", str(held_store)],
                      ["hunt", str(events), "--rules", str(EXAMPLES), "--store", str(held_store)],
                      ["search", "any where true", "--store", str(held_store)]):
        result = runner.invoke(app, arguments)
        assert (result.exit_code, result.stderr) == (3, expected), arguments
        assert result.stdout == ""


def test_a_store_nobody_holds_opens(tmp_path: Path) -> None:
    path = tmp_path / "free.duckdb"
    EventStore(path).close()
    result = runner.invoke(app, ["alerts", "list", "--store", str(path)])
    assert (result.exit_code, result.stdout) == (0, "no alerts match\n")
