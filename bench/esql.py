"""Benchmark ES|QL rule hunts against a query rule's hunt over the same events.

    .venv/bin/python -m bench.esql [--events 100000] [--runs 3] [--seed 0]

A generated endpoint corpus (bench/generate.py) is ingested once into an in-memory store. Then,
per measurement, the median of `--runs` hunts (after one untimed warm-up):

* floor: a custom query rule, `event.category:process` (one event search, every match an alert);
* ES|QL event rows: the same filter as a non-aggregating query (each row its source event);
* ES|QL STATS: the same filter grouped by host with COUNT, COUNT_DISTINCT and VALUES;
* every runnable active corpus ES|QL rule outside building blocks (199) as one round, and
  its time per rule.

Each line prints the median, the alerts, and the ratio to the floor. Results go to stdout.
"""

from __future__ import annotations

import statistics
from pathlib import Path

from bench.hunts import corpus_detector, parse_options
from bench.parse import time_runs
from lanner import esql
from lanner.rules import Rule, load_rules

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "detection-rules-other"
FLOOR = Rule(name="floor", rule_id="bench-floor", type="query", language="kuery",
             query="event.category:process", index=("logs-*",))
RULES = {
    "ES|QL event rows, same filter": Rule(
        name="rows", rule_id="bench-esql-rows", type="esql", language="esql",
        query='FROM logs-* METADATA _id, _index, _version | WHERE event.category == "process" '
              "| KEEP _id, _index, _version"),
    "ES|QL STATS by host": Rule(
        name="stats", rule_id="bench-esql-stats", type="esql", language="esql",
        query='FROM logs-* | WHERE event.category == "process" | STATS Esql.n = COUNT(*), '
              "Esql.users = COUNT_DISTINCT(user.name), Esql.names = VALUES(process.name) "
              "BY host.name"),
}


def corpus_rules() -> list[Rule]:
    rules, _ = load_rules([CORPUS / "rules"])
    return [rule for rule in rules if rule.type == "esql" and "_deprecated" not in (
        rule.path or "") and not esql.not_runnable(esql.parse(rule.query))]


def main() -> None:
    options = parse_options(__doc__)
    with corpus_detector(options) as detector:
        alerts: dict[str, int] = {}

        def hunt(rules: list[Rule], label: str) -> None:
            reports = detector.hunt_many(rules)
            failed = [f"{r.rule.name}: {r.error}" for r in reports if r.error]
            if failed:
                raise SystemExit("\n".join(failed))
            alerts[label] = sum(len(r.alerts) for r in reports)

        floor = statistics.median(time_runs(lambda: hunt([FLOOR], "floor"), options.runs))
        print(f"{'floor: query rule, same filter':36} {floor:8.3f} s  {alerts['floor']:7} "
              "alerts   1.00x")
        for label, rule in RULES.items():
            took = statistics.median(time_runs(lambda r=rule, n=label: hunt([r], n),
                                               options.runs))
            print(f"{label:36} {took:8.3f} s  {alerts[label]:7} alerts  {took / floor:5.2f}x")
        every = corpus_rules()
        took = statistics.median(time_runs(lambda: hunt(every, "corpus"), options.runs))
        print(f"{f'{len(every)} corpus ES|QL rules, one round':36} {took:8.3f} s  "
              f"{alerts['corpus']:7} alerts  {took / floor:5.2f}x  "
              f"({took / len(every) * 1000:.1f} ms a rule)")


if __name__ == "__main__":
    main()
