"""The alerts page's views in Debian's Chromium against the real server (example rules over
the example events): grouping by host, the time histogram, the ATT&CK tactic and time-range
filters, each from the URL and each agreeing with the alert store."""

from __future__ import annotations

import re

from lanner.server.service import Service
from lanner.store.alerts import AlertFilter
from tests.web.conftest import Watched


def group_counts(ui: Watched) -> dict[str, int]:
    items = ui.page.locator("#groups li")
    found = {}
    for n in range(items.count()):
        item = items.nth(n)
        found[item.locator("a").inner_text().strip()] = int(item.locator(".count").inner_text())
    return found


def test_group_by_host_lists_hosts_with_counts(ui: Watched, server: tuple[str, Service]) -> None:
    ui.goto("/app/")
    ui.page.click("#group-host")
    ui.page.wait_for_url(re.compile(r"group=host"))
    assert ui.page.locator("#groups").get_attribute("data-by") == "host"
    expected = server[1].alerts.counts("host", AlertFilter(status="open"))
    assert expected and group_counts(ui) == expected
    host = next(iter(expected))
    ui.page.locator("#groups a", has_text=host).first.click()
    ui.page.wait_for_url(re.compile(r"host=" + re.escape(host)))
    assert ui.page.locator("#alerts tbody tr").count() == expected[host]
    assert "group=host" in ui.page.url  # the grouping stays
    ui.page.click("#group-rule")
    ui.page.wait_for_url(lambda url: "group=host" not in url)
    assert ui.page.locator("#groups").get_attribute("data-by") == "rule"
    ui.screenshot("alerts-by-host")


def test_histogram_shows_the_alerts_count(ui: Watched, server: tuple[str, Service]) -> None:
    ui.goto("/app/?status=all")
    total = server[1].alerts.count(AlertFilter())
    assert ui.page.locator("#alert-total").inner_text() == str(total)
    histogram = ui.page.locator("#histogram")
    assert histogram.get_attribute("data-total") == str(total)
    assert ui.page.locator("#histogram-total").inner_text() == str(total)
    bars = [int(n) for n in ui.page.locator("#histogram rect.bar").evaluate_all(
        "bars => bars.map(bar => bar.dataset.count)")]
    assert sum(bars) == total and max(bars) > 0
    # A bar is a link to its time range: following it shows that bar's alerts.
    tallest = bars.index(max(bars))
    ui.page.locator("#histogram a").nth(tallest).click()
    ui.page.wait_for_url(re.compile(r"from=.*to="))
    assert ui.page.locator("#alert-total").inner_text() == str(max(bars))
    assert ui.page.locator("#histogram").get_attribute("data-total") == str(max(bars))


def test_tactic_filter_is_in_the_url(ui: Watched, server: tuple[str, Service]) -> None:
    store = server[1].alerts
    tactics = store.counts("tactic", AlertFilter(status="open"))
    tactic, expected = next((name, n) for name, n in tactics.items()
                            if n < store.count(AlertFilter(status="open")))
    ui.goto("/app/")
    ui.page.fill('#filters input[name="tactic"]', tactic.lower())  # names ignore case
    ui.page.click('#filters button[type="submit"]')
    ui.page.wait_for_url(re.compile(r"tactic="))
    assert ui.page.locator("#alerts tbody tr").count() == expected
    assert ui.page.locator("#alert-total").inner_text() == str(expected)
    ui.goto("/app/?tactic=TA9999")
    assert ui.page.locator("#alerts td.empty").count() == 1


def test_time_range_filter_from_and_to(ui: Watched, server: tuple[str, Service]) -> None:
    store = server[1].alerts
    times = sorted(a["kibana.alert.original_time"] for a in store.find())
    assert len(set(times)) > 1
    first, last = times[0], times[-1]
    ui.goto(f"/app/?from={last}")
    assert ui.page.locator("#alert-total").inner_text() == str(times.count(last))
    ui.goto(f"/app/?to={first}")
    assert ui.page.locator("#alert-total").inner_text() == str(times.count(first))
    ui.goto("/app/")
    ui.page.fill('#filters input[name="from"]', first[:10])
    ui.page.fill('#filters input[name="to"]', last[:10])  # a date: its whole day
    ui.page.click('#filters button[type="submit"]')
    ui.page.wait_for_url(re.compile(r"from=.*&to="))
    assert ui.page.locator("#alert-total").inner_text() == str(len(times))
    ui.goto("/app/?from=yesterday")
    assert "not a time" in ui.page.locator(".filter-error").inner_text()
    assert ui.page.locator("#alert-total").inner_text() == str(len(times))


def test_nothing_left_the_machine_and_nothing_failed(ui: Watched) -> None:
    assert ui.requests and ui.foreign() == []
    assert ui.errors == [] and ui.dialogs == []
