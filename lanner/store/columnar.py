"""Plain NDJSON read by DuckDB's JSON reader: only the fields the rules read, typed in SQL.

The general ingest flattens and types every field of every document in Python; a hunt needs
only the fields its rules read. Here DuckDB parses the file on every core into an explicit
column tree of those fields (JSON leaves, so no value changes shape silently), SQL types the
values written the common way (a string for a keyword, an integer literal for a long, ISO-8601
UTC text for a date, ...), and every document holding anything else is handed, whole, to the
general ingest, so the Python coercers stay the only authority on unusual values.

What is not stored is told again on demand: `_source` and a derived `_id` come from the file
(`_file`, `_line`) when a document is fetched (EventStore.documents).

A file is read here only when nothing can be lost: its first lines (the sample) show plain
documents without dotted keys, hits or bulk actions, and DuckDB reads it in strict mode. A
file DuckDB refuses (a malformed line, a shape the sample did not show) is learned from or left
to the general ingest, which reports every bad line with its number.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import duckdb
import orjson

from lanner.store.indices import INDEX_FIELDS, derive_index
from lanner.store.limits import current_limits
from lanner.store.mappings import VERBATIM_STRING_TYPES, ancestors, duckdb_type
from lanner.store.multifields import stored_field
from lanner.store.readers import duplicate_key

# Bytes of a file read by one statement into a store in memory: each statement costs a fixed
# planning time (its SQL types 300 fields), and the rows of a piece stay uncompressed until
# the checkpoint after it. A store on disk reads a file in one statement (see chunks()).
CHUNK_BYTES = 512 * 1024 * 1024
# The largest document DuckDB reads here: its reader holds buffers of this size per thread,
# so a larger bound costs memory on every file; a larger document sends its file the
# general way (DuckDB refuses it, naming no shape to learn).
MAX_DOCUMENT_BYTES = 16 * 1024 * 1024
# Documents read in Python before DuckDB is asked: shapes DuckDB would refuse, dotted keys.
SAMPLE_LINES = 2_000
# Times a file refused by DuckDB is learned from and read again before the general ingest.
MAX_ATTEMPTS = 3
# Documents of one statement holding a field the sample never showed (each goes through the
# general row code, about 0.1 ms) past which the statement is read again with every field.
UNSEEN_DOCUMENTS = 10_000
_LINE_OF_ERROR = re.compile(r"in line (\d+)")
_BULK_ACTIONS = frozenset({"index", "create", "update", "delete"})
_HIT_KEYS = frozenset({"_source", "_index", "_id", "hits"})
_INTEGER_BOUNDS = {"long": (-(2**63), 2**63 - 1), "integer": (-(2**31), 2**31 - 1),
                   "short": (-(2**15), 2**15 - 1), "byte": (-(2**7), 2**7 - 1)}
_ISO_UTC = r"[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,9})?Z"  # noqa: E501
_IPV4 = r"((25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"  # noqa: E501


class NotColumnar(Exception):
    """The file must go through the general ingest; the message says why (for --profile)."""


@dataclass(slots=True)
class Shape:
    """The column tree DuckDB reads: nested names down to JSON leaves. A node the data holds
    as an array or a scalar somewhere (`process.Ext.code_signature` in Defend data) is read as
    one JSON value, and its fields are taken out of it in SQL.

    Only the fields the documents learned from hold (`seen`) are typed and stored: of the 317
    fields of all the corpus rules a generated endpoint file holds 93, and a column that is
    NULL on every row still costs its reading and storing (a third of the statement). Each
    topmost node the sample never showed is read as one JSON value, a document holding one
    is odd (see UNSEEN_DOC), and past UNSEEN_DOCUMENTS of them the statement reads
    `everything`."""

    fields: tuple[str, ...]
    json_nodes: set[str] = field(default_factory=set)
    node_tree: dict[str, Any] = field(default_factory=dict)  # the objects above the fields
    # Fields a document read so far holds as several values (an array, or a value inside an
    # array of objects): the general ingest makes their columns lists, so SQL types them so.
    lists: set[str] = field(default_factory=set)
    field_set: frozenset[str] = frozenset()
    # Paths of the tree a document learned from holds (with their parents), or that must be
    # read whatever the sample holds (see see()).
    seen: set[str] = field(default_factory=set)
    everything: bool = False
    # The fields whose values `_hash` is taken over: the same for every file and chunk of an
    # ingest, so that identical documents hash alike (lanner.store.recall finds copies by it).
    digest: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        self.field_set = frozenset(self.fields)
        for name in self.fields:
            node = self.node_tree
            for part in name.split(".")[:-1]:
                node = node.setdefault(part, {})

    def see(self, names: Iterable[str]) -> None:
        """Read these fields (and their parents as objects) whatever the sample holds."""
        for name in names:
            self.seen.update(ancestors(name))
            self.seen.add(name)

    def stored(self) -> tuple[str, ...]:
        """The fields typed and stored: seen, or at or below a node read as one JSON value."""
        if self.everything:
            return self.fields
        return tuple(name for name in self.fields
                     if name in self.seen or self._json_node_of(name) is not None)

    def unseen_nodes(self) -> tuple[str, ...]:
        """The topmost paths no document learned from holds, above (or being) the fields not
        stored: each read as one JSON value that is NULL unless a document holds it."""
        stored = set(self.stored())
        nodes: dict[str, None] = {}
        for name in self.fields:
            if name not in stored:
                parts = name.split(".")
                depth = next(depth for depth in range(1, len(parts) + 1)
                             if ".".join(parts[:depth]) not in self.seen)
                nodes[".".join(parts[:depth])] = None
        return tuple(nodes)

    def columns(self) -> dict[str, str]:
        """`read_json`'s `columns`: top-level name -> DuckDB type text."""
        tree: dict[str, Any] = {}
        for name in (*self.stored(), *self.unseen_nodes()):
            node = tree
            parts = name.split(".")
            for depth, part in enumerate(parts):
                path = ".".join(parts[:depth + 1])
                last = depth == len(parts) - 1 or path in self.json_nodes
                existing = node.get(part)
                if last:
                    if existing is None:
                        node[part] = "JSON"
                    break
                if not isinstance(existing, dict):  # a field that is also a parent: a node
                    existing = node[part] = {}
                node = existing
        return {name: _sql_type(value) for name, value in tree.items()}

    def leaf_sql(self, name: str) -> str:
        """The JSON value of a field: a column path, or taken out of the JSON node above it,
        every object of an array of objects giving its value (as ES flattens them)."""
        parts = name.split(".")
        node = self._json_node_of(name)
        if node is None:
            return _column(name)
        column = _column(node)
        rest = parts[node.count(".") + 1:]
        if not rest:
            return column
        path = "$." + ".".join(_json_key(part) for part in rest)
        each = "$[*]." + ".".join(_json_key(part) for part in rest)
        return (f"CASE WHEN json_type({column}) = 'ARRAY' "
                f"THEN json_extract({column}, '{each}') "
                f"ELSE json_extract({column}, '{path}') END")

    def _json_node_of(self, name: str) -> str | None:
        """The topmost node at or above `name` read as one JSON value, if any."""
        parts = name.split(".")
        for depth in range(1, len(parts) + 1):
            node = ".".join(parts[:depth])
            if node in self.json_nodes:
                return node
        return None

    def learn(self, document: Any) -> bool:
        """Mark as JSON nodes the objects of the tree this document holds as something else,
        note the fields it holds as lists and the paths it holds; True if it taught a node."""
        self._learn_lists(document, self.node_tree, False)
        self._learn_seen(document, self.node_tree, "")
        return self._learn(document, self.node_tree, "")

    def _learn_seen(self, value: dict[str, Any], tree: dict[str, Any], prefix: str) -> None:
        for key, inner in value.items():
            path = prefix + key
            below = tree.get(key)
            if below is not None:
                self.seen.add(path)
                if type(inner) is dict:
                    self._learn_seen(inner, below, path + ".")
                elif type(inner) is list:
                    for element in _flat_elements(inner):
                        if type(element) is dict:
                            self._learn_seen(element, below, path + ".")
            elif path in self.field_set:
                self.seen.add(path)

    def _learn_lists(self, value: dict[str, Any], tree: dict[str, Any], in_list: bool,
                     prefix: str = "") -> None:
        """Note the fields `flatten` gives a list for, as the general ingest flattens: an
        array holding a value that is not an object, or any value below an array of objects."""
        for key, inner in value.items():
            path = prefix + key
            below = tree.get(key)
            if below is not None:  # an object above some fields
                if type(inner) is dict:
                    self._learn_lists(inner, below, in_list, path + ".")
                elif type(inner) is list:
                    for element in _flat_elements(inner):
                        if type(element) is dict:
                            self._learn_lists(element, below, True, path + ".")
            elif path in self.field_set:
                if type(inner) is list:
                    if any(type(element) is not dict for element in _flat_elements(inner)):
                        self.lists.add(path)
                elif in_list and type(inner) is not dict:
                    self.lists.add(path)

    def _learn(self, value: dict[str, Any], tree: dict[str, Any], prefix: str) -> bool:
        taught = False
        for key, below in tree.items():
            inner = value.get(key)
            if inner is None:
                continue
            path = prefix + key
            if type(inner) is dict:
                if path not in self.json_nodes:
                    taught = self._learn(inner, below, path + ".") or taught
            elif path not in self.json_nodes:
                self.json_nodes.add(path)
                taught = True
        return taught


