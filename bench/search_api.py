"""The server's `_search` (issue 18): sort, aggregations and reading everything by scroll
and by point in time, on generated events, each against a floor measured in the same run;
and the alerts index's first and unchanged searches against the former copy (issue 18's
third follow-up).

    .venv/bin/python -m bench.search_api [--events 200000] [--runs 5] [--alerts 2000]

Requests go through Starlette's TestClient to create_app(service) over a store of
`--events` generated process events (50 hosts, 300 process names, 28 days). Floors: for
the aggregations, the same GROUP BY written by hand on the store's connection; for
reading everything, the store's own `documents()` of every event in pages of the same
size (what any search must at least do to return the hits). Medians of `--runs`.

The alerts index: `--alerts` alerts shaped like the example hunt's (bench.web's generator,
~20 KB each) in a service's alert store. The baseline, timed in the same run, is the copy
as it was: every search read every alert document (AlertStore.find) and hashed it to find
the changes, a first search then ingesting them all. Now: the service builds the copy at
start-up in the background (`AlertsView.build`, timed apart), so the first search finds
it current; an unchanged search reads nothing; a change re-copies only the alerts changed.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import orjson
from starlette.testclient import TestClient

from bench.parse import median_ms
from bench.web import EVENTS, RULES, generate, templates
from lanner.rules import load_rules
from lanner.server.app import create_app
from lanner.server.search import ALERTS_INDEX, AlertsView
from lanner.server.service import Service
from lanner.store import EventStore, find_event_files
from lanner.store.alerts import AlertStore

INDEX = "logs-bench-default"
PAGE = 5_000


def generated(count: int) -> list[dict[str, Any]]:
    return [{"_index": INDEX, "_id": f"e{number}", "_source": {
        "@timestamp": f"2024-01-{1 + number % 28:02d}T{number % 24:02d}:{number % 60:02d}:00Z",
        "event": {"category": "process", "type": "start"},
        "host": {"name": f"host-{number % 50}"},
        "process": {"name": f"p{number % 300}.exe", "pid": number}}}
        for number in range(count)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--alerts", type=int, default=2_000)
    args = parser.parse_args(argv)
    if args.alerts:
        alerts_index(args.alerts, args.runs)
    store = EventStore()
    store.ingest(generated(args.events))
    service = Service(store, [])
    client = TestClient(create_app(service))

    def search(body: dict[str, Any]) -> dict[str, Any]:
        response = client.post(f"/{INDEX}/_search", json=body)
        assert response.status_code == 200, response.text
        return response.json()

    def scroll_all() -> int:
        page = client.post(f"/{INDEX}/_search?scroll=1m",
                           json={"size": PAGE, "sort": ["_doc"]}).json()
        read = 0
        while page["hits"]["hits"]:
            read += len(page["hits"]["hits"])
            page = client.post("/_search/scroll", json={"scroll_id": page["_scroll_id"],
                                                        "scroll": "1m"}).json()
        assert read == args.events
        return read

    def pit_all() -> int:
        pit = client.post(f"/{INDEX}/_pit?keep_alive=1m").json()["id"]
        body: dict[str, Any] = {"size": PAGE, "sort": [{"@timestamp": "asc"}],
                                "pit": {"id": pit}}
        read = 0
        while True:
            hits = client.post("/_search", json=body).json()["hits"]["hits"]
            if not hits:
                break
            read += len(hits)
            body["search_after"] = hits[-1]["sort"]
        assert read == args.events
        return read

    docs = [row[0] for row in store.con.execute("SELECT _doc FROM events ORDER BY _doc")
            .fetchall()]

    def documents_floor() -> None:
        for start in range(0, len(docs), PAGE):
            store.documents(docs[start:start + PAGE])

    def group_by_floor() -> None:
        store.con.execute('SELECT "host.name", count(*) FROM events GROUP BY 1 '
                          "ORDER BY 2 DESC, 1 LIMIT 10").fetchall()

    rows = [
        ("sorted page of 100 (@timestamp desc)",
         median_ms(args.runs, lambda: search({"size": 100, "sort": [{"@timestamp": "desc"}]})),
         None),
        ("terms host.name", median_ms(args.runs, lambda: search(
            {"size": 0, "aggs": {"h": {"terms": {"field": "host.name"}}}})),
         median_ms(args.runs, group_by_floor)),
        ("terms process.pid (one value an event)", median_ms(args.runs, lambda: search(
            {"size": 0, "aggs": {"p": {"terms": {"field": "process.pid"}}}})), None),
        ("date_histogram 1h", median_ms(args.runs, lambda: search(
            {"size": 0, "aggs": {"d": {"date_histogram": {"field": "@timestamp",
                                                          "fixed_interval": "1h"}}}})), None),
        ("terms (5) > date_histogram day", median_ms(args.runs, lambda: search(
            {"size": 0, "aggs": {"p": {"terms": {"field": "process.name", "size": 5},
                                       "aggs": {"d": {"date_histogram": {
                                           "field": "@timestamp",
                                           "calendar_interval": "day"}}}}}})), None),
    ]
    floor_read = median_ms(args.runs, documents_floor)
    rows += [("scroll everything", median_ms(args.runs, scroll_all), floor_read),
             ("point in time + search_after everything", median_ms(args.runs, pit_all),
              floor_read)]
    print(f"_search over {args.events:,} events, median of {args.runs} runs")
    for name, ms, floor in rows:
        ratio = f"  {ms / floor:5.1f}x floor ({floor:,.1f} ms)" if floor else ""
        rate = f"  {args.events / ms * 1000:,.0f} events/s" if "everything" in name else ""
        print(f"  {name:<42} {ms:10,.1f} ms{rate}{ratio}")
    return 0


def former_check(alerts: AlertStore) -> dict[str, bytes]:
    """The former unchanged check: every alert document read and hashed."""
    return {str(document["kibana.alert.uuid"]): hashlib.blake2b(
        orjson.dumps(document), digest_size=16).digest()
        for document in alerts.find(order="time", building_blocks=True)}


def former_first(alerts: AlertStore) -> None:
    """The former first search's copy: the check, then every document ingested at once."""
    former_check(alerts)
    store = EventStore()
    operations: list[dict[str, Any]] = []
    for document in alerts.find(order="time", building_blocks=True):
        operations += [{"index": {"_index": ALERTS_INDEX,
                                  "_id": document["kibana.alert.uuid"]}}, document]
    store.bulk(operations)
    store.close()


