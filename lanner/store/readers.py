"""Events out of files and Python objects, whatever shape they come in.

Shapes, detected from the content: NDJSON of documents, of search hits or of `_bulk`
action/document pairs; a JSON array of the same; a search response (`hits.hits`) or an
`_eql/search` response (`hits.events`, `hits.sequences[].events`); a single document. Any of
them gzip-compressed (by magic bytes). A problem becomes a BadLine in the stream rather than an
exception, so one broken line costs one event and is reported with its file and line.
"""

from __future__ import annotations

import gzip
import io
import re
import zlib
from collections.abc import Iterable, Iterator
from itertools import chain
from pathlib import Path
from typing import IO, Any, NamedTuple

import orjson

GZIP_MAGIC = b"\x1f\x8b"
BOM = b"\xef\xbb\xbf"

# `//` comment lines, which ES' JSON parser accepts (missing-events.data has them). No JSON
# string holds a raw newline, so a line starting with `//` is always outside any string.
_COMMENT_LINE = re.compile(rb"^[ \t]*//[^\n]*", re.MULTILINE)

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
        where = self.path or "<input>"
        return f"{where}:{self.line}: {self.message}" if self.line else f"{where}: {self.message}"


Item = Record | BadLine
# A parsed JSON value, or the BadLine its text became, with its line when known.
_Value = tuple[Any, int | None]


EVENT_FILE_SUFFIXES = (".ndjson", ".jsonl", ".json", ".gz")


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


def read_file(path: str | Path) -> Iterator[Item]:
    """Documents of a file in any supported shape; raises OSError only if it cannot be opened."""
    name = str(path)
    with open(path, "rb") as raw:
        stream: IO[bytes] = raw
        if raw.peek(2)[:2] == GZIP_MAGIC:  # by content: names lie (.json.gz, .gz, .ndjson)
            stream = io.BufferedReader(gzip.GzipFile(fileobj=raw), 1 << 20)
        try:
            yield from _read_stream(stream, name)
        except (OSError, EOFError, zlib.error) as error:
            yield BadLine(name, None, f"cannot read the rest of the file: {error}")


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


def _read_stream(stream: IO[bytes], path: str) -> Iterator[Item]:
    """Decide the shape from the first meaningful line, then read accordingly."""
    lines = iter(stream)
    head: list[bytes] = []
    first = b""
    for raw in lines:
        if not head and raw.startswith(BOM):
            raw = raw[len(BOM) :]
        head.append(raw)
        first = raw.strip()
        if first and not first.startswith(b"//"):
            break
    if not first or first.startswith(b"//"):
        return  # empty, or only comments
    if first.startswith(b"{") and _parses(first):
        yield from _documents(_ndjson(chain(head, lines), path), path)
    elif first.startswith((b"[", b"{")):
        yield from _whole(b"".join(head) + stream.read(), path)
    else:
        yield from _documents(_ndjson(chain(head, lines), path), path)


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
    lines = data[:end].splitlines(keepends=True)
    items = list(_documents(_ndjson(lines, str(path), first_line), str(path)))
    return items, offset + end, first_line + len(lines)


def _ndjson(lines: Iterable[bytes], path: str, first_line: int = 1) -> Iterator[_Value]:
    for number, raw in enumerate(lines, first_line):
        text = raw.strip()
        if not text or text.startswith(b"//"):
            continue
        try:
            yield orjson.loads(text), number
        except orjson.JSONDecodeError as error:
            message = f"malformed JSON: {error.msg} at column {error.colno}"
            yield BadLine(path, number, message), None


def _whole(data: bytes, path: str) -> Iterator[Item]:
    """A file that is one JSON value (array, search response, pretty-printed document)."""
    try:
        value = orjson.loads(_COMMENT_LINE.sub(b"", data))
    except orjson.JSONDecodeError as error:
        if data.lstrip().startswith(b"{"):
            # NDJSON whose first line is broken: read it line by line if any line is good.
            items = list(_documents(_ndjson(data.splitlines(), path), path))
            if any(isinstance(item, Record) for item in items):
                yield from items
                return
        yield BadLine(path, error.lineno, f"malformed JSON: {error.msg} at column {error.colno}")
        return
    yield from _documents(_top_level(value), path)


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
) -> Iterator[Item]:
    """Records from parsed values: plain documents, hits, and bulk action/document pairs."""
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
