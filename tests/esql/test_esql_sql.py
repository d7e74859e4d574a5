"""ES|QL over a real DuckDB store: each command and the functions the corpus rules use, with
multi-valued fields and nulls, as Elasticsearch's ES|QL answers them."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from typing import Any

import pytest

from lanner import esql
from lanner.engine.backends.duckdb import DuckDBBackend
from lanner.engine.esql_sql import run
from lanner.esql import EsqlVerificationError
from lanner.store import EventStore

NOW = datetime.datetime(2024, 1, 1, 1, 0, tzinfo=datetime.UTC)
EVENTS: list[dict[str, Any]] = [
    {"@timestamp": "2024-01-01T00:00:01Z", "host": {"name": "h1", "ip": ["10.0.0.5", "fe80::1"]},
     "user": {"name": "alice"}, "event": {"category": ["process"], "code": "4625"},
     "process": {"name": "cmd.exe", "args": ["b", "a", "b"], "pid": 10,
                 "command_line": "cmd /c whoami"}},
    {"@timestamp": "2024-01-01T00:01:30Z", "host": {"name": "h1", "ip": "192.168.1.9"},
     "user": {"name": "bob"}, "event": {"category": ["process"]},
     "process": {"name": "powershell.exe", "args": ["x"], "pid": 20,
                 "command_line": "powershell -enc QUJD"}},
    {"@timestamp": "2024-01-01T00:02:01Z", "host": {"name": "h2"},
     "event": {"category": ["process", "file"]}, "process": {"name": "CMD.EXE", "pid": 30}},
]


@pytest.fixture(scope="module")
def backend() -> Iterator[DuckDBBackend]:
    with EventStore() as store:
        store.ingest(EVENTS, index="logs-test-default")
        store.ingest([{"@timestamp": "2024-01-01T00:00:00Z", "other": "x"}], index="other-1")
        yield DuckDBBackend(store)


def rows(backend: DuckDBBackend, text: str, limit: int = 100) -> list[dict[str, Any]]:
    query = esql.parse(text)
    indices = backend.indices(list(query.source.indices))
    _, found = run(backend, query, indices, filter_sql=None, now=NOW, limit=limit)
    return [row.values for row in found]


def test_where_reads_single_values_and_multi_values_as_null(backend: DuckDBBackend) -> None:
    assert rows(backend, 'FROM logs-* | WHERE process.args == "x" | KEEP process.name') == [
        {"process.name": "powershell.exe"}]
    # a multi-valued field compares as null: neither == nor != keeps the first event
    assert rows(backend, 'FROM logs-* | WHERE process.args != "zzz" | KEEP process.pid') == [
        {"process.pid": 20}]
    assert rows(backend, "FROM logs-* | WHERE user.name IS NULL | KEEP process.pid") == [
        {"process.pid": 30}]
    assert rows(backend, 'FROM logs-* | WHERE NOT user.name IN ("bob") | KEEP process.pid') == [
        {"process.pid": 10}]


def test_like_rlike_are_whole_string_and_case_sensitive(backend: DuckDBBackend) -> None:
    assert rows(backend, 'FROM logs-* | WHERE process.name LIKE "*.exe" | KEEP process.pid') \
        == [{"process.pid": 10}, {"process.pid": 20}]
    assert rows(backend, 'FROM logs-* | WHERE TO_LOWER(process.name) LIKE "cmd?exe" '
                         "| KEEP process.pid") == [{"process.pid": 10}, {"process.pid": 30}]
    assert rows(backend, 'FROM logs-* | WHERE process.command_line RLIKE "power.*" '
                         "| KEEP process.pid") == [{"process.pid": 20}]
    assert rows(backend, 'FROM logs-* | WHERE process.command_line RLIKE "enc" '
                         "| KEEP process.pid") == []


def test_multi_values_read_sorted_and_deduplicated_and_mv_functions(
        backend: DuckDBBackend) -> None:
    found = rows(backend, 'FROM logs-* | WHERE process.pid == 10 | EVAL first = MV_FIRST('
                          'process.args), n = MV_COUNT(process.args), joined = MV_CONCAT('
                          'process.args, "+"), sliced = MV_SLICE(process.args, -1) | KEEP '
                          "process.args, first, n, joined, sliced")
    assert found == [{"process.args": ["a", "b"], "first": "a", "n": 2, "joined": "a+b",
                      "sliced": "b"}]
    assert rows(backend, "FROM logs-* | WHERE process.pid == 10 | EVAL l = "
                         "LENGTH(process.args), u = TO_UPPER(process.args) | KEEP l, u") == [
        {"u": ["A", "B"]}]  # LENGTH is null on a multi-value, TO_UPPER takes each value


def test_eval_case_coalesce_concat_replace_and_dates(backend: DuckDBBackend) -> None:
    found = rows(backend, 'FROM logs-* | EVAL kind = CASE(process.pid > 15, "late", "early"), '
                          'who = COALESCE(user.name, "nobody"), line = CONCAT(process.name, "!"),'
                          ' r = REPLACE(process.name, "(?i)\\\\.exe$", ""), minute = DATE_TRUNC('
                          "1 minute, @timestamp), age = DATE_DIFF(\"seconds\", @timestamp, NOW())"
                          " | SORT @timestamp | KEEP kind, who, line, r, minute, age")
    assert found == [
        {"kind": "early", "who": "alice", "line": "cmd.exe!", "r": "cmd",
         "minute": "2024-01-01T00:00:00.000Z", "age": 3599},
        {"kind": "late", "who": "bob", "line": "powershell.exe!", "r": "powershell",
         "minute": "2024-01-01T00:01:00.000Z", "age": 3510},
        {"kind": "late", "who": "nobody", "line": "CMD.EXE!", "r": "CMD",
         "minute": "2024-01-01T00:02:00.000Z", "age": 3479},
    ]


def test_stats_groups_multi_valued_keys_and_nulls(backend: DuckDBBackend) -> None:
    found = rows(backend, "FROM logs-* | STATS n = COUNT(*), users = COUNT_DISTINCT(user.name),"
                          " args = VALUES(process.args), first = MIN(@timestamp), pids = SUM("
                          "process.pid) BY event.category | SORT event.category")
    assert found == [
        {"n": 1, "users": 0, "first": "2024-01-01T00:02:01.000Z", "pids": 30,
         "event.category": "file"},
        {"n": 3, "users": 2, "args": ["a", "b", "x"], "first": "2024-01-01T00:00:01.000Z",
         "pids": 60, "event.category": "process"},
    ]
    found = rows(backend, "FROM logs-* | STATS n = COUNT(user.name) BY user.name "
                          "| SORT user.name DESC")
    assert found == [{"n": 0}, {"n": 1, "user.name": "bob"}, {"n": 1, "user.name": "alice"}]


def test_inline_stats_keeps_rows_and_mv_expand_makes_one_per_value(
        backend: DuckDBBackend) -> None:
    found = rows(backend, "FROM logs-* | INLINE STATS n = COUNT(*) BY host.name | WHERE n > 1 "
                          "| KEEP process.pid, n | SORT process.pid")
    assert found == [{"process.pid": 10, "n": 2}, {"process.pid": 20, "n": 2}]
    found = rows(backend, "FROM logs-* | MV_EXPAND process.args | KEEP process.pid, "
                          "process.args | SORT process.pid, process.args")
    assert found == [{"process.pid": 10, "process.args": "a"},
                     {"process.pid": 10, "process.args": "b"},
                     {"process.pid": 20, "process.args": "x"}, {"process.pid": 30}]


def test_dissect_grok_cidr_and_base64(backend: DuckDBBackend) -> None:
    found = rows(backend, 'FROM logs-* | WHERE process.command_line IS NOT NULL | DISSECT '
                          'process.command_line "%{exe} %{flag} %{rest}" | GROK '
                          'process.command_line "-enc (?<payload>[A-Za-z0-9+/=]+)" | EVAL text ='
                          " FROM_BASE64(payload) | KEEP exe, flag, rest, text | SORT exe")
    assert found == [{"exe": "cmd", "flag": "/c", "rest": "whoami"},
                     {"exe": "powershell", "flag": "-enc", "rest": "QUJD", "text": "ABC"}]
    found = rows(backend, 'FROM logs-* | WHERE CIDR_MATCH(host.ip, "192.168.0.0/16") '
                          "| KEEP process.pid")
    assert found == [{"process.pid": 20}]


def test_kql_and_sort_limit(backend: DuckDBBackend) -> None:
    found = rows(backend, 'FROM logs-* | WHERE KQL("process.name:cmd.exe or user.name:bob") '
                          "| SORT process.pid DESC | LIMIT 1 | KEEP process.pid")
    assert found == [{"process.pid": 20}]
    assert rows(backend, "FROM logs-* | SORT process.pid DESC | KEEP process.pid",
                limit=2) == [{"process.pid": 30}, {"process.pid": 20}]


def test_unknown_columns_fail_as_es_verification_and_unmatched_patterns_are_empty(
        backend: DuckDBBackend) -> None:
    with pytest.raises(EsqlVerificationError) as caught:
        rows(backend, "FROM logs-* | STATS n = COUNT(*) BY host.name | WHERE user.name == 1")
    assert (caught.value.line, caught.value.col, caught.value.message) == (
        1, 55, "Unknown column [user.name]")
    with pytest.raises(EsqlVerificationError, match=r"argument must also be \[keyword\]"):
        rows(backend, "FROM logs-* | WHERE user.name == 1")
    assert rows(backend, "FROM nothing-* | WHERE no.such.field == 1") == []


def test_replace_runs_java_regexes_re2_can_express(backend: DuckDBBackend) -> None:
    found = rows(backend, 'FROM logs-* | WHERE process.pid == 10 | EVAL a = REPLACE('
                          'process.command_line, "(?![cw])[a-z]", "_"), b = REPLACE('
                          'process.command_line, "([a-z]++) ", "<$1>") | KEEP a, b')
    assert found == [{"a": "c__ /c w_____", "b": "<cmd>/<c>whoami"}]
    with pytest.raises(EsqlVerificationError, match="lookaround"):
        rows(backend, 'FROM logs-* | EVAL a = REPLACE(process.name, "a(?=b)", "")')



def test_stats_aggregations_with_their_own_where(backend: DuckDBBackend) -> None:
    found = rows(backend, 'FROM logs-* | STATS cmd = COUNT(*) WHERE TO_LOWER(process.name) == '
                          '"cmd.exe", users = VALUES(user.name) WHERE process.pid > 15, '
                          "none = COUNT_DISTINCT(user.name) WHERE process.pid > 99 BY host.name "
                          "| SORT host.name")
    assert found == [{"cmd": 1, "users": "bob", "none": 0, "host.name": "h1"},
                     {"cmd": 1, "none": 0, "host.name": "h2"}]


def test_match_with_fuzziness_on_a_keyword_field_allows_edits(backend: DuckDBBackend) -> None:
    found = rows(backend, 'FROM logs-* | WHERE MATCH(process.name, "cmd.exx", {"fuzziness": 1}) '
                          "| KEEP process.pid")
    assert found == [{"process.pid": 10}]  # not CMD.EXE: three edits away
    assert rows(backend, 'FROM logs-* | WHERE process.name : "cmd.exx" | KEEP process.pid') == []


def test_url_decode_reads_plus_as_a_space_as_java_does(backend: DuckDBBackend) -> None:
    found = rows(backend, 'FROM logs-* | WHERE process.pid == 10 | EVAL u = URL_DECODE('
                          '"a+b%2Bc%20d") | KEEP u')
    assert found == [{"u": "a b+c d"}]


def test_trim_removes_whitespace_of_any_kind(backend: DuckDBBackend) -> None:
    found = rows(backend, 'FROM logs-* | WHERE process.pid == 10 | EVAL t = TRIM("\\t a b \\n")'
                          " | KEEP t")
    assert found == [{"t": "a b"}]
