"""ES|QL rules on Spark: not run there yet, and the run says so by name, never a wrong or empty
answer."""

from __future__ import annotations

from lanner.detection.run import Detector
from lanner.engine.backends.spark import SparkBackend
from lanner.rules import Rule
from lanner.store import EventStore
from tests.engine.spark.session import shared_session

RULE = Rule(name="per host", rule_id="r-esql", type="esql", language="esql",
            query="FROM logs-* | STATS n = COUNT(*) BY host.id")


def test_an_esql_rule_fails_by_name_on_spark() -> None:
    with EventStore() as store:
        store.bulk([{"index": {"_index": "logs-a"}},
                    {"@timestamp": "2026-11-20T10:00:00Z", "host": {"id": "h1"}}])
        backend = SparkBackend(store, shared_session(), partitions=1)
        try:
            (report,) = Detector(backend).hunt_many([RULE])
        finally:
            backend.close()
    assert report.error == ("ES|QL rules are not on Spark yet (SparkBackend): they run on "
                            "DuckDB")
