"""Exception lists: loading Kibana exports and TOML, the Query DSL Kibana builds from them, and
what that filter leaves of a real EQL search (events and sequences)."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

import pytest

import lanner
from lanner.detection.exceptions import (
    UNPROCESSED_WARNING,
    ExceptionItem,
    ExceptionLoadError,
    exception_filter,
    item_from_mapping,
    load_exception_lists,
    load_rule_exceptions,
    load_value_list,
)
from lanner.engine.client import Lanner
from lanner.rules.model import ExceptionListRef

FIXTURES = Path(__file__).parent / "fixtures"
NOW = datetime.datetime(2025, 6, 1, 12, 0, tzinfo=datetime.UTC)


def item(name: str, *entries: dict[str, Any], **extra: Any) -> ExceptionItem:
    """An item in Kibana's JSON shape, read the way an export line is."""
    return item_from_mapping({"name": name, "list_id": "tests", "item_id": name,
                              "type": "simple", "entries": list(entries), **extra})


def match(field: str, value: str, operator: str = "included") -> dict[str, Any]:
    return {"field": field, "operator": operator, "type": "match", "value": value}


def phrase(field: str, value: str) -> dict[str, Any]:
    """What Kibana builds for a `match` entry."""
    return {"bool": {"minimum_should_match": 1, "should": [{"match_phrase": {field: value}}]}}


def should_clauses(items: list[ExceptionItem], **options: Any) -> list[dict[str, Any]]:
    built = exception_filter(items, NOW, **options)
    assert built.kibana_filter is not None
    return built.kibana_filter["query"]["bool"]["should"]


# -- the Query DSL, entry by entry ----------------------------------------------------------


def test_match_is_a_match_phrase_and_excluded_wraps_it_in_must_not() -> None:
    assert should_clauses([item("a", match("process.name", "cmd.exe"))]) == [
        phrase("process.name", "cmd.exe")]
    assert should_clauses([item("a", match("process.name", "cmd.exe", "excluded"))]) == [
        {"bool": {"must_not": phrase("process.name", "cmd.exe")}}]


def test_match_any_is_one_match_phrase_per_value() -> None:
    single = {"field": "user.name", "operator": "included", "type": "match_any",
              "value": ["root"]}
    assert should_clauses([item("a", single)]) == [phrase("user.name", "root")]
    several = {**single, "value": ["root", "admin"], "operator": "excluded"}
    assert should_clauses([item("a", several)]) == [{"bool": {"must_not": {"bool": {
        "minimum_should_match": 1,
        "should": [phrase("user.name", "root"), phrase("user.name", "admin")]}}}}]


def test_exists_and_wildcard_entries() -> None:
    exists = {"field": "process.parent.name", "operator": "excluded", "type": "exists"}
    assert should_clauses([item("a", exists)]) == [{"bool": {"must_not": {"bool": {
        "minimum_should_match": 1, "should": [{"exists": {"field": "process.parent.name"}}]}}}}]
    wildcard = {"field": "file.path", "operator": "included", "type": "wildcard",
                "value": "C:\\\\Temp\\\\*"}
    assert should_clauses([item("a", wildcard)]) == [
        {"bool": {"filter": {"wildcard": {"file.path": "C:\\\\Temp\\\\*"}}}}]


def test_nested_entries_name_fields_below_their_path() -> None:
    one = {"field": "process.Ext.code_signature", "type": "nested",
           "entries": [match("subject_name", "Acme")]}
    assert should_clauses([item("a", one)]) == [{"nested": {
        "path": "process.Ext.code_signature",
        "query": phrase("process.Ext.code_signature.subject_name", "Acme"),
        "score_mode": "none"}}]
    two = {**one, "entries": [match("subject_name", "Acme"), match("trusted", "true")]}
    assert should_clauses([item("a", two)])[0]["nested"]["query"] == {"bool": {"filter": [
        phrase("process.Ext.code_signature.subject_name", "Acme"),
        phrase("process.Ext.code_signature.trusted", "true")]}}


