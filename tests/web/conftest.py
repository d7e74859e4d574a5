"""Debian's Chromium through Playwright against the real server (see tests/web/live.py)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page

from lanner.server.service import Service
from tests.web.live import serve

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


class Watched:
    """A page with everything that went wrong on it collected: console errors, page errors,
    dialogs (accepted, so none blocks), and every URL it requested."""

    def __init__(self, page: Page, base: str) -> None:
        self.page = page
        self.base = base
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        self.requests: list[str] = []
        page.on("console", lambda message: self.errors.append(message.text)
                if message.type == "error" else None)
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        page.on("dialog", self._dialog)
        page.on("request", lambda request: self.requests.append(request.url))

    def _dialog(self, dialog: object) -> None:
        self.dialogs.append(dialog.message)  # type: ignore[attr-defined]
        dialog.dismiss()  # type: ignore[attr-defined]

    def goto(self, path: str) -> None:
        self.page.goto(self.base + path)
        self.page.wait_for_load_state("load")

    def foreign(self) -> list[str]:
        """Requests that went anywhere but this server."""
        return [url for url in self.requests if not url.startswith(self.base + "/")]

    def screenshot(self, name: str) -> None:
        """docs/screenshots/<name>.png, only when LANNER_SCREENSHOTS=1."""
        if os.environ.get("LANNER_SCREENSHOTS") == "1":
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            self.page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=False)


def watched_page(browser: Browser, base: str) -> Iterator[Watched]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    watched = Watched(context.new_page(), base)
    yield watched
    context.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Service]]:
    """The real server over the example rules hunted over the example events, one for each
    module (a module's own fixture overrides it)."""
    with serve(tmp_path_factory.mktemp("web")) as served:
        yield served


@pytest.fixture(scope="module")
def ui(browser: Browser, server: tuple[str, Service]) -> Iterator[Watched]:
    """One page for the whole module, as one analyst's session; checked clean at the end."""
    yield from watched_page(browser, server[0])
