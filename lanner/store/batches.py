"""Rows of a batch of documents into the events table, in one INSERT.

The ingest turns documents into rows (one dict of column -> value each, and the document's
compact JSON); a sealed batch carries, besides them, the schema changes that must run first
and the SQL types DuckDB reads the rows with.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import duckdb
import orjson

from lanner.store.catalog import SchemaChanges
from lanner.store.columns import Physical, quote
from lanner.store.tables import META_COLUMNS, PLACE_COLUMNS, Execute, apply_changes

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
class Batch:
    """Rows ready for the writer, with the schema changes that must run before them."""

    rows: list[dict[str, Any]]
    sources: list[bytes]
    changes: SchemaChanges
    json_types: dict[str, str]
    selects: list[str]
    names: list[str]
    replaces: bool  # whether stored (or earlier) documents may share an _index and _id


def seal(rows: list[dict[str, Any]], sources: list[bytes], physicals: Iterable[Physical],
         changes: SchemaChanges, replaces: bool) -> Batch:
    """Freeze a batch for the writer: the columns its rows hold and how DuckDB reads them."""
    present: set[str] = set()
    for row in rows:
        present.update(row.keys())
    columns = [column for column in physicals if column.physical in present]
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
    return Batch(rows, sources, changes, json_types, selects, names, replaces)


def insert(execute: Execute, con: duckdb.DuckDBPyConnection, batch: Batch) -> int:
    """Insert a sealed batch; returns the stored documents it replaced.

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
        apply_changes(execute, batch.changes)
        execute("BEGIN TRANSACTION")
        try:
            execute(
                f"INSERT INTO events ({', '.join(batch.names)}) "
                f"SELECT {', '.join(batch.selects)} FROM "
                f"read_json(?, format = 'array', columns = ?, maximum_object_size = {bound}) "
                f"POSITIONAL JOIN {_RAW_LINES.replace('BOUND', str(bound))}",
                [rows_file, batch.json_types, sources_file],
            )
            if batch.replaces:
                deleted = execute(
                    "DELETE FROM events USING (SELECT _index, _id, max(_doc) AS last "
                    "FROM events WHERE _doc >= ? GROUP BY ALL) AS new "
                    "WHERE events._index = new._index AND events._id = new._id "
                    "AND events._doc < new.last",
                    [batch.rows[0]["_doc"]],
                ).fetchone()
                replaced = deleted[0] if deleted else 0
            execute("COMMIT")
        except BaseException:
            with contextlib.suppress(duckdb.Error):
                con.execute("ROLLBACK")
            raise
    return replaced