def plain_ndjson(path: str) -> bool:
    """Whether the file starts like plain NDJSON (not compressed, not an array or Parquet)."""
    with open(path, "rb") as raw:
        head = raw.read(4096).lstrip()
    return head.startswith(b"{")


def sample(path: str, shape: Shape) -> None:
    """Read the first documents in Python: raise NotColumnar for what DuckDB would read
    differently from the general ingest, and learn the nodes that are not objects and the
    fields that hold lists. A duplicate key is left to the general ingest, which reports it
    (DuckDB sees one only among the fields it reads: see refused)."""
    allow_duplicates = current_limits().allow_duplicate_keys
    with open(path, "rb") as raw:
        for line in itertools.islice(raw, SAMPLE_LINES):
            text = line.strip()
            if not text:
                continue
            try:
                document = orjson.loads(text)
            except orjson.JSONDecodeError:
                raise NotColumnar("a malformed line among the first ones") from None
            if not allow_duplicates and duplicate_key(text, document) is not None:
                raise NotColumnar("a document with a duplicate key")
            check_plain(document)
            shape.learn(document)


def check_plain(document: Any) -> None:
    """A plain document: an object, no hit or bulk-action shape, no dotted key anywhere."""
    if type(document) is not dict:
        raise NotColumnar("a line that is not a JSON object")
    if _HIT_KEYS & document.keys():
        raise NotColumnar("search hits or documents with _index/_id")
    if len(document) == 1 and next(iter(document)) in _BULK_ACTIONS:
        raise NotColumnar("bulk actions")
    if _has_dotted_key(document):
        raise NotColumnar("dotted field names")


