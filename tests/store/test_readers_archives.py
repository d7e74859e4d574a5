"""Inputs a responder collects: archives, Parquet, exports and standard input, read by content.

The archives are built here from the bundled example events, so each test knows exactly which
documents must come out, and where a broken piece must be reported."""

from __future__ import annotations

import bz2
import gzip
import io
import json
import sys
import zipfile
from pathlib import Path

import duckdb
import pytest

from lanner.store import EventStore, find_event_files
from lanner.store.readers import BadLine, Record, read_file
from tests.conftest import ROOT

EVENTS = ROOT / "examples" / "events"
BITS = EVENTS / "ingress_transfer_bits.ndjson"


def event_ids(items: list[Record | BadLine]) -> list[str]:
    return [item.source["event"]["id"] for item in items if isinstance(item, Record)]


def expected_ids(path: Path) -> list[str]:
    return [json.loads(line)["event"]["id"] for line in path.read_text().splitlines()]


def test_bzip2_file_reads_as_its_content(tmp_path: Path) -> None:
    archive = tmp_path / "bits.log"  # the name says nothing: the magic bytes do
    archive.write_bytes(bz2.compress(BITS.read_bytes()))
    items = list(read_file(archive))
    assert event_ids(items) == expected_ids(BITS)
    assert [item.line for item in items] == list(range(1, len(items) + 1))


def test_truncated_bzip2_ends_with_a_bad_line(tmp_path: Path) -> None:
    archive = tmp_path / "bits.ndjson.bz2"
    archive.write_bytes(bz2.compress(BITS.read_bytes())[:-40])
    items = list(read_file(archive))
    assert isinstance(items[-1], BadLine)
    assert items[-1].path == str(archive)
    assert items[-1].message.startswith("cannot read the rest of the file")


def test_zip_reads_every_event_member_and_names_bad_lines_inside_it(tmp_path: Path) -> None:
    archive = tmp_path / "triage.zip"
    smb = EVENTS / "smb_connection_lolbin.ndjson"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as writer:
        writer.writestr("host1/", b"")
        writer.write(BITS, "host1/bits.ndjson")
        writer.writestr("host1/smb.json.gz", gzip.compress(smb.read_bytes()))
        writer.writestr("host1/notes.txt", b"not events")
        writer.writestr("host2/broken.ndjson", b'{"event": {"id": "ok"}}\n{"event": \n')
    items = list(read_file(archive))
    assert event_ids(items) == [*expected_ids(BITS), *expected_ids(smb), "ok"]
    bad = [item for item in items if isinstance(item, BadLine)]
    assert [str(line).split(": malformed")[0] for line in bad] == [
        f"{archive}/host2/broken.ndjson:2"]


def test_parquet_rows_become_documents_with_iso_timestamps(tmp_path: Path) -> None:
    parquet = tmp_path / "bits.parquet"
    with duckdb.connect() as con:
        con.execute(f"COPY (SELECT * FROM read_json('{BITS}')) TO '{parquet}' (FORMAT parquet)")
    items = list(read_file(parquet))
    assert event_ids(items) == expected_ids(BITS)
    first = json.loads(BITS.read_text().splitlines()[0])
    record = items[0]
    assert isinstance(record, Record)
    assert record.source["@timestamp"] == first["@timestamp"].removesuffix("Z") + "000Z"
    assert record.source["process"]["name"] == first["process"]["name"]
    assert record.source["host"]["ip"] == first["host"]["ip"]


def test_parquet_inside_a_zip_and_a_corrupt_parquet(tmp_path: Path) -> None:
    parquet = tmp_path / "bits.parquet"
    with duckdb.connect() as con:
        con.execute(f"COPY (SELECT * FROM read_json('{BITS}')) TO '{parquet}' (FORMAT parquet)")
    archive = tmp_path / "export.zip"
    with zipfile.ZipFile(archive, "w") as writer:
        writer.write(parquet, "bits.parquet")
    assert event_ids(list(read_file(archive))) == expected_ids(BITS)

    corrupt = tmp_path / "corrupt.parquet"
    corrupt.write_bytes(parquet.read_bytes()[:200])
    (bad,) = list(read_file(corrupt))
    assert isinstance(bad, BadLine) and bad.path == str(corrupt)
    assert bad.message.startswith("cannot read the Parquet file")


def test_elasticdump_lines_keep_their_index_and_id(tmp_path: Path) -> None:
    dump = tmp_path / "dump.json"
    sources = [json.loads(line) for line in BITS.read_text().splitlines()]
    dump.write_text("".join(
        json.dumps({"_index": "logs-endpoint.events.file-default", "_type": "_doc",
                    "_id": f"doc-{number}", "_score": 1, "_source": source}) + "\n"
        for number, source in enumerate(sources)))
    items = list(read_file(dump))
    assert [(item.index, item.id) for item in items] == [
        ("logs-endpoint.events.file-default", f"doc-{number}") for number in range(len(sources))]
    assert [item.source for item in items] == sources


def test_json_array_file(tmp_path: Path) -> None:
    array = tmp_path / "events.json"
    sources = [json.loads(line) for line in BITS.read_text().splitlines()]
    array.write_text(json.dumps(sources, indent=2))
    assert [item.source for item in read_file(array)] == sources


def test_standard_input_is_read_by_content(monkeypatch: pytest.MonkeyPatch) -> None:
    for payload in (BITS.read_bytes(), gzip.compress(BITS.read_bytes())):
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(payload)))
        assert event_ids(list(read_file("-"))) == expected_ids(BITS)
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b'{"a": 1}\n{oops\n')))
    bad = [item for item in read_file("-") if isinstance(item, BadLine)]
    assert [(line.path, line.line) for line in bad] == [("<stdin>", 2)]


def test_zip_on_standard_input(monkeypatch: pytest.MonkeyPatch) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as writer:
        writer.write(BITS, "bits.ndjson")
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(buffer.getvalue())))
    assert event_ids(list(read_file("-"))) == expected_ids(BITS)


def test_folders_find_archives_and_parquet_and_the_store_ingests_them(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "bits.ndjson.bz2").write_bytes(bz2.compress(BITS.read_bytes()))
    with zipfile.ZipFile(tmp_path / "b.zip", "w") as writer:
        writer.write(EVENTS / "common_webservices.ndjson", "web.ndjson")
    (tmp_path / "readme.txt").write_text("not events")
    files = find_event_files([tmp_path])
    assert files == [tmp_path / "a" / "bits.ndjson.bz2", tmp_path / "b.zip"]
    with EventStore() as store:
        report = store.ingest_files(files)
    web = EVENTS / "common_webservices.ndjson"
    assert report.events == len(expected_ids(BITS)) + len(expected_ids(web))
    assert report.bad_lines == []
