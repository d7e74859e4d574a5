"""Every active corpus rule, EQL and the other types (query, threshold, new_terms, esql,
threat_match; ML rules cannot run), over the bundled examples and over every real recording in
../shared/data/real: the first thing a user tries, and what no test did while duckdb's
`executemany([])` turned from a no-op into an error and crashed the hunt on Elastic Defend's own
sample events.

Each input runs alone in a store of its own, because a store types a field by the first values it
meets: an input alone takes paths (a file whose every document is odd, an index with no index
fields) that a mix of inputs does not. Then all of them run together, as one hunt of the folder.
`-m "not real_data"` leaves these out of a quick local run; CI runs them all.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lanner.cli.app import app
from lanner.detection.fields import fields_read
from lanner.detection.hunt import select_rules
from lanner.detection.run import Detector
from lanner.engine.client import make_backend
from lanner.rules import Rule, load_rules
from lanner.store import EventStore, find_event_files
from tests.conftest import CORPUS, ROOT, SHARED, require_shared

pytestmark = pytest.mark.real_data
REAL = SHARED / "data" / "real"
OTHER = SHARED / "corpus" / "detection-rules-other"


def real_inputs() -> list[Path]:
    """Every file of ../shared/data/real, in a stable order."""
    if not REAL.is_dir():
        return []
    return sorted(path for path in REAL.rglob("*") if path.is_file())


@pytest.fixture(scope="module")
def active_rules() -> list[Rule]:
    require_shared()
    loaded, errors = load_rules([CORPUS])
    assert errors == []
    rules = select_rules(loaded).rules
    assert len(rules) == 954  # the active, non-building-block rules of the corpus
    others, errors = load_rules([OTHER])
    assert errors == []
    selection = select_rules(others)
    not_run = Counter(reason for rule, reason in selection.skipped
                      if rule.maturity != "deprecated" and reason != "building-block rule "
                      "(run them with --building-blocks)")
    # ML rules need Elastic ML; 7 ES|QL rules call an LLM (COMPLETION)
    assert not_run == {"type machine_learning: needs Elastic ML: not run": 106,
                       "type esql: not runnable offline: it calls an LLM inference endpoint "
                       "(COMPLETION)": 7}
    assert Counter(rule.type for rule in selection.rules) == {
        "query": 424, "new_terms": 217, "esql": 199, "threshold": 27, "threat_match": 6}
    return rules + selection.rules


@pytest.fixture(scope="module")
def rule_fields(active_rules: list[Rule]) -> set[str] | None:
    """The fields the rules read, listed once for every input (ES|QL queries are parsed)."""
    return fields_read(active_rules, None)


def hunt(rules: list[Rule], inputs: list[Path],
         fields: set[str] | None) -> tuple[int, dict[str, str], int]:
    """(events loaded, failed rule -> error, alerts) of every rule over `inputs`, composed as
    `lanner hunt` composes it."""
    files = find_event_files([str(path) for path in inputs])
    with EventStore() as store:
        report = store.ingest_files(files, fields=fields)
        reports = Detector(make_backend(store)).hunt_many(rules)
    failed = {run.rule.name: run.error for run in reports if run.error}
    return report.events, failed, sum(len(run.alerts) for run in reports)


@pytest.mark.parametrize("path", real_inputs(), ids=lambda path: str(path.relative_to(REAL)))
def test_every_rule_over_each_real_recording_alone(active_rules: list[Rule],
                                                  rule_fields: set[str] | None,
                                                  path: Path) -> None:
    events, failed, _ = hunt(active_rules, [path], rule_fields)
    assert failed == {}
    assert events > 0


def test_every_rule_over_all_real_recordings_together(active_rules: list[Rule],
                                                     rule_fields: set[str] | None) -> None:
    events, failed, alerts = hunt(active_rules, [REAL], rule_fields)
    assert failed == {}
    assert events > 795_000  # 791,640 OTRF + 3,414 Sysmon + 34 Defend + the EVTX records
    assert alerts > 0


def test_lanner_hunt_with_every_corpus_rule_over_the_examples(tmp_path: Path) -> None:
    require_shared()
    output = tmp_path / "alerts.ndjson"
    examples = ROOT / "examples" / "events"
    result = CliRunner().invoke(app, ["hunt", "--rules", str(CORPUS), str(examples),
                                      "-o", str(output)])
    assert result.exit_code == 0, result.output
    assert "loaded 39 events from 5 file(s)" in result.stderr
    assert "running 954 rule(s)" in result.stderr
    assert "failed" not in result.stderr
    assert output.read_text(encoding="utf-8").count("\n") > 0  # corpus rules fire on them too


def test_lanner_hunt_over_elastic_defend_samples() -> None:
    require_shared()
    result = CliRunner().invoke(app, ["hunt", "--rules", str(CORPUS),
                                      str(REAL / "endpoint")], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "loaded 35 events from 8 file(s)" in result.stderr
    assert "Process Created with an Elevated Token" in result.stdout
