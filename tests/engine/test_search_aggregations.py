"""Sorting, search_after and aggregations compiled to SQL (lanner.engine.sorting,
lanner.engine.aggregations) over a real DuckDB store: Elasticsearch's orders, buckets and
counts on multi-valued and missing fields."""

from __future__ import annotations

from typing import Any

import pytest

from lanner.engine.aggregations import AggregationScope, aggregate
from lanner.engine.backends.duckdb import DuckDBBackend, SearchScope
from lanner.engine.sorting import SearchRequestError, after_condition, order_by, sort_keys
from lanner.store import EventStore

EVENTS = [
    {"@timestamp": "2024-01-31T23:59:59.999Z", "tags": ["b", "a", "b"], "n": 3, "ok": True},
    {"@timestamp": "2024-02-01T00:00:00Z", "tags": ["c"], "n": 1, "ok": False},
    {"@timestamp": "2024-04-15T12:00:00Z", "n": 2},
    {"@timestamp": "2024-04-16T12:00:00Z", "tags": ["a", "z"]},
]


@pytest.fixture(scope="module")
def backend() -> DuckDBBackend:
    store = EventStore()
    store.ingest([{"_index": "logs-t", "_id": f"d{number}", "_source": event}
                  for number, event in enumerate(EVENTS)])
    return DuckDBBackend(store)


def _ids(backend: DuckDBBackend, sort: Any, after: Any = None) -> list[str]:
    compiler = backend.compiler(SearchScope(("logs-t",)))
    keys = sort_keys(sort, compiler)
    where = "_index = 'logs-t'"
    if after is not None:
        where += " AND " + after_condition(keys, after, tiebreaker=False)
    docs = [row[0] for row in backend.con.execute(
        f"SELECT _doc FROM events WHERE {where} ORDER BY {order_by(keys)}").fetchall()]
    found = backend.store.documents(docs)
    return [found[doc].id for doc in docs]


def _aggs(backend: DuckDBBackend, aggs: dict[str, Any]) -> dict[str, Any]:
    compiler = backend.compiler(SearchScope(("logs-t",)))
    scope = "_index = 'logs-t'"
    return aggregate(aggs, AggregationScope(backend.con, compiler, scope, scope))


def test_a_multi_valued_field_sorts_by_its_least_value_ascending_and_greatest_descending(
        backend: DuckDBBackend) -> None:
    # tags: d0 [a, b], d1 [c], d3 [a, z]; d2 has none and goes last either way
    assert _ids(backend, ["tags", "_doc"]) == ["d0", "d3", "d1", "d2"]
    assert _ids(backend, [{"tags": "desc"}, "_doc"]) == ["d3", "d1", "d0", "d2"]
    assert _ids(backend, [{"tags": {"order": "asc", "missing": "_first"}}]) == \
        ["d2", "d0", "d3", "d1"]


def test_search_after_resumes_after_a_missing_value_and_on_numbers(
        backend: DuckDBBackend) -> None:
    doc = dict(backend.con.execute("SELECT _id, _doc FROM events").fetchall())
    assert _ids(backend, ["tags", "_doc"], after=["a", doc["d0"]]) == ["d3", "d1", "d2"]
    assert _ids(backend, ["tags", "_doc"], after=[None, doc["d2"]]) == []
    # a missing number sorts as Long.MAX_VALUE ascending, as ES writes in the hit's sort
    assert _ids(backend, ["n"], after=[2]) == ["d0", "d3"]
    assert _ids(backend, [{"n": "desc"}], after=[2]) == ["d1", "d3"]
    with pytest.raises(SearchRequestError, match="search_after has 1 value"):
        _ids(backend, ["n", "_doc"], after=[2])


def test_terms_count_a_document_once_per_distinct_value(backend: DuckDBBackend) -> None:
    result = _aggs(backend, {"t": {"terms": {"field": "tags", "missing": "none"}},
                             "flags": {"terms": {"field": "ok"}}})
    assert result["t"]["buckets"] == [{"key": "a", "doc_count": 2},
                                      {"key": "b", "doc_count": 1},
                                      {"key": "c", "doc_count": 1},
                                      {"key": "none", "doc_count": 1},
                                      {"key": "z", "doc_count": 1}]
    assert result["flags"]["buckets"] == [
        {"key": 0, "key_as_string": "false", "doc_count": 1},
        {"key": 1, "key_as_string": "true", "doc_count": 1}]


def test_min_doc_count_zero_lists_the_scopes_other_keys(backend: DuckDBBackend) -> None:
    compiler = backend.compiler(SearchScope(("logs-t",)))
    scope = "_index = 'logs-t'"
    only_d1 = f"{scope} AND _id = 'd1'"
    result = aggregate({"t": {"terms": {"field": "tags", "min_doc_count": 0,
                                        "order": {"_key": "asc"}}}},
                       AggregationScope(backend.con, compiler, only_d1, scope))
    assert [(b["key"], b["doc_count"]) for b in result["t"]["buckets"]] == [
        ("a", 0), ("b", 0), ("c", 1), ("z", 0)]


def test_calendar_months_fill_the_gaps_and_sub_aggregate(backend: DuckDBBackend) -> None:
    result = _aggs(backend, {"m": {"date_histogram": {"field": "@timestamp",
                                                      "calendar_interval": "month"},
                                   "aggs": {"most": {"max": {"field": "n"}},
                                            "tags": {"value_count": {"field": "tags"}}}}})
    assert [(b["key_as_string"], b["doc_count"], b["most"]["value"], b["tags"]["value"])
            for b in result["m"]["buckets"]] == [
        ("2024-01-01T00:00:00.000Z", 1, 3.0, 3), ("2024-02-01T00:00:00.000Z", 1, 1.0, 1),
        ("2024-03-01T00:00:00.000Z", 0, None, 0), ("2024-04-01T00:00:00.000Z", 2, 2.0, 2)]


def test_weekly_buckets_start_on_monday_and_min_doc_count_drops_empty_ones(
        backend: DuckDBBackend) -> None:
    result = _aggs(backend, {"w": {"date_histogram": {
        "field": "@timestamp", "calendar_interval": "1w", "min_doc_count": 1,
        "format": "yyyy-MM-dd EEE"}}})
    assert [(b["key_as_string"], b["doc_count"]) for b in result["w"]["buckets"]] == [
        ("2024-01-29 Mon", 2), ("2024-04-15 Mon", 2)]


def test_aggregations_refuse_what_elasticsearch_refuses(backend: DuckDBBackend) -> None:
    with pytest.raises(SearchRequestError, match="too many buckets"):
        _aggs(backend, {"h": {"date_histogram": {"field": "@timestamp",
                                                 "fixed_interval": "1s"}}})
    with pytest.raises(SearchRequestError, match="time_zone"):
        _aggs(backend, {"h": {"date_histogram": {"field": "@timestamp",
                                                 "calendar_interval": "day",
                                                 "time_zone": "Europe/Paris"}}})
    with pytest.raises(SearchRequestError, match=r"size\] in \[t\]"):
        _aggs(backend, {"t": {"terms": {"field": "tags", "size": 0}}})
