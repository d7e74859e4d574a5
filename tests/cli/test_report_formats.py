"""The report files of `lanner hunt -o`: format by name, and what each one holds, checked on
the alerts of a hunt over the bundled examples."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from typer.testing import CliRunner

from lanner.cli.app import app
from lanner.cli.render import alerts_table, tactic_heatmap
from lanner.cli.report import HuntResult, ReportError, report_format, write_report
from lanner.cli.report.html import render_html
from tests.conftest import EXAMPLES, ROOT

EVENTS = ROOT / "examples" / "events"


@pytest.fixture(scope="module")
def outputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("reports")
    paths = {suffix: folder / f"hunt{suffix}" for suffix in (".ndjson", ".csv", ".layer.json")}
    args = ["hunt", "-r", str(EXAMPLES), str(EVENTS)]
    for path in paths.values():
        args += ["-o", str(path)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    return paths


def alerts_of(outputs: dict[str, Path]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in outputs[".ndjson"].read_text().splitlines()]


def test_format_follows_the_name() -> None:
    assert report_format(Path("out/Hunt.LAYER.json"))[0] == "ATT&CK Navigator layer"
    assert report_format(Path("alerts.jsonl"))[0] == "alerts (NDJSON)"
    assert report_format(Path("t.csv"))[0] == "timeline (CSV)"
    assert report_format(Path("r.htm"))[0] == "report (HTML)"
    with pytest.raises(ReportError, match=r"cannot tell the report format of x\.json"):
        report_format(Path("x.json"))


def test_unwritable_report_is_a_typed_error(tmp_path: Path) -> None:
    result = HuntResult(alerts=[], reports=[], rules=[])
    with pytest.raises(ReportError, match="cannot write"):
        write_report(tmp_path / "missing" / "r.csv", result)


def test_ndjson_holds_every_alert_building_blocks_included(outputs: dict[str, Path]) -> None:
    alerts = alerts_of(outputs)
    assert len(alerts) == 12
    blocks = [a for a in alerts if a.get("kibana.alert.building_block_type")]
    assert len(blocks) == 4  # two sequences of two events
    assert all(a["event.kind"] == "signal" for a in alerts)


def test_csv_timeline_one_row_per_alert_by_event_time(outputs: dict[str, Path]) -> None:
    rows = list(csv.DictReader(outputs[".csv"].open(encoding="utf-8", newline="")))
    assert len(rows) == 8
    assert [row["timestamp"] for row in rows] == sorted(row["timestamp"] for row in rows)
    bits = next(row for row in rows if row["rule"] == "通过 Windows BITS 的入站传输")
    assert bits == bits | {
        "timestamp": "2026-11-20T10:00:05.412Z", "severity": "low", "risk_score": "21",
        "host": "WS-FIN-042", "user": "SYSTEM", "event_action": "rename",
        "file": "C:\\Users\\Public\\Documents\\svcupdate.exe",
        "tactics": "Command and Control; Defense Evasion", "techniques": "T1105; T1197",
        "event_index": "logs-endpoint.events.file-default"}
    smb = next(row for row in rows if row["rule"].startswith("通过 LOLBin"))
    assert smb["event_index"] == ("logs-endpoint.events.process-default; "
                                  "logs-endpoint.events.network-default")  # a sequence


def test_csv_defuses_spreadsheet_formulas(outputs: dict[str, Path], tmp_path: Path) -> None:
    alert = next(a for a in alerts_of(outputs)
                 if a["kibana.alert.rule.name"] == "通过更新编排服务劫持实现持久性")
    alert["process"]["command_line"] = "=cmd|' /C calc'!A0"
    alert["user"]["name"] = "-"
    path = tmp_path / "t.csv"
    write_report(path, HuntResult(alerts=[alert], reports=[], rules=[]))
    (row,) = csv.DictReader(path.open(encoding="utf-8", newline=""))
    assert row["command_line"] == "'=cmd|' /C calc'!A0"
    assert row["user"] == "'-"
    assert row["risk_score"] == "73"


def test_navigator_layer_scores_techniques_by_alerts(outputs: dict[str, Path]) -> None:
    layer = json.loads(outputs[".layer.json"].read_text())
    assert layer["domain"] == "enterprise-attack" and layer["versions"]["layer"] == "4.5"
    scored = {(t["techniqueID"], t["tactic"]): t for t in layer["techniques"]}
    assert scored["T1197", "defense-evasion"]["score"] == 1
    assert scored["T1197", "defense-evasion"]["comment"] == "通过 Windows BITS 的入站传输"
    assert scored["T1071.001", "command-and-control"]["score"] == 4
    assert scored["T1071", "command-and-control"]["showSubtechniques"] is True
    assert scored["T1105", "command-and-control"]["score"] == 2  # BITS and PowerShell
    assert layer["gradient"]["maxValue"] == 4


def test_html_escapes_what_events_and_rules_say(outputs: dict[str, Path]) -> None:
    alert = next(a for a in alerts_of(outputs)
                 if a["kibana.alert.rule.name"] == "通过更新编排服务劫持实现持久性")
    alert["kibana.alert.rule.name"] = "<script>alert(1)</script>"
    alert["host"]["name"] = "<img src=x onerror=alert(1)>"
    alert["kibana.alert.rule.note"] = "## Triage\n\n<b>raw</b> and `code`"
    page = render_html(HuntResult(alerts=[alert], reports=[], rules=[]))
    assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)" in page
    assert "<img src=x" not in page
    assert "<h2>Triage</h2>" in page and "&lt;b&gt;raw&lt;/b&gt;" in page
    assert "<code>code</code>" in page


def test_terminal_table_and_heatmap(outputs: dict[str, Path]) -> None:
    console = Console(width=160, record=True, file=io.StringIO(), color_system=None)
    alerts = alerts_of(outputs)
    console.print(alerts_table(alerts))
    console.print(tactic_heatmap(alerts))
    text = console.export_text()
    lines = text.splitlines()
    ranked = [line for line in lines if line.startswith("│ ") and " │ " in line]
    assert [line.split("│")[1].strip() for line in ranked if line.split("│")[1].strip()] == [
        "high", "medium", "medium", "low", "low"]
    web = next(n for n, line in enumerate(lines) if "连接到常用滥用" in line)
    assert "2026-11-20 10:00:31" in lines[web]  # first seen, then the last on the same day
    assert "– 10:00:41" in lines[web + 1]
    assert re.search(r"Command and Control\s+6\s", text)
    assert re.search(r"Impact\s+·", text)
    assert "T1071.001 (4)" in text and "T1071 (4)" not in text  # the most specific ids
    assert tactic_heatmap([]) is None
