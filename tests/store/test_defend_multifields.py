"""Elastic Defend's `.caseless` multi-fields: indexed by Elasticsearch from the parent's
values, lower-cased, only in the indices Defend writes (KQL-SEMANTICS.md §5.2, §5.16), and an
explicit mapping's multi-field with the lowercase normalizer likewise. Every engine path over
a real DuckDB store: EQL, KQL and Query DSL, exceptions, ES|QL, field capabilities."""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lanner import esql
from lanner.detection.exceptions import ExceptionEntry, ExceptionItem, exception_filter
from lanner.engine.backends.sql import UnknownFieldError
from lanner.engine.client import Lanner, connect
from lanner.engine.esql_sql import run
from lanner.engine.field_caps import index_fields
from lanner.store import EventStore, events

DEFEND = "logs-endpoint.events.process-default"
BEATS = "winlogbeat-2026.01.01"
LONG_NAME = "A" * 1025  # beyond the multi-field's ignore_above (1024): not indexed there


def event(second: int, **fields: Any) -> dict[str, Any]:
    return {"@timestamp": f"2026-01-01T00:00:{second:02d}Z", "event": {"category": "process"},
            **fields}


@pytest.fixture(scope="module")
def es() -> Iterator[Lanner]:
    client = connect()
    documents = [
        (DEFEND, "d-upper", event(1, process={"name": "CMD.EXE"},
                                  host={"os": {"name": "Windows"}})),
        (DEFEND, "d-other", event(2, process={"name": "powershell.exe"})),
        (DEFEND, "d-array", event(3, process={"name": ["Helper.EXE", "Cmd.Exe"],
                                              "command_line": "CMD /C WHOAMI"})),
        (DEFEND, "d-long", event(4, process={"name": LONG_NAME})),
        (BEATS, "w-upper", event(5, process={"name": "CMD.EXE"})),
    ]
    operations: list[Any] = []
    for index, doc_id, document in documents:
        operations += [{"index": {"_index": index, "_id": doc_id}}, document]
    assert client.bulk(operations=operations, refresh=True)["errors"] is False
    yield client
    client.close()


def eql_ids(es: Lanner, index: str, query: str, **options: Any) -> list[str]:
    response = es.eql.search(index=index, query=query, size=50, **options)
    return [hit["_id"] for hit in response["hits"]["events"]]


def kql_ids(es: Lanner, index: str, kql: str) -> list[str]:
    return [hit["_id"] for hit in es.search(index=index, kql=kql, size=50)["hits"]["hits"]]


def test_eql_reads_the_lowercased_parent_in_defend_indices_only(es: Lanner) -> None:
    query = 'process where process.name.caseless == "cmd.exe"'
    assert eql_ids(es, "logs-endpoint.*", query) == ["d-upper", "d-array"]
    # searched together, the Beats index has no such field: its event never matches
    assert eql_ids(es, "logs-endpoint.*,winlogbeat-*", query) == ["d-upper", "d-array"]
    assert eql_ids(es, "*", query) == ["d-upper", "d-array"]
    assert eql_ids(es, "logs-endpoint.*", 'process where process.name.caseless : "CMD*"') == [
        "d-upper", "d-array"]
    # the stored parent keeps its case
    assert eql_ids(es, "logs-endpoint.*", 'process where process.name == "cmd.exe"') == []
    # a value longer than ignore_above is not indexed in the multi-field, only in the parent
    assert eql_ids(es, "logs-endpoint.*",
                   "process where process.name.caseless == null") == ["d-long"]
    assert eql_ids(es, "logs-endpoint.*", 'process where process.command_line.caseless == '
                   '"cmd /c whoami"') == ["d-array"]


def test_eql_over_a_beats_index_has_no_values_of_the_field(es: Lanner) -> None:
    # the packaged schema (Defend's process fields) types the name: a null, as before
    assert eql_ids(es, "winlogbeat-*", 'process where process.name.caseless == "cmd.exe"') == []
    assert eql_ids(es, "winlogbeat-*", "process where process.name.caseless == null") == [
        "w-upper"]
    assert eql_ids(es, "winlogbeat-*", 'process where ?process.name.caseless == "cmd.exe"') == []
    with pytest.raises(UnknownFieldError, match=r"host\.os\.name\.caseless"):
        eql_ids(es, "winlogbeat-*", 'process where host.os.name.caseless == "windows"')


def test_kql_and_query_dsl_match_case_insensitively(es: Lanner) -> None:
    assert kql_ids(es, "logs-endpoint.*", 'process.name.caseless:"cmd.exe"') == [
        "d-upper", "d-array"]
    assert kql_ids(es, "logs-endpoint.*", "process.name.caseless:CMD.EXE") == [
        "d-upper", "d-array"]
    assert kql_ids(es, "*", "process.name.caseless:*cmd*") == ["d-upper", "d-array"]
    assert kql_ids(es, "logs-endpoint.*", "not process.name.caseless:*") == ["d-long"]
    assert kql_ids(es, "winlogbeat-*", 'process.name.caseless:"cmd.exe"') == []
    term = {"term": {"process.name.caseless": "cmd.exe"}}
    hits = es.search(index="*", query=term, size=50)["hits"]["hits"]
    assert [hit["_id"] for hit in hits] == ["d-upper", "d-array"]
    # _source is the document as sent: no multi-field in it
    assert "caseless" not in str(hits[0]["_source"])


