"""Answers a user can trust: help that names what options take, search over what hunt reads,
alerts shown whole (guide, query, event), counts that say what was left out, and EVTX alerts
that say which file and record they came from."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

from typer.main import get_command
from typer.testing import CliRunner

from lanner.cli.app import app
from lanner.cli.help import INPUT_FORMATS
from tests.conftest import EXAMPLES, ROOT, SHARED, require_shared

runner = CliRunner()
EVENTS = ROOT / "examples" / "events"
# `<list[str]>`, `<bool>`, `<str>`, `<int range>`, `<path>`, `<text|json>`: Python's words.
PYTHON_TYPE = re.compile(r"<(list\[|bool|str|int|float|path|Path|text\||[a-z]+ range)[^>]*>")


def _command_paths(command: Any, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    paths = [path]
    for name, subcommand in getattr(command, "commands", {}).items():
        paths.extend(_command_paths(subcommand, (*path, name)))
    return paths


def _flat(text: str) -> str:
    """Help text with its panel borders and line breaks gone: words a single space apart."""
    return " ".join(text.replace("│", " ").split())


def test_no_help_shows_a_python_type() -> None:
    paths = _command_paths(get_command(app))
    assert ("alerts", "list") in paths and ("rules", "validate") in paths and ("hunt",) in paths
    for path in paths:
        result = runner.invoke(app, [*path, "--help"], env={"COLUMNS": "200"})
        assert result.exit_code == 0, (path, result.output)
        assert not PYTHON_TYPE.findall(result.stdout), (path, PYTHON_TYPE.findall(result.stdout))
    listed = runner.invoke(app, ["alerts", "list", "--help"], env={"COLUMNS": "200"}).stdout
    assert re.search(r"--store\s+FILE", listed) and re.search(r"--limit\s+N", listed)
    assert re.search(r"--since\s+DATE", listed)
    assert re.search(r"--version\s+Print the version", runner.invoke(
        app, ["--help"], env={"COLUMNS": "200"}).stdout)


def test_search_help_names_every_format_the_store_reads() -> None:
    text = _flat(runner.invoke(app, ["search", "--help"], env={"COLUMNS": "400"}).stdout)
    assert INPUT_FORMATS in text and "EVTX" in text and "Parquet" in text


def test_hunt_help_names_evtx() -> None:
    text = _flat(runner.invoke(app, ["hunt", "--help"], env={"COLUMNS": "400"}).stdout)
    assert INPUT_FORMATS in text


QUERY = 'process where process.name : "powershell.exe"'


def _hits(result: Any) -> list[str]:
    assert result.exit_code == 0, result.output
    return [hit["_id"] for hit in json.loads(result.stdout)["hits"]["events"]]


def test_search_takes_folders_and_a_store(tmp_path: Path) -> None:
    files = sorted(str(path) for path in EVENTS.glob("*.ndjson"))
    by_files = _hits(runner.invoke(app, ["search", "--size", "100", QUERY, *files]))
    by_folder = runner.invoke(app, ["search", "--size", "100", QUERY, str(EVENTS)])
    assert by_files and _hits(by_folder) == by_files
    assert f"loaded 39 events from {len(files)} file(s)" in by_folder.stderr

    store = tmp_path / "hunt.duckdb"
    hunted = runner.invoke(app, ["hunt", "-q", "-r", str(EXAMPLES), str(EVENTS), "--store",
                                 str(store)])
    assert hunted.exit_code == 0, hunted.output
    from_store = runner.invoke(app, ["search", "--size", "100", QUERY, "--store", str(store)])
    assert _hits(from_store) == by_files
    assert f"searching 39 events in {store}" in from_store.stderr

    extra = tmp_path / "extra.ndjson"
    extra.write_text(json.dumps({
        "@timestamp": "2026-11-21T00:00:00Z", "event": {"category": ["process"]},
        "process": {"name": "powershell.exe"}, "_note": "added"}) + "\n", encoding="utf-8")
    with_extra = runner.invoke(app, ["search", "--size", "100", QUERY, "--store", str(store),
                                     str(extra)])
    assert len(_hits(with_extra)) == len(by_files) + 1
    assert "loaded 1 events from 1 file(s)" in with_extra.stderr

    missing = runner.invoke(app, ["search", QUERY, "--store", str(tmp_path / "none.duckdb")])
    assert missing.exit_code == 2 and "no store at" in missing.output
    neither = runner.invoke(app, ["search", QUERY])
    assert neither.exit_code == 2 and "--store FILE" in neither.output


SQL = ("SELECT description, display_name, name, path, pid, service_type, start_type, status, "
       "user_account FROM services WHERE NOT (user_account LIKE '%LocalSystem' OR "
       "user_account LIKE '%LocalService' OR user_account LIKE '%NetworkService' OR "
       "user_account == null)")
RULE = f'''[metadata]
creation_date = "2026/01/01"
maturity = "production"
updated_date = "2026/01/01"

[rule]
author = ["Lanner tests"]
description = "A command shell started."
from = "now-9m"
index = ["logs-endpoint.events.process-*"]
language = "eql"
license = "Elastic License v2"
name = "Command shell started"
risk_score = 21
rule_id = "0d8ad79f-9025-45d8-80c1-4f0cd3c5e8e5"
severity = "low"
type = "eql"
note = """
## Triage

