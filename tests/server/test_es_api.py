"""The server as Elasticsearch's clients see it: the official Python client and raw HTTP
against a real `lanner serve --http`."""

from __future__ import annotations

import datetime
import gzip
import time
import zlib
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest
from elasticsearch import Elasticsearch, helpers

from tests.server.live import Server

ALERTS = ".alerts-security.alerts-default"


@pytest.fixture(scope="module")
def es(server: Server) -> Iterator[Elasticsearch]:
    client = Elasticsearch(server.url, request_timeout=30)
    yield client
    client.close()


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _event(name: str, **more: object) -> dict[str, object]:
    return {"@timestamp": _now(), "event": {"category": "process", "type": "start"},
            "process": {"name": name}, "host": {"name": "h1"}, **more}


def test_info_and_what_shippers_ask_first(server: Server, es: Elasticsearch) -> None:
    info = es.info()
    assert info["version"]["number"] == "8.17.0"
    assert info["version"]["build_flavor"] == "default"
    assert info["tagline"] == "You Know, for Search"
    assert es.license.get()["license"]["type"] == "basic"
    assert es.cluster.health()["status"] == "green"
    head = httpx.head(server.url + "/")
    assert head.status_code == 200
    assert head.headers["x-elastic-product"] == "Elasticsearch"
    for path in ("/_xpack", "/_nodes", "/_license"):
        response = httpx.get(server.url + path)
        assert response.status_code == 200, path
        assert response.headers["x-elastic-product"] == "Elasticsearch"


def test_bulk_through_the_client_stores_and_searches(es: Elasticsearch) -> None:
    operations: list[dict[str, object]] = []
    for number in range(5):
        operations += [{"create": {"_index": "logs-client", "_id": f"c{number}"}},
                       _event(f"p{number}.exe")]
    response = es.bulk(operations=operations)
    assert response["errors"] is False
    assert [item["create"]["status"] for item in response["items"]] == [201] * 5
    assert [item["create"]["_id"] for item in response["items"]] == [f"c{n}" for n in range(5)]
    again = es.bulk(operations=operations[:2])
    assert again["errors"] is True
    assert again["items"][0]["create"]["status"] == 409
    assert again["items"][0]["create"]["error"]["type"] == "version_conflict_engine_exception"
    assert es.count(index="logs-client")["count"] == 5
    found = es.search(index="logs-client", query={"term": {"process.name": "p3.exe"}})
    assert [hit["_id"] for hit in found["hits"]["hits"]] == ["c3"]
    eql = es.eql.search(index="logs-client", query='process where process.name == "p1.exe"')
    assert [event["_id"] for event in eql["hits"]["events"]] == ["c1"]


def test_streaming_bulk_lands_every_document(es: Elasticsearch) -> None:
    actions = ({"_index": "logs-stream", "_id": f"s{n}", "_source": _event("s.exe", n=n)}
               for n in range(250))
    results = list(helpers.streaming_bulk(es, actions, chunk_size=100))
    assert all(ok for ok, _ in results)
    assert len(results) == 250
    assert es.count(index="logs-stream")["count"] == 250


def test_raw_bulk_gzip_deflate_blank_lines_and_bad_items(server: Server) -> None:
    lines = [orjson.dumps({"index": {"_id": "g1"}}), orjson.dumps(_event("g.exe")), b"",
             b"", orjson.dumps({"create": {"_id": "g2"}}),
             orjson.dumps({"@timestamp": "not a date", "process": {"name": "g.exe"}}),
             orjson.dumps({"delete": {"_id": "g1"}}), b""]
    body = b"\n".join(lines) + b"\n"
    headers = {"Content-Type": "application/x-ndjson", "Content-Encoding": "gzip"}
    response = httpx.post(server.url + "/logs-raw/_bulk?refresh=true", content=gzip.compress(body),
                          headers=headers)
    assert response.status_code == 200
    items = response.json()["items"]
    assert [next(iter(item)) for item in items] == ["index", "create", "delete"]
    assert items[0]["index"]["status"] == 201 and items[0]["index"]["_id"] == "g1"
    assert items[1]["create"]["status"] == 400
    assert items[1]["create"]["error"]["type"] == "document_parsing_exception"
    assert items[2]["delete"]["status"] == 400
    deflated = httpx.post(server.url + "/logs-raw/_bulk?filter_path=errors,items.*.status",
                          content=zlib.compress(b"\n".join(lines[:2]) + b"\n"),
                          headers={**headers, "Content-Encoding": "deflate"})
    assert deflated.json() == {"errors": False, "items": [{"index": {"status": 200}}]}
    with_pipeline = httpx.post(server.url + "/_bulk?pipeline=geoip",
                               content=b'{"index":{"_index":"logs-raw"}}\n{"a":1}\n',
                               headers={"Content-Type": "application/x-ndjson"})
    assert "geoip" in with_pipeline.headers["warning"]
    empty = httpx.post(server.url + "/_bulk", content=b"\n\n",
                       headers={"Content-Type": "application/x-ndjson"})
    assert empty.status_code == 400
    assert empty.json()["error"]["type"] == "action_request_validation_exception"


