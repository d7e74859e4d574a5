"""The store's tables in DuckDB: the connection, the `events` table and the metadata tables
that let a store opened again know its columns, typings and mappings."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import duckdb
import orjson

from lanner.store.catalog import FieldCatalog, SchemaChanges
from lanner.store.columns import Physical, quote
from lanner.store.mappings import FieldMapping, StoreError

Execute = Callable[..., duckdb.DuckDBPyConnection]

META_COLUMNS = {"_doc": "BIGINT", "_index": "VARCHAR", "_id": "VARCHAR", "_source": "VARCHAR"}
# Where a document read by the columnar route is (its `_source` and `_id` are told from the
# file when fetched), and a hash of its fields, so that identical copies are found fast.
PLACE_COLUMNS = {"_file": "INTEGER", "_line": "BIGINT", "_hash": "BIGINT"}


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


def create_tables(execute: Execute) -> None:
    """The events table and the metadata tables, unless they exist."""
    meta = ", ".join(f"{quote(name)} {kind}" for name, kind in META_COLUMNS.items())
    execute(f"CREATE TABLE IF NOT EXISTS events ({meta})")
    for name, kind in PLACE_COLUMNS.items():  # a store made before they existed
        execute(f"ALTER TABLE events ADD COLUMN IF NOT EXISTS {name} {kind}")
    execute(
        "CREATE TABLE IF NOT EXISTS _lanner_columns (ordinal INTEGER, name VARCHAR PRIMARY "
        "KEY, physical VARCHAR, es_type VARCHAR, base_type VARCHAR, is_list BOOLEAN)"
    )
    execute(
        "CREATE TABLE IF NOT EXISTS _lanner_mappings "
        "(index_name VARCHAR PRIMARY KEY, mapping VARCHAR)"
    )
    execute(  # which column holds an index's values of a field (lanner.store.columns)
        "CREATE TABLE IF NOT EXISTS _lanner_typing (index_name VARCHAR, name VARCHAR, "
        "physical VARCHAR, es_type VARCHAR, base_type VARCHAR, is_list BOOLEAN, "
        "PRIMARY KEY (index_name, name))"
    )


def load_catalog(execute: Execute, catalog: FieldCatalog) -> None:
    """What the metadata tables say of the columns, typings and mappings, into `catalog`."""
    rows = execute(
        "SELECT name, physical, es_type, base_type, is_list "
        "FROM _lanner_columns ORDER BY ordinal"
    ).fetchall()
    for row in rows:
        catalog.load_column(Physical(*row))
    by_physical = {column.physical: column for column in catalog.first.values()}
    for index, name, physical, es_type, base_type, is_list in execute(
            "SELECT * FROM _lanner_typing ORDER BY index_name, name").fetchall():
        catalog.load_typing(index, Physical(name, physical, es_type, base_type, is_list),
                            by_physical)
    for index, text in execute("SELECT * FROM _lanner_mappings").fetchall():
        catalog.load_mapping(index, {path: FieldMapping(**fields)
                                     for path, fields in orjson.loads(text).items()})
    for (physical,) in execute(
        "SELECT column_name FROM duckdb_columns() WHERE table_name = 'events' "
        "AND schema_name = 'main' AND database_name = current_database()"
    ).fetchall():
        catalog.reserve(physical)  # even one a crash left without metadata


def apply_changes(execute: Execute, changes: SchemaChanges) -> None:
    """Run the schema changes in order, then write their metadata rows."""
    for statement in changes.ddl:
        execute(statement)
    for table, rows in (("_lanner_columns", changes.columns),
                        ("_lanner_typing", changes.typing)):
        if rows:
            placeholders = ", ".join(["(?, ?, ?, ?, ?, ?)"] * len(rows))
            values = [value for row in rows for value in row]
            execute(f"INSERT OR REPLACE INTO {table} VALUES {placeholders}", values)


def save_mapping(execute: Execute, index: str, mapping: dict[str, FieldMapping]) -> None:
    """Record `index`'s explicit mapping (flat), replacing what it had."""
    execute("INSERT OR REPLACE INTO _lanner_mappings VALUES (?, ?)",
            [index, orjson.dumps({path: _mapping_json(mapped)
                                  for path, mapped in mapping.items()}).decode()])


def _mapping_json(mapped: FieldMapping) -> dict[str, Any]:
    return {name: getattr(mapped, name) for name in FieldMapping.__dataclass_fields__}
