"""Hunting the benchmark corpus on Spark raises the alerts DuckDB raises, to the alert id.

Every rule runs on DuckDB; the seed rules and a few others that fire there run on Spark too
(all 1,024 on Spark are bench/spark.py's job: minutes, not a test's seconds)."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

from bench.generate import generate
from lanner.detection.hunt import hunt, select_rules
from lanner.detection.run import Detector
from lanner.engine.backends.duckdb import DuckDBBackend
from lanner.engine.backends.spark import SparkBackend
from lanner.rules import load_rules
from lanner.store import EventStore
from tests.conftest import CORPUS, SHARED, require_shared

STARTED = datetime.datetime(2030, 1, 1, tzinfo=datetime.UTC)
OTHERS = 5  # firing rules besides the seed rules


def _ids(report: Any) -> list[str]:
    return sorted(alert["kibana.alert.uuid"] for alert in report.alerts)


def test_the_same_alert_ids_on_both_engines(spark: Any, tmp_path: Path) -> None:
    require_shared()
    corpus = generate(tmp_path / "corpus.ndjson", events=3_000, seed=5)
    rules, errors = load_rules([CORPUS, SHARED / "rules" / "seed"])
    assert errors == []
    with EventStore() as store:
        store.ingest_files([corpus.path])
        selected = select_rules(rules, building_blocks=True).rules
        on_duckdb = hunt(Detector(DuckDBBackend(store)), selected, started_at=STARTED)
        assert [report.error for report in on_duckdb if report.error] == []
        firing = [report for report in on_duckdb if report.alerts]
        seeds = [report for report in firing if "/rules/seed/" in (report.rule.path or "")]
        others = [report for report in firing if report not in seeds][:OTHERS]
        assert len(seeds) == 5 and len(others) == OTHERS
        chosen = seeds + others
        backend = SparkBackend(store, spark, partitions=3)
        try:
            on_spark = hunt(Detector(backend), [report.rule for report in chosen],
                            started_at=STARTED)
        finally:
            backend.close()
    assert [(r.rule.name, _ids(r)) for r in on_spark] == [(r.rule.name, _ids(r)) for r in chosen]
