"""Spark backend benchmarks: how a hunt scales from local[1] to local[2], and whether every
rule of the corpus raises the same alerts on Spark as on DuckDB.

    .venv/bin/python -m bench.spark                       # scaling: seed rules and a fixed
                                                          # sample of 100 corpus rules,
                                                          # 1,000,000 events
    .venv/bin/python -m bench.spark --all-rules           # scaling, all active rules (long)
    .venv/bin/python -m bench.spark --compare             # all 1,024 corpus rules, both
                                                          # engines, 2,000 events

Each engine runs in its own process (a process holds one SparkContext, fixed to its master).
Scaling: the events are ingested with the rules' fields only (as `lanner hunt` reads them),
one rule is hunted untimed (the Parquet export, JVM warm-up), then the hunt is timed `--runs`
times and the median kept; Spark hunts from `--threads` driver threads, and its scans are
split in 16 MB pieces, so that both the jobs and each job's tasks can use every core.
Comparison: one hunt per engine, rules run from `--threads` driver threads; every rule's
alert ids must be DuckDB's. Either fails (exit 1) on a difference and writes its section of
bench/results/spark.md.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
CORPUS_RULES = SHARED / "corpus" / "detection-rules-eql"
RESULTS = ROOT / "bench" / "results" / "spark.md"
STARTED = datetime.datetime(2030, 1, 1, tzinfo=datetime.UTC)
SCALING = "Spark backend: local[1] versus local[2]"
COMPARISON = "Every corpus rule on both engines"
# Corpus rules in the scaling hunt (besides the seed rules): a fixed sample, by rule id.
SAMPLED_RULES = 100
# Scans split in pieces this size (Parquet row groups permitting), so one job spreads over
# the cores; the Spark default (128 MB) reads a million events' columns in one or two tasks.
SPLIT_BYTES = "16m"


def _rules(all_rules: bool, *, seeds: bool = True) -> list:
    from lanner.detection.hunt import select_rules
    from lanner.rules import load_rules

    paths = [SHARED / "rules" / "seed"] if seeds else []
    if all_rules:
        paths.insert(0, CORPUS_RULES)
    rules, _ = load_rules(paths)
    return select_rules(rules, building_blocks=all_rules).rules


def scaling_rules(all_rules: bool) -> list:
    """The scaling hunt's rules: every active rule, or the seed rules and SAMPLED_RULES
    corpus rules taken evenly from the active ones in rule-id order (the same every time)."""
    if all_rules:
        return _rules(True)
    from lanner.detection.hunt import select_rules
    from lanner.rules import load_rules

    corpus_rules, _ = load_rules([CORPUS_RULES])
    active = sorted(select_rules(corpus_rules).rules, key=lambda rule: rule.rule_id)
    step = max(1, len(active) // SAMPLED_RULES)
    return active[::step][:SAMPLED_RULES] + _rules(False)


def hunt_concurrently(detector: Any, rules: Sequence[Any], threads: int) -> list[Any]:
    """Each rule hunted once, from `threads` driver threads; reports in rule order. The
    detector's backend must be safe to share (SparkBackend is)."""
    def one(rule: Any) -> Any:
        return detector.hunt(rule, started_at=STARTED)

    if threads <= 1:
        return [one(rule) for rule in rules]
    with ThreadPoolExecutor(threads, thread_name_prefix="hunt") as pool:
        return list(pool.map(one, rules))


def alert_ids(reports: Sequence[Any]) -> dict[str, list[str]]:
    """rule_id -> the sorted ids of its alerts (an error is kept as the rule's answer)."""
    return {report.rule.rule_id: [f"error: {report.error}"] if report.error else
            sorted(alert["kibana.alert.uuid"] for alert in report.alerts)
            for report in reports}


def _backend(engine: str, store: Any, config: dict[str, str] | None = None) -> Any:
    from lanner.engine.backends.duckdb import DuckDBBackend
    from lanner.engine.backends.spark import SparkBackend, spark_session

    if engine == "duckdb":
        return DuckDBBackend(store)
    session = spark_session(engine, {"spark.sql.shuffle.partitions": "4", **(config or {})})
    return SparkBackend(store, session)


