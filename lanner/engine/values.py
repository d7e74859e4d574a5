"""Elasticsearch's value semantics that plain Python or SQL values do not have on their own.

`version` fields order by semantic version, `ip` fields by address, and Java prints doubles its
own way. These are the reference implementations: the SQL compiler's macros must agree with
them (the tests check both), and the backend uses them to order join keys as ES does.
"""

from __future__ import annotations

import functools
import ipaddress
import math
import re

# x-pack VersionEncoder: the byte markers that make encoded versions sort by precedence.
_NUMERIC_MARKER = "\x01"
_PRERELEASE_MARKER = "\x02"
_NO_PRERELEASE_MARKER = "\x03"
# Java's `\d` is ASCII; Python's is not, so digits are spelled [0-9]. Shared with the SQL macros.
LEGAL_MAIN = r"(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*"
LEGAL_PRERELEASE = (
    r"-((?:0|[1-9][0-9]*|[0-9]*[a-zA-Z-][0-9a-zA-Z-]*)"
    r"(?:\.(?:0|[1-9][0-9]*|[0-9]*[a-zA-Z-][0-9a-zA-Z-]*))*)"
)
LEGAL_BUILD = r"\+[0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*"
_LEGAL_MAIN = re.compile(LEGAL_MAIN)
_LEGAL_PRERELEASE = re.compile(LEGAL_PRERELEASE)
_LEGAL_BUILD = re.compile(LEGAL_BUILD)
_DIGITS = re.compile(r"[0-9]+")


def _digit_groups(text: str) -> str:
    """Each run of digits prefixed by a marker and its length, so numbers compare numerically.

    The length is one character above U+0080, like the length byte ES sets its top bit on:
    it sorts after every ASCII character, and longer runs after shorter ones.
    """
    return _DIGITS.sub(lambda m: _NUMERIC_MARKER + chr(0x80 + len(m.group())) + m.group(), text)


@functools.lru_cache(maxsize=65_536)
def version_sort_key(text: str) -> str:
    """A string whose code-point order is ES `version` field order (VersionEncoder).

    Legal versions (relaxed semver: any number of main parts) sort by precedence, a
    pre-release before its release; an illegal version is its own text, which sorts after
    every legal one (those start with U+0001) and equals only itself.
    """
    text = str(text)  # a VersionValue must not come back as its own key
    build_at = text.find("+")
    build = text[build_at:] if build_at > 0 else ""
    rest = text[:build_at] if build_at > 0 else text
    pre_at = rest.find("-")
    pre = rest[pre_at:] if pre_at > 0 else None
    main = rest[:pre_at] if pre_at > 0 else rest
    legal = (_LEGAL_MAIN.fullmatch(main) is not None
             and (pre is None or _LEGAL_PRERELEASE.fullmatch(pre) is not None)
             and (not build or _LEGAL_BUILD.fullmatch(build) is not None))
    if not legal:
        return text or _NO_PRERELEASE_MARKER
    key = _digit_groups(main)
    if pre is None:
        key += _NO_PRERELEASE_MARKER
    else:
        parts = (_digit_groups(part) if _DIGITS.fullmatch(part) else part
                 for part in pre[1:].split("."))
        key += _PRERELEASE_MARKER + "-" + ".".join(parts)
    return key + build


@functools.lru_cache(maxsize=65_536)
def ip_sort_key(text: str) -> str | None:
    """32 hex digits of the address as IPv6 (IPv4 as IPv4-mapped), as ES encodes `ip` values;
    None when the text is not an IP address."""
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv4Address):
        address = ipaddress.IPv6Address(b"\0" * 10 + b"\xff\xff" + address.packed)
    return address.packed.hex()


def cidr_key_range(block: str) -> tuple[str, str]:
    """The first and last ip_sort_key of a CIDR block (`10.0.0.0/8`, `fe80::/10`, or one
    address); raises ValueError for anything else."""
    network = ipaddress.ip_network(block.strip(), strict=False)
    low, high = ip_sort_key(str(network[0])), ip_sort_key(str(network[-1]))
    assert low is not None and high is not None
    return low, high


