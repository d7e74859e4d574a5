"""Elastic date math as Kibana's `@kbn/datemath` evaluates it, plus rule durations.

Kibana turns a rule's `from`/`to` (`now-9m`, `now-1d/d`, `2026-11-20T10:00:00Z||-1d`) into
instants with `dateMath.parse(text, {forceNow: startedAt})`, so the windows a rule searches
depend on that parser's exact rules, which are narrower than Elasticsearch's:

- units are `ms s m h d w M y`; Elasticsearch's `H` is *not* one of them;
- an operator without a number means 1 (`now-m` is a minute ago); `/` takes only 1 (`/d`,
  `/1d`), it rounds down, or up to the unit's last millisecond with `round_up`;
- `now` keeps its milliseconds; weeks start on Sunday (moment's default `en` locale);
- anything else makes `parse` give up, which Kibana reports as a failed run.

Lanner computes in UTC, as a Kibana server running in UTC does (Kibana rounds `/d` in its
server's zone), at Kibana's millisecond precision: sub-millisecond parts of inputs are dropped.
Two leniencies of the JavaScript parser are refused on purpose: blanks inside a number
(`now-9 m`) and anchors in non-ISO formats that moment only guesses at.

Durations (`interval`, look-back) follow the alerting plugin's `parseDuration`: a positive
whole number without leading zero and one of `s m h d`. `humanize` renders a duration the way
moment's `duration.humanize()` does, which Kibana uses in its gap message ("4 minutes").
"""

from __future__ import annotations

import calendar
import math
import re
from datetime import UTC, datetime, timedelta

from lanner.errors import LannerError

UNITS = ("ms", "s", "m", "h", "d", "w", "M", "y")
_FIXED_UNITS = {"ms": timedelta(milliseconds=1), "s": timedelta(seconds=1),
                "m": timedelta(minutes=1), "h": timedelta(hours=1), "d": timedelta(days=1),
                "w": timedelta(weeks=1)}
_DURATION_UNITS = {unit: _FIXED_UNITS[unit] for unit in "smhd"}
_MONTHS_PER_UNIT = {"M": 1, "y": 12}
_DIGITS = "0123456789"
_OPERATORS = "+-/"
_ONE_MS = timedelta(milliseconds=1)
# moment also reads a bare year or year-month as ISO 8601; fromisoformat does not.
_YEAR_OR_MONTH = re.compile(r"(\d{4})(?:-(\d{2}))?")


class DateMathError(LannerError):
    """Date math, a duration or an instant that Kibana would refuse; names text and column."""

    def __init__(self, reason: str, text: str | None = None, offset: int = 0,
                 *, what: str = "date math") -> None:
        self.reason = reason
        self.text = text
        self.offset = offset
        if text is None:
            super().__init__(reason)
        else:
            super().__init__(f"invalid {what} {text!r} at column {offset + 1}: {reason}")


def to_instant(value: datetime, *, name: str = "now") -> datetime:
    """`value` in UTC at millisecond precision, as a JavaScript `Date` would hold it.

    A naive datetime is refused: guessing its zone would shift every window silently.
    """
    if value.tzinfo is None or value.utcoffset() is None:
        raise DateMathError(f"{name} must be timezone-aware, got {value.isoformat()}")
    value = value.astimezone(UTC)
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


def parse(text: str, *, now: datetime, round_up: bool = False) -> datetime:
    """The UTC instant `text` stands for when the clock reads `now` (Kibana's `forceNow`)."""
    now = to_instant(now)
    if not text:
        raise DateMathError("empty date math", text, 0)
    if text.startswith("now"):
        return _apply_math(now, text, len("now"), round_up)
    separator = text.find("||")
    if separator < 0:
        return _parse_anchor(text, text)
    return _apply_math(_parse_anchor(text[:separator], text), text, separator + 2, round_up)


def parse_duration(text: str) -> timedelta:
    """A rule `interval` or look-back like `5m`, `1h`, `30s`, `2d`, as Kibana's parseDuration."""
    digits_end = 0
    while digits_end < len(text) and text[digits_end] in _DIGITS:
        digits_end += 1
    if digits_end == 0 or text[0] == "0":
        raise _duration_error(text, 0, "expected a whole number from 1 up, then s, m, h or d")
    if digits_end == len(text):
        raise _duration_error(text, digits_end, "missing the unit: s, m, h or d")
    unit = text[digits_end]
    if unit not in _DURATION_UNITS:
        raise _duration_error(text, digits_end, f"unknown unit {unit!r}: use s, m, h or d")
    if digits_end + 1 < len(text):
        raise _duration_error(text, digits_end + 1, "unexpected text after the unit")
    return int(text[:digits_end]) * _DURATION_UNITS[unit]