def cpu_seconds() -> float:
    """CPU time used so far by this process and every live process below it (Spark's JVM
    and its Python workers): over a timed hunt, divided by its wall time, how many cores the
    hunt kept busy (Linux /proc; 0 elsewhere)."""
    tick = os.sysconf("SC_CLK_TCK")
    parents: dict[int, int] = {}
    used: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # gone meanwhile
            continue
        parents[int(entry.name)] = int(fields[1])
        used[int(entry.name)] = (int(fields[11]) + int(fields[12])) / tick
    mine = {os.getpid()}
    grown = True
    while grown:
        below = {pid for pid, parent in parents.items() if parent in mine} - mine
        grown = bool(below)
        mine |= below
    return sum(used.get(pid, 0.0) for pid in mine)


def worker(engine: str, events: int, all_rules: bool, runs: int, threads: int) -> dict:
    """Hunt `runs` times on one engine ("duckdb" or a Spark master, hunting from `threads`
    driver threads) after one untimed rule; timings and alert ids."""
    from bench.generate import corpus
    from lanner.detection.fields import fields_read
    from lanner.detection.hunt import hunt
    from lanner.detection.run import Detector
    from lanner.store import EventStore

    rules = scaling_rules(all_rules)
    store = EventStore()
    clock = time.perf_counter()
    store.ingest_files([corpus(events).path], fields=fields_read(rules))
    ingest = time.perf_counter() - clock
    backend = _backend(engine, store, {"spark.sql.files.maxPartitionBytes": SPLIT_BYTES})
    detector = Detector(backend)
    clock = time.perf_counter()
    detector.hunt(rules[-1], started_at=STARTED)  # exports the events to Spark, warms up
    warm_up = time.perf_counter() - clock
    seconds, cpu, alerts = [], [], {}
    for _ in range(runs):
        clock, busy = time.perf_counter(), cpu_seconds()
        if engine == "duckdb":
            reports = hunt(detector, rules, started_at=STARTED)
        else:
            reports = hunt_concurrently(detector, rules, threads)
        seconds.append(time.perf_counter() - clock)
        cpu.append(cpu_seconds() - busy)
        alerts = alert_ids(reports)
    return {"engine": engine, "seconds": seconds, "cpu": cpu, "rules": len(rules),
            "alerts": alerts, "ingest": ingest, "warm_up": warm_up}


def compare_worker(engine: str, events: int, threads: int) -> dict:
    """All corpus rules hunted once on one engine, `threads` rules at a time."""
    from bench.generate import corpus
    from lanner.detection.run import Detector
    from lanner.store import EventStore

    rules = _rules(True, seeds=False)
    store = EventStore()
    store.ingest_files([corpus(events).path])
    backend = _backend(engine, store)
    clock = time.perf_counter()
    reports = hunt_concurrently(Detector(backend), rules, threads if engine != "duckdb" else 1)
    seconds = time.perf_counter() - clock
    return {"engine": engine, "seconds": [seconds], "rules": len(rules),
            "alerts": alert_ids(reports)}


