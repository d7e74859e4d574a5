"""A session-scoped Spark session for the Spark backend's tests."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from tests.engine.spark.session import shared_session

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


@pytest.fixture(scope="session")
def spark() -> SparkSession:
    return shared_session()
