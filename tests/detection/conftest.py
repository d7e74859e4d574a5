"""The detector the rule-type tests run their rules with: a fresh in-memory DuckDB store."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from lanner.detection.run import Detector
from lanner.engine.backends.duckdb import DuckDBBackend
from lanner.store import EventStore
from lanner.store.alerts import AlertStore


@pytest.fixture
def detector() -> Iterator[Detector]:
    with EventStore() as store:
        yield Detector(DuckDBBackend(store), AlertStore(store.con))
