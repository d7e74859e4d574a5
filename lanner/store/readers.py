"""Events out of files and Python objects, whatever shape they come in.

Shapes, detected from the content: NDJSON of documents, of search hits or of `_bulk`
action/document pairs (elasticdump exports are NDJSON of hits); a JSON array of the same; a
search response (`hits.hits`) or an `_eql/search` response (`hits.events`,
`hits.sequences[].events`); a single document; a Parquet file (one document per row). Any of
them gzip- or bzip2-compressed, or inside a zip archive, told by magic bytes since names lie;
`-` reads standard input; UTF-16 is read as text, byte order marks are dropped. A problem
becomes a BadLine in the stream rather than an exception, so one broken line costs one event
and is reported with its file and line: a document with a duplicate key (which Elasticsearch
refuses), a line over the length limit, and where compressed data ends early or goes on with
garbage, after every line that could be read (lanner.store.limits has the bounds).
"""

from __future__ import annotations

import array
import io
import json
import re
import shutil
import sys
import tempfile
import threading
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from itertools import chain
from pathlib import Path
from typing import IO, Any, NamedTuple

import duckdb
import orjson

from lanner.store.limits import InputLimits, current_limits, printable
from lanner.store.streams import (
    BLOCK_BYTES,
    BZIP2_MAGIC,
    GZIP_MAGIC,
    Decompressed,
    LineReader,
    Metered,
    Skipped,
    StreamCut,
    Transcoded,
    utf16_encoding,
)

EVTX_MAGIC = b"ElfFile\x00"
ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")  # an archive, an empty archive
PARQUET_MAGIC = b"PAR1"
STDIN = "-"  # the path that means standard input
STDIN_NAME = "<stdin>"  # how standard input is named in BadLines
PARQUET_BATCH_ROWS = 10_000
# A Parquet timestamp as ES reads a date: ISO 8601 in UTC (DuckDB's JSON puts a space).
_ISO_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
_TIMESTAMP_TYPES = ("TIMESTAMP", "TIMESTAMP_S", "TIMESTAMP_MS", "TIMESTAMP_NS")
BOM = b"\xef\xbb\xbf"

# `//` comment lines, which ES' JSON parser accepts (missing-events.data has them). No JSON
# string holds a raw newline, so a line starting with `//` is always outside any string.
_COMMENT_LINE = re.compile(rb"^[ \t]*//[^\n]*", re.MULTILINE)
# The end of a key written with whitespace before its colon (`"key" :`), rare.
_SPACED_KEY_END = re.compile(rb'"[ \t\r\n]+:')

# Keys of a bulk action's metadata besides the `_`-prefixed ones.
_BULK_PARAMETERS = frozenset(
    {"routing", "pipeline", "version", "version_type", "if_seq_no", "if_primary_term",
     "require_alias", "dynamic_templates", "retry_on_conflict"}
)  # fmt: skip
_BULK_ACTIONS = frozenset({"index", "create", "update", "delete"})


class Record(NamedTuple):
    """One document to store, with what its input said about where it belongs."""

    source: dict[str, Any]
    index: str | None  # `_index` of a hit or bulk action
    id: str | None  # `_id` of a hit or bulk action
    line: int | None  # line in the file, where the shape has one per document (NDJSON)
    item: int  # 1-based position among the input's documents


class BadLine(NamedTuple):
    """Input that could not be read as a document: where, and why."""

    path: str | None
    line: int | None
    message: str

    def __str__(self) -> str:
        """`file:line: message`, anything unprintable in them escaped (names come from
        archives and file systems, and may hold terminal escapes)."""
        where = printable(self.path or "<input>")
        message = printable(self.message)
        return f"{where}:{self.line}: {message}" if self.line else f"{where}: {message}"


Item = Record | BadLine
# A parsed JSON value, or the BadLine its text became, with its line when known.
_Value = tuple[Any, int | None]


class _Context(NamedTuple):
    """What a file is read under: the limits, and how many compressed bytes the outermost
    compressed layer has read (None outside compressed data), which every layer inside it
    measures its output against."""

    limits: InputLimits
    origin: Callable[[], int] | None = None


