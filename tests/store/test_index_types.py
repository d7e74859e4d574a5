"""Each index typed by its own mapping, as Elasticsearch types it, in one store: a search sees a
field as the indices it searches type it, and refuses a field they type incompatibly."""

from __future__ import annotations

from pathlib import Path

import pytest

from lanner.engine.backends.sql import CompileError
from lanner.engine.client import connect
from lanner.store import EventStore


def ids(response: dict) -> list[str]:
    return [event["_id"] for event in response["hits"]["events"]]


def load(es, index: str, mapping: dict, docs: list[dict]) -> None:
    es.indices.create(index=index, mappings={"properties": mapping})
    operations: list[dict] = []
    for number, doc in enumerate(docs):
        operations += [{"index": {"_index": index, "_id": f"{index}-{number}"}}, doc]
    assert not es.bulk(operations=operations, refresh=True)["errors"]


def test_keyword_in_one_index_and_long_in_another() -> None:
    es = connect()
    stamp = {"@timestamp": "2026-01-01T00:00:00Z", "event": {"category": "process"}}
    load(es, "words", {"code": {"type": "keyword"}}, [{**stamp, "code": "007"}])
    load(es, "numbers", {"code": {"type": "long"}}, [{**stamp, "code": "007"}])
    # a keyword keeps "007"; a long reads it as 7, which compares as a number
    assert ids(es.eql.search(index="words", query='any where code == "007"')) == ["words-0"]
    assert ids(es.eql.search(index="numbers", query="any where code == 7")) == ["numbers-0"]
    assert ids(es.eql.search(index="numbers", query="any where code > 6")) == ["numbers-0"]
    with pytest.raises(CompileError, match=r"Cannot use field \[code\] due to ambiguities being "
                       r"mapped as \[2\] incompatible types: \[keyword\] in \[words\], "
                       r"\[long\] in \[numbers\]"):
        es.eql.search(index="words,numbers", query="any where code == 7")
    # a search that does not name the field still runs over both
    assert len(ids(es.eql.search(index="words,numbers", query="any where true"))) == 2


def test_date_and_date_nanos_keep_their_own_precision() -> None:
    es = connect()
    doc = {"@timestamp": "2026-01-01T00:00:00.123456789Z", "event": {"category": "process"}}
    load(es, "millis", {"@timestamp": {"type": "date"}}, [doc])
    load(es, "nanos", {"@timestamp": {"type": "date_nanos"}}, [doc])
    assert es.store.fields_in(["millis"]).column("@timestamp").es_type == "date"
    assert es.store.fields_in(["nanos"]).column("@timestamp").es_type == "date_nanos"
    exact = 'any where @timestamp == "2026-01-01T00:00:00.123456789Z"'
    assert ids(es.eql.search(index="nanos", query=exact)) == ["nanos-0"]
    near = 'any where @timestamp == "2026-01-01T00:00:00.123456788Z"'
    assert ids(es.eql.search(index="nanos", query=near)) == []
    # a date is milliseconds: the value and the literal both read as .123
    assert ids(es.eql.search(index="millis", query=near)) == ["millis-0"]


def test_an_object_in_one_index_and_a_keyword_in_another() -> None:
    es = connect()
    stamp = {"@timestamp": "2026-01-01T00:00:00Z", "event": {"category": "process"}}
    load(es, "objects", {"user": {"type": "object", "properties": {"name": {"type": "keyword"}}}},
         [{**stamp, "user": {"name": "alice"}}])
    load(es, "flat", {"user": {"type": "keyword"}}, [{**stamp, "user": "bob"}])
    assert ids(es.eql.search(index="flat", query='any where user == "bob"')) == ["flat-0"]
    assert ids(es.eql.search(index="objects", query='any where user.name == "alice"')) \
        == ["objects-0"]
    with pytest.raises(CompileError, match=r"\[object\] in \[objects\], \[keyword\] in \[flat\]"):
        es.eql.search(index="objects,flat", query='any where user == "bob"')


def test_unmapped_indices_type_a_field_by_their_own_first_values(tmp_path: Path) -> None:
    path = tmp_path / "events.duckdb"
    with EventStore(path) as store:
        store.ingest([{"port": 443}, {"port": "https"}], index="a")  # long: "https" refused
        report = store.ingest([{"port": "https"}, {"port": 80}], index="b")  # keyword
        assert report.coercion_failures == 0
        assert store.fields_in(["a"]).column("port").es_type == "long"
        assert store.fields_in(["b"]).column("port").es_type == "keyword"
    with EventStore(path) as store:  # reopened: each index keeps its typing
        store.ingest([{"port": "http"}], index="b")
        b = store.fields_in(["b"]).column("port")
        assert (b.es_type, b.physical) == ("keyword", "port#2")
        rows = store.con.execute(
            f"SELECT {b.sql} FROM events WHERE _index = 'b' ORDER BY _doc").fetchall()
        assert rows == [("https",), ("80",), ("http",)]
        assert store.fields_in(["a", "b"]).column("port").conflict is not None