def test_an_item_ands_its_entries_and_os_types_add_one_group_per_os_and_field() -> None:
    entries = (match("process.name", "a.exe"), match("user.name", "bob"))
    assert should_clauses([item("a", *entries)]) == [{"bool": {"filter": [
        phrase("process.name", "a.exe"), phrase("user.name", "bob")]}}]
    with_os = should_clauses([item("a", entries[0], os_types=["windows", "macos"])])
    assert with_os == [
        {"bool": {"filter": [phrase("host.os.type", "windows"), phrase("process.name", "a.exe")]}},
        {"bool": {"filter": [phrase("host.os.type", "macos"), phrase("process.name", "a.exe")]}},
        {"bool": {"filter": [phrase("host.os.name.caseless", "windows"),
                             phrase("process.name", "a.exe")]}},
        {"bool": {"filter": [phrase("host.os.name.caseless", "macos"),
                             phrase("process.name", "a.exe")]}},
    ]


def test_the_filter_is_negated_and_becomes_must_not_in_the_request() -> None:
    built = exception_filter([item("a", match("process.name", "a.exe"))], NOW)
    assert built.kibana_filter == {"meta": {"alias": None, "disabled": False, "negate": True},
                                   "query": {"bool": {"should": [phrase("process.name",
                                                                        "a.exe")]}}}
    assert built.query == {"bool": {"must": [], "filter": [], "should": [],
                                    "must_not": [{"bool": {"should": [
                                        phrase("process.name", "a.exe")]}}]}}
    assert built.unprocessed == [] and built.warnings == []
    assert exception_filter([], NOW).query is None


def test_items_are_not_split_into_chunks_of_ten() -> None:
    # Kibana passes chunkSize 10, but it only batches value-list lookups: every item is one
    # clause of the same should, in order.
    items = [item(f"i{n}", match("user.name", f"user{n}")) for n in range(25)]
    assert should_clauses(items) == [phrase("user.name", f"user{n}") for n in range(25)]


def test_expired_items_are_dropped_strictly_before_now() -> None:
    past = item("past", match("user.name", "a"), expire_time="2025-06-01T11:59:59.999Z")
    exact = item("exact", match("user.name", "b"), expire_time="2025-06-01T12:00:00Z")
    built = exception_filter([past, exact], NOW)
    assert built.expired == [past]
    assert built.kibana_filter is not None
    assert built.kibana_filter["query"]["bool"]["should"] == [phrase("user.name", "b")]
    assert exception_filter([past], NOW).query is None


def test_value_lists_are_applied_when_small_and_of_a_usable_type() -> None:
    listed = {"field": "source.ip", "operator": "included", "type": "list",
              "list": {"id": "scanners", "type": "ip"}}
    lists = {"scanners": ["10.0.0.5", "10.0.0.6"]}
    assert should_clauses([item("a", listed)], value_lists=lists) == [
        {"bool": {"filter": {"terms": {"source.ip": ["10.0.0.5", "10.0.0.6"]}}}}]
    excluded = {**listed, "operator": "excluded"}
    assert should_clauses([item("a", excluded)], value_lists=lists) == [
        {"bool": {"must_not": {"terms": {"source.ip": ["10.0.0.5", "10.0.0.6"]}}}}]
    ranges = {**listed, "list": {"id": "nets", "type": "ip_range"}}
    assert should_clauses([item("a", ranges)],
                          value_lists={"nets": ["10.0.0.1-10.0.0.9", "192.168.0.0/16"]}) == [
        {"bool": {"should": [{"range": {"source.ip": {"gte": "10.0.0.1", "lte": "10.0.0.9"}}},
                             {"terms": {"source.ip": ["192.168.0.0/16"]}}],
                  "minimum_should_match": 1}}]


