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
"""

from __future__ import annotations

import base64
import contextlib
import gc
import hashlib
import os
import shutil
import tempfile
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, NamedTuple

import duckdb
import orjson

from lanner.eql.schema import FieldSchema
from lanner.store import columnar
from lanner.store.columns import Column, FieldSource, Physical, ScopedFields, quote, same_storage
from lanner.store.indices import INDEX_FIELDS, derive_index
from lanner.store.limits import printable
from lanner.store.mappings import (
    DUCKDB_TYPES,
    OBJECT_TYPES,
    VERBATIM_STRING_TYPES,
    Coercer,
    FieldMapping,
    OutOfStoreRange,
    StoreError,
    ancestors,
    coercer,
    duckdb_type,
    parse_mapping,
)
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

# Rows per insert, and a cap on the batch's source bytes so wide documents stay in memory.
BATCH_ROWS = 20_000
BATCH_BYTES = 64 * 1024 * 1024
# Events between two calls of an ingest's progress callback.
PROGRESS_EVERY = 4096
# `_doc` numbers per query when documents are fetched.
DOCUMENT_CHUNK = 10_000
# Example failures kept per field in a report (the counts are always complete).
MAX_EXAMPLES = 5

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

IngestProgress = Callable[[str | None, int], None]

META_COLUMNS = {"_doc": "BIGINT", "_index": "VARCHAR", "_id": "VARCHAR", "_source": "VARCHAR"}
# Where a document read by the columnar route is (its `_source` and `_id` are told from the
# file when fetched), and a hash of its fields, so that identical copies are found fast.
PLACE_COLUMNS = {"_file": "INTEGER", "_line": "BIGINT", "_hash": "BIGINT"}
_DATE_TYPES = frozenset({"date", "date_nanos"})


class Document(NamedTuple):
    """A stored event as a response shows it."""

    index: str
    id: str
    source: str  # the document as JSON text


class CoercionFailure(NamedTuple):
    """A value ES would not index as its field's type; stored as NULL."""

    path: str | None
    line: int | None
    item: int
    value: Any
    message: str
    store_limit: bool = False  # Elasticsearch indexes it; only the store cannot hold it

    def __str__(self) -> str:
        where = f":{self.line}" if self.line else f" (document {self.item})"
        return f"{self.path or '<input>'}{where}: {self.message}"


@dataclass(slots=True)
class FieldFailures:
    """Every coercion failure of one field: the exact count and the first few examples."""

    es_type: str
    count: int = 0
    examples: list[CoercionFailure] = field(default_factory=list)


@dataclass(slots=True)
class IngestReport:
    """What one ingest did: counts, and every problem with where it happened."""

    events: int = 0
    bad_lines: list[BadLine] = field(default_factory=list)
    coercions: dict[str, FieldFailures] = field(default_factory=dict)
    without_index: int = 0
    replaced: int = 0  # stored documents replaced by one with the same _index and _id
    files: list[str] = field(default_factory=list)

    @property
    def coercion_failures(self) -> int:
        """Values stored as NULL because ES would not index them as their field's type."""
        return sum(failures.count for failures in self.coercions.values())

    def __add__(self, other: IngestReport) -> IngestReport:
        coercions = {
            name: replace(failures, examples=list(failures.examples))
            for name, failures in self.coercions.items()
        }
        for name, theirs in other.coercions.items():
            mine = coercions.setdefault(name, FieldFailures(theirs.es_type))
            mine.count += theirs.count
            mine.examples = (mine.examples + theirs.examples)[:MAX_EXAMPLES]
        return IngestReport(
            events=self.events + other.events,
            bad_lines=self.bad_lines + other.bad_lines,
            coercions=coercions,
            without_index=self.without_index + other.without_index,
            replaced=self.replaced + other.replaced,
            files=self.files + other.files,
        )

    def add_failure(self, field_name: str, es_type: str, failure: CoercionFailure) -> None:
        """Count one coercion failure of a field, keeping the first few as examples."""
        failures = self.coercions.get(field_name)
        if failures is None:
            failures = self.coercions[field_name] = FieldFailures(es_type)
        failures.count += 1
        if len(failures.examples) < MAX_EXAMPLES:
            failures.examples.append(failure)


# A file of one `_source` per line, each line one VARCHAR: orjson escapes every control
# character, so \x01 never occurs as a delimiter and no quoting is needed.
_RAW_LINES = (
    "read_csv(?, columns = {'_source': 'VARCHAR'}, delim = '\x01', quote = '', escape = '', "
    "header = false, auto_detect = false, max_line_size = BOUND)"
)
# The smallest bound on a line or row DuckDB's readers are given: they hold buffers of about
# that size, so a batch's bound follows its longest document rather than a fixed 1 GB (which
# a store with a memory limit cannot allocate).
MIN_READ_BOUND = 16 * 1024 * 1024


@dataclass(slots=True)
class _Batch:
    """Rows ready for the writer, with the schema changes that must run before them."""

    rows: list[dict[str, Any]]
    sources: list[bytes]
    ddl: list[str]
    metadata: _Metadata
    json_types: dict[str, str]
    selects: list[str]
    names: list[str]
    replaces: bool  # whether stored (or earlier) documents may share an _index and _id


