"""`lanner hunt`, `lanner replay` and `lanner alerts` on the bundled examples, as a user runs
them: real files, a database file reused between commands, assertions on the outputs."""

from __future__ import annotations

import csv
import datetime
import json
import re
from concurrent.futures import Future
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from lanner.cli import detect
from lanner.cli.app import app
from lanner.engine.backends.duckdb import DuckDBBackend
from lanner.engine.client import memory_backend_soon
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
    assert "Command and Control" in result.stdout  # the tactic heatmap
    assert "loaded 39 events from 5 file(s)" in result.stderr
    assert "running 5 rule(s)" in result.stderr
    assert len(alerts) == 12 and len(shown) == 8
    assert (f"wrote alerts (NDJSON) to {output}: 8 alert(s) (+4 sequence building-block "
            "document(s))") in result.stderr


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
    assert read_alerts(second) == []
    assert "no new alerts (8 already stored)" in result.stdout
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


# -- inputs, as a responder collects them --------------------------------------------------


def hunted_ids(args: list[str], tmp_path: Path, name: str, **invoke: object) -> list[str]:
    """The ids of the alerts a hunt over `args` writes, after checking it succeeded."""
    output = tmp_path / f"{name}.ndjson"
    result = runner.invoke(app, ["hunt", "-r", str(EXAMPLES), *args, "-o", str(output)],
                           **invoke)
    assert result.exit_code == 0, result.output
    assert "loaded 39 events" in result.stderr, result.stderr
    return sorted(a["kibana.alert.uuid"] for a in read_alerts(output))


def test_hunt_finds_the_same_alerts_in_gzip_bzip2_zip_a_folder_and_stdin(tmp_path: Path) -> None:
    import bz2
    import gzip
    import zipfile

    expected = hunted_ids([str(EVENTS)], tmp_path, "plain")
    assert len(expected) == 12
    files = sorted(EVENTS.glob("*.ndjson"))
    folder = tmp_path / "collected" / "host1"
    folder.mkdir(parents=True)
    for number, path in enumerate(files):
        data = path.read_bytes()
        if number % 2:
            (folder / f"{path.stem}.ndjson.gz").write_bytes(gzip.compress(data))
        else:
            (folder / f"{path.stem}.json.bz2").write_bytes(bz2.compress(data))
    assert hunted_ids([str(tmp_path / "collected")], tmp_path, "folder") == expected

    archive = tmp_path / "triage.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as writer:
        for path in files:
            writer.write(path, f"evidence/{path.name}")
    assert hunted_ids([str(archive)], tmp_path, "zip") == expected

    stdin = b"".join(path.read_bytes() for path in files)
    assert hunted_ids(["-"], tmp_path, "stdin", input=stdin) == expected
    assert hunted_ids(["-"], tmp_path, "stdin-gz", input=gzip.compress(stdin)) == expected


def test_hunt_reads_parquet(tmp_path: Path) -> None:
    """Parquet timestamps come back with microseconds, so documents (and the alert ids
    derived from them) differ: the same rules fire on the same events."""
    import duckdb

    def fired(name: str) -> list[tuple[str, str]]:
        return sorted((a["kibana.alert.rule.rule_id"],
                       str(a.get("kibana.alert.original_event.id")))
                      for a in read_alerts(tmp_path / f"{name}.ndjson"))

    hunted_ids([str(EVENTS)], tmp_path, "plain")
    with duckdb.connect() as con:
        for path in EVENTS.glob("*.ndjson"):
            con.execute(f"COPY (SELECT * FROM read_json('{path}')) TO "
                        f"'{tmp_path / path.stem}.parquet' (FORMAT parquet)")
    hunted_ids(sorted(str(path) for path in tmp_path.glob("*.parquet")), tmp_path, "parquet")
    assert fired("parquet") == fired("plain")
    assert ("f95972d3-c23b-463b-89a8-796b3f369b49", "bits-tp-rename") in fired("parquet")


