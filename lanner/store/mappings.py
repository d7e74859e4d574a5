"""Elasticsearch index mappings, and how a mapped field type indexes a JSON value.

The one home of the store's Elasticsearch type rules: which DuckDB type holds an ES type, how
a JSON value is coerced into it (ES `coerce`, `null_value`, date `format`), and how mapping
documents (including the EQL conformance suite's `.mapping` files) are read.
"""

from __future__ import annotations

import datetime
import functools
import ipaddress
import math
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from lanner.errors import LannerError, Location

# The conformance suite's mapping files leave string types open; both choices must behave
# the same for EQL, and `keyword` is the plain one (conformance README §2).
RUNTIME_KEYWORD_PLACEHOLDER = "[runtime_random_keyword_type]"

_STRING_TYPES = (
    "keyword", "constant_keyword", "wildcard", "text", "match_only_text", "version", "ip",
    "flattened", "binary", "geo_point", "geo_shape", "point", "shape", "completion",
    "search_as_you_type", "semantic_text", "counted_keyword", "date_range", "ip_range",
    "long_range", "integer_range", "float_range", "double_range", "histogram",
)  # fmt: skip

# ES type -> DuckDB type of the column holding its values. ip and version stay text: the SQL
# compiler gives them their ES comparison semantics. Types missing here hold no values.
DUCKDB_TYPES: dict[str, str] = {
    **dict.fromkeys(_STRING_TYPES, "VARCHAR"),
    **dict.fromkeys(("long", "integer", "short", "byte"), "BIGINT"),
    "unsigned_long": "HUGEINT",
    **dict.fromkeys(("double", "float", "half_float", "scaled_float"), "DOUBLE"),
    "boolean": "BOOLEAN",
    "date": "TIMESTAMP_NS",
    "date_nanos": "TIMESTAMP_NS",
}

# String types whose values are stored exactly as given (ip is canonicalised).
VERBATIM_STRING_TYPES = frozenset(_STRING_TYPES) - {"ip"}

# Container types: their values are the leaves below them, never a column of their own.
OBJECT_TYPES = frozenset({"object", "nested"})

KEYWORD_FAMILY = frozenset({"keyword", "constant_keyword", "wildcard"})

DEFAULT_DATE_FORMAT = "strict_date_optional_time||epoch_millis"

_INTEGER_RANGES: dict[str, tuple[int, int]] = {
    "long": (-(2**63), 2**63 - 1),
    "integer": (-(2**31), 2**31 - 1),
    "short": (-(2**15), 2**15 - 1),
    "byte": (-(2**7), 2**7 - 1),
    "unsigned_long": (0, 2**64 - 1),
}

# TIMESTAMP_NS holds int64 nanoseconds; DuckDB refuses the last few microseconds at both ends.
_MIN_NANOS = -9_223_372_036_000_000_000
_MAX_NANOS = 9_223_372_036_000_000_000
_EPOCH_ORDINAL = datetime.date(1970, 1, 1).toordinal()


class StoreError(LannerError):
    """The event store cannot do what was asked (bad mapping, database failure)."""

    def __init__(self, message: str, location: Location | None = None) -> None:
        super().__init__(f"{location}: {message}" if location else message)
        self.message = message
        self.location = location


class OutOfStoreRange(ValueError):
    """A value Elasticsearch indexes but the store cannot hold (a date beyond year 2262, as
    DuckDB's nanosecond timestamps end there): stored as null and reported, and not a value
    ES would refuse."""


class MappingError(StoreError):
    """A mapping that Elasticsearch would reject, or one the store cannot honour."""


@dataclass(frozen=True, slots=True)
class FieldMapping:
    """One mapped field, flat. `alias_path` is where the values come from: the target of an
    `alias` field, or the parent of a multi-field (`hostname.keyword` -> `hostname`)."""

    type: str
    null_value: Any = None
    alias_path: str | None = None
    format: str | None = None
    keyword_subfield: str | None = None
    normalizer: str | None = None
    ignore_above: int | None = None


