"""An EQL rule whose index patterns select no stored index: when the rules loader knows its
query parses, the hunt makes no search for it (most of a thousand-rule hunt over one data
source), and its report is the one a search finding nothing gives."""

from __future__ import annotations

import datetime
import shutil
from pathlib import Path

import pytest

from lanner.detection.alerts import AlertContext
from lanner.detection.executors import EqlExecutor, HuntWindow, Round, WindowJob
from lanner.detection.run import Detector, RunReport
from lanner.engine.backends.duckdb import DuckDBBackend
from lanner.rules import Rule, known, load_rules
from lanner.store import EventStore, find_event_files
from tests.conftest import EXAMPLES, ROOT

STARTED = datetime.datetime(2030, 1, 1, tzinfo=datetime.UTC)


@pytest.fixture(autouse=True)
def nothing_known(monkeypatch: pytest.MonkeyPatch) -> None:
    """What earlier loads learnt of the same queries (lanner.rules.known) is forgotten."""
    monkeypatch.setattr(known, "_QUERY_FIELDS", {})
    monkeypatch.setattr(known, "_OWN_EXCEPTIONS", {})


@pytest.fixture
def backend() -> DuckDBBackend:
    store = EventStore.scratch()
    store.ingest_files(find_event_files([ROOT / "examples" / "events"]))
    return DuckDBBackend(store)


def rules_indexing(tmp_path: Path, index: str, query: str | None = None) -> Path:
    """The example rules, each searching `index` (and, if given, with `query`)."""
    folder = tmp_path / "rules"
    shutil.copytree(EXAMPLES, folder)
    for path in folder.glob("*.toml"):
        text = path.read_text(encoding="utf-8")
        start = text.index("\nindex = [")
        text = text[:start] + f'\nindex = ["{index}"]' + text[text.index("]", start) + 1:]
        if query is not None:
            start = text.index("\nquery = '''")
            text = (text[:start] + f"\nquery = '''{query}'''"
                    + text[text.index("'''", start + 12) + 3:])
        path.write_text(text, encoding="utf-8")
    return folder


def outcome(report: RunReport) -> tuple[object, ...]:
    return (report.status, report.error, report.warnings, report.created,
            [(w.hits, w.alerts, w.reached_max_signals) for w in report.windows])


def requests_of(rule: Rule, backend: DuckDBBackend) -> list[object]:
    window = HuntWindow(None, None, None)
    job = WindowJob(rule, window, AlertContext(rule, STARTED, "manual", "run"), None,
                    Round(backend), lambda ids: set())
    return list(EqlExecutor().requests(job))


@pytest.mark.parametrize("cache", ["on", "off"])
def test_a_rule_of_no_stored_index_makes_no_search_and_finds_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, backend: DuckDBBackend,
        cache: str) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("LANNER_CACHE", cache)
    rules, errors = load_rules([rules_indexing(tmp_path, "winlogbeat-*")])
    assert not errors and len(rules) == 5
    reports = Detector(backend).hunt_many(rules, started_at=STARTED)
    # with the cache off the loader learns nothing: the searches run, and find nothing too
    assert [len(requests_of(rule, backend)) for rule in rules] == [
        0 if cache == "on" else 1] * 5
    assert [outcome(report) for report in reports] == [
        ("succeeded", None, [], [], [(0, [], False)])] * 5
    searched = load_rules([rules_indexing(tmp_path / "logs", "logs-endpoint.events.*")])[0]
    assert [len(requests_of(rule, backend)) for rule in searched] == [1] * 5
    assert all(r.created for r in Detector(backend).hunt_many(searched, started_at=STARTED))


def test_a_query_that_does_not_parse_fails_even_without_an_index(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, backend: DuckDBBackend) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("LANNER_CACHE", raising=False)
    folder = rules_indexing(tmp_path, "winlogbeat-*", query="process where process.name ==")
    for load in ("cold", "warm"):
        rules, _ = load_rules([folder])
        reports = Detector(backend).hunt_many(rules, started_at=STARTED)
        assert [len(requests_of(rule, backend)) for rule in rules] == [1] * 5, load
        for rule, report in zip(rules, reports, strict=True):  # placed in the rule's file
            assert report.error is not None and report.error.startswith(f"{rule.path}:")
            assert report.error.endswith("error: expected a value: a field, a string, a "
                                         "number, true, false, null, a function call or '(', "
                                         "found end of query")