def _run_worker(engine: str, options: argparse.Namespace) -> dict:
    command = [sys.executable, "-m", "bench.spark", "--worker", engine, "--events",
               str(options.events), "--runs", str(options.runs), "--threads",
               str(options.threads)]
    if options.all_rules:
        command.append("--all-rules")
    if options.compare:
        command.append("--compare")
    done = subprocess.run(command, cwd=ROOT, check=False, capture_output=True, text=True)
    if done.returncode != 0:  # the worker's own error, not just its exit status
        raise SystemExit(f"worker {engine} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.splitlines()[-1])


def write_section(title: str, lines: list[str]) -> None:
    """Replace (or add) the `## title` section of the results file, keeping the others."""
    text = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else "# Spark backend\n"
    head, *sections = text.split("\n## ")
    kept = [section for section in sections if not section.startswith(title + "\n")]
    body = "\n".join([title, "", *lines]).rstrip("\n") + "\n"
    RESULTS.write_text("\n## ".join([head.rstrip("\n") + "\n", *kept, body]), encoding="utf-8")


def _scaling(options: argparse.Namespace) -> int:
    load = os.getloadavg()[1]
    results = [_run_worker(engine, options) for engine in ("duckdb", "local[1]", "local[2]")]
    load = max(load, os.getloadavg()[1])
    reference = results[0]["alerts"]
    alerts = sum(len(ids) for ids in reference.values())
    rules = "every active rule" if options.all_rules else (
        f"the seed rules and {SAMPLED_RULES} corpus rules sampled by rule id")
    command = (f"python -m bench.spark --events {options.events} --runs {options.runs} "
               f"--threads {options.threads}" + (" --all-rules" if options.all_rules else ""))
    lines = [
        f"Hunt of the benchmark corpus ({options.events:,} events) with {rules} "
        f"({results[0]['rules']} rules, {alerts} alerts), median of {options.runs} run(s) after "
        f"one untimed rule; Spark from {options.threads} driver threads, scans split in "
        f"{SPLIT_BYTES.removesuffix('m')} MB pieces. `{command}`. Machine: {os.cpu_count()} "
        f"cores, 5-minute load average up to {load:.1f} during the run (other work included).",
        "",
        "| engine | hunt, median (s) | runs (s) | CPU s / wall s (cores busy) | ingest (s) "
        "| untimed first rule (s) | alert ids as DuckDB |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    identical = True
    for result in results:
        same = result["alerts"] == reference
        identical &= same
        runs = ", ".join(f"{s:.1f}" for s in result["seconds"])
        lines.append(f"| {result['engine']} | {statistics.median(result['seconds']):.1f} "
                     f"| {runs} | {_cores_busy(result)} | {result['ingest']:.1f} "
                     f"| {result['warm_up']:.1f} "
                     f"| {'identical' if same else 'DIFFERENT'} |")
    write_section(SCALING, lines)
    print("\n".join(lines))
    return 0 if identical else 1


def _cores_busy(result: dict) -> str:
    """Mean cores kept busy over the runs: CPU seconds over wall seconds."""
    return f"{sum(result['cpu']) / sum(result['seconds']):.2f}"


def _comparison(options: argparse.Namespace) -> int:
    duckdb, spark = (_run_worker(engine, options) for engine in ("duckdb", options.master))
    reference, found = duckdb["alerts"], spark["alerts"]
    differing = sorted(rule for rule in reference if found.get(rule) != reference[rule])
    errors = sum(1 for ids in reference.values() if ids[:1] and ids[0].startswith("error"))
    firing = sum(1 for ids in reference.values() if ids and not ids[0].startswith("error"))
    alerts = sum(len(ids) for ids in reference.values()) - errors
    lines = [
        f"All {duckdb['rules']:,} active and building-block rules of the corpus hunted over "
        f"the benchmark corpus ({options.events:,} events), once per engine; Spark on "
        f"`{options.master}` with {options.threads} driver threads. "
        f"`python -m bench.spark --compare --events {options.events} "
        f"--threads {options.threads}`.",
        "",
        "| engine | hunt (s) | rules | firing rules | alerts | rules whose alert ids differ |",
        "|---|---:|---:|---:|---:|---:|",
        f"| duckdb | {duckdb['seconds'][0]:.1f} | {duckdb['rules']} | {firing} | {alerts} | "
        "(reference) |",
        f"| spark {options.master} | {spark['seconds'][0]:.1f} | {spark['rules']} | "
        f"{sum(1 for ids in found.values() if ids)} | "
        f"{sum(len(ids) for ids in found.values())} | {len(differing)} |",
    ]
    if errors:
        lines += ["", f"{errors} rules failed on DuckDB (an error counts as their answer)."]
    if differing:
        lines += ["", "Differing rules: " + ", ".join(differing)]
    write_section(f"{COMPARISON}, {options.events:,} events", lines)
    print("\n".join(lines))
    return 0 if not differing else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=None,
                        help="corpus size (default 1,000,000; 2,000 with --compare)")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--all-rules", action="store_true")
    parser.add_argument("--compare", action="store_true",
                        help="all corpus rules on DuckDB and Spark, alert ids compared")
    parser.add_argument("--threads", type=int, default=4,
                        help="driver threads hunting rules at once on Spark")
    parser.add_argument("--master", default="local[2]", help="Spark master (--compare)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    options = parser.parse_args(argv)
    if options.events is None:
        options.events = 2_000 if options.compare else 1_000_000
    if options.worker:
        if options.compare:
            result = compare_worker(options.worker, options.events, options.threads)
        else:
            result = worker(options.worker, options.events, options.all_rules, options.runs,
                            options.threads)
        print(json.dumps(result))
        return 0
    return _comparison(options) if options.compare else _scaling(options)


if __name__ == "__main__":
    raise SystemExit(main())
