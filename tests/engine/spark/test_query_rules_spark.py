"""Query (KQL) and indicator match rules on Spark raise the alerts DuckDB raises, to the id:
the rule's filter compiles to Spark SQL through the one Query DSL compiler."""

from __future__ import annotations

import datetime
from typing import Any

from lanner.detection.run import Detector
from lanner.engine.backends.duckdb import DuckDBBackend
from lanner.engine.backends.spark import SparkBackend
from lanner.rules import Rule, load_rule_file
from lanner.store import EventStore
from tests.conftest import SHARED, require_shared

RULES = SHARED / "corpus" / "detection-rules-other" / "rules"
T0 = datetime.datetime(2026, 11, 20, 10, 0, tzinfo=datetime.UTC)
SCRIPT = ("New-Object IO.Compression.DeflateStream($s); [Convert]::FromBase64String($b)")


def at(minutes: float) -> str:
    return (T0 + datetime.timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def documents() -> list[tuple[str, dict[str, Any]]]:
    posh = {"event": {"category": ["process"]}, "host": {"os": {"type": "windows"}},
            "user": {"id": "S-1-5-21-1"}}
    start = {"category": ["process"], "type": ["start"]}
    ti = {"module": "ti_abusech", "category": ["threat"], "kind": "enrichment",
          "type": ["indicator"]}
    return [
        ("logs-windows.powershell_operational-default", {
            **posh, "@timestamp": at(-5), "powershell": {"file": {
                "script_block_text": SCRIPT, "script_block_entropy_bits": 5.5}}}),
        ("logs-windows.powershell_operational-default", {
            **posh, "@timestamp": at(-4), "file": {"path": "C:\\ProgramData\\Microsoft\\"
                                                   "Windows Defender Advanced Threat "
                                                   "Protection\\Downloads\\a.ps1"},
            "powershell": {"file": {"script_block_text": SCRIPT,
                                    "script_block_entropy_bits": 5.5}}}),
        ("logs-endpoint.events.process-default", {
            "@timestamp": at(-3), "event": start,
            "process": {"args": ["echo", "u ALL=(ALL) NOPASSWD: ALL"],
                        "hash": {"sha256": "a" * 64}}}),
        ("logs-endpoint.events.process-default", {
            "@timestamp": at(-2), "event": start,
            "process": {"args": ["echo", "hello"], "hash": {"sha256": "b" * 64}}}),
        ("logs-ti_abusech.malware-default", {
            "@timestamp": at(-60 * 24), "event": ti,
            "threat": {"indicator": {"type": "file", "file": {"hash": {"sha256": "a" * 64}}},
                       "feed": {"name": "AbuseCH"}}}),
    ]


def rules() -> list[Rule]:
    return [load_rule_file(RULES / path) for path in (
        "windows/defense_evasion_posh_compressed.toml",
        "cross-platform/privilege_escalation_echo_nopasswd_sudoers.toml",
        "threat_intel/threat_intel_indicator_match_hash.toml")]


def _ids(report: Any) -> list[str]:
    return sorted(alert["kibana.alert.uuid"] for alert in report.alerts)


def test_query_and_threat_match_rules_give_the_same_alerts_on_both_engines(
        spark: Any) -> None:
    require_shared()
    chosen = rules()
    with EventStore() as store:
        assert store.bulk([line for index, doc in documents()
                           for line in ({"index": {"_index": index}}, doc)]).bad_lines == []
        on_duckdb = Detector(DuckDBBackend(store)).hunt_many(chosen, started_at=T0)
        assert [r.error for r in on_duckdb] == [None, None, None]
        assert [len(r.alerts) for r in on_duckdb] == [1, 1, 1]
        backend = SparkBackend(store, spark, partitions=2)
        try:
            on_spark = Detector(backend).hunt_many(chosen, started_at=T0)
        finally:
            backend.close()
    assert [(r.rule.name, r.error, _ids(r)) for r in on_spark] == [
        (r.rule.name, None, _ids(r)) for r in on_duckdb]
    (alert,) = on_spark[2].alerts
    (enrichment,) = alert["threat.enrichments"]
    assert enrichment["matched"]["field"] == "process.hash.sha256"
    assert enrichment["feed"] == {"name": "AbuseCH"}
