"""Threshold rules as Kibana runs them: group-by fields, the value boundary, cardinality, signal
history across overlapping runs and restarts, hunts as replays, exceptions, timestamp override,
max_signals, the alert document and its id (OTHER-RULE-TYPES.md §3)."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

from lanner.detection.alerts import rule_uuid
from lanner.detection.run import Detector
from lanner.engine.backends.duckdb import DuckDBBackend
from lanner.rules import AlertSuppression, Rule, load_rule_file
from lanner.rules.model import Threshold, ThresholdCardinality
from lanner.store import EventStore
from lanner.store.alerts import AlertStore
from tests.conftest import require_shared
from tests.detection.rule_runs import OTHER, at, load, minutes, run

RULE = Rule(name="Failed logons", rule_id="r-threshold", type="threshold", language="kuery",
            query="event.outcome:failure", index=("logs-*",), severity="medium",
            risk_score=47, from_="now-9m", interval="5m", max_signals=100,
            threshold=Threshold(("host.id",), 3))


def failure(minute: float, host: str = "h1", user: Any = "alice",
            **extra: Any) -> dict[str, Any]:
    return {"@timestamp": at(minute), "event": {"category": ["authentication"],
                                                "outcome": "failure"},
            "host": {"id": host, "name": f"{host}.example"}, "user": {"name": user},
            "process": {"name": "sshd"}, **extra}


def results(alerts: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [(*(t["value"] for t in a["kibana.alert.threshold_result"]["terms"]),
             a["kibana.alert.threshold_result"]["count"]) for a in alerts]


def test_one_field_alerts_at_the_value_and_not_below(detector: Detector) -> None:
    load(detector, [failure(1), failure(2), failure(3),  # h1: exactly 3
                    failure(1, "h2"), failure(2, "h2"),  # h2: 2
                    failure(2, "h3", **{"event": {"outcome": "success"}})])
    assert results(run(detector, RULE, 8)) == [("h1", 3)]


def test_two_and_three_fields_group_by_their_combination(detector: Detector) -> None:
    load(detector, [failure(m, "h1", "alice") for m in (1, 2, 3)]
         + [failure(m, "h1", "bob") for m in (1, 2)]
         + [failure(m, "h2", "bob") for m in (1, 2, 3, 4)])
    two = replace(RULE, threshold=Threshold(("host.id", "user.name"), 3))
    assert results(run(detector, two, 8)) == [("h1", "alice", 3), ("h2", "bob", 4)]
    three = replace(RULE, rule_id="r3",
                    threshold=Threshold(("host.id", "user.name", "process.name"), 4))
    assert results(run(detector, three, 8)) == [("h2", "bob", "sshd", 4)]


def test_an_event_with_an_array_counts_in_each_values_bucket(detector: Detector) -> None:
    load(detector, [failure(1, user=["alice", "bob"]), failure(2, user="alice"),
                    failure(3, user=["bob", "bob"])])
    rule = replace(RULE, threshold=Threshold(("user.name",), 2))
    assert results(run(detector, rule, 8)) == [("alice", 2), ("bob", 2)]


def test_cardinality_needs_enough_distinct_values(detector: Detector) -> None:
    load(detector, [failure(m, "h1", "alice") for m in (1, 2, 3)]  # one user: no
         + [failure(1, "h2", "alice"), failure(2, "h2", "bob"), failure(3, "h2")])
    rule = replace(RULE, threshold=Threshold(("host.id",), 3,
                                             (ThresholdCardinality("user.name", 2),)))
    (alert,) = run(detector, rule, 8)
    assert alert["kibana.alert.threshold_result"]["cardinality"] == [
        {"field": "user.name", "value": 2}]
    assert results([alert]) == [("h2", 3)]


def test_no_field_counts_every_matching_event(detector: Detector) -> None:
    load(detector, [failure(1, "h1"), failure(2, "h2")])
    rule = replace(RULE, threshold=Threshold((), 2))
    (alert,) = run(detector, rule, 8)
    assert alert["kibana.alert.threshold_result"] == {
        "terms": [], "count": 2, "from": at(1)}
    assert run(detector, replace(rule, rule_id="r-3", threshold=Threshold((), 3)), 8) == []


def test_the_alert_document_and_its_id_are_kibanas(detector: Detector) -> None:
    load(detector, [failure(1), failure(2), failure(4)])
    (alert,) = run(detector, RULE, 8)
    started = "2026-11-20T10:08:00.000Z"
    signal = str(uuid.uuid5(uuid.UUID("0684ec03-7201-4ee0-8ee0-3a3f6b2479b2"),
                            f"r-threshold{started}host.idh1"))
    expected = hashlib.sha256(f"logs-*{signal}undefineddefault:{rule_uuid(RULE)}"
                              .encode()).hexdigest()
    assert alert["kibana.alert.uuid"] == expected
    assert alert["@timestamp"] == started
    assert alert["kibana.alert.original_time"] == at(4)
    assert alert["kibana.alert.threshold_result"] == {
        "terms": [{"field": "host.id", "value": "h1"}], "count": 3, "from": at(1)}
    assert alert["host.id"] == "h1"
    assert "user" not in alert and "process" not in alert  # only the threshold fields
    assert alert["kibana.alert.ancestors"] == [
        {"id": signal, "type": "event", "index": "logs-*", "depth": 0}]
    assert alert["kibana.alert.rule.rule_type_id"] == "siem.thresholdRule"
    assert alert["kibana.alert.rule.parameters"]["threshold"] == {
        "field": ["host.id"], "value": 3, "cardinality": []}
    assert alert["kibana.alert.severity"] == "medium"


def test_overlapping_runs_do_not_raise_the_same_bucket_twice(detector: Detector) -> None:
    load(detector, [failure(1), failure(2), failure(3)])
    assert results(run(detector, RULE, 5)) == [("h1", 3)]  # window 9:56 - 10:05
    assert run(detector, RULE, 10, previous=5) == []  # 10:01 - 10:10 sees the same events
    load(detector, [failure(11), failure(12)])
    # 10:06 - 10:15: events up to 10:03 (the last alerted) still excluded; 2 newer: no alert
    assert run(detector, RULE, 15, previous=10) == []
    load(detector, [failure(14)])
    assert results(run(detector, RULE, 20, previous=15)) == [("h1", 3)]  # 11, 12, 14


def test_the_signal_history_survives_a_restart(tmp_path: Path) -> None:
    database = tmp_path / "lanner.duckdb"
    with EventStore(database) as store:
        detector = Detector(DuckDBBackend(store), AlertStore(store.con))
        load(detector, [failure(1), failure(2), failure(3)])
        assert len(run(detector, RULE, 5)) == 1
    with EventStore(database) as store:
        detector = Detector(DuckDBBackend(store), AlertStore(store.con))
        assert run(detector, RULE, 10, previous=5) == []
        assert len(detector.alerts.find()) == 1  # type: ignore[union-attr]


def test_a_hunt_replays_the_schedule(detector: Detector) -> None:
    load(detector, [failure(m) for m in (0, 1, 2, 3)]  # a burst: one alert
         + [failure(m) for m in (40, 41, 42)]  # another, later: a second
         + [failure(m, "h2") for m in (0, 8, 16, 24, 32)])  # never 3 within 9 minutes
    first = detector.hunt(RULE, started_at=minutes(500))
    assert first.error is None
    assert results(first.created_alerts) == [("h1", 4), ("h1", 3)]
    again = Detector(detector.backend).hunt(RULE, started_at=minutes(900))
    assert sorted(a["kibana.alert.uuid"] for a in again.alerts) == sorted(first.created)


def test_a_hunt_does_not_raise_a_bucket_again_in_the_overlapping_window(
        detector: Detector) -> None:
    # 10:00-10:02 reach 3 in the run of 10:02 (origin); the run of 10:07 (9:58-10:07) sees
    # them again plus 10:06, but they are history: 1 newer event, no second alert
    load(detector, [failure(0), failure(1), failure(2), failure(6)])
    report = Detector(detector.backend).hunt(RULE, started_at=minutes(100))
    assert results(report.alerts) == [("h1", 3)]


def test_exceptions_remove_events_before_counting(tmp_path: Path, detector: Detector) -> None:
    path = tmp_path / "rule.toml"
    path.write_text('''
[rule]
name = "Failed logons"
rule_id = "r-file"
type = "threshold"
language = "kuery"
severity = "low"
risk_score = 21
index = ["logs-*"]
from = "now-9m"
interval = "5m"
query = "event.outcome:failure"

[rule.threshold]
field = ["host.id"]
value = 3

[[exceptions]]
name = "Service account"
entries = [{ field = "user.name", type = "match", value = "svc" }]
''', encoding="utf-8")
    load(detector, [failure(1, "h1", "svc"), failure(2, "h1"), failure(3, "h1"),
                    failure(1, "h2"), failure(2, "h2"), failure(3, "h2")])
    assert results(run(detector, load_rule_file(path), 8)) == [("h2", 3)]


def test_timestamp_override_places_events_and_falls_back(detector: Detector) -> None:
    late = {"event": {"outcome": "failure", "ingested": at(6)}}
    load(detector, [failure(-30, **late), failure(-31, **late),  # ingested in the window
                    failure(5)])  # no event.ingested: @timestamp
    rule = replace(RULE, timestamp_override="event.ingested")
    (alert,) = run(detector, rule, 8)
    assert alert["kibana.alert.threshold_result"]["count"] == 3
    assert alert["kibana.alert.original_time"] == at(6)
    assert run(detector, replace(RULE, rule_id="r-plain"), 8) == []


def test_max_signals_keeps_the_first_buckets_in_key_order(detector: Detector) -> None:
    load(detector, [failure(m, host) for m in (1, 2, 3) for host in ("h3", "h1", "h2")])
    report = detector.run(replace(RULE, max_signals=2), started_at=minutes(8))
    assert results(report.created_alerts) == [("h1", 3), ("h2", 3)]
    assert report.warnings and "maximum alert limit" in report.warnings[0]


def test_a_corpus_threshold_rule_end_to_end(detector: Detector) -> None:
    require_shared()
    rule = load_rule_file(OTHER / "rules/linux/impact_process_kill_threshold.toml")
    kill = {"event": {"category": ["process"], "type": ["start"], "ingested": at(7)},
            "host": {"id": "web-1", "os": {"type": "linux"}}, "user": {"name": "root"},
            "process": {"name": "pkill", "args": ["pkill", "-f", "nginx"],
                        "executable": "/usr/bin/pkill"}}
    index = "logs-endpoint.events.process-default"
    load(detector, [{"@timestamp": at(m / 10), **kill} for m in range(15)], index)
    load(detector, [{"@timestamp": at(m / 10), **kill, "host": {"id": "web-2",
                                                               "os": {"type": "linux"}}}
                    for m in range(14)], index)  # one short
    (alert,) = run(detector, rule, 8)
    assert results([alert]) == [("web-1", "/usr/bin/pkill", "root", 15)]


def test_threshold_suppression_is_refused_by_name(detector: Detector) -> None:
    load(detector, [failure(1), failure(2), failure(3)])
    report = detector.run(replace(RULE, alert_suppression=AlertSuppression((), "1h")),
                          started_at=minutes(8))
    assert report.error is not None and "alert suppression of threshold rules" in report.error
    assert report.created == []


def test_a_hunt_window_holds_an_event_at_its_start(detector: Detector) -> None:
    # runs every 5 minutes from the first event (10:00); the run of 10:20 searches 10:11-10:20
    load(detector, [failure(0), failure(11), failure(20)])
    report = detector.hunt(replace(RULE, threshold=Threshold(("host.id",), 2)),
                           started_at=minutes(100))
    (alert,) = report.alerts
    assert alert["kibana.alert.threshold_result"]["from"] == at(11)
    assert alert["@timestamp"] == at(20)
