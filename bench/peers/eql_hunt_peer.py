"""Time the `eql` package's Python engine running detection rules over a sample of events.

`eql` is AGPL-licensed, so it never enters Lanner's code or venv: this script runs only in
bench/.venv-eql, started by bench/run.py as

    python eql_hunt_peer.py RULES.json EVENTS.ndjson --runs 3

RULES.json holds a JSON list of {"id", "query"} objects; EVENTS.ndjson the sample, one ECS
document a line. Queries are parsed as Elastic's detection-rules repo parses them (see
eql_peer.py). A rule eql cannot parse, load into its engine, or run alone over the sample is
recorded with the stage that failed and left out of the timed runs; the others are loaded
into one engine, as eql is meant to be used, and the sample streamed through it `--runs`
times. Documents become eql events (type = the first `event.category`, time = `@timestamp` in
milliseconds) before any timing, so only the engine is timed. Prints one JSON object: eql's
version, the seconds of each run, how many events and rules were timed, the failures, and the
results each rule produced in the last run.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from datetime import datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

import eql
from eql.events import Event

# What detection-rules turns on for current stacks; see eql_peer.py for why.
STACK_FEATURES = eql.parser.ParserConfig(allow_negation=True, allow_runs=True, allow_sample=True)
# Engine time ticks per second: the events carry epoch milliseconds.
MILLISECONDS = 1000


def to_event(document: dict[str, Any]) -> Event:
    """An eql event from an ECS document: eql dispatches on one type, ECS has a category
    array (one member in every document the generator writes)."""
    categories = document.get("event", {}).get("category") or ["any"]
    category = categories[0] if isinstance(categories, list) else categories
    stamp = datetime.fromisoformat(document["@timestamp"])
    return Event(category, int(stamp.timestamp() * MILLISECONDS), document)


def parse_rule(rule: dict[str, str]) -> eql.ast.EqlAnalytic:
    with eql.parser.elasticsearch_syntax, eql.parser.ignore_missing_functions, STACK_FEATURES:
        return eql.ast.EqlAnalytic(eql.parse_query(rule["query"]), {"id": rule["id"]})


def new_engine(results: Counter[str]) -> eql.PythonEngine:
    engine = eql.PythonEngine({"time_unit": MILLISECONDS})
    engine.add_output_hook(lambda output: results.update([output.analytic_id]))
    return engine


def first_line(error: Exception) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''}"


def runnable(rules: list[dict[str, str]], events: list[Event]
             ) -> tuple[list[eql.ast.EqlAnalytic], list[dict[str, str]]]:
    """The rules that parse, load and run alone over the sample, and a failure for each other
    (untimed: eql raises some errors only when an event reaches the failing expression)."""
    analytics, failures = [], []
    for rule in rules:
        stage = "parse"
        try:
            analytic = parse_rule(rule)
            stage = "load"
            engine = new_engine(Counter())
            engine.add_analytic(analytic)
            stage = "run"
            engine.stream_events(events)
        except Exception as error:  # eql raises many kinds; any of them excludes the rule
            failures.append({"id": rule["id"], "stage": stage, "error": first_line(error)})
        else:
            analytics.append(analytic)
    return analytics, failures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rules", type=Path, help="JSON list of {id, query}")
    parser.add_argument("events", type=Path, help="NDJSON sample of ECS documents")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)

    rules: list[dict[str, str]] = json.loads(args.rules.read_text(encoding="utf-8"))
    with open(args.events, encoding="utf-8") as file:
        events = [to_event(json.loads(line)) for line in file if line.strip()]
    analytics, failures = runnable(rules, events)

    times: list[float] = []
    results: Counter[str] = Counter()
    for _ in range(args.runs):
        results.clear()
        engine = new_engine(results)
        engine.add_analytics(analytics)
        start = time.perf_counter()
        engine.stream_events(events)
        times.append(time.perf_counter() - start)

    json.dump({"version": version("eql"), "times_s": times, "events": len(events),
               "rules_timed": len(analytics), "failures": failures, "results": results},
              sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
