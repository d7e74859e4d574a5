"""The on-disk cache of compiled conditions (lanner.engine.sqlcache): a round from a warm cache
finds what a fresh compilation finds, an entry is never used for a store that types a field
otherwise, a failing condition fails again with its own error, and the cache can be turned off
and cleared."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lanner import cache
from lanner.engine import sqlcache
from lanner.engine.backends.duckdb import DuckDBBackend, SearchScope
from lanner.engine.backends.sql import CompileError
from lanner.engine.search import SearchRequest, SearchResult, prepare, search_many
from lanner.engine.sqlcache import condition_key
from lanner.store import EventStore

NAMES = ["cmd.exe", "powershell.exe", "whoami.exe", "net.exe", "a.txt", "b.txt"]
# Enough distinct filters for a round that keeps its conditions (duckdb._CACHED_ROUND).
QUERIES = [
    *(f'process where process.name : "{name}"' for name in NAMES),
    *(f'process where process.name == "{name}" or user.name == "bob"' for name in NAMES),
    *(f'file where custom.size > {size}' for size in range(10)),
    *(f'any where user.name : "{user}*" and not process.name : "cmd*"'
      for user in ("a", "b", "c", "d", "e", "f")),
    *(f'sequence by user.name [process where process.name : "{name}"] [file where true]'
      for name in NAMES),
    'process where process.name regex~ "c[a-z]+\\\\.exe"',
    'process where cidrMatch(source.ip, "10.0.0.0/8")',
]


def documents(size_type: Any) -> list[dict[str, Any]]:
    docs = []
    for second, (category, user, name) in enumerate([
            ("process", "alice", "cmd.exe"), ("file", "alice", "a.txt"),
            ("process", "bob", "POWERSHELL.EXE"), ("file", "bob", "b.txt"),
            ("process", "carol", "whoami.exe")]):
        doc: dict[str, Any] = {"@timestamp": f"2024-01-01T00:00:0{second}Z",
                               "event": {"category": [category]}, "user": {"name": user},
                               "source": {"ip": f"10.0.0.{second}"}}
        if category == "file":
            doc["file"] = {"name": name}
            doc["custom"] = {"size": size_type(second * 6)}
        else:
            doc["process"] = {"name": name}
        docs.append(doc)
    return docs


@pytest.fixture
def cache_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("LANNER_CACHE", raising=False)
    return tmp_path / "xdg" / "lanner" / "sql"


@pytest.fixture
def store() -> Iterator[EventStore]:
    with EventStore() as events:
        events.ingest(documents(int), index="logs-test")
        yield events


def hunt(store: EventStore, queries: list[str]) -> list[object]:
    """Every query's outcome from a new backend (so the cache is read from disk)."""
    backend = DuckDBBackend(store)
    scope = SearchScope(backend.indices("logs-*"))
    outcomes = search_many(backend, [SearchRequest(query, scope, 100) for query in queries])
    return [summary(outcome) for outcome in outcomes]


def summary(outcome: SearchResult | Exception) -> object:
    if isinstance(outcome, Exception):
        return (type(outcome).__name__, str(outcome))
    if outcome.events:
        return [document.id for document in outcome.events]
    return [(hit.join_keys, [d.id if d else None for d in hit.events])
            for hit in outcome.sequences]


def test_a_warm_round_finds_what_a_fresh_one_finds(cache_home: Path, store: EventStore,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LANNER_CACHE", "off")
    fresh = hunt(store, QUERIES)
    assert not cache_home.exists()
    monkeypatch.delenv("LANNER_CACHE")
    cold = hunt(store, QUERIES)
    (bundle,) = cache_home.glob("*.pickle")
    written = bundle.stat().st_mtime_ns
    warm = hunt(store, QUERIES)
    assert fresh == cold == warm
    assert bundle.stat().st_mtime_ns == written  # nothing new to write
    assert fresh[0] == [fresh[0][0]] and len(fresh[1]) == 1 and fresh[-2] != []


def test_a_store_that_types_a_field_otherwise_misses(cache_home: Path, store: EventStore,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    condition = prepare("file where custom.size > 3").stages[0].condition
    with EventStore() as textual:  # custom.size a keyword here, a long in `store`
        textual.ingest(documents(str), index="logs-test")
        keys = [condition_key(DuckDBBackend(events).compiler(
            SearchScope(("logs-test",))), condition) for events in (store, textual)]
        assert keys[0] != keys[1]
        other = prepare("file where custom.size > 4").stages[0].condition
        compiler = DuckDBBackend(store).compiler(SearchScope(("logs-test",)))
        assert condition_key(compiler, other) != keys[0]
        again = prepare("file  where  custom.size>3 ").stages[0].condition
        assert condition_key(compiler, again) == keys[0]  # positions aside
        hunt(store, QUERIES)
        warm = hunt(textual, QUERIES)
        monkeypatch.setenv("LANNER_CACHE", "off")
        assert warm == hunt(textual, QUERIES)
        assert warm != hunt(store, QUERIES)  # "18" > "9" is false as text, true as numbers


def test_a_failing_condition_fails_again_with_its_own_error(cache_home: Path,
                                                            store: EventStore) -> None:
    bad = 'process where process.name regex "a{2000}"'
    first = hunt(store, [*QUERIES, bad])
    second = hunt(store, [*QUERIES, bad])
    assert first == second
    assert first[-1][0] == CompileError.__name__ and "invalid regular expression" in first[-1][1]


def test_cache_clear_removes_compiled_conditions(cache_home: Path, store: EventStore) -> None:
    hunt(store, QUERIES)
    assert len(list(cache_home.glob("*.pickle"))) == 1
    assert cache.clear() == 1
    assert not cache_home.exists()


def test_the_fingerprinted_sources_are_closed_under_imports() -> None:
    """Every Lanner module that a fingerprinted module imports is fingerprinted too, so that
    no edit to the compiler's code leaves a stale entry."""
    package = Path(sqlcache.__file__).resolve().parent.parent
    files = {path for source in sqlcache.COMPILER_SOURCES for path in (
        (package / source).rglob("*.py") if (package / source).is_dir() else [package / source])}
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            for name in names:
                parts = name.split(".")
                if parts[0] != "lanner" or len(parts) == 1:
                    continue
                module = package.joinpath(*parts[1:])
                candidates = [module.with_suffix(".py"), module / "__init__.py"]
                found = [c for c in candidates if c.is_file()]
                if found and not (found[0] in files or (found[0].name == "__init__.py"
                                  and found[0].parent == package)):
                    raise AssertionError(f"{path.relative_to(package)} imports {name}, "
                                         "which COMPILER_SOURCES leaves out")
