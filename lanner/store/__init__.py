"""The event store: ECS documents in DuckDB, typed as Elasticsearch would index them."""

from lanner.store.alerts import (
    AddResult,
    AlertFilter,
    AlertStore,
    AlertStoreError,
    AlertSummary,
)
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
from lanner.store.readers import (
    BadLine,
    Record,
    find_event_files,
    read_bulk,
    read_file,
    read_objects,
)

__all__ = [
    "AddResult",
    "AlertFilter",
    "AlertStore",
    "AlertStoreError",
    "AlertSummary",
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
    "find_event_files",
    "flatten",
    "load_mapping_file",
    "parse_mapping",
    "quote",
    "read_bulk",
    "read_file",
    "read_objects",
]
