"""The `ids` query means the same on Spark as on DuckDB: given ids and derived ones."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from lanner.engine.client import Lanner
from tests.engine.spark.session import engine_pair


def _load(es: Lanner) -> Lanner:
    operations: list[dict[str, Any]] = []
    for number in range(4):
        action = {"_index": "docs", **({"_id": f"d{number}"} if number < 3 else {})}
        operations += [{"index": action}, {"@timestamp": f"2025-01-01T00:00:0{number}Z",
                                           "event": {"category": "process"}, "n": number}]
    assert es.bulk(operations=operations)["errors"] is False
    return es


@pytest.fixture(scope="module")
def engines(spark: Any) -> Iterator[tuple[Lanner, Lanner]]:
    with engine_pair(_load) as (duck, sparked):
        yield duck, sparked


def _ids(es: Lanner, query: dict[str, Any]) -> list[str]:
    response = es.eql.search(index="docs", query="any where true", size=50, filter=query)
    return [hit["_id"] for hit in response["hits"]["events"]]


def test_ids_leave_the_same_events_on_both_engines(engines: tuple[Lanner, Lanner]) -> None:
    duck, sparked = engines
    derived = _ids(duck, {"term": {"n": 3}})[0]
    assert _ids(sparked, {"term": {"n": 3}}) == [derived]
    for query, expected in (
            ({"ids": {"values": ["d2", "d0", "nowhere"]}}, ["d0", "d2"]),
            ({"ids": {"values": [derived, "d1"]}}, ["d1", derived]),
            ({"bool": {"must_not": [{"ids": {"values": ["d0"]}}]}}, ["d1", "d2", derived])):
        assert [_ids(duck, query), _ids(sparked, query)] == [expected, expected]
