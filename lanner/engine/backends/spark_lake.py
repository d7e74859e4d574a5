"""Events of a data lake read by Spark itself: NDJSON and Parquet paths, typed on the executors.

The EventStore reads and types events on the driver, which cannot work for a lake of billions
of events. Here Spark reads the files (any path or Hadoop URI it accepts: `file:`, `hdfs:`,
`s3a:`, …) and its executors type them by the store's own rules, with the store's own code:

1. **Learn** (one job): every line is parsed and flattened (lanner.store's `flatten`, hits and
   `_source` as the store reads them), and each partition tells, per leaf field, its first
   value's JSON kind and whether some list value fits a candidate type; per split (file, start
   offset), how many lines and documents it holds; its bad lines. The driver merges these:
   the ES type of a field is the packaged ECS schema's, else the dynamic mapping of its first
   value in file order (as the store types a field by the first value it meets); a field is a
   list where ECS says so or where a list value coerces whole; `_doc` is numbered in file
   order (file, line) from the splits' counts, and bad lines get their file line numbers.
2. **Type** (one job): the same lines again, each leaf coerced by `lanner.store.mappings`
   `coercer` (dates to epoch nanoseconds, unsigned_long to DECIMAL(38,0), ip canonical, …),
   `_index` from `derive_index`, `_id` given or derived as the store derives it, `_source`
   kept; written as Parquet in `workdir`, which the backend's view reads. A value ES would
   reject is stored as NULL and reported, as the store does.

Parquet files are read by Spark and each row made JSON (`to_json`, nulls and UTC timestamps
as the store's Parquet reader writes them), then follow the same two steps. Each `add_paths`
is one ingest (identical documents get distinct ids within it, as in one store ingest).
Explicit mappings (`put_mapping`) are not supported here: ECS and dynamic mapping only.
"""

from __future__ import annotations

import functools
import itertools
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

import orjson

from lanner.engine.backends.duckdb import Document, select_indices
from lanner.engine.backends.spark import SparkBackend
from lanner.engine.backends.spark_sql import SPARK_TYPES, spark_identifier, spark_literal
from lanner.engine.backends.sql import positioned
from lanner.eql.schema import FieldSchema
from lanner.errors import LannerError
from lanner.store.events import (
    CoercionFailure,
    Column,
    IngestReport,
    derived_id,
    dynamic_type,
    flatten,
)
from lanner.store.indices import derive_index
from lanner.store.mappings import DUCKDB_TYPES, ancestors, coercer, duckdb_type
from lanner.store.readers import EVENT_FILE_SUFFIXES, BadLine, Record, read_lines

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

NDJSON_SUFFIXES = (".ndjson", ".jsonl", ".json", ".gz", ".bz2")
PARQUET_SUFFIXES = (".parquet",)
# Files that are surely the lake's to read: a `.json` file may also be a JSON array, which
# only the store reads.
LAKE_SUFFIXES = tuple(s for s in NDJSON_SUFFIXES if s != ".json") + PARQUET_SUFFIXES
# Dynamic mapping's types: a field without an ECS type is one of these, by its first value.
_DYNAMIC_TYPES = ("keyword", "boolean", "long", "double")
# Parquet rows as JSON with the store's Parquet reader's spelling: nulls kept, UTC timestamps.
_TO_JSON_OPTIONS = {"ignoreNullFields": "false",
                    "timestampFormat": "yyyy-MM-dd'T'HH:mm:ss.SSSSSS'Z'",
                    "timestampNTZFormat": "yyyy-MM-dd'T'HH:mm:ss.SSSSSS'Z'"}
_META_SCHEMA = ("_doc BIGINT, _index STRING, _id STRING, _derived BOOLEAN, _source STRING, "
                "_failures ARRAY<STRING>")
_DOCUMENT_CHUNK = 10_000


class LakeError(LannerError):
    """Files that cannot be read as a lake: missing, of an unsupported format, or changed
    between the two passes of a read."""


