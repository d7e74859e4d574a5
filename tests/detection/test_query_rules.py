"""Custom query (KQL) rules as Kibana's query executor runs them (OTHER-RULE-TYPES.md §2):
real corpus rules over a real DuckDB store, true and false positives per KQL feature,
windows, timestamp_override, max_signals, exceptions, suppression, ids and alert fields."""

from __future__ import annotations

import datetime
import hashlib
from dataclasses import replace
from pathlib import Path
from typing import Any

from lanner.detection.alerts import rule_uuid
from lanner.detection.run import Detector
from lanner.rules import AlertSuppression, Rule, load_rule_file
from tests.detection.rule_runs import OTHER, T0, at

OKTA_ZONE_DELETE = "integrations/okta/defense_evasion_attempt_to_delete_okta_network_zone.toml"


def corpus_rule(path: str) -> Rule:
    return load_rule_file(OTHER / "rules" / path)


def load(detector: Detector, index: str, docs: list[dict[str, Any]]) -> None:
    report = detector.backend.store.bulk(
        [line for doc in docs for line in ({"index": {"_index": index}}, doc)])
    assert report.bad_lines == []


def tags(alerts: list[dict[str, Any]]) -> list[str]:
    return sorted(a["labels"]["case"] for a in alerts)


def test_a_wildcard_inside_a_value_list_finds_the_sudoers_write(detector: Detector) -> None:
    rule = corpus_rule("cross-platform/privilege_escalation_echo_nopasswd_sudoers.toml")
    start = {"category": ["process"], "type": ["start"]}
    load(detector, "logs-endpoint.events.process-default", [
        {"@timestamp": at(1), "event": start, "labels": {"case": "tp"},
         "process": {"args": ["echo", "bob ALL=(ALL) NOPASSWD: ALL"]}},
        {"@timestamp": at(2), "event": start, "labels": {"case": "fp-args"},
         "process": {"args": ["echo", "hello"]}},
        {"@timestamp": at(3), "event": {"category": ["network"], "type": ["start"]},
         "labels": {"case": "fp-category"},
         "process": {"args": ["echo", "NOPASSWD ALL"]}},
    ])
    report = detector.hunt(rule)
    assert report.error is None and tags(report.alerts) == ["tp"]


def test_and_or_not_groups_of_the_endpoint_behavior_rule(detector: Detector) -> None:
    rule = corpus_rule("integrations/endpoint/elastic_endpoint_security_behavior_detected.toml")
    load(detector, "logs-endpoint.alerts-default", [
        {"@timestamp": at(1), "labels": {"case": "allowed"},
         "event": {"kind": "alert", "code": "behavior", "type": ["allowed"]}},
        {"@timestamp": at(2), "labels": {"case": "denied-failed"},
         "event": {"kind": "alert", "code": "behavior", "type": ["denied"],
                   "outcome": "failure"}},
        {"@timestamp": at(3), "labels": {"case": "prevented"},
         "event": {"kind": "alert", "code": "behavior", "type": ["denied"],
                   "outcome": "success"}},
        {"@timestamp": at(4), "labels": {"case": "other-code"},
         "event": {"kind": "alert", "code": "ransomware", "type": ["allowed"]}},
    ])
    report = detector.hunt(rule)
    assert report.error is None and tags(report.alerts) == ["allowed", "denied-failed"]
    prevented = corpus_rule(
        "integrations/endpoint/elastic_endpoint_security_behavior_prevented.toml")
    assert tags(detector.hunt(prevented).alerts) == ["prevented"]


def test_a_range_on_a_number(detector: Detector) -> None:
    rule = corpus_rule(
        "integrations/dga/command_and_control_ml_dns_request_high_dga_probability.toml")
    load(detector, "logs-network_traffic.dns-default", [
        {"@timestamp": at(1), "labels": {"case": "high"},
         "ml_is_dga": {"malicious_probability": 0.99}},
        {"@timestamp": at(2), "labels": {"case": "edge"},
         "ml_is_dga": {"malicious_probability": 0.98}},
        {"@timestamp": at(3), "labels": {"case": "low"},
         "ml_is_dga": {"malicious_probability": 0.2}},
    ])
    assert tags(detector.hunt(rule).alerts) == ["high"]


