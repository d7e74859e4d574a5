"""The server's one owner of the store: events, alerts, the rules' scheduler, and what
shippers install (templates, policies, pipelines), behind one lock."""

from __future__ import annotations

import contextlib
import datetime
import fnmatch
import logging
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import orjson

from lanner.cache import gc_paused
from lanner.detection.exceptions import ExceptionLists
from lanner.detection.run import Detector
from lanner.detection.serve import DetectionService, Tick, utc_now
from lanner.engine.client import BulkRequest, Lanner, make_backend
from lanner.errors import LannerError
from lanner.rules import Rule
from lanner.server import detection_api
from lanner.server.errors import ElasticError, from_lanner
from lanner.server.search import ALERTS_INDEX, AlertsView
from lanner.store import EventStore
from lanner.store.alerts import AlertStore
from lanner.store.watch import FolderWatch

log = logging.getLogger(__name__)

# What shippers PUT at start-up and read back; kept as sent, by kind and name.
OBJECT_KINDS = ("index_template", "component_template", "ilm_policy", "ingest_pipeline",
                "data_stream")
TEMPLATE_KINDS = ("index_template", "component_template")

# Bulk requests admitted at once (read, parsed, waiting for or holding the store); past it a
# 429 es_rejected_execution_exception, as Elasticsearch's write queue answers when full.
BULK_QUEUE_ENV = "LANNER_BULK_QUEUE"
DEFAULT_BULK_QUEUE = 32
RETRY_AFTER_SECONDS = 1


class Rejected(ElasticError):
    """429: ingest is behind; the client should retry after `headers["Retry-After"]`."""

    def __init__(self, capacity: int) -> None:
        super().__init__(429, "es_rejected_execution_exception",
                         f"rejected execution of bulk request on lanner/write: queue capacity "
                         f"= {capacity} (lanner serve, environment {BULK_QUEUE_ENV}), "
                         f"{capacity} requests pending")
        self.headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}


