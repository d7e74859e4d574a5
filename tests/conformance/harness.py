"""Elasticsearch's EQL QA suite run through Lanner's public client, as its README describes.

../shared/conformance/es-eql/README.md is the contract: §1 says which spec file runs against
which index with which request options, §2 how each index is loaded, §3-§4 how results are
compared. Every case runs with result_position head and tail (the suite picks one at random;
a conforming engine passes both) and a fetch_size from 2 to size (which must change nothing).
The same cases run on every engine (ENGINES), with the same expectations.

    .venv/bin/python -m tests.conformance.harness [spark]   # one line per case, totals per file
"""

from __future__ import annotations

import json
import random
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from lanner.engine.client import Lanner, connect
from lanner.engine.values import java_string
from lanner.errors import LannerError
from lanner.store import load_mapping_file
from tests.conftest import CONFORMANCE, load_spec

DATA = CONFORMANCE / "data"
KNOWN_FAILURES = Path(__file__).with_name("known_failures.txt")
DEFAULT_SIZE = 50
FILETIME_EPOCH_MS = 11_644_473_600_000  # 1601-01-01 to 1970-01-01, in millis
ENGINES = ("duckdb", "spark")


@dataclass(frozen=True)
class Target:
    """One runner of the suite (README §1): the index searched, the ids and the tiebreaker."""

    name: str  # how case ids name a rerun against this target
    index: str
    indices: tuple[str, ...]  # loaded into the target's store
    id_field: str
    tiebreaker: str | None


ENDGAME = Target("endgame-140", "endgame-140", ("endgame-140",), "serial_event_id",
                 "serial_event_id")
NANOS = Target("nanos", "endgame-140-nanos", ("endgame-140-nanos",), "serial_event_id",
               "serial_event_id")
EXTRA = Target("extra", "extra", ("extra",), "sequence", "sequence")
MISSING = Target("missing-events", "missing-events", ("missing-events",), "sequence", "sequence")
SAMPLE = Target("sample", "sample1,sample2,sample3", ("sample1", "sample2", "sample3"), "id",
                None)

# Every index of the suite, for runs with all of them in one store (in either order): each
# search must see its own index's mapping, whatever else the store holds.
ALL_INDICES = tuple(dict.fromkeys(index for target in (ENDGAME, NANOS, EXTRA, MISSING, SAMPLE)
                                  for index in target.indices))
ORDERS = {"own": None, "all": ALL_INDICES, "all-reversed": ALL_INDICES[::-1]}

# spec file -> the targets it runs against; the first one gives the plain case id
RUNS: dict[str, tuple[Target, ...]] = {
    "test_queries.toml": (ENDGAME, NANOS),
    "test_queries_date.toml": (ENDGAME,),
    "test_queries_date_nanos.toml": (NANOS,),
    "test_extra.toml": (EXTRA,),
    "test_missing_events.toml": (MISSING,),
    "test_sample.toml": (SAMPLE,),
}


@dataclass(frozen=True)
class Case:
    file: str
    name: str
    query: str
    expected: tuple  # flat ids, or alternatives (a tuple of tuples)
    join_keys: tuple[str, ...]
    target: Target
    size: int = DEFAULT_SIZE
    max_samples_per_key: int | None = None

    @property
    def id(self) -> str:
        """`file::name`, with the target for a rerun: `test_queries.toml[nanos]::name`."""
        rerun = self.target is not RUNS[self.file][0]
        return f"{self.file}{f'[{self.target.name}]' if rerun else ''}::{self.name}"


@dataclass
class Outcome:
    case: Case
    passed: bool
    problems: list[str] = field(default_factory=list)

    def line(self) -> str:
        status = "PASS" if self.passed else "FAIL"
        detail = "" if self.passed else "  " + "; ".join(self.problems)
        return f"{status} {self.case.id}{detail}"


def cases() -> list[Case]:
    """Every active case of every spec file, once per target it runs against, in file order."""
    found = []
    for spec in sorted(RUNS):
        for query in load_spec(CONFORMANCE / spec):
            expected = query["expected_event_ids"]
            if expected and isinstance(expected[0], list):
                expected_ids: tuple = tuple(tuple(ids) for ids in expected)
            else:
                expected_ids = tuple(expected)
            for target in RUNS[spec]:
                found.append(Case(spec, query["name"], query["query"].strip(), expected_ids,
                                  tuple(query.get("join_keys", ())), target,
                                  query.get("size", DEFAULT_SIZE),
                                  query.get("max_samples_per_key")))
    return found


def known_failures() -> dict[str, str]:
    """`file::name` -> reason, from known_failures.txt (`# …` is the reason or a comment)."""
    known = {}
    for raw in KNOWN_FAILURES.read_text().splitlines():
        entry, _, reason = raw.partition("#")
        if entry.strip():
            known[entry.strip()] = reason.strip()
    return known


