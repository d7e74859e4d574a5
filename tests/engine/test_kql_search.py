"""KQL searched on a real store, through Kibana's Query DSL and the one filter compiler: which
events match, per mapping type, as Elasticsearch decides (KQL-SEMANTICS.md §5, §6, §10)."""

from __future__ import annotations

import datetime
from typing import Any

import pytest

import lanner
from lanner import kql
from lanner.engine.backends.duckdb import SearchScope
from lanner.engine.client import Lanner
from lanner.engine.querydsl import QueryDslError, field_types, kql_condition

MAPPING = {"properties": {
    "@timestamp": {"type": "date"},
    "event": {"properties": {"category": {"type": "keyword"}}},
    "process": {"properties": {
        "name": {"type": "keyword"},
        "caseless_name": {"type": "keyword"},
        "command_line": {"type": "wildcard"},
        "pid": {"type": "long"},
    }},
    "message": {"type": "match_only_text"},
    "powershell": {"properties": {"file": {"properties": {
        "script_block_text": {"type": "text"}}}}},
    "source": {"properties": {"ip": {"type": "ip"}}},
    "host": {"properties": {"containerized": {"type": "boolean"}}},
    "tags": {"type": "keyword"},
    "file": {"properties": {"path": {"type": "keyword"}, "hash": {"properties": {
        "md5": {"type": "keyword"}, "sha256": {"type": "keyword"}}}}},
    "sig": {"type": "nested", "properties": {
        "subject": {"type": "keyword"}, "trusted": {"type": "boolean"}}},
}}

DOCUMENTS: list[dict[str, Any]] = [
    {"_id": "d1", "@timestamp": "2025-01-01T10:00:00Z",
     "process": {"name": "cmd.exe", "command_line": "cmd.exe /c whoami", "pid": 4624},
     "message": "Invoke-Mimikatz started", "source": {"ip": "10.1.2.3"},
     "powershell": {"file": {"script_block_text":
                             "IEX (New-Object Net.WebClient); Invoke-Mimikatz -DumpCreds"}},
     "host": {"containerized": True}, "tags": ["a", "b"],
     "file": {"hash": {"md5": "abc"}, "path": "C:\\Windows\\System32\\cmd.exe"},
     "sig": [{"subject": "Acme", "trusted": True}, {"subject": "Evil", "trusted": False}]},
    {"_id": "d2", "@timestamp": "2025-01-02T12:00:00Z",
     "process": {"name": "CMD.EXE", "command_line": "powershell -enc foo", "pid": 1},
     "message": "hello world", "source": {"ip": "fe80::1"},
     "powershell": {"file": {"script_block_text": "invoke mimikatz"}},
     "host": {"containerized": False}, "tags": ["b"], "file": {"hash": {"sha256": "abc"}},
     "sig": [{"subject": "Evil", "trusted": True}]},
    {"_id": "d3", "@timestamp": "2025-01-03T00:00:00Z",
     "process": {"name": "power shell.exe", "pid": 70000}, "message": "mimikatz",
     "source": {"ip": "192.168.1.1"}, "tags": ["a"]},
    {"_id": "d4", "@timestamp": "2025-01-04T00:00:00Z"},
]


@pytest.fixture(scope="module")
def es() -> Lanner:
    return load(lanner.connect())


def load(client: Lanner) -> Lanner:
    """The documents of every mapping type, in index `docs` of `client`."""
    mapping = {"properties": dict(MAPPING["properties"])}
    # Elastic Defend's `.caseless` multi-field: keyword with the lowercase normalizer
    mapping["properties"]["process"] = {"properties": {
        **MAPPING["properties"]["process"]["properties"],
        "name": {"type": "keyword", "fields": {
            "caseless": {"type": "keyword", "normalizer": "lowercase"}}}}}
    client.indices.create(index="docs", mappings=mapping)
    operations: list[dict[str, Any]] = []
    for document in DOCUMENTS:
        source = {key: value for key, value in document.items() if key != "_id"}
        source.setdefault("event", {"category": "process"})
        operations += [{"index": {"_index": "docs", "_id": document["_id"]}}, source]
    assert client.bulk(operations=operations)["errors"] is False
    return client


