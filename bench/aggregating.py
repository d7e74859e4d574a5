"""Benchmark threshold and new_terms hunts against a query rule's hunt over the same events.

    .venv/bin/python -m bench.aggregating [--events 100000] [--runs 3] [--seed 0]

A generated endpoint corpus (bench/generate.py) is ingested once into an in-memory store. Then,
per measurement, the median of `--runs` hunts (after one untimed warm-up):

* floor: a custom query rule with the same KQL filter (one event search, every match an alert);
* threshold: 1 field, 3 fields with a cardinality, no field (the hunt replays the schedule:
  per-window buckets in one GROUP BY, then the buckets a window's history recounts);
* new_terms: 1 field and 3 fields (each event whose combination was not seen within 7 days).

Each line prints the median, the alerts, and the ratio to the floor. Results go to stdout.
"""

from __future__ import annotations

import statistics

from bench.hunts import corpus_detector, parse_options
from bench.parse import time_runs
from lanner.rules import Rule
from lanner.rules.model import Threshold, ThresholdCardinality

QUERY = "event.category:process"
BASE = Rule(name="floor", rule_id="bench-floor", type="query", language="kuery", query=QUERY,
            index=("logs-*",), from_="now-9m", interval="5m")
RULES = {
    "threshold, host.name": Rule(
        name="t1", rule_id="bench-t1", type="threshold", language="kuery", query=QUERY,
        index=("logs-*",), from_="now-9m", interval="5m",
        threshold=Threshold(("host.name",), 3)),
    "threshold, 3 fields + cardinality": Rule(
        name="t3", rule_id="bench-t3", type="threshold", language="kuery", query=QUERY,
        index=("logs-*",), from_="now-9m", interval="5m",
        threshold=Threshold(("host.name", "user.name", "process.parent.name"), 2,
                            (ThresholdCardinality("process.name", 2),))),
    "threshold, no field": Rule(
        name="t0", rule_id="bench-t0", type="threshold", language="kuery", query=QUERY,
        index=("logs-*",), from_="now-9m", interval="5m", threshold=Threshold((), 5)),
    "new_terms, process.name": Rule(
        name="n1", rule_id="bench-n1", type="new_terms", language="kuery", query=QUERY,
        index=("logs-*",), from_="now-9m", interval="5m",
        new_terms_fields=("process.name",), history_window_start="now-7d"),
    "new_terms, 3 fields": Rule(
        name="n3", rule_id="bench-n3", type="new_terms", language="kuery", query=QUERY,
        index=("logs-*",), from_="now-9m", interval="5m",
        new_terms_fields=("host.name", "user.name", "process.name"),
        history_window_start="now-7d"),
}


def main() -> None:
    options = parse_options(__doc__)
    with corpus_detector(options) as detector:
        alerts: dict[str, int] = {}

        def hunt(rule: Rule) -> None:
            report = detector.hunt(rule)
            if report.error:
                raise SystemExit(f"{rule.name}: {report.error}")
            alerts[rule.name] = len(report.alerts)

        floor = statistics.median(time_runs(lambda: hunt(BASE), options.runs))
        print(f"{'floor: query rule, same filter':40} {floor:8.3f} s  "
              f"{alerts[BASE.name]:7} alerts   1.00x")
        for label, rule in RULES.items():
            took = statistics.median(time_runs(lambda rule=rule: hunt(rule), options.runs))
            print(f"{label:40} {took:8.3f} s  {alerts[rule.name]:7} alerts  "
                  f"{took / floor:5.2f}x")


if __name__ == "__main__":
    main()