class _Target:
    """How one index stores one field path: the column (None: never) and the coercion.

    `verbatim`: strings go in unchanged (keyword-like types), the ingest loop's fast path.
    """

    __slots__ = ("coerce", "column", "es_type", "physical", "verbatim")

    def __init__(self, column: Physical | None, coerce: Coercer, es_type: str) -> None:
        self.column = column
        self.coerce = coerce
        self.es_type = es_type
        self.physical = column.physical if column is not None else ""
        self.verbatim = column is not None and column.es_type in VERBATIM_STRING_TYPES


@dataclass(slots=True)
class _Metadata:
    """Rows for the store's own tables, written with the schema changes they describe."""

    columns: list[tuple[Any, ...]] = field(default_factory=list)  # _lanner_columns
    typing: list[tuple[Any, ...]] = field(default_factory=list)  # _lanner_typing


@dataclass(slots=True)
class _IndexPlan:
    """Per index: the explicit mapping, its null_values, and resolved targets by path."""

    index: str
    mapping: dict[str, FieldMapping] | None
    null_values: dict[str, Any]
    targets: dict[str, _Target] = field(default_factory=dict)


class _Refusal:
    """A coercer for paths that hold no values in this index (aliases, objects)."""

    __slots__ = ("message",)

    def __init__(self, message: str) -> None:
        self.message = message

    def __call__(self, value: Any) -> Any:
        raise ValueError(self.message)


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
        self._schema = schema or FieldSchema.default()
        self._batch_rows = batch_rows
        self._columns: dict[str, Physical] = {}  # each field's first column
        # The columns of a field beside its first, one per other type some index gives it,
        # and per index the column holding its values of each field it typed.
        self._alternates: dict[tuple[str, str], Physical] = {}
        self._index_columns: dict[str, dict[str, Physical]] = {}
        self._unsaved_typing: set[tuple[str, str]] = set()  # (index, field) not written yet
        self._taken: set[str] = {name.lower() for name in (*META_COLUMNS, *PLACE_COLUMNS)}
        self._mappings: dict[str, dict[str, FieldMapping]] = {}
        self._fields: set[str] = set()
        self._plans: dict[str, _IndexPlan] = {}
        self._unsaved: set[str] = set()  # columns whose metadata is not written yet
        self._index_names: tuple[str, ...] | None = None  # until an ingest changes them
        self._ddl: list[str] = []  # schema changes not run yet: the writer runs them in order
        # (_index, _id) of the batch being built: a repeat means a delete after the insert.
        self._batch_ids: set[tuple[str, str]] = set()
        self._batch_duplicates = 0
        # The columnar route: the fields it read (None: every field is stored), the files its
        # documents are told from, and those ids already told.
        self._loaded: frozenset[str] | None = None
        self._files: list[LineIndex | str] = []
        self._told_ids: dict[int, str] = {}
        self.general_files: list[tuple[str, str]] = []  # (file, why) read the general way
        self._open()

    # -- what the compiler asks ---------------------------------------------------------------

    def columns(self) -> dict[str, Column]:
        """Every field with values or a mapping: physical columns, then aliases/multi-fields."""
        found = {name: physical.column() for name, physical in self._columns.items()}
        for mapping in self._mappings.values():
            for name, mapped in mapping.items():
                if mapped.alias_path is not None and name not in found:
                    found[name] = self._virtual(name, mapped)
        return found

    def fields_in(self, indices: Iterable[str]) -> FieldSource:
        """The fields as a search over `indices` sees them, each typed as those indices
        type it (lanner.store.columns); the store itself while every index agrees."""
        if not self._alternates and not self._mappings:
            return self
        return ScopedFields(self, self._columns, self._index_columns, self._mappings, indices)

    def column(self, name: str) -> Column | None:
        """One field's column (an alias resolves to its target's physical column), or None;
        a field that indices type differently is its first type's column here (see fields_in)."""
        self._check_loaded(name)
        physical = self._columns.get(name)
        if physical is not None:
            return physical.column()
        for mapping in self._mappings.values():
            mapped = mapping.get(name)
            if mapped is not None and mapped.alias_path is not None:
                return self._virtual(name, mapped)
        return None

    def has_field(self, name: str) -> bool:
        """Whether ES would find `name` in the mapping: seen or mapped, object parents too."""
        self._check_loaded(name)
        return name in self._fields

    def _know(self, path: str) -> None:
        """A field the store can answer for, with the objects above it."""
        self._fields.add(path)
        self._fields.update(ancestors(path))

    def _check_loaded(self, name: str) -> None:
        """A store that read only some fields refuses to answer for the others, rather than
        answering "absent" for a field the files may hold."""
        if self._loaded is None or name in self._fields or name in self._loaded:
            return
        prefix = name + "."
        if not any(loaded.startswith(prefix) for loaded in self._loaded):
            raise StoreError(f"the field [{name}] was not read: this store holds only the "
                             "fields of the rules it was loaded for")

    def mapping(self, index: str) -> dict[str, FieldMapping] | None:
        """The explicit mapping put for `index`, flat; None when it has none."""
        return self._mappings.get(index)

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
        wanted = sorted(set(docs))
        found: dict[int, Document] = {}
        for start in range(0, len(wanted), DOCUMENT_CHUNK):
            chunk = ", ".join(str(doc) for doc in wanted[start:start + DOCUMENT_CHUNK])
            rows = self._execute(
                f"SELECT _doc, _index, _id, _source, _file, _line, _hash FROM events "
                f"WHERE _doc IN ({chunk})"
            ).fetchall()
            told = self._tell([row for row in rows if row[3] is None or row[2] is None])
            for doc, index, doc_id, source, *_ in rows:
                source = source if source is not None else told[doc][0]
                doc_id = doc_id if doc_id is not None else told[doc][1]
                found[doc] = Document(index, doc_id, source)
        return found

    def _tell(self, rows: list[tuple[Any, ...]]) -> dict[int, tuple[str, str]]:
        """`_source` and `_id` of documents the columnar route read: the text from the file,
        the id derived as the general ingest derives it (the n-th identical copy counted among
        the earlier documents with the same index and field hash)."""
        sources = self._sources_of([(row[0], row[3], row[4], row[5]) for row in rows])
        unknown = [row for row in rows if row[2] is None and row[0] not in self._told_ids]
        earlier = self._earlier_copies(unknown)
        copies = self._sources_of(copy for found in earlier.values() for copy in found)
        told: dict[int, tuple[str, str]] = {}
        for doc, index, doc_id, _, _, _, _ in rows:
            if doc_id is None:
                doc_id = self._told_ids.get(doc)
            if doc_id is None:
                mine = _canonical(sources[doc])
                seen = sum(1 for copy, *_ in earlier.get(doc, ())
                           if _canonical(copies[copy]) == mine)
                doc_id = self._told_ids[doc] = derived_id(index, mine, seen)
            told[doc] = (sources[doc], doc_id)
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
                    ) -> dict[int, str]:
        """`_source` of (doc, stored source, file, line) rows: stored, or read from the file."""
        found: dict[int, str] = {}
        wanted: dict[int, dict[int, int]] = {}  # file -> line ordinal -> doc
        for doc, source, file, line in rows:
            if source is not None:
                found[doc] = source
            else:
                wanted.setdefault(file, {})[line] = doc
        for file, lines in wanted.items():
            index = self._files[file]
            if isinstance(index, str):
                index = self._files[file] = LineIndex(index)
            for ordinal, _, text in index.lines(lines):
                found[lines[ordinal]] = orjson.dumps(orjson.loads(text)).decode()
        return found

    # -- loading --------------------------------------------------------------------------------

    def put_mapping(self, index: str, mapping: Mapping[str, Any]) -> None:
        """Give `index` an explicit ES mapping, for documents ingested into it from now on.

        Mapped leaf fields get their columns at once (ES knows a mapped field before any
        document has it); a second mapping for the same index is merged into the first.
        """
        parsed = {**self._mappings.get(index, {}), **parse_mapping(mapping)}
        self._mappings[index] = parsed
        self._execute(
            "INSERT OR REPLACE INTO _lanner_mappings VALUES (?, ?)",
            [index, orjson.dumps({p: _mapping_json(m) for p, m in parsed.items()}).decode()],
        )
        self._plans.pop(index, None)
        for path, mapped in parsed.items():
            self._know(path)
            if mapped.alias_path is None and duckdb_type(mapped.type) is not None:
                self._type_in(index, path, mapped.type, is_list=False)
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
        columns = len(self._columns) + len(self._alternates) + len(META_COLUMNS) \
            + len(PLACE_COLUMNS)
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
        return ((self.path is None or self._scratch is not None) and not self._mappings
                and not self._has_rows)

    def _ingest_columnar(self, names: list[str], index: str | None, fields: Iterable[str],
                         progress: IngestProgress | None) -> IngestReport:
        """Each file the columnar way when it can be, else the general way, in order."""
        fields = set(fields)
        wanted = columnar.needed_fields(fields)
        self._loaded = frozenset({*fields, *wanted})
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
        columnar.sample(path, shape)
        file = len(self._files)
        self._files.append(path)
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
                    self._unchecked_bytes += os.path.getsize(part.path)
                    if self._unchecked_bytes >= CHECKPOINT_BYTES:
                        self._execute("CHECKPOINT")  # compressed, the rows take far less room
                        self._unchecked_bytes = 0
        except columnar.NotColumnar:
            self._execute("DELETE FROM events WHERE _file = ?", [file])
            self._next_doc = base
            raise
        self._next_doc = base + first
        return report

    def _load_chunk(self, part: columnar.Chunk, path: str, index: str | None,
                    shape: columnar.Shape, file: int, base: int, first: int,
                    made: set[str]) -> tuple[int, IngestReport]:
        """One chunk of a file: (documents read, what was stored). Its documents are stored
        in one statement, the odd ones as placeholders, which are then replaced by what the
        general row code makes of them."""
        for _ in range(columnar.MAX_ATTEMPTS):
            typed = self._typed_columns(shape, made)
            targets = {quote(column.physical): field.value
                       for column, field in typed if column is not None}
            try:
                with self._parallel_insert():
                    self.con.execute(columnar.insert_sql(part.path, shape,
                                                         [field for _, field in typed],
                                                         targets, file))
                break
            except duckdb.Error as error:  # the statement stored nothing
                columnar.refused(error, part.path, shape)
        else:
            raise columnar.NotColumnar("DuckDB refused it after learning its shapes")
        new = "_file = ? AND _line IS NULL"  # the rows just stored
        start, end = self._execute(f"SELECT min(rowid), max(rowid) FROM events WHERE {new}",
                                   [file]).fetchone()
        if start is None:
            return 0, IngestReport()
        odd_rows = self._execute(
            f"SELECT rowid - ?, _hash FROM events WHERE {new} AND _doc = ? ORDER BY rowid",
            [start, file, columnar.ODD_DOC]).fetchall()
        if odd_rows:
            self._execute(f"DELETE FROM events WHERE {new} AND _doc = ?",
                          [file, columnar.ODD_DOC])
        report = IngestReport()
        report.events, report.without_index = self._number_and_index(file, start, base,
                                                                     first, index)
        self._has_rows = self._has_rows or report.events > 0
        if odd_rows:
            report += self._ingest_odd(part, path, index, file, base, first, odd_rows)
        return end - start + 1, report

    def _typed_columns(self, shape: columnar.Shape,
                       made: set[str]) -> list[tuple[Physical | None, columnar.Typed]]:
        """The SQL typing of every field, with its column, made now if missing (those still
        empty at the end are dropped: a column exists only where a value does, as with the
        general ingest); None for a field typed by its first value, which the general row
        code does. A field is a list if the schema says so, its column is one, or a
        document read so far held several values."""
        found = []
        for name in shape.fields:
            existing = self._columns.get(name)
            es_type = existing.es_type if existing else self._schema.type_of(name)
            is_list = (self._schema.is_array(name) or name in shape.lists
                       or (existing is not None and existing.is_list))
            field_typed = columnar.typed(name, es_type, is_list)
            if field_typed.value == "NULL":
                found.append((None, field_typed))
                continue
            if existing is None:
                existing = self._add_column(name, field_typed.es_type, is_list)
                made.add(name)
            elif is_list and not existing.is_list:
                self._make_list(existing)
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
        keys = [self._columns[name] for name in INDEX_FIELDS if name in self._columns]
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
            f"count({quote(self._columns[name].physical)})" for name in names)
            + " FROM events").fetchone()
        empty = [name for name, count in zip(names, counts, strict=True) if not count]
        for name in empty:
            column = self._columns.pop(name)
            self._execute(f"ALTER TABLE events DROP COLUMN {quote(column.physical)}")
            self._taken.discard(column.physical.lower())
            self._unsaved.discard(name)
        if empty:
            marks = ", ".join(["?"] * len(empty))
            self._execute(f"DELETE FROM _lanner_columns WHERE name IN ({marks})", empty)
            self._fields = set()
            for name in [*self._columns, *(path for mapping in self._mappings.values()
                                           for path in mapping)]:
                self._know(name)

    def _ingest_odd(self, part: columnar.Chunk, path: str, index: str | None, file: int,
                    base: int, first: int, odd_rows: list[tuple[int, int]]) -> IngestReport:
        """Documents with a value SQL does not type: the general row code, whole documents,
        their lines read again from the chunk (they are few)."""
        report = IngestReport()
        hashes = dict(odd_rows)
        found = list(part.lines(hashes))
        numbered = {number: ordinal for ordinal, number, _ in found}
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
                     index: str | None = None) -> IngestReport:
        """Store documents already read (lanner.store.readers items) from `path`."""
        return self._ingest([(path, items)], index)

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
        progress: IngestProgress | None = None,
    ) -> IngestReport:
        """Turn documents into rows here while a writer thread inserts the previous batch.

        `inputs`: (file path or None, its items), in order. DuckDB releases the GIL while it
        reads and inserts, so the two overlap; every database statement of an ingest runs on
        the writer, in order (schema changes too).
        """
        report = IngestReport()
        rows: list[dict[str, Any]] = []
        sources: list[bytes] = []
        size = 0
        occurrences: dict[bytes, int] = {}  # derived ids of this call, for identical documents
        # JSON documents and rows hold no reference cycles, but the cyclic GC would traverse
        # every object of the batch being built again and again.
        collecting = gc.isenabled()
        gc.disable()
        writing: Future[int] | None = None
        try:
            with ThreadPoolExecutor(1, thread_name_prefix="lanner-store") as writer:
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
                            batch = self._seal(rows, sources, report)
                            if writing is not None:  # one batch in flight: bounded memory
                                report.replaced += writing.result()
                            writing = writer.submit(self._write, batch)
                            rows, sources, size = [], [], 0
                if writing is not None:
                    report.replaced += writing.result()
                if rows:
                    report.replaced += self._write(self._seal(rows, sources, report))
        finally:
            self._index_names = None
            if collecting:
                gc.enable()
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
            doc_id = _derived_id(index, record, occurrences)
        if doc_id is not None:
            key = (index, doc_id)
            if key in self._batch_ids:
                self._batch_duplicates += 1
            else:
                self._batch_ids.add(key)
        row: dict[str, Any] = {"_doc": self._next_doc, "_index": index, "_id": doc_id}
        self._next_doc += 1
        plan = self._plans.get(index) or self._plan(index)
        if plan.null_values:
            _apply_null_values(flat, plan.null_values)
        targets = plan.targets
        loaded = self._loaded
        for name, value in flat.items():
            if loaded is not None and name not in loaded:
                continue
            target = targets.get(name)
            if target is None:
                if value is None:
                    continue
                target = self._resolve(plan, name, value)
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
                        self._make_list(column)
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

    def _plan(self, index: str) -> _IndexPlan:
        mapping = self._mappings.get(index)
        null_values = {}
        if mapping:
            null_values = {
                path: mapped.null_value
                for path, mapped in mapping.items()
                if mapped.null_value is not None and mapped.alias_path is None
            }
        plan = self._plans[index] = _IndexPlan(index, mapping, null_values)
        return plan

    def _resolve(self, plan: _IndexPlan, name: str, value: Any) -> _Target | None:
        """Type a path the first time an index has a value for it, creating its column.

        An index with an explicit mapping is an ES index with that mapping: unmapped fields get
        dynamic mapping. Without one, the packaged ECS schema stands in for the index templates
        of Elastic's data streams. An existing column keeps its type; values are coerced to it.
        """
        mapped = plan.mapping.get(name) if plan.mapping is not None else None
        date_format = None
        is_list = False
        typed = self._index_columns.get(plan.index, {}).get(name)
        if typed is not None and mapped is None:
            return self._target(plan, name, typed, None)
        if mapped is not None:
            if mapped.alias_path is not None:
                kind = "an alias" if mapped.type == "alias" else "a multi-field"
                message = f"[{name}] is {kind} of [{mapped.alias_path}]; it cannot hold values"
                return self._refuse(plan, name, message, mapped.type)
            if mapped.type in OBJECT_TYPES:
                message = f"[{name}] is mapped as [{mapped.type}]; it cannot hold a value"
                return self._refuse(plan, name, message, mapped.type)
            es_type, date_format = mapped.type, mapped.format
        else:
            es_type = self._schema.type_of(name) if plan.mapping is None else None
            if es_type is not None and duckdb_type(es_type) is None:
                es_type = None  # the schema says object but the data has a value: go dynamic
            if es_type is not None:
                is_list = self._schema.is_array(name)
            else:
                es_type = dynamic_type(value)
                if es_type is None:
                    return None
        return self._target(plan, name, self._type_in(plan.index, name, es_type, is_list),
                            date_format)

    def _target(self, plan: _IndexPlan, name: str, column: Physical,
                date_format: str | None) -> _Target:
        if column.es_type not in _DATE_TYPES:
            date_format = None
        target = _Target(column, coercer(column.es_type, date_format), column.es_type)
        plan.targets[name] = target
        return target

    def _type_in(self, index: str, name: str, es_type: str, is_list: bool) -> Physical:
        """The column holding `index`'s values of `name`, typed `es_type` there: the index's
        own if it typed the field before, else the field's column of that type, made if new."""
        typed = self._index_columns.setdefault(index, {})
        column = typed.get(name)
        if column is not None and same_storage(column.es_type, es_type):
            return column
        first = self._columns.get(name)
        if first is None:
            column = self._add_column(name, es_type, is_list)
        elif same_storage(first.es_type, es_type):
            column = first
        else:
            column = self._alternates.get((name, es_type))
            if column is None:
                column = self._add_column(name, es_type, is_list, first=False)
        typed[name] = column
        self._unsaved_typing.add((index, name))
        return column

    def _refuse(self, plan: _IndexPlan, name: str, message: str, es_type: str) -> _Target:
        target = _Target(None, _Refusal(message), es_type)
        plan.targets[name] = target
        return target

    def _add_column(self, name: str, es_type: str, is_list: bool, *,
                    first: bool = True) -> Physical:
        """A new column for `name`: its first, or (`first` False) one for another type."""
        base_type = DUCKDB_TYPES.get(es_type, "VARCHAR")
        physical = name
        suffix = 1
        while physical.lower() in self._taken:
            suffix += 1
            physical = f"{name}#{suffix}"
        column = Physical(name, physical, es_type, base_type, is_list)
        self._ddl.append(f"ALTER TABLE events ADD COLUMN {quote(physical)} {column.sql_type}")
        self._taken.add(physical.lower())
        if first:
            self._columns[name] = column
            self._unsaved.add(name)
        else:
            self._alternates[(name, es_type)] = column
        self._know(name)
        return column

    def _make_list(self, column: Physical) -> None:
        """A scalar column that met a list: its stored values become 1-element lists."""
        sql = quote(column.physical)
        column.is_list = True
        self._ddl.append(
            f"ALTER TABLE events ALTER COLUMN {sql} TYPE {column.sql_type} "
            f"USING CASE WHEN {sql} IS NULL THEN NULL ELSE [{sql}] END"
        )
        if self._columns.get(column.name) is column:
            self._unsaved.add(column.name)
        else:  # an index's own column: its typing rows carry the column's shape
            self._unsaved_typing.update((index, name) for index, typed in
                                        self._index_columns.items()
                                        for name, held in typed.items() if held is column)

    def _physicals(self) -> Iterator[Physical]:
        """Every field column of the events table."""
        yield from self._columns.values()
        yield from self._alternates.values()

    def _schema_changes(self) -> tuple[list[str], _Metadata]:
        """Pending DDL and metadata rows, taken for one write (in order, then cleared)."""
        ddl, self._ddl = self._ddl, []
        ordinals = {name: ordinal for ordinal, name in enumerate(self._columns)}
        metadata = _Metadata()
        for name in self._unsaved:
            column = self._columns[name]
            metadata.columns.append((ordinals[name], name, column.physical, column.es_type,
                                     column.base_type, column.is_list))  # fmt: skip
        for index, name in self._unsaved_typing:
            column = self._index_columns[index][name]
            metadata.typing.append((index, name, column.physical, column.es_type,
                                    column.base_type, column.is_list))  # fmt: skip
        self._unsaved.clear()
        self._unsaved_typing.clear()
        return ddl, metadata

    def _write_schema(self) -> None:
        """Apply pending schema changes now (outside an ingest, e.g. after put_mapping)."""
        ddl, metadata = self._schema_changes()
        for statement in ddl:
            self._execute(statement)
        self._save_metadata(metadata)

    def _save_metadata(self, metadata: _Metadata) -> None:
        for table, rows in (("_lanner_columns", metadata.columns),
                            ("_lanner_typing", metadata.typing)):
            if rows:
                placeholders = ", ".join(["(?, ?, ?, ?, ?, ?)"] * len(rows))
                values = [value for row in rows for value in row]
                self._execute(f"INSERT OR REPLACE INTO {table} VALUES {placeholders}", values)

    def _seal(
        self, rows: list[dict[str, Any]], sources: list[bytes], report: IngestReport
    ) -> _Batch:
        """Freeze a batch for the writer: its schema changes and the column types it needs."""
        report.events += len(rows)
        present: set[str] = set()
        for row in rows:
            present.update(row.keys())
        columns = [column for column in self._physicals() if column.physical in present]
        json_types = {name: kind for name, kind in META_COLUMNS.items() if name != "_source"}
        json_types.update(PLACE_COLUMNS)
        selects = [quote(name) for name in (*META_COLUMNS, *PLACE_COLUMNS)]
        for column in columns:
            sql = quote(column.physical)
            if column.is_list:
                name = column.physical
                for row in rows:
                    value = row.get(name)
                    if value is not None and type(value) is not list:
                        row[name] = [value]
            if column.base_type == "TIMESTAMP_NS":  # written as nanoseconds since the epoch
                json_types[column.physical] = "BIGINT[]" if column.is_list else "BIGINT"
                selects.append(
                    f"list_transform({sql}, lambda t: make_timestamp_ns(t))"
                    if column.is_list
                    else f"make_timestamp_ns({sql})"
                )
            else:
                json_types[column.physical] = column.sql_type
                selects.append(sql)
        names = [quote(name) for name in (*META_COLUMNS, *PLACE_COLUMNS)]
        names += [quote(c.physical) for c in columns]
        ddl, metadata = self._schema_changes()
        replaces = self._has_rows or self._batch_duplicates > 0
        self._has_rows = True
        self._batch_ids.clear()
        self._batch_duplicates = 0
        return _Batch(rows, sources, ddl, metadata, json_types, selects, names, replaces)

    def _write(self, batch: _Batch) -> int:
        """Insert a sealed batch (on the writer thread); returns the documents it replaced.

        Rows go through a JSON file that DuckDB reads with explicit types, `_source` through
        a file of raw lines, joined back by position. Without pandas or pyarrow this is the
        fastest route measured: executemany or bound Python lists are 3-30x slower, and
        `_source` as a JSON string inside the rows costs twice the time for the escaping.
        Then stored documents with the same `_index` and `_id` as a new one are deleted: the
        last one wins, as in ES.
        """
        replaced = 0
        # a row's JSON holds its fields' values, each at most its document's length, escaped
        bound = max(MIN_READ_BOUND, 4 * max(map(len, batch.sources), default=0) + 4096)
        with tempfile.TemporaryDirectory(prefix="lanner-batch-") as folder:
            rows_file = os.path.join(folder, "rows.json")
            sources_file = os.path.join(folder, "sources.txt")
            with open(rows_file, "wb") as out:
                out.write(orjson.dumps(batch.rows))
            with open(sources_file, "wb") as out:
                out.write(b"\n".join(batch.sources))  # compact JSON never holds a raw newline
            # Schema first, metadata with it, so that the two agree even if the insert fails.
            for statement in batch.ddl:
                self._execute(statement)
            self._save_metadata(batch.metadata)
            self._execute("BEGIN TRANSACTION")
            try:
                self._execute(
                    f"INSERT INTO events ({', '.join(batch.names)}) "
                    f"SELECT {', '.join(batch.selects)} FROM "
                    f"read_json(?, format = 'array', columns = ?, maximum_object_size = {bound}) "
                    f"POSITIONAL JOIN {_RAW_LINES.replace('BOUND', str(bound))}",
                    [rows_file, batch.json_types, sources_file],
                )
                if batch.replaces:
                    deleted = self._execute(
                        "DELETE FROM events USING (SELECT _index, _id, max(_doc) AS last "
                        "FROM events WHERE _doc >= ? GROUP BY ALL) AS new "
                        "WHERE events._index = new._index AND events._id = new._id "
                        "AND events._doc < new.last",
                        [batch.rows[0]["_doc"]],
                    ).fetchone()
                    replaced = deleted[0] if deleted else 0
                self._execute("COMMIT")
            except BaseException:
                with contextlib.suppress(duckdb.Error):
                    self.con.execute("ROLLBACK")
                raise
        self._unchecked_bytes += sum(map(len, batch.sources))
        if self._unchecked_bytes >= CHECKPOINT_BYTES:
            self._execute("CHECKPOINT")  # compressed, the events take about a quarter
            self._unchecked_bytes = 0
        return replaced

    # -- the database -------------------------------------------------------------------------

    def _execute(self, sql: str, parameters: Any = None) -> duckdb.DuckDBPyConnection:
        try:
            return self.con.execute(sql, parameters)
        except duckdb.Error as error:
            raise StoreError(f"event store: {error}\n  while running: {sql}") from None

    def _open(self) -> None:
        """Create the tables, or load the column and mapping metadata of an existing store."""
        meta = ", ".join(f"{quote(name)} {kind}" for name, kind in META_COLUMNS.items())
        self._execute(f"CREATE TABLE IF NOT EXISTS events ({meta})")
        for name, kind in PLACE_COLUMNS.items():  # a store made before they existed
            self._execute(f"ALTER TABLE events ADD COLUMN IF NOT EXISTS {name} {kind}")
        self._execute(
            "CREATE TABLE IF NOT EXISTS _lanner_columns (ordinal INTEGER, name VARCHAR PRIMARY "
            "KEY, physical VARCHAR, es_type VARCHAR, base_type VARCHAR, is_list BOOLEAN)"
        )
        self._execute(
            "CREATE TABLE IF NOT EXISTS _lanner_mappings "
            "(index_name VARCHAR PRIMARY KEY, mapping VARCHAR)"
        )
        self._execute(  # which column holds an index's values of a field (lanner.store.columns)
            "CREATE TABLE IF NOT EXISTS _lanner_typing (index_name VARCHAR, name VARCHAR, "
            "physical VARCHAR, es_type VARCHAR, base_type VARCHAR, is_list BOOLEAN, "
            "PRIMARY KEY (index_name, name))"
        )
        rows = self._execute(
            "SELECT name, physical, es_type, base_type, is_list "
            "FROM _lanner_columns ORDER BY ordinal"
        ).fetchall()
        for name, physical, es_type, base_type, is_list in rows:
            self._columns[name] = Physical(name, physical, es_type, base_type, is_list)
            self._taken.add(physical.lower())
            self._know(name)
        by_physical = {column.physical: column for column in self._columns.values()}
        for index, name, physical, es_type, base_type, is_list in self._execute(
                "SELECT * FROM _lanner_typing ORDER BY index_name, name").fetchall():
            column = by_physical.get(physical)
            if column is None:
                column = by_physical[physical] = Physical(name, physical, es_type, base_type,
                                                          is_list)
                self._alternates[(name, es_type)] = column
                self._taken.add(physical.lower())
            column.is_list = column.is_list or is_list
            self._index_columns.setdefault(index, {})[name] = column
        for index, text in self._execute("SELECT * FROM _lanner_mappings").fetchall():
            mapping = {path: FieldMapping(**fields) for path, fields in orjson.loads(text).items()}
            self._mappings[index] = mapping
            for path in mapping:
                self._know(path)
        for (physical,) in self._execute(
            "SELECT column_name FROM duckdb_columns() WHERE table_name = 'events' "
            "AND schema_name = 'main' AND database_name = current_database()"
        ).fetchall():
            self._taken.add(physical.lower())  # even one a crash left without metadata
        last = self._execute("SELECT max(_doc) FROM events").fetchone()[0]
        self._next_doc = (last or 0) + 1
        self._has_rows = last is not None

    def _virtual(self, name: str, mapped: FieldMapping) -> Column:
        """An alias (typed like its target) or a multi-field (its own type), both reading the
        target's column."""
        target = mapped.alias_path or ""
        for _ in range(3):  # an alias may name a multi-field, which names its parent
            hop = next((m[target] for m in self._mappings.values() if target in m), None)
            if hop is None or hop.alias_path is None:
                break
            target = hop.alias_path
        es_type = mapped.type
        if es_type == "alias":
            target_mapping = next((m[target] for m in self._mappings.values() if target in m), None)
            es_type = target_mapping.type if target_mapping is not None else "keyword"
        physical = self._columns.get(target)
        if physical is None:
            base_type = DUCKDB_TYPES.get(es_type, "VARCHAR")
            return Column(name, es_type, base_type, False, mapped.alias_path, None)
        return Column(
            name, es_type, physical.sql_type, physical.is_list, mapped.alias_path, physical.physical
        )


