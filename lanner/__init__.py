"""Lanner: Elastic Security EQL detection rules over ECS event data, without Elasticsearch."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from lanner import eql
from lanner.eql import parse
from lanner.errors import LannerError, Location

if TYPE_CHECKING:
    from lanner.engine.client import Lanner

__version__ = "0.1.0"

__all__ = ["LannerError", "Location", "__version__", "connect", "eql", "parse"]


def connect(path: str | Path | None = None, *, engine: str = "duckdb",
            spark_master: str = "local[*]") -> Lanner:
    """An Elasticsearch-shaped client over an event store: in memory, or in a DuckDB file;
    searches run on DuckDB, or on Apache Spark (`engine="spark"`, needs lanner[spark]).

    Imported on first use, so that `import lanner` stays light for the front end and CLI.
    """
    from lanner.engine.client import connect as open_client

    return open_client(path, engine=engine, spark_master=spark_master)
