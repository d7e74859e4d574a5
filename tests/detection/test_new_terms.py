"""New terms rules as Kibana runs them: first sightings against the history window, arrays (one
alert per new value), combinations of 2-3 fields, overlapping runs, hunts as replays,
exceptions, timestamp override, max_signals, the alert document and its id
(OTHER-RULE-TYPES.md §4)."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from lanner.cli.app import app
from lanner.detection.alerts import rule_uuid
from lanner.detection.run import Detector
from lanner.rules import AlertSuppression, Rule, load_rule_file
from tests.conftest import require_shared
from tests.detection.rule_runs import OTHER, at, load, minutes, run

DAY = 24 * 60
RULE = Rule(name="New user on host", rule_id="r-new-terms", type="new_terms",
            language="kuery", query="event.category:authentication", index=("logs-*",),
            severity="high", risk_score=73, from_="now-9m", interval="5m", max_signals=100,
            new_terms_fields=("user.name",), history_window_start="now-7d")


def logon(minute: float, user: Any = "alice", host: str = "h1",
          **extra: Any) -> dict[str, Any]:
    return {"@timestamp": at(minute), "event": {"category": ["authentication"]},
            "user": {"name": user}, "host": {"id": host}, "source": {"ip": "10.0.0.5"},
            **extra}


def terms(alerts: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [(*a["kibana.alert.new_terms"], a["kibana.alert.original_time"]) for a in alerts]


def test_a_value_not_seen_in_the_history_window_is_new(detector: Detector) -> None:
    load(detector, [logon(-2 * DAY, "alice"), logon(2, "alice"),  # seen two days ago
                    logon(3, "bob"), logon(4, "bob"),  # new: the earliest event alerts
                    logon(5, "carol", **{"event": {"category": ["process"]}})])
    assert terms(run(detector, RULE, 8)) == [("bob", at(3))]


def test_the_history_window_start_bounds_what_was_seen(detector: Detector) -> None:
    started = 8
    load(detector, [logon(started - 7 * DAY - 1, "old"),  # just before now-7d: forgotten
                    logon(started - 7 * DAY + 1, "recent"),  # just inside: seen
                    logon(2, "old"), logon(2, "recent")])
    assert terms(run(detector, RULE, started)) == [("old", at(2))]


def test_a_value_first_seen_at_the_window_start_is_not_new(detector: Detector) -> None:
    load(detector, [logon(-1, "edge"), logon(3, "edge")])  # from = now-9m = 10:-1
    assert run(detector, RULE, 8) == []


def test_each_value_of_an_array_is_its_own_term(detector: Detector) -> None:
    load(detector, [logon(-DAY, "alice"), logon(2, ["alice", "bob", "carol"])])
    alerts = run(detector, RULE, 8)
    assert terms(alerts) == [("bob", at(2)), ("carol", at(2))]
    assert len({a["kibana.alert.uuid"] for a in alerts}) == 2  # one event, two alerts


def test_a_combination_is_new_even_when_each_value_was_seen(detector: Detector) -> None:
    load(detector, [logon(-DAY, "alice", "h1"), logon(-DAY, "bob", "h2"),
                    logon(2, "alice", "h2"), logon(3, "alice", "h1")])
    rule = replace(RULE, new_terms_fields=("host.id", "user.name"))
    assert terms(run(detector, rule, 8)) == [("h2", "alice", at(2))]


def test_three_fields_and_arrays_make_the_cartesian_product(detector: Detector) -> None:
    load(detector, [logon(-DAY, "alice", "h1", process={"args": ["a"]}),
                    logon(2, "alice", "h1", process={"args": ["a", "b"]})])
    rule = replace(RULE, new_terms_fields=("host.id", "user.name", "process.args"))
    assert terms(run(detector, rule, 8)) == [("h1", "alice", "b", at(2))]


def test_the_alert_document_and_its_id_are_kibanas(detector: Detector) -> None:
    load(detector, [logon(2, "bob")])
    (alert,) = run(detector, RULE, 8)
    event_id = alert["kibana.alert.ancestors"][0]["id"]
    space_rule = f"default:{rule_uuid(RULE)}"
    hashed = (f"array:5:string:9:logs-authstring:{len(event_id)}:{event_id}string:1:1"
              f"string:{len(space_rule)}:{space_rule}array:1:string:3:bob")
    assert alert["kibana.alert.uuid"] == hashlib.sha1(hashed.encode()).hexdigest()
    assert alert["kibana.alert.new_terms"] == ["bob"]
    assert alert["user"] == {"name": "bob"} and alert["source"] == {"ip": "10.0.0.5"}
    assert alert["kibana.alert.original_time"] == at(2)
    assert alert["kibana.alert.rule.rule_type_id"] == "siem.newTermsRule"
    assert alert["kibana.alert.rule.parameters"]["new_terms_fields"] == ["user.name"]
    assert alert["kibana.alert.rule.parameters"]["history_window_start"] == "now-7d"
    assert "by bob" in alert["kibana.alert.reason"]


def test_overlapping_runs_store_a_new_term_once(detector: Detector) -> None:
    load(detector, [logon(2, "bob")])
    assert len(run(detector, RULE, 5)) == 1  # 9:56 - 10:05
    second = detector.run(RULE, started_at=minutes(10), previous_started_at=minutes(5))
    assert second.created == [] and second.error is None  # still new in 10:01 - 10:10
    assert run(detector, RULE, 15, previous=10) == []  # now seen before 10:06
    assert len(detector.alerts.find()) == 1  # type: ignore[union-attr]


def test_a_hunt_alerts_where_the_term_was_not_seen_within_its_history(
        detector: Detector) -> None:
    load(detector, [logon(0, "alice"), logon(3 * DAY, "alice"),  # within 7 days: once
                    logon(0, "bob"), logon(10 * DAY, "bob"),  # 10 days apart: twice
                    logon(1, ["carol", "alice"])])
    report = detector.hunt(RULE, started_at=minutes(20 * DAY))
    assert report.error is None
    assert sorted(terms(report.created_alerts)) == [
        ("alice", at(0)), ("bob", at(0)), ("bob", at(10 * DAY)), ("carol", at(1))]
    again = Detector(detector.backend).hunt(RULE, started_at=minutes(30 * DAY))
    assert sorted(a["kibana.alert.uuid"] for a in again.alerts) == sorted(report.created)


def test_a_hunt_since_a_moment_counts_earlier_events_as_seen(detector: Detector) -> None:
    load(detector, [logon(0, "alice"), logon(DAY, "alice"), logon(DAY, "bob")])
    report = detector.hunt(RULE, since=minutes(DAY - 1))
    assert terms(report.alerts) == [("bob", at(DAY))]


def test_exceptions_apply_to_the_history_and_the_window(tmp_path: Path,
                                                        detector: Detector) -> None:
    path = tmp_path / "rule.toml"
    path.write_text('''
[rule]
name = "New user"
rule_id = "r-file"
type = "new_terms"
language = "kuery"
severity = "low"
risk_score = 21
index = ["logs-*"]
from = "now-9m"
interval = "5m"
query = "event.category:authentication"

[rule.new_terms]
field = "new_terms_fields"
value = ["user.name"]

[[rule.new_terms.history_window_start]]
field = "history_window_start"
value = "now-7d"

[[exceptions]]
name = "Jump host"
entries = [{ field = "host.id", type = "match", value = "jump" }]
''', encoding="utf-8")
    load(detector, [logon(-DAY, "alice", "jump"),  # excluded: alice was never seen
                    logon(2, "alice", "h1"), logon(3, "svc", "jump")])
    assert terms(run(detector, load_rule_file(path), 8)) == [("alice", at(2))]


def test_timestamp_override_decides_first_sightings(detector: Detector) -> None:
    load(detector, [logon(-DAY, "late", **{"event": {"category": ["authentication"],
                                                      "ingested": at(2)}}),
                    logon(3, "plain")])  # no event.ingested: @timestamp
    rule = replace(RULE, timestamp_override="event.ingested")
    assert terms(run(detector, rule, 8)) == [("late", at(-DAY)), ("plain", at(3))]


def test_max_signals_caps_the_alerts_created(detector: Detector) -> None:
    load(detector, [logon(2, user) for user in ("dave", "bob", "carol")])
    report = detector.run(replace(RULE, max_signals=2), started_at=minutes(8))
    assert [a["kibana.alert.new_terms"] for a in report.created_alerts] == [["bob"], ["carol"]]
    assert report.warnings and "maximum alert limit" in report.warnings[0]
    rest = detector.run(replace(RULE, max_signals=2), started_at=minutes(9),
                        previous_started_at=minutes(8))
    assert [a["kibana.alert.new_terms"] for a in rest.created_alerts] == [["dave"]]


def test_a_corpus_new_terms_rule_end_to_end(detector: Detector) -> None:
    require_shared()
    rule = load_rule_file(OTHER / "rules/linux/command_and_control_aws_cli_endpoint_url_used.toml")

    def aws(minute: float, host: str) -> dict[str, Any]:
        return {"@timestamp": at(minute), "event": {"category": ["process"], "action": "exec",
                                                    "ingested": at(minute)},
                "host": {"id": host, "os": {"type": "linux"}},
                "process": {"name": "aws", "args": ["aws", "s3", "ls", "--endpoint-url",
                                                    "http://x"]}}

    load(detector, [aws(-DAY, "old-host"), aws(2, "old-host"), aws(3, "new-host")],
         "logs-endpoint.events.process-default")
    assert terms(run(detector, rule, 8)) == [("new-host", at(3))]


def test_a_history_window_not_before_from_fails_the_run_as_in_kibana(
        detector: Detector) -> None:
    load(detector, [logon(2, "bob")])
    report = detector.run(replace(RULE, history_window_start="now-5m"),
                          started_at=minutes(8))
    assert report.error == ("History window size is smaller than rule interval + additional "
                            "lookback, 'historyWindowStart' must be earlier than 'from'")
    assert report.created == []


def test_suppression_groups_new_terms_alerts_in_memory(detector: Detector) -> None:
    load(detector, [logon(2, "bob", "h1"), logon(3, "carol", "h1"), logon(4, "dave", "h2")])
    rule = replace(RULE, alert_suppression=AlertSuppression(("host.id",)))
    report = detector.run(rule, started_at=minutes(8))
    created = {a["host"]["id"]: a for a in report.created_alerts}
    assert sorted(created) == ["h1", "h2"] and report.suppressed == 1
    assert created["h1"]["kibana.alert.new_terms"] == ["bob"]
    assert created["h1"]["kibana.alert.suppression.docs_count"] == 1


def test_rules_validate_refuses_a_history_window_not_before_from(tmp_path: Path) -> None:
    path = tmp_path / "rule.toml"
    path.write_text('''
[rule]
name = "New user"
rule_id = "r-validate"
type = "new_terms"
language = "kuery"
severity = "low"
risk_score = 21
index = ["logs-*"]
from = "now-9m"
query = "event.category:authentication"

[rule.new_terms]
field = "new_terms_fields"
value = ["user.name"]

[[rule.new_terms.history_window_start]]
field = "history_window_start"
value = "now-5m"
''', encoding="utf-8")
    result = CliRunner().invoke(app, ["rules", "validate", str(path)])
    assert result.exit_code != 0
    assert "'historyWindowStart' must be earlier than 'from'" in result.output
    path.write_text(path.read_text().replace('"now-5m"', '"now-7d"'))
    assert CliRunner().invoke(app, ["rules", "validate", str(path)]).exit_code == 0
