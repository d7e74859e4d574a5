"""Elasticsearch value semantics: Java number printing, version and IP order, number()."""

from __future__ import annotations

import pytest

from lanner.engine.values import (
    IpValue,
    VersionValue,
    cidr_key_range,
    ip_sort_key,
    java_double,
    java_string,
    parse_number,
    version_sort_key,
)


@pytest.mark.parametrize(("value", "text"), [
    (42.5, "42.5"), (1.0, "1.0"), (-2.5, "-2.5"), (0.001, "0.001"), (1234567.0, "1234567.0"),
    (9999999.0, "9999999.0"), (1e7, "1.0E7"), (1e10, "1.0E10"), (12345678.0, "1.2345678E7"),
    (1e-4, "1.0E-4"), (0.00012345, "1.2345E-4"), (0.1 + 0.2, "0.30000000000000004"),
    (1.5e300, "1.5E300"), (0.0, "0.0"), (-0.0, "-0.0"), (float("nan"), "NaN"),
    (float("inf"), "Infinity"), (float("-inf"), "-Infinity"),
])
def test_java_double(value: float, text: str) -> None:
    assert java_double(value) == text


def test_java_string() -> None:
    assert [java_string(v) for v in (None, True, False, 5, 2.0, "x")] == [
        "null", "true", "false", "5", "2.0", "x"]


# Ascending by ES version-field order: semver precedence, then illegal versions by text.
VERSIONS = [
    "0.9.9", "1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2",
    "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0", "1.0.0+build.1", "1.2.4-SNAPSHOT", "1.2.4", "1.5.0",
    "1.11.3", "2", "2.0", "10.0.0", "1.0.0-01", "bad", "v1.0",
]


def test_version_order_is_semantic() -> None:
    assert sorted(VERSIONS, key=version_sort_key) == VERSIONS
    assert sorted(map(VersionValue, reversed(VERSIONS))) == VERSIONS
    assert version_sort_key("") > version_sort_key("99.0.0")  # empty sorts after legal ones


def test_ip_keys_and_blocks() -> None:
    assert ip_sort_key("10.0.0.1") == "00000000000000000000ffff0a000001"
    assert ip_sort_key("::ffff:10.0.0.1") == ip_sort_key("10.0.0.1")
    assert ip_sort_key("::1") == "0" * 31 + "1"
    assert ip_sort_key("not an ip") is None
    assert cidr_key_range("10.6.48.157/8") == (
        "00000000000000000000ffff0a000000", "00000000000000000000ffff0affffff")
    assert cidr_key_range("fe80::1") == (ip_sort_key("fe80::1"), ip_sort_key("fe80::1"))
    with pytest.raises(ValueError):
        cidr_key_range("10.0.0.0/33")
    assert sorted(map(IpValue, ["10.0.0.10", "::1", "10.0.0.5", "9.1.1.1"])) == [
        "::1", "9.1.1.1", "10.0.0.5", "10.0.0.10"]


@pytest.mark.parametrize(("text", "base", "number"), [
    ("5", None, 5), (" 42 ", None, 42), ("-3", None, -3), ("2.5", None, 2.5), ("1e3", None, 1000.0),
    ("0x32", None, 50), ("0x32", 16, 50), ("32", 16, 50), ("-ff", 16, -255), ("777", 8, 511),
    ("", None, None), ("abc", None, None), ("12", 2, None), ("1.5", 16, None), ("1_0", 10, None),
])
def test_parse_number(text: str, base: int | None, number: float | None) -> None:
    result = parse_number(text, base)
    assert result == number and type(result) is type(number)