def test_items_kibana_cannot_apply_are_unprocessed_with_its_warning() -> None:
    missing_list = item("Scanner IPs", {"field": "source.ip", "operator": "included",
                                        "type": "list", "list": {"id": "nope", "type": "ip"}})
    text_list = item("Text list", {"field": "message", "operator": "included", "type": "list",
                                   "list": {"id": "words", "type": "text"}})
    plain = item("Plain", match("user.name", "bob"))
    built = exception_filter([missing_list, plain, text_list], NOW,
                             value_lists={"words": ["x"]})
    assert [i.name for i in built.unprocessed] == ["Scanner IPs", "Text list"]
    assert built.warnings == [
        "The following exceptions won't be applied to rule execution: Scanner IPs, Text list"]
    assert built.kibana_filter is not None
    assert built.kibana_filter["query"]["bool"]["should"] == [phrase("user.name", "bob")]
    alone = exception_filter([missing_list], NOW)
    assert alone.query is None and alone.warnings == [UNPROCESSED_WARNING + "Scanner IPs"]
    dashed = [f"10.0.{n}.1-10.0.{n}.9" for n in range(201)]
    too_many = item("Ranges", {"field": "source.ip", "operator": "included", "type": "list",
                               "list": {"id": "nets", "type": "ip_range"}})
    built = exception_filter([too_many], NOW, value_lists={"nets": dashed})
    assert [i.name for i in built.unprocessed] == ["Ranges"]


# -- loading --------------------------------------------------------------------------------


def test_kibana_export_lines_become_lists_and_items() -> None:
    loaded = load_exception_lists([FIXTURES / "exceptions_export.ndjson"])
    assert loaded.problems == []
    assert loaded.skipped == 1  # the export summary
    assert list(loaded.lists) == [("lanner-tuning", "single")]
    assert [i.item_id for i in loaded.items] == [
        "backup-agent", "signed-ms", "scanners", "old-tools", "endpoint-item"]
    signed = loaded.items[1]
    assert signed.os_types == ("windows",)
    assert signed.expire_time == datetime.datetime(2031, 1, 1, tzinfo=datetime.UTC)
    assert signed.entries[0].entries[1].value == "true"
    assert str(signed.location).endswith("exceptions_export.ndjson:3")
    wildcard = loaded.items[3].entries[0]
    assert wildcard.value == "C:\\\\Program Files\\\\Tools\\\\*.exe"  # as Kibana stores it
    assert [item.to_dict() for item in loaded.items[1].entries] == [
        {"field": "process.Ext.code_signature", "type": "nested", "entries": [
            match("subject_name", "Microsoft Corporation"), match("trusted", "true")]},
        {"field": "user.name", "operator": "excluded", "type": "match_any",
         "value": ["SYSTEM", "LOCAL SERVICE"]}]


def test_bad_lines_are_reported_with_file_and_line() -> None:
    loaded = load_exception_lists([FIXTURES / "broken_export.ndjson"])
    found = [(p.location.line if p.location else None, p.message) for p in loaded.problems]
    assert [line for line, _ in found] == [3, 4, 6, 7, 8, 10]
    messages = dict(found)
    assert messages[3] == "entries[0].operator must be included or excluded, found 'sometimes'"
    assert messages[4].startswith("not a JSON object")
    assert messages[6] == "`entries` must be a non-empty list"
    assert "entries[0].entries[0].type must be one of match, match_any, exists" in messages[7]
    assert "already read at" in messages[8] and "broken_export.ndjson:2" in messages[8]
    assert messages[10] == ("not an exception list, an exception item, a rule or an export "
                            "summary")
    assert [i.item_id for i in loaded.items] == ["good"]
    assert loaded.skipped == 2  # the rule and the summary
    missing = load_exception_lists([FIXTURES / "nothing-here.ndjson"])
    assert missing.problems[0].message == "no such file or folder"