@contextlib.contextmanager
def chunks(path: str, size: int | None) -> Iterator[Iterator[str]]:
    """The file itself if it is small or `size` is None, else copies of consecutive
    whole-line pieces of it of about `size` bytes (one at a time, in a temporary folder).

    None suits a store on disk, which needs no checkpoint to compress its rows: there, the
    checkpoint after the first statement into a table is free, but after every later one it
    takes about 3 s per 250k events on one thread (5M events in pieces of 512 MB: 154 s of
    ingest, 45 s of it in checkpoints; in one statement: 84 s)."""
    total = os.path.getsize(path)
    if size is None or total <= size:
        yield iter([path])
        return
    with tempfile.TemporaryDirectory(prefix="lanner-chunks-") as folder:
        yield _pieces(path, os.path.join(folder, "piece.ndjson"), size, total)


def _pieces(path: str, piece: str, size: int, total: int) -> Iterator[str]:
    with open(path, "rb") as raw:
        start = 0
        while start < total:
            raw.seek(start + size)
            raw.readline()  # to the end of the line the boundary falls in
            end = min(raw.tell(), total)
            raw.seek(start)
            with open(piece, "wb") as out:
                remaining = end - start
                while remaining:
                    block = raw.read(min(remaining, 16 << 20))
                    out.write(block)
                    remaining -= len(block)
            yield piece
            start = end


# `_doc` of a document stored as a placeholder because a value needs the Python coercers, or
# because it holds a node the sample never showed (Shape.unseen_nodes).
ODD_DOC = -1
UNSEEN_DOC = -2


def read_sql(path: str, shape: Shape) -> str:
    """`read_json` of a file in strict mode, with the column tree of the shape."""
    spec = "{" + ", ".join(f"{_literal(name)}: {_literal(kind)}"
                           for name, kind in shape.columns().items()) + "}"
    # A line over the reader's limit too is refused, so that the general ingest reports it.
    bound = min(MAX_DOCUMENT_BYTES, current_limits().max_line_bytes)
    return (f"read_json({_literal(path)}, format = 'newline_delimited', columns = {spec}, "
            f"ignore_errors = false, maximum_object_size = {bound})")


