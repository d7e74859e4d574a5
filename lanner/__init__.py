"""Lanner: Elastic Security EQL detection rules over ECS event data, without Elasticsearch."""

from lanner import eql
from lanner.eql import parse
from lanner.errors import LannerError, Location

__version__ = "0.1.0"

__all__ = ["LannerError", "Location", "__version__", "eql", "parse"]
