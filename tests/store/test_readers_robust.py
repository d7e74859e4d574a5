"""Bad input gets a clear report and loses nothing (issue 17): a cut or padded compressed file
keeps every readable line, limits bound what one line or one archive may cost, a duplicate key
is a bad line as Elasticsearch makes it, UTF-16 and byte order marks are read, and names taken
from an archive reach messages escaped. Each input is a real file written here."""

from __future__ import annotations

import bz2
import gzip
import json
import os
import sys
import tracemalloc
import zipfile
import zlib
from pathlib import Path
from types import FrameType
from typing import Any

import pytest

from lanner.store import EventStore, events, limits
from lanner.store.limits import InputLimits
from lanner.store.readers import BadLine, Record, read_file


def _lines(count: int, start: int = 0) -> bytes:
    return b"".join(
        b'{"@timestamp":"2025-03-03T06:00:00Z","event":{"id":"%d"},"message":"%s"}\n'
        % (number, (b"%08x" % (number * 2654435761 % 2**32)) * 8)
        for number in range(start, start + count))


def _ids(items: list[Any]) -> list[str]:
    return [item.source["event"]["id"] for item in items if isinstance(item, Record)]


def _bad(items: list[Any]) -> list[BadLine]:
    return [item for item in items if isinstance(item, BadLine)]


def _complete_lines(data: bytes) -> int:
    """How many whole lines `zcat` writes of this (possibly cut) gzip data."""
    decompressor = zlib.decompressobj(31)
    out = decompressor.decompress(data) + decompressor.flush()
    return out.count(b"\n")


# -- 1. what a cut or padded compressed file still holds -------------------------------------


