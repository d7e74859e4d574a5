"""The HTML report in a real browser: Debian's headless Chromium opens the report a hunt over
the bundled examples wrote, with the network off, and the page must show the summary and every
alert without a single console error."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page
from typer.testing import CliRunner

from lanner.cli.app import app
from tests.conftest import EXAMPLES, ROOT

EVENTS = ROOT / "examples" / "events"
RULE_NAMES = {"通过 Windows BITS 的入站传输", "连接到常用滥用 Web 服务",
              "通过 PowerShell 进行远程文件下载", "通过 LOLBin 或不受信任的进程建立 SMB 连接",
              "通过更新编排服务劫持实现持久性"}


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("report") / "hunt.html"
    result = CliRunner().invoke(app, ["hunt", "-r", str(EXAMPLES), str(EVENTS), "-o", str(path)])
    assert result.exit_code == 0, result.output
    return path


@pytest.fixture
def page(browser: Browser, report: Path) -> Iterator[tuple[Page, list[str]]]:
    """The report opened offline, with every console error and page error collected."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, offline=True)
    opened = context.new_page()
    errors: list[str] = []
    opened.on("console", lambda message: errors.append(f"console: {message.text}")
              if message.type == "error" else None)
    opened.on("pageerror", lambda error: errors.append(f"pageerror: {error}"))
    opened.on("request", lambda request: errors.append(f"request: {request.url}")
              if not request.url.startswith(("file:", "data:")) else None)
    opened.goto(report.as_uri())
    opened.wait_for_load_state("load")
    yield opened, errors
    context.close()


def test_report_shows_the_summary_and_every_alert_without_errors(
        page: tuple[Page, list[str]]) -> None:
    opened, errors = page
    assert opened.title().startswith("Lanner hunt report")
    counts = {label: opened.locator(f'.card[data-count="{label}"] b').inner_text()
              for label in ("alerts", "rules with alerts", "events", "files", "bad lines")}
    assert counts == {"alerts": "8", "rules with alerts": "5", "events": "39", "files": "5",
                      "bad lines": "0"}
    rows = opened.locator("#timeline tbody tr")
    assert rows.count() == 8
    timeline_rules = {rows.nth(n).locator("td").nth(2).inner_text() for n in range(8)}
    assert timeline_rules == RULE_NAMES
    rules_table = opened.locator("#rules").inner_text()
    assert all(name in rules_table for name in RULE_NAMES)
    assert opened.locator("#guides .rule").count() == 5
    assert "Investigation guide" in opened.locator("#guides").inner_text()
    matrix = opened.locator("#attack").inner_text()
    assert "T1197" in matrix and "BITS Jobs" in matrix and "Command and Control" in matrix
    assert errors == []


def test_timeline_filter_runs_in_the_page(page: tuple[Page, list[str]]) -> None:
    opened, errors = page
    opened.fill("#timeline-filter", "rundll32")
    visible = opened.locator("#timeline tbody tr:not([hidden])")
    assert visible.count() == 2
    assert opened.locator("#timeline-shown").inner_text() == "2"
    assert {visible.nth(n).locator("td").nth(2).inner_text() for n in range(2)} == {
        "连接到常用滥用 Web 服务"}
    opened.fill("#timeline-filter", "")
    assert opened.locator("#timeline-shown").inner_text() == "8"
    assert errors == []


def test_screenshot_renders(page: tuple[Page, list[str]], tmp_path: Path) -> None:
    opened, errors = page
    whole, top = tmp_path / "report.png", tmp_path / "top.png"
    opened.screenshot(path=str(whole), full_page=True)
    width, height = struct.unpack(">II", whole.read_bytes()[16:24])
    assert width == 1400 and height > 2000  # the whole report, not an empty page
    # The header, summary cards and severity badges; decoded in Python, so kept small.
    opened.screenshot(path=str(top), clip={"x": 0, "y": 0, "width": 700, "height": 360})
    _, _, colours = png_colours(top.read_bytes())
    assert len(colours) > 50  # text, cards and badges, not a blank page
    assert (255, 255, 255) in colours  # the page background
    assert (13, 17, 23) in colours  # the header band (#0d1117)
    assert errors == []


def png_colours(data: bytes) -> tuple[int, int, set[tuple[int, ...]]]:
    """Width, height and the distinct RGB colours of an 8-bit RGB(A) PNG (what Chromium
    writes), decoded by hand: the test environment has no imaging library."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    position, chunks, header = 8, [], b""
    while position < len(data):
        (length,) = struct.unpack(">I", data[position:position + 4])
        kind = data[position + 4:position + 8]
        body = data[position + 8:position + 8 + length]
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            chunks.append(body)
        position += 12 + length
    width, height, depth, colour_type = struct.unpack(">IIBB", header[:10])
    assert depth == 8 and colour_type in (2, 6)
    channels = 3 if colour_type == 2 else 4
    stride = width * channels
    raw = zlib.decompress(b"".join(chunks))
    previous = bytearray(stride)
    colours: set[tuple[int, ...]] = set()
    for row in range(height):
        start = row * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1:start + 1 + stride])
        for index in range(stride):
            left = line[index - channels] if index >= channels else 0
            up = previous[index]
            corner = previous[index - channels] if index >= channels else 0
            if kind == 1:
                line[index] = (line[index] + left) & 0xFF
            elif kind == 2:
                line[index] = (line[index] + up) & 0xFF
            elif kind == 3:
                line[index] = (line[index] + (left + up) // 2) & 0xFF
            elif kind == 4:
                guess = left + up - corner
                distances = (abs(guess - left), abs(guess - up), abs(guess - corner))
                nearest = (left, up, corner)[distances.index(min(distances))]
                line[index] = (line[index] + nearest) & 0xFF
        colours.update(tuple(line[i:i + 3]) for i in range(0, stride, channels))
        previous = line
    return width, height, colours