@dataclass(frozen=True, slots=True)
class LakeFile:
    """One file of a read: its URI as Spark names it, the name reports use, its format."""

    uri: str
    name: str
    parquet: bool


@dataclass(slots=True)
class _Field:
    """A leaf field of the lake: its column `f<n>`, ES type, and whether it holds lists."""

    name: str
    physical: str
    es_type: str
    is_list: bool

    def column(self) -> Column:
        base = DUCKDB_TYPES.get(self.es_type, "VARCHAR")
        return Column(self.name, self.es_type, base + "[]" if self.is_list else base,
                      self.is_list, None, self.physical)

    @property
    def spark_type(self) -> str:
        scalar = SPARK_TYPES.get(self.es_type, "STRING")
        return f"ARRAY<{scalar}>" if self.is_list else scalar


class LakeFields:
    """The compiler's field source for a lake: the leaf fields its reads learned (EventStore's
    `column`/`columns`/`has_field`), and no explicit mappings."""

    def __init__(self) -> None:
        self.fields: dict[str, _Field] = {}
        self._known: set[str] = set()

    def column(self, name: str) -> Column | None:
        found = self.fields.get(name)
        return found.column() if found is not None else None

    def columns(self) -> dict[str, Column]:
        return {name: found.column() for name, found in self.fields.items()}

    def has_field(self, name: str) -> bool:
        return name in self._known

    def fields_in(self, indices: Iterable[str]) -> LakeFields:
        """A lake types every index alike (ECS, then dynamic mapping over all files)."""
        return self

    def mapping(self, index: str) -> None:
        """No index of a lake has an explicit mapping: ECS and dynamic mapping type it."""
        return None

    def add(self, name: str, es_type: str, is_list: bool) -> _Field:
        found = self.fields[name] = _Field(name, f"f{len(self.fields)}", es_type, is_list)
        self._known.add(name)
        self._known.update(ancestors(name))
        return found


# ------------------------------------------------------------------------------------------
# Listing


def list_files(session: SparkSession, paths: Iterable[str]) -> list[LakeFile]:
    """The files of `paths` in read order: each path in turn, a folder's event files (by
    suffix, recursively) sorted by path as `find_event_files` sorts them. Listed through
    Hadoop, so any URI Spark reads works; a local path keeps its local name in reports."""
    context = session.sparkContext
    jvm = context._jvm  # type: ignore[attr-defined]
    configuration = context._jsc.hadoopConfiguration()  # type: ignore[attr-defined]
    found: list[LakeFile] = []
    for given in map(str, paths):
        local = "://" not in given and not given.startswith("file:")
        try:
            path = jvm.org.apache.hadoop.fs.Path(given)
            system = path.getFileSystem(configuration)
            status = system.getFileStatus(system.makeQualified(path))
            if status.isDirectory():
                listed = system.listFiles(status.getPath(), True)
                statuses = []
                while listed.hasNext():
                    statuses.append(listed.next())
                # the store's event files: those a lake cannot read are refused below
                statuses = [s for s in statuses
                            if s.getPath().getName().endswith(EVENT_FILE_SUFFIXES)]
            else:
                statuses = [status]
        except Exception as error:  # py4j wraps Hadoop's FileNotFoundException and the like
            raise LakeError(f"cannot read {given}: {_listing_problem(error)}") from None
        files = [_lake_file(s.getPath().toString(), local, given) for s in statuses]
        found.extend(sorted(files, key=lambda file: PurePosixPath(_file_key(file.uri)[2])))
    return found


def _lake_file(uri: str, local: bool, given: str) -> LakeFile:
    name = unquote(urlsplit(uri).path) if local else uri
    if name.endswith(PARQUET_SUFFIXES):
        return LakeFile(uri, name, True)
    if name.endswith(NDJSON_SUFFIXES) or given.rstrip("/") == name.rstrip("/"):
        return LakeFile(uri, name, False)  # a file named explicitly is NDJSON, whatever its name
    raise LakeError(f"cannot read {name}: a lake holds NDJSON or Parquet files")


