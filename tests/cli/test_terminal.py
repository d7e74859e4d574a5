"""Data never drives the terminal (issue 17): control characters from events, rule names and
files are shown as escapes, and Rich markup in them is shown as written, in every output."""

from __future__ import annotations

import dataclasses
import datetime
import io
import json
from pathlib import Path

from rich.console import Console
from typer.testing import CliRunner

from lanner.cli.app import app
from lanner.cli.progress import ProgressBar
from lanner.cli.terminal import SafeConsole, data, visible
from lanner.detection.run import RunReport
from lanner.rules import load_rules
from tests.conftest import EXAMPLES

runner = CliRunner(env={"COLUMNS": "300"})  # wide: no name folded across lines
OSC52 = "\x1b]52;c;ZXZpbA==\x07"  # writes "evil" to the clipboard
LINK = "[link=https://evil]x[/link]"
RULE = EXAMPLES / "update_orchestrator_hijack.toml"
EVENTS = EXAMPLES.parent / "events" / "update_orchestrator_hijack.ndjson"


def hostile_inputs(tmp_path: Path) -> tuple[Path, Path]:
    """The example rule renamed with markup and an escape, over its events with an OSC 52
    sequence in user.name and host.name."""
    text = RULE.read_text(encoding="utf-8")
    rule = tmp_path / "rule.toml"
    rule.write_text(text.replace('name = "通过更新编排服务劫持实现持久性"',
                                 f'name = "{LINK} \\u001b[2J\\u202e"', 1), encoding="utf-8")
    events = tmp_path / "events.ndjson"
    lines = []
    for line in EVENTS.read_text(encoding="utf-8").splitlines():
        event = json.loads(line)
        event["user"] = {**event.get("user", {}), "name": OSC52 + "admin"}
        event["host"] = {**event.get("host", {}), "name": "\x9b31mhost\x1b[8m"}
        lines.append(json.dumps(event))
    events.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return rule, events


def assert_inert(*outputs: str) -> None:
    for output in outputs:
        assert "\x1b" not in output and "\x07" not in output and "\x9b" not in output, output
        assert "\u202e" not in output


def test_no_escape_from_data_reaches_the_terminal(tmp_path: Path) -> None:
    rule, events = hostile_inputs(tmp_path)
    store = tmp_path / "hunt.duckdb"
    hunt = runner.invoke(app, ["hunt", str(events), "--rules", str(rule), "--store", str(store)])
    assert hunt.exit_code == 0, hunt.output
    assert LINK in hunt.stdout  # the alerts table shows the name as written
    listed = runner.invoke(app, ["alerts", "list", "--store", str(store)])
    as_json = runner.invoke(app, ["alerts", "list", "--store", str(store), "--json"])
    alert_id = json.loads(as_json.stdout.splitlines()[0])["kibana.alert.uuid"]
    shown = runner.invoke(app, ["alerts", "show", alert_id, "--store", str(store)])
    assert shown.exit_code == 0, shown.output
    assert "\\x1b]52;c;ZXZpbA==\\x07admin" in shown.stdout  # shown, visibly, not obeyed
    assert LINK in shown.stdout and LINK in listed.stdout
    rules_list = runner.invoke(app, ["rules", "list", str(rule)])
    rules_show = runner.invoke(app, ["rules", "show", str(rule)])
    tested = runner.invoke(app, ["rules", "test", str(rule), str(events)])
    assert LINK in rules_list.stdout and LINK in rules_show.stdout and LINK in tested.stdout
    assert "\\u202e" in rules_show.stdout
    assert_inert(*(result.stdout + result.stderr for result in
                   (hunt, listed, as_json, shown, rules_list, rules_show, tested)))


def test_a_file_name_and_an_error_message_are_shown_not_obeyed(tmp_path: Path) -> None:
    bad = tmp_path / "x\x1b]8;;evil\x07.ndjson"
    bad.write_text('{"a": 1}\nnot json \x1b[2J\n', encoding="utf-8")
    result = runner.invoke(app, ["search", "any where true", str(bad)])
    assert "\\x1b]8;;evil\\x07" in result.stderr
    assert_inert(result.stdout, result.stderr)


def test_the_progress_bar_shows_a_rule_name_as_written() -> None:
    (loaded,), _ = load_rules([RULE])
    rule = dataclasses.replace(loaded, name=f"{LINK}{OSC52}")
    out = io.StringIO()
    console = SafeConsole(file=out, force_terminal=True, width=200, color_system=None)
    with ProgressBar(console) as bar:
        bar.start_rules(1)
        bar.ran(rule, RunReport(rule, datetime.datetime.now(datetime.UTC), "manual"))
        bar._progress.refresh()
    written = out.getvalue()
    assert LINK in written.replace("\u2026", "")  # the markup, literally
    assert "\x1b]8;" not in written and "\x1b]52" not in written  # no link, no clipboard


def test_visible_and_data() -> None:
    assert visible(f"a{OSC52}\n\tb\u202e") == "a\\x1b]52;c;ZXZpbA==\\x07\\n\\tb\\u202e"
    assert visible("line\n\tnext\r", lines=True) == "line\n\tnext\\r"
    shown = io.StringIO()
    Console(file=shown, width=80).print(data(LINK))
    assert shown.getvalue() == LINK + "\n"
