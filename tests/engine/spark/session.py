"""The one Spark session of a test run: local, two cores, small shuffles, stopped at exit."""

from __future__ import annotations

import atexit
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from functools import cache
from typing import TYPE_CHECKING, Any

from lanner.engine.backends.spark import spark_session
from lanner.engine.client import Lanner, connect

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

TEST_MASTER = "local[2]"
TEST_CONFIG = {"spark.sql.shuffle.partitions": "4", "spark.driver.memory": "1g",
               "spark.default.parallelism": "4"}


@cache
def shared_session() -> SparkSession:
    """Started on first use; every test (and conformance) client reuses it."""
    session = spark_session(TEST_MASTER, TEST_CONFIG)
    atexit.register(session.stop)
    return session


def indexed(index: str, mapping: Mapping[str, Any],
            documents: Callable[[], Iterable[dict[str, Any]]]) -> Callable[[Lanner], Lanner]:
    """A loader for engine_pair: `index` created with `mapping`, then `documents()` bulked in."""
    def load(es: Lanner) -> Lanner:
        es.indices.create(index=index, mappings=mapping)
        operations: list[Any] = []
        for document in documents():
            operations += [{"index": {"_index": index}}, document]
        assert not es.bulk(operations=operations)["errors"]
        return es
    return load


@contextmanager
def engine_pair(load: Callable[[Lanner], Lanner]) -> Iterator[tuple[Lanner, Lanner]]:
    """A DuckDB client and a Spark client given the same documents by `load`, closed after."""
    duck, sparked = load(connect()), load(connect(engine="spark"))
    try:
        yield duck, sparked
    finally:
        duck.close()
        sparked.close()
