"""The alerts index's copy (AlertsView) follows the alert store exactly: built in the
background or on first use, then new, changed and removed alerts, with nothing re-read
when nothing changed."""

from __future__ import annotations

import threading
from typing import Any

from lanner.engine.backends.duckdb import DuckDBBackend
from lanner.server.search import ALERTS_INDEX, AlertsView, Compiled
from lanner.store import EventStore
from lanner.store.alerts import AlertStore


def _alert(number: int) -> dict[str, Any]:
    return {"kibana.alert.uuid": f"a{number}", "@timestamp": f"2026-01-01T00:00:0{number}Z",
            "kibana.alert.original_time": f"2026-01-01T00:00:0{number}Z",
            "kibana.alert.rule.name": "R", "host": {"name": f"h{number}"}}


def _found(view: AlertsView, alerts: AlertStore, query: dict[str, Any]) -> list[str]:
    compiled = Compiled.of(view.target(alerts), {"query": query})
    documents = compiled.target.backend.store.documents(
        row[0] for row in compiled.page(0, 100))
    return sorted(document.id for document in documents.values())


def test_the_copy_follows_the_store() -> None:
    with EventStore() as store:
        alerts = AlertStore(store.con)
        alerts.add([_alert(n) for n in range(3)])
        view = AlertsView(ALERTS_INDEX)
        view.build(alerts, threading.Lock())
        assert view.built
        assert _found(view, alerts, {"match_all": {}}) == ["a0", "a1", "a2"]
        backend = view.refresh(alerts)
        assert view.refresh(alerts) is backend  # unchanged: the same copy, nothing read
        alerts.change_tags(["a1"], add=["seen"])
        alerts.set_status(["a2"], "closed")
        alerts.add([_alert(3)])
        assert _found(view, alerts, {"term": {"kibana.alert.workflow_tags": "seen"}}) == ["a1"]
        assert _found(view, alerts, {"term": {"kibana.alert.workflow_status": "closed"}}) == \
            ["a2"]
        assert _found(view, alerts, {"term": {"kibana.alert.workflow_status": "open"}}) == \
            ["a0", "a1", "a3"]
        assert view.refresh(alerts) is backend  # changes are written into the same copy
        store.con.execute("DELETE FROM alerts WHERE id = 'a0'")  # not through the store:
        alerts.add([_alert(4)])  # the next write through it finds the alert gone
        assert _found(view, alerts, {"match_all": {}}) == ["a1", "a2", "a3", "a4"]
        assert isinstance(view.refresh(alerts), DuckDBBackend)
        assert view.refresh(alerts) is not backend  # started afresh
