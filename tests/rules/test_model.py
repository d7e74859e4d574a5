"""The full rule model: every detection field typed, Kibana defaults, bad keys located, and
Kibana's NDJSON rule export."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from lanner.rules import RuleLoadError, load_rule_export, load_rule_file, load_rules
from tests.conftest import CORPUS, SEED_RULES, require_shared

BASE = '''[metadata]
maturity = "production"

[rule]
author = ["Lanner"]
description = "Test"
name = "Test rule"
rule_id = "00000000-0000-0000-0000-000000000001"
type = "eql"
language = "eql"
risk_score = 47
severity = "medium"
index = ["logs-endpoint.events.*"]
query = \'\'\'process where process.name == "cmd.exe"\'\'\'
'''

FULL = BASE + '''from = "now-9m"
interval = "5m"
max_signals = 50
timestamp_override = "event.ingested"
tags = ["Tactic: Execution"]
building_block_type = "default"
rule_name_override = "process.name"
note = """## Triage"""

[rule.investigation_fields]
field_names = ["host.name", "user.name"]

[[rule.severity_mapping]]
field = "event.severity"
operator = "equals"
value = "73"
severity = "high"

[[rule.risk_score_mapping]]
field = "event.risk_score"
operator = "equals"
value = ""

[[rule.exceptions_list]]
id = "a1"
list_id = "trusted-admins"
namespace_type = "single"
type = "detection"

[rule.alert_suppression]
group_by = ["host.name"]
missing_fields_strategy = "doNotSuppress"
[rule.alert_suppression.duration]
value = 10
unit = "m"

[[rule.threat]]
framework = "MITRE ATT&CK"
[[rule.threat.technique]]
id = "T1059"
name = "Command and Scripting Interpreter"
reference = "https://attack.mitre.org/techniques/T1059/"
[[rule.threat.technique.subtechnique]]
id = "T1059.001"
name = "PowerShell"
reference = "https://attack.mitre.org/techniques/T1059/001/"
[rule.threat.tactic]
id = "TA0002"
name = "Execution"
reference = "https://attack.mitre.org/tactics/TA0002/"

[transform]
[[transform.osquery]]
label = "Services"
query = "SELECT * FROM services"
'''


def write(tmp_path: Path, text: str, name: str = "r.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_kibana_defaults_apply_to_keys_a_rule_leaves_out(tmp_path: Path) -> None:
    rule = load_rule_file(write(tmp_path, BASE))
    assert (rule.from_, rule.to, rule.interval, rule.max_signals) == ("now-6m", "now", "5m", 100)
    assert (rule.timestamp_override, rule.building_block_type, rule.alert_suppression) == (
        None, None, None)
    assert rule.category_field == "event.category"
    assert rule.enabled and rule.version == 1


def test_every_detection_field_is_typed(tmp_path: Path) -> None:
    rule = load_rule_file(write(tmp_path, FULL))
    assert (rule.from_, rule.interval, rule.max_signals) == ("now-9m", "5m", 50)
    assert rule.timestamp_override == "event.ingested"
    assert rule.is_building_block and rule.rule_name_override == "process.name"
    assert rule.investigation_fields == ("host.name", "user.name")
    assert rule.severity_mapping[0].severity == "high"
    assert rule.severity_mapping[0].value == "73"
    assert rule.risk_score_mapping[0].field == "event.risk_score"
    assert rule.exceptions_list[0].list_id == "trusted-admins"
    suppression = rule.alert_suppression
    assert suppression is not None
    assert (suppression.group_by, suppression.duration, suppression.missing_fields_strategy) == (
        ("host.name",), "10m", "doNotSuppress")
    assert rule.tactic_ids == ("TA0002",)
    assert rule.technique_ids == ("T1059", "T1059.001")
    assert rule.threat_dicts()[0]["technique"][0]["subtechnique"][0]["id"] == "T1059.001"
    assert rule.transform == {"osquery": [{"label": "Services",
                                           "query": "SELECT * FROM services"}]}


@pytest.mark.parametrize(("line", "key", "message"), [
    ('risk_score = "high"', "risk_score", "expected an integer"),
    ("risk_score = 101", "risk_score", "between 0 and 100"),
    ('severity = "urgent"', "severity", "expected one of low, medium, high, critical"),
    ('interval = "5 minutes"', "interval", "expected a duration"),
    ("max_signals = 0", "max_signals", "at least 1"),
    ('tags = "Tactic: Execution"', "tags", "expected a list of strings"),
])
def test_a_bad_value_names_the_key_and_its_line(tmp_path: Path, line: str, key: str,
                                                message: str) -> None:
    key_name = line.split(" = ")[0]
    text = "\n".join(row for row in BASE.splitlines() if not row.startswith(key_name + " ="))
    text += "\n" + line + "\n"
    with pytest.raises(RuleLoadError) as caught:
        load_rule_file(write(tmp_path, text))
    error = caught.value
    assert error.key == key
    assert message in error.message
    assert error.location.line == text.splitlines().index(line) + 1


def test_one_bad_rule_does_not_stop_the_others(tmp_path: Path) -> None:
    write(tmp_path, BASE, "good.toml")
    write(tmp_path, BASE.replace("risk_score = 47", "risk_score = -1"), "bad.toml")
    rules, errors = load_rules([tmp_path])
    assert [r.name for r in rules] == ["Test rule"]
    assert [(Path(e.location.path or "").name, e.key) for e in errors] == [("bad.toml",
                                                                            "risk_score")]


def test_kibana_rule_export_loads_rules_and_reports_bad_lines(tmp_path: Path) -> None:
    rule = {"name": "Exported", "rule_id": "r-1", "type": "eql", "language": "eql",
            "query": "process where true", "index": ["logs-*"], "severity": "high",
            "risk_score": 73, "from": "now-9m", "interval": "5m", "version": 3,
            "threat": [{"framework": "MITRE ATT&CK",
                        "tactic": {"id": "TA0002", "name": "Execution", "reference": ""},
                        "technique": []}]}
    lines = [orjson.dumps(rule), b"{not json", orjson.dumps({**rule, "rule_id": "r-2",
                                                            "severity": "urgent"}),
             orjson.dumps({"list_id": "l-1", "type": "detection", "name": "a list"}),
             orjson.dumps({"exported_count": 2, "missing_rules": []})]
    path = write(tmp_path, "", "export.ndjson")
    path.write_bytes(b"\n".join(lines) + b"\n")
    rules, errors = load_rule_export(path)
    assert [(r.rule_id, r.version, r.severity, r.tactic_ids) for r in rules] == [
        ("r-1", 3, "high", ("TA0002",))]
    assert [(e.location.line, e.key) for e in errors] == [(2, None), (3, "severity")]
    found, _ = load_rules([tmp_path])
    assert [r.rule_id for r in found] == ["r-1"]


def test_the_whole_corpus_loads_with_its_schedules() -> None:
    require_shared()
    rules, errors = load_rules([CORPUS, SEED_RULES])
    assert errors == []
    assert len(rules) == 1086
    assert sum(r.from_ == "now-9m" for r in rules) > 900
    assert all(r.threat for r in rules)
    assert sum(r.is_building_block for r in rules) >= 70
