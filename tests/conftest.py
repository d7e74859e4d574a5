"""Paths to ../shared (the project's test data beside the root) and common fixtures."""

from __future__ import annotations

from pathlib import Path

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
