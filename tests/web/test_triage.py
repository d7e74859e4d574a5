"""The triage UI as an analyst uses it, in Debian's Chromium against the real server with the
example rules hunted over the example events: 8 alerts of 5 rules, named in Chinese."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
from playwright.sync_api import expect

from lanner.server.service import Service
from lanner.store.alerts import AlertFilter
from tests.cli.test_report_html import RULE_NAMES
from tests.web.conftest import Watched

WEB_SERVICES = "连接到常用滥用 Web 服务"


def rule_cells(ui: Watched) -> list[str]:
    return ui.page.locator("#alerts tbody td.rule").all_inner_texts()


def test_alerts_page_lists_every_alert_with_its_chinese_rule_name(ui: Watched) -> None:
    ui.goto("/app")  # redirected to /app/
    assert ui.page.url == ui.base + "/app/"
    assert ui.page.locator("#alert-total").inner_text() == "8"
    names = rule_cells(ui)
    assert len(names) == 8 and set(names) == RULE_NAMES
    groups = ui.page.locator("#groups li")
    assert groups.count() == 5
    counts = [int(n) for n in ui.page.locator("#groups .count").all_inner_texts()]
    assert sum(counts) == 8
    assert f"{WEB_SERVICES} 4" in ui.page.locator("#groups").inner_text().replace("\n", " ")
    ui.screenshot("alerts")


def test_filter_by_severity_is_in_the_url_and_back_works(ui: Watched,
                                                         server: tuple[str, Service]) -> None:
    ui.goto("/app/")
    ui.page.select_option('#filters select[name="severity"]', "medium")
    ui.page.click('#filters button[type="submit"]')
    ui.page.wait_for_url(re.compile(r"severity=medium"))
    expected = server[1].alerts.count(AlertFilter(severity="medium", status="open"))
    assert 0 < expected < 8
    assert ui.page.locator("#alerts tbody tr").count() == expected
    badges = ui.page.locator("#alerts tbody .sev").all_inner_texts()
    assert set(badges) == {"medium"}
    ui.page.go_back()
    ui.page.wait_for_url(ui.base + "/app/")
    assert len(rule_cells(ui)) == 8
    ui.goto("/app/?status=all&rule=" + server[1].alerts.find(limit=1)[0][
        "kibana.alert.rule.rule_id"])
    assert ui.page.locator("#alerts tbody tr").count() >= 1


def test_alert_detail_shows_the_event_and_the_guide_with_filled_queries(ui: Watched) -> None:
    ui.goto("/app/")
    ui.page.locator("#alerts td.rule a", has_text=WEB_SERVICES).first.click()
    ui.page.wait_for_url(re.compile(r"/app/alerts/"))
    expect(ui.page.locator("#rule-name")).to_contain_text(WEB_SERVICES)
    guide = ui.page.locator("#guide")
    text = guide.inner_text()
    assert "分类和分析" in text  # the guide's Chinese text, intact
    queries = guide.locator("pre code").all_inner_texts()
    assert any("SELECT description, display_name" in q for q in queries)  # an Osquery block
    host = ui.page.locator("#event-fields").inner_text()
    assert "host.name" in host and "process.name" in host
    # The investigate blocks' {{host.name}} / {{user.id}} filled from the alert.
    assert "{{host.name}}" not in text and "{{user.id}}" not in text
    assert "WS-" in text
    ui.screenshot("alert")


def test_a_sequence_alert_shows_its_events_in_order(ui: Watched,
                                                    server: tuple[str, Service]) -> None:
    shell = next(a for a in server[1].alerts.find() if a.get("kibana.alert.group.id"))
    ui.goto(f"/app/alerts/{shell['kibana.alert.uuid']}")
    expect(ui.page.locator("h2").first).to_contain_text("Events of the sequence (2)")
    assert ui.page.locator("details.event[open]").count() == 2


def test_close_an_alert_with_a_reason_and_it_stays_closed(ui: Watched,
                                                          server: tuple[str, Service]) -> None:
    base, service = server
    alert_id = service.alerts.find(status="open", limit=1)[0]["kibana.alert.uuid"]
    ui.goto(f"/app/alerts/{alert_id}")
    assert ui.page.locator("#alert-status").inner_text() == "open"
    ui.page.select_option("#status-select", "closed")
    ui.page.fill("#status-reason", "false_positive: the admin's script")
    ui.page.click("#status-apply")
    ui.page.wait_for_load_state("load")
    expect(ui.page.locator("#alert-status")).to_have_text("closed")
    ui.page.reload()
    assert ui.page.locator("#alert-status").inner_text() == "closed"
    assert ui.page.locator("#alert-reason").inner_text() == "false_positive: the admin's script"
    found = httpx.post(base + "/api/detection_engine/signals/search",
                       json={"query": {"ids": {"values": [alert_id]}}}).json()
    (hit,) = found["hits"]["hits"]
    assert hit["_source"]["kibana.alert.workflow_status"] == "closed"
    assert service.alerts.get(alert_id)["kibana.alert.workflow_reason"] == (
        "false_positive: the admin's script")
    ui.goto("/app/")
    assert ui.page.locator("#alert-total").inner_text() == "7"
    assert alert_id not in ui.page.content()


def test_bulk_acknowledge_from_the_alerts_table(ui: Watched, server: tuple[str, Service]) -> None:
    ui.goto("/app/")
    boxes = ui.page.locator('#alerts tbody input[name="id"]')
    chosen = [boxes.nth(n).get_attribute("value") for n in range(2)]
    boxes.nth(0).check()
    boxes.nth(1).check()
    assert ui.page.locator("#selected-count").inner_text() == "2"
    ui.page.select_option("#bulk-status", "acknowledged")
    ui.page.fill("#bulk-reason", "looking into it")
    ui.page.click("#bulk-apply")
    ui.page.wait_for_load_state("load")
    assert ui.page.locator("#alert-total").inner_text() == "5"
    assert {server[1].alerts.get(i)["kibana.alert.workflow_status"] for i in chosen} == {
        "acknowledged"}
    ui.goto("/app/?status=acknowledged")
    assert ui.page.locator("#alerts tbody tr").count() == 2


def test_rules_page_lists_every_rule_with_alert_counts(ui: Watched) -> None:
    ui.goto("/app/rules")
    rows = ui.page.locator("#rules tbody tr")
    assert rows.count() == 5
    text = ui.page.locator("#rules").inner_text()
    assert all(name in text for name in RULE_NAMES)
    assert "T1197" in text and "Defense Evasion" in text
    ui.screenshot("rules")


def test_eql_search_shows_results_and_errors_with_line_and_column(ui: Watched) -> None:
    ui.goto("/app/search")
    ui.page.fill("#query", 'process where process.name == "rundll32.exe"')
    ui.page.click("#run")
    ui.page.wait_for_url(re.compile(r"/app/search\?q="))
    assert ui.page.locator("#results tbody > tr").count() >= 1
    assert "rundll32.exe" in ui.page.locator("#results").inner_text()
    ui.screenshot("search")
    ui.page.fill("#query", "process where\n  process.name ==")
    ui.page.click("#run")
    ui.page.wait_for_load_state("load")
    assert "line 2, column 18" in ui.page.locator("#search-error").inner_text()


def test_nothing_left_the_machine_and_nothing_failed(ui: Watched) -> None:
    assert ui.requests and ui.foreign() == []
    assert ui.errors == [] and ui.dialogs == []


def test_screenshot_paths_are_pngs() -> None:
    for png in Path(__file__).resolve().parents[2].joinpath("docs", "screenshots").glob("*.png"):
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