def insert_sql(path: str, shape: Shape, typed: list[Typed], targets: dict[str, str],
               file: int) -> str:
    """The one statement that reads a file into the events table, typing every field as it
    is read (no staging table: one pass, DuckDB parsing on every core, rows in file order).

    `targets`: quoted column -> the SQL of its value (from `typed`). A document with a
    value SQL does not type is stored too, as a placeholder with `_doc` = ODD_DOC, so that
    its position is known; so is a document holding a node the sample never showed, with
    `_doc` = UNSEEN_DOC. `_doc` and `_line` of the others are told from their row ids
    afterwards (a window function numbering rows would keep DuckDB to one core)."""
    nodes = shape.unseen_nodes()
    leaves = ", ".join([*(f"{shape.leaf_sql(name)} AS {_quote(name)}"
                          for name in shape.stored()),
                        *(f"{_column(node)} AS {_quote(_UNSEEN + node)}" for node in nodes)])
    odd = " OR ".join(f"({field_typed.odd})" for field_typed in typed) or "false"
    unseen = " OR ".join(f"s.{_quote(_UNSEEN + node)} IS NOT NULL" for node in nodes) or "false"
    digest = ", ".join(f"s.{_quote(name)}" for name in shape.digest or shape.stored())
    names = ", ".join(["_file", "_doc", "_hash", *targets])
    position = (f"CASE WHEN {unseen} THEN {UNSEEN_DOC} "
                f"WHEN coalesce({odd}, false) THEN {ODD_DOC} END")
    values = ", ".join([str(int(file)), position, f"CAST(hash({digest}) >> 1 AS BIGINT)",
                        *targets.values()])
    return (f"INSERT INTO events ({names}) SELECT {values} "
            f"FROM (SELECT {leaves} FROM {read_sql(path, shape)}) s")


def refused(error: duckdb.Error, path: str, shape: Shape) -> None:
    """Learn from the document DuckDB refused (named by its line) so that the next attempt
    reads it; NotColumnar when there is nothing to learn (a malformed line, a non-object, a
    duplicate key among the fields read, which the general ingest reports as a bad line)."""
    if "has duplicate key" in str(error):
        raise NotColumnar("a document with a duplicate key") from None
    found = _LINE_OF_ERROR.search(str(error))
    document = _document_at(path, int(found.group(1))) if found else None
    if document is not None:
        check_plain(document)
    if document is None or not shape.learn(document):
        raise NotColumnar(f"DuckDB refused it: {str(error).splitlines()[0]}") from None


@dataclass(frozen=True, slots=True)
class Typed:
    """One field's SQL: the stored value, and when a value needs the Python coercers."""

    name: str
    es_type: str
    is_list: bool
    value: str
    odd: str


def typed(name: str, es_type: str | None, is_list: bool) -> Typed:
    """SQL turning the JSON leaf of `name` as read into the column value, for values written
    the common way; `odd` is true for any other value (that document goes through Python),
    for which `value` is NULL or anything else that fits the column, never an error.
    `is_list`: decided before the data is read; a list where a scalar is expected is odd."""
    column = f"s.{_quote(name)}"
    if es_type is None or duckdb_type(es_type) is None:  # typed by its first value: Python
        return Typed(name, es_type or "", is_list, "NULL", f"{column} IS NOT NULL")
    value, ok = _scalar(es_type)
    if not is_list:
        return Typed(name, es_type, False, _apply(value, column),
                     f"{column} IS NOT NULL AND NOT ({_apply(ok, column)})")
    elements = f"CAST({column} AS JSON[])"
    array = f"starts_with(CAST({column} AS VARCHAR), '[')"
    # an array of strings (anything else is odd) cast whole: unquoting each element took
    # twice as long (six keyword lists of 1M events: 0.5 s, so 0.3 s)
    each = (f"CAST({column} AS VARCHAR[])" if es_type in VERBATIM_STRING_TYPES
            else f"list_transform({elements}, lambda e: {_apply(value, 'e')})")
    as_list = f"CASE WHEN {array} THEN {each} ELSE [{_apply(value, column)}] END"
    element_ok = f"(e IS NULL OR {_apply(ok, 'e')})"
    all_ok = (f"CASE WHEN {array} THEN list_bool_and(list_transform({elements}, "
              f"lambda e: {element_ok})) ELSE {_apply(ok, column)} END")
    empty = f"(CAST({column} AS VARCHAR) = '[]')"
    return Typed(name, es_type, True,
                 f"CASE WHEN {column} IS NULL OR {empty} THEN NULL ELSE {as_list} END",
                 f"{column} IS NOT NULL AND NOT {empty} AND NOT coalesce({all_ok}, false)")


