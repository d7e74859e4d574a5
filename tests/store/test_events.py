"""The event store over real files and a real DuckDB: shapes, types, lists, ids, reopening."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import orjson
import pytest

from lanner.store import BadLine, EventStore, StoreError, load_mapping_file
from tests.conftest import CONFORMANCE, SHARED, require_shared

REAL = SHARED / "data" / "real"
ENDPOINT = REAL / "endpoint"
SYSMON = REAL / "evtx_samples.sysmon_operational.ndjson.gz"
DATA = CONFORMANCE / "data"


def values(store: EventStore, column: str, where: str = "true") -> list[Any]:
    """A column's values in ingest order."""
    sql = store.column(column).sql
    return [row[0] for row in store.con.execute(
        f"SELECT {sql} FROM events WHERE {where} ORDER BY _doc"
    ).fetchall()]  # fmt: skip


def ndjson(path: Path, lines: list[Any]) -> Path:
    path.write_bytes(b"\n".join(orjson.dumps(line) for line in lines) + b"\n")
    return path


@pytest.fixture(scope="module")
def real() -> EventStore:
    """Every Defend sample and the Sysmon recordings in one store."""
    require_shared()
    store = EventStore()
    for path in sorted(ENDPOINT.glob("*.ndjson")):
        report = store.ingest_file(path)
        assert report.bad_lines == [] and report.coercion_failures == 0, path.name
    report = store.ingest_file(SYSMON)
    assert report.bad_lines == [] and report.coercion_failures == 0
    return store


def test_real_counts_and_indices(real: EventStore) -> None:
    defend = sum(len(path.read_text().splitlines()) for path in ENDPOINT.glob("*.ndjson"))
    assert defend == 34
    assert real.count() == defend + 3414
    by_index = dict(real.con.execute("SELECT _index, count(*) FROM events GROUP BY ALL").fetchall())
    assert by_index["logs-windows.sysmon_operational-default"] == 3414
    # One sample per data stream has data_stream.*; the others, from older agents, get their
    # Defend data stream from agent.type and event.category (lanner.store.indices).
    assert by_index["logs-endpoint.events.process-default"] == 8
    assert by_index["logs-endpoint.events.network-default"] == 13
    endpoint = [index for index in by_index if index.startswith("logs-endpoint.")]
    assert len(endpoint) == 7
    assert by_index[""] == 1  # an endpoint event of a category no Defend data stream holds


def test_real_list_columns(real: EventStore) -> None:
    category = real.column("event.category")
    assert category is not None
    assert (category.es_type, category.duckdb_type, category.is_list) == (
        "keyword",
        "VARCHAR[]",
        True,
    )
    args = real.column("process.args")
    assert args is not None and args.duckdb_type == "VARCHAR[]"
    first = json.loads(
        (ENDPOINT / "logs-endpoint.events.process.ndjson").read_text().splitlines()[0]
    )
    where = "_index = 'logs-endpoint.events.process-default' AND \"data_stream.type\" IS NOT NULL"
    assert values(real, "process.args", where) == [first["process"]["args"]]
    assert values(real, "event.category", where) == [["process"]]
    assert values(real, "process.pid", where) == [first["process"]["pid"]]
    assert real.column("process.pid").duckdb_type == "BIGINT"


def test_real_timestamps_keep_their_precision(real: EventStore) -> None:
    timestamp = real.column("@timestamp")
    assert timestamp is not None and timestamp.duckdb_type == "TIMESTAMP_NS"
    # Defend writes 100 ns ticks: 2023-01-09T19:38:51.5141503Z
    where = "_source LIKE '%2023-01-09T19:38:51.5141503Z%'"
    (nanos,) = real.con.execute(
        f'SELECT epoch_ns("@timestamp") FROM events WHERE {where}'
    ).fetchone()
    assert nanos == 1_673_293_131_514_150_300
    # Sysmon's event.created has microseconds, @timestamp milliseconds.
    rows = real.con.execute(
        """SELECT "@timestamp"::VARCHAR, "event.created"::VARCHAR FROM events
           WHERE _index = 'logs-windows.sysmon_operational-default' ORDER BY _doc LIMIT 1"""
    ).fetchall()
    assert rows == [("2020-10-05 20:43:58.35", "2020-10-05 20:43:58.351744")]


