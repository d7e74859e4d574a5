"""KQL of the rule corpus, from text to SQL that ran: what a scheduled KQL rule pays per run.

    .venv/bin/python -m bench.kql [--runs 5] [--corpus ../shared/corpus/detection-rules-other]

For the active kuery queries of the corpus (query, new_terms, threshold and threat_match rules,
and the threat queries), times in one process, median of --runs, each step over all queries:
parsing (the baseline), KQL -> Query DSL, KQL -> SQL (`kql_condition`, DSL included) on a store
typed by the ECS schema, and running each query's SQL on DuckDB over one event. Prints the
medians, per query and in all, and each step's ratio to parsing.
"""

from __future__ import annotations

import argparse
import csv
import statistics
import time
import tomllib
from collections.abc import Callable
from pathlib import Path

import lanner
from lanner import kql
from lanner.engine.backends.duckdb import SearchScope
from lanner.engine.querydsl import field_types, kql_condition

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT.parent / "shared" / "corpus" / "detection-rules-other"


def active_kql(corpus: Path) -> list[tuple[str, str, str]]:
    """(where, rule type, query) of every active kuery query of the corpus, threat queries
    included (tests/engine/test_kql_corpus.py checks the same set)."""
    found = []
    with open(corpus / "INDEX.tsv", newline="") as index:
        for row in csv.DictReader(index, delimiter="\t"):
            if row["maturity"] != "production":
                continue
            with open(corpus / row["path"], "rb") as file:
                rule = tomllib.load(file).get("rule", {})
            if rule.get("language") == "kuery":
                found.append((row["path"], row["type"], rule["query"]))
            if rule.get("threat_language") == "kuery" and "threat_query" in rule:
                found.append((row["path"] + "#threat_query", "threat_query", rule["threat_query"]))
    return found


def median_seconds(step: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    args = parser.parse_args()
    queries = [query for _, _, query in active_kql(args.corpus)]
    client = lanner.connect()
    client.bulk(operations=[{"index": {"_index": "logs-endpoint"}},
                            {"@timestamp": "2025-01-01T00:00:00Z",
                             "event": {"category": "process"}}])
    backend = client.backend
    scope = SearchScope(backend.indices("logs-endpoint"))
    compiler = backend.compiler(scope)
    types = field_types(compiler)
    sqls = [kql_condition(query, compiler) for query in queries]
    steps = {
        "parse (baseline)": lambda: [kql.parse(query) for query in queries],
        "KQL -> DSL": lambda: [kql.to_query_dsl(query, types) for query in queries],
        "KQL -> SQL": lambda: [kql_condition(query, compiler) for query in queries],
        "run SQL (DuckDB)": lambda: [backend.count(sql, scope) for sql in sqls],
    }
    print(f"{len(queries)} KQL queries, median of {args.runs} runs")
    baseline = None
    for name, step in steps.items():
        took = median_seconds(step, args.runs)
        baseline = baseline or took
        print(f"  {name:18} {took * 1000:9.1f} ms in all  {took / len(queries) * 1e6:9.0f} µs "
              f"per query  {took / baseline:7.1f}x")
    client.close()


if __name__ == "__main__":
    main()
