"""Rule executions as Kibana runs them: windows, the max_signals cap, catch-up and gaps,
timestamp override, exceptions, suppression, and no duplicate alerts whatever the overlap."""

from __future__ import annotations

import datetime
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

from lanner.detection.hunt import hunt, replay
from lanner.detection.run import Detector
from lanner.engine.backends.duckdb import DuckDBBackend
from lanner.rules import AlertSuppression, Rule
from lanner.store import EventStore
from lanner.store.alerts import AlertStore
from tests.detection.rule_runs import T0, at

RULE = Rule(name="Whoami", rule_id="r-whoami", type="eql", language="eql",
            query='process where process.name == "whoami.exe"', index=("logs-*",),
            severity="high", risk_score=73, from_="now-9m", interval="5m", max_signals=100)
SEQUENCE = replace(RULE, rule_id="r-seq", name="Whoami then network",
                   query='sequence by host.name with maxspan=1m '
                         '[process where process.name == "whoami.exe"] '
                         '[network where true]')


def process(minute: float, name: str = "whoami.exe", host: str = "h1",
            **extra: Any) -> dict[str, Any]:
    return {"@timestamp": at(minute), "event": {"category": ["process"], "type": ["start"]},
            "process": {"name": name}, "host": {"name": host}, **extra}


def network(minute: float, host: str = "h1") -> dict[str, Any]:
    return {"@timestamp": at(minute), "event": {"category": ["network"]},
            "host": {"name": host}, "destination": {"ip": "10.0.0.9"}}


def load(detector: Detector, docs: list[dict[str, Any]]) -> None:
    report = detector.backend.store.bulk(
        [line for doc in docs for line in ({"index": {"_index": "logs-test"}}, doc)])
    assert report.bad_lines == []


def test_a_scheduled_run_searches_its_window_only(detector: Detector) -> None:
    load(detector, [process(-10), process(-8), process(-1), process(0.5)])
    report = detector.run(RULE, started_at=T0)
    (window,) = report.windows
    assert (window.start, window.end) == (T0 - datetime.timedelta(minutes=9), T0)
    assert sorted(a["kibana.alert.original_time"] for a in report.alerts) == [at(-8), at(-1)]
    assert report.status == "succeeded" and len(report.created) == 2


def test_overlapping_windows_and_repeated_hunts_never_duplicate_alerts(
        detector: Detector) -> None:
    load(detector, [process(m) for m in (1, 3, 6, 8, 12)] + [network(1.2), network(8.5)])
    first = detector.run(RULE, started_at=T0 + datetime.timedelta(minutes=9))
    second = detector.run(RULE, started_at=T0 + datetime.timedelta(minutes=14),
                          previous_started_at=T0 + datetime.timedelta(minutes=9))
    assert len(first.created) == 4  # minutes 1, 3, 6, 8
    assert len(second.created) == 1 and second.duplicates == 2  # 12 is new; 6 and 8 seen
    replayed = replay(detector, [RULE, SEQUENCE], start=T0, end=T0 + datetime.timedelta(minutes=30))
    assert sum(len(r.created) for r in replayed) == 3 * 2  # two sequences, shell + 2 blocks
    stored = {a["kibana.alert.uuid"] for a in detector.alerts.find(building_blocks=True)}
    again = hunt(detector, [RULE, SEQUENCE])
    assert sum(len(r.created) for r in again) == 0
    assert {a["kibana.alert.uuid"] for a in detector.alerts.find(building_blocks=True)} == stored
    assert len(stored) == 5 + 6


def test_hunting_twice_into_one_database_file_keeps_one_alert_set(tmp_path: Path) -> None:
    path = tmp_path / "store.duckdb"
    ids = []
    for _ in range(2):
        with EventStore(path) as store:
            detector = Detector(DuckDBBackend(store), AlertStore(store.con))
            if not store.count():
                load(detector, [process(m) for m in range(5)])
            hunt(detector, [RULE])
            ids.append(sorted(a["kibana.alert.uuid"] for a in detector.alerts.find()))
    assert ids[0] == ids[1] and len(ids[0]) == 5


