"""A few hundred corpus rules hunted over the 2,000-event benchmark corpus give DuckDB's alert
ids on Spark, rule by rule, with rules run from several driver threads at once (as
`bench/spark.py --compare` runs all 1,024)."""

from __future__ import annotations

from typing import Any

from bench.generate import corpus
from bench.spark import _rules, alert_ids, hunt_concurrently
from lanner.detection.run import Detector
from lanner.engine.backends.duckdb import DuckDBBackend
from lanner.engine.backends.spark import SparkBackend
from lanner.store import EventStore
from tests.conftest import require_shared

EVERY = 5  # one corpus rule in EVERY, and the seed rules (which fire on this corpus)
THREADS = 4


def test_corpus_rules_raise_the_same_alerts_on_both_engines(spark: Any) -> None:
    require_shared()
    every_rule = _rules(True)
    seeds = [rule for rule in every_rule if "/rules/seed/" in (rule.path or "")]
    chosen = every_rule[::EVERY] + [rule for rule in seeds if rule not in every_rule[::EVERY]]
    assert len(chosen) > 200 and len(seeds) == 5
    with EventStore() as store:
        store.ingest_files([corpus(2_000).path])
        on_duckdb = alert_ids(hunt_concurrently(Detector(DuckDBBackend(store)), chosen, 1))
        backend = SparkBackend(store, spark, partitions=3)
        try:
            on_spark = alert_ids(hunt_concurrently(Detector(backend), chosen, THREADS))
        finally:
            backend.close()
    assert [ids for ids in on_duckdb.values() if ids[:1] and ids[0].startswith("error")] == []
    firing = [rule for rule, ids in on_duckdb.items() if ids]
    assert len(firing) >= 5 and sum(len(on_duckdb[rule]) for rule in firing) >= 50
    assert on_spark == on_duckdb
