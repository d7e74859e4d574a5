"""Query DSL that exception filters rely on: nested, text analysis, Lucene wildcards,
minimum_should_match, exists on objects."""

from __future__ import annotations

from typing import Any

import pytest

import lanner
from lanner.engine.client import Lanner
from lanner.engine.querydsl import QueryDslError, lucene_wildcard_to_like


@pytest.fixture(scope="module")
def es() -> Lanner:
    client = lanner.connect()
    client.indices.create(index="docs", mappings={"properties": {
        "@timestamp": {"type": "date"}, "n": {"type": "long"},
        "event": {"properties": {"category": {"type": "keyword"}}},
        "name": {"type": "keyword"}, "message": {"type": "text"}, "ip": {"type": "ip"},
        "sig": {"type": "nested", "properties": {
            "subject": {"type": "keyword"}, "trusted": {"type": "boolean"},
            "size": {"type": "long"}, "note": {"type": "text"}, "addr": {"type": "ip"},
            "inner": {"type": "nested", "properties": {"tag": {"type": "keyword"}}}}},
        "a": {"properties": {"b": {"type": "nested", "properties": {"c": {"type": "keyword"}}}}},
    }})
    documents: list[dict[str, Any]] = [
        {"n": 1, "name": "C:\\Tools\\a*b.exe", "message": "Hello World, from cmd.exe",
         "sig": [{"subject": "Acme", "trusted": True, "size": 10, "note": "Signed OK",
                  "addr": "10.0.0.1", "inner": [{"tag": "x"}]},
                 {"subject": "Evil", "trusted": False, "size": 20}]},
        {"n": 2, "name": "C:\\Tools\\ab.exe", "message": "用户 登录 失败 world",
         "sig": {"subject": "Acme", "trusted": False}},  # one object, not an array
        {"n": 3, "name": "50%_done", "message": "hello-world", "ip": "192.168.1.7",
         "sig": [{"subject": "Acme", "trusted": True, "size": 10.0, "addr": "::ffff:10.0.0.1"}],
         "a": {"b": [{"c": "w"}]}},
        {"n": 4, "name": "plain", "sig": [], "a.b": [{"c": "v"}]},  # the path as one dotted key
    ]
    operations: list[dict[str, Any]] = []
    for document in documents:
        document.update({"@timestamp": f"2025-01-01T00:00:0{document['n']}Z",
                         "event": {"category": "process"}})
        operations += [{"index": {"_index": "docs", "_id": f"d{document['n']}"}}, document]
    assert client.bulk(operations=operations)["errors"] is False
    return client


def ids(es: Lanner, query: dict[str, Any]) -> list[str]:
    response = es.eql.search(index="docs", query="any where true", size=50, filter=query)
    return [hit["_id"] for hit in response["hits"]["events"]]


def nested(query: dict[str, Any], path: str = "sig") -> dict[str, Any]:
    return {"nested": {"path": path, "query": query, "score_mode": "none"}}


def test_nested_conditions_hold_within_one_object(es: Lanner) -> None:
    both = {"bool": {"filter": [{"match_phrase": {"sig.subject": "Acme"}},
                                {"match_phrase": {"sig.trusted": "true"}}]}}
    assert ids(es, nested(both)) == ["d1", "d3"]
    evil_trusted = {"bool": {"filter": [{"term": {"sig.subject": "Evil"}},
                                        {"term": {"sig.trusted": True}}]}}
    assert ids(es, nested(evil_trusted)) == []
    assert ids(es, nested({"match_phrase": {"sig.trusted": "false"}})) == ["d1", "d2"]


def test_nested_values_compare_as_their_mapped_types(es: Lanner) -> None:
    assert ids(es, nested({"term": {"sig.size": 10}})) == ["d1", "d3"]  # 10.0 in d3
    assert ids(es, nested({"terms": {"sig.size": [20, 99]}})) == ["d1"]
    assert ids(es, nested({"match_phrase": {"sig.addr": "10.0.0.1"}})) == ["d1", "d3"]
    assert ids(es, nested({"match_phrase": {"sig.note": "signed ok"}})) == ["d1"]
    assert ids(es, nested({"wildcard": {"sig.subject": "Ev*"}})) == ["d1"]
    insensitive = {"prefix": {"sig.subject": {"value": "ac", "case_insensitive": True}}}
    assert ids(es, nested(insensitive)) == ["d1", "d2", "d3"]
    with pytest.raises(QueryDslError, match="Can't parse boolean value"):
        ids(es, nested({"match_phrase": {"sig.trusted": "yes"}}))


