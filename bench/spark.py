"""Spark backend benchmarks: how a hunt scales from local[1] to local[2], and whether every
rule of the corpus raises the same alerts on Spark as on DuckDB.

    .venv/bin/python -m bench.spark                       # seed rules, 20,000 events
    .venv/bin/python -m bench.spark --all-rules           # scaling, all active rules (long)
    .venv/bin/python -m bench.spark --compare             # all 1,024 corpus rules, both
                                                          # engines, 2,000 events

Each engine runs in its own process (a process holds one SparkContext, fixed to its master).
Scaling: each hunt is timed `--runs` times and the median kept. Comparison: one hunt per
engine, rules run from `--threads` driver threads (Spark schedules their jobs side by side);
every rule's alert ids must be DuckDB's. Either fails (exit 1) on a difference and writes its
section of bench/results/spark.md.
"""

from __future__ import annotations

import argparse
import datetime
import json
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


def _rules(all_rules: bool, *, seeds: bool = True) -> list:
    from lanner.detection.hunt import select_rules
    from lanner.rules import load_rules

    paths = [SHARED / "rules" / "seed"] if seeds else []
    if all_rules:
        paths.insert(0, CORPUS_RULES)
    rules, _ = load_rules(paths)
    return select_rules(rules, building_blocks=all_rules).rules


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


def _backend(engine: str, store: Any) -> Any:
    from lanner.engine.backends.duckdb import DuckDBBackend
    from lanner.engine.backends.spark import SparkBackend, spark_session

    if engine == "duckdb":
        return DuckDBBackend(store)
    return SparkBackend(store, spark_session(engine, {"spark.sql.shuffle.partitions": "4"}))


def worker(engine: str, events: int, all_rules: bool, runs: int) -> dict:
    """Hunt `runs` times on one engine ("duckdb" or a Spark master); timings and alert ids."""
    from bench.generate import corpus
    from lanner.detection.hunt import hunt
    from lanner.detection.run import Detector
    from lanner.store import EventStore

    rules = _rules(all_rules)
    store = EventStore()
    store.ingest_files([corpus(events).path])
    backend = _backend(engine, store)
    seconds, alerts = [], {}
    for _ in range(runs):
        clock = time.perf_counter()
        reports = hunt(Detector(backend), rules, started_at=STARTED)
        seconds.append(time.perf_counter() - clock)
        alerts = alert_ids(reports)
    return {"engine": engine, "seconds": seconds, "rules": len(rules), "alerts": alerts}


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
    done = subprocess.run(command, cwd=ROOT, check=True, capture_output=True, text=True)
    return json.loads(done.stdout.splitlines()[-1])


def write_section(title: str, lines: list[str]) -> None:
    """Replace (or add) the `## title` section of the results file, keeping the others."""
    text = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else "# Spark backend\n"
    head, *sections = text.split("\n## ")
    kept = [section for section in sections if not section.startswith(title + "\n")]
    body = "\n".join([title, "", *lines]).rstrip("\n") + "\n"
    RESULTS.write_text("\n## ".join([head.rstrip("\n") + "\n", *kept, body]), encoding="utf-8")


def _scaling(options: argparse.Namespace) -> int:
    results = [_run_worker(engine, options) for engine in ("duckdb", "local[1]", "local[2]")]
    reference = results[0]["alerts"]
    alerts = sum(len(ids) for ids in reference.values())
    lines = [
        f"Hunt of the benchmark corpus ({options.events:,} events, "
        f"{results[0]['rules']} rules, {alerts} alerts), median of {options.runs} runs, "
        "`python -m bench.spark" + (" --all-rules" if options.all_rules else "") + "`.",
        "",
        "| engine | median (s) | runs (s) | alert ids as DuckDB |",
        "|---|---:|---:|---|",
    ]
    identical = True
    for result in results:
        same = result["alerts"] == reference
        identical &= same
        runs = ", ".join(f"{s:.1f}" for s in result["seconds"])
        lines.append(f"| {result['engine']} | {statistics.median(result['seconds']):.1f} "
                     f"| {runs} | {'identical' if same else 'DIFFERENT'} |")
    write_section(SCALING, lines)
    print("\n".join(lines))
    return 0 if identical else 1


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
                        help="corpus size (default 20,000; 2,000 with --compare)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--all-rules", action="store_true")
    parser.add_argument("--compare", action="store_true",
                        help="all corpus rules on DuckDB and Spark, alert ids compared")
    parser.add_argument("--threads", type=int, default=4,
                        help="driver threads hunting rules at once on Spark (--compare)")
    parser.add_argument("--master", default="local[2]", help="Spark master (--compare)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    options = parser.parse_args(argv)
    if options.events is None:
        options.events = 2_000 if options.compare else 20_000
    if options.worker:
        if options.compare:
            result = compare_worker(options.worker, options.events, options.threads)
        else:
            result = worker(options.worker, options.events, options.all_rules, options.runs)
        print(json.dumps(result))
        return 0
    return _comparison(options) if options.compare else _scaling(options)


if __name__ == "__main__":
    raise SystemExit(main())
