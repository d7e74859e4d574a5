"""The event store: ECS documents in one DuckDB table, one typed column per leaf field.

What the SQL compiler and the matcher rely on:

* table `events`: `_doc` (1-based ingest order, the implicit tiebreaker like ES `_shard_doc`),
  `_index`, `_id`, `_source` (the document as compact JSON), then one column per leaf field
  named by its dotted path, whatever the input's nesting (`{"process": {"name": …}}` and
  `{"process.name": …}` are the same column);
* column types from the index's explicit mapping if one was put, else the packaged ECS
  schema, else ES dynamic mapping; a field becomes a LIST column once it is multi-valued;
* `columns()` / `column()` / `has_field()` say what exists, aliases and multi-fields included.

Values are coerced as ES indexes them; what ES would reject is stored as NULL and counted in
the IngestReport with its file and line, so nothing is dropped silently.

This module runs the ingest (the general route, document by document, and the columnar route
of lanner.store.columnar); the parts it drives live beside it: lanner.store.flatten (leaf
paths), lanner.store.catalog (typing and columns), lanner.store.tables (the database's tables
and schema changes), lanner.store.batches (rows into the table), lanner.store.recall
(documents read back) and lanner.store.report (what an ingest tells).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import duckdb
import orjson

from lanner.cache import gc_paused
from lanner.eql.schema import FieldSchema
from lanner.store import columnar
from lanner.store.batches import Batch, insert, seal
from lanner.store.catalog import FieldCatalog, dynamic_type
from lanner.store.columns import Column, FieldSource, Physical, quote
from lanner.store.flatten import apply_null_values, flatten
from lanner.store.indices import INDEX_FIELDS, derive_index
from lanner.store.limits import printable
from lanner.store.mappings import FieldMapping, OutOfStoreRange, StoreError
from lanner.store.readers import (
    STDIN,
    STDIN_NAME,
    BadLine,
    Item,
    LineIndex,
    Record,
    read_bulk,
    read_file,
    read_lines,
    read_objects,
)
from lanner.store.recall import Document, DocumentReader, derived_id, ingest_id
from lanner.store.report import CoercionFailure, FieldFailures, IngestReport
from lanner.store.tables import (
    META_COLUMNS,
    PLACE_COLUMNS,
    apply_changes,
    create_tables,
    load_catalog,
    open_database,
    save_mapping,
)

__all__ = [
    "CoercionFailure",
    "Column",
    "Document",
    "EventStore",
    "FieldFailures",
    "IngestReport",
    "derived_id",
    "dynamic_type",
    "flatten",
    "quote",
]

# Rows per insert, and a cap on the batch's source bytes so wide documents stay in memory.
BATCH_ROWS = 20_000
BATCH_BYTES = 64 * 1024 * 1024
# Events between two calls of an ingest's progress callback.
PROGRESS_EVERY = 4096

# DuckDB compresses a table (in memory too) when it checkpoints. Its automatic checkpoint, at
# the 16 MiB default, recompresses the table's last row group over and over during an ingest
# (3x slower appends), so the store checkpoints itself after this many bytes of documents.
CHECKPOINT_BYTES = 512 * 1024 * 1024
AUTOMATIC_CHECKPOINT = "16GB"
# DuckDB's memory in a scratch store (EventStore.scratch): the rest of the events are on disk.
SCRATCH_MEMORY_LIMIT = 1024**3  # bytes
# What DuckDB's order-keeping insert reserves per column and thread before it lets a thread
# work (DuckDB PR 11655: 4 MiB). Under a limit too small for that reservation it inserts on
# one thread; what it really holds is far less (inserting 5M events: 1.7 GB at most).
INSERT_RESERVATION_BYTES = 4 * 1024 * 1024

# What the columnar route's one statement per file costs to plan grows with the fields it
# types, about 2 ms each (the 322 fields of all the corpus rules: 0.6 s a file, whatever its
# size), while the general ingest costs about as much per 32 KiB of documents: an input
# smaller than this per field read is read the general way (39 events, 322 fields: 0.07 s
# instead of 2 s for its five files).
SMALL_INPUT_BYTES_PER_FIELD = 32 * 1024

IngestProgress = Callable[[str | None, int], None]


class EventStore:
    """ECS events in DuckDB, in memory or in a database file that keeps them across opens."""

    def __init__(
        self,
        path: str | Path | None = None,
        *,
        schema: FieldSchema | None = None,
        batch_rows: int = BATCH_ROWS,
    ) -> None:
        self.path = str(path) if path is not None else None
        self.con = open_database(self.path)
        self._scratch: weakref.finalize | None = None  # the folder of a scratch store
        self._memory_limit: int | None = None  # DuckDB's in bytes, when the store sets one
        self.con.execute(f"SET checkpoint_threshold = '{AUTOMATIC_CHECKPOINT}'")
        self._unchecked_bytes = 0  # document bytes written since the last checkpoint
        self._catalog = FieldCatalog(schema or FieldSchema.default(),
                                     (*META_COLUMNS, *PLACE_COLUMNS))
        self._batch_rows = batch_rows
        self._index_names: tuple[str, ...] | None = None  # until an ingest changes them
        # (_index, _id) of the batch being built: a repeat means a delete after the insert.
        self._batch_ids: set[tuple[str, str]] = set()
        self._batch_duplicates = 0
        # hash((_index, _id)) of every document stored or being stored with an id, read once
        # when first asked (None until then, and again after a columnar load, which sets
        # indices in SQL): a superset that tells most new ids absent at once (see stored).
        self._stored_keys: set[int] | None = None
        # Stored documents read back; the files the columnar route's documents are told from.
        self._reader = DocumentReader(self._execute)
        self.general_files: list[tuple[str, str]] = []  # (file, why) read the general way
        self._digest: tuple[str, ...] | None = None  # the columnar route's (Shape.digest)
        self._open()

    # -- what the compiler asks ---------------------------------------------------------------

    def columns(self) -> dict[str, Column]:
        """Every field with values or a mapping: physical columns, then aliases/multi-fields."""
        return self._catalog.columns()

    def fields_in(self, indices: Iterable[str]) -> FieldSource:
        """The fields as a search over `indices` sees them, each typed as those indices
        type it (lanner.store.columns); the store itself while every index agrees."""
        if self._catalog.uniform():
            return self
        return self._catalog.scoped(self, indices)

    def column(self, name: str) -> Column | None:
        """One field's column (an alias resolves to its target's physical column), or None;
        a field that indices type differently is its first type's column here (see fields_in)."""
        return self._catalog.column(name)

    def has_field(self, name: str) -> bool:
        """Whether ES would find `name` in the mapping: seen or mapped, object parents too."""
        return self._catalog.has_field(name)

    def mapping(self, index: str) -> dict[str, FieldMapping] | None:
        """The explicit mapping put for `index`, flat; None when it has none."""
        return self._catalog.mappings.get(index)

    @property
    def next_doc(self) -> int:
        """The `_doc` number the next stored document gets: an ingest numbers its documents
        in order from it, so a caller can place what it stored."""
        return self._next_doc

    def index_names(self) -> tuple[str, ...]:
        """Every stored index name, sorted (read once after each ingest)."""
        if self._index_names is None:
            self._index_names = tuple(row[0] for row in self._execute(
                "SELECT DISTINCT _index FROM events ORDER BY _index").fetchall())
        return self._index_names

    def count(self) -> int:
        """Number of stored events."""
        return self.con.execute("SELECT count(*) FROM events").fetchone()[0]

    def documents(self, docs: Iterable[int]) -> dict[int, Document]:
        """The stored documents with these `_doc` numbers: what every backend returns, so that
        a document is told the same way whichever engine found it."""
        return self._reader.documents(docs)

    # -- loading --------------------------------------------------------------------------------

    def put_mapping(self, index: str, mapping: Mapping[str, Any]) -> None:
        """Give `index` an explicit ES mapping, for documents ingested into it from now on.

        Mapped leaf fields get their columns at once (ES knows a mapped field before any
        document has it); a second mapping for the same index is merged into the first.
        """
        parsed = self._catalog.put_mapping(index, mapping)
        save_mapping(self._execute, index, parsed)
        self._write_schema()

    def ingest(self, docs: Iterable[Any], index: str | None = None) -> IngestReport:
        """Store documents (dicts, or search hits with `_index`/`_id`/`_source`)."""
        return self._ingest([(None, read_objects(docs))], index)

    def bulk(self, operations: Iterable[Any], index: str | None = None) -> IngestReport:
        """Store elasticsearch-py bulk operations: `{"index": {"_index", "_id"}}`, doc, …."""
        return self._ingest([(None, read_bulk(operations, index))], None)

    def ingest_file(self, path: str | Path, index: str | None = None) -> IngestReport:
        """Store a file's events: NDJSON, JSON array, ES export or response, maybe gzipped."""
        return self.ingest_files([path], index)

    def ingest_files(self, paths: Iterable[str | Path], index: str | None = None, *,
                     progress: IngestProgress | None = None,
                     fields: Iterable[str] | None = None) -> IngestReport:
        """Store several files as one stream: batches span files, so that writing overlaps
        reading even when every file is small. An unreadable file fails before any is read;
        `-` is standard input.

        `progress(file, events)` hears of the file being read and the events read so far, at
        each file's start and every few thousand events.

        `fields`: only these fields will be asked for (a hunt's rules and exceptions). An
        empty in-memory or scratch store then reads plain NDJSON files the columnar way (see
        lanner.store.columnar), many times faster, and refuses to answer for other fields.
        """
        names = [str(path) for path in paths]
        for name in names:
            if name != STDIN and (not os.path.isfile(name) or not os.access(name, os.R_OK)):
                raise StoreError(f"cannot read {printable(name)}: not a readable file")
        try:
            if fields is not None and self._columnar_ready():
                return self._ingest_columnar(names, index, fields, progress)
            return self._ingest([(STDIN_NAME if name == STDIN else name, read_file(name))
                                 for name in names], index, progress)
        except OSError as error:
            name = printable(str(error.filename))
            raise StoreError(f"cannot read {name}: {error.strerror}") from None

    @classmethod
    def scratch(cls, *, memory_limit: int = SCRATCH_MEMORY_LIMIT,
                schema: FieldSchema | None = None) -> EventStore:
        """An empty store in a temporary database file, deleted when the store is closed or
        the process ends: what a hunt over more input than memory uses. DuckDB keeps at most
        `memory_limit` of it in memory (more while a file is inserted: _parallel_insert),
        writing the rest to the file (or spilling to the folder beside it)."""
        folder = tempfile.mkdtemp(prefix="lanner-store-")
        try:
            store = cls(os.path.join(folder, "events.duckdb"), schema=schema)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        store._scratch = weakref.finalize(store, shutil.rmtree, folder, ignore_errors=True)
        store._memory_limit = memory_limit
        store._execute(f"SET memory_limit = '{memory_limit}B'")
        store._execute(f"SET temp_directory = '{os.path.join(folder, 'spill')}'")
        return store

    @contextlib.contextmanager
    def _parallel_insert(self) -> Iterator[None]:
        """Room for DuckDB to insert a file on every thread in a store with a memory limit.
        Measured on 1M events (2 threads, 330 columns): 33 s of inserting on one thread under
        the scratch store's 1 GB become 20 s, the process's peak memory 1.04 -> 1.10 GB."""
        if self._memory_limit is None:
            yield
            return
        threads = self.con.execute("SELECT current_setting('threads')").fetchone()[0]
        columns = self._catalog.column_count() + len(META_COLUMNS) + len(PLACE_COLUMNS)
        room = 2 * INSERT_RESERVATION_BYTES * columns * threads
        self._execute(f"SET memory_limit = '{max(room, self._memory_limit)}B'")
        try:
            yield
        finally:
            self._execute(f"SET memory_limit = '{self._memory_limit}B'")

    def _columnar_ready(self) -> bool:
        """Empty, no mapping (ECS types everything), and living no longer than the files it
        reads (they are read again when documents are fetched): in memory, or a scratch
        store, whose database file is deleted with it."""
        return ((self.path is None or self._scratch is not None) and not self._catalog.mappings
                and not self._has_rows)

    def _ingest_columnar(self, names: list[str], index: str | None, fields: Iterable[str],
                         progress: IngestProgress | None) -> IngestReport:
        """Each file the columnar way when it can be, else the general way, in order; a
        small input all the general way, in one stream."""
        fields = set(fields)
        wanted = columnar.needed_fields(fields)
        self._catalog.loaded = frozenset({*fields, *wanted})
        self._stored_keys = None  # read again when next asked: indices are set in SQL
        if _small_input(names, len(wanted)):
            why = f"a small input: cheaper than typing {len(wanted)} fields in SQL"
            self.general_files.extend((name, why) for name in names)
            report = self._ingest([(name, read_file(name)) for name in names], index, progress)
            if progress:
                progress(None, report.events)
            return report
        report = IngestReport()
        made: set[str] = set()  # columns made before their values were seen
        try:
            for name in names:
                if progress:
                    progress(STDIN_NAME if name == STDIN else name, report.events)
                try:
                    if name == STDIN or not columnar.plain_ndjson(name):
                        raise columnar.NotColumnar("not plain NDJSON")
                    report += self._load_columnar(name, index, wanted, made)
                except columnar.NotColumnar as why:
                    self.general_files.append((name, str(why)))
                    report += self._ingest([(STDIN_NAME if name == STDIN else name,
                                             read_file(name))], index)
        finally:
            self._index_names = None
            self._drop_empty(made)
        if progress:
            progress(None, report.events)
        return report

    def _load_columnar(self, path: str, index: str | None, wanted: tuple[str, ...],
                       made: set[str]) -> IngestReport:
        """One plain NDJSON file, in memory chunk by chunk so that a refusal costs one chunk
        and a checkpoint compresses each (on disk whole): read and typed by DuckDB in one
        statement, the odd documents through the general row code. `_doc` numbers keep file
        order (a skipped line leaves a gap); a file that turns out not to be columnar after
        all leaves no row behind."""
        shape = columnar.Shape(wanted)
        shape.see((*INDEX_FIELDS, "@timestamp", *(self._digest or ())))
        columnar.sample(path, shape)
        if self._digest is None:
            self._digest = shape.stored()
        shape.digest = self._digest
        file = len(self._reader.files)
        self._reader.files.append(LineIndex(path, background=True))
        base = self._next_doc
        report = IngestReport(files=[path])
        first = 0  # ordinal of the chunk's first document in the file
        try:
            whole = self._scratch is not None  # on disk: see columnar.chunks
            with columnar.chunks(path, None if whole else columnar.CHUNK_BYTES) as parts:
                for part in parts:
                    read, part_report = self._load_chunk(part, path, index, shape, file,
                                                         base + first, first, made)
                    report += part_report
                    first += read
                    self._unchecked_bytes += os.path.getsize(part)
                    if self._unchecked_bytes >= CHECKPOINT_BYTES:
                        self._execute("CHECKPOINT")  # compressed, the rows take far less room
                        self._unchecked_bytes = 0
        except columnar.NotColumnar:
            self._execute("DELETE FROM events WHERE _file = ?", [file])
            self._next_doc = base
            raise
        self._next_doc = base + first
        return report

    def _load_chunk(self, part: str, path: str, index: str | None,
                    shape: columnar.Shape, file: int, base: int, first: int,
                    made: set[str]) -> tuple[int, IngestReport]:
        """One chunk of a file: (documents read, what was stored). Its documents are stored
        in one statement, the odd ones as placeholders, which are then replaced by what the
        general row code makes of them; past UNSEEN_DOCUMENTS of them holding fields the
        sample never showed, the chunk is read again with every field."""
        for _ in range(columnar.MAX_ATTEMPTS):
            typed = self._typed_columns(shape, made)
            targets = {quote(column.physical): field.value
                       for column, field in typed if column is not None}
            try:
                with self._parallel_insert():
                    self.con.execute(columnar.insert_sql(part, shape,
                                                         [field for _, field in typed],
                                                         targets, file))
                break
            except duckdb.Error as error:  # the statement stored nothing
                columnar.refused(error, part, shape)
        else:
            raise columnar.NotColumnar("DuckDB refused it after learning its shapes")
        new = "_file = ? AND _line IS NULL"  # the rows just stored
        start, end = self._execute(f"SELECT min(rowid), max(rowid) FROM events WHERE {new}",
                                   [file]).fetchone()
        if start is None:
            return 0, IngestReport()
        odd_rows = self._execute(
            f"SELECT rowid - ?, _hash, _doc FROM events WHERE {new} AND _doc < 0 "
            "ORDER BY rowid", [start, file]).fetchall()
        unseen = sum(1 for *_, doc in odd_rows if doc == columnar.UNSEEN_DOC)
        if unseen > columnar.UNSEEN_DOCUMENTS and not shape.everything:
            self._execute(f"DELETE FROM events WHERE {new}", [file])
            shape.everything = True
            return self._load_chunk(part, path, index, shape, file, base, first, made)
        if odd_rows:
            self._execute(f"DELETE FROM events WHERE {new} AND _doc < 0", [file])
        report = IngestReport()
        report.events, report.without_index = self._number_and_index(file, start, base,
                                                                     first, index)
        self._has_rows = self._has_rows or report.events > 0
        if odd_rows:
            report += self._ingest_odd(path, index, file, base, first,
                                       [(ordinal, digest) for ordinal, digest, _ in odd_rows])
        return end - start + 1, report

    def _typed_columns(self, shape: columnar.Shape,
                       made: set[str]) -> list[tuple[Physical | None, columnar.Typed]]:
        """The SQL typing of every field, with its column, made now if missing (those still
        empty at the end are dropped: a column exists only where a value does, as with the
        general ingest); None for a field typed by its first value, which the general row
        code does. A field is a list if the schema says so, its column is one, or a
        document read so far held several values."""
        found = []
        for name in shape.stored():
            existing = self._catalog.first.get(name)
            es_type = existing.es_type if existing else self._catalog.schema.type_of(name)
            is_list = (self._catalog.schema.is_array(name) or name in shape.lists
                       or (existing is not None and existing.is_list))
            field_typed = columnar.typed(name, es_type, is_list)
            if field_typed.value == "NULL":
                found.append((None, field_typed))
                continue
            if existing is None:
                existing = self._catalog.add_column(name, field_typed.es_type, is_list)
                made.add(name)
            elif is_list and not existing.is_list:
                self._catalog.make_list(existing)
            found.append((existing, field_typed))
        self._write_schema()
        return found

    def _number_and_index(self, file: int, start: int, base: int, first: int,
                          index: str | None) -> tuple[int, int]:
        """Give the rows just stored their `_doc`, `_line` and `_index`: positions from row
        ids (rows are stored in file order), the index of each combination of the index
        fields' values from derive_index, once per combination; (rows, rows without index)."""
        new = "e._file = ? AND e._line IS NULL"
        numbers = "_doc = e.rowid + ?, _line = e.rowid + ?"
        keys = [self._catalog.first[name] for name in INDEX_FIELDS if name in self._catalog.first]
        if index is not None or not keys:
            told = index if index is not None else columnar.derived_index(
                (None,) * len(INDEX_FIELDS))
            self._execute(f"UPDATE events e SET {numbers}, _index = ? WHERE {new}",
                          [base - start, first - start, told, file])
        else:
            selected = ", ".join(f"e.{quote(column.physical)}" for column in keys)
            combinations = self._execute(f"SELECT DISTINCT {selected} FROM events e "
                                         f"WHERE {new}", [file]).fetchall()
            names = [column.name for column in keys]
            rows = []
            for values in combinations:
                named = dict(zip(names, values, strict=True))
                rows.append((*values, columnar.derived_index(
                    tuple(named.get(name) for name in INDEX_FIELDS))))
            self._execute(f"CREATE OR REPLACE TEMP TABLE _lanner_index AS SELECT {selected}, "
                          "CAST(NULL AS VARCHAR) AS _index FROM events e LIMIT 0")
            marks = ", ".join(["?"] * (len(keys) + 1))
            if rows:  # none when every row just stored was odd and is gone again
                self.con.executemany(f"INSERT INTO _lanner_index VALUES ({marks})", rows)
            same = " AND ".join(f"e.{quote(column.physical)} IS NOT DISTINCT FROM "
                                f"i.{quote(column.physical)}" for column in keys)
            self._execute(f"UPDATE events e SET {numbers}, _index = i._index "
                          f"FROM _lanner_index i WHERE {new} AND {same}",
                          [base - start, first - start, file])
            self._execute("DROP TABLE _lanner_index")
        return self._execute(
            "SELECT count(*), count(*) FILTER (WHERE _index = '') FROM events "
            "WHERE _file = ? AND _line >= ?", [file, first]).fetchone()

    def _drop_empty(self, made: set[str]) -> None:
        """Drop the columns made ahead of their values that no document gave a value."""
        if not made:
            return
        names = sorted(made)
        counts = self._execute("SELECT " + ", ".join(
            f"count({quote(self._catalog.first[name].physical)})" for name in names)
            + " FROM events").fetchone()
        empty = [name for name, count in zip(names, counts, strict=True) if not count]
        for name in empty:
            physical = self._catalog.first[name].physical
            self._execute(f"ALTER TABLE events DROP COLUMN {quote(physical)}")
        self._catalog.drop(empty)
        if empty:
            marks = ", ".join(["?"] * len(empty))
            self._execute(f"DELETE FROM _lanner_columns WHERE name IN ({marks})", empty)

    def _ingest_odd(self, path: str, index: str | None, file: int, base: int, first: int,
                    odd_rows: list[tuple[int, int]]) -> IngestReport:
        """Documents with a value SQL does not type: the general row code, whole documents,
        their lines read again through the file's line index (they are few, but may be
        anywhere: reading the file up to the last one took 2.8 s for 185 documents of 1M)."""
        report = IngestReport()
        hashes = dict(odd_rows)
        found = list(self._reader.line_index(file).lines(first + ordinal for ordinal in hashes))
        numbered = {number: ordinal - first for ordinal, number, _ in found}
        rows, sources = [], []
        for item in read_lines(((number, text) for _, number, text in found), path):
            if isinstance(item, BadLine):
                report.bad_lines.append(item)
                continue
            ordinal = numbered[item.line]
            row = self._row(item, path, index, report, {}, derive=False)
            row.update(_doc=base + ordinal, _file=file, _line=first + ordinal,
                       _hash=hashes[ordinal])
            rows.append(row)
            sources.append(orjson.dumps(item.source))
        if rows:
            self._write(self._seal(rows, sources, report))
        return report

    def ingest_items(self, items: Iterable[Item], path: str | None = None,
                     index: str | None = None, *, replaces: bool = True) -> IngestReport:
        """Store documents already read (lanner.store.readers items) from `path`.
        `replaces=False`: the caller checked (with `stored`) that no item's (_index, _id) is
        stored or repeated among the items, so no batch looks for documents to replace."""
        return self._ingest([(path, items)], index, replaces=replaces)

    def stored(self, keys: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
        """Of these (_index, _id), those a stored document has.

        The keys kept in memory rule out almost every new id at once; only the rest are
        looked up, so a bulk request of new documents costs the same however many the store
        holds (a lookup scans the `_id` column: 50 ms at 200,000 events, measured).
        """
        known = self._known_keys()
        maybe = {key for key in keys if hash(key) in known}
        if not maybe:
            return set()
        rows = self._execute("SELECT DISTINCT _index, _id FROM events "
                             "WHERE _id IN (SELECT unnest(?))",
                             [sorted({doc_id for _, doc_id in maybe})]).fetchall()
        return {(index, doc_id) for index, doc_id in rows if (index, doc_id) in maybe}

    def _known_keys(self) -> set[int]:
        if self._stored_keys is None:
            self._stored_keys = {hash(row) for row in self._execute(
                "SELECT _index, _id FROM events WHERE _id IS NOT NULL").fetchall()}
        return self._stored_keys
    def close(self) -> None:
        self.con.close()
        if self._scratch is not None:
            self._scratch()  # the temporary database goes with the store

    def __enter__(self) -> EventStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- the ingest pipeline -------------------------------------------------------------------

    def _ingest(
        self, inputs: Iterable[tuple[str | None, Iterable[Item]]], index: str | None,
        progress: IngestProgress | None = None, *, replaces: bool = True,
    ) -> IngestReport:
        """Turn documents into rows here while a writer thread inserts the previous batch.

        `inputs`: (file path or None, its items), in order. DuckDB releases the GIL while it
        reads and inserts, so the two overlap; every database statement of an ingest runs on
        the writer, in order (schema changes too). `replaces`: see ingest_items.
        """
        report = IngestReport()
        rows: list[dict[str, Any]] = []
        sources: list[bytes] = []
        size = 0
        occurrences: dict[bytes, int] = {}  # derived ids of this call, for identical documents
        writing: Future[int] | None = None
        try:  # JSON documents and rows: no reference cycles for the GC to look for
            with (gc_paused(kept=False),
                  ThreadPoolExecutor(1, thread_name_prefix="lanner-store") as writer):
                for path, items in inputs:
                    if path is not None:
                        report.files.append(path)
                    if progress:
                        progress(path, report.events + len(rows))
                    for item in items:
                        if isinstance(item, BadLine):
                            report.bad_lines.append(item)
                            continue
                        if progress and not len(rows) % PROGRESS_EVERY:
                            progress(path, report.events + len(rows))
                        source = orjson.dumps(item.source)
                        rows.append(self._row(item, path, index, report, occurrences))
                        sources.append(source)
                        size += len(source)
                        if len(rows) >= self._batch_rows or size >= BATCH_BYTES:
                            batch = self._seal(rows, sources, report, replaces)
                            if writing is not None:  # one batch in flight: bounded memory
                                report.replaced += writing.result()
                            writing = writer.submit(self._write, batch)
                            rows, sources, size = [], [], 0
                if writing is not None:
                    report.replaced += writing.result()
                if rows:
                    report.replaced += self._write(self._seal(rows, sources, report, replaces))
        finally:
            self._index_names = None
            # After a failure, the columns of rows never written still exist in the table.
            self._write_schema()
        return report

    def _row(
        self,
        record: Record,
        path: str | None,
        default_index: str | None,
        report: IngestReport,
        occurrences: dict[bytes, int],
        *,
        derive: bool = True,
    ) -> dict[str, Any]:
        """One document as a row: metadata plus every leaf coerced into its column. `derive`:
        give an id-less document its derived id now (else it is told when fetched)."""
        flat = flatten(record.source)
        index = record.index or default_index or derive_index(flat.get)
        if not index:
            report.without_index += 1
            index = ""
        doc_id = record.id
        if doc_id is None and derive:
            doc_id = ingest_id(index, record, occurrences)
        if doc_id is not None:
            key = (index, doc_id)
            if key in self._batch_ids:
                self._batch_duplicates += 1
            else:
                self._batch_ids.add(key)
        row: dict[str, Any] = {"_doc": self._next_doc, "_index": index, "_id": doc_id}
        self._next_doc += 1
        catalog = self._catalog
        plan = catalog.plan(index)
        if plan.null_values:
            apply_null_values(flat, plan.null_values)
        targets = plan.targets
        loaded = catalog.loaded
        for name, value in flat.items():
            if loaded is not None and name not in loaded:
                continue
            target = targets.get(name)
            if target is None:
                if value is None:
                    continue
                target = catalog.resolve(plan, name, value)
                if target is None:
                    continue  # only nulls so far: nothing to type the field by
            kind = type(value)
            if kind is str and target.verbatim:
                row[target.physical] = value
                continue
            if value is None:
                continue
            column = target.column
            try:
                if column is None:
                    target.coerce(value)  # a path that holds no values: always raises
                elif kind is list:
                    coerce = target.coerce
                    value = [None if element is None else coerce(element) for element in value]
                    if not column.is_list:
                        catalog.make_list(column)
                else:
                    value = target.coerce(value)
            except ValueError as error:
                report.add_failure(
                    name,
                    target.es_type,
                    CoercionFailure(path, record.line, record.item, value, str(error),
                                    isinstance(error, OutOfStoreRange)),
                )
                continue
            row[target.physical] = value
        return row

    def _seal(
        self, rows: list[dict[str, Any]], sources: list[bytes], report: IngestReport,
        may_replace: bool = True,
    ) -> Batch:
        """Freeze a batch for the writer: its schema changes and the column types it needs."""
        report.events += len(rows)
        replaces = (may_replace and self._has_rows) or self._batch_duplicates > 0
        if self._stored_keys is not None:
            self._stored_keys.update(hash((row["_index"], row["_id"])) for row in rows
                                     if row["_id"] is not None)
        batch = seal(rows, sources, self._catalog.physicals(), self._catalog.take_changes(),
                     replaces)
        self._has_rows = True
        self._batch_ids.clear()
        self._batch_duplicates = 0
        return batch

    def _write(self, batch: Batch) -> int:
        """Insert a sealed batch (on the writer thread); returns the documents it replaced."""
        replaced = insert(self._execute, self.con, batch)
        self._unchecked_bytes += sum(map(len, batch.sources))
        if self._unchecked_bytes >= CHECKPOINT_BYTES:
            self._execute("CHECKPOINT")  # compressed, the events take about a quarter
            self._unchecked_bytes = 0
        return replaced

    def _write_schema(self) -> None:
        """Apply pending schema changes now (outside an ingest, e.g. after put_mapping)."""
        apply_changes(self._execute, self._catalog.take_changes())

    # -- the database -------------------------------------------------------------------------

    def _execute(self, sql: str, parameters: Any = None) -> duckdb.DuckDBPyConnection:
        try:
            return self.con.execute(sql, parameters)
        except duckdb.Error as error:
            raise StoreError(f"event store: {error}\n  while running: {sql}") from None

    def _open(self) -> None:
        """Create the tables, or load the column and mapping metadata of an existing store."""
        create_tables(self._execute)
        load_catalog(self._execute, self._catalog)
        last = self._execute("SELECT max(_doc) FROM events").fetchone()[0]
        self._next_doc = (last or 0) + 1
        self._has_rows = last is not None


def _small_input(names: list[str], fields: int) -> bool:
    """Whether files (standard input never: its size is unknown) are small enough for the
    general ingest to cost less than the columnar route's planning (see above)."""
    if STDIN in names:
        return False
    return sum(os.path.getsize(name) for name in names) < fields * SMALL_INPUT_BYTES_PER_FIELD
