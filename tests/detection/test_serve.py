"""Continuous detection over a watched folder: events arriving between ticks, rules run when
due, a restart that goes on where it stopped, no duplicates."""

from __future__ import annotations

import datetime
import gc
import json
import threading
from dataclasses import replace
from pathlib import Path

from lanner.detection.run import Detector
from lanner.detection.serve import DetectionService
from lanner.engine.backends.duckdb import DuckDBBackend
from lanner.store import EventStore
from lanner.store.alerts import AlertStore
from lanner.store.watch import FolderWatch
from tests.detection.test_run import RULE, T0, at, process

MINUTE = datetime.timedelta(minutes=1)


def line(minute: float, **extra: object) -> str:
    return json.dumps({**process(minute), "data_stream": {
        "type": "logs", "dataset": "endpoint.events.process", "namespace": "default"},
        **extra}) + "\n"


def service(db: Path, folder: Path) -> tuple[EventStore, DetectionService]:
    store = EventStore(db)
    detector = Detector(DuckDBBackend(store), AlertStore(store.con))
    return store, DetectionService(detector, [RULE], watch=FolderWatch(store, folder))


def test_events_arriving_in_a_watched_folder_are_detected_on_schedule(tmp_path: Path) -> None:
    folder, db = tmp_path / "incoming", tmp_path / "lanner.duckdb"
    folder.mkdir()
    feed = folder / "feed.ndjson"
    feed.write_text(line(-2), encoding="utf-8")

    store, svc = service(db, folder)
    with store:
        first = svc.tick(T0)
        assert first.ingested.events == 1
        assert [len(r.created) for r in first.runs] == [1]

        partial = line(12)
        with feed.open("a", encoding="utf-8") as out:
            out.write(line(3) + "{not json\n" + partial[:20])  # a line still being written
        early = svc.tick(T0 + 2 * MINUTE)
        assert early.ingested.events == 1 and early.runs == []  # not due before T0+5m
        assert [(b.path, b.line) for b in early.ingested.bad_lines] == [(str(feed), 3)]

        due = svc.tick(T0 + 5 * MINUTE)
        assert [len(r.created) for r in due.runs] == [1]  # minute 3; minute -2 already known
        assert due.runs[0].duplicates == 1

    with feed.open("a", encoding="utf-8") as out:
        out.write(partial[20:])
    (folder / "more.json").write_text(json.dumps([json.loads(line(22))]), encoding="utf-8")

    store, svc = service(db, folder)  # a restart
    with store:
        restarted = svc.tick(T0 + 24 * MINUTE)
        assert restarted.ingested.events == 1  # feed.ndjson goes on at its line 4
        (run,) = restarted.runs
        # previous start T0+5m, read from the log: gap 19m - 9m = 10m, 2 catch-up windows
        assert len(run.windows) == 3 and run.error is None
        assert len(run.created) == 1  # minute 12
        later = svc.tick(T0 + 25 * MINUTE)
        assert later.ingested.events == 1 and later.runs == []  # more.json, once stable
        assert [len(r.created) for r in svc.tick(T0 + 29 * MINUTE).runs] == [1]
        assert store.count() == 4
        times = sorted(a["kibana.alert.original_time"]
                       for a in AlertStore(store.con).find())
        assert times == [at(-2), at(3), at(12), at(22)]
        assert [r.status for r in svc.log.history()] == ["succeeded"] * 4


def test_serve_ticks_until_stopped(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.ndjson").write_text(line(-1), encoding="utf-8")
    store, svc = service(tmp_path / "db.duckdb", folder)
    stop = threading.Event()
    ticks = []
    moments = iter([T0, T0, T0 + MINUTE, T0 + MINUTE])

    frozen: list[int] = []

    def on_tick(tick: object) -> None:
        ticks.append(tick)
        frozen.append(gc.get_freeze_count())
        if len(ticks) == 2:
            stop.set()

    with store:
        svc.serve(stop, poll=datetime.timedelta(milliseconds=10), on_tick=on_tick,
                  clock=lambda: next(moments))
    assert [len(t.runs) for t in ticks] == [1, 0]
    assert [len(r.created) for r in ticks[0].runs] == [1]
    # A round freezes what it kept (gc_paused); each tick hands it back to the collector.
    assert frozen == [0, 0]


def test_a_rule_with_a_longer_interval_runs_less_often(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    store = EventStore()
    hourly = replace(RULE, rule_id="hourly", interval="1h", from_="now-70m")
    svc = DetectionService(Detector(DuckDBBackend(store), AlertStore(store.con)),
                           [RULE, hourly], watch=FolderWatch(store, folder))
    with store:
        runs = [[r.rule.rule_id for r in svc.tick(T0 + m * MINUTE).runs]
                for m in range(0, 65, 5)]
    assert runs[0] == ["r-whoami", "hourly"]
    assert all(names == ["r-whoami"] for names in runs[1:12])
    assert runs[12] == ["r-whoami", "hourly"]
