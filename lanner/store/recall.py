"""Stored documents read back as a response shows them, and the ids of documents that came
without one.

A document the columnar route read keeps only its place (`_file`, `_line`) and a hash of its
fields: its `_source` is read again from the file and its `_id` derived when it is fetched,
exactly as the general ingest would have derived it at once.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Iterable
from typing import Any

import duckdb
import orjson

from lanner.cache import gc_paused
from lanner.store.readers import LineIndex, Record

# `_doc` numbers per query when documents are fetched.
DOCUMENT_CHUNK = 10_000


class Document:
    """A stored event as a response shows it: `source` is the document as JSON text.

    `parsed` is that document parsed, when reading it from its file parsed it anyway: shared
    by whoever fetched it, so never changed in place. The text is then made from it only when
    asked for (a hunt's alerts take the parse: 50,000 documents, 0.15 s saved)."""

    __slots__ = ("_source", "id", "index", "parsed")

    def __init__(self, index: str, id: str, source: str | None, parsed: Any = None) -> None:
        if source is None and parsed is None:
            raise ValueError("a document needs its text or its parse")
        self.index = index
        self.id = id
        self.parsed = parsed
        self._source = source

    @property
    def source(self) -> str:
        if self._source is None:
            self._source = orjson.dumps(self.parsed).decode()
        return self._source

    def _key(self) -> tuple[str, str, str]:
        return self.index, self.id, self.source

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Document) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return f"Document(index={self.index!r}, id={self.id!r}, source={self.source!r})"