def test_real_source_round_trip(real: EventStore) -> None:
    expected = [json.loads(line) for path in sorted(ENDPOINT.glob("*.ndjson"))
                for line in path.read_text().splitlines()]  # fmt: skip
    expected += [orjson.loads(line) for line in gzip.decompress(SYSMON.read_bytes()).splitlines()]
    stored = [
        row[0] for row in real.con.execute("SELECT _source FROM events ORDER BY _doc").fetchall()
    ]
    assert [json.loads(text) for text in stored] == expected
    assert stored[0] == orjson.dumps(expected[0]).decode()  # compact JSON, key order kept


def test_real_ingest_order(real: EventStore) -> None:
    docs = [row[0] for row in real.con.execute("SELECT _doc FROM events ORDER BY _doc").fetchall()]
    assert docs == list(range(1, len(docs) + 1))


def test_case_clashing_fields_get_their_own_columns(real: EventStore) -> None:
    # Sysmon has both spellings; DuckDB identifiers ignore case, so one gets another name.
    upper = real.column("winlog.event_data.TargetProcessGUID")
    lower = real.column("winlog.event_data.TargetProcessGuid")
    assert upper is not None and lower is not None
    assert upper.physical == "winlog.event_data.TargetProcessGUID"
    assert lower.physical == "winlog.event_data.TargetProcessGuid#2"
    store = EventStore()
    store.ingest([{"a": {"B": 1}}, {"a.b": "x"}, {"a.B": 2, "a": {"b": "y"}}], index="t")
    assert values(store, "a.B") == [1, None, 2]
    assert values(store, "a.b") == [None, "x", "y"]


def test_has_field(real: EventStore) -> None:
    assert real.has_field("process.name")
    assert real.has_field("process")  # object parents exist for ES too
    assert real.has_field("winlog.event_data")
    assert not real.has_field("process.nmae")


@pytest.fixture(scope="module")
def conformance() -> EventStore:
    """The QA suite's endgame-140 and extra indices, loaded as its DataLoader does."""
    require_shared()
    store = EventStore()
    for index in ("endgame-140", "extra"):
        store.put_mapping(index, load_mapping_file(DATA / f"{index}.mapping"))
        report = store.ingest_file(DATA / f"{index}.data", index=index)
        assert report.bad_lines == [] and report.without_index == 0
    return store


def test_conformance_endgame(conformance: EventStore) -> None:
    assert conformance.con.execute(
        "SELECT count(*), min(serial_event_id), max(serial_event_id) FROM events "
        "WHERE _index = 'endgame-140'"
    ).fetchone() == (102, 1, 75305)
    timestamp = conformance.column("timestamp")
    assert timestamp is not None and timestamp.es_type == "date"
    category = conformance.column("event.category")
    assert category is not None
    assert (category.alias_path, category.physical, category.es_type) == (
        "event_type",
        "event_type",
        "keyword",
    )
    assert conformance.column("event.sequence").physical == "serial_event_id"
    assert values(conformance, "event.category", "serial_event_id = 54") == ["process"]
    hostname = conformance.column("hostname.keyword")
    assert hostname is not None and (hostname.es_type, hostname.physical) == ("keyword", "hostname")
    assert conformance.column("source_address").duckdb_type == "VARCHAR"
    assert conformance.column("unique_pid").duckdb_type == "BIGINT"
    # Unmapped fields of an index with a mapping get ES dynamic mapping, not the ECS schema.
    assert conformance.column("opcode").es_type == "long"


