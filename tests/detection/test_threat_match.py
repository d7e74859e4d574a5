"""Indicator match rules end to end (OTHER-RULE-TYPES.md §6): real corpus rules, an indicator
index and events in one DuckDB store; the threat query's date math, its filters, the mapping
groups, the window on the events, and the enrichment of each alert."""

from __future__ import annotations

import datetime
from dataclasses import replace
from pathlib import Path
from typing import Any

from lanner.detection.run import Detector
from lanner.rules import Rule, load_rule_file
from tests.detection.rule_runs import OTHER, T0, at

TI_INDEX = "logs-ti_abusech.malware-default"
EVENTS = "logs-endpoint.events.process-default"


def corpus_rule(name: str) -> Rule:
    return load_rule_file(OTHER / "rules" / "threat_intel" / name)


def load(detector: Detector, index: str, docs: list[dict[str, Any]]) -> None:
    report = detector.backend.store.bulk(
        [line for doc in docs for line in ({"index": {"_id": doc.pop("_id"), "_index": index}},
                                           doc)])
    assert report.bad_lines == []


def indicator(doc_id: str, age_days: float, indicator: dict[str, Any],
              **extra: Any) -> dict[str, Any]:
    return {"_id": doc_id, "@timestamp": at(-age_days * 24 * 60),
            "event": {"module": "ti_abusech", "category": ["threat"], "kind": "enrichment",
                      "type": ["indicator"]},
            "threat": {"indicator": indicator, "feed": {"name": "AbuseCH Malware"}}, **extra}


def event(doc_id: str, minutes: float, **fields: Any) -> dict[str, Any]:
    return {"_id": doc_id, "@timestamp": at(minutes),
            "event": {"category": ["process"], "ingested": at(minutes)}, **fields}


def enrichments(alert: dict[str, Any]) -> list[dict[str, Any]]:
    threat = alert.get("threat")
    return threat["enrichments"] if isinstance(threat, dict) else alert["threat.enrichments"]


def test_hash_indicators_match_events_and_enrich_their_alerts(detector: Detector) -> None:
    rule = corpus_rule("threat_intel_indicator_match_hash.toml")
    load(detector, TI_INDEX, [
        indicator("ti-fresh", 2, {"type": "file", "file": {"hash": {"sha256": "a" * 64}}}),
        indicator("ti-old", 40, {"type": "file", "file": {"hash": {"sha256": "b" * 64}}}),
        indicator("ti-transform", 1, {"type": "file", "file": {"hash": {"sha256": "c" * 64}}},
                  labels={"is_ioc_transform_source": "true"}),
    ])
    load(detector, EVENTS, [
        event("e-hit", -10, process={"hash": {"sha256": "a" * 64}}),
        event("e-both", -20, process={"hash": {"sha256": "a" * 64}},
              dll={"hash": {"sha256": "a" * 64}}),
        event("e-old-indicator", -10, process={"hash": {"sha256": "b" * 64}}),
        event("e-transform", -10, process={"hash": {"sha256": "c" * 64}}),
        event("e-unknown", -10, process={"hash": {"sha256": "d" * 64}}),
        event("e-before-window", -70, process={"hash": {"sha256": "a" * 64}}),
    ])
    report = detector.run(rule, started_at=T0)
    assert report.error is None
    by_event = {a["kibana.alert.ancestors"][0]["id"]: a for a in report.alerts}
    assert sorted(by_event) == ["e-both", "e-hit"]
    hit = by_event["e-hit"]
    assert hit["kibana.alert.rule.type"] == "threat_match"
    assert hit["kibana.alert.rule.rule_type_id"] == "siem.indicatorRule"
    assert hit["kibana.alert.rule.parameters"]["threat_index"] == ["filebeat-*", "logs-ti_*"]
    assert enrichments(hit) == [{
        "indicator": {"type": "file", "file": {"hash": {"sha256": "a" * 64}}},
        "feed": {"name": "AbuseCH Malware"},
        "matched": {"atomic": "a" * 64, "field": "process.hash.sha256", "id": "ti-fresh",
                    "index": TI_INDEX, "type": "indicator_match_rule"}}]
    assert sorted(e["matched"]["field"] for e in enrichments(by_event["e-both"])) == [
        "dll.hash.sha256", "process.hash.sha256"]