def test_phrases_on_script_text_and_the_rule_filters(detector: Detector) -> None:
    """The rule's KQL and its negated Kibana filter (a case-insensitive wildcard on file.path)
    both decide."""
    rule = corpus_rule("windows/defense_evasion_posh_compressed.toml")
    script = ("$d = New-Object IO.Compression.DeflateStream($s, "
              "[IO.Compression.CompressionMode]::Decompress); "
              "[Convert]::FromBase64String($b)")
    base = {"event": {"category": ["process"]}, "host": {"os": {"type": "windows"}},
            "user": {"id": "S-1-5-21-1"}}

    def block(minute: float, case: str, text: str = script, **extra: Any) -> dict[str, Any]:
        return {**base, "@timestamp": at(minute), "labels": {"case": case},
                "powershell": {"file": {"script_block_text": text,
                                        "script_block_entropy_bits": 5.1}}, **extra}

    load(detector, "logs-windows.powershell_operational-default", [
        block(1, "tp"),
        block(2, "no-base64", script.replace("FromBase64String", "ToString")),
        block(3, "system", user={"id": "S-1-5-18"}),
        block(4, "defender-download", file={"path": "C:\\PROGRAMDATA\\Microsoft\\Windows "
              "Defender Advanced Threat Protection\\Downloads\\x.ps1"}),
        block(5, "other-path", file={"path": "C:\\Users\\bob\\x.ps1"}),
    ])
    report = detector.hunt(rule)
    assert report.error is None and tags(report.alerts) == ["other-path", "tp"]


def test_alert_fields_and_ids_are_kibanas_for_a_query_rule(detector: Detector) -> None:
    rule = corpus_rule(OKTA_ZONE_DELETE)
    load(detector, "logs-okta.system-default", [
        {"@timestamp": at(1), "data_stream": {"dataset": "okta.system"},
         "event": {"action": "zone.delete", "kind": "event"}, "labels": {"case": "tp"}}])
    (alert,) = detector.hunt(rule).alerts
    event_id = alert["kibana.alert.ancestors"][0]["id"]
    assert alert["kibana.alert.rule.type"] == "query"
    assert alert["kibana.alert.rule.rule_type_id"] == "siem.queryRule"
    assert alert["kibana.alert.rule.category"] == "Custom Query Rule"
    assert alert["kibana.alert.rule.parameters"]["language"] == "kuery"
    assert alert["kibana.alert.rule.parameters"]["query"] == rule.query
    assert alert["kibana.alert.original_time"] == at(1)
    assert alert["kibana.alert.ancestors"] == [
        {"id": event_id, "type": "event", "index": "logs-okta.system-default", "depth": 0}]
    assert alert["kibana.alert.original_event.action"] == "zone.delete"
    expected = hashlib.sha256(
        f"logs-okta.system-default{event_id}1default:{rule_uuid(rule)}".encode()).hexdigest()
    assert alert["kibana.alert.uuid"] == expected
    again = detector.hunt(rule)
    assert again.alerts[0]["kibana.alert.uuid"] == expected and again.created == []
    as_eql = replace(rule, type="eql", language="eql", rule_id="eql-twin",
                     query='any where event.action == "zone.delete"')
    (twin,) = detector.hunt(as_eql).alerts
    assert twin["kibana.alert.uuid"] != expected  # the rule's id is part of the hash


def test_windows_follow_the_override_and_fall_back_to_the_timestamp(
        detector: Detector) -> None:
    """`timestamp_override = "event.ingested"`: an event ingested in the window counts even
    if it happened before; one without `event.ingested` counts by `@timestamp`."""
    rule = corpus_rule(OKTA_ZONE_DELETE)
    assert rule.timestamp_override == "event.ingested" and rule.from_ == "now-6m"
    okta = {"data_stream": {"dataset": "okta.system"}}
    load(detector, "logs-okta.system-default", [
        {**okta, "@timestamp": at(-60), "labels": {"case": "late-ingested"},
         "event": {"action": "zone.delete", "ingested": at(-2)}},
        {**okta, "@timestamp": at(-3), "labels": {"case": "ingested-earlier"},
         "event": {"action": "zone.delete", "ingested": at(-30)}},
        {**okta, "@timestamp": at(-1), "labels": {"case": "no-ingested"},
         "event": {"action": "zone.delete"}},
        {**okta, "@timestamp": at(-20), "labels": {"case": "too-old"},
         "event": {"action": "zone.delete"}},
    ])
    report = detector.run(rule, started_at=T0)
    (window,) = report.windows
    assert window.start == T0 - datetime.timedelta(minutes=6)
    assert report.error is None and tags(report.alerts) == ["late-ingested", "no-ingested"]


