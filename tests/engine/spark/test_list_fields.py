"""Helpers applied to multi-valued fields: the compiler binds each value in a lambda, where
Spark runs no Python UDF, so the Spark dialect writes the helpers natively there. Every such
query gives DuckDB's answer."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from lanner.engine.client import Lanner
from tests.engine.spark.session import engine_pair, indexed

MAPPING = {"properties": {
    "@timestamp": {"type": "date"}, "seq": {"type": "long"},
    "event": {"properties": {"category": {"type": "keyword"}}},
    "ips": {"type": "ip"}, "versions": {"type": "version"}, "texts": {"type": "keyword"},
    "ratios": {"type": "double"}, "counts": {"type": "long"},
}}
IPS = ["10.0.0.5", "10.1.2.3", "192.168.1.1", "::1", "fe80::1", "::ffff:10.0.0.9",
       "2001:db8::8a2e:370:7334", "172.16.0.1"]
VERSIONS = ["1.0.0", "1.2.3", "1.10.0", "2.0.0-alpha.1", "2.0.0", "1.2.3+build.5", "0.9",
            "not.a.version"]
TEXTS = ["abcabc", "0x1F", "ff", "42", "-7.5", "Hello World", "a.b.c", "", "éàü-ß", "1e3",
         "  12  "]
RATIOS = [0.0, -0.0, 1.5, 1e7, 0.001, 1.5e-4, 123456789.25, -2.5, 1e23, 3.0]


def _pick(values: list[Any], start: int, width: int) -> list[Any]:
    return [values[(start + i) % len(values)] for i in range(width)]


def _documents() -> list[dict[str, Any]]:
    """Sixty events whose list fields hold two or three values each (some one, some none)."""
    docs = []
    for n in range(60):
        width = n % 4  # 0: no values, 1: a single value, 2-3: a list
        doc: dict[str, Any] = {"@timestamp": 1_700_000_000_000 + n, "seq": n,
                               "event": {"category": "process"}}
        if width:
            doc.update(ips=_pick(IPS, 3 * n, width), versions=_pick(VERSIONS, 5 * n, width),
                       texts=_pick(TEXTS, 7 * n, width), ratios=_pick(RATIOS, 3 * n, width),
                       counts=[n % 7, n % 5][:width])
        docs.append(doc)
    return docs


@pytest.fixture(scope="module")
def engines(spark: Any) -> Iterator[tuple[Lanner, Lanner]]:
    with engine_pair(indexed("lists", MAPPING, _documents)) as (duck, sparked):
        yield duck, sparked


# Every helper the compiler calls, on a list field; some match nothing, which is an answer too.
QUERIES = [
    'any where cidrMatch(ips, "10.0.0.0/8")',
    'any where cidrMatch(ips, "10.0.0.0/16", "::1/128", "fe80::/10")',
    'any where ips == "10.0.0.9"',
    'any where ips == "::ffff:10.0.0.9"',
    'any where ips in ("192.168.1.1", "::1")',
    'any where ips > "172.16.0.0"',
    'any where ips != "10.0.0.5"',
    'any where ips == "10.0.0.0/8"',
    'any where versions >= "1.2.0"',
    'any where versions < "2.0.0"',
    'any where versions == "1.2.3+build.5"',
    'any where versions in ("0.9", "1.10.0")',
    'any where between(texts, "a", "c") == "b"',
    'any where between~(texts, "H", "O", true) : "ello w"',
    'any where between(texts, "-", "") != null',
    'any where indexOf(texts, "b") == 1',
    'any where indexOf~(texts, "W", 2) == 6',
    'any where indexOf(texts, "") == 0',
    'any where substring(texts, 1, 3) == "bc"',
    'any where substring(texts, -2) == "ff"',
    'any where number(texts) > 5',
    'any where number(texts, 16) == 255',
    'any where number(texts) + counts == 45',
    'any where number(substring(texts, 2), 16) == 31',
    'any where string(ratios) == "1.5E-4"',
    'any where string(ratios) : ("1.0E7", "1.0E23", "0.0", "1.2345678925E8")',
    'any where concat(texts, ratios) == "423.0"',
    'any where ratios / 2 == 0.75',
    'any where length(texts) == 6 and startsWith(texts, "a")',
    'any where ips == "10.0.0.5" and versions == "1.2.3"',
]


@pytest.mark.parametrize("query", QUERIES)
def test_helpers_on_list_fields_agree(engines: tuple[Lanner, Lanner], query: str) -> None:
    duck, sparked = engines

    def ids(es: Lanner) -> list[str]:
        hits = es.eql.search(index="lists", query=query, size=100)["hits"]
        return [event["_id"] for event in hits["events"]]

    assert ids(sparked) == ids(duck)


def test_most_list_queries_find_something(engines: tuple[Lanner, Lanner]) -> None:
    """The comparison above is not vacuous: nearly every query matches some events."""
    duck, _ = engines
    empty = [query for query in QUERIES
             if not duck.eql.search(index="lists", query=query)["hits"]["events"]]
    assert len(empty) <= 3, empty
