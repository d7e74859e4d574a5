"""The event store: ECS documents in DuckDB, typed as Elasticsearch would index them."""

from lanner.store.events import (
    CoercionFailure,
    Column,
    EventStore,
    FieldFailures,
    IngestReport,
    flatten,
    quote,
)
from lanner.store.mappings import (
    FieldMapping,
    MappingError,
    StoreError,
    load_mapping_file,
    parse_mapping,
)
from lanner.store.readers import BadLine, Record, read_bulk, read_file, read_objects

__all__ = [
    "BadLine",
    "CoercionFailure",
    "Column",
    "EventStore",
    "FieldFailures",
    "FieldMapping",
    "IngestReport",
    "MappingError",
    "Record",
    "StoreError",
    "flatten",
    "load_mapping_file",
    "parse_mapping",
    "quote",
    "read_bulk",
    "read_file",
    "read_objects",
]
