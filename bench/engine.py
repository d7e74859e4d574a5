"""Benchmark Lanner's ingest and the seed rules' EQL queries on a generated endpoint corpus.

    .venv/bin/python -m bench.engine [--events 1000000] [--runs 3] [--seed 0] [--shared ../shared]

The corpus comes from bench/generate.py (made once into bench/data/, then reused): realistic
Elastic Defend and Sysmon documents with the events that make each seed rule fire planted in
known places. In one run this measures

* floor A: DuckDB alone reading the same NDJSON into a table
  (`CREATE TEMP TABLE t AS SELECT * FROM read_ndjson_auto(path)`): every record is parsed and
  stored as typed nested columns, so projection pushdown cannot skip the work;
* floor B: orjson parsing every line, on every core (one process per core, over byte ranges);
* Lanner ingest: `lanner.connect()` then `es.ingest_file(path)` into an in-memory store;
* each seed rule's query (both versions: shared/rules/seed and shared/rules/seed-docs) through
  `es.eql.search(index=<the rule's patterns>, query=..., size=10000)`, with its hits checked
  against the corpus manifest (PASS/FAIL);

and the ratios ingest / floor A, ingest / floor B and (ingest + the five seed/ queries) /
floor A. The file is read once beforehand, so every measurement starts from the page cache.
Each figure is the median of `--runs` runs; floor B and the queries get one untimed warm-up
first (floor A and ingest are too long for one). Results go to stdout and to
bench/results/engine.md.
"""

from __future__ import annotations

import argparse
import datetime
import itertools
import multiprocessing
import os
import platform
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb
import orjson

import lanner
from bench import generate
from bench.parse import Runs, command_line, cpu_model, time_runs
from lanner.engine.client import Lanner
from lanner.rules import Rule, load_rule_file
from lanner.store import IngestReport

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "engine.md"
# Hits per query: Elasticsearch's default index.max_result_window, far above what is planted.
QUERY_SIZE = 10_000
# Byte ranges per core for floor B, so that cores finish together.
RANGES_PER_CORE = 8


@dataclass(frozen=True, slots=True)
class Timing(Runs):
    """Timed runs of one measurement over the whole corpus."""

    label: str
    times: list[float]



@dataclass(frozen=True, slots=True)
class QueryResult:
    """One rule's query: its timings and whether its hits are exactly the planted ones."""

    rule: Rule
    version: str  # "seed" or "seed-docs": which folder the rule file came from
    timing: Timing
    hits: int
    planted: int
    matches: bool

    @property
    def verdict(self) -> str:
        return "PASS" if self.matches else "FAIL"


def read_through(path: Path) -> None:
    """Read the file once, so that no measurement pays for the disk."""
    with open(path, "rb") as file:
        while file.read(1 << 24):
            pass


def floor_duckdb(path: Path, runs: int) -> tuple[Timing, int]:
    """Floor A: DuckDB parsing every record into a table of its own (auto-detected) types."""
    rows = 0

    def load() -> None:
        nonlocal rows
        con = duckdb.connect()
        con.execute("CREATE TEMP TABLE t AS SELECT * FROM read_ndjson_auto(?)", [str(path)])
        rows = con.execute("SELECT count(*) FROM t").fetchone()[0]
        con.close()

    times = time_runs(load, runs, warm_up=False)
    return Timing("floor A: DuckDB read_ndjson_auto into a table", times), rows


def parse_range(task: tuple[str, int, int]) -> int:
    """Floor B's worker: orjson.loads every line of one byte range; returns the lines."""
    path, start, end = task
    with open(path, "rb") as file:
        file.seek(start)
        data = file.read(end - start)
    loads = orjson.loads
    count = 0
    for line in data.splitlines():
        if line:
            loads(line)
            count += 1
    return count


