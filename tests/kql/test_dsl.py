"""KQL to Query DSL: the exact objects Kibana's `toElasticsearchQuery` builds for the detection
engine (KQL-SEMANTICS.md §3, `kuery/functions/is.ts`, `range.ts`, `nested.ts`,
`node_types/wildcard.ts`), by the mapping types of the searched fields."""

from __future__ import annotations

import pytest

from lanner import kql
from lanner.eql.errors import QueryError

TYPES = {
    "process.name": "keyword",
    "process.name.caseless": "keyword",
    "process.command_line": "wildcard",
    "process.pid": "long",
    "message": "match_only_text",
    "@timestamp": "date",
    "source.ip": "ip",
    "data_stream.dataset": "constant_keyword",
    "dll.Ext.relative_file_creation_time": "double",
    "file.hash.md5": "keyword",
    "file.hash.sha256": "keyword",
    "mixed.field": "keyword,wildcard",
    "user.domain": "keyword",
    "binding": "nested",
    "binding.role": "keyword",
    "binding.action": "keyword",
    "labels": "flattened",
    "labels.env": "keyword",
    "gcp": "object",
    "gcp.role": "keyword",
}


def should(*queries: dict) -> dict:
    return {"bool": {"should": list(queries), "minimum_should_match": 1}}


def dsl(query: str, types: dict[str, str] | None = TYPES) -> dict:
    return kql.to_query_dsl(query, types)


@pytest.mark.parametrize(("query", "expected"), [
    # keyword only: term, the value as written (numbers stay strings)
    ("process.name:cmd.exe", should({"term": {"process.name": {"value": "cmd.exe"}}})),
    ('process.name:"cmd.exe"', should({"term": {"process.name": {"value": "cmd.exe"}}})),
    ("user.domain:4624", should({"term": {"user.domain": {"value": "4624"}}})),
    # every other type: match, or match_phrase when quoted
    ("process.command_line:whoami", should({"match": {"process.command_line": "whoami"}})),
    ('message:"Invoke-Mimikatz x"', should({"match_phrase": {"message": "Invoke-Mimikatz x"}})),
    ("process.pid:4", should({"match": {"process.pid": "4"}})),
    ("source.ip:10.0.0.0/8", should({"match": {"source.ip": "10.0.0.0/8"}})),
    ('source.ip:"fe80::/10"', should({"match_phrase": {"source.ip": "fe80::/10"}})),
    ("data_stream.dataset:endpoint.events.process",
     should({"match": {"data_stream.dataset": "endpoint.events.process"}})),
    ("mixed.field:x", should({"match": {"mixed.field": "x"}})),
    # booleans and null are the literal's JS value
    ("process.name:true", should({"term": {"process.name": {"value": True}}})),
    ("unknown.field:null", should({"match": {"unknown.field": None}})),
    # dates: a one-value range in Zulu, epochs without a time zone
    ('@timestamp:"2024-01-02"',
     should({"range": {"@timestamp": {"gte": "2024-01-02", "lte": "2024-01-02",
                                      "time_zone": "Zulu"}}})),
    ("@timestamp:1700000000000",
     should({"range": {"@timestamp": {"gte": "1700000000000", "lte": "1700000000000"}}})),
    # wildcards: keyword-only -> wildcard query, others -> query_string; both escaped alike
    ("process.name:*foo-bar?.exe",
     should({"wildcard": {"process.name": {"value": "*foo\\-bar\\?.exe"}}})),
    ("process.name:C\\:\\\\Windows\\\\*",
     should({"wildcard": {"process.name": {"value": "C\\:\\\\Windows\\\\*"}}})),
    ("process.command_line:*foo bar*",
     should({"query_string": {"fields": ["process.command_line"], "query": "*foo bar*"}})),
    ("message:*a/b*", should({"query_string": {"fields": ["message"], "query": "*a\\/b*"}})),
    # escaped and quoted stars are literal stars
    ("process.name:\\*", should({"term": {"process.name": {"value": "*"}}})),
    ('process.command_line:"*splunkd*"',
     should({"match_phrase": {"process.command_line": "*splunkd*"}})),
    # field:* is exists; *:* and the empty query match all
    ("process.name:*", should({"exists": {"field": "process.name"}})),
    ("*:*", {"match_all": {}}),
    ("", {"match_all": {}}),
    # ranges: the raw value; dates get the time zone
    ("process.pid >= 4", should({"range": {"process.pid": {"gte": "4"}}})),
    ("process.pid < 10", should({"range": {"process.pid": {"lt": "10"}}})),
    ('@timestamp >= "now-30d/d"',
     should({"range": {"@timestamp": {"gte": "now-30d/d", "time_zone": "Zulu"}}})),
    # field-name wildcards expand over the known fields, or go as written
    ("file.hash.*:abc", should({"term": {"file.hash.md5": {"value": "abc"}}},
                               {"term": {"file.hash.sha256": {"value": "abc"}}})),
    ("file.other.*:abc", should({"match": {"file.other.*": "abc"}})),
    ("file.hash.*:*", should({"exists": {"field": "file.hash.md5"}},
                             {"exists": {"field": "file.hash.sha256"}})),
    # unknown fields: match / match_phrase / query_string, never term or date range
    ("winlog.event_id:4624", should({"match": {"winlog.event_id": "4624"}})),
    ("winlog.x:*abc", should({"query_string": {"fields": ["winlog.x"], "query": "*abc"}})),
    # free text: multi_match or a query_string without fields
    ("foo", {"multi_match": {"type": "best_fields", "query": "foo", "lenient": True}}),
    ('"foo bar"', {"multi_match": {"type": "phrase", "query": "foo bar", "lenient": True}}),
    ("foo*", {"query_string": {"query": "foo*"}}),
])
def test_leaf_queries_follow_the_decision_table(query: str, expected: dict) -> None:
    assert dsl(query) == expected


