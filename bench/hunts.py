"""What the rule-type hunt benchmarks share (bench/aggregating.py, bench/esql.py): their command
line, and a generated endpoint corpus (bench/generate.py) ingested once into an in-memory store
that one Detector hunts."""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench import generate
from lanner.detection.run import Detector
from lanner.engine.backends.duckdb import DuckDBBackend
from lanner.store import EventStore


def parse_options(doc: str) -> argparse.Namespace:
    """`--events`, `--runs` and `--seed`; the first line of `doc` describes the script."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args()


@contextmanager
def corpus_detector(options: argparse.Namespace) -> Iterator[Detector]:
    """A Detector over `options.events` generated events (printing the count and the runs)."""
    with tempfile.TemporaryDirectory() as folder, EventStore() as store:
        corpus = generate.generate(Path(folder) / "corpus.ndjson", events=options.events,
                                   seed=options.seed)
        loaded = store.ingest_files([corpus.path])
        print(f"{loaded.events} events, {options.runs} run(s) each, medians")
        yield Detector(DuckDBBackend(store))
