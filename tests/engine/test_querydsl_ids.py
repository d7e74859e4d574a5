"""The `ids` query (Elasticsearch's IdsQueryBuilder) in a filter, on DuckDB: given ids and
ids the store derived for documents that came without one."""

from __future__ import annotations

from typing import Any

import pytest

import lanner
from lanner.engine.client import Lanner
from lanner.engine.querydsl import QueryDslError


@pytest.fixture(scope="module")
def es() -> Lanner:
    client = lanner.connect()
    operations: list[dict[str, Any]] = []
    for number in range(4):
        action = {"_index": "docs", **({"_id": f"d{number}"} if number < 3 else {})}
        operations += [{"index": action}, {"@timestamp": f"2025-01-01T00:00:0{number}Z",
                                           "event": {"category": "process"}, "n": number}]
    assert client.bulk(operations=operations)["errors"] is False
    return client


def ids(es: Lanner, query: dict[str, Any]) -> list[str]:
    response = es.eql.search(index="docs", query="any where true", size=50, filter=query)
    return [hit["_id"] for hit in response["hits"]["events"]]


def test_ids_match_given_and_derived_ids(es: Lanner) -> None:
    derived = ids(es, {"term": {"n": 3}})[0]
    assert derived not in ("d0", "d1", "d2") and len(derived) == 20
    assert ids(es, {"ids": {"values": ["d2", "d0", "nowhere"]}}) == ["d0", "d2"]
    assert ids(es, {"ids": {"values": [derived]}}) == [derived]
    assert ids(es, {"ids": {"values": "d1"}}) == ["d1"]  # one string, as ES reads it
    assert ids(es, {"ids": {"values": []}}) == []
    assert ids(es, {"bool": {"must_not": [{"ids": {"values": ["d0", derived]}}],
                             "filter": [{"range": {"n": {"gte": 1}}}]}}) == ["d1", "d2"]


def test_ids_refused_where_elasticsearch_refuses(es: Lanner) -> None:
    with pytest.raises(QueryDslError, match=r"\[ids\] option \[type\] is not supported"):
        ids(es, {"ids": {"type": "_doc", "values": ["d0"]}})
    with pytest.raises(QueryDslError, match="values must be strings"):
        ids(es, {"ids": {"values": [{"id": "d0"}]}})
