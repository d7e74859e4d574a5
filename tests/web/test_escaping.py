"""Attacker text in event fields and in a rule's name and note (Markdown anyone can write)
shows as text in the real browser: nothing runs, no dialog, no console error, no template
evaluated."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser

from lanner.server.service import Service
from tests.web.conftest import Watched, watched_page
from tests.web.live import serve

SCRIPT = "<script>alert(1)</script>"
TEMPLATE = "{{7*7}}"
IMAGE = "<img src=x onerror=alert(2)>"
# Text of the page that changes run to run (times, generated ids) and may hold "49" by chance.
_VARYING = re.compile(r"\d{4}-\d\d-\d\dT[\d:.]+Z|[0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12}"
                      r"|[0-9a-f]{16,}")
NAME = f"{IMAGE} {TEMPLATE} rule"
OSQUERY = {"label": f"Osquery {SCRIPT}",
           "query": "SELECT * FROM processes WHERE name = '{{process.name}}'"}
INVESTIGATE = {"label": f"Events {SCRIPT}", "providers": [[
    {"field": "process.name", "queryType": "phrase", "value": "{{process.name}}",
     "excluded": False}]]}
NOTE = (f"## Triage {SCRIPT}\n\nLook for {TEMPLATE} and {IMAGE} and [a link](javascript:alert(3))."
        f"\n\n- !{{osquery{json.dumps(OSQUERY)}}}\n- !{{investigate{json.dumps(INVESTIGATE)}}}\n")
RULE = f'''[metadata]
creation_date = "2024/01/01"
maturity = "production"
updated_date = "2024/01/01"

[rule]
investigation_fields = {{field_names = ["process.name", "process.command_line"]}}
author = ["Lanner tests"]
description = "Attacker-controlled text {SCRIPT}"
from = "now-10m"
index = ["logs-*"]
language = "eql"
license = "Apache-2.0"
name = {json.dumps(NAME)}
note = {json.dumps(NOTE)}
risk_score = 99
rule_id = "00000000-0000-4000-8000-0000000000e5"
severity = "critical"
type = "eql"
query = \'\'\'
process where process.name : "*script*"
\'\'\'
'''
EVENT = {"@timestamp": "2026-11-20T10:00:00.000Z",
         "data_stream": {"type": "logs", "dataset": "endpoint.events.process",
                         "namespace": "default"},
         "event": {"category": ["process"], "type": ["start"], "kind": "event"},
         "host": {"name": f"{SCRIPT}host"}, "user": {"name": TEMPLATE},
         "process": {"name": f"{SCRIPT}{TEMPLATE}", "command_line": IMAGE,
                     "entity_id": f"{SCRIPT}e1", "parent": {"entity_id": f"{IMAGE}p",
                                                            "name": f"{IMAGE}parent"}}}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Service]]:
    folder = tmp_path_factory.mktemp("hostile")
    (folder / "rules").mkdir()
    (folder / "rules" / "hostile.toml").write_text(RULE, encoding="utf-8")
    (folder / "events").mkdir()
    (folder / "events" / "hostile.ndjson").write_text(json.dumps(EVENT) + "\n",
                                                      encoding="utf-8")
    with serve(folder, rules=[folder / "rules"], events=[folder / "events"]) as served:
        assert len(served[1].alerts) == 1
        yield served


@pytest.fixture
def ui(browser: Browser, server: tuple[str, Service]) -> Iterator[Watched]:
    yield from watched_page(browser, server[0])


def assert_inert(ui: Watched) -> None:
    assert ui.dialogs == [] and ui.errors == [] and ui.foreign() == []
    assert ui.page.locator("script").count() == 1  # the page's own module only
    assert ui.page.locator("img").count() == 0
    shown = ui.page.locator("main").inner_text()
    assert "49" not in _VARYING.sub("", shown)  # {{7*7}} was not evaluated anywhere


def test_alerts_page_shows_hostile_text_as_text(ui: Watched) -> None:
    ui.goto("/app/")
    row = ui.page.locator("#alerts tbody tr")
    assert row.count() == 1
    assert row.locator("td.rule").inner_text() == NAME
    text = row.inner_text()
    assert f"{SCRIPT}host" in text and TEMPLATE in text
    ui.goto(f"/app/?q={SCRIPT}")
    assert ui.page.locator("#alerts tbody tr").count() == 1
    assert ui.page.locator('#filters input[name="q"]').input_value() == SCRIPT
    assert_inert(ui)


def test_alert_page_shows_hostile_fields_and_note_as_text(
        ui: Watched, server: tuple[str, Service]) -> None:
    alert_id = server[1].alerts.find()[0]["kibana.alert.uuid"]
    ui.goto(f"/app/alerts/{alert_id}")
    fields = ui.page.locator("#event-fields").inner_text()
    assert f"{SCRIPT}{TEMPLATE}" in fields and IMAGE in fields
    guide = ui.page.locator("#guide")
    text = guide.inner_text()
    assert f"Triage {SCRIPT}" in text and TEMPLATE in text and IMAGE in text
    # The Osquery query filled from the alert, the hostile value shown as it is.
    query = " ".join(guide.locator("pre code").all_inner_texts())
    assert f"WHERE name = '{SCRIPT}{TEMPLATE}'" in query
    assert guide.locator('a[href^="javascript"]').count() == 0
    assert_inert(ui)


def test_search_page_shows_hostile_events_as_text(ui: Watched) -> None:
    ui.goto("/app/search?q=" + 'process where process.name : "*script*"')
    assert SCRIPT in ui.page.locator("#results").inner_text()
    ui.goto("/app/search?q=" + f'process where process.name == "{SCRIPT}" and')
    assert ui.page.locator("#search-error").count() == 1
    assert SCRIPT in ui.page.locator("#query").input_value()
    assert_inert(ui)


def test_alert_investigation_shows_hostile_text_as_text(
        ui: Watched, server: tuple[str, Service]) -> None:
    alert_id = server[1].alerts.find()[0]["kibana.alert.uuid"]
    ui.goto(f"/app/alerts/{alert_id}")
    assert ui.page.locator("#investigation-fields td").all_inner_texts() == [
        f"{SCRIPT}{TEMPLATE}", IMAGE]
    assert ui.page.locator("#ancestry .process-name").all_inner_texts() == [
        f"{SCRIPT}{TEMPLATE}", f"{IMAGE}parent"]
    assert ui.page.locator("#why-matched code").all_inner_texts() == [
        'event.category == "process"', 'process.name : "*script*"']
    ui.page.fill("#tag-add", f"{SCRIPT},{TEMPLATE}")
    ui.page.click("#tag-apply")
    ui.page.wait_for_load_state("load")
    ui.page.fill("#note-text", IMAGE)
    ui.page.click("#note-add")
    ui.page.wait_for_load_state("load")
    assert ui.page.locator("#alert-tags .tag").all_inner_texts() == sorted([SCRIPT, TEMPLATE])
    assert ui.page.locator("#alert-notes .wrap").all_inner_texts() == [IMAGE]
    assert_inert(ui)
    # The investigate link searches with the hostile value, quoted, and finds the event.
    ui.page.locator("#guide a.investigate").click()
    ui.page.wait_for_url(lambda url: "/app/search" in url)
    assert ui.page.locator("#query").input_value() == (
        f'process.name: "{SCRIPT}{TEMPLATE}"')
    assert SCRIPT in ui.page.locator("#results").inner_text()
    assert_inert(ui)


def test_rule_pages_show_hostile_text_as_text(ui: Watched) -> None:
    ui.goto("/app/rules/00000000-0000-4000-8000-0000000000e5")
    assert ui.page.locator("#rule-title").inner_text().endswith(NAME)
    assert f"Triage {SCRIPT}" in ui.page.locator("#guide").inner_text()
    ui.goto("/app/rules")
    assert ui.page.locator("#rules td.rule a").inner_text() == NAME
    assert_inert(ui)