def test_max_signals_keeps_the_earliest_and_the_next_run_pages_past_existing_alerts(
        detector: Detector) -> None:
    rule = replace(corpus_rule(OKTA_ZONE_DELETE),
        max_signals=2, timestamp_override=None, from_="now-30m", interval="5m")
    okta = {"data_stream": {"dataset": "okta.system"}, "event": {"action": "zone.delete"}}
    load(detector, "logs-okta.system-default",
         [{**okta, "@timestamp": at(-m), "labels": {"case": f"m{m:02d}"}}
          for m in (25, 20, 15, 10, 5)])
    first = detector.run(rule, started_at=T0)
    assert tags(first.created_alerts) == ["m20", "m25"]  # earliest first, as Kibana sorts
    assert any("maximum alert limit" in w for w in first.warnings)
    second = detector.run(rule, started_at=T0 + datetime.timedelta(seconds=1),
                          previous_started_at=T0)
    assert tags(second.created_alerts) == ["m10", "m15"]  # existing ones do not count
    third = detector.run(rule, started_at=T0 + datetime.timedelta(seconds=2),
                         previous_started_at=T0 + datetime.timedelta(seconds=1))
    assert tags(third.created_alerts) == ["m05"] and third.warnings == []


def test_exceptions_in_the_rule_file_remove_events(tmp_path: Path, detector: Detector) -> None:
    source = (OTHER / "rules" / "cross-platform"
              / "privilege_escalation_echo_nopasswd_sudoers.toml").read_text(encoding="utf-8")
    path = tmp_path / "rule.toml"
    path.write_text(source + '''
[[exceptions]]
name = "Build host"
entries = [{ field = "host.name", type = "match", value = "builder" }]
''', encoding="utf-8")
    start = {"category": ["process"], "type": ["start"]}
    args = {"args": ["echo", "ALL ALL=(ALL) NOPASSWD: ALL"]}
    load(detector, "logs-endpoint.events.process-default", [
        {"@timestamp": at(1), "event": start, "process": args, "host": {"name": "builder"},
         "labels": {"case": "excepted"}},
        {"@timestamp": at(2), "event": start, "process": args, "host": {"name": "web-1"},
         "labels": {"case": "kept"}},
    ])
    assert tags(detector.hunt(load_rule_file(path)).alerts) == ["kept"]


def test_suppression_groups_a_query_rules_alerts(detector: Detector) -> None:
    rule = corpus_rule("promotions/m365_defender_alert_external_alerts.toml")
    assert rule.alert_suppression is not None
    rule = replace(rule, alert_suppression=AlertSuppression(("host.name",)))
    m365 = {"data_stream": {"dataset": "m365_defender.alert"}, "event": {"kind": "alert"}}
    load(detector, "logs-m365_defender.alert-default",
         [{**m365, "@timestamp": at(m), "host": {"name": h}, "labels": {"case": f"{h}{m}"}}
          for m, h in ((3, "a"), (1, "a"), (2, "b"), (4, "a"))])
    report = detector.hunt(rule)
    created = {a["host"]["name"]: a for a in report.created_alerts}
    assert set(created) == {"a", "b"} and report.suppressed == 2
    assert created["a"]["labels"]["case"] == "a1"  # the earliest event of the group
    assert created["a"]["kibana.alert.suppression.docs_count"] == 2
    assert created["a"]["kibana.alert.suppression.end"] == at(4)


def test_a_query_that_cannot_run_fails_its_rule_alone(detector: Detector) -> None:
    good = corpus_rule("cross-platform/privilege_escalation_echo_nopasswd_sudoers.toml")
    bad = replace(good, rule_id="bad", query="process.args:(echo and")
    load(detector, "logs-endpoint.events.process-default", [
        {"@timestamp": at(1), "event": {"category": ["process"], "type": ["start"]},
         "process": {"args": ["echo", "x NOPASSWD ALL"]}, "labels": {"case": "tp"}}])
    failed, ran = detector.hunt_many([bad, good])
    assert failed.status == "failed" and "Expected" in (failed.error or "")
    assert ran.error is None and tags(ran.alerts) == ["tp"]


def test_ml_rules_are_never_run(detector: Detector) -> None:
    rule = corpus_rule("ml/privilege_escalation_ml_linux_anomalous_sudo_activity.toml")
    assert rule.needs_ml and rule.query == ""
    report = detector.hunt(rule)
    assert report.error == "type machine_learning: needs Elastic ML: not run"


def test_a_hunt_loads_the_fields_kql_rules_read() -> None:
    from lanner.detection.fields import fields_read

    posh = corpus_rule("windows/defense_evasion_posh_compressed.toml")
    read = fields_read([posh])
    assert read is not None and {"powershell.file.script_block_text", "user.id",
                                 "file.path", "event.ingested"} <= read
    hashes = load_rule_file(OTHER / "rules" / "threat_intel"
                            / "threat_intel_indicator_match_hash.toml")
    assert fields_read([posh, hashes]) is None  # `file.hash.*:*`: every field is kept