def test_conformance_endgame_filetime_is_reported_not_dropped() -> None:
    """`timestamp` holds FILETIME ticks; as epoch millis (ES' reading) they lie 3.7 million
    years ahead, beyond TIMESTAMP_NS: each is stored as NULL and reported with its place."""
    require_shared()
    store = EventStore()
    store.put_mapping("endgame-140", load_mapping_file(DATA / "endgame-140.mapping"))
    report = store.ingest_file(DATA / "endgame-140.data", index="endgame-140")
    assert report.events == 102
    assert report.coercion_failures == 102
    failures = report.coercions["timestamp"]
    assert failures.es_type == "date"
    assert str(failures.examples[0]).startswith(f"{DATA / 'endgame-140.data'} (document 1): date")


def test_conformance_nanos_index_keeps_nanoseconds() -> None:
    """The date_nanos index of the suite, with its harness transform (README §2)."""
    require_shared()
    docs = json.loads((DATA / "endgame-140.data").read_text())
    for doc in docs:
        ticks = str(doc["timestamp"])
        doc["@timestamp"] = ticks[:12] if ticks[12:] == "000000" else f"{ticks[:12]}.{ticks[12:]}"
        doc["timestamp"] //= 1_000_000
    store = EventStore()
    store.put_mapping("endgame-140-nanos", load_mapping_file(DATA / "endgame-140-nanos.mapping"))
    report = store.ingest(docs, index="endgame-140-nanos")
    assert (report.events, report.coercion_failures) == (102, 0)
    assert store.column("@timestamp").es_type == "date_nanos"
    stamp = store.con.execute(
        'SELECT "@timestamp"::VARCHAR FROM events WHERE serial_event_id = 54'
    ).fetchone()
    assert stamp == ("1974-03-03 02:22:54.29436514",)


def test_conformance_extra(conformance: EventStore) -> None:
    extra = "_index = 'extra'"
    # null_value: explicit nulls (7, 9) are indexed as "NULL", the absent one (8) stays null.
    assert values(
        conformance, "optional_field_default_null", f"{extra} AND sequence IN (7, 8, 9)"
    ) == ["NULL", None, "NULL"]
    mapping_only = conformance.column("optional_field_mapping_only")
    assert mapping_only is not None and conformance.has_field("optional_field_mapping_only")
    assert set(values(conformance, "optional_field_mapping_only", extra)) == {None}
    version = conformance.column("version")
    assert version is not None and (version.es_type, version.duckdb_type) == ("version", "VARCHAR")
    assert values(conformance, "version", f"{extra} AND sequence >= 18") == [
        "1.5.0",
        "1.5.0",
        "1.2.4",
        "1.11.3",
        "bad",
        "1.2.4-SNAPSHOT",
    ]
    tags = values(conformance, "tags", extra)
    assert tags[:4] == [["tag1", "tag2"], ["tag1"], ["tag3", "tag4"], ["tag3", "tag4"]]
    assert tags[21] is None  # "tags": [] has no value
    with_null = values(conformance, "tags_with_null", f"{extra} AND sequence BETWEEN 16 AND 20")
    assert with_null == [["tag1", None, "tag2"], None, [None], ["tag1"], ["tag2"]]
    assert conformance.column("transID").duckdb_type == "BIGINT[]"
    assert conformance.column("date_tags").duckdb_type == "TIMESTAMP_NS[]"
    assert values(conformance, "process.pid", f"{extra} AND sequence = 10") == [123]
    timestamps = conformance.con.execute(
        f'SELECT epoch_ns("@timestamp") // 1000000 FROM events WHERE {extra} ORDER BY _doc LIMIT 4'
    ).fetchall()
    assert timestamps == [(1,), (2,), (3,), (10,)]  # "1", "2": epoch-millis strings


