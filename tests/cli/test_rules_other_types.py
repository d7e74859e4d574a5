"""`lanner rules` and `lanner hunt` on the rule types beside EQL, with real corpus rules:
ML rules listed as not runnable (never silently dropped, never errors), KQL queries shown,
`rules test` on a query rule naming the KQL clause no event got past."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from lanner.cli.app import app
from tests.conftest import SHARED, require_shared

runner = CliRunner()
WIDE = {"COLUMNS": "200"}
OTHER = SHARED / "corpus" / "detection-rules-other" / "rules"
POSH = OTHER / "windows" / "defense_evasion_posh_compressed.toml"
ML_SUDO = OTHER / "ml" / "privilege_escalation_ml_linux_anomalous_sudo_activity.toml"
POWERSHELL = {"type": "logs", "dataset": "windows.powershell_operational",
              "namespace": "default"}


def script_block(text: str, entropy: float) -> dict[str, object]:
    return {"data_stream": POWERSHELL, "@timestamp": "2026-11-20T10:00:00Z",
            "event": {"category": ["process"]}, "host": {"os": {"type": "windows"}},
            "user": {"id": "S-1-5-21-7"},
            "powershell": {"file": {"script_block_text": text,
                                    "script_block_entropy_bits": entropy}}}


def write_events(path: Path, *docs: dict[str, object]) -> Path:
    path.write_text("".join(json.dumps(doc) + "\n" for doc in docs), encoding="utf-8")
    return path


def test_validate_reports_ml_rules_as_not_runnable_not_as_errors() -> None:
    require_shared()
    result = runner.invoke(app, ["rules", "validate", str(OTHER / "ml"), str(POSH)],
                           env=WIDE)
    assert result.exit_code == 0, result.output
    (summary,) = result.stdout.splitlines()
    assert summary.startswith("1 rules, 1 valid, 0 with errors")
    ml_files = len(list((OTHER / "ml").glob("*.toml")))
    assert summary.endswith(f"(not checked: {ml_files} needs Elastic ML: not run)")


def test_list_shows_ml_rules_with_the_reason_and_json_says_it() -> None:
    require_shared()
    result = runner.invoke(app, ["rules", "list", str(ML_SUDO), str(POSH)], env=WIDE)
    assert result.exit_code == 0, result.output
    assert "machine_learning (needs Elastic ML: not run)" in result.stdout
    assert "query (kuery)" in result.stdout
    assert "2 rule(s) listed" in result.stderr
    listed = json.loads(runner.invoke(app, ["rules", "list", "--json", str(ML_SUDO),
                                            str(POSH)]).stdout)
    assert {r["type"]: r["not_run"] for r in listed} == {
        "machine_learning": "type machine_learning: needs Elastic ML: not run",
        "query": None}


def test_show_prints_the_kql_query_and_its_filters() -> None:
    require_shared()
    result = runner.invoke(app, ["rules", "show", str(POSH)], env=WIDE)
    assert result.exit_code == 0, result.output
    assert "Query (KQL)" in result.stdout
    assert "not user.id : \"S-1-5-18\"" in result.stdout
    assert "Windows Defender Advanced Threat Protection" in result.stdout
    assert "(negated)" in result.stdout
    ml = runner.invoke(app, ["rules", "show", str(ML_SUDO)], env=WIDE)
    assert "needs Elastic ML: not run" in ml.stdout and "anomaly threshold" in ml.stdout


def test_test_a_query_rule_fires_and_names_the_kql_clause_when_it_does_not(
        tmp_path: Path) -> None:
    require_shared()
    hit = write_events(tmp_path / "hit.ndjson", script_block(
        "New-Object IO.Compression.GzipStream($s); [Convert]::FromBase64String($b)", 5.0))
    fired = runner.invoke(app, ["rules", "test", str(POSH), str(hit)], env=WIDE)
    assert fired.exit_code == 0, fired.output
    assert "PASS  the rule fires: 1 alert(s)" in fired.stdout
    miss = write_events(tmp_path / "miss.ndjson",
                        script_block("New-Object IO.Compression.GzipStream($s)", 5.0),
                        script_block("Write-Host hi", 3.0))
    silent = runner.invoke(app, ["rules", "test", str(POSH), str(miss)], env=WIDE)
    assert silent.exit_code == 1, silent.output
    lines = silent.stdout.splitlines()
    assert "FAIL  the rule does not fire" in lines
    assert any(line.startswith("  stopped at powershell.file.script_block_text:((")
               for line in lines)
    header = next(i for i, line in enumerate(lines) if "events meeting each clause" in line)
    counts = [line.split() for line in lines[header + 1:header + 5]]
    assert counts[:4] == [["2", "event.category:process"], ["2", "host.os.type:windows"],
                          ["1", "powershell.file.script_block_entropy_bits", ">=", "4.5"],
                          ["x", "0", *counts[3][2:]]]
    assert any("powershell.file.script_block_text:FromBase64String" in line
               for line in lines)
    expected_silent = runner.invoke(app, ["rules", "test", str(POSH), str(miss),
                                          "--expect-none"], env=WIDE)
    assert expected_silent.exit_code == 0


def test_test_refuses_an_ml_rule_with_the_reason(tmp_path: Path) -> None:
    require_shared()
    events = write_events(tmp_path / "e.ndjson", script_block("x", 1.0))
    result = runner.invoke(app, ["rules", "test", str(ML_SUDO), str(events)], env=WIDE)
    assert result.exit_code == 2
    assert "needs Elastic ML: not run" in result.output


def test_hunt_runs_query_rules_and_says_ml_rules_were_not_run(tmp_path: Path) -> None:
    require_shared()
    hit = write_events(tmp_path / "hit.ndjson", script_block(
        "New-Object IO.Compression.DeflateStream($s); [Convert]::FromBase64String($b)", 6.0))
    output = tmp_path / "alerts.ndjson"
    result = runner.invoke(app, ["hunt", "--rules", str(POSH), "--rules", str(ML_SUDO),
                                 str(hit), "-o", str(output)], env=WIDE)
    assert result.exit_code == 0, result.output
    assert "running 1 rule(s), skipped 1: 1 type machine_learning: needs Elastic ML: not run" \
        in result.stderr
    (alert,) = [json.loads(line) for line in output.read_text(encoding="utf-8").splitlines()]
    assert alert["kibana.alert.rule.type"] == "query"
    assert alert["kibana.alert.rule.name"] == "PowerShell Suspicious Payload Encoded and " \
                                              "Compressed"
