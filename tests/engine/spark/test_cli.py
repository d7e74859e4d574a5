"""`lanner hunt --engine spark` and `lanner search --engine spark` answer as on DuckDB."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from lanner.cli.app import app
from lanner.engine.client import UnknownEngineError
from tests.conftest import EXAMPLES, ROOT

runner = CliRunner()
EVENTS = ROOT / "examples" / "events"


def _alert_ids(path: Path) -> list[str]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return sorted(json.loads(line)["kibana.alert.uuid"] for line in lines)


def test_hunt_on_spark_writes_the_alerts_of_duckdb(spark: Any, tmp_path: Path) -> None:
    ids = {}
    for engine in ("duckdb", "spark"):
        output = tmp_path / f"{engine}.ndjson"
        result = runner.invoke(app, ["hunt", "--rules", str(EXAMPLES), str(EVENTS),
                                     "--engine", engine, "--spark-master", "local[2]",
                                     "--output", str(output)])
        assert result.exit_code == 0, result.output
        ids[engine] = _alert_ids(output)
    assert len(ids["duckdb"]) > 5
    assert ids["spark"] == ids["duckdb"]


def test_search_on_spark_prints_the_response_of_duckdb(spark: Any) -> None:
    responses = []
    for engine in ("duckdb", "spark"):
        result = runner.invoke(app, ["search", "--engine", engine, "--head", "--size", "3",
                                     "sequence by host.id [process where true] [any where true]",
                                     *map(str, sorted(EVENTS.iterdir()))])
        assert result.exit_code == 0, result.output
        responses.append(json.loads(result.stdout)["hits"])
    assert responses[0]["sequences"]
    assert responses[1] == responses[0]


def test_an_unknown_engine_is_a_lanner_error() -> None:
    """A LannerError, which `lanner` (cli.app.main) prints as a message with an exit code."""
    result = runner.invoke(app, ["hunt", "--rules", str(EXAMPLES), str(EVENTS),
                                 "--engine", "presto"])
    assert isinstance(result.exception, UnknownEngineError)
    assert str(result.exception) == "unknown engine 'presto': expected one of duckdb, spark"
