"""Kibana's detection engine API with rules of other types than EQL: a KQL query rule runs on
`_bulk_action run` and creates the alerts a hunt finds, `rules/_find` shows each rule's type,
language and type parameters, and an ML rule fails its run with the reason."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from lanner.rules import Rule
from lanner.server.kibana import kibana_routes
from tests.server.test_kibana_api import BULK, FIND, RUN, FakeService, hunted_ids, open_service

POWERSHELL_START = Rule(
    name="PowerShell started (KQL)", rule_id="kql-powershell-start", type="query",
    language="kuery", query="event.category:process and process.name:powershell.exe",
    index=("logs-endpoint.events.*",), severity="medium", risk_score=47)
ML_RULE = Rule(name="Rare process (ML)", rule_id="ml-rare-process", type="machine_learning",
               language=None, query="", machine_learning_job_id=("rare_process_by_host",),
               anomaly_threshold=75)


@pytest.fixture
def service(tmp_path: Path) -> Any:
    svc = open_service(tmp_path / "lanner.duckdb", ingest=True)
    svc.rules = [POWERSHELL_START, ML_RULE]
    with svc.store:
        yield svc


@pytest.fixture
def client(service: FakeService) -> TestClient:
    return TestClient(Starlette(routes=kibana_routes(service)))


def test_a_query_rule_runs_and_an_ml_rule_is_refused_with_the_reason(
        client: TestClient, service: FakeService) -> None:
    expected = hunted_ids(service, [POWERSHELL_START])
    assert expected
    response = client.post(BULK, json={"action": "run", "query": "", "run": RUN})
    assert response.status_code == 400, response.text  # Kibana's "partially failed"
    body = response.json()
    assert body["message"] == "Bulk edit partially failed"
    summary = body["attributes"]["summary"]
    assert summary == {"failed": 1, "skipped": 0, "succeeded": 1, "total": 2}
    (error,) = body["attributes"]["errors"]
    assert error["message"] == ("Lanner cannot run this rule: type machine_learning: "
                                "needs Elastic ML: not run")
    assert error["rules"] == [{"id": error["rules"][0]["id"], "name": ML_RULE.name}]
    stored = service.alerts.find(building_blocks=True)
    assert {a["kibana.alert.uuid"] for a in stored} == expected
    assert {a["kibana.alert.rule.type"] for a in stored} == {"query"}
    assert {a["kibana.alert.rule.rule_type_id"] for a in stored} == {"siem.queryRule"}


def test_find_shows_type_language_and_type_parameters(client: TestClient) -> None:
    found = {r["rule_id"]: r for r in client.get(FIND).json()["data"]}
    query = found[POWERSHELL_START.rule_id]
    assert (query["type"], query["language"]) == ("query", "kuery")
    assert query["query"] == POWERSHELL_START.query
    ml = found[ML_RULE.rule_id]
    assert (ml["type"], ml["language"]) == ("machine_learning", None)
    assert ml["machine_learning_job_id"] == ["rare_process_by_host"]
    assert ml["anomaly_threshold"] == 75