def _file_key(uri: str) -> tuple[str, str, str]:
    """A file's identity whatever the URI's spelling (`file:/a%20b`, `file:///a b`)."""
    parts = urlsplit(uri)
    return parts.scheme or "file", parts.netloc, unquote(parts.path)


def _listing_problem(error: Exception) -> str:
    java = getattr(error, "java_exception", None)
    if java is not None and java.getClass().getName() == "java.io.FileNotFoundException":
        return "no such file or folder"
    return _java_message(error)


def _java_message(error: Exception) -> str:
    java = getattr(error, "java_exception", None)
    return str(java.getMessage()) if java is not None else str(error)


# ------------------------------------------------------------------------------------------
# What runs on the executors: module-level, so Spark ships them by reference.


@functools.cache
def _schema() -> FieldSchema:
    return FieldSchema.default()


@functools.cache
def _ecs(name: str) -> tuple[str | None, bool]:
    """The ECS type of a field (None: dynamic mapping decides) and whether ECS makes it a list."""
    schema = _schema()
    es_type = schema.type_of(name)
    if es_type is None or duckdb_type(es_type) is None:
        return None, False
    return es_type, schema.is_array(name)


def _items(text: str, position: int) -> list[Record | BadLine]:
    """The documents (or the problem) of one line, read as the store reads an NDJSON line."""
    items: list[Record | BadLine] = list(read_lines([(position + 1, text.encode())], ""))
    return [BadLine(None, position + 1, item.message) if isinstance(item, BadLine) else item
            for item in items]


def _index_of(record: Record, flat: dict[str, Any], default_index: str | None) -> str:
    return record.index or default_index or derive_index(flat.get) or ""


def _fits(values: list[Any], es_type: str) -> bool:
    """Whether a list value coerces whole to `es_type` (then the store makes its field a list)."""
    coerce = coercer(es_type)
    try:
        for value in values:
            if value is not None:
                coerce(value)
    except ValueError:
        return False
    return True


@dataclass(slots=True)
class _Learned:
    """What one partition (then, merged, the whole read) tells about its documents."""

    splits: dict[tuple[str, int], list[int]] = field(default_factory=dict)  # lines, docs
    first: dict[str, tuple[tuple, str | None]] = field(default_factory=dict)
    lists: dict[str, set[str]] = field(default_factory=dict)
    bad: list[tuple[str, int, int, str]] = field(default_factory=list)
    indices: set[str] = field(default_factory=set)
    without_index: int = 0
    explicit_ids: int = 0


def _learn(known: dict[str, str], default_index: str | None,
           rows: Iterable[Any]) -> Iterator[_Learned]:
    """Pass 1 over one partition's lines (text, file, split start)."""
    learned = _Learned()
    for text, file, start in rows:
        counts = learned.splits.get((file, start))
        if counts is None:
            counts = learned.splits[(file, start)] = [0, 0]
        position = counts[0]
        counts[0] += 1
        for sub, item in enumerate(_items(text, position)):
            if isinstance(item, BadLine):
                learned.bad.append((file, start, position, item.message))
                continue
            counts[1] += 1
            flat = flatten(item.source)
            index = _index_of(item, flat, default_index)
            learned.indices.add(index)
            learned.without_index += not index
            learned.explicit_ids += item.id is not None
            for ordinal, (name, value) in enumerate(flat.items()):
                if value is None:
                    continue
                typed = known.get(name) or _ecs(name)[0]
                if name not in learned.first:
                    kind = typed or dynamic_type(value)
                    if kind is not None:
                        learned.first[name] = ((file, start, position, sub, ordinal),
                                               None if typed else kind)
                if type(value) is list:
                    fitting = learned.lists.setdefault(name, set())
                    for es_type in (typed,) if typed else _DYNAMIC_TYPES:
                        if es_type not in fitting and _fits(value, es_type):
                            fitting.add(es_type)
    yield learned


@dataclass(frozen=True, slots=True)
class _Split:
    """Where a split of a file starts in the read: its file, first `_doc`, first line."""

    file: int
    first_doc: int
    first_line: int


