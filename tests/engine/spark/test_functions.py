"""The Python eql_* helpers Spark runs as UDFs give what the DuckDB macros give, NULLs too."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from functools import cache

import duckdb
import pytest

from lanner.engine.backends.spark_sql import (
    SPARK_FUNCTIONS,
    eql_between,
    eql_double_str,
    eql_index_of,
    eql_ip_key,
    eql_number,
    eql_substring,
    eql_version_key,
)
from lanner.engine.backends.sql import install_macros, sql_literal

TEXTS = [None, "", "a", "abcabc", "Hello World", "a.b.c", "éàü-ß", "xyz"]
NEEDLES = [None, "", "a", "b", "c", "bc", "z", ".", "ß"]
POSITIONS = [None, -10, -3, -1, 0, 1, 2, 5, 100]


@cache
def _macros() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    install_macros(con)
    return con


def _macro(name: str, *args: object) -> object:
    sql = f"SELECT {name}({', '.join(map(sql_literal, args))})"
    return _macros().execute(sql).fetchone()[0]


def _agree(name: str, function: Callable[..., object], *args: object) -> None:
    assert function(*args) == _macro(name, *args), (name, args)


def test_every_udf_has_a_macro_of_its_name() -> None:
    for name in SPARK_FUNCTIONS:
        assert _macros().execute(
            "SELECT count(*) FROM duckdb_functions() WHERE function_name = ?", [name]
        ).fetchone()[0] > 0, name


def test_between_agrees_with_the_macro() -> None:
    for text, left, right, greedy in itertools.product(TEXTS, NEEDLES, NEEDLES,
                                                       [None, True, False]):
        searched = text.lower() if text is not None else None
        _agree("eql_between", eql_between, text, searched, left, right, greedy)


def test_index_of_agrees_with_the_macro() -> None:
    for text, sub, start in itertools.product(TEXTS, NEEDLES, POSITIONS):
        _agree("eql_index_of", eql_index_of, text, sub, start)


def test_substring_agrees_with_the_macro() -> None:
    for text, start, end in itertools.product(TEXTS, POSITIONS, POSITIONS):
        _agree("eql_substring", eql_substring, text, start, end)


@pytest.mark.parametrize("text", [
    None, "", "1", " 42 ", "-7", "+3", "1.5", ".5", "5.", "1e3", "-2.5E-2", "0x1F", "0xZZ", "ff",
    "FF", "-ff", "z", "10", "1_000", "\t1", "0x", "-", "12abc",
])
@pytest.mark.parametrize("base", [None, 2, 8, 10, 16, 36, 1, 37])
def test_number_agrees_with_the_macro(text: str | None, base: int | None) -> None:
    _agree("eql_number", eql_number, text, base)


@pytest.mark.parametrize("value", [
    None, 0.0, -0.0, 1.0, -2.5, 0.001, 0.0009999, 1e7, 9999999.0, 1e-4, 123456789012.5,
    1.5e300, float("inf"), float("-inf"), float("nan"),
])
def test_double_text_agrees_with_the_macro(value: float | None) -> None:
    _agree("eql_double_str", eql_double_str, value)


@pytest.mark.parametrize("text", [None, "10.0.0.1", "::1", "::ffff:1.2.3.4", "fe80::1%eth0",
                                  "1.2.3.256", "x", ""])
def test_ip_key_agrees_with_the_macro(text: str | None) -> None:
    _agree("eql_ip_key", eql_ip_key, text)


@pytest.mark.parametrize("text", [None, "1.0.0", "1.0.0-alpha.1", "1.0.0+build", "1.2", "",
                                  "not.a.version"])
def test_version_key_agrees_with_the_macro(text: str | None) -> None:
    _agree("eql_version_key", eql_version_key, text)
