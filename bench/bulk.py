"""`_bulk` ingest through the official client's parallel_bulk into `lanner serve --http`,
against the store's file ingest (what `lanner hunt` reads files with) of the same events, in
one run. Usage: .venv/bin/python bench/bulk.py [EVENTS]"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import orjson
from elasticsearch import Elasticsearch, helpers

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lanner.store import EventStore
from tests.server.live import Server


def events(count: int) -> list[dict[str, object]]:
    return [{"@timestamp": f"2024-01-01T00:{n // 60 % 60:02d}:{n % 60:02d}.{n % 1000:03d}Z",
             "event": {"category": "process", "type": "start"},
             "process": {"name": f"p{n % 50}.exe", "pid": n, "command_line": f"run {n}"},
             "host": {"name": f"h{n % 10}"}, "user": {"name": "u"}} for n in range(count)]


def main(count: int) -> None:
    docs = events(count)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "events.ndjson"
        path.write_bytes(b"".join(orjson.dumps(doc) + b"\n" for doc in docs))
        clock = time.perf_counter()
        with EventStore(Path(folder) / "file.duckdb") as store:
            store.ingest_files([path], "logs-bench")
        file_seconds = time.perf_counter() - clock
        server = Server(Path(folder)).start()
        try:
            es = Elasticsearch(server.url, request_timeout=300)
            clock = time.perf_counter()
            for ok, item in helpers.parallel_bulk(
                    es, ({"_index": "logs-bench", "_source": doc} for doc in docs),
                    chunk_size=5000, thread_count=2):
                assert ok, item
            bulk_seconds = time.perf_counter() - clock
            assert es.count(index="logs-bench")["count"] == count
        finally:
            server.stop()
    file_rate, bulk_rate = count / file_seconds, count / bulk_seconds
    print(f"{count} events: file ingest {file_rate:,.0f} events/s, _bulk parallel_bulk "
          f"{bulk_rate:,.0f} events/s, ratio {bulk_rate / file_rate:.2f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000)