def test_items_for_a_rule_follow_list_and_namespace_and_skip_the_endpoint_list() -> None:
    loaded = load_exception_lists([FIXTURES / "exceptions_export.ndjson"])
    refs = [ExceptionListRef("lanner-tuning", "6f7b2d90", "single", "detection"),
            ExceptionListRef("endpoint_list", "endpoint_list", "agnostic", "endpoint")]
    assert [i.item_id for i in loaded.items_for(refs)] == [
        "backup-agent", "signed-ms", "scanners", "old-tools"]
    as_dicts = [{"list_id": "lanner-tuning", "namespace_type": "agnostic"},
                {"list_id": "elsewhere", "namespace_type": "single"}]
    assert loaded.items_for(as_dicts) == []
    assert loaded.unknown_lists(as_dicts) == ["lanner-tuning", "elsewhere"]
    assert loaded.unknown_lists(refs) == []


def test_the_exported_items_build_their_filter_and_warning() -> None:
    loaded = load_exception_lists([FIXTURES / "exceptions_export.ndjson"])
    items = loaded.items_for([{"list_id": "lanner-tuning"}])
    built = exception_filter(items, NOW)
    assert [i.item_id for i in built.expired] == ["old-tools"]
    assert built.warnings == [UNPROCESSED_WARNING + "Vulnerability scanners"]
    assert built.kibana_filter is not None
    clauses = built.kibana_filter["query"]["bool"]["should"]
    assert clauses[0] == phrase("process.name", "backup.exe")
    assert len(clauses) == 3  # signed-ms: host.os.type and host.os.name.caseless groups
    assert clauses[1]["bool"]["filter"][0] == phrase("host.os.type", "windows")
    assert clauses[2]["bool"]["filter"][0] == phrase("host.os.name.caseless", "windows")


def test_toml_lists_and_items_with_their_lines(tmp_path: Path) -> None:
    loaded = load_exception_lists([FIXTURES / "local_exceptions.toml"])
    assert [(p.location.line if p.location else None, p.message) for p in loaded.problems] == [
        (21, "`entries` must be a non-empty list")]
    assert list(loaded.lists) == [("local-tuning", "single")]
    first, second = loaded.items
    assert (first.item_id, first.location.line if first.location else None) == (
        "local-tuning-1", 6)
    assert second.expire_time == datetime.datetime(2025, 1, 1, tzinfo=datetime.UTC)
    assert first.entries[1].operator == "included"
    rule_file = tmp_path / "rule.toml"
    rule_file.write_text("""
[rule]
name = "Local rule"
rule_id = "0a1b2c3d-0000-4000-8000-000000000001"
type = "eql"
query = "process where true"

[[exceptions]]
name = "Trusted installer"
entries = [{ field = "process.name", type = "match_any", value = ["msiexec.exe", 7] }]
""", encoding="utf-8")
    (local,) = load_rule_exceptions(rule_file)
    assert local.list_id == "rule_default" and local.entries[0].value == ("msiexec.exe", "7")
    assert load_exception_lists([tmp_path]).items == []  # a rule file is not a list
    rule_file.write_text(rule_file.read_text() + '\n[[exceptions]]\nname = "x"\nentries = 3\n')
    with pytest.raises(ExceptionLoadError, match=r"rule\.toml:12: `entries` must be"):
        load_rule_exceptions(rule_file)


def test_value_list_files_hold_one_value_per_line(tmp_path: Path) -> None:
    path = tmp_path / "scanners.txt"
    path.write_text("10.0.0.5\n\n 10.0.0.6 \n", encoding="utf-8")
    assert load_value_list(path) == ["10.0.0.5", "10.0.0.6"]
    with pytest.raises(ExceptionLoadError, match="cannot read the value list"):
        load_value_list(tmp_path / "missing.txt")


# -- end to end: what the filter leaves of a search -----------------------------------------

SIGNED = [{"subject_name": "Microsoft Corporation", "trusted": True}]
MIXED = [{"subject_name": "Microsoft Corporation", "trusted": False},
         {"subject_name": "Evil Corp", "trusted": True}]


def process(number: int, name: str, **fields: Any) -> dict[str, Any]:
    return {"@timestamp": f"2025-06-01T11:00:0{number}Z", "event": {"category": ["process"]},
            "host": {"id": "h1", "os": {"type": fields.pop("os", "windows")}},
            "process": {"name": name, **fields.pop("process", {})}, **fields}