def test_max_signals_caps_each_window_and_warns(detector: Detector) -> None:
    load(detector, [process(-5 + i / 100) for i in range(150)])
    report = detector.run(RULE, started_at=T0)
    assert len(report.created) == 100
    assert report.status == "partial failure"
    assert "maximum alert limit" in report.warnings[0]
    # the latest 100, as ES's default result_position "tail" gives them
    times = sorted(a["kibana.alert.original_time"] for a in report.alerts)
    assert times[0] == at(-5 + 50 / 100)


def test_a_late_run_catches_up_and_a_long_gap_fails_with_kibanas_message(
        detector: Detector) -> None:
    load(detector, [process(m) for m in range(-140, 1, 2)])
    late = detector.run(RULE, started_at=T0,
                        previous_started_at=T0 - datetime.timedelta(minutes=12))
    # gap = 12m - 9m = 3m -> ceil(3/5) = 1 catch-up window, shifted back one interval
    assert [(w.start, w.end) for w in late.windows] == [
        (T0 - datetime.timedelta(minutes=14), T0 - datetime.timedelta(minutes=5)),
        (T0 - datetime.timedelta(minutes=9), T0)]
    assert late.error is None
    outage = detector.run(RULE, started_at=T0,
                          previous_started_at=T0 - datetime.timedelta(hours=2))
    # gap = 120m - 9m = 111m -> 4 catch-ups (the cap), 111 - 20 = 91m still missed
    assert len(outage.windows) == 5
    assert outage.windows[0].start == T0 - datetime.timedelta(minutes=29)
    assert outage.status == "failed"
    assert outage.error is not None and outage.error.startswith(
        "2 hours (5460000ms) were not queried between this rule execution and the last "
        "execution, so signals may have been missed.")


def test_timestamp_override_falls_back_to_the_timestamp(detector: Detector) -> None:
    ingested = {"event": {"category": ["process"], "ingested": at(-2)}}
    late_arrival = {**process(-30), "event": ingested["event"], "process": {"name": "whoami.exe"}}
    load(detector, [late_arrival, process(-3), process(-20)])
    rule = replace(RULE, timestamp_override="event.ingested")
    report = detector.run(rule, started_at=T0)
    assert sorted(a["kibana.alert.original_time"] for a in report.alerts) == [at(-30), at(-3)]
    strict = replace(rule, rule_id="strict", timestamp_override_fallback_disabled=True)
    assert [a["kibana.alert.original_time"] for a in
            detector.run(strict, started_at=T0).alerts] == [at(-30)]


def test_exceptions_written_in_the_rule_file_remove_events_before_detection(
        tmp_path: Path, detector: Detector) -> None:
    path = tmp_path / "rule.toml"
    path.write_text('''
[rule]
name = "Whoami then network"
rule_id = "r-file"
type = "eql"
language = "eql"
severity = "high"
risk_score = 73
index = ["logs-*"]
query = \'\'\'sequence by host.name with maxspan=1m
  [process where process.name == "whoami.exe"] [network where true]\'\'\'

[[exceptions]]
name = "Admin box"
entries = [{ field = "host.name", type = "match", value = "admin-01" }]
''', encoding="utf-8")
    from lanner.rules import load_rule_file

    load(detector, [process(1, host="h1"), network(1.5, host="h1"),
                    process(2, host="admin-01"), network(2.5, host="admin-01")])
    report = detector.hunt(load_rule_file(path))
    shells = [a for a in report.alerts if "kibana.alert.group.index" not in a]
    assert [a["host"]["name"] for a in shells] == ["h1"]


