"""The Python eql_* helpers Spark runs as UDFs give what the DuckDB macros give, NULLs too;
the `nested` extraction reads JSON as DuckDB's JSON functions do."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from functools import cache

import duckdb
import pytest

from lanner.engine.backends.spark_sql import (
    MAX_NESTED_DEPTH,
    SPARK_FUNCTIONS,
    eql_between,
    eql_double_str,
    eql_index_of,
    eql_ip_key,
    eql_nested,
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
    nested = {f"eql_nested_{depth}" for depth in range(1, MAX_NESTED_DEPTH + 1)}
    assert nested <= set(SPARK_FUNCTIONS)  # they stand for DuckDB's JSON functions
    for name in set(SPARK_FUNCTIONS) - nested:
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


def test_nested_values_are_read_as_duckdb_reads_json() -> None:
    """Every value at a path, under each spelling of the path, as json_extract_string gives
    it: numbers, booleans, nested arrays and objects, nulls left out, digits indexing arrays."""
    values = ('[1, 1.0, 1e5, 1.5e300, 1E-7, -0.0, 2.5e-6, 1e20, 1.23e21, 0.1, -7.25e-9, '
              '12345678901234567890123, true, false, null, "x", "", {"k": [1, "é"]}, [1, [2]]]')
    source = ('{"o": [{"f": ' + values + ', "g": "one"}, {"f": null}, '
              '{"g.h": 2, "g": {"h": 3}}, 7], "p": {"q": 1}}')
    con = duckdb.connect()
    expected = con.execute(
        "SELECT list_transform(list_filter(json_extract(CAST(? AS JSON), '$.o[0].f[*]'), "
        "lambda v: json_type(v) <> 'NULL'), lambda v: json_extract_string(v, '$'))",
        [source]).fetchone()[0]
    spec = ('{"path": ["/o"], "fields": [[["/f"], false], [["/g/h", "/g.h"], false], '
            '[["/f/0"], false], [["/g"], false]], "nested": []}')
    rows = eql_nested(1, source, spec)
    assert rows is not None and len(rows) == 3  # the three objects; 7 is not one
    assert rows[0] == ([expected, [], ["1"], ["one"]],)
    assert rows[1] == ([[], [], [], []],)
    assert rows[2] == ([[], ["3"], [], ['{"h":3}']],)
    assert eql_nested(1, '{"p": {"q": 1}}', spec.replace('"/o"', '"/p"')) == [([[]] * 4,)]
    assert eql_nested(1, None, spec) is None


def test_nested_levels_hold_the_objects_of_each_inner_path() -> None:
    spec = ('{"path": ["/s"], "fields": [[["/ip"], true]], "nested": ['
            '{"path": ["/in"], "fields": [[["/t"], false]], "nested": []}]}')
    source = '{"s": [{"ip": ["10.0.0.1", "nope"], "in": [{"t": "x"}, {"t": "y"}]}, {"in": {}}]}'
    assert eql_nested(2, source, spec) == [
        ([[eql_ip_key("10.0.0.1"), None]], [[([["x"]],), ([["y"]],)]]),
        ([[]], [[([[]],)]]),
    ]