def derived_index(values: tuple[Any, ...]) -> str:
    """derive_index over one combination of the typed values of the index fields ('' for
    none). For a document SQL typed whole these are the document's own values: every index
    field is a keyword, stored verbatim (or, for a list field, as the list ES would see)."""
    return derive_index(dict(zip(INDEX_FIELDS, values, strict=True)).get) or ""


def needed_fields(fields: Iterable[str]) -> tuple[str, ...]:
    """The leaf fields to read: those asked for and those an index is told by, sorted; a
    field that is the parent of another is an object, which holds no value of its own; a
    Defend multi-field is read from its parent's values."""
    wanted = {*map(stored_field, fields), *INDEX_FIELDS, "@timestamp"}
    parents = {parent for name in wanted for parent in ancestors(name)}
    return tuple(sorted(wanted - parents))


# -- SQL pieces -------------------------------------------------------------------------------


def _scalar(es_type: str) -> tuple[str, str]:
    """(value, ok) SQL templates over `{}`, a JSON scalar, for one ES type; `ok` is never
    NULL for a value. The JSON is minified text, so its first character tells its kind
    without parsing it again, and a cast that fails tells a value is not a number."""
    text = "CAST({} AS VARCHAR)"
    string = f"starts_with({text}, '\"')"
    unquoted = "({} ->> '$')"
    if es_type in VERBATIM_STRING_TYPES:
        return unquoted, string
    if es_type in _INTEGER_BOUNDS:
        low, high = _INTEGER_BOUNDS[es_type]
        fraction = f"(contains({text}, '.') OR contains({text}, 'e') OR contains({text}, 'E'))"
        whole = (f"CASE WHEN {fraction} THEN TRY_CAST(trunc(TRY_CAST({text} AS DOUBLE)) "
                 f"AS HUGEINT) ELSE TRY_CAST({text} AS HUGEINT) END")
        # NULL out of range (an odd value), so that storing the placeholder cannot fail
        value = f"TRY_CAST({whole} AS {duckdb_type(es_type)})"
        return value, f"coalesce(({whole}) BETWEEN {low} AND {high}, false)"
    if duckdb_type(es_type) == "DOUBLE" and es_type != "scaled_float":
        value = f"TRY_CAST({text} AS DOUBLE)"
        return value, f"coalesce(isfinite({value}), false)"
    if es_type == "boolean":
        return f"({text} = 'true')", f"{text} IN ('true', 'false')"
    if es_type in ("date", "date_nanos"):
        # the text between the quotes and the `Z`, cast: a third of the time of adding its
        # seconds and its fraction, and a day the month lacks (2025-02-29) or a moment out of
        # the nanosecond range is NULL, so odd, as the general ingest refuses it
        value = f"TRY_CAST(substr({text}, 2, strlen({text}) - 3) AS TIMESTAMP_NS)"
        ok = f"regexp_full_match({text}, '\"{_ISO_UTC}\"') AND {value} IS NOT NULL"
        if es_type == "date_nanos":
            ok += f" AND substr({text}, 2, 4) >= '1970'"
        return value, ok
    if es_type == "ip":
        return unquoted, f"regexp_full_match({text}, '\"{_IPV4}\"')"
    return "NULL", "false"


# The prefix of an unseen node's name in the statement (no field name starts so).
_UNSEEN = "?unseen "


def _column(path: str) -> str:
    """The column path of a dotted name in the column tree."""
    return ".".join(_quote(part) for part in path.split("."))


def _apply(template: str, sql: str) -> str:
    return template.replace("{}", sql)


def _sql_type(node: Any) -> str:
    if isinstance(node, str):
        return node
    return "STRUCT(" + ", ".join(f"{_quote(name)} {_sql_type(value)}"
                                 for name, value in node.items()) + ")"


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _json_key(part: str) -> str:
    return '"' + part.replace("\\", "\\\\").replace('"', '\\"').replace("'", "''") + '"'


def _flat_elements(items: list[Any]) -> Iterator[Any]:
    """The elements of an array, nested arrays flattened (as ES indexes them)."""
    for element in items:
        if type(element) is list:
            yield from _flat_elements(element)
        else:
            yield element


def _has_dotted_key(node: Any) -> bool:
    if type(node) is dict:
        return any("." in key or _has_dotted_key(value) for key, value in node.items())
    if type(node) is list:
        return any(_has_dotted_key(element) for element in node)
    return False


def _document_at(path: str, line: int) -> Any:
    """The document on a line (1-based), None if there is none or it is not JSON."""
    with open(path, "rb") as raw:
        for text in itertools.islice(raw, line - 1, line):
            try:
                return orjson.loads(text)
            except orjson.JSONDecodeError:
                return None
    return None
