"""An alert's investigation and the rules' management in Debian's Chromium against the real
server: the example rules (one given investigation fields, one left unhunted for a manual
run) over the example events."""

from __future__ import annotations

import datetime
import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, expect

from lanner.detection.alerts import rule_uuid
from lanner.server import detection_api
from lanner.server.service import Service
from lanner.store.alerts import AlertFilter
from lanner.web import evidence
from tests.web.conftest import Watched, watched_page
from tests.web.live import RULES, serve

HIJACK = "通过更新编排服务劫持实现持久性"  # a process alert: cmd.exe under svchost.exe
WEB_SERVICES = "连接到常用滥用 Web 服务"
SMB = "通过 LOLBin 或不受信任的进程建立 SMB 连接"  # a sequence of two events
BITS_RULE_ID = "f95972d3-c23b-463b-89a8-796b3f369b49"  # loaded, not hunted
INVESTIGATION_FIELDS = ["host.name", "process.parent.name", "process.command_line",
                        "no.such.field"]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Service]]:
    folder = tmp_path_factory.mktemp("investigation")
    rules = folder / "rules"
    shutil.copytree(RULES, rules)
    hijack = rules / "update_orchestrator_hijack.toml"
    names = ", ".join(json.dumps(name) for name in INVESTIGATION_FIELDS)
    hijack.write_text(hijack.read_text(encoding="utf-8").replace(
        "[rule]\n", f"[rule]\ninvestigation_fields = {{field_names = [{names}]}}\n", 1),
        encoding="utf-8")
    with serve(folder, rules=(rules,), unhunted={BITS_RULE_ID}) as served:
        yield served


@pytest.fixture(scope="module")
def ui(browser: Browser, server: tuple[str, Service]) -> Iterator[Watched]:
    yield from watched_page(browser, server[0])


def alert_of(service: Service, rule_name: str) -> dict:
    return next(a for a in service.alerts.find() if a["kibana.alert.rule.name"] == rule_name)


def test_investigation_fields_come_first(ui: Watched, server: tuple[str, Service]) -> None:
    alert = alert_of(server[1], HIJACK)
    ui.goto(f"/app/alerts/{alert['kibana.alert.uuid']}")
    names = ui.page.locator("#investigation-fields th").all_inner_texts()
    values = ui.page.locator("#investigation-fields td").all_inner_texts()
    assert names == INVESTIGATION_FIELDS
    assert values == [alert["host"]["name"], "svchost.exe", alert["process"]["command_line"], ""]
    # Above the event's fields, the guide and everything else of the alert.
    first = ui.page.locator("#investigation").bounding_box()
    for other in ("#event-fields", "#guide", "#why-matched", "#ancestry"):
        assert first["y"] < ui.page.locator(other).bounding_box()["y"], other


def test_process_ancestry_is_walked_through_the_store(ui: Watched,
                                                      server: tuple[str, Service]) -> None:
    alert = alert_of(server[1], HIJACK)
    ui.goto(f"/app/alerts/{alert['kibana.alert.uuid']}")
    chain = ui.page.locator("#ancestry li")
    assert chain.locator(".process-name").all_inner_texts() == [
        "cmd.exe", "svchost.exe", "services.exe"]
    # svchost.exe's start is in the store; services.exe only named by svchost's event.
    assert [chain.nth(n).get_attribute("class") for n in range(3)] == [None, None, "unstored"]
    assert "not in the store" in chain.nth(2).inner_text()
    ui.screenshot("alert-investigation")


def test_why_it_matched_lists_each_events_clauses(ui: Watched,
                                                  server: tuple[str, Service]) -> None:
    alert = alert_of(server[1], HIJACK)
    ui.goto(f"/app/alerts/{alert['kibana.alert.uuid']}")
    clauses = ui.page.locator("#why-matched li")
    texts = clauses.locator("code").all_inner_texts()
    assert texts[0] == 'event.category == "process"'
    assert 'process.parent.args : "UsoSvc"' in texts
    assert clauses.count() == ui.page.locator("#why-matched li.met").count() == 7
    shell = next(a for a in server[1].alerts.find(rule_id=alert_of(
        server[1], SMB)["kibana.alert.rule.rule_id"]) if a.get("kibana.alert.group.id"))
    ui.goto(f"/app/alerts/{shell['kibana.alert.uuid']}")
    events = ui.page.locator("#why-matched .matched")
    assert events.locator("h3").all_inner_texts() == ["Event 1", "Event 2"]
    assert 'event.category == "process"' in events.nth(0).inner_text()
    second = events.nth(1).locator("code").all_inner_texts()
    assert second[0] == 'event.category == "network"' and "destination.port == 445" in second
    assert ui.page.locator("#why-matched li.unmet").count() == 0