def duckdb_type(es_type: str) -> str | None:
    """The DuckDB column type for an ES type; None for containers and aliases (no column)."""
    if es_type in OBJECT_TYPES or es_type == "alias":
        return None
    return DUCKDB_TYPES.get(es_type, "VARCHAR")


def parse_mapping(mapping: Mapping[str, Any]) -> dict[str, FieldMapping]:
    """Flatten an ES mapping to `path -> FieldMapping`, object parents included.

    Accepts `{"mappings": {"properties": …}}` (also the `GET idx/_mapping` response and the
    6.x typed form), `{"properties": …}` or the bare properties. Rejects what ES rejects:
    aliases to missing fields or to aliases, unknown date formats.
    """
    properties = _properties(mapping)
    fields: dict[str, FieldMapping] = {}
    _walk(properties, "", fields)
    for path in list(fields):
        for parent in ancestors(path):
            fields.setdefault(parent, FieldMapping("object"))
    for path, field in fields.items():
        if field.type != "alias":
            continue
        target = fields.get(field.alias_path or "")
        if target is None or target.type in OBJECT_TYPES or target.type == "alias":
            raise MappingError(
                f"invalid [path] value [{field.alias_path}] for field alias [{path}]: "
                "an alias must refer to an existing concrete field in the mappings"
            )
    return fields


