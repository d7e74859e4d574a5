"""What the rule-type tests share: one clock (T0, `minutes`, `at`), the corpus of non-EQL rules,
events loaded through the store's bulk API, and one scheduled run of a rule."""

from __future__ import annotations

import datetime
from typing import Any

from lanner.detection.run import Detector
from lanner.rules import Rule
from tests.conftest import SHARED

OTHER = SHARED / "corpus" / "detection-rules-other"
T0 = datetime.datetime(2026, 11, 20, 10, 0, tzinfo=datetime.UTC)


def minutes(value: float) -> datetime.datetime:
    return T0 + datetime.timedelta(minutes=value)


def at(value: float) -> str:
    """`value` minutes after T0 as an ES date string (milliseconds, Z)."""
    moment = minutes(value)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def load(detector: Detector, docs: list[dict[str, Any]], index: str = "logs-auth") -> None:
    store = detector.backend.store  # type: ignore[attr-defined]
    report = store.bulk([line for doc in docs for line in ({"index": {"_index": index}}, doc)])
    assert report.bad_lines == []


def run(detector: Detector, rule: Rule, minute: float,
        previous: float | None = None) -> list[dict[str, Any]]:
    """The alerts one scheduled run at T0 + `minute` creates (the previous run at `previous`)."""
    report = detector.run(rule, started_at=minutes(minute),
                          previous_started_at=None if previous is None else minutes(previous))
    assert report.error is None
    return report.created_alerts