def test_related_alerts_on_the_same_host_link_to_the_alerts(ui: Watched,
                                                            server: tuple[str, Service]) -> None:
    service = server[1]
    alert = alert_of(service, HIJACK)
    moment = datetime.datetime.fromisoformat(alert["kibana.alert.original_time"])
    hour = datetime.timedelta(hours=1)
    around = service.alerts.find(host=alert["host"]["name"], since=moment - hour,
                                 until=moment + hour)
    others = {a["kibana.alert.uuid"] for a in around} - {alert["kibana.alert.uuid"]}
    assert others
    ui.goto(f"/app/alerts/{alert['kibana.alert.uuid']}")
    links = ui.page.locator("#related li a")
    assert {links.nth(n).get_attribute("href").rsplit("/", 1)[1]
            for n in range(links.count())} == others
    links.first.click()
    ui.page.wait_for_url(re.compile(r"/app/alerts/"))
    assert ui.page.url.rsplit("/", 1)[1] in others
    ui.page.go_back()
    ui.page.click("#related-all")
    ui.page.wait_for_url(re.compile(r"host=.*from=.*to="))
    assert ui.page.locator("#alert-total").inner_text() == str(len(around))


def test_investigate_link_opens_the_events_search_with_results(
        ui: Watched, server: tuple[str, Service]) -> None:
    alert = alert_of(server[1], WEB_SERVICES)
    ui.goto(f"/app/alerts/{alert['kibana.alert.uuid']}")
    links = ui.page.locator("#guide a.investigate")
    assert links.count() == 3  # the guide's three investigate blocks
    ui.page.locator("#guide li", has_text="调查受试进程网络事件").locator(
        "a.investigate").click()
    ui.page.wait_for_url(re.compile(r"/app/search\?"))
    entity = alert["process"]["entity_id"]
    assert ui.page.locator("#language").input_value() == "kql"
    assert ui.page.locator("#query").input_value() == (
        f'process.entity_id: "{entity}" and event.category: "network"')
    with server[1].write_lock:
        expected = server[1].client.eql.search("*", body={
            "query": f'network where process.entity_id == "{entity}"', "size": 100})
    total = expected["hits"]["total"]["value"]
    assert total >= 1
    assert ui.page.locator("#search-total").inner_text().startswith(f"{total} hit")
    rows = ui.page.locator("#results table.hits > tbody > tr")
    assert rows.count() == total
    assert set(rows.locator("> td:nth-child(2)").all_inner_texts()) == {"network"}


def test_investigate_links_carry_the_relative_time_range(ui: Watched,
                                                         server: tuple[str, Service]) -> None:
    alert = alert_of(server[1], WEB_SERVICES)
    ui.goto(f"/app/alerts/{alert['kibana.alert.uuid']}")
    ui.page.locator("#guide a.investigate").first.click()
    ui.page.wait_for_url(re.compile(r"/app/search\?"))
    moment = datetime.datetime.fromisoformat(alert["kibana.alert.original_time"])
    start = (moment - datetime.timedelta(hours=48)).replace(minute=0, second=0, microsecond=0)
    assert ui.page.locator("#search-from").input_value() == (
        start.isoformat(timespec="milliseconds").replace("+00:00", "Z"))
    assert ui.page.locator("#search-to").input_value() == alert["kibana.alert.original_time"]
    assert ui.page.locator("#query").input_value() == (
        f'event.kind: "signal" and user.id: "{alert["user"]["id"]}"')


def test_kql_search_with_a_filter_and_errors_at_their_place(ui: Watched,
                                                            server: tuple[str, Service]) -> None:
    ui.goto("/app/search")
    ui.page.select_option("#language", "kql")
    ui.page.fill("#query", 'process.name: "rundll32.exe" and event.category: network')
    ui.page.locator("#search-form details summary").click()
    ui.page.fill("#search-filter", '{"match_phrase": {"host.name": "WS-FIN-042"}}')
    ui.page.click("#run")
    ui.page.wait_for_url(re.compile(r"lang=kql"))
    with server[1].write_lock:
        expected = server[1].client.eql.search("*", body={
            "query": 'network where process.name == "rundll32.exe" and '
                     'host.name == "WS-FIN-042"', "size": 100})["hits"]["total"]["value"]
    assert expected >= 1
    rows = ui.page.locator("#results table.hits > tbody > tr")
    assert rows.count() == expected
    assert set(rows.locator("> td:nth-child(5)").all_inner_texts()) == {"rundll32.exe"}
    ui.page.fill("#query", 'process.name: "a" and\n  (event.category: network')
    ui.page.click("#run")
    ui.page.wait_for_load_state("load")
    assert "line 2, column" in ui.page.locator("#search-error").inner_text()