def test_boolean_structure() -> None:
    name = should({"term": {"process.name": {"value": "a"}}})
    pid = should({"match": {"process.pid": "1"}})
    assert dsl("process.name:a and process.pid:1") == {"bool": {"filter": [name, pid]}}
    assert dsl("process.name:a or process.pid:1") == {
        "bool": {"should": [name, pid], "minimum_should_match": 1}}
    assert dsl("not process.name:a") == {"bool": {"must_not": name}}
    # not > and > or
    assert dsl("not process.name:a and process.pid:1 or process.name:a") == {
        "bool": {"should": [{"bool": {"filter": [{"bool": {"must_not": name}}, pid]}}, name],
                 "minimum_should_match": 1}}


def test_value_lists_expand_to_one_leaf_per_value() -> None:
    def term(value: str) -> dict:
        return should({"term": {"process.name": {"value": value}}})

    assert dsl("process.name:(a or b and not c)") == {"bool": {"should": [
        term("a"),
        {"bool": {"filter": [term("b"), {"bool": {"must_not": term("c")}}]}},
    ], "minimum_should_match": 1}}


def test_nested_groups_prefix_their_fields() -> None:
    assert dsl("binding:{ role:admin and action:ADD }") == {"nested": {
        "path": "binding",
        "query": {"bool": {"filter": [should({"term": {"binding.role": {"value": "admin"}}}),
                                      should({"term": {"binding.action": {"value": "ADD"}}})]}},
        "score_mode": "none"}}


def test_a_group_over_an_object_path_is_trusted_to_be_nested() -> None:
    # Lanner's store types nested and plain objects alike as `object`
    assert dsl("gcp:{ role:x }") == {"nested": {
        "path": "gcp", "query": should({"term": {"gcp.role": {"value": "x"}}}),
        "score_mode": "none"}}


def test_wildcard_names_reaching_nested_fields_are_wrapped() -> None:
    assert dsl("binding.*:admin") == should(
        {"nested": {"path": "binding", "query": {"term": {"binding.role": {"value": "admin"}}},
                    "score_mode": "none"}},
        {"nested": {"path": "binding", "query": {"term": {"binding.action": {"value": "admin"}}},
                    "score_mode": "none"}})


@pytest.mark.parametrize(("query", "message", "column"), [
    ("process.name:a and binding.role:x", "binding.role is a nested field, but is not in a "
     "nested group in the KQL expression.", 20),
    ("binding:{ role:x } or labels:{ env:y }", 'labels.env is not a nested field but is in '
     'nested group "labels" in the KQL expression.', 32),
])
def test_nested_misuse_is_a_typed_error_with_its_place(query: str, message: str,
                                                       column: int) -> None:
    with pytest.raises(kql.KqlCompileError) as caught:
        dsl(query)
    assert isinstance(caught.value, QueryError)
    assert caught.value.message == message
    assert (caught.value.line, caught.value.col) == (1, column)


def test_without_field_types_every_field_is_unknown() -> None:
    assert dsl("process.name:cmd.exe", None) == should({"match": {"process.name": "cmd.exe"}})
    assert dsl("@timestamp:x", None) == should({"match": {"@timestamp": "x"}})
    assert dsl("binding.role:x", None) == should({"match": {"binding.role": "x"}})
    assert dsl("file.hash.*:*", None) == should({"exists": {"field": "file.hash.*"}})


def test_a_parsed_tree_compiles_like_its_text() -> None:
    text = 'process.name:(a or "b c") and not process.pid > 3'
    assert kql.to_query_dsl(kql.parse(text), TYPES) == dsl(text)


def test_syntax_errors_are_raised_with_their_place() -> None:
    with pytest.raises(kql.KqlSyntaxError) as caught:
        dsl("process.name:a and\n  not(b)")
    assert (caught.value.line, caught.value.col) == (2, 6)


def test_lucene_is_a_query_string_with_the_detection_options() -> None:
    query = "event.category:process AND NOT user.name:root"
    assert kql.lucene_to_query_dsl(query) == {
        "query_string": {"query": query, "analyze_wildcard": True, "time_zone": "Zulu"}}
    assert kql.lucene_to_query_dsl("  ") == {"match_all": {}}