def _typed_rows(slots: dict[str, tuple[int, str, bool]], splits: dict[tuple[str, int], _Split],
                names: list[str], parquet: list[bool], default_index: str | None,
                rows: Iterable[Any]) -> Iterator[tuple[Any, ...]]:
    """Pass 2 over one partition's lines: one typed row per document."""
    coercers: dict[str, Any] = {}
    positions: dict[tuple[str, int], list[int]] = {}  # split -> [lines, docs] so far
    width = len(slots)
    for text, file, start in rows:
        split = splits.get((file, start))
        if split is None:
            raise LakeError(f"{file} changed while it was being read")
        counter = positions.setdefault((file, start), [0, 0])
        position = counter[0]
        counter[0] += 1
        line = split.first_line + position + 1
        for item in _items(text, position):
            if isinstance(item, BadLine):
                continue
            doc = split.first_doc + counter[1]
            counter[1] += 1
            flat = flatten(item.source)
            index = _index_of(item, flat, default_index)
            doc_id = item.id
            if doc_id is None:
                canonical = orjson.dumps(item.source, option=orjson.OPT_SORT_KEYS)
                doc_id = derived_id(index, canonical, 0)  # a later copy's id: told when fetched
            values: list[Any] = [None] * width
            failures: list[str] = []
            for name, value in flat.items():
                slot = slots.get(name)
                if slot is None or value is None:
                    continue
                column, es_type, is_list = slot
                coerce = coercers.get(es_type) or coercers.setdefault(es_type, coercer(es_type))
                try:
                    if type(value) is list:
                        typed = [None if element is None else coerce(element)
                                 for element in value]
                    else:
                        typed = coerce(value)
                        typed = [typed] if is_list else typed
                except ValueError as error:
                    where = (None, line) if parquet[split.file] else (line, line)
                    failures.append(orjson.dumps([name, es_type, names[split.file], *where,
                                                  value, str(error)]).decode())
                    continue
                values[column] = _decimal(typed) if es_type == "unsigned_long" else typed
            yield (doc, index, doc_id, item.id is None, orjson.dumps(item.source).decode(),
                   failures or None, *values)


def _decimal(value: Any) -> Any:
    """Spark's DECIMAL(38,0) takes Decimals."""
    if type(value) is list:
        return [None if element is None else Decimal(element) for element in value]
    return Decimal(value)


# ------------------------------------------------------------------------------------------
# The backend


@dataclass(frozen=True, slots=True)
class _Part:
    """One read, written as Parquet: where, its `_doc` range, its fields and their list-ness,
    and the derived ids that several identical documents share (told apart when fetched)."""

    path: str
    first_doc: int
    last_doc: int
    lists: dict[str, bool]
    shared_ids: frozenset[tuple[str, str]]


