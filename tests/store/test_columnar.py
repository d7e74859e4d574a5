"""The columnar route stores what the general ingest stores, for the fields it was asked for."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import orjson
import pytest

from lanner.detection.executors import source_event
from lanner.store import columnar, events
from lanner.store.columnar import SAMPLE_LINES
from lanner.store.events import SCRATCH_MEMORY_LIMIT, EventStore
from lanner.store.mappings import StoreError
from lanner.store.readers import LineIndex

FIELDS = {
    "process.name", "process.args", "process.pid", "process.Ext.code_signature.subject_name",
    "process.Ext.code_signature.trusted", "file.Ext.entropy", "source.ip", "destination.port",
    "user.name", "event.action", "event.type", "custom.unknown", "dll.code_signature.trusted",
    "event.ingested",
}


@pytest.fixture(autouse=True)
def _files_are_not_small(monkeypatch: pytest.MonkeyPatch) -> None:
    """These files are tiny: no input is small enough for the general way here, so that the
    columnar route is what is tested (test_a_small_input_goes_the_general_way aside)."""
    monkeypatch.setattr(events, "SMALL_INPUT_BYTES_PER_FIELD", 0)


def _doc(number: int, **fields: Any) -> dict[str, Any]:
    document: dict[str, Any] = {
        "@timestamp": f"2025-03-03T06:00:{number % 60:02d}.{number:03d}Z",
        "agent": {"type": "endpoint"},
        "event": {"category": ["process"], "type": ["start"], "id": str(number)},
        "process": {"name": f"proc{number}.exe", "pid": number, "args": ["a", f"b{number}"]},
    }
    for path, value in fields.items():
        node = document
        *parents, leaf = path.split("__")
        for parent in parents:
            node = node.setdefault(parent, {})
        node[leaf] = value
    return document


TRICKY = [
    _doc(1),
    _doc(2, process__args="single"),  # a scalar in a list field
    _doc(3, file__Ext__entropy=6.75),  # a float into a long: truncated, as ES does
    _doc(4, process__pid="42"),  # a number as text: the Python coercer
    _doc(5, source__ip="10.1.2.3", destination__port=443),
    _doc(6, source__ip="2001:db8:0:0:0:0:0:1"),  # IPv6: canonical form from Python
    _doc(7, user__name='quote " and \\ and \u00e9 and \u4e2d'),
    _doc(8, user__name=None, process__args=[]),  # explicit null and an empty array
    _doc(9, event__ingested="2025-03-03T07:00:00+01:00"),  # an offset: Python parses it
    _doc(10, event__ingested="2025-03-03T06:00:00.123456789Z"),  # nanoseconds in SQL
    _doc(11, custom__unknown=5),  # not in the schema: typed by its first value
    _doc(12, process__pid="not a number"),  # refused: NULL, counted with its line
    _doc(13, process__Ext__code_signature=[{"subject_name": "Microsoft", "trusted": True},
                                           {"subject_name": "Other", "trusted": False}]),
    _doc(14, process__Ext__code_signature={"subject_name": "Single", "trusted": True}),
    _doc(15, process__args=["x", None, "y"]),
    _doc(16, event__action=7),  # a number in a keyword field: its text
    _doc(1),  # an identical copy of the first document: its own id
]


def _write(path: Path, documents: list[Any], *, blank_lines: bool = False) -> Path:
    lines = [orjson.dumps(document) for document in documents]
    if blank_lines:
        lines = [line + b"\r\n\n   " for line in lines]
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def _both(*paths: Path, fields: set[str] = FIELDS) -> tuple[EventStore, EventStore, Any, Any]:
    """The files ingested by the columnar route (asked for `fields`) and the general one."""
    columnar, general = EventStore(), EventStore()
    columnar_report = columnar.ingest_files(list(paths), fields=fields)
    general_report = general.ingest_files(list(paths))
    return columnar, general, columnar_report, general_report


def _values(store: EventStore, name: str) -> list[Any]:
    column = store.column(name)
    if column is None or column.physical is None:
        return []
    return [row[0] for row in store.con.execute(
        f"SELECT {column.sql} FROM events ORDER BY _doc").fetchall()]


def _assert_same(columnar: EventStore, general: EventStore, fields: set[str]) -> None:
    for name in sorted(fields):
        assert columnar.has_field(name) == general.has_field(name), name
        if general.column(name) is not None:
            assert columnar.column(name).duckdb_type == general.column(name).duckdb_type, name
        assert _values(columnar, name) == _values(general, name), name
    docs_c = [row[0] for row in columnar.con.execute("SELECT _doc FROM events ORDER BY _doc")
              .fetchall()]
    docs_g = [row[0] for row in general.con.execute("SELECT _doc FROM events ORDER BY _doc")
              .fetchall()]
    told_c, told_g = columnar.documents(docs_c), general.documents(docs_g)
    assert [told_c[doc] for doc in docs_c] == [told_g[doc] for doc in docs_g]


def test_tricky_values_are_stored_as_the_general_ingest_stores_them(tmp_path: Path) -> None:
    path = _write(tmp_path / "events.ndjson", TRICKY)
    columnar, general, report_c, report_g = _both(path)
    assert columnar.general_files == []
    assert report_c.events == report_g.events == len(TRICKY)
    _assert_same(columnar, general, FIELDS)
    assert _values(columnar, "file.Ext.entropy")[2] == 6
    assert _values(columnar, "process.Ext.code_signature.subject_name")[12:14] == [
        ["Microsoft", "Other"], ["Single"]]
    ids = [row[0] for row in general.con.execute("SELECT _id FROM events ORDER BY _doc")
           .fetchall()]
    assert ids[0] != ids[-1]  # identical copies get their own ids, on both routes
    assert report_c.coercion_failures == report_g.coercion_failures == 1
    (failure,) = report_c.coercions["process.pid"].examples
    assert (failure.path, failure.line) == (str(path), 12)


def test_keyword_lists_of_every_shape_are_stored_as_the_general_ingest_stores_them(
        tmp_path: Path) -> None:
    # process.args and event.type are keyword lists: strings, nulls, a number, a boolean, a
    # nested array, an object, escapes
    values = [["a", None, "b\u00e9"], [None], [1, "a"], [True], [["x", "y"], "z"], [{"k": 1}],
              ['quote " and \\'], ["only"], "lone", None, []]
    documents = [_doc(number, process__args=value, event__type=value)
                 for number, value in enumerate(values)]
    path = _write(tmp_path / "events.ndjson", documents)
    columnar_store, general, report_c, report_g = _both(path)
    assert columnar_store.general_files == []
    assert report_c.coercion_failures == report_g.coercion_failures
    _assert_same(columnar_store, general, FIELDS)
    assert _values(columnar_store, "process.args")[:4] == [
        ["a", None, "b\u00e9"], [None], ["1", "a"], ["true"]]


# Values of a single keyword (event.action), checked against what the general ingest makes of
# them: numbers of every size and form, booleans, objects and arrays, and strings that look
# like them.
STRING_FIELD_VALUES = [
    "plain", "", "4624", "-x", "{54849625-5478-4994-A5BA-3E3B0328C30D}", '{"a": 1}', "[1]",
    "[not json", "1e+20", 'quote " and \\ and \u00e9', 7, -0, 0.0, -0.0, 1.5, 1e5, 1e16, 1e-7,
    0.1 + 0.2, 2**63 - 1, 2**63, 2**64 - 1, -(2**63), True, False, None, {"k": 1}, [1, "a"],
    [], {},
]


def test_string_values_of_every_kind_are_stored_as_the_general_ingest_stores_them(
        tmp_path: Path) -> None:
    # after a sample holding only strings there, which would make it a list had it seen one
    documents = [*(_doc(number, event__action="start") for number in range(SAMPLE_LINES)),
                 *(_doc(number, event__action=value)
                   for number, value in enumerate(STRING_FIELD_VALUES))]
    # numbers past 64 bits, and past the double range (a bad line for the general ingest,
    # which cannot read it)
    lines = [orjson.dumps(document) for document in documents]
    lines += [orjson.dumps(_doc(100, event__action=0)).replace(b'"action":0', raw)
              for raw in (b'"action":18446744073709551616', b'"action":-9223372036854775809',
                          b'"action":1e400', b'"action":123456789012345678901234.5')]
    path = tmp_path / "events.ndjson"
    path.write_bytes(b"\n".join(lines) + b"\n")
    columnar_store, general, report_c, report_g = _both(path)
    assert columnar_store.general_files == []
    assert report_c.events == report_g.events == len(lines) - 1
    assert [bad.line for bad in report_c.bad_lines] == [bad.line for bad in report_g.bad_lines]
    assert report_c.coercion_failures == report_g.coercion_failures
    _assert_same(columnar_store, general, FIELDS)
    # the arrays among the values make it a list column, as the general ingest does
    assert _values(columnar_store, "event.action")[SAMPLE_LINES:SAMPLE_LINES + 4] == [
        ["plain"], [""], ["4624"], ["-x"]]


@pytest.mark.parametrize("value", ["alice", 7, 1.5, 1e21, True, {"k": 1.5e21}])
def test_identical_documents_hash_alike_whether_their_field_is_a_list_in_the_sample_or_not(
        tmp_path: Path, value: Any) -> None:
    # user.name is a single value in the first file and, a list in the second file's sample,
    # typed as a list there: copies of a document in both must still be found (their ids
    # count them)
    first = _write(tmp_path / "first.ndjson",
                   [_doc(number, user__name=value) for number in range(3)])
    second = _write(tmp_path / "second.ndjson",
                    [_doc(50, user__name=["a", "b"]), _doc(1, user__name=value),
                     _doc(1, user__name=value)])
    columnar_store, general, _, _ = _both(first, second)
    assert columnar_store.general_files == []
    _assert_same(columnar_store, general, FIELDS)


def test_copies_are_told_apart_from_documents_sharing_their_moment_or_lacking_one(
        tmp_path: Path) -> None:
    # a document's earlier copies are found by a hash of the fields read, then compared
    # whole: documents at the same moment that differ in a field read, or only in a field not
    # read (the same hash, told apart by their sources), and documents with no timestamp
    same_moment = [_doc(7, user__name=name) for name in ("alice", "bob", "alice", "bob")]
    unread = [_doc(8, other__note=note) for note in ("x", "y", "x", "x")]
    timeless = [{key: value for key, value in _doc(9, user__name=name).items()
                 if key != "@timestamp"} for name in ("carol", "carol", "dave", "carol")]
    path = _write(tmp_path / "events.ndjson", [*same_moment, *unread, *timeless])
    columnar_store, general, _, _ = _both(path)
    assert columnar_store.general_files == []
    _assert_same(columnar_store, general, FIELDS)
    docs = [row[0] for row in columnar_store.con.execute("SELECT _doc FROM events").fetchall()]
    ids = {document.id for document in columnar_store.documents(docs).values()}
    assert len(docs) == len(ids) == 12  # every copy has an id of its own


def test_dates_are_stored_as_the_general_ingest_stores_them(tmp_path: Path) -> None:
    # written the common way (read in SQL); with a day the month lacks, past the nanosecond
    # range or at 24:00 (refused, by the Python coercers), and with an offset
    moments = ["2025-03-03T06:00:00Z", "2025-03-03T06:00:00.1Z", "1969-12-31T23:59:59.5Z",
               "2025-03-03T06:00:00.123456789Z", "2024-02-29T12:00:00.000Z",
               "2025-02-29T00:00:00Z", "0001-01-01T00:00:00Z", "2025-03-03T24:00:00Z",
               "2025-03-03T07:00:00+01:00"]
    path = _write(tmp_path / "events.ndjson",
                  [_doc(number, event__ingested=moment) for number, moment in enumerate(moments)])
    columnar_store, general, report_c, report_g = _both(path)
    assert columnar_store.general_files == []
    assert report_c.coercion_failures == report_g.coercion_failures == 3
    _assert_same(columnar_store, general, FIELDS)


def test_blank_lines_and_crlf_keep_line_numbers_and_sources(tmp_path: Path) -> None:
    path = _write(tmp_path / "events.ndjson", TRICKY, blank_lines=True)
    columnar, general, report_c, _ = _both(path)
    assert columnar.general_files == []
    _assert_same(columnar, general, FIELDS)
    (failure,) = report_c.coercions["process.pid"].examples
    assert failure.line == 12 * 3 - 2  # each document is followed by two blank lines


def test_documents_are_told_from_a_sparse_line_index(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(LineIndex, "STRIDE", 3)  # several marks, blank lines between them
    path = _write(tmp_path / "events.ndjson", TRICKY, blank_lines=True)
    columnar_store, general, _, _ = _both(path)
    _assert_same(columnar_store, general, FIELDS)
    index = LineIndex(str(path))
    assert [(ordinal, number) for ordinal, number, _ in index.lines([16, 0, 4, 5])] == [
        (0, 1), (4, 13), (5, 16), (16, 49)]


@pytest.mark.parametrize("block", [LineIndex.BLOCK, 8, 23])
def test_a_line_index_tells_every_document_of_strides_with_and_without_blank_lines(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, block: int) -> None:
    monkeypatch.setattr(LineIndex, "STRIDE", 3)
    # the index built from blocks of the file: whole, or cut within lines and lines longer
    # than a block
    monkeypatch.setattr(LineIndex, "BLOCK", block)
    # strides of plain lines, strides with blank or CRLF lines, a document indented by a
    # tab, a last stride, and a last line without its newline
    text = (b'{"n":0}\n{"n":1}\n{"n":2}\n{"n":3}\n\n{"n":4}\r\n  \n{"n":5}\n'
            b'{"n":6}\r\n\t{"n":7}\n{"n":8}\n{"n":9}\n{"n":10}')
    path = tmp_path / "events.ndjson"
    path.write_bytes(text)
    expected = [(ordinal, number, line)
                for ordinal, (number, line) in enumerate(
                    (number, line) for number, line in enumerate(text.split(b"\n"), 1)
                    if line.strip())]
    found = list(LineIndex(str(path)).lines(range(11)))
    assert [(o, n, orjson.loads(t)["n"]) for o, n, t in found] == [
        (o, n, orjson.loads(t)["n"]) for o, n, t in expected]
    assert [(o, n) for o, n, _ in LineIndex(str(path)).lines([9, 1, 4])] == [
        (1, 2), (4, 6), (9, 12)]
    empty = tmp_path / "empty.ndjson"
    empty.write_bytes(b"")
    assert list(LineIndex(str(empty)).lines([])) == []


def test_a_shape_first_seen_after_the_sample_is_learned(tmp_path: Path) -> None:
    plain = [_doc(number) for number in range(SAMPLE_LINES + 10)]
    late = _doc(99, dll__code_signature=[{"trusted": True}, {"trusted": False}])
    path = _write(tmp_path / "events.ndjson", [*plain, late])
    columnar, general, _, _ = _both(path)
    assert columnar.general_files == []
    _assert_same(columnar, general, FIELDS)
    assert _values(columnar, "dll.code_signature.trusted")[-1] == [True, False]


@pytest.mark.parametrize(("late", "stored_whole"), [(2, 2), (5, 0)])
def test_fields_the_sample_never_shows_are_stored_when_they_come(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, late: int, stored_whole: int) -> None:
    # the sample holds no `user` nor `source`: a few later documents holding them go through
    # the general row code (their `_source` kept), more than UNSEEN_DOCUMENTS make the file
    # read again with every field (no `_source` kept)
    monkeypatch.setattr(columnar, "UNSEEN_DOCUMENTS", 3)
    plain = [_doc(number) for number in range(SAMPLE_LINES + 5)]
    later = [_doc(number, user__name=f"u{number}", source__ip="10.0.0.1",
                  dll__code_signature=[{"trusted": True}])
             for number in range(late)]
    path = _write(tmp_path / "events.ndjson", [*plain, *later, _doc(1)])
    columnar_store, general, report_c, _ = _both(path)
    assert columnar_store.general_files == []
    assert report_c.events == len(plain) + late + 1
    _assert_same(columnar_store, general, FIELDS)
    assert _values(columnar_store, "user.name")[-late - 1:] == [
        *(f"u{number}" for number in range(late)), None]
    assert columnar_store.con.execute(
        "SELECT count(_source) FROM events").fetchone() == (stored_whole,)


def test_identical_documents_in_files_of_different_shapes_get_the_general_ingests_ids(
        tmp_path: Path) -> None:
    # the second file's sample holds no `user`: its copies of the first file's documents
    # must hash as theirs do (lanner.store.recall finds identical copies by that hash)
    first = _write(tmp_path / "first.ndjson",
                   [_doc(number, user__name="alice") for number in range(5)])
    second = _write(tmp_path / "second.ndjson",
                    [*(_doc(number) for number in range(SAMPLE_LINES)),
                     _doc(3, user__name="alice"), _doc(3, user__name="alice")])
    columnar_store, general, _, _ = _both(first, second)
    assert columnar_store.general_files == []
    _assert_same(columnar_store, general, FIELDS)


def test_a_malformed_line_after_the_sample_goes_the_general_way(tmp_path: Path) -> None:
    path = _write(tmp_path / "events.ndjson", [_doc(n) for n in range(SAMPLE_LINES + 5)])
    with path.open("ab") as out:
        out.write(b'{"broken": \n')
        out.write(orjson.dumps(_doc(7)) + b"\n")
    columnar, general, report_c, report_g = _both(path)
    assert [name for name, _ in columnar.general_files] == [str(path)]
    assert [(bad.line, bad.message) for bad in report_c.bad_lines] == [
        (bad.line, bad.message) for bad in report_g.bad_lines]
    assert report_c.bad_lines[0].line == SAMPLE_LINES + 6
    _assert_same(columnar, general, FIELDS)


def test_dotted_keys_go_the_general_way(tmp_path: Path) -> None:
    path = _write(tmp_path / "events.ndjson", [{**_doc(1), "process.name": "dotted.exe"}])
    columnar, general, _, _ = _both(path)
    assert columnar.general_files == [(str(path), "dotted field names")]
    _assert_same(columnar, general, FIELDS)


def test_fields_not_read_are_refused_not_reported_absent(tmp_path: Path) -> None:
    path = _write(tmp_path / "events.ndjson", TRICKY)
    store = EventStore()
    store.ingest_files([path], fields={"process.name", "dll.name"})
    assert store.has_field("process.name")
    assert store.has_field("process")  # the parent of a field read
    assert not store.has_field("dll.name")  # read, and in no document
    with pytest.raises(StoreError, match=r"\[user.name\] was not read"):
        store.column("user.name")


def test_a_store_on_disk_reads_every_field(tmp_path: Path) -> None:
    path = _write(tmp_path / "events.ndjson", TRICKY)
    store = EventStore(tmp_path / "events.duckdb")
    store.ingest_files([path], fields={"process.name"})
    assert store.column("user.name") is not None  # the general ingest: everything kept


def test_a_file_read_in_chunks_gives_the_same_store(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(columnar, "CHUNK_BYTES", 1_000)  # a few documents per chunk
    path = _write(tmp_path / "events.ndjson", TRICKY * 3, blank_lines=True)
    columnar_store, general, report_c, report_g = _both(path)
    assert columnar_store.general_files == []
    assert report_c.events == report_g.events == 3 * len(TRICKY)
    _assert_same(columnar_store, general, FIELDS)


def test_a_chunk_that_is_not_columnar_leaves_no_row_behind(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(columnar, "CHUNK_BYTES", 5_000)
    path = _write(tmp_path / "events.ndjson", [_doc(n) for n in range(SAMPLE_LINES + 5)])
    with path.open("ab") as out:
        out.write(b"[1, 2]\n")  # not an object: DuckDB refuses the last chunk
    columnar_store, general, report_c, report_g = _both(path)
    assert [name for name, _ in columnar_store.general_files] == [str(path)]
    assert columnar_store.count() == general.count() == SAMPLE_LINES + 5
    assert [bad.message for bad in report_c.bad_lines] == [
        bad.message for bad in report_g.bad_lines]
    _assert_same(columnar_store, general, FIELDS)


def test_lists_are_learned_from_the_sample_and_found_later(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # user.name is a scalar in the schema: an array in the sample makes it a list before
    # the data is read; event.action first holds an array in a later chunk (the odd route)
    monkeypatch.setattr(columnar, "CHUNK_BYTES", 20_000)
    early = [_doc(number, user__name=["a", f"u{number}"]) for number in range(3)]
    plain = [_doc(number) for number in range(3, SAMPLE_LINES + 50)]
    late = [_doc(7, event__action=["x", "y"]), _doc(8, event__action="z")]
    path = _write(tmp_path / "events.ndjson", [*early, *plain, *late])
    columnar_store, general, report_c, _ = _both(path)
    assert columnar_store.general_files == []
    assert report_c.events == len(early) + len(plain) + len(late)
    _assert_same(columnar_store, general, FIELDS)
    assert columnar_store.column("user.name").is_list
    assert _values(columnar_store, "event.action")[-2:] == [["x", "y"], ["z"]]


def test_a_field_below_an_array_of_objects_in_the_sample_is_a_list(tmp_path: Path) -> None:
    signed = _doc(1, process__Ext__code_signature=[{"subject_name": "A", "trusted": True}])
    lone = _doc(2, process__Ext__code_signature={"subject_name": "B"})
    path = _write(tmp_path / "events.ndjson", [signed, lone])
    columnar_store, general, _, _ = _both(path)
    _assert_same(columnar_store, general, FIELDS)
    assert _values(columnar_store, "process.Ext.code_signature.subject_name") == [["A"], ["B"]]
    assert _values(columnar_store, "process.Ext.code_signature.trusted") == [[True], None]


def test_a_document_past_the_size_bound_is_stored_as_the_general_ingest_stores_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # DuckDB reads it (its buffers are larger than the bound) or refuses it (the file goes
    # the general way): either way, nothing differs
    monkeypatch.setattr(columnar, "MAX_DOCUMENT_BYTES", 2_000)
    documents = [_doc(number) for number in range(SAMPLE_LINES + 5)]
    documents.append(_doc(5, process__command_line="x" * 50_000))
    path = _write(tmp_path / "events.ndjson", documents)
    columnar_store, general, _, _ = _both(path, fields=FIELDS | {"process.command_line"})
    _assert_same(columnar_store, general, FIELDS | {"process.command_line"})
    assert _values(columnar_store, "process.command_line")[-1] == "x" * 50_000


def test_a_scratch_store_reads_the_columnar_way_and_leaves_nothing_behind(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(columnar, "CHUNK_BYTES", 1_000)  # in pieces in memory; whole on disk
    path = _write(tmp_path / "events.ndjson", TRICKY)
    general = EventStore()
    general.ingest_files([path])
    with EventStore.scratch() as scratch:
        database = Path(scratch.path)
        assert database.exists()
        scratch.ingest_files([path], fields=FIELDS)
        assert scratch.general_files == []
        # the limit raised for the insert (to let DuckDB use both threads) is back
        limit = duckdb.connect()
        limit.execute(f"SET memory_limit = '{SCRATCH_MEMORY_LIMIT}B'")
        assert (scratch.con.execute("SELECT current_setting('memory_limit')").fetchone()
                == limit.execute("SELECT current_setting('memory_limit')").fetchone())
        _assert_same(scratch, general, FIELDS)
    assert not database.parent.exists()


def test_a_small_input_goes_the_general_way(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(events, "SMALL_INPUT_BYTES_PER_FIELD", 32 * 1024)
    first = _write(tmp_path / "first.ndjson", TRICKY[:8])
    second = _write(tmp_path / "second.ndjson", TRICKY[8:])
    small, general = EventStore(), EventStore()
    heard: list[tuple[str | None, int]] = []
    report = small.ingest_files([first, second], fields=FIELDS,
                                progress=lambda name, events: heard.append((name, events)))
    general.ingest_files([first, second])
    assert heard[0] == (str(first), 0) and heard[-1] == (None, len(TRICKY))
    assert (str(second), 8) in heard
    assert [name for name, _ in small.general_files] == [str(first), str(second)]
    assert "small input" in small.general_files[0][1]
    assert report.files == [str(first), str(second)] and report.events == len(TRICKY)
    _assert_same(small, general, FIELDS)
    with pytest.raises(StoreError, match=r"\[host.name\] was not read"):
        small.column("host.name")  # not read, as on the columnar route


def test_a_document_read_from_its_file_comes_parsed_and_equal_to_the_stored_one(
        tmp_path: Path) -> None:
    path = _write(tmp_path / "events.ndjson", [_doc(1), _doc(2, user__name="x")])
    columnar, general, _, _ = _both(path)
    docs_c, docs_g = ([row[0] for row in store.con.execute(
        "SELECT _doc FROM events ORDER BY _doc").fetchall()] for store in (columnar, general))
    told_c, told_g = columnar.documents(docs_c), general.documents(docs_g)
    for doc_c, doc_g in zip(docs_c, docs_g, strict=True):
        read, stored = told_c[doc_c], told_g[doc_g]
        assert read == stored  # what was parsed on the way is not part of the document
        assert read.parsed == orjson.loads(read.source)
        assert stored.parsed is None
        # The executor takes the parse rather than parsing the text again.
        assert source_event(read).source is read.parsed
        assert source_event(stored).source == read.parsed