@pytest.fixture(scope="module")
def es() -> Lanner:
    client = lanner.connect()
    client.indices.create(index="logs-test", mappings={"properties": {
        "@timestamp": {"type": "date"},
        "event": {"properties": {"category": {"type": "keyword"}}},
        "host": {"properties": {"id": {"type": "keyword"},
                                "os": {"properties": {"type": {"type": "keyword"}}}}},
        "user": {"properties": {"name": {"type": "keyword"}}},
        "message": {"type": "text"},
        "destination": {"properties": {"ip": {"type": "ip"}}},
        "process": {"properties": {
            "name": {"type": "keyword"}, "executable": {"type": "keyword"},
            "parent": {"properties": {"name": {"type": "keyword"}}},
            "Ext": {"properties": {"code_signature": {"type": "nested", "properties": {
                "subject_name": {"type": "keyword"}, "trusted": {"type": "boolean"}}}}}}},
    }})
    events = [
        process(1, "cmd.exe", user={"name": "alice"}, process={"Ext": {"code_signature": SIGNED}},
                message="Started by the Backup Agent nightly"),
        process(2, "CMD.EXE", user={"name": "bob"}, process={"parent": {"name": "explorer.exe"}}),
        process(3, "powershell.exe", user={"name": "bob"}, process={
            "executable": "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe",
            "Ext": {"code_signature": MIXED}}),
        {"@timestamp": "2025-06-01T11:00:04Z", "event": {"category": ["network"]},
         "host": {"id": "h1", "os": {"type": "windows"}}, "process": {"name": "powershell.exe"},
         "destination": {"ip": "10.0.0.5"}},
        process(5, "cmd.exe", os="linux", user={"name": "carol"}),
    ]
    operations: list[dict[str, Any]] = []
    for number, event in enumerate(events, start=1):
        operations += [{"index": {"_index": "logs-test", "_id": f"e{number}"}}, event]
    assert client.bulk(operations=operations)["errors"] is False
    return client


def surviving(es: Lanner, *items: ExceptionItem, query: str = "any where true",
              value_lists: dict[str, list[str]] | None = None) -> list[str]:
    built = exception_filter(items, NOW, value_lists=value_lists)
    response = es.eql.search(index="logs-test", query=query, size=100, filter=built.query)
    return [hit["_id"] for hit in response["hits"]["events"]]


def test_without_exceptions_every_event_is_found(es: Lanner) -> None:
    assert surviving(es) == ["e1", "e2", "e3", "e4", "e5"]


def test_match_and_wildcard_are_case_sensitive_on_keyword_fields(es: Lanner) -> None:
    assert surviving(es, item("a", match("process.name", "CMD.EXE"))) == [
        "e1", "e3", "e4", "e5"]
    assert surviving(es, item("a", match("process.name", "cmd.exe"))) == ["e2", "e3", "e4"]
    lower = {"field": "process.name", "operator": "included", "type": "wildcard",
             "value": "cmd*"}
    assert surviving(es, item("a", lower)) == ["e2", "e3", "e4"]
    # a Windows path as Kibana stores it: each backslash escaped in the wildcard value
    path = {"field": "process.executable", "operator": "included", "type": "wildcard",
            "value": "C:\\\\Windows\\\\System32\\\\*"}
    assert surviving(es, item("a", path)) == ["e1", "e2", "e4", "e5"]
    unescaped = {**path, "value": "C:\\Windows\\System32\\*"}  # \W, \S are just W, S
    assert surviving(es, item("a", unescaped)) == ["e1", "e2", "e3", "e4", "e5"]


def test_match_on_a_text_field_finds_the_phrase_in_any_case(es: Lanner) -> None:
    assert surviving(es, item("a", match("message", "backup agent"))) == [
        "e2", "e3", "e4", "e5"]
    assert surviving(es, item("a", match("message", "agent backup"))) == [
        "e1", "e2", "e3", "e4", "e5"]