def test_suppression_keeps_one_alert_per_group_and_counts_the_rest(
        detector: Detector) -> None:
    load(detector, [process(m, host=h) for m in (1, 2, 3) for h in ("h1", "h2")]
         + [process(4, host=None)])
    rule = replace(RULE, alert_suppression=AlertSuppression(("host.name",)))
    report = detector.hunt(rule)
    by_host = {a["host"]["name"]: a for a in report.alerts if a["kibana.alert.uuid"] in
               report.created}
    assert set(by_host) == {"h1", "h2", None}
    assert by_host["h1"]["kibana.alert.suppression.docs_count"] == 2
    assert by_host["h1"]["kibana.alert.suppression.terms"] == [
        {"field": "host.name", "value": "h1"}]
    assert by_host["h1"]["kibana.alert.suppression.end"] == at(3)
    assert report.suppressed == 4
    keep_missing = replace(rule, rule_id="r2", alert_suppression=AlertSuppression(
        ("user.name",), missing_fields_strategy="doNotSuppress"))
    assert len(detector.hunt(keep_missing).created) == 7


def test_suppression_over_a_duration_spans_runs(detector: Detector) -> None:
    load(detector, [process(1), process(7)])
    rule = replace(RULE, alert_suppression=AlertSuppression(("host.name",), duration="1h"))
    first = detector.run(rule, started_at=T0 + datetime.timedelta(minutes=5))
    second = detector.run(rule, started_at=T0 + datetime.timedelta(minutes=10),
                          previous_started_at=T0 + datetime.timedelta(minutes=5))
    assert len(first.created) == 1 and second.created == [] and second.suppressed == 1
    (stored,) = detector.alerts.find()
    assert stored["kibana.alert.suppression.docs_count"] == 1
    assert stored["kibana.alert.suppression.end"] == at(7)


def test_a_bad_query_fails_its_run_with_the_verification_error(detector: Detector) -> None:
    load(detector, [process(1)])
    bad = replace(RULE, query="process where no_such_field == 1")
    report = detector.hunt(bad)
    assert report.status == "failed"
    assert "error: unknown column no_such_field" in (report.error or "")


def test_every_active_corpus_rule_runs_over_real_sysmon_data_without_an_error() -> None:
    from lanner.detection.hunt import select_rules
    from lanner.rules import load_rules
    from tests.conftest import CORPUS, SHARED, require_shared

    require_shared()
    rules, errors = load_rules([CORPUS])
    assert errors == []
    selection = select_rules(rules, building_blocks=True)
    assert len(selection.rules) == 1024  # 954 active + 70 building blocks; 57 deprecated out
    with EventStore() as store:
        store.ingest_file(SHARED / "data" / "real" / "evtx_samples.sysmon_operational.ndjson.gz")
        reports = hunt(Detector(DuckDBBackend(store), AlertStore(store.con)), selection.rules)
    assert [(r.rule.name, r.error) for r in reports if r.error] == []
    fired = {r.rule.name for r in reports if r.created}
    assert len(fired) >= 70
    assert {"Suspicious Lsass Process Access", "Whoami Process Activity",
            "Potential Application Shimming via Sdbinst"} <= fired


def test_a_hunt_bounded_by_since_and_until_sees_only_the_events_between(
        detector: Detector) -> None:
    load(detector, [process(minute) for minute in (0, 10, 20, 30)])
    bounded = hunt(detector, [RULE], since=T0 + datetime.timedelta(minutes=5),
                   until=T0 + datetime.timedelta(minutes=20))[0]
    assert [alert["kibana.alert.original_time"] for alert in bounded.alerts] == [at(10), at(20)]
    after = detector.hunt(RULE, since=T0 + datetime.timedelta(minutes=25))
    assert [alert["kibana.alert.original_time"] for alert in after.alerts] == [at(30)]


def test_ingest_reports_its_progress_per_file(tmp_path: Path) -> None:
    files = []
    for number in (1, 2):
        path = tmp_path / f"events-{number}.ndjson"
        path.write_text("\n".join(json.dumps(process(minute)) for minute in range(number * 3)))
        files.append(path)
    heard: list[tuple[str | None, int]] = []
    with EventStore() as store:
        store.ingest_files(files, progress=lambda path, events: heard.append((path, events)))
    assert heard[0] == (str(files[0]), 0)
    assert (str(files[1]), 3) in heard  # the second file starts after the first one's events
