"""A search `filter` (the Query DSL of rule exceptions) means the same on Spark as on DuckDB:
term, terms, range, exists, prefix, wildcard, match/match_phrase on text and keyword fields,
nested (to two levels), minimum_should_match; and a rule's exception items of every entry
type, value lists included, leave the same alerts on both engines."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lanner.detection.run import Detector
from lanner.engine.backends.duckdb import DuckDBBackend
from lanner.engine.backends.spark import SparkBackend
from lanner.engine.client import Lanner
from lanner.rules import load_rule_file
from lanner.store import EventStore
from tests.engine.spark.session import engine_pair

MAPPING = {"properties": {
    "@timestamp": {"type": "date"}, "n": {"type": "long"},
    "event": {"properties": {"category": {"type": "keyword"}}},
    "name": {"type": "keyword"}, "tags": {"type": "keyword"}, "message": {"type": "text"},
    "ip": {"type": "ip"},
    "sig": {"type": "nested", "properties": {
        "subject": {"type": "keyword"}, "trusted": {"type": "boolean"},
        "size": {"type": "long"}, "note": {"type": "text"}, "addr": {"type": "ip"},
        "inner": {"type": "nested", "properties": {"tag": {"type": "keyword"}}}}},
    "a": {"properties": {"b": {"type": "nested", "properties": {"c": {"type": "keyword"}}}}},
}}
DOCUMENTS: list[dict[str, Any]] = [
    {"n": 1, "name": "C:\\Tools\\a*b.exe", "message": "Hello World, from cmd.exe",
     "tags": ["x", "y"],
     "sig": [{"subject": "Acme", "trusted": True, "size": 10, "note": "Signed OK",
              "addr": "10.0.0.1", "inner": [{"tag": "x"}]},
             {"subject": "Evil", "trusted": False, "size": 20}]},
    {"n": 2, "name": "C:\\Tools\\ab.exe", "message": "用户 登录 失败 world", "tags": "y",
     "sig": {"subject": "Acme", "trusted": False}},
    {"n": 3, "name": "50%_done", "message": "hello-world", "ip": "192.168.1.7",
     "sig": [{"subject": "Acme", "trusted": True, "size": 10.0, "addr": "::ffff:10.0.0.1",
              "note": ["it's", "x"]}],
     "a": {"b": [{"c": "w"}]}},
    {"n": 4, "name": "plain", "sig": [], "a.b": [{"c": "v"}], "message": "line\nbreak"},
    {"n": 5, "name": "it's \\ 'quoted'", "tags": ["Wörd", "z"], "ip": "10.1.2.3",
     "sig": [{"subject": "Ünïcode", "trusted": "true", "size": "7"}, {"inner": {"tag": "y"}}]},
]


def _load(es: Lanner) -> Lanner:
    es.indices.create(index="docs", mappings=MAPPING)
    operations: list[dict[str, Any]] = []
    for document in DOCUMENTS:
        document = {**document, "@timestamp": f"2025-01-01T00:00:0{document['n']}Z",
                    "event": {"category": "process"}}
        operations += [{"index": {"_index": "docs", "_id": f"d{document['n']}"}}, document]
    assert es.bulk(operations=operations)["errors"] is False
    return es


@pytest.fixture(scope="module")
def engines(spark: Any) -> Iterator[tuple[Lanner, Lanner]]:
    with engine_pair(_load) as (duck, sparked):
        yield duck, sparked


def nested(query: dict[str, Any], path: str = "sig") -> dict[str, Any]:
    return {"nested": {"path": path, "query": query, "score_mode": "none"}}


def both(first: dict[str, Any], second: dict[str, Any]) -> dict[str, Any]:
    return {"bool": {"filter": [first, second]}}


# (filter, the ids it leaves): each runs on both engines
CASES: list[tuple[dict[str, Any], list[str]]] = [
    ({"term": {"name": "plain"}}, ["d4"]),
    ({"term": {"name": {"value": "PLAIN", "case_insensitive": True}}}, ["d4"]),
    ({"term": {"name": "it's \\ 'quoted'"}}, ["d5"]),
    ({"terms": {"tags": ["y", "Wörd"]}}, ["d1", "d2", "d5"]),
    ({"terms": {"ip": ["10.1.2.3", "1.1.1.1"]}}, ["d5"]),
    ({"range": {"n": {"gte": 2, "lt": 4}}}, ["d2", "d3"]),
    ({"range": {"@timestamp": {"gt": "2025-01-01T00:00:03Z"}}}, ["d4", "d5"]),
    ({"exists": {"field": "ip"}}, ["d3", "d5"]),
    ({"exists": {"field": "sig.inner"}}, ["d1", "d5"]),
    ({"prefix": {"name": "C:\\Tools"}}, ["d1", "d2"]),
    ({"prefix": {"tags": {"value": "wö", "case_insensitive": True}}}, ["d5"]),
    ({"wildcard": {"name": "C:\\\\Tools\\\\a*"}}, ["d1", "d2"]),
    ({"wildcard": {"name": "C:\\\\Tools\\\\a\\*b.exe"}}, ["d1"]),
    ({"wildcard": {"name": "50\\%*"}}, ["d3"]),
    ({"wildcard": {"name": "50?_*"}}, ["d3"]),
    ({"wildcard": {"name": "*\\\\ 'quoted'"}}, ["d5"]),
    ({"wildcard": {"name": {"value": "PLAIN", "case_insensitive": True}}}, ["d4"]),
    ({"wildcard": {"tags": "w*"}}, []),
    ({"wildcard": {"tags": "W*"}}, ["d5"]),
    ({"wildcard": {"message": "Wor*"}}, ["d1", "d2", "d3"]),
    ({"wildcard": {"nothere": "*"}}, []),
    ({"match_phrase": {"message": "WORLD from"}}, ["d1"]),
    ({"match_phrase": {"message": "hello world"}}, ["d1", "d3"]),
    ({"match_phrase": {"message": "cmd.exe"}}, ["d1"]),
    ({"match_phrase": {"message": "登录失败"}}, ["d2"]),
    ({"match_phrase": {"message": "失败登录"}}, []),
    ({"match_phrase": {"message": "line break"}}, ["d4"]),
    ({"match": {"message": "nothing WORLD"}}, ["d1", "d2", "d3"]),
    ({"match_phrase": {"message": "!!!"}}, []),
    ({"match_phrase": {"name": "plain"}}, ["d4"]),
    (nested(both({"match_phrase": {"sig.subject": "Acme"}},
                 {"match_phrase": {"sig.trusted": "true"}})), ["d1", "d3"]),
    (nested(both({"term": {"sig.subject": "Evil"}}, {"term": {"sig.trusted": True}})), []),
    (nested({"match_phrase": {"sig.trusted": "false"}}), ["d1", "d2"]),
    (nested({"term": {"sig.trusted": True}}), ["d1", "d3", "d5"]),
    (nested({"term": {"sig.size": 10}}), ["d1", "d3"]),
    (nested({"terms": {"sig.size": [20, 7]}}), ["d1", "d5"]),
    (nested({"match_phrase": {"sig.addr": "10.0.0.1"}}), ["d1", "d3"]),
    (nested({"match_phrase": {"sig.note": "signed ok"}}), ["d1"]),
    (nested({"match_phrase": {"sig.note": "it's"}}), ["d3"]),
    (nested({"match": {"sig.note": "x nothing"}}), ["d3"]),
    (nested({"wildcard": {"sig.subject": "Ev*"}}), ["d1"]),
    (nested({"wildcard": {"sig.note": "sig*"}}), ["d1"]),
    (nested({"prefix": {"sig.subject": {"value": "ac", "case_insensitive": True}}}),
     ["d1", "d2", "d3"]),
    (nested({"prefix": {"sig.subject": "Ün"}}), ["d5"]),
    (nested({"exists": {"field": "sig.size"}}), ["d1", "d3", "d5"]),
    (nested({"exists": {"field": "sig.inner"}}), ["d1", "d5"]),
    (nested({"match_all": {}}), ["d1", "d2", "d3", "d5"]),
    (nested({"term": {"name": "plain"}}), []),
    (nested({"match_all": {}}, path="nothere"), []),
    (nested({"term": {"a.b.c": "v"}}, path="a.b"), ["d4"]),
    (nested({"term": {"a.b.c": "w"}}, path="a.b"), ["d3"]),
    (nested(nested({"term": {"sig.inner.tag": "x"}}, path="sig.inner")), ["d1"]),
    (nested(nested({"exists": {"field": "sig.inner.tag"}}, path="sig.inner")), ["d1", "d5"]),
    (nested(both(nested({"term": {"sig.inner.tag": "x"}}, path="sig.inner"),
                 {"term": {"sig.subject": "Evil"}})), []),
    (nested(nested({"match_all": {}}, path="elsewhere")), []),
    ({"bool": {"must_not": [nested({"term": {"sig.subject": "Acme"}})]}}, ["d4", "d5"]),
    ({"bool": {"should": [{"term": {"n": 1}}, {"term": {"name": "plain"}},
                          {"exists": {"field": "ip"}}, {"term": {"n": 3}}],
               "minimum_should_match": 2}}, ["d3"]),
    ({"bool": {"should": [{"term": {"n": 1}}, {"exists": {"field": "ip"}}],
               "minimum_should_match": "50%", "must_not": [{"term": {"n": 5}}]}}, ["d1", "d3"]),
]


@pytest.mark.parametrize(("query", "expected"), CASES, ids=[str(i) for i in range(len(CASES))])
def test_a_filter_leaves_the_same_events_on_both_engines(
        engines: tuple[Lanner, Lanner], query: dict[str, Any], expected: list[str]) -> None:
    found = []
    for es in engines:
        response = es.eql.search(index="docs", query="any where true", size=50, filter=query)
        found.append([hit["_id"] for hit in response["hits"]["events"]])
    assert found == [expected, expected]


NOW = datetime.datetime(2025, 6, 1, 12, 0, tzinfo=datetime.UTC)
RULE = '''
[rule]
name = "Every process"
rule_id = "every-process"
type = "eql"
language = "eql"
severity = "low"
risk_score = 21
index = ["logs-*"]
query = "process where true"

[[exceptions]]
name = "is"
entries = [{ field = "process.name", type = "match", value = "cmd.exe" },
           { field = "host.os.type", type = "match", value = "windows" }]

[[exceptions]]
name = "is one of, excluded"
[[exceptions.entries]]
field = "host.id"
type = "match_any"
value = ["h1", "h2"]
operator = "excluded"

[[exceptions]]
name = "exists"
entries = [{ field = "process.parent.name", type = "exists" },
           { field = "process.name", type = "match", value = "explorer.exe" }]

[[exceptions]]
name = "matches"
[[exceptions.entries]]
field = "process.executable"
type = "wildcard"
value = "C:\\\\\\\\Windows\\\\\\\\System32\\\\\\\\*"

[[exceptions]]
name = "text"
entries = [{ field = "message", type = "match", value = "backup agent" }]

[[exceptions]]
name = "signed"
[[exceptions.entries]]
field = "process.Ext.code_signature"
type = "nested"
entries = [{ field = "subject_name", type = "match", value = "Microsoft Corporation" },
           { field = "trusted", type = "match", value = "true" }]

[[exceptions]]
name = "scanners"
entries = [{ field = "destination.ip", type = "list", list = {id = "scanners", type = "ip_range"} }]

[[exceptions]]
name = "known users"
entries = [{ field = "user.name", type = "list", list = { id = "users", type = "keyword" } },
           { field = "host.os.type", type = "match", value = "linux" }]
'''


def _events() -> list[dict[str, Any]]:
    """Processes, each meant to be excepted by one item (or by none), by the event number."""
    signed = [{"subject_name": "Microsoft Corporation", "trusted": True}]
    mixed = [{"subject_name": "Microsoft Corporation", "trusted": False},
             {"subject_name": "Evil Corp", "trusted": True}]
    shapes: list[dict[str, Any]] = [
        {"process": {"name": "cmd.exe"}},                                   # is
        {"process": {"name": "cmd.exe"}, "os": "linux"},                    # is: other os
        {"process": {"name": "CMD.EXE"}},                                   # is: case
        {"process": {"name": "sh"}, "host_id": "h9"},                      # excluded one of
        {"process": {"name": "x.exe", "parent": {"name": "explorer.exe"}}},  # exists, not both
        {"process": {"name": "explorer.exe", "parent": {"name": "init"}}},  # exists and is
        {"process": {"name": "a.exe",
                     "executable": "C:\\Windows\\System32\\a.exe"}},         # matches
        {"process": {"name": "b.exe", "executable": "C:\\Windows\\b.exe"}},  # matches: no
        {"process": {"name": "c.exe"}, "message": "Started by the Backup Agent"},  # text
        {"process": {"name": "d.exe", "Ext": {"code_signature": signed}}},  # nested
        {"process": {"name": "e.exe", "Ext": {"code_signature": mixed}}},   # nested: no
        {"process": {"name": "f.exe"}, "destination": {"ip": "10.0.0.5"}},  # ip list
        {"process": {"name": "g.exe"}, "destination": {"ip": "10.0.0.6"}},  # ip list: no
        {"process": {"name": "h.exe"}, "user": {"name": "svc"}, "os": "linux"},  # keyword list
        {"process": {"name": "i.exe"}, "user": {"name": "svc"}},             # list, other os
    ]
    events = []
    for number, shape in enumerate(shapes):
        shape = dict(shape)
        host = {"id": shape.pop("host_id", "h1"), "os": {"type": shape.pop("os", "windows")}}
        events.append({"@timestamp": f"2025-06-01T11:00:{number:02d}Z",
                       "event": {"category": ["process"]}, "user": {"name": "alice"},
                       "host": host, **shape})
    return events


def _process_names(report: Any) -> list[str]:
    return sorted(alert["process"]["name"] for alert in report.alerts)


def test_rule_exceptions_of_every_entry_type_leave_the_same_alerts(
        spark: Any, tmp_path: Path) -> None:
    rule_path = tmp_path / "rule.toml"
    rule_path.write_text(RULE, encoding="utf-8")
    rule = load_rule_file(rule_path)
    value_lists = {"scanners": ["10.0.0.0-10.0.0.5", "192.168.0.0/16"], "users": ["svc", "root"]}
    with EventStore() as store:
        operations: list[Any] = []
        for event in _events():
            operations += [{"index": {"_index": "logs-test"}}, event]
        assert store.bulk(operations).bad_lines == []
        reports = {}
        spark_backend = SparkBackend(store, spark)
        try:
            for name, backend in (("duckdb", DuckDBBackend(store)), ("spark", spark_backend)):
                detector = Detector(backend, value_lists=value_lists)
                reports[name] = detector.hunt(rule, started_at=NOW)
        finally:
            spark_backend.close()
    for report in reports.values():
        assert report.error is None and report.warnings == []
    assert _process_names(reports["duckdb"]) == [
        "CMD.EXE", "b.exe", "cmd.exe", "e.exe", "g.exe", "i.exe", "x.exe"]
    ids = {name: sorted(a["kibana.alert.uuid"] for a in r.alerts) for name, r in reports.items()}
    assert ids["spark"] == ids["duckdb"]
