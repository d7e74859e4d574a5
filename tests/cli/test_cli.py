"""The command line, driven as a user drives it: real files, real exit codes, exact lines."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from lanner.cli.app import app
from tests.conftest import EXAMPLES, ROOT

runner = CliRunner()

def test_validate_query_shows_the_line_and_a_caret() -> None:
    result = runner.invoke(app, ["validate-query", "sequence\n  [process where x = 1]"])
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "<query>:2:20: error: '=' as a comparison is not supported in Elasticsearch EQL; "
        "use '=='",
        "    [process where x = 1]",
        "                     ^",
    ]


def test_validate_query_prints_the_canonical_form() -> None:
    result = runner.invoke(app, ["validate-query", "--print", "--no-schema",
                                 'process where X:"a" and (y == 1)'])
    assert result.exit_code == 0
    assert result.stdout == 'process where X : "a" and y == 1\n'


def test_validate_query_reads_standard_input() -> None:
    result = runner.invoke(app, ["validate-query", "-"], input="process where true\n")
    assert result.exit_code == 0
    assert result.stderr == "valid event query\n"


def test_the_installed_command_runs_as_a_program() -> None:
    env = {**os.environ, "NO_COLOR": "1"}
    result = subprocess.run([sys.executable, "-m", "lanner", "rules", "validate", str(EXAMPLES)],
                            capture_output=True, text=True, env=env, cwd=ROOT, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "5 rules, 5 valid, 0 with errors, 0 with warnings"
    help_text = subprocess.run([sys.executable, "-m", "lanner", "--help"], capture_output=True,
                               text=True, env=env, check=False).stdout
    assert "rules" in help_text and "validate-query" in help_text


def test_search_loads_files_and_prints_the_eql_response(tmp_path: Path) -> None:
    events = tmp_path / "events.ndjson"
    events.write_text(
        '{"@timestamp": "2026-01-01T00:00:01Z", "event": {"category": "process"}, '
        '"process": {"name": "cmd.exe", "pid": 1}}\n'
        "not json\n"
        '{"@timestamp": "2026-01-01T00:00:02Z", "event": {"category": "process"}, '
        '"process": {"name": "CMD.EXE", "pid": 2}}\n'
        '{"@timestamp": "2026-01-01T00:00:03Z", "event": {"category": "network"}, '
        '"process": {"name": "cmd.exe", "pid": 3}}\n', encoding="utf-8")
    result = runner.invoke(app, ["search", 'process where process.name : "cmd.exe"',
                                 str(events), "--index", "*"])
    assert result.exit_code == 0, result.stderr
    response = json.loads(result.stdout)
    assert [hit["_source"]["process"]["pid"] for hit in response["hits"]["events"]] == [1, 2]
    assert f"{events}:2:" in result.stderr
    assert "loaded 3 events from 1 file(s), 1 bad line(s)" in result.stderr


def test_search_reports_an_unknown_field_with_a_caret(tmp_path: Path) -> None:
    events = tmp_path / "events.ndjson"
    events.write_text('{"@timestamp": 1, "event": {"category": "process"}}\n')
    result = runner.invoke(app, ["search", "process where bogus == 1", str(events)])
    assert result.exit_code == 1
    assert "Unknown column [bogus]" in result.stderr
    assert result.stderr.rstrip().endswith("^^^^^")
