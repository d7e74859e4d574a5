"""Missing and multi-valued fields under `not`, `!=` and `not in`, through the public client.

Elasticsearch runs a `where` clause as a bool query: a predicate on a missing field is false,
and its negation (must_not) true. docs/semantics-notes.md gives the sources.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import lanner
from lanner.engine.client import Lanner
from lanner.rules import load_rule_file
from tests.conftest import ROOT

MAPPING = {"properties": {
    "@timestamp": {"type": "date"},
    "event": {"properties": {"category": {"type": "keyword"}}},
    "id": {"type": "long"},
    "user": {"properties": {"name": {"type": "keyword"}}},
    "destination": {"properties": {"port": {"type": "long"}}},
    "process": {"properties": {
        "name": {"type": "keyword"},
        "pid": {"type": "long"},
        "args": {"type": "keyword"},
        "parent": {"properties": {"name": {"type": "keyword"}}},
        "code_signature": {"properties": {
            "exists": {"type": "boolean"},
            "trusted": {"type": "boolean"},
            "subject_name": {"type": "keyword"},
        }},
    }},
}}

MICROSOFT = {"trusted": True, "subject_name": "Microsoft Windows"}
EVENTS: list[dict[str, Any]] = [
    {"id": 1, "event": {"category": "process"}, "process": {
        "name": "cmd.exe", "pid": 100, "args": ["/c", "whoami"], "code_signature": MICROSOFT,
        "parent": {"name": "explorer.exe"}}},
    {"id": 2, "event": {"category": "process"}, "process": {
        "name": "veeam.exe", "pid": 200, "args": ["--backup"],
        "code_signature": {"trusted": True, "subject_name": "Veeam Software"}}},
    {"id": 3, "event": {"category": "process"}, "process": {  # unsigned: Defend sends no trusted
        "name": "smbscan.exe", "pid": 300, "code_signature": {"exists": False}}},
    {"id": 4, "event": {"category": "process"}, "process": {
        "name": "tool.exe", "pid": 400, "args": "/c", "parent": {"name": "tool.exe"},
        "code_signature": {"trusted": False, "subject_name": "Foo Corp"}}},
    {"id": 5, "event": {"category": "process"}, "process": {"pid": 500}},
    {"id": 6, "event": {"category": "network"}, "process": {"name": "cmd.exe"},
     "destination": {"port": 445}},
    {"id": 7, "event": {"category": "network"}, "process": {"name": "smbscan.exe"},
     "destination": {"port": 445}},
    {"id": 8, "event": {"category": "network"}, "process": {"name": "tool.exe"}},
]


@pytest.fixture(scope="module")
def es() -> Iterator[Lanner]:
    with lanner.connect() as client:
        client.indices.create(index="logs", mappings=MAPPING)
        operations: list[dict[str, Any]] = []
        for event in EVENTS:
            timestamp = f"2026-11-20T10:00:{event['id']:02d}Z"
            operations += [{"index": {"_index": "logs"}}, {"@timestamp": timestamp, **event}]
        assert client.bulk(operations=operations)["errors"] is False
        yield client


def ids(es: Lanner, query: str) -> list[int]:
    hits = es.eql.search(index="logs", query=query, size=100)["hits"]["events"]
    return sorted(hit["_source"]["id"] for hit in hits)


def sequences(es: Lanner, query: str) -> list[list[int]]:
    hits = es.eql.search(index="logs", query=query, size=100)["hits"]["sequences"]
    return [[event["_source"]["id"] for event in hit["events"]] for hit in hits]


def test_not_over_a_missing_field_matches(es: Lanner) -> None:
    assert ids(es, 'process where process.name == "cmd.exe"') == [1]
    assert ids(es, 'process where not process.name == "cmd.exe"') == [2, 3, 4, 5]
    assert ids(es, "process where not process.code_signature.trusted == true") == [3, 4, 5]
    assert ids(es, "process where not process.code_signature.trusted") == [3, 4, 5]
    assert ids(es, 'process where not startsWith(process.name, "cmd")') == [2, 3, 4, 5]
    assert ids(es, 'process where not process.name : "*.EXE"') == [5]
    assert ids(es, "process where not process.pid >= 300") == [1, 2]


def test_not_equals_matches_a_missing_field(es: Lanner) -> None:
    assert ids(es, 'process where process.code_signature.subject_name != "Veeam Software"') \
        == [1, 3, 4, 5]
    assert ids(es, "process where process.code_signature.trusted != true") == [3, 4, 5]
    assert ids(es, 'process where startsWith(process.name, "cmd") == false') == [2, 3, 4, 5]


def test_not_in_matches_a_missing_field(es: Lanner) -> None:
    assert ids(es, 'process where process.name not in ("cmd.exe", "tool.exe")') == [2, 3, 5]
    assert ids(es, 'process where process.name not in~ ("CMD.EXE")') == [2, 3, 4, 5]
    assert ids(es, 'process where process.name not in ("cmd.exe", null)') == [2, 3, 4, 5]


def test_not_equals_on_an_array_means_no_value_equals(es: Lanner) -> None:
    assert ids(es, 'process where process.args == "/c"') == [1, 4]  # some value equals
    assert ids(es, 'process where process.args != "/c"') == [2, 3, 5]  # none does
    assert ids(es, 'process where process.args not in ("whoami", "--backup")') == [3, 4, 5]
    assert ids(es, 'process where not process.args : "--*"') == [1, 3, 4, 5]


def test_null_comparisons_are_exists_queries(es: Lanner) -> None:
    assert ids(es, "process where process.code_signature.trusted == null") == [3, 5]
    assert ids(es, "process where process.code_signature.trusted != null") == [1, 2, 4]
    assert ids(es, "process where process.args == null") == [3, 5]
    assert ids(es, "process where not (process.args != null)") == [3, 5]
    assert ids(es, 'process where ?process.unmapped == "x"') == []
    assert ids(es, 'process where ?process.unmapped != "x"') == [1, 2, 3, 4, 5]


def test_rule_shape_keeps_unsigned_processes(es: Lanner) -> None:
    query = """process where not (process.code_signature.trusted == true and
                                   not startsWith(process.code_signature.subject_name,
                                                  "Microsoft"))"""
    assert ids(es, query) == [1, 3, 4, 5]  # only the trusted non-Microsoft veeam.exe goes


def test_script_predicates_under_not(es: Lanner) -> None:
    assert ids(es, "process where length(process.name) > 7") == [2, 3, 4]
    assert ids(es, "process where length(process.name) <= 7") == [1]  # 5: null, false
    assert ids(es, "process where not (length(process.name) > 7)") == [1, 5]  # not false
    assert ids(es, 'process where not concat(process.name, process.pid) == "cmd.exe100"') \
        == [2, 3, 4, 5]
    # field against field: a script reading both; `!=` is its own script, not a negation
    assert ids(es, "process where ?process.name == ?process.parent.name") == [4]
    assert ids(es, "process where not (?process.name == ?process.parent.name)") \
        == [1, 2, 3, 5]
    assert ids(es, "process where ?process.name != ?process.parent.name") == [1]


def test_sequence_stages_use_two_valued_logic(es: Lanner) -> None:
    assert sequences(es, """sequence by process.name
        [process where not process.code_signature.trusted == true]
        [network where destination.port == 445]""") == [[3, 7]]
    assert sequences(es, """sequence by process.name
        [process where process.code_signature.subject_name != "Veeam Software"]
        [network where destination.port != 445]""") == [[4, 8]]
    assert sequences(es, """sequence by process.name
        [process where not (length(process.name) > 7)]
        [network where destination.port not in (80, 443)]""") == [[1, 6]]


def test_seed_rule_fires_on_an_unsigned_process(tmp_path: Path) -> None:
    """The SMB rule's `not (trusted == true and not startsWith(subject_name, "Microsoft"))`
    on a process Elastic Defend reports unsigned: `code_signature` has no `trusted`."""
    rule = load_rule_file(ROOT / "examples" / "rules" / "smb_connection_lolbin.toml")
    lines = (ROOT / "examples" / "events" / "smb_connection_lolbin.ndjson").read_text()
    events = [json.loads(line) for line in lines.splitlines() if line.strip()]
    unsigned = "C:\\Users\\alice\\AppData\\Local\\Temp\\smbscan.exe"
    for event in events:
        if event["event"]["id"] in ("smb-tp-powershell-start", "smb-tp-connect-445"):
            event["process"].update(code_signature={"exists": False}, executable=unsigned,
                                    name="smbscan.exe")
    path = tmp_path / "unsigned.ndjson"
    path.write_text("".join(json.dumps(event) + "\n" for event in events))
    with lanner.connect() as client:
        client.ingest_file(path)
        response = client.eql.search(index=list(rule.index), query=rule.query, size=100)
    fired = [[hit["_source"]["event"]["id"] for hit in sequence["events"]]
             for sequence in response["hits"]["sequences"]]
    assert fired == [["smb-tp-powershell-start", "smb-tp-connect-445"]]