def ids(es: Lanner, query: str) -> list[str]:
    response = es.search(index="docs", kql=query, size=50)
    found = [hit["_id"] for hit in response["hits"]["hits"]]
    assert response["hits"]["total"]["value"] == len(found)
    return sorted(found)


@pytest.mark.parametrize(("query", "expected"), [
    # keyword: exact and case-sensitive; `.caseless` lower-cases both sides
    ("process.name:cmd.exe", ["d1"]),
    ('process.name:"CMD.EXE"', ["d2"]),
    ("process.name.caseless:cmd.exe", ["d1", "d2"]),
    ("process.name.caseless:CMD*", ["d1", "d2"]),
    # unquoted values may hold spaces
    ("process.name:power shell.exe", ["d3"]),
    # text: unquoted = any of the words, quoted = the phrase
    ("message:mimikatz", ["d1", "d3"]),
    ("message:Mimikatz hello", ["d1", "d2", "d3"]),
    ('message:"invoke mimikatz"', ["d1"]),
    ('message:"mimikatz invoke"', []),
    # PowerShell script blocks: a pattern analyzer whose tokens keep `-`
    ('powershell.file.script_block_text:"Invoke-Mimikatz"', ["d1"]),
    ('powershell.file.script_block_text:"net.webclient"', ["d1"]),
    ("powershell.file.script_block_text:invoke", ["d2"]),
    ("powershell.file.script_block_text:*mimikatz*", ["d1", "d2"]),
    ('message:"invoke-mimikatz"', ["d1"]),
    ('powershell.file.script_block_text:("Invoke-Mimikatz" or "NET.WebClient" or "-")', ["d1"]),
    ('powershell.file.script_block_text:(invoke or "no such") or process.pid:70000',
     ["d2", "d3"]),
    ('powershell.file.script_block_text:(-dumpcreds and "new-object")', ["d1"]),
    ("powershell.file.script_block_text:dumpcreds", []),
    # wildcards: whole value on keyword (case-sensitive, space literal), per word on text
    ("process.name:*shell.exe", ["d3"]),
    ("process.name:*r sh*", ["d3"]),
    ("process.name:cmd*", ["d1"]),
    ("message:*MIMI*", ["d1", "d3"]),
    # wildcard-typed field: whitespace splits the pattern into separate whole-value patterns
    ("process.command_line:*whoami", ["d1"]),
    ("process.command_line:*c whoami*", []),
    ("process.command_line:*whoami powershell*", ["d1", "d2"]),
    # escapes: a Windows path written unquoted, quoted, and as a pattern
    ("file.path:C\\:\\\\Windows\\\\System32\\\\cmd.exe", ["d1"]),
    ('file.path:"C:\\\\Windows\\\\System32\\\\cmd.exe"', ["d1"]),
    ("file.path:C\\:\\\\Windows\\\\*", ["d1"]),
    ("file.path:c\\:\\\\windows\\\\*", []),
    ("file.path:*\\\\cmd.exe", ["d1"]),
    # quoted and escaped stars are literal; `?` is literal
    ('process.name:"cmd*"', []),
    ("process.name:cmd\\*", []),
    ("process.name:cmd.ex?", []),
    # numbers: strings until the field parses them
    ("process.pid:4624", ["d1"]),
    ("process.pid > 100", ["d1", "d3"]),
    ("process.pid >= 70000", ["d3"]),
    ("process.pid < 4624 or process.pid > 4624", ["d2", "d3"]),
    # ip: addresses and CIDR blocks, IPv6 quoted
    ("source.ip:10.0.0.0/8", ["d1"]),
    ('source.ip:"fe80::/10"', ["d2"]),
    ("source.ip:192.168.1.1", ["d3"]),
    ('source.ip:(10.0.0.0/8 or "fe80::/10" or 1.1.1.1)', ["d1", "d2"]),
    ("not source.ip:(10.0.0.0/8 or 192.168.0.0/16)", ["d2", "d4"]),
    # dates: `field:day` is the whole day in UTC, gt/lte round up
    ('@timestamp:"2025-01-02"', ["d2"]),
    ('@timestamp >= "2025-01-02" and @timestamp < "2025-01-03"', ["d2"]),
    ('@timestamp > "2025-01-02"', ["d3", "d4"]),
    ('@timestamp <= "2025-01-02"', ["d1", "d2"]),
    ('@timestamp >= "2025-01-02||+1d/d"', ["d3", "d4"]),
    ('@timestamp < "now"', ["d1", "d2", "d3", "d4"]),
    # booleans
    ("host.containerized:true", ["d1"]),
    ('host.containerized:"false"', ["d2"]),
    # exists, and `not` on missing fields (no three-valued logic)
    ("process.command_line:*", ["d1", "d2"]),
    ("not process.name:*", ["d4"]),
    ("not process.name:cmd.exe", ["d2", "d3", "d4"]),
    ("not no.such.field:x", ["d1", "d2", "d3", "d4"]),
    ("no.such.field:x", []),
    # arrays: any value; `(a and b)` may use two elements
    ("tags:a and tags:b", ["d1"]),
    ("tags:(a and b)", ["d1"]),
    ("not tags:a", ["d2", "d4"]),
    ("tags:(a or not b)", ["d1", "d3", "d4"]),
    # field-name wildcards expand over the known fields
    ("file.hash.*:abc", ["d1", "d2"]),
    ("file.hash.*:*", ["d1", "d2"]),
    # nested: all conditions on one object
    ("sig:{ subject:Evil and trusted:true }", ["d2"]),
    ("sig:{ subject:Evil } and not sig:{ subject:Acme }", ["d2"]),
    # free text: any field, leniently
    ("mimikatz", ["d1", "d2", "d3"]),
    ("4624", ["d1"]),
    # precedence: not > and > or
    ("process.name:cmd.exe or process.pid:1 and tags:a", ["d1"]),
    ("", ["d1", "d2", "d3", "d4"]),
])
def test_kql_matches_as_elasticsearch(es: Lanner, query: str, expected: list[str]) -> None:
    assert ids(es, query) == expected


