"""Ingest through `_bulk` as shippers see it: backpressure (429 with Retry-After when the
bulk queue is full, which the official client's helpers retry) and index templates typing
the indices they match, against a real `lanner serve --http`."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest
from elasticsearch import Elasticsearch, helpers

from tests.server.live import Server


def _body(index: str, start: int, count: int) -> bytes:
    lines = []
    for number in range(start, start + count):
        lines.append(orjson.dumps({"index": {"_index": index}}))
        lines.append(orjson.dumps({"@timestamp": "2024-01-01T00:00:00Z",
                                   "event": {"category": "process"},
                                   "process": {"pid": number, "name": f"p{number}.exe"}}))
    return b"\n".join(lines) + b"\n"


@pytest.fixture(scope="module")
def small_queue(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server whose bulk queue takes one request at a time."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LANNER_BULK_QUEUE", "1")
        running = Server(tmp_path_factory.mktemp("queue")).start()
    yield running
    running.stop()


def test_a_full_bulk_queue_answers_429_with_retry_after(small_queue: Server) -> None:
    replies: list[httpx.Response] = []
    sent: list[int] = []
    guard = threading.Lock()

    def post(number: int) -> None:
        body = _body("logs-queue", number * 2000, 2000)
        response = httpx.post(small_queue.url + "/_bulk", content=body, timeout=120,
                              headers={"Content-Type": "application/x-ndjson"})
        with guard:
            replies.append(response)
            if response.status_code == 200:
                sent.append(2000)

    threads = [threading.Thread(target=post, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    statuses = sorted(r.status_code for r in replies)
    assert set(statuses) == {200, 429}, statuses
    rejected = next(r for r in replies if r.status_code == 429)
    assert rejected.headers["retry-after"] == "1"
    assert rejected.headers["x-elastic-product"] == "Elasticsearch"
    error = rejected.json()
    assert error["status"] == 429
    assert error["error"]["type"] == "es_rejected_execution_exception"
    assert error["error"]["root_cause"][0]["type"] == "es_rejected_execution_exception"
    for reply in replies:
        if reply.status_code == 200:
            assert reply.json()["errors"] is False
    # what was answered 200 is stored; what was rejected is not
    count = httpx.get(small_queue.url + "/logs-queue/_count").json()["count"]
    assert count == sum(sent)


def test_the_official_helpers_retry_429_until_all_is_stored(small_queue: Server) -> None:
    es = Elasticsearch(small_queue.url, request_timeout=120, max_retries=0)
    stored: list[int] = []

    def ship(part: int) -> None:
        documents = ({"_index": "logs-retried", "_source": {
            "@timestamp": "2024-01-01T00:00:00Z", "process": {"pid": n}}}
            for n in range(part * 1500, (part + 1) * 1500))
        ok, errors = helpers.bulk(es, documents, chunk_size=250, max_retries=100,
                                  initial_backoff=0.02, max_backoff=0.2)
        assert not errors
        stored.append(ok)

    threads = [threading.Thread(target=ship, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(stored) == 6000
    assert es.count(index="logs-retried")["count"] == 6000
    es.close()


def test_an_index_template_types_the_indices_it_matches(server: Server) -> None:
    es = Elasticsearch(server.url, request_timeout=30)
    es.cluster.put_component_template(name="x-settings", template={"mappings": {
        "properties": {"code": {"type": "long"}, "host": {"properties": {
            "name": {"type": "keyword"}}}}}})
    # the component maps code as long; the template's own mapping comes last and wins
    es.indices.put_index_template(name="logs-x", index_patterns=["logs-x-*"], priority=200,
                                  composed_of=["x-settings"], template={"mappings": {
                                      "properties": {"code": {"type": "keyword"}}}})
    es.indices.put_index_template(name="logs-any", index_patterns=["logs-*"], priority=100,
                                  template={"mappings": {"properties": {
                                      "code": {"type": "long"}}}})
    now = "2024-01-01T00:00:00Z"
    reply = es.bulk(operations=[
        {"index": {"_index": "other-codes"}}, {"@timestamp": now, "code": 7},
        {"index": {"_index": "logs-x-default"}}, {"@timestamp": now, "code": "007"},
        {"index": {"_index": "logs-x-default"}}, {"@timestamp": now, "code": 8},
    ])
    assert reply["errors"] is False, reply
    mapping = es.indices.get_mapping(index="logs-x-default")["logs-x-default"]["mappings"]
    assert mapping["properties"]["code"]["type"] == "keyword"
    assert mapping["properties"]["host"] == {"properties": {"name": {"type": "keyword"}}}
    # no template: typed dynamically by its documents, as ES maps a new index
    assert es.indices.get_mapping(index="other-codes")["other-codes"]["mappings"] == {
        "properties": {"@timestamp": {"type": "date"}, "code": {"type": "long"}}}
    assert es.count(index="other-codes", query={"term": {"code": 7}})["count"] == 1
    found = es.eql.search(index="logs-x-default", query='any where code == "007"')
    assert [event["_source"]["code"] for event in found["hits"]["events"]] == ["007"]
    found = es.eql.search(index="logs-x-default", query='any where code == "8"')
    assert len(found["hits"]["events"]) == 1
    # the lower-priority template types what only it matches
    es.index(index="logs-y-default", document={"@timestamp": now, "code": "9"})
    logs_y = es.indices.get_mapping(index="logs-y-default")["logs-y-default"]["mappings"]
    assert logs_y["properties"]["code"]["type"] == "long"
    es.close()


def test_a_template_put_later_types_only_indices_created_after_it(server: Server) -> None:
    es = Elasticsearch(server.url, request_timeout=30)
    now = "2024-01-01T00:00:00Z"
    es.bulk(operations=[{"index": {"_index": "late-a"}}, {"@timestamp": now, "level": 3}])
    es.indices.put_index_template(name="late", index_patterns=["late-*"], template={
        "mappings": {"properties": {"level": {"type": "keyword"}}}})
    es.bulk(operations=[{"index": {"_index": "late-a"}}, {"@timestamp": now, "level": 4},
                        {"index": {"_index": "late-b"}}, {"@timestamp": now, "level": 5}])
    mappings = es.indices.get_mapping(index="late-*")
    # dynamic: level stays a long there
    assert mappings["late-a"]["mappings"]["properties"]["level"] == {"type": "long"}
    assert mappings["late-b"]["mappings"]["properties"]["level"]["type"] == "keyword"
    es.close()


def test_gzip_bulk_body_is_stored(server: Server, tmp_path: Path) -> None:
    import gzip

    body = gzip.compress(_body("logs-gzip", 0, 300))
    reply = httpx.post(server.url + "/_bulk", content=body, timeout=60, headers={
        "Content-Type": "application/x-ndjson", "Content-Encoding": "gzip"})
    assert reply.status_code == 200
    assert reply.json()["errors"] is False
    assert httpx.get(server.url + "/logs-gzip/_count").json()["count"] == 300


def test_bulk_ids_are_the_ids_the_store_derives() -> None:
    from lanner.engine.client import connect
    from lanner.store.events import derived_id

    twin = {"@timestamp": "2024-01-01T00:00:00Z", "b": 1, "a": {"x": "y"}}
    other = {"@timestamp": "2024-01-01T00:00:01Z", "b": 2}
    with connect() as client:
        reply = client.bulk(operations=[{"index": {"_index": "logs-ids"}}, twin,
                                        {"create": {"_index": "logs-ids"}}, dict(twin),
                                        {"index": {}}, other])
        ids = [item[name]["_id"] for item in reply["items"] for name in item]
        canonical = orjson.dumps(twin, option=orjson.OPT_SORT_KEYS)
        assert ids[:2] == [derived_id("logs-ids", canonical, 0),
                           derived_id("logs-ids", canonical, 1)]
        stored = client.store.con.execute("SELECT _index, _id FROM events ORDER BY _doc"
                                          ).fetchall()
        assert stored == [("logs-ids", ids[0]), ("logs-ids", ids[1]), ("", ids[2])]
        assert [item[name]["status"] for item in reply["items"] for name in item] == [201] * 3
