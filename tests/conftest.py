"""Paths to ../shared (the project's test data beside the root) and common fixtures."""

from __future__ import annotations

import os
import re
import tempfile
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Browser

# Debian's Chromium, which the HTML report and the web UI are checked in (tools/setup.sh
# installs it), started as this machine's closed network wants it.
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]

# The suite's rules cache (lanner.rules.cache) lives in a folder of its own, never the user's;
# commands the tests start in other processes inherit it.
os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix="lanner-tests-cache-")

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
CORPUS = SHARED / "corpus" / "detection-rules-eql"
SEED_RULES = SHARED / "rules" / "seed"
CONFORMANCE = SHARED / "conformance" / "es-eql"
EXAMPLES = ROOT / "examples" / "rules"


def require_shared() -> None:
    if not SHARED.is_dir():
        pytest.fail(f"the shared test data is missing: expected it at {SHARED}")


def load_spec(path: Path) -> list[dict[str, Any]]:
    """The `[[queries]]` of one spec file. test_extra.toml holds bare nulls in join_keys, which
    TOML 1.0 rejects: they become "null" there, and only there (queries hold `null` too)."""
    text = re.sub(r"^join_keys\s*=.*$",
                  lambda line: re.sub(r'(?<!")\bnull\b(?!")', '"null"', line.group()),
                  path.read_text(), flags=re.MULTILINE)
    return tomllib.loads(text)["queries"]


def conformance_cases() -> list[dict[str, Any]]:
    """Every active case of Elasticsearch's EQL spec files, in file order."""
    require_shared()
    cases = []
    for spec in sorted(CONFORMANCE.glob("*.toml")):
        cases.extend(load_spec(spec))
    return cases


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """One headless Chromium for every browser test of the session."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).is_file():
        pytest.fail(f"the browser tests need Debian's chromium at {CHROMIUM}")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()