def test_excluded_operators_and_exists(es: Lanner) -> None:
    # "user.name is not one of alice, bob" excepts carol, and events without a user
    not_them = {"field": "user.name", "operator": "excluded", "type": "match_any",
                "value": ["alice", "bob"]}
    assert surviving(es, item("a", not_them)) == ["e1", "e2", "e3"]
    has_parent = {"field": "process.parent.name", "operator": "included", "type": "exists"}
    assert surviving(es, item("a", has_parent)) == ["e1", "e3", "e4", "e5"]
    two_entries = item("a", match("process.name", "powershell.exe"), match("user.name", "bob"))
    assert surviving(es, two_entries) == ["e1", "e2", "e4", "e5"]


def test_os_types_limit_an_item_to_hosts_of_that_os(es: Lanner) -> None:
    cmd = item("a", match("process.name", "cmd.exe"), os_types=["windows"])
    assert surviving(es, cmd) == ["e2", "e3", "e4", "e5"]


def test_nested_entries_must_hold_in_one_object_of_the_array(es: Lanner) -> None:
    signed = {"field": "process.Ext.code_signature", "type": "nested", "entries": [
        match("subject_name", "Microsoft Corporation"), match("trusted", "true")]}
    # e3 has a Microsoft signature and a trusted one, but not one trusted Microsoft signature
    assert surviving(es, item("a", signed)) == ["e2", "e3", "e4", "e5"]
    flat = item("a", match("process.Ext.code_signature.subject_name", "Microsoft Corporation"),
                match("process.Ext.code_signature.trusted", "true"))
    assert surviving(es, flat) == ["e2", "e4", "e5"]  # across objects, e3 matches too
    evil = {**signed, "entries": [match("subject_name", "Evil Corp")]}
    assert surviving(es, item("a", evil)) == ["e1", "e2", "e4", "e5"]


def test_value_lists_and_expired_items_end_to_end(es: Lanner) -> None:
    listed = item("Scanners", {"field": "destination.ip", "operator": "included",
                               "type": "list", "list": {"id": "scanners", "type": "ip"}})
    assert surviving(es, listed, value_lists={"scanners": ["10.0.0.5"]}) == [
        "e1", "e2", "e3", "e5"]
    assert surviving(es, listed) == ["e1", "e2", "e3", "e4", "e5"]  # unprocessed
    old = item("old", match("user.name", "alice"), expire_time="2025-01-01T00:00:00Z")
    assert surviving(es, old) == ["e1", "e2", "e3", "e4", "e5"]


def test_an_exception_on_a_needed_event_kills_the_sequence(es: Lanner) -> None:
    query = ('sequence by host.id [process where process.name == "powershell.exe"] '
             '[network where true]')

    def sequences(*items: ExceptionItem) -> list[list[str]]:
        built = exception_filter(items, NOW)
        response = es.eql.search(index="logs-test", query=query, filter=built.query)
        return [[e["_id"] for e in s["events"]] for s in response["hits"]["sequences"]]

    assert sequences() == [["e3", "e4"]]
    assert sequences(item("a", match("user.name", "alice"))) == [["e3", "e4"]]
    assert sequences(item("a", match("user.name", "bob"))) == []  # removes e3
    network = {"field": "destination.ip", "operator": "included", "type": "exists"}
    assert sequences(item("a", network)) == []  # removes e4


def test_invalid_toml_is_reported_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "exceptions.toml"
    path.write_text('[[exceptions]]\nname = "a" b\n', encoding="utf-8")
    (problem,) = load_exception_lists([path]).problems
    assert problem.message.startswith("invalid TOML")
    assert problem.location is not None and problem.location.line == 2
    path.write_text('[[exceptions]]\nname = "a"\nentries = [\n', encoding="utf-8")
    (problem,) = load_exception_lists([path]).problems
    assert problem.location is not None and problem.location.line == 4