class SparkLakeBackend(SparkBackend):
    """A SparkBackend over files Spark reads itself (see the module's docstring).

    `workdir` holds the typed Parquet of each read: any URI the executors can write and read
    (on a cluster, shared storage such as `hdfs:` or `s3a:`); by default a local temporary
    folder, right for a local master. `index` puts every document without an `_index` of
    its own in that index, as `EventStore.ingest_files(index=…)` does.
    """

    def __init__(self, session: SparkSession, paths: Iterable[str] = (), *,
                 index: str | None = None, workdir: str | None = None,
                 partitions: int | None = None) -> None:
        self.lake = LakeFields()
        super().__init__(self.lake, session, partitions=partitions)  # type: ignore[arg-type]
        self._workdir = workdir.rstrip("/") if workdir is not None else self._dir.as_uri()
        self._parts: list[_Part] = []
        self._replaced: set[int] = set()  # `_doc`s a later document of the same _index/_id hid
        self._names: tuple[str, ...] = ()
        self._read_lock = threading.Lock()
        self.report = IngestReport()
        self._publish()
        paths = list(paths)
        if paths:
            self.add_paths(paths, index)

    # -- reading ------------------------------------------------------------------------------

    def add_paths(self, paths: Iterable[str], index: str | None = None) -> IngestReport:
        """Read more files (one ingest: their documents come after those read before) and
        tell what was read; `self.report` sums every read."""
        with self._read_lock:
            files = list_files(self.session, paths)
            report = self._read(files, index) if files else IngestReport()
            self.report += report
            return report

    def _read(self, files: list[LakeFile], index: str | None) -> IngestReport:
        lines = self._run(lambda: self._lines(files))
        known = {name: found.es_type for name, found in self.lake.fields.items()}
        learn = functools.partial(_learn, known, index)
        learned = _merge(self._collect_rdd(lines.rdd.mapPartitions(learn)), files)
        report = IngestReport(files=[file.name for file in files])
        first_doc = self._parts[-1].last_doc + 1 if self._parts else 1
        splits = _number(learned, files, first_doc)
        for file_uri, start, position, message in sorted(
                learned.bad, key=lambda bad: (splits[bad[:2]].file, bad[1], bad[2])):
            split = splits[(file_uri, start)]
            report.bad_lines.append(BadLine(files[split.file].name,
                                            split.first_line + position + 1, message))
        report.events = sum(docs for _, docs in learned.splits.values())
        report.without_index = learned.without_index
        lists = self._learn_fields(learned, splits)
        slots = {name: (position, found.es_type, lists[name])
                 for position, (name, found) in enumerate(self.lake.fields.items())}
        schema = ", ".join([_META_SCHEMA, *(
            f"{found.physical} {_spark_type(found.es_type, lists[name])}"
            for name, found in self.lake.fields.items())])
        typed_rows = functools.partial(_typed_rows, slots, splits, [f.name for f in files],
                                       [f.parquet for f in files], index)
        path = f"{self._workdir}/lake-{len(self._parts) + 1}"
        frame = self.session.createDataFrame(lines.rdd.mapPartitions(typed_rows), schema,
                                             verifySchema=False)
        self._run(lambda: frame.write.mode("overwrite").parquet(path))
        shared = self._collect(
            f"SELECT _index, _id FROM parquet.`{path}` WHERE _derived "
            "GROUP BY _index, _id HAVING count(*) > 1")
        last_doc = first_doc + report.events - 1
        self._parts.append(_Part(path, first_doc, last_doc, lists,
                                 frozenset((row[0], row[1]) for row in shared)))
        for (failures,) in self._collect(f"SELECT _failures FROM parquet.`{path}` "
                                         "WHERE _failures IS NOT NULL ORDER BY _doc"):
            for text in failures:
                name, es_type, file, line, item, value, message = orjson.loads(text)
                report.add_failure(name, es_type, CoercionFailure(file, line, item, value,
                                                                  message))
        if learned.explicit_ids or len(self._parts) > 1:
            report.replaced = self._hide_replaced()
        self._names = tuple(sorted({*self._names, *learned.indices}))
        self._publish()
        return report

    def _lines(self, files: list[LakeFile]) -> DataFrame:
        """(text, file URI, split start) of every line of NDJSON and row of Parquet."""
        from pyspark.sql import functions

        place = [functions.col("_metadata.file_path"), functions.col("_metadata.file_block_start")]
        frames = []
        ndjson = [file.uri for file in files if not file.parquet]
        parquet = [file.uri for file in files if file.parquet]
        if ndjson:
            frames.append(self.session.read.text(ndjson).select("value", *place))
        if parquet:
            rows = self.session.read.option("mergeSchema", "true").parquet(*parquet)
            as_json = functions.to_json(functions.struct(*[functions.col(spark_identifier(c))
                                                           for c in rows.columns]),
                                        _TO_JSON_OPTIONS)
            frames.append(rows.select(as_json.alias("value"), *place))
        return functools.reduce(lambda left, right: left.unionAll(right), frames)

    def _learn_fields(self, learned: _Learned, splits: dict[tuple[str, int], _Split]
                      ) -> dict[str, bool]:
        """New fields join the lake in the order the store would create their columns;
        every field's list-ness in this read."""
        def order(item: tuple[str, tuple[tuple, str | None]]) -> tuple:
            (file, start, *rest), _ = item[1]
            return (splits[(file, start)].file, start, *rest)

        for name, (_, kind) in sorted(learned.first.items(), key=order):
            if name not in self.lake.fields:
                self.lake.add(name, kind or _ecs(name)[0] or "keyword", False)
        lists: dict[str, bool] = {}
        for name, found in self.lake.fields.items():
            is_list = found.is_list or (_ecs(name)[1] and _ecs(name)[0] == found.es_type) \
                or found.es_type in learned.lists.get(name, ())
            lists[name] = is_list
            found.is_list = is_list
        return lists

    def _hide_replaced(self) -> int:
        """ES keeps the last document of an `_index` and `_id`: the earlier ones are hidden."""
        union = self._union(with_replaced=False)
        rows = self._collect(
            f"SELECT e._doc FROM {union} e JOIN (SELECT _index, _id, max(_doc) AS last FROM "
            f"{union} WHERE NOT _derived GROUP BY _index, _id HAVING count(*) > 1) r "
            "ON e._index = r._index AND e._id = r._id AND e._doc < r.last")
        before = len(self._replaced)
        self._replaced.update(row[0] for row in rows)
        return len(self._replaced) - before

    # -- the view -----------------------------------------------------------------------------

    def _union(self, *, with_replaced: bool = True) -> str:
        """SQL of every part's rows, every field in its lake type (a part that held a field
        as scalars gives it as one-element lists where later reads made it a list)."""
        selects = []
        for part in self._parts:
            columns = ["_doc", "_index", "_id", "_derived", "_source"]
            for name, found in self.lake.fields.items():
                sql = spark_identifier(found.physical)
                if name not in part.lists:
                    value = f"CAST(NULL AS {found.spark_type})"
                elif found.is_list and not part.lists[name]:
                    value = f"CASE WHEN {sql} IS NULL THEN NULL ELSE array({sql}) END"
                else:
                    value = sql
                columns.append(f"{value} AS {sql}")
            selects.append(f"SELECT {', '.join(columns)} FROM parquet.`{part.path}`")
        if not selects:
            columns = ["CAST(NULL AS BIGINT) AS _doc", "CAST(NULL AS STRING) AS _index",
                       "CAST(NULL AS STRING) AS _id", "CAST(NULL AS BOOLEAN) AS _derived",
                       "CAST(NULL AS STRING) AS _source"]
            selects.append(f"SELECT {', '.join(columns)} WHERE FALSE")
        union = " UNION ALL ".join(selects)
        if with_replaced and self._replaced:
            hidden = ", ".join(map(str, sorted(self._replaced)))
            union = f"SELECT * FROM ({union}) WHERE _doc NOT IN ({hidden})"
        return f"({union})"

    def _publish(self) -> None:
        """Point the backend's view at every part read; prefetched answers are stale now."""
        self._sql(f"SELECT * FROM {self._union()}").createOrReplaceTempView(self._view)
        with self._store_lock:
            self._prefetched.clear()

    def _events(self) -> str:
        return self._view

    # -- metadata and documents -----------------------------------------------------------------

    def index_names(self) -> tuple[str, ...]:
        """Every index name the reads gave a document."""
        return self._names

    def indices(self, patterns: str | Sequence[str],
                names: Sequence[str] | None = None) -> tuple[str, ...]:
        """Index names selected by ES multi-target syntax, as DuckDBBackend selects them."""
        return select_indices(patterns, self._names if names is None else names)

    def documents(self, docs: Iterable[int]) -> dict[int, Document]:
        """The documents at these positions (shard_doc), fetched from the typed Parquet."""
        return positioned(self._stored_documents, docs)

    def _stored_documents(self, docs: Iterable[int]) -> dict[int, Document]:
        """The documents with these `_doc` numbers; the id of a later identical copy is told
        as the store tells it (the copies before it counted)."""
        wanted = sorted(set(docs))
        found: dict[int, Document] = {}
        for start in range(0, len(wanted), _DOCUMENT_CHUNK):
            chunk = ", ".join(map(str, wanted[start:start + _DOCUMENT_CHUNK]))
            for doc, index, doc_id, derived, source in self._collect(
                    f"SELECT _doc, _index, _id, _derived, _source FROM {self._events()} "
                    f"WHERE _doc IN ({chunk})"):
                if derived:
                    doc_id = self._copy_id(doc, index, doc_id, source)
                found[doc] = Document(index, doc_id, source)
        return found

    def _copy_id(self, doc: int, index: str, doc_id: str, source: str) -> str:
        part = next(part for part in self._parts if part.first_doc <= doc <= part.last_doc)
        if (index, doc_id) not in part.shared_ids:
            return doc_id
        ((seen,),) = self._collect(
            f"SELECT count(*) FROM parquet.`{part.path}` WHERE _derived AND "
            f"_index = {spark_literal(index)} AND _id = {spark_literal(doc_id)} "
            f"AND _doc < {int(doc)}")
        canonical = orjson.dumps(orjson.loads(source), option=orjson.OPT_SORT_KEYS)
        return derived_id(index, canonical, int(seen))

    # -- Spark ----------------------------------------------------------------------------------

    def _collect_rdd(self, rdd: Any) -> list[Any]:
        return self._run(rdd.collect)

    def _run(self, action: Any) -> Any:
        """Run a Spark action of a read; a failure is a LakeError with Spark's reason."""
        from py4j.protocol import Py4JJavaError
        from pyspark.errors import PySparkException

        try:
            return action()
        except (PySparkException, Py4JJavaError) as error:
            message = _java_message(error).strip().splitlines()
            raise LakeError(f"Spark could not read the lake: {message[0] if message else ''}"
                            ) from None


