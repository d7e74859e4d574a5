"""Events Spark reads itself from NDJSON and Parquet paths are typed, numbered, indexed and
identified as the EventStore does it, and hunting them raises DuckDB's alerts."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bench.generate import corpus
from bench.spark import _rules, alert_ids, hunt_concurrently
from lanner.detection.run import Detector
from lanner.engine.backends.duckdb import DuckDBBackend
from lanner.engine.backends.spark import SparkBackend, _plain
from lanner.engine.backends.spark_lake import LakeError, SparkLakeBackend
from lanner.engine.client import NotStoredError, connect
from lanner.store import EventStore, find_event_files
from lanner.store.events import quote
from tests.conftest import ROOT, require_shared
from tests.engine.spark.session import TEST_MASTER

THREADS = 4
EXAMPLE_EVENTS = ROOT / "examples" / "events"
RANDOM_FIELD = "kibana.alert.rule.execution.uuid"
BAD_JSON = "unexpected character, expected a string key"
CORPUS_RULES = 50  # all that fire on the corpus (18), and quiet ones

# Documents the corpus lacks: a line that is not JSON, a value its field's type refuses,
# identical copies (distinct derived ids), hits with the same _index and _id (the last one
# wins), a search response (two documents on one line), a blank line.
ODD_LINES = [
    '{"@timestamp": "2025-03-03T07:00:00Z", "event": {"sequence": "not a number"}}',
    "{not json",
    "",
    '{"@timestamp": "2025-03-03T07:00:01Z", "agent": {"id": "a"}, "odd.count": 7}',
    '{"@timestamp": "2025-03-03T07:00:02Z", "copy": true}',
    '{"@timestamp": "2025-03-03T07:00:02Z", "copy": true}',
    '{"_index": "hits", "_id": "same", "_source": {"version": 1, "odd.count": "8"}}',
    '{"_index": "hits", "_id": "same", "_source": {"version": 2, "odd.count": 9.5}}',
    '{"hits": {"hits": [{"_index": "hits", "_id": "h1", "_source": {"n": 1}}, '
    '{"_index": "hits", "_id": "h2", "_source": {"n": 2}}]}}',
    '{"odd": {"count": "many"}}',
]


@pytest.fixture(scope="module")
def events() -> Path:
    return corpus(2_000).path


@pytest.fixture
def small_splits(spark: Any) -> Iterator[None]:
    """Files cut into many splits, so that numbering across splits is exercised."""
    before = spark.conf.get("spark.sql.files.maxPartitionBytes")
    spark.conf.set("spark.sql.files.maxPartitionBytes", str(256 * 1024))
    yield
    spark.conf.set("spark.sql.files.maxPartitionBytes", before)


def _typed_rows(store: EventStore) -> list[tuple[Any, ...]]:
    """Every stored event's fields as the Spark export sees them, in `_doc` order."""
    selects = ["_doc"]
    for column in store.columns().values():
        sql = quote(column.physical or "")
        if column.duckdb_type == "TIMESTAMP_NS":
            sql = f"epoch_ns({sql})"
        elif column.duckdb_type == "TIMESTAMP_NS[]":
            sql = f"list_transform({sql}, lambda d: epoch_ns(d))"
        selects.append(sql)
    return store.con.execute(f"SELECT {', '.join(selects)} FROM events ORDER BY _doc").fetchall()


def _lake_rows(lake: SparkLakeBackend) -> list[tuple[Any, ...]]:
    columns = ", ".join(["_doc", *(f"`{c.physical}`" for c in lake.lake.columns().values())])
    rows = lake.session.sql(f"SELECT {columns} FROM {lake._events()} ORDER BY _doc").collect()
    return [tuple(_plain(value) for value in row) for row in rows]


def test_the_lake_types_numbers_and_identifies_documents_as_the_store(
        spark: Any, events: Path, tmp_path: Path, small_splits: None) -> None:
    odd = tmp_path / "odd events.ndjson"
    odd.write_text("\n".join(ODD_LINES) + "\n", encoding="utf-8")
    more = tmp_path / "more.ndjson"
    more.write_text('{"agent": {"id": ["b", "c"]}, "late": 1}\n{"_index": "hits", "_id": "same", '
                    '"_source": {"version": 3}}\n', encoding="utf-8")
    with EventStore() as store:
        stored = store.ingest_files([events, odd])
        stored += store.ingest_files([more])
        lake = SparkBackend.from_paths(spark, [str(events), str(odd)])
        try:
            assert isinstance(lake, SparkLakeBackend)
            lake.add_paths([str(more)])
            read = lake.report
            assert [(bad.path, bad.line, bad.message) for bad in read.bad_lines] == [
                (str(odd), 2, f"malformed JSON: {BAD_JSON} at column 2")]
            assert [(bad.path, bad.line, bad.message) for bad in read.bad_lines] == [
                (bad.path, bad.line, bad.message) for bad in stored.bad_lines]
            failures = {name: (f.es_type, f.count, [str(e) for e in f.examples])
                        for name, f in read.coercions.items()}
            assert failures == {name: (f.es_type, f.count, [str(e) for e in f.examples])
                                for name, f in stored.coercions.items()}
            assert failures["event.sequence"][1] == 1 and "odd.count" in failures
            assert (read.events, read.without_index, read.replaced, read.files) == (
                stored.events, stored.without_index, stored.replaced, stored.files)
            assert read.replaced == 2
            assert {name: (c.es_type, c.is_list) for name, c in lake.lake.columns().items()} \
                == {name: (c.es_type, c.is_list) for name, c in store.columns().items()}
            assert lake.lake.has_field("odd") and not lake.lake.has_field("odd.nothing")
            assert lake.index_names() == DuckDBBackend(store).index_names()
            docs = range(1, read.events + 1)
            assert lake.documents(docs) == store.documents(docs)
            assert _lake_rows(lake) == [tuple(row) for row in _typed_rows(store)]
        finally:
            lake.close()