def _ignore_above(path: str, value: Any) -> int | None:
    """A multi-field's `ignore_above`: values longer than it are not indexed."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise MappingError(f"[ignore_above] of [{path}] must be a non-negative integer, "
                           f"got [{value}]")
    return value


def load_mapping_file(path: str | Path) -> dict[str, Any]:
    """A mapping file as the conformance suite's DataLoader reads it: `#` lines dropped,
    the `[runtime_random_keyword_type]` placeholder made `keyword`."""
    text = Path(path).read_text(encoding="utf-8")
    # Blank the comment lines rather than dropping them, so error lines stay true.
    lines = ["" if line.lstrip().startswith("#") else line for line in text.splitlines()]
    text = "\n".join(lines).replace(RUNTIME_KEYWORD_PLACEHOLDER, "keyword")
    try:
        document = orjson.loads(text)
    except orjson.JSONDecodeError as error:
        raise MappingError(error.msg, Location(str(path), error.lineno, error.colno)) from None
    if not isinstance(document, dict):
        raise MappingError("a mapping must be a JSON object", Location(str(path)))
    return document


def _properties(mapping: Mapping[str, Any]) -> Mapping[str, Any]:
    """The `properties` object of any accepted mapping shape."""
    if len(mapping) == 1:
        (only,) = mapping.values()
        if isinstance(only, Mapping) and "mappings" in only:  # GET idx/_mapping response
            mapping = only
    if "mappings" in mapping:
        mapping = mapping["mappings"]
        if "properties" not in mapping and len(mapping) == 1:  # 6.x: {"_doc": {...}}
            (only,) = mapping.values()
            if isinstance(only, Mapping) and "properties" in only:
                mapping = only
    if "properties" in mapping and isinstance(mapping["properties"], Mapping):
        return mapping["properties"]
    return mapping


def _walk(properties: Mapping[str, Any], prefix: str, out: dict[str, FieldMapping]) -> None:
    for name, definition in properties.items():
        path = prefix + name
        if not isinstance(definition, Mapping):
            raise MappingError(f"the mapping of field [{path}] must be an object")
        es_type = definition.get("type", "object")
        if es_type in OBJECT_TYPES or "properties" in definition:
            out[path] = FieldMapping(es_type if es_type in OBJECT_TYPES else "object")
            _walk(definition.get("properties", {}), path + ".", out)
            continue
        if es_type == "alias":
            target = definition.get("path")
            if not isinstance(target, str):
                raise MappingError(f"field alias [{path}] needs a [path]")
            out[path] = FieldMapping("alias", alias_path=target)
            continue
        date_format = definition.get("format")
        if es_type in ("date", "date_nanos"):
            date_parser(date_format)  # an unknown format fails here, as ES fails the mapping
        keyword_subfield = None
        for sub_name, sub_definition in definition.get("fields", {}).items():
            sub_path = f"{path}.{sub_name}"
            if not isinstance(sub_definition, Mapping):
                raise MappingError(f"the mapping of multi-field [{sub_path}] must be an object")
            sub_type = sub_definition.get("type", "keyword")
            out[sub_path] = FieldMapping(
                sub_type,
                null_value=sub_definition.get("null_value"),
                alias_path=path,
                format=sub_definition.get("format"),
                normalizer=sub_definition.get("normalizer") if sub_type == "keyword" else None,
                ignore_above=_ignore_above(sub_path, sub_definition.get("ignore_above")),
            )
            if keyword_subfield is None and sub_type in KEYWORD_FAMILY:
                keyword_subfield = sub_path
        out[path] = FieldMapping(
            es_type,
            null_value=definition.get("null_value"),
            format=date_format,
            keyword_subfield=keyword_subfield,
        )


def ancestors(path: str) -> Iterator[str]:
    """`a.b.c` -> `a`, `a.b`: the object parents of a dotted path."""
    end = path.find(".")
    while end != -1:
        yield path[:end]
        end = path.find(".", end + 1)


# ---------------------------------------------------------------------------------------------
# Coercion: a JSON value into the column of an ES type, as ES indexes it (default `coerce`).
# A coercer returns the stored value or raises ValueError with the reason ES would give.

Coercer = Callable[[Any], Any]


def coercer(es_type: str, date_format: str | None = None) -> Coercer:
    """How a field of `es_type` (and date `format`) turns a JSON scalar into its stored value."""
    if es_type in ("date", "date_nanos"):
        return _date_coercer(date_parser(date_format), es_type)
    if es_type in _INTEGER_RANGES:
        low, high = _INTEGER_RANGES[es_type]
        return functools.partial(_to_integer, es_type=es_type, low=low, high=high)
    if DUCKDB_TYPES.get(es_type) == "DOUBLE":
        return _to_double
    if es_type == "boolean":
        return _to_boolean
    if es_type == "ip":
        return _to_ip
    if duckdb_type(es_type) is None:
        return functools.partial(_refuse, es_type=es_type)
    return _to_keyword


def _refuse(value: Any, es_type: str) -> Any:
    raise ValueError(f"a field mapped as [{es_type}] cannot hold the value {value!r}")


def _to_keyword(value: Any) -> str:
    kind = type(value)
    if kind is str:
        return value
    if kind is bool:
        return "true" if value else "false"
    if kind is int or kind is float:
        return str(value)
    raise ValueError(f"expected a string, found {value!r}")


# Every regex here runs on event values, so each must match in linear time: an unbounded
# repeat is possessive (`++`, `*+`, `?+`: never given back), so no input makes it backtrack
# (`\d+\.?\d*` took 57 s on "1" * 40000 + "x"; tests/store/test_mappings.py checks them all).
_INTEGER_TEXT = re.compile(r"[+-]?+\d++")
_NUMBER_TEXT = re.compile(r"[+-]?+(?:\d++(?:\.\d*+)?+|\.\d++)(?:[eE][+-]?+\d++)?+")
# Digits of a long beyond which no integer type holds the value (leading zeros aside).
_MAX_INTEGER_DIGITS = 20


def _to_integer(value: Any, es_type: str, low: int, high: int) -> int:
    kind = type(value)
    if kind is int:
        number = value
    elif kind is float and math.isfinite(value):
        number = int(value)  # ES truncates the fraction of a float given to an integer field
    elif kind is str and _INTEGER_TEXT.fullmatch(value):
        digits = value.lstrip("+-").lstrip("0") or "0"  # int() refuses 4300+ digits
        if len(digits) > _MAX_INTEGER_DIGITS:
            raise ValueError(f"{value!r} is out of range for [{es_type}]")
        number = -int(digits) if value[0] == "-" else int(digits)
    elif kind is str and _NUMBER_TEXT.fullmatch(value) and math.isfinite(float(value)):
        number = int(float(value))
    else:
        raise ValueError(f"cannot index {value!r} as [{es_type}]")
    if not low <= number <= high:
        raise ValueError(f"{value!r} is out of range for [{es_type}]")
    return number


def _to_double(value: Any) -> float:
    kind = type(value)
    if kind is float or kind is int or (kind is str and _NUMBER_TEXT.fullmatch(value)):
        number = float(value)
    else:
        raise ValueError(f"cannot index {value!r} as a floating point number")
    if not math.isfinite(number):
        raise ValueError(f"{value!r} is not a finite number")
    return number


_BOOLEAN_TEXT = {"true": True, "false": False, "": False}


def _to_boolean(value: Any) -> bool:
    if type(value) is bool:
        return value
    if type(value) is str and value in _BOOLEAN_TEXT:
        return _BOOLEAN_TEXT[value]
    raise ValueError(f'cannot index {value!r} as [boolean]: only true, false, "true", "false"')


def _to_ip(value: Any) -> str:
    if type(value) is not str:
        raise ValueError(f"expected an IP address string, found {value!r}")
    return _canonical_ip(value)


@functools.lru_cache(maxsize=65_536)
def _canonical_ip(text: str) -> str:
    """The text form ES returns for an indexed IP: IPv6 compressed, IPv4-mapped as IPv4."""
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        raise ValueError(f"{text!r} is not an IP string literal") from None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(address)


# ---------------------------------------------------------------------------------------------
# Dates: ES date formats -> nanoseconds since the epoch, UTC.

DateParser = Callable[[str], int | None]  # None: this format does not match the text

_ISO = re.compile(
    r"(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?"
    r"(?:T(\d{2})(?::(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?)?)?"
    r"(Z|[+-]\d{2}(?::?\d{2})?)?",
    re.ASCII,  # Java's date parsers read ASCII digits only; Python's \d reads every script's
)
_EPOCH = re.compile(r"(-?+)(\d++)(?:\.(\d++))?+", re.ASCII)


def _nanos(
    year: int,
    month: int,
    day: int,
    hour: int,
    minute: int,
    second: int,
    fraction: str | None,
    offset: str | None,
) -> int:
    if hour > 23 or minute > 59 or second > 59:
        raise ValueError("time out of range")
    days = datetime.date(year, month, day).toordinal() - _EPOCH_ORDINAL
    seconds = days * 86_400 + hour * 3_600 + minute * 60 + second - _offset_seconds(offset)
    nanos = seconds * 1_000_000_000
    if fraction:
        nanos += int(fraction.ljust(9, "0"))
    return nanos


def _offset_seconds(offset: str | None) -> int:
    if not offset or offset == "Z":
        return 0
    digits = offset[1:].replace(":", "")
    seconds = int(digits[:2]) * 3_600 + int(digits[2:4] or 0) * 60
    if int(digits[:2]) > 18 or int(digits[2:4] or 0) > 59:
        raise ValueError("zone offset out of range")
    return -seconds if offset[0] == "-" else seconds


def _parse_iso(text: str) -> int | None:
    """strict_date_optional_time: yyyy[-MM[-dd]][THH[:mm[:ss[.S…]]]][Z|±HH[:mm]]."""
    match = _ISO.fullmatch(text)
    if match is None:
        return None
    year, month, day, hour, minute, second, fraction, offset = match.groups()
    try:
        return _nanos(
            int(year),
            int(month or 1),
            int(day or 1),
            int(hour or 0),
            int(minute or 0),
            int(second or 0),
            fraction,
            offset,
        )
    except ValueError:
        return None


def _epoch_parser(unit_nanos: int, max_fraction: int) -> DateParser:
    def parse(text: str) -> int | None:
        match = _EPOCH.fullmatch(text)
        if match is None or len(match.group(3) or "") > max_fraction:
            return None
        sign, whole, fraction = match.groups()
        nanos = int(whole) * unit_nanos
        if fraction:
            nanos += int(fraction.ljust(max_fraction, "0")) * (unit_nanos // 10**max_fraction)
        return -nanos if sign else nanos

    return parse


# ES built-in formats by name: a parser, or the Java pattern they stand for.
_NAMED_FORMATS: dict[str, DateParser | str] = {
    **dict.fromkeys(
        (
            "strict_date_optional_time", "date_optional_time", "strict_date_optional_time_nanos",
            "iso8601", "strict_date_time", "date_time", "strict_date_time_no_millis",
            "date_time_no_millis",
        ),
        _parse_iso,
    ),
    "epoch_millis": _epoch_parser(1_000_000, 6),
    "epoch_second": _epoch_parser(1_000_000_000, 9),
    **dict.fromkeys(
        ("strict_date", "date", "strict_year_month_day", "year_month_day"), "yyyy-MM-dd"
    ),
    **dict.fromkeys(("strict_year_month", "year_month"), "yyyy-MM"),
    **dict.fromkeys(("strict_year", "year"), "yyyy"),
    "basic_date": "yyyyMMdd",
    "basic_date_time": "yyyyMMdd'T'HHmmss.SSSXX",
    "basic_date_time_no_millis": "yyyyMMdd'T'HHmmssXX",
    **dict.fromkeys(
        ("strict_date_hour_minute_second", "date_hour_minute_second"), "yyyy-MM-dd'T'HH:mm:ss"
    ),
    **dict.fromkeys(
        ("strict_date_hour_minute_second_millis", "date_hour_minute_second_millis",
         "strict_date_hour_minute_second_fraction", "date_hour_minute_second_fraction"),
        "yyyy-MM-dd'T'HH:mm:ss.SSS",
    ),
    **dict.fromkeys(("strict_date_hour_minute", "date_hour_minute"), "yyyy-MM-dd'T'HH:mm"),
    **dict.fromkeys(("strict_date_hour", "date_hour"), "yyyy-MM-dd'T'HH"),
    **dict.fromkeys(("strict_hour_minute_second", "hour_minute_second"), "HH:mm:ss"),
}  # fmt: skip

_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")

_NAME = r"[A-Za-z]{3,9}"  # a month or day name, short or full

# Java DateTimeFormatter pattern letters -> (group kind, regex); by letter and run length.
_PATTERN_TOKENS: dict[str, Callable[[int], tuple[str, str]]] = {
    "y": lambda n: ("year2", r"\d{2}") if n == 2 else ("year", rf"[+-]?\d{{{max(n, 1)},9}}"),
    "u": lambda n: ("year2", r"\d{2}") if n == 2 else ("year", rf"[+-]?\d{{{max(n, 1)},9}}"),
    # Names are bounded (the longest month or day name has 9 letters): adjacent text fields
    # (`EEEMMM`) then cost a constant, not a backtrack over the whole value.
    "M": lambda n: ("monthname", _NAME) if n >= 3 else ("month", rf"\d{{{n},2}}"),
    "L": lambda n: ("monthname", _NAME) if n >= 3 else ("month", rf"\d{{{n},2}}"),
    "d": lambda n: ("day", rf"\d{{{n},2}}"),
    "H": lambda n: ("hour", rf"\d{{{n},2}}"),
    "m": lambda n: ("minute", rf"\d{{{n},2}}"),
    "s": lambda n: ("second", rf"\d{{{n},2}}"),
    "S": lambda n: ("fraction", rf"\d{{{n}}}"),
    "n": lambda n: ("nanos", r"\d{1,9}"),
    "X": lambda n: ("zone", r"Z|[+-]\d{2}(?::?\d{2})?"),
    "x": lambda n: ("zone", r"[+-]\d{2}(?::?\d{2})?"),
    "Z": lambda n: ("zone", r"Z|[+-]\d{2}(?::?\d{2})?"),
    "E": lambda n: ("", _NAME),
}


@functools.cache
def date_parser(date_format: str | None) -> Callable[[str], int]:
    """A parser for a mapping's date `format` (`a||b` tries each in turn) -> epoch nanos.

    Raises MappingError for a format it does not know, ValueError for text no format matches.
    """
    date_format = date_format or DEFAULT_DATE_FORMAT
    parsers: list[DateParser] = []
    for part in date_format.split("||"):
        named = _NAMED_FORMATS.get(part)
        if callable(named):
            parsers.append(named)
        else:
            parsers.append(_pattern_parser(named or part))

    def parse(text: str) -> int:
        for parser in parsers:
            nanos = parser(text)
            if nanos is not None:
                return nanos
        raise ValueError(f"failed to parse date field [{text}] with format [{date_format}]")

    return parse


def _pattern_parser(pattern: str) -> DateParser:
    """A Java DateTimeFormatter pattern (`dd-MM-yyyy`, `yyyy-MM-dd'T'HH:mm:ss.SSSXXX`)."""
    regex, kinds = _pattern_regex(pattern)
    compiled = re.compile(regex, re.ASCII)  # Java reads ASCII digits in dates

    def parse(text: str) -> int | None:
        match = compiled.fullmatch(text)
        if match is None:
            return None
        parts = {"year": 1970, "month": 1, "day": 1, "hour": 0, "minute": 0, "second": 0}
        fraction = offset = None
        for kind, value in zip(kinds, match.groups(), strict=True):
            if value is None or not kind:
                continue
            if kind == "fraction":
                fraction = value
            elif kind == "nanos":
                fraction = value.rjust(9, "0")
            elif kind == "zone":
                offset = value
            elif kind == "year2":
                parts["year"] = 2000 + int(value)
            elif kind == "monthname":
                if value[:3].lower() not in _MONTHS:
                    return None
                parts["month"] = _MONTHS.index(value[:3].lower()) + 1
            else:
                parts[kind] = int(value)
        try:
            return _nanos(
                parts["year"],
                parts["month"],
                parts["day"],
                parts["hour"],
                parts["minute"],
                parts["second"],
                fraction,
                offset,
            )
        except ValueError:
            return None

    return parse


def _pattern_regex(pattern: str) -> tuple[str, list[str]]:
    """Regex for a Java date pattern and the kind of each of its groups, in order."""
    regex: list[str] = []
    kinds: list[str] = []
    position = 0
    while position < len(pattern):
        char = pattern[position]
        if char == "'":
            end = pattern.find("'", position + 1)
            if end == -1:
                raise MappingError(f"unterminated quote in date format [{pattern}]")
            regex.append(re.escape(pattern[position + 1 : end]) if end > position + 1 else "'")
            position = end + 1
        elif char == "[":
            regex.append("(?:")
            position += 1
        elif char == "]":
            regex.append(")?")
            position += 1
        elif char.isalpha():
            rest = pattern[position:]
            run = len(rest) - len(rest.lstrip(char))
            token = _PATTERN_TOKENS.get(char)
            if token is None:
                raise MappingError(
                    f"date format [{pattern}]: pattern letter [{char}] is not supported"
                )
            kind, part = token(run)
            regex.append(f"({part})")
            kinds.append(kind)
            position += run
        else:
            regex.append(re.escape(char))
            position += 1
    return "".join(regex), kinds


def _date_coercer(parse: Callable[[str], int], es_type: str) -> Coercer:
    """Dates: text through the field's formats; JSON numbers as their text, as ES does."""
    minimum = 0 if es_type == "date_nanos" else _MIN_NANOS

    def coerce(value: Any) -> int:
        kind = type(value)
        if kind is str:
            nanos = parse(value)
        elif kind is int:
            nanos = parse(str(value))
        elif kind is float and math.isfinite(value):
            nanos = parse(repr(value))
        else:
            raise ValueError(f"cannot index {value!r} as [{es_type}]")
        if not minimum <= nanos <= _MAX_NANOS:
            raise OutOfStoreRange(f"date {value!r} is outside the range of [{es_type}] the "
                                  "store holds")
        return nanos

    return coerce