def byte_ranges(path: Path, parts: int) -> list[tuple[str, int, int]]:
    """About `parts` ranges of the file, each starting and ending at a line boundary."""
    size = path.stat().st_size
    bounds = [0]
    with open(path, "rb") as file:
        for part in range(1, parts):
            file.seek(size * part // parts)
            file.readline()
            bounds.append(min(file.tell(), size))
    bounds.append(size)
    return [(str(path), start, end) for start, end in itertools.pairwise(bounds) if end > start]


def floor_orjson(path: Path, runs: int) -> tuple[Timing, int, int]:
    """Floor B: every line through orjson.loads, one process per core (the pool is started
    before timing)."""
    cores = os.cpu_count() or 1
    ranges = byte_ranges(path, cores * RANGES_PER_CORE)
    lines = 0
    with multiprocessing.Pool(cores) as pool:

        def parse_all() -> None:
            nonlocal lines
            lines = sum(pool.map(parse_range, ranges, chunksize=1))

        times = time_runs(parse_all, runs, warm_up=True)
    return Timing(f"floor B: orjson.loads every line, {cores} processes", times), lines, cores


def lanner_ingest(path: Path, runs: int) -> tuple[Timing, Lanner, IngestReport]:
    """Lanner's ingest into a fresh in-memory store per run; the last store is kept for the
    queries."""
    times = []
    client: Lanner | None = None
    report = IngestReport()
    for _ in range(runs):
        if client is not None:
            client.close()
        client = lanner.connect()
        started = time.perf_counter()
        report = client.ingest_file(path)
        times.append(time.perf_counter() - started)
    assert client is not None
    return Timing("Lanner ingest: connect().ingest_file(path)", times), client, report


def load_seed_rules(shared: Path) -> list[tuple[str, Rule]]:
    """The seed rules as they stand upstream (seed/) and as the seed pages give them
    (seed-docs/), in that order."""
    rules = []
    for version in ("seed", "seed-docs"):
        for path in sorted((shared / "rules" / version).glob("*.toml")):
            rules.append((version, load_rule_file(path)))
    return rules


def run_queries(client: Lanner, rules: list[tuple[str, Rule]],
                corpus: generate.GeneratedCorpus, runs: int) -> list[QueryResult]:
    results = []
    for version, rule in rules:
        response: dict[str, object] = {}

        def search(rule: Rule = rule) -> None:
            nonlocal response
            response = client.eql.search(index=list(rule.index), query=rule.query,
                                         size=QUERY_SIZE)

        times = time_runs(search, runs, warm_up=True)
        found = generate.response_hits(response)
        planted = corpus.planted_hits(rule.rule_id)
        results.append(QueryResult(rule, version, Timing(rule.name, times), len(found),
                                   len(planted), sorted(found) == sorted(planted)))
    return results


def memory_total() -> str:
    """Installed RAM from /proc/meminfo, which the standard library does not give."""
    try:
        for line in Path("/proc/meminfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    return "unknown"


@dataclass(frozen=True, slots=True)
class Report:
    """Every figure of one benchmark run, formatted once for stdout and once for Markdown."""

    corpus: generate.GeneratedCorpus
    generated_in: float | None  # seconds, or None when the corpus came from the cache
    runs: int
    floor_a: Timing
    floor_a_rows: int
    floor_b: Timing
    floor_b_lines: int
    cores: int
    ingest: Timing
    ingest_report: IngestReport
    queries: list[QueryResult]

    @property
    def events(self) -> int:
        return self.corpus.events

    @property
    def megabytes(self) -> float:
        return self.corpus.path.stat().st_size / 1e6

    @property
    def seed_queries(self) -> list[QueryResult]:
        return [query for query in self.queries if query.version == "seed"]

    def ratios(self) -> list[tuple[str, float]]:
        """Times over the floors: how many times longer Lanner takes."""
        total = self.ingest.median + sum(q.timing.median for q in self.seed_queries)
        return [
            ("ingest / floor A", self.ingest.median / self.floor_a.median),
            ("ingest / floor B", self.ingest.median / self.floor_b.median),
            (f"total (ingest + {len(self.seed_queries)} seed/ queries) / floor A",
             total / self.floor_a.median),
        ]

    def checks(self) -> list[str]:
        """Anything that makes the figures doubtful: wrong counts, bad lines, failed hits."""
        problems = []
        report = self.ingest_report
        if report.events != self.events:
            problems.append(f"Lanner stored {report.events:,} of {self.events:,} events")
        if report.bad_lines or report.coercion_failures:
            problems.append(f"Lanner ingest: {len(report.bad_lines)} bad lines, "
                            f"{report.coercion_failures} values stored as null")
        if self.floor_a_rows != self.events:
            problems.append(f"floor A read {self.floor_a_rows:,} rows")
        if self.floor_b_lines != self.events:
            problems.append(f"floor B parsed {self.floor_b_lines:,} lines")
        problems += [f"{q.verdict}: {q.version} {q.rule.name}: {q.hits} hits, {q.planted} planted"
                     for q in self.queries if not q.matches]
        return problems

    def rate(self, timing: Timing) -> str:
        return (f"{self.events / timing.median:,.0f} events/s, "
                f"{self.megabytes / timing.median:,.0f} MB/s")

    def text(self) -> str:
        lines = [f"corpus: {self.corpus.path} ({self.events:,} events, {self.megabytes:,.0f} MB)"]
        width = max(len(t.label) for t in (self.floor_a, self.floor_b, self.ingest))
        for timing in (self.floor_a, self.floor_b, self.ingest):
            lines.append(f"{timing.label:<{width}}  median {timing.median:7.2f} s  "
                         f"min {timing.best:7.2f} s  {self.rate(timing)}")
        lines.append("")
        name_width = max(len(q.rule.name) for q in self.queries) + 12
        for query in self.queries:
            label = f"{query.version}: {query.rule.name}"
            lines.append(f"{label:<{name_width}}  median {query.timing.median * 1e3:8.1f} ms  "
                         f"hits {query.hits:>3}/{query.planted:<3} {query.verdict}")
        lines.append("")
        lines += [f"{name}: {ratio:.2f}x" for name, ratio in self.ratios()]
        lines += self.checks() or ["all checks passed"]
        return "\n".join(lines)

    def markdown(self) -> str:
        manifest = self.corpus.manifest
        generated = (f"generated in {self.generated_in:.1f} s" if self.generated_in is not None
                     else "from the cache in bench/data/")
        lines = [
            "## Engine: Lanner ingest and the seed rules against DuckDB and orjson floors",
            "",
            f"- machine: {platform.platform()}, {cpu_model()}, {os.cpu_count()} cores, "
            f"{memory_total()} RAM",
            f"- Python {platform.python_version()}, DuckDB {duckdb.__version__}, "
            f"orjson {orjson.__version__}, lanner {lanner.__version__}",
            f"- date: {datetime.datetime.now().astimezone().isoformat(timespec='minutes')}",
            f"- command: `{command_line()}`",
            f"- corpus: `{os.path.relpath(self.corpus.path, ROOT)}`, {self.events:,} events, "
            f"{self.megabytes:,.0f} MB of NDJSON ({self.megabytes * 1e6 / self.events:,.0f} "
            f"bytes/event), seed {manifest['seed']}, {manifest['duration']} from "
            f"{manifest['start']}; {generated}",
            "- indices: " + ", ".join(f"`{name}` {count:,}"
                                      for name, count in manifest["indices"].items()),
            f"- {self.runs} timed runs per measurement (median shown); the file is read once "
            "beforehand; floor B and each query get one untimed warm-up",
            "",
            "| measurement | median s | min s | events/s | MB/s |",
            "|---|---:|---:|---:|---:|",
        ]
        for timing in (self.floor_a, self.floor_b, self.ingest):
            lines.append(f"| {timing.label} | {timing.median:.2f} | {timing.best:.2f} | "
                         f"{self.events / timing.median:,.0f} | "
                         f"{self.megabytes / timing.median:,.0f} |")
        lines += [
            "",
            "Floor A is `CREATE TEMP TABLE t AS SELECT * FROM read_ndjson_auto(path)` in a fresh "
            "in-memory DuckDB: every record parsed into typed (nested) columns. Floor B is "
            f"`orjson.loads` on every line in {self.cores} processes over byte ranges of the "
            "file. Lanner's ingest flattens every document into one typed column per field, "
            "keeps `_source`, and stores it all in DuckDB.",
            "",
            f"Queries: `es.eql.search(index=<rule index patterns>, query=<rule query>, "
            f"size={QUERY_SIZE})` over the store of the last ingest run; hits are compared with "
            "the events planted for the rule (event.ids; each sequence's in order).",
            "",
            "| version | rule | median ms | min ms | hits | planted | check |",
            "|---|---|---:|---:|---:|---:|---|",
        ]
        for query in self.queries:
            lines.append(f"| {query.version} | {query.rule.name} | "
                         f"{query.timing.median * 1e3:.1f} | {query.timing.best * 1e3:.1f} | "
                         f"{query.hits} | {query.planted} | {query.verdict} |")
        lines.append("")
        lines += [f"- {name}: **{ratio:.2f}x**" for name, ratio in self.ratios()]
        lines += [f"- {problem}" for problem in self.checks()] or ["- all checks passed"]
        lines.append("")
        return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=generate.DEFAULT_EVENTS,
                        help="corpus size (default: 1,000,000)")
    parser.add_argument("--runs", type=int, default=3, help="timed runs per measurement")
    parser.add_argument("--seed", type=int, default=generate.DEFAULT_SEED)
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared",
                        help="the shared/ folder beside the project (default: ../shared)")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    rules = load_seed_rules(args.shared)

    started = time.perf_counter()
    path = generate.default_path(args.events, args.seed)
    corpus = generate.cached(path, args.events, args.seed, generate.DEFAULT_DURATION)
    generated_in = None
    if corpus is None:
        print(f"generating {path.relative_to(ROOT)} ...", file=sys.stderr)
        corpus = generate.generate(path, args.events, args.seed)
        generated_in = time.perf_counter() - started
    read_through(corpus.path)

    print("floor A ...", file=sys.stderr)
    floor_a, floor_a_rows = floor_duckdb(corpus.path, args.runs)
    print("floor B ...", file=sys.stderr)
    floor_b, floor_b_lines, cores = floor_orjson(corpus.path, args.runs)
    print("Lanner ingest ...", file=sys.stderr)
    ingest, client, ingest_report = lanner_ingest(corpus.path, args.runs)
    print("queries ...", file=sys.stderr)
    queries = run_queries(client, rules, corpus, args.runs)
    client.close()

    report = Report(corpus, generated_in, args.runs, floor_a, floor_a_rows, floor_b,
                    floor_b_lines, cores, ingest, ingest_report, queries)
    print(report.text())
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(report.markdown(), encoding="utf-8")
    print(f"\nwritten to {RESULTS.relative_to(ROOT)}")
    return 1 if report.checks() else 0


if __name__ == "__main__":
    sys.exit(main())