def test_truncated_gzip_keeps_its_readable_start(tmp_path: Path) -> None:
    data = gzip.compress(_lines(39))
    cut = data[: len(data) * 60 // 100]
    path = tmp_path / "cut.ndjson.gz"
    path.write_bytes(cut)
    whole = _complete_lines(cut)
    assert 10 < whole < 39
    items = list(read_file(path))
    assert _ids(items) == [str(number) for number in range(whole)]
    (bad,) = _bad(items)
    assert (bad.path, bad.line) == (str(path), whole + 1)
    assert "gzip data ends early" in bad.message and "cut short" in bad.message
    assert str(bad).startswith(f"{path}:{whole + 1}: cannot read the rest of the file")


def test_gzip_cut_at_a_line_end_reports_after_the_last_line(tmp_path: Path) -> None:
    compressor = zlib.compressobj(6, zlib.DEFLATED, 31)
    data = compressor.compress(_lines(20)) + compressor.flush(zlib.Z_FULL_FLUSH)
    path = tmp_path / "cut.ndjson.gz"
    path.write_bytes(data)  # every line, then no end marker
    items = list(read_file(path))
    assert _ids(items) == [str(number) for number in range(20)]
    (bad,) = _bad(items)
    assert bad.line == 20 and "after line 20" in bad.message and "ends early" in bad.message


def test_gzip_followed_by_garbage_reads_every_line(tmp_path: Path) -> None:
    path = tmp_path / "padded.ndjson.gz"
    path.write_bytes(gzip.compress(_lines(39)) + b"this is not gzip\n" * 3)
    items = list(read_file(path))
    assert _ids(items) == [str(number) for number in range(39)]  # zcat reads all 39 too
    (bad,) = _bad(items)
    assert (bad.path, bad.line) == (str(path), 39)
    assert "trailing garbage after the gzip data" in bad.message
    assert "after line 39" in bad.message


def test_gzip_members_and_zero_padding_are_read_silently(tmp_path: Path) -> None:
    path = tmp_path / "members.ndjson.gz"
    path.write_bytes(gzip.compress(_lines(5)) + gzip.compress(_lines(5, 5)) + b"\0" * 512)
    items = list(read_file(path))
    assert _ids(items) == [str(number) for number in range(10)] and not _bad(items)


def test_bzip2_followed_by_garbage_reads_every_line_and_says_so(tmp_path: Path) -> None:
    path = tmp_path / "padded.ndjson.bz2"
    path.write_bytes(bz2.compress(_lines(39)) + b"garbage")
    items = list(read_file(path))
    assert _ids(items) == [str(number) for number in range(39)]
    (bad,) = _bad(items)
    assert bad.line == 39 and "trailing garbage after the bzip2 data" in bad.message


def test_truncated_bzip2_keeps_its_complete_blocks(tmp_path: Path) -> None:
    # bzip2 decompresses whole blocks (100 kB of input at level 1): those before the cut stay
    data = _lines(3000)
    compressed = bz2.compress(data, 1)
    path = tmp_path / "cut.ndjson.bz2"
    path.write_bytes(compressed[: len(compressed) * 60 // 100])
    items = list(read_file(path))
    read = _ids(items)
    assert len(read) > 1000
    assert read == [str(number) for number in range(len(read))]
    (bad,) = _bad(items)
    assert "bzip2 data ends early" in bad.message and bad.line == len(read) + 1


# -- 2. limits: a long line, many blank lines, a decompression bomb --------------------------


def test_a_line_over_the_limit_is_skipped_and_reported(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LANNER_MAX_LINE_BYTES", "1000")
    long_in_block = b'{"message":"' + b"x" * 5000 + b'"}\n'
    long_across_blocks = b'{"message":"' + b"y" * (3 << 20) + b'"}\n'
    data = (_lines(1) + long_in_block + _lines(1, 1) + long_across_blocks + _lines(1, 2)
            + long_in_block.rstrip())  # the last line has no newline
    for path in (tmp_path / "long.ndjson", tmp_path / "long.ndjson.gz"):
        path.write_bytes(gzip.compress(data) if path.suffix == ".gz" else data)
        items = list(read_file(path))
        assert _ids(items) == ["0", "1", "2"]
        assert [(bad.path, bad.line, bad.message) for bad in _bad(items)] == [
            (str(path), line, "line longer than 1000 bytes skipped (the limit is "
                              "LANNER_MAX_LINE_BYTES)") for line in (2, 4, 6)]


def test_a_long_line_is_read_through_not_held(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LANNER_MAX_LINE_BYTES", str(1 << 20))
    path = tmp_path / "giant.ndjson.gz"
    path.write_bytes(gzip.compress(b'{"a":"' + b"z" * (48 << 20) + b'"}\n' + _lines(1)))
    tracemalloc.start()
    try:
        items = list(read_file(path))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert _ids(items) == ["0"] and [bad.line for bad in _bad(items)] == [1]
    assert peak < 12 << 20  # blocks of 1 MiB and one line of the limit, never 48 MiB


def _python_lines_run(path: Path) -> int:
    """Python lines run in the readers while reading `path`: the cost of its blank lines."""
    run = 0

    def tracer(frame: FrameType, event: str, arg: Any) -> Any:
        nonlocal run
        if event == "line":
            run += 1
        return tracer

    def calls(frame: FrameType, event: str, arg: Any) -> Any:
        if frame.f_code.co_filename.endswith(("readers.py", "streams.py")):
            return tracer
        return None

    sys.settrace(calls)
    try:
        items = list(read_file(path))
    finally:
        sys.settrace(None)
    assert _ids(items) == ["0", "1"] and not _bad(items)
    return run


def test_blank_lines_cost_no_python_step_each(tmp_path: Path) -> None:
    blank = b"\n" * 400_000 + b"  \r\n\t\n" * 50_000
    plain = tmp_path / "blank.ndjson"
    plain.write_bytes(_lines(1) + blank + _lines(1, 1))
    packed = tmp_path / "blank.ndjson.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    for path in (plain, packed):
        assert _python_lines_run(path) < 5_000  # 500,000 blank lines


def test_blank_lines_keep_the_line_numbers(tmp_path: Path) -> None:
    path = tmp_path / "gaps.ndjson"
    path.write_bytes(b"\n" * 100_000 + b'{"a":1}\n' + b"\r\n" * 70_000 + b"{broken\n")
    items = list(read_file(path))
    assert [item.line for item in items] == [100_001, 170_002]
    assert isinstance(items[1], BadLine) and items[1].message.startswith("malformed JSON")


def _bomb(size: int) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    head = compressor.compress(_lines(3))
    body = b"".join(compressor.compress(b"\n" * (1 << 20)) for _ in range(size >> 20))
    return head + body + compressor.compress(_lines(1, 3)) + compressor.flush()


def test_a_decompression_bomb_is_cut_at_the_ratio(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(limits, "RATIO_FLOOR_BYTES", 1 << 20)
    monkeypatch.setenv("LANNER_MAX_COMPRESSION_RATIO", "100")
    path = tmp_path / "bomb.ndjson.gz"
    path.write_bytes(_bomb(64 << 20))  # 64 MiB of newlines, about 1000 times smaller
    reader = read_file(path)
    items = list(reader)
    assert _ids(items) == ["0", "1", "2"]  # the line after the newlines is never reached
    (bad,) = _bad(items)
    assert bad.path == str(path) and "more than 100 times its compressed size" in bad.message
    assert 3 < bad.line < 16 << 20  # cut soon after the floor, not at the end
    # under the ratio the same file is read whole
    everything = list(read_file(path, InputLimits(max_compression_ratio=10_000)))
    assert _ids(everything) == ["0", "1", "2", "3"] and not _bad(everything)


def test_a_zip_bomb_member_is_cut_at_the_ratio(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(limits, "RATIO_FLOOR_BYTES", 1 << 20)
    monkeypatch.setenv("LANNER_MAX_COMPRESSION_RATIO", "100")
    path = tmp_path / "bomb.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        with archive.open("bomb.ndjson", "w") as member:
            member.write(_lines(3))
            for _ in range(64):
                member.write(b"\n" * (1 << 20))
            member.write(_lines(1, 3))
        archive.writestr("next.ndjson", _lines(1, 4))
    items = list(read_file(path))
    assert _ids(items) == ["0", "1", "2", "4"]  # the next member is read
    (bad,) = _bad(items)
    assert bad.path == f"{path}/bomb.ndjson" and "more than 100 times" in bad.message


# -- 3. duplicate keys ---------------------------------------------------------------------


DUPLICATES = [
    b'{"a":1,"b":2}',
    b'{"a":1,"a":2}',  # compact
    b'{"a": 1, "b": {"c": 1, "d": [{"e": 1, "e": 2}]}}',  # Python's spacing, deep down
    b'{"q": "say \\": here", "r": "\\u00e9"}',  # no duplicate, but a quote before a colon
    b'{"k" : 1, "k" : 1}',  # spaces before the colon
    b'{"\\u0061":1,"a":2}',  # the same key written two ways
    b'{"a": 1, "b": 2}',
]


def test_a_duplicate_key_is_a_bad_line_as_in_elasticsearch(tmp_path: Path) -> None:
    path = tmp_path / "dups.ndjson"
    path.write_bytes(b"\n".join(DUPLICATES) + b"\n")
    items = list(read_file(path))
    assert [item.line for item in items if isinstance(item, Record)] == [1, 4, 7]
    assert [(bad.path, bad.line, bad.message.split(":")[0]) for bad in _bad(items)] == [
        (str(path), 2, "Duplicate field 'a'"), (str(path), 3, "Duplicate field 'e'"),
        (str(path), 5, "Duplicate field 'k'"), (str(path), 6, "Duplicate field 'a'")]


def test_duplicates_can_be_allowed_the_last_value_winning(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "dups.ndjson"
    path.write_bytes(b"\n".join(DUPLICATES) + b"\n")
    monkeypatch.setenv("LANNER_ALLOW_DUPLICATE_KEYS", "1")
    items = list(read_file(path))
    assert not _bad(items) and items[1].source == {"a": 2}
    monkeypatch.delenv("LANNER_ALLOW_DUPLICATE_KEYS")
    items = list(read_file(path, InputLimits(allow_duplicate_keys=True)))
    assert not _bad(items) and len(items) == len(DUPLICATES)


def test_a_duplicate_key_in_a_json_array_costs_its_document(tmp_path: Path) -> None:
    path = tmp_path / "array.json"
    path.write_text('[\n  {"a": 1},\n  {"a": 1, "x": {"y": 1, "y": 2}},\n  {"a": 3}\n]\n')
    items = list(read_file(path))
    assert [item.source for item in items if isinstance(item, Record)] == [{"a": 1}, {"a": 3}]
    (bad,) = _bad(items)
    assert bad.message.startswith("item 2: Duplicate field 'y'")


def test_the_columnar_route_reports_the_same_duplicate(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(events, "SMALL_INPUT_BYTES_PER_FIELD", 0)  # not the small-input way
    lines = [json.dumps({"@timestamp": "2025-03-03T06:00:00Z", "event": {"id": str(number)},
                         "process": {"name": "a.exe"}}).encode() for number in range(3000)]
    # past the lines sampled in Python, a key twice in a field the hunt reads
    lines[2500] = (b'{"@timestamp": "2025-03-03T06:00:00Z", "event": {"id": "2500"}, '
                   b'"process": {"name": "a.exe", "name": "b.exe"}}')
    path = tmp_path / "events.ndjson"
    path.write_bytes(b"\n".join(lines) + b"\n")
    with EventStore() as general, EventStore() as columnar:
        expected = general.ingest_files([path])
        report = columnar.ingest_files([path], fields={"process.name", "event.id"})
        assert [(bad.path, bad.line) for bad in expected.bad_lines] == [(str(path), 2501)]
        assert report.bad_lines == expected.bad_lines
        assert report.events == expected.events == 2999
        assert "Duplicate field 'name'" in report.bad_lines[0].message


# -- 4. UTF-16 and byte order marks ----------------------------------------------------------


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
def test_utf16_with_a_byte_order_mark_is_read(tmp_path: Path, encoding: str) -> None:
    text = _lines(5).decode() + '{"event":{"id":"é ☃ 𝄞"}}\r\n'
    data = "\ufeff".encode(encoding) + text.encode(encoding)
    for path in (tmp_path / "wide.ndjson", tmp_path / "wide.ndjson.gz"):
        path.write_bytes(gzip.compress(data) if path.suffix == ".gz" else data)
        items = list(read_file(path))
        assert _ids(items) == ["0", "1", "2", "3", "4", "é ☃ 𝄞"] and not _bad(items)
        assert [item.line for item in items] == [1, 2, 3, 4, 5, 6]


def test_utf16_json_array_without_a_mark_is_read(tmp_path: Path) -> None:
    path = tmp_path / "array.json"
    path.write_bytes(json.dumps([{"event": {"id": "1"}}, {"event": {"id": "2"}}],
                                indent=2).encode("utf-16-le"))
    assert _ids(list(read_file(path))) == ["1", "2"]


def test_utf8_byte_order_marks_are_dropped(tmp_path: Path) -> None:
    bom = "\ufeff".encode()
    every = tmp_path / "every.ndjson"
    every.write_bytes(b"".join(bom + line + b"\n" for line in _lines(4).splitlines()))
    start = tmp_path / "start.json"
    start.write_bytes(bom + json.dumps([{"event": {"id": "0"}}], indent=1).encode())
    for path, expected in ((every, ["0", "1", "2", "3"]), (start, ["0"])):
        items = list(read_file(path))
        assert _ids(items) == expected and not _bad(items)


def test_utf16_gets_to_the_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(events, "SMALL_INPUT_BYTES_PER_FIELD", 0)  # not the small-input way
    path = tmp_path / "wide.ndjson"
    path.write_bytes(_lines(3).decode().encode("utf-16"))
    with EventStore() as store:
        report = store.ingest_files([path], fields={"event.id"})
        assert report.events == 3 and not report.bad_lines


# -- 5. names from archives reach messages escaped -------------------------------------------


def test_an_archive_member_name_is_escaped_in_messages(tmp_path: Path) -> None:
    path = tmp_path / "triage.zip"
    hostile = "\x1b]52;c;aGVsbG8=\x07\x1b[2J\n.ndjson"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(hostile, b'{"a":1}\n{broken\n')
    (record, bad) = list(read_file(path))
    assert isinstance(record, Record) and isinstance(bad, BadLine)
    shown = str(bad)
    assert shown.startswith(f"{path}/\\x1b]52;c;aGVsbG8=\\x07\\x1b[2J\\n.ndjson:2: malformed")
    assert all(char.isprintable() for char in shown)


def test_a_file_name_is_escaped_in_messages(tmp_path: Path) -> None:
    path = tmp_path / "evil\x1b[31m\r.ndjson"
    path.write_bytes(b"{broken\n")
    (bad,) = list(read_file(path))
    assert bad.path == str(path)  # the name itself, to open the file again
    assert str(bad).startswith(f"{tmp_path}/evil\\x1b[31m\\r.ndjson:1: ")
    assert os.sep + "evil\\x1b" in str(bad)