def alerts_index(count: int, runs: int) -> None:
    store = EventStore()
    store.ingest_files(find_event_files([str(EVENTS)]))
    rules, errors = load_rules([RULES])
    assert not errors, errors
    service = Service(store, rules)
    units = templates(service)
    service.alerts.con.execute("DELETE FROM alerts")
    service.alerts.add(generate(units, count))
    client = TestClient(create_app(service))
    body = {"size": 10, "sort": [{"kibana.alert.original_time": "desc"}],
            "aggs": {"rules": {"terms": {"field": "kibana.alert.rule.name"}}}}

    def search() -> None:
        response = client.post(f"/{ALERTS_INDEX}/_search", json=body)
        assert response.status_code == 200, response.text
        assert response.json()["hits"]["total"]["value"] == count

    def once(call: Callable[[], Any]) -> float:
        started = time.perf_counter()
        call()
        return (time.perf_counter() - started) * 1000

    former_first_ms = once(lambda: former_first(service.alerts))
    former_check_ms = median_ms(runs, lambda: former_check(service.alerts))
    build_ms = once(lambda: service.alerts_view.build(service.alerts, threading.Lock()))
    first_ms = once(search)
    unchanged_ms = median_ms(runs, search)
    check_ms = median_ms(runs, lambda: service.alerts_view.refresh(service.alerts))
    some = list(service.alerts.versions())[:2]

    def two_changed() -> None:
        service.alerts.change_tags(some, add=["bench"])
        search()
        service.alerts.change_tags(some, remove=["bench"])
        search()

    changed_ms = median_ms(runs, two_changed) / 2
    sync_ms = once(lambda: AlertsView(ALERTS_INDEX).refresh(service.alerts))
    print(f"alerts index, {count:,} alerts (~20 KB each), median of {runs} runs")
    for name, ms, floor in (
            ("first search (copy built at start-up)", first_ms, former_first_ms),
            ("unchanged search", unchanged_ms, former_check_ms),
            ("  of which the unchanged check", check_ms, former_check_ms),
            ("search after 2 alerts changed", changed_ms, former_check_ms),
            ("start-up build, in the background", build_ms, former_first_ms),
            ("copy without the start-up build", sync_ms, former_first_ms)):
        print(f"  {name:<42} {ms:10,.3f} ms  {ms / floor:8.5f}x former ({floor:,.1f} ms)")
    service.close()


if __name__ == "__main__":
    sys.exit(main())