def test_bad_lines_are_reported_with_file_and_line(tmp_path: Path) -> None:
    broken = tmp_path / "broken.ndjson"
    good = (EVENTS / "ingress_transfer_bits.ndjson").read_text().splitlines()
    broken.write_text("\n".join([good[0], '{"@timestamp": ', *good[1:], "[1, 2]"]) + "\n")
    result = runner.invoke(app, ["hunt", "-r", str(EXAMPLES), str(broken)])
    assert result.exit_code == 0, result.output
    assert "loaded 6 events from 1 file(s), 2 bad line(s)" in result.stderr
    assert f"bad line: {broken}:2: malformed JSON" in result.stderr
    assert f"bad line: {broken}:8: expected a JSON object, found an array" in result.stderr


def strip_index_fields(path: Path) -> list[dict]:
    events = []
    for line in path.read_text().splitlines():
        event = json.loads(line)
        for name in ("data_stream", "agent", "elastic"):
            event.pop(name, None)
        event["event"].pop("module", None)
        event["event"].pop("dataset", None)
        events.append(event)
    return events


def test_events_without_index_are_warned_about_once_and_index_puts_them_in_one(
        tmp_path: Path) -> None:
    bare = tmp_path / "bare.ndjson"
    events = strip_index_fields(EVENTS / "update_orchestrator_hijack.ndjson")
    bare.write_text("".join(json.dumps(event) + "\n" for event in events))
    rule = str(EXAMPLES / "update_orchestrator_hijack.toml")

    unplaced = runner.invoke(app, ["hunt", "-r", rule, str(bare)])
    assert unplaced.exit_code == 0, unplaced.output
    assert unplaced.stderr.count("have no index") == 1
    assert f"{len(events)} event(s) have no index" in unplaced.stderr
    assert "give one with --index" in unplaced.stderr
    assert "no alerts" in unplaced.stdout

    placed = runner.invoke(app, ["hunt", "-r", rule, str(bare), "--index",
                                 "logs-endpoint.events.process-default"],
                           env={"COLUMNS": "200"})
    assert placed.exit_code == 0, placed.output
    assert "have no index" not in placed.stderr
    assert "1 alert(s) from 1 rule(s)" in placed.stdout


def test_since_and_until_bound_the_events_every_rule_sees(tmp_path: Path) -> None:
    output = tmp_path / "window.csv"
    result = runner.invoke(app, ["hunt", "-r", str(EXAMPLES), str(EVENTS), "--since",
                                 "2026-11-20T10:00:20Z", "--until", "2026-11-20T10:00:59Z",
                                 "-o", str(output)])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(output.open(encoding="utf-8")))
    assert [row["timestamp"] for row in rows] == sorted(row["timestamp"] for row in rows)
    assert {row["rule"] for row in rows} == {"连接到常用滥用 Web 服务",
                                             "通过 PowerShell 进行远程文件下载"}
    assert all("2026-11-20T10:00:20" <= row["timestamp"] <= "2026-11-20T10:00:59"
               for row in rows)
    backwards = runner.invoke(app, ["hunt", "-r", str(EXAMPLES), str(EVENTS), "--since",
                                    "2026-11-20T11:00:00Z", "--until", "2026-11-20T10:00:00Z"])
    assert backwards.exit_code == 2 and "is after --until" in backwards.output


