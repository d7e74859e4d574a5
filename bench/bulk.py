"""`_bulk` ingest through the official client's parallel_bulk into `lanner serve --http`,
against the store's file ingest (what `lanner hunt` reads files with) of the same events, in
one run: each measured RUNS times, interleaved, and the medians compared.

Also the CPU seconds each side spent (Linux: the server's from /proc): the client's own (its
JSON encoding of every document, its parsing of every reply) runs on the same cores as the
server, so on a small machine it bounds the ratio as much as the server does.

Second figure: the same `_bulk` into a store already holding HELD other events (with ids)
against into an empty one, interleaved too: a bulk request's cost should not grow with the
store (its duplicate-id checks once scanned the whole table per request).
Usage: .venv/bin/python bench/bulk.py [EVENTS] [RUNS] [HELD]; bench.run reports `measure`'s
first figure."""

from __future__ import annotations

import os
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import orjson
from elasticsearch import Elasticsearch, helpers

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lanner.store import EventStore
from tests.server.live import Server


def events(count: int, skip: int = 0) -> list[dict[str, object]]:
    return [{"@timestamp": f"2024-01-01T00:{n // 60 % 60:02d}:{n % 60:02d}.{n % 1000:03d}Z",
             "event": {"category": "process", "type": "start"},
             "process": {"name": f"p{n % 50}.exe", "pid": n, "command_line": f"run {n}"},
             "host": {"name": f"h{n % 10}"}, "user": {"name": "u"}}
            for n in range(skip, skip + count)]


def process_cpu(pid: int) -> float:
    """User + system CPU seconds of a process so far (Linux /proc; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def file_ingest(folder: Path, path: Path, run: int) -> tuple[float, float]:
    """(seconds, CPU seconds) of the file ingest."""
    clock, cpu = time.perf_counter(), time.process_time()
    with EventStore(folder / f"file{run}.duckdb") as store:
        store.ingest_files([path], "logs-bench")
    return time.perf_counter() - clock, time.process_time() - cpu


def held_store(folder: Path, held: int, skip: int) -> Path:
    """A store file of `held` events unlike the shipped ones (the general ingest: every one
    gets its id, as bulk-shipped events have)."""
    path = folder / "held.duckdb"
    with EventStore(path) as store:
        store.ingest(({"_index": "logs-bench", "_source": doc}
                      for doc in events(held, skip)), "logs-bench")
    return path


def bulk_ingest(folder: Path, docs: list[dict[str, object]], run: str,
                held: Path | None = None) -> tuple[float, float, float]:
    """(seconds, server CPU seconds, client CPU seconds) of shipping the documents, into an
    empty store or a copy of `held`."""
    where = folder / f"server{run}"
    where.mkdir()
    server = Server(where)
    if held is not None:
        shutil.copyfile(held, server.store)
    server.start()
    assert server.process is not None
    try:
        es = Elasticsearch(server.url, request_timeout=300)
        clock, cpu = time.perf_counter(), time.process_time()
        server_cpu = process_cpu(server.process.pid)
        for ok, item in helpers.parallel_bulk(
                es, ({"_index": "logs-bench", "_source": doc} for doc in docs),
                chunk_size=5000, thread_count=2):
            assert ok, item
        seconds = time.perf_counter() - clock
        server_cpu = process_cpu(server.process.pid) - server_cpu
        client_cpu = time.process_time() - cpu
        stored = len(docs) + (held_events(held) if held is not None else 0)
        assert es.count(index="logs-bench")["count"] == stored
        es.close()
        return seconds, server_cpu, client_cpu
    finally:
        server.stop()


def held_events(path: Path) -> int:
    with EventStore(path) as store:
        return store.count()


@dataclass(frozen=True, slots=True)
class BulkRuns:
    """Per run: (seconds, CPU seconds) of the file ingest, (seconds, server CPU, client CPU)
    of `_bulk` into an empty store and, when `held`, into one holding `held` events."""

    count: int
    held: int
    file: list[tuple[float, float]]
    bulk: list[tuple[float, float, float]]
    into_held: list[tuple[float, float, float]]

    @property
    def file_times(self) -> list[float]:
        return [run[0] for run in self.file]

    @property
    def bulk_times(self) -> list[float]:
        return [run[0] for run in self.bulk]


def measure(count: int, runs: int, held: int) -> BulkRuns:
    """The file ingest and `_bulk` of the same `count` events, `runs` times each, interleaved
    (and `_bulk` into a store already holding `held` events, when `held`)."""
    docs = events(count)
    file_runs, bulk_runs, held_runs = [], [], []
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        path = folder / "events.ndjson"
        path.write_bytes(b"".join(orjson.dumps(doc) + b"\n" for doc in docs))
        seeded = held_store(folder, held, count) if held else None
        for run in range(runs):
            file_runs.append(file_ingest(folder, path, run))
            bulk_runs.append(bulk_ingest(folder, docs, str(run)))
            if seeded is not None:
                held_runs.append(bulk_ingest(folder, docs, f"{run}held", seeded))
    return BulkRuns(count, held, file_runs, bulk_runs, held_runs)


def main(count: int, runs: int, held: int) -> None:
    measured = measure(count, runs, held)
    file_runs, bulk_runs, held_runs = measured.file, measured.bulk, measured.into_held
    file_times, bulk_times = measured.file_times, measured.bulk_times
    file_rate = count / statistics.median(file_times)
    bulk_rate = count / statistics.median(bulk_times)
    print(f"{count} events, median of {runs} runs: file ingest {file_rate:,.0f} events/s, "
          f"_bulk parallel_bulk {bulk_rate:,.0f} events/s, ratio {bulk_rate / file_rate:.2f}")
    print("  file runs (s): " + ", ".join(f"{t:.2f}" for t in file_times)
          + "; bulk runs (s): " + ", ".join(f"{t:.2f}" for t in bulk_times))
    print(f"  CPU s (medians): file ingest {statistics.median(r[1] for r in file_runs):.2f}; "
          f"bulk: server {statistics.median(r[1] for r in bulk_runs):.2f}, "
          f"client {statistics.median(r[2] for r in bulk_runs):.2f}")
    if held_runs:
        held_rate = count / statistics.median(run[0] for run in held_runs)
        print(f"  _bulk into a store already holding {held:,} events: {held_rate:,.0f} events/s, "
              f"{held_rate / bulk_rate:.2f}x into an empty one; server CPU s (median) "
              f"{statistics.median(r[1] for r in held_runs):.2f}; runs (s): "
              + ", ".join(f"{run[0]:.2f}" for run in held_runs))
    print(f"  load average (1 min) at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000,
         int(sys.argv[2]) if len(sys.argv) > 2 else 3,
         int(sys.argv[3]) if len(sys.argv) > 3 else 200_000)
