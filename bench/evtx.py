"""EVTX throughput: records per second of the `evtx` parser alone (records as JSON, parsed)
against Lanner's reader, which also maps each record to ECS, over the shared EVTX folder.

Run: .venv/bin/python -m bench.evtx  (as a module: run as a script, this file would shadow
the `evtx` package it measures). Median of 3 runs; writes bench/results/evtx.md.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from pathlib import Path

import orjson
from evtx import PyEvtxParser

from lanner.store import find_event_files
from lanner.store.evtx import read_evtx

FOLDER = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "real" / "evtx"
RESULTS = Path(__file__).resolve().parent / "results" / "evtx.md"
RUNS = 3


def parser_alone(files: list[Path]) -> int:
    """Records the parser yields, each decoded from JSON (what the reader starts from)."""
    count = 0
    for path in files:
        for record in PyEvtxParser(str(path)).records_json():
            orjson.loads(record["data"])
            count += 1
    return count


def lanner_reader(files: list[Path]) -> int:
    """Documents Lanner's reader yields: parse, Winlogbeat document, channel pipeline."""
    return sum(1 for path in files for _ in read_evtx(path))


def median_rate(run: Callable[[list[Path]], int], files: list[Path]) -> tuple[int, float]:
    timings = []
    count = 0
    for _ in range(RUNS):
        started = time.perf_counter()
        count = run(files)
        timings.append(time.perf_counter() - started)
    return count, count / statistics.median(timings)


def main() -> None:
    files = find_event_files([FOLDER])
    size = sum(path.stat().st_size for path in files) / 1e6
    rows = [(name, *median_rate(run, files))
            for name, run in (("evtx parser alone", parser_alone),
                              ("Lanner reader + ECS mapping", lanner_reader))]  # fmt: skip
    lines = [f"EVTX throughput over {len(files)} files ({size:.0f} MB), median of {RUNS} runs",
             "", "| reader | records | records/s |", "|---|---:|---:|"]  # fmt: skip
    lines += [f"| {name} | {count:,} | {rate:,.0f} |" for name, count, rate in rows]
    lines.append(f"\nMapping keeps {rows[1][2] / rows[0][2]:.0%} of the parser's rate.")
    table = "\n".join(lines)
    print(table)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(table + "\n")


if __name__ == "__main__":
    main()
