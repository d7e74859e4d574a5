"""Screening a round's filters (lanner.engine.backends.screens): over few events the filters
whose short `and` terms hold for no event, over many those whose terms on one column hold for
none of its values, are answered without their pass, and every request of the
round gets what it gets alone, errors included."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from lanner.engine.backends import duckdb as duckdb_backend
from lanner.engine.backends import screens
from lanner.engine.backends.base import FilterJob
from lanner.engine.backends.duckdb import DuckDBBackend, SearchScope
from lanner.engine.search import SearchRequest, SearchResult, prepare, search, search_many
from lanner.store import EventStore

EVENTS = [  # (second, category, os, user, process name, args)
    (1, "process", "windows", "alice", "cmd.exe", ["/c", "whoami"]),
    (2, "file", "windows", "alice", None, None),
    (3, "process", "linux", "bob", "bash", ["-c", "curl x"]),
    (4, "network", "linux", "bob", "curl", None),
    (5, "process", "windows", "bob", "POWERSHELL.EXE", ["-enc", "abc"]),
]
OS = ("windows", "linux", "macos")
NAMES = ("cmd.exe", "bash", "curl", "powershell.exe", "python", "osascript")
QUERIES = [
    *(f'process where host.os.type == "{os}" and process.name : "{name}"'
      for os in OS for name in NAMES),
    *(f'process where host.os.type == "{os}" and (process.args : "-c" or user.name == "bob")'
      for os in OS),
    *(f'any where user.name == "{user}" and not host.os.type == "macos"'
      for user in ("alice", "bob", "carol")),
    'process where host.os.type == "windows" and process.args == null',
    'process where host.os.type == "macos" or process.name == "bash"',
    'file where ?no.such.field == 1 and user.name == "alice"',
    *(f'sequence by user.name [process where host.os.type == "{os}"] [network where true]'
      for os in OS),
    'sequence by user.name [process where process.name : "osascript"] '
    '![network where true] [process where true]',
    'sample by user.name [process where host.os.type == "linux"] [network where true]',
    'process where host.os.type == "linux" and process.name regex "a{2000}"',  # fails
    'process where host.os.type == "linux" and no.such.field == 1',  # fails
]


@pytest.fixture(scope="module")
def backend() -> Iterator[DuckDBBackend]:
    with EventStore() as store:
        docs: list[dict[str, Any]] = []
        for second, category, os, user, name, args in EVENTS:
            doc: dict[str, Any] = {"@timestamp": f"2024-01-01T00:00:0{second}Z",
                                   "event": {"category": [category]}, "user": {"name": user},
                                   "host": {"os": {"type": os}}}
            if name is not None:
                doc["process"] = {"name": name, "args": args}
            docs.append(doc)
        store.ingest(docs, index="logs-test")
        yield DuckDBBackend(store)


def summary(outcome: SearchResult | Exception) -> object:
    if isinstance(outcome, Exception):
        return type(outcome).__name__, str(outcome)
    if outcome.events:
        return [document.id for document in outcome.events]
    return [(hit.join_keys, [d.id if d else None for d in hit.events])
            for hit in outcome.sequences]


def alone(backend: DuckDBBackend, request: SearchRequest) -> object:
    try:
        return summary(search(backend, request))
    except Exception as error:  # the error is the outcome compared
        return summary(error)


@pytest.mark.parametrize("large", [False, True], ids=["rows", "values"])
def test_a_screened_round_gets_what_each_request_gets_alone(
        backend: DuckDBBackend, monkeypatch: pytest.MonkeyPatch, large: bool) -> None:
    if large:  # the store counts as large: its filters are screened over their values
        monkeypatch.setattr(duckdb_backend, "_SCREENED_EVENTS", 0)
    scope = SearchScope(backend.indices("logs-*"))
    requests = [SearchRequest(query, scope, 100) for query in QUERIES]
    together = [summary(outcome) for outcome in search_many(backend, requests)]
    assert together == [alone(backend, request) for request in requests]
    for found in [('linux', 'bash'), ('windows', 'powershell.exe')]:
        assert together[QUERIES.index(f'process where host.os.type == "{found[0]}" and '
                                      f'process.name : "{found[1]}"')] != []
    assert together[-2][0] == "CompileError" and together[-1][0] == "UnknownFieldError"


def test_only_filters_whose_short_terms_all_hold_run(backend: DuckDBBackend) -> None:
    scope = SearchScope(backend.indices("logs-*"))
    compiler = backend.compiler(scope)
    queries = QUERIES[:18]  # host.os.type and process.name
    jobs = [FilterJob(stage, compiler, scope) for query in queries
            for stage in prepare(query).stages]
    jobs += [FilterJob(stage, compiler, scope) for number in range(20)
             for stage in prepare(f'process where user.name == "u{number}"').stages]
    outcomes: list[Any] = [None] * len(jobs)
    members = backend._members(jobs, outcomes)
    kept = screens.screen_rows(backend, members)
    # Each term alone: an os some process event has, and a name some process event has (the
    # whole conditions then decide: bash on windows runs, and finds nothing).
    assert sorted(kept_pairs(kept)) == sorted(
        (os, name) for os in ("windows", "linux") for name in ("cmd.exe", "bash",
                                                               "powershell.exe"))
    assert backend.filter_many(jobs) == [
        [1] if (os, name) == ("windows", "cmd.exe") else
        [3] if (os, name) == ("linux", "bash") else
        [5] if (os, name) == ("windows", "powershell.exe") else []
        for os in OS for name in NAMES] + [[]] * 20


def kept_pairs(kept: list[Any]) -> list[tuple[str, str]]:
    pairs = [(os, name) for os in OS for name in NAMES]
    return [pairs[member.positions[0]] for member in kept]


def value_jobs(backend: DuckDBBackend) -> list[FilterJob]:
    scope = SearchScope(backend.indices("logs-*"))
    compiler = backend.compiler(scope)
    queries = [*QUERIES[:18], *(f'process where user.name == "u{number}"'
                                for number in range(20))]
    return [FilterJob(stage, compiler, scope) for query in queries
            for stage in prepare(query).stages]


def test_over_many_events_filters_are_screened_by_the_values_of_their_columns(
        backend: DuckDBBackend) -> None:
    jobs = value_jobs(backend)
    members = backend._members(jobs, [None] * len(jobs))
    kept = screens.screen_values(backend, members)
    # Values are screened per index, not per category: curl, a network event's process,
    # keeps its filters; macos, osascript, python and the u* users hold nowhere.
    assert sorted(kept_pairs(kept)) == sorted(
        (os, name) for os in ("windows", "linux")
        for name in ("cmd.exe", "bash", "curl", "powershell.exe"))


def test_columns_with_many_values_are_not_screened(
        backend: DuckDBBackend, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(screens, "_SCREENED_VALUES", 2)  # os and user: 2; names: 4
    jobs = value_jobs(backend)
    members = backend._members(jobs, [None] * len(jobs))
    kept = screens.screen_values(backend, members)
    assert sorted(kept_pairs(kept)) == sorted(
        (os, name) for os in ("windows", "linux") for name in NAMES)