def test_rule_selection_options_skip_rules_with_the_reason(tmp_path: Path) -> None:
    result = runner.invoke(app, ["hunt", "-r", str(EXAMPLES), str(EVENTS), "--severity", "high",
                                 "--log-format", "json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["rules"]["run"] == 1
    assert sorted(skip["reason"] for skip in summary["rules"]["skipped"]) == [
        "severity low is below high", "severity low is below high",
        "severity medium is below high", "severity medium is below high"]
    assert [group["name"] for group in summary["alerts"]["by_rule"]] == [
        "通过更新编排服务劫持实现持久性"]

    by_technique = runner.invoke(app, ["hunt", "-r", str(EXAMPLES), str(EVENTS), "--attack",
                                       "T1197"])
    assert by_technique.exit_code == 0
    assert "running 1 rule(s), skipped 4: 4 no ATT&CK id among T1197" in by_technique.stderr
    bad = runner.invoke(app, ["hunt", "-r", str(EXAMPLES), str(EVENTS), "--severity", "huge"])
    assert bad.exit_code == 2 and "unknown severity" in bad.output


# -- while it runs, and for scripts ----------------------------------------------------------


def test_json_log_mode_writes_json_lines_and_a_summary_document(tmp_path: Path) -> None:
    report = tmp_path / "report.html"
    result = runner.invoke(app, ["hunt", "-r", str(EXAMPLES), str(EVENTS), "--log-format",
                                 "json", "--profile", "-o", str(report)])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stderr.splitlines()]
    kinds = [line["event"] for line in lines]
    assert kinds.count("file") == 5 and kinds.count("rule") == 5
    assert kinds[-1] == "summary" and lines[-1]["alerts"] == 8
    rules = {line["name"]: line for line in lines if line["event"] == "rule"}
    assert rules["连接到常用滥用 Web 服务"]["alerts"] == 4
    assert all(line["status"] == "succeeded" for line in rules.values())
    summary = json.loads(result.stdout)
    assert summary["inputs"]["events"] == 39 and len(summary["inputs"]["files"]) == 5
    assert summary["alerts"]["total"] == 8 and summary["alerts"]["documents"] == 12
    assert summary["alerts"]["by_severity"] == {"critical": 0, "high": 1, "medium": 2, "low": 5}
    assert summary["alerts"]["by_rule"][0]["severity"] == "high"
    assert summary["outputs"] == [{"path": str(report), "format": "report (HTML)", "items": 8,
                                   "holds": "8 alert(s)"}]
    assert len(summary["slowest_rules"]) == 5


def test_quiet_prints_only_the_alerts(tmp_path: Path) -> None:
    result = runner.invoke(app, ["hunt", "-q", "-r", str(EXAMPLES), str(EVENTS)],
                           env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    assert "8 alert(s) from 5 rule(s)" in result.stdout
    assert "ATT&CK tactics" not in result.stdout


def test_profile_lists_the_slowest_rules(tmp_path: Path) -> None:
    result = runner.invoke(app, ["hunt", "--profile", "-r", str(EXAMPLES), str(EVENTS)],
                           env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "slowest 5 rule(s)" in result.stdout
    assert re.search(r"\d+\.\d{3} │ 连接到常用滥用 Web 服务", result.stdout)


def test_an_output_of_unknown_format_is_refused_before_any_work(tmp_path: Path) -> None:
    result = runner.invoke(app, ["hunt", "-r", str(EXAMPLES), str(EVENTS), "-o",
                                 str(tmp_path / "alerts.txt")])
    assert result.exit_code == 2
    assert "cannot tell the report format" in result.output
    assert "loaded" not in result.stderr


def test_progress_bar_shows_events_rate_file_rules_and_alerts() -> None:
    import datetime
    import io

    from rich.console import Console

    from lanner.cli.progress import ProgressBar
    from lanner.detection.run import RunReport
    from lanner.rules import load_rules

    (rule,), _ = load_rules([EXAMPLES / "ingress_transfer_bits.toml"])
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=150, color_system=None)
    with ProgressBar(console) as bar:
        bar.reading("evidence/host1.ndjson.gz", 0)
        bar.reading("evidence/host1.ndjson.gz", 12_000)
        bar.start_rules(3)
        bar.ran(rule, RunReport(rule, datetime.datetime.now(datetime.UTC), "manual"))
        bar._progress.refresh()
    shown = screen.getvalue()
    assert re.search(r"reading .*12,000 events · [\d,]+ events/s · evidence/host1.ndjson.gz",
                     shown)
    assert "rules" in shown and "1/3 · 0 alert(s) · 通过 Windows BITS 的入站传输" in shown


# -- answers a user can trust: exit codes, errors, counts ------------------------------------


def test_a_hunt_with_no_events_or_no_rules_is_a_usage_error(tmp_path: Path) -> None:
    picture = tmp_path / "picture.png"
    picture.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\nabc\ndef\n")
    table = tmp_path / "hosts.csv"
    table.write_text("host,user\nws1,alice\n", encoding="utf-8")
    empty = tmp_path / "empty.ndjson"
    empty.write_text("", encoding="utf-8")
    for path, why in ((picture, "5 unreadable line(s) (not JSON), see above"),
                      (table, "2 unreadable line(s) (not JSON), see above"),
                      (empty, "no documents in it")):
        result = runner.invoke(app, ["hunt", "-r", str(EXAMPLES), str(path)])
        assert result.exit_code == 2, result.output
        assert "loaded 0 events from 1 file(s)" in result.stderr
        assert result.stderr.rstrip().endswith(f"lanner: no events loaded from {path}: {why}")
        assert result.stdout == ""  # no alerts table: nothing ran
    replayed = runner.invoke(app, ["replay", "-r", str(EXAMPLES), str(empty), "--from",
                                   "2026-11-20T09:30:00Z", "--to", "2026-11-20T10:30:00Z"])
    assert replayed.exit_code == 2
    assert f"lanner: no events loaded from {empty}: no documents in it" in replayed.stderr

    # rules and inputs are checked before any event is read
    nothing = tmp_path / "nothing"
    nothing.mkdir()
    missing = tmp_path / "missing"
    for args, message in (
            (["-r", str(nothing), str(EVENTS)], f"no rules to run: {nothing} holds no rule files"),
            (["-r", str(missing), str(EVENTS)],
             f"no rules to run: {missing}: no such file or folder"),
            (["-r", str(EXAMPLES), "--severity", "critical", str(EVENTS)],
             "no rules to run: all 5 rule(s) were left out: 1 severity high is below critical; "
             "2 severity low is below critical; 2 severity medium is below critical"),
            (["-r", str(EXAMPLES), str(missing)],
             f"no events to read: {missing}: no such file or folder"),
            (["-r", str(EXAMPLES), str(nothing)], f"no events to read: {nothing} holds no "
             "event files")):
        result = runner.invoke(app, ["hunt", *args])
        assert result.exit_code == 2, (args, result.output)
        assert f"lanner: {message}" in result.stderr, result.stderr
        assert "events from" not in result.stderr  # not one event was read
    no_rules = runner.invoke(app, ["replay", "-r", str(nothing), str(EVENTS), "--from",
                                   "2026-11-20T09:30:00Z"])
    assert no_rules.exit_code == 2
    assert f"lanner: no rules to run: {nothing} holds no rule files" in no_rules.stderr


BROKEN_QUERY_RULE = '''[rule]
name = "Broken"
rule_id = "00000000-0000-0000-0000-000000000003"
type = "eql"
language = "eql"
risk_score = 21
severity = "low"
index = ["logs-endpoint.events.*"]
query = \'\'\'
process where QUERY
\'\'\'
'''


def test_a_failing_rule_is_placed_in_its_file_as_rules_validate_places_it(
        tmp_path: Path) -> None:
    """One formatter (file:line:col: error: message, the line in the TOML file) and one
    suggestion for a misspelt field, in a hunt and in `rules validate`."""
    rule = tmp_path / "broken.toml"
    rule.write_text(BROKEN_QUERY_RULE.replace("QUERY", 'process.nmae : "cmd.exe"'))
    hunted = runner.invoke(app, ["hunt", "-r", str(rule), str(EVENTS)])
    assert hunted.exit_code == 1
    assert (f"failed: Broken: {rule}:10:15: error: unknown column process.nmae; did you mean "
            "process.name? (write ?process.nmae if it may be absent from the index)"
            ) in hunted.stderr
    validated = runner.invoke(app, ["rules", "validate", str(rule)])
    assert validated.stdout.splitlines()[0] == (
        f"{rule}:10:15: warning: unknown field process.nmae; did you mean process.name? "
        "(write ?process.nmae if it may be absent from the index)")

    rule.write_text(BROKEN_QUERY_RULE.replace("process where QUERY",
                                              'process wher process.name : "cmd.exe"'))
    hunted = runner.invoke(app, ["hunt", "-r", str(rule), str(EVENTS)])
    validated = runner.invoke(app, ["rules", "validate", str(rule)])
    placed = f"{rule}:10:9: error: expected 'where', found 'wher'"
    assert f"failed: Broken: {placed}\n" in hunted.stderr
    assert validated.stdout.splitlines()[0] == placed


def redated(lines: list[str], latest: datetime.datetime) -> list[str]:
    """Example events moved in time, their spacing kept, so that the last is at `latest`."""
    events = [json.loads(line) for line in lines]
    stamps = [datetime.datetime.fromisoformat(e["@timestamp"].replace("Z", "+00:00"))
              for e in events]
    shift = latest - max(stamps)
    for event, stamp in zip(events, stamps, strict=True):
        event["@timestamp"] = (stamp + shift).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        event["event"].pop("ingested", None)
    return [json.dumps(event) for event in events]


def test_serve_counts_alerts_as_hunt_does(tmp_path: Path) -> None:
    """Every example event, re-dated to the last minutes: serve's count and its table agree
    and say what the sequences' building blocks are."""
    watched = tmp_path / "incoming"
    watched.mkdir()
    latest = datetime.datetime.now(datetime.UTC) - datetime.timedelta(seconds=30)
    for path in sorted(EVENTS.glob("*.ndjson")):
        lines = redated(path.read_text(encoding="utf-8").splitlines(), latest)
        (watched / path.name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = runner.invoke(app, ["serve", "-r", str(EXAMPLES), "--watch", str(watched),
                                 "--store", str(tmp_path / "serve.duckdb"), "--once"],
                           env={"COLUMNS": "160"})
    assert result.exit_code == 0, result.output
    assert ("ingested 39 event(s); ran 5 rule(s): 8 new alert(s) (+4 sequence building-block "
            "document(s))") in result.stderr
    assert result.stdout.count("alert(s) from") == 1
    assert "8 alert(s) from 5 rule(s)" in result.stdout
    assert "outside every rule's window" not in result.stderr


def test_serve_says_which_events_fell_outside_every_window_and_how_to_replay_them(
        tmp_path: Path) -> None:
    watched = tmp_path / "incoming"
    watched.mkdir()
    for path in EVENTS.glob("*.ndjson"):
        (watched / path.name).write_bytes(path.read_bytes())
    result = runner.invoke(app, ["serve", "-r", str(EXAMPLES), "--watch", str(watched),
                                 "--store", str(tmp_path / "serve.duckdb"), "--once"])
    assert result.exit_code == 0, result.output
    assert "ran 5 rule(s): 0 new alert(s)" in result.stderr
    assert "39 of the 39 event(s) ingested fell outside every rule's window" in result.stderr
    assert ("their @timestamp runs from 2026-11-20 10:00:01 to 2026-11-20 10:03:01"
            in result.stderr)
    command = (f"lanner replay --from 2026-11-20T10:00:00Z --to 2026-11-20T10:04:00Z "
               f"--rules {EXAMPLES} {watched}")
    assert result.stderr.rstrip().endswith(command)
    replayed = runner.invoke(app, command.split()[1:], env={"COLUMNS": "160"})
    assert replayed.exit_code == 0, replayed.output
    assert "8 alert(s) from 5 rule(s)" in replayed.stdout


def test_the_store_made_while_the_rules_load_is_closed_when_the_hunt_is_refused(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[Future[DuckDBBackend]] = []

    def soon() -> Future[DuckDBBackend]:
        made.append(memory_backend_soon())
        return made[-1]

    taken: list[DuckDBBackend | None] = []
    take = detect._taken
    monkeypatch.setattr(detect, "memory_backend_soon", soon)
    monkeypatch.setattr(detect, "_taken", lambda early: taken.append(take(early)) or taken[-1])
    empty = tmp_path / "rules"
    empty.mkdir()
    refused = runner.invoke(app, ["hunt", "-r", str(empty), str(EVENTS)])
    assert refused.exit_code == 2 and "no rules to run" in refused.stderr
    assert len(made) == 1
    with pytest.raises(duckdb.ConnectionException):
        made[0].result().store.con.execute("SELECT 1")
    # a hunt that runs takes it as its store
    output = tmp_path / "alerts.ndjson"
    assert runner.invoke(app, ["hunt", "-r", str(EXAMPLES), str(EVENTS), "-o",
                               str(output)]).exit_code == 0
    assert len(made) == 2 and len(read_alerts(output)) == 12
    assert taken == [made[1].result()]