EVENT_FILE_SUFFIXES = (".ndjson", ".jsonl", ".json", ".gz", ".bz2", ".zip", ".parquet", ".evtx")


def find_event_files(paths: Iterable[str | Path]) -> list[Path]:
    """The given files, and the event files (by suffix) under the given folders, sorted."""
    found: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            found.extend(sorted(p for p in path.rglob("*")
                                if p.suffix in EVENT_FILE_SUFFIXES and p.is_file()))
        else:
            found.append(path)
    return found


def read_file(path: str | Path, limits: InputLimits | None = None) -> Iterator[Item]:
    """Documents of a file in any supported shape (`-`: standard input); raises OSError only
    if it cannot be opened. `limits`: by default lanner.store.limits' (and the environment's)."""
    name = str(path)
    context = _Context(limits or current_limits())
    if name == STDIN:
        stdin = sys.stdin.buffer
        # A pipe can peek at the magic bytes; a replaced stdin (tests, embedding) may not.
        peekable = stdin if hasattr(stdin, "peek") else io.BufferedReader(stdin)
        yield from _read_binary(peekable, STDIN_NAME, None, context)
        return
    with open(path, "rb") as raw:
        yield from _read_binary(raw, name, name, context)


def _read_binary(raw: IO[bytes], name: str, path: str | None,
                 context: _Context) -> Iterator[Item]:
    """Documents of a byte stream that can peek, whatever wraps them. `path` is the file the
    stream reads unchanged, if any: Parquet is read from a file, by DuckDB."""
    try:
        magic = _peek(raw, 4)
        if _peek(raw, len(EVTX_MAGIC)) == EVTX_MAGIC:
            yield from _read_evtx(raw, name, path)
        elif magic.startswith((GZIP_MAGIC, BZIP2_MAGIC)):
            limits = context.limits
            inner = Decompressed(raw, "gzip" if magic.startswith(GZIP_MAGIC) else "bzip2",
                                 max_ratio=limits.max_compression_ratio,
                                 floor=limits.ratio_floor_bytes, origin=context.origin)
            outermost = context.origin or inner.used
            yield from _read_binary(io.BufferedReader(inner, BLOCK_BYTES), name, None,
                                    context._replace(origin=outermost))
        elif magic.startswith((*ZIP_MAGICS, PARQUET_MAGIC)):
            if path is None or not raw.seekable():
                yield from _read_spooled(raw, name, context)
            elif magic.startswith(PARQUET_MAGIC):
                yield from _read_parquet(path, name)
            else:
                yield from _read_zip(raw, name, context)
        else:
            encoding = utf16_encoding(magic)
            if encoding is not None:
                raw = io.BufferedReader(Transcoded(raw, encoding), BLOCK_BYTES)
            yield from _read_stream(raw, name, context.limits)
    except (OSError, EOFError, zlib.error, zipfile.BadZipFile, StreamCut) as error:
        yield BadLine(name, None, f"cannot read the rest of the file: {error}")


def _read_evtx(raw: IO[bytes], name: str, path: str | None) -> Iterator[Item]:
    """A Windows event log, mapped to ECS (lanner.store.evtx, imported here because it builds
    on this module's Record and BadLine). The parser reads a file itself, a stream from memory."""
    from lanner.store.evtx import read_evtx

    yield from read_evtx(path if path is not None else io.BytesIO(raw.read()), name)


def _peek(stream: IO[bytes], size: int) -> bytes:
    peek = getattr(stream, "peek", None)
    return peek(size)[:size] if peek is not None else b""


def _read_spooled(raw: IO[bytes], name: str, context: _Context) -> Iterator[Item]:
    """A zip or Parquet stream that cannot seek (standard input, an archive member), copied to
    a temporary file first: both formats keep their index at the end."""
    with tempfile.TemporaryDirectory(prefix="lanner-") as folder:
        copy = Path(folder) / "input"
        with copy.open("wb") as spool:
            shutil.copyfileobj(raw, spool, 1 << 20)
        with copy.open("rb") as reopened:
            yield from _read_binary(reopened, name, str(copy), context)