def rules_api(base: str) -> dict[str, bool]:
    found = httpx.get(base + "/api/detection_engine/rules/_find",
                      params={"per_page": 100}).json()
    return {rule["rule_id"]: rule["enabled"] for rule in found["data"]}


def test_disable_and_enable_a_rule_from_the_ui(ui: Watched, server: tuple[str, Service]) -> None:
    base, service = server
    rule = next(r for r in service.rules if r.name == WEB_SERVICES)
    assert rules_api(base)[rule.rule_id] is True
    ui.goto("/app/rules")
    row = ui.page.locator(f'#rules tr[data-rule-id="{rule.rule_id}"]')
    row.locator("button.toggle-button").click()
    ui.page.wait_for_load_state("load")
    assert ui.page.url == base + "/app/rules"
    row = ui.page.locator(f'#rules tr[data-rule-id="{rule.rule_id}"]')
    assert row.locator(".state").inner_text() == "no"
    assert rules_api(base)[rule.rule_id] is False
    assert detection_api.is_enabled(service, rule) is False
    ui.goto("/app/rules?enabled=false")
    assert ui.page.locator("#rules tbody tr td.rule a").all_inner_texts() == [WEB_SERVICES]
    ui.goto(f"/app/rules/{rule.rule_id}")
    assert ui.page.locator("#rule-enabled").inner_text() == "no"
    ui.page.click("#rule-toggle")
    ui.page.wait_for_load_state("load")
    assert ui.page.locator("#rule-enabled").inner_text() == "yes"
    assert rules_api(base)[rule.rule_id] is True


def test_rule_page_shows_query_schedule_guide_and_counts(ui: Watched,
                                                         server: tuple[str, Service]) -> None:
    service = server[1]
    rule = next(r for r in service.rules if r.name == WEB_SERVICES)
    ui.goto(f"/app/rules/{rule.rule_id}")
    expect(ui.page.locator("#rule-title")).to_contain_text(WEB_SERVICES)
    query = ui.page.locator("#rule-query").inner_text()
    assert query.startswith("network where") and 'dns.question.name : ("raw.githubusercontent' \
        in query
    schedule = ui.page.locator("#rule-schedule").inner_text()
    assert f"every {rule.interval}, from {rule.from_} to {rule.to}" in schedule
    assert "分类和分析" in ui.page.locator("#guide").inner_text()
    count = service.alerts.count(AlertFilter(rule_id=rule.rule_id))
    assert ui.page.locator("#rule-alerts").inner_text() == f"{count} ({count} open)"
    ui.screenshot("rule")


def test_run_now_over_a_range_creates_alerts(ui: Watched, server: tuple[str, Service]) -> None:
    base, service = server
    assert service.alerts.count(AlertFilter(rule_id=BITS_RULE_ID)) == 0
    ui.goto(f"/app/rules/{BITS_RULE_ID}")
    assert "never" in ui.page.locator("#rule-last-run").inner_text()
    ui.page.fill("#run-start", "2026-11-20T09:00")
    ui.page.fill("#run-end", "2026-11-20T11:00")
    ui.page.click("#run-now")
    ui.page.wait_for_url(re.compile(r"outcome="))
    created = service.alerts.count(AlertFilter(rule_id=BITS_RULE_ID))
    assert created == 1
    assert ui.page.locator("#run-outcome").inner_text() == "Run finished: 1 alert(s) created"
    last = ui.page.locator("#rule-last-run").inner_text()
    assert "succeeded" in last and "(manual)" in last and "1 alert(s)" in last
    found = httpx.post(base + "/api/detection_engine/signals/search", json={
        "query": {"term": {"kibana.alert.rule.rule_id": BITS_RULE_ID}}}).json()
    assert found["hits"]["total"]["value"] == 1
    assert ui.page.locator("#rule-alerts").inner_text() == "1 (1 open)"


