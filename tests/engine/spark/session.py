"""The one Spark session of a test run: local, two cores, small shuffles, stopped at exit."""

from __future__ import annotations

import atexit
from functools import cache
from typing import TYPE_CHECKING

from lanner.engine.backends.spark import spark_session

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
