"""Elasticsearch date math for `range` queries on date fields: `now-30d/d`, `2024-01-01||+1M`,
and the rounding of partial dates, resolved to an instant at compile time.

ES's rules (range query doc, "Date math and rounding"; `JavaDateMathParser`):

* an anchor, `now` or a date followed by `||`, then operations `+N<unit>`, `-N<unit>` and
  `/<unit>` (round to the unit) applied left to right; units `y M w d h H m s`;
* `gt` and `lte` round **up** (to the last instant of the unit), `gte` and `lt` down; a date
  missing components is rounded the same way (`lte: 2024-01-01` is the end of that day);
* the `time_zone` applies to dates without an offset and to rounding; `now` is absolute;
* the default format `strict_date_optional_time||epoch_millis`: an ISO date (`2024` is a
  year), else epoch milliseconds.
"""

from __future__ import annotations

import datetime
import re
import zoneinfo

from lanner.errors import LannerError

_ISO = re.compile(
    r"(?P<year>\d{4})(?:-(?P<month>\d{2})(?:-(?P<day>\d{2})"
    r"(?:[T ](?P<hour>\d{2})(?::(?P<minute>\d{2})(?::(?P<second>\d{2})"
    r"(?:[.,](?P<fraction>\d{1,9}))?)?)?)?)?)?"
    r"(?P<offset>Z|[+-]\d{2}(?::?\d{2})?)?")
_EPOCH_MILLIS = re.compile(r"-?\d+(?:\.\d+)?")
_OPERATION = re.compile(r"([+-])(\d*)([yMwdhHms])|/([yMwdhHms])")
_UTC_NAMES = frozenset({"Z", "UTC", "Zulu", "GMT", "Etc/UTC", "Etc/Zulu", "Etc/GMT", "UCT"})
_OFFSET = re.compile(r"([+-])(\d{2}):?(\d{2})?")
_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)
_NS = 1_000_000_000


class DateMathError(LannerError):
    """A date or date-math expression Elasticsearch would fail to parse."""


def time_zone(name: str | None) -> datetime.tzinfo:
    """ES's `time_zone` option: a zone id (`Europe/Paris`, `Zulu`) or an offset (`+01:00`)."""
    if name is None or name in _UTC_NAMES:
        return datetime.UTC
    offset = _OFFSET.fullmatch(name)
    if offset is not None:
        sign, hours, minutes = offset.groups()
        delta = datetime.timedelta(hours=int(hours), minutes=int(minutes or 0))
        return datetime.timezone(-delta if sign == "-" else delta)
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise DateMathError(f"Unknown time-zone ID: {name}") from None


def resolve(expression: str, *, round_up: bool, zone: datetime.tzinfo,
            now: datetime.datetime) -> int:
    """Epoch nanoseconds of a date-math expression (see the module docstring)."""
    text = expression.strip()
    if text.startswith("now"):
        anchor, math, partial = now.astimezone(zone), text[3:], None
    else:
        date_text, separator, math = text.partition("||")
        if not separator:
            math = ""
        anchor, partial = _parse_date(date_text, zone, expression)
    moment = _round(anchor, partial, round_up=True) if round_up and partial else anchor
    position = 0
    while position < len(math):
        found = _OPERATION.match(math, position)
        if found is None:
            raise DateMathError(f"failed to parse date field [{expression}]: "
                                f"unsupported date math at [{math[position:]}]")
        sign, amount, unit, round_unit = found.groups()
        if round_unit:
            moment = _round(moment, round_unit, round_up)
        else:
            moment = _add(moment, int(amount or 1) * (-1 if sign == "-" else 1), unit)
        position = found.end()
    return _nanos(moment)


def _parse_date(text: str, zone: datetime.tzinfo,
                expression: str) -> tuple[datetime.datetime, str | None]:
    """The date and the smallest unit it names when partial (`d` for `2024-01-01`), as
    rounding up fills the components it misses."""
    found = _ISO.fullmatch(text)
    if found is None and _EPOCH_MILLIS.fullmatch(text):
        millis = float(text) if "." in text else int(text)
        return _EPOCH + datetime.timedelta(milliseconds=millis), None
    if found is None:
        raise DateMathError(f"failed to parse date field [{expression}] with format "
                            f"[strict_date_optional_time||epoch_millis]")
    parts = found.groupdict()
    fraction = parts["fraction"] or ""
    tz: datetime.tzinfo = zone
    if parts["offset"]:
        tz = time_zone(parts["offset"])
    try:
        moment = datetime.datetime(
            int(parts["year"]), int(parts["month"] or 1), int(parts["day"] or 1),
            int(parts["hour"] or 0), int(parts["minute"] or 0), int(parts["second"] or 0),
            int(fraction[:6].ljust(6, "0")), tzinfo=tz)
    except ValueError as error:
        raise DateMathError(f"failed to parse date field [{expression}]: {error}") from None
    if len(fraction) > 6:
        moment += datetime.timedelta(microseconds=int(fraction[6:].ljust(3, "0")) / 1000)
    partial = next((unit for unit, key in (("y", "month"), ("M", "day"), ("d", "hour"),
                                           ("h", "minute"), ("m", "second"))
                    if parts[key] is None), None)
    if partial is None and not fraction:
        partial = "s"
    return moment, partial


def _add(moment: datetime.datetime, amount: int, unit: str) -> datetime.datetime:
    if unit in "yM":
        months = moment.month - 1 + amount * (12 if unit == "y" else 1)
        year, month = moment.year + months // 12, months % 12 + 1
        day = min(moment.day, _days_in_month(year, month))
        return moment.replace(year=year, month=month, day=day)
    seconds = {"w": 604_800, "d": 86_400, "h": 3_600, "H": 3_600, "m": 60, "s": 1}[unit]
    if unit in "wd":  # calendar days in the zone, as java.time adds them
        naive = moment.replace(tzinfo=None) + datetime.timedelta(seconds=amount * seconds)
        return naive.replace(tzinfo=moment.tzinfo)
    return moment + datetime.timedelta(seconds=amount * seconds)


def _round(moment: datetime.datetime, unit: str, round_up: bool) -> datetime.datetime:
    """The first instant of the unit holding `moment`, or with `round_up` its last."""
    if unit == "y":
        start = moment.replace(month=1, day=1, hour=0, minute=0, second=0, microsecond=0)
    elif unit == "M":
        start = moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    elif unit == "w":
        day = moment.replace(hour=0, minute=0, second=0, microsecond=0)
        start = (day.replace(tzinfo=None) - datetime.timedelta(days=day.weekday())).replace(
            tzinfo=moment.tzinfo)
    elif unit == "d":
        start = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    elif unit in "hH":
        start = moment.replace(minute=0, second=0, microsecond=0)
    elif unit == "m":
        start = moment.replace(second=0, microsecond=0)
    else:
        start = moment.replace(microsecond=0)
    if not round_up:
        return start
    following = _add(start, 1, unit)
    return following - datetime.timedelta(microseconds=1)


def _nanos(moment: datetime.datetime) -> int:
    """Epoch nanos; a rounded-up instant (ending in .999999 µs) gets ES's last nanosecond."""
    delta = moment - _EPOCH
    nanos = (delta.days * 86_400 + delta.seconds) * _NS + delta.microseconds * 1000
    if delta.microseconds % 1_000_000 == 999_999:
        nanos += 999
    return nanos


def _days_in_month(year: int, month: int) -> int:
    following = datetime.date(year + month // 12, month % 12 + 1, 1)
    return (following - datetime.timedelta(days=1)).day
