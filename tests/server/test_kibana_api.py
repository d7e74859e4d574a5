"""Kibana's detection engine API over a real service: the example rules and events in a store
on disk, driven over HTTP with Starlette's test client (httpx)."""

from __future__ import annotations

import datetime
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from lanner.detection.alerts import rule_uuid
from lanner.detection.run import Detector
from lanner.engine.backends.duckdb import DuckDBBackend
from lanner.rules import Rule, load_rules
from lanner.server.detection_api import enabled_rules
from lanner.server.kibana import kibana_routes
from lanner.server.service import Service
from lanner.store import EventStore, find_event_files
from lanner.store.alerts import AlertStore
from lanner.store.runs import RunLog, RunRecord

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "examples" / "rules"
EVENTS = ROOT / "examples" / "events"
# The example events lie within a few minutes of 2026-11-20T10:00:00Z.
RUN = {"start_date": "2026-11-20T09:50:00.000Z", "end_date": "2026-11-20T10:20:00.000Z"}
SEARCH = "/api/detection_engine/signals/search"
STATUS = "/api/detection_engine/signals/status"
BULK = "/api/detection_engine/rules/_bulk_action"
FIND = "/api/detection_engine/rules/_find"


@dataclass
class FakeService:
    """What the routes need of lanner.server.service.Service, built from the parts."""

    store: EventStore
    alerts: AlertStore
    detector: Detector
    rules: list[Rule]
    write_lock: threading.Lock = field(default_factory=threading.Lock)


def open_service(db: Path, *, ingest: bool) -> FakeService:
    store = EventStore(db)
    alerts = AlertStore(store.con)
    rules, errors = load_rules([RULES])
    assert not errors and len(rules) == 5
    if ingest:
        store.ingest_files(find_event_files([str(EVENTS)]))
    return FakeService(store, alerts, Detector(DuckDBBackend(store), alerts), rules)


@pytest.fixture
def service(tmp_path: Path) -> Any:
    svc = open_service(tmp_path / "lanner.duckdb", ingest=True)
    with svc.store:
        yield svc


@pytest.fixture
def client(service: FakeService) -> TestClient:
    return TestClient(Starlette(routes=kibana_routes(service)))


def hunted_ids(service: FakeService, rules: list[Rule]) -> set[str]:
    """The alert ids `lanner hunt` finds for these rules over the same events."""
    reports = Detector(DuckDBBackend(service.store)).hunt_many(rules)
    return {alert_id for report in reports for alert_id in report.created}


