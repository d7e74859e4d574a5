"""Bulk requests against documents already stored: the store tells which (_index, _id) it
holds from the keys it keeps in memory (read back when a store is opened again), and a
request of only new ids writes without looking for documents to replace."""

from __future__ import annotations

from pathlib import Path

from lanner.engine.client import connect
from lanner.store import EventStore


def test_stored_tells_the_keys_a_document_has(tmp_path: Path) -> None:
    with EventStore(tmp_path / "store.duckdb") as store:
        store.ingest([{"_index": "i", "_id": "a", "_source": {"n": 1}},
                      {"_index": "i", "_id": "b", "_source": {"n": 2}}])
    with EventStore(tmp_path / "store.duckdb") as store:  # the keys read back from the table
        assert store.stored([("i", "a"), ("j", "a"), ("i", "c")]) == {("i", "a")}
        store.ingest([{"_index": "j", "_id": "a", "_source": {"n": 3}}])
        assert store.stored([("i", "a"), ("j", "a"), ("i", "c")]) == {("i", "a"), ("j", "a")}


def test_a_reopened_store_conflicts_and_replaces_as_elasticsearch_does(tmp_path: Path) -> None:
    path = tmp_path / "store.duckdb"
    es = connect(path)
    first = es.bulk(operations=[{"index": {"_index": "x", "_id": "a"}}, {"n": 1},
                                {"index": {"_index": "x"}}, {"n": 2}])
    derived = first["items"][1]["index"]["_id"]
    es.close()
    es = connect(path)
    response = es.bulk(operations=[
        {"create": {"_index": "x", "_id": "a"}}, {"n": 3},
        {"index": {"_index": "x", "_id": "a"}}, {"n": 4},
        {"index": {"_index": "x"}}, {"n": 2},
        {"create": {"_index": "x", "_id": "b"}}, {"n": 5},
    ])
    conflict, replaced, again, created = (item.popitem()[1] for item in response["items"])
    assert conflict["status"] == 409
    assert conflict["error"]["type"] == "version_conflict_engine_exception"
    assert (replaced["result"], replaced["_version"], replaced["status"]) == ("updated", 2, 200)
    assert (again["_id"], again["result"]) == (derived, "updated")
    assert (created["_id"], created["result"], created["status"]) == ("b", "created", 201)
    assert sorted(es.store.con.execute("SELECT _id, n FROM events").fetchall()) == sorted(
        [("a", 4), (derived, 2), ("b", 5)])
    # new ids only, one of them twice in the request: the last one wins
    response = es.bulk(operations=[{"index": {"_index": "x", "_id": "c"}}, {"n": 6},
                                   {"index": {"_index": "x", "_id": "c"}}, {"n": 7}])
    assert [item["index"]["result"] for item in response["items"]] == ["created", "updated"]
    assert es.store.con.execute("SELECT n FROM events WHERE _id = 'c'").fetchall() == [(7,)]
    assert es.store.count() == 4
    es.close()