def test_nested_exists_outside_fields_and_inner_nesting(es: Lanner) -> None:
    assert ids(es, nested({"exists": {"field": "sig.size"}})) == ["d1", "d3"]
    assert ids(es, nested({"match_all": {}})) == ["d1", "d2", "d3"]  # d4: empty array
    assert ids(es, nested({"term": {"name": "plain"}})) == []  # not a field of the objects
    assert ids(es, nested({"match_all": {}}, path="nothere")) == []
    assert ids(es, nested({"term": {"a.b.c": "v"}}, path="a.b")) == ["d4"]
    assert ids(es, nested({"term": {"a.b.c": "w"}}, path="a.b")) == ["d3"]
    inner = nested(nested({"term": {"sig.inner.tag": "x"}}, path="sig.inner"))
    assert ids(es, inner) == ["d1"]
    assert ids(es, {"bool": {"must_not": [nested({"term": {"sig.subject": "Acme"}})]}}) == [
        "d4"]


def test_text_fields_are_searched_by_their_words(es: Lanner) -> None:
    assert ids(es, {"match_phrase": {"message": "WORLD from"}}) == ["d1"]
    assert ids(es, {"match_phrase": {"message": "hello world"}}) == ["d1", "d3"]  # hello-world
    assert ids(es, {"match_phrase": {"message": "cmd.exe"}}) == ["d1"]
    assert ids(es, {"match_phrase": {"message": "登录失败"}}) == ["d2"]  # one word per ideograph
    assert ids(es, {"match_phrase": {"message": "失败登录"}}) == []
    assert ids(es, {"match": {"message": "nothing WORLD"}}) == ["d1", "d2", "d3"]
    assert ids(es, {"match_phrase": {"message": "!!!"}}) == []  # no words: no match
    assert ids(es, {"wildcard": {"message": "Wor*"}}) == ["d1", "d2", "d3"]  # lower-cased
    assert ids(es, {"term": {"name": "plain"}}) == ["d4"]


def test_wildcard_takes_lucene_escapes(es: Lanner) -> None:
    assert ids(es, {"wildcard": {"name": "C:\\\\Tools\\\\a*"}}) == ["d1", "d2"]
    assert ids(es, {"wildcard": {"name": "C:\\\\Tools\\\\a\\*b.exe"}}) == ["d1"]
    assert ids(es, {"wildcard": {"name": "50\\%*"}}) == ["d3"]
    assert ids(es, {"wildcard": {"name": "50?_*"}}) == ["d3"]
    assert ids(es, {"wildcard": {"name": {"value": "PLAIN", "case_insensitive": True}}}) == [
        "d4"]
    assert ids(es, {"wildcard": {"nothere": "*"}}) == []
    with pytest.raises(QueryDslError, match=r"not on \[n\] which is of type \[long\]"):
        ids(es, {"wildcard": {"n": "1*"}})
    assert lucene_wildcard_to_like("a\\*b?c*\\\\%_\\") == "a*b_c%\\\\\\%\\_\\\\"


def test_minimum_should_match(es: Lanner) -> None:
    should = [{"term": {"n": 1}}, {"term": {"name": "plain"}}, {"exists": {"field": "ip"}},
              {"term": {"n": 3}}]
    assert ids(es, {"bool": {"should": should, "minimum_should_match": 2}}) == ["d3"]
    assert ids(es, {"bool": {"should": should, "minimum_should_match": "-3"}}) == [
        "d1", "d3", "d4"]
    assert ids(es, {"bool": {"should": should, "minimum_should_match": "50%"}}) == ["d3"]
    assert ids(es, {"bool": {"should": should, "minimum_should_match": 0}}) == [
        "d1", "d3", "d4"]  # without required clauses one should still must match
    assert ids(es, {"bool": {"filter": [{"term": {"n": 2}}], "should": should}}) == ["d2"]
    assert ids(es, {"bool": {"must_not": [{"term": {"n": 1}}],
                             "minimum_should_match": 1}}) == []
    assert ids(es, {"bool": {"minimum_should_match": 1}}) == ["d1", "d2", "d3", "d4"]
    assert ids(es, {"bool": {"should": should, "minimum_should_match": 5}}) == []


def test_exists_on_an_object_means_a_field_below_it(es: Lanner) -> None:
    assert ids(es, {"exists": {"field": "sig"}}) == ["d1", "d2", "d3"]
    assert ids(es, {"exists": {"field": "sig.inner"}}) == ["d1"]