def test_bad_input_gets_elasticsearch_errors_not_500(server: Server) -> None:
    cases = [
        ("POST", "/logs-raw/_eql/search", b'{"query": "process where"}', 400, "parsing_exception"),
        ("POST", "/logs-raw/_eql/search", b'{"query": "process where nope.field == 1"}', 400,
         None),
        ("POST", "/missing-index/_eql/search", b'{"query": "any where true"}', 404,
         "index_not_found_exception"),
        ("POST", "/logs-raw/_search", b"{not json", 400, "parsing_exception"),
        ("POST", "/logs-raw/_search", b'{"size": -1}', 400, "illegal_argument_exception"),
        ("GET", "/missing-index/_count", b"", 404, "index_not_found_exception"),
    ]
    for method, path, body, status, kind in cases:
        response = httpx.request(method, server.url + path, content=body,
                                 headers={"Content-Type": "application/json"})
        assert response.status_code == status, (path, body, response.text)
        error = response.json()["error"]
        assert error["root_cause"][0]["type"] == error["type"]
        if kind is not None:
            assert error["type"] == kind
        assert response.headers["x-elastic-product"] == "Elasticsearch"


def test_documents_indices_and_installed_objects(server: Server, es: Elasticsearch) -> None:
    created = es.index(index="logs-doc", document=_event("d.exe"))
    assert created["result"] == "created"
    put = httpx.put(server.url + "/logs-doc/_create/d2", json=_event("d2.exe"))
    assert put.status_code == 201 and put.json()["_id"] == "d2"
    conflict = httpx.put(server.url + "/logs-doc/_create/d2", json=_event("d2.exe"))
    assert conflict.status_code == 409
    assert es.indices.exists(index="logs-doc")
    assert not es.indices.exists(index="logs-nothing")
    es.indices.create(index="typed", mappings={"properties": {"port": {"type": "long"}}})
    mapping = es.indices.get_mapping(index="typed")
    assert mapping["typed"]["mappings"]["properties"]["port"] == {"type": "long"}
    template = {"index_patterns": ["logs-*"], "template": {"settings": {}}}
    es.indices.put_index_template(name="lanner-test", body=template)
    got = es.indices.get_index_template(name="lanner-test")["index_templates"][0]
    assert got["name"] == "lanner-test" and got["index_template"] == template
    es.ilm.put_lifecycle(name="hot", policy={"phases": {"hot": {"actions": {}}}})
    assert "hot" in es.ilm.get_lifecycle(name="hot")
    httpx.put(server.url + "/_ingest/pipeline/p1", json={"processors": []})
    assert httpx.get(server.url + "/_ingest/pipeline/p1").json() == {"p1": {"processors": []}}
    assert "logs-doc" in httpx.get(server.url + "/_cat/indices").text


def test_alerts_of_shipped_events_are_searchable(es: Elasticsearch) -> None:
    es.bulk(operations=[{"create": {"_index": "logs-alerting", "_id": "bad1"}},
                        _event("evil.exe")])
    deadline = time.monotonic() + 30
    hits: list[dict[str, object]] = []
    while time.monotonic() < deadline and not hits:
        hits = es.search(index=ALERTS, query={"match_all": {}})["hits"]["hits"]
        time.sleep(0.5)
    assert len(hits) == 1
    source = hits[0]["_source"]
    assert source["kibana.alert.rule.name"] == "Evil process"
    assert source["kibana.alert.workflow_status"] == "open"
    filtered = es.search(index=ALERTS, query={"term": {"kibana.alert.workflow_status": "closed"}})
    assert filtered["hits"]["total"]["value"] == 0


def test_a_200_bulk_survives_sigkill(tmp_path: Path) -> None:
    server = Server(tmp_path).start()
    try:
        body = b"".join(orjson.dumps({"index": {"_index": "logs-durable", "_id": f"k{n}"}})
                        + b"\n" + orjson.dumps(_event("k.exe", n=n)) + b"\n"
                        for n in range(1000))
        response = httpx.post(server.url + "/_bulk", content=body,
                              headers={"Content-Type": "application/x-ndjson"})
        assert response.status_code == 200 and response.json()["errors"] is False
        server.kill()
        server.start()
        count = httpx.get(server.url + "/logs-durable/_count").json()["count"]
        assert count == 1000
    finally:
        server.stop()


def test_body_size_is_bounded(tmp_path: Path) -> None:
    server = Server(tmp_path, "--max-body-bytes", "1000").start()
    try:
        big = b'{"index":{"_index":"logs-big"}}\n' + b'{"a":"' + b"x" * 2000 + b'"}\n'
        response = httpx.post(server.url + "/_bulk", content=big,
                              headers={"Content-Type": "application/x-ndjson"})
        assert response.status_code == 413
        assert response.json()["status"] == 413
        bomb = gzip.compress(b"\n" * 100_000)
        response = httpx.post(server.url + "/_bulk", content=bomb,
                              headers={"Content-Type": "application/x-ndjson",
                                       "Content-Encoding": "gzip"})
        assert response.status_code == 413
    finally:
        server.stop()