def test_the_kql_query_of_the_query_dsl_takes_the_same_path(es: Lanner) -> None:
    response = es.search(index="docs", query={"kql": {"query": "process.name.caseless:cmd.exe"}})
    assert sorted(hit["_id"] for hit in response["hits"]["hits"]) == ["d1", "d2"]
    response = es.eql.search(index="docs", query="process where true", size=10,
                             filter={"kql": {"query": "tags:a and not tags:b"}})
    assert [hit["_id"] for hit in response["hits"]["events"]] == ["d3"]


def test_query_string_runs_the_subset_kql_emits(es: Lanner) -> None:
    query = {"query_string": {"fields": ["process.command_line"],
                              "query": "*whoami powershell*"}}
    assert sorted(hit["_id"] for hit in es.search(index="docs", query=query)["hits"]["hits"]) \
        == ["d1", "d2"]
    def found(query: dict[str, Any]) -> list[str]:
        return sorted(hit["_id"] for hit in es.search(index="docs", query=query)["hits"]["hits"])

    # without fields: every field, leniently (a pattern skips the number and ip fields)
    assert found({"query_string": {"query": "mimi*"}}) == ["d1", "d2", "d3"]
    # (d1 by process.name.caseless, a multi-field that `*` covers too)
    assert found({"query_string": {"query": "CMD.EXE 70000"}}) == ["d1", "d2", "d3"]
    assert found({"query_string": {"query": "CMD.EXE 70000", "fields": ["process.name*"],
                                   "default_operator": "AND"}}) == []
    assert found({"query_string": {"query": "CMD.EXE", "fields": ["process.name*"]}}) \
        == ["d1", "d2"]
    with pytest.raises(lanner.errors.LannerError, match="cannot compare a number"):
        found({"query_string": {"query": "CMD.EXE", "fields": ["process.*"]}})  # not lenient
    assert found({"query_string": {"fields": ["file.hash.*"], "query": "abc"}}) == ["d1", "d2"]
    assert found({"multi_match": {"query": "hello", "fields": ["message", "process.pid"],
                                  "lenient": True}}) == ["d2"]
    with pytest.raises(lanner.errors.LannerError, match="syntax \\[\\(\\]"):
        es.search(index="docs", query={"query_string": {"query": "(a OR b)"}})