def humanize(duration: timedelta) -> str:
    """Words for a duration, as moment's `duration.humanize()` with its default thresholds.

    moment rounds half up in each unit (90 s is "2 minutes", 45 min is "an hour") and never
    says weeks by default; the sign is ignored.
    """
    ms = abs(duration / _ONE_MS)
    seconds = _round_half_up(ms / 1000)
    minutes = _round_half_up(ms / 60_000)
    hours = _round_half_up(ms / 3_600_000)
    days = _round_half_up(ms / 86_400_000)
    months_exact = ms / 86_400_000 * 4800 / 146_097
    months = _round_half_up(months_exact)
    years = _round_half_up(months_exact / 12)
    # moment's "%d seconds" step lies between its thresholds 44 and 45: whole seconds skip it.
    if seconds < 45:
        return "a few seconds"
    for count, one, many, threshold in ((minutes, "a minute", "minutes", 45),
                                        (hours, "an hour", "hours", 22),
                                        (days, "a day", "days", 26),
                                        (months, "a month", "months", 11)):
        if count <= 1:
            return one
        if count < threshold:
            return f"{count} {many}"
    return "a year" if years <= 1 else f"{years} years"


def _round_half_up(value: float) -> int:
    """JavaScript's Math.round (2.5 -> 3), unlike Python's round-half-even."""
    return math.floor(value + 0.5)


def _duration_error(text: str, offset: int, reason: str) -> DateMathError:
    return DateMathError(reason, text, offset, what="duration")


def _parse_anchor(anchor: str, text: str) -> datetime:
    """The instant before `||`: ISO 8601, UTC unless it carries an offset."""
    partial = _YEAR_OR_MONTH.fullmatch(anchor)
    try:
        if partial:
            parsed = datetime(int(partial[1]), int(partial[2] or 1), 1, tzinfo=UTC)
        else:
            parsed = datetime.fromisoformat(anchor)
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return to_instant(parsed, name="the anchor date")
    except (ValueError, OverflowError):
        raise DateMathError(f"{anchor!r} is neither `now` nor an ISO 8601 date",
                            text, 0) from None


def _apply_math(moment: datetime, text: str, start: int, round_up: bool) -> datetime:
    """Apply `+N<unit>`, `-N<unit>` and `/<unit>` steps left to right, as parseDateMath."""
    position = start
    while position < len(text):
        operator = text[position]
        if operator not in _OPERATORS:
            raise DateMathError(f"expected '+', '-' or '/', found {operator!r}", text, position)
        position += 1
        number_at = position
        while position < len(text) and text[position] in _DIGITS:
            position += 1
        if position == len(text):
            raise DateMathError(f"missing the unit: one of {', '.join(UNITS)}", text, position)
        amount = int(text[number_at:position]) if position > number_at else 1
        if operator == "/" and amount != 1:
            raise DateMathError(f"rounding takes a single unit, like /d, not /{amount}",
                                text, number_at)
        unit_at = position
        position += 1
        while position < len(text) and text[position].isascii() and text[position].isalpha():
            position += 1
        unit = text[unit_at:position]
        if unit not in UNITS:
            raise DateMathError(f"unknown unit {unit!r}: use one of {', '.join(UNITS)}",
                                text, unit_at)
        try:
            if operator == "/":
                moment = _round(moment, unit, round_up)
            else:
                moment = _shift(moment, amount if operator == "+" else -amount, unit)
        except (OverflowError, ValueError):
            raise DateMathError("the date falls outside the years 1 to 9999",
                                text, number_at - 1) from None
    return moment


def _shift(moment: datetime, amount: int, unit: str) -> datetime:
    """moment's add/subtract: months keep the day, clamped to the month's last day."""
    if unit in _FIXED_UNITS:
        return moment + amount * _FIXED_UNITS[unit]
    return _add_months(moment, amount * _MONTHS_PER_UNIT[unit])


def _add_months(moment: datetime, months: int) -> datetime:
    year, month_index = divmod(moment.year * 12 + moment.month - 1 + months, 12)
    day = min(moment.day, calendar.monthrange(year, month_index + 1)[1])
    return moment.replace(year=year, month=month_index + 1, day=day)


def _round(moment: datetime, unit: str, up: bool) -> datetime:
    """moment's startOf(unit), or endOf(unit): the next unit's start less 1 ms."""
    if unit == "ms":
        return moment
    if unit in ("y", "M"):
        start = moment.replace(month=1 if unit == "y" else moment.month, day=1, hour=0,
                               minute=0, second=0, microsecond=0)
        return _add_months(start, _MONTHS_PER_UNIT[unit]) - _ONE_MS if up else start
    if unit == "w":
        day = moment.replace(hour=0, minute=0, second=0, microsecond=0)
        start = day - timedelta(days=(moment.weekday() + 1) % 7)
    else:
        size = _FIXED_UNITS[unit]
        epoch = datetime(1970, 1, 1, tzinfo=UTC)
        start = epoch + (moment - epoch) // size * size
    return start + _FIXED_UNITS[unit] - _ONE_MS if up else start