def test_comment_lines_in_a_json_array() -> None:
    require_shared()
    store = EventStore()
    report = store.ingest_file(DATA / "missing-events.data", index="missing-events")
    assert (report.events, report.bad_lines) == (48, [])


def test_dotted_and_nested_keys_are_one_column() -> None:
    store = EventStore()
    store.ingest(
        [
            {"process": {"name": "cmd.exe"}, "process.pid": 4},
            {"process.name": "ssh", "process": {"pid": 5}},
            {"a": {"b": "nested"}, "a.b": "dotted"},  # both: a multi-valued field
            {"x": [{"y": 1}, {"y": 2}, {"z": "only"}], "deep": [[1, 2], [3]]},
        ],
        index="t",
    )
    assert values(store, "process.name") == ["cmd.exe", "ssh", None, None]
    assert values(store, "process.pid") == [4, 5, None, None]
    assert values(store, "a.b") == [None, None, ["nested", "dotted"], None]
    assert values(store, "x.y") == [None, None, None, [1, 2]]
    assert values(store, "x.z") == [None, None, None, ["only"]]
    assert values(store, "deep") == [None, None, None, [1, 2, 3]]
    assert store.has_field("x") and not store.has_field("x.y.z")


def test_scalar_column_becomes_a_list_across_batches() -> None:
    store = EventStore(batch_rows=2)
    docs: list[dict[str, Any]] = [
        {"user": "a", "n": 1}, {"user": "b"}, {"user": None}, {"user": ["c", None, "d"], "n": [2]},
        {"user": "e"}, {"user": []},
    ]  # fmt: skip
    report = store.ingest(docs, index="t")
    assert report.events == 6
    user = store.column("user")
    assert user is not None and (user.duckdb_type, user.is_list) == ("VARCHAR[]", True)
    assert values(store, "user") == [["a"], ["b"], None, ["c", None, "d"], ["e"], None]
    assert values(store, "n") == [[1], None, None, [2], None, None]


def test_ecs_array_fields_are_lists_from_the_start() -> None:
    store = EventStore()
    store.ingest([{"event": {"category": "process", "type": "start"}}], index="t")
    assert store.column("event.category").duckdb_type == "VARCHAR[]"
    assert values(store, "event.category") == [["process"]]


def test_values_es_would_reject_are_null_and_reported(tmp_path: Path) -> None:
    path = ndjson(tmp_path / "events.ndjson", [
        {"process": {"pid": "123"}, "source": {"ip": "10.0.0.1"}},
        {"process": {"pid": "abc"}, "source": {"ip": "not-an-ip"}},
        {"process": {"pid": 7.9}, "source": {"ip": "::ffff:10.0.0.2"}},
    ])  # fmt: skip
    store = EventStore()
    report = store.ingest_file(path, index="t")
    assert report.events == 3
    assert report.coercion_failures == 2
    assert values(store, "process.pid") == [123, None, 7]
    assert values(store, "source.ip") == ["10.0.0.1", None, "10.0.0.2"]
    (example,) = report.coercions["process.pid"].examples
    assert (example.path, example.line, example.value) == (str(path), 2, "abc")
    assert str(example).startswith(f"{path}:2: ")


def test_malformed_line_is_reported_and_the_rest_loads(tmp_path: Path) -> None:
    path = tmp_path / "events.ndjson"
    path.write_text('{"a": 1}\n{"a": 2,,}\n\n{"a": 3}\n[1]\n')
    store = EventStore()
    report = store.ingest_file(path, index="t")
    assert report.events == 2
    assert [(bad.path, bad.line) for bad in report.bad_lines] == [(str(path), 2), (str(path), 5)]
    assert str(report.bad_lines[0]).startswith(f"{path}:2: malformed JSON")
    assert str(report.bad_lines[1]) == f"{path}:5: expected a JSON object, found an array"
    assert values(store, "a") == [1, 3]