class DocumentReader:
    """Fetches stored documents, telling those the columnar route read from their files."""

    def __init__(self, execute: Callable[..., duckdb.DuckDBPyConnection]) -> None:
        self._execute = execute
        self.files: list[LineIndex | str] = []  # what `_file` numbers
        self._told_ids: dict[int, str] = {}

    @gc_paused(kept=False)
    def documents(self, docs: Iterable[int]) -> dict[int, Document]:
        """The stored documents with these `_doc` numbers. The cyclic GC is paused: the
        parsed JSON kept for tens of thousands of documents holds no cycle, and collections
        set off by allocating it would walk it again and again (4x the parse time). A caller
        that keeps them (a detection round) pauses it for longer (gc_paused `kept`)."""
        wanted = sorted(set(docs))
        found: dict[int, Document] = {}
        for start in range(0, len(wanted), DOCUMENT_CHUNK):
            # A semi join with the numbers as one array parameter: an IN list of 10,000
            # literals took 8x longer to parse and plan than the join took to run.
            rows = self._execute(
                "SELECT e._doc, e._index, e._id, e._source, e._file, e._line, e._hash "
                "FROM events e SEMI JOIN (SELECT unnest(?::BIGINT[]) AS doc) w ON e._doc = w.doc",
                [wanted[start:start + DOCUMENT_CHUNK]],
            ).fetchall()
            told = self._tell([row for row in rows if row[3] is None or row[2] is None])
            for doc, index, doc_id, source, *_ in rows:
                parsed = None
                if source is None:
                    source, _, parsed = told[doc]
                doc_id = doc_id if doc_id is not None else told[doc][1]
                found[doc] = Document(index, doc_id, source, parsed)
        return found

    def _tell(self, rows: list[tuple[Any, ...]]) -> dict[int, tuple[str | None, str, Any]]:
        """`_source` (as stored text, or parsed when read from the file) and `_id` of
        documents the columnar route read: the source from the file, the id derived as the
        general ingest derives it (the n-th identical copy counted among the earlier
        documents with the same index and field hash)."""
        sources = self._sources_of([(row[0], row[3], row[4], row[5]) for row in rows])
        unknown = [row for row in rows if row[2] is None and row[0] not in self._told_ids]
        earlier = self._earlier_copies(unknown)
        copies = self._sources_of(copy for found in earlier.values() for copy in found)
        told: dict[int, tuple[str | None, str, Any]] = {}
        for doc, index, doc_id, _, _, _, _ in rows:
            text, parsed = sources[doc]
            if doc_id is None:
                doc_id = self._told_ids.get(doc)
            if doc_id is None:
                mine = _canonical(text, parsed)
                seen = sum(1 for copy, *_ in earlier.get(doc, ())
                           if _canonical(*copies[copy]) == mine)
                doc_id = self._told_ids[doc] = derived_id(index, mine, seen)
            told[doc] = (text, doc_id, parsed)
        return told

    def _earlier_copies(self, rows: list[tuple[Any, ...]]
                        ) -> dict[int, list[tuple[int, str | None, int | None, int | None]]]:
        """Per document row, the earlier documents with its index and field hash and no given
        id, as (doc, stored source, file, line): one join for all of them, not one scan each."""
        if not rows:
            return {}
        found = self._execute(
            "SELECT w.doc, e._doc, e._source, e._file, e._line FROM (SELECT "
            "unnest(?::BIGINT[]) AS doc, unnest(?::VARCHAR[]) AS idx, unnest(?::BIGINT[]) AS h) w "
            "JOIN events e ON e._index = w.idx AND e._hash = w.h AND e._doc < w.doc "
            "AND e._id IS NULL",
            [[row[0] for row in rows], [row[1] for row in rows], [row[6] for row in rows]],
        ).fetchall()
        earlier: dict[int, list[tuple[int, str | None, int | None, int | None]]] = {}
        for doc, *copy in found:
            earlier.setdefault(doc, []).append((copy[0], copy[1], copy[2], copy[3]))
        return earlier

    def _sources_of(self, rows: Iterable[tuple[int, str | None, int | None, int | None]]
                    ) -> dict[int, tuple[str | None, Any]]:
        """`_source` of (doc, stored source, file, line) rows: (text, None) when stored,
        (None, parsed) when read from the file (parsed once, for the id and the alert)."""
        found: dict[int, tuple[str | None, Any]] = {}
        wanted: dict[int, dict[int, int]] = {}  # file -> line ordinal -> doc
        for doc, source, file, line in rows:
            if source is not None:
                found[doc] = (source, None)
            else:
                wanted.setdefault(file, {})[line] = doc
        for file, lines in wanted.items():
            for ordinal, _, text in self.line_index(file).lines(lines):
                found[lines[ordinal]] = (None, orjson.loads(text))
        return found

    def line_index(self, file: int) -> LineIndex:
        """The line index of a file the columnar route read (built when first asked, for a
        store opened again)."""
        index = self.files[file]
        if isinstance(index, str):
            index = self.files[file] = LineIndex(index)
        return index


def ingest_id(index: str, record: Record, occurrences: dict[bytes, int]) -> str:
    """A stable id for a document without one: the same document in the same index gets the
    same id on every ingest; the n-th identical copy within one ingest gets its own."""
    canonical = orjson.dumps(record.source, option=orjson.OPT_SORT_KEYS)
    key = hashlib.sha1(index.encode() + b"\n" + canonical).digest()
    seen = occurrences.get(key, 0)
    occurrences[key] = seen + 1
    return derived_id(index, canonical, seen)


def derived_id(index: str, canonical: bytes, seen: int) -> str:
    """The id of a document in `index` whose sorted-key JSON is `canonical`, after `seen`
    identical copies of it in the same ingest."""
    digest = hashlib.sha1(index.encode() + b"\n" + canonical).digest()
    if seen:
        digest = hashlib.sha1(digest + b"#%d" % seen).digest()
    return base64.urlsafe_b64encode(digest).decode()[:20]


def _canonical(text: str | None, parsed: Any) -> bytes:
    """Sorted-key JSON of a source, from its parsed form when there is one."""
    return orjson.dumps(orjson.loads(text) if parsed is None else parsed,
                        option=orjson.OPT_SORT_KEYS)
