"""Why a threshold or new_terms rule does not fire: the step where its events fall out, and the
groups closest to the threshold; `lanner rules test` says it and exits 1."""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from lanner.cli.app import app
from lanner.detection.aggregate_explain import explain_aggregation
from lanner.engine.backends.duckdb import DuckDBBackend
from lanner.rules import Rule
from lanner.rules.model import Threshold, ThresholdCardinality
from lanner.store import EventStore

NOW = datetime.datetime(2026, 11, 21, tzinfo=datetime.UTC)
THRESHOLD = Rule(name="Failed logons", rule_id="r-th", type="threshold", language="kuery",
                 query="event.outcome:failure", index=("logs-*",), from_="now-9m",
                 interval="5m", threshold=Threshold(("host.id",), 3))
NEW_TERMS = Rule(name="New user", rule_id="r-nt", type="new_terms", language="kuery",
                 query="event.outcome:failure", index=("logs-*",), from_="now-9m",
                 interval="5m", new_terms_fields=("host.id", "user.name"),
                 history_window_start="now-7d")


def failure(minute: int, host: str | None = "h1", user: str = "alice") -> dict[str, Any]:
    event: dict[str, Any] = {"@timestamp": f"2026-11-20T10:{minute:02d}:00Z",
                             "event": {"outcome": "failure"}, "user": {"name": user}}
    if host:
        event["host"] = {"id": host}
    return event


@pytest.fixture
def backend() -> Iterator[DuckDBBackend]:
    with EventStore() as store:
        docs = ([failure(m) for m in (0, 1)] + [failure(m, "h2", u) for m, u in
                                                ((0, "a"), (1, "a"), (2, "a"), (30, "b"))]
                + [failure(3, None)])
        store.bulk([line for doc in docs for line in ({"index": {"_index": "logs-a"}}, doc)])
        yield DuckDBBackend(store)


def test_threshold_groups_closest_to_the_value(backend: DuckDBBackend) -> None:
    rule = replace(THRESHOLD, threshold=Threshold(("host.id",), 4))
    explained = explain_aggregation(backend, rule, now=NOW)
    assert [(s.label, s.count) for s in explained.steps] == [
        ("events in the rule's indices (logs-*)", 7), ("matching the query and filters", 7),
        ("with host.id", 6)]
    assert explained.verdict == ("no group reaches 4 events within one rule window "
                                 "(9 minutes every 5m): the most is 3")
    assert explained.closest == ["host.id=h2: 3 event(s) of 4 needed",
                                 "host.id=h1: 2 event(s) of 4 needed"]


def test_threshold_cardinality_short(backend: DuckDBBackend) -> None:
    rule = replace(THRESHOLD, threshold=Threshold(("host.id",), 3,
                                                  (ThresholdCardinality("user.name", 2),)))
    explained = explain_aggregation(backend, rule, now=NOW, closest=1)
    assert "has 2 distinct values of user.name" in explained.verdict
    assert explained.closest == [
        "host.id=h2: 3 event(s) of 3 needed, 1 distinct user.name of 2 needed"]


def test_missing_fields_and_queries_that_match_nothing(backend: DuckDBBackend) -> None:
    rule = replace(NEW_TERMS, new_terms_fields=("host.id", "process.name"))
    explained = explain_aggregation(backend, rule, now=NOW)
    assert explained.steps[-1].label == "with process.name"
    assert explained.verdict == ("no matching event has a value for process.name, which the "
                                 "rule looks for")
    nothing = explain_aggregation(backend, replace(NEW_TERMS, query="event.outcome:success"),
                                  now=NOW)
    assert nothing.verdict == "no event matches the rule's query and filters"


def test_rules_test_explains_a_silent_threshold_rule(tmp_path: Path) -> None:
    rule = tmp_path / "rule.toml"
    rule.write_text('''
[rule]
name = "Failed logons"
rule_id = "r-cli"
type = "threshold"
language = "kuery"
severity = "low"
risk_score = 21
index = ["logs-*"]
query = "event.outcome:failure"

[rule.threshold]
field = ["host.id"]
value = 3
''', encoding="utf-8")
    events = tmp_path / "events.ndjson"
    stream = {"type": "logs", "dataset": "auth", "namespace": "default"}
    events.write_text("".join(json.dumps({**failure(m, host), "data_stream": stream}) + "\n"
                              for m, host in ((0, "h1"), (1, "h1"), (2, "h2"))),
                      encoding="utf-8")
    silent = CliRunner().invoke(app, ["rules", "test", str(rule), str(events)])
    assert silent.exit_code == 1, silent.output
    assert "no group reaches 3 events within one rule window" in silent.output
    assert "host.id=h1: 2 event(s) of 3 needed" in silent.output
    rule.write_text(rule.read_text().replace('"event.outcome:failure"',
                                             '"event.outcome:failure and user.name:bob"'))
    no_bob = CliRunner().invoke(app, ["rules", "test", str(rule), str(events)])
    assert no_bob.exit_code == 1, no_bob.output
    assert "user.name:bob" in no_bob.output  # the KQL clause no event got past
    rule.write_text(rule.read_text().replace(" and user.name:bob", ""))
    events.write_text(events.read_text() + json.dumps({**failure(3), "data_stream": stream})
                      + "\n", encoding="utf-8")
    fires = CliRunner().invoke(app, ["rules", "test", str(rule), str(events)])
    assert fires.exit_code == 0, fires.output
    assert "PASS  the rule fires: 1 alert(s)" in fires.output
