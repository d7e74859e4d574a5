"""Async EQL search against a real `lanner serve --http`, with the official client's
`eql.search(keep_on_completion=..., wait_for_completion_timeout=...)`, `eql.get`,
`eql.get_status` and `eql.delete`, in Elasticsearch's shapes."""

from __future__ import annotations

import datetime
import time
from collections.abc import Iterator

import httpx
import pytest
from elasticsearch import BadRequestError, Elasticsearch, NotFoundError

from tests.server.live import Server

INDEX = "logs-endpoint.events.process-async"
QUERY = 'process where process.name == "rundll32.exe"'


@pytest.fixture(scope="module")
def es(server: Server) -> Iterator[Elasticsearch]:
    client = Elasticsearch(server.url, request_timeout=30)
    now = datetime.datetime.now(datetime.UTC)
    operations: list[dict[str, object]] = []
    for number, name in enumerate(["cmd.exe", "rundll32.exe", "notepad.exe", "rundll32.exe"]):
        stamp = (now + datetime.timedelta(seconds=number)).isoformat().replace("+00:00", "Z")
        operations += [{"create": {"_index": INDEX, "_id": f"a{number}"}},
                       {"@timestamp": stamp, "event": {"category": ["process"],
                                                       "type": ["start"]},
                        "process": {"name": name, "pid": 100 + number}}]
    assert client.bulk(operations=operations, refresh=True)["errors"] is False
    yield client
    client.close()


def test_a_kept_search_is_got_then_deleted(es: Elasticsearch) -> None:
    found = es.eql.search(index=INDEX, query=QUERY, keep_on_completion=True,
                          wait_for_completion_timeout="10s")
    assert found["is_running"] is False and found["is_partial"] is False
    assert isinstance(found["id"], str) and found["id"]
    assert [e["_id"] for e in found["hits"]["events"]] == ["a1", "a3"]

    again = es.eql.get(id=found["id"])
    assert again["id"] == found["id"]
    assert again["is_running"] is False and again["is_partial"] is False
    assert again["hits"] == found["hits"]

    status = es.eql.get_status(id=found["id"])
    assert status["id"] == found["id"]
    assert status["is_running"] is False and status["is_partial"] is False
    assert status["completion_status"] == 200
    assert status["expiration_time_in_millis"] > status["start_time_in_millis"]

    assert es.eql.delete(id=found["id"])["acknowledged"] is True
    with pytest.raises(NotFoundError) as missing:
        es.eql.get(id=found["id"])
    assert missing.value.error == "resource_not_found_exception"
    with pytest.raises(NotFoundError):
        es.eql.get_status(id=found["id"])
    with pytest.raises(NotFoundError):
        es.eql.delete(id=found["id"])


def test_a_search_that_completes_in_time_has_no_id_unless_kept(es: Elasticsearch) -> None:
    quick = es.eql.search(index=INDEX, query=QUERY, wait_for_completion_timeout="10s")
    assert "id" not in quick
    assert quick["is_running"] is False and quick["is_partial"] is False
    assert [e["_id"] for e in quick["hits"]["events"]] == ["a1", "a3"]
    plain = es.eql.search(index=INDEX, query=QUERY)
    assert "id" not in plain and plain["hits"] == quick["hits"]


def test_a_search_still_running_answers_an_id_then_its_result(server: Server,
                                                               es: Elasticsearch) -> None:
    # no time at all to complete: the answer is the running search's id
    response = httpx.post(f"{server.url}/{INDEX}/_eql/search",
                          params={"wait_for_completion_timeout": "0ms"},
                          json={"query": QUERY}, timeout=30)
    assert response.status_code == 200, response.text
    assert response.headers["x-elastic-product"] == "Elasticsearch"
    running = response.json()
    assert running["is_running"] is True and running["is_partial"] is True
    search_id = running["id"]

    done = es.eql.get(id=search_id, wait_for_completion_timeout="20s", keep_alive="1m")
    assert done["is_running"] is False and done["is_partial"] is False
    assert [e["_id"] for e in done["hits"]["events"]] == ["a1", "a3"]
    assert es.eql.get_status(id=search_id)["completion_status"] == 200
    assert es.eql.delete(id=search_id)["acknowledged"] is True


def test_async_errors_have_elasticsearchs_shapes(server: Server, es: Elasticsearch) -> None:
    with pytest.raises(BadRequestError) as bad:
        es.eql.search(index=INDEX, query="process where nosuchfunction(process.name)",
                      keep_on_completion=True, wait_for_completion_timeout="10s")
    assert bad.value.error == "verification_exception"
    with pytest.raises(NotFoundError) as missing:
        es.eql.search(index="logs-nothing-here", query=QUERY, keep_on_completion=True,
                      wait_for_completion_timeout="10s")
    assert missing.value.error == "index_not_found_exception"
    wrong = httpx.post(f"{server.url}/{INDEX}/_eql/search", timeout=30,
                       json={"query": QUERY, "wait_for_completion_timeout": "soon"})
    assert wrong.status_code == 400
    assert wrong.json()["error"]["type"] == "illegal_argument_exception"
    unknown = httpx.get(f"{server.url}/_eql/search/bm8tc3VjaC1zZWFyY2g", timeout=30)
    assert unknown.status_code == 404
    assert unknown.json()["error"]["type"] == "resource_not_found_exception"


def test_a_kept_result_is_got_until_its_keep_alive_passes(es: Elasticsearch) -> None:
    found = es.eql.search(index=INDEX, query=QUERY, keep_on_completion=True,
                          wait_for_completion_timeout="10s", keep_alive="2s")
    assert found["is_running"] is False
    got = es.eql.get(id=found["id"])
    assert [event["_id"] for event in got["hits"]["events"]] == ["a1", "a3"]
    status = es.eql.get_status(id=found["id"])
    assert status["expiration_time_in_millis"] - status["start_time_in_millis"] < 3_000
    time.sleep(2.5)
    with pytest.raises(NotFoundError):
        es.eql.get(id=found["id"])