$investigate_0

$osquery_0
"""
query = \'\'\'
process where process.name == "cmd.exe"
\'\'\'

[[transform.investigate]]
label = "Alerts on the host"
providers = [[{{ field = "host.name", queryType = "phrase", value = "{{{{host.name}}}}" }}]]
relativeFrom = "now-48h/h"
relativeTo = "now"

[[transform.osquery]]
label = "Services run by other accounts"
query = "{SQL}"
'''
EVENT = {"@timestamp": "2026-11-20T10:00:00.000Z",
         "event": {"category": ["process"], "type": ["start"], "kind": "event"},
         "process": {"name": "cmd.exe", "pid": 4242,
                     "command_line": "cmd.exe /c whoami /all > C:\\Users\\Public\\who.txt"},
         "host": {"name": "WS-7"}, "user": {"name": "bob"},
         "data_stream": {"type": "logs", "dataset": "endpoint.events.process",
                         "namespace": "default"}}


def test_alerts_show_renders_the_guide_wraps_queries_and_shows_the_event(
        tmp_path: Path) -> None:
    rule = tmp_path / "shell.toml"
    rule.write_text(RULE, encoding="utf-8")
    events = tmp_path / "events.ndjson"
    events.write_text(json.dumps(EVENT) + "\n", encoding="utf-8")
    store = tmp_path / "hunt.duckdb"
    hunted = runner.invoke(app, ["hunt", "-q", "-r", str(rule), str(events), "--store",
                                 str(store)])
    assert hunted.exit_code == 0, hunted.output
    (alert,) = [json.loads(line) for line in runner.invoke(
        app, ["alerts", "list", "--store", str(store), "--json"]).stdout.splitlines()]

    shown = runner.invoke(app, ["alerts", "show", alert["kibana.alert.uuid"][:8], "--store",
                                str(store)], env={"COLUMNS": "60"})
    assert shown.exit_code == 0, shown.output
    text = shown.stdout
    assert "$investigate_0" not in text and "$osquery_0" not in text
    assert "Investigate in Timeline: Alerts on the host" in text and "WS-7" in text
    assert "Osquery: Services run by other accounts" in text
    assert "".join(SQL.split()) in "".join(text.split())  # whole, if wrapped
    assert max(len(line) for line in text.splitlines()) <= 60
    # the source event's fields, none of the alert's own
    assert re.search(r"process\.pid\s+4242", text)
    assert "who.txt" in text and re.search(r"user\.name\s+bob", text)
    assert "kibana.alert.rule.uuid" not in text


def test_alerts_list_says_how_many_it_left_out_and_finds_rules_as_show_does(
        tmp_path: Path) -> None:
    store = tmp_path / "hunt.duckdb"
    assert runner.invoke(app, ["hunt", "-q", "-r", str(EXAMPLES), str(EVENTS), "--store",
                               str(store)]).exit_code == 0
    limited = runner.invoke(app, ["alerts", "list", "--store", str(store), "--limit", "3"],
                            env={"COLUMNS": "160"})
    assert limited.exit_code == 0 and "3 of 8 alert(s)" in limited.stdout
    every = runner.invoke(app, ["alerts", "list", "--store", str(store)],
                          env={"COLUMNS": "160"})
    assert "8 alert(s)" in every.stdout and " of " not in every.stdout.splitlines()[0]

    def listed(*args: str) -> list[str]:
        result = runner.invoke(app, ["alerts", "list", "--store", str(store), "--json", *args])
        assert result.exit_code == 0, result.output
        return sorted(json.loads(line)["kibana.alert.uuid"] for line in result.stdout.splitlines())

    web = [a for a in map(json.loads, runner.invoke(app, ["alerts", "list", "--store", str(store),
                                                          "--json"]).stdout.splitlines())
           if a["kibana.alert.rule.name"] == "连接到常用滥用 Web 服务"]
    rule_id = web[0]["kibana.alert.rule.rule_id"]
    expected = sorted(a["kibana.alert.uuid"] for a in web)
    assert len(expected) == 4
    assert listed("--rule", rule_id) == expected  # the whole rule_id
    assert listed("--rule", rule_id[:8]) == expected  # its start
    assert listed("--rule", "Web 服务") == expected  # part of its name
    assert listed("--rule", "连接到常用滥用 web 服务") == expected  # its name, any case

    unknown = runner.invoke(app, ["alerts", "list", "--store", str(store), "--rule", "zzz"])
    assert unknown.exit_code == 1
    assert "no rule with id or name 'zzz' among the rules with alerts" in unknown.stderr
    ambiguous = runner.invoke(app, ["alerts", "list", "--store", str(store), "--rule", "通过"])
    assert ambiguous.exit_code == 1
    assert "'通过' names 4 rules among the rules with alerts: " in ambiguous.stderr


EVTX = SHARED / "data" / "real" / "evtx" / "EVTX-ATTACK-SAMPLES" / "Execution" \
    / "Sysmon_Exec_CompiledHTML.evtx"
CHM_RULE = SHARED / "corpus" / "detection-rules-eql" / "rules" / "windows" \
    / "execution_via_compiled_html_file.toml"


def test_evtx_alerts_name_their_file_and_record(tmp_path: Path) -> None:
    """The same record in two files: two alerts, as Winlogbeat and Elasticsearch give (two
    documents, each with its `log.file.path`), told apart by file, with the record number."""
    require_shared()
    first, second = tmp_path / "dc1" / "Sysmon.evtx", tmp_path / "dc2" / "Sysmon.evtx"
    for copy in (first, second):
        copy.parent.mkdir()
        shutil.copyfile(EVTX, copy)
    store = tmp_path / "hunt.duckdb"
    output = tmp_path / "alerts.ndjson"
    hunted = runner.invoke(app, ["hunt", "-q", "-r", str(CHM_RULE), str(tmp_path / "dc1"),
                                 str(tmp_path / "dc2"), "--store", str(store), "-o",
                                 str(output)])
    assert hunted.exit_code == 0, hunted.output
    alerts = [json.loads(line) for line in output.read_text().splitlines()]
    assert len(alerts) == 2
    assert sorted(a["log"]["file"]["path"] for a in alerts) == [
        os.path.abspath(first), os.path.abspath(second)]
    assert alerts[0]["winlog"]["record_id"] == alerts[1]["winlog"]["record_id"]
    assert alerts[0]["winlog"]["record_id"].isdigit()

    again = runner.invoke(app, ["hunt", "-q", "-r", str(CHM_RULE), str(first), "--store",
                                str(store), "-o", str(tmp_path / "again.ndjson")])
    assert again.exit_code == 0 and (tmp_path / "again.ndjson").read_text() == ""

    shown = runner.invoke(app, ["alerts", "show", alerts[0]["kibana.alert.uuid"], "--store",
                                str(store)], env={"COLUMNS": "200"})
    assert re.search(r"log\.file\.path\s+" + re.escape(alerts[0]["log"]["file"]["path"]),
                     shown.stdout)
    assert re.search(r"winlog\.record_id\s+" + alerts[0]["winlog"]["record_id"], shown.stdout)
