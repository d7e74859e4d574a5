"""Many rules as one round (Detector.hunt_many / run_many: every filter handed to the backend
at once) give each rule the report it gets running alone, one query per filter."""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import pytest

from bench.generate import generate
from lanner.detection.hunt import hunt, replay, select_rules
from lanner.detection.run import Detector, RunReport
from lanner.detection.serve import DetectionService
from lanner.engine.backends.base import LocalMatching, ManyFilters
from lanner.engine.backends.duckdb import Document, DuckDBBackend, SearchScope
from lanner.engine.backends.sql import SqlCompiler
from lanner.engine.matcher import Event
from lanner.engine.plan import StageFilter
from lanner.rules import Rule, load_rules
from lanner.store import EventStore
from tests.conftest import CORPUS, SEED_RULES, require_shared

STARTED = datetime.datetime(2030, 1, 1, tzinfo=datetime.UTC)
START = datetime.datetime(2026, 11, 20, 9, 0, tzinfo=datetime.UTC)
DURATION = datetime.timedelta(hours=2)
PLANTED = {"Ingress Transfer via Windows BITS", "Remote File Download via PowerShell",
           "Persistence via Update Orchestrator Service Hijack"}


class OneQueryEach:
    """The DuckDB backend without `filter_many`: every search runs alone, filter by filter,
    as a backend that cannot evaluate many filters at once does."""

    def __init__(self, backend: DuckDBBackend) -> None:
        self.backend = backend

    def indices(self, patterns: str | Sequence[str]) -> tuple[str, ...]:
        return self.backend.indices(patterns)

    def compiler(self, scope: SearchScope) -> SqlCompiler:
        return self.backend.compiler(scope)

    def count(self, where: str, scope: SearchScope) -> int:
        return self.backend.count(where, scope)

    def window(self, where: str, scope: SearchScope, offset: int,
               limit: int) -> list[Document]:
        return self.backend.window(where, scope, offset, limit)

    def documents(self, docs: Iterable[int]) -> dict[int, Document]:
        return self.backend.documents(docs)

    def candidates(self, stage: StageFilter, compiler: SqlCompiler, scope: SearchScope, *,
                   timed: bool = True) -> list[Event]:
        return self.backend.candidates(stage, compiler, scope, timed=timed)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EventStore]:
    path = Path(tmp_path_factory.mktemp("corpus")) / "events.ndjson"
    generate(path, events=2_000, duration=DURATION, start=START)
    with EventStore() as loaded:
        loaded.ingest_files([path])
        yield loaded


@pytest.fixture(scope="module")
def rules() -> list[Rule]:
    require_shared()
    loaded, errors = load_rules([CORPUS, SEED_RULES])
    assert not errors
    return select_rules(loaded, building_blocks=True).rules


def outcome(reports: list[RunReport]) -> list[tuple[str, str, list[str], str | None]]:
    return [(r.rule.rule_id, r.started_at.isoformat(), sorted(r.created), r.error)
            for r in reports]


def test_the_backends_differ_only_in_filter_many(store: EventStore) -> None:
    batched, alone = DuckDBBackend(store), OneQueryEach(DuckDBBackend(store))
    assert isinstance(batched, ManyFilters) and not isinstance(alone, ManyFilters)
    assert isinstance(alone, LocalMatching)


def test_a_hunt_with_every_corpus_rule_finds_the_same_alerts_either_way(
        store: EventStore, rules: list[Rule]) -> None:
    together = hunt(Detector(DuckDBBackend(store)), rules, started_at=STARTED)
    alone = hunt(Detector(OneQueryEach(DuckDBBackend(store))), rules, started_at=STARTED)
    assert outcome(together) == outcome(alone)
    fired = {r.rule.name for r in together if r.created}
    assert len(together) > 1_000
    assert sum(len(r.created) for r in together) > 100
    assert fired >= PLANTED


def test_a_replay_runs_each_moment_as_one_round_with_the_same_reports(
        store: EventStore, rules: list[Rule]) -> None:
    chosen = rules[:10] + [rule for rule in rules if rule.name in PLANTED]
    end = START + DURATION + datetime.timedelta(minutes=10)
    together = replay(Detector(DuckDBBackend(store)), chosen, start=START, end=end)
    alone = replay(Detector(OneQueryEach(DuckDBBackend(store))), chosen, start=START, end=end)
    assert outcome(together) == outcome(alone)
    assert [r.rule.rule_id for r in together][:2] == [chosen[0].rule_id] * 2  # rule by rule
    fired = {r.rule.name for r in together if r.created}
    assert fired >= PLANTED


def test_a_rule_that_fails_fails_alone_with_its_own_error(
        store: EventStore, rules: list[Rule]) -> None:
    good = next(rule for rule in rules if rule.name == "Ingress Transfer via Windows BITS")
    bad = Rule(name="bad", rule_id="bad", type="eql", language="eql",
               query='process where no.such.field == "x"', index=("logs-*",))
    reports = Detector(DuckDBBackend(store)).hunt_many([bad, good, bad], started_at=STARTED)
    alone = Detector(OneQueryEach(DuckDBBackend(store))).hunt(bad, started_at=STARTED)
    assert reports[0].error == reports[2].error == alone.error
    assert alone.error is not None and "no.such.field" in alone.error
    assert reports[1].error is None and reports[1].created


def test_a_service_tick_runs_the_due_rules_as_one_round_with_their_own_reports(
        store: EventStore, rules: list[Rule]) -> None:
    planted = [rule for rule in rules if rule.name in PLANTED]
    (first,) = [r for r in hunt(Detector(DuckDBBackend(store)), planted[:1], started_at=STARTED)]
    fired_at = datetime.datetime.fromisoformat(
        first.alerts[0]["kibana.alert.original_time"].replace("Z", "+00:00"))
    now = fired_at + datetime.timedelta(minutes=1)
    chosen = list({rule.rule_id: rule for rule in rules[:20] + planted}.values())  # one each
    tick = DetectionService(Detector(DuckDBBackend(store)), chosen).tick(now)
    alone = Detector(OneQueryEach(DuckDBBackend(store)))
    assert outcome(tick.runs) == outcome([alone.run(rule, started_at=now) for rule in chosen])
    assert planted[0].name in {r.rule.name for r in tick.runs if r.created}