def _read_zip(raw: IO[bytes], name: str, context: _Context) -> Iterator[Item]:
    """Every event file in the archive, by suffix as in a folder, in archive order; a member
    that cannot be read is a BadLine named `archive.zip/member` (the member's name escaped
    where it is not printable)."""
    limits = context.limits
    with zipfile.ZipFile(raw) as archive:
        for member in archive.infolist():
            if member.is_dir() or not member.filename.endswith(EVENT_FILE_SUFFIXES):
                continue
            member_name = f"{name}/{printable(member.filename)}"
            try:
                with archive.open(member) as stream:
                    used = _zip_used(stream, member.compress_size)
                    metered = Metered(stream, used, max_ratio=limits.max_compression_ratio,
                                      floor=limits.ratio_floor_bytes)
                    yield from _read_binary(io.BufferedReader(metered, BLOCK_BYTES),
                                            member_name, None, context._replace(origin=used))
            except (RuntimeError, NotImplementedError, zipfile.BadZipFile) as error:
                yield BadLine(member_name, None, f"cannot read the member: {error}")


def _zip_used(stream: IO[bytes], size: int) -> Callable[[], int]:
    """The compressed bytes of a member read so far: what zipfile has left to read tells it
    (a private attribute; without it, the member's whole compressed size)."""
    if not isinstance(getattr(stream, "_compress_left", None), int):
        return lambda: size
    return lambda: size - stream._compress_left  # type: ignore[attr-defined]


def _read_parquet(path: str, name: str) -> Iterator[Item]:
    """One document per row, nested columns as objects, timestamps as ISO text in UTC."""
    with duckdb.connect() as con:
        try:
            described = con.execute("DESCRIBE SELECT * FROM read_parquet(?)", [path]).fetchall()
            columns = ", ".join(_parquet_column(column, kind) for column, kind, *_ in described)
            con.execute(f"SELECT to_json(struct_pack({columns})) FROM read_parquet(?)", [path])
        except duckdb.Error as error:
            yield BadLine(name, None, f"cannot read the Parquet file: {error}")
            return
        yield from _documents(_parquet_rows(con, name), name)


def _parquet_column(column: str, kind: str) -> str:
    quoted = '"' + column.replace('"', '""') + '"'
    if kind in _TIMESTAMP_TYPES:
        value = f"strftime({quoted}::TIMESTAMP, '{_ISO_FORMAT}')"
    elif kind == "TIMESTAMP WITH TIME ZONE":
        value = f"strftime(timezone('UTC', {quoted}), '{_ISO_FORMAT}')"
    else:
        value = quoted
    return f"{quoted} := {value}"


def _parquet_rows(con: duckdb.DuckDBPyConnection, name: str) -> Iterator[_Value]:
    while True:
        try:
            rows = con.fetchmany(PARQUET_BATCH_ROWS)
        except duckdb.Error as error:
            yield BadLine(name, None, f"cannot read the rest of the Parquet file: {error}"), None
            return
        if not rows:
            return
        for (text,) in rows:
            yield orjson.loads(text), None


def read_objects(docs: Iterable[Any]) -> Iterator[Item]:
    """Documents (or search hits) given as Python objects.

    Each goes through JSON once, so the store sees exactly what ES would receive (datetimes as
    ISO text, tuples as arrays) and later changes to the caller's objects cannot leak in.
    """
    return _documents(_json_values(docs), None)


def read_bulk(operations: Iterable[Any], index: str | None = None) -> Iterator[Item]:
    """elasticsearch-py `bulk(operations=…)` pairs: `{"index": {"_index", "_id"}}`, document."""
    return _documents(_json_values(operations), None, bulk=True, default_index=index)


def _json_values(objects: Iterable[Any]) -> Iterator[_Value]:
    for number, obj in enumerate(objects, 1):
        try:
            yield orjson.loads(orjson.dumps(obj)), None
        except (TypeError, orjson.JSONEncodeError) as error:
            yield BadLine(None, None, f"item {number}: not JSON-serializable: {error}"), None


