"""Time the `eql` package parsing EQL queries the way Elastic's detection-rules repo does.

`eql` is AGPL-licensed, so it never enters Lanner's code or venv: this script runs only in
bench/.venv-eql, started by bench/parse.py as

    python eql_peer.py QUERIES.json --runs 7

QUERIES.json holds a JSON list of query strings. One untimed pass finds the queries eql
rejects (and warms it up); the timed runs then parse only the others. Prints one JSON object:
eql's version, the seconds of each run, how many queries were timed, and the failures.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from importlib.metadata import version
from pathlib import Path

import eql

# detection-rules wraps every parse in `elasticsearch_syntax` and `ignore_missing_functions`,
# plus set_eql_config(): for current stack versions it turns on the features Elasticsearch
# gained since eql's defaults were set (`!` negation, sequence `[runs=N]`, `sample`). It also
# sets `elasticsearch_validate_optional_fields`, a key eql's parser never reads, so it is left
# out here. Without these three, eql rejects the rules that use them.
STACK_FEATURES = eql.parser.ParserConfig(allow_negation=True, allow_runs=True, allow_sample=True)


def parse_all(queries: list[str]) -> None:
    """Parse every query under detection-rules' parser configuration."""
    with eql.parser.elasticsearch_syntax, eql.parser.ignore_missing_functions, STACK_FEATURES:
        for query in queries:
            eql.parse_query(query)


def describe(error: eql.EqlError) -> str:
    """One line for a rejection: the place and message, without the multi-line caret view."""
    if isinstance(error, eql.EqlParseError):
        where = f"line {error.line + 1}, column {error.column + 1}"
        return f"{type(error).__name__} at {where}: {error.error_msg}"
    return f"{type(error).__name__}: {error}"


def find_failures(queries: list[str]) -> list[dict[str, object]]:
    """The queries eql rejects, each with its index and the first line of the error."""
    failures: list[dict[str, object]] = []
    with eql.parser.elasticsearch_syntax, eql.parser.ignore_missing_functions, STACK_FEATURES:
        for index, query in enumerate(queries):
            try:
                eql.parse_query(query)
            except eql.EqlError as error:
                failures.append({"index": index, "error": describe(error)})
    return failures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("queries", type=Path, help="JSON file with a list of query strings")
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args(argv)

    queries: list[str] = json.loads(args.queries.read_text(encoding="utf-8"))
    failures = find_failures(queries)
    failed = {failure["index"] for failure in failures}
    parsed = [query for index, query in enumerate(queries) if index not in failed]

    times: list[float] = []
    for _ in range(args.runs):
        start = time.perf_counter()
        parse_all(parsed)
        times.append(time.perf_counter() - start)

    json.dump(
        {"version": version("eql"), "times_s": times, "timed": len(parsed), "failures": failures},
        sys.stdout,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