# ------------------------------------------------------------------------------------------
# Loading (README §2)


def _documents(index: str) -> list[dict[str, Any]]:
    """An index's documents in file order, with the README's timestamp transforms."""
    source = "endgame-140" if index.startswith("endgame-140") else index
    lines = (DATA / f"{source}.data").read_text().splitlines()
    docs = json.loads("\n".join(line for line in lines if not line.lstrip().startswith("//")))
    if index == "endgame-140":
        for doc in docs:
            doc["@timestamp"] = doc["timestamp"] // 10_000 - FILETIME_EPOCH_MS
    elif index == "endgame-140-nanos":
        for doc in docs:
            ticks = str(doc["timestamp"])
            whole, fraction = ticks[:12], ticks[12:]
            doc["@timestamp"] = whole if fraction == "000000" else f"{whole}.{fraction}"
            doc["timestamp"] //= 1_000_000
    return docs


def client(target: Target, engine: str = "duckdb", order: str = "own") -> Lanner:
    """A store holding the target's own indices, or (`order` of ORDERS) every index of the
    suite in that order, searched by `engine`."""
    return loaded(ORDERS[order] or target.indices, engine)


@cache
def loaded(indices: tuple[str, ...], engine: str = "duckdb") -> Lanner:
    """A store holding these indices, each with its mapping, bulk-loaded in order, searched by
    `engine` (Spark: the running session, or a new one on all local cores)."""
    es = connect(engine=engine)
    for index in indices:
        es.indices.create(index=index, mappings=load_mapping_file(DATA / f"{index}.mapping"))
        operations: list[dict[str, Any]] = []
        for doc in _documents(index):
            operations += [{"index": {"_index": index}}, doc]
        response = es.bulk(operations=operations, refresh=True)
        if response["errors"]:
            raise RuntimeError(f"loading {index} failed: {response['items'][:3]}")
    return es


# ------------------------------------------------------------------------------------------
# Running and comparing (README §3-§4)


def run(case: Case, engine: str = "duckdb", order: str = "own") -> Outcome:
    """The case with result_position head and tail; it passes only if both do. `order`: the
    store holds the target's own indices, or all of them (ORDERS)."""
    outcome = Outcome(case, True)
    rng = random.Random(case.id)
    for position in ("head", "tail"):
        request: dict[str, Any] = {
            "index": case.target.index, "query": case.query, "size": case.size,
            "event_category_field": "event.category", "timestamp_field": "@timestamp",
            "result_position": position,
            "fetch_size": rng.randint(2, max(case.size, 2)),
        }
        if case.target.tiebreaker is not None:
            request["tiebreaker_field"] = case.target.tiebreaker
        if case.max_samples_per_key is not None:
            request["max_samples_per_key"] = case.max_samples_per_key
        try:
            response = client(case.target, engine, order).eql.search(**request)
        except LannerError as error:
            outcome.passed = False
            outcome.problems.append(f"{position}: error {type(error).__name__}: {error}")
            continue
        for problem in _compare(case, response):
            outcome.passed = False
            outcome.problems.append(f"{position}: {problem}")
    return outcome


def _compare(case: Case, response: dict[str, Any]) -> Iterator[str]:
    hits = response["hits"]
    id_field = case.target.id_field
    if "events" in hits:
        events = hits["events"]
        keys: list[str] = []
    else:
        events = [event for sequence in hits.get("sequences", []) for event in sequence["events"]]
        keys = [java_string(key) for sequence in hits.get("sequences", [])
                for key in sequence.get("join_keys", [])]
    # an event without _source is a missing-event placeholder: -1 (README §3)
    ids = tuple(event["_source"][id_field] if "_source" in event else -1 for event in events)
    alternatives = case.expected if case.expected and isinstance(case.expected[0], tuple) \
        else (case.expected,)
    if ids not in alternatives:
        shown = list(alternatives[0]) if len(alternatives) == 1 else [list(a) for a in alternatives]
        yield f"expected ids {shown}, got {list(ids)}"
    if case.join_keys and tuple(keys) != case.join_keys:
        yield f"expected join_keys {list(case.join_keys)}, got {keys}"


def main() -> None:
    """Print every case and the totals per spec file (and per rerun target), on the engine
    named by the first argument (duckdb by default)."""
    engine = sys.argv[1] if len(sys.argv) > 1 else "duckdb"
    totals: dict[str, list[int]] = {}
    known = known_failures()
    for case in cases():
        outcome = run(case, engine)
        line = outcome.line()
        if not outcome.passed and case.id in known:
            line += f"  [known: {known[case.id]}]"
        print(line)
        group = case.id.split("::")[0]
        passed, total = totals.setdefault(group, [0, 0])
        totals[group] = [passed + outcome.passed, total + 1]
    print()
    for group, (passed, total) in totals.items():
        print(f"{group}: {passed}/{total} passed")


if __name__ == "__main__":
    main()