def _read_stream(stream: IO[bytes], path: str, limits: InputLimits) -> Iterator[Item]:
    """Decide the shape from the first meaningful line, then read accordingly."""
    reader = LineReader(stream, limits.max_line_bytes)
    lines = iter(reader)
    head: list[tuple[int, bytes] | Skipped] = []
    first = b""
    for line in lines:
        head.append(line)
        if isinstance(line, Skipped):
            continue
        first = _unmarked(line[1].strip())
        if first and not first.startswith(b"//"):
            break
        first = b""
    allow = limits.allow_duplicate_keys
    if first.startswith((b"[", b"{")) and not (first.startswith(b"{") and _parses(first)):
        skipped, number = head[:-1], head[-1][0]
        yield from _documents(_ndjson(skipped, path, None, allow), path)
        yield from _whole(first + reader.rest(), path, number - 1, limits)
    else:  # NDJSON; or empty, only comments, only lines too long: nothing but BadLines
        yield from _documents(_ndjson(chain(head, lines), path, reader, allow), path)


def _parses(text: bytes) -> bool:
    try:
        orjson.loads(text)
    except orjson.JSONDecodeError:
        return False
    return True


def read_appended(path: str | Path, offset: int, first_line: int) -> tuple[list[Item], int, int]:
    """The complete NDJSON lines written to a file after byte `offset` (line `first_line`):
    the items, and the offset and line number to read from next time. A last line without
    its newline is left for later: it may still be being written."""
    with open(path, "rb") as stream:
        stream.seek(offset)
        data = stream.read()
    end = data.rfind(b"\n") + 1
    limits = current_limits()
    reader = LineReader(io.BytesIO(data[:end]), limits.max_line_bytes, first_line)
    items = list(_documents(_ndjson(reader, str(path), reader, limits.allow_duplicate_keys),
                            str(path)))
    return items, offset + end, first_line + data.count(b"\n", 0, end)


class LineIndex:
    """Where every STRIDE-th document line of an NDJSON file starts (blank lines are not
    documents), so that the n-th document is read again without reading the file again,
    in memory that grows by 16 bytes per STRIDE documents rather than per document.

    `background`: built by a thread while the caller goes on (the columnar ingest, whose
    DuckDB statement leaves the GIL free: 1.3 s of Python per 1M events, otherwise paid
    when the first alert's document is fetched); `lines` waits for it."""

    STRIDE = 64
    BLOCK = 16 * 1024 * 1024  # bytes read at a time while the index is built

    def __init__(self, path: str, *, background: bool = False) -> None:
        self.path = path
        self._offsets = array.array("q")  # of documents 0, STRIDE, 2 * STRIDE, ...
        self._numbers = array.array("q")  # their line numbers
        self._building: threading.Thread | None = None
        self._failure: OSError | None = None
        if background:
            self._building = threading.Thread(target=self._build_apart, daemon=True,
                                              name="lanner-line-index")
            self._building.start()
        else:
            self._build()

    def _build_apart(self) -> None:
        try:
            self._build()
        except OSError as error:  # told when the index is first used
            self._failure = error

    def _build(self) -> None:
        """The marks, from blocks of the file searched for line ends (1M events, 2 GB: 1.4 s
        of CPU reading it line by line, 0.75 s so). Read, not mapped (0.6 s): a file cut short
        while mapped kills the process (SIGBUS), as a log rotated by truncation would."""
        documents, base, number = 0, 0, 1
        # one buffer filled again and again, without Python's own buffering in between
        buffer = bytearray(self.BLOCK)
        with open(self.path, "rb", buffering=0) as raw:
            while read := raw.readinto(buffer):
                block: bytes | bytearray = buffer
                if read < self.BLOCK:  # the end of the file: its last line whole
                    cut = read
                else:  # up to the last line end, the rest read again with the next block
                    cut = buffer.rfind(b"\n") + 1
                    if not cut:  # a line longer than a block: the whole of it
                        block = bytes(buffer) + raw.readline()
                        cut = len(block)
                    raw.seek(base + cut)
                last_end, after_last = -1, number
                for start, end, line in _documents_from(block, 0, cut, number):
                    if not documents % self.STRIDE:
                        self._offsets.append(base + start)
                        self._numbers.append(line)
                    documents += 1
                    last_end, after_last = end, line + 1
                base += cut
                # the lines after the last document (counting them all took 0.67 s per 2 GB)
                number = after_last + block.count(b"\n", last_end + 1, cut)

    def lines(self, ordinals: Iterable[int]) -> Iterator[tuple[int, int, bytes]]:
        """(ordinal, line number, text) of the documents at these 0-based ordinals, in order.
        The span of each stride holding some is read once, and searched for line ends from
        its mark: only the wanted lines are copied out of it (45k documents of 300k: reading
        and splitting every stride they fall in took 0.33 s, reading and searching 0.25 s)."""
        if self._building is not None:
            self._building.join()
            self._building = None
        if self._failure is not None:
            raise self._failure
        mark, found, span = -1, iter(()), b""
        with open(self.path, "rb") as raw:
            for target in sorted(set(ordinals)):
                if target // self.STRIDE != mark:
                    mark = target // self.STRIDE
                    raw.seek(self._offsets[mark])
                    span = (raw.read() if mark + 1 == len(self._offsets)
                            else raw.read(self._offsets[mark + 1] - self._offsets[mark]))
                    found = enumerate(_documents_from(span, 0, len(span), self._numbers[mark]),
                                      mark * self.STRIDE)
                for ordinal, (start, end, number) in found:
                    if ordinal == target:
                        yield ordinal, number, span[start:end]
                        break