def open_database(path: str | None) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection to the database file at `path` (in memory for None) that never
    reaches for the network: extensions are never installed automatically.

    A write-ahead log that a crash left behind is replayed first in a database the file is
    attached to, and checkpointed there: replaying it may call functions of DuckDB's
    statically linked `core_functions` (a column made a list is `ALTER ... USING [x]`), which a
    database opened directly has not loaded yet while it replays, and which DuckDB would then
    try to download (offline, the store would not open at all)."""
    config = {"autoinstall_known_extensions": False}
    try:
        if path is not None and os.path.exists(path + ".wal"):
            with duckdb.connect(":memory:", config=config) as replaying:
                replaying.execute(f"ATTACH {sql_string(path)} AS replayed")
                replaying.execute("CHECKPOINT replayed")
                replaying.execute("DETACH replayed")
        return duckdb.connect(path or ":memory:", config=config)
    except duckdb.Error as error:
        raise StoreError(f"cannot open the event store {path}: {error}") from None


def sql_string(text: str) -> str:
    """A SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def flatten(source: Mapping[str, Any]) -> dict[str, Any]:
    """Leaf paths of a document -> value, or list of values where the path is multi-valued.

    Nested objects and dotted keys give the same path; objects inside arrays give their leaf
    paths with the values as a list (ES doc values); nested arrays flatten; explicit nulls are
    kept (null_value needs them); empty arrays give nothing, as in ES.
    """
    out: dict[str, Any] = {}
    try:
        if _flatten_plain(source, "", out) == len(out):
            return out
    except _NeedsMerging:
        pass
    out = {}
    _flatten_object(source, "", out, False)
    return out


