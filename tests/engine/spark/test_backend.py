"""The Spark backend answers exactly as DuckDB does: filters, typing, ordering, slicing, and
sequences and samples matched per join key across partitions."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from lanner.engine.backends.spark import SparkBackend, SparkUnavailableError
from lanner.engine.client import Lanner, UnknownEngineError, connect
from tests.engine.spark.session import engine_pair, indexed

MAPPING = {"properties": {
    "@timestamp": {"type": "date_nanos"}, "seq": {"type": "long"},
    "event": {"properties": {"category": {"type": "keyword"}}},
    "user": {"type": "keyword"}, "host": {"type": "keyword"}, "text": {"type": "keyword"},
    "tags": {"type": "keyword"}, "ip": {"type": "ip"}, "version": {"type": "version"},
    "big": {"type": "unsigned_long"}, "ratio": {"type": "double"},
    "seen": {"type": "date"},
}}


def _documents() -> list[dict[str, Any]]:
    """Forty users on four hosts, a second apart (with sub-millisecond digits), and values
    that stress literal quoting, lists, ip/version order, unsigned longs and dates."""
    texts = ["plain", "back\\slash", "it's", "line\nbreak", "nul\0byte", "Ünïcode", "50%_off"]
    docs = []
    for n in range(120):
        docs.append({
            "@timestamp": f"2024-05-01T00:{n // 60:02d}:{n % 60:02d}.{n:03d}456789Z",
            "seq": n, "event": {"category": ["process", "network", "file"][n % 3]},
            "user": f"u{n % 40}", "host": f"h{n % 4}", "text": texts[n % len(texts)],
            "tags": [f"t{n % 5}", f"t{(n + 1) % 5}"] if n % 2 else f"t{n % 5}",
            "ip": f"10.0.{n % 3}.{n % 11}", "version": f"1.{n % 4}.{n % 10}",
            "big": 18446744073709551615 - n, "ratio": n / 7,
            "seen": f"2024-05-01T00:00:{n % 20:02d}.{n % 4:03d}{n % 1000:03d}Z",
        })
    return docs


@pytest.fixture(scope="module")
def engines(spark: Any) -> Iterator[tuple[Lanner, Lanner]]:
    with engine_pair(indexed("logs", MAPPING, _documents)) as (duck, sparked):
        sparked.backend.partitions = 3  # keys spread over several partitions
        yield duck, sparked


def _answer(es: Lanner, query: str, **options: Any) -> tuple:
    hits = es.eql.search(index="logs", query=query, tiebreaker_field="seq", **options)["hits"]
    if "events" in hits:
        return ("events", [event["_id"] for event in hits["events"]])
    return ("sequences", [(sequence.get("join_keys"),
                           [event.get("_id") for event in sequence["events"]])
                          for sequence in hits["sequences"]])


QUERIES = [
    'any where text == "back\\\\slash"',
    "any where text == \"it's\"",
    'any where text == "line\\nbreak"',
    'any where text : "50%_*"',
    'any where text like~ "ünï*"',
    'any where text regex "line.*"',
    'any where text regex ".*break"',
    'any where text in~ ("PLAIN", "IT\'S")',
    'any where tags == "t3"',
    'any where tags != "t3"',
    'any where not tags in ("t1", "t2")',
    'any where cidrMatch(ip, "10.0.1.0/24")',
    'any where ip > "10.0.1.9"',
    'any where version >= "1.2.5"',
    'any where big > 18446744073709551600',
    'any where ratio / 0 > 1000000',
    'any where seq % 0 == null and seq / 0 == null',
    'any where @timestamp > "2024-05-01T00:01:00.059456789Z"',
    'any where seen < "2024-05-01T00:00:03.003Z"',
    'any where string(seen) == "2024-05-01T00:00:03.003Z"',
    'any where between(text, "l", "\\n", false) == "ine"',
    'any where indexOf(text, "s", 3) == 5',
    'any where substring(text, -4) == "byte"',
    'any where number(substring(user, 1)) > 37',
    'any where concat(user, ratio) == "u71.0"',
    'any where length(text) == 8 and startsWith~(text, "NUL")',
    "process where true | head 5 | tail 2",
    "sequence by user [process where true] [network where true]",
    "sequence by host with maxspan=4004ms [process where true] [network where true]",
    "sequence by host [process where true] [network where true] until [file where true]",
    "sequence by host with maxspan=10s [process where true] ![file where true] "
    "[network where true]",
    "sequence by tags [process where true] [network where true] | tail 3",
    "sequence by ip [any where true] with runs=2",
    "sequence by version [process where true] [any where true]",
    "sequence by seen [any where true] [any where true]",
    "sample by host [process where true] [network where true]",
    "sample by tags [process where true] [file where true]",
]


@pytest.mark.parametrize(("query", "position"), [
    (query, "tail" if index % 2 else "head") for index, query in enumerate(QUERIES)])
def test_the_same_answer_as_duckdb(engines: tuple[Lanner, Lanner], query: str,
                                   position: str) -> None:
    """Each query once, head or tail in turn; sequences by key take both below."""
    duck, sparked = engines
    expected = _answer(duck, query, size=7, result_position=position)
    assert expected[1], f"the query should find something: {query}"
    assert _answer(sparked, query, size=7, result_position=position) == expected


@pytest.mark.parametrize("position", ["head", "tail"])
def test_sequences_over_many_keys_slice_as_on_duckdb(engines: tuple[Lanner, Lanner],
                                                     position: str) -> None:
    duck, sparked = engines
    query = "sequence by user [process where true] [network where true] [file where true]"
    for size in (1, 5, 40):
        expected = _answer(duck, query, size=size, result_position=position)
        assert len(expected[1]) == min(size, 14)  # the users whose events run p, n, f
        assert _answer(sparked, query, size=size, result_position=position) == expected


def test_samples_many_per_key(engines: tuple[Lanner, Lanner]) -> None:
    duck, sparked = engines
    query = "sample by host [process where true] [network where true]"
    expected = _answer(duck, query, size=50, max_samples_per_key=3)
    assert len(expected[1]) == 12
    assert _answer(sparked, query, size=50, max_samples_per_key=3) == expected


def test_new_events_are_searched_after_an_ingest(spark: Any) -> None:
    with connect(engine="spark") as es:
        es.index(index="live", document={"@timestamp": 1, "event": {"category": "process"}})
        assert es.eql.search(index="live", query="any where true")["hits"]["total"]["value"] == 1
        es.index(index="live", document={"@timestamp": 2, "event": {"category": "process"}})
        assert es.eql.search(index="live", query="any where true")["hits"]["total"]["value"] == 2
        assert isinstance(es.backend, SparkBackend)


def test_an_unknown_engine_is_refused() -> None:
    with pytest.raises(UnknownEngineError, match="unknown engine 'presto'"):
        connect(engine="presto")


def test_the_missing_extra_is_named() -> None:
    assert "pip install 'lanner[spark]'" in str(SparkUnavailableError())