def test_phrases_tested_together_keep_minimum_should_match(es: Lanner) -> None:
    def phrase(text: str) -> dict[str, Any]:
        return {"match_phrase": {"powershell.file.script_block_text": text}}

    both = {"bool": {"should": [phrase("invoke-mimikatz"), phrase("iex")],
                     "minimum_should_match": 2}}
    one = {"bool": {"should": [phrase("invoke-mimikatz"), phrase("mimikatz")]}}
    for query, expected in ((both, ["d1"]), ({"bool": {"should": [both]}}, ["d1"]),
                            (one, ["d1", "d2"])):
        found = es.search(index="docs", query=query)["hits"]["hits"]
        assert sorted(hit["_id"] for hit in found) == expected


def test_the_lucene_rule_is_refused_by_name(es: Lanner) -> None:
    # rules/_deprecated/privilege_escalation_setgid_bit_set_via_chmod.toml (KQL-SEMANTICS §7)
    query = kql.lucene_to_query_dsl(
        "event.category:process AND event.type:(start or process_started) AND "
        "process.name:chmod AND process.args:(g+s OR /2[0-9]{3}/) AND NOT user.name:root")
    with pytest.raises(QueryDslError, match=r"syntax \[:\] .* is not supported"):
        es.search(index="docs", query=query)


def test_date_math_counts_from_the_given_now(es: Lanner) -> None:
    backend = es.backend
    scope = SearchScope(backend.indices("docs"))
    compiler = backend.compiler(scope)
    now = datetime.datetime(2025, 1, 3, 15, 0, tzinfo=datetime.UTC)
    where = kql_condition('@timestamp >= "now-1d/d"', compiler, now=now)
    assert {doc.id for doc in backend.window(where, scope, 0, 10)} == {"d2", "d3", "d4"}
    where = kql_condition('@timestamp < "now-1d/d"', compiler, now=now)
    assert {doc.id for doc in backend.window(where, scope, 0, 10)} == {"d1"}


def test_field_types_follow_the_scope(es: Lanner) -> None:
    types = field_types(es.backend.compiler(SearchScope(es.backend.indices("docs"))))
    assert types["process.name"] == "keyword"
    assert types["process.command_line"] == "wildcard"
    assert types["@timestamp"] == "date"
    assert "no.such.field" not in types
    assert {"file.hash.md5", "file.hash.sha256"} <= set(types)


@pytest.mark.parametrize(("query", "line", "column", "message"), [
    ("event.category:process and\n  process.pid:abc", 2, 3, "cannot compare a number"),
    ("source.ip:nope", 1, 1, "not an IP"),
    ("process.pid:*4*", 1, 1, "Can only use wildcard queries on keyword and text fields"),
    ("tags:a or\nprocess.name:null", 2, 1, "needs a value, found null"),
    ('@timestamp >= "now-1x"', 1, 1, "unsupported date math"),
])
def test_a_clause_elasticsearch_refuses_is_a_kql_error_at_its_place(
        es: Lanner, query: str, line: int, column: int, message: str) -> None:
    with pytest.raises(kql.KqlCompileError, match=message) as caught:
        es.search(index="docs", kql=query)
    assert (caught.value.line, caught.value.col) == (line, column)


def test_a_syntax_error_has_its_place(es: Lanner) -> None:
    with pytest.raises(kql.KqlSyntaxError) as caught:
        es.search(index="docs", kql="process.name:cmd.exe and not(x:y)")
    assert (caught.value.line, caught.value.col) == (1, 29)
