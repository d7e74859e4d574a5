"""The real server application (lanner.server.app.create_app over a Service) served by
uvicorn in a thread on a free loopback port, with events ingested and rules hunted so that
alerts exist."""

from __future__ import annotations

import threading
import time
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import httpx
import uvicorn

from lanner.rules import load_rules
from lanner.server.app import create_app
from lanner.server.service import Service
from lanner.store import EventStore, find_event_files
from lanner.web import web_routes
from tests.server.live import free_port

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "examples" / "rules"
EVENTS = ROOT / "examples" / "events"


@contextmanager
def serve(folder: Path, rules: Sequence[Path] = (RULES,),
          events: Sequence[Path] = (EVENTS,), *,
          unhunted: Collection[str] = ()) -> Iterator[tuple[str, Service]]:
    """The server's URL and its service: the events stored, every rule hunted once over
    them (as `lanner hunt` does: alerts in the store, one per match) but those whose
    rule_id is `unhunted` (loaded, with no alerts yet)."""
    store = EventStore(folder / "store.duckdb")
    loaded, errors = load_rules(list(rules))
    assert not errors, errors
    store.ingest_files(find_event_files([str(path) for path in events]))
    service = Service(store, loaded)
    with service.write_lock:
        service.detector.hunt_many([rule for rule in loaded if rule.rule_id not in unhunted])
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(service, mounts=web_routes(service)),
                                           host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, name="lanner-web-test", daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the server did not start")
        time.sleep(0.05)
    httpx.get(url + "/", timeout=5).raise_for_status()
    try:
        yield url, service
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        service.close()