class _NeedsMerging(Exception):
    """An array holding objects or arrays: the merging flatten handles that."""


def _flatten_plain(obj: Mapping[str, Any], prefix: str, out: dict[str, Any]) -> int:
    """The common case, fast: no path twice, arrays of scalars only (kept, not copied).

    Returns the number of leaves written; fewer paths than that means a path was written
    twice (`a.b` nested and dotted), and the merging flatten starts over.
    """
    count = 0
    for key, value in obj.items():
        kind = type(value)
        if kind is dict:
            count += _flatten_plain(value, prefix + key + ".", out)
        elif kind is list:
            if not value:
                continue
            for element in value:
                if type(element) is dict or type(element) is list:
                    raise _NeedsMerging
            out[prefix + key] = value
            count += 1
        else:
            out[prefix + key] = value
            count += 1
    return count


def _flatten_object(
    obj: Mapping[str, Any], prefix: str, out: dict[str, Any], in_list: bool
) -> None:
    for key, value in obj.items():
        path = prefix + key
        kind = type(value)
        if kind is dict:
            _flatten_object(value, path + ".", out, in_list)
        elif kind is list:
            _flatten_list(value, path, out)
        elif in_list:
            _add(out, path, value, force_list=True)
        elif path in out:
            _add(out, path, value, force_list=False)
        else:
            out[path] = value


