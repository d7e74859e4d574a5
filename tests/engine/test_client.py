"""The elasticsearch-py shaped client: responses, index patterns, options, filters, errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import lanner
from lanner.engine.backends.sql import UnknownFieldError
from lanner.engine.client import Lanner, connect
from lanner.engine.querydsl import QueryDslError
from lanner.eql import EqlSyntaxError


def event(ts: str, category: str, **fields: Any) -> dict[str, Any]:
    return {"@timestamp": ts, "event": {"category": category}, **fields}


@pytest.fixture(scope="module")
def es() -> Lanner:
    client = lanner.connect()
    client.indices.create(index="logs-a", mappings={"properties": {
        "@timestamp": {"type": "date"}, "seq": {"type": "long"},
        "event": {"properties": {"category": {"type": "keyword"}}},
        "user": {"type": "keyword"}, "host": {"type": "keyword"}, "day": {"type": "date"},
    }})
    operations: list[dict[str, Any]] = []
    for seq, (ts, category, user) in enumerate([
        ("2024-01-01T00:00:01Z", "process", "alice"),
        ("2024-01-01T00:00:02Z", "file", "alice"),
        ("2024-01-01T00:00:02Z", "process", "bob"),
        ("2024-01-01T00:00:03Z", "network", "bob"),
        ("2024-01-01T00:00:04Z", "file", "bob"),
    ], start=1):
        operations += [{"index": {"_index": "logs-a", "_id": f"a{seq}"}},
                       event(ts, category, seq=seq, user=user, host="h1", day="2024-01-01")]
    response = client.bulk(operations=operations, refresh=True)
    assert response["errors"] is False
    client.bulk(operations=[{"index": {"_index": "logs-b", "_id": "b1"}},
                            event("2024-01-01T00:00:00Z", "process", seq=0, user="carol")])
    client.index(index="other", id="o1", document=event("2024-01-01T00:00:00Z", "process"))
    return client


def search(es: Lanner, query: str, index: str = "logs-*", **options: Any) -> dict[str, Any]:
    return es.eql.search(index=index, query=query, tiebreaker_field="seq", **options)


def event_ids(response: dict[str, Any]) -> list[str]:
    return [hit["_id"] for hit in response["hits"]["events"]]


def test_event_response_shape(es: Lanner) -> None:
    response = search(es, 'process where user == "alice"')
    assert response["is_partial"] is False and response["timed_out"] is False
    assert isinstance(response["took"], int)
    assert response["hits"]["total"] == {"value": 1, "relation": "eq"}
    (hit,) = response["hits"]["events"]
    assert hit["_index"] == "logs-a" and hit["_id"] == "a1"
    assert hit["_source"] == event("2024-01-01T00:00:01Z", "process", seq=1, user="alice",
                                   host="h1", day="2024-01-01")


def test_index_patterns_select_as_elasticsearch_does(es: Lanner) -> None:
    assert event_ids(search(es, "process where true", index="logs-*")) == ["b1", "a1", "a3"]
    assert event_ids(search(es, "process where true", index="logs-b")) == ["b1"]
    # o1 has no tiebreaker value: it sorts after b1 of the same timestamp
    assert event_ids(search(es, "process where true", index="logs-b,other")) == ["b1", "o1"]
    assert event_ids(search(es, "process where true", index=["logs-b", "other"])) == ["b1", "o1"]
    assert len(event_ids(search(es, "process where true", index="*"))) == 4
    assert len(event_ids(search(es, "process where true", index="_all"))) == 4
    assert event_ids(search(es, "process where true", index="*,-logs-*")) == ["o1"]
    assert search(es, "process where true", index="nope")["hits"]["events"] == []
    assert search(es, "process where true", index="nope-*")["hits"]["total"]["value"] == 0


def test_size_and_result_position(es: Lanner) -> None:
    assert event_ids(search(es, "any where true", index="logs-a", size=2)) == ["a4", "a5"]
    assert event_ids(search(es, "any where true", index="logs-a", size=2,
                            result_position="head")) == ["a1", "a2"]
    assert event_ids(search(es, "any where true | head 3 | tail 2", index="logs-a")) == [
        "a2", "a3"]
    assert event_ids(search(es, "any where true | tail 1", index="logs-a")) == ["a5"]


def test_tiebreaker_orders_equal_timestamps(es: Lanner) -> None:
    both = search(es, "any where seq in (2, 3)", index="logs-a")
    assert event_ids(both) == ["a2", "a3"]


def test_sequence_response(es: Lanner) -> None:
    response = search(es, "sequence by user [process where true] [file where true]")
    sequences = response["hits"]["sequences"]
    assert response["hits"]["total"]["value"] == 2
    assert [s["join_keys"] for s in sequences] == [["alice"], ["bob"]]
    assert [[e["_id"] for e in s["events"]] for s in sequences] == [["a1", "a2"], ["a3", "a5"]]


def test_sequence_without_keys_and_date_keys(es: Lanner) -> None:
    response = search(es, "sequence [process where true] [network where true]")
    (sequence,) = response["hits"]["sequences"]
    assert "join_keys" not in sequence
    response = search(es, "sequence by day [process where true] [network where true]")
    assert response["hits"]["sequences"][0]["join_keys"] == ["2024-01-01T00:00:00.000Z"]


def test_missing_event_placeholder(es: Lanner) -> None:
    response = search(es, "sequence by user with maxspan=1h "
                          "[process where true] ![network where true] [file where true]")
    (sequence,) = response["hits"]["sequences"]
    assert sequence["join_keys"] == ["alice"]
    assert sequence["events"][1] == {"_index": "", "_id": "", "missing": True}


def test_samples(es: Lanner) -> None:
    response = search(es, "sample by user [process where true] [file where true]")
    keys = [s["join_keys"] for s in response["hits"]["sequences"]]
    assert keys == [["alice"], ["bob"]]
    response = search(es, "sample by day [process where true] [file where true]", size=1)
    assert response["hits"]["sequences"][0]["join_keys"] == [1704067200000]  # epoch millis


def test_filter_restricts_events(es: Lanner) -> None:
    def ids(query_filter: dict[str, Any]) -> list[str]:
        return event_ids(search(es, "any where true", index="logs-a", filter=query_filter))

    assert ids({"term": {"user": "bob"}}) == ["a3", "a4", "a5"]
    assert ids({"terms": {"seq": [1, 5]}}) == ["a1", "a5"]
    assert ids({"range": {"@timestamp": {"gte": "2024-01-01T00:00:03Z"}}}) == ["a4", "a5"]
    assert ids({"bool": {"must_not": [{"term": {"user": "bob"}}]}}) == ["a1", "a2"]
    assert ids({"bool": {"must_not": [{"term": {"nothere": "x"}}]}}) == [
        "a1", "a2", "a3", "a4", "a5"]
    assert ids({"bool": {"should": [{"term": {"seq": 1}}, {"term": {"seq": 2}}]}}) == ["a1", "a2"]
    assert ids({"exists": {"field": "user"}}) == ["a1", "a2", "a3", "a4", "a5"]
    assert ids({"wildcard": {"user": {"value": "AL*", "case_insensitive": True}}}) == ["a1", "a2"]
    assert ids({"prefix": {"user": "bo"}}) == ["a3", "a4", "a5"]
    assert ids({"match_all": {}}) == ["a1", "a2", "a3", "a4", "a5"]
    with pytest.raises(QueryDslError):
        ids({"geo_distance": {}})


def test_request_body_form(es: Lanner) -> None:
    response = es.eql.search(index="logs-a", body={"query": "file where true", "size": 1,
                                                   "tiebreaker_field": "seq"})
    assert event_ids(response) == ["a5"]


def test_errors_are_typed(es: Lanner) -> None:
    with pytest.raises(UnknownFieldError, match=r"Unknown column \[usr\]"):
        search(es, 'process where usr == "x"')
    with pytest.raises(EqlSyntaxError):
        search(es, "process where")
    with pytest.raises(ValueError):
        search(es, "process where true", result_position="middle")
    assert search(es, 'process where ?usr == "x"')["hits"]["events"] == []


def test_bulk_reports_bad_documents(es: Lanner) -> None:
    response = es.bulk(operations=[{"index": {"_index": "junk"}}, "not a document"])
    assert response["errors"] is True and response["items"][0]["index"]["status"] == 400


def test_indices_api(es: Lanner) -> None:
    assert es.indices.exists(index="logs-a") and es.indices.exists(index="logs-*")
    assert not es.indices.exists(index="nope")
    assert es.indices.refresh(index="logs-a")["_shards"]["failed"] == 0
    assert es.indices.put_mapping(index="logs-a", properties={"extra": {"type": "keyword"}})[
        "acknowledged"]
    assert search(es, 'process where extra == "x"', index="logs-a")["hits"]["events"] == []


def test_database_file_keeps_events(tmp_path: Path) -> None:
    path = tmp_path / "events.duckdb"
    with lanner.connect(path) as es:
        es.bulk(operations=[{"index": {"_index": "x"}}, event("2024-01-01T00:00:00Z", "process")])
    with lanner.connect(path) as es:
        assert len(es.eql.search(index="x", query="process where true")["hits"]["events"]) == 1


def test_ingest_file(tmp_path: Path) -> None:
    path = tmp_path / "events.ndjson"
    path.write_text('{"@timestamp": "2024-01-01T00:00:00Z", "event": {"category": "process"}}\n'
                    "{broken\n")
    es = lanner.connect()
    report = es.ingest_file(path, index="f")
    assert report.events == 1 and len(report.bad_lines) == 1
    assert str(report.bad_lines[0]).startswith(f"{path}:2")
    assert len(es.eql.search(index="f", query="process where true")["hits"]["events"]) == 1


def test_index_returns_the_stored_id() -> None:
    es = lanner.connect()
    first = es.index(index="x", document=event("2024-01-01T00:00:00Z", "process"))
    assert first["result"] == "created" and first["_id"]
    again = es.index(index="x", id=first["_id"], document=event("2024-01-01T00:00:01Z", "file"))
    assert again == {"_index": "x", "_id": first["_id"], "result": "updated"}
    assert event_ids(es.eql.search(index="x", query="any where true")) == [first["_id"]]


def test_date_timestamps_order_at_millisecond_resolution() -> None:
    """ES keeps `date` values in millis: sub-millisecond digits never reorder events."""
    es = lanner.connect()
    es.indices.create(index="d", mappings={"properties": {"@timestamp": {"type": "date"}}})
    es.bulk(operations=[{"index": {"_index": "d", "_id": "late"}},
                        event("2024-01-01T00:00:00.0009Z", "process"),
                        {"index": {"_index": "d", "_id": "early"}},
                        event("2024-01-01T00:00:00.0001Z", "process")])
    assert event_ids(es.eql.search(index="d", query="process where true")) == ["late", "early"]


# ------------------------------------------------------------------------------------------
# bulk: one item per action, in Elasticsearch's shapes (issue 17)


def test_bulk_answers_every_action_as_elasticsearch_does() -> None:
    es = connect()
    es.indices.create(index="logs", mappings={"properties": {"pid": {"type": "long"}}})
    doc = {"@timestamp": "2024-01-01T00:00:00Z", "event": {"category": "process"}}
    response = es.bulk(operations=[
        {"index": {"_index": "logs", "_id": "1"}}, {**doc, "pid": 1},
        {"index": {"_index": "logs", "_id": "1"}}, {**doc, "pid": 2},
        {"create": {"_index": "logs"}}, {**doc, "pid": 3},
        {"index": {"_index": "logs"}}, {**doc, "pid": "not a number"},
        {"create": {"_index": "logs", "_id": "1"}}, {**doc, "pid": 4},
        {"delete": {"_index": "logs", "_id": "1"}},
        {"index": {"_index": "logs"}}, "not a document",
    ])
    items = response["items"]
    assert response["errors"] is True and len(items) == 7
    assert [next(iter(item)) for item in items] == [
        "index", "index", "create", "index", "create", "delete", "index"]
    first, again, created, refused, conflict, deleted, broken = (
        next(iter(item.values())) for item in items)
    shards = {"total": 1, "successful": 1, "failed": 0}
    assert first == {"_index": "logs", "_id": "1", "_version": 1, "result": "created",
                     "_shards": shards, "_seq_no": 0, "_primary_term": 1, "status": 201}
    assert again == {"_index": "logs", "_id": "1", "_version": 2, "result": "updated",
                     "_shards": shards, "_seq_no": 1, "_primary_term": 1, "status": 200}
    stored = dict(es.store.con.execute("SELECT _id, pid FROM events").fetchall())
    # an id the store derived: 20 base64url characters, the stored document's own
    assert created["result"] == "created" and created["status"] == 201
    assert len(created["_id"]) == 20 and stored[created["_id"]] == 3
    assert set(created["_id"]) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                      "0123456789-_")
    assert refused["status"] == 400 and refused["_id"] in stored
    assert refused["error"]["type"] == "document_parsing_exception"
    assert refused["error"]["reason"].startswith("failed to parse field [pid] of type [long]")
    assert conflict["status"] == 409
    assert conflict["error"]["type"] == "version_conflict_engine_exception"
    assert stored["1"] == 2  # the refused create changed nothing
    assert deleted["status"] == 400 and "not supported" in deleted["error"]["reason"]
    assert broken["status"] == 400 and broken["error"]["type"] == "document_parsing_exception"


def test_bulk_ids_are_the_stored_ones_and_a_repeat_is_an_update() -> None:
    es = connect()
    operations = [{"index": {"_index": "x"}}, {"n": 1}, {"index": {"_index": "x"}}, {"n": 1},
                  {"index": {"_index": "x"}}, {"n": 2}]
    first = es.bulk(operations=operations)
    assert first["errors"] is False
    ids = [item["index"]["_id"] for item in first["items"]]
    assert len(set(ids)) == 3  # identical documents get ids of their own
    assert sorted(ids) == sorted(row[0] for row in es.store.con.execute(
        "SELECT _id FROM events").fetchall())
    assert [item["index"]["result"] for item in first["items"]] == ["created"] * 3
    second = es.bulk(operations=operations)  # the same documents again: the same ids
    assert [item["index"]["_id"] for item in second["items"]] == ids
    assert [item["index"]["result"] for item in second["items"]] == ["updated"] * 3
    assert es.store.count() == 3


def test_bulk_places_every_refused_value_beyond_the_reports_examples() -> None:
    es = connect()
    es.indices.create(index="n", mappings={"properties": {"v": {"type": "long"}}})
    operations: list[Any] = []
    for number in range(12):
        operations += [{"index": {"_index": "n", "_id": str(number)}},
                       {"v": "bad" if number % 2 else number}]
    response = es.bulk(operations=operations, index="n")
    statuses = [item["index"]["status"] for item in response["items"]]
    assert statuses == [201, 400] * 6