def test_a_missing_path_or_an_unreadable_format_is_a_lake_error(
        spark: Any, tmp_path: Path) -> None:
    nowhere = tmp_path / "nowhere"
    with pytest.raises(LakeError) as missing:
        SparkLakeBackend(spark, [str(nowhere)])
    assert str(missing.value) == f"cannot read {nowhere}: no such file or folder"
    (tmp_path / "logs.evtx").write_bytes(b"ElfFile\x00")
    with pytest.raises(LakeError) as refused:
        SparkLakeBackend(spark, [str(tmp_path)])
    assert str(refused.value) == (f"cannot read {tmp_path / 'logs.evtx'}: a lake holds NDJSON "
                                  "or Parquet files")


def _chosen_rules(store: EventStore) -> tuple[list[Any], int]:
    """The seed rules, every corpus rule that raises alerts on DuckDB and quiet corpus rules
    spread over the corpus up to CORPUS_RULES; and how many corpus rules fire."""
    every_rule = _rules(True)
    on_duckdb = alert_ids(hunt_concurrently(Detector(DuckDBBackend(store)), every_rule, 1))
    seeds = [rule for rule in every_rule if "/rules/seed/" in (rule.path or "")]
    corpus_rules = [rule for rule in every_rule if rule not in seeds]
    firing = [rule for rule in corpus_rules if on_duckdb[rule.rule_id]]
    quiet = [rule for rule in corpus_rules if not on_duckdb[rule.rule_id]]
    step = len(quiet) // (CORPUS_RULES - len(firing))
    return seeds + firing + quiet[::step][:CORPUS_RULES - len(firing)], len(firing)


def _alerts(reports: list[Any]) -> dict[str, list[str]]:
    """Each rule's alerts, whole (event fields, ancestors' _index and _id), by alert id; all
    but the execution's uuid, drawn at random for every run."""
    return {report.rule.rule_id: [
        json.dumps({**alert, RANDOM_FIELD: None}, sort_keys=True, default=str)
        for alert in sorted(report.alerts, key=lambda alert: alert["kibana.alert.uuid"])]
        for report in reports}


def test_hunting_the_lake_raises_the_alerts_of_the_store(
        spark: Any, events: Path, tmp_path: Path) -> None:
    require_shared()
    parquet = tmp_path / "parquet"  # a folder of two files, as Spark writes them
    spark.read.json(str(events)).repartition(2).sortWithinPartitions("event.id") \
        .write.parquet(str(parquet))
    with EventStore() as store:
        store.ingest_files([events])
        rules, firing = _chosen_rules(store)
    assert len(rules) == 5 + CORPUS_RULES and firing >= 15
    for path in (events, parquet):
        with EventStore() as store:
            store.ingest_files(find_event_files([path]))
            expected = hunt_concurrently(Detector(DuckDBBackend(store)), rules, 1)
            documents = store.documents(range(1, 2_001))
        lake = SparkBackend.from_paths(spark, [str(path)], partitions=3)
        try:
            found = hunt_concurrently(Detector(lake), rules, THREADS)
            assert lake.documents(range(1, 2_001)) == documents
        finally:
            lake.close()
        assert [report.error for report in found if report.error] == []
        assert alert_ids(found) == alert_ids(expected)
        assert sum(len(ids) for ids in alert_ids(found).values()) >= 50
        assert _alerts(found) == _alerts(expected)


def test_a_client_over_paths_answers_as_a_client_over_the_store(spark: Any) -> None:
    files = [str(path) for path in sorted(EXAMPLE_EVENTS.glob("*.ndjson"))]
    queries = ["sequence by host.id [process where true] [network where true]",
               'process where process.name : "*.exe"', "any where true | tail 3"]
    with connect() as stored, connect(engine="spark", spark_master=TEST_MASTER,
                                      paths=files[:2]) as lake:
        stored.store.ingest_files(files[:2])
        stored.store.ingest_files(files[2:])
        report = lake.add_paths(files[2:])
        assert (report.events, report.files) == (
            sum(len(Path(name).read_text().splitlines()) for name in files[2:]), files[2:])
        for query in queries:
            answers = [client.eql.search(index="logs-*,winlogbeat-*", query=query, size=50)
                       for client in (stored, lake)]
            assert answers[0]["hits"]["total"]["value"] > 0
            assert answers[1]["hits"] == answers[0]["hits"]
        with pytest.raises(NotStoredError) as refused:
            lake.bulk(operations=[{"index": {"_index": "logs"}}, {"a": 1}])
        assert str(refused.value) == ("bulk: this client searches the files Spark reads; add "
                                      "files with add_paths()")