def test_address_groups_are_ored_and_exceptions_drop_indicators_too(
        tmp_path: Path, detector: Detector) -> None:
    rule = corpus_rule("threat_intel_indicator_match_address.toml")
    load(detector, TI_INDEX, [
        indicator("ti-ip", 3, {"type": "ipv4-addr", "ip": "203.0.113.7"}),
        indicator("ti-lab", 3, {"type": "ipv4-addr", "ip": "198.51.100.1"},
                  host={"name": "lab"}),
    ])
    load(detector, "logs-network_traffic.flow-default", [
        event("n-src", -5, source={"ip": "203.0.113.7"}, destination={"ip": "10.0.0.1"}),
        event("n-dst", -6, source={"ip": "10.0.0.2"}, destination={"ip": "203.0.113.7"}),
        event("n-lab", -7, source={"ip": "10.0.0.3"}, destination={"ip": "198.51.100.1"}),
        event("n-none", -8, source={"ip": "10.0.0.4"}, destination={"ip": "10.0.0.5"}),
    ])
    report = detector.run(rule, started_at=T0)
    matched = {a["kibana.alert.ancestors"][0]["id"]: [e["matched"]["field"]
                                                       for e in enrichments(a)]
               for a in report.alerts}
    assert matched == {"n-src": ["source.ip"], "n-dst": ["destination.ip"],
                       "n-lab": ["destination.ip"]}
    # an exception on host.name removes the indicator that has it, so its events go
    path = tmp_path / "excepted.toml"
    path.write_text(Path(rule.path or "").read_text(encoding="utf-8") + '''
[[exceptions]]
name = "Lab feed"
entries = [{ field = "host.name", type = "match", value = "lab" }]
''', encoding="utf-8")
    excepted = replace(load_rule_file(path), rule_id="excepted")
    report = detector.run(excepted, started_at=T0)
    assert sorted(a["kibana.alert.ancestors"][0]["id"] for a in report.alerts) == [
        "n-dst", "n-src"]


def test_no_indicator_no_alert_and_ids_as_a_query_rule(detector: Detector) -> None:
    rule = corpus_rule("threat_intel_indicator_match_hash.toml")
    load(detector, EVENTS, [event("e-hit", -10, process={"hash": {"sha256": "a" * 64}})])
    empty = detector.run(rule, started_at=T0)
    assert empty.error is None and empty.alerts == []
    load(detector, TI_INDEX, [
        indicator("ti", 1, {"type": "file", "file": {"hash": {"sha256": "a" * 64}}})])
    (alert,) = detector.hunt(rule, started_at=T0).alerts
    (again,) = detector.hunt(rule, started_at=T0 + datetime.timedelta(hours=1)).alerts
    assert alert["kibana.alert.uuid"] == again["kibana.alert.uuid"]


def test_max_signals_keeps_the_latest_events_and_warns(detector: Detector) -> None:
    rule = replace(corpus_rule("threat_intel_indicator_match_hash.toml"), max_signals=2)
    load(detector, TI_INDEX, [
        indicator("ti", 1, {"type": "file", "file": {"hash": {"sha256": "a" * 64}}})])
    load(detector, EVENTS, [event(f"e{m}", -m, process={"hash": {"sha256": "a" * 64}})
                            for m in (30, 20, 10)])
    report = detector.run(rule, started_at=T0)
    assert sorted(a["kibana.alert.ancestors"][0]["id"] for a in report.alerts) == ["e10", "e20"]
    assert any("maximum alert limit" in w for w in report.warnings)
    exact = replace(rule, rule_id="exact", max_signals=3)
    assert detector.run(exact, started_at=T0).warnings == []