def test_broken_first_line_still_reads_as_ndjson(tmp_path: Path) -> None:
    path = tmp_path / "events.ndjson"
    path.write_text('{"a": \n{"a": 2}\n')
    report = EventStore().ingest_file(path, index="t")
    assert (report.events, [bad.line for bad in report.bad_lines]) == (1, [1])


def test_gzip_is_detected_by_content(tmp_path: Path) -> None:
    path = tmp_path / "events.json"  # no .gz in the name
    path.write_bytes(gzip.compress(b'[{"a": 1},\n{"a": 2}]'))
    store = EventStore()
    assert store.ingest_file(path, index="t").events == 2
    truncated = tmp_path / "truncated.ndjson.gz"
    truncated.write_bytes(gzip.compress(b'{"a": 1}\n' * 1000)[:-20])
    report = EventStore().ingest_file(truncated, index="t")
    assert len(report.bad_lines) == 1 and "cannot read the rest" in report.bad_lines[0].message


def test_search_response_keeps_index_and_id(tmp_path: Path) -> None:
    hits = [
        {"_index": ".ds-logs-endpoint.events.process-default-2024.01.01-000001", "_id": "h1",
         "_source": {"process": {"name": "a"}, "data_stream": {
             "type": "logs", "dataset": "endpoint.events.process", "namespace": "default"}}},
        {"_index": "winlogbeat-8", "_id": 2, "_source": {"process": {"name": "b"}}},
    ]  # fmt: skip
    response = tmp_path / "response.json"
    response.write_text(json.dumps({"took": 1, "hits": {"total": {"value": 2}, "hits": hits}}))
    store = EventStore()
    report = store.ingest_file(response)
    assert (report.events, report.without_index) == (2, 0)
    assert store.con.execute("SELECT _index, _id FROM events ORDER BY _doc").fetchall() == [
        (".ds-logs-endpoint.events.process-default-2024.01.01-000001", "h1"),
        ("winlogbeat-8", "2"),
    ]
    # The same hits as an array, and as NDJSON, replace those documents (same _index/_id).
    (tmp_path / "hits.json").write_text(json.dumps(hits))
    assert store.ingest_file(tmp_path / "hits.json").replaced == 2
    assert store.ingest_file(ndjson(tmp_path / "hits.ndjson", hits)).replaced == 2
    assert store.count() == 2
    assert values(store, "process.name") == ["a", "b"]


def test_eql_response_events_and_sequences(tmp_path: Path) -> None:
    def hit(number: int) -> dict[str, Any]:
        return {"_index": "i", "_id": str(number), "_source": {"n": number}}

    response = {"hits": {"sequences": [
        {"join_keys": ["x"], "events": [hit(1), hit(2)]},
        {"join_keys": ["y"], "events": [hit(2), hit(3), {"missing": True}]},
    ]}}  # fmt: skip
    path = tmp_path / "eql.json"
    path.write_text(json.dumps(response))
    store = EventStore()
    assert store.ingest_file(path).events == 3  # event 2 once, the placeholder skipped
    assert values(store, "n") == [1, 2, 3]
    path.write_text(json.dumps({"hits": {"events": [hit(4)]}}))
    assert store.ingest_file(path).events == 1


def test_bulk_operations() -> None:
    store = EventStore()
    report = store.bulk([
        {"index": {"_index": "bulk-a", "_id": "1"}}, {"user": {"name": "alice"}},
        {"create": {"_id": "2"}}, {"user": {"name": "bob"}},
        {"delete": {"_index": "bulk-a", "_id": "1"}},
        {"user": {"name": "no action"}},
    ], index="bulk-default")  # fmt: skip
    assert report.events == 2
    assert [bad.message for bad in report.bad_lines] == [
        "item 5: bulk action [delete] is not supported",
        'item 6: expected a bulk action such as {"index": {}}',
    ]
    assert store.con.execute("SELECT _index, _id FROM events ORDER BY _doc").fetchall() == [
        ("bulk-a", "1"),
        ("bulk-default", "2"),
    ]