class IpValue(str):
    """An IP join-key value: prints as the address, orders by address (10.0.0.5 < 10.0.0.10)."""

    __slots__ = ()

    def _key(self) -> str:
        return ip_sort_key(self) or str(self)

    def __lt__(self, other: object) -> bool:
        return self._key() < (other._key() if isinstance(other, IpValue) else str(other))

    def __gt__(self, other: object) -> bool:
        return self._key() > (other._key() if isinstance(other, IpValue) else str(other))

    __hash__ = str.__hash__


class VersionValue(str):
    """A version join-key value: prints as written, orders by version precedence."""

    __slots__ = ()

    def __lt__(self, other: object) -> bool:
        return version_sort_key(self) < version_sort_key(str(other))

    def __gt__(self, other: object) -> bool:
        return version_sort_key(self) > version_sort_key(str(other))

    __hash__ = str.__hash__


# Join-key values of these field types order as ES orders them, not as strings.
KEY_WRAPPERS: dict[str, type[str]] = {"ip": IpValue, "version": VersionValue}


def wrap_key(value: object, wrapper: type[str] | None) -> object:
    """A join-key value (or list of them) in the wrapper that orders it as ES does."""
    if wrapper is None or value is None:
        return value
    if isinstance(value, list):
        return [None if item is None else wrapper(item) for item in value]
    return wrapper(value)


def java_double(value: float) -> str:
    """Java's Double.toString: `42.5`, `1.0`, `1.0E10`, `1.0E-4`, `NaN`, `-Infinity`.

    Decimal notation for 1e-3 <= |v| < 1e7, else computerized scientific notation; digits are
    the shortest that round-trip (Python's repr, as the JDK since 19).
    """
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value == 0:
        return "-0.0" if math.copysign(1.0, value) < 0 else "0.0"
    magnitude = abs(value)
    sign = "-" if value < 0 else ""
    digits, exponent = _shortest_digits(magnitude)
    if 1e-3 <= magnitude < 1e7:
        point = exponent + 1  # digits before the decimal point
        if point <= 0:
            return f"{sign}0.{'0' * -point}{digits}"
        whole = digits[:point].ljust(point, "0")
        fraction = digits[point:] or "0"
        return f"{sign}{whole}.{fraction}"
    return f"{sign}{digits[0]}.{digits[1:] or '0'}E{exponent}"


def _shortest_digits(magnitude: float) -> tuple[str, int]:
    """Significant digits (no trailing zeros) and decimal exponent of the shortest repr."""
    shortest = repr(magnitude)
    if "e" in shortest:
        mantissa, _, exponent = shortest.partition("e")
        return mantissa.replace(".", "").rstrip("0") or "0", int(exponent)
    whole, _, fraction = shortest.partition(".")
    digits = (whole + fraction).lstrip("0")
    leading = len(whole + fraction) - len(digits)  # zeros before the first significant digit
    return digits.rstrip("0") or "0", len(whole) - 1 - leading


def java_string(value: object) -> str:
    """How ES prints a value in `string()`/`concat()` and join keys: Java's toString."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return java_double(value)
    return str(value)


_INTEGER_TEXT = re.compile(r"[+-]?[0-9]+")
DECIMAL_TEXT = r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
_DECIMAL_TEXT = re.compile(DECIMAL_TEXT)
_RADIX_TEXT = re.compile(r"[+-]?[0-9a-zA-Z]+")


def parse_number(text: str, base: int | None = None) -> int | float | None:
    """ES `number(text[, base])`: `0x…` means base 16, other bases parse integers, base 10
    also decimals; surrounding whitespace is ignored. None where ES fails to convert."""
    text = text.strip()
    hex_prefix = text.startswith("0x")
    radix = base if base is not None else 16 if hex_prefix else 10
    if hex_prefix and radix == 16:
        text = text[2:]
    if radix != 10:
        if not 2 <= radix <= 36 or not _RADIX_TEXT.fullmatch(text):
            return None
        try:
            return int(text, radix)
        except ValueError:
            return None
    if _INTEGER_TEXT.fullmatch(text):
        return int(text)
    if _DECIMAL_TEXT.fullmatch(text):
        return float(text)
    return None