def _flatten_list(items: list[Any], path: str, out: dict[str, Any]) -> None:
    for item in items:
        kind = type(item)
        if kind is dict:
            _flatten_object(item, path + ".", out, True)
        elif kind is list:
            _flatten_list(item, path, out)
        else:
            _add(out, path, item, force_list=True)


def _add(out: dict[str, Any], path: str, value: Any, force_list: bool) -> None:
    """Add one more value at a path: the path becomes (or stays) a list."""
    existing = out.get(path, _ABSENT)
    if existing is _ABSENT:
        out[path] = [value] if force_list else value
    elif type(existing) is list:
        existing.append(value)
    else:
        out[path] = [existing, value]


_ABSENT = object()


def _apply_null_values(flat: dict[str, Any], null_values: dict[str, Any]) -> None:
    """ES indexes an explicit null (also inside an array) as the field's null_value."""
    for path, null_value in null_values.items():
        value = flat.get(path, _ABSENT)
        if value is None:
            flat[path] = null_value
        elif type(value) is list and None in value:
            flat[path] = [null_value if element is None else element for element in value]


def dynamic_type(value: Any) -> str | None:
    """ES dynamic mapping of a JSON value (first non-null element of a list); None if null."""
    if type(value) is list:
        value = next((element for element in value if element is not None), None)
    kind = type(value)
    if kind is str:
        return "keyword"
    if kind is bool:
        return "boolean"
    if kind is int:
        return "long"
    if kind is float:
        return "double"
    return None


def _derived_id(index: str, record: Record, occurrences: dict[bytes, int]) -> str:
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


def _canonical(source: str) -> bytes:
    return orjson.dumps(orjson.loads(source), option=orjson.OPT_SORT_KEYS)


def _mapping_json(mapped: FieldMapping) -> dict[str, Any]:
    return {name: getattr(mapped, name) for name in FieldMapping.__dataclass_fields__}