def test_bulk_ndjson_file(tmp_path: Path) -> None:
    path = ndjson(tmp_path / "bulk.ndjson", [
        {"index": {"_index": "x", "_id": "a"}}, {"v": 1},
        {"index": {"_index": "x", "_id": "a"}}, {"v": 2},
    ])  # fmt: skip
    store = EventStore()
    report = store.ingest_file(path)
    assert (report.events, report.replaced, store.count()) == (2, 1, 1)
    assert values(store, "v") == [2]  # the last one with an _id wins, as in ES


def test_stable_ids() -> None:
    docs = [{"event": {"code": "1"}, "host": {"name": "h"}}, {"event": {"code": "2"}}]
    first, second = EventStore(), EventStore()
    first.ingest(docs, index="i")
    second.ingest(list(reversed(docs)), index="i")
    ids = dict(first.con.execute("SELECT _source, _id FROM events").fetchall())
    assert ids == dict(second.con.execute("SELECT _source, _id FROM events").fetchall())
    assert all(len(doc_id) == 20 for doc_id in ids.values())
    # Another index, another id; key order does not matter.
    other = EventStore()
    other.ingest([{"host": {"name": "h"}, "event": {"code": "1"}}], index="j")
    (other_id,) = other.con.execute("SELECT _id FROM events").fetchone()
    assert other_id not in ids.values()
    # Re-ingesting replaces; identical documents within one ingest stay distinct events.
    report = first.ingest(docs, index="i")
    assert (report.events, report.replaced, first.count()) == (2, 2, 2)
    twins = EventStore()
    assert twins.ingest([docs[0], docs[0]], index="i").replaced == 0
    assert twins.count() == 2


def test_documents_without_index_are_counted() -> None:
    store = EventStore()
    report = store.ingest(
        [{"a": 1}, {"data_stream": {"type": "logs", "dataset": "d", "namespace": "n"}}]
    )
    assert report.without_index == 1
    assert store.con.execute("SELECT _index FROM events ORDER BY _doc").fetchall() == [
        ("",),
        ("logs-d-n",),
    ]


def test_python_objects_are_read_as_json() -> None:
    store = EventStore()
    report = store.ingest([{"t": ("a", "b")}, {"bad": {1, 2}}, "not a document"], index="t")
    assert report.events == 1
    assert [str(bad) for bad in report.bad_lines] == [
        "<input>: item 2: not JSON-serializable: Type is not JSON serializable: set",
        "<input>: item 2: expected a JSON object, found a string",
    ]
    assert values(store, "t") == [["a", "b"]]


def test_reports_add_up(tmp_path: Path) -> None:
    store = EventStore()
    one = store.ingest_file(ndjson(tmp_path / "one.ndjson", [{"n": 1}, {"n": "x"}]), index="t")
    # without an index, these documents are an index of their own, which its first n types
    two = store.ingest_file(ndjson(tmp_path / "two.ndjson", [{"n": 2}, {"n": "y"}, {}]))
    total = one + two
    assert (total.events, total.without_index) == (5, 3)
    assert total.files == [str(tmp_path / "one.ndjson"), str(tmp_path / "two.ndjson")]
    assert total.coercion_failures == 2  # "x" and "y" for the long field n
    assert [example.value for example in total.coercions["n"].examples] == ["x", "y"]


def test_reopening_a_database_file(tmp_path: Path) -> None:
    require_shared()
    path = tmp_path / "events.duckdb"
    with EventStore(path) as store:
        store.put_mapping("extra", load_mapping_file(DATA / "extra.mapping"))
        store.ingest_file(DATA / "extra.data", index="extra")
        store.ingest([{"a": {"B": 1}}, {"a.b": [2]}], index="t")
        before = store.columns()
    with EventStore(path) as store:
        assert store.count() == 25
        assert store.columns() == before
        assert store.column("a.b").is_list
        assert store.has_field("optional_field_mapping_only")
        assert store.column("event.category").physical == "event_type"
        store.ingest([{"a": {"b": [3]}, "event_type": "new"}], index="extra")
        assert store.count() == 26
        assert values(store, "a.b", "_index = 'extra'")[-1] == [3]
        last = store.con.execute("SELECT max(_doc) FROM events").fetchone()
        assert last == (26,)


