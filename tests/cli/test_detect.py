"""`lanner hunt`, `lanner replay` and `lanner alerts` on the bundled examples, as a user runs
them: real files, a database file reused between commands, assertions on the outputs."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from lanner.cli.app import app
from tests.conftest import EXAMPLES, ROOT

runner = CliRunner()
EVENTS = ROOT / "examples" / "events"


def read_alerts(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_hunt_fires_every_example_rule_and_writes_kibana_shaped_alerts(tmp_path: Path) -> None:
    output = tmp_path / "alerts.ndjson"
    result = runner.invoke(app, ["hunt", "--rules", str(EXAMPLES), str(EVENTS),
                                 "--output", str(output)], env={"COLUMNS": "160"})
    assert result.exit_code == 0, result.output
    alerts = read_alerts(output)
    shown = [a for a in alerts if "kibana.alert.group.index" not in a]
    assert {a["kibana.alert.rule.name"] for a in shown} == {
        "通过 Windows BITS 的入站传输", "连接到常用滥用 Web 服务",
        "通过 PowerShell 进行远程文件下载", "通过 LOLBin 或不受信任的进程建立 SMB 连接",
        "通过更新编排服务劫持实现持久性"}
    assert all(a["event.kind"] == "signal" for a in alerts)
    assert len({a["kibana.alert.uuid"] for a in alerts}) == len(alerts)
    assert f"{len(shown)} alert(s) from 5 rule(s)" in result.stdout
    assert "通过更新编排服务劫持实现持久性" in result.stdout
    assert "loaded 39 events from 5 file(s)" in result.stderr


def test_hunt_twice_into_one_store_then_triage_the_alerts(tmp_path: Path) -> None:
    store = tmp_path / "hunt.duckdb"
    first = tmp_path / "first.ndjson"
    second = tmp_path / "second.ndjson"
    assert runner.invoke(app, ["hunt", "-r", str(EXAMPLES), str(EVENTS), "--store", str(store),
                               "-o", str(first)]).exit_code == 0
    # the second hunt loads the same events again: no alert is new
    result = runner.invoke(app, ["hunt", "-r", str(EXAMPLES), str(EVENTS), "--store",
                                 str(store), "-o", str(second)])
    assert result.exit_code == 0
    assert read_alerts(second) == [] and "no alerts" in result.stdout
    ids = sorted(a["kibana.alert.uuid"] for a in read_alerts(first)
                 if "kibana.alert.group.index" not in a)

    listed = runner.invoke(app, ["alerts", "list", "--store", str(store), "--json",
                                 "--min-severity", "high"])
    assert listed.exit_code == 0
    high = [json.loads(line) for line in listed.stdout.splitlines()]
    assert [a["kibana.alert.rule.name"] for a in high] == ["通过更新编排服务劫持实现持久性"]

    target = high[0]["kibana.alert.uuid"]
    shown = runner.invoke(app, ["alerts", "show", target[:10], "--store", str(store)])
    assert shown.exit_code == 0
    assert "Investigation guide" in shown.stdout and target in shown.stdout

    updated = runner.invoke(app, ["alerts", "update", target, "--status", "closed",
                                  "--store", str(store)])
    assert updated.exit_code == 0 and "1 alert(s) now closed" in updated.stderr
    open_now = runner.invoke(app, ["alerts", "list", "--store", str(store), "--json",
                                   "--status", "open"])
    remaining = sorted(json.loads(line)["kibana.alert.uuid"]
                       for line in open_now.stdout.splitlines())
    assert remaining == sorted(set(ids) - {target})


def test_replay_runs_the_schedule_over_a_range_and_finds_the_same_alerts(
        tmp_path: Path) -> None:
    hunted, replayed = tmp_path / "hunt.ndjson", tmp_path / "replay.ndjson"
    runner.invoke(app, ["hunt", "-r", str(EXAMPLES), str(EVENTS), "-o", str(hunted)])
    result = runner.invoke(app, ["replay", "-r", str(EXAMPLES), str(EVENTS),
                                 "--from", "2026-11-20T09:30:00Z", "--to",
                                 "2026-11-20T10:30:00Z", "-o", str(replayed)])
    assert result.exit_code == 0, result.output
    assert "replayed 60 rule run(s)" in result.stderr  # 5 rules x 12 five-minute runs
    assert sorted(a["kibana.alert.uuid"] for a in read_alerts(replayed)) == sorted(
        a["kibana.alert.uuid"] for a in read_alerts(hunted))


def test_replay_refuses_a_range_that_ends_before_it_starts() -> None:
    result = runner.invoke(app, ["replay", "-r", str(EXAMPLES), str(EVENTS),
                                 "--from", "2026-11-20T10:30:00Z", "--to",
                                 "2026-11-20T09:30:00Z"])
    assert result.exit_code == 2
    assert "is not before --to" in result.output


def test_serve_once_ingests_the_watched_folder_and_runs_due_rules(tmp_path: Path) -> None:
    """Events of the BITS example, re-dated to a minute ago, dropped into a watched folder."""
    import datetime

    watched = tmp_path / "incoming"
    watched.mkdir()
    recent = datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=1)
    lines = []
    for text in (EVENTS / "ingress_transfer_bits.ndjson").read_text().splitlines():
        event = json.loads(text)
        event["@timestamp"] = recent.strftime("%Y-%m-%dT%H:%M:%S.000Z")
        event["event"].pop("ingested", None)
        lines.append(json.dumps(event))
    (watched / "feed.ndjson").write_text("\n".join(lines) + "\n", encoding="utf-8")
    store = tmp_path / "serve.duckdb"
    args = ["serve", "-r", str(EXAMPLES / "ingress_transfer_bits.toml"), "--watch", str(watched),
            "--store", str(store), "--once"]
    result = runner.invoke(app, args, env={"COLUMNS": "160"})
    assert result.exit_code == 0, result.output
    assert f"ingested {len(lines)} event(s); ran 1 rule(s): 1 new alert(s)" in result.stderr
    assert "通过 Windows BITS 的入站传输" in result.stdout
    again = runner.invoke(app, args)  # not due yet, nothing new in the folder
    assert again.exit_code == 0 and "new alert" not in again.stderr


def test_serve_runs_only_enabled_rules(tmp_path: Path) -> None:
    rule = tmp_path / "off.toml"
    text = (EXAMPLES / "ingress_transfer_bits.toml").read_text(encoding="utf-8")
    rule.write_text(text.replace("[rule]\n", "[rule]\nenabled = false\n", 1), encoding="utf-8")
    watched = tmp_path / "in"
    watched.mkdir()
    result = runner.invoke(app, ["serve", "-r", str(rule), "--watch", str(watched),
                                 "--store", str(tmp_path / "s.duckdb"), "--once"])
    assert result.exit_code == 0, result.output
    assert "running 0 rule(s), skipped 1: 1 disabled" in result.stderr