def _spark_type(es_type: str, is_list: bool) -> str:
    scalar = SPARK_TYPES.get(es_type, "STRING")
    return f"ARRAY<{scalar}>" if is_list else scalar


def _merge(partitions: list[_Learned], files: list[LakeFile]) -> _Learned:
    """The partitions' findings as one, the first value of each field by file order."""
    number = {_file_key(file.uri): position for position, file in enumerate(files)}
    merged = _Learned()
    for learned in partitions:
        for key, (lines, docs) in learned.splits.items():
            counts = merged.splits.setdefault(key, [0, 0])
            counts[0] += lines
            counts[1] += docs
        for name, (order, kind) in learned.first.items():
            mine = merged.first.get(name)
            ranked = (number[_file_key(order[0])], *order[1:])
            if mine is None or ranked < (number[_file_key(mine[0][0])], *mine[0][1:]):
                merged.first[name] = (order, kind)
        for name, fitting in learned.lists.items():
            merged.lists.setdefault(name, set()).update(fitting)
        merged.bad.extend(learned.bad)
        merged.indices.update(learned.indices)
        merged.without_index += learned.without_index
        merged.explicit_ids += learned.explicit_ids
    for file_uri, _ in merged.splits:
        if _file_key(file_uri) not in number:
            raise LakeError(f"Spark read {file_uri}, which was not listed")
    return merged


def _number(learned: _Learned, files: list[LakeFile], first_doc: int
            ) -> dict[tuple[str, int], _Split]:
    """Each split's file, first `_doc` and first line: documents numbered in file order."""
    number = {_file_key(file.uri): position for position, file in enumerate(files)}
    ordered = sorted(learned.splits.items(),
                     key=lambda item: (number[_file_key(item[0][0])], item[0][1]))
    splits: dict[tuple[str, int], _Split] = {}
    doc = first_doc
    for file, group in itertools.groupby(ordered, key=lambda item: item[0][0]):
        line = 0
        for key, (lines, docs) in group:
            splits[key] = _Split(number[_file_key(file)], doc, line)
            doc += docs
            line += lines
    return splits

