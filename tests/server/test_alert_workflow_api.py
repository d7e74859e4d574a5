"""Kibana's signals/tags and signals/assignees against a real `lanner serve --http`: the
change reads back through signals/search, the alerts index and the triage UI (the same
AlertStore methods), and bad input gets Kibana's error bodies."""

from __future__ import annotations

import datetime
import time

import httpx
import pytest

from tests.server.live import Server

ALERTS = ".alerts-security.alerts-default"
API = "/api/detection_engine/signals"
HEADERS = {"kbn-xsrf": "true"}


@pytest.fixture(scope="module")
def alert_id(server: Server) -> str:
    """The id of the alert live.py's rule raises on an evil.exe event shipped now."""
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    shipped = httpx.post(f"{server.url}/_bulk?refresh=true", headers={
        "content-type": "application/x-ndjson"}, content=(
        '{"create": {"_index": "logs-live-default"}}\n'
        f'{{"@timestamp": "{now}", "event": {{"category": "process", "type": "start"}}, '
        '"process": {"name": "evil.exe"}, "host": {"name": "tagged"}}\n'))
    assert shipped.status_code == 200, shipped.text
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found = httpx.post(f"{server.url}{API}/search", headers=HEADERS, json={}).json()
        if found["hits"]["hits"]:
            return found["hits"]["hits"][0]["_id"]
        time.sleep(0.5)
    raise AssertionError("no alert within 60 s")


def _post(server: Server, path: str, body: object) -> httpx.Response:
    return httpx.post(f"{server.url}{API}/{path}", headers=HEADERS, json=body)


def _source(server: Server, alert_id: str) -> dict[str, object]:
    found = httpx.post(f"{server.url}{API}/search", headers=HEADERS, json={
        "query": {"ids": {"values": [alert_id]}}}).json()
    assert [hit["_id"] for hit in found["hits"]["hits"]] == [alert_id]
    return found["hits"]["hits"][0]["_source"]


def test_tags_added_and_removed_read_back_everywhere(server: Server, alert_id: str) -> None:
    tagged = _post(server, "tags", {"ids": [alert_id, "unknown-alert"], "tags": {
        "tags_to_add": ["Duplicate", "Escalated", "Escalated"], "tags_to_remove": []}})
    assert tagged.status_code == 200, tagged.text
    body = tagged.json()
    assert (body["total"], body["updated"], body["failures"], body["version_conflicts"]) == \
        (1, 1, [], 0)
    assert _source(server, alert_id)["kibana.alert.workflow_tags"] == ["Duplicate", "Escalated"]
    # the alerts index and the triage UI (AlertStore.find(tag=...)) see it at once
    by_tag = httpx.post(f"{server.url}/{ALERTS}/_search", json={
        "query": {"term": {"kibana.alert.workflow_tags": "Escalated"}}}).json()
    assert [hit["_id"] for hit in by_tag["hits"]["hits"]] == [alert_id]
    page = httpx.get(f"{server.url}/app/", params={"tag": "Escalated", "status": "all"})
    assert page.status_code == 200 and alert_id in page.text
    untagged = _post(server, "tags", {"ids": [alert_id], "tags": {
        "tags_to_add": [], "tags_to_remove": ["Escalated"]}})
    assert untagged.json()["updated"] == 1
    assert _source(server, alert_id)["kibana.alert.workflow_tags"] == ["Duplicate"]
    page = httpx.get(f"{server.url}/app/", params={"tag": "Escalated", "status": "all"})
    assert page.status_code == 200 and alert_id not in page.text


def test_assignees_added_and_removed(server: Server, alert_id: str) -> None:
    assigned = _post(server, "assignees", {"ids": [alert_id], "assignees": {
        "add": ["u_analyst_1", "u_analyst_2"], "remove": []}})
    assert assigned.status_code == 200, assigned.text
    assert (assigned.json()["total"], assigned.json()["updated"]) == (1, 1)
    assert _source(server, alert_id)["kibana.alert.workflow_assignee_ids"] == [
        "u_analyst_1", "u_analyst_2"]
    page = httpx.get(f"{server.url}/app/", params={"assignee": "u_analyst_2", "status": "all"})
    assert alert_id in page.text
    _post(server, "assignees", {"ids": [alert_id], "assignees": {
        "add": [], "remove": ["u_analyst_1"]}})
    assert _source(server, alert_id)["kibana.alert.workflow_assignee_ids"] == ["u_analyst_2"]


def test_bad_input_gets_kibanas_errors(server: Server, alert_id: str) -> None:
    both = _post(server, "tags", {"ids": [alert_id], "tags": {
        "tags_to_add": ["a", "b"], "tags_to_remove": ["b"]}})
    assert both.status_code == 400
    assert both.json() == {"message": [
        'Duplicate tags ["b"] were found in the tags_to_add and tags_to_remove parameters.'],
        "status_code": 400}
    both = _post(server, "assignees", {"ids": [alert_id], "assignees": {
        "add": ["u1"], "remove": ["u1"]}})
    assert both.status_code == 400
    assert both.json()["message"] == [
        'Duplicate assignees ["u1"] were found in the add and remove parameters.']
    missing = _post(server, "tags", {"ids": [alert_id]})
    assert missing.status_code == 400
    assert missing.json() == {"statusCode": 400, "error": "Bad Request",
                              "message": "[request body]: tags: Required"}
    empty = _post(server, "assignees", {"ids": [], "assignees": {"add": [], "remove": []}})
    assert empty.status_code == 400
    assert empty.json()["message"].startswith("[request body]: ids: Too small")
    wrong = _post(server, "tags", {"ids": [alert_id], "tags": {"tags_to_add": "x",
                                                               "tags_to_remove": []}})
    assert wrong.json()["message"] == "[request body]: tags.tags_to_add: Expected array of strings"
    # nothing above changed the alert
    tags = _source(server, alert_id).get("kibana.alert.workflow_tags") or []
    assert not {"a", "b", "x"} & set(tags)
