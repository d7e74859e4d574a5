"""`lanner hunt --engine spark` and `lanner search --engine spark` answer as on DuckDB."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from lanner.cli.app import app
from lanner.cli.detect import lake_readable
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


def test_hunt_on_spark_reads_uris_itself(spark: Any, tmp_path: Path) -> None:
    """A `file://` URI is no local path: only Spark's own reader (the lake) can read it, and it
    gives DuckDB's alerts."""
    files = sorted(EVENTS.glob("*.ndjson"))
    outputs = {}
    for engine, inputs in (("duckdb", [str(file) for file in files]),
                           ("spark", [file.resolve().as_uri() for file in files])):
        outputs[engine] = tmp_path / f"{engine}.ndjson"
        result = runner.invoke(app, ["hunt", "--rules", str(EXAMPLES), *inputs,
                                     "--engine", engine, "--spark-master", "local[2]",
                                     "--quiet", "--output", str(outputs[engine])])
        assert result.exit_code == 0, result.output
    assert _alert_ids(outputs["spark"]) == _alert_ids(outputs["duckdb"])
    assert len(_alert_ids(outputs["duckdb"])) > 5


def test_spark_reads_ndjson_and_parquet_and_leaves_the_rest_to_the_store(tmp_path: Path) -> None:
    for name in ("a.ndjson", "b.parquet", "c.json", "d.evtx"):
        (tmp_path / name).write_bytes(b"")
    assert lake_readable([str(tmp_path / "a.ndjson"), str(tmp_path / "b.parquet")])
    assert lake_readable(["s3a://bucket/logs/", "file:///tmp/x.ndjson"])
    assert not lake_readable([str(tmp_path / "c.json")])  # may be a JSON array
    assert not lake_readable([str(tmp_path)])  # a folder holding an EVTX file
    assert not lake_readable(["-"])
