"""The server's one owner of the store: events, alerts, the rules' scheduler, and what
shippers install (templates, policies, pipelines), behind one lock."""

from __future__ import annotations

import datetime
import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any

import orjson

from lanner.detection.exceptions import ExceptionLists
from lanner.detection.run import Detector
from lanner.detection.serve import DetectionService, Tick, utc_now
from lanner.engine.client import Lanner, make_backend
from lanner.rules import Rule
from lanner.store import EventStore
from lanner.store.alerts import AlertStore
from lanner.store.watch import FolderWatch

log = logging.getLogger(__name__)

# What shippers PUT at start-up and read back; kept as sent, by kind and name.
OBJECT_KINDS = ("index_template", "component_template", "ilm_policy", "ingest_pipeline",
                "data_stream")


class Service:
    """The store, its alerts and the detection scheduler, as the HTTP routes see them.

    The contract the routes (lanner.server.app, lanner.server.kibana) rely on:

    - `store`: the EventStore (events, mappings);
    - `alerts`: the AlertStore over the same database (`.alerts-security.alerts-default`);
    - `detector`: the lanner.detection.run.Detector that runs rules into `alerts`;
    - `rules`: the list of lanner.rules.Rule the scheduler runs;
    - `write_lock`: a threading.Lock held around EVERY use of the store's DuckDB connection,
      reads too: the backend searches on `store.con` itself, and a DuckDB connection is not
      safe from two threads at once. Route handlers run in a thread pool and take it.
    - `client`: a lanner.engine.client.Lanner over the store (bulk, eql.search).

    A write returns once DuckDB has committed it (to its write-ahead log), so a reply sent
    after it survives the process being killed.
    """

    def __init__(self, store: EventStore, rules: Sequence[Rule], *,
                 exceptions: ExceptionLists | None = None, watch: FolderWatch | None = None,
                 max_body_bytes: int = 100 * 1024 * 1024) -> None:
        self.store = store
        self.alerts = AlertStore(store.con)
        self.detector = Detector(make_backend(store), self.alerts, exceptions)
        self.rules = list(rules)
        self.write_lock = threading.Lock()
        self.client = Lanner.over(store, self.detector.backend)
        self.scheduler = DetectionService(self.detector, self.rules, watch=watch)
        self.max_body_bytes = max_body_bytes
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        store.con.execute("CREATE TABLE IF NOT EXISTS server_objects (kind VARCHAR, "
                          "name VARCHAR, body VARCHAR, PRIMARY KEY (kind, name))")

    # -- what shippers install ----------------------------------------------------------------

    def put_object(self, kind: str, name: str, body: Any) -> None:
        with self.write_lock:
            self.store.con.execute("INSERT OR REPLACE INTO server_objects VALUES (?, ?, ?)",
                                   [kind, name, orjson.dumps(body).decode()])

    def objects(self, kind: str) -> dict[str, Any]:
        """Every stored object of a kind, by name."""
        with self.write_lock:
            rows = self.store.con.execute(
                "SELECT name, body FROM server_objects WHERE kind = ? ORDER BY name",
                [kind]).fetchall()
        return {name: orjson.loads(body) for name, body in rows}

    def delete_object(self, kind: str, name: str) -> bool:
        with self.write_lock:
            found = self.store.con.execute(
                "DELETE FROM server_objects WHERE kind = ? AND name = ? RETURNING name",
                [kind, name]).fetchall()
        return bool(found)

    # -- the scheduler ------------------------------------------------------------------------

    def start(self, *, poll: datetime.timedelta = datetime.timedelta(seconds=5),
              on_tick: Callable[[Tick], None] | None = None) -> None:
        """Run the rules in a thread: now, then each on its interval, as Kibana does."""
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, args=(poll, on_tick),
                                        name="lanner-scheduler", daemon=True)
        self._thread.start()

    def _loop(self, poll: datetime.timedelta, on_tick: Callable[[Tick], None] | None) -> None:
        while not self._stop.is_set():
            try:
                with self.write_lock:
                    tick = self.scheduler.tick(utc_now())
                if on_tick is not None:
                    on_tick(tick)
            except Exception:  # a failing tick must not end detection
                log.exception("a scheduler tick failed")
            now = utc_now()
            wait = min(self.scheduler.next_due(now) - now, poll)
            self._stop.wait(max(wait.total_seconds(), 0.05))

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=60)
            self._thread = None

    def close(self) -> None:
        self.stop()
        with self.write_lock:
            self.store.close()
