"""Spark backend benchmark: one hunt of the benchmark corpus on local[1] and on local[2].

    .venv/bin/python -m bench.spark                       # seed rules, 20,000 events
    .venv/bin/python -m bench.spark --all-rules           # all 1,024 active rules (long)

Each engine runs in its own process (a process holds one SparkContext, fixed to its master);
each hunt is timed `--runs` times and the median kept. The alert ids of every engine are
compared with DuckDB's: the benchmark fails if they differ. Writes bench/results/spark.md.
"""

from __future__ import annotations

import argparse
import datetime
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
RESULTS = ROOT / "bench" / "results" / "spark.md"
STARTED = datetime.datetime(2030, 1, 1, tzinfo=datetime.UTC)


def _rules(all_rules: bool) -> list:
    from lanner.detection.hunt import select_rules
    from lanner.rules import load_rules

    paths = [SHARED / "rules" / "seed"]
    if all_rules:
        paths.insert(0, SHARED / "corpus" / "detection-rules-eql")
    rules, _ = load_rules(paths)
    return select_rules(rules, building_blocks=all_rules).rules


def worker(engine: str, events: int, all_rules: bool, runs: int) -> dict:
    """Hunt `runs` times on one engine ("duckdb" or a Spark master); timings and alert ids."""
    from bench.generate import corpus
    from lanner.detection.hunt import hunt
    from lanner.detection.run import Detector
    from lanner.engine.backends.duckdb import DuckDBBackend
    from lanner.engine.backends.spark import SparkBackend, spark_session
    from lanner.store import EventStore

    rules = _rules(all_rules)
    store = EventStore()
    store.ingest_files([corpus(events).path])
    if engine == "duckdb":
        backend = DuckDBBackend(store)
    else:
        session = spark_session(engine, {"spark.sql.shuffle.partitions": "4"})
        backend = SparkBackend(store, session)
    seconds, alerts = [], {}
    for _ in range(runs):
        clock = time.perf_counter()
        reports = hunt(Detector(backend), rules, started_at=STARTED)
        seconds.append(time.perf_counter() - clock)
        alerts = {report.rule.rule_id: sorted(a["kibana.alert.uuid"] for a in report.alerts)
                  for report in reports}
    return {"engine": engine, "seconds": seconds, "rules": len(rules), "alerts": alerts}


def _run_worker(engine: str, options: argparse.Namespace) -> dict:
    command = [sys.executable, "-m", "bench.spark", "--worker", engine, "--events",
               str(options.events), "--runs", str(options.runs)]
    if options.all_rules:
        command.append("--all-rules")
    done = subprocess.run(command, cwd=ROOT, check=True, capture_output=True, text=True)
    return json.loads(done.stdout.splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--all-rules", action="store_true")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    options = parser.parse_args(argv)
    if options.worker:
        print(json.dumps(worker(options.worker, options.events, options.all_rules,
                                options.runs)))
        return 0
    results = [_run_worker(engine, options) for engine in ("duckdb", "local[1]", "local[2]")]
    reference = results[0]["alerts"]
    alerts = sum(len(ids) for ids in reference.values())
    lines = [
        "# Spark backend: local[1] versus local[2]",
        "",
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
    RESULTS.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))
    return 0 if identical else 1


if __name__ == "__main__":
    raise SystemExit(main())
