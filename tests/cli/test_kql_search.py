"""`lanner search --kql`: KQL through the same store and filter compiler as EQL searches."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from lanner.cli.app import app

runner = CliRunner()

EVENTS = (
    '{"@timestamp": "2026-01-01T00:00:01Z", "event": {"category": "process"}, '
    '"process": {"name": "cmd.exe", "pid": 1}, "user": {"name": "bob"}}\n'
    '{"@timestamp": "2026-01-01T00:00:02Z", "event": {"category": "process"}, '
    '"process": {"name": "CMD.EXE", "pid": 2}}\n'
    '{"@timestamp": "2026-01-01T00:00:03Z", "event": {"category": "network"}, '
    '"process": {"name": "cmd.exe", "pid": 3}}\n'
)


def test_search_kql_prints_the_search_response(tmp_path: Path) -> None:
    events = tmp_path / "events.ndjson"
    events.write_text(EVENTS, encoding="utf-8")
    result = runner.invoke(app, ["search", "--kql", "process.name:cmd.exe and not user.name:*",
                                 str(events)])
    assert result.exit_code == 0, result.stderr
    response = json.loads(result.stdout)
    assert response["hits"]["total"] == {"value": 1, "relation": "eq"}
    assert [hit["_source"]["process"]["pid"] for hit in response["hits"]["hits"]] == [3]


def test_search_kql_reports_errors_with_their_place(tmp_path: Path) -> None:
    events = tmp_path / "events.ndjson"
    events.write_text(EVENTS, encoding="utf-8")
    result = runner.invoke(app, ["search", "--kql", "process.name:a and\n not(b:c)", str(events)])
    assert result.exit_code == 1
    assert "<query>:2:5: error: Expected" in result.stderr
    result = runner.invoke(app, ["search", "--kql", "event.category:process and process.pid:x",
                                 str(events)])
    assert result.exit_code == 1
    assert "<query>:1:28: error: cannot compare a number with [x]" in result.stderr


def test_search_kql_refuses_the_eql_ordering_options(tmp_path: Path) -> None:
    events = tmp_path / "events.ndjson"
    events.write_text(EVENTS, encoding="utf-8")
    for option in (["--tail"], ["--tiebreaker", "process.pid"],
                   ["--timestamp-field", "event.created"]):
        result = runner.invoke(app, ["search", "--kql", *option, "process.name:*", str(events)])
        assert result.exit_code == 2, option
        assert "orders EQL results only" in result.stderr