def bulk_queue_from_env() -> int:
    value = os.environ.get(BULK_QUEUE_ENV, "")
    try:
        return max(1, int(value)) if value.strip() else DEFAULT_BULK_QUEUE
    except ValueError:
        log.warning("%s=%r is not a whole number: %d", BULK_QUEUE_ENV, value,
                    DEFAULT_BULK_QUEUE)
        return DEFAULT_BULK_QUEUE


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
    - `client`: a lanner.engine.client.Lanner over the store (bulk, eql.search);
    - `alerts_view`: the alerts as the alerts index searches them (lanner.server.search),
      refreshed after each scheduler round so the alerts it wrote are copied at once.

    A write returns once DuckDB has committed it (to its write-ahead log), so a reply sent
    after it survives the process being killed.
    """

    def __init__(self, store: EventStore, rules: Sequence[Rule], *,
                 exceptions: ExceptionLists | None = None, watch: FolderWatch | None = None,
                 max_body_bytes: int = 100 * 1024 * 1024, bulk_queue: int | None = None
                 ) -> None:
        self.store = store
        self.alerts = AlertStore(store.con)
        self.detector = Detector(make_backend(store), self.alerts, exceptions)
        self.rules = list(rules)
        self.write_lock = threading.Lock()
        self.client = Lanner.over(store, self.detector.backend)
        self.alerts_view = AlertsView(ALERTS_INDEX)
        self.scheduler = DetectionService(self.detector, self.rules, watch=watch)
        self.max_body_bytes = max_body_bytes
        self.bulk_queue = bulk_queue if bulk_queue is not None else bulk_queue_from_env()
        self._pending = 0
        self._pending_lock = threading.Lock()
        self._templates: list[tuple[int, str, list[str], dict[str, Any]]] | None = None
        self._created: set[str] = set()  # indices a template was looked up for
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._view_thread: threading.Thread | None = None
        store.con.execute("CREATE TABLE IF NOT EXISTS server_objects (kind VARCHAR, "
                          "name VARCHAR, body VARCHAR, PRIMARY KEY (kind, name))")

    # -- ingest -------------------------------------------------------------------------------

    @contextlib.contextmanager
    def bulk_slot(self) -> Iterator[None]:
        """A place in the bounded queue of bulk requests, held while one is read and stored;
        none free raises Rejected (429 with Retry-After). Does not block: the event loop may
        take it."""
        with self._pending_lock:
            if self._pending >= self.bulk_queue:
                raise Rejected(self.bulk_queue)
            self._pending += 1
        try:
            yield
        finally:
            with self._pending_lock:
                self._pending -= 1

    def bulk(self, operations: Any, index: str | None = None) -> dict[str, Any]:
        """A bulk request stored: parsed and its ids derived outside the lock, then the
        templates of indices new to the store applied and the documents written under it.
        Returns once DuckDB has committed them."""
        try:
            # The cyclic GC stays off until the documents are freed: on again while they
            # live, its next pass would traverse every one of them (a tenth of the time).
            with gc_paused(kept=False):
                request = BulkRequest.parse(operations, index)
                with self.write_lock:
                    self._apply_templates(request.indices)
                    response = self.client.bulk(request)
                del request
            return response
        except LannerError as error:
            raise from_lanner(error) from error

    # -- index templates ----------------------------------------------------------------------

    def _apply_templates(self, indices: set[str]) -> None:
        """Give an index its matching index template's mappings (composed_of component
        templates first, the template's own last; the highest priority wins) the first time
        documents for it arrive, as Elasticsearch does when it creates the index. Under the
        lock."""
        new = indices - self._created
        if not new:
            return
        store = self.store
        existing = set(store.index_names())
        for index in sorted(new):
            self._created.add(index)
            if not index or index in existing or store.mapping(index) is not None:
                continue
            mappings = self._template_mappings(index)
            if mappings:
                store.put_mapping(index, mappings)

    def _template_mappings(self, index: str) -> dict[str, Any] | None:
        if self._templates is None:
            self._templates = self._load_templates()
        for _, _, patterns, mappings in self._templates:
            if any(fnmatch.fnmatchcase(index, pattern) for pattern in patterns):
                return mappings
        return None

    def _load_templates(self) -> list[tuple[int, str, list[str], dict[str, Any]]]:
        """(priority, name, index patterns, merged mappings) of every index template, the
        one to apply first."""
        components = self._objects("component_template")
        templates = []
        for name, body in self._objects("index_template").items():
            if not isinstance(body, dict):
                continue
            patterns = body.get("index_patterns") or []
            patterns = [patterns] if isinstance(patterns, str) else list(patterns)
            merged: dict[str, Any] = {}
            composed = body.get("composed_of") or []
            for part in [components.get(c) for c in composed] + [body]:
                template = part.get("template") if isinstance(part, dict) else None
                mappings = template.get("mappings") if isinstance(template, dict) else None
                if isinstance(mappings, dict):
                    merged = _merge(merged, mappings)
            priority = body.get("priority") or 0
            templates.append((-int(priority), name, [str(p) for p in patterns], merged))
        templates.sort(key=lambda t: (t[0], t[1]))
        return templates

    # -- what shippers install ----------------------------------------------------------------

    def put_object(self, kind: str, name: str, body: Any) -> None:
        with self.write_lock:
            self.store.con.execute("INSERT OR REPLACE INTO server_objects VALUES (?, ?, ?)",
                                   [kind, name, orjson.dumps(body).decode()])
            self._templates_changed(kind)

    def objects(self, kind: str) -> dict[str, Any]:
        """Every stored object of a kind, by name."""
        with self.write_lock:
            return self._objects(kind)

    def _objects(self, kind: str) -> dict[str, Any]:
        rows = self.store.con.execute(
            "SELECT name, body FROM server_objects WHERE kind = ? ORDER BY name",
            [kind]).fetchall()
        return {name: orjson.loads(body) for name, body in rows}

    def delete_object(self, kind: str, name: str) -> bool:
        with self.write_lock:
            found = self.store.con.execute(
                "DELETE FROM server_objects WHERE kind = ? AND name = ? RETURNING name",
                [kind, name]).fetchall()
            self._templates_changed(kind)
        return bool(found)

    def _templates_changed(self, kind: str) -> None:
        if kind in TEMPLATE_KINDS:
            self._templates = None
            self._created.clear()

    # -- the scheduler ------------------------------------------------------------------------

    def start(self, *, poll: datetime.timedelta = datetime.timedelta(seconds=5),
              on_tick: Callable[[Tick], None] | None = None) -> None:
        """Run the rules in a thread: now, then each on its interval, as Kibana does."""
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, args=(poll, on_tick),
                                        name="lanner-scheduler", daemon=True)
        self._thread.start()
        self._view_thread = threading.Thread(target=self._build_alerts_view,
                                             name="lanner-alerts-view", daemon=True)
        self._view_thread.start()

    def _build_alerts_view(self) -> None:
        try:
            self.alerts_view.build(self.alerts, self.write_lock, self._stop)
        except Exception:  # the first search of the alerts index builds it then
            log.exception("copying the alerts for the alerts index failed")

    def tick(self) -> Tick:
        """One round of the scheduler: the rules enabled now (the Kibana API may have enabled
        or disabled some since the last round) that are due."""
        with self.write_lock:
            self.scheduler.rules = detection_api.enabled_rules(self, lock=False)
            tick = self.scheduler.tick(utc_now())
            if self.alerts_view.built:
                self.alerts_view.refresh(self.alerts)
            return tick

    def _loop(self, poll: datetime.timedelta, on_tick: Callable[[Tick], None] | None) -> None:
        while not self._stop.is_set():
            try:
                tick = self.tick()
                if on_tick is not None:
                    on_tick(tick)
            except Exception:  # a failing tick must not end detection
                log.exception("a scheduler tick failed")
            now = utc_now()
            wait = min(self.scheduler.next_due(now) - now, poll)
            self._stop.wait(max(wait.total_seconds(), 0.05))

    def stop(self) -> None:
        self._stop.set()
        for thread in (self._thread, self._view_thread):
            if thread is not None:
                thread.join(timeout=60)
        self._thread = self._view_thread = None

    def close(self) -> None:
        self.stop()
        with self.write_lock:
            self.store.close()


def _merge(base: dict[str, Any], more: dict[str, Any]) -> dict[str, Any]:
    """Mappings merged as Elasticsearch composes templates: objects (`properties` and the
    objects in them) merged key by key, anything else of `more` replacing `base`'s."""
    out = dict(base)
    for key, value in more.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out