def _documents_from(data: bytes | bytearray, position: int, size: int, number: int
                    ) -> Iterator[tuple[int, int, int]]:
    """(start, end, line number) of each document line of `data[position:size]`, whose first
    line is line `number`: a line is found by one search and told a document, not blank, by
    its first byte (a blank line's is whitespace, at most a space), and never copied out."""
    find = data.find
    while position < size:
        end = find(b"\n", position, size)
        if end < 0:
            end = size
        if data[position] > 0x20 or data[position:end].strip():
            yield position, end, number
        number += 1
        position = end + 1


def read_lines(lines: Iterable[tuple[int, bytes]], path: str,
               limits: InputLimits | None = None) -> Iterator[Item]:
    """The documents of some lines of an NDJSON file, given with their numbers."""
    allow = (limits or current_limits()).allow_duplicate_keys
    for number, text in lines:
        yield from _documents(_ndjson([(number, text)], path, None, allow), path)


def _ndjson(lines: Iterable[tuple[int, bytes] | Skipped], path: str,
            reader: LineReader | None, allow_duplicates: bool) -> Iterator[_Value]:
    """Parsed documents of numbered lines, a BadLine for each line that is not one; then,
    if the `reader` of the lines was cut short, where and why."""
    for line in lines:
        if isinstance(line, Skipped):
            yield BadLine(path, line.line, line.message), None
            continue
        number, text = line
        text = _unmarked(text.strip())
        if not text or text.startswith(b"//"):
            continue
        try:
            value = orjson.loads(text)
        except orjson.JSONDecodeError as error:
            message = f"malformed JSON: {error.msg} at column {error.colno}"
            yield BadLine(path, number, message), None
            continue
        if not allow_duplicates:
            key = duplicate_key(text, value)
            if key is not None:
                yield BadLine(path, number, _duplicate_message(key)), None
                continue
        yield value, number
    if reader is not None and reader.cut is not None:
        yield from _cut(reader, path, allow_duplicates)


def _cut(reader: LineReader, path: str, allow_duplicates: bool) -> Iterator[_Value]:
    """Where and why the lines of `reader` stopped early. The line the cut fell in is a
    document if it is one (only the end of the data was missing), else named as cut short."""
    last = reader.last_line
    where = f" after line {last}" if last else ""
    if reader.partial is not None:
        kept = list(_ndjson([reader.partial], path, None, allow_duplicates))
        if all(not isinstance(value, BadLine) for value, _ in kept):
            yield from kept
        else:
            last = reader.partial[0]
            where = f" from line {last}, which is cut short"
    yield BadLine(path, last or None, f"cannot read the rest of the file{where}: "
                                      f"{reader.cut}"), None