def test_read_errors_are_store_errors(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="cannot read"):
        EventStore().ingest_file(tmp_path / "missing.ndjson")


def test_bad_line_text() -> None:
    assert str(BadLine("f.ndjson", 3, "malformed")) == "f.ndjson:3: malformed"
    assert str(BadLine(None, None, "oops")) == "<input>: oops"


def test_column_types_from_a_mapping() -> None:
    store = EventStore()
    store.put_mapping("typed", {"properties": {
        "l": {"type": "long"}, "i": {"type": "integer"}, "u": {"type": "unsigned_long"},
        "f": {"type": "float"}, "b": {"type": "boolean"}, "d": {"type": "date"},
        "n": {"type": "date_nanos"}, "ip": {"type": "ip"}, "w": {"type": "wildcard"},
        "z": {"type": "long", "null_value": 0},
    }})  # fmt: skip
    report = store.ingest([
        {"l": "42", "i": 7, "u": 2**64 - 1, "f": "2.5", "b": "true", "d": 0,
         "n": "2020-01-01T00:00:00.123456789Z", "ip": "2001:DB8::1", "w": 12, "z": None},
    ], index="typed")  # fmt: skip
    assert report.coercion_failures == 0
    types = {name: column.duckdb_type for name, column in store.columns().items()}
    assert types == {
        "l": "BIGINT", "i": "BIGINT", "u": "HUGEINT", "f": "DOUBLE", "b": "BOOLEAN",
        "d": "TIMESTAMP_NS", "n": "TIMESTAMP_NS", "ip": "VARCHAR", "w": "VARCHAR", "z": "BIGINT",
    }  # fmt: skip
    row = store.con.execute(
        "SELECT l, i, u, f, b, epoch_ns(d), epoch_ns(n), ip, w, z FROM events"
    ).fetchone()
    assert row == (
        42,
        7,
        2**64 - 1,
        2.5,
        True,
        0,
        1_577_836_800_123_456_789,
        "2001:db8::1",
        "12",
        0,
    )


def test_values_for_aliases_and_objects_are_refused() -> None:
    require_shared()
    store = EventStore()
    store.put_mapping("extra", load_mapping_file(DATA / "extra.mapping"))
    report = store.ingest(
        [{"event_type": "x", "event": {"category": "y"}}, {"event": "flat"}], index="extra"
    )
    assert report.events == 2
    assert set(report.coercions) == {"event.category", "event"}
    assert "is an alias of [event_type]" in report.coercions["event.category"].examples[0].message
    assert values(store, "event_type") == ["x", None]


def test_ingest_files_streams_across_files(tmp_path: Path) -> None:
    one = ndjson(tmp_path / "one.ndjson", [{"n": 1}, {"n": 2}, {"n": "bad"}])
    two = ndjson(tmp_path / "two.ndjson", [{"n": "worse"}, {"n": 5}])
    store = EventStore(batch_rows=2)
    report = store.ingest_files([one, two], index="t")
    assert (report.events, report.files) == (5, [str(one), str(two)])
    examples = report.coercions["n"].examples
    assert [(example.path, example.line) for example in examples] == [(str(one), 3), (str(two), 1)]
    assert values(store, "n") == [1, 2, None, None, 5]
    with pytest.raises(StoreError, match="not a readable file"):
        store.ingest_files([one, tmp_path])
    assert store.count() == 5  # nothing read when one of the files cannot be
