"""Alert documents as Kibana builds them: ids, reason text, overrides, sequence groups."""

from __future__ import annotations

import datetime
import hashlib
import io
from dataclasses import replace
from typing import Any

import orjson
import pytest

from lanner.detection.alerts import (
    AlertContext,
    SourceEvent,
    alert_id,
    event_alert,
    lookup,
    reason,
    risk_score_for,
    rule_uuid,
    sequence_alerts,
    severity_for,
    write_alerts,
)
from lanner.rules import Rule
from lanner.rules.model import RiskScoreMapping, SeverityMapping

RULE = Rule(name="Suspicious cmd", rule_id="r-1", type="eql", language="eql",
            query='process where process.name == "cmd.exe"', index=("logs-*",),
            severity="medium", risk_score=47)
NOW = datetime.datetime(2026, 11, 20, 10, 5, tzinfo=datetime.UTC)
CONTEXT = AlertContext(RULE, NOW)

EVENT = SourceEvent("logs-endpoint.events.process-default", "e1", {
    "@timestamp": "2026-11-20T10:00:00.000Z",
    "event": {"category": ["process"], "type": ["start"], "kind": "event"},
    "process": {"name": "cmd.exe", "parent": {"name": "winword.exe"}},
    "user": {"name": "alice"}, "host": {"name": "ws-01"},
})


def test_an_event_alert_is_the_event_plus_kibana_fields() -> None:
    alert = event_alert(EVENT, CONTEXT)
    assert alert["process"] == EVENT.source["process"]
    assert alert["event"] == {"category": ["process"], "type": ["start"]}  # own kind removed
    assert alert["event.kind"] == "signal"
    assert alert["kibana.alert.original_event.kind"] == "event"
    assert alert["kibana.alert.original_event.category"] == ["process"]
    assert alert["kibana.alert.original_time"] == "2026-11-20T10:00:00.000Z"
    assert alert["@timestamp"] == "2026-11-20T10:05:00.000Z"
    assert alert["kibana.alert.ancestors"] == [
        {"id": "e1", "type": "event", "index": EVENT.index, "depth": 0}]
    assert (alert["kibana.alert.severity"], alert["kibana.alert.risk_score"]) == ("medium", 47)
    assert alert["kibana.alert.rule.rule_id"] == "r-1"
    assert alert["kibana.alert.rule.uuid"] == rule_uuid(RULE)
    assert alert["kibana.alert.rule.parameters"]["query"] == RULE.query
    assert alert["kibana.alert.workflow_status"] == "open"


def test_alert_ids_follow_kibanas_formula_and_do_not_depend_on_the_run() -> None:
    expected = hashlib.sha256(
        f"{EVENT.index}e11default:{rule_uuid(RULE)}".encode()).hexdigest()
    assert alert_id(EVENT, RULE) == expected
    later = AlertContext(RULE, NOW + datetime.timedelta(minutes=5))
    assert event_alert(EVENT, later)["kibana.alert.uuid"] == expected
    other_rule = replace(RULE, rule_id="r-2")
    assert event_alert(EVENT, AlertContext(other_rule, NOW))["kibana.alert.uuid"] != expected


def test_the_reason_reads_as_kibana_writes_it() -> None:
    assert reason(EVENT.source, "medium", "Suspicious cmd") == (
        "process event with process cmd.exe, parent process winword.exe, by alice on ws-01 "
        "created medium alert Suspicious cmd.")
    network = {"event": {"category": "network"}, "source": {"ip": "10.0.0.1", "port": 5000},
               "destination": {"ip": "8.8.8.8", "port": "53"}, "host.name": "h"}
    # numbers have no .length in Kibana's formatter, so a numeric port never shows
    assert reason(network, "low", "R") == (
        "network event with source 10.0.0.1 destination 8.8.8.8:53, on h created low alert R.")
    assert reason({}, "high", "R") == "event created high alert R."


@pytest.mark.parametrize(("source", "found"), [
    ({"a": {"b.c": 1, "b": {"c": 2}}}, 1),  # the rest spelt out wins over nested objects
    ({"a.b": {"c": None}, "a": {"b": {"c": 3}}}, 3),  # the shortest head first
    ({"a": {"b": {"c": None}}, "a.b": {"c": 4}}, 4),  # a null is looked past
    ({"a.b.c": 5}, 5),
    ({"a": {"b": {"c": [6]}}}, [6]),
    ({"a": {"b": 7}}, None),
    ({"a": 8}, None),
    ({}, None),
])
def test_a_field_is_looked_up_as_lodash_get_does(source: dict[str, Any], found: Any) -> None:
    assert lookup(source, "a.b.c") == found


def test_severity_mapping_takes_the_highest_matching_entry() -> None:
    rule = replace(RULE, severity_mapping=(
        SeverityMapping("process.name", "cmd.exe", "critical"),
        SeverityMapping("user.name", "alice", "high"),
        SeverityMapping("event.severity", "73", "low"),
    ))
    assert severity_for(rule, EVENT.source) == ("critical", "process.name")
    assert severity_for(rule, {"event": {"severity": 73}}) == ("low", "event.severity")
    assert severity_for(rule, {"event": {"severity": "73"}}) == ("medium", None)
    assert severity_for(rule, {"user": {"name": ["bob", "alice"]}}) == ("high", "user.name")


