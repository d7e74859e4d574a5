"""KQL means the same on Spark as on DuckDB: one Query DSL compiler, two SQL dialects."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from lanner.engine.client import Lanner
from tests.engine.spark.session import engine_pair
from tests.engine.test_kql_search import load

# (KQL, the ids it leaves): text words and phrases, wildcards per type, CIDR, date rounding,
# `.caseless`, arrays, field-name wildcards, nested, free text, `not` on missing fields
CASES = [
    ('message:"invoke mimikatz" or message:hello', ["d1", "d2"]),
    ('powershell.file.script_block_text:"Invoke-Mimikatz"', ["d1"]),
    ("powershell.file.script_block_text:*mimikatz*", ["d1", "d2"]),
    ("process.name:*r sh* or process.command_line:*c whoami*", ["d3"]),
    ("process.name.caseless:CMD*", ["d1", "d2"]),
    ('source.ip:10.0.0.0/8 or source.ip:"fe80::/10"', ["d1", "d2"]),
    ('@timestamp:"2025-01-02" or @timestamp > "2025-01-03"', ["d2", "d4"]),
    ("tags:(a and b) or file.hash.*:abc", ["d1", "d2"]),
    ("sig:{ subject:Evil and trusted:true }", ["d2"]),
    ("mimikatz and not process.pid >= 70000", ["d1", "d2"]),
    ("not process.name:*", ["d4"]),
]


@pytest.fixture(scope="module")
def engines(spark: Any) -> Iterator[tuple[Lanner, Lanner]]:
    with engine_pair(load) as (duck, sparked):
        yield duck, sparked


def test_kql_leaves_the_same_events_on_both_engines(engines: tuple[Lanner, Lanner]) -> None:
    for query, expected in CASES:
        found = [sorted(hit["_id"] for hit in es.search(index="docs", kql=query, size=50)
                        ["hits"]["hits"]) for es in engines]
        assert found == [expected, expected], query
