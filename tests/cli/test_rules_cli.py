"""`lanner rules` as a detection engineer drives it: validate, list, show and test, on the
bundled example rules and events, with real files, exit codes and lines."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lanner import eql
from lanner.cli.app import app
from lanner.cli.rules import layout_query
from lanner.rules import load_rules
from tests.conftest import CORPUS, EXAMPLES, ROOT, require_shared

runner = CliRunner()
WIDE = {"COLUMNS": "200"}
EVENTS = ROOT / "examples" / "events"
USO_RULE = EXAMPLES / "update_orchestrator_hijack.toml"
USO_EVENTS = EVENTS / "update_orchestrator_hijack.ndjson"

BROKEN_RULE = '''[rule]
name = "Broken"
rule_id = "00000000-0000-0000-0000-000000000002"
type = "eql"
language = "eql"
query = \'\'\'
process where process.nmae : "cmd.exe" and
  startsWith(process.args, 5)
\'\'\'
'''


# -- validate ----------------------------------------------------------------------------------

def test_rules_validate_on_the_bundled_examples() -> None:
    result = runner.invoke(app, ["rules", "validate", str(EXAMPLES)])
    assert result.exit_code == 0
    assert result.stdout.splitlines() == ["5 rules, 5 valid, 0 with errors, 0 with warnings"]


def test_rules_validate_prints_one_line_per_problem_and_fails(tmp_path: Path) -> None:
    rule = tmp_path / "broken.toml"
    rule.write_text(BROKEN_RULE)
    result = runner.invoke(app, ["rules", "validate", str(tmp_path), str(EXAMPLES)])
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        f"{rule}:7:15: warning: unknown field process.nmae; did you mean process.name? "
        "(write ?process.nmae if it may be absent from the index)",
        f"{rule}:8:28: error: second argument of [startsWith(process.args, 5)] must be "
        "[string], found value [5] type [integer]",
        "6 rules, 5 valid, 1 with errors, 1 with warnings",
    ]


def test_rules_validate_json_and_no_warnings(tmp_path: Path) -> None:
    (tmp_path / "broken.toml").write_text(BROKEN_RULE)
    result = runner.invoke(app, ["rules", "validate", "--format", "json", "--no-warnings",
                                 str(tmp_path)])
    document = json.loads(result.stdout)
    assert result.exit_code == 1
    assert (document["rules"], document["with_errors"], document["with_warnings"]) == (1, 1, 1)
    assert [(p["line"], p["col"], p["code"]) for p in document["problems"]] == [
        (8, 28, "argument-type")]


def test_strict_fails_on_warnings(tmp_path: Path) -> None:
    (tmp_path / "warn.toml").write_text(BROKEN_RULE.replace("startsWith(process.args, 5)",
                                                            "true"))
    assert runner.invoke(app, ["rules", "validate", str(tmp_path)]).exit_code == 0
    assert runner.invoke(app, ["rules", "validate", "--strict", str(tmp_path)]).exit_code == 1


def test_rules_validate_the_whole_corpus() -> None:
    require_shared()
    result = runner.invoke(app, ["rules", "validate", "--no-warnings", str(CORPUS)])
    assert result.exit_code == 0
    assert result.stdout.splitlines()[-1] == "1081 rules, 1081 valid, 0 with errors, " + \
        result.stdout.splitlines()[-1].split(", ")[-1]


def test_a_missing_path_is_reported_without_a_traceback(tmp_path: Path) -> None:
    result = runner.invoke(app, ["rules", "validate", str(tmp_path / "nope")])
    assert result.exit_code == 1
    assert "no such file or folder" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


# -- list --------------------------------------------------------------------------------------

def listed(*args: str) -> list[dict[str, object]]:
    result = runner.invoke(app, ["rules", "list", "--json", *args, str(EXAMPLES)])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_list_shows_a_table_most_severe_first() -> None:
    result = runner.invoke(app, ["rules", "list", str(EXAMPLES)], env=WIDE)
    assert result.exit_code == 0
    rows = [line for line in result.stdout.splitlines() if "│ eql " in line]
    assert [row.split("│")[-2].strip() for row in rows] == [
        "265db8f5", "c82c7d8f", "33f306e8", "66883649", "f95972d3"]
    assert "│ high     │   73 │ eql event    │" in rows[0]
    assert "TA0003 TA0004 T1543.003 T1574.011 T1068 " in rows[0]  # T1574 via T1574.011
    assert result.stderr == "5 rule(s) listed\n"


def test_list_filters_and_says_what_it_left_out() -> None:
    result = runner.invoke(app, ["rules", "list", "--json", "--severity", "medium",
                                 "--attack", "T1059", str(EXAMPLES)])
    assert [rule["rule_id"] for rule in json.loads(result.stdout)] == [
        "33f306e8-417c-411b-965c-c2812d6d3f4d"]
    assert result.stderr == ("1 rule(s) listed, 4 left out: 2 no ATT&CK id among T1059; "
                             "2 severity low is below medium\n")
    assert [r["rule_id"] for r in listed("--tag", "tactic: lateral movement")] == [
        "c82c7d8f-fb9e-4874-a4bd-fd9e3f9becf1"]
    assert [r["rule_id"] for r in listed("--rule-id", "f95972d3-c23b-463b-89a8-796b3f369b49",
                                         "--rule-id", "265db8f5-fc73-4d0d-b434-6483b56372e2")
            ] == ["265db8f5-fc73-4d0d-b434-6483b56372e2", "f95972d3-c23b-463b-89a8-796b3f369b49"]
    assert [r["name"] for r in listed("--search", "bits")] == ["通过 Windows BITS 的入站传输"]


def test_list_keeps_building_blocks_out_unless_asked(tmp_path: Path) -> None:
    text = USO_RULE.read_text(encoding="utf-8")
    (tmp_path / "bb.toml").write_text(text.replace(
        "[rule]\n", '[rule]\nbuilding_block_type = "default"\n', 1), encoding="utf-8")
    hidden = runner.invoke(app, ["rules", "list", "--json", str(tmp_path)])
    assert json.loads(hidden.stdout) == []
    assert hidden.stderr == ("0 rule(s) listed, 1 left out: 1 building-block rule "
                             "(run them with --building-blocks)\n")
    shown = runner.invoke(app, ["rules", "list", "--json", "--building-blocks", str(tmp_path)])
    assert [rule["building_block"] for rule in json.loads(shown.stdout)] == [True]


@pytest.mark.parametrize(("option", "value", "message"), [
    ("--severity", "urgent", "unknown severity 'urgent'"),
    ("--attack", "Execution", "'Execution' is not an ATT&CK id"),
])
def test_list_refuses_a_bad_filter_as_a_usage_error(option: str, value: str,
                                                    message: str) -> None:
    result = runner.invoke(app, ["rules", "list", option, value, str(EXAMPLES)], env=WIDE)
    assert result.exit_code == 2
    assert f"Invalid value for '{option}'" in result.stderr and message in result.stderr


# -- show --------------------------------------------------------------------------------------

def test_show_finds_a_rule_by_id_prefix_and_lays_out_its_query() -> None:
    result = runner.invoke(app, ["rules", "show", "265db8f5", "--rules", str(EXAMPLES)],
                           env=WIDE)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "通过更新编排服务劫持实现持久性"
    assert "  severity     high, risk score 73" in lines
    assert "  ATT&CK       TA0004 Privilege Escalation: T1068 Exploitation for Privilege " \
           "Escalation, T1574 Hijack Execution Flow" in lines
    query_at = lines.index("Query (EQL)")
    assert lines[query_at + 1:query_at + 5] == [
        "  process where",
        '    host.os.type == "windows" and',
        '    event.type == "start" and',
        '    process.parent.executable : "C:\\\\Windows\\\\System32\\\\svchost.exe" and']
    assert "Investigation guide" in lines
    assert "  SELECT * FROM dns_cache" in lines  # the Osquery block, rendered


def test_show_by_name_or_file_and_the_errors(tmp_path: Path) -> None:
    by_name = runner.invoke(app, ["rules", "show", "Windows BITS", "-r", str(EXAMPLES)])
    by_file = runner.invoke(app, ["rules", "show", str(EXAMPLES / "ingress_transfer_bits.toml")])
    assert by_name.exit_code == by_file.exit_code == 0
    assert by_name.stdout == by_file.stdout
    unknown = runner.invoke(app, ["rules", "show", "nothing-like-it", "-r", str(EXAMPLES)])
    assert unknown.exit_code == 2
    assert unknown.stderr == (f"lanner: no rule with id or name 'nothing-like-it' under "
                              f"{EXAMPLES}\n")
    ambiguous = runner.invoke(app, ["rules", "show", "通过", "-r", str(EXAMPLES)])
    assert ambiguous.exit_code == 2 and "'通过' names 4 rules" in ambiguous.stderr
    no_paths = runner.invoke(app, ["rules", "show", "265db8f5"])
    assert no_paths.exit_code == 2
    assert "give --rules PATH to find it by rule_id or name" in no_paths.stderr


def test_the_laid_out_query_parses_to_the_same_query_for_every_corpus_rule() -> None:
    require_shared()
    rules, _ = load_rules([CORPUS])
    for rule in rules:
        if rule.is_eql:
            laid_out = layout_query(rule.query)
            assert eql.parse(laid_out) == eql.parse(rule.query), rule.path
            assert laid_out.count("\n") > 0 or len(laid_out) <= 96, rule.path


# -- test --------------------------------------------------------------------------------------

def test_test_passes_when_the_rule_fires() -> None:
    result = runner.invoke(app, ["rules", "test", str(USO_RULE), str(USO_EVENTS)])
    assert result.exit_code == 0
    assert result.stdout.splitlines() == [
        "通过更新编排服务劫持实现持久性 (265db8f5-fc73-4d0d-b434-6483b56372e2)",
        "7 event(s) from 1 file(s)",
        "PASS  the rule fires: 1 alert(s)",
        "  2026-11-20T10:01:10.655Z  uso-tp-cmd-start"]


def test_test_shows_the_events_of_a_sequence() -> None:
    result = runner.invoke(app, ["rules", "test", "c82c7d8f", "--rules", str(EXAMPLES),
                                 str(EVENTS / "smb_connection_lolbin.ndjson")])
    assert result.exit_code == 0
    assert result.stdout.splitlines()[-1] == (
        "  2026-11-20T10:00:10.250Z  smb-tp-powershell-start -> smb-tp-connect-445")


def test_test_names_the_clause_that_failed_on_edited_events(tmp_path: Path) -> None:
    """The bar: the Update Orchestrator service host here runs as `-s wuauserv`, so the rule
    no longer fires, and `rules test` says it is the `process.parent.args` clause."""
    events = tmp_path / "uso.ndjson"
    events.write_text(USO_EVENTS.read_text().replace('"UsoSvc"', '"wuauserv"'))
    result = runner.invoke(app, ["rules", "test", str(USO_RULE), str(events)], env=WIDE)
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines[2:11] == [
        "FAIL  the rule does not fire",
        "  searched 7 event(s) in logs-endpoint.events.process-default",
        '  stopped at process.parent.args : "UsoSvc"',
        "    events meeting each clause and every clause above it:",
        '           7  event.category == "process"',
        '           7  host.os.type == "windows"',
        '           5  event.type == "start"',
        '           3  process.parent.executable : "C:\\\\Windows\\\\System32\\\\svchost.exe"',
        '    x      0  process.parent.args : "UsoSvc"   (0 on its own)']
    assert lines[12] == ("      uso-tp-cmd-start (2026-11-20T10:01:10.655Z) meets 6 of 7 "
                         'clauses; fails process.parent.args : "UsoSvc"')
    assert lines[13] == ('        process.parent.args = '
                         '["C:\\\\Windows\\\\system32\\\\svchost.exe", '
                         '"-k", "netsvcs", "-p", "-s", "wuauserv"]')


def test_test_explains_a_sequence_stopped_by_its_join_key(tmp_path: Path) -> None:
    lines = (EVENTS / "smb_connection_lolbin.ndjson").read_text().splitlines()
    edited = [line.replace("N2U1YzRkMWEtOTNiMi00ZjBlLThjNjEtMmQ5YTViN2YzZTEwLTczMTItMTM0Mzk2ND"
                           "I0MTAuMjUwMDAwMA==", "b3RoZXI=") if '"network"' in line else line
              for line in lines]
    events = tmp_path / "smb.ndjson"
    events.write_text("\n".join(edited) + "\n")
    result = runner.invoke(app, ["rules", "test", str(EXAMPLES / "smb_connection_lolbin.toml"),
                                 str(events)], env=WIDE)
    assert result.exit_code == 1
    assert ("  stopped at the join key: stage 2: none of its events shares a process.entity_id "
            "value with the events of the stages before it") in result.stdout.splitlines()


def test_expect_none_turns_the_test_into_a_false_positive_test(tmp_path: Path) -> None:
    benign = tmp_path / "benign.ndjson"
    benign.write_text("".join(line + "\n" for line in USO_EVENTS.read_text().splitlines()
                              if "uso-tp-cmd-start" not in line))
    quiet = runner.invoke(app, ["rules", "test", "--expect-none", str(USO_RULE), str(benign)])
    assert quiet.exit_code == 0
    assert quiet.stdout.splitlines()[-1] == "PASS  no alerts, as expected"
    noisy = runner.invoke(app, ["rules", "test", "--expect-none", str(USO_RULE), str(USO_EVENTS)])
    assert noisy.exit_code == 1
    assert noisy.stdout.splitlines()[2] == "FAIL  the rule fires: 1 alert(s), expected none"


def test_test_exit_codes_as_a_program_in_ci(tmp_path: Path) -> None:
    env = {**os.environ, "NO_COLOR": "1"}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "lanner", "rules", "test", *args],
                              capture_output=True, text=True, env=env, cwd=ROOT, check=False)

    assert run(str(USO_RULE), str(USO_EVENTS)).returncode == 0
    assert run(str(USO_RULE), str(EVENTS / "ingress_transfer_bits.ndjson")).returncode == 1
    missing = run(str(USO_RULE), str(tmp_path / "none.ndjson"))
    assert missing.returncode == 2 and "does not exist" in missing.stderr
    broken = tmp_path / "broken.toml"
    broken.write_text("[rule\n")
    unloadable = run(str(broken), str(USO_EVENTS))
    assert unloadable.returncode == 2
    assert unloadable.stderr.startswith(f"lanner: rule not loaded: {broken}:1")