def _unmarked(text: bytes) -> bytes:
    """A line without the UTF-8 byte order mark some writers put before every line."""
    return text[len(BOM):].strip() if text.startswith(BOM) else text


def duplicate_key(text: bytes, value: Any) -> str | None:
    """A key that occurs twice in one object of the JSON `text`, which parsed as `value` (the
    last of each key kept); None if there is none. Cheap when there is none: JSON written
    compactly is what orjson writes of its value (spaces after `:` and `,` aside: removing
    them leaves two copies of a key identical); otherwise, when orjson writes at least as
    many keys as there are places in the text where a key can end (`"` before `:`), no key
    was lost. Only when both fail (a string holding an escaped quote before a colon can do
    that) does the stdlib parser look at every key."""
    if type(value) is not dict and type(value) is not list:
        return None
    try:
        canonical = orjson.dumps(value)
    except orjson.JSONEncodeError:
        canonical = b""
    if canonical == text or (len(canonical) < len(text) and canonical == text.replace(
            b'": ', b'":').replace(b", ", b",")):  # Python's json.dumps writes these spaces
        return None
    # In orjson's text every key ends in `":`, and any other `":` follows a backslash.
    if canonical and (canonical.count(b'":') - canonical.count(b'\\":')
                      >= text.count(b'":') + len(_SPACED_KEY_END.findall(text))):
        return None
    try:
        return _marked_duplicate(json.loads(text, object_pairs_hook=_pairs))
    except (ValueError, RecursionError):
        return None


def _duplicate_message(key: str) -> str:
    return (f"Duplicate field '{key}': Elasticsearch refuses the document "
            f"(LANNER_ALLOW_DUPLICATE_KEYS=1 keeps the last value)")


class _Duplicated(dict):  # type: ignore[type-arg]
    """An object the stdlib parser found a key twice in (the last value kept)."""

    duplicate: str


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) == len(pairs):
        return result
    marked = _Duplicated(result)
    seen: set[str] = set()
    for key, _ in pairs:
        if key in seen:
            marked.duplicate = key
            break
        seen.add(key)
    return marked


def _marked_duplicate(value: Any) -> str | None:
    """The first duplicate key marked in a value the stdlib parser made with _pairs."""
    if isinstance(value, dict):
        if type(value) is _Duplicated:
            return value.duplicate
        found = (_marked_duplicate(inner) for inner in value.values())
    elif isinstance(value, list):
        found = (_marked_duplicate(inner) for inner in value)
    else:
        return None
    return next((key for key in found if key is not None), None)


def _whole(data: bytes, path: str, offset: int, limits: InputLimits) -> Iterator[Item]:
    """A file that is one JSON value (array, search response, pretty-printed document),
    starting on line `offset` + 1."""
    text = _COMMENT_LINE.sub(b"", data)
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError as error:
        if data.lstrip().startswith(b"{"):
            # NDJSON whose first line is broken: read it line by line if any line is good.
            reader = LineReader(io.BytesIO(data), limits.max_line_bytes, offset + 1)
            items = list(_documents(_ndjson(reader, path, reader,
                                            limits.allow_duplicate_keys), path))
            if any(isinstance(item, Record) for item in items):
                yield from items
                return
        yield BadLine(path, offset + error.lineno,
                      f"malformed JSON: {error.msg} at column {error.colno}")
        return
    duplicates = not limits.allow_duplicate_keys and duplicate_key(text, value) is not None
    if duplicates:  # the documents holding one are told apart below
        value = json.loads(text, object_pairs_hook=_pairs)
    yield from _documents(_top_level(value), path, duplicates=duplicates)


def _top_level(value: Any) -> Iterator[_Value]:
    """The documents, hits or bulk operations inside one parsed JSON value."""
    if isinstance(value, list):
        for element in value:
            yield element, None
    else:
        yield value, None


