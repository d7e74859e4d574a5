"""The benchmark suite's one command: a quick end-to-end run writes a report whose rows carry
numbers, and the helpers it measures with report what really happened."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from bench.run import (
    ROOT,
    alert_hits,
    evenly_spaced,
    parse_options,
    run_process,
    times,
    tree_rss,
)
from lanner.rules import load_rules
from tests.conftest import CORPUS, require_shared

# The seed rules as the corpus has them, and a Linux sequence rule.
RULE_FILES = (
    "windows/command_and_control_common_webservices.toml",
    "windows/command_and_control_ingress_transfer_bits.toml",
    "windows/command_and_control_remote_file_copy_powershell.toml",
    "windows/lateral_movement_direct_outbound_smb_connection.toml",
    "windows/persistence_via_update_orchestrator_service_hijack.toml",
    "linux/command_and_control_cat_network_activity.toml",
)
NUMBER = r"[\d,]+(?:\.\d+)?"


def test_quick_run_writes_every_section_with_numbers(tmp_path: Path) -> None:
    require_shared()
    rules = tmp_path / "rules"
    rules.mkdir()
    for name in RULE_FILES:
        shutil.copy(CORPUS / "rules" / name, rules)
    report = tmp_path / "BENCHMARKS.md"
    done = subprocess.run(
        [sys.executable, "-m", "bench.run", "--quick", "--skip", "peer", "--events", "1000",
         "--window-events", "1000", "--corpus-rules", str(rules), "--few-rules", "2",
         "--data", str(tmp_path / "data"), "--output", str(report)],
        cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    text = report.read_text(encoding="utf-8")
    assert done.stdout.strip() == text.strip()  # printed as written

    assert "- command: `" in text and "--quick --skip peer" in text
    assert re.search(r"- machine: .+, \d+ cores, [\d.]+ GiB RAM", text)
    assert "- corpus: " in text and "1,000 events" in text
    for label in ("floor A: DuckDB read_ndjson_auto into a table",
                  "floor B: orjson.loads every line",
                  "Lanner ingest: the fields of every rule",
                  "hunt, seed rules", "hunt, all 6 rules"):
        row = next(line for line in text.splitlines() if line.startswith(f"| {label}"))
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        assert all(re.fullmatch(NUMBER, cell) for cell in cells[1:5]), row
    bar = text.split("## The bar")[1].split("\n## ")[0]
    assert re.search(rf"all 6 rules, ingest included, .*\| {NUMBER}x \(", bar)
    assert "not measured (--skip peer)" in bar
    assert "not measured (--skip memory or --quick)" in bar
    assert re.search(rf"\| x{NUMBER} time for x2 events \| (PASS|FAIL) \|", bar)
    assert re.search(rf"\| {NUMBER} s \(rule executions; their ingest took {NUMBER} s", bar)
    seeds = [line for line in text.splitlines() if re.search(r"\| \d+ PASS \| \d+ PASS \|$",
                                                             line)]
    assert len(seeds) == 5
    assert re.search(rf"\| one scheduled execution of 6 rules \| {NUMBER} \|", text)
    assert re.search(rf"\| 2,000 \| 6 \| {NUMBER} \| {NUMBER} \| {NUMBER} \| 2 \|", text)
    assert re.search(rf"\| 2 \| 1,000 \| {NUMBER} \| 1 \| 1 \|", text)
    assert re.search(rf"take at most 1.5x the 5 example rules, caches warm \| {NUMBER}x warm, "
                     rf"{NUMBER}x cold \(", bar)  # issue 21's start-up line
    assert re.search(rf"\| all rules, warm cache \| {NUMBER} \| {NUMBER} \| {NUMBER} \|", text)
    assert re.search(rf"with all rules takes at most 5x floor A of its file \| {NUMBER}x \(", bar)
    assert re.search(rf"\| noisy hunt, all rules, 2,000 events \| {NUMBER} \| {NUMBER} \|", text)
    assert "- planted rules: " in text and "FAIL" not in text.split("## A noisy hunt")[1]
    assert re.search(rf"- `_bulk` / file ingest, time: \*\*{NUMBER}x\*\*", text)
    assert text.rstrip().endswith("- all checks passed")
    # The corpus made only for growth is gone; the main and window corpora stay cached.
    assert sorted(path.name for path in (tmp_path / "data").glob("*.ndjson")) == [
        "endpoint-1000-seed0-1d.ndjson", "endpoint-1000-seed0-5m.ndjson",
        "endpoint-2000-seed0-1d-noisy.ndjson"]


def test_alert_hits_reads_event_alerts_and_sequences_in_order(tmp_path: Path) -> None:
    rule, other = "rule-1", "rule-2"
    alerts = [
        {"kibana.alert.rule.rule_id": rule, "kibana.alert.original_event.id": "e1"},
        {"kibana.alert.rule.rule_id": rule, "kibana.alert.group.id": "g"},  # the shell
        {"kibana.alert.rule.rule_id": rule, "kibana.alert.group.id": "g",
         "kibana.alert.group.index": 1, "kibana.alert.original_event.id": "s2"},
        {"kibana.alert.rule.rule_id": rule, "kibana.alert.group.id": "g",
         "kibana.alert.group.index": 0, "kibana.alert.original_event.id": "s1"},
        {"kibana.alert.rule.rule_id": other, "kibana.alert.original_event.id": "x"},
    ]
    path = tmp_path / "alerts.ndjson"
    path.write_bytes(b"".join(orjson.dumps(alert) + b"\n" for alert in alerts))
    assert alert_hits(path, {rule}) == {rule: [("e1",), ("s1", "s2")]}


def test_run_process_reports_the_childs_time_memory_and_output() -> None:
    script = ("import time\n"
              "block = bytearray(300 * 2**20)\n"
              "block[::4096] = b'x' * len(block[::4096])  # touch every page\n"
              "time.sleep(0.3)\n"
              "print('done')\n")
    result = run_process([sys.executable, "-c", script])
    assert (result.returncode, result.stdout) == (0, "done\n")
    assert result.seconds >= 0.3
    assert 300 * 2**20 <= result.peak_bytes < 600 * 2**20
    assert tree_rss(2**22 + 7) == 0  # no such process
    # A child does not inherit the measuring process's memory in its figure.
    ballast = bytearray(400 * 2**20)
    ballast[::4096] = b"x" * len(ballast[::4096])
    assert run_process([sys.executable, "-c", "pass"]).peak_bytes < 100 * 2**20
    assert run_process([sys.executable, "-c", "raise SystemExit(3)"]).returncode == 3


def test_evenly_spaced_rules_cover_the_sorted_list() -> None:
    require_shared()
    rules, _ = load_rules([CORPUS / "rules" / name for name in RULE_FILES])
    picked = evenly_spaced(rules, 3)
    ordered = sorted(rules, key=lambda rule: rule.path or "")
    assert picked == [ordered[0], ordered[2], ordered[4]]
    assert evenly_spaced(rules, 50) == ordered


def test_ratios_read_as_multiples() -> None:
    assert (times(1.5), times(99.994), times(12345.6)) == ("1.50x", "99.99x", "12,346x")


def test_run_process_stops_a_command_past_the_memory_cap() -> None:
    script = ("import time\n"
              "block = bytearray(400 * 2**20)\n"
              "block[::4096] = b'x' * len(block[::4096])\n"
              "time.sleep(30)\n")
    result = run_process([sys.executable, "-c", script], memory_cap=150 * 2**20)
    assert result.stopped
    assert result.peak_bytes > 150 * 2**20
    assert result.seconds < 20


def test_quick_options_and_unknown_sections() -> None:
    options, skip = parse_options(["--quick", "--skip", "peer"])
    assert (options.events, options.runs, options.peer_events, options.window_events,
            options.growth) == (2_000, 1, 300, 2_000, (2,))
    assert skip == {"peer", "memory"}
    options, skip = parse_options(["--events", "5000", "--memory-cap", "1.5"])
    assert (options.events, options.runs, options.growth, options.memory_cap, skip) == (
        5_000, 3, (2, 4), 1_500_000_000, set())
    with pytest.raises(SystemExit):
        parse_options(["--skip", "floors,bogus"])
