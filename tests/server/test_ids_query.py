"""The `ids` query on event indices through the official client against a real
`lanner serve --http`: `_search`, `_count` and `post_filter`, on ids given at ingest and
ids the server derived."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from elasticsearch import BadRequestError, Elasticsearch

from tests.server.live import Server

INDEX = "logs-ids-default"


@pytest.fixture(scope="module")
def es(server: Server) -> Iterator[Elasticsearch]:
    client = Elasticsearch(server.url, request_timeout=30)
    operations: list[dict[str, object]] = []
    for number in range(5):
        action = {"_index": INDEX, **({"_id": f"e{number}"} if number < 4 else {})}
        operations += [{"create": action}, {"@timestamp": f"2025-01-01T00:00:0{number}Z",
                                            "event": {"category": "process"},
                                            "process": {"pid": number}}]
    response = client.bulk(operations=operations, refresh=True)
    assert response["errors"] is False
    yield client
    client.close()


def _ids(response: object) -> list[str]:
    return sorted(hit["_id"] for hit in response["hits"]["hits"])  # type: ignore[index]


def test_ids_on_events(es: Elasticsearch) -> None:
    derived = es.search(index=INDEX, query={"term": {"process.pid": 4}})["hits"]["hits"][0]["_id"]
    assert derived not in {"e0", "e1", "e2", "e3"}
    assert _ids(es.search(index=INDEX, query={"ids": {"values": ["e1", "e3", "gone"]}})) == \
        ["e1", "e3"]
    assert _ids(es.search(index=INDEX, query={"ids": {"values": [derived]}})) == [derived]
    assert es.count(index=INDEX, query={"ids": {"values": ["e0", derived]}})["count"] == 2
    assert es.count(index=INDEX, query={"bool": {"must_not": [
        {"ids": {"values": ["e0", "e1"]}}]}})["count"] == 3
    filtered = es.search(index=INDEX, query={"range": {"process.pid": {"gte": 2}}},
                         post_filter={"ids": {"values": ["e0", "e2"]}})
    assert _ids(filtered) == ["e2"]
    # the alerts index answers `ids` the same way (its `_id` is kibana.alert.uuid)
    assert es.count(index=".alerts-security.alerts-default",
                    query={"ids": {"values": ["e1"]}})["count"] == 0


def test_a_malformed_ids_query_is_a_parsing_error(es: Elasticsearch) -> None:
    with pytest.raises(BadRequestError) as raised:
        es.search(index=INDEX, query={"ids": {"values": [{"id": "e1"}]}})
    assert raised.value.status_code == 400
    assert "values must be strings" in str(raised.value.body)
