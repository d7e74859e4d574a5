"""Date math in date ranges (KQL's `@timestamp >= "now-30d/d"`), as Elasticsearch resolves it:
rounding up for gt/lte and down for gte/lt, partial dates filled, time zones, month ends."""

from __future__ import annotations

import datetime

import pytest

from lanner.engine.datemath import DateMathError, resolve, time_zone

NOW = datetime.datetime(2026, 12, 6, 4, 40, 12, 345000, tzinfo=datetime.UTC)


def iso(expression: str, *, up: bool = False, zone: str | None = None) -> str:
    nanos = resolve(expression, round_up=up, zone=time_zone(zone), now=NOW)
    seconds, fraction = divmod(nanos, 1_000_000_000)
    moment = datetime.datetime.fromtimestamp(seconds, datetime.UTC)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{fraction:09d}"


@pytest.mark.parametrize(("expression", "up", "zone", "expected"), [
    ("now", False, None, "2026-12-06T04:40:12.345000000"),
    ("now-30d/d", False, None, "2026-11-06T00:00:00.000000000"),
    ("now-30d/d", True, None, "2026-11-06T23:59:59.999999999"),
    ("now/w", False, None, "2026-11-30T00:00:00.000000000"),  # weeks start on Monday
    ("now-1M/M", True, None, "2026-11-30T23:59:59.999999999"),
    ("now/d", False, "Europe/Paris", "2026-12-05T23:00:00.000000000"),
    ("now+2h-30m", False, "Zulu", "2026-12-06T06:10:12.345000000"),
    # partial dates: missing parts are the start, or with rounding up the end
    ("2024-01-01", False, None, "2024-01-01T00:00:00.000000000"),
    ("2024-01-01", True, None, "2024-01-01T23:59:59.999999999"),
    ("2024", True, None, "2024-12-31T23:59:59.999999999"),
    ("2024-01-01T10:00:00Z", True, None, "2024-01-01T10:00:00.999999999"),
    ("2024-01-01T10:00:00.000Z", True, None, "2024-01-01T10:00:00.000000000"),
    ("2024-01-01", False, "+02:00", "2023-12-31T22:00:00.000000000"),
    ("2024-01-01T00:00:00+01:00", False, "America/New_York", "2023-12-31T23:00:00.000000000"),
    # anchored math, month ends
    ("2024-01-31||+1M", False, None, "2024-02-29T00:00:00.000000000"),
    ("2024-02-10||+1M/M", True, None, "2024-03-31T23:59:59.999999999"),
    # digits that are no ISO year are epoch milliseconds
    ("1700000000000", True, None, "2023-11-14T22:13:20.000000000"),
])
def test_resolve(expression: str, up: bool, zone: str | None, expected: str) -> None:
    assert iso(expression, up=up, zone=zone) == expected


@pytest.mark.parametrize(("expression", "zone", "message"), [
    ("now-1x", None, "unsupported date math at \\[-1x\\]"),
    ("yesterday", None, "failed to parse date field \\[yesterday\\]"),
    ("2024-13-01", None, "failed to parse date field"),
    ("now", "Mars/Olympus", "Unknown time-zone ID: Mars/Olympus"),
])
def test_what_elasticsearch_cannot_parse_is_an_error(expression: str, zone: str | None,
                                                     message: str) -> None:
    with pytest.raises(DateMathError, match=message):
        resolve(expression, round_up=False, zone=time_zone(zone), now=NOW)
