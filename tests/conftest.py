"""Paths to ../shared (the project's test data beside the root) and common fixtures."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
CORPUS = SHARED / "corpus" / "detection-rules-eql"
SEED_RULES = SHARED / "rules" / "seed"
CONFORMANCE = SHARED / "conformance" / "es-eql"
EXAMPLES = ROOT / "examples" / "rules"


def require_shared() -> None:
    if not SHARED.is_dir():
        pytest.fail(f"the shared test data is missing: expected it at {SHARED}")


def conformance_cases() -> list[dict[str, Any]]:
    """Every active case of Elasticsearch's EQL spec files, in file order."""
    require_shared()
    cases = []
    for spec in sorted(CONFORMANCE.glob("*.toml")):
        # test_extra.toml holds bare nulls in join_keys, which TOML 1.0 rejects
        text = re.sub(r"(?<=[\[ ,])null(?=[\],])", '"null"', spec.read_text())
        cases.extend(tomllib.loads(text)["queries"])
    return cases