def test_exception_os_types_match_host_os_name_caseless(es: Lanner) -> None:
    item = ExceptionItem("windows cmd", "list", (
        ExceptionEntry("process.name", "match", "included", "CMD.EXE"),), os_types=("windows",))
    built = exception_filter([item], datetime.datetime(2026, 1, 2, tzinfo=datetime.UTC))
    query = "process where true"
    # d-upper has host.os.name "Windows" and no host.os.type: the caseless clause excepts it
    assert eql_ids(es, "logs-endpoint.*", query, filter=built.query) == [
        "d-other", "d-array", "d-long"]
    # in the Beats index no field says Windows: the event stays
    assert eql_ids(es, "winlogbeat-*", query, filter=built.query) == ["w-upper"]


def test_esql_reads_the_multi_field(es: Lanner) -> None:
    text = ('FROM logs-endpoint.*, winlogbeat-* METADATA _id | WHERE process.name.caseless '
            'LIKE "*cmd*" | KEEP _id, process.name.caseless | SORT _id')
    query = esql.parse(text)
    backend = es.backend
    _, found = run(backend, query, backend.indices(list(query.source.indices)),
                   filter_sql=None, now=datetime.datetime(2026, 1, 2, tzinfo=datetime.UTC),
                   limit=10)
    # d-array's two values make LIKE null (ES|QL's multi-value rule); w-upper has no field
    assert [row.values for row in found] == [
        {"_id": "d-upper", "process.name.caseless": "cmd.exe"}]
    text = ('FROM logs-endpoint.* METADATA _id | WHERE _id == "d-array" '
            '| KEEP process.name.caseless')
    query = esql.parse(text)
    _, found = run(backend, query, backend.indices(list(query.source.indices)),
                   filter_sql=None, now=datetime.datetime(2026, 1, 2, tzinfo=datetime.UTC),
                   limit=10)
    assert [row.values for row in found] == [{"process.name.caseless": ["cmd.exe",
                                                                        "helper.exe"]}]


def test_field_caps_list_the_multi_field_in_defend_indices(es: Lanner) -> None:
    fields = index_fields(es.store, [DEFEND, BEATS])
    caseless = fields[DEFEND]["process.name.caseless"]
    assert (caseless.type, caseless.multi_field_of) == ("keyword", "process.name")
    assert "process.name.caseless" not in fields[BEATS]
    assert "process.name" in fields[BEATS]


def test_an_explicit_mapping_with_a_lowercase_normalizer() -> None:
    with connect() as es:
        es.indices.create(index="mapped", mappings={"properties": {
            "@timestamp": {"type": "date"}, "event": {"properties": {"category": {
                "type": "keyword"}}},
            "name": {"type": "keyword", "fields": {
                "lc": {"type": "keyword", "normalizer": "lowercase", "ignore_above": 5},
                "raw": {"type": "keyword"}}}}})
        documents = [("m-short", "ABC"), ("m-long", "ABCDEFG"), ("m-list", ["X", "Abc"])]
        operations: list[Any] = []
        for number, (doc_id, name) in enumerate(documents):
            operations += [{"index": {"_index": "mapped", "_id": doc_id}},
                           event(number, name=name)]
        assert es.bulk(operations=operations, refresh=True)["errors"] is False
        assert eql_ids(es, "mapped", 'any where name.lc == "abc"') == ["m-short", "m-list"]
        assert eql_ids(es, "mapped", 'any where name.lc == "abcdefg"') == []
        assert eql_ids(es, "mapped", 'any where name.raw == "abc"') == []
        assert kql_ids(es, "mapped", "name.lc:abc*") == ["m-short", "m-list"]
        # the normalizer applies to the query's term too (ES normalizer doc; §5.2)
        assert kql_ids(es, "mapped", "name.lc:ABC") == ["m-short", "m-list"]
        assert kql_ids(es, "mapped", "name.raw:ABC") == ["m-short"]


def test_a_store_reading_only_the_multi_field_reads_its_parent(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(events, "SMALL_INPUT_BYTES_PER_FIELD", 0)  # the columnar way
    path = tmp_path / "events.ndjson"
    path.write_text("\n".join(json.dumps(event(n, process={"name": name}))
                              for n, name in enumerate(["CMD.EXE", "sh"])) + "\n")
    with EventStore() as store:
        store.ingest_files([path], index=DEFEND, fields={"process.name.caseless"})
        assert store.general_files == []
        es = Lanner.over(store)
        assert len(eql_ids(es, DEFEND, 'process where process.name.caseless == "cmd.exe"')) == 1
