"""Date math, durations and humanize, with values worked out by hand from Kibana's sources.

Sources: @kbn/datemath `parse`/`parseDateMath` (its own tests: `now` keeps forceNow's
milliseconds, `/ms` is a no-op, weeks start on Sunday), moment's add/startOf/endOf,
alerting's `parseDuration` and moment's `duration.humanize()` (thresholds ss 44, s 45, m 45,
h 22, d 26, M 11; Math.round).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from lanner.detection.datemath import DateMathError, humanize, parse, parse_duration
from lanner.errors import LannerError

# Friday 20 November 2026 (1 Jan 2026 is a Thursday; 20 Nov is 323 days later, 323 % 7 == 1).
NOW = datetime(2026, 11, 20, 10, 17, 42, 123456, tzinfo=UTC)


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


@pytest.mark.parametrize(("text", "expected"), [
    # `now` is forceNow itself, at a JS Date's millisecond precision.
    ("now", utc(2026, 11, 20, 10, 17, 42, 123000)),
    ("now-9m", utc(2026, 11, 20, 10, 8, 42, 123000)),
    ("now-119m", utc(2026, 11, 20, 8, 18, 42, 123000)),
    ("now+1d-2h", utc(2026, 11, 21, 8, 17, 42, 123000)),
    # An operator without a number means 1.
    ("now-m", utc(2026, 11, 20, 10, 16, 42, 123000)),
    ("now-500ms", utc(2026, 11, 20, 10, 17, 41, 623000)),
    ("now-2w", utc(2026, 11, 6, 10, 17, 42, 123000)),
    # Rounding, down by default (moment startOf).
    ("now-1h/h", utc(2026, 11, 20, 9)),
    ("now/d", utc(2026, 11, 20)),
    ("now/1d", utc(2026, 11, 20)),
    ("now/w", utc(2026, 11, 15)),
    ("now/M", utc(2026, 11, 1)),
    ("now/y", utc(2026, 1, 1)),
    ("now-17s/s", utc(2026, 11, 20, 10, 17, 25)),
    # datemath's own cases: /ms changes nothing; -555ms then /s.
    ("now+555ms/ms", utc(2026, 11, 20, 10, 17, 42, 678000)),
    ("now-555ms/s", utc(2026, 11, 20, 10, 17, 41)),
    ("now-1d/d+8h+50m", utc(2026, 11, 19, 8, 50)),
    # Absolute anchors, then math after `||`.
    ("2026-11-20T10:00:00Z||-1d", utc(2026, 11, 19, 10)),
    ("2026-11-20T12:00:00+02:00||/d", utc(2026, 11, 20)),
    ("2026-11-20", utc(2026, 11, 20)),
    ("2026-11-20T10:00:00.250Z", utc(2026, 11, 20, 10, 0, 0, 250000)),
    ("2026-11", utc(2026, 11, 1)),
    ("2026-11-20||", utc(2026, 11, 20)),
])
def test_parse_rounding_down(text: str, expected: datetime) -> None:
    assert parse(text, now=NOW) == expected


@pytest.mark.parametrize(("text", "expected"), [
    # round_up is moment endOf: the unit's last millisecond.
    ("now-1h/h", utc(2026, 11, 20, 9, 59, 59, 999000)),
    ("now/d", utc(2026, 11, 20, 23, 59, 59, 999000)),
    ("now/w", utc(2026, 11, 21, 23, 59, 59, 999000)),
    ("now/M", utc(2026, 11, 30, 23, 59, 59, 999000)),
    ("now/y", utc(2026, 12, 31, 23, 59, 59, 999000)),
    ("now/ms", utc(2026, 11, 20, 10, 17, 42, 123000)),
    # Without rounding, round_up changes nothing.
    ("now-9m", utc(2026, 11, 20, 10, 8, 42, 123000)),
])
def test_parse_rounding_up(text: str, expected: datetime) -> None:
    assert parse(text, now=NOW, round_up=True) == expected


def test_months_and_years_clamp_to_the_last_day_like_moment() -> None:
    assert parse("now-1M", now=utc(2026, 3, 31, 12)) == utc(2026, 2, 28, 12)
    assert parse("now+1M", now=utc(2028, 1, 31)) == utc(2028, 2, 29)
    assert parse("now-1y", now=utc(2028, 2, 29)) == utc(2027, 2, 28)
    assert parse("now/M", now=utc(2028, 2, 10), round_up=True) == utc(2028, 2, 29, 23, 59, 59,
                                                                       999000)


def test_week_rounding_starts_on_sunday() -> None:
    sunday = utc(2026, 11, 15, 6)
    assert parse("now/w", now=sunday) == utc(2026, 11, 15)
    saturday = utc(2026, 11, 21, 23)
    assert parse("now/w", now=saturday) == utc(2026, 11, 15)


def test_now_is_converted_to_utc() -> None:
    plus_two = timezone(timedelta(hours=2))
    assert parse("now/d", now=datetime(2026, 11, 20, 1, 30, tzinfo=plus_two)) == utc(2026, 11, 19)


@pytest.mark.parametrize(("text", "column", "words"), [
    ("now-9x", 6, "unknown unit 'x'"),
    # Elasticsearch knows H; Kibana's datemath does not.
    ("now-9H", 6, "unknown unit 'H'"),
    ("now-5mins", 6, "unknown unit 'mins'"),
    ("now&1d", 4, "expected '+', '-' or '/', found '&'"),
    ("now - 9m", 4, "found ' '"),
    ("now/2y", 5, "rounding takes a single unit, like /d, not /2"),
    ("now/0.5y", 5, "rounding takes a single unit, like /d, not /0"),
    ("now-0", 6, "missing the unit"),
    ("now-", 5, "missing the unit"),
    ("now-1.5h", 6, "unknown unit '.'"),
    ("yesterday", 1, "'yesterday' is neither `now` nor an ISO 8601 date"),
    ("NOW-9m", 1, "neither `now` nor an ISO 8601 date"),
    ("2026-13-01||-1d", 1, "'2026-13-01' is neither"),
    ("", 1, "empty date math"),
    ("now-99999999999d", 4, "outside the years 1 to 9999"),
])
def test_bad_date_math_names_text_and_column(text: str, column: int, words: str) -> None:
    with pytest.raises(DateMathError) as caught:
        parse(text, now=NOW)
    error = caught.value
    assert isinstance(error, LannerError)
    assert error.text == text
    assert error.offset == column - 1
    assert f"invalid date math {text!r} at column {column}: " in str(error)
    assert words in str(error)


def test_naive_now_is_refused() -> None:
    with pytest.raises(DateMathError, match="now must be timezone-aware, got 2026-11-20T10:00"):
        parse("now", now=datetime(2026, 11, 20, 10))


@pytest.mark.parametrize(("text", "expected"), [
    ("5m", timedelta(minutes=5)),
    ("1h", timedelta(hours=1)),
    ("30s", timedelta(seconds=30)),
    ("2d", timedelta(days=2)),
    ("60m", timedelta(hours=1)),
    ("120m", timedelta(hours=2)),
])
def test_parse_duration(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(("text", "column", "words"), [
    # parseDuration's patterns are /^[1-9][0-9]*[smhd]$/: no zero, no leading zero, no ms/w.
    ("0m", 1, "expected a whole number from 1 up"),
    ("05m", 1, "expected a whole number from 1 up"),
    ("m", 1, "expected a whole number from 1 up"),
    ("", 1, "expected a whole number from 1 up"),
    ("5", 2, "missing the unit: s, m, h or d"),
    ("1w", 2, "unknown unit 'w'"),
    ("5ms", 3, "unexpected text after the unit"),
    ("5 m", 2, "unknown unit ' '"),
])
def test_bad_durations(text: str, column: int, words: str) -> None:
    with pytest.raises(DateMathError) as caught:
        parse_duration(text)
    assert str(caught.value).startswith(f"invalid duration {text!r} at column {column}: ")
    assert words in str(caught.value)


@pytest.mark.parametrize(("duration", "words"), [
    (timedelta(0), "a few seconds"),
    (timedelta(milliseconds=1), "a few seconds"),
    (timedelta(seconds=44), "a few seconds"),
    (timedelta(seconds=44, milliseconds=499), "a few seconds"),
    # round(44.5) is 45: past the `s` threshold, and round(44.5 / 60) is 1 minute.
    (timedelta(seconds=44, milliseconds=500), "a minute"),
    (timedelta(seconds=89), "a minute"),
    (timedelta(seconds=90), "2 minutes"),
    # Math.round(2.5) is 3, where Python's round gives 2.
    (timedelta(seconds=150), "3 minutes"),
    # Kibana's own gap-message test: 244689 ms is "4 minutes".
    (timedelta(milliseconds=244689), "4 minutes"),
    (timedelta(minutes=44, seconds=29), "44 minutes"),
    (timedelta(minutes=44, seconds=30), "an hour"),
    (timedelta(minutes=89), "an hour"),
    (timedelta(minutes=90), "2 hours"),
    (timedelta(minutes=91), "2 hours"),
    # A report of a real failed run: 51658063 ms is "14 hours".
    (timedelta(milliseconds=51658063), "14 hours"),
    (timedelta(hours=21, minutes=29), "21 hours"),
    (timedelta(hours=21, minutes=30), "a day"),
    (timedelta(hours=36), "2 days"),
    (timedelta(days=25), "25 days"),
    # 26 days: days hits the threshold; months = round(26 * 4800 / 146097 = 0.854) = 1.
    (timedelta(days=26), "a month"),
    (timedelta(days=45), "a month"),
    (timedelta(days=46), "2 months"),
    # 320 days: months = round(10.51) = 11, not < 11; years = round(0.876) = 1.
    (timedelta(days=320), "a year"),
    (timedelta(days=548), "2 years"),
    (-timedelta(minutes=5), "5 minutes"),
])
def test_humanize_matches_moment(duration: timedelta, words: str) -> None:
    assert humanize(duration) == words