def _hits_of(value: Any) -> Iterator[Any] | None:
    """The hits of a search or `_eql/search` response, an event in several sequences once;
    None for anything else."""
    hits = value.get("hits") if isinstance(value, dict) else None
    if not isinstance(hits, dict) or not any(
        isinstance(hits.get(key), list) for key in ("hits", "events", "sequences")
    ):
        return None
    events = [*hits.get("hits", ()), *hits.get("events", ())]
    for sequence in hits.get("sequences", ()):
        events.extend(sequence.get("events", ()) if isinstance(sequence, dict) else ())
    return _unique_hits(events)


def _unique_hits(events: list[Any]) -> Iterator[Any]:
    """Hits minus missing-event placeholders and repeats (`_index`, `_id`)."""
    seen: set[tuple[Any, Any]] = set()
    for event in events:
        if isinstance(event, dict) and "_source" not in event and event.get("missing"):
            continue  # the placeholder of a missing-event stage: no document
        if isinstance(event, dict) and "_id" in event:
            key = (event.get("_index"), event["_id"])
            if key in seen:
                continue
            seen.add(key)
        yield event


def _documents(
    values: Iterable[_Value],
    path: str | None,
    *,
    bulk: bool = False,
    default_index: str | None = None,
    duplicates: bool = False,
) -> Iterator[Item]:
    """Records from parsed values: plain documents, hits, and bulk action/document pairs.
    `duplicates`: the values may hold objects marked by _pairs, each making a BadLine."""
    item = 0  # documents so far
    position = 0  # values so far: "item N" in messages about inputs without lines
    pending: dict[str, Any] | None = None  # metadata of a bulk action awaiting its document
    skip_next = False  # the document line of an unsupported `update` action
    for value, line in _expanded(values):
        if isinstance(value, BadLine):
            yield value
            pending, skip_next = None, False  # a broken line was the awaited document
            continue
        position += 1
        where = "" if line else f"item {position}: "  # a line number goes in the BadLine
        if skip_next:
            skip_next = False
            continue
        if not isinstance(value, dict):
            yield BadLine(path, line, f"{where}expected a JSON object, found {_kind(value)}")
            pending = None
            continue
        if duplicates and (key := _marked_duplicate(value)) is not None:
            yield BadLine(path, line, f"{where}{_duplicate_message(key)}")
            pending = None
            continue
        if pending is not None:
            item += 1
            yield Record(value, _text(pending.get("_index")) or default_index,
                         _text(pending.get("_id")), line, item)  # fmt: skip
            pending = None
            continue
        action = _bulk_action(value)
        if action is not None:
            name, metadata = action
            if name in ("index", "create"):
                pending = metadata
            else:
                skip_next = name == "update"
                yield BadLine(path, line, f"{where}bulk action [{name}] is not supported")
            continue
        if bulk:
            yield BadLine(path, line, f'{where}expected a bulk action such as {{"index": {{}}}}')
            continue
        source = value.get("_source")
        item += 1
        if isinstance(source, dict) and ("_index" in value or "_id" in value):
            yield Record(source, _text(value.get("_index")), _text(value.get("_id")), line, item)
        else:
            yield Record(value, None, None, line, item)
    if pending is not None:
        yield BadLine(path, None, "the last bulk action has no document")


def _expanded(values: Iterable[_Value]) -> Iterator[_Value]:
    """Values, with each search response replaced by its hits (on the response's line)."""
    for value, line in values:
        hits = _hits_of(value)
        if hits is None:
            yield value, line
        else:
            for hit in hits:
                yield hit, line


def _bulk_action(value: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """`{"index": {"_index": …}}` and friends; None for anything that is a document."""
    if len(value) != 1:
        return None
    ((name, metadata),) = value.items()
    if name not in _BULK_ACTIONS or not isinstance(metadata, dict):
        return None
    if all(key.startswith("_") or key in _BULK_PARAMETERS for key in metadata):
        return name, metadata
    return None


def _text(value: Any) -> str | None:
    """An `_index`/`_id` as text (ids may be given as numbers)."""
    if value is None or isinstance(value, str):
        return value
    return str(value)


def _kind(value: Any) -> str:
    return {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), "a number"
    )
