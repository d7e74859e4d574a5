"""Threshold and new_terms rules on Spark: not run there yet, and the run says so by name
(lanner.engine.aggregate runs on DuckDB only), never a wrong or empty answer."""

from __future__ import annotations

from typing import Any

from lanner.detection.run import Detector
from lanner.engine.backends.spark import SparkBackend
from lanner.rules import Rule
from lanner.rules.model import Threshold
from lanner.store import EventStore

THRESHOLD = Rule(name="Failed logons", rule_id="r-th", type="threshold", language="kuery",
                 query="event.outcome:failure", index=("logs-*",),
                 threshold=Threshold(("host.id",), 1))
NEW_TERMS = Rule(name="New host", rule_id="r-nt", type="new_terms", language="kuery",
                 query="event.outcome:failure", index=("logs-*",),
                 new_terms_fields=("host.id",), history_window_start="now-7d")


def test_aggregating_rules_fail_by_name_on_spark(spark: Any) -> None:
    with EventStore() as store:
        store.bulk([{"index": {"_index": "logs-a"}},
                    {"@timestamp": "2026-11-20T10:00:00Z", "event": {"outcome": "failure"},
                     "host": {"id": "h1"}}])
        backend = SparkBackend(store, spark, partitions=1)
        try:
            reports = Detector(backend).hunt_many([THRESHOLD, NEW_TERMS])
        finally:
            backend.close()
    assert [report.error for report in reports] == [
        "threshold rules need aggregations that the SparkBackend backend does not run yet "
        "(DuckDB does)",
        "new_terms rules need aggregations that the SparkBackend backend does not run yet "
        "(DuckDB does)"]