def test_attack_matrix_counts_enabled_rules(ui: Watched, server: tuple[str, Service]) -> None:
    service = server[1]
    expected: dict[str, dict[str, set[str]]] = {}
    for rule in service.rules:
        for threat in rule.threat:
            cells = expected.setdefault(threat.tactic.name, {})
            for technique in threat.techniques:
                cells.setdefault(technique.id, set()).add(rule.rule_id)
    ui.goto("/app/rules/attack")
    tactics = ui.page.locator("#attack-matrix .tactic")
    assert [tactics.nth(n).get_attribute("data-tactic") for n in range(tactics.count())] == [
        name for name in ("Execution", "Persistence", "Privilege Escalation", "Defense Evasion",
                          "Lateral Movement", "Command and Control", "Exfiltration")
        if name in expected]
    for n in range(tactics.count()):
        tactic = tactics.nth(n)
        cells = tactic.locator("li")
        shown = {cells.nth(i).get_attribute("data-technique"):
                 int(cells.nth(i).locator(".count").inner_text()) for i in range(cells.count())}
        wanted = expected[tactic.get_attribute("data-tactic")]
        assert shown == {tid: len(rules) for tid, rules in wanted.items()}
    assert len(expected["Command and Control"]["T1105"]) == 2
    ui.screenshot("attack")
    ui.page.locator('#attack-matrix li[data-technique="T1105"] a').first.click()
    ui.page.wait_for_url(re.compile(r"technique=T1105"))
    assert ui.page.locator("#rules tbody tr").count() == 2
    # A disabled rule leaves the matrix.
    rule = next(r for r in service.rules if "T1197" in r.technique_ids)
    detection_api.bulk_action(service, "disable", ids=[rule_uuid(rule)])
    ui.goto("/app/rules/attack")
    assert ui.page.locator('#attack-matrix li[data-technique="T1197"]').count() == 0
    detection_api.bulk_action(service, "enable", ids=[rule_uuid(rule)])


def test_tags_assignee_and_notes_stay_and_show_through_the_api(
        ui: Watched, server: tuple[str, Service]) -> None:
    base, service = server
    alert = alert_of(service, SMB)
    alert_id = alert["kibana.alert.uuid"]
    ui.goto(f"/app/alerts/{alert_id}")
    ui.page.fill("#tag-add", "lateral, needs-review")
    ui.page.click("#tag-apply")
    ui.page.wait_for_load_state("load")
    ui.page.fill("#assignee-add", "u_alice")
    ui.page.click("#assignee-apply")
    ui.page.wait_for_load_state("load")
    note = "<script>alert(1)</script> {{host.name}} 已确认"
    ui.page.fill("#note-text", note)
    ui.page.fill("#note-author", "alice")
    ui.page.click("#note-add")
    ui.page.wait_for_load_state("load")
    ui.page.reload()
    assert ui.page.locator("#alert-tags .tag").all_inner_texts() == ["lateral", "needs-review"]
    assert ui.page.locator("#alert-assignees .tag").all_inner_texts() == ["u_alice"]
    shown = ui.page.locator("#alert-notes li").first
    assert shown.locator(".wrap").inner_text() == note  # text, not markup
    assert "alice" in shown.inner_text()
    (hit,) = httpx.post(base + "/api/detection_engine/signals/search", json={
        "query": {"ids": {"values": [alert_id]}}}).json()["hits"]["hits"]
    source = hit["_source"]
    assert source["kibana.alert.workflow_tags"] == ["lateral", "needs-review"]
    assert source["kibana.alert.workflow_assignee_ids"] == ["u_alice"]
    assert [(n["text"], n["author"]) for n in source["lanner.notes"]] == [(note, "alice")]
    ui.goto("/app/?tag=needs-review")
    assert ui.page.locator("#alerts tbody tr").count() == 1
    assert ui.page.locator("#alerts tbody tr").get_attribute("data-id") == alert_id
    ui.page.locator("#alerts td.tags a", has_text="lateral").click()
    ui.page.wait_for_url(re.compile(r"tag=lateral"))
    assert ui.page.locator("#alerts tbody tr").count() == 1
    ui.goto("/app/?assignee=u_alice")
    assert ui.page.locator("#alert-total").inner_text() == "1"
    ui.goto(f"/app/alerts/{alert_id}")
    ui.page.get_by_role("button", name="Remove tag lateral").click()
    ui.page.wait_for_load_state("load")
    assert ui.page.locator("#alert-tags .tag").all_inner_texts() == ["needs-review"]
    assert service.alerts.get(alert_id)["kibana.alert.workflow_tags"] == ["needs-review"]


def test_nothing_left_the_machine_and_nothing_failed(ui: Watched) -> None:
    assert ui.requests and ui.foreign() == []
    assert ui.errors == [] and ui.dialogs == []


def test_screenshots_are_pngs() -> None:
    for name in ("alert-investigation", "rule", "attack"):
        png = Path(__file__).resolve().parents[2] / "docs" / "screenshots" / f"{name}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_why_it_matched_says_when_the_event_is_gone(server: tuple[str, Service]) -> None:
    service = server[1]
    alert = dict(alert_of(service, HIJACK))
    rule = next(r for r in service.rules if r.rule_id == alert["kibana.alert.rule.rule_id"])
    alert["kibana.alert.ancestors"] = [{"id": "no-such-event", "type": "event", "depth": 0,
                                        "index": "logs-endpoint.events.process-default"}]
    with service.write_lock:
        (matched,) = evidence.why_matched(service, rule, [alert])
    assert matched.error == "the event is no longer in the store" and matched.clauses == ()