def search(client: TestClient, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post(SEARCH, json=body)
    assert response.status_code == 200, response.text
    return response.json()


def test_a_manual_run_creates_the_alerts_a_hunt_finds(client: TestClient,
                                                      service: FakeService) -> None:
    expected = hunted_ids(service, service.rules)
    assert len(expected) >= 5

    response = client.post(BULK, json={"action": "run", "query": "", "run": RUN})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["success"] is True and body["rules_count"] == 5
    assert body["attributes"]["summary"] == {"failed": 0, "skipped": 0, "succeeded": 5,
                                             "total": 5}
    assert {r["rule_id"] for r in body["attributes"]["results"]["updated"]} == {
        r.rule_id for r in service.rules}
    stored = {a["kibana.alert.uuid"] for a in service.alerts.find(building_blocks=True)}
    assert stored == expected

    hits = search(client, {"query": {"match_all": {}}, "size": 100})["hits"]
    assert hits["total"] == {"value": len(expected), "relation": "eq"}
    assert {h["_id"] for h in hits["hits"]} == expected
    assert all(h["_source"]["kibana.alert.rule.execution.type"] == "manual"
               for h in hits["hits"])

    # a second run over the same range finds the same alerts and stores none again
    again = client.post(BULK, json={"action": "run", "query": "", "run": RUN})
    assert again.status_code == 200
    assert len(service.alerts) == len(expected)


def test_find_shows_rules_with_their_last_execution(client: TestClient,
                                                    service: FakeService) -> None:
    before = client.get(FIND).json()
    assert before["page"] == 1 and before["perPage"] == 20 and before["total"] == 5
    assert all("execution_summary" not in rule for rule in before["data"])

    client.post(BULK, json={"action": "run", "query": "", "run": RUN})
    found = client.get(FIND, params={"sort_field": "name", "sort_order": "desc",
                                     "per_page": 2, "page": 2}).json()
    names = sorted((r.name for r in service.rules), reverse=True)
    assert found["total"] == 5 and found["perPage"] == 2
    assert [r["name"] for r in found["data"]] == names[2:4]
    rule = found["data"][0]
    for key in ("id", "rule_id", "name", "enabled", "type", "language", "query", "index",
                "interval", "from", "max_signals", "risk_score", "severity", "tags", "threat"):
        assert key in rule
    assert rule["type"] == "eql" and rule["language"] == "eql" and rule["enabled"] is True
    last = rule["execution_summary"]["last_execution"]
    assert last["status"] == "succeeded" and last["status_order"] == 0
    assert last["message"] == "Rule execution completed successfully"
    assert last["date"].endswith("Z") and "total_search_duration_ms" in last["metrics"]

    target = service.rules[0]
    by_name = client.get(FIND, params={"filter": f'alert.attributes.name: "{target.name}"'})
    assert [r["rule_id"] for r in by_name.json()["data"]] == [target.rule_id]
    tag = target.tags[0]
    tagged = client.get(FIND, params={"filter": f'alert.attributes.tags: "{tag}"'}).json()
    assert target.rule_id in {r["rule_id"] for r in tagged["data"]}
    assert tagged["total"] == sum(tag in r.tags for r in service.rules)


def test_signals_status_closes_alerts_and_open_search_finds_none(
        client: TestClient, service: FakeService) -> None:
    client.post(BULK, json={"action": "run", "query": "", "run": RUN})
    open_query = {"bool": {"filter": [{"term": {"kibana.alert.workflow_status": "open"}}]}}
    first = search(client, {"query": open_query, "size": 2,
                            "sort": [{"kibana.alert.original_time": {"order": "asc"}}],
                            "aggs": {"rules": {"terms": {"field": "kibana.alert.rule.name"}}}})
    total = first["hits"]["total"]["value"]
    assert total == len(service.alerts) and len(first["hits"]["hits"]) == 2
    times = [h["_source"]["kibana.alert.original_time"] for h in first["hits"]["hits"]]
    assert times == sorted(times)
    buckets = first["aggregations"]["rules"]["buckets"]
    assert sum(b["doc_count"] for b in buckets) == total and len(buckets) == 5

    one = first["hits"]["hits"][0]["_id"]
    closed = client.post(STATUS, json={"signal_ids": [one], "status": "closed"})
    assert closed.status_code == 200 and closed.json()["updated"] == 1
    assert service.alerts.get(one)["kibana.alert.workflow_status"] == "closed"

    rest = client.post(STATUS, json={"query": open_query, "status": "closed"}).json()
    assert rest["updated"] == rest["total"] == total - 1 and rest["failures"] == []
    nothing = search(client, {"query": open_query})
    assert nothing["hits"]["total"]["value"] == 0 and nothing["hits"]["hits"] == []

    ack = client.post(STATUS, json={"signal_ids": [one], "status": "acknowledged"}).json()
    assert ack["updated"] == 1
    ranged = search(client, {"query": {"bool": {"must": [
        {"terms": {"kibana.alert.workflow_status": ["acknowledged"]}},
        {"range": {"kibana.alert.original_time": {"gte": "2026-11-20T09:00:00Z",
                                                  "lt": "now"}}}]}}})
    assert [h["_id"] for h in ranged["hits"]["hits"]] == [one]


def test_a_disabled_rule_is_not_run_and_stays_disabled(tmp_path: Path) -> None:
    db = tmp_path / "lanner.duckdb"
    service = open_service(db, ingest=True)
    with service.store:
        client = TestClient(Starlette(routes=kibana_routes(service)))
        off = service.rules[0]
        response = client.post(BULK, json={"action": "disable", "ids": [rule_uuid(off)]})
        assert response.status_code == 200
        assert [r["enabled"] for r in response.json()["attributes"]["results"]["updated"]] \
            == [False]
        again = client.post(BULK, json={"action": "disable", "ids": [rule_uuid(off)]}).json()
        assert again["attributes"]["results"]["skipped"] == [
            {"id": rule_uuid(off), "name": off.name, "skip_reason": "RULE_NOT_MODIFIED"}]

        run = client.post(BULK, json={"action": "run", "query": "", "run": RUN})
        assert run.status_code == 400
        body = run.json()
        assert body["message"] == "Bulk edit partially failed"
        assert body["attributes"]["summary"] == {"failed": 1, "skipped": 0, "succeeded": 4,
                                                 "total": 5}
        (error,) = body["attributes"]["errors"]
        assert error["err_code"] == "MANUAL_RULE_RUN_DISABLED_RULE"
        assert error["message"] == "Cannot schedule manual rule run for a disabled rule"
        assert error["rules"] == [{"id": rule_uuid(off), "name": off.name}]
        others = [r for r in service.rules if r != off]
        stored = {a["kibana.alert.uuid"] for a in service.alerts.find(building_blocks=True)}
        assert stored == hunted_ids(service, others)
        assert service.alerts.count() and not service.alerts.find(rule_id=off.rule_id)
        assert enabled_rules(service) == others  # what the scheduler runs
        with service.write_lock:
            assert enabled_rules(service, lock=False) == others

    service = open_service(db, ingest=False)  # a restart keeps the rule disabled
    with service.store:
        client = TestClient(Starlette(routes=kibana_routes(service)))
        found = client.get(FIND, params={"filter": "alert.attributes.enabled: false"}).json()
        assert [r["rule_id"] for r in found["data"]] == [off.rule_id]
        assert "execution_summary" not in found["data"][0]
        enabled = client.post(BULK, json={"action": "enable",
                                           "query": "alert.attributes.enabled: false"})
        assert enabled.json()["attributes"]["summary"]["succeeded"] == 1
        run = client.post(BULK, json={"action": "run", "ids": [rule_uuid(off)], "run": RUN})
        assert run.status_code == 200, run.text
        assert service.alerts.find(rule_id=off.rule_id)


@pytest.mark.parametrize(("method", "path", "body", "status"), [
    ("post", BULK, {"action": "delete", "query": ""}, 400),
    ("post", BULK, {"action": "run", "query": ""}, 400),
    ("post", BULK, {"action": "run", "query": "", "run": {"start_date": "yesterday"}}, 400),
    ("post", BULK, {"action": "run", "query": "",
                    "run": {"start_date": RUN["end_date"], "end_date": RUN["start_date"]}}, 400),
    ("post", BULK, {"action": "enable", "query": "", "ids": ["x"]}, 400),
    ("post", BULK, {"action": "enable", "query": 'alert.attributes.name: ("x"'}, 400),
    ("post", BULK, [1, 2], 400),
    ("post", SEARCH, {"query": {"no_such_query": {}}}, 400),
    ("post", SEARCH, {"query": {"term": {"a": 1, "b": 2}}}, 400),
    ("post", SEARCH, {"size": -1}, 400),
    ("post", SEARCH, {"size": 10001}, 400),
    ("post", SEARCH, {"aggs": {"x": {"date_histogram": {"field": "@timestamp"}}}}, 400),
    ("post", SEARCH, {"sort": [{"@timestamp": "sideways"}]}, 400),
    ("post", STATUS, {"signal_ids": ["a"], "status": "resolved"}, 400),
    ("post", STATUS, {"status": "closed"}, 400),
    ("post", STATUS, {"signal_ids": "a", "status": "closed"}, 400),
    ("get", FIND + "?page=0", None, 400),
    ("get", FIND + "?per_page=ten", None, 400),
    ("get", FIND + "?sort_field=color", None, 400),
])
def test_bad_input_gets_kibanas_error_body(client: TestClient, method: str, path: str,
                                           body: Any, status: int) -> None:
    response = (client.get(path) if method == "get" else client.post(path, json=body))
    assert response.status_code == status, response.text
    error = response.json()
    assert error["statusCode"] == status and error["error"] == "Bad Request"
    assert isinstance(error["message"], str) and error["message"]


def test_a_body_that_is_not_json_is_a_400(client: TestClient) -> None:
    response = client.post(SEARCH, content=b"{nope", headers={"content-type":
                                                                "application/json"})
    assert response.status_code == 400 and response.json()["statusCode"] == 400
    unknown = client.post(BULK, json={"action": "enable", "ids": ["no-such-rule"]})
    assert unknown.status_code == 400
    assert unknown.json()["attributes"]["errors"][0]["status_code"] == 404


def test_find_reports_a_scheduled_run_with_a_gap_from_the_run_log(
        client: TestClient, service: FakeService) -> None:
    rule = service.rules[1]
    gap = ("10 minutes (600000ms) were not queried between this rule execution and the last "
           "execution, so signals may have been missed. Consider increasing your look behind "
           "time or adding more Kibana instances")
    log = RunLog(service.store.con)
    log.record(RunRecord(rule_uuid(rule), rule.rule_id,
                         datetime.datetime(2026, 12, 1, 10, 0, tzinfo=datetime.UTC),
                         "succeeded", 0, None))
    log.record(RunRecord(rule_uuid(rule), rule.rule_id,
                         datetime.datetime(2026, 12, 1, 10, 30, tzinfo=datetime.UTC),
                         "failed", 2, gap))
    (found,) = client.get(FIND, params={"filter": f'alert.attributes.rule_id: "{rule.rule_id}"'}
                          ).json()["data"]
    last = found["execution_summary"]["last_execution"]
    assert last["date"] == "2026-12-01T10:30:00.000Z"
    assert (last["status"], last["status_order"], last["message"]) == ("failed", 30, gap)
    assert last["metrics"]["execution_gap_duration_s"] == 600
    worst = client.get(FIND, params={"sort_field": "execution_summary.last_execution.status",
                                     "sort_order": "desc"}).json()["data"]
    assert worst[0]["rule_id"] == rule.rule_id


def test_search_by_rule_and_status_reads_the_same_alerts_as_the_store(
        client: TestClient, service: FakeService) -> None:
    client.post(BULK, json={"action": "run", "query": "", "run": RUN})
    rule = service.rules[2]
    query = {"bool": {"filter": [{"terms": {"kibana.alert.rule.rule_id": [rule.rule_id]}},
                                 {"term": {"kibana.alert.workflow_status": {"value": "open"}}}],
                      "must_not": [{"term": {"kibana.alert.severity": "none"}}]}}
    hits = search(client, {"query": query, "size": 100, "_source": ["kibana.alert.rule.*"]})
    expected = {a["kibana.alert.uuid"] for a in service.alerts.find(rule_id=rule.rule_id,
                                                                 building_blocks=True)}
    assert expected and {h["_id"] for h in hits["hits"]["hits"]} == expected
    assert all(set(h["_source"]) and all(k.startswith("kibana.alert.rule.")
                                         for k in h["_source"]) for h in hits["hits"]["hits"])
    conflicting = {"bool": {"filter": [{"term": {"kibana.alert.workflow_status": "open"}},
                                       {"term": {"kibana.alert.workflow_status": "closed"}}]}}
    assert search(client, {"query": conflicting})["hits"]["total"]["value"] == 0


def test_the_scheduler_runs_only_the_rules_enabled_now(tmp_path: Path) -> None:
    """A rule disabled through _bulk_action leaves the server's schedule at its next round,
    and comes back when enabled again."""
    rules, errors = load_rules([RULES])
    assert not errors
    service = Service(EventStore(tmp_path / "lanner.duckdb"), rules)
    try:
        client = TestClient(Starlette(routes=kibana_routes(service)))
        off = rules[0]
        assert client.post(BULK, json={"action": "disable",
                                        "ids": [rule_uuid(off)]}).status_code == 200
        ran = {run.rule.rule_id for run in service.tick().runs}
        assert ran == {rule.rule_id for rule in rules[1:]}
        assert client.post(BULK, json={"action": "enable",
                                        "ids": [rule_uuid(off)]}).status_code == 200
        service.tick()
        assert service.scheduler.rules == rules
    finally:
        service.close()


def test_an_internal_fault_is_a_500_in_kibanas_shape(tmp_path: Path) -> None:
    """A store that is gone (closed under the server) is Lanner's fault, not the caller's:
    Kibana's 500 body, not a 400 that blames the request."""
    broken = open_service(tmp_path / "lanner.duckdb", ingest=False)
    broken.store.close()
    client = TestClient(Starlette(routes=kibana_routes(broken)), raise_server_exceptions=False)
    response = client.get(FIND)
    assert response.status_code == 500
    assert response.json() == {"statusCode": 500, "error": "Internal Server Error",
                               "message": "An internal server error occurred."}