def test_risk_score_mapping_takes_the_events_value_from_0_to_100() -> None:
    rule = replace(RULE, risk_score_mapping=(RiskScoreMapping("event.risk_score"),))
    assert risk_score_for(rule, {"event": {"risk_score": 88}}) == (88, True)
    assert risk_score_for(rule, {"event": {"risk_score": "21.5"}}) == (21.5, True)
    assert risk_score_for(rule, {"event": {"risk_score": 300}}) == (47, False)
    assert risk_score_for(rule, {}) == (47, False)


def test_rule_name_override_renames_the_alert() -> None:
    rule = replace(RULE, rule_name_override="process.parent.name")
    alert = event_alert(EVENT, AlertContext(rule, NOW))
    assert alert["kibana.alert.rule.name"] == "winword.exe"
    assert alert["kibana.alert.reason"].endswith("created medium alert winword.exe.")


def test_a_sequence_gives_a_shell_and_building_blocks_that_share_a_group() -> None:
    second = SourceEvent(EVENT.index, "e2", {
        "@timestamp": "2026-11-20T10:00:03.000Z",
        "event": {"category": ["network"], "type": ["start"]},
        "process": {"name": "cmd.exe"}, "host": {"name": "ws-01"},
        "destination": {"ip": "10.1.1.1"}})
    shell, *blocks = sequence_alerts([EVENT, second], CONTEXT)
    base = f"e1{EVENT.index}e2{EVENT.index}{rule_uuid(RULE)}"
    assert shell["kibana.alert.uuid"] == hashlib.sha256(base.encode()).hexdigest()
    assert [b["kibana.alert.uuid"] for b in blocks] == [
        hashlib.sha256(f"{base}{i}".encode()).hexdigest() for i in range(2)]
    assert {b["kibana.alert.group.id"] for b in blocks} == {shell["kibana.alert.uuid"]}
    assert [b["kibana.alert.group.index"] for b in blocks] == [0, 1]
    assert all(b["kibana.alert.building_block_type"] == "default" for b in blocks)
    assert "kibana.alert.building_block_type" not in shell
    # the shell keeps only what both events share
    assert shell["host"] == {"name": "ws-01"}
    assert shell["process"] == {"name": "cmd.exe"}
    assert shell["event"] == {"type": ["start"]}
    assert "destination" not in shell and "user" not in shell
    assert [a["id"] for a in shell["kibana.alert.ancestors"]] == ["e1", "e2"]
    assert shell["kibana.alert.reason"] == (
        "event with process cmd.exe, on ws-01 created medium alert Suspicious cmd.")


def test_a_shell_drops_the_empty_objects_and_arrays_its_events_share() -> None:
    host = {"name": "ws-01", "ip": [], "geo": {}, "os": {"type": "windows", "tags": []}}
    events = [SourceEvent(EVENT.index, f"e{n}", {
        "@timestamp": f"2026-11-20T10:00:0{n}.000Z", "host": dict(host), "labels": {},
        "tags": ["a", "a", "b"], "process": {"args": [], "pid": n}}) for n in (1, 2)]
    shell, *_ = sequence_alerts(events, CONTEXT)
    assert shell["host"] == {"name": "ws-01", "os": {"type": "windows"}}
    assert shell["tags"] == ["a", "a", "b"]
    assert "labels" not in shell and "process" not in shell


def test_a_building_block_rule_marks_its_alerts() -> None:
    rule = replace(RULE, building_block_type="default")
    assert event_alert(EVENT, AlertContext(rule, NOW))["kibana.alert.building_block_type"] == (
        "default")


def test_written_alerts_are_the_documents_built_whatever_the_rule_template_shares() -> None:
    """write_alerts serialises each rule's fields once; a document must read back as the
    alert built, also when its name was overridden or it was edited, trimmed or read back (no
    template applies then), and the rule's fields must not leak between rules."""
    other = replace(RULE, rule_id="r-2", name="Other", rule_name_override="process.name")
    blocks = sequence_alerts([EVENT, replace(EVENT, id="e2")], CONTEXT)
    renamed = event_alert(EVENT, AlertContext(other, NOW))
    assert renamed["kibana.alert.rule.name"] == "cmd.exe"
    edited = {**event_alert(EVENT, CONTEXT), "kibana.alert.rule.tags": ["edited"]}
    read_back = orjson.loads(orjson.dumps(event_alert(EVENT, CONTEXT)))
    trimmed = event_alert(EVENT, CONTEXT)
    del trimmed["kibana.alert.rule.tags"]
    alerts = [event_alert(EVENT, CONTEXT), *blocks, renamed, edited, read_back, trimmed,
              event_alert(EVENT, AlertContext(replace(other, rule_name_override=None), NOW))]
    stream = io.BytesIO()
    assert write_alerts(stream, alerts) == len(alerts)
    lines = stream.getvalue().split(b"\n")
    assert lines[-1] == b"" and len(lines) == len(alerts) + 1
    assert [orjson.loads(line) for line in lines[:-1]] == [
        orjson.loads(orjson.dumps(alert)) for alert in alerts]
