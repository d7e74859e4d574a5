"""search_many: many requests answered as search() answers each alone, their filters
evaluated together by a backend that can (DuckDB's filter_many), each failure its own."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import pytest

from lanner.engine.backends.base import FilterJob, KeyedLater, Together
from lanner.engine.backends.duckdb import DuckDBBackend, SearchScope
from lanner.engine.backends.sql import QueryFailedError, UnknownFieldError
from lanner.engine.matcher import Event
from lanner.engine.querydsl import filter_condition
from lanner.engine.search import SearchRequest, SearchResult, prepare, search, search_many
from lanner.store import EventStore

EVENTS = [  # (timestamp second, category, user, name, args)
    (1, "process", "alice", "cmd.exe", ["/c", "whoami"]),
    (2, "file", "alice", "a.txt", []),
    (2, "process", "bob", "POWERSHELL.EXE", ["-enc", "abc"]),
    (3, "network", "bob", None, None),
    (4, "process", "alice", "whoami.exe", ["/all"]),
    (5, "file", "bob", "b.txt", None),
    (6, "process", "bob", "cmd.exe", []),
]
QUERIES = [
    'process where true',
    'process where process.name : ("cmd.exe", "powershell.exe")',
    'process where process.args == "/all" or process.args in ("-enc", "x")',
    'any where user.name == "bob" | head 2',
    'any where user.name == "bob" | tail 2',
    'file where true | tail 5 | head 1',
    'sequence by user.name [process where true] [file where true]',
    'sequence by user.name with maxspan=2s [process where true] [any where true] | tail 1',
    'sequence [process where user.name == "alice"] [process where user.name == "bob"] '
    'until [network where true]',
    'sample by user.name [process where true] [file where true]',
    'sequence by user.name [process where user.name == "nobody"] [file where true]',
    'sequence by user.name with maxspan=10s [process where true] '
    '![network where user.name == "nobody"] '
    '[file where true]',
    'sample by user.name [process where true] [network where user.name == "alice"]',
    # repeated column calls are computed once per pass, never inside a string
    'process where process.name : "cmd.exe" or process.name : "whoami.exe" or '
    'process.name == "lower(\\"process.name\\")"',
]


@pytest.fixture(scope="module")
def backend() -> Iterator[DuckDBBackend]:
    with EventStore() as store:
        docs: list[dict[str, Any]] = []
        for second, category, user, name, args in EVENTS:
            doc: dict[str, Any] = {"@timestamp": f"2024-01-01T00:00:0{second}Z",
                                   "event": {"category": [category]}, "user": {"name": user}}
            if name is not None:
                doc["process"] = {"name": name, "args": args}
            docs.append(doc)
        store.ingest(docs, index="logs-test")
        yield DuckDBBackend(store)


def request(backend: DuckDBBackend, query: str, size: int = 10,
            position: str = "tail") -> SearchRequest:
    return SearchRequest(query, SearchScope(backend.indices("logs-*")), size, position)


def ids(result: SearchResult) -> list[object]:
    if result.events:
        return [document.id for document in result.events]
    return [(hit.join_keys, [d.id if d else None for d in hit.events])
            for hit in result.sequences]


def test_many_requests_get_what_each_gets_alone(backend: DuckDBBackend) -> None:
    requests = [request(backend, query, size, position) for query in QUERIES
                for size, position in ((10, "tail"), (2, "head"), (1, "tail"))]
    together = search_many(backend, requests)
    alone = [search(backend, r) for r in requests]
    assert [ids(r) for r in together if isinstance(r, SearchResult)] == [ids(r) for r in alone]
    first = together[QUERIES.index(QUERIES[1]) * 3]
    assert isinstance(first, SearchResult)
    assert [d.source.count("cmd.exe") for d in first.events] == [1, 0, 1]  # names fold case


def test_a_failing_request_fails_alone_with_the_error_search_raises(
        backend: DuckDBBackend) -> None:
    bad = request(backend, 'process where no.such.field == 1')
    good = request(backend, 'process where user.name == "bob"')
    outcomes = search_many(backend, [bad, good, request(backend, 'process where (')])
    with pytest.raises(UnknownFieldError) as raised:
        search(backend, bad)
    assert isinstance(outcomes[0], UnknownFieldError)
    assert str(outcomes[0]) == str(raised.value)
    assert isinstance(outcomes[1], SearchResult) and len(outcomes[1].events) == 2
    assert "(" in str(outcomes[2])


def test_repeated_filters_run_once(backend: DuckDBBackend) -> None:
    scope = SearchScope(backend.indices("logs-*"))
    compiler = backend.compiler(scope)
    first = prepare('sequence by user.name [process where true] [file where true]')
    second = prepare('sequence by user.name [file where true] [process where true]')
    jobs = [FilterJob(stage, compiler, scope, keyed=True, timed=True)
            for plan in (first, second) for stage in plan.stages]
    outcomes = backend.filter_many(jobs)
    assert outcomes[0] is outcomes[3] and outcomes[1] is outcomes[2]  # positions differ
    assert [event.doc for event in outcomes[0]] == [1, 3, 5, 7]
    assert [event.keys for event in outcomes[1]] == [(("alice",),), (("bob",),)]


def test_a_pass_that_fails_in_duckdb_fails_only_its_own_filters(
        backend: DuckDBBackend) -> None:
    indices = backend.indices("logs-*")
    broken = SearchScope(indices, filter_sql="no_such_column = 1")
    fine = SearchScope(indices)
    compiler = backend.compiler(fine)
    stages = [prepare(q).stages[0] for q in ('process where true', 'file where true')]
    jobs = [FilterJob(stage, compiler, scope) for scope in (broken, fine) for stage in stages]
    outcomes = backend.filter_many(jobs)
    assert all(isinstance(outcome, QueryFailedError) for outcome in outcomes[:2])
    assert "no_such_column" in str(outcomes[0])
    assert outcomes[2:] == [[1, 3, 5, 7], [2, 6]]


class KeysRead(DuckDBBackend):
    """The DuckDB backend, noting the categories of the stages it reads join keys for."""

    def __init__(self, store: EventStore) -> None:
        super().__init__(store)
        self.read: list[str | None] = []

    def key_events(self, jobs: Sequence[FilterJob],
                   docs: Sequence[list[int]]) -> list[list[Event] | Exception]:
        self.read.extend(job.stage.category for job in jobs)
        return super().key_events(jobs, docs)


def test_keys_are_read_only_for_searches_that_can_still_match(
        backend: DuckDBBackend) -> None:
    reading = KeysRead(backend.store)
    assert isinstance(reading, KeyedLater)
    empty = request(reading, 'sequence by user.name [process where user.name == "nobody"] '
                             '[network where true]')
    sample = request(reading, 'sample by user.name [network where user.name == "nobody"] '
                              '[file where true]')
    missing = request(reading, 'sequence by user.name with maxspan=5s '
                               '[file where user.name == "bob"] '
                               '![process where user.name == "nobody"] [process where true]')
    together = search_many(reading, [empty, sample, missing])
    assert [ids(r) for r in together if isinstance(r, SearchResult)] == [
        ids(search(backend, r)) for r in (empty, sample, missing)]
    assert [r.sequences for r in together[:2] if isinstance(r, SearchResult)] == [[], []]
    (hit,) = together[2].sequences if isinstance(together[2], SearchResult) else ()
    assert hit.join_keys == ["bob"] and [d is None for d in hit.events] == [False, True, False]
    assert reading.read == ["file", "process", "process"]  # the last sequence's stages only


def test_a_bad_join_key_fails_even_when_a_stage_matches_nothing(
        backend: DuckDBBackend) -> None:
    bad = request(backend, 'sequence by no.such.field [process where user.name == "nobody"] '
                           '[file where true]')
    (outcome,) = search_many(backend, [bad])
    with pytest.raises(UnknownFieldError) as raised:
        search(backend, bad)
    assert isinstance(outcome, UnknownFieldError) and str(outcome) == str(raised.value)


def test_requests_with_different_filters_share_a_pass_and_keep_their_own_filter(
        backend: DuckDBBackend) -> None:
    indices = backend.indices("logs-*")
    compiler = backend.compiler(SearchScope(indices))
    scopes = [SearchScope(indices)] + [
        SearchScope(indices, filter_sql=filter_condition({"term": {"user.name": user}}, compiler))
        for user in ("alice", "bob")]
    requests = [SearchRequest(query, scope) for scope in scopes for query in (
        'process where true', 'sequence by user.name [process where true] [file where true]')]
    together = search_many(backend, requests)
    assert [ids(r) for r in together if isinstance(r, SearchResult)] == [
        ids(search(backend, r)) for r in requests]
    assert [len(r.events) for r in together[::2] if isinstance(r, SearchResult)] == [4, 2, 2]


class PassesSeen(DuckDBBackend):
    """The DuckDB backend, keeping the SQL of each pass it builds."""

    def __init__(self, store: EventStore) -> None:
        super().__init__(store)
        self.passes: list[str] = []

    def _pass_sql(self, members: list[Any]) -> tuple[str, list[int]]:
        sql, tags = super()._pass_sql(members)
        self.passes.append(sql)
        return sql, tags


def test_terms_that_conditions_share_are_computed_once_per_pass(
        backend: DuckDBBackend) -> None:
    queries = ['process where user.name == "bob" and process.name : "cmd.exe"',
               'process where user.name == "bob" and process.args == "-enc"',
               'process where user.name == "alice" and process.args == "-enc"',
               'process where user.name == "alice" and process.name : "whoami.exe"']
    seen = PassesSeen(backend.store)
    requests = [request(seen, query) for query in queries]
    together = search_many(seen, requests)
    alone = [search(backend, r) for r in requests]
    assert [ids(r) for r in together if isinstance(r, SearchResult)] == [ids(r) for r in alone]
    assert [len(r.events) for r in alone] == [1, 1, 0, 1]
    (sql,) = seen.passes
    assert sql.count("'bob'") == sql.count("'alice'") == 1  # each user test once, as a column
    assert sql.count('AS "_lanner_term_') == 3  # the two users and the shared args test


def test_the_stages_of_a_search_that_cannot_match_come_back_unevaluated(
        backend: DuckDBBackend) -> None:
    scope = SearchScope(backend.indices("logs-*"))
    compiler = backend.compiler(scope)
    plan = prepare('sequence by user.name [process where user.name == "nobody"] '
                   '[any where true]')
    jobs = [FilterJob(stage, compiler, scope, keyed=True, timed=True, keys_later=True)
            for stage in plan.distinct_filters()]
    assert [len(found) for found in backend.filter_many(jobs)] == [0, 7]
    assert backend.filter_many(jobs, [Together((0, 1), (0, 1))]) == [[], []]
    # a stage that is not required (a missing one) cannot end the search
    assert [len(found) for found in
            backend.filter_many(jobs, [Together((0, 1), (1,))])] == [0, 7]


def test_a_search_that_cannot_match_has_its_other_stages_never_passed(
        backend: DuckDBBackend) -> None:
    seen = PassesSeen(backend.store)
    dead = request(seen, 'sequence by user.name '
                         '[process where user.name == "nobody" and process.name != "x"] '
                         '[file where user.name != "never-evaluated"]')
    live = request(seen, 'sequence by user.name [process where user.name == "bob"] '
                         '[file where user.name != "evaluated"]')
    together = search_many(seen, [dead, live])
    assert [ids(r) for r in together if isinstance(r, SearchResult)] == [
        ids(search(backend, r)) for r in (dead, live)]
    assert [len(r.sequences) for r in together if isinstance(r, SearchResult)] == [0, 1]
    assert any("'evaluated'" in sql for sql in seen.passes)
    assert not any("never-evaluated" in sql for sql in seen.passes)
